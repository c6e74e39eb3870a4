//! What a commenter sees in slipway's reply to each outcome of a command, pinned as golden
//! files (`tests/golden/reply_*.md`, the reply after its hidden marker line).
//!
//! Set `UPDATE_GOLDEN=1` to rewrite the files after an intended change of the templates.

mod git_fixtures;

use git_fixtures::assert_golden;
use slipway::commands::replies::{self, PromotedImage, Proposal, RollbackShown, UnknownCommit};
use slipway::commands::{help_reply, parse, validate, CommandError, CommandLine, HelpEnvironment};
use slipway::report::Templates;
use slipway::store::EnvironmentLock;

const ENVIRONMENTS: [&str; 3] = ["dev", "staging", "prod"];
/// 2026-11-18 11:06 UTC.
const LOCKED_AT: i64 = 1_795_000_000_000;

/// The reply slipway posts to comment 7 with these sections, after its marker line.
fn posted(sections: &[String]) -> String {
    let body = replies::reply(7, sections);
    let marker = format!("{}\n", replies::reply_marker(7));
    body.strip_prefix(&marker)
        .unwrap_or_else(|| panic!("the reply starts with its marker: {body}"))
        .to_string()
}

/// The command lines of `comment`, checked against the declared environments.
fn lines(comment: &str) -> Vec<Result<CommandLine, CommandError>> {
    validate(parse(comment), &ENVIRONMENTS)
}

fn line(comment: &str) -> CommandLine {
    match lines(comment).remove(0) {
        Ok(line) => line,
        Err(err) => panic!("{comment} is a valid command: {err}"),
    }
}

fn problems(comment: &str) -> Vec<CommandError> {
    lines(comment).into_iter().filter_map(Result::err).collect()
}

fn lock(environment: &str, reason: Option<&str>) -> EnvironmentLock {
    EnvironmentLock {
        repository: "acme/config".into(),
        environment: environment.into(),
        locked_by: "octocat".into(),
        reason: reason.map(Into::into),
        locked_at: LOCKED_AT,
    }
}

fn images() -> Vec<PromotedImage> {
    vec![
        PromotedImage {
            repository: "registry.example.com/team/api".into(),
            from: "1.4.0".into(),
            to: "1.5.0".into(),
        },
        PromotedImage {
            repository: "registry.example.com/team/worker".into(),
            from: "latest (implicit)".into(),
            to: "2.0.1".into(),
        },
    ]
}

#[test]
fn help_in_a_repository_without_environments_lists_only_the_commands() {
    let t = Templates::embedded();
    let help = line("/help");

    let text = help_reply(&t, &[]).unwrap();

    assert_golden(
        "reply_help_no_environments.md",
        &posted(&[replies::section(&t, &help, &text).unwrap()]),
    );
}

#[test]
fn help_quotes_environment_names_and_lockers_as_code() {
    let t = Templates::embedded();
    let environments = [
        HelpEnvironment {
            name: "dev".into(),
            promote_from: None,
            locked_by: None,
        },
        HelpEnvironment {
            name: "prod".into(),
            promote_from: Some("dev".into()),
            locked_by: Some("mallory`s @team".into()),
        },
    ];

    let text = help_reply(&t, &environments).unwrap();

    assert_golden("reply_help.md", &text);
    assert!(
        text.contains("| `prod` | `dev` | locked by ``mallory`s @team`` |"),
        "a login with a backtick stays one code span, where nobody is mentioned: {text}"
    );
}

#[test]
fn one_unknown_command_gets_the_closest_valid_form() {
    let t = Templates::embedded();

    let text = replies::errors(&t, &problems("/promte prod")).unwrap();

    assert_golden("reply_unknown_command.md", &posted(&[text]));
}

#[test]
fn every_line_that_cannot_run_is_listed_and_nothing_runs() {
    let t = Templates::embedded();
    let comment = "/lock\n/unlock stagin\n/promote prod from prod\n/lock qa `@team` [x](https://evil.example)";

    let text = replies::errors(&t, &problems(comment)).unwrap();

    assert_golden("reply_command_errors.md", &posted(&[text]));
}

#[test]
fn a_reader_is_refused_and_told_who_can_run_the_commands() {
    let t = Templates::embedded();
    let (lock, promote) = (line("/lock prod freeze"), line("/promote prod"));

    let text = replies::refusal(&t, "octocat", "read", "acme/config", &[&lock, &promote]).unwrap();

    assert_golden("reply_refused.md", &posted(&[text]));
}

#[test]
fn a_broken_configuration_is_shown_as_it_reads_and_nothing_runs() {
    let t = Templates::embedded();
    let error =
        slipway::config::parse_repo_config("environments:\n  prod:\n    namespace: team-prod\n")
            .expect_err("prod has no path");

    let text = replies::broken_config(&t, "main", &error.to_string()).unwrap();

    assert_golden("reply_broken_config.md", &posted(&[text]));
}

#[test]
fn a_configuration_error_holding_a_fence_stays_inside_its_block() {
    let t = Templates::embedded();

    let text = replies::broken_config(
        &t,
        "release/`v2`",
        ".github/slipway.yml:1:1: unexpected ```\n## @team\n```",
    )
    .unwrap();

    assert_golden("reply_broken_config_fenced.md", &posted(&[text]));
}

#[test]
fn lock_says_what_no_longer_deploys_and_quotes_the_reason() {
    let t = Templates::embedded();
    let command = line("/lock prod release `freeze` @team [x](https://evil.example)");

    let text = replies::locked(
        &t,
        &lock(
            "prod",
            Some("release `freeze` @team [x](https://evil.example)"),
        ),
    )
    .unwrap();

    assert_golden(
        "reply_locked.md",
        &posted(&[replies::section(&t, &command, &text).unwrap()]),
    );
}

#[test]
fn locking_a_locked_environment_keeps_the_first_lock() {
    let t = Templates::embedded();
    let command = line("/lock prod");

    let text = replies::already_locked(&t, &lock("prod", Some("incident 42"))).unwrap();

    assert_golden(
        "reply_already_locked.md",
        &posted(&[replies::section(&t, &command, &text).unwrap()]),
    );
}

#[test]
fn unlock_says_whose_lock_it_was() {
    let t = Templates::embedded();
    let command = line("/unlock prod");

    let text = replies::unlocked(&t, &lock("prod", None)).unwrap();

    assert_golden(
        "reply_unlocked.md",
        &posted(&[replies::section(&t, &command, &text).unwrap()]),
    );
}

#[test]
fn unlocking_an_unlocked_environment_changes_nothing() {
    let t = Templates::embedded();
    let command = line("/unlock dev");

    let text = replies::was_not_locked(&t, "dev").unwrap();

    assert_golden(
        "reply_not_locked.md",
        &posted(&[replies::section(&t, &command, &text).unwrap()]),
    );
}

#[test]
fn promoting_into_a_locked_environment_is_refused_and_the_rest_does_not_run() {
    let t = Templates::embedded();
    let commands = [line("/promote prod"), line("/unlock dev")];

    let text = replies::target_locked(&t, &lock("prod", Some("incident 42"))).unwrap();

    assert_golden(
        "reply_promote_refused.md",
        &posted(&[
            replies::section(&t, &commands[0], &text).unwrap(),
            replies::not_run(&t, &commands[1..]).unwrap(),
        ]),
    );
}

#[test]
fn a_promotion_opens_a_pull_request_listing_every_image() {
    let t = Templates::embedded();
    let command = line("/promote prod");

    let text =
        replies::promote_proposed(&t, Proposal::Opened, "staging", "prod", 12, &images()).unwrap();

    assert_golden(
        "reply_promote_opened.md",
        &posted(&[replies::section(&t, &command, &text).unwrap()]),
    );
}

#[test]
fn promoting_again_updates_the_open_pull_request() {
    let t = Templates::embedded();
    let command = line("/promote prod from staging");

    let text =
        replies::promote_proposed(&t, Proposal::Updated, "staging", "prod", 12, &images()).unwrap();

    assert_golden(
        "reply_promote_updated.md",
        &posted(&[replies::section(&t, &command, &text).unwrap()]),
    );
}

#[test]
fn promoting_the_same_change_again_leaves_the_pull_request_as_it_is() {
    let t = Templates::embedded();
    let command = line("/promote prod");

    let text = replies::promote_proposed(
        &t,
        Proposal::Unchanged,
        "staging",
        "prod",
        12,
        &images()[..1],
    )
    .unwrap();

    assert_golden(
        "reply_promote_unchanged.md",
        &posted(&[replies::section(&t, &command, &text).unwrap()]),
    );
}

#[test]
fn promoting_what_already_runs_is_up_to_date() {
    let t = Templates::embedded();
    let command = line("/promote staging");

    let text = replies::promote_up_to_date(&t, "dev", "staging").unwrap();

    assert_golden(
        "reply_promote_up_to_date.md",
        &posted(&[replies::section(&t, &command, &text).unwrap()]),
    );
}

const TARGET: &str = "0123456789abcdef0123456789abcdef01234567";
const COMMIT: &str = "fedcba9876543210fedcba9876543210fedcba98";

/// A rollback of `environment` (its files under `envs/<environment>`) to [`TARGET`].
fn rolled_back(environment: &str, previous: bool) -> RollbackShown {
    RollbackShown {
        environment: environment.into(),
        path: format!("envs/{environment}"),
        branch: "main".into(),
        target: TARGET.into(),
        previous,
    }
}

#[test]
fn a_rollback_of_an_ungated_environment_links_its_commit() {
    let t = Templates::embedded();
    let command = line("/rollback dev");

    let text = replies::rollback_committed(
        &t,
        &rolled_back("dev", true),
        COMMIT,
        Some(&format!("https://github.com/acme/config/commit/{COMMIT}")),
    )
    .unwrap();

    assert_golden(
        "reply_rollback_committed.md",
        &posted(&[replies::section(&t, &command, &text).unwrap()]),
    );
}

#[test]
fn a_rollback_of_a_gated_environment_opens_updates_or_keeps_its_pull_request() {
    let t = Templates::embedded();
    let command = line(&format!("/rollback prod to {}", &TARGET[..7]));
    let shown = rolled_back("prod", false);

    let sections: Vec<String> = [Proposal::Opened, Proposal::Updated, Proposal::Unchanged]
        .into_iter()
        .map(|proposal| {
            let text = replies::rollback_proposed(&t, &shown, proposal, 12, 2).unwrap();
            replies::section(&t, &command, &text).unwrap()
        })
        .collect();

    assert_golden("reply_rollback_proposed.md", &posted(&sections));
}

#[test]
fn a_rollback_to_what_main_holds_commits_nothing() {
    let t = Templates::embedded();
    let command = line(&format!("/rollback dev to {TARGET}"));

    let text = replies::rollback_unchanged(&t, &rolled_back("dev", false)).unwrap();

    assert_golden(
        "reply_rollback_unchanged.md",
        &posted(&[replies::section(&t, &command, &text).unwrap()]),
    );
}

#[test]
fn a_rollback_without_history_says_how_to_name_a_revision() {
    let t = Templates::embedded();
    let command = line("/rollback staging");

    let text = replies::rollback_no_history(&t, "staging").unwrap();

    assert_golden(
        "reply_rollback_no_history.md",
        &posted(&[replies::section(&t, &command, &text).unwrap()]),
    );
}

#[test]
fn a_rollback_to_a_sha_that_names_no_commit_says_why() {
    let t = Templates::embedded();
    let sections: Vec<String> = [
        ("0000000", UnknownCommit::Missing),
        ("abcd123", UnknownCommit::Ambiguous),
        ("4b825dc", UnknownCommit::NotACommit),
    ]
    .into_iter()
    .map(|(sha, problem)| {
        let command = line(&format!("/rollback dev to {sha}"));
        let text = replies::rollback_unknown_commit(&t, "dev", sha, problem).unwrap();
        replies::section(&t, &command, &text).unwrap()
    })
    .collect();

    assert_golden("reply_rollback_unknown_commit.md", &posted(&sections));
}

#[test]
fn a_rollback_to_a_commit_off_the_default_branch_is_refused() {
    let t = Templates::embedded();
    let command = line(&format!("/rollback dev to {TARGET}"));

    let text = replies::rollback_not_on_branch(&t, "dev", TARGET, "main").unwrap();

    assert_golden(
        "reply_rollback_not_on_branch.md",
        &posted(&[replies::section(&t, &command, &text).unwrap()]),
    );
}

#[test]
fn rolling_back_a_locked_environment_is_refused() {
    let t = Templates::embedded();
    let command = line("/rollback prod");

    let text = replies::rollback_locked(&t, &lock("prod", Some("incident `42` @team"))).unwrap();

    assert_golden(
        "reply_rollback_locked.md",
        &posted(&[replies::section(&t, &command, &text).unwrap()]),
    );
}

#[test]
fn an_internal_error_is_said_without_its_details_and_stops_the_rest() {
    let t = Templates::embedded();
    let commands = [
        line("/lock dev testing"),
        line("/promote prod"),
        line("/unlock dev"),
    ];

    let locked = replies::locked(&t, &lock("dev", Some("testing"))).unwrap();
    let failed = replies::internal_error(&t).unwrap();

    assert_golden(
        "reply_internal_error.md",
        &posted(&[
            replies::section(&t, &commands[0], &locked).unwrap(),
            replies::section(&t, &commands[1], &failed).unwrap(),
            replies::not_run(&t, &commands[2..]).unwrap(),
        ]),
    );
}

#[test]
fn a_reply_template_can_be_overridden_by_its_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("replies")).unwrap();
    std::fs::write(
        dir.path().join("replies/not_locked.md.j2"),
        "{{ environment|code }} is free.\n",
    )
    .unwrap();

    let templates = Templates::with_overrides(dir.path()).unwrap();

    assert_eq!(
        replies::was_not_locked(&templates, "dev").unwrap(),
        "`dev` is free."
    );
    assert_eq!(
        replies::unlocked(&templates, &lock("dev", None)).unwrap(),
        "🔓 `dev` is unlocked. It was locked by `octocat` since 2026-11-18 11:06 UTC.",
        "the other templates stay the defaults"
    );
}
