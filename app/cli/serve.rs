use std::process::ExitCode;

use anyhow::Context;

use crate::server::{self, ServerOptions};
use crate::settings::{self, Settings};
use crate::telemetry;

/// `slipway serve` takes its settings from the environment and `.env` (see the README).
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    let file = settings::env_file_vars()?;
    let settings = Settings::from_vars(&settings::merged_vars(&file))?;
    telemetry::init_logging(&settings.log_level, settings.log_format);
    export_library_variables(&file);
    crate::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // Signal handlers first: a SIGTERM that arrives while the server starts must still
        // shut it down gracefully rather than kill the process.
        let shutdown = shutdown_signal()?;
        if settings.credentials.is_none() {
            tracing::warn!(
                "no GitHub App credentials: slipway starts in setup mode and logs the setup link once it listens"
            );
        }
        let running = server::start(ServerOptions::new(settings)).await?;
        let stop = running.stopper();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight deliveries");
            let _ = stop.send(true);
        });
        running.wait().await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Hands `.env`'s values of the variables libraries read from the process environment
/// (trust roots, proxies, the temporary directory) to those libraries. Called before the
/// runtime starts: the process has one thread, so nothing reads the environment meanwhile.
fn export_library_variables(file: &std::collections::HashMap<String, String>) {
    for (name, value) in settings::library_exports(file, |name| std::env::var_os(name).is_some()) {
        tracing::debug!(
            name,
            "exported from the env file for the libraries that read it"
        );
        std::env::set_var(name, value);
    }
}

/// Registers SIGTERM and SIGINT handlers now; the returned future completes at the first of them.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
