//! Every text slipway shows people, from minijinja templates: PR comments and check runs
//! within GitHub's limits, a preview's notes ([`preview`]), and the replies to command
//! comments (`commands::replies`).
//!
//! One template per outcome, under `templates/` (compiled in; a directory of files with the
//! same names overrides them one by one). The report's, in `templates/report/`, keep their
//! bare file names:
//!
//! | file | renders |
//! |---|---|
//! | `header.md.j2` | the top of every comment part (`Part i of n` when there are several) |
//! | `env_section.md.j2` | an environment's heading and its kind × added/changed/removed table |
//! | `object_details.md.j2` | one object's `<details>` with its ```` ```diff ```` block (or one piece of it) |
//! | `overflow_summary.md.j2` | the counts of what did not fit, and the command that shows it all |
//! | `no_changes.md.j2` | nothing differs |
//!
//! A preview's notes and check-run texts are `preview/*.md.j2` (fork note, configuration
//! that does not parse, environment that does not render, check-run titles, summary and
//! annotation titles, superseded and stopped runs); command replies are `replies/*.md.j2`,
//! one per outcome of a command; an image bump's commit message and rolling pull request are
//! `bumps/*.j2`, a rollback's commit message and pull request `rollback/*.j2`; a deploy's
//! check run (title, summary, the objects applied) and its comment on the merged pull request
//! are `deploy/*.md.j2`; the issue of an environment that drifted (title, body, the comment that
//! closes it) is `drift/*.j2`.
//!
//! Every slot fed from a manifest, a repository or a user goes through one of the filters
//! `text`, `code`, `html` or `quote` ([`escape`]), so values from a change or a comment cannot
//! write markdown of their own.
//!
//! GitHub refuses comments over 65,536 characters, and nothing here is ever cut silently. A
//! report that does not fit one comment is split at object boundaries into parts, each valid
//! markdown on its own; a single object diff bigger than a part is split at line boundaries
//! into consecutive `(continued)` pieces, each its own `<details>` and code block. Only past
//! the part limit is the rest summarised, as counts, with the command that shows everything.
//! Sizes are measured in UTF-8 bytes, which is never less than the number of characters.
//! Pure: the only I/O is reading override templates, in [`Templates::with_overrides`].

pub mod escape;
pub mod images;
pub mod preview;
mod split;

pub use split::fence_for;

use std::path::Path;

use minijinja::{context, Environment};

use crate::diff::EnvironmentDiff;
use crate::policy::Violation;

/// GitHub's limit on the body of an issue or PR comment, in characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;
/// What a comment part may use by default: GitHub's limit less some headroom.
pub const DEFAULT_COMMENT_BUDGET: usize = 65_000;
/// GitHub's limit on a check run's `output.text`, in characters.
pub const CHECK_RUN_TEXT_LIMIT: usize = 65_535;
/// How many comments one report may take by default before the rest is summarised.
pub const DEFAULT_MAX_PARTS: usize = 10;
/// Room left by default for the hidden marker line the server adds to each part.
pub const DEFAULT_MARKER_BUDGET: usize = 200;

/// Declares each template's name and compiles its file (under `templates/`) in.
macro_rules! templates {
    ($($constant:ident => $name:literal at $file:literal,)*) => {
        $(pub const $constant: &str = $name;)*
        const DEFAULTS: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../../templates/", $file))),)*
        ];
    };
}

// The template files, by name. The report's keep their bare names, which `--templates DIR`
// has always overridden them by; a preview's notes and check-run texts are under
// `preview/`, command replies under `replies/`.
templates! {
    HEADER => "header.md.j2" at "report/header.md.j2",
    ENV_SECTION => "env_section.md.j2" at "report/env_section.md.j2",
    OBJECT_DETAILS => "object_details.md.j2" at "report/object_details.md.j2",
    OVERFLOW_SUMMARY => "overflow_summary.md.j2" at "report/overflow_summary.md.j2",
    NO_CHANGES => "no_changes.md.j2" at "report/no_changes.md.j2",
    FORK_NOTE => "preview/fork_note.md.j2" at "preview/fork_note.md.j2",
    CONFIG_NOTE => "preview/config_note.md.j2" at "preview/config_note.md.j2",
    RENDER_NOTE => "preview/render_note.md.j2" at "preview/render_note.md.j2",
    LOOKUP_NOTE => "preview/lookup_note.md.j2" at "preview/lookup_note.md.j2",
    MEMBERSHIP_NOTE => "preview/membership_note.md.j2" at "preview/membership_note.md.j2",
    CHECK_TITLE => "preview/check_title.md.j2" at "preview/check_title.md.j2",
    CHECK_SUMMARY => "preview/check_summary.md.j2" at "preview/check_summary.md.j2",
    ANNOTATION_TITLE => "preview/annotation_title.md.j2" at "preview/annotation_title.md.j2",
    SUPERSEDED_TITLE => "preview/superseded_title.md.j2" at "preview/superseded_title.md.j2",
    SUPERSEDED_SUMMARY => "preview/superseded_summary.md.j2" at "preview/superseded_summary.md.j2",
    INTERRUPTED_TITLE => "preview/interrupted_title.md.j2" at "preview/interrupted_title.md.j2",
    UNFINISHED_TITLE => "preview/unfinished_title.md.j2" at "preview/unfinished_title.md.j2",
    STOPPED_SUMMARY => "preview/stopped_summary.md.j2" at "preview/stopped_summary.md.j2",
    REPLY_SECTION => "replies/section.md.j2" at "replies/section.md.j2",
    REPLY_NOT_RUN => "replies/not_run.md.j2" at "replies/not_run.md.j2",
    REPLY_HELP => "replies/help.md.j2" at "replies/help.md.j2",
    REPLY_COMMAND_ERRORS => "replies/command_errors.md.j2" at "replies/command_errors.md.j2",
    REPLY_REFUSED => "replies/refused.md.j2" at "replies/refused.md.j2",
    REPLY_BROKEN_CONFIG => "replies/broken_config.md.j2" at "replies/broken_config.md.j2",
    REPLY_INTERNAL_ERROR => "replies/internal_error.md.j2" at "replies/internal_error.md.j2",
    REPLY_LOCKED => "replies/locked.md.j2" at "replies/locked.md.j2",
    REPLY_ALREADY_LOCKED => "replies/already_locked.md.j2" at "replies/already_locked.md.j2",
    REPLY_UNLOCKED => "replies/unlocked.md.j2" at "replies/unlocked.md.j2",
    REPLY_NOT_LOCKED => "replies/not_locked.md.j2" at "replies/not_locked.md.j2",
    REPLY_TARGET_LOCKED => "replies/target_locked.md.j2" at "replies/target_locked.md.j2",
    REPLY_PROMOTE_OPENED => "replies/promote_opened.md.j2" at "replies/promote_opened.md.j2",
    REPLY_PROMOTE_UPDATED => "replies/promote_updated.md.j2" at "replies/promote_updated.md.j2",
    REPLY_PROMOTE_UNCHANGED => "replies/promote_unchanged.md.j2" at "replies/promote_unchanged.md.j2",
    REPLY_PROMOTE_UP_TO_DATE => "replies/promote_up_to_date.md.j2" at "replies/promote_up_to_date.md.j2",
    REPLY_ROLLBACK_COMMITTED => "replies/rollback_committed.md.j2" at "replies/rollback_committed.md.j2",
    REPLY_ROLLBACK_PROPOSED => "replies/rollback_proposed.md.j2" at "replies/rollback_proposed.md.j2",
    REPLY_ROLLBACK_UNCHANGED => "replies/rollback_unchanged.md.j2" at "replies/rollback_unchanged.md.j2",
    REPLY_ROLLBACK_NO_HISTORY => "replies/rollback_no_history.md.j2" at "replies/rollback_no_history.md.j2",
    REPLY_ROLLBACK_UNKNOWN_COMMIT => "replies/rollback_unknown_commit.md.j2" at "replies/rollback_unknown_commit.md.j2",
    REPLY_ROLLBACK_NOT_ON_BRANCH => "replies/rollback_not_on_branch.md.j2" at "replies/rollback_not_on_branch.md.j2",
    REPLY_ROLLBACK_LOCKED => "replies/rollback_locked.md.j2" at "replies/rollback_locked.md.j2",
    BUMP_COMMIT => "bumps/commit.txt.j2" at "bumps/commit.txt.j2",
    BUMP_PULL_TITLE => "bumps/pull_title.txt.j2" at "bumps/pull_title.txt.j2",
    BUMP_PULL_BODY => "bumps/pull_body.md.j2" at "bumps/pull_body.md.j2",
    ROLLBACK_COMMIT => "rollback/commit.txt.j2" at "rollback/commit.txt.j2",
    ROLLBACK_PULL_TITLE => "rollback/pull_title.txt.j2" at "rollback/pull_title.txt.j2",
    ROLLBACK_PULL_BODY => "rollback/pull_body.md.j2" at "rollback/pull_body.md.j2",
    BUILD_TITLE => "build/title.md.j2" at "build/title.md.j2",
    BUILD_SUMMARY => "build/summary.md.j2" at "build/summary.md.j2",
    BUILD_TEXT => "build/text.md.j2" at "build/text.md.j2",
    DEPLOY_TITLE => "deploy/title.md.j2" at "deploy/title.md.j2",
    DEPLOY_SUMMARY => "deploy/summary.md.j2" at "deploy/summary.md.j2",
    DEPLOY_OBJECTS => "deploy/objects.md.j2" at "deploy/objects.md.j2",
    DEPLOY_COMMENT => "deploy/comment.md.j2" at "deploy/comment.md.j2",
    DRIFT_TITLE => "drift/title.txt.j2" at "drift/title.txt.j2",
    DRIFT_BODY => "drift/body.md.j2" at "drift/body.md.j2",
    DRIFT_UNSHOWN_DIFF => "drift/unshown_diff.md.j2" at "drift/unshown_diff.md.j2",
    DRIFT_RESOLVED => "drift/resolved.md.j2" at "drift/resolved.md.j2",
}

/// Why a report could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("report template {name}: {cause}")]
    Template {
        name: String,
        cause: minijinja::Error,
    },
    #[error("reading report template {path}: {cause}")]
    Io { path: String, cause: std::io::Error },
    #[error("a comment budget of {budget} characters leaves no room for a diff (templates alone take {overhead})")]
    LimitTooSmall { budget: usize, overhead: usize },
}

/// What a report describes: the environments compared between two revisions.
#[derive(Debug, Clone, Copy)]
pub struct Preview<'a> {
    /// How the base revision is shown (e.g. a short commit id).
    pub base: &'a str,
    /// How the head revision is shown.
    pub head: &'a str,
    /// The environments to report on, in order. Ones without changes get a "No changes" section.
    pub environments: &'a [EnvironmentDiff],
    /// The exact command that shows the whole diff, quoted when the report overflows.
    pub full_command: &'a str,
}

/// Where an environment stands besides its diff: locked or not, approvals needed to deploy,
/// and the objects its policy refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentStatus {
    pub environment: String,
    /// Which commit the environment's diff starts from.
    pub compared_with: ComparedWith,
    pub lock: Lock,
    pub required_approvals: u32,
    /// The head's objects this environment may not hold ([`crate::policy::check`]).
    pub violations: Vec<Violation>,
    /// The cluster it deploys to, when the report names it (the server knows several, or
    /// the environment names one but `default`).
    pub cluster: Option<String>,
}

impl EnvironmentStatus {
    /// An environment whose lock is not known here (the command line has no store), with
    /// its approvals and violations.
    pub fn without_lock(environment: &str, required_approvals: u32) -> Self {
        EnvironmentStatus {
            environment: environment.to_owned(),
            compared_with: ComparedWith::Unknown,
            lock: Lock::Unknown,
            required_approvals,
            violations: Vec::new(),
            cluster: None,
        }
    }
}

/// Which commit an environment's diff starts from, as far as the report's writer knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComparedWith {
    /// Not known (the command line has no store and compares with the base it is given):
    /// nothing is said.
    Unknown,
    /// The last commit deployed to the environment (shown short), and when it finished.
    Deployed { commit: String, at: Option<String> },
    /// The merge base (shown short); `deployed` is the environment's last deployed commit and
    /// when, when there is one but the branch does not hold it.
    MergeBase {
        commit: String,
        deployed: Option<(String, Option<String>)>,
    },
}

/// Whether an environment is locked, as far as the report's writer knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lock {
    /// Not known (nothing is said about it).
    Unknown,
    Unlocked,
    Locked(LockStatus),
}

/// Who locked an environment, since when and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LockStatus {
    pub by: String,
    /// How the time is shown (`2026-11-21 10:00 UTC`).
    pub since: String,
    pub reason: Option<String>,
}

/// What a server-side report adds to a [`Preview`]: notes at the top of the first part (a fork
/// notice, environments that did not render) and each environment's status under its heading.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    /// Markdown blocks, in order, each ending with a newline.
    pub notes: &'a [String],
    pub statuses: &'a [EnvironmentStatus],
}

impl Extras<'_> {
    pub(crate) fn status_of(&self, environment: &str) -> Option<&EnvironmentStatus> {
        self.statuses.iter().find(|s| s.environment == environment)
    }
}

/// A report split into comment parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportParts {
    pub parts: Vec<String>,
    /// Past the part limit, the rest was summarised as counts.
    pub cut: bool,
}

/// How big a report may get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most one part may hold, marker included (at most [`GITHUB_COMMENT_LIMIT`]).
    pub part_budget: usize,
    /// Room to leave in every part for the marker line the caller adds.
    pub marker_budget: usize,
    /// At most this many parts; past that the rest is summarised.
    pub max_parts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            part_budget: DEFAULT_COMMENT_BUDGET,
            marker_budget: DEFAULT_MARKER_BUDGET,
            max_parts: DEFAULT_MAX_PARTS,
        }
    }
}

impl Limits {
    /// The limits of a check run's `text`: one part of [`CHECK_RUN_TEXT_LIMIT`], no marker.
    pub fn check_run() -> Limits {
        Limits {
            part_budget: CHECK_RUN_TEXT_LIMIT,
            marker_budget: 0,
            max_parts: 1,
        }
    }
}

/// Escapes text for HTML, inside elements and attribute values alike (`&`, `<`, `>`, `"`, `'`).
/// Unlike minijinja's `escape` it leaves `/` readable. For HTML pages; comments use
/// [`escape::html`], which also keeps values on one line and mentions no one.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// The report templates: the compiled-in defaults, possibly overridden from a directory.
pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Templates::embedded()
    }
}

impl Templates {
    /// The templates compiled into the binary.
    pub fn embedded() -> Templates {
        let mut env = Self::environment();
        for &(name, source) in DEFAULTS {
            env.add_template(name, source)
                .unwrap_or_else(|err| panic!("the default template {name} is invalid: {err}"));
        }
        Templates { env }
    }

    /// The defaults, each replaced by the file of the same name in `dir` where there is one.
    pub fn with_overrides(dir: &Path) -> Result<Templates, ReportError> {
        let mut env = Self::environment();
        for &(name, default) in DEFAULTS {
            let path = dir.join(name);
            let source = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => default.to_owned(),
                Err(cause) => {
                    return Err(ReportError::Io {
                        path: path.display().to_string(),
                        cause,
                    })
                }
            };
            env.add_template_owned(name, source)
                .map_err(|cause| ReportError::Template {
                    name: path.display().to_string(),
                    cause,
                })?;
        }
        Ok(Templates { env })
    }

    fn environment() -> Environment<'static> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        // Every slot fed from a manifest or a repository goes through one of these.
        env.add_filter("text", |text: &str| escape::text(text));
        env.add_filter("code", |text: &str| escape::code(text));
        env.add_filter("html", |text: &str| escape::html(text));
        env.add_filter("block", |text: &str| escape::block(text));
        // What a user wrote, in a command reply.
        env.add_filter("quote", |text: &str, limit: Option<usize>| {
            escape::quote(text, limit.unwrap_or(escape::QUOTE_CHARS))
        });
        env
    }

    /// The templates compiled into the binary, built once.
    pub fn builtin() -> &'static Templates {
        static BUILTIN: std::sync::OnceLock<Templates> = std::sync::OnceLock::new();
        BUILTIN.get_or_init(Templates::embedded)
    }

    /// The report as PR comment parts, each within `limits` (marker budget left free).
    pub fn comment_parts(
        &self,
        preview: &Preview<'_>,
        limits: &Limits,
    ) -> Result<Vec<String>, ReportError> {
        split::parts(self, preview, &Extras::default(), limits)
    }

    /// [`Templates::comment_parts`] with notes and environment statuses, and whether the
    /// report had to be cut (the rest summarised) to stay within `limits.max_parts`.
    pub fn comment_report(
        &self,
        preview: &Preview<'_>,
        extras: &Extras<'_>,
        limits: &Limits,
    ) -> Result<ReportParts, ReportError> {
        split::report(self, preview, extras, limits)
    }

    /// The report as a check run's `text`: all of it when it fits [`CHECK_RUN_TEXT_LIMIT`],
    /// otherwise as much as fits and the summary of the rest.
    pub fn check_run_text(&self, preview: &Preview<'_>) -> Result<String, ReportError> {
        self.check_run_text_with(preview, &Extras::default())
    }

    /// [`Templates::check_run_text`] with notes and environment statuses.
    pub fn check_run_text_with(
        &self,
        preview: &Preview<'_>,
        extras: &Extras<'_>,
    ) -> Result<String, ReportError> {
        let mut parts = split::parts(self, preview, extras, &Limits::check_run())?;
        Ok(parts.remove(0))
    }

    /// Render one template into a block: no leading blank lines, exactly one final newline.
    pub fn render(&self, name: &str, ctx: minijinja::Value) -> Result<String, ReportError> {
        let template_error = |cause| ReportError::Template {
            name: name.to_owned(),
            cause,
        };
        let text = self
            .env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(template_error)?;
        let mut text = text.trim_start_matches(['\n', '\r']).trim_end().to_owned();
        text.push('\n');
        Ok(text)
    }

    /// Render one template into text without a final newline: a title, a sentence, a
    /// reply's part.
    pub fn render_text(&self, name: &str, ctx: minijinja::Value) -> Result<String, ReportError> {
        let mut text = self.render(name, ctx)?;
        text.truncate(text.trim_end().len());
        Ok(text)
    }

    pub(crate) fn header(
        &self,
        preview: &Preview<'_>,
        part: usize,
        part_count: usize,
    ) -> Result<String, ReportError> {
        self.render(
            HEADER,
            context! { base => preview.base, head => preview.head, part, part_count },
        )
    }
}
