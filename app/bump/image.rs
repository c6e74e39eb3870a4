//! Container image references: `[registry[:port]/]path[:tag][@digest]`.

/// An image reference split into its parts, as written (nothing normalised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// Everything before the tag and digest: `host:5000/team/api`.
    pub repository: &'a str,
    pub tag: Option<&'a str>,
    /// `sha256:…`, without the `@`.
    pub digest: Option<&'a str>,
}

impl<'a> ImageRef<'a> {
    pub fn parse(reference: &'a str) -> ImageRef<'a> {
        let (rest, digest) = match reference.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (reference, None),
        };
        // A tag is a `:` after the last `/`; a `:` before it is a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match rest[last_slash..].rfind(':') {
            Some(colon) => (
                &rest[..last_slash + colon],
                Some(&rest[last_slash + colon + 1..]),
            ),
            None => (rest, None),
        };
        ImageRef {
            repository,
            tag,
            digest,
        }
    }

    /// The reference with a new tag (any digest dropped: it would pin the old image).
    pub fn with_tag(&self, tag: &str) -> String {
        format!("{}:{tag}", self.repository)
    }

    /// The reference with a tag pinned to a digest (any previous digest dropped).
    pub fn with_pinned_tag(&self, tag: &str, digest: &str) -> String {
        format!("{}:{tag}@{digest}", self.repository)
    }

    /// The reference pinned to a digest (any tag dropped: the digest alone decides).
    pub fn with_digest(&self, digest: &str) -> String {
        format!("{}@{digest}", self.repository)
    }
}

/// Whether two repositories name the same image, the way a container runtime resolves
/// them: `nginx`, `library/nginx`, `docker.io/library/nginx` and
/// `index.docker.io/library/nginx` are one image.
pub fn same_repository(a: &str, b: &str) -> bool {
    a == b || canonical(a) == canonical(b)
}

fn canonical(repository: &str) -> String {
    let (domain, path) = match repository.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first, rest)
        }
        _ => ("docker.io", repository),
    };
    let domain = if domain == "index.docker.io" {
        "docker.io"
    } else {
        domain
    };
    if domain == "docker.io" && !path.contains('/') {
        format!("docker.io/library/{path}")
    } else {
        format!("{domain}/{path}")
    }
}

/// Check a repository given to bump: no tag, no digest, only the characters a reference allows.
pub fn validate_repository(image: &str) -> Result<(), String> {
    if image.is_empty() {
        return Err("is empty".into());
    }
    if let Some(bad) = image
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':')))
    {
        return Err(format!("contains {bad:?}"));
    }
    if image.contains('@') {
        return Err("carries a digest; name the repository only".into());
    }
    let parsed = ImageRef::parse(image);
    if let Some(tag) = parsed.tag {
        return Err(format!(
            "carries the tag {tag:?}; name the repository only and pass the tag separately"
        ));
    }
    if image.starts_with('/') || image.ends_with('/') || image.contains("//") {
        return Err("has an empty path component".into());
    }
    Ok(())
}

/// A tag as the OCI distribution spec allows it: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn validate_tag(tag: &str) -> Result<(), String> {
    let mut chars = tag.chars();
    let valid_first = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let valid_rest = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid_first && valid_rest && tag.len() <= 128 {
        Ok(())
    } else {
        Err("a tag is 1 to 128 of A-Z a-z 0-9 _ . - and does not start with . or -".into())
    }
}

/// A digest `sha256:<64 hex>` (or `sha512:<128 hex>`); a leading `@` is accepted and dropped.
pub fn normalise_digest(digest: &str) -> Result<String, String> {
    let digest = digest.strip_prefix('@').unwrap_or(digest);
    let valid = match digest.split_once(':') {
        Some(("sha256", hex)) => hex.len() == 64,
        Some(("sha512", hex)) => hex.len() == 128,
        _ => false,
    } && digest
        .split_once(':')
        .is_some_and(|(_, hex)| hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
    if valid {
        Ok(digest.to_owned())
    } else {
        Err("a digest is sha256: followed by 64 lowercase hex digits".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tags_digests_and_registry_ports() {
        assert_eq!(
            ImageRef::parse("host:5000/team/api:1.2"),
            ImageRef {
                repository: "host:5000/team/api",
                tag: Some("1.2"),
                digest: None
            }
        );
        assert_eq!(ImageRef::parse("host:5000/team/api").tag, None);
        assert_eq!(
            ImageRef::parse("host:5000/team/api").repository,
            "host:5000/team/api"
        );
        let pinned = ImageRef::parse("nginx:1.25@sha256:abc");
        assert_eq!(
            (pinned.repository, pinned.tag, pinned.digest),
            ("nginx", Some("1.25"), Some("sha256:abc"))
        );
        assert_eq!(ImageRef::parse("nginx@sha256:abc").tag, None);
    }

    #[test]
    fn docker_hub_spellings_are_one_repository() {
        assert!(same_repository("nginx", "docker.io/library/nginx"));
        assert!(same_repository(
            "library/nginx",
            "index.docker.io/library/nginx"
        ));
        assert!(same_repository("team/api", "docker.io/team/api"));
        assert!(!same_repository("nginx", "ghcr.io/nginx"));
        assert!(!same_repository("host:5000/api", "host/api"));
        assert!(same_repository("localhost/api", "localhost/api"));
    }

    #[test]
    fn validates_what_bump_is_given() {
        assert!(validate_repository("host:5000/team/api").is_ok());
        assert!(validate_repository("team/api:1.0").is_err());
        assert!(validate_repository("team/api@sha256:00").is_err());
        assert!(validate_repository("team api").is_err());
        assert!(validate_tag("v1.2.3-rc_1").is_ok());
        assert!(validate_tag("-x").is_err());
        assert!(validate_tag("a:b").is_err());
        let digest = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(normalise_digest(&format!("@{digest}")).unwrap(), digest);
        assert!(normalise_digest("sha256:xyz").is_err());
    }
}
