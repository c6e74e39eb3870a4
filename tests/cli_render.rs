//! `slipway render` end to end: the YAML stream on stdout, exit codes and messages.

mod git_fixtures;

use std::path::Path;
use std::process::{Command, Output};

use git_fixtures::{config_yaml, kustomize_available, TestRepo};
use serde::Deserialize;
use slipway::diff::FingerprintKey;

/// Runs slipway as a user with an empty config directory.
fn slipway(args: &[&str]) -> Output {
    let config = tempfile::tempdir().unwrap();
    slipway_with_config(args, config.path())
}

/// Runs slipway as a user whose config directory (`XDG_CONFIG_HOME`) is `config`.
fn slipway_with_config(args: &[&str], config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .env("XDG_CONFIG_HOME", config)
        .env_remove("FINGERPRINT_KEY")
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

const PASSWORD: &str = "MARKER-correct-horse";
const TOKEN: &str = "MARKER-token-value";
const GENERATED: &str = "MARKER-generated-literal";
const KEY_HEX: &str = "0707070707070707070707070707070707070707070707070707070707070707";

/// dev: a plain Secret with `stringData` and base64 `data`; prod: a kustomization whose
/// `secretGenerator` makes a Secret from a literal.
fn repo_with_secrets() -> TestRepo {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(TOKEN);
    let repo = TestRepo::new();
    repo.write(
        ".github/slipway.yml",
        &config_yaml(&[
            ("dev", "envs/dev", Some("team-dev")),
            ("prod", "envs/prod", None),
        ]),
    )
    .write(
        "envs/dev/db.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {PASSWORD}\ndata:\n  token: {token}\n"
        ),
    )
    .write(
        "envs/prod/kustomization.yaml",
        &format!(
            "namespace: team-prod\nsecretGenerator:\n- name: api\n  literals:\n  - API_KEY={GENERATED}\n"
        ),
    );
    repo.commit("secrets");
    repo
}

fn render(repo: &TestRepo, env: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "render",
        "--repo",
        repo.path().to_str().unwrap(),
        "--rev",
        "HEAD",
        "--env",
        env,
    ];
    args.extend_from_slice(extra);
    slipway(&args)
}

#[test]
fn secret_values_print_as_fingerprints_by_default() {
    let repo = repo_with_secrets();
    let output = render(&repo, "dev", &["--fingerprint-key", KEY_HEX]);

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let key = FingerprintKey::from_hex(KEY_HEX).unwrap();
    let text = stdout(&output);
    assert!(
        text.contains(&format!(
            "stringData:\n  password: '{}'\n",
            key.fingerprint(PASSWORD.as_bytes())
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "data:\n  token: '{}'\n",
            key.fingerprint(TOKEN.as_bytes())
        )),
        "{text}"
    );
    assert!(!text.contains("MARKER"), "{text}");
}

#[test]
fn values_a_secret_generator_made_print_as_fingerprints() {
    if !kustomize_available("values_a_secret_generator_made_print_as_fingerprints") {
        return;
    }
    let repo = repo_with_secrets();
    let output = render(&repo, "prod", &["--fingerprint-key", KEY_HEX]);

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let key = FingerprintKey::from_hex(KEY_HEX).unwrap();
    let text = stdout(&output);
    assert!(
        text.contains(&format!(
            "  API_KEY: '{}'\n",
            key.fingerprint(GENERATED.as_bytes())
        )),
        "{text}"
    );
    assert!(!text.contains("MARKER"), "{text}");
}

#[test]
fn show_secrets_prints_the_values_as_written() {
    use base64::Engine as _;
    let repo = repo_with_secrets();
    let output = render(&repo, "dev", &["--show-secrets"]);

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let token = base64::engine::general_purpose::STANDARD.encode(TOKEN);
    assert!(
        text.contains(&format!("  password: {PASSWORD}\n")),
        "{text}"
    );
    assert!(text.contains(&format!("  token: {token}\n")), "{text}");
    assert!(!text.contains("<secret"), "{text}");
}

#[test]
fn without_a_key_one_is_made_in_the_config_directory_and_kept() {
    let repo = repo_with_secrets();
    let config = tempfile::tempdir().unwrap();
    let args = [
        "render",
        "--repo",
        repo.path().to_str().unwrap(),
        "--rev",
        "HEAD",
        "--env",
        "dev",
    ];

    let first = slipway_with_config(&args, config.path());
    let second = slipway_with_config(&args, config.path());

    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(stdout(&first), stdout(&second), "the same key both times");
    let file = config.path().join("slipway/fingerprint-key");
    let key = FingerprintKey::from_hex(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(stdout(&first).contains(&key.fingerprint(PASSWORD.as_bytes())));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only its owner reads the key");
    }
}

#[test]
fn a_fingerprint_key_that_is_not_64_hex_digits_is_refused_without_echoing_it() {
    let repo = repo_with_secrets();
    let output = render(&repo, "dev", &["--fingerprint-key", "MARKER-almost-a-key"]);

    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: --fingerprint-key (or FINGERPRINT_KEY): a fingerprint key is 32 bytes written as 64 hex digits; got 19 characters\n"
    );
    assert_eq!(stdout(&output), "");
}

#[test]
fn a_generator_literal_without_equals_sign_is_masked_in_the_error() {
    if !kustomize_available("a_generator_literal_without_equals_sign_is_masked_in_the_error") {
        return;
    }
    let repo = repo_with_secrets();
    repo.write(
        "envs/prod/kustomization.yaml",
        "secretGenerator:\n- name: api\n  literals:\n  - hunter2-NOEQUALS\n",
    );
    repo.commit("broken literal");

    let output = render(&repo, "prod", &[]);

    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("invalid literal source <redacted>, expected key=value"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn a_yaml_error_inside_a_secret_quotes_no_value() {
    let repo = repo_with_secrets();
    repo.write(
        "envs/dev/db.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: !!int MARKER-not-a-number\n",
    );
    repo.commit("tagged");

    let output = render(&repo, "dev", &["--show-secrets"]);

    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: envs/dev/db.yaml:6:13: `<redacted>` is not a valid !!int\n"
    );
}
