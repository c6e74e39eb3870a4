use std::process::ExitCode;

use anyhow::Context;

use crate::server::{self, ServerOptions};
use crate::settings::Settings;
use crate::telemetry;

/// `slipway serve` takes its settings from the environment and `.env` (see the README).
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_env()?;
    telemetry::init_logging(&settings.log_level, settings.log_format);
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
                url = %settings.public_url,
                "no GitHub App credentials: open the setup page to create the App"
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
