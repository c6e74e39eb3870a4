//! What becomes of one environment a change touches: deployed, or refused — and why, in the
//! words the check run and the pull request's comment show. Pure: facts in, a decision out.
//!
//! The order of the checks is the order of the reasons a reader most needs: where the change
//! came from (a fork, or straight to the branch past the approval requirement), whether the
//! environment is locked, whether enough writers approved, whether it renders, and whether
//! the environment's policy allows every object.

use crate::config::Environment;
use crate::store::EnvironmentLock;

use super::affected::AffectedEnvironment;
use super::coverage::Coverage;
use super::gate::ReviewFacts;
use super::report::DeployResult;

/// Where a change came from.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// A merged pull request: its head's fork (if any), its reviews (read only when an
    /// affected environment requires approvals) and whether every commit since the
    /// environment's last deploy came through an approved pull request (checked only for
    /// environments that require approvals, once the merged pull request's own gate passes).
    Merge {
        fork: Option<&'a str>,
        reviews: Option<&'a ReviewFacts>,
        coverage: Option<&'a Coverage>,
    },
    /// A push straight to `branch`, no pull request (so no reviews).
    Push { branch: &'a str },
}

/// What happens to an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Deploy,
    Refuse(DeployResult),
}

/// The decision for `affected`, given the environment's lock and where the change came from.
pub fn decide(
    affected: &AffectedEnvironment,
    lock: Option<&EnvironmentLock>,
    origin: Origin<'_>,
    known: &crate::config::KnownClusters,
) -> Decision {
    let env = &affected.environment;
    // Before anything else: a deploy to a cluster slipway does not know goes nowhere.
    if let Some(message) = known.refusal(&env.cluster) {
        return Decision::Refuse(DeployResult::ApplyFailed {
            object: None,
            message,
        });
    }
    if let Some(sentence) = refused_origin(env, origin) {
        return Decision::Refuse(DeployResult::RefusedByGate { sentence });
    }
    if let Some(lock) = lock {
        return Decision::Refuse(DeployResult::Locked {
            by: lock.locked_by.clone(),
            reason: lock.reason.clone(),
        });
    }
    if let Err(failure) = &affected.render {
        return Decision::Refuse(DeployResult::ApplyFailed {
            object: None,
            message: format!(
                "{} does not render, so nothing was applied: {}",
                failure.context(),
                crate::failure::chain(&failure.error)
            ),
        });
    }
    if !affected.violations.is_empty() {
        return Decision::Refuse(DeployResult::RefusedByPolicy {
            violations: affected.violations.clone(),
        });
    }
    Decision::Deploy
}

/// Why the change may not deploy to `env` because of where it came from or who approved it.
fn refused_origin(env: &Environment, origin: Origin<'_>) -> Option<String> {
    match origin {
        Origin::Merge {
            fork: Some(fork), ..
        } => Some(format!(
            "the change came from the fork {fork}, and slipway deploys nothing from a fork; \
             push the change to a branch of this repository and open a pull request from it"
        )),
        Origin::Merge {
            fork: None,
            reviews,
            coverage,
        } => {
            if env.required_approvals == 0 {
                return None;
            }
            match reviews {
                Some(reviews) => {
                    let gate = reviews.decide(env);
                    if !gate.passes() {
                        return Some(gate.sentence());
                    }
                    match coverage {
                        Some(coverage) => coverage.refusal(env),
                        None => Some(format!(
                            "{} requires every change since its last deploy to come through \
                             an approved pull request, and that could not be checked",
                            env.name
                        )),
                    }
                }
                None => Some(format!(
                    "{} requires {} approval{}, and the reviews could not be read",
                    env.name,
                    env.required_approvals,
                    if env.required_approvals == 1 { "" } else { "s" }
                )),
            }
        }
        Origin::Push { branch } => (env.required_approvals > 0).then(|| {
            format!(
                "the change was pushed straight to {branch}; {} requires {} approval{} of a \
                 pull request, so it deploys only when a reviewed pull request is merged",
                env.name,
                env.required_approvals,
                if env.required_approvals == 1 { "" } else { "s" }
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_config_repo;
    use crate::render::K8sObject;
    use serde_json::json;

    /// The decision of a slipway that knows only `default`.
    fn decide(
        affected: &AffectedEnvironment,
        lock: Option<&EnvironmentLock>,
        origin: Origin<'_>,
    ) -> Decision {
        super::decide(
            affected,
            lock,
            origin,
            &crate::config::KnownClusters::default(),
        )
    }

    fn affected(required: u32) -> AffectedEnvironment {
        let text = format!(
            "environments:\n  prod:\n    path: envs/prod\n    required_approvals: {required}\n"
        );
        let environment = parse_config_repo(&text).unwrap().environments["prod"].clone();
        AffectedEnvironment {
            environment,
            render: Ok(vec![K8sObject {
                value: json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}),
                file: "envs/prod/a.yaml".into(),
                line: 1,
            }]),
            violations: Vec::new(),
        }
    }

    fn lock() -> EnvironmentLock {
        EnvironmentLock {
            repository: "acme/config".into(),
            environment: "prod".into(),
            locked_by: "alice".into(),
            reason: Some("incident".into()),
            locked_at: 0,
        }
    }

    #[test]
    fn an_ungated_merge_deploys() {
        let origin = Origin::Merge {
            fork: None,
            reviews: None,
            coverage: None,
        };
        assert_eq!(decide(&affected(0), None, origin), Decision::Deploy);
    }

    #[test]
    fn a_fork_never_deploys_even_when_ungated() {
        let origin = Origin::Merge {
            fork: Some("mallory/config"),
            reviews: None,
            coverage: None,
        };
        let Decision::Refuse(DeployResult::RefusedByGate { sentence }) =
            decide(&affected(0), None, origin)
        else {
            panic!("a fork deployed");
        };
        assert!(sentence.contains("mallory/config"), "{sentence}");
    }

    #[test]
    fn a_push_to_a_gated_environment_never_deploys() {
        let Decision::Refuse(DeployResult::RefusedByGate { sentence }) =
            decide(&affected(2), None, Origin::Push { branch: "main" })
        else {
            panic!("a direct push deployed a gated environment");
        };
        assert!(sentence.contains("pushed straight to main"), "{sentence}");
        assert!(sentence.contains("2 approvals"), "{sentence}");
    }

    #[test]
    fn a_locked_environment_never_deploys() {
        let decision = decide(&affected(0), Some(&lock()), Origin::Push { branch: "main" });
        assert_eq!(
            decision,
            Decision::Refuse(DeployResult::Locked {
                by: "alice".into(),
                reason: Some("incident".into())
            })
        );
    }

    #[test]
    fn a_gated_merge_without_readable_reviews_is_refused() {
        let origin = Origin::Merge {
            fork: None,
            reviews: None,
            coverage: None,
        };
        assert!(matches!(
            decide(&affected(1), None, origin),
            Decision::Refuse(DeployResult::RefusedByGate { .. })
        ));
    }

    #[test]
    fn an_environment_naming_a_cluster_slipway_does_not_know_never_deploys() {
        // Parsing refuses such a file; an environment that reaches a deploy anyway (a cluster
        // dropped from the known ones since) is refused all the same.
        let mut elsewhere = affected(0);
        elsewhere.environment.cluster = "prod-eu".into();
        let origin = Origin::Merge {
            fork: None,
            reviews: None,
            coverage: None,
        };
        assert_eq!(
            decide(&elsewhere, None, origin),
            Decision::Refuse(DeployResult::ApplyFailed {
                object: None,
                message: "unknown cluster `prod-eu`: this slipway knows `default`".into()
            })
        );
        // A slipway whose settings name `prod-eu` deploys it, and says which it knows otherwise.
        let known = crate::config::KnownClusters::new(["default", "prod-eu"]);
        assert_eq!(
            super::decide(&elsewhere, None, origin, &known),
            Decision::Deploy
        );
        elsewhere.environment.cluster = "prod-us".into();
        assert_eq!(
            super::decide(&elsewhere, None, origin, &known),
            Decision::Refuse(DeployResult::ApplyFailed {
                object: None,
                message: "unknown cluster `prod-us`: this slipway knows `default`, `prod-eu`"
                    .into()
            })
        );
    }

    fn approved() -> ReviewFacts {
        let head = "3f2a1b0c9d8e7f60514253647586970a1b2c3d4e";
        ReviewFacts {
            author: "alice".into(),
            head_sha: head.into(),
            reviews: vec![crate::github::Review {
                id: 1,
                user_login: "bob".into(),
                user_type: "User".into(),
                state: crate::github::ReviewState::Approved,
                commit_id: Some(head.into()),
                submitted_at: Some("2026-12-01T10:00:00Z".into()),
            }],
            permissions: [("bob".to_string(), crate::github::RepoPermission::Write)].into(),
            pushers: Vec::new(),
            requesters: Vec::new(),
            base_changed_at: None,
        }
    }

    #[test]
    fn an_approved_merge_carrying_an_unreviewed_commit_is_refused() {
        let reviews = approved();
        let unreviewed = Coverage::Unreviewed {
            since: "1".repeat(40),
            branch: "main".into(),
            commits: vec![super::super::coverage::UnreviewedCommit {
                sha: "2".repeat(40),
                subject: "pushed straight".into(),
            }],
        };
        let origin = |coverage| Origin::Merge {
            fork: None,
            reviews: Some(&reviews),
            coverage,
        };
        assert_eq!(
            decide(&affected(1), None, origin(Some(&Coverage::Reviewed))),
            Decision::Deploy
        );
        let Decision::Refuse(DeployResult::RefusedByGate { sentence }) =
            decide(&affected(1), None, origin(Some(&unreviewed)))
        else {
            panic!("an unreviewed commit rode along");
        };
        assert!(
            sentence.contains("2222222 \"pushed straight\""),
            "{sentence}"
        );
        assert!(
            matches!(
                decide(&affected(1), None, origin(None)),
                Decision::Refuse(DeployResult::RefusedByGate { .. })
            ),
            "what could not be checked is not deployed"
        );
    }
}
