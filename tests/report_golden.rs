//! What a reviewer sees for a small change, pinned as golden files.
//!
//! Set `UPDATE_GOLDEN=1` to rewrite the files after an intended change of the templates.

mod support_core;
mod support_core_b;

use slipway::diff::diff_environment;
use slipway::report::{Limits, Preview, Templates};
use support_core::assert_golden;
use support_core_b::{config_map, deployment, secret, FINGERPRINT_KEY};

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
