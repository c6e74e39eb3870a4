//! Builders shared by the diff, report, bump and CLI tests.
#![allow(dead_code)]

use slipway::diff::FingerprintKey;
use slipway::render::K8sObject;

/// The key diffs in tests fingerprint Secret values with, so golden text stays the same.
pub const FINGERPRINT_KEY: FingerprintKey = FingerprintKey::from_bytes([7; 32]);

/// A rendered object from YAML text, as if read from `file` at line 1.
pub fn object(file: &str, yaml: &str) -> K8sObject {
    let value: serde_json::Value = serde_yaml_ng::from_str(yaml).expect("test YAML parses");
    K8sObject {
        value,
        file: file.to_owned(),
        line: 1,
    }
}

/// A Deployment `name` in `namespace` running `image`, with `replicas`.
pub fn deployment(namespace: &str, name: &str, image: &str, replicas: u32) -> K8sObject {
    object(
        &format!("envs/dev/{name}.yaml"),
        &format!(
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
  labels:
    app: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
        - name: {name}
          image: {image}
          ports:
            - containerPort: 8080
"
        ),
    )
}

/// A ConfigMap with one key.
pub fn config_map(namespace: &str, name: &str, key: &str, value: &str) -> K8sObject {
    object(
        &format!("envs/dev/{name}.yaml"),
        &format!(
            "apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  namespace: {namespace}
data:
  {key}: {value:?}
"
        ),
    )
}

/// A Secret with one `stringData` key.
pub fn secret(namespace: &str, name: &str, key: &str, value: &str) -> K8sObject {
    object(
        &format!("envs/dev/{name}.yaml"),
        &format!(
            "apiVersion: v1
kind: Secret
metadata:
  name: {name}
  namespace: {namespace}
type: Opaque
stringData:
  {key}: {value:?}
"
        ),
    )
}

/// Plan a bump over in-memory files and apply it: the edits and every file's new text.
pub fn bump(
    files: &[(&str, &str)],
    requests: &[slipway::bump::BumpRequest],
) -> Result<(Vec<slipway::bump::Edit>, Vec<String>), slipway::bump::BumpError> {
    let owned: Vec<(String, String)> = files
        .iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
        .collect();
    let edits = slipway::bump::plan("dev", &owned, requests)?;
    let texts = owned
        .iter()
        .map(|(path, text)| slipway::bump::apply(path, text, &edits))
        .collect();
    Ok((edits, texts))
}

/// A git work tree made by the test with the `git` command line, deleted when dropped.
pub struct GitRepo {
    dir: tempfile::TempDir,
}

impl GitRepo {
    /// An empty repository on branch `main`.
    pub fn new() -> GitRepo {
        let repo = GitRepo {
            dir: tempfile::Builder::new()
                .prefix("slipway-test-")
                .tempdir()
                .unwrap(),
        };
        repo.git(&["init", "--quiet", "--initial-branch=main"]);
        repo
    }

    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Run git in the work tree (no user or system configuration); its trimmed stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(self.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// Write a file relative to the work tree, creating directories.
    pub fn write(&self, path: &str, text: &str) -> &GitRepo {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
        self
    }

    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.path().join(path)).unwrap()
    }

    /// Commit everything; the new commit id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "--all"]);
        self.git(&["commit", "--quiet", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

/// What a run of the slipway binary printed.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run the slipway binary with `args`, as a user with an empty config directory (the key
/// Secret fingerprints are made with is created there, not in the home of whoever tests).
pub fn slipway(args: &[&str]) -> Run {
    let config = tempfile::tempdir().expect("a temporary config directory");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .env("XDG_CONFIG_HOME", config.path())
        .env_remove("FINGERPRINT_KEY")
        .output()
        .expect("slipway runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// A config repo's `.github/slipway.yml` with plain environments dev and prod.
pub const CONFIG: &str = "\
environments:
  dev:
    path: envs/dev
    namespace: team-dev
  prod:
    path: envs/prod
    namespace: team-prod
    promote_from: dev
";
