//! What slipway answers to a command comment, from `templates/replies/` (one template per
//! outcome). Pure: texts from values.
//!
//! One reply per command comment, carrying a hidden marker with the comment's id, so a
//! delivery processed twice edits its reply instead of posting a second one. User text is
//! shown only inside code spans (the templates' `quote` filter): it cannot format the reply
//! or mention anyone.

use minijinja::{context, Value};

use super::parser::{CommandError, CommandLine, MAX_REASON_CHARS};
use super::table::COMMANDS;
use crate::report::{self, fence_for, ReportError, Templates};
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
pub fn section(
    templates: &Templates,
    line: &CommandLine,
    text: &str,
) -> Result<String, ReportError> {
    templates.render_text(
        report::REPLY_SECTION,
        context! { command => line.text, text, block => text.contains('\n') },
    )
}

/// Commands that did not run because an earlier one failed.
pub fn not_run(templates: &Templates, lines: &[CommandLine]) -> Result<String, ReportError> {
    let commands: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    templates.render_text(report::REPLY_NOT_RUN, context! { commands })
}

/// The reply to a comment with lines slipway cannot run: every problem, and nothing run.
pub fn errors(templates: &Templates, problems: &[CommandError]) -> Result<String, ReportError> {
    let problems: Vec<Value> = problems
        .iter()
        .map(|problem| context! { line => problem.line, message => problem.to_string() })
        .collect();
    let usages: Vec<String> = COMMANDS.iter().map(|c| c.usage()).collect();
    templates.render_text(report::REPLY_COMMAND_ERRORS, context! { problems, usages })
}

/// The polite refusal for someone without write permission.
pub fn refusal(
    templates: &Templates,
    login: &str,
    permission: &str,
    repository: &str,
    lines: &[&CommandLine],
) -> Result<String, ReportError> {
    let commands: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    templates.render_text(
        report::REPLY_REFUSED,
        context! { login => show_login(login), permission, repository, commands },
    )
}

/// The reply when `.github/slipway.yml` on the default branch is broken.
pub fn broken_config(
    templates: &Templates,
    branch: &str,
    error: &str,
) -> Result<String, ReportError> {
    let error = error.trim_end();
    templates.render_text(
        report::REPLY_BROKEN_CONFIG,
        context! { branch, error, fence => fence_for(error) },
    )
}

/// What a command that failed for a reason of slipway's own says (the error is logged).
pub fn internal_error(templates: &Templates) -> Result<String, ReportError> {
    templates.render_text(report::REPLY_INTERNAL_ERROR, context! {})
}

pub fn locked(templates: &Templates, lock: &EnvironmentLock) -> Result<String, ReportError> {
    templates.render_text(report::REPLY_LOCKED, lock_context(lock))
}

pub fn already_locked(
    templates: &Templates,
    lock: &EnvironmentLock,
) -> Result<String, ReportError> {
    templates.render_text(report::REPLY_ALREADY_LOCKED, lock_context(lock))
}

pub fn unlocked(templates: &Templates, lock: &EnvironmentLock) -> Result<String, ReportError> {
    templates.render_text(report::REPLY_UNLOCKED, lock_context(lock))
}

pub fn was_not_locked(templates: &Templates, env: &str) -> Result<String, ReportError> {
    templates.render_text(report::REPLY_NOT_LOCKED, context! { environment => env })
}

/// What a lock refuses: the promotion of a locked environment.
pub fn target_locked(templates: &Templates, lock: &EnvironmentLock) -> Result<String, ReportError> {
    templates.render_text(report::REPLY_TARGET_LOCKED, lock_context(lock))
}

fn lock_context(lock: &EnvironmentLock) -> Value {
    context! {
        environment => lock.environment,
        locked_by => lock.locked_by,
        since => lock_time(lock.locked_at),
        reason => lock.reason,
        reason_limit => MAX_REASON_CHARS,
    }
}

/// `/promote` into an environment that already runs the source's images.
pub fn promote_up_to_date(
    templates: &Templates,
    source: &str,
    target: &str,
) -> Result<String, ReportError> {
    templates.render_text(
        report::REPLY_PROMOTE_UP_TO_DATE,
        context! { source, target },
    )
}

/// What became of the promotion pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proposal {
    /// A new pull request.
    Opened,
    /// The open one got a new commit.
    Updated,
    /// The open one already held exactly this change.
    Unchanged,
}

/// One image a promotion changes, as shown: values that passed bump's validation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PromotedImage {
    pub repository: String,
    pub from: String,
    pub to: String,
}

/// `/promote` proposed pull request `number`, promoting `images` from `source` to `target`.
pub fn promote_proposed(
    templates: &Templates,
    proposal: Proposal,
    source: &str,
    target: &str,
    number: u64,
    images: &[PromotedImage],
) -> Result<String, ReportError> {
    let name = match proposal {
        Proposal::Opened => report::REPLY_PROMOTE_OPENED,
        Proposal::Updated => report::REPLY_PROMOTE_UPDATED,
        Proposal::Unchanged => report::REPLY_PROMOTE_UNCHANGED,
    };
    templates.render_text(name, context! { source, target, number, images })
}

/// A rollback as its replies show it: a declared environment, its configured path, the
/// default branch, and the restored commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackShown {
    pub environment: String,
    pub path: String,
    pub branch: String,
    /// The restored commit, full sha.
    pub target: String,
    /// The target is the revision deployed before the current one (it was not named).
    pub previous: bool,
}

impl RollbackShown {
    fn context(&self) -> Value {
        context! {
            environment => self.environment,
            path => self.path,
            branch => self.branch,
            target => self.target,
            target_short => short_sha(&self.target),
            previous => self.previous,
        }
    }
}

/// Why a named sha is not a commit to roll back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownCommit {
    /// Nothing in the repository starts with it.
    Missing,
    /// Several objects start with it.
    Ambiguous,
    /// It names a tree, a blob or a tag.
    NotACommit,
}

/// `/rollback` committed `commit` on the default branch.
pub fn rollback_committed(
    templates: &Templates,
    rollback: &RollbackShown,
    commit: &str,
    commit_url: Option<&str>,
) -> Result<String, ReportError> {
    let ctx = context! { commit_short => short_sha(commit), commit_url, ..rollback.context() };
    templates.render_text(report::REPLY_ROLLBACK_COMMITTED, ctx)
}

/// `/rollback` of a gated environment proposed pull request `number`.
pub fn rollback_proposed(
    templates: &Templates,
    rollback: &RollbackShown,
    proposal: Proposal,
    number: u64,
    approvals: u32,
) -> Result<String, ReportError> {
    let proposal = match proposal {
        Proposal::Opened => "opened",
        Proposal::Updated => "updated",
        Proposal::Unchanged => "unchanged",
    };
    let ctx = context! { proposal, number, approvals, ..rollback.context() };
    templates.render_text(report::REPLY_ROLLBACK_PROPOSED, ctx)
}

/// `/rollback` to a revision whose files of the environment the default branch holds already.
pub fn rollback_unchanged(
    templates: &Templates,
    rollback: &RollbackShown,
) -> Result<String, ReportError> {
    templates.render_text(report::REPLY_ROLLBACK_UNCHANGED, rollback.context())
}

/// `/rollback <env>` with no earlier successful deploy recorded.
pub fn rollback_no_history(
    templates: &Templates,
    environment: &str,
) -> Result<String, ReportError> {
    templates.render_text(report::REPLY_ROLLBACK_NO_HISTORY, context! { environment })
}

/// `/rollback <env> to <sha>` with a sha that names no single commit.
pub fn rollback_unknown_commit(
    templates: &Templates,
    environment: &str,
    sha: &str,
    problem: UnknownCommit,
) -> Result<String, ReportError> {
    let problem = match problem {
        UnknownCommit::Missing => "missing",
        UnknownCommit::Ambiguous => "ambiguous",
        UnknownCommit::NotACommit => "not_a_commit",
    };
    templates.render_text(
        report::REPLY_ROLLBACK_UNKNOWN_COMMIT,
        context! { environment, sha, problem },
    )
}

/// `/rollback` to a commit that is not on the default branch.
pub fn rollback_not_on_branch(
    templates: &Templates,
    environment: &str,
    target: &str,
    branch: &str,
) -> Result<String, ReportError> {
    templates.render_text(
        report::REPLY_ROLLBACK_NOT_ON_BRANCH,
        context! { environment, target_short => short_sha(target), branch },
    )
}

/// `/rollback` of a locked environment.
pub fn rollback_locked(
    templates: &Templates,
    lock: &EnvironmentLock,
) -> Result<String, ReportError> {
    templates.render_text(report::REPLY_ROLLBACK_LOCKED, lock_context(lock))
}

/// The first seven digits of a sha, as GitHub shows commits.
pub fn short_sha(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
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
        let templates = Templates::embedded();
        assert_eq!(lock_time(1_795_000_000_000), "2026-11-18 11:06 UTC");
        assert_eq!(
            locked(&templates, &lock(Some("release `freeze`"))).unwrap(),
            "🔒 `prod` is locked (reason: `release 'freeze'`). Nothing deploys to it or is bumped in it until `/unlock prod`."
        );
        assert_eq!(
            unlocked(&templates, &lock(None)).unwrap(),
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
        let text = refusal(
            &Templates::embedded(),
            "x y",
            "read",
            "acme/config",
            &[&line],
        )
        .unwrap();
        assert!(
            text.starts_with("Sorry @there, running `/lock prod` needs"),
            "{text}"
        );
    }
}
