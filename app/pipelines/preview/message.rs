//! What a preview tells people: which notes the comment carries, each environment's status,
//! the check run's conclusion and annotations. Pure: decided from what was found, worded by
//! [`crate::report::preview`].

use crate::config::{ConfigErrors, CONFIG_PATH};
use crate::diff::compare::{EnvironmentOutcome, RenderFailure, Side};
use crate::diff::{Change, EnvironmentDiff};
use crate::github::{Annotation, CheckConclusion, CheckRunOutput};
use crate::policy::Violation;
use crate::render::RenderError;
use crate::report::preview::{
    self as text, AnnotationProblem, Membership, Summary, SummaryLine, SummaryState, TitleCounts,
};
use crate::report::{ReportError, Templates};

/// `.github/slipway.yml` that does not parse, at one side.
#[derive(Debug, Clone)]
pub struct ConfigProblem {
    pub side: Side,
    /// How the commit is shown (`commit 3f2a1b0c9d8e`).
    pub commit: String,
    /// Every error of the file, in file order.
    pub error: ConfigErrors,
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
    /// Helm environments whose chart reads the cluster with `lookup` at the head, which
    /// renders as empty here ([`charts_reading_the_cluster`]).
    pub lookups: Vec<ChartLookup>,
    /// Environments the change adds to or removes from `.github/slipway.yml`, in name order.
    pub membership: Vec<(String, Membership)>,
}

/// A Helm environment whose chart calls `lookup`, and the templates that do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartLookup {
    pub environment: String,
    pub templates: Vec<String>,
}

/// The Helm environments of `environments` whose chart at `head` calls `lookup`: a preview
/// (like `helm template`) has no cluster to read, so those calls render as empty.
pub fn charts_reading_the_cluster(
    head: &dyn crate::render::TreeSource,
    environments: &[crate::config::Environment],
) -> Vec<ChartLookup> {
    environments
        .iter()
        .filter(|env| crate::render::is_helm_environment(head, env))
        .filter_map(|env| {
            let templates = crate::render::charts_using_lookup(head, &env.path);
            (!templates.is_empty()).then(|| ChartLookup {
                environment: env.name.clone(),
                templates,
            })
        })
        .collect()
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
            notes.push(text::fork_note(templates, fork, repository)?);
        }
        for problem in [&self.base_config, &self.head_config].into_iter().flatten() {
            notes.push(text::config_note(
                templates,
                problem.side,
                &problem.commit,
                &problem.error.to_string(),
            )?);
        }
        for (environment, membership) in &self.membership {
            notes.push(text::membership_note(templates, environment, *membership)?);
        }
        for failure in self.failures() {
            notes.push(text::render_note(
                templates,
                &failure.environment,
                failure.side,
                &failure.commit,
                &failure.error.to_string(),
            )?);
        }
        // Only where the report shows the chart's objects: an unchanged environment's note
        // would repeat on every pull request.
        let changed = |env: &str| {
            self.outcomes.iter().any(|outcome| {
                matches!(outcome, EnvironmentOutcome::Compared { diff, .. }
                    if diff.environment == env && diff.has_changes())
            })
        };
        for lookup in self.lookups.iter().filter(|l| changed(&l.environment)) {
            notes.push(text::lookup_note(
                templates,
                &lookup.environment,
                &lookup.templates,
            )?);
        }
        Ok(notes)
    }

    /// Failure annotations on the head commit, at the file and line of each problem there.
    pub fn annotations(&self, templates: &Templates) -> Result<Vec<Annotation>, ReportError> {
        let mut out = Vec::new();
        for problem in [&self.base_config, &self.head_config].into_iter().flatten() {
            if !problem.annotate {
                continue;
            }
            for error in &problem.error {
                let mut annotation = Annotation::failure_at(
                    CONFIG_PATH,
                    error.line() as u32,
                    Some(error.column() as u32),
                    error.message(),
                );
                annotation.title = Some(text::annotation_title(
                    templates,
                    AnnotationProblem::Config,
                )?);
                out.push(annotation);
            }
        }
        for failure in self.head_failures() {
            let title = Some(text::annotation_title(
                templates,
                AnnotationProblem::Render(&failure.environment),
            )?);
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
                annotation.title = Some(text::annotation_title(
                    templates,
                    AnnotationProblem::Refused(environment),
                )?);
                out.push(annotation);
            }
        }
        Ok(out)
    }

    /// The check run's title.
    pub fn title(&self, templates: &Templates) -> Result<String, ReportError> {
        let changed = self
            .outcomes
            .iter()
            .filter(
                |o| matches!(o, EnvironmentOutcome::Compared { diff, .. } if diff.has_changes()),
            )
            .count();
        let counts = TitleCounts {
            config_broken: self.base_config.is_some() || self.head_config.is_some(),
            failed: self.failures().count(),
            refused: self.refused_count(),
            changed,
        };
        text::check_title(templates, &counts)
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
        let environments = self
            .outcomes
            .iter()
            .map(|outcome| SummaryLine {
                environment: outcome.environment().to_owned(),
                state: match outcome {
                    EnvironmentOutcome::Untouched { .. } => SummaryState::Untouched,
                    EnvironmentOutcome::Compared { diff, violations } => {
                        let count = |change: Change| {
                            diff.objects.iter().filter(|o| o.change == change).count()
                        };
                        SummaryState::Compared {
                            changed: count(Change::Changed),
                            added: count(Change::Added),
                            removed: count(Change::Removed),
                            refused: violations.len(),
                        }
                    }
                    EnvironmentOutcome::Failed(failure) => SummaryState::Failed {
                        side: failure.side,
                        location: failure
                            .error
                            .location()
                            .map(|(file, line, _)| (file.to_owned(), line)),
                    },
                },
            })
            .collect();
        let config = [&self.base_config, &self.head_config]
            .into_iter()
            .flatten()
            .next()
            .map(|problem| (problem.side, first_of(&problem.error)));
        let summary = text::check_summary(
            templates,
            &Summary {
                fork,
                config,
                environments,
                parts,
                cut: full_report.is_some(),
            },
        )?;
        Ok(CheckRunOutput {
            title: self.title(templates)?,
            summary,
            text: full_report,
            annotations: self.annotations(templates)?,
        })
    }
}

/// The first error of a file, and how many more there are: the summary stays one line, the
/// comment and the annotations show them all.
fn first_of(errors: &ConfigErrors) -> String {
    match errors.len() {
        1 => errors.first().to_string(),
        n => format!("{}; and {} more", errors.first(), n - 1),
    }
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
        let templates = Templates::embedded();
        assert_eq!(
            findings.title(&templates).unwrap(),
            "1 environment does not render"
        );
        let annotations = findings.annotations(&templates).unwrap();
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
        assert!(findings
            .annotations(&Templates::embedded())
            .unwrap()
            .is_empty());
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
                diff: crate::diff::diff_environment(
                    "dev",
                    &[],
                    &[],
                    &crate::diff::FingerprintKey::from_bytes([7; 32]),
                ),
                violations: vec![violation.clone()],
            }],
            ..Findings::default()
        };
        assert_eq!(findings.conclusion(), CheckConclusion::Failure);
        let templates = Templates::embedded();
        assert_eq!(
            findings.title(&templates).unwrap(),
            "1 object refused by environment policy"
        );
        assert_eq!(findings.shown_environments()[0].environment, "dev");
        assert_eq!(findings.violations_of("dev"), [violation]);
        let annotations = findings.annotations(&templates).unwrap();
        assert_eq!(annotations.len(), 1);
        assert_eq!(annotations[0].path, "envs/dev/x.yaml");
        assert_eq!(annotations[0].start_line, 6);
        assert_eq!(
            annotations[0].title.as_deref(),
            Some("refused by the policy of dev")
        );
    }

    #[test]
    fn every_error_of_a_broken_configuration_is_annotated_and_shown() {
        let error = crate::config::parse_repo_config(
            "environments:\n  dev:\n    pth: envs/dev\n  prod:\n    path: /abs\n",
        )
        .unwrap_err();
        let findings = Findings {
            head_config: Some(ConfigProblem {
                side: Side::Head,
                commit: "commit 3f2a1b0c9d8e".into(),
                error,
                annotate: true,
            }),
            ..Findings::default()
        };
        let templates = Templates::embedded();
        let lines: Vec<u32> = findings
            .annotations(&templates)
            .unwrap()
            .iter()
            .map(|a| a.start_line)
            .collect();
        assert_eq!(lines, [3, 5]);
        let notes = findings.notes(&templates, "acme/config", None).unwrap();
        assert!(
            notes[0].contains(
                "```text\n.github/slipway.yml:3:5: unknown key `pth` in environment `dev`; did you mean `path`?"
            ),
            "{}",
            notes[0]
        );
        assert!(
            notes[0].contains(
                "\n.github/slipway.yml:5:11: `path` must be relative to the repository root"
            ),
            "{}",
            notes[0]
        );
        let summary = findings
            .check_output(&templates, None, 1, None)
            .unwrap()
            .summary;
        assert!(
            summary.contains(
                r"`.github/slipway.yml` does not parse in this change (.github/slipway.yml:3:5: unknown key \`pth\`"
            ),
            "{summary}"
        );
        assert!(summary.contains("; and 1 more)."), "{summary}");
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
        assert_eq!(
            findings.title(&Templates::embedded()).unwrap(),
            "No changes to the rendered manifests"
        );
        assert_eq!(findings.shown_environments()[0].environment, "prod");
    }
}
