//! Secret values never leave the diff: not in its JSON, not in any markdown made from it.

mod manifests;

use manifests::objects::{object, secret};
use manifests::FINGERPRINT_KEY;
use slipway::diff::{diff_environment, Change, EnvironmentDiff, FingerprintKey};
use slipway::report::{Limits, Preview, Templates};

fn fingerprint(value: &[u8]) -> String {
    FINGERPRINT_KEY.fingerprint(value)
}

const OLD_PASSWORD: &str = "correct-horse-battery-staple";
const NEW_PASSWORD: &str = "Tr0ub4dor&3-rotated";

/// Every way the diff is shown to anyone.
fn all_outputs(diff: &EnvironmentDiff) -> String {
    let environments = std::slice::from_ref(diff);
    let preview = Preview {
        base: "base",
        head: "head",
        environments,
        full_command: "slipway preview --repo . --base base --head head",
    };
    let templates = Templates::embedded();
    let mut out = serde_json::to_string_pretty(diff).unwrap();
    out.push_str(&format!("{diff:?}"));
    out.extend(
        templates
            .comment_parts(&preview, &Limits::default())
            .unwrap(),
    );
    out.push_str(&templates.check_run_text(&preview).unwrap());
    out
}

#[test]
fn a_rotated_string_data_value_shows_only_its_fingerprints() {
    let base = secret("team-dev", "db", "password", OLD_PASSWORD);
    let head = secret("team-dev", "db", "password", NEW_PASSWORD);

    let diff = diff_environment("dev", &[base], &[head], &FINGERPRINT_KEY);

    assert_eq!(diff.objects[0].change, Change::Changed);
    let text = diff.objects[0].diff.as_deref().unwrap();
    let old = fingerprint(OLD_PASSWORD.as_bytes());
    let new = fingerprint(NEW_PASSWORD.as_bytes());
    assert!(text.contains(&format!("-  password: '{old}'")), "{text}");
    assert!(text.contains(&format!("+  password: '{new}'")), "{text}");
    let outputs = all_outputs(&diff);
    assert!(!outputs.contains(OLD_PASSWORD));
    assert!(!outputs.contains(NEW_PASSWORD));
}

#[test]
fn base64_data_is_fingerprinted_by_its_decoded_value_and_never_shown_encoded_or_decoded() {
    let encoded = "c3VwZXItc2VjcmV0LXRva2Vu"; // "super-secret-token"
    let added = object(
        "envs/dev/token.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: token, namespace: team-dev}}\ndata:\n  token: {encoded}\n"
        ),
    );

    let diff = diff_environment("dev", &[], &[added], &FINGERPRINT_KEY);

    let yaml = diff.objects[0].yaml.as_deref().unwrap();
    assert!(
        yaml.contains(&format!("token: '{}'", fingerprint(b"super-secret-token"))),
        "{yaml}"
    );
    let outputs = all_outputs(&diff);
    assert!(!outputs.contains(encoded));
    assert!(!outputs.contains("super-secret-token"));
}

#[test]
fn a_secret_in_the_last_applied_annotation_never_appears() {
    let mut base = secret("team-dev", "db", "password", OLD_PASSWORD);
    base.value["metadata"]["annotations"] = serde_json::json!({
        "kubectl.kubernetes.io/last-applied-configuration":
            format!("{{\"stringData\":{{\"password\":\"{OLD_PASSWORD}\"}}}}"),
    });
    let head = secret("team-dev", "db", "password", NEW_PASSWORD);

    let diff = diff_environment("dev", &[base], &[head], &FINGERPRINT_KEY);

    let outputs = all_outputs(&diff);
    assert!(!outputs.contains(OLD_PASSWORD));
    assert!(!outputs.contains(NEW_PASSWORD));
}

#[test]
fn a_removed_secret_shows_its_keys_but_not_its_values() {
    let base = secret("team-dev", "db", "password", OLD_PASSWORD);

    let diff = diff_environment("dev", &[base], &[], &FINGERPRINT_KEY);

    assert_eq!(diff.objects[0].change, Change::Removed);
    let outputs = all_outputs(&diff);
    assert!(outputs.contains("password: '<secret hmac:"));
    assert!(!outputs.contains(OLD_PASSWORD));
}

#[test]
fn config_maps_are_not_redacted() {
    let config = object(
        "envs/dev/cfg.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: ns}\ndata: {LOG_LEVEL: debug}\n",
    );

    let diff = diff_environment("dev", &[], &[config], &FINGERPRINT_KEY);

    assert!(diff.objects[0]
        .yaml
        .as_deref()
        .unwrap()
        .contains("LOG_LEVEL: debug"));
}

#[test]
fn a_fingerprint_cannot_be_confirmed_with_a_plain_sha256_of_a_guess() {
    // `printf hunter2 | sha256sum` starts with f52fbd32: what slipway once showed.
    let diff = diff_environment(
        "dev",
        &[],
        &[secret("team-dev", "db", "password", "hunter2")],
        &FINGERPRINT_KEY,
    );

    let outputs = all_outputs(&diff);
    assert!(!outputs.contains("f52fbd32"), "{outputs}");
    assert!(outputs.contains(&format!("password: '{}'", fingerprint(b"hunter2"))));
}

#[test]
fn another_key_gives_other_fingerprints_for_the_same_value() {
    let other = FingerprintKey::from_bytes([8; 32]);
    assert_ne!(other.fingerprint(b"hunter2"), fingerprint(b"hunter2"));
    assert_eq!(fingerprint(b"hunter2"), fingerprint(b"hunter2"));
}

#[test]
fn an_untouched_secret_is_unchanged_between_base_and_head() {
    let base = secret("team-dev", "db", "password", OLD_PASSWORD);
    let head = secret("team-dev", "db", "password", OLD_PASSWORD);

    let diff = diff_environment("dev", &[base], &[head], &FINGERPRINT_KEY);

    assert_eq!(diff.objects[0].change, Change::Unchanged);
    assert!(!diff.has_changes());
}
