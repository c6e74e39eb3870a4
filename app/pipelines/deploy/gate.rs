//! The approval gate: whether a pull request's reviews meet an environment's
//! `required_approvals`, and a sentence saying why, for the pull request and the check run.
//!
//! A reviewer counts once, by their latest review that decides something: comments and
//! pending reviews neither approve nor withdraw an approval, so "LGTM, one nit" after an
//! approval leaves it standing. A later change request withdraws it; so does a dismissal,
//! which GitHub records by turning the approving review itself into `DISMISSED`. An approval
//! counts when it was given on the pull request's final head commit (or on any commit, with
//! `allow_stale_approvals`), after the pull request's base branch last changed, by someone
//! who can write to the repository (write, maintain or admin): the people who could have
//! merged the change themselves. Nobody approves their own code: the author, anyone who
//! pushed to the head, and whoever caused slipway to open the pull request do not count.
//!
//! [`decide`] is pure; [`ReviewFacts::fetch`] reads what it needs from GitHub once per pull
//! request, so every environment of a merge is decided from the same reviews.

use std::collections::BTreeMap;
use std::fmt;

use crate::config::Environment;
use crate::github::{GitHub, GitHubError, RepoPermission, RepoRef, Review, ReviewState};
use crate::store::PullParticipants;

/// How many characters of a commit id the sentence shows.
const SHORT_SHA: usize = 7;

/// Why a reviewer's review did not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotCounted {
    /// The pull request's author approved their own change.
    Author,
    /// The reviewer pushed commits to the pull request's head: their own code.
    Pusher,
    /// The reviewer's push or comment made slipway open the pull request.
    Requester,
    /// The approval was given before the pull request's base branch last changed.
    OtherBase,
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
            NotCounted::Pusher => format!("@{login} pushed to the pull request"),
            NotCounted::Requester => format!("@{login} requested the change"),
            NotCounted::OtherBase => {
                format!("@{login} approved before the base branch changed")
            }
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

/// Whether `environment`'s approval requirement is met by the reviews in `facts`.
pub fn decide(environment: &Environment, facts: &ReviewFacts) -> GateDecision {
    let mut decision = GateDecision {
        required: environment.required_approvals,
        counted: Vec::new(),
        ignored: Vec::new(),
        approved_on: BTreeMap::new(),
    };
    let among =
        |logins: &[String], login: &str| logins.iter().any(|l| l.eq_ignore_ascii_case(login));
    for review in latest_decisions(&facts.reviews) {
        let login = review.user_login.clone();
        let not_counted = match review.state {
            ReviewState::ChangesRequested => Some(NotCounted::ChangesRequested),
            ReviewState::Dismissed => Some(NotCounted::Dismissed),
            // GitHub refuses an author's approval of their own pull request; an App's token
            // or an older GitHub Enterprise may not, and it must never count. Logins are
            // case-insensitive on GitHub.
            _ if login.eq_ignore_ascii_case(&facts.author) => Some(NotCounted::Author),
            _ if among(&facts.requesters, &login) => Some(NotCounted::Requester),
            // Stricter than GitHub's "most recent reviewable push": any pusher, not the last.
            _ if among(&facts.pushers, &login) => Some(NotCounted::Pusher),
            _ if !after_base_change(review, facts.base_changed_at) => Some(NotCounted::OtherBase),
            _ => {
                let permission = facts
                    .permissions
                    .get(&login)
                    .copied()
                    .unwrap_or(RepoPermission::None);
                let on_head = review
                    .commit_id
                    .as_deref()
                    .is_some_and(|commit| commit.eq_ignore_ascii_case(&facts.head_sha));
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

/// Whether `review` was submitted after the base change at `changed_at` (Unix milliseconds).
/// GitHub gives both to the second: a review in the same second as the change, or one whose
/// time cannot be read, is taken as given before it.
fn after_base_change(review: &Review, changed_at: Option<i64>) -> bool {
    let Some(changed_at) = changed_at else {
        return true;
    };
    review
        .submitted_at
        .as_deref()
        .and_then(rfc3339_millis)
        .is_some_and(|submitted| submitted > changed_at)
}

/// Unix milliseconds of an RFC 3339 time as GitHub writes them.
pub fn rfc3339_millis(text: &str) -> Option<i64> {
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

/// A pull request's reviews and the permissions of its approving reviewers: everything
/// [`decide`] needs from GitHub, read once for every environment of a merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewFacts {
    pub author: String,
    pub head_sha: String,
    pub reviews: Vec<Review>,
    pub permissions: BTreeMap<String, RepoPermission>,
    /// Everyone who pushed to the head, as slipway recorded it.
    pub pushers: Vec<String>,
    /// Whoever caused slipway to open the pull request.
    pub requesters: Vec<String>,
    /// When the base branch last changed (Unix milliseconds).
    pub base_changed_at: Option<i64>,
}

impl ReviewFacts {
    /// Reads the reviews of pull request `number` of `repo`, then the permission of each
    /// reviewer (the author aside) whose latest decision is an approval; `participants` is
    /// what slipway recorded of the pull request.
    pub async fn fetch(
        github: &GitHub,
        installation_id: i64,
        repo: &RepoRef,
        number: u64,
        author: &str,
        head_sha: &str,
        participants: PullParticipants,
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
            pushers: participants.pushers,
            requesters: participants.requesters,
            base_changed_at: participants.base_changed_at,
        })
    }

    /// [`decide`] for `environment`.
    pub fn decide(&self, environment: &Environment) -> GateDecision {
        decide(environment, self)
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

    fn facts(
        author: &str,
        head: &str,
        reviews: Vec<Review>,
        permissions: &BTreeMap<String, RepoPermission>,
    ) -> ReviewFacts {
        ReviewFacts {
            author: author.to_string(),
            head_sha: head.to_string(),
            reviews,
            permissions: permissions.clone(),
            pushers: Vec::new(),
            requesters: Vec::new(),
            base_changed_at: None,
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
            let decision = decide(&env, &facts("dave", HEAD, reviews, &permissions));
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
            &facts(
                "dave",
                &HEAD.to_uppercase(),
                reviews.to_vec(),
                &permissions(),
            ),
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
            &facts("dave", HEAD, vec![lost], &permissions()),
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

    #[test]
    fn nobody_approves_code_they_pushed_or_a_change_they_requested() {
        let mut facts = facts(
            "dave",
            HEAD,
            vec![
                review(1, "alice", "APPROVED", HEAD),
                review(2, "Bob", "APPROVED", HEAD),
                review(3, "erin", "APPROVED", HEAD),
            ],
            &permissions(),
        );
        facts.pushers = vec!["dave".into(), "alice".into()];
        facts.requesters = vec!["bob".into()];
        let decision = decide(&environment(1, false), &facts);
        assert!(decision.passes());
        assert_eq!(decision.counted, ["erin"]);
        assert_eq!(
            decision.sentence(),
            "1 of 1 required approval: @erin (approved 3f2a1b0). Not counted: \
             @alice pushed to the pull request, @Bob requested the change"
        );
    }

    #[test]
    fn approvals_given_before_the_base_changed_do_not_count() {
        // review() submits at 2026-12-01T10:00:<id>Z.
        let changed_at = rfc3339_millis("2026-12-01T10:00:02Z").unwrap();
        let mut facts = facts(
            "dave",
            HEAD,
            vec![
                review(1, "alice", "APPROVED", HEAD),
                review(2, "bob", "APPROVED", HEAD),
                review(3, "erin", "APPROVED", HEAD),
            ],
            &permissions(),
        );
        facts.base_changed_at = Some(changed_at);
        let decision = decide(&environment(2, false), &facts);
        assert_eq!(
            decision.counted,
            ["erin"],
            "the same second counts as before"
        );
        assert_eq!(
            decision.sentence(),
            "1 of 2 required approvals: @erin (approved 3f2a1b0). Not counted: \
             @alice approved before the base branch changed, \
             @bob approved before the base branch changed"
        );
    }
}
