//! What a preview tells people: the comment's notes, each environment's status, the check
//! run's conclusion, title, summary and annotations. Pure: built from what was found.

use minijinja::context;

use crate::config::{ConfigError, CONFIG_PATH};
use crate::diff::compare::{EnvironmentOutcome, RenderFailure, Side};
use crate::diff::{Change, EnvironmentDiff};
use crate::github::{Annotation, CheckConclusion, CheckRunOutput};
use crate::policy::Violation;
use crate::render::RenderError;
use crate::report::{fence_for, ReportError, Templates, CHECK_SUMMARY, FAILURE_NOTE, FORK_NOTE};

/// `.github/slipway.yml` that does not parse, at one side.
#[derive(Debug, Clone)]
pub struct ConfigProblem {
    pub side: Side,
    /// How the commit is shown (`commit 3f2a1b0c9d8e`).
    pub commit: String,
    pub error: ConfigError,
    /// Whether the head holds the same file, so its line can be annotated on the head commit.
    pub annotate: bool,
}

/// Everything one preview found.
#[derive(Debug, Default)]
pub struct Findings {
    /// The base's configuration does not parse: no environment could be compared.
    pub base_config: Option<ConfigProblem>,
    /// The change breaks the configuration (environments were still read from the base).
    pub head_config: Option<ConfigProblem>,
    pub outcomes: Vec<EnvironmentOutcome>,
}

impl Findings {
    fn head_failures(&self) -> impl Iterator<Item = &RenderFailure> {
        self.failures().filter(|f| f.side == Side::Head)
    }

    fn failures(&self) -> impl Iterator<Item = &RenderFailure> {
        self.outcomes.iter().filter_map(|outcome| match outcome {
            EnvironmentOutcome::Failed(failure) => Some(failure),
            _ => None,
        })
    }

    /// The head's objects each environment's policy refuses, by environment, in order.
    pub fn violations(&self) -> impl Iterator<Item = (&str, &[Violation])> {
        self.outcomes.iter().filter_map(|outcome| match outcome {
            EnvironmentOutcome::Compared { diff, violations } if !violations.is_empty() => {
                Some((diff.environment.as_str(), violations.as_slice()))
            }
            _ => None,
        })
    }

    /// The objects `environment`'s policy refuses (none when it was not compared).
    pub fn violations_of(&self, environment: &str) -> Vec<Violation> {
        self.violations()
            .find(|(name, _)| *name == environment)
            .map(|(_, violations)| violations.to_vec())
            .unwrap_or_default()
    }

    fn refused_count(&self) -> usize {
        self.violations().map(|(_, v)| v.len()).sum()
    }

    /// `failure` when something of the change does not parse or render, or would not deploy
    /// (objects its environment's policy refuses); `neutral` when only the base does not
    /// render (nothing to compare with); `success` otherwise.
    pub fn conclusion(&self) -> CheckConclusion {
        if self.base_config.is_some()
            || self.head_config.is_some()
            || self.head_failures().next().is_some()
            || self.refused_count() > 0
        {
            CheckConclusion::Failure
        } else if self.failures().next().is_some() {
            CheckConclusion::Neutral
        } else {
            CheckConclusion::Success
        }
    }

    /// The environments to show in the comment: the ones whose render differs or holds
    /// objects its policy refuses; when none does, every one that rendered (as "no changes").
    pub fn shown_environments(&self) -> Vec<EnvironmentDiff> {
        let changed: Vec<EnvironmentDiff> = self
            .outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                EnvironmentOutcome::Compared { diff, violations }
                    if diff.has_changes() || !violations.is_empty() =>
                {
                    Some(diff.clone())
                }
                _ => None,
            })
            .collect();
        if !changed.is_empty() {
            return changed;
        }
        self.outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                EnvironmentOutcome::Compared { diff, .. } => Some(diff.clone()),
                EnvironmentOutcome::Untouched { environment } => Some(EnvironmentDiff {
                    environment: environment.clone(),
                    summary: Vec::new(),
                    objects: Vec::new(),
                }),
                EnvironmentOutcome::Failed(_) => None,
            })
            .collect()
    }

    /// Notes at the top of the comment: the fork notice, then everything that did not parse
    /// or render.
    pub fn notes(
        &self,
        templates: &Templates,
        repository: &str,
        fork: Option<&str>,
    ) -> Result<Vec<String>, ReportError> {
        let mut notes = Vec::new();
        if let Some(fork) = fork {
            notes.push(templates.render(FORK_NOTE, context! { fork, repository })?);
        }
        for problem in [&self.base_config, &self.head_config].into_iter().flatten() {
            let detail = match problem.side {
                Side::Base => format!(
                    "At the base of this pull request ({}). slipway reads the environments from there, so it cannot preview this change until the base is fixed.",
                    problem.commit
                ),
                Side::Head => format!(
                    "In this change ({}). Once merged, slipway could not read the environments: fix it before merging.",
                    problem.commit
                ),
            };
            notes.push(failure_note(
                templates,
                &format!("`{CONFIG_PATH}` does not parse"),
                &detail,
                &problem.error.to_string(),
            )?);
        }
        for failure in self.failures() {
            let detail = match failure.side {
                Side::Head => format!("At the head of this pull request ({}).", failure.commit),
                Side::Base => format!(
                    "At the base of this pull request ({}), so slipway cannot show what this change does to it.",
                    failure.commit
                ),
            };
            notes.push(failure_note(
                templates,
                &format!("Environment `{}` does not render", failure.environment),
                &detail,
                &failure.error.to_string(),
            )?);
        }
        Ok(notes)
    }

    /// Failure annotations on the head commit, at the file and line of each problem there.
    pub fn annotations(&self) -> Vec<Annotation> {
        let mut out = Vec::new();
        for problem in [&self.base_config, &self.head_config].into_iter().flatten() {
            if problem.annotate {
                let mut annotation = Annotation::failure_at(
                    CONFIG_PATH,
                    problem.error.line() as u32,
                    Some(problem.error.column() as u32),
                    problem.error.message(),
                );
                annotation.title = Some(format!("{CONFIG_PATH} does not parse"));
                out.push(annotation);
            }
        }
        for failure in self.head_failures() {
            let title = Some(format!(
                "environment {} does not render",
                failure.environment
            ));
            let annotation =
                match &failure.error {
                    RenderError::At {
                        file,
                        line,
                        column,
                        message,
                    } => Some(Annotation::failure_at(
                        file,
                        *line as u32,
                        Some(*column as u32),
                        message,
                    )),
                    RenderError::KustomizeFailed {
                        kustomization,
                        stderr,
                        ..
                    } => Some(Annotation::failure_at(
                        kustomization,
                        1,
                        None,
                        stderr.trim(),
                    )),
                    RenderError::KustomizeTimeout { kustomization, .. }
                    | RenderError::KustomizeMissing { kustomization } => Some(
                        Annotation::failure_at(kustomization, 1, None, &failure.error.to_string()),
                    ),
                    RenderError::Symlink { path, .. } => Some(Annotation::failure_at(
                        path,
                        1,
                        None,
                        &failure.error.to_string(),
                    )),
                    _ => None,
                };
            if let Some(mut annotation) = annotation {
                annotation.title = title;
                out.push(annotation);
            }
        }
        for (environment, violations) in self.violations() {
            for violation in violations {
                let mut annotation = Annotation::failure_at(
                    &violation.file,
                    violation.line as u32,
                    None,
                    &violation.message,
                );
                annotation.title = Some(format!("refused by the policy of {environment}"));
                out.push(annotation);
            }
        }
        out
    }

    /// The check run's title.
    pub fn title(&self) -> String {
        let failed = self.failures().count();
        if self.base_config.is_some() || self.head_config.is_some() {
            return format!("{CONFIG_PATH} does not parse");
        }
        if failed > 0 {
            return format!(
                "{failed} environment{} {} not render",
                plural(failed),
                if failed == 1 { "does" } else { "do" }
            );
        }
        let refused = self.refused_count();
        if refused > 0 {
            return format!(
                "{refused} object{} refused by environment policy",
                plural(refused)
            );
        }
        let changed = self
            .outcomes
            .iter()
            .filter(
                |o| matches!(o, EnvironmentOutcome::Compared { diff, .. } if diff.has_changes()),
            )
            .count();
        match changed {
            0 => "No changes to the rendered manifests".to_string(),
            n => format!(
                "{n} environment{} change{}",
                plural(n),
                if n == 1 { "s" } else { "" }
            ),
        }
    }

    /// The check run's output: title, summary, the full report as `text` when the comment
    /// had to be cut, and the annotations.
    pub fn check_output(
        &self,
        templates: &Templates,
        fork: Option<&str>,
        parts: usize,
        full_report: Option<String>,
    ) -> Result<CheckRunOutput, ReportError> {
        let environments: Vec<minijinja::Value> = self
            .outcomes
            .iter()
            .map(|outcome| match outcome {
                EnvironmentOutcome::Untouched { environment } => {
                    context! { name => environment, state => "untouched" }
                }
                EnvironmentOutcome::Compared { diff, violations } if diff.has_changes() => context! {
                    name => diff.environment,
                    state => "changed",
                    counts => counts(diff),
                    refused => violations.len(),
                },
                EnvironmentOutcome::Compared { diff, violations } => context! {
                    name => diff.environment,
                    state => "unchanged",
                    refused => violations.len(),
                },
                EnvironmentOutcome::Failed(failure) => context! {
                    name => failure.environment,
                    state => "failed",
                    side => failure.side.as_str(),
                    location => failure.error.location().map(|(file, line, _)| format!("{file}:{line}")),
                },
            })
            .collect();
        let config_error = self
            .base_config
            .as_ref()
            .map(|p| format!("does not parse at the base ({})", p.error))
            .or_else(|| {
                self.head_config
                    .as_ref()
                    .map(|p| format!("does not parse in this change ({})", p.error))
            });
        let summary = templates.render(
            CHECK_SUMMARY,
            context! {
                fork,
                config_error,
                environments,
                parts,
                cut => full_report.is_some(),
            },
        )?;
        Ok(CheckRunOutput {
            title: self.title(),
            summary,
            text: full_report,
            annotations: self.annotations(),
        })
    }
}

fn failure_note(
    templates: &Templates,
    title: &str,
    detail: &str,
    error: &str,
) -> Result<String, ReportError> {
    let error = error.trim_end();
    templates.render(
        FAILURE_NOTE,
        context! { title, detail, error, fence => fence_for(error) },
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `2 changed, 1 added` for one environment.
fn counts(diff: &EnvironmentDiff) -> String {
    let count = |change: Change| diff.objects.iter().filter(|o| o.change == change).count();
    [
        (count(Change::Changed), "changed"),
        (count(Change::Added), "added"),
        (count(Change::Removed), "removed"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, word)| format!("{n} {word}"))
    .collect::<Vec<_>>()
    .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(side: Side, error: RenderError) -> EnvironmentOutcome {
        EnvironmentOutcome::Failed(RenderFailure {
            environment: "dev".into(),
            side,
            commit: "commit 3f2a1b0c9d8e".into(),
            error,
        })
    }

    fn at(file: &str, line: usize) -> RenderError {
        RenderError::At {
            file: file.into(),
            line,
            column: 4,
            message: "mapping values are not allowed here".into(),
        }
    }

    #[test]
    fn a_head_that_does_not_render_fails_with_an_annotation_at_its_line() {
        let findings = Findings {
            outcomes: vec![failure(Side::Head, at("envs/dev/api.yaml", 14))],
            ..Findings::default()
        };
        assert_eq!(findings.conclusion(), CheckConclusion::Failure);
        assert_eq!(findings.title(), "1 environment does not render");
        let annotations = findings.annotations();
        assert_eq!(annotations.len(), 1);
        assert_eq!(annotations[0].path, "envs/dev/api.yaml");
        assert_eq!(annotations[0].start_line, 14);
        assert_eq!(annotations[0].start_column, Some(4));
        assert_eq!(
            annotations[0].message,
            "mapping values are not allowed here"
        );
    }

    #[test]
    fn a_base_that_does_not_render_is_neutral_and_not_annotated() {
        let findings = Findings {
            outcomes: vec![failure(Side::Base, at("envs/dev/api.yaml", 2))],
            ..Findings::default()
        };
        assert_eq!(findings.conclusion(), CheckConclusion::Neutral);
        assert!(findings.annotations().is_empty());
        let notes = findings
            .notes(&Templates::embedded(), "acme/config", None)
            .unwrap();
        assert_eq!(notes.len(), 1);
        assert!(notes[0].starts_with("### Environment `dev` does not render"));
        assert!(notes[0].contains("At the base of this pull request"));
    }

    #[test]
    fn a_refused_object_fails_with_an_annotation_at_its_line() {
        let violation = Violation {
            object: crate::render::ObjectKey {
                group: String::new(),
                kind: "ConfigMap".into(),
                namespace: Some("kube-system".into()),
                name: "x".into(),
            },
            file: "envs/dev/x.yaml".into(),
            line: 6,
            message: "ConfigMap kube-system/x is in namespace kube-system, outside the namespaces dev may use (team-dev)".into(),
        };
        let findings = Findings {
            outcomes: vec![EnvironmentOutcome::Compared {
                diff: crate::diff::diff_environment("dev", &[], &[]),
                violations: vec![violation.clone()],
            }],
            ..Findings::default()
        };
        assert_eq!(findings.conclusion(), CheckConclusion::Failure);
        assert_eq!(findings.title(), "1 object refused by environment policy");
        assert_eq!(findings.shown_environments()[0].environment, "dev");
        assert_eq!(findings.violations_of("dev"), [violation]);
        let annotations = findings.annotations();
        assert_eq!(annotations.len(), 1);
        assert_eq!(annotations[0].path, "envs/dev/x.yaml");
        assert_eq!(annotations[0].start_line, 6);
        assert_eq!(
            annotations[0].title.as_deref(),
            Some("refused by the policy of dev")
        );
    }

    #[test]
    fn nothing_compared_and_nothing_changed_is_success_with_no_changes() {
        let findings = Findings {
            outcomes: vec![EnvironmentOutcome::Untouched {
                environment: "prod".into(),
            }],
            ..Findings::default()
        };
        assert_eq!(findings.conclusion(), CheckConclusion::Success);
        assert_eq!(findings.title(), "No changes to the rendered manifests");
        assert_eq!(findings.shown_environments()[0].environment, "prod");
    }
}
