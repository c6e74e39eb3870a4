//! Runs: long work that must not hold a queue worker. A build takes minutes and a deploy waits
//! for health; a handler starts a run (kind, subject, deadline) and returns, and the supervisor
//! drives the run from then on, one short step at a time, between timers and external signals.
//!
//! Every transition is persisted before the supervisor acts on it, so a restarted process picks
//! each run up where the store says it is; a signal sent while no supervisor runs is stored and
//! seen by the run's next step. A run whose deadline passes completes as timed out, and its kind's
//! `on_timeout` hook cleans up (e.g. deletes a build Job).
//!
//! Where later work plugs in: a build and a deploy are a run kind each (`RunKind`, registered by
//! name with `RunKinds::register`), started by a pipeline each; Kubernetes watch events for a Job
//! or a Deployment and re-requested check runs arrive as `Runs::signal`. Periodic work such as
//! drift scans goes through `scheduler`, not here.

mod kind;
mod supervisor;
mod transition;
mod trouble;

pub use kind::{
    HookFuture, RunKind, RunKinds, StepContext, StepError, StepFuture, StepOutcome, Verdict,
};
pub use supervisor::{start, Runs, RunsConfig, RunsError};
pub use transition::record_for;
pub use trouble::{Transience, Trouble};
