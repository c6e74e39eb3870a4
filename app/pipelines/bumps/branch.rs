//! The branch of a gated environment's rolling bump pull request:
//! `slipway/bump/<env>/<image-name>`, one per environment and image.

/// `slipway/bump/<env>/<image-name>`, where the image name is the last path segment of the
/// repository (`api` of `registry.example.com/team/api`) made safe for a ref name. `env` is a
/// declared environment, which validation keeps to a DNS label.
pub fn branch_name(env: &str, image: &str) -> String {
    format!("slipway/bump/{env}/{}", branch_safe(last_segment(image)))
}

fn last_segment(image: &str) -> &str {
    image.rsplit('/').next().unwrap_or(image)
}

/// A ref-name component git accepts (`git check-ref-format`): lowercase letters, digits, `-`,
/// `_` and `.`; anything else becomes `-`; no leading `.` or `-`, no `..`, no `.lock` ending,
/// never empty.
fn branch_safe(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            c
        } else {
            '-'
        };
        if c == '.' && out.ends_with('.') {
            continue;
        }
        out.push(c);
    }
    let mut out = out.trim_start_matches(['.', '-']).to_string();
    while out.ends_with(".lock") || out.ends_with('.') {
        out.truncate(out.trim_end_matches(".lock").trim_end_matches('.').len());
    }
    if out.is_empty() {
        out.push_str("image");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_branch_is_the_environment_and_the_image_s_last_segment() {
        assert_eq!(
            branch_name("prod", "registry.example.com/team/api"),
            "slipway/bump/prod/api"
        );
        assert_eq!(branch_name("dev", "nginx"), "slipway/bump/dev/nginx");
        assert_eq!(
            branch_name("dev", "host:5000/team/web_ui.v2"),
            "slipway/bump/dev/web_ui.v2"
        );
    }

    #[test]
    fn names_git_refuses_are_made_safe() {
        assert_eq!(branch_safe("..hidden"), "hidden");
        assert_eq!(branch_safe("a..b"), "a.b");
        assert_eq!(branch_safe("cache.lock"), "cache");
        assert_eq!(branch_safe("x.lock.lock"), "x");
        assert_eq!(branch_safe("Web UI"), "web-ui");
        assert_eq!(branch_safe("-x"), "x");
        assert_eq!(branch_safe("..."), "image");
        assert_eq!(branch_safe(""), "image");
    }
}
