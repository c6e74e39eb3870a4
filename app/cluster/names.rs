//! Names and values Kubernetes and registries accept, made from user-controlled text.

use sha2::{Digest, Sha256};

/// Kubernetes' limit for a DNS-1123 label (a Job's name becomes its pods' label value).
pub const MAX_NAME: usize = 63;

/// A Job name that is the same for the same repo, SHA and attempt, and differs otherwise:
/// a re-delivered push finds the Job it already created. DNS-1123: lowercase alphanumerics and
/// `-`, starting and ending alphanumeric, at most 63 characters.
pub fn job_name(repo: &str, sha: &str, attempt: u32) -> String {
    let mut hasher = Sha256::new();
    for part in [repo.as_bytes(), sha.as_bytes(), &attempt.to_be_bytes()] {
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

/// A branch as an image tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`): `feature/Login` →
/// `feature-login`. `None` when nothing of the branch is left.
pub fn branch_tag(branch: &str) -> Option<String> {
    let mut tag = String::new();
    for c in branch.chars() {
        match c {
            'a'..='z' | '0'..='9' | '_' | '.' => tag.push(c),
            'A'..='Z' => tag.push(c.to_ascii_lowercase()),
            _ if !tag.is_empty() && !tag.ends_with('-') => tag.push('-'),
            _ => {}
        }
    }
    let tag = tag.trim_start_matches(['.', '-']);
    let tag: String = tag.chars().take(128).collect();
    let tag = tag.trim_end_matches(['.', '-']);
    (!tag.is_empty()).then(|| tag.to_string())
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

    #[test]
    fn branch_tags_are_docker_tags() {
        assert_eq!(
            branch_tag("feature/Login").as_deref(),
            Some("feature-login")
        );
        assert_eq!(
            branch_tag("x\"}}\n  command: [sh]").as_deref(),
            Some("x-command-sh")
        );
        assert_eq!(branch_tag("///"), None);
        assert_eq!(branch_tag(&"b".repeat(300)).map(|t| t.len()), Some(128));
    }
}
