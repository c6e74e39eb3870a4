//! The command table: the single source of truth for command names, their arguments, who may
//! run them, and what `/help` lists (worded by `templates/replies/help.md.j2`). The parser
//! reads it; nothing else lists commands.

use crate::report::{ReportError, Templates};

/// Which command a line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandKind {
    Preview,
    Promote,
    Rollback,
    Lock,
    Unlock,
    Help,
}

/// The arguments a command takes, as a shape the parser checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgShape {
    /// Nothing after the name.
    Nothing,
    /// One environment.
    Env,
    /// An environment, then optionally `from` and a second environment.
    EnvFromEnv,
    /// An environment, then optionally free text up to the end of the line.
    EnvThenText,
    /// An environment, then optionally `to` and a commit sha (7 to 40 hex digits).
    EnvToCommit,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    pub kind: CommandKind,
    /// The word after `/`, lowercase.
    pub name: &'static str,
    pub args: ArgShape,
    /// The argument part of the usage line (`<env> [from <env>]`), empty when there is none.
    pub arg_usage: &'static str,
    /// One sentence for `/help`.
    pub summary: &'static str,
    /// Whether it needs write (or maintain, or admin) permission on the repository.
    pub requires_write: bool,
    /// Whether it acts on the pull request it is written on; the others run on plain issues
    /// of the config repo too (they read only its default branch).
    pub needs_pull_request: bool,
}

impl CommandSpec {
    /// `/promote <env> [from <env>]`.
    pub fn usage(&self) -> String {
        if self.arg_usage.is_empty() {
            format!("/{}", self.name)
        } else {
            format!("/{} {}", self.name, self.arg_usage)
        }
    }
}

/// The keyword that introduces the source environment of `/promote`.
pub const FROM_KEYWORD: &str = "from";
/// The keyword that introduces the commit `/rollback` restores.
pub const TO_KEYWORD: &str = "to";

/// Every command slipway understands, in the order `/help` lists them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        kind: CommandKind::Preview,
        name: "preview",
        args: ArgShape::Nothing,
        arg_usage: "",
        summary: "Render and diff this pull request again, and update the preview comment and check run.",
        requires_write: true,
        needs_pull_request: true,
    },
    CommandSpec {
        kind: CommandKind::Promote,
        name: "promote",
        args: ArgShape::EnvFromEnv,
        arg_usage: "<env> [from <env>]",
        summary: "Open (or update) a pull request that sets the images of `<env>` to those running in the source environment (default: its `promote_from`).",
        requires_write: true,
        needs_pull_request: false,
    },
    CommandSpec {
        kind: CommandKind::Rollback,
        name: "rollback",
        args: ArgShape::EnvToCommit,
        arg_usage: "<env> [to <sha>]",
        summary: "Restore the files of `<env>` to the revision deployed before the current one (or to commit `<sha>` of the default branch): a commit on the default branch, or a pull request when `<env>` requires approvals.",
        requires_write: true,
        needs_pull_request: false,
    },
    CommandSpec {
        kind: CommandKind::Lock,
        name: "lock",
        args: ArgShape::EnvThenText,
        arg_usage: "<env> [reason…]",
        summary: "Lock an environment: nothing deploys to it or is bumped in it until it is unlocked.",
        requires_write: true,
        needs_pull_request: false,
    },
    CommandSpec {
        kind: CommandKind::Unlock,
        name: "unlock",
        args: ArgShape::Env,
        arg_usage: "<env>",
        summary: "Remove the lock of an environment.",
        requires_write: true,
        needs_pull_request: false,
    },
    CommandSpec {
        kind: CommandKind::Help,
        name: "help",
        args: ArgShape::Nothing,
        arg_usage: "",
        summary: "Show this help.",
        requires_write: false,
        needs_pull_request: false,
    },
];

/// The row of `kind`.
pub fn spec(kind: CommandKind) -> &'static CommandSpec {
    COMMANDS
        .iter()
        .find(|spec| spec.kind == kind)
        .expect("every command kind has a row in the table")
}

/// The row whose name is `name` (ASCII case-insensitive).
pub fn lookup(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS
        .iter()
        .find(|spec| spec.name.eq_ignore_ascii_case(name))
}

/// An environment as `/help` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HelpEnvironment {
    pub name: String,
    pub promote_from: Option<String>,
    /// Who locked it, when it is locked.
    pub locked_by: Option<String>,
}

/// The `/help` reply: every command of the table, then this repository's environments.
pub fn help_reply(
    templates: &Templates,
    environments: &[HelpEnvironment],
) -> Result<String, ReportError> {
    let commands: Vec<minijinja::Value> = COMMANDS
        .iter()
        .map(|spec| minijinja::context! { usage => spec.usage(), summary => spec.summary })
        .collect();
    templates.render(
        crate::report::REPLY_HELP,
        minijinja::context! { commands, environments },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_exactly_one_row_and_names_are_lowercase_words() {
        for kind in [
            CommandKind::Preview,
            CommandKind::Promote,
            CommandKind::Rollback,
            CommandKind::Lock,
            CommandKind::Unlock,
            CommandKind::Help,
        ] {
            assert_eq!(COMMANDS.iter().filter(|s| s.kind == kind).count(), 1);
        }
        for spec in COMMANDS {
            assert!(spec.name.chars().all(|c| c.is_ascii_lowercase()));
        }
        assert_eq!(
            lookup("PROMOTE").map(|s| s.kind),
            Some(CommandKind::Promote)
        );
        assert!(lookup("promotes").is_none());
    }

    #[test]
    fn help_lists_every_command_from_the_table() {
        let text = help_reply(&Templates::embedded(), &[]).unwrap();
        for spec in COMMANDS {
            assert!(text.contains(&format!("`{}`", spec.usage())), "{text}");
        }
        assert!(!text.contains("| environment |"));
    }
}
