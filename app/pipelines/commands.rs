//! Comment commands on config-repo pull requests and issues (`issue_comment` `created`).
//!
//! 1. Ignored without a trace: comments by bots (slipway's own replies included), comments
//!    with no command line, and repositories whose default branch has no `.github/slipway.yml`
//!    declaring environments. Edited and deleted comments run nothing.
//! 2. slipway reacts 👀, reads `.github/slipway.yml` at the default branch (never the pull
//!    request's copy) and checks every command line against it. Any line it cannot run (a typo,
//!    a missing argument, an unknown environment, a command that acts on a pull request written
//!    on a plain issue) is answered with what was wrong and the closest valid form; then
//!    nothing in the comment runs. On a plain issue, `/preview` is such a line; the other
//!    commands read only the default branch and run on issues too.
//! 3. Commands other than `/help` need write, maintain or admin permission (GitHub's
//!    collaborator permission, cached for a minute). Without it: a polite refusal, nothing runs.
//! 4. The commands run in order; the first that fails stops the rest. One reply (found again by
//!    its hidden marker, so a retried delivery edits it) says what each did, then slipway
//!    reacts 🚀 when all succeeded or 😕 when one failed.
//!
//! User errors become replies; internal errors that can pass (GitHub 5xx, a failed fetch)
//! are left to the queue's retry, others are logged, answered with a short note and 😕.

use std::sync::Arc;

use super::preview::run_preview;
use super::promote::{self, PromoteRequest};
use super::rollback::{self, RollbackRequest};
use super::PipelineContext;
use crate::commands::permissions::PermissionCache;
use crate::commands::{
    help_reply, parser, replies, Command, CommandError, CommandFailure, CommandLine,
    HelpEnvironment, Place,
};
use crate::config::{self, ConfigRepoConfig, ReadError};
use crate::git::{self, CommitId, LocalRepo, Remote, Token};
use crate::github::{Reaction, RepoRef};
use crate::queue::{Delivery, HandlerError, HandlerRegistry};
use crate::report::Templates;
use crate::store::LockOutcome;
use crate::webhook::IssueCommentEvent;

pub fn register(registry: &mut HandlerRegistry, context: &PipelineContext) {
    let commands = Arc::new(Commands {
        context: context.clone(),
        permissions: PermissionCache::default(),
    });
    registry.on_event(
        Some("created"),
        move |_: Delivery, event: IssueCommentEvent| {
            let commands = commands.clone();
            async move { commands.on_comment(&event).await }
        },
    );
}

/// The command runner of one server: its context and its permission cache.
pub struct Commands {
    context: PipelineContext,
    permissions: PermissionCache,
}

/// One command comment, with what every command of it needs.
struct Session {
    installation_id: i64,
    repo: RepoRef,
    default_branch: String,
    clone_url: String,
    /// The repository's page, for links.
    html_url: Option<String>,
    /// The issue or pull request commented on.
    pull: u64,
    place: Place,
    comment_id: u64,
    author: String,
    mirror: LocalRepo,
    head: CommitId,
    config: ConfigRepoConfig,
}

impl Session {
    /// The command comment's page: `…/pull/7#issuecomment-1` or `…/issues/3#issuecomment-1`.
    fn comment_url(&self) -> Option<String> {
        let kind = match self.place {
            Place::PullRequest => "pull",
            Place::Issue => "issues",
        };
        self.html_url.as_ref().map(|url| {
            format!(
                "{}/{kind}/{}#issuecomment-{}",
                url.trim_end_matches('/'),
                self.pull,
                self.comment_id
            )
        })
    }
}

/// The config repo at its default branch.
enum Loaded {
    NotConfigRepo,
    BrokenConfig(String),
    Config {
        mirror: Box<LocalRepo>,
        head: CommitId,
        config: ConfigRepoConfig,
    },
}

impl Commands {
    async fn on_comment(&self, event: &IssueCommentEvent) -> Result<(), HandlerError> {
        if event.sender.is_bot() || event.comment.user.is_bot() {
            return Ok(());
        }
        let parsed = parser::parse(&event.comment.body);
        if parsed.is_empty() {
            return Ok(());
        }
        let Some(installation_id) = event.installation.map(|i| i.0) else {
            return Ok(());
        };
        let repo: RepoRef = event.repository.full_name.clone();
        let loaded = self
            .load(
                installation_id,
                &event.repository.clone_url,
                &event.repository.default_branch,
            )
            .await?;
        let (mirror, head, config) = match loaded {
            Loaded::NotConfigRepo => return Ok(()),
            Loaded::BrokenConfig(error) => {
                let body = replies::reply(
                    event.comment.id,
                    &[replies::broken_config(
                        Templates::builtin(),
                        &event.repository.default_branch,
                        &error,
                    )?],
                );
                self.react(installation_id, &repo, event.comment.id, Reaction::Eyes)
                    .await?;
                self.post_reply(
                    installation_id,
                    &repo,
                    event.number.0,
                    event.comment.id,
                    &body,
                )
                .await?;
                return self
                    .react(installation_id, &repo, event.comment.id, Reaction::Confused)
                    .await;
            }
            Loaded::Config {
                mirror,
                head,
                config,
            } => (mirror, head, config),
        };
        let session = Session {
            installation_id,
            repo,
            default_branch: event.repository.default_branch.clone(),
            clone_url: event.repository.clone_url.clone(),
            html_url: event.repository.html_url.clone(),
            pull: event.number.0,
            place: if event.on_pull_request {
                Place::PullRequest
            } else {
                Place::Issue
            },
            comment_id: event.comment.id,
            author: event.comment.user.login.clone(),
            mirror: *mirror,
            head,
            config,
        };
        self.run_comment(&session, parsed).await
    }

    async fn run_comment(
        &self,
        session: &Session,
        parsed: Vec<Result<CommandLine, CommandError>>,
    ) -> Result<(), HandlerError> {
        self.react(
            session.installation_id,
            &session.repo,
            session.comment_id,
            Reaction::Eyes,
        )
        .await?;
        let environments: Vec<&str> = session
            .config
            .environments
            .keys()
            .map(String::as_str)
            .collect();
        let (lines, problems): (Vec<_>, Vec<_>) =
            parser::validate_at(parsed, &environments, session.place)
                .into_iter()
                .partition(Result::is_ok);
        let lines: Vec<CommandLine> = lines.into_iter().filter_map(Result::ok).collect();
        let problems: Vec<CommandError> = problems.into_iter().filter_map(Result::err).collect();
        if !problems.is_empty() {
            return self
                .finish(
                    session,
                    &[replies::errors(Templates::builtin(), &problems)?],
                    false,
                )
                .await;
        }

        let needs_write: Vec<&CommandLine> = lines
            .iter()
            .filter(|line| line.command.spec().requires_write)
            .collect();
        if !needs_write.is_empty() {
            let permission = self
                .permissions
                .permission(
                    &self.context.github,
                    session.installation_id,
                    &session.repo,
                    &session.author,
                )
                .await?;
            if !permission.can_write() {
                tracing::info!(repo = %session.repo, user = %session.author, %permission, "command refused");
                let refusal = replies::refusal(
                    Templates::builtin(),
                    &session.author,
                    permission.as_str(),
                    &session.repo.to_string(),
                    &needs_write,
                )?;
                return self.finish(session, &[refusal], false).await;
            }
        }

        let templates = Templates::builtin();
        let mut sections = Vec::new();
        let mut failed = false;
        let mut internal = None;
        for (index, line) in lines.iter().enumerate() {
            tracing::info!(repo = %session.repo, pull = session.pull, user = %session.author, command = %line.command, "running command");
            match self.run(session, &line.command).await {
                Ok(Some(text)) => sections.push(replies::section(templates, line, &text)?),
                Ok(None) => {}
                Err(CommandFailure::User(err)) => {
                    sections.push(replies::section(templates, line, &err.to_string())?);
                    failed = true;
                }
                Err(CommandFailure::Internal(err)) if err.is_transient() => {
                    // Left to the queue: the retry runs the comment again, and every command
                    // is safe to run twice.
                    return Err(err);
                }
                Err(CommandFailure::Internal(err)) => {
                    tracing::error!(repo = %session.repo, command = %line.command, error = %err, "command failed");
                    sections.push(replies::section(
                        templates,
                        line,
                        &replies::internal_error(templates)?,
                    )?);
                    failed = true;
                    internal = Some(err);
                }
            }
            if failed {
                if index + 1 < lines.len() {
                    sections.push(replies::not_run(templates, &lines[index + 1..])?);
                }
                break;
            }
        }
        self.finish(session, &sections, !failed).await?;
        match internal {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// Posts the reply (when there is something to say) and the final reaction.
    async fn finish(
        &self,
        session: &Session,
        sections: &[String],
        succeeded: bool,
    ) -> Result<(), HandlerError> {
        if !sections.is_empty() {
            let body = replies::reply(session.comment_id, sections);
            self.post_reply(
                session.installation_id,
                &session.repo,
                session.pull,
                session.comment_id,
                &body,
            )
            .await?;
        }
        let reaction = if succeeded {
            Reaction::Rocket
        } else {
            Reaction::Confused
        };
        self.react(
            session.installation_id,
            &session.repo,
            session.comment_id,
            reaction,
        )
        .await
    }

    /// Re-runs this pull request's preview so its lock lines show the change just made. Best
    /// effort: the lock itself is done, and a later push or `/preview` refreshes it anyway.
    async fn refresh_preview(&self, session: &Session) {
        if session.place == Place::Issue {
            return;
        }
        let refreshed = run_preview(
            &self.context,
            session.installation_id,
            &session.repo,
            session.pull,
        )
        .await;
        if let Err(err) = refreshed {
            tracing::warn!(error = %err, pull = session.pull, "cannot refresh the preview after a lock change");
        }
    }

    /// Runs one command; `Ok(Some(text))` is what the reply says about it.
    async fn run(
        &self,
        session: &Session,
        command: &Command,
    ) -> Result<Option<String>, CommandFailure> {
        let store = &self.context.store;
        let repository = session.repo.to_string();
        match command {
            Command::Help => {
                let locks = store.environment_locks(&repository).await?;
                let environments: Vec<HelpEnvironment> = session
                    .config
                    .environments
                    .values()
                    .map(|env| HelpEnvironment {
                        name: env.name.clone(),
                        promote_from: env.promote_from.clone(),
                        locked_by: locks
                            .iter()
                            .find(|lock| lock.environment == env.name)
                            .map(|lock| lock.locked_by.clone()),
                    })
                    .collect();
                Ok(Some(help_reply(Templates::builtin(), &environments)?))
            }
            Command::Lock { env, reason } => {
                let outcome = store
                    .lock_environment(&repository, env, &session.author, reason.as_deref())
                    .await?;
                Ok(Some(match outcome {
                    LockOutcome::Locked(lock) => {
                        self.refresh_preview(session).await;
                        replies::locked(Templates::builtin(), &lock)?
                    }
                    LockOutcome::AlreadyLocked(lock) => {
                        replies::already_locked(Templates::builtin(), &lock)?
                    }
                }))
            }
            Command::Unlock { env } => {
                let removed = store.unlock_environment(&repository, env).await?;
                Ok(Some(match removed {
                    Some(lock) => {
                        self.refresh_preview(session).await;
                        replies::unlocked(Templates::builtin(), &lock)?
                    }
                    None => replies::was_not_locked(Templates::builtin(), env)?,
                }))
            }
            Command::Preview => {
                run_preview(
                    &self.context,
                    session.installation_id,
                    &session.repo,
                    session.pull,
                )
                .await?;
                // The preview comment and check run are the answer.
                Ok(None)
            }
            Command::Promote { target, source } => {
                let outcome = promote::promote(
                    &self.context,
                    PromoteRequest {
                        installation_id: session.installation_id,
                        repo: session.repo.clone(),
                        default_branch: session.default_branch.clone(),
                        mirror: session.mirror.clone(),
                        head: session.head,
                        config: session.config.clone(),
                        target: target.clone(),
                        source: source.clone(),
                        requested_by: session.author.clone(),
                        requested_in: session.pull,
                    },
                )
                .await?;
                Ok(Some(outcome.reply(Templates::builtin())?))
            }
            Command::Rollback { env, to } => {
                let outcome = rollback::rollback(
                    &self.context,
                    RollbackRequest {
                        installation_id: session.installation_id,
                        repo: session.repo.clone(),
                        default_branch: session.default_branch.clone(),
                        clone_url: session.clone_url.clone(),
                        html_url: session.html_url.clone(),
                        mirror: session.mirror.clone(),
                        head: session.head,
                        config: session.config.clone(),
                        environment: env.clone(),
                        to: to.clone(),
                        requested_by: session.author.clone(),
                        requested_in: session.pull,
                        comment_url: session.comment_url(),
                    },
                )
                .await?;
                Ok(Some(outcome.reply(Templates::builtin())?))
            }
        }
    }

    /// Fetches the config repo and reads `.github/slipway.yml` at the default branch's head.
    async fn load(
        &self,
        installation_id: i64,
        clone_url: &str,
        default_branch: &str,
    ) -> Result<Loaded, HandlerError> {
        let token = self
            .context
            .github
            .installation_token(installation_id)
            .await?;
        let mirrors = self.context.mirrors.clone();
        let remote = Remote::new(clone_url).with_token(Token::new(token.token));
        let branch = format!("refs/heads/{default_branch}");
        let known = self.context.clusters.clone();
        git::blocking(move || -> Result<Loaded, HandlerError> {
            let mirror = mirrors.fetch(&remote)?;
            let head = mirror.resolve(&branch)?;
            let tree = mirror.tree_at(&head.to_hex())?;
            Ok(match config::read_at(&tree, &known) {
                Ok(parsed) => match parsed.config_repo {
                    Some(config) => Loaded::Config {
                        mirror: Box::new(mirror),
                        head,
                        config,
                    },
                    None => Loaded::NotConfigRepo,
                },
                Err(ReadError::NotFound { .. }) => Loaded::NotConfigRepo,
                Err(err @ ReadError::Source { .. }) => return Err(err.into()),
                Err(err) => Loaded::BrokenConfig(err.to_string()),
            })
        })
        .await
    }

    async fn react(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        comment_id: u64,
        reaction: Reaction,
    ) -> Result<(), HandlerError> {
        self.context
            .github
            .add_reaction(installation_id, repo, comment_id, reaction)
            .await?;
        Ok(())
    }

    /// Creates the reply to `comment_id`, or edits it when an earlier attempt posted it.
    async fn post_reply(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        pull: u64,
        comment_id: u64,
        body: &str,
    ) -> Result<(), HandlerError> {
        let github = &self.context.github;
        let marker = replies::reply_marker(comment_id);
        let existing = github
            .list_issue_comments(installation_id, repo, pull)
            .await?
            .into_iter()
            .find(|comment| comment.is_by_bot() && comment.body.starts_with(&marker));
        match existing {
            Some(comment) if comment.body == body => {}
            Some(comment) => {
                github
                    .update_issue_comment(installation_id, repo, comment.id, body)
                    .await?;
            }
            None => {
                github
                    .create_issue_comment(installation_id, repo, pull, body)
                    .await?;
            }
        }
        Ok(())
    }
}
