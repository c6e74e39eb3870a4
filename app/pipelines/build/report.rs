//! The `slipway/build` check run's output at each point of a build, from `templates/build/`.

use serde::Serialize;

use crate::github::CheckRunOutput;
use crate::report::{ReportError, Templates, BUILD_SUMMARY, BUILD_TEXT, BUILD_TITLE};

use super::progress::BuildProgress;

/// How many lines of the build log the check run shows.
pub const LOG_LINES: usize = 100;

/// Where a build stands, as its check run says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Queued,
    Running,
    Succeeded,
    BumpFailed,
    Failed,
    TimedOut,
    Cancelled,
    NoCluster,
    BrokenConfig,
}

/// What became of the bump, for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BumpNote {
    /// `committed`, `proposed`, `already_current`, `locked`, `not_allowed`, `newer_running`,
    /// `not_default_branch`, `no_digest`, `failed`; empty when the app repo deploys nowhere.
    pub kind: &'static str,
    pub config_repo: String,
    pub environment: String,
    pub url: String,
    pub short_sha: String,
    pub number: u64,
    pub opened: bool,
    pub by: String,
    pub lock_reason: Option<String>,
    pub reason: String,
    pub images: Vec<MovedImageNote>,
    /// `not_allowed`: the image and the repository whose build the config repo refused.
    pub image: String,
    pub source: String,
    /// `newer_running`: the short sha of the newer commit the environment runs.
    pub running: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MovedImageNote {
    pub image: String,
    pub environment: String,
    pub from: String,
    pub to: String,
}

/// Everything a check-run text may mention.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    pub outcome: Outcome,
    pub repo: String,
    pub branch: String,
    pub default_branch: String,
    pub sha: String,
    pub short_sha: String,
    pub image: String,
    pub destinations: Vec<String>,
    pub job: String,
    pub namespace: String,
    pub duration: Option<String>,
    pub timeout: String,
    pub reason: String,
    pub errors: Vec<String>,
    pub bump: BumpNote,
    pub log: Option<String>,
    pub log_lines: usize,
    /// The pushed image's digest, once reported.
    pub digest: Option<String>,
    /// The one tag the build pushes.
    pub destination: String,
    /// Who caused the build.
    pub requested_by: Option<String>,
}

impl Facts {
    /// The facts of `progress` at `outcome`; the rest is filled in by the caller.
    pub fn of(progress: &BuildProgress, outcome: Outcome, namespace: &str, timeout: &str) -> Facts {
        let mut facts = Facts::for_commit(
            outcome,
            &progress.repo,
            &progress.branch,
            &progress.default_branch,
            &progress.sha,
            namespace,
        );
        facts.image = progress.recipe.image.clone();
        facts.destination = crate::cluster::build_job::destination(
            &progress.recipe.image,
            &progress.sha,
            &progress.branch,
            &progress.default_branch,
        );
        facts.destinations = vec![facts.destination.clone()];
        facts.digest = progress.digest.clone();
        facts.requested_by = progress.requested_by.clone();
        facts.job = progress.job_name.clone().unwrap_or_default();
        facts.timeout = timeout.to_string();
        facts
    }

    /// What is known of a commit before any build of it exists (a broken configuration).
    pub fn for_commit(
        outcome: Outcome,
        repo: &str,
        branch: &str,
        default_branch: &str,
        sha: &str,
        namespace: &str,
    ) -> Facts {
        Facts {
            outcome,
            repo: repo.to_string(),
            branch: branch.to_string(),
            default_branch: default_branch.to_string(),
            sha: sha.to_string(),
            short_sha: sha.chars().take(7).collect(),
            image: String::new(),
            destinations: Vec::new(),
            job: String::new(),
            namespace: namespace.to_string(),
            duration: None,
            timeout: String::new(),
            reason: String::new(),
            errors: Vec::new(),
            bump: BumpNote::default(),
            log: None,
            log_lines: LOG_LINES,
            digest: None,
            destination: String::new(),
            requested_by: None,
        }
    }
}

/// The check run's output for `facts`.
pub fn output(templates: &Templates, facts: &Facts) -> Result<CheckRunOutput, ReportError> {
    let ctx = minijinja::Value::from_serialize(facts);
    let title = templates.render_text(BUILD_TITLE, ctx.clone())?;
    let summary = templates.render(BUILD_SUMMARY, ctx.clone())?;
    let text = templates.render(BUILD_TEXT, ctx)?;
    Ok(CheckRunOutput {
        title: title.trim().to_string(),
        summary,
        text: (!text.trim().is_empty()).then_some(text),
        annotations: Vec::new(),
    })
}

/// `2m 14s`, `45s`, `1h 02m`.
pub fn human_duration(ms: i64) -> String {
    let secs = (ms.max(0) + 500) / 1000;
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(human_duration(45_200), "45s");
        assert_eq!(human_duration(134_000), "2m 14s");
        assert_eq!(human_duration(3_720_000), "1h 02m");
    }
}
