//! A preview's texts besides the report itself: the notes at the top of its comment, and its
//! check run's title, summary and annotation titles, from `templates/preview/`. Pure: data
//! in, text out. Which notes a preview shows, and its conclusion, are decided by the preview
//! pipeline; this module only words them.

use minijinja::{context, Value};

use super::{
    fence_for, ReportError, Templates, ANNOTATION_TITLE, CHECK_SUMMARY, CHECK_TITLE, CONFIG_NOTE,
    FORK_NOTE, INTERRUPTED_TITLE, LOOKUP_NOTE, MEMBERSHIP_NOTE, RENDER_NOTE, STOPPED_SUMMARY,
    SUPERSEDED_SUMMARY, SUPERSEDED_TITLE, UNFINISHED_TITLE,
};
use crate::diff::compare::Side;

/// A check run's title and summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckText {
    pub title: String,
    pub summary: String,
}

/// The note on a pull request from the fork `fork` into `repository`.
pub fn fork_note(
    templates: &Templates,
    fork: &str,
    repository: &str,
) -> Result<String, ReportError> {
    templates.render(FORK_NOTE, context! { fork, repository })
}

/// The note on `.github/slipway.yml` that does not parse at `side` (`commit` as shown).
pub fn config_note(
    templates: &Templates,
    side: Side,
    commit: &str,
    error: &str,
) -> Result<String, ReportError> {
    let error = error.trim_end();
    templates.render(
        CONFIG_NOTE,
        context! { side => side.as_str(), commit, error, fence => fence_for(error) },
    )
}

/// The note on `environment`, which does not render at `side`.
pub fn render_note(
    templates: &Templates,
    environment: &str,
    side: Side,
    commit: &str,
    error: &str,
) -> Result<String, ReportError> {
    let error = error.trim_end();
    templates.render(
        RENDER_NOTE,
        context! { environment, side => side.as_str(), commit, error, fence => fence_for(error) },
    )
}

/// The note on `environment`, a Helm chart whose `templates` call `lookup`.
pub fn lookup_note(
    templates: &Templates,
    environment: &str,
    files: &[String],
) -> Result<String, ReportError> {
    templates.render(LOOKUP_NOTE, context! { environment, files })
}

/// Whether a change adds an environment to `.github/slipway.yml` or removes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Membership {
    Added,
    Removed,
}

/// The note on `environment`, which the change adds or removes.
pub fn membership_note(
    templates: &Templates,
    environment: &str,
    membership: Membership,
) -> Result<String, ReportError> {
    let kind = match membership {
        Membership::Added => "added",
        Membership::Removed => "removed",
    };
    templates.render(MEMBERSHIP_NOTE, context! { environment, kind })
}

/// What a preview's title is about, most important first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TitleCounts {
    /// `.github/slipway.yml` does not parse at either side.
    pub config_broken: bool,
    /// Environments that do not render.
    pub failed: usize,
    /// Objects refused by their environment's policy.
    pub refused: usize,
    /// Environments whose render changes.
    pub changed: usize,
}

/// The preview check run's title.
pub fn check_title(templates: &Templates, counts: &TitleCounts) -> Result<String, ReportError> {
    templates.render_text(
        CHECK_TITLE,
        context! {
            config => counts.config_broken,
            failed => counts.failed,
            refused => counts.refused,
            changed => counts.changed,
        },
    )
}

/// What an annotation on the head commit points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnotationProblem<'a> {
    /// `.github/slipway.yml` does not parse.
    Config,
    /// The environment does not render.
    Render(&'a str),
    /// The environment's policy refuses an object.
    Refused(&'a str),
}

/// An annotation's title.
pub fn annotation_title(
    templates: &Templates,
    problem: AnnotationProblem<'_>,
) -> Result<String, ReportError> {
    let ctx = match problem {
        AnnotationProblem::Config => context! { problem => "config" },
        AnnotationProblem::Render(environment) => context! { problem => "render", environment },
        AnnotationProblem::Refused(environment) => {
            context! { problem => "refused", environment }
        }
    };
    templates.render_text(ANNOTATION_TITLE, ctx)
}

/// One environment's line in the check run's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryLine {
    pub environment: String,
    pub state: SummaryState,
}

/// How an environment came out of a preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SummaryState {
    /// The change does not touch its inputs.
    Untouched,
    /// Rendered at both sides; `refused` objects of the head are refused by its policy.
    Compared {
        changed: usize,
        added: usize,
        removed: usize,
        refused: usize,
    },
    /// It does not render at `side`, at `location` (file, line) when known.
    Failed {
        side: Side,
        location: Option<(String, usize)>,
    },
}

/// Everything a preview's check-run summary says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary<'a> {
    /// The fork the pull request comes from.
    pub fork: Option<&'a str>,
    /// `.github/slipway.yml` that does not parse: at which side, and its error.
    pub config: Option<(Side, String)>,
    pub environments: Vec<SummaryLine>,
    /// How many comments the preview took (0: none posted).
    pub parts: usize,
    /// The comment had to be cut, so the check run's text holds the full report.
    pub cut: bool,
}

/// The preview check run's summary.
pub fn check_summary(templates: &Templates, summary: &Summary<'_>) -> Result<String, ReportError> {
    let environments: Vec<Value> = summary.environments.iter().map(summary_line).collect();
    let (config_side, config_error) = match &summary.config {
        Some((side, error)) => (Some(side.as_str()), Some(error.as_str())),
        None => (None, None),
    };
    templates.render(
        CHECK_SUMMARY,
        context! {
            fork => summary.fork,
            config_side,
            config_error,
            environments,
            parts => summary.parts,
            cut => summary.cut,
        },
    )
}

fn summary_line(line: &SummaryLine) -> Value {
    let name = &line.environment;
    match &line.state {
        SummaryState::Untouched => context! { name, state => "untouched" },
        SummaryState::Compared {
            changed,
            added,
            removed,
            refused,
        } => context! {
            name,
            state => if changed + added + removed > 0 { "changed" } else { "unchanged" },
            changed,
            added,
            removed,
            refused,
        },
        SummaryState::Failed { side, location } => context! {
            name,
            state => "failed",
            side => side.as_str(),
            file => location.as_ref().map(|(file, _)| file),
            line => location.as_ref().map(|(_, line)| line),
        },
    }
}

/// The check run of a preview a newer push made pointless.
pub fn superseded(templates: &Templates) -> Result<CheckText, ReportError> {
    Ok(CheckText {
        title: templates.render_text(SUPERSEDED_TITLE, context! {})?,
        summary: templates.render(SUPERSEDED_SUMMARY, context! {})?,
    })
}

/// The check run of a preview stopped by `error`: one that a retry may get past
/// (`retryable`), or one it cannot.
pub fn stopped(
    templates: &Templates,
    retryable: bool,
    error: &str,
) -> Result<CheckText, ReportError> {
    let title = if retryable {
        INTERRUPTED_TITLE
    } else {
        UNFINISHED_TITLE
    };
    let error = error.trim_end();
    Ok(CheckText {
        title: templates.render_text(title, context! {})?,
        summary: templates.render(
            STOPPED_SUMMARY,
            context! { error, fence => fence_for(error) },
        )?,
    })
}
