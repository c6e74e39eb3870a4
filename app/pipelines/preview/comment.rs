//! The preview's report as comment bodies: what the server posts on a pull request and what
//! `slipway preview` prints are made here, by the same code, from the same findings. Pure.

use time::format_description::well_known::Rfc3339;

use super::message::Findings;
use super::sticky;
use crate::config::Environment;
use crate::diff::EnvironmentDiff;
use crate::git::CommitId;
use crate::report::{
    ComparedWith, EnvironmentStatus, Extras, Limits, Lock, LockStatus, Preview, ReportError,
    Templates,
};
use crate::store::EnvironmentLock;

/// Which environments a report shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// The ones whose render differs or holds refused objects; when none does, every one
    /// (as "no changes").
    Changed,
    /// Every environment compared, changed or not (the ones asked for by name).
    All,
}

/// Everything one preview report says, ready to be written as comments or a check run's text.
#[derive(Debug)]
pub struct Report {
    base: String,
    head: String,
    shown: Vec<EnvironmentDiff>,
    statuses: Vec<EnvironmentStatus>,
    notes: Vec<String>,
    full_command: String,
}

/// The comment bodies of a report, each starting with its hidden part marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bodies {
    pub bodies: Vec<String>,
    /// Past the part limit, the rest was summarised as counts.
    pub cut: bool,
}

impl Bodies {
    /// The bodies one after the other: what `slipway preview` prints.
    pub fn concatenated(&self) -> String {
        self.bodies.concat()
    }
}

/// What a report is made from.
pub struct Input<'a> {
    /// The commit compared from (the merge base on a pull request) and the head.
    pub base: &'a CommitId,
    pub head: &'a CommitId,
    /// The environments as the base declares them (their approvals are shown).
    pub environments: &'a [Environment],
    /// Which commit each environment's diff starts from; one not listed is not said.
    pub compared_with: Vec<(String, ComparedWith)>,
    pub findings: &'a Findings,
    pub shown: Shown,
    /// The config repo's locks; `None` when they are not known (the command line has no
    /// store), and then nothing is said about locks.
    pub locks: Option<&'a [EnvironmentLock]>,
    /// Notes above the environments, in order ([`Findings::notes`]).
    pub notes: Vec<String>,
    /// The command that shows the whole diff, quoted when the report is cut.
    pub full_command: String,
    /// Whether each environment's cluster is named (the server knows several clusters); an
    /// environment naming one but `default` has it named either way.
    pub name_clusters: bool,
}

impl Report {
    pub fn new(input: Input<'_>) -> Report {
        let shown = match input.shown {
            Shown::Changed => input.findings.shown_environments(),
            Shown::All => input
                .findings
                .outcomes
                .iter()
                .filter_map(|outcome| match outcome {
                    super::compare::EnvironmentOutcome::Compared { diff, .. } => Some(diff.clone()),
                    _ => None,
                })
                .collect(),
        };
        let statuses = shown
            .iter()
            .map(|env| status(&env.environment, &input))
            .collect();
        Report {
            base: input.base.short(7),
            head: input.head.short(7),
            shown,
            statuses,
            notes: input.notes,
            full_command: input.full_command,
        }
    }

    /// The environments shown, in order.
    pub fn shown(&self) -> &[EnvironmentDiff] {
        &self.shown
    }

    /// Each shown environment's status, in the order of [`Report::shown`].
    pub fn statuses(&self) -> &[EnvironmentStatus] {
        &self.statuses
    }

    fn preview(&self) -> Preview<'_> {
        Preview {
            base: &self.base,
            head: &self.head,
            environments: &self.shown,
            full_command: &self.full_command,
        }
    }

    fn extras(&self) -> Extras<'_> {
        Extras {
            notes: &self.notes,
            statuses: &self.statuses,
        }
    }

    /// The report as comment bodies within `limits`, each after its part marker.
    pub fn comment_bodies(
        &self,
        templates: &Templates,
        limits: &Limits,
    ) -> Result<Bodies, ReportError> {
        let report = templates.comment_report(&self.preview(), &self.extras(), limits)?;
        Ok(Bodies {
            bodies: report
                .parts
                .iter()
                .enumerate()
                .map(|(index, part)| sticky::body(index + 1, part))
                .collect(),
            cut: report.cut,
        })
    }

    /// The whole report as a check run's text.
    pub fn check_run_text(&self, templates: &Templates) -> Result<String, ReportError> {
        templates.check_run_text_with(&self.preview(), &self.extras())
    }
}

fn status(environment: &str, input: &Input<'_>) -> EnvironmentStatus {
    let declared = input
        .environments
        .iter()
        .find(|env| env.name == environment);
    let required_approvals = declared.map_or(0, |env| env.required_approvals);
    let cluster = declared
        .map(|env| env.cluster.clone())
        .filter(|cluster| input.name_clusters || cluster != crate::config::DEFAULT_CLUSTER);
    let lock = match input.locks {
        None => Lock::Unknown,
        Some(locks) => locks
            .iter()
            .find(|lock| lock.environment == environment)
            .map_or(Lock::Unlocked, |lock| {
                Lock::Locked(LockStatus {
                    by: lock.locked_by.clone(),
                    since: format_millis(lock.locked_at),
                    reason: lock
                        .reason
                        .as_ref()
                        .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" ")),
                })
            }),
    };
    let compared_with = input
        .compared_with
        .iter()
        .find(|(name, _)| name == environment)
        .map_or(ComparedWith::Unknown, |(_, said)| said.clone());
    EnvironmentStatus {
        environment: environment.to_string(),
        compared_with,
        lock,
        required_approvals,
        violations: input.findings.violations_of(environment),
        cluster,
    }
}

/// `2026-11-21 10:00 UTC`.
pub(crate) fn format_millis(millis: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(millis / 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let text = at.format(&Rfc3339).unwrap_or_default();
    // 2026-11-21T10:00:00Z → 2026-11-21 10:00 UTC
    format!("{} {} UTC", &text[..10], &text[11..16])
}
