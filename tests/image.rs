//! slipway's image, built here the way it ships and run the way the manifests run it.
//!
//! The root file system is laid out by `image/assemble` (Debian's packages through mmdebstrap,
//! the release binary, kubectl and helm from the pinned npm package) and turned into an image
//! by buildah following the Dockerfile's last stage, which this file reads: what is tested is
//! what the Dockerfile ships. The image is committed to an OCI archive; every scenario runs a
//! container made from that archive with `buildah run --isolation chroot`, as the image's user
//! (65532) with every capability dropped, on the machine's network (so its loopback listeners
//! are reachable from here).
//!
//! Needs root (buildah's `vfs` storage and mmdebstrap's root mode), buildah, mmdebstrap, npm
//! and python3; `tests/run` installs the programs. Where one is missing these tests fail when
//! `SLIPWAY_IMAGE_TEST=required` (`.ci/run` sets it) and otherwise pass with a note saying
//! what was skipped and why.

mod git_fixtures;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use git_fixtures::TestRepo;

/// The user the image runs as (the manifests' `runAsUser`).
const IMAGE_USER: &str = "65532:65532";

fn checkout() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `command`, panicking with its output when it fails; returns its stdout.
fn run(command: &mut Command) -> String {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("{command:?} does not start: {err}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Why the image cannot be built on this machine, if it cannot.
fn missing_prerequisite() -> Option<String> {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        return Some("building the image needs root (buildah's vfs storage, mmdebstrap)".into());
    }
    ["buildah", "mmdebstrap", "dpkg-deb", "npm", "python3"]
        .into_iter()
        .find(|program| !on_path(program))
        .map(|program| format!("`{program}` is not installed (tests/run installs it)"))
}

/// The image, built once for every test in this file; `None` where it cannot be built and the
/// test is not required (a note says so).
fn image() -> Option<&'static Image> {
    static IMAGE: OnceLock<Result<Option<Image>, String>> = OnceLock::new();
    let built = IMAGE.get_or_init(|| {
        if let Some(why) = missing_prerequisite() {
            if std::env::var("SLIPWAY_IMAGE_TEST").as_deref() == Ok("required") {
                return Err(format!(
                    "the image tests must run here (SLIPWAY_IMAGE_TEST=required) but cannot: {why}"
                ));
            }
            eprintln!("note: skipped: {why}");
            return Ok(None);
        }
        // Built once: a failure is reported by every test, not retried by each.
        std::panic::catch_unwind(Image::build)
            .map(Some)
            .map_err(|panic| {
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "building the image panicked".to_string())
            })
    });
    match built {
        Ok(image) => image.as_ref(),
        Err(why) => panic!("{why}"),
    }
}

/// `cargo build --release --locked --bin slipway`: the binary the Dockerfile ships.
fn release_binary() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let messages = run(Command::new(cargo)
        .current_dir(checkout())
        .args(["build", "--release", "--locked", "--bin", "slipway"])
        .arg("--message-format=json-render-diagnostics"));
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the slipway executable it built")
}

/// One instruction of the Dockerfile: its keyword and its arguments as written.
struct Instruction {
    keyword: String,
    arguments: String,
}

/// The instructions of the Dockerfile's last stage, after its `FROM scratch`.
fn runtime_stage() -> Vec<Instruction> {
    let text = std::fs::read_to_string(checkout().join("Dockerfile")).unwrap();
    let mut instructions = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() && pending.is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => pending.push_str(part),
            None => {
                pending.push_str(line);
                let (keyword, arguments) = pending.trim().split_once(' ').unwrap_or((&pending, ""));
                instructions.push(Instruction {
                    keyword: keyword.to_ascii_uppercase(),
                    arguments: arguments.split_whitespace().collect::<Vec<_>>().join(" "),
                });
                pending.clear();
            }
        }
    }
    let last_from = instructions
        .iter()
        .rposition(|i| i.keyword == "FROM")
        .expect("the Dockerfile has stages");
    assert!(
        instructions[last_from].arguments.starts_with("scratch"),
        "the Dockerfile's last stage starts from scratch, so its root file system is \
         image/assemble's alone"
    );
    instructions.split_off(last_from + 1)
}

static CONTAINERS: AtomicUsize = AtomicUsize::new(0);

/// The built image: an OCI archive, and buildah's storage for the containers made from it.
struct Image {
    dir: PathBuf,
    archive: PathBuf,
    /// The image's configuration as committed (user, entrypoint, ...).
    config: serde_json::Value,
}

impl Image {
    fn build() -> Image {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("image");
        // A previous run's image and storage go first (nothing outlives a test binary's statics).
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        let mut image = Image {
            archive: dir.join("slipway.oci.tar"),
            dir,
            config: serde_json::Value::Null,
        };

        let slipway = release_binary();
        let tools = image.dir.join("tools");
        run(Command::new(checkout().join("tests/tools/kube-tools")).arg(&tools));
        let root = image.dir.join("root");
        run(Command::new(checkout().join("image/assemble"))
            .arg(&root)
            .arg(&slipway)
            .arg(tools.join("kubectl"))
            .arg(tools.join("helm")));
        let rootfs = image.dir.join("rootfs.tar");
        run(Command::new("tar")
            .arg("-C")
            .arg(&root)
            .args(["--numeric-owner", "-cf"])
            .arg(&rootfs)
            .arg("."));

        let build = "slipway-image-build";
        run(image
            .buildah()
            .args(["from", "--quiet", "--name", build, "scratch"]));
        for instruction in runtime_stage() {
            let arguments = instruction.arguments.as_str();
            let mut config = image.buildah();
            config.arg("config");
            match instruction.keyword.as_str() {
                // Docker keeps the owners and modes of what COPY --from copies; buildah's
                // `add` of the same tree as an archive does too (its `copy` makes all root's).
                "COPY" => {
                    assert_eq!(
                        arguments, "--from=rootfs /rootfs /",
                        "the one COPY of the stage"
                    );
                    run(image.buildah().arg("add").arg(build).arg(&rootfs).arg("/"));
                    continue;
                }
                "ENV" => {
                    for pair in arguments.split(' ') {
                        assert!(
                            pair.contains('='),
                            "ENV {arguments}: write NAME=value pairs"
                        );
                        config.args(["--env", pair]);
                    }
                }
                "USER" => {
                    config.args(["--user", arguments]);
                }
                "WORKDIR" => {
                    config.args(["--workingdir", arguments]);
                }
                "EXPOSE" => {
                    for port in arguments.split(' ') {
                        // Docker records a port without a protocol as TCP.
                        let port = match port.contains('/') {
                            true => port.to_string(),
                            false => format!("{port}/tcp"),
                        };
                        config.args(["--port", &port]);
                    }
                }
                "ENTRYPOINT" => {
                    config.args(["--entrypoint", arguments]);
                }
                "CMD" => {
                    config.args(["--cmd", arguments]);
                }
                other => panic!(
                    "the Dockerfile's last stage has `{other}`, which this test does not apply \
                     yet: teach Image::build what it means"
                ),
            }
            run(config.arg(build));
        }
        run(image
            .buildah()
            .args(["commit", "--quiet", "--format", "oci", build])
            .arg(format!("oci-archive:{}", image.archive.display())));
        let inspected = run(image
            .buildah()
            .args(["inspect", "--type", "container", build]));
        let inspected: serde_json::Value = serde_json::from_str(&inspected).unwrap();
        image.config = inspected["OCIv1"]["config"].clone();
        run(image.buildah().args(["rm", build]));
        // The archive and the storage holding its image stay (bench/image.sh uses the archive).
        std::fs::remove_dir_all(&root).unwrap();
        std::fs::remove_file(&rootfs).unwrap();
        std::fs::remove_dir_all(&tools).unwrap();
        image
    }

    /// buildah with storage of its own under the image's directory.
    fn buildah(&self) -> Command {
        let mut command = Command::new("buildah");
        command
            .arg("--root")
            .arg(self.dir.join("storage"))
            .arg("--runroot")
            .arg(self.dir.join("runroot"))
            .args(["--storage-driver", "vfs"]);
        command
    }

    /// A working container made from the OCI archive, under `seccomp` (buildah's default
    /// profile when `None`); removed when dropped.
    fn container(&self, seccomp: Option<&Path>) -> Container<'_> {
        let name = format!(
            "slipway-image-{}-{}",
            std::process::id(),
            CONTAINERS.fetch_add(1, Ordering::Relaxed)
        );
        let mut from = self.buildah();
        from.args(["from", "--quiet", "--name", &name]);
        if let Some(profile) = seccomp {
            from.arg("--security-opt")
                .arg(format!("seccomp={}", profile.display()));
        }
        run(from.arg(format!("oci-archive:{}", self.archive.display())));
        Container { image: self, name }
    }
}

struct Container<'a> {
    image: &'a Image,
    name: String,
}

impl Container<'_> {
    /// `buildah run` of `argv` in this container, as the image's user with no capabilities,
    /// with `env` added to the image's environment and `volumes` (`host:container:ro`) mounted.
    fn command(&self, argv: &[&str], env: &[(&str, &str)], volumes: &[String]) -> Command {
        let mut command = self.image.buildah();
        command.args(["run", "--isolation", "chroot", "--cap-drop", "ALL"]);
        for (name, value) in env {
            command.arg("--env").arg(format!("{name}={value}"));
        }
        for volume in volumes {
            command.arg("--volume").arg(volume);
        }
        command.arg(&self.name).arg("--").args(argv);
        command
    }

    /// The container's root file system, seen from here (unmounted by `buildah rm`).
    fn mount(&self) -> PathBuf {
        PathBuf::from(run(self.image.buildah().args(["mount", &self.name])).trim())
    }

    fn output(&self, argv: &[&str], volumes: &[String]) -> Output {
        self.command(argv, &[], volumes)
            .stdin(Stdio::null())
            .output()
            .expect("buildah runs")
    }

    /// `slipway serve` as the image starts it (entrypoint and command), on free loopback
    /// ports, logging JSON; waits until it listens.
    fn serve(&self, env: &[(&str, &str)]) -> Served {
        let config = &self.image.config;
        let argv: Vec<String> = ["Entrypoint", "Cmd"]
            .iter()
            .flat_map(|key| config[key].as_array().cloned().unwrap_or_default())
            .map(|part| part.as_str().unwrap().to_string())
            .collect();
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let mut all_env = vec![("HOST", "127.0.0.1"), ("PORT", "0"), ("LOG_FORMAT", "json")];
        all_env.extend_from_slice(env);
        let mut child = self
            .command(&argv, &all_env, &[])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("buildah runs");
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut served = Served {
            buildah: child,
            lines,
            ops_addr: String::new(),
        };
        let listening = served.wait_for_log("slipway is listening");
        served.ops_addr = listening["ops_addr"].as_str().unwrap().to_string();
        served
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = self
            .image
            .buildah()
            .args(["rm", &self.name])
            .stdout(Stdio::null())
            .status();
    }
}

/// A `slipway serve` running in a container; stopped (SIGTERM) when dropped.
struct Served {
    buildah: Child,
    lines: mpsc::Receiver<String>,
    ops_addr: String,
}

impl Served {
    /// The next log line whose message contains `message`, as JSON.
    fn wait_for_log(&mut self, message: &str) -> serde_json::Value {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    let json: Option<serde_json::Value> = serde_json::from_str(&line).ok();
                    if let Some(json) =
                        json.filter(|j| j["message"].as_str().is_some_and(|m| m.contains(message)))
                    {
                        return json;
                    }
                    seen.push(line);
                }
                Err(_) => panic!("slipway never logged {message:?}; it logged {seen:#?}"),
            }
        }
    }

    /// The slipway process inside the container: the one descendant of buildah named so.
    fn process(&self) -> u32 {
        self.find_process()
            .unwrap_or_else(|| panic!("no slipway process under buildah {}", self.buildah.id()))
    }

    fn find_process(&self) -> Option<u32> {
        let mut queue = vec![self.buildah.id()];
        while let Some(pid) = queue.pop() {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "slipway" {
                return Some(pid);
            }
            let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
                .into_iter()
                .flatten();
            for task in tasks.flatten() {
                let children =
                    std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
                queue.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<u32>().ok()),
                );
            }
        }
        None
    }

    /// `GET path` on the operations listener: the status code and the body.
    fn ops_get(&self, path: &str) -> (u16, String) {
        http_get(&self.ops_addr, path)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(pid) = self.find_process() {
            // SAFETY: kill(2) with a pid read from /proc just now; slipway's own handler
            // shuts it down.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Ok(None) = self.buildah.try_wait() {
            if Instant::now() > deadline {
                let _ = self.buildah.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.buildah.wait();
    }
}

/// One HTTP/1.1 GET: the status code and the body.
fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|err| panic!("{addr}: {err}"));
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status code");
    (status, body.to_string())
}

/// `field` of /proc/PID/status, e.g. `CapEff`.
fn proc_status(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {status}"))
        .trim()
        .to_string()
}

/// A config repository with a kustomize environment, a Helm environment, and an environment
/// whose kustomization asks for a remote base; copied where the image's user may read it and
/// mounted read-only at `/repo`.
struct ConfigRepo {
    _repo: TestRepo,
    copy: tempfile::TempDir,
}

impl ConfigRepo {
    fn new() -> ConfigRepo {
        let repo = TestRepo::new();
        repo.write(
            ".github/slipway.yml",
            "environments:\n  dev:\n    path: envs/dev\n    namespace: team-dev\n  \
             web:\n    path: chart\n    namespace: team-web\n    helm:\n      release: web\n  \
             remote:\n    path: envs/remote\n    namespace: team-remote\n",
        )
        .write(
            "envs/dev/kustomization.yaml",
            "resources:\n- app.yaml\nnamePrefix: dev-\ncommonLabels:\n  team: dev\n",
        )
        .write(
            "envs/dev/app.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  mode: fast\n",
        )
        .write(
            "envs/remote/kustomization.yaml",
            "resources:\n- https://github.com/example/platform//base?ref=main\n",
        )
        .write("chart/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n")
        .write("chart/values.yaml", "replicas: 2\n")
        .write(
            "chart/templates/config.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  replicas: {{ .Values.replicas | quote }}\n",
        );
        repo.commit("environments");
        let copy = tempfile::tempdir().unwrap();
        run(Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", repo.path().display()))
            .arg(copy.path()));
        run(Command::new("chown")
            .args(["-R", IMAGE_USER])
            .arg(copy.path()));
        ConfigRepo { _repo: repo, copy }
    }

    fn volume(&self) -> String {
        format!("{}:/repo:ro", self.copy.path().display())
    }
}

/// `slipway render` of `env` at HEAD of the mounted repository, inside `container`.
fn render(container: &Container, repo: &ConfigRepo, env: &str) -> Output {
    container.output(
        &[
            "slipway", "render", "--repo", "/repo", "--rev", "HEAD", "--env", env,
        ],
        &[repo.volume()],
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The seccomp profile Kubernetes' `RuntimeDefault` means on containerd (EKS, GKE, AKS, k3s,
/// kind): the container runtime's default, in which creating or joining namespaces —
/// `unshare`, `setns`, `clone` with a `CLONE_NEW*` flag, `clone3` — needs `CAP_SYS_ADMIN`;
/// `unshare` and `setns` are refused with EPERM, `clone3` answers ENOSYS (so the C library
/// falls back to `clone`). Made from this machine's containers-common profile (whose default
/// answer is ENOSYS) by applying that rule, and written into `dir`.
fn runtime_default_profile(dir: &Path) -> PathBuf {
    let base = "/usr/share/containers/seccomp.json";
    let text = std::fs::read_to_string(base)
        .unwrap_or_else(|err| panic!("{base} (containers-common, with buildah): {err}"));
    let mut profile: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        profile["defaultErrnoRet"],
        libc::ENOSYS,
        "{base}'s default answer"
    );
    let gated = ["unshare", "setns", "clone", "clone3"];
    let syscalls = profile["syscalls"].as_array_mut().unwrap();
    for rule in syscalls.iter_mut() {
        if let Some(names) = rule["names"].as_array_mut() {
            names.retain(|name| !gated.contains(&name.as_str().unwrap_or_default()));
        }
    }
    syscalls.retain(|rule| rule["names"].as_array().is_some_and(|n| !n.is_empty()));
    let namespaces = libc::CLONE_NEWNS
        | libc::CLONE_NEWCGROUP
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUSER
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWNET;
    syscalls.extend([
        serde_json::json!({
            "names": gated,
            "action": "SCMP_ACT_ALLOW",
            "includes": { "caps": ["CAP_SYS_ADMIN"] }
        }),
        serde_json::json!({
            "names": ["unshare", "setns"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": libc::EPERM,
            "excludes": { "caps": ["CAP_SYS_ADMIN"] }
        }),
        // Threads and processes, but no namespace.
        serde_json::json!({
            "names": ["clone"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{ "index": 0, "value": namespaces, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ" }],
            "excludes": { "caps": ["CAP_SYS_ADMIN"] }
        }),
    ]);
    let path = dir.join("runtime-default.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&profile).unwrap()).unwrap();
    path
}

#[test]
fn the_image_is_what_the_dockerfile_describes() {
    let Some(image) = image() else { return };
    let config = &image.config;
    assert_eq!(config["User"], IMAGE_USER, "{config:#}");
    assert_eq!(config["WorkingDir"], "/var/lib/slipway", "{config:#}");
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/usr/local/bin/slipway"])
    );
    assert_eq!(config["Cmd"], serde_json::json!(["serve"]));
    let ports: Vec<&String> = config["ExposedPorts"]
        .as_object()
        .map(|ports| ports.keys().collect())
        .unwrap_or_default();
    assert_eq!(ports, ["3000/tcp", "9090/tcp"]);

    // Its files: the packages image/packages lists and nothing else from Debian, the
    // certificate bundle, and the directories slipway writes to.
    let container = image.container(None);
    let root = container.mount();
    let listed = std::fs::read_to_string(checkout().join("image/packages")).unwrap();
    let mut listed: Vec<&str> = listed
        .lines()
        .map(|line| line.split('#').next().unwrap().trim())
        .filter(|line| !line.is_empty())
        .collect();
    listed.sort_unstable();
    let mut installed: Vec<String> = std::fs::read_dir(root.join("var/lib/dpkg/status.d"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    installed.sort_unstable();
    assert_eq!(installed, listed);
    let bundle = std::fs::read_to_string(root.join("etc/ssl/certs/ca-certificates.crt")).unwrap();
    assert!(
        bundle.matches("BEGIN CERTIFICATE").count() > 100,
        "a full bundle"
    );
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let data = std::fs::metadata(root.join("var/lib/slipway")).unwrap();
    assert_eq!((data.uid(), data.gid()), (65532, 65532));
    let tmp = std::fs::metadata(root.join("tmp")).unwrap();
    assert_eq!(tmp.permissions().mode() & 0o7777, 0o1777);
    for program in ["slipway", "kubectl", "helm"] {
        let file = std::fs::metadata(root.join("usr/local/bin").join(program)).unwrap();
        assert_eq!(
            (file.uid(), file.permissions().mode() & 0o7777),
            (0, 0o755),
            "{program}"
        );
    }

    // Each program it carries runs there, and nothing else a shell would need is in it.
    for (argv, expect) in [
        (&["slipway", "--version"][..], "slipway 0.1.0"),
        (
            &["kubectl", "version", "--client"][..],
            "Client Version: v1.32.3",
        ),
        (&["helm", "version", "--short"][..], "v3.17.2"),
    ] {
        let output = container.output(argv, &[]);
        assert!(
            output.status.success(),
            "{argv:?}: {}",
            text(&output.stderr)
        );
        assert!(
            text(&output.stdout).contains(expect),
            "{argv:?}: {}",
            text(&output.stdout)
        );
    }
    let shell = container.output(&["/bin/sh", "-c", "true"], &[]);
    assert!(!shell.status.success(), "the image has no shell");
}

#[test]
fn the_image_serves_health_as_user_65532_with_no_capabilities() {
    let Some(image) = image() else { return };
    let container = image.container(None);
    // No DATABASE_URL: the default SQLite file lands in the working directory, which the
    // image's user owns.
    let served = container.serve(&[]);
    assert_eq!(served.ops_get("/healthz"), (200, "ok".to_string()));
    // Without App credentials slipway is in setup mode: ready, so that the Service routes the
    // setup page and GitHub's redirect back to it, and saying so on the first line.
    let (status, body) = served.ops_get("/readyz");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.starts_with("setup mode: no GitHub App credentials"),
        "{body}"
    );

    let pid = served.process();
    assert_eq!(proc_status(pid, "Uid"), "65532\t65532\t65532\t65532");
    assert_eq!(proc_status(pid, "Gid"), "65532\t65532\t65532\t65532");
    for capabilities in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(
            proc_status(pid, capabilities),
            "0000000000000000",
            "{capabilities}"
        );
    }
    assert_eq!(proc_status(pid, "Seccomp"), "2", "a seccomp filter applies");
}

#[test]
fn slipway_renders_kustomize_and_helm_environments_inside_the_image() {
    let Some(image) = image() else { return };
    let repo = ConfigRepo::new();
    let container = image.container(None);

    let kustomize = render(&container, &repo, "dev");
    assert!(kustomize.status.success(), "{}", text(&kustomize.stderr));
    assert_eq!(
        text(&kustomize.stdout),
        "# Source: envs/dev/kustomization.yaml:1\napiVersion: v1\ndata:\n  mode: fast\n\
         kind: ConfigMap\nmetadata:\n  labels:\n    team: dev\n  name: dev-app\n  \
         namespace: team-dev\n"
    );

    let helm = render(&container, &repo, "web");
    assert!(helm.status.success(), "{}", text(&helm.stderr));
    assert_eq!(
        text(&helm.stdout),
        "# Source: chart/templates/config.yaml:1\napiVersion: v1\ndata:\n  replicas: '2'\n\
         kind: ConfigMap\nmetadata:\n  name: web-config\n  namespace: team-web\n"
    );
}

#[test]
fn under_runtime_default_seccomp_renders_have_no_network_namespace_and_say_so() {
    let Some(image) = image() else { return };
    let dir = tempfile::tempdir().unwrap();
    let profile = runtime_default_profile(dir.path());
    let container = image.container(Some(&profile));

    // What a pod under `seccomp: RuntimeDefault` with no capabilities gets: no namespace for
    // renders, said at start, by /readyz and on the status page — never silently — while the
    // pod stays ready. (App credentials given, GitHub's API on a closed port.)
    let key =
        std::fs::read_to_string(checkout().join("tests/fixtures/app-private-key.pem")).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let github = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut served = container.serve(&[
        ("APP_ID", "1"),
        ("PRIVATE_KEY", &key),
        ("WEBHOOK_SECRET", "image-test"),
        ("GITHUB_API_URL", &github),
    ]);
    let refused = "render network isolation: unavailable (a user and network namespace was \
                   refused: Operation not permitted (os error 1)); renders rely on the \
                   kustomization check, which refuses remote resources, and on git refusing \
                   every transport; limit slipway's own egress with a NetworkPolicy";
    let logged = served.wait_for_log("render network isolation");
    assert_eq!(logged["level"], "WARN");
    assert_eq!(logged["message"], refused);
    let (status, readiness) = served.ops_get("/readyz");
    assert_eq!(status, 200, "{readiness}");
    assert!(readiness.lines().any(|line| line == refused), "{readiness}");
    let (_, page) = served.ops_get("/");
    assert!(
        page.contains(&format!("<p>{}</p>", refused.replace('\'', "&#39;"))),
        "{page}"
    );
    drop(served);

    // The layers that remain: a remote base is refused before kustomize runs...
    let repo = ConfigRepo::new();
    let remote = render(&container, &repo, "remote");
    assert_eq!(remote.status.code(), Some(1), "{}", text(&remote.stdout));
    assert!(
        text(&remote.stderr).contains(
            "envs/remote/kustomization.yaml:2:3: remote resource \
             `https://github.com/example/platform//base?ref=main` is not allowed"
        ),
        "{}",
        text(&remote.stderr)
    );
    assert!(text(&remote.stdout).is_empty());
    // ...and renders that need nothing from the network still work.
    let local = render(&container, &repo, "dev");
    assert!(local.status.success(), "{}", text(&local.stderr));
    assert!(text(&local.stdout).contains("name: dev-app"));
}
