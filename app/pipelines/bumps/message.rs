//! The texts of a bump, from `templates/bumps/`: the commit message, and the title and body of a
//! gated environment's rolling pull request. Pure.

use minijinja::{context, Value};

use crate::report::{self, ReportError, Templates};

use super::{MovedImage, SourceCommit};

/// The hidden marker of the rolling pull request of `image` in `environment`.
pub fn pull_marker(environment: &str, image: &str) -> String {
    format!("<!-- slipway:bump env={environment} image={image} -->")
}

/// The message of a commit that moves `images` (each with the commit it was built from):
/// `slipway: bump <image> <old> → <new> in <env>` and its source for one image;
/// `slipway: bump N images in <envs>` and one line per image for several.
pub fn commit_message(
    templates: &Templates,
    images: &[(&MovedImage, &SourceCommit)],
) -> Result<String, ReportError> {
    let mut environments: Vec<String> = Vec::new();
    for (moved, _) in images {
        let env = plain(&moved.environment);
        if !environments.contains(&env) {
            environments.push(env);
        }
    }
    let images: Vec<Value> = images
        .iter()
        .map(|(moved, source)| {
            context! {
                image => plain(&moved.image),
                environment => plain(&moved.environment),
                from => plain(&moved.from),
                to => plain(&moved.to),
                source => source_line(source),
            }
        })
        .collect();
    templates.render_text(report::BUMP_COMMIT, context! { images, environments })
}

/// The rolling pull request's title.
pub fn pull_title(templates: &Templates, moved: &MovedImage) -> Result<String, ReportError> {
    templates.render_text(
        report::BUMP_PULL_TITLE,
        context! {
            image => plain(&moved.image),
            environment => plain(&moved.environment),
            from => plain(&moved.from),
            to => plain(&moved.to),
        },
    )
}

/// The rolling pull request's body: its marker, what moves, the source commit, the gate.
pub fn pull_body(
    templates: &Templates,
    moved: &MovedImage,
    source: &SourceCommit,
    approvals: u32,
) -> Result<String, ReportError> {
    templates.render(
        report::BUMP_PULL_BODY,
        context! {
            marker => pull_marker(&moved.environment, &moved.image),
            image => moved.image,
            environment => moved.environment,
            from => moved.from,
            to => moved.to,
            source => source_label(source),
            url => link(&source.url),
            approvals,
        },
    )
}

/// `owner/repo@abc1234`.
fn source_label(source: &SourceCommit) -> String {
    let short: String = source.sha.chars().take(7).collect();
    plain(&format!("{}@{short}", source.repo))
}

/// `owner/repo@abc1234 https://…` (without the URL when it is not one).
fn source_line(source: &SourceCommit) -> String {
    match link(&source.url) {
        Some(url) => format!("{} {url}", source_label(source)),
        None => source_label(source),
    }
}

/// The URL when it is a plain `http(s)` URL that can stand in a commit message and inside a
/// markdown link's parentheses.
pub(crate) fn link(url: &str) -> Option<String> {
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    let clean = !url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '(' | ')' | '<' | '>'));
    (scheme_ok && clean && url.len() <= 2048).then(|| url.to_string())
}

/// One line of plain text: control characters (line breaks included) become `�`, so no value
/// can add lines (or trailers) to a commit message.
pub(crate) fn plain(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::RepoRef;

    fn moved(image: &str, env: &str, from: &str, to: &str) -> MovedImage {
        MovedImage {
            image: image.into(),
            environment: env.into(),
            from: from.into(),
            to: to.into(),
        }
    }

    fn source(repo: &str, sha: &str) -> SourceCommit {
        let repo: RepoRef = repo.parse().unwrap();
        SourceCommit {
            url: format!("https://github.com/{repo}/commit/{sha}"),
            repo,
            sha: sha.into(),
        }
    }

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn one_image_names_it_old_and_new_and_links_its_source() {
        let api = moved("registry.example.com/team/api", "dev", "1.4.0", SHA);
        let from = source("acme/api", SHA);
        assert_eq!(
            commit_message(Templates::builtin(), &[(&api, &from)]).unwrap(),
            format!(
                "slipway: bump registry.example.com/team/api 1.4.0 → {SHA} in dev\n\n\
                 Source: acme/api@0123456 https://github.com/acme/api/commit/{SHA}"
            )
        );
    }

    #[test]
    fn several_images_are_counted_and_each_listed() {
        let api = moved("registry.example.com/team/api", "dev", "1.4.0", "a1");
        let web = moved("registry.example.com/team/web", "prod", "2.0", "b2");
        let worker = moved("registry.example.com/team/worker", "dev", "3", "c3");
        let (a, b, c) = (
            source("acme/api", "aaaaaaaaaa"),
            source("acme/web", "bbbbbbbbbb"),
            source("acme/worker", "cccccccccc"),
        );
        assert_eq!(
            commit_message(Templates::builtin(), &[(&api, &a), (&web, &b), (&worker, &c)])
                .unwrap(),
            "slipway: bump 3 images in dev, prod\n\n\
             - registry.example.com/team/api 1.4.0 → a1 in dev (source: acme/api@aaaaaaa https://github.com/acme/api/commit/aaaaaaaaaa)\n\
             - registry.example.com/team/web 2.0 → b2 in prod (source: acme/web@bbbbbbb https://github.com/acme/web/commit/bbbbbbbbbb)\n\
             - registry.example.com/team/worker 3 → c3 in dev (source: acme/worker@ccccccc https://github.com/acme/worker/commit/cccccccccc)"
        );
    }

    #[test]
    fn a_url_that_is_not_one_is_left_out_and_no_value_adds_lines() {
        let api = moved("registry.example.com/team/api", "dev", "1.4.0", "a1");
        let mut from = source("acme/api", "aaaaaaaaaa");
        from.url = "javascript:alert(1)\nSigned-off-by: mallory".into();
        let message = commit_message(Templates::builtin(), &[(&api, &from)]).unwrap();
        assert!(message.ends_with("Source: acme/api@aaaaaaa"), "{message}");
        assert_eq!(plain("a\nb"), "a\u{FFFD}b");
    }

    #[test]
    fn the_pull_request_names_image_versions_environment_and_source() {
        let api = moved("registry.example.com/team/api", "prod", "1.4.0", "a1b2c3");
        let from = source("acme/api", SHA);
        assert_eq!(
            pull_title(Templates::builtin(), &api).unwrap(),
            "slipway: bump registry.example.com/team/api 1.4.0 → a1b2c3 in prod"
        );
        let body = pull_body(Templates::builtin(), &api, &from, 2).unwrap();
        assert_eq!(
            body,
            format!(
                "<!-- slipway:bump env=prod image=registry.example.com/team/api -->\n\
                 ## Bump `registry.example.com/team/api` in `prod`\n\n\
                 | image | `prod` now | after merge |\n|---|---|---|\n\
                 | `registry.example.com/team/api` | `1.4.0` | `a1b2c3` |\n\n\
                 Built from [acme/api@\u{200D}0123456](https://github.com/acme/api/commit/{SHA}).\n\n\
                 `prod` needs 2 approving reviews: merging this pull request deploys the new \
                 image. The next build of this image replaces this pull request's commit, so it \
                 always holds the newest one.\n"
            )
        );
    }
}
