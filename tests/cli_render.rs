//! `slipway render` end to end: the YAML stream on stdout, exit codes and messages.

mod support_core;

use std::process::{Command, Output};

use serde::Deserialize;
use support_core::{config_yaml, kustomize_available, TestRepo};

fn slipway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .output()
        .expect("slipway runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The documents of a YAML stream.
fn documents(stream: &str) -> Vec<serde_yaml_ng::Value> {
    serde_yaml_ng::Deserializer::from_str(stream)
        .map(|doc| serde_yaml_ng::Value::deserialize(doc).unwrap())
        .collect()
}

fn repo_with_envs() -> TestRepo {
    let app = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 1\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: api\n";
    let repo = TestRepo::new();
    repo.write(
        ".github/slipway.yml",
        &config_yaml(&[
            ("dev", "envs/dev", Some("team-dev")),
            ("prod", "envs/prod", None),
        ]),
    )
    .write("envs/dev/app.yaml", app)
    .write("envs/prod/app.yaml", app)
    .write(
        "envs/prod/kustomization.yaml",
        "resources:\n- app.yaml\nnamespace: team-prod\n",
    );
    repo.commit("envs");
    repo
}

#[test]
fn a_plain_environment_prints_a_yaml_stream_of_its_objects() {
    let repo = repo_with_envs();
    let output = slipway(&[
        "render",
        "--repo",
        repo.path().to_str().unwrap(),
        "--rev",
        "HEAD",
        "--env",
        "dev",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(
        text,
        "# Source: envs/dev/app.yaml:1\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: team-dev\nspec:\n  replicas: 1\n\
         ---\n# Source: envs/dev/app.yaml:8\napiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: team-dev\n"
    );
    assert_eq!(documents(&text).len(), 2);
}

#[test]
fn an_older_revision_of_a_bare_repository_renders_as_it_was() {
    let repo = repo_with_envs();
    let first = repo.git(&["rev-parse", "HEAD"]);
    repo.write(
        "envs/dev/app.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: later\n",
    );
    repo.commit("replace");
    let (_dir, bare) = repo.bare_clone();
    let output = slipway(&[
        "render",
        "--repo",
        bare.to_str().unwrap(),
        "--rev",
        &first,
        "--env",
        "dev",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let kinds: Vec<String> = documents(&stdout(&output))
        .iter()
        .map(|d| d["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["Deployment", "Service"]);
}

#[test]
fn a_kustomize_environment_prints_kustomizes_objects() {
    if !kustomize_available("a_kustomize_environment_prints_kustomizes_objects") {
        return;
    }
    let repo = repo_with_envs();
    let output = slipway(&[
        "render",
        "--repo",
        repo.path().to_str().unwrap(),
        "--rev",
        "main",
        "--env",
        "prod",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let docs = documents(&stdout(&output));
    let found: Vec<(&str, &str)> = docs
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap(),
                d["metadata"]["namespace"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [("Service", "team-prod"), ("Deployment", "team-prod")]
    );
}

#[test]
fn an_unknown_environment_exits_1_listing_the_declared_ones() {
    let repo = repo_with_envs();
    let output = slipway(&[
        "render",
        "--repo",
        repo.path().to_str().unwrap(),
        "--rev",
        "HEAD",
        "--env",
        "staging",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.starts_with("error: no environment `staging` in .github/slipway.yml at `HEAD` ("),
        "{message}"
    );
    assert!(message.ends_with("; declared: dev, prod\n"), "{message}");
    assert_eq!(stdout(&output), "");
}

#[test]
fn a_broken_manifest_exits_1_with_its_file_line_and_column() {
    let repo = repo_with_envs();
    repo.write(
        "envs/dev/broken.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: {a: b\n",
    );
    repo.commit("broken");
    let output = slipway(&[
        "render",
        "--repo",
        repo.path().to_str().unwrap(),
        "--rev",
        "HEAD",
        "--env",
        "dev",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.starts_with("error: envs/dev/broken.yaml:6:1: "),
        "{message}"
    );
    assert_eq!(
        stdout(&output),
        "",
        "nothing is printed when rendering fails"
    );
}

#[test]
fn an_invalid_config_at_the_revision_exits_1_with_its_position() {
    let repo = repo_with_envs();
    repo.write(
        ".github/slipway.yml",
        "environments:\n  dev:\n    path: ../elsewhere\n",
    );
    repo.commit("bad config");
    let output = slipway(&[
        "render",
        "--repo",
        repo.path().to_str().unwrap(),
        "--rev",
        "HEAD",
        "--env",
        "dev",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output)
            .starts_with("error: .github/slipway.yml:3:11: `path` must stay inside the repository"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn missing_arguments_are_a_usage_error() {
    let output = slipway(&["render", "--repo", "."]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--rev <REV>"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn strings_that_kubectl_would_misread_are_quoted_in_the_stream() {
    let repo = repo_with_envs();
    repo.write(
        "envs/dev/config.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: flags\ndata:\n  enabled: \"yes\"\n  mode: \"0644\"\n  script: |\n    echo one\n    echo two\n",
    );
    repo.commit("flags");
    let output = slipway(&[
        "render",
        "--repo",
        repo.path().to_str().unwrap(),
        "--rev",
        "HEAD",
        "--env",
        "dev",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains(
            "data:\n  enabled: 'yes'\n  mode: '0644'\n  script: |\n    echo one\n    echo two\n"
        ),
        "{text}"
    );
}

#[test]
fn unquoted_octal_modes_render_as_the_numbers_kubectl_reads() {
    let repo = repo_with_envs();
    repo.write(
        "envs/dev/pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  volumes:\n  - name: v\n    configMap:\n      name: c\n      defaultMode: 0644\n",
    );
    repo.commit("pod");
    let output = slipway(&[
        "render",
        "--repo",
        repo.path().to_str().unwrap(),
        "--rev",
        "HEAD",
        "--env",
        "dev",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("defaultMode: 420\n"),
        "{}",
        stdout(&output)
    );
}
