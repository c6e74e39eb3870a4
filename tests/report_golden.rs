//! What a reviewer sees for a small change, pinned as golden files.
//!
//! Set `UPDATE_GOLDEN=1` to rewrite the files after an intended change of the templates.

mod git_fixtures;
mod manifests;

use git_fixtures::assert_golden;
use manifests::objects::{config_map, deployment, secret};
use manifests::FINGERPRINT_KEY;
use slipway::diff::diff_environment;
use slipway::report::{Extras, Limits, Preview, Templates};

#[test]
fn a_small_two_environment_change_renders_as_one_comment() {
    let dev = diff_environment(
        "dev",
        &[
            deployment("team-dev", "api", "registry.example.com/team/api:1.4.0", 2),
            config_map("team-dev", "api-config", "LOG_LEVEL", "info"),
            secret("team-dev", "api-db", "password", "old-password"),
            config_map("team-dev", "legacy", "mode", "compat"),
        ],
        &[
            deployment("team-dev", "api", "registry.example.com/team/api:1.5.0", 2),
            config_map("team-dev", "api-config", "LOG_LEVEL", "debug"),
            secret("team-dev", "api-db", "password", "new-password"),
            config_map("team-dev", "feature-flags", "beta", "on"),
        ],
        &FINGERPRINT_KEY,
    );
    let prod = diff_environment(
        "prod",
        &[deployment(
            "team-prod",
            "api",
            "registry.example.com/team/api:1.4.0",
            3,
        )],
        &[deployment(
            "team-prod",
            "api",
            "registry.example.com/team/api:1.4.0",
            3,
        )],
        &FINGERPRINT_KEY,
    );
    let environments = [dev, prod];
    let preview = Preview {
        base: "3f2a1b0",
        head: "9c8d7e6",
        environments: &environments,
        full_command: "slipway preview --repo . --base 3f2a1b0 --head 9c8d7e6",
    };

    let parts = Templates::embedded()
        .comment_parts(&preview, &Limits::default())
        .unwrap();

    assert_eq!(parts.len(), 1);
    assert_golden("report_small.md", &parts[0]);
}

#[test]
fn nothing_changed_renders_the_no_changes_comment() {
    let dev = diff_environment(
        "dev",
        &[config_map("team-dev", "cfg", "k", "v")],
        &[config_map("team-dev", "cfg", "k", "v")],
        &FINGERPRINT_KEY,
    );
    let environments = [dev];
    let preview = Preview {
        base: "3f2a1b0",
        head: "9c8d7e6",
        environments: &environments,
        full_command: "slipway preview --repo . --base 3f2a1b0 --head 9c8d7e6",
    };

    let parts = Templates::embedded()
        .comment_parts(&preview, &Limits::default())
        .unwrap();

    assert_eq!(parts.len(), 1);
    assert_golden("report_no_changes.md", &parts[0]);
}

#[test]
fn a_template_directory_overrides_the_defaults_by_file_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("no_changes.md.j2"),
        "Nothing to deploy in {{ environments|join(\", \") }}.\n",
    )
    .unwrap();
    let environments = [
        diff_environment("dev", &[], &[], &FINGERPRINT_KEY),
        diff_environment("prod", &[], &[], &FINGERPRINT_KEY),
    ];
    let preview = Preview {
        base: "a",
        head: "b",
        environments: &environments,
        full_command: "slipway preview",
    };

    let templates = Templates::with_overrides(dir.path()).unwrap();
    let parts = templates
        .comment_parts(&preview, &Limits::default())
        .unwrap();

    assert_eq!(
        parts,
        ["## slipway · rendered manifests\n\n`a` → `b`\n\nNothing to deploy in dev, prod.\n"]
    );
}

#[test]
fn a_broken_override_template_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("header.md.j2"), "{% if %}\n").unwrap();

    let err = Templates::with_overrides(dir.path())
        .err()
        .expect("refused");

    assert!(err.to_string().contains("header.md.j2"), "{err}");
}

/// What a fork could write into a manifest to take over slipway's comment.
const HOSTILE_KIND: &str = "Foo | 1 | 2 |\n\n@octocat @acme/everyone [click](https://evil.example) <img src=x onerror=alert(1)>";

fn hostile_object(namespace: &str, name: &str) -> slipway::render::K8sObject {
    let mut object = config_map("team-dev", "x", "k", "v");
    object.value["kind"] = HOSTILE_KIND.into();
    object.value["metadata"]["namespace"] = namespace.into();
    object.value["metadata"]["name"] = name.into();
    object.file = "envs/dev/`x`\n@team.yaml".to_string();
    object
}

#[test]
fn hostile_kinds_names_namespaces_paths_branches_and_lock_reasons_stay_text() {
    let dev = diff_environment(
        "dev",
        &[],
        &[hostile_object(
            "kube-system\n\n| x | y |",
            "evil</code></summary>\n\n@octocat [x](javascript:alert(1))",
        )],
        &FINGERPRINT_KEY,
    );
    let violations = vec![slipway::policy::Violation {
        object: slipway::render::ObjectKey {
            group: String::new(),
            kind: HOSTILE_KIND.to_string(),
            namespace: Some("kube-system\n\n| x | y |".to_string()),
            name: "evil</code></summary>\n\n@octocat [x](javascript:alert(1))".to_string(),
        },
        file: "envs/dev/`x`\n@team.yaml".to_string(),
        line: 1,
        message: "- # **@team** ](javascript:alert(1)) <b>is in namespace</b>\nkube-system"
            .to_string(),
    }];
    let statuses = [slipway::report::EnvironmentStatus {
        environment: "dev".to_string(),
        compared_with: slipway::report::ComparedWith::Unknown,
        lock: slipway::report::Lock::Locked(slipway::report::LockStatus {
            by: "mallory`s @team".to_string(),
            since: "2026-11-21 10:00 UTC".to_string(),
            reason: Some("Revert \"@team ](javascript:alert(1))\" <img src=x>".to_string()),
        }),
        required_approvals: 2,
        violations,
        cluster: None,
    }];
    let environments = [dev];
    let preview = Preview {
        base: "main",
        head: "feature/@team](javascript:alert(1))`x",
        environments: &environments,
        full_command: "slipway preview --repo . --base main --head 'feature/@team](javascript:alert(1))`x' --max-parts 0",
    };
    let extras = Extras {
        notes: &[],
        statuses: &statuses,
    };

    let report = Templates::embedded()
        .comment_report(&preview, &extras, &Limits::default())
        .unwrap();

    assert_eq!(report.parts.len(), 1);
    assert_golden("report_hostile.md", &report.parts[0]);
    let rows: Vec<&str> = report.parts[0]
        .lines()
        .filter(|line| line.starts_with("| "))
        .collect();
    assert_eq!(
        rows.len(),
        3,
        "the header, its delimiter and one row: {rows:#?}"
    );
    for row in rows {
        let cells = row.split('|').count() - row.matches("\\|").count();
        assert_eq!(cells, 6, "four cells between five pipes: {row}");
    }
}

#[test]
fn refused_objects_are_marked_in_the_table_and_their_details_and_listed_under_the_section() {
    let dev = diff_environment(
        "dev",
        &[config_map("team-dev", "api", "LOG_LEVEL", "info")],
        &[
            config_map("team-dev", "api", "LOG_LEVEL", "info"),
            config_map("kube-system", "x", "k", "v"),
        ],
        &FINGERPRINT_KEY,
    );
    let violations = vec![slipway::policy::Violation {
        object: slipway::render::ObjectKey {
            group: String::new(),
            kind: "ConfigMap".to_string(),
            namespace: Some("kube-system".to_string()),
            name: "x".to_string(),
        },
        file: "envs/dev/x.yaml".to_string(),
        line: 1,
        message: "ConfigMap kube-system/x is in namespace kube-system, outside the namespaces dev may use (team-dev)".to_string(),
    }];
    let prod = diff_environment("prod", &[], &[], &FINGERPRINT_KEY);
    let statuses = [
        slipway::report::EnvironmentStatus {
            violations,
            ..slipway::report::EnvironmentStatus::without_lock("dev", 0)
        },
        slipway::report::EnvironmentStatus::without_lock("prod", 2),
    ];
    let environments = [dev, prod];
    let preview = Preview {
        base: "3f2a1b0",
        head: "9c8d7e6",
        environments: &environments,
        full_command: "slipway preview --repo . --base 3f2a1b0 --head 9c8d7e6",
    };
    let extras = Extras {
        notes: &[],
        statuses: &statuses,
    };

    let report = Templates::embedded()
        .comment_report(&preview, &extras, &Limits::default())
        .unwrap();

    assert_eq!(report.parts.len(), 1);
    assert_golden("report_refused.md", &report.parts[0]);
}

#[test]
fn refused_objects_show_even_when_nothing_changed() {
    let objects = [config_map("kube-system", "x", "k", "v")];
    let dev = diff_environment("dev", &objects, &objects, &FINGERPRINT_KEY);
    let statuses = [slipway::report::EnvironmentStatus {
        violations: vec![slipway::policy::Violation {
            object: slipway::render::ObjectKey {
                group: String::new(),
                kind: "ConfigMap".to_string(),
                namespace: Some("kube-system".to_string()),
                name: "x".to_string(),
            },
            file: "envs/dev/x.yaml".to_string(),
            line: 1,
            message: "ConfigMap kube-system/x is in namespace kube-system, outside the namespaces dev may use (team-dev)".to_string(),
        }],
        ..slipway::report::EnvironmentStatus::without_lock("dev", 0)
    }];
    let environments = [dev];
    let preview = Preview {
        base: "a",
        head: "b",
        environments: &environments,
        full_command: "slipway preview",
    };
    let extras = Extras {
        notes: &[],
        statuses: &statuses,
    };

    let parts = Templates::embedded()
        .comment_report(&preview, &extras, &Limits::default())
        .unwrap()
        .parts;

    assert_eq!(
        parts,
        ["## slipway · rendered manifests\n\n`a` → `b`\n\nNo changes to the rendered manifests of `dev`.\n\n\
          ### Environment `dev`\n\n\
          - Deploying needs no approving review beyond branch protection.\n\
          - ⛔ **1 object refused** by this environment's policy: it would not deploy.\n\n\
          No changes (1 object unchanged).\n\n\
          **Refused by the policy of `dev`:**\n\n\
          - ⛔ `envs/dev/x.yaml:1`: ConfigMap kube-system/x is in namespace kube-system, outside the namespaces dev may use (team-dev)\n"]
    );
}

mod preview_texts {
    //! A preview's notes and check-run texts (`templates/preview/`), pinned as golden files.

    use slipway::diff::compare::Side;
    use slipway::render::RenderError;
    use slipway::report::preview::{
        self, AnnotationProblem, Summary, SummaryLine, SummaryState, TitleCounts,
    };
    use slipway::report::Templates;

    use super::assert_golden;

    fn config_error() -> String {
        slipway::config::parse_repo_config("environments:\n  prod:\n    namespace: team-prod\n")
            .expect_err("prod has no path")
            .to_string()
    }

    fn render_error() -> String {
        RenderError::At {
            file: "envs/dev/api.yaml".into(),
            line: 14,
            column: 4,
            message: "mapping values are not allowed here".into(),
        }
        .to_string()
    }

    #[test]
    fn a_fork_is_previewed_and_told_how_to_deploy() {
        let note =
            preview::fork_note(&Templates::embedded(), "mallory/config", "acme/config").unwrap();

        assert_golden("preview_note_fork.md", &note);
    }

    #[test]
    fn a_base_whose_configuration_does_not_parse_blocks_the_preview() {
        let note = preview::config_note(
            &Templates::embedded(),
            Side::Base,
            "commit 3f2a1b0c9d8e",
            &config_error(),
        )
        .unwrap();

        assert_golden("preview_note_config_base.md", &note);
    }

    #[test]
    fn a_change_that_breaks_the_configuration_is_told_to_fix_it_before_merging() {
        let note = preview::config_note(
            &Templates::embedded(),
            Side::Head,
            "commit 9c8d7e6f5a4b",
            &config_error(),
        )
        .unwrap();

        assert_golden("preview_note_config_head.md", &note);
    }

    #[test]
    fn an_environment_that_does_not_render_at_the_head_shows_its_error() {
        let note = preview::render_note(
            &Templates::embedded(),
            "dev",
            Side::Head,
            "commit 9c8d7e6f5a4b",
            &render_error(),
        )
        .unwrap();

        assert_golden("preview_note_render_head.md", &note);
    }

    #[test]
    fn an_error_holding_a_fence_stays_inside_its_block() {
        let note = preview::render_note(
            &Templates::embedded(),
            "dev",
            Side::Base,
            "commit 3f2a1b0c9d8e",
            "kustomize failed:\n```\n## @team\n```\n",
        )
        .unwrap();

        assert_golden("preview_note_render_base.md", &note);
    }

    #[test]
    fn check_titles_name_what_counts_most() {
        let t = Templates::embedded();
        let cases = [
            (
                "configuration",
                TitleCounts {
                    config_broken: true,
                    failed: 2,
                    ..TitleCounts::default()
                },
            ),
            (
                "one failure",
                TitleCounts {
                    failed: 1,
                    refused: 3,
                    ..TitleCounts::default()
                },
            ),
            (
                "two failures",
                TitleCounts {
                    failed: 2,
                    ..TitleCounts::default()
                },
            ),
            (
                "one refused",
                TitleCounts {
                    refused: 1,
                    changed: 2,
                    ..TitleCounts::default()
                },
            ),
            (
                "two refused",
                TitleCounts {
                    refused: 2,
                    ..TitleCounts::default()
                },
            ),
            (
                "one change",
                TitleCounts {
                    changed: 1,
                    ..TitleCounts::default()
                },
            ),
            (
                "two changes",
                TitleCounts {
                    changed: 2,
                    ..TitleCounts::default()
                },
            ),
            ("nothing", TitleCounts::default()),
        ];
        let mut titles = String::new();
        for (case, counts) in cases {
            let title = preview::check_title(&t, &counts).unwrap();
            titles.push_str(&format!("{case}: {title}\n"));
        }
        for problem in [
            AnnotationProblem::Config,
            AnnotationProblem::Render("dev"),
            AnnotationProblem::Refused("prod"),
        ] {
            let title = preview::annotation_title(&t, problem).unwrap();
            titles.push_str(&format!("annotation {problem:?}: {title}\n"));
        }

        assert_golden("preview_check_titles.txt", &titles);
    }

    #[test]
    fn the_check_summary_has_one_line_per_environment() {
        let summary = Summary {
            fork: Some("mallory/config"),
            config: Some((Side::Head, config_error())),
            environments: vec![
                SummaryLine {
                    environment: "dev".into(),
                    state: SummaryState::Failed {
                        side: Side::Head,
                        location: Some(("envs/dev/api.yaml".into(), 14)),
                    },
                },
                SummaryLine {
                    environment: "qa".into(),
                    state: SummaryState::Failed {
                        side: Side::Base,
                        location: None,
                    },
                },
                SummaryLine {
                    environment: "staging".into(),
                    state: SummaryState::Compared {
                        changed: 2,
                        added: 0,
                        removed: 1,
                        refused: 1,
                    },
                },
                SummaryLine {
                    environment: "prod".into(),
                    state: SummaryState::Compared {
                        changed: 0,
                        added: 0,
                        removed: 0,
                        refused: 2,
                    },
                },
                SummaryLine {
                    environment: "sandbox".into(),
                    state: SummaryState::Untouched,
                },
            ],
            parts: 3,
            cut: true,
        };

        let text = preview::check_summary(&Templates::embedded(), &summary).unwrap();

        assert_golden("preview_check_summary.md", &text);
    }

    #[test]
    fn a_preview_a_newer_push_made_pointless_says_so() {
        let text = preview::superseded(&Templates::embedded()).unwrap();

        assert_golden(
            "preview_superseded.md",
            &format!("{}\n\n{}", text.title, text.summary),
        );
    }

    #[test]
    fn a_preview_stopped_by_an_error_shows_it_and_whether_it_is_retried() {
        let t = Templates::embedded();
        let error = "GitHub answered 502 Bad Gateway for POST /repos/acme/config/check-runs";
        let interrupted = preview::stopped(&t, true, error).unwrap();
        let unfinished =
            preview::stopped(&t, false, "the pull_request payload is not as expected").unwrap();

        assert_golden(
            "preview_stopped.md",
            &format!(
                "{}\n\n{}\n{}\n\n{}",
                interrupted.title, interrupted.summary, unfinished.title, unfinished.summary
            ),
        );
    }
}

#[test]
fn each_environment_says_what_it_is_compared_with_and_which_pinned_images_it_re_points() {
    const OLD: &str = "sha256:3f1c9a4e5b6d7c8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcde";
    const NEW: &str = "sha256:9b8a7c6d5e4f30211029384756afbecd0123456789abcdef0123456789abcdef";
    let image = |tag: &str, digest: &str| format!("registry.example.com/team/api:{tag}@{digest}");
    // dev: the same tag now names another image; prod: a tag pinned for the first time.
    let dev = diff_environment(
        "dev",
        &[deployment("team-dev", "api", &image("1.5.0", OLD), 2)],
        &[deployment("team-dev", "api", &image("1.5.0", NEW), 2)],
        &FINGERPRINT_KEY,
    );
    let prod = diff_environment(
        "prod",
        &[deployment(
            "team-prod",
            "api",
            "registry.example.com/team/api:1.4.0",
            3,
        )],
        &[deployment("team-prod", "api", &image("1.5.0", NEW), 3)],
        &FINGERPRINT_KEY,
    );
    let statuses = [
        slipway::report::EnvironmentStatus {
            compared_with: slipway::report::ComparedWith::Deployed {
                commit: "12854ea".to_string(),
                at: Some("2026-11-21 10:00 UTC".to_string()),
            },
            ..slipway::report::EnvironmentStatus::without_lock("dev", 0)
        },
        slipway::report::EnvironmentStatus {
            compared_with: slipway::report::ComparedWith::MergeBase {
                commit: "3f2a1b0".to_string(),
                deployed: Some(("77aa0c1".to_string(), None)),
            },
            ..slipway::report::EnvironmentStatus::without_lock("prod", 2)
        },
    ];
    let environments = [dev, prod];
    let preview = Preview {
        base: "3f2a1b0",
        head: "9c8d7e6",
        environments: &environments,
        full_command: "slipway preview --repo . --base 3f2a1b0 --head 9c8d7e6",
    };
    let extras = Extras {
        notes: &[],
        statuses: &statuses,
    };

    let report = Templates::embedded()
        .comment_report(&preview, &extras, &Limits::default())
        .unwrap();

    assert_eq!(report.parts.len(), 1);
    assert_golden("report_compared_and_pinned.md", &report.parts[0]);
}
