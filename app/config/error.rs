//! Configuration errors: a message at a position in the file, and every such error of a file.

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

/// Every problem found in one `.github/slipway.yml`, in file order; never empty.
///
/// Displays one located error per line. A file whose YAML does not parse has exactly one:
/// nothing after a syntax error can be read reliably.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    errors: Vec<ConfigError>,
}

impl ConfigErrors {
    /// `None` when `errors` is empty. Sorts by position and drops exact repeats (two checks
    /// can meet the same mistake).
    pub(crate) fn from_vec(mut errors: Vec<ConfigError>) -> Option<Self> {
        errors.sort_by(|a, b| {
            a.position
                .cmp(&b.position)
                .then_with(|| a.message.cmp(&b.message))
        });
        errors.dedup();
        (!errors.is_empty()).then_some(ConfigErrors { errors })
    }

    /// The file is not UTF-8 text.
    pub fn not_utf8() -> Self {
        ConfigError::not_utf8().into()
    }

    /// The earliest error in the file.
    pub fn first(&self) -> &ConfigError {
        &self.errors[0]
    }

    /// How many errors there are (at least one).
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Always false; present because a length is.
    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.errors.iter()
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        ConfigErrors {
            errors: vec![error],
        }
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
