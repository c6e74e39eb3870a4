//! Git fixtures: real repositories built with the `git` command line in temporary directories,
//! the config files and golden files tests compare against, and the slipway binary run as a user
//! would run it.
#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// A work tree with its own history, deleted when dropped.
pub struct TestRepo {
    dir: TempDir,
}

impl TestRepo {
    /// An empty repository whose first branch is `main`.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("slipway-test-")
            .tempdir()
            .expect("temp dir");
        let repo = TestRepo { dir };
        repo.git(&["init", "--quiet", "--initial-branch=main"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `git` in the work tree with a fixed identity and no user configuration;
    /// returns its trimmed stdout and panics when it fails.
    pub fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args)
    }

    /// Writes a file (creating directories), relative to the work tree.
    pub fn write(&self, path: &str, contents: &str) -> &Self {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, contents).unwrap();
        self
    }

    /// The text of a file in the work tree.
    pub fn read(&self, path: &str) -> String {
        let full = self.path().join(path);
        std::fs::read_to_string(&full).unwrap_or_else(|err| panic!("{}: {err}", full.display()))
    }

    /// Creates a symlink at `path` pointing to `target` (stored as given).
    pub fn symlink(&self, path: &str, target: &str) -> &Self {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, full).unwrap();
        self
    }

    /// Removes a file from the work tree.
    pub fn remove(&self, path: &str) -> &Self {
        std::fs::remove_file(self.path().join(path)).unwrap();
        self
    }

    /// Commits everything in the work tree; returns the new commit id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "--all"]);
        self.git(&["commit", "--quiet", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// A bare clone of this repository in a new temporary directory.
    pub fn bare_clone(&self) -> (TempDir, PathBuf) {
        let dir = tempfile::Builder::new()
            .prefix("slipway-bare-")
            .tempdir()
            .unwrap();
        let bare = dir.path().join("repo.git");
        git_in(
            dir.path(),
            &[
                "clone",
                "--quiet",
                "--bare",
                self.path().to_str().unwrap(),
                bare.to_str().unwrap(),
            ],
        );
        (dir, bare)
    }
}

/// Runs `git` in `dir`, isolated from the user's and the system's configuration.
pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=Slipway Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "core.symlinks=true",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// Whether `kustomize` or `kubectl` is installed; prints a note when neither is, so a
/// skipped kustomize test says why.
pub fn kustomize_available(test: &str) -> bool {
    let found = slipway::render::find_kustomize().is_some();
    if !found {
        eprintln!("note: {test} skipped: neither kustomize nor kubectl is installed");
    }
    found
}

/// A `.github/slipway.yml` declaring one environment per (name, path, namespace).
pub fn config_yaml(envs: &[(&str, &str, Option<&str>)]) -> String {
    let mut out = String::from("environments:\n");
    for (name, path, namespace) in envs {
        out.push_str(&format!("  {name}:\n    path: {path}\n"));
        if let Some(ns) = namespace {
            out.push_str(&format!("    namespace: {ns}\n"));
        }
    }
    out
}

/// Compares `actual` with `tests/golden/NAME`; `UPDATE_GOLDEN=1` writes it instead.
pub fn assert_golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("{}: {err} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(actual, expected, "{} differs", path.display());
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
    let out = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .env("XDG_CONFIG_HOME", config.path())
        .env_remove("FINGERPRINT_KEY")
        .output()
        .expect("slipway runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
