//! Kustomize layout: the tree is written out from the source into a temporary directory and
//! built by `kustomize build` or `kubectl kustomize`, with plugins, exec functions and Helm
//! off, the load restrictor on, a time limit and a cap on its output, in a sandbox with no
//! network (`super::sandbox`). What the kustomizations name is checked before it runs
//! (`super::kustomization_check`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::limits::{bytes as show_bytes, RenderLimits};
use super::paths::resolve_link;
use super::sandbox::sandboxed_command;
use super::source::{EntryKind, TreeSource};
use super::yaml::parse_stream_within;
use super::{objects_from_document, K8sObject, RenderError, RenderOptions};

/// File names that make a directory a kustomization, in kustomize's order of preference.
pub const KUSTOMIZATION_FILES: &[&str] =
    &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// A program that can build kustomizations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KustomizeTool {
    /// The standalone `kustomize` binary: `kustomize build`.
    Kustomize(PathBuf),
    /// `kubectl kustomize`.
    Kubectl(PathBuf),
}

impl KustomizeTool {
    fn command(&self) -> (Command, &'static str) {
        match self {
            KustomizeTool::Kustomize(p) => {
                let mut c = sandboxed_command(p);
                c.arg("build");
                (c, "kustomize build")
            }
            KustomizeTool::Kubectl(p) => {
                let mut c = sandboxed_command(p);
                c.arg("kustomize");
                (c, "kubectl kustomize")
            }
        }
    }
}

/// The first `kustomize` on PATH, else the first `kubectl`; `None` when neither is installed.
pub fn find_kustomize() -> Option<KustomizeTool> {
    let path = std::env::var_os("PATH")?;
    let find = |name: &str| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    };
    find("kustomize")
        .map(KustomizeTool::Kustomize)
        .or_else(|| find("kubectl").map(KustomizeTool::Kubectl))
}

pub(crate) fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// The kustomization file directly in `dir`, if there is one.
pub(crate) fn kustomization_in(
    source: &dyn TreeSource,
    dir: &str,
) -> Result<Option<String>, RenderError> {
    for name in KUSTOMIZATION_FILES {
        let path = format!("{dir}/{name}");
        if matches!(
            source.entry(&path)?,
            Some(EntryKind::File | EntryKind::Symlink { .. })
        ) {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// Builds the kustomization in `dir` (repo-relative) from a copy of the repository tree.
pub(crate) fn render(
    source: &dyn TreeSource,
    dir: &str,
    kustomization: &str,
    options: &RenderOptions,
) -> Result<Vec<K8sObject>, RenderError> {
    let tool = find_kustomize().ok_or_else(|| RenderError::KustomizeMissing {
        kustomization: kustomization.to_string(),
    })?;
    let temp = tempfile::Builder::new()
        .prefix("slipway-render-")
        .tempdir()
        .map_err(|source| RenderError::Io {
            context: "creating a temporary directory for kustomize".to_string(),
            source,
        })?;
    let root = temp.path().join("repo");
    let left_out = materialise(source, dir, &root)?;
    let output = run(&tool, &root, dir, kustomization, options)?;
    match output {
        Ok(stdout) => parse_output(kustomization, &stdout, &options.limits),
        Err((status, stderr)) => {
            let mut stderr = super::mask::kustomize_message(&scrub(&stderr, &root), source);
            if !left_out.is_empty() {
                stderr.push_str(&format!(
                    "\nnote: symlinks pointing outside the repository were left out: {}",
                    left_out.join(", ")
                ));
            }
            Err(RenderError::KustomizeFailed {
                tool: tool.command().1.to_string(),
                kustomization: kustomization.to_string(),
                status,
                stderr,
            })
        }
    }
}

/// Writes the whole tree of `source` below `root`. Symlinks are recreated when what they
/// resolve to (component by component, through other links) stays inside the repository;
/// one resolving outside is refused when it lies in `env_dir`, and left out (and returned)
/// elsewhere.
fn materialise(
    source: &dyn TreeSource,
    env_dir: &str,
    root: &Path,
) -> Result<Vec<String>, RenderError> {
    let io = |context: String| move |source| RenderError::Io { context, source };
    std::fs::create_dir_all(root).map_err(io(format!("creating {}", root.display())))?;
    let mut left_out = Vec::new();
    for entry in source.list("")? {
        super::source::check_relative(&entry.path)?;
        let dest = root.join(&entry.path);
        match &entry.kind {
            EntryKind::Dir => {
                std::fs::create_dir_all(&dest).map_err(io(format!("creating {}", entry.path)))?;
            }
            EntryKind::File => {
                let bytes = source.read_file(&entry.path)?;
                std::fs::write(&dest, bytes).map_err(io(format!("writing {}", entry.path)))?;
            }
            EntryKind::Symlink { target } => match resolve_link(source, &entry.path, target) {
                Ok(_) => symlink(target, &dest).map_err(io(format!("linking {}", entry.path)))?,
                Err(err) if within(&entry.path, env_dir) => return Err(err),
                Err(_) => left_out.push(entry.path.clone()),
            },
        }
    }
    Ok(left_out)
}

fn within(path: &str, dir: &str) -> bool {
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(unix)]
fn symlink(target: &str, dest: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, dest)
}

#[cfg(not(unix))]
fn symlink(_target: &str, _dest: &Path) -> std::io::Result<()> {
    Err(std::io::Error::other("symlinks are only supported on Unix"))
}

/// Runs the tool; `Ok(Ok(stdout))` on success, `Ok(Err((status, stderr)))` when it failed.
/// It is killed when it runs past the timeout or writes more than the output limit.
#[allow(clippy::type_complexity)]
fn run(
    tool: &KustomizeTool,
    root: &Path,
    dir: &str,
    kustomization: &str,
    options: &RenderOptions,
) -> Result<Result<Vec<u8>, (String, String)>, RenderError> {
    let timeout = options.kustomize_timeout;
    let max_output = options.limits.max_output_bytes;
    let (mut command, name) = tool.command();
    let home = root.with_file_name("home");
    std::fs::create_dir_all(&home).map_err(|source| RenderError::Io {
        context: "creating a home directory for kustomize".to_string(),
        source,
    })?;
    command
        .arg("--load-restrictor")
        .arg("LoadRestrictionsRootOnly")
        .arg("--enable-alpha-plugins=false")
        .arg("--enable-helm=false")
        .arg(dir)
        .current_dir(root)
        .env("HOME", &home)
        .env("KUSTOMIZE_PLUGIN_HOME", home.join("no-plugins"))
        // kustomize is a Go program that spends a third of a large build collecting garbage;
        // a less eager collector trades some 50 MiB of peak memory for that CPU.
        .env("GOGC", "400");
    match run_bounded(&mut command, name, kustomization, timeout, max_output)? {
        Outcome::Done(out) => Ok(Ok(out)),
        Outcome::Failed { status, stderr } => Ok(Err((status, stderr))),
        Outcome::TimedOut => Err(RenderError::KustomizeTimeout {
            tool: name.to_string(),
            kustomization: kustomization.to_string(),
            timeout,
        }),
        Outcome::Overflowed => Err(RenderError::LimitExceeded {
            file: kustomization.to_string(),
            what: format!("the size of `{name}`'s output"),
            limit: show_bytes(max_output),
        }),
    }
}

/// How a bounded run of a rendering program ended.
pub(crate) enum Outcome {
    /// It exited successfully; its standard output.
    Done(Vec<u8>),
    /// It exited with an error: its status and (the start of) its standard error.
    Failed { status: String, stderr: String },
    /// It ran past the timeout and was killed.
    TimedOut,
    /// It wrote more than the output limit and was killed.
    Overflowed,
}

/// Spawns `command` (from [`sandboxed_command`], with piped output) and waits for it, killing
/// its process group when it runs past `timeout` or writes more than `max_output` bytes.
/// `subject` is what it works on, for messages.
pub(crate) fn run_bounded(
    command: &mut Command,
    name: &str,
    subject: &str,
    timeout: Duration,
    max_output: usize,
) -> Result<Outcome, RenderError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|source| RenderError::Io {
        context: format!("starting `{name}` for {subject}"),
        source,
    })?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let overflowed = Arc::new(AtomicBool::new(false));
    let out_reader = {
        let overflowed = Arc::clone(&overflowed);
        std::thread::spawn(move || read_capped(&mut stdout, max_output, &overflowed))
    };
    // stderr is only shown in an error, and only its start is worth showing.
    let err_reader = {
        let ignored = Arc::new(AtomicBool::new(false));
        std::thread::spawn(move || read_capped(&mut stderr, MAX_STDERR_BYTES, &ignored))
    };
    let started = Instant::now();
    let status = loop {
        if overflowed.load(Ordering::Relaxed) {
            kill_group(&mut child);
            let _ = child.wait();
            return Ok(Outcome::Overflowed);
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= timeout => {
                kill_group(&mut child);
                let _ = child.wait();
                return Ok(Outcome::TimedOut);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(source) => {
                let _ = child.kill();
                return Err(RenderError::Io {
                    context: format!("waiting for `{name}`"),
                    source,
                });
            }
        }
    };
    let join = |h: std::thread::JoinHandle<std::io::Result<Vec<u8>>>| {
        h.join()
            .unwrap_or_else(|_| Err(std::io::Error::other("reader thread panicked")))
            .map_err(|source| RenderError::Io {
                context: format!("reading the output of `{name}`"),
                source,
            })
    };
    let out = join(out_reader)?;
    let err = join(err_reader)?;
    if overflowed.load(Ordering::Relaxed) {
        return Ok(Outcome::Overflowed);
    }
    if status.success() {
        Ok(Outcome::Done(out))
    } else {
        Ok(Outcome::Failed {
            status: status.to_string(),
            stderr: String::from_utf8_lossy(&err).trim_end().to_string(),
        })
    }
}

/// What of kustomize's stderr is kept for an error message.
const MAX_STDERR_BYTES: usize = 1024 * 1024;

/// Reads `pipe` to its end, keeping at most `limit` bytes; past that, sets `overflowed` and
/// stops reading, so the writer blocks until it is killed instead of filling memory.
fn read_capped(
    pipe: &mut impl Read,
    limit: usize,
    overflowed: &AtomicBool,
) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let allowed = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    pipe.take(allowed).read_to_end(&mut buf)?;
    if buf.len() > limit {
        buf.truncate(limit);
        overflowed.store(true, Ordering::Relaxed);
    }
    Ok(buf)
}

/// Kills the child and everything in its process group, then reaps it.
fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals the process group the child leads
        // (it was spawned with `process_group(0)`); no memory is involved.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
}

/// Makes kustomize's messages readable: paths repo-relative instead of inside the temporary
/// directory, and kubectl's log prefix (`E0102 03:04:05.678 123 run.go:72] "command failed"
/// err="…"`) reduced to the error itself.
pub(crate) fn scrub(stderr: &str, root: &Path) -> String {
    let mut text = stderr
        .lines()
        .map(strip_klog)
        .collect::<Vec<_>>()
        .join("\n");
    let mut roots = vec![root.to_path_buf()];
    if let Ok(canonical) = root.canonicalize() {
        roots.push(canonical);
    }
    for r in roots {
        let r = r.display().to_string();
        text = text.replace(&format!("{r}/"), "").replace(&r, ".");
    }
    text
}

fn strip_klog(line: &str) -> String {
    let b = line.as_bytes();
    let klog = b.len() > 5
        && matches!(b[0], b'I' | b'W' | b'E' | b'F')
        && b[1..5].iter().all(u8::is_ascii_digit)
        && b[5] == b' ';
    let Some(rest) = line.split_once("] ").map(|(_, r)| r).filter(|_| klog) else {
        return line.to_string();
    };
    match rest
        .strip_prefix("\"command failed\" err=\"")
        .and_then(|r| r.strip_suffix('"'))
    {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => rest.to_string(),
    }
}

/// The YAML documents a renderer printed (`stdout`, with its text), within `limits`; errors are
/// reported at `file`, naming the output as `output` and its author as `producer` ("kustomize
/// produced invalid YAML …").
pub(crate) fn rendered_documents(
    output: &str,
    producer: &str,
    file: &str,
    stdout: &[u8],
    limits: &RenderLimits,
) -> Result<(String, Vec<super::yaml::Document>), RenderError> {
    if stdout.len() > limits.max_rendered_bytes {
        return Err(RenderError::LimitExceeded {
            file: file.to_string(),
            what: "the size of the rendered manifests".to_string(),
            limit: show_bytes(limits.max_rendered_bytes),
        });
    }
    let text = String::from_utf8_lossy(stdout).into_owned();
    let docs = parse_stream_within(&text, limits).map_err(|e| RenderError::At {
        file: file.to_string(),
        line: 1,
        column: 1,
        message: if e.limit {
            format!(
                "{output} (line {}, column {}): {}",
                e.line, e.column, e.message
            )
        } else {
            format!(
                "{producer} invalid YAML (output line {}, column {}): {}",
                e.line,
                e.column,
                super::mask::yaml_message(&text, e.line, &e.message)
            )
        },
    })?;
    Ok((text, docs))
}

fn parse_output(
    kustomization: &str,
    stdout: &[u8],
    limits: &RenderLimits,
) -> Result<Vec<K8sObject>, RenderError> {
    let (_, docs) = rendered_documents(
        "kustomize's output",
        "kustomize produced",
        kustomization,
        stdout,
        limits,
    )?;
    let mut objects = Vec::new();
    for doc in docs {
        objects_from_document(kustomization, 1, doc.value, &mut objects)?;
        if objects.len() > limits.max_documents {
            return Err(RenderError::LimitExceeded {
                file: kustomization.to_string(),
                what: "the number of objects kustomize rendered".to_string(),
                limit: format!("{} objects", limits.max_documents),
            });
        }
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_log_prefixes_are_stripped() {
        let line = r#"E1121 20:53:41.900732    4058 run.go:72] "command failed" err="accumulating resources: file 'a \"b\"' missing""#;
        assert_eq!(
            strip_klog(line),
            r#"accumulating resources: file 'a "b"' missing"#
        );
        assert_eq!(
            strip_klog("Error: plain kustomize message"),
            "Error: plain kustomize message"
        );
    }

    #[test]
    fn temporary_paths_become_repo_relative() {
        let root = Path::new("/tmp/slipway-render-x/repo");
        assert_eq!(
            scrub(
                "Error: /tmp/slipway-render-x/repo/envs/dev/a.yaml: bad",
                root
            ),
            "Error: envs/dev/a.yaml: bad"
        );
    }
}
