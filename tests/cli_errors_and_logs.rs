//! What the `slipway` binary writes to standard error: each error's message once, and logs
//! without terminal colour codes when standard error is a pipe or a file.

mod git_fixtures;

use std::process::{Command, Output};

use git_fixtures::TestRepo;

/// `slipway` in an empty directory with none of the operator's settings, so nothing but what
/// the test sets is read.
fn slipway(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_slipway"));
    command.current_dir(dir).args(args);
    for key in [
        "APP_ID",
        "PRIVATE_KEY",
        "PRIVATE_KEY_PATH",
        "WEBHOOK_SECRET",
        "LOG_FORMAT",
        "LOG_LEVEL",
        "NO_COLOR",
        "DATABASE_URL",
    ] {
        command.env_remove(key);
    }
    command.env("ENV_FILE", dir.join("absent.env"));
    command.envs(env.iter().copied());
    command.output().expect("slipway runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A database path SQLite cannot open: a directory. (A file in a missing directory no longer
/// serves: slipway creates the directory, mode 0700.)
fn unopenable_database(dir: &std::path::Path) -> String {
    let directory = dir.join("a-directory");
    std::fs::create_dir(&directory).expect("a directory");
    format!("sqlite://{}", directory.display())
}

#[test]
fn serve_logs_without_colour_codes_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let database = unopenable_database(dir.path());
    let output = slipway(
        dir.path(),
        &["serve"],
        &[("DATABASE_URL", database.as_str()), ("PORT", "0")],
    );
    let text = stderr(&output);
    assert!(
        text.contains("WARN") && text.contains("no GitHub App credentials"),
        "a warning is logged: {text}"
    );
    assert!(!text.contains('\u{1b}'), "no ANSI escape codes: {text:?}");
}

fn occurrences(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn an_unknown_revision_is_reported_once() {
    let repo = TestRepo::new();
    repo.write(
        ".github/slipway.yml",
        "environments:\n  dev:\n    path: envs/dev\n",
    );
    repo.write(
        "envs/dev/ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: dev\n",
    );
    repo.commit("config");
    let repo_path = repo.path().to_str().unwrap();
    let output = slipway(
        repo.path(),
        &[
            "render", "--repo", repo_path, "--rev", "nosuch", "--env", "dev",
        ],
        &[],
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with("error: revision `nosuch` not found: "),
        "{text}"
    );
    assert_eq!(
        occurrences(&text, "couldn't parse revision"),
        1,
        "said once: {text}"
    );
    assert_eq!(text.lines().count(), 1, "{text}");
}

#[test]
fn a_database_that_cannot_be_opened_is_reported_once_by_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let database = unopenable_database(dir.path());
    let output = slipway(
        dir.path(),
        &["deliveries"],
        &[("DATABASE_URL", database.as_str())],
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with(&format!("error: cannot open the database {database}: ")),
        "{text}"
    );
    assert_eq!(
        occurrences(&text, "unable to open database file"),
        1,
        "said once: {text}"
    );
}

#[test]
fn a_database_that_cannot_be_opened_is_reported_once_by_serve() {
    let dir = tempfile::tempdir().unwrap();
    let database = unopenable_database(dir.path());
    let output = slipway(
        dir.path(),
        &["serve"],
        &[("DATABASE_URL", database.as_str()), ("PORT", "0")],
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let error_line = text
        .lines()
        .find(|line| line.starts_with("error: "))
        .unwrap_or_else(|| panic!("an error line: {text}"));
    assert_eq!(
        occurrences(error_line, "unable to open database file"),
        1,
        "said once: {error_line}"
    );
}
