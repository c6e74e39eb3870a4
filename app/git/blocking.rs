//! The one way async code runs blocking git (and render) work: on tokio's blocking pool,
//! with a task that did not finish turned into an error of the caller's own kind.

/// Blocking work that did not finish: it panicked, or the runtime is shutting down.
#[derive(Debug, thiserror::Error)]
#[error("a git task failed: {0}")]
pub struct TaskFailed(tokio::task::JoinError);

impl TaskFailed {
    /// The runtime's own account: whether the task panicked or was cancelled.
    pub fn into_join_error(self) -> tokio::task::JoinError {
        self.0
    }
}

/// Runs `work` off the async workers and returns what it returned.
pub async fn blocking<T, E>(work: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<TaskFailed> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|err| Err(TaskFailed(err).into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Failed(String);

    impl From<TaskFailed> for Failed {
        fn from(err: TaskFailed) -> Self {
            Failed(err.to_string())
        }
    }

    #[tokio::test]
    async fn the_work_s_own_result_comes_back() {
        assert_eq!(blocking(|| Ok::<_, Failed>(7)).await, Ok(7));
        assert_eq!(
            blocking(|| Err::<u8, _>(Failed("no".into()))).await,
            Err(Failed("no".into()))
        );
    }

    #[tokio::test]
    async fn a_panicking_task_is_an_error_not_a_panic() {
        let result = blocking(|| -> Result<u8, Failed> { panic!("boom") }).await;
        let Err(Failed(message)) = result else {
            panic!("{result:?}")
        };
        assert!(message.starts_with("a git task failed: "), "{message}");
    }
}
