//! The world of bump-landing scenarios: a config repo with a `dev` environment (committed to
//! directly) and a gated `prod` (two approvals), in a real bare repository behind the fake
//! GitHub, and one `Bumper` talking to it with slipway's real GitHub client, a mirror cache
//! and a store in a temporary directory.
#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::Digest;
use slipway::git::Mirrors;
use slipway::github::RepoRef;
use slipway::pipelines::bumps::{BumpOrder, BumpRetry, Bumper, SourceCommit};
use slipway::store::Store;

use crate::git_fixtures::{git_in, TestRepo};
use crate::manifests::deployment;
use crate::support::payloads::INSTALLATION_ID;
use crate::support::{github_client, FakeGitHub};

pub const REPO: &str = "acme/config";

pub const CONFIG: &str = "\
environments:
  dev:
    path: envs/dev
    namespace: team-dev
  prod:
    path: envs/prod
    namespace: team-prod
    required_approvals: 2
";

/// [`CONFIG`] where the builds of `acme/NAME` may bump the image of each service `NAME`, in
/// `dev` and in `prod`.
pub fn config_bumped_by(services: &[&str]) -> String {
    let mut bumped_by = String::from("    bumped_by:\n");
    for name in services {
        bumped_by.push_str(&format!("      {}: [acme/{name}]\n", image(name)));
    }
    CONFIG
        .replace(
            "    namespace: team-dev\n",
            &format!("    namespace: team-dev\n{bumped_by}"),
        )
        .replace(
            "    required_approvals: 2\n",
            &format!("    required_approvals: 2\n{bumped_by}"),
        )
}

/// `registry.example.com/team/NAME`, the image of service `name`.
pub fn image(name: &str) -> String {
    format!("registry.example.com/team/{name}")
}

/// A full commit sha, the same for the same seed.
pub fn sha(seed: &str) -> String {
    hex::encode(sha2::Sha256::digest(seed.as_bytes()))[..40].to_string()
}

/// The config repo: a work tree it was made in, and the bare repository the fake serves.
pub struct ConfigRepo {
    pub work: TestRepo,
    _bare_dir: tempfile::TempDir,
    pub bare: PathBuf,
}

impl ConfigRepo {
    /// Every service of `services` runs `1.0.0` in `dev` (`envs/dev/NAME.yaml`) and in `prod`,
    /// and builds of `acme/NAME` may bump it there.
    pub fn with_services(services: &[&str]) -> Self {
        Self::allowing(services, &[])
    }

    /// [`ConfigRepo::with_services`] where builds of `acme/NAME` may also bump the images of
    /// `also_allowed`, which the environments do not run.
    pub fn allowing(services: &[&str], also_allowed: &[&str]) -> Self {
        let work = TestRepo::new();
        let allowed: Vec<&str> = services.iter().chain(also_allowed).copied().collect();
        work.write(".github/slipway.yml", &config_bumped_by(&allowed));
        for name in services {
            for env in ["dev", "prod"] {
                work.write(
                    &format!("envs/{env}/{name}.yaml"),
                    &deployment(name, "1.0.0"),
                );
            }
        }
        work.write("README.md", "# config\n");
        work.commit("initial");
        let (bare_dir, bare) = work.bare_clone();
        ConfigRepo {
            work,
            _bare_dir: bare_dir,
            bare,
        }
    }

    /// `git --git-dir BARE args…`; its trimmed stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let mut all = vec!["--git-dir", self.bare.to_str().unwrap()];
        all.extend_from_slice(args);
        git_in(self.work.path(), &all)
    }

    pub fn head(&self, branch: &str) -> Option<String> {
        let out = std::process::Command::new("git")
            .args(["--git-dir", self.bare.to_str().unwrap()])
            .args(["rev-parse", "--verify", "--quiet"])
            .arg(format!("refs/heads/{branch}^{{commit}}"))
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git runs");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    pub fn main(&self) -> String {
        self.head("main").expect("main exists")
    }

    /// The exact text of `path` at `rev`.
    pub fn show(&self, rev: &str, path: &str) -> String {
        let out = std::process::Command::new("git")
            .args(["--git-dir", self.bare.to_str().unwrap()])
            .arg("show")
            .arg(format!("{rev}:{path}"))
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "no {path} at {rev}");
        String::from_utf8(out.stdout).expect("UTF-8")
    }

    pub fn parents(&self, commit: &str) -> Vec<String> {
        self.git(&["rev-list", "--parents", "-n", "1", commit])
            .split_whitespace()
            .skip(1)
            .map(str::to_string)
            .collect()
    }

    pub fn message(&self, commit: &str) -> String {
        self.git(&["log", "-1", "--format=%B", commit])
    }

    /// The changed lines between two revisions (`-old`, `+new`), without diff headers.
    pub fn changed_lines(&self, from: &str, to: &str) -> Vec<String> {
        self.git(&["diff", "--unified=0", from, to])
            .lines()
            .filter(|l| {
                (l.starts_with('-') || l.starts_with('+'))
                    && !l.starts_with("---")
                    && !l.starts_with("+++")
            })
            .map(str::to_string)
            .collect()
    }

    /// Paths that differ between two revisions.
    pub fn changed_paths(&self, from: &str, to: &str) -> Vec<String> {
        self.git(&["diff", "--name-only", from, to])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Commits of `range` (`a..b`), oldest first.
    pub fn commits(&self, range: &str) -> Vec<String> {
        self.git(&["rev-list", "--reverse", range])
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// Someone else pushes to `main` of `bare`: `path` gets `text`. Returns the new head.
pub fn another_writer_pushes(bare: &Path, path: &str, text: &str) -> String {
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let clone = scratch.path().join("clone");
    git_in(
        scratch.path(),
        &[
            "clone",
            "--quiet",
            bare.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    let full = clone.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(&full, text).unwrap();
    git_in(&clone, &["add", "--all"]);
    git_in(
        &clone,
        &["commit", "--quiet", "-m", "a change by someone else"],
    );
    git_in(&clone, &["push", "--quiet", "origin", "main"]);
    git_in(&clone, &["rev-parse", "HEAD"])
}

pub struct World {
    pub repo: ConfigRepo,
    pub fake: FakeGitHub,
    pub store: Store,
    pub bumper: Bumper,
    _dir: tempfile::TempDir,
}

/// Retries that wait milliseconds, not seconds.
pub fn fast_retry() -> BumpRetry {
    BumpRetry {
        attempts: 5,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    }
}

impl World {
    pub async fn new(repo: ConfigRepo) -> World {
        let fake = FakeGitHub::builder()
            .with_installation_on(REPO, INSTALLATION_ID)
            .with_repo(REPO, &repo.bare)
            .start()
            .await;
        Self::with_fake(repo, fake).await
    }

    pub async fn with_fake(repo: ConfigRepo, fake: FakeGitHub) -> World {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Store::connect(&format!(
            "sqlite://{}",
            dir.path().join("slipway.db").display()
        ))
        .await
        .expect("a store");
        let mirrors = Arc::new(Mirrors::new(dir.path().join("mirrors")).expect("a mirror cache"));
        let bumper =
            Bumper::new(github_client(&fake), mirrors, store.clone()).with_retry(fast_retry());
        World {
            repo,
            fake,
            store,
            bumper,
            _dir: dir,
        }
    }

    /// The order of a successful build of service `name` at commit `sha(seed)`, for `env`.
    pub fn order(&self, env: &str, name: &str, seed: &str) -> BumpOrder {
        let commit = sha(seed);
        BumpOrder {
            config_repo: REPO.parse().unwrap(),
            environment: env.to_string(),
            image: image(name),
            tag: commit.clone(),
            digest: None,
            source: SourceCommit {
                repo: RepoRef::new("acme", name),
                url: format!("https://github.com/acme/{name}/commit/{commit}"),
                sha: commit,
            },
            requested_by: None,
        }
    }

    /// [`World::order`] for a build that pushed the image as `digest` (`sha256:` + 64 hex digits
    /// made from `digest_seed`).
    pub fn pinned_order(&self, env: &str, name: &str, seed: &str, digest_seed: &str) -> BumpOrder {
        BumpOrder {
            digest: Some(digest(digest_seed)),
            ..self.order(env, name, seed)
        }
    }
}

/// A digest `sha256:…`, the same for the same seed.
pub fn digest(seed: &str) -> String {
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(seed.as_bytes()))
    )
}
