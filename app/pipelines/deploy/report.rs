//! What a deploy tells people, from `templates/deploy/`: the `slipway/deploy/<env>` check run
//! (title and summary per outcome, the objects the apply created, configured, left unchanged
//! and pruned as its text), the GitHub deployment status that goes with it, and the one
//! comment on the merged pull request that shows every environment's result.
//!
//! Pure: a [`DeployOutcome`] in, text out. The outcome carries objects by identity only
//! (kind, namespace, name), so nothing here can show what a Secret holds.

use serde::{Deserialize, Serialize};

use crate::github::{CheckConclusion, CheckRunOutput, DeploymentState, IssueComment};
use crate::policy::Violation;
use crate::render::ObjectKey;
use crate::report::{
    ReportError, Templates, CHECK_RUN_TEXT_LIMIT, DEPLOY_COMMENT, DEPLOY_OBJECTS, DEPLOY_SUMMARY,
    DEPLOY_TITLE, GITHUB_COMMENT_LIMIT,
};

/// The hidden first line of the deploy comment on a merged pull request.
pub const COMMENT_MARKER: &str = "<!-- slipway:deploy -->";
/// Lists longer than this are folded in `<details>`.
pub const FOLD_AFTER: usize = 10;
/// The most unhealthy objects or policy violations a summary lists (the rest are counted).
pub const SUMMARY_ITEMS: usize = 50;
/// The most unhealthy objects or violations an environment's line in the comment lists.
pub const COMMENT_ITEMS: usize = 5;

/// What every deploy check run's name starts with; the environment follows.
pub const CHECK_PREFIX: &str = "slipway/deploy/";

/// The check run of a deploy of `environment`.
pub fn check_run_name(environment: &str) -> String {
    format!("{CHECK_PREFIX}{environment}")
}

pub use crate::cluster::{Action, AppliedObject, ConflictTaken, UnhealthyObject};

/// How a deploy ended (or where it stands).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum DeployResult {
    InProgress,
    Succeeded,
    /// The API server refused an apply; `message` is its answer.
    ApplyFailed {
        object: Option<ObjectKey>,
        message: String,
    },
    /// Applied, but these objects did not become healthy in time.
    Unhealthy {
        objects: Vec<UnhealthyObject>,
    },
    /// The deploy failed and the environment was put back to `to_sha`, its last good deploy.
    RolledBack {
        to_sha: String,
        reason: String,
    },
    /// The approval gate refused it; `sentence` says why.
    RefusedByGate {
        sentence: String,
    },
    /// Objects the environment may not hold; nothing was applied.
    RefusedByPolicy {
        violations: Vec<Violation>,
    },
    Locked {
        by: String,
        reason: Option<String>,
    },
    /// A later merge deploys instead.
    Superseded {
        by_sha: String,
        by_pull: Option<u64>,
    },
    /// slipway reaches no cluster (previews and commands still work); `reason` says why.
    NoCluster {
        reason: String,
    },
    /// Still under way: the environment's cluster does not answer or refuses slipway, and the
    /// deploy tries again in `retry_in`.
    ClusterUnreachable {
        cluster: String,
        /// `unreachable: …` or `refuses slipway: …`.
        reason: String,
        retry_in: String,
    },
}

impl DeployResult {
    /// The name the templates know it by.
    pub fn name(&self) -> &'static str {
        match self {
            DeployResult::InProgress => "in_progress",
            DeployResult::Succeeded => "succeeded",
            DeployResult::ApplyFailed { .. } => "apply_failed",
            DeployResult::Unhealthy { .. } => "unhealthy",
            DeployResult::RolledBack { .. } => "rolled_back",
            DeployResult::RefusedByGate { .. } => "refused_by_gate",
            DeployResult::RefusedByPolicy { .. } => "refused_by_policy",
            DeployResult::Locked { .. } => "locked",
            DeployResult::Superseded { .. } => "superseded",
            DeployResult::NoCluster { .. } => "no_cluster",
            DeployResult::ClusterUnreachable { .. } => "cluster_unreachable",
        }
    }

    /// The check run's conclusion; `None` while the deploy runs.
    pub fn conclusion(&self) -> Option<CheckConclusion> {
        Some(match self {
            DeployResult::InProgress | DeployResult::ClusterUnreachable { .. } => return None,
            DeployResult::Succeeded => CheckConclusion::Success,
            DeployResult::ApplyFailed { .. }
            | DeployResult::Unhealthy { .. }
            | DeployResult::RolledBack { .. }
            | DeployResult::RefusedByPolicy { .. } => CheckConclusion::Failure,
            // A failed required check keeps the refusal in sight on the commit; approvals that
            // come later take a new merge (or a re-run of the check).
            DeployResult::RefusedByGate { .. } => CheckConclusion::Failure,
            // Nothing is wrong with the change; re-run once unlocked.
            DeployResult::Locked { .. } => CheckConclusion::Neutral,
            DeployResult::Superseded { .. } => CheckConclusion::Skipped,
            // Nothing is wrong with the change: slipway is set up without a cluster.
            DeployResult::NoCluster { .. } => CheckConclusion::Neutral,
        })
    }

    /// The GitHub deployment status that goes with it.
    pub fn deployment_state(&self) -> DeploymentState {
        match self {
            DeployResult::InProgress | DeployResult::ClusterUnreachable { .. } => {
                DeploymentState::InProgress
            }
            DeployResult::Succeeded => DeploymentState::Success,
            DeployResult::ApplyFailed { .. }
            | DeployResult::Unhealthy { .. }
            | DeployResult::RolledBack { .. } => DeploymentState::Failure,
            // Refused before anything was applied.
            DeployResult::RefusedByGate { .. }
            | DeployResult::RefusedByPolicy { .. }
            | DeployResult::Locked { .. } => DeploymentState::Error,
            DeployResult::Superseded { .. } => DeploymentState::Inactive,
            DeployResult::NoCluster { .. } => DeploymentState::Error,
        }
    }
}

/// Everything the texts of one deploy of one environment say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployOutcome {
    /// The config repo, `owner/name`.
    pub repository: String,
    pub environment: String,
    pub merge_sha: String,
    /// The merged pull request; `None` for a push straight to the default branch.
    pub pull_number: Option<u64>,
    pub result: DeployResult,
    /// Every object applied, with what the apply did (empty before the apply).
    pub objects: Vec<AppliedObject>,
    /// Objects of an earlier deploy that are gone from this one and were deleted.
    pub pruned: Vec<ObjectKey>,
    pub conflicts: Vec<ConflictTaken>,
    /// The deploy's check run on GitHub, linked from the comment.
    pub check_run_url: Option<String>,
    /// The cluster the environment deploys to, named in the texts when the server knows
    /// several (or the environment names one but `default`); `None`: not named.
    #[serde(default)]
    pub cluster: Option<String>,
}

impl DeployOutcome {
    /// How many objects the apply created, configured and left unchanged, and how many it pruned.
    pub fn counts(&self) -> Counts {
        let count = |action| self.objects.iter().filter(|o| o.action == action).count();
        Counts {
            created: count(Action::Created),
            configured: count(Action::Configured),
            unchanged: count(Action::Unchanged),
            pruned: self.pruned.len(),
        }
    }
}

/// A deploy's numbers, for texts and the history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub created: usize,
    pub configured: usize,
    pub unchanged: usize,
    pub pruned: usize,
}

#[derive(Serialize)]
struct Item {
    object: String,
    reason: String,
}

#[derive(Serialize)]
struct PolicyItem {
    object: String,
    at: String,
    message: String,
}

#[derive(Serialize)]
struct ConflictItem {
    object: String,
    manager: String,
    fields: Vec<String>,
}

#[derive(Serialize)]
struct Group {
    title: &'static str,
    count: usize,
    items: Vec<String>,
    more: usize,
    folded: bool,
}

/// What the templates see of an outcome; lists cut to `items` entries.
#[derive(Serialize)]
struct Facts {
    outcome: &'static str,
    repository: String,
    environment: String,
    sha: String,
    short_sha: String,
    pull_number: Option<u64>,
    url: Option<String>,
    object_count: usize,
    created: usize,
    configured: usize,
    unchanged: usize,
    pruned: usize,
    failed_object: Option<String>,
    error: String,
    error_line: String,
    unhealthy: Vec<Item>,
    unhealthy_more: usize,
    rolled_back_to: String,
    reason: String,
    gate: String,
    violations: Vec<PolicyItem>,
    violation_count: usize,
    violations_more: usize,
    locked_by: String,
    lock_reason: Option<String>,
    superseded_by: String,
    superseded_by_pull: Option<u64>,
    conflicts: Vec<ConflictItem>,
    cluster: Option<String>,
    /// The cluster a deploy waits for.
    waiting_for: String,
    retry_in: String,
}

fn short(sha: &str) -> String {
    sha.chars().take(7).collect()
}

fn facts(outcome: &DeployOutcome, items: usize) -> Facts {
    let counts = outcome.counts();
    let mut facts = Facts {
        outcome: outcome.result.name(),
        repository: outcome.repository.clone(),
        environment: outcome.environment.clone(),
        sha: outcome.merge_sha.clone(),
        short_sha: short(&outcome.merge_sha),
        pull_number: outcome.pull_number,
        url: outcome.check_run_url.clone(),
        object_count: outcome.objects.len(),
        created: counts.created,
        configured: counts.configured,
        unchanged: counts.unchanged,
        pruned: counts.pruned,
        failed_object: None,
        error: String::new(),
        error_line: String::new(),
        unhealthy: Vec::new(),
        unhealthy_more: 0,
        rolled_back_to: String::new(),
        reason: String::new(),
        gate: String::new(),
        violations: Vec::new(),
        violation_count: 0,
        violations_more: 0,
        locked_by: String::new(),
        lock_reason: None,
        superseded_by: String::new(),
        superseded_by_pull: None,
        cluster: outcome.cluster.clone(),
        waiting_for: String::new(),
        retry_in: String::new(),
        conflicts: outcome
            .conflicts
            .iter()
            .map(|c| ConflictItem {
                object: c.object.to_string(),
                manager: c.manager.clone(),
                fields: c.fields.clone(),
            })
            .collect(),
    };
    match &outcome.result {
        DeployResult::InProgress | DeployResult::Succeeded => {}
        DeployResult::ApplyFailed { object, message } => {
            facts.failed_object = object.as_ref().map(ToString::to_string);
            facts.error = message.clone();
            facts.error_line = message.lines().next().unwrap_or("").to_string();
        }
        DeployResult::Unhealthy { objects } => {
            facts.unhealthy = objects
                .iter()
                .take(items)
                .map(|u| Item {
                    object: u.object.to_string(),
                    reason: u.reason.clone(),
                })
                .collect();
            facts.unhealthy_more = objects.len().saturating_sub(items);
        }
        DeployResult::RolledBack { to_sha, reason } => {
            facts.rolled_back_to = short(to_sha);
            facts.reason = reason.clone();
        }
        DeployResult::RefusedByGate { sentence } => facts.gate = sentence.clone(),
        DeployResult::RefusedByPolicy { violations } => {
            facts.violation_count = violations.len();
            facts.violations = violations
                .iter()
                .take(items)
                .map(|v| PolicyItem {
                    object: v.object.to_string(),
                    at: format!("{}:{}", v.file, v.line),
                    message: v.message.clone(),
                })
                .collect();
            facts.violations_more = violations.len().saturating_sub(items);
        }
        DeployResult::Locked { by, reason } => {
            facts.locked_by = by.clone();
            facts.lock_reason = reason.clone();
        }
        DeployResult::Superseded { by_sha, by_pull } => {
            facts.superseded_by = short(by_sha);
            facts.superseded_by_pull = *by_pull;
        }
        DeployResult::NoCluster { reason } => facts.reason = reason.clone(),
        DeployResult::ClusterUnreachable {
            cluster,
            reason,
            retry_in,
        } => {
            facts.waiting_for = cluster.clone();
            facts.reason = reason.clone();
            facts.retry_in = retry_in.clone();
        }
    }
    facts
}

/// The objects in groups (created, configured, unchanged, pruned), each showing at most `cap`.
fn groups(outcome: &DeployOutcome, cap: usize) -> Vec<Group> {
    let of = |action| -> Vec<String> {
        let mut names: Vec<String> = outcome
            .objects
            .iter()
            .filter(|o| o.action == action)
            .map(|o| o.object.to_string())
            .collect();
        names.sort();
        names
    };
    let mut pruned: Vec<String> = outcome.pruned.iter().map(ToString::to_string).collect();
    pruned.sort();
    [
        ("created", of(Action::Created)),
        ("configured", of(Action::Configured)),
        ("unchanged", of(Action::Unchanged)),
        ("pruned", pruned),
    ]
    .into_iter()
    .filter(|(_, names)| !names.is_empty())
    .map(|(title, names)| {
        let count = names.len();
        Group {
            title,
            count,
            more: count.saturating_sub(cap),
            items: names.into_iter().take(cap).collect(),
            folded: count > FOLD_AFTER,
        }
    })
    .collect()
}

/// The objects text of the check run, within [`CHECK_RUN_TEXT_LIMIT`]: every object when it
/// fits, otherwise as many per group as fit and the count of the rest.
pub fn objects_text(
    templates: &Templates,
    outcome: &DeployOutcome,
) -> Result<Option<String>, ReportError> {
    let largest = outcome
        .objects
        .len()
        .max(outcome.pruned.len())
        .max(FOLD_AFTER);
    let mut cap = largest;
    loop {
        let ctx = minijinja::context! { groups => groups(outcome, cap) };
        let text = templates.render(DEPLOY_OBJECTS, ctx)?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        if text.len() <= CHECK_RUN_TEXT_LIMIT || cap == 0 {
            return Ok(Some(text));
        }
        cap /= 2;
    }
}

/// The check run's output: title, summary and the objects text.
pub fn check_run_output(
    templates: &Templates,
    outcome: &DeployOutcome,
) -> Result<CheckRunOutput, ReportError> {
    let ctx = minijinja::Value::from_serialize(facts(outcome, SUMMARY_ITEMS));
    let title = templates.render_text(DEPLOY_TITLE, ctx.clone())?;
    let summary = templates.render(DEPLOY_SUMMARY, ctx)?;
    Ok(CheckRunOutput {
        title: title.trim().to_string(),
        summary,
        text: objects_text(templates, outcome)?,
        annotations: Vec::new(),
    })
}

/// The deployment status's description: the check run's title (the client cuts it to 140).
pub fn deployment_description(
    templates: &Templates,
    outcome: &DeployOutcome,
) -> Result<String, ReportError> {
    let ctx = minijinja::Value::from_serialize(facts(outcome, 0));
    Ok(templates.render_text(DEPLOY_TITLE, ctx)?.trim().to_string())
}

/// The deploy comment's body: its marker line, then a row per environment, in the order
/// given, and a line on each that did not deploy. `outcomes` are every environment's latest
/// deploy of this merge (one per environment; a later one of an environment replaces it).
pub fn comment_body(
    templates: &Templates,
    outcomes: &[DeployOutcome],
) -> Result<String, ReportError> {
    let mut latest: Vec<&DeployOutcome> = Vec::new();
    for outcome in outcomes {
        match latest
            .iter_mut()
            .find(|o| o.environment == outcome.environment)
        {
            Some(slot) => *slot = outcome,
            None => latest.push(outcome),
        }
    }
    let environments: Vec<Facts> = latest.iter().map(|o| facts(o, COMMENT_ITEMS)).collect();
    let (sha, pull_number) = latest
        .first()
        .map(|o| (short(&o.merge_sha), o.pull_number))
        .unwrap_or_default();
    let ctx = minijinja::context! { environments, short_sha => sha, pull_number };
    let markdown = templates.render(DEPLOY_COMMENT, ctx)?;
    let mut body = format!("{COMMENT_MARKER}\n{markdown}");
    if body.chars().count() > GITHUB_COMMENT_LIMIT {
        // Only a config repo with thousands of environments gets here: cut, with a note.
        let note = "\n… (cut: GitHub shows at most 65,536 characters in a comment)\n";
        let keep = GITHUB_COMMENT_LIMIT - note.chars().count();
        body = body.chars().take(keep).collect::<String>() + note;
    }
    Ok(body)
}

/// The deploy comment among a pull request's comments: the oldest by a bot that starts with
/// the marker (a user quoting the marker is not slipway).
pub fn find_comment(comments: &[IssueComment]) -> Option<u64> {
    comments
        .iter()
        .filter(|c| c.is_by_bot() && c.body.starts_with(COMMENT_MARKER))
        .map(|c| c.id)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: &str, name: &str) -> ObjectKey {
        ObjectKey {
            group: String::new(),
            kind: kind.to_string(),
            namespace: Some("team-dev".to_string()),
            name: name.to_string(),
        }
    }

    fn outcome(result: DeployResult, objects: usize) -> DeployOutcome {
        DeployOutcome {
            repository: "acme/config".into(),
            environment: "dev".into(),
            merge_sha: "0123456789abcdef0123456789abcdef01234567".into(),
            pull_number: Some(12),
            result,
            objects: (0..objects)
                .map(|n| AppliedObject {
                    object: key("ConfigMap", &format!("config-{n:05}-{}", "x".repeat(60))),
                    action: Action::Unchanged,
                })
                .collect(),
            pruned: Vec::new(),
            conflicts: Vec::new(),
            check_run_url: None,
            cluster: None,
        }
    }

    #[test]
    fn thousands_of_objects_fit_the_check_run_with_the_rest_counted() {
        let t = Templates::embedded();
        let text = objects_text(&t, &outcome(DeployResult::Succeeded, 5000))
            .unwrap()
            .unwrap();
        assert!(text.len() <= CHECK_RUN_TEXT_LIMIT, "{}", text.len());
        assert!(text.contains("<details><summary>5000 unchanged</summary>"));
        assert!(text.contains("more\n"), "the rest is counted");
    }

    #[test]
    fn each_result_has_a_conclusion_and_a_deployment_state() {
        assert_eq!(DeployResult::InProgress.conclusion(), None);
        assert_eq!(
            DeployResult::Succeeded.deployment_state(),
            DeploymentState::Success
        );
        let locked = DeployResult::Locked {
            by: "alice".into(),
            reason: None,
        };
        assert_eq!(locked.conclusion(), Some(CheckConclusion::Neutral));
        assert_eq!(locked.deployment_state(), DeploymentState::Error);
    }

    #[test]
    fn only_a_bot_comment_with_the_marker_is_the_deploy_comment() {
        let comment = |id, body: &str, bot: bool| IssueComment {
            id,
            body: body.to_string(),
            user_login: if bot { "slipway[bot]" } else { "alice" }.to_string(),
            user_type: if bot { "Bot" } else { "User" }.to_string(),
            created_at: String::new(),
        };
        let marked = format!("{COMMENT_MARKER}\n## slipway deploy");
        let comments = [
            comment(3, &marked, false),
            comment(9, &marked, true),
            comment(5, "<!-- slipway:preview part=1 -->\n", true),
            comment(7, &marked, true),
        ];
        assert_eq!(find_comment(&comments), Some(7));
        assert_eq!(find_comment(&comments[..1]), None);
    }
}
