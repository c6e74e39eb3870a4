//! The one error type of configuration parsing: a message at a position in the file.

use std::fmt;

use super::CONFIG_PATH;

/// A 1-based line and column (in characters) inside `.github/slipway.yml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// The start of the file.
    pub const START: Position = Position { line: 1, column: 1 };
}

/// What is wrong with `.github/slipway.yml`, where, and what is allowed instead.
///
/// Displays as `.github/slipway.yml:LINE:COL: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    position: Position,
    message: String,
}

impl ConfigError {
    pub(crate) fn new(position: Position, message: impl Into<String>) -> Self {
        ConfigError {
            position,
            message: message.into(),
        }
    }

    /// The file is not UTF-8 text.
    pub fn not_utf8() -> Self {
        ConfigError::new(Position::START, "the file is not UTF-8 text")
    }

    /// 1-based line of the offending key or value.
    pub fn line(&self) -> usize {
        self.position.line
    }

    /// 1-based column (in characters) of the offending key or value.
    pub fn column(&self) -> usize {
        self.position.column
    }

    /// What is wrong and what is allowed, without the position.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{CONFIG_PATH}:{}:{}: {}",
            self.position.line, self.position.column, self.message
        )
    }
}

impl std::error::Error for ConfigError {}
