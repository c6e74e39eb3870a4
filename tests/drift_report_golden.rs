//! What people see of drift, pinned as golden files: the issue slipway opens in the config
//! repo when an environment's live objects differ from its last deploy
//! (`tests/golden/drift_issue*.md`: title and body), hostile object names included, and the
//! comment that closes it. Secret values never appear, only their fingerprints.
//!
//! Set `UPDATE_GOLDEN=1` to rewrite the files after an intended change of the templates.

mod git_fixtures;
mod manifests;

use git_fixtures::assert_golden;
use manifests::objects::{config_map, deployment, secret};
use manifests::FINGERPRINT_KEY;
use slipway::diff::diff_environment;
use slipway::github::ISSUE_BODY_LIMIT;
use slipway::pipelines::drift::report::{
    issue_body, issue_title, marker, resolved_comment, DriftFacts, DRIFT_LABEL, LISTED_OBJECTS,
};
use slipway::render::K8sObject;
use slipway::report::Templates;

const DEPLOYED_SHA: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432";
const LIVE_PASSWORD: &str = "hunter2-changed-by-hand";
const DEPLOYED_PASSWORD: &str = "hunter2-very-secret";

fn facts(self_heal: bool) -> DriftFacts {
    DriftFacts {
        repository: "acme/config".to_string(),
        environment: "prod".to_string(),
        deployed_sha: DEPLOYED_SHA.to_string(),
        checked_at: "2026-12-06 02:00 UTC".to_string(),
        self_heal,
        full_command: "kubectl diff -k envs/prod".to_string(),
    }
}

/// What `prod` runs: scaled by hand, its password edited, a ConfigMap added with kubectl and
/// one deleted.
fn live() -> Vec<K8sObject> {
    vec![
        deployment("team-prod", "api", "registry.example.com/team/api:1.5.0", 5),
        secret("team-prod", "api-credentials", "password", LIVE_PASSWORD),
        config_map("team-prod", "debug-flags", "TRACE", "1"),
    ]
}

/// What `9f8e7d6` deployed to `prod`.
fn deployed() -> Vec<K8sObject> {
    vec![
        deployment("team-prod", "api", "registry.example.com/team/api:1.5.0", 2),
        secret(
            "team-prod",
            "api-credentials",
            "password",
            DEPLOYED_PASSWORD,
        ),
        config_map("team-prod", "api-settings", "LOG_LEVEL", "info"),
    ]
}

/// The issue as a person reads it: its title, then its body.
fn issue(facts: &DriftFacts, live: &[K8sObject], deployed: &[K8sObject]) -> (String, String) {
    let diff = diff_environment(&facts.environment, live, deployed, &FINGERPRINT_KEY);
    let templates = Templates::embedded();
    let title = issue_title(&templates, facts).unwrap();
    let body = issue_body(&templates, facts, &diff).unwrap();
    assert!(body.chars().count() <= ISSUE_BODY_LIMIT);
    (title, body)
}

#[test]
fn a_drifted_environment_gets_an_issue_naming_what_differs_without_secret_values() {
    let (title, body) = issue(&facts(false), &live(), &deployed());

    assert_eq!(title, "Drift: prod differs from 9f8e7d6");
    assert!(body.starts_with("<!-- slipway:drift env=prod -->\n"));
    assert_eq!(marker("prod"), "<!-- slipway:drift env=prod -->");
    assert_eq!(DRIFT_LABEL, "slipway:drift");
    for value in [LIVE_PASSWORD, DEPLOYED_PASSWORD] {
        assert!(!body.contains(value), "a Secret value is in the issue");
    }
    assert!(body.contains("Secret team-prod/api-credentials"));
    assert_golden("drift_issue.md", &format!("title: {title}\n\n{body}"));
}

#[test]
fn with_self_heal_the_issue_says_slipway_undoes_the_drift_itself() {
    let (_, body) = issue(&facts(true), &live(), &deployed());

    let what_to_do = body
        .split("### What to do")
        .nth(1)
        .expect("a what-to-do section");
    assert!(
        what_to_do.contains("`self_heal` is on for `prod`: slipway applies `9f8e7d6` again"),
        "{what_to_do}"
    );
    assert!(
        !what_to_do.contains("merge the pull request"),
        "{what_to_do}"
    );
}

/// Names someone with write access to the cluster could give objects: mentions, code spans,
/// HTML and table pipes stay text.
#[test]
fn hostile_object_names_stay_plain_text() {
    let hostile = [
        "evil</code></summary>\n\n@octocat [x](javascript:alert(1))",
        "`; rm -rf / #12",
        "a | b | c",
    ];
    let live: Vec<K8sObject> = hostile
        .iter()
        .map(|name| {
            let mut object = config_map("team-prod", "x", "k", "v");
            object.value["metadata"]["name"] = (*name).into();
            object
        })
        .collect();

    let (_, body) = issue(&facts(false), &live, &[]);

    assert_golden("drift_issue_hostile.md", &body);
    // A mention outside code would notify @octocat; in a code span or block it is text.
    let mut in_block = false;
    for line in body.lines() {
        if line.starts_with("```") {
            in_block = !in_block;
        } else if !in_block && line.contains("@octocat") {
            assert!(
                line.starts_with("- `") && line.ends_with('`'),
                "a mention outside code: {line}"
            );
        }
    }
    for summary in body.lines().filter(|l| l.starts_with("<details>")) {
        assert_eq!(
            summary.matches("</summary>").count(),
            1,
            "a name closed the summary early: {summary}"
        );
    }
    let rows = body.lines().filter(|l| l.starts_with("| ")).count();
    assert_eq!(
        rows, 3,
        "the table's header, delimiter and one row: pipes stay in cells"
    );
}

#[test]
fn a_drift_too_big_for_one_issue_lists_the_first_objects_and_counts_the_rest() {
    let big = "x".repeat(400);
    let live: Vec<K8sObject> = (0..2000)
        .map(|n| config_map("team-prod", &format!("settings-{n:04}"), "VALUE", &big))
        .collect();
    let deployed: Vec<K8sObject> = (0..2000)
        .map(|n| config_map("team-prod", &format!("settings-{n:04}"), "VALUE", "small"))
        .collect();

    let (_, body) = issue(&facts(false), &live, &deployed);

    assert!(body.chars().count() <= ISSUE_BODY_LIMIT, "{}", body.len());
    assert!(body.contains("**2000 changed**"));
    assert!(body.contains(&format!("- … and {} more", 2000 - LISTED_OBJECTS)));
    assert!(
        body.contains("kubectl diff -k envs/prod"),
        "how to see it all"
    );
    assert!(
        body.trim_end()
            .ends_with("closes it once `prod` matches again."),
        "what to do comes last, after the cut diff"
    );
}

#[test]
fn the_issue_closes_with_a_comment_saying_the_environment_matches_again() {
    let comment = resolved_comment(&Templates::embedded(), &facts(false)).unwrap();

    assert_eq!(
        comment,
        "`prod` matches `9f8e7d6` again (checked 2026-12-06 02:00 UTC): no drift left, so this issue is closed.\n"
    );
}

#[test]
fn when_the_templates_leave_no_room_for_the_diff_the_issue_says_how_to_see_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("drift")).unwrap();
    // An operator's body template with a long preamble of its own.
    let preamble = "Read the runbook first. ".repeat(2_700);
    std::fs::write(
        dir.path().join("drift/body.md.j2"),
        format!("{preamble}\n\n{{{{ diff }}}}\n"),
    )
    .unwrap();
    let templates = Templates::with_overrides(dir.path()).unwrap();
    let diff = diff_environment("prod", &live(), &deployed(), &FINGERPRINT_KEY);

    let body = issue_body(&templates, &facts(false), &diff).unwrap();

    assert!(body.chars().count() <= ISSUE_BODY_LIMIT, "{}", body.len());
    assert!(body.starts_with("<!-- slipway:drift env=prod -->\n"));
    assert!(
        body.trim_end().ends_with(
            "The diff is too large to show in an issue. To see all of it, run:\n\n```\nkubectl diff -k envs/prod\n```"
        ),
        "{}",
        &body[body.len() - 300..]
    );
}
