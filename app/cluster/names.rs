//! Names and values Kubernetes and registries accept, made from user-controlled text.

use sha2::{Digest, Sha256};

/// Kubernetes' limit for a DNS-1123 label (a Job's name becomes its pods' label value).
pub const MAX_NAME: usize = 63;

/// A Job name that is the same for the same repo, SHA, branch and attempt, and differs
/// otherwise: a re-delivered push finds the Job it already created, and a build of the same
/// commit on another branch (which pushes other tags) never adopts it. DNS-1123: lowercase alphanumerics and
/// `-`, starting and ending alphanumeric, at most 63 characters.
pub fn job_name(repo: &str, sha: &str, branch: &str, attempt: u32) -> String {
    let mut hasher = Sha256::new();
    for part in [
        repo.as_bytes(),
        sha.as_bytes(),
        branch.as_bytes(),
        &attempt.to_be_bytes(),
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    let hash = hex::encode(hasher.finalize());
    let repo_name = repo.rsplit('/').next().unwrap_or(repo);
    let mut slug = dns_slug(repo_name);
    slug.truncate(30);
    let slug = slug.trim_end_matches('-');
    let short_sha: String = dns_slug(sha).chars().take(7).collect();
    let parts: Vec<&str> = ["build", slug, short_sha.as_str(), &hash[..10]]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect();
    parts.join("-")
}

/// Lowercase alphanumerics with single `-` between runs of anything else.
fn dns_slug(text: &str) -> String {
    let mut slug = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_string()
}

/// Text made to fit a label value: at most 63 of `[A-Za-z0-9._-]`, starting and ending
/// alphanumeric. `/` becomes `.` so `owner/name` stays readable; other characters become `_`.
pub fn label_value(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            '/' => '.',
            _ => '_',
        })
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let cut: String = trimmed.chars().take(MAX_NAME).collect();
    cut.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// Every tag a branch build pushes starts with this, so no branch tag is ever a commit SHA
/// (what default-branch builds push and bumps deploy) or any other tag slipway writes.
pub const BRANCH_TAG_PREFIX: &str = "branch-";
/// The prefix of a branch tag whose slug is not the branch name itself (it carries a hash):
/// differs from [`BRANCH_TAG_PREFIX`] at its last character, so a hashed tag never equals the
/// exact tag of another branch, whatever that branch is named.
pub const HASHED_BRANCH_TAG_PREFIX: &str = "branch_";
/// Docker's limit on a tag's length.
pub const MAX_TAG: usize = 128;
/// Hex digits of SHA-256 over the exact branch name in a hashed tag: 64 bits, so finding a
/// second branch name with the same tag is out of reach.
const TAG_HASH_DIGITS: usize = 16;

/// The registry tag a build of `branch` (not the default branch) pushes. Pure and injective:
/// - a branch whose name is already a tag body (`[a-z0-9_.-]`, short enough) gets
///   `branch-<name>`: `feature-x` → `branch-feature-x`;
/// - any other name gets `branch_<slug>-<hash>`, the slug lowercased with every other
///   character replaced by `-` and cut to fit 128 characters, the hash 16 hex digits of
///   SHA-256 over the exact name: `Feature/X` → `branch_feature-x-<hash>`.
///
/// So a tag never starts with a hex digit (never a SHA), never equals a tag of another branch,
/// and `Main` or `main/` cannot take `main`'s tag.
pub fn branch_tag(branch: &str) -> String {
    let exact_room = MAX_TAG - BRANCH_TAG_PREFIX.len();
    let is_tag_body = |c: char| matches!(c, 'a'..='z' | '0'..='9' | '_' | '.' | '-');
    if !branch.is_empty() && branch.len() <= exact_room && branch.chars().all(is_tag_body) {
        return format!("{BRANCH_TAG_PREFIX}{branch}");
    }
    let hash = hex::encode(Sha256::digest(branch.as_bytes()));
    let slug_room = MAX_TAG - HASHED_BRANCH_TAG_PREFIX.len() - 1 - TAG_HASH_DIGITS;
    let slug: String = branch
        .chars()
        .map(|c| match c {
            'A'..='Z' => c.to_ascii_lowercase(),
            c if is_tag_body(c) => c,
            _ => '-',
        })
        .take(slug_room)
        .collect();
    format!(
        "{HASHED_BRANCH_TAG_PREFIX}{slug}-{}",
        &hash[..TAG_HASH_DIGITS]
    )
}

/// Whether `tag` has a tag's grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    first_ok
        && tag.len() <= MAX_TAG
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_keep_the_grammar() {
        assert_eq!(label_value("acme/api"), "acme.api");
        assert_eq!(label_value("-x\"}}\n"), "x");
        assert_eq!(label_value(&"a".repeat(80)).len(), 63);
        assert_eq!(label_value("%%%"), "");
    }

    fn is_sha_shaped(tag: &str) -> bool {
        tag.len() >= 7 && tag.bytes().all(|b| b.is_ascii_hexdigit())
    }

    #[test]
    fn branch_tags_are_tags_and_never_sha_or_default_branch_shaped() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let long = "b".repeat(300);
        let cases: &[(&str, &str)] = &[
            ("main", "branch-main"),
            ("feature-x", "branch-feature-x"),
            ("release_1.2", "branch-release_1.2"),
            (sha, "branch-0123456789abcdef0123456789abcdef01234567"),
            ("Branch-X", "branch_branch-x-"),
            ("feature/login", "branch_feature-login-"),
            ("../x", "branch_..-x-"),
            ("héllo", "branch_h-llo-"),
            ("x\"}}\n  command: [sh]", "branch_x-"),
        ];
        for (branch, starts) in cases {
            let tag = branch_tag(branch);
            assert!(tag.starts_with(starts), "{branch:?} → {tag}");
            assert!(is_tag(&tag), "{branch:?} → {tag} is not a tag");
            assert!(!is_sha_shaped(&tag), "{branch:?} → {tag}");
            assert_ne!(tag, "main");
            assert_ne!(tag, "latest");
            assert_ne!(tag, *branch);
        }
        let long_tag = branch_tag(&long);
        assert_eq!(long_tag.len(), MAX_TAG);
        assert!(is_tag(&long_tag));
        assert_eq!(
            branch_tag(&"b".repeat(121)),
            format!("branch-{}", "b".repeat(121))
        );
        assert!(branch_tag(&"b".repeat(122)).starts_with("branch_"));
    }

    #[test]
    fn branch_tags_never_collide() {
        let names = [
            "main".to_string(),
            "Main".to_string(),
            "main/".to_string(),
            "main-".to_string(),
            "feature/x".to_string(),
            "feature-x".to_string(),
            "Feature/X".to_string(),
            "feature_x".to_string(),
            format!("main-{}", &branch_tag("Main")["branch_main-".len()..]),
            branch_tag("Main"),
            "a".repeat(200),
            format!("{}b", "a".repeat(199)),
        ];
        let mut seen = std::collections::HashMap::new();
        for name in &names {
            let tag = branch_tag(name);
            if let Some(other) = seen.insert(tag.clone(), name) {
                panic!("{name:?} and {other:?} both make {tag}");
            }
        }
    }
}
