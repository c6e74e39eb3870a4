//! What slipway answers to a command comment. Pure: texts from values.
//!
//! One reply per command comment, carrying a hidden marker with the comment's id, so a
//! delivery processed twice edits its reply instead of posting a second one. User text is
//! shown only inside code spans ([`quote`]): it cannot format the reply or mention anyone.

use std::fmt::Write as _;

use super::parser::{quote, quote_with_limit, CommandError, CommandLine, MAX_REASON_CHARS};
use super::table::COMMANDS;
use crate::store::EnvironmentLock;

/// The hidden marker of the reply to comment `comment_id`.
pub fn reply_marker(comment_id: u64) -> String {
    format!("<!-- slipway:reply comment={comment_id} -->")
}

/// A reply body: the marker, then the sections.
pub fn reply(comment_id: u64, sections: &[String]) -> String {
    let mut body = reply_marker(comment_id);
    body.push('\n');
    for section in sections {
        body.push_str(section);
        if !section.ends_with('\n') {
            body.push('\n');
        }
        body.push('\n');
    }
    body.truncate(body.trim_end().len());
    body.push('\n');
    body
}

/// What one command said, after the command as it was written (below it when it is a block).
pub fn section(line: &CommandLine, text: &str) -> String {
    if text.contains('\n') {
        format!("**{}**\n\n{text}", quote(&line.text))
    } else {
        format!("**{}** {text}", quote(&line.text))
    }
}

/// Commands that did not run because an earlier one failed.
pub fn not_run(lines: &[CommandLine]) -> String {
    let shown: Vec<String> = lines.iter().map(|l| quote(&l.text)).collect();
    format!(
        "Not run, because the command before failed: {}.",
        shown.join(", ")
    )
}

/// The reply to a comment with lines slipway cannot run: every problem, and nothing run.
pub fn errors(problems: &[CommandError]) -> String {
    let mut text = String::from(if problems.len() == 1 {
        "slipway cannot run this comment, so nothing was run:\n\n"
    } else {
        "slipway cannot run these lines, so nothing was run:\n\n"
    });
    for problem in problems {
        let _ = writeln!(text, "- line {}: {problem}", problem.line);
    }
    let usages: Vec<String> = COMMANDS.iter().map(|c| quote(&c.usage())).collect();
    let _ = write!(
        text,
        "\nCommands: {}. `/help` explains them.",
        usages.join(", ")
    );
    text
}

/// The polite refusal for someone without write permission.
pub fn refusal(login: &str, permission: &str, repository: &str, lines: &[&CommandLine]) -> String {
    let shown: Vec<String> = lines.iter().map(|l| quote(&l.text)).collect();
    format!(
        "Sorry @{}, running {} needs write, maintain or admin permission on `{}`, and yours is \
         `{}`. Nothing was done. Anyone may use `/help`; someone with write permission can run \
         the command for you.",
        show_login(login),
        shown.join(", "),
        repository,
        permission
    )
}

/// The reply when `.github/slipway.yml` on the default branch is broken.
pub fn broken_config(branch: &str, error: &str) -> String {
    format!(
        "slipway cannot run commands here: `.github/slipway.yml` on `{branch}` is not valid, so \
         nothing was run.\n\n```text\n{}\n```",
        error.replace("```", "'''")
    )
}

pub fn locked(lock: &EnvironmentLock) -> String {
    format!(
        "🔒 `{env}` is locked{reason}. Nothing deploys to it or is bumped in it until `/unlock {env}`.",
        env = lock.environment,
        reason = reason_suffix(lock),
    )
}

pub fn already_locked(lock: &EnvironmentLock) -> String {
    format!(
        "`{}` was already locked by {} since {}{}; that lock stays as it was.",
        lock.environment,
        quote(&lock.locked_by),
        lock_time(lock.locked_at),
        reason_suffix(lock),
    )
}

pub fn unlocked(lock: &EnvironmentLock) -> String {
    format!(
        "🔓 `{}` is unlocked. It was locked by {} since {}{}.",
        lock.environment,
        quote(&lock.locked_by),
        lock_time(lock.locked_at),
        reason_suffix(lock),
    )
}

pub fn was_not_locked(env: &str) -> String {
    format!("`{env}` was not locked; nothing changed.")
}

/// What a lock refuses: the promotion of a locked environment.
pub fn target_locked(lock: &EnvironmentLock) -> String {
    format!(
        "`{env}` is locked by {} since {}{}, so nothing is bumped in it; `/unlock {env}` first.",
        quote(&lock.locked_by),
        lock_time(lock.locked_at),
        reason_suffix(lock),
        env = lock.environment,
    )
}

fn reason_suffix(lock: &EnvironmentLock) -> String {
    match &lock.reason {
        Some(reason) => format!(" (reason: {})", quote_with_limit(reason, MAX_REASON_CHARS)),
        None => String::new(),
    }
}

/// `2026-11-21 10:00 UTC` for Unix milliseconds.
pub fn lock_time(millis: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// A GitHub login: letters, digits and `-`; anything else is not shown.
fn show_login(login: &str) -> &str {
    let plain = !login.is_empty()
        && login.len() <= 39
        && login.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if plain {
        login
    } else {
        "there"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(reason: Option<&str>) -> EnvironmentLock {
        EnvironmentLock {
            repository: "acme/config".into(),
            environment: "prod".into(),
            locked_by: "alice".into(),
            reason: reason.map(Into::into),
            locked_at: 1_795_000_000_000,
        }
    }

    #[test]
    fn lock_texts() {
        assert_eq!(lock_time(1_795_000_000_000), "2026-11-18 11:06 UTC");
        assert_eq!(
            locked(&lock(Some("release `freeze`"))),
            "🔒 `prod` is locked (reason: `release 'freeze'`). Nothing deploys to it or is bumped in it until `/unlock prod`."
        );
        assert_eq!(
            unlocked(&lock(None)),
            "🔓 `prod` is unlocked. It was locked by `alice` since 2026-11-18 11:06 UTC."
        );
    }

    #[test]
    fn replies_carry_the_marker_once_and_end_in_one_newline() {
        let body = reply(42, &["a".to_string(), "b\n".to_string()]);
        assert_eq!(body, "<!-- slipway:reply comment=42 -->\na\n\nb\n");
    }

    #[test]
    fn refusals_never_mention_an_odd_login() {
        let line = CommandLine {
            line: 1,
            text: "/lock prod".into(),
            command: super::super::Command::Lock {
                env: "prod".into(),
                reason: None,
            },
        };
        let text = refusal("x y", "read", "acme/config", &[&line]);
        assert!(
            text.starts_with("Sorry @there, running `/lock prod` needs"),
            "{text}"
        );
    }
}
