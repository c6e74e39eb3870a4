//! Markdown for PR comments and check runs, from minijinja templates, within GitHub's limits.
//!
//! One template per outcome, in `templates/report/` (compiled in; a directory of files with
//! the same names overrides them one by one):
//!
//! | file | renders |
//! |---|---|
//! | `header.md.j2` | the top of every comment part (`Part i of n` when there are several) |
//! | `env_section.md.j2` | an environment's heading and its kind × added/changed/removed table |
//! | `object_details.md.j2` | one object's `<details>` with its ```` ```diff ```` block (or one piece of it) |
//! | `overflow_summary.md.j2` | the counts of what did not fit, and the command that shows it all |
//! | `no_changes.md.j2` | nothing differs |
//! | `fork_note.md.j2` | a pull request from a fork: previewed, cannot deploy |
//! | `failure_note.md.j2` | something that does not parse or render, with its error |
//! | `check_summary.md.j2` | a preview check run's summary, one line per environment |
//!
//! Every slot fed from a manifest or a repository goes through one of the filters `text`,
//! `code` or `html` ([`escape`]), so values from a change cannot write markdown of their own.
//!
//! GitHub refuses comments over 65,536 characters, and nothing here is ever cut silently. A
//! report that does not fit one comment is split at object boundaries into parts, each valid
//! markdown on its own; a single object diff bigger than a part is split at line boundaries
//! into consecutive `(continued)` pieces, each its own `<details>` and code block. Only past
//! the part limit is the rest summarised, as counts, with the command that shows everything.
//! Sizes are measured in UTF-8 bytes, which is never less than the number of characters.
//! Pure: the only I/O is reading override templates, in [`Templates::with_overrides`].

pub mod escape;
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

/// The template files, by name.
pub const HEADER: &str = "header.md.j2";
pub const ENV_SECTION: &str = "env_section.md.j2";
pub const OBJECT_DETAILS: &str = "object_details.md.j2";
pub const OVERFLOW_SUMMARY: &str = "overflow_summary.md.j2";
pub const NO_CHANGES: &str = "no_changes.md.j2";
pub const FORK_NOTE: &str = "fork_note.md.j2";
pub const FAILURE_NOTE: &str = "failure_note.md.j2";
pub const CHECK_SUMMARY: &str = "check_summary.md.j2";

const DEFAULTS: [(&str, &str); 8] = [
    (HEADER, include_str!("../../templates/report/header.md.j2")),
    (
        ENV_SECTION,
        include_str!("../../templates/report/env_section.md.j2"),
    ),
    (
        OBJECT_DETAILS,
        include_str!("../../templates/report/object_details.md.j2"),
    ),
    (
        OVERFLOW_SUMMARY,
        include_str!("../../templates/report/overflow_summary.md.j2"),
    ),
    (
        NO_CHANGES,
        include_str!("../../templates/report/no_changes.md.j2"),
    ),
    (
        FORK_NOTE,
        include_str!("../../templates/report/fork_note.md.j2"),
    ),
    (
        FAILURE_NOTE,
        include_str!("../../templates/report/failure_note.md.j2"),
    ),
    (
        CHECK_SUMMARY,
        include_str!("../../templates/report/check_summary.md.j2"),
    ),
];

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
    pub lock: Lock,
    pub required_approvals: u32,
    /// The head's objects this environment may not hold ([`crate::policy::check`]).
    pub violations: Vec<Violation>,
}

impl EnvironmentStatus {
    /// An environment whose lock is not known here (the command line has no store), with
    /// its approvals and violations.
    pub fn without_lock(environment: &str, required_approvals: u32) -> Self {
        EnvironmentStatus {
            environment: environment.to_owned(),
            lock: Lock::Unknown,
            required_approvals,
            violations: Vec::new(),
        }
    }
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
        for (name, source) in DEFAULTS {
            env.add_template(name, source)
                .unwrap_or_else(|err| panic!("the default template {name} is invalid: {err}"));
        }
        Templates { env }
    }

    /// The defaults, each replaced by the file of the same name in `dir` where there is one.
    pub fn with_overrides(dir: &Path) -> Result<Templates, ReportError> {
        let mut env = Self::environment();
        for (name, default) in DEFAULTS {
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
        env
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
