//! Unreviewed content never rides along: an environment that requires approvals deploys a
//! commit only when every commit between its last deployed commit and that one that brought
//! anything to the environment (its entry in `.github/slipway.yml`, or a file its render
//! reads) came through an approved pull request — a commit of (or the merge of) a pull request merged into the
//! default branch whose reviews meet the environment's gate, or a commit reachable from the
//! approved head of such a pull request (its reviewers saw it in the preview).
//!
//! Without this, a commit pushed straight to the default branch — refused for the gated
//! environment when pushed — would deploy with the next approved merge, and so would a pull
//! request merged into another branch that was then pushed to the default branch.
//!
//! [`Coverage`] and its sentence are pure; [`Deploys::coverage`] walks the history and asks
//! GitHub which pull requests each commit belongs to.

use std::collections::BTreeMap;

use crate::config::Environment;
use crate::diff::compare;
use crate::git::{self, CommitId, LocalRepo};
use crate::github::PullRequest;
use crate::queue::HandlerError;
use crate::webhook::Repository;

use super::gate::ReviewFacts;
use super::Deploys;

/// How many commits since the last deploy slipway checks one by one; past it the deploy is
/// refused rather than half-checked.
pub const MAX_WALK: usize = 250;
/// How many unreviewed commits the sentence names.
const SHOWN: usize = 5;
/// How many characters of a subject the sentence shows.
const SUBJECT_CHARS: usize = 60;

/// A commit that no approved pull request brought in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreviewedCommit {
    pub sha: String,
    pub subject: String,
}

/// Whether what a deploy carries was reviewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    /// Every commit since `since` came through an approved pull request.
    Reviewed,
    /// These commits since `since` (the last deployed commit, or the branch before the
    /// change when the environment never deployed) did not, newest first.
    Unreviewed {
        since: String,
        branch: String,
        commits: Vec<UnreviewedCommit>,
    },
    /// More than [`MAX_WALK`] commits lie between `since` and the commit to deploy.
    TooMany { since: String },
}

impl Coverage {
    /// Why `env` may not deploy; `None` when everything was reviewed.
    pub fn refusal(&self, env: &Environment) -> Option<String> {
        match self {
            Coverage::Reviewed => None,
            Coverage::TooMany { since } => Some(format!(
                "more than {MAX_WALK} commits lie between the last deploy of {} ({}) and this \
                 commit: too many to check that each came through an approved pull request, so \
                 nothing was deployed",
                env.name,
                short(since)
            )),
            Coverage::Unreviewed {
                since,
                branch,
                commits,
            } => {
                let mut named: Vec<String> = commits
                    .iter()
                    .take(SHOWN)
                    .map(|c| format!("{} \"{}\"", short(&c.sha), subject(&c.subject)))
                    .collect();
                if commits.len() > SHOWN {
                    named.push(format!("and {} more", commits.len() - SHOWN));
                }
                let count = commits.len();
                Some(format!(
                    "{count} commit{} since the last deploy of {} ({}) did not come through an \
                     approved pull request: {}. To deploy {them}, update the pull request's \
                     branch from {branch} so its preview shows {them}, get it approved and \
                     merge it",
                    if count == 1 { "" } else { "s" },
                    env.name,
                    short(since),
                    named.join(", "),
                    them = if count == 1 { "it" } else { "them" },
                ))
            }
        }
    }
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// A subject as the sentence shows it: one line, and none of the characters that could
/// break out of its quotes or the comment's table, or into HTML and links (whoever pushed
/// the commit wrote it).
fn subject(text: &str) -> String {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| {
            if matches!(c, '`' | '"' | '<' | '>' | '|' | '[' | ']' | '\\') {
                '\''
            } else {
                c
            }
        })
        .collect();
    if clean.chars().count() > SUBJECT_CHARS {
        let cut: String = clean.chars().take(SUBJECT_CHARS).collect();
        format!("{cut}…")
    } else {
        clean
    }
}

/// What [`Deploys::coverage`] checks: `since..to` of `repository`, for `env`.
#[derive(Clone, Copy)]
pub struct CoverageQuery<'a> {
    pub installation_id: i64,
    pub repository: &'a Repository,
    pub mirror: &'a LocalRepo,
    pub env: &'a Environment,
    /// The environment's last deployed commit (or the branch before the push).
    pub since: CommitId,
    /// The commit to deploy.
    pub to: CommitId,
}

/// The pull request a push merged, with its review facts, as [`Deploys::coverage`] needs it.
pub struct MergedPull<'a> {
    pub pull: &'a PullRequest,
    pub reviews: &'a ReviewFacts,
}

/// Whether `commit` brought anything to environment `name`: it differs there from one of its
/// parents (a root commit that declares it does). A commit that leaves the environment as
/// every parent had it — an image bump of another environment, say — cannot carry content
/// into it, so its review is not this environment's concern. Every parent, not only the
/// first: a merge whose first parent is an old commit would otherwise bring old content back
/// unseen.
fn touches(repo: &LocalRepo, commit: &CommitId, name: &str) -> Result<bool, crate::git::GitError> {
    let parents = repo.parents(commit)?;
    let rev = commit.to_hex();
    if parents.is_empty() {
        let tree = repo.tree_at(&rev)?;
        return Ok(!matches!(
            crate::config::read_config_repo_at(&tree).map(|c| c.environment(name).is_none()),
            Ok(true)
        ));
    }
    for parent in parents {
        if !compare::environment_unchanged(repo, &rev, &parent.to_hex(), name)? {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Deploys {
    /// Whether every commit in `since..to` came through a pull request merged into
    /// `repository`'s default branch that meets `env`'s gate (see the module's description).
    /// `merged` is the pull request `to` merged, if any: its reviews are already read.
    pub(super) async fn coverage(
        &self,
        query: CoverageQuery<'_>,
        merged: Option<MergedPull<'_>>,
    ) -> Result<Coverage, HandlerError> {
        let CoverageQuery {
            installation_id,
            repository,
            mirror,
            env,
            since,
            to,
        } = query;
        let (reader, name) = (mirror.clone(), env.name.clone());
        let walked = git::blocking(move || -> Result<_, HandlerError> {
            let (commits, more) = reader.commits_between(&since, &to, MAX_WALK)?;
            if more {
                return Ok(None);
            }
            let mut touching = Vec::new();
            for (commit, subject) in commits {
                if touches(&reader, &commit, &name)? {
                    touching.push((commit, subject));
                }
            }
            Ok(Some(touching))
        })
        .await?;
        let Some(commits) = walked else {
            return Ok(Coverage::TooMany {
                since: since.to_hex(),
            });
        };
        let github = &self.inner.github;
        let default_branch = &repository.default_branch;
        // Pull requests decided for `env`, by number: whether their gate passes.
        let mut decided: BTreeMap<u64, bool> = BTreeMap::new();
        let mut approved_heads: Vec<CommitId> = Vec::new();
        if let Some(merged) = &merged {
            let passes = merged.reviews.decide(env).passes();
            decided.insert(merged.pull.number, passes);
            if passes {
                approved_heads.extend(
                    self.approved_head(installation_id, repository, mirror, merged.pull)
                        .await?,
                );
            }
        }
        let mut unreviewed = Vec::new();
        for (commit, subject) in commits {
            if self.reachable(mirror, &commit, &approved_heads).await? {
                continue;
            }
            let pulls = github
                .pulls_of_commit(installation_id, &repository.full_name, &commit.to_hex())
                .await?;
            let mut covered = false;
            for pull in pulls
                .iter()
                .filter(|p| p.merged && p.base.ref_name == *default_branch && !p.is_fork())
            {
                let passes = match decided.get(&pull.number) {
                    Some(passes) => *passes,
                    None => {
                        let participants = self
                            .inner
                            .store
                            .pull_participants(&repository.full_name.to_string(), pull.number)
                            .await?;
                        let facts = ReviewFacts::fetch(
                            github,
                            installation_id,
                            &repository.full_name,
                            pull.number,
                            &pull.user_login,
                            &pull.head.sha,
                            participants,
                        )
                        .await?;
                        let passes = facts.decide(env).passes();
                        decided.insert(pull.number, passes);
                        if passes {
                            approved_heads.extend(
                                self.approved_head(installation_id, repository, mirror, pull)
                                    .await?,
                            );
                        }
                        passes
                    }
                };
                if passes {
                    covered = true;
                    break;
                }
            }
            if !covered {
                unreviewed.push(UnreviewedCommit {
                    sha: commit.to_hex(),
                    subject,
                });
            }
        }
        if unreviewed.is_empty() {
            return Ok(Coverage::Reviewed);
        }
        Ok(Coverage::Unreviewed {
            since: since.to_hex(),
            branch: default_branch.clone(),
            commits: unreviewed,
        })
    }

    /// Whether `commit` is one of `heads` or an ancestor of one.
    async fn reachable(
        &self,
        mirror: &LocalRepo,
        commit: &CommitId,
        heads: &[CommitId],
    ) -> Result<bool, HandlerError> {
        if heads.is_empty() {
            return Ok(false);
        }
        let (mirror, commit, heads) = (mirror.clone(), *commit, heads.to_vec());
        git::blocking(move || -> Result<bool, HandlerError> {
            for head in &heads {
                if mirror.is_ancestor(&commit, head)? {
                    return Ok(true);
                }
            }
            Ok(false)
        })
        .await
    }

    /// The approved head of `pull` in the mirror, fetched from `refs/pull/N/head` when the
    /// mirror lacks it (a squashed or rebased pull request's head is on no branch);
    /// `None` when GitHub no longer has it: its commits then need their own association.
    async fn approved_head(
        &self,
        installation_id: i64,
        repository: &Repository,
        mirror: &LocalRepo,
        pull: &PullRequest,
    ) -> Result<Option<CommitId>, HandlerError> {
        let Ok(head) = pull.head.sha.parse::<CommitId>() else {
            return Ok(None);
        };
        if mirror.has_commit(&head) {
            return Ok(Some(head));
        }
        let token = self
            .inner
            .github
            .installation_token(installation_id)
            .await?;
        let refspec = format!("+refs/pull/{0}/head:refs/pull/{0}/head", pull.number);
        let remote = git::Remote::new(&repository.clone_url)
            .with_token(git::Token::new(token.token))
            .with_refspecs([refspec]);
        let mirrors = self.inner.mirrors.clone();
        let fetched =
            git::blocking(move || -> Result<_, HandlerError> { Ok(mirrors.fetch(&remote)) })
                .await?;
        match fetched {
            Ok(mirror) if mirror.has_commit(&head) => Ok(Some(head)),
            Ok(_) => Ok(None),
            Err(err) => {
                tracing::warn!(pull = pull.number, error = %err, "the approved head of a pull request could not be fetched: its commits are checked one by one");
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_config_repo;

    fn prod() -> Environment {
        parse_config_repo(
            "environments:\n  prod:\n    path: envs/prod\n    required_approvals: 1\n",
        )
        .unwrap()
        .environments["prod"]
            .clone()
    }

    fn commit(n: usize) -> UnreviewedCommit {
        UnreviewedCommit {
            sha: format!("{n:07}{}", "a".repeat(33)),
            subject: format!("change {n}"),
        }
    }

    #[test]
    fn reviewed_content_is_no_refusal() {
        assert_eq!(Coverage::Reviewed.refusal(&prod()), None);
    }

    #[test]
    fn the_refusal_names_the_unreviewed_commits_and_the_way_out() {
        let coverage = Coverage::Unreviewed {
            since: "1234567".repeat(5) + "12345",
            branch: "main".into(),
            commits: vec![UnreviewedCommit {
                sha: "abcdef0".repeat(5) + "abcde",
                subject: "scale `api` to <b>0</b> | [x](y)\nsecond line".into(),
            }],
        };
        assert_eq!(
            coverage.refusal(&prod()).unwrap(),
            "1 commit since the last deploy of prod (1234567) did not come through an approved \
             pull request: abcdef0 \"scale 'api' to 'b'0'/b' ' 'x'(y)second line\". To deploy it, update \
             the pull request's branch from main so its preview shows it, get it approved and \
             merge it"
        );
    }

    #[test]
    fn many_unreviewed_commits_are_capped() {
        let coverage = Coverage::Unreviewed {
            since: "0".repeat(40),
            branch: "main".into(),
            commits: (1..=8).map(commit).collect(),
        };
        let sentence = coverage.refusal(&prod()).unwrap();
        assert!(sentence.starts_with("8 commits since"), "{sentence}");
        assert!(
            sentence.contains("0000005 \"change 5\", and 3 more."),
            "{sentence}"
        );
        assert!(!sentence.contains("change 6"), "{sentence}");
    }

    #[test]
    fn too_long_a_history_is_refused_saying_so() {
        let sentence = Coverage::TooMany {
            since: "9".repeat(40),
        }
        .refusal(&prod())
        .unwrap();
        assert!(sentence.contains("more than 250 commits"), "{sentence}");
        assert!(sentence.contains("(9999999)"), "{sentence}");
    }
}
