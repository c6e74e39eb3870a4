//! The comment grammar. Pure: a comment body in, commands or user errors out.
//!
//! # Which lines are commands
//!
//! A line is a command candidate when, after at most three spaces, it starts with `/` followed
//! by a word, and it is not hidden from the rendered comment (code, quotes and HTML comments:
//! see [`super::visible_lines`]).
//!
//! # Which candidates are slipway's
//!
//! The word after `/` is matched against the command table, ignoring ASCII case and trailing
//! sentence punctuation (`/help.` is `/help`). A word that is not a command name is still
//! slipway's — and becomes an "unknown command" error with a suggestion — when it is a likely
//! typo of one: it starts with the same letter (or with the first two letters swapped) and is
//! at most one edit away from a name of up to four letters, at most two edits from a longer one
//! (insertions, deletions, substitutions and swaps of neighbours). Everything else is left
//! alone: other bots' commands (`/cc @someone`, `/assign`, `/review`, `/lgtm`), paths
//! (`/usr/bin`, anything whose first word contains another `/`), words of other alphabets.
//!
//! At most [`MAX_COMMANDS_PER_COMMENT`] commands are read from one comment.

use super::table::{self, ArgShape, CommandKind, CommandSpec, FROM_KEYWORD, TO_KEYWORD};
use super::visible_lines::visible_lines;

/// Commands one comment may hold; past this, the comment is refused as a whole.
pub const MAX_COMMANDS_PER_COMMENT: usize = 10;
/// The longest `/lock` reason kept, in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// How much of a line an error message quotes, in characters.
const MAX_QUOTED_CHARS: usize = crate::report::escape::QUOTE_CHARS;
/// Words longer than this are never taken for a typo of a command.
const MAX_WORD_LEN: usize = 32;
/// The shortest and longest commit sha `/rollback … to <sha>` takes, in hex digits.
pub const MIN_SHA_LEN: usize = 7;
pub const MAX_SHA_LEN: usize = 40;

/// A command, with validated shape (its environments are checked by [`validate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Preview,
    Promote {
        target: String,
        /// `None`: the target's `promote_from`.
        source: Option<String>,
    },
    Rollback {
        env: String,
        /// A commit sha (7 to 40 hex digits, lowercase); `None`: the revision deployed before
        /// the current one.
        to: Option<String>,
    },
    Lock {
        env: String,
        reason: Option<String>,
    },
    Unlock {
        env: String,
    },
    Help,
}

impl Command {
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::Preview => CommandKind::Preview,
            Command::Promote { .. } => CommandKind::Promote,
            Command::Rollback { .. } => CommandKind::Rollback,
            Command::Lock { .. } => CommandKind::Lock,
            Command::Unlock { .. } => CommandKind::Unlock,
            Command::Help => CommandKind::Help,
        }
    }

    pub fn spec(&self) -> &'static CommandSpec {
        table::spec(self.kind())
    }

    /// The environments the command names, in the order written.
    pub fn environments(&self) -> Vec<&str> {
        match self {
            Command::Promote { target, source } => {
                let mut envs = vec![target.as_str()];
                envs.extend(source.as_deref());
                envs
            }
            Command::Lock { env, .. } | Command::Unlock { env } | Command::Rollback { env, .. } => {
                vec![env.as_str()]
            }
            Command::Preview | Command::Help => vec![],
        }
    }

    /// The same command with environment `from` replaced by `to`.
    fn with_env(&self, from: &str, to: &str) -> Command {
        let swap = |env: &String| {
            if env == from {
                to.to_string()
            } else {
                env.clone()
            }
        };
        match self {
            Command::Promote { target, source } => Command::Promote {
                target: swap(target),
                source: source.as_ref().map(swap),
            },
            Command::Lock { env, reason } => Command::Lock {
                env: swap(env),
                reason: reason.clone(),
            },
            Command::Unlock { env } => Command::Unlock { env: swap(env) },
            Command::Rollback { env, to } => Command::Rollback {
                env: swap(env),
                to: to.clone(),
            },
            other => other.clone(),
        }
    }
}

impl std::fmt::Display for Command {
    /// The canonical text: `/promote prod from staging`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "/{}", self.spec().name)?;
        match self {
            Command::Promote { target, source } => {
                write!(f, " {target}")?;
                if let Some(source) = source {
                    write!(f, " {FROM_KEYWORD} {source}")?;
                }
            }
            Command::Lock { env, reason } => {
                write!(f, " {env}")?;
                if let Some(reason) = reason {
                    write!(f, " {reason}")?;
                }
            }
            Command::Unlock { env } => write!(f, " {env}")?,
            Command::Rollback { env, to } => {
                write!(f, " {env}")?;
                if let Some(to) = to {
                    write!(f, " {TO_KEYWORD} {to}")?;
                }
            }
            Command::Preview | Command::Help => {}
        }
        Ok(())
    }
}

/// One command found in a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// 1-based line of the comment.
    pub line: usize,
    /// The line as written, without surrounding whitespace.
    pub text: String,
    pub command: Command,
}

/// A line that addressed slipway but cannot be run: a user error, answered with a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {problem}", quote(text))]
pub struct CommandError {
    /// 1-based line of the comment.
    pub line: usize,
    /// The line as written, without surrounding whitespace.
    pub text: String,
    pub problem: Problem,
}

/// What was wrong with a line, and the closest valid form where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("unknown command; did you mean {}?", quote(suggestion))]
    UnknownCommand { suggestion: String },
    #[error("{what} is missing; usage: {}", quote(usage))]
    MissingArgument { what: &'static str, usage: String },
    #[error("unexpected {}; did you mean {}?", quote(found), quote(suggestion))]
    UnexpectedArgument { found: String, suggestion: String },
    #[error("the reason is {chars} characters long; keep it to at most {limit}")]
    ReasonTooLong { chars: usize, limit: usize },
    #[error("{}", unknown_environment(env, suggestion.as_deref(), declared))]
    UnknownEnvironment {
        env: String,
        suggestion: Option<String>,
        declared: Vec<String>,
    },
    #[error(
        "an environment cannot be promoted from itself; usage: {}",
        quote(usage)
    )]
    SameEnvironment { usage: String },
    #[error("more than {limit} commands in one comment; nothing was run: write at most {limit} per comment")]
    TooManyCommands { limit: usize },
    #[error(
        "{} is not a commit sha: write {MIN_SHA_LEN} to {MAX_SHA_LEN} hexadecimal digits; usage: {}",
        quote(found),
        quote(usage)
    )]
    NotACommitSha { found: String, usage: String },
    #[error(
        "{} works on pull requests only, and this is an issue: write it on the pull request",
        quote(command)
    )]
    NeedsPullRequest { command: String },
}

/// Where a comment was written: some commands act on the pull request they are written on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    PullRequest,
    Issue,
}

fn unknown_environment(env: &str, suggestion: Option<&str>, declared: &[String]) -> String {
    match suggestion {
        Some(suggestion) => format!(
            "unknown environment {}; did you mean {}?",
            quote(env),
            quote(suggestion)
        ),
        None => format!(
            "unknown environment {}; this repository declares {}",
            quote(env),
            declared
                .iter()
                .map(|d| quote(d))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// User text as a markdown code span: cut to a readable length, backticks replaced so the span
/// cannot be closed early (and mentions inside it notify nobody).
pub fn quote(text: &str) -> String {
    quote_with_limit(text, MAX_QUOTED_CHARS)
}

/// [`quote`], cut at `limit` characters.
pub fn quote_with_limit(text: &str, limit: usize) -> String {
    crate::report::escape::quote(text, limit)
}

/// Every command line of `body`, in order: parsed commands and user errors.
pub fn parse(body: &str) -> Vec<Result<CommandLine, CommandError>> {
    let mut found = Vec::new();
    for (line, text) in visible_lines(body) {
        let Some(result) = parse_line(line, text) else {
            continue;
        };
        if found.len() == MAX_COMMANDS_PER_COMMENT {
            found.push(Err(CommandError {
                line,
                text: text.trim().to_string(),
                problem: Problem::TooManyCommands {
                    limit: MAX_COMMANDS_PER_COMMENT,
                },
            }));
            break;
        }
        found.push(result);
    }
    found
}

/// Checks the environments named by parsed commands against those the repository declares;
/// errors pass through unchanged.
pub fn validate(
    parsed: Vec<Result<CommandLine, CommandError>>,
    environments: &[&str],
) -> Vec<Result<CommandLine, CommandError>> {
    validate_at(parsed, environments, Place::PullRequest)
}

/// [`validate`] for a comment written at `place`: on a plain issue, commands that act on a
/// pull request are errors too.
pub fn validate_at(
    parsed: Vec<Result<CommandLine, CommandError>>,
    environments: &[&str],
    place: Place,
) -> Vec<Result<CommandLine, CommandError>> {
    parsed
        .into_iter()
        .map(|result| {
            result.and_then(|line| {
                if place == Place::Issue && line.command.spec().needs_pull_request {
                    return Err(CommandError {
                        line: line.line,
                        problem: Problem::NeedsPullRequest {
                            command: line.command.to_string(),
                        },
                        text: line.text,
                    });
                }
                validate_line(line, environments)
            })
        })
        .collect()
}

fn validate_line(line: CommandLine, environments: &[&str]) -> Result<CommandLine, CommandError> {
    let error = |problem| CommandError {
        line: line.line,
        text: line.text.clone(),
        problem,
    };
    for env in line.command.environments() {
        if environments.contains(&env) {
            continue;
        }
        let suggestion = closest_environment(env, environments)
            .map(|close| line.command.with_env(env, close).to_string());
        return Err(error(Problem::UnknownEnvironment {
            env: env.to_string(),
            suggestion,
            declared: environments.iter().map(|e| e.to_string()).collect(),
        }));
    }
    if let Command::Promote {
        target,
        source: Some(source),
    } = &line.command
    {
        if target == source {
            return Err(error(Problem::SameEnvironment {
                usage: line.command.spec().usage(),
            }));
        }
    }
    Ok(line)
}

/// The declared environment `env` most likely meant: equal ignoring case, or at most two edits
/// away (one for names of up to three characters).
fn closest_environment<'a>(env: &str, environments: &[&'a str]) -> Option<&'a str> {
    let lower = env.to_lowercase();
    environments
        .iter()
        .map(|candidate| (edit_distance(&lower, candidate), *candidate))
        .filter(|(distance, candidate)| {
            let limit = if candidate.chars().count() <= 3 { 1 } else { 2 };
            *distance <= limit
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// A visible line that starts with `/`: a command, a user error, or `None` when it is not
/// addressed to slipway.
fn parse_line(line: usize, content: &str) -> Option<Result<CommandLine, CommandError>> {
    let rest = content.strip_prefix('/')?;
    let text = content.trim();
    let words = Words::new(rest);
    let (first, after_first) = words.first()?;
    let name = first.trim_end_matches(['.', ',', ';', ':', '!', '?']);
    if !is_command_word(name) {
        return None;
    }
    let args_text = &rest[after_first..];
    let error = |problem| CommandError {
        line,
        text: text.to_string(),
        problem,
    };
    if let Some(spec) = table::lookup(name) {
        return Some(
            parse_args(spec, args_text)
                .map(|command| CommandLine {
                    line,
                    text: text.to_string(),
                    command,
                })
                .map_err(error),
        );
    }
    let spec = likely_typo(name)?;
    let suggestion = match parse_args(spec, args_text) {
        Ok(command) => command.to_string(),
        Err(_) => spec.usage(),
    };
    Some(Err(error(Problem::UnknownCommand { suggestion })))
}

/// ASCII letters, digits, `-` and `_`, starting with a letter; not too long.
fn is_command_word(word: &str) -> bool {
    word.len() <= MAX_WORD_LEN
        && word.starts_with(|c: char| c.is_ascii_alphabetic())
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The command `word` is most likely a typo of (see the module documentation).
fn likely_typo(word: &str) -> Option<&'static CommandSpec> {
    let word = word.to_ascii_lowercase();
    table::COMMANDS
        .iter()
        .filter(|spec| starts_alike(&word, spec.name))
        .map(|spec| (edit_distance(&word, spec.name), spec))
        .filter(|(distance, spec)| *distance <= if spec.name.len() <= 4 { 1 } else { 2 })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, spec)| spec)
}

/// Same first letter, or the first two letters swapped.
fn starts_alike(word: &str, name: &str) -> bool {
    let (w, n) = (word.as_bytes(), name.as_bytes());
    match (w, n) {
        ([a, ..], [b, ..]) if a == b => true,
        ([a, b, ..], [c, d, ..]) => a == d && b == c,
        _ => false,
    }
}

/// The arguments of `spec` from the text after its name.
fn parse_args(spec: &CommandSpec, text: &str) -> Result<Command, Problem> {
    let words: Vec<(&str, usize)> = Words::new(text).collect();
    let usage = || spec.usage();
    let missing = |what| Problem::MissingArgument {
        what,
        usage: usage(),
    };
    let unexpected = |found: &str, suggestion: String| Problem::UnexpectedArgument {
        found: found.to_string(),
        suggestion,
    };
    let bare = |kind| match kind {
        CommandKind::Preview => Command::Preview,
        _ => Command::Help,
    };
    match spec.args {
        ArgShape::Nothing => match words.first() {
            None => Ok(bare(spec.kind)),
            Some((word, _)) => Err(unexpected(word, bare(spec.kind).to_string())),
        },
        ArgShape::Env => match words.as_slice() {
            [] => Err(missing("the environment")),
            [(env, _)] => Ok(Command::Unlock {
                env: env.to_string(),
            }),
            [(env, _), (extra, _), ..] => Err(unexpected(
                extra,
                Command::Unlock {
                    env: env.to_string(),
                }
                .to_string(),
            )),
        },
        ArgShape::EnvThenText => match words.as_slice() {
            [] => Err(missing("the environment")),
            [(env, end), ..] => {
                let reason = text[*end..].trim();
                let chars = reason.chars().count();
                if chars > MAX_REASON_CHARS {
                    return Err(Problem::ReasonTooLong {
                        chars,
                        limit: MAX_REASON_CHARS,
                    });
                }
                Ok(Command::Lock {
                    env: env.to_string(),
                    reason: (!reason.is_empty()).then(|| reason.to_string()),
                })
            }
        },
        ArgShape::EnvToCommit => parse_rollback(&words, usage()),
        ArgShape::EnvFromEnv => {
            let promote = |target: &str, source: Option<&str>| Command::Promote {
                target: target.to_string(),
                source: source.map(str::to_string),
            };
            match words.as_slice() {
                [] => Err(missing("the environment to promote to")),
                [(from, _), ..] if *from == FROM_KEYWORD => {
                    Err(missing("the environment to promote to"))
                }
                [(target, _)] => Ok(promote(target, None)),
                [(_, _), (from, _)] if *from == FROM_KEYWORD => {
                    Err(missing("the environment after `from`"))
                }
                [(target, _), (source, _)] => Err(unexpected(
                    source,
                    promote(target, Some(source)).to_string(),
                )),
                [(target, _), (from, _), (source, _)] if *from == FROM_KEYWORD => {
                    Ok(promote(target, Some(source)))
                }
                [(target, _), (word, _), (source, _)] => {
                    Err(unexpected(word, promote(target, Some(source)).to_string()))
                }
                [(target, _), (from, _), (source, _), (extra, _), ..] if *from == FROM_KEYWORD => {
                    Err(unexpected(extra, promote(target, Some(source)).to_string()))
                }
                [(target, _), (extra, _), ..] => {
                    Err(unexpected(extra, promote(target, None).to_string()))
                }
            }
        }
    }
}

/// `/rollback <env> [to <sha>]` from its words.
fn parse_rollback<'a>(words: &[(&'a str, usize)], usage: String) -> Result<Command, Problem> {
    let rollback = |env: &str, to: Option<&str>| Command::Rollback {
        env: env.to_string(),
        to: to.map(str::to_ascii_lowercase),
    };
    let unexpected = |found: &str, suggestion: Command| Problem::UnexpectedArgument {
        found: found.to_string(),
        suggestion: suggestion.to_string(),
    };
    let sha = |word: &'a str| -> Result<&'a str, Problem> {
        if is_commit_sha(word) {
            Ok(word)
        } else {
            Err(Problem::NotACommitSha {
                found: word.to_string(),
                usage: usage.clone(),
            })
        }
    };
    match words {
        [] => Err(Problem::MissingArgument {
            what: "the environment",
            usage,
        }),
        [(to, _), ..] if *to == TO_KEYWORD => Err(Problem::MissingArgument {
            what: "the environment",
            usage,
        }),
        [(env, _)] => Ok(rollback(env, None)),
        [(_, _), (to, _)] if *to == TO_KEYWORD => Err(Problem::MissingArgument {
            what: "the commit sha after `to`",
            usage,
        }),
        [(env, _), (to, _), (commit, _)] if *to == TO_KEYWORD => {
            Ok(rollback(env, Some(sha(commit)?)))
        }
        [(env, _), (to, _), (commit, _), (extra, _), ..] if *to == TO_KEYWORD => {
            let commit = sha(commit)?;
            Err(unexpected(extra, rollback(env, Some(commit))))
        }
        // `/rollback prod abc1234`: the keyword is missing.
        [(env, _), (commit, _)] if is_commit_sha(commit) => {
            Err(unexpected(commit, rollback(env, Some(commit))))
        }
        // `/rollback prod too abc1234`: another word where the keyword goes.
        [(env, _), (word, _), (commit, _)] if is_commit_sha(commit) => {
            Err(unexpected(word, rollback(env, Some(commit))))
        }
        [(env, _), (extra, _), ..] => Err(unexpected(extra, rollback(env, None))),
    }
}

/// 7 to 40 hex digits, either case.
pub fn is_commit_sha(word: &str) -> bool {
    (MIN_SHA_LEN..=MAX_SHA_LEN).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whitespace-separated words (Unicode whitespace), each with the byte offset where it ends.
struct Words<'a> {
    text: &'a str,
    position: usize,
}

impl<'a> Words<'a> {
    fn new(text: &'a str) -> Self {
        Words { text, position: 0 }
    }

    /// The first word, if the text starts with one (no leading whitespace), and where it ends.
    fn first(mut self) -> Option<(&'a str, usize)> {
        if self.text.starts_with(char::is_whitespace) {
            return None;
        }
        self.next()
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = (&'a str, usize);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.text[self.position..];
        let start = self.position + rest.find(|c: char| !c.is_whitespace())?;
        let len = self.text[start..]
            .find(char::is_whitespace)
            .unwrap_or(self.text.len() - start);
        self.position = start + len;
        Some((&self.text[start..start + len], start + len))
    }
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of
/// neighbouring characters each cost one.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("promte", "promote"), 1);
        assert_eq!(edit_distance("rpomote", "promote"), 1);
        assert_eq!(edit_distance("lokc", "lock"), 1);
        assert_eq!(edit_distance("hold", "help"), 2);
        assert_eq!(edit_distance("", "help"), 4);
    }

    #[test]
    fn words_report_where_they_end() {
        let words: Vec<(&str, usize)> = Words::new(" prod  a\u{a0}b").collect();
        assert_eq!(words, [("prod", 5), ("a", 8), ("b", 11)]);
        assert!(Words::new(" x").first().is_none());
    }
}
