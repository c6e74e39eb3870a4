//! What a drift issue says, from `templates/drift/`: its title, its body (a hidden marker,
//! what was compared, the objects that differ, the diff, what to do) and the comment it is
//! closed with once the environment matches again.
//!
//! The diff is the one a preview shows ([`Templates::comment_report`]), compared from the
//! cluster (base) to the deployed commit (head): `diff::diff_environment(env, live, desired,
//! key)`. Secret values arrive as fingerprints, so nothing here can show one.
//!
//! Pure: facts and a diff in, text out.

use serde::Serialize;

use crate::diff::{Change, EnvironmentDiff};
use crate::github::{Issue, ISSUE_BODY_LIMIT};
use crate::report::{
    fence_for, Extras, Limits, Preview, ReportError, Templates, DRIFT_BODY, DRIFT_RESOLVED,
    DRIFT_TITLE, DRIFT_UNSHOWN_DIFF,
};

/// The label every drift issue carries (GitHub creates it with the first issue).
pub const DRIFT_LABEL: &str = "slipway:drift";
/// The most objects of each group (changed, only in cluster, missing from cluster) the body
/// lists by name; the rest are counted, and all of them are in the diff as far as it fits.
pub const LISTED_OBJECTS: usize = 20;
/// How the cluster's side of the diff is named.
const CLUSTER_SIDE: &str = "live in cluster";
/// Bytes kept free below the limit, against off-by-one surprises.
const SAFETY: usize = 256;

/// What a drift check compared, besides the diff itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftFacts {
    /// The config repo, `owner/name`.
    pub repository: String,
    pub environment: String,
    /// The commit last deployed to the environment: what the cluster was compared with.
    pub deployed_sha: String,
    /// When the check ran, as it is shown (`2026-12-06 02:00 UTC`).
    pub checked_at: String,
    /// Whether the environment has `self_heal: true` (slipway undoes the drift itself).
    pub self_heal: bool,
    /// The command that shows the whole diff, quoted when the diff does not fit the issue.
    pub full_command: String,
}

impl DriftFacts {
    fn short_sha(&self) -> String {
        self.deployed_sha.chars().take(7).collect()
    }
}

/// The hidden first line of `environment`'s drift issue. Environment names are DNS labels;
/// anything else is percent-encoded so the marker stays one HTML comment.
pub fn marker(environment: &str) -> String {
    let mut name = String::with_capacity(environment.len());
    for byte in environment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.') {
            name.push(byte as char);
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("<!-- slipway:drift env={name} -->")
}

/// `environment`'s drift issue among `issues` (the open issues of [`DRIFT_LABEL`]): the
/// oldest opened by a bot whose body starts with the environment's marker. An issue a person
/// opened, or that quotes the marker further down, is not slipway's.
pub fn find_issue<'a>(issues: &'a [Issue], environment: &str) -> Option<&'a Issue> {
    let marker = marker(environment);
    issues
        .iter()
        .filter(|issue| issue.is_by_bot() && first_line(&issue.body) == marker)
        .min_by_key(|issue| issue.number)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim_end()
}

/// `Drift: <env> differs from <short sha>`.
pub fn issue_title(templates: &Templates, facts: &DriftFacts) -> Result<String, ReportError> {
    let ctx = minijinja::context! {
        environment => one_line(&facts.environment),
        short_sha => facts.short_sha(),
    };
    Ok(one_line(&templates.render_text(DRIFT_TITLE, ctx)?))
}

/// The issue's body: the marker line, then what was compared, the objects that differ by
/// group, the diff (as much as fits, the rest counted with [`DriftFacts::full_command`]) and
/// what to do. Never more than [`ISSUE_BODY_LIMIT`] characters.
pub fn issue_body(
    templates: &Templates,
    facts: &DriftFacts,
    diff: &EnvironmentDiff,
) -> Result<String, ReportError> {
    let groups = groups(diff);
    let head = format!("{}\n", marker(&facts.environment));
    let frame = body(templates, facts, &groups, "")?;
    let budget = ISSUE_BODY_LIMIT.saturating_sub(head.len() + frame.len() + SAFETY);
    let shown = diff_text(templates, facts, diff, budget)?;
    let mut text = head + &body(templates, facts, &groups, &shown)?;
    if text.chars().count() > ISSUE_BODY_LIMIT {
        // Only templates overridden with far longer text get here: cut, with a note.
        let note = "\n… (cut: GitHub shows at most 65,536 characters in an issue)\n";
        let keep = ISSUE_BODY_LIMIT - note.chars().count();
        text = text.chars().take(keep).collect::<String>() + note;
    }
    Ok(text)
}

/// The comment a drift issue is closed with: the environment matches the deployed commit again.
pub fn resolved_comment(templates: &Templates, facts: &DriftFacts) -> Result<String, ReportError> {
    templates.render(
        DRIFT_RESOLVED,
        minijinja::context! {
            environment => facts.environment,
            short_sha => facts.short_sha(),
            checked_at => facts.checked_at,
        },
    )
}

/// One group of objects that differ, as the body lists them.
#[derive(Debug, Serialize)]
struct Group {
    title: &'static str,
    count: usize,
    items: Vec<String>,
    more: usize,
}

/// The objects that differ: changed, only in the cluster (live, not deployed: `Removed` from
/// cluster to commit) and missing from the cluster (deployed, not live: `Added`).
fn groups(diff: &EnvironmentDiff) -> Vec<Group> {
    [
        (Change::Changed, "changed"),
        (Change::Removed, "only in cluster"),
        (Change::Added, "missing from cluster"),
    ]
    .into_iter()
    .filter_map(|(change, title)| {
        let names: Vec<String> = diff
            .objects
            .iter()
            .filter(|o| o.change == change)
            .map(|o| o.id.to_string())
            .collect();
        (!names.is_empty()).then(|| Group {
            title,
            count: names.len(),
            more: names.len().saturating_sub(LISTED_OBJECTS),
            items: names.into_iter().take(LISTED_OBJECTS).collect(),
        })
    })
    .collect()
}

fn body(
    templates: &Templates,
    facts: &DriftFacts,
    groups: &[Group],
    diff: &str,
) -> Result<String, ReportError> {
    templates.render(
        DRIFT_BODY,
        minijinja::context! {
            repository => facts.repository,
            environment => facts.environment,
            short_sha => facts.short_sha(),
            checked_at => facts.checked_at,
            self_heal => facts.self_heal,
            groups,
            diff,
        },
    )
}

/// The preview's rendering of the diff, in one part of at most `budget` bytes; when not even
/// the smallest diff fits, the command that shows it.
fn diff_text(
    templates: &Templates,
    facts: &DriftFacts,
    diff: &EnvironmentDiff,
    budget: usize,
) -> Result<String, ReportError> {
    let short_sha = facts.short_sha();
    let environments = std::slice::from_ref(diff);
    let preview = Preview {
        base: CLUSTER_SIDE,
        head: &short_sha,
        environments,
        full_command: &facts.full_command,
    };
    let limits = Limits {
        part_budget: budget,
        marker_budget: 0,
        max_parts: 1,
    };
    match templates.comment_report(&preview, &Extras::default(), &limits) {
        Ok(mut report) => Ok(report.parts.remove(0)),
        Err(ReportError::LimitTooSmall { .. }) => templates.render(
            DRIFT_UNSHOWN_DIFF,
            minijinja::context! {
                command => facts.full_command,
                fence => fence_for(&facts.full_command),
            },
        ),
        Err(other) => Err(other),
    }
}

/// A title stays one line, whatever a name holds.
fn one_line(text: &str) -> String {
    text.split(['\n', '\r']).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::IssueState;

    fn issue(number: u64, body: &str, bot: bool) -> Issue {
        Issue {
            number,
            html_url: String::new(),
            state: IssueState::Open,
            title: "Drift".to_string(),
            body: body.to_string(),
            labels: vec![DRIFT_LABEL.to_string()],
            user_login: if bot { "slipway[bot]" } else { "mallory" }.to_string(),
            user_type: if bot { "Bot" } else { "User" }.to_string(),
        }
    }

    #[test]
    fn only_a_bot_issue_starting_with_the_environments_marker_is_its_drift_issue() {
        let prod = format!("{}\n## Drift", marker("prod"));
        let issues = [
            issue(3, &prod, false),
            issue(4, &format!("{}\n", marker("prod-eu")), true),
            issue(5, &format!("see:\n{prod}"), true),
            issue(9, &prod, true),
            issue(7, &prod, true),
        ];
        assert_eq!(find_issue(&issues, "prod").map(|i| i.number), Some(7));
        assert_eq!(find_issue(&issues, "prod-eu").map(|i| i.number), Some(4));
        assert_eq!(find_issue(&issues, "dev"), None);
    }

    #[test]
    fn a_marker_cannot_be_closed_early_by_an_odd_name() {
        assert_eq!(marker("prod"), "<!-- slipway:drift env=prod -->");
        assert_eq!(
            marker("x -->\n@team"),
            "<!-- slipway:drift env=x%20--%3E%0A%40team -->"
        );
    }
}
