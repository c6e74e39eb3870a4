//! Endpoint templates for metrics: `/repos/acme/api/check-runs/123` → `/repos/{owner}/{repo}/check-runs/{id}`.

/// The route template of `method path`, with owners, names, ids, SHAs and refs replaced, so a
/// metric label has a bounded number of values.
pub fn endpoint_label(method: &str, path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    let mut index = 0;
    while index < segments.len() {
        let segment = segments[index];
        let previous = out.last().copied();
        let templated = match previous {
            _ if segment.is_empty() => segment,
            Some("repos") if index + 1 < segments.len() => {
                out.push("{owner}");
                index += 1;
                "{repo}"
            }
            Some("app-manifests") => "{code}",
            Some("collaborators") | Some("users") => "{user}",
            Some("ref") | Some("refs") | Some("contents") => {
                out.push("{path}");
                break;
            }
            _ if segment.chars().all(|c| c.is_ascii_digit()) => "{id}",
            _ if segment.len() == 40 && segment.chars().all(|c| c.is_ascii_hexdigit()) => "{sha}",
            _ => segment,
        };
        out.push(templated);
        index += 1;
    }
    format!("{method} /{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::endpoint_label;

    #[test]
    fn owners_ids_and_refs_become_placeholders() {
        assert_eq!(
            endpoint_label("PATCH", "/repos/acme/api/check-runs/42"),
            "PATCH /repos/{owner}/{repo}/check-runs/{id}"
        );
        assert_eq!(
            endpoint_label("POST", "/app/installations/7/access_tokens"),
            "POST /app/installations/{id}/access_tokens"
        );
        assert_eq!(
            endpoint_label("GET", "/repos/acme/api/git/ref/heads/feature/x"),
            "GET /repos/{owner}/{repo}/git/ref/{path}"
        );
        assert_eq!(
            endpoint_label("GET", "/app/hook/deliveries?per_page=100&cursor=abc"),
            "GET /app/hook/deliveries"
        );
        assert_eq!(
            endpoint_label("POST", "/app-manifests/a1b2c3/conversions"),
            "POST /app-manifests/{code}/conversions"
        );
    }
}
