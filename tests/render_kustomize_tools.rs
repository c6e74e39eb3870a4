//! Which kustomize runs, what happens when none is installed, and the time limit.
//! These tests change PATH, so they live in their own test binary and run one at a time.

mod git_fixtures;

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use git_fixtures::{config_yaml, TestRepo};
use slipway::config::parse_config_repo;
use slipway::git::LocalRepo;
use slipway::render::{
    find_kustomize, render_environment, render_environment_with, KustomizeTool, RenderError,
    RenderLimits, RenderOptions,
};

static PATH_LOCK: Mutex<()> = Mutex::new(());

/// Every test holds this for its whole run: while one has changed PATH, no other may run
/// `git` to build its repository.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    PATH_LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `f` with PATH set to `dir` only, restoring it afterwards. Call it under [`serial`].
fn with_path<T>(dir: &Path, f: impl FnOnce() -> T) -> T {
    let saved: Option<OsString> = std::env::var_os("PATH");
    std::env::set_var("PATH", dir);
    let result = f();
    match saved {
        Some(path) => std::env::set_var("PATH", path),
        None => std::env::remove_var("PATH"),
    }
    result
}

fn kustomize_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.write(
        ".github/slipway.yml",
        &config_yaml(&[("dev", "envs/dev", None)]),
    )
    .write("envs/dev/kustomization.yaml", "resources: []\n");
    repo.commit("kustomization");
    repo
}

fn write_script(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\nPATH=/usr/bin:/bin\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn without_kustomize_or_kubectl_the_error_names_both() {
    let _serial = serial();
    let repo = kustomize_repo();
    let env = parse_config_repo(&config_yaml(&[("dev", "envs/dev", None)]))
        .unwrap()
        .environments["dev"]
        .clone();
    let tree = LocalRepo::open(repo.path())
        .unwrap()
        .tree_at("HEAD")
        .unwrap();
    let empty = tempfile::tempdir().unwrap();
    let err = with_path(empty.path(), || render_environment(&tree, &env)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot render envs/dev/kustomization.yaml: neither `kustomize` nor `kubectl` was found on PATH; install one of them"
    );
}

#[test]
fn standalone_kustomize_is_preferred_over_kubectl() {
    let _serial = serial();
    let bin = tempfile::tempdir().unwrap();
    write_script(bin.path(), "kubectl", "exit 1");
    let found = with_path(bin.path(), find_kustomize);
    assert_eq!(
        found,
        Some(KustomizeTool::Kubectl(bin.path().join("kubectl")))
    );
    write_script(bin.path(), "kustomize", "exit 1");
    let found = with_path(bin.path(), find_kustomize);
    assert_eq!(
        found,
        Some(KustomizeTool::Kustomize(bin.path().join("kustomize")))
    );
}

#[test]
fn kustomize_runs_with_plugins_off_and_the_load_restrictor_on() {
    let _serial = serial();
    let repo = kustomize_repo();
    let env = parse_config_repo(&config_yaml(&[("dev", "envs/dev", None)]))
        .unwrap()
        .environments["dev"]
        .clone();
    let tree = LocalRepo::open(repo.path())
        .unwrap()
        .tree_at("HEAD")
        .unwrap();
    let bin = tempfile::tempdir().unwrap();
    // A stand-in that prints its arguments as a ConfigMap, so the test sees how it was called.
    write_script(
        bin.path(),
        "kustomize",
        "printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: args\\ndata:\\n  args: \"%s\"\\n' \"$*\"",
    );
    let objects = with_path(bin.path(), || render_environment(&tree, &env)).unwrap();
    assert_eq!(
        objects[0].value["data"]["args"],
        "build --load-restrictor LoadRestrictionsRootOnly --enable-alpha-plugins=false --enable-helm=false envs/dev"
    );
}

#[test]
fn a_build_that_runs_too_long_is_stopped() {
    let _serial = serial();
    let repo = kustomize_repo();
    let env = parse_config_repo(&config_yaml(&[("dev", "envs/dev", None)]))
        .unwrap()
        .environments["dev"]
        .clone();
    let tree = LocalRepo::open(repo.path())
        .unwrap()
        .tree_at("HEAD")
        .unwrap();
    let bin = tempfile::tempdir().unwrap();
    write_script(bin.path(), "kustomize", "exec sleep 30");
    let options = RenderOptions {
        kustomize_timeout: Duration::from_millis(300),
        ..RenderOptions::default()
    };
    let started = Instant::now();
    let err = with_path(bin.path(), || {
        render_environment_with(&tree, &env, &options)
    })
    .unwrap_err();
    assert!(
        matches!(err, RenderError::KustomizeTimeout { .. }),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped promptly"
    );
}

#[test]
fn a_build_that_writes_more_than_the_output_limit_is_stopped() {
    let _serial = serial();
    let repo = kustomize_repo();
    let env = parse_config_repo(&config_yaml(&[("dev", "envs/dev", None)]))
        .unwrap()
        .environments["dev"]
        .clone();
    let tree = LocalRepo::open(repo.path())
        .unwrap()
        .tree_at("HEAD")
        .unwrap();
    let bin = tempfile::tempdir().unwrap();
    // Output without end: only the cap stops it before the time limit does.
    write_script(bin.path(), "kustomize", "exec yes 'a: b'");
    let options = RenderOptions {
        limits: RenderLimits {
            max_output_bytes: 1024 * 1024,
            ..RenderLimits::default()
        },
        ..RenderOptions::default()
    };
    let started = Instant::now();
    let err = with_path(bin.path(), || {
        render_environment_with(&tree, &env, &options)
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "envs/dev/kustomization.yaml: rendering stopped: the size of `kustomize build`'s output is over the limit of 1 MiB (1048576 bytes)"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "stopped by the cap, not the time limit"
    );
}
