//! Reports too big for one comment: split into parts, nothing lost, overflow summarised.

mod manifests;

use std::collections::BTreeMap;

use manifests::objects::object;
use manifests::FINGERPRINT_KEY;
use slipway::diff::{diff_environment, EnvironmentDiff};
use slipway::report::{Limits, Preview, Templates, GITHUB_COMMENT_LIMIT};

const COMMAND: &str = "slipway preview --repo . --base main --head feature";

/// `count` ConfigMaps in `namespace`, each with `lines` keys that all change between base
/// and head: each object's diff is about `lines * 70` bytes.
fn changed_config_maps(count: usize, lines: usize) -> EnvironmentDiff {
    let make = |generation: &str| -> Vec<_> {
        (0..count)
            .map(|i| {
                let mut yaml = format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cfg-{i:04}, namespace: team-dev}}\ndata:\n"
                );
                for line in 0..lines {
                    yaml.push_str(&format!("  key-{line:04}: value-{generation}-{line:04}-abcdefghij\n"));
                }
                object(&format!("envs/dev/cfg-{i:04}.yaml"), &yaml)
            })
            .collect()
    };
    diff_environment("dev", &make("base"), &make("head"), &FINGERPRINT_KEY)
}

fn total_diff_bytes(env: &EnvironmentDiff) -> usize {
    env.changes().map(|o| o.diff.as_ref().unwrap().len()).sum()
}

/// The code block contents shown for each object (`namespace/name`), pieces concatenated
/// in order of appearance across all parts.
fn shown_diffs(parts: &[String]) -> BTreeMap<String, String> {
    let mut shown: BTreeMap<String, String> = BTreeMap::new();
    for part in parts {
        let mut rest = part.as_str();
        while let Some(start) = rest.find("<details><summary>") {
            rest = &rest[start..];
            let code = rest.find("<code>").unwrap() + "<code>".len();
            let code_end = rest.find("</code>").unwrap();
            let name = rest[code..code_end].to_owned();
            let body = rest.find("```diff\n").unwrap() + "```diff\n".len();
            let body_end = rest.find("\n```\n\n</details>").unwrap() + 1;
            shown
                .entry(name)
                .or_default()
                .push_str(&rest[body..body_end]);
            rest = &rest[body_end..];
        }
    }
    shown
}

/// Each part stands alone as markdown: balanced fences and `<details>`, its own header.
fn assert_parts_well_formed(parts: &[String], limits: &Limits) {
    let count = parts.len();
    for (index, part) in parts.iter().enumerate() {
        assert!(
            part.len() <= limits.part_budget - limits.marker_budget,
            "part {} is {} bytes",
            index + 1,
            part.len()
        );
        assert!(part.len() + limits.marker_budget <= GITHUB_COMMENT_LIMIT);
        assert!(
            part.starts_with(&format!(
                "## slipway · rendered manifests · Part {} of {count}\n",
                index + 1
            )),
            "{}",
            &part[..80]
        );
        let fences = part.lines().filter(|l| l.starts_with("```")).count();
        assert_eq!(fences % 2, 0, "part {} has an open code block", index + 1);
        assert_eq!(
            part.matches("<details>").count(),
            part.matches("</details>").count(),
            "part {} has an open <details>",
            index + 1
        );
    }
}

#[test]
fn a_300_kb_diff_comes_out_as_parts_within_the_limit_with_nothing_lost() {
    let env = changed_config_maps(150, 30);
    assert!(
        (250_000..400_000).contains(&total_diff_bytes(&env)),
        "{}",
        total_diff_bytes(&env)
    );
    let environments = [env];
    let preview = Preview {
        base: "main",
        head: "feature",
        environments: &environments,
        full_command: COMMAND,
    };
    let limits = Limits::default();

    let parts = Templates::embedded()
        .comment_parts(&preview, &limits)
        .unwrap();

    assert!((5..=10).contains(&parts.len()), "{} parts", parts.len());
    assert_parts_well_formed(&parts, &limits);
    let shown = shown_diffs(&parts);
    assert_eq!(shown.len(), 150);
    for object in environments[0].changes() {
        let name = format!("{}/{}", object.id.namespace, object.id.name);
        assert_eq!(shown.get(&name), object.diff.as_ref(), "{name}");
    }
    assert!(
        parts.iter().all(|p| !p.contains(COMMAND)),
        "nothing is summarised"
    );
    assert!(parts[1].contains("### Environment `dev` (continued)"));
}

#[test]
fn a_3_mb_diff_fills_the_part_limit_and_summarises_the_rest_with_the_command() {
    let env = changed_config_maps(1_500, 30);
    assert!(total_diff_bytes(&env) > 2_500_000);
    let environments = [env];
    let preview = Preview {
        base: "main",
        head: "feature",
        environments: &environments,
        full_command: COMMAND,
    };
    let limits = Limits::default();

    let parts = Templates::embedded()
        .comment_parts(&preview, &limits)
        .unwrap();

    assert_eq!(parts.len(), 10);
    assert_parts_well_formed(&parts, &limits);
    let last = parts.last().unwrap();
    assert!(
        last.contains(&format!("```\n{COMMAND}\n```")),
        "the command that shows it all"
    );
    assert!(parts[..9].iter().all(|p| !p.contains(COMMAND)));
    let shown = shown_diffs(&parts);
    let summary = &last[last.find("### Not shown: ").unwrap()..];
    let omitted: usize = summary["### Not shown: ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        shown.len() + omitted,
        1_500,
        "every object is either shown or counted"
    );
    assert!(
        summary.contains(&format!("| dev | ConfigMap | 0 | {omitted} | 0 |")),
        "{summary}"
    );
    for object in environments[0].changes() {
        let name = format!("{}/{}", object.id.namespace, object.id.name);
        if let Some(text) = shown.get(&name) {
            assert_eq!(
                Some(text),
                object.diff.as_ref(),
                "a shown object is shown whole: {name}"
            );
        }
    }
}

#[test]
fn one_object_bigger_than_a_part_is_split_into_continued_pieces_at_line_boundaries() {
    let env = changed_config_maps(1, 3_000);
    let diff = env.objects[0].diff.clone().unwrap();
    assert!(diff.len() > 3 * 65_000);
    let environments = [env];
    let preview = Preview {
        base: "main",
        head: "feature",
        environments: &environments,
        full_command: COMMAND,
    };
    let limits = Limits::default();

    let parts = Templates::embedded()
        .comment_parts(&preview, &limits)
        .unwrap();

    assert!(parts.len() >= 4);
    assert_parts_well_formed(&parts, &limits);
    assert_eq!(shown_diffs(&parts).get("team-dev/cfg-0000"), Some(&diff));
    let pieces = parts
        .iter()
        .map(|p| p.matches("<details>").count())
        .sum::<usize>();
    assert!(parts[0].contains(&format!(
        "<code>team-dev/cfg-0000</code> (1/{pieces})</summary>"
    )));
    assert!(parts[1].contains(&format!(
        "<code>team-dev/cfg-0000</code> (continued, 2/{pieces})</summary>"
    )));
    for part in &parts {
        for block in part.split("```diff\n").skip(1) {
            let body = &block[..block.find("\n```\n").unwrap() + 1];
            assert!(
                body.lines().all(|l| l.starts_with(['@', '+', '-', ' '])),
                "cut inside a line"
            );
        }
    }
}

#[test]
fn the_check_run_text_holds_the_whole_report_when_it_fits() {
    let env = changed_config_maps(20, 30);
    let environments = [env];
    let preview = Preview {
        base: "main",
        head: "feature",
        environments: &environments,
        full_command: COMMAND,
    };

    let text = Templates::embedded().check_run_text(&preview).unwrap();

    assert!(text.len() <= 65_535);
    assert!(!text.contains("Part 1"));
    assert_eq!(shown_diffs(std::slice::from_ref(&text)).len(), 20);
    assert!(!text.contains(COMMAND));
}

#[test]
fn the_check_run_text_of_a_huge_diff_fits_and_points_at_the_command() {
    let env = changed_config_maps(300, 30);
    let environments = [env];
    let preview = Preview {
        base: "main",
        head: "feature",
        environments: &environments,
        full_command: COMMAND,
    };

    let text = Templates::embedded().check_run_text(&preview).unwrap();

    assert!(text.len() <= 65_535, "{}", text.len());
    assert!(text.contains(COMMAND));
    assert!(text.contains("### Not shown: "));
}

#[test]
fn a_configured_part_limit_and_marker_budget_are_respected() {
    let env = changed_config_maps(150, 30);
    let environments = [env];
    let preview = Preview {
        base: "main",
        head: "feature",
        environments: &environments,
        full_command: COMMAND,
    };
    let limits = Limits {
        part_budget: 30_000,
        marker_budget: 1_000,
        max_parts: 3,
    };

    let parts = Templates::embedded()
        .comment_parts(&preview, &limits)
        .unwrap();

    assert_eq!(parts.len(), 3);
    assert!(parts.iter().all(|p| p.len() <= 29_000));
    assert!(parts[2].contains("The full report needs more than 3 comments"));
}

#[test]
fn notes_open_the_first_part_only_and_statuses_sit_under_their_heading() {
    let environments = [changed_config_maps(150, 30)];
    let preview = Preview {
        base: "main",
        head: "feature",
        environments: &environments,
        full_command: COMMAND,
    };
    let notes = ["> **From a fork.** A note.\n".to_string()];
    let statuses = [slipway::report::EnvironmentStatus {
        environment: "dev".to_string(),
        compared_with: slipway::report::ComparedWith::Unknown,
        lock: slipway::report::Lock::Unlocked,
        required_approvals: 1,
        violations: Vec::new(),
        cluster: None,
    }];
    let extras = slipway::report::Extras {
        notes: &notes,
        statuses: &statuses,
    };
    let limits = Limits::default();
    let report = Templates::embedded()
        .comment_report(&preview, &extras, &limits)
        .unwrap();
    assert!(!report.cut);
    let parts = &report.parts;
    assert!(parts.len() > 1);
    assert_parts_well_formed(parts, &limits);
    assert!(parts[0].contains("`main` → `feature`\n\n> **From a fork.** A note.\n\n### Environment `dev`\n\n- Not locked.\n- Deploying needs 1 approving review.\n"));
    for later in &parts[1..] {
        assert!(!later.contains("From a fork"));
        assert!(!later.contains("approving review"));
        assert!(later.contains("### Environment `dev` (continued)"));
    }
    assert_eq!(shown_diffs(parts).len(), 150, "every object is shown");
}

#[test]
fn notes_with_nothing_compared_do_not_claim_no_changes() {
    let preview = Preview {
        base: "main",
        head: "feature",
        environments: &[],
        full_command: COMMAND,
    };
    let notes = ["### Environment `dev` does not render\n".to_string()];
    let extras = slipway::report::Extras {
        notes: &notes,
        statuses: &[],
    };
    let report = Templates::embedded()
        .comment_report(&preview, &extras, &Limits::default())
        .unwrap();
    assert_eq!(
        report.parts,
        ["## slipway · rendered manifests\n\n`main` → `feature`\n\n### Environment `dev` does not render\n"]
    );
}

#[test]
fn a_thousand_refused_objects_list_fifty_and_still_fit() {
    let environments = [changed_config_maps(3, 30)];
    let preview = Preview {
        base: "main",
        head: "feature",
        environments: &environments,
        full_command: COMMAND,
    };
    let violations: Vec<slipway::policy::Violation> = (0..1000)
        .map(|n| slipway::policy::Violation {
            object: slipway::render::ObjectKey {
                group: String::new(),
                kind: "ConfigMap".to_string(),
                namespace: Some("kube-system".to_string()),
                name: format!("cfg-{n:04}"),
            },
            file: "envs/dev/many.yaml".to_string(),
            line: 1 + n * 6,
            message: format!("ConfigMap kube-system/cfg-{n:04} is in namespace kube-system, outside the namespaces dev may use (team-dev)"),
        })
        .collect();
    let statuses = [slipway::report::EnvironmentStatus {
        violations,
        ..slipway::report::EnvironmentStatus::without_lock("dev", 0)
    }];
    let extras = slipway::report::Extras {
        notes: &[],
        statuses: &statuses,
    };
    let limits = Limits::default();

    let report = Templates::embedded()
        .comment_report(&preview, &extras, &limits)
        .unwrap();

    assert_eq!(report.parts.len(), 1);
    let first = &report.parts[0];
    assert!(first.len() <= limits.part_budget - limits.marker_budget);
    assert!(first.contains("- ⛔ **1000 objects refused** by this environment's policy"));
    assert_eq!(first.matches("- ⛔ `envs/dev/many.yaml:").count(), 50);
    assert!(
        first.contains("- … and 950 more, each annotated on the check run.\n"),
        "{first}"
    );
}
