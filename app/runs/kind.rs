//! What a run kind implements, and the table of kinds a supervisor drives.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use crate::store::{RunRecord, RunSignal, StoreError};

/// What one step of a run decided.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    /// The run is over.
    Done(Verdict, String),
    /// Step again at `at` (Unix ms), keeping `progress`.
    WaitUntil { at: i64, progress: Value },
    /// Step again when a signal `signal` arrives, or at `until` (Unix ms) when given, whichever
    /// comes first; the deadline bounds the wait either way.
    WaitFor {
        signal: String,
        progress: Value,
        until: Option<i64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Succeeded,
    Failed,
}

impl StepOutcome {
    pub fn succeeded(message: impl Into<String>) -> Self {
        StepOutcome::Done(Verdict::Succeeded, message.into())
    }

    pub fn failed(message: impl Into<String>) -> Self {
        StepOutcome::Done(Verdict::Failed, message.into())
    }
}

/// Why a step did not decide. Retryable errors are tried again with backoff, up to the
/// supervisor's attempt bound; permanent ones fail the run at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error("{0}")]
    Retryable(String),
    #[error("{0}")]
    Permanent(String),
}

impl From<StoreError> for StepError {
    fn from(err: StoreError) -> Self {
        StepError::Retryable(err.to_string())
    }
}

/// What a step sees: the run as stored, and the signals that arrived for it since its last step.
#[derive(Debug, Clone)]
pub struct StepContext {
    pub run: RunRecord,
    pub signals: Vec<RunSignal>,
}

impl StepContext {
    /// The latest signal with `key`, if one arrived.
    pub fn signal(&self, key: &str) -> Option<&RunSignal> {
        self.signals.iter().rev().find(|signal| signal.key == key)
    }
}

pub type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<StepOutcome, StepError>> + Send + 'a>>;
pub type HookFuture<'a> = Pin<Box<dyn Future<Output = Result<(), StepError>> + Send + 'a>>;

/// One kind of long work. A step should be short (create a Job, read its status): the waiting is
/// the supervisor's, between steps, and costs nothing while it lasts.
pub trait RunKind: Send + Sync + 'static {
    fn step<'a>(&'a self, step: &'a StepContext) -> StepFuture<'a>;

    /// Called once a run's deadline has passed (the run is already `timed_out`), to clean up what
    /// it left behind. An error is tried again later; the default does nothing.
    fn on_timeout<'a>(&'a self, _run: &'a RunRecord) -> HookFuture<'a> {
        Box::pin(async { Ok(()) })
    }

    /// Called once a run was cancelled (`Runs::cancel`; its outcome holds the reason) and no
    /// step of it is in flight any more, to clean up what it left behind. An error is tried
    /// again later; the default does nothing.
    fn on_cancel<'a>(&'a self, _run: &'a RunRecord) -> HookFuture<'a> {
        Box::pin(async { Ok(()) })
    }
}

#[derive(Clone)]
pub(crate) struct RegisteredKind {
    pub kind: Arc<dyn RunKind>,
    /// How many runs of the kind may be running or waiting at once; the rest stay pending.
    pub limit: usize,
}

/// The kinds a supervisor drives, by name.
#[derive(Clone, Default)]
pub struct RunKinds {
    pub(crate) kinds: BTreeMap<String, RegisteredKind>,
}

impl RunKinds {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `kind` under `name`, with at most `limit` (at least 1) of its runs in progress.
    pub fn register(&mut self, name: &str, limit: usize, kind: impl RunKind) -> &mut Self {
        self.kinds.insert(
            name.to_string(),
            RegisteredKind {
                kind: Arc::new(kind),
                limit: limit.max(1),
            },
        );
        self
    }

    pub fn names(&self) -> Vec<String> {
        self.kinds.keys().cloned().collect()
    }

    pub(crate) fn get(&self, name: &str) -> Option<&RegisteredKind> {
        self.kinds.get(name)
    }
}
