//! The pure half of a rollback: the one tree entry that restores an environment's path, the
//! branch of a gated environment's rollback, and the texts (commit message, pull request)
//! built from validated values only.

use minijinja::context;

use crate::commands::replies::short_sha;
use crate::commands::UserError;
use crate::git::{EntryMode, PathObject};
use crate::github::{TreeEntry, TreeMode};
use crate::pipelines::bumps::message::{link, plain};
use crate::pipelines::promote::plan::{is_dns_label, show_login};
use crate::report::{self, ReportError, Templates};

/// The branch a gated environment's rollback is committed on. `env` is a declared
/// environment name, which configuration validation keeps to a DNS label.
pub fn branch_name(env: &str) -> Result<String, UserError> {
    if !is_dns_label(env) {
        return Err(UserError::new(format!(
            "environment {} is not a DNS label, so it cannot name a branch",
            crate::commands::parser::quote(env)
        )));
    }
    Ok(format!("slipway/rollback/{env}"))
}

/// The hidden marker that identifies a rollback pull request's body.
pub fn pull_marker(env: &str) -> String {
    format!("<!-- slipway:rollback env={env} -->")
}

/// The entry that makes `path` of the head's tree what it is in the target's: the target's
/// object (a directory's tree, a file's blob), or a deletion when the target has no such path.
/// `None` when both already hold the same object: nothing to restore.
pub fn restoring_entry(
    path: &str,
    head: Option<&PathObject>,
    target: Option<&PathObject>,
) -> Result<Option<TreeEntry>, UserError> {
    if head == target {
        return Ok(None);
    }
    let Some(target) = target else {
        return Ok(Some(TreeEntry {
            path: path.to_string(),
            mode: head.map_or(Ok(TreeMode::Directory), |head| tree_mode(path, head))?,
            sha: None,
        }));
    };
    Ok(Some(TreeEntry {
        path: path.to_string(),
        mode: tree_mode(path, target)?,
        sha: Some(target.id.clone()),
    }))
}

fn tree_mode(path: &str, object: &PathObject) -> Result<TreeMode, UserError> {
    Ok(match object.mode {
        EntryMode::Directory => TreeMode::Directory,
        EntryMode::File => TreeMode::File,
        EntryMode::Executable => TreeMode::Executable,
        EntryMode::Symlink => TreeMode::Symlink,
        EntryMode::Submodule => {
            return Err(UserError::new(format!(
                "{} is a submodule, and slipway does not restore submodules",
                crate::report::escape::code(path)
            )))
        }
    })
}

/// What the commit message and the pull request of a rollback say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackTexts {
    pub environment: String,
    pub path: String,
    /// The restored commit, full sha.
    pub target: String,
    /// The target is the revision deployed before the current one.
    pub previous: bool,
    pub requested_by: String,
    /// The issue or pull request the command was written on.
    pub requested_in: u64,
    /// The command comment's page.
    pub comment_url: Option<String>,
    /// The restored commit's page.
    pub target_url: Option<String>,
    pub approvals: u32,
}

impl RollbackTexts {
    fn context(&self) -> minijinja::Value {
        context! {
            environment => plain(&self.environment),
            path => plain(&self.path),
            target => self.target,
            target_short => short_sha(&self.target),
            previous => self.previous,
            login => show_login(&self.requested_by),
            number => self.requested_in,
            comment_url => self.comment_url.as_deref().and_then(link),
            target_url => self.target_url.as_deref().and_then(link),
            approvals => self.approvals,
            marker => pull_marker(&self.environment),
        }
    }

    pub fn commit_message(&self, templates: &Templates) -> Result<String, ReportError> {
        templates.render_text(report::ROLLBACK_COMMIT, self.context())
    }

    pub fn pull_title(&self, templates: &Templates) -> Result<String, ReportError> {
        templates.render_text(report::ROLLBACK_PULL_TITLE, self.context())
    }

    pub fn pull_body(&self, templates: &Templates) -> Result<String, ReportError> {
        templates.render(report::ROLLBACK_PULL_BODY, self.context())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: &str = "0123456789abcdef0123456789abcdef01234567";

    fn object(mode: EntryMode, id: &str) -> PathObject {
        PathObject {
            mode,
            id: id.to_string(),
        }
    }

    fn texts() -> RollbackTexts {
        RollbackTexts {
            environment: "prod".into(),
            path: "envs/prod".into(),
            target: TARGET.into(),
            previous: true,
            requested_by: "alice".into(),
            requested_in: 7,
            comment_url: Some("https://github.com/acme/config/pull/7#issuecomment-9".into()),
            target_url: Some(format!("https://github.com/acme/config/commit/{TARGET}")),
            approvals: 2,
        }
    }

    #[test]
    fn the_entry_restores_the_target_s_object_or_deletes_the_path() {
        let head = object(EntryMode::Directory, "aaaa");
        let old = object(EntryMode::Directory, "bbbb");
        assert_eq!(
            restoring_entry("envs/dev", Some(&head), Some(&head)),
            Ok(None)
        );
        assert_eq!(restoring_entry("envs/dev", None, None), Ok(None));
        assert_eq!(
            restoring_entry("envs/dev", Some(&head), Some(&old)),
            Ok(Some(TreeEntry {
                path: "envs/dev".into(),
                mode: TreeMode::Directory,
                sha: Some("bbbb".into()),
            }))
        );
        assert_eq!(
            restoring_entry("envs/dev", Some(&head), None)
                .unwrap()
                .unwrap()
                .sha,
            None
        );
        assert!(restoring_entry(
            "envs/dev",
            Some(&head),
            Some(&object(EntryMode::Submodule, "cccc"))
        )
        .is_err());
    }

    #[test]
    fn branch_names_are_declared_dns_labels_only() {
        assert_eq!(branch_name("prod").unwrap(), "slipway/rollback/prod");
        assert!(branch_name("prod\nx").is_err());
        assert!(branch_name("../x").is_err());
    }

    #[test]
    fn the_commit_message_names_target_path_requester_and_comment() {
        assert_eq!(
            texts().commit_message(Templates::builtin()).unwrap(),
            format!(
                "slipway: roll back prod to 0123456\n\n\
                 Restores envs/prod as it was at {TARGET}, the revision deployed before the current one.\n\
                 Requested with /rollback by alice in #7 (https://github.com/acme/config/pull/7#issuecomment-9)."
            )
        );
        assert_eq!(
            texts().pull_title(Templates::builtin()).unwrap(),
            "Roll back prod to 0123456"
        );
    }

    #[test]
    fn hostile_values_add_no_lines_links_or_mentions() {
        let mut hostile = texts();
        hostile.path = "envs/prod\n\nSigned-off-by: mallory".into();
        hostile.requested_by = "mallory\n@team".into();
        hostile.comment_url = Some("javascript:alert(1)".into());
        hostile.target_url = Some("https://x.example/a b)".into());
        let message = hostile.commit_message(Templates::builtin()).unwrap();
        assert_eq!(message.lines().count(), 4, "{message}");
        assert!(message.ends_with("by ghost in #7."), "{message}");
        let body = hostile.pull_body(Templates::builtin()).unwrap();
        assert!(body.contains("by @ghost in #7."), "{body}");
        assert!(!body.contains("javascript"), "{body}");
        assert!(
            body.contains("as it was at `0123456`, the revision"),
            "{body}"
        );
    }
}
