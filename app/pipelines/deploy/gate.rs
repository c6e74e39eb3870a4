//! The approval gate: whether a pull request's reviews meet an environment's
//! `required_approvals`, and a sentence saying why, for the pull request and the check run.
//!
//! A reviewer counts once, by their latest review that decides something: comments and
//! pending reviews neither approve nor withdraw an approval, so "LGTM, one nit" after an
//! approval leaves it standing. A later change request withdraws it; so does a dismissal,
//! which GitHub records by turning the approving review itself into `DISMISSED`. An approval
//! counts when it was given on the pull request's final head commit (or on any commit, with
//! `allow_stale_approvals`), by someone other than the author, who can write to the
//! repository (write, maintain or admin): the people who could have merged the change
//! themselves.
//!
//! [`decide`] is pure; [`ReviewFacts::fetch`] reads what it needs from GitHub once per pull
//! request, so every environment of a merge is decided from the same reviews.

use std::collections::BTreeMap;
use std::fmt;

use crate::config::Environment;
use crate::github::{GitHub, GitHubError, RepoPermission, RepoRef, Review, ReviewState};

/// How many characters of a commit id the sentence shows.
const SHORT_SHA: usize = 7;

/// Why a reviewer's review did not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotCounted {
    /// The pull request's author approved their own change.
    Author,
    /// The approval was given on an earlier head commit (`None`: GitHub no longer knows which).
    StaleApproval { commit: Option<String> },
    /// The reviewer cannot write to the repository.
    Permission(RepoPermission),
    /// The reviewer's latest decision is a change request.
    ChangesRequested,
    /// The reviewer's latest approval (or change request) was dismissed.
    Dismissed,
}

impl NotCounted {
    /// `@login` and why, as the sentence shows it.
    pub fn describe(&self, login: &str) -> String {
        match self {
            NotCounted::Author => format!("@{login} is the author"),
            NotCounted::StaleApproval { .. } => format!("@{login} approved an older commit"),
            NotCounted::Permission(RepoPermission::None) => format!("@{login} has no access"),
            NotCounted::Permission(permission) => format!("@{login} has {permission} access"),
            NotCounted::ChangesRequested => format!("@{login} requested changes"),
            NotCounted::Dismissed => format!("@{login}'s review was dismissed"),
        }
    }
}

/// What the gate decided for one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateDecision {
    /// The environment's `required_approvals`.
    pub required: u32,
    /// Logins whose approval counts, in the order of their first review.
    pub counted: Vec<String>,
    /// Reviewers whose latest decision does not count, and why, in the same order.
    /// Reviewers who only commented are not listed: they never decided anything.
    pub ignored: Vec<(String, NotCounted)>,
    /// The commit each counted approval was given on (the head, or with
    /// `allow_stale_approvals` perhaps an earlier one), by login.
    pub approved_on: BTreeMap<String, String>,
}

impl GateDecision {
    /// Whether enough approvals count.
    pub fn passes(&self) -> bool {
        self.counted.len() >= self.required as usize
    }

    /// One line for the pull request and the check run: "1 of 2 required approvals: @alice
    /// (approved 3f2a1b0). Not counted: @bob approved an older commit, @carol has read access".
    pub fn sentence(&self) -> String {
        let mut parts = Vec::new();
        let counted = self
            .counted
            .iter()
            .map(|login| match self.approved_on.get(login) {
                Some(commit) => format!("@{login} (approved {})", short(commit)),
                None => format!("@{login}"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let mut head = if self.required == 0 {
            "No approvals required".to_string()
        } else {
            format!(
                "{} of {} required approval{}",
                self.counted.len(),
                self.required,
                if self.required == 1 { "" } else { "s" }
            )
        };
        if !counted.is_empty() {
            if self.required == 0 {
                head.push_str("; approved by");
            } else {
                head.push(':');
            }
            head.push(' ');
            head.push_str(&counted);
        }
        parts.push(head);
        if !self.ignored.is_empty() {
            let ignored = self
                .ignored
                .iter()
                .map(|(login, why)| why.describe(login))
                .collect::<Vec<_>>()
                .join(", ");
            parts.push(format!("Not counted: {ignored}"));
        }
        parts.join(". ")
    }
}

impl fmt::Display for GateDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sentence())
    }
}

fn short(commit: &str) -> &str {
    commit.get(..SHORT_SHA).unwrap_or(commit)
}

/// Each reviewer's latest deciding review, in the order of their first review. Comments,
/// pending reviews and states GitHub may add later decide nothing and are passed over.
pub fn latest_decisions(reviews: &[Review]) -> Vec<&Review> {
    let mut order: Vec<&str> = Vec::new();
    let mut latest: BTreeMap<&str, &Review> = BTreeMap::new();
    for review in reviews {
        let login = review.user_login.as_str();
        if !order.contains(&login) {
            order.push(login);
        }
        let decides = matches!(
            review.state,
            ReviewState::Approved | ReviewState::ChangesRequested | ReviewState::Dismissed
        );
        if decides {
            latest.insert(login, review);
        }
    }
    order
        .into_iter()
        .filter_map(|login| latest.get(login).copied())
        .collect()
}

/// Whether `environment`'s approval requirement is met.
///
/// `reviews` are the pull request's reviews, oldest first (as GitHub lists them); `author`
/// opened it and `head_sha` is its final head commit. `permissions` holds the permission of
/// each reviewer whose latest decision is an approval; a reviewer missing there has none.
pub fn decide(
    environment: &Environment,
    author: &str,
    head_sha: &str,
    reviews: &[Review],
    permissions: &BTreeMap<String, RepoPermission>,
) -> GateDecision {
    let mut decision = GateDecision {
        required: environment.required_approvals,
        counted: Vec::new(),
        ignored: Vec::new(),
        approved_on: BTreeMap::new(),
    };
    for review in latest_decisions(reviews) {
        let login = review.user_login.clone();
        let not_counted = match review.state {
            ReviewState::ChangesRequested => Some(NotCounted::ChangesRequested),
            ReviewState::Dismissed => Some(NotCounted::Dismissed),
            // GitHub refuses an author's approval of their own pull request; an App's token
            // or an older GitHub Enterprise may not, and it must never count. Logins are
            // case-insensitive on GitHub.
            _ if login.eq_ignore_ascii_case(author) => Some(NotCounted::Author),
            _ => {
                let permission = permissions
                    .get(&login)
                    .copied()
                    .unwrap_or(RepoPermission::None);
                let on_head = review
                    .commit_id
                    .as_deref()
                    .is_some_and(|commit| commit.eq_ignore_ascii_case(head_sha));
                if !permission.can_write() {
                    Some(NotCounted::Permission(permission))
                } else if !on_head && !environment.allow_stale_approvals {
                    Some(NotCounted::StaleApproval {
                        commit: review.commit_id.clone(),
                    })
                } else {
                    None
                }
            }
        };
        match not_counted {
            Some(why) => decision.ignored.push((login, why)),
            None => {
                if let Some(commit) = &review.commit_id {
                    decision.approved_on.insert(login.clone(), commit.clone());
                }
                decision.counted.push(login);
            }
        }
    }
    decision
}

/// A pull request's reviews and the permissions of its approving reviewers: everything
/// [`decide`] needs from GitHub, read once for every environment of a merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewFacts {
    pub author: String,
    pub head_sha: String,
    pub reviews: Vec<Review>,
    pub permissions: BTreeMap<String, RepoPermission>,
}

impl ReviewFacts {
    /// Reads the reviews of pull request `number` of `repo`, then the permission of each
    /// reviewer (the author aside) whose latest decision is an approval.
    pub async fn fetch(
        github: &GitHub,
        installation_id: i64,
        repo: &RepoRef,
        number: u64,
        author: &str,
        head_sha: &str,
    ) -> Result<ReviewFacts, GitHubError> {
        let reviews = github.list_reviews(installation_id, repo, number).await?;
        let approvers: Vec<String> = latest_decisions(&reviews)
            .into_iter()
            .filter(|r| r.state == ReviewState::Approved)
            .map(|r| r.user_login.clone())
            .filter(|login| !login.eq_ignore_ascii_case(author))
            .collect();
        let lookups = approvers.iter().map(|login| async move {
            let permission = github
                .collaborator_permission(installation_id, repo, login)
                .await?;
            Ok::<_, GitHubError>((login.clone(), permission))
        });
        let permissions = futures::future::try_join_all(lookups)
            .await?
            .into_iter()
            .collect();
        Ok(ReviewFacts {
            author: author.to_string(),
            head_sha: head_sha.to_string(),
            reviews,
            permissions,
        })
    }

    /// [`decide`] for `environment`.
    pub fn decide(&self, environment: &Environment) -> GateDecision {
        decide(
            environment,
            &self.author,
            &self.head_sha,
            &self.reviews,
            &self.permissions,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_config_repo;

    const HEAD: &str = "3f2a1b0c9d8e7f60514253647586970a1b2c3d4e";
    const OLD: &str = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a291807";

    fn environment(required: u32, allow_stale: bool) -> Environment {
        let text = format!(
            "environments:\n  prod:\n    path: envs/prod\n    required_approvals: {required}\n    allow_stale_approvals: {allow_stale}\n"
        );
        parse_config_repo(&text).unwrap().environments["prod"].clone()
    }

    fn review(id: u64, login: &str, state: &str, commit: &str) -> Review {
        Review {
            id,
            user_login: login.to_string(),
            user_type: "User".to_string(),
            state: ReviewState::from_api(state),
            commit_id: Some(commit.to_string()),
            submitted_at: Some(format!("2026-12-01T10:00:{id:02}Z")),
        }
    }

    fn permissions() -> BTreeMap<String, RepoPermission> {
        [
            ("alice", RepoPermission::Write),
            ("bob", RepoPermission::Admin),
            ("carol", RepoPermission::Read),
            ("dave", RepoPermission::Write),
            ("erin", RepoPermission::Write),
        ]
        .into_iter()
        .map(|(login, permission)| (login.to_string(), permission))
        .collect()
    }

    struct Case {
        name: &'static str,
        required: u32,
        allow_stale: bool,
        /// (login, state, commit) in the order submitted.
        reviews: &'static [(&'static str, &'static str, &'static str)],
        passes: bool,
        sentence: &'static str,
    }

    const CASES: &[Case] = &[
        Case {
            name: "no review, one required",
            required: 1,
            allow_stale: false,
            reviews: &[],
            passes: false,
            sentence: "0 of 1 required approval",
        },
        Case {
            name: "no review, none required",
            required: 0,
            allow_stale: false,
            reviews: &[],
            passes: true,
            sentence: "No approvals required",
        },
        Case {
            name: "one approval of the head",
            required: 1,
            allow_stale: false,
            reviews: &[("alice", "APPROVED", HEAD)],
            passes: true,
            sentence: "1 of 1 required approval: @alice (approved 3f2a1b0)",
        },
        Case {
            name: "two approvals of the head",
            required: 2,
            allow_stale: false,
            reviews: &[("alice", "APPROVED", HEAD), ("bob", "APPROVED", HEAD)],
            passes: true,
            sentence: "2 of 2 required approvals: @alice (approved 3f2a1b0), @bob (approved 3f2a1b0)",
        },
        Case {
            name: "one approval where two are required",
            required: 2,
            allow_stale: false,
            reviews: &[("alice", "APPROVED", HEAD)],
            passes: false,
            sentence: "1 of 2 required approvals: @alice (approved 3f2a1b0)",
        },
        Case {
            name: "the same reviewer approving twice counts once",
            required: 2,
            allow_stale: false,
            reviews: &[("alice", "APPROVED", OLD), ("alice", "APPROVED", HEAD)],
            passes: false,
            sentence: "1 of 2 required approvals: @alice (approved 3f2a1b0)",
        },
        Case {
            name: "self-approval",
            required: 1,
            allow_stale: false,
            reviews: &[("dave", "APPROVED", HEAD)],
            passes: false,
            sentence: "0 of 1 required approval. Not counted: @dave is the author",
        },
        Case {
            name: "stale approval",
            required: 1,
            allow_stale: false,
            reviews: &[("bob", "APPROVED", OLD)],
            passes: false,
            sentence: "0 of 1 required approval. Not counted: @bob approved an older commit",
        },
        Case {
            name: "stale approval with allow_stale_approvals",
            required: 1,
            allow_stale: true,
            reviews: &[("bob", "APPROVED", OLD)],
            passes: true,
            sentence: "1 of 1 required approval: @bob (approved 9e8d7c6)",
        },
        Case {
            name: "dismissed approval",
            required: 1,
            allow_stale: false,
            reviews: &[("alice", "DISMISSED", HEAD)],
            passes: false,
            sentence: "0 of 1 required approval. Not counted: @alice's review was dismissed",
        },
        Case {
            name: "a dismissal after an approval withdraws it",
            required: 1,
            allow_stale: false,
            reviews: &[("alice", "APPROVED", HEAD), ("alice", "DISMISSED", HEAD)],
            passes: false,
            sentence: "0 of 1 required approval. Not counted: @alice's review was dismissed",
        },
        Case {
            name: "reviewer without write access",
            required: 1,
            allow_stale: false,
            reviews: &[("carol", "APPROVED", HEAD)],
            passes: false,
            sentence: "0 of 1 required approval. Not counted: @carol has read access",
        },
        Case {
            name: "reviewer with no access at all",
            required: 1,
            allow_stale: false,
            reviews: &[("mallory", "APPROVED", HEAD)],
            passes: false,
            sentence: "0 of 1 required approval. Not counted: @mallory has no access",
        },
        Case {
            name: "changes requested after an approval",
            required: 1,
            allow_stale: false,
            reviews: &[("bob", "APPROVED", HEAD), ("bob", "CHANGES_REQUESTED", HEAD)],
            passes: false,
            sentence: "0 of 1 required approval. Not counted: @bob requested changes",
        },
        Case {
            name: "an approval after changes requested",
            required: 1,
            allow_stale: false,
            reviews: &[("bob", "CHANGES_REQUESTED", OLD), ("bob", "APPROVED", HEAD)],
            passes: true,
            sentence: "1 of 1 required approval: @bob (approved 3f2a1b0)",
        },
        Case {
            name: "a comment after an approval leaves it standing",
            required: 1,
            allow_stale: false,
            reviews: &[("alice", "APPROVED", HEAD), ("alice", "COMMENTED", HEAD)],
            passes: true,
            sentence: "1 of 1 required approval: @alice (approved 3f2a1b0)",
        },
        Case {
            name: "a pending review after an approval leaves it standing",
            required: 1,
            allow_stale: false,
            reviews: &[("alice", "APPROVED", HEAD), ("alice", "PENDING", HEAD)],
            passes: true,
            sentence: "1 of 1 required approval: @alice (approved 3f2a1b0)",
        },
        Case {
            name: "a reviewer who only commented is not listed",
            required: 1,
            allow_stale: false,
            reviews: &[("erin", "COMMENTED", HEAD)],
            passes: false,
            sentence: "0 of 1 required approval",
        },
        Case {
            name: "approvals when none are required still show",
            required: 0,
            allow_stale: false,
            reviews: &[("alice", "APPROVED", HEAD)],
            passes: true,
            sentence: "No approvals required; approved by @alice (approved 3f2a1b0)",
        },
        Case {
            name: "everything at once, in the order reviewers first reviewed",
            required: 2,
            allow_stale: false,
            reviews: &[
                ("bob", "APPROVED", OLD),
                ("alice", "APPROVED", HEAD),
                ("carol", "APPROVED", HEAD),
                ("dave", "APPROVED", HEAD),
                ("erin", "COMMENTED", HEAD),
            ],
            passes: false,
            sentence: "1 of 2 required approvals: @alice (approved 3f2a1b0). Not counted: @bob approved an older commit, @carol has read access, @dave is the author",
        },
    ];

    #[test]
    fn the_gate_counts_distinct_writers_latest_approvals_of_the_head() {
        let permissions = permissions();
        for case in CASES {
            let reviews: Vec<Review> = case
                .reviews
                .iter()
                .enumerate()
                .map(|(i, (login, state, commit))| review(i as u64 + 1, login, state, commit))
                .collect();
            let env = environment(case.required, case.allow_stale);
            let decision = decide(&env, "dave", HEAD, &reviews, &permissions);
            assert_eq!(
                decision.passes(),
                case.passes,
                "{}: {decision:?}",
                case.name
            );
            assert_eq!(decision.sentence(), case.sentence, "{}", case.name);
            assert_eq!(decision.required, case.required, "{}", case.name);
        }
    }

    #[test]
    fn the_decision_lists_who_counted_and_why_the_others_did_not() {
        let reviews = [
            review(1, "bob", "APPROVED", OLD),
            review(2, "alice", "APPROVED", HEAD),
            review(3, "carol", "APPROVED", HEAD),
            review(4, "Dave", "APPROVED", HEAD),
        ];
        let decision = decide(
            &environment(2, false),
            "dave",
            &HEAD.to_uppercase(),
            &reviews,
            &permissions(),
        );
        assert_eq!(decision.counted, ["alice"]);
        assert_eq!(
            decision.ignored,
            [
                (
                    "bob".to_string(),
                    NotCounted::StaleApproval {
                        commit: Some(OLD.to_string())
                    }
                ),
                (
                    "carol".to_string(),
                    NotCounted::Permission(RepoPermission::Read)
                ),
                ("Dave".to_string(), NotCounted::Author),
            ],
            "logins and commit ids compare without regard to case"
        );
        assert_eq!(decision.approved_on["alice"], HEAD);
    }

    #[test]
    fn an_approval_whose_commit_github_lost_is_stale() {
        let mut lost = review(1, "alice", "APPROVED", HEAD);
        lost.commit_id = None;
        let decision = decide(
            &environment(1, false),
            "dave",
            HEAD,
            &[lost],
            &permissions(),
        );
        assert!(!decision.passes());
        assert_eq!(
            decision.ignored,
            [(
                "alice".to_string(),
                NotCounted::StaleApproval { commit: None }
            )]
        );
    }
}
