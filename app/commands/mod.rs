//! Comment commands on config-repo pull requests: the grammar ([`parser`]) over the lines a
//! reader sees ([`visible_lines`]), the command table
//! ([`table`]), who may run what ([`permissions`]), and user vs internal errors ([`errors`]).
//! The handler that runs them is `pipelines::commands`.

pub mod errors;
pub mod parser;
pub mod permissions;
pub mod replies;
pub mod table;
mod visible_lines;

pub use errors::{CommandFailure, UserError};
pub use parser::{
    parse, validate, validate_at, Command, CommandError, CommandLine, Place, Problem,
};
pub use table::{help_reply, CommandKind, CommandSpec, HelpEnvironment, COMMANDS};
