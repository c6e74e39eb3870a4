//! What the `slipway` binary writes to standard error: each error's message once, and logs
//! without terminal colour codes when standard error is a pipe or a file.

use std::process::{Command, Output};

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

fn unopenable_database(dir: &std::path::Path) -> String {
    format!("sqlite://{}/no-such-dir/slipway.db", dir.display())
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
