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
        if settings.credentials.is_none() {
            tracing::warn!(
                url = %settings.public_url,
                "no GitHub App credentials: open the setup page to create the App"
            );
        }
        let running = server::start(ServerOptions::new(settings)).await?;
        let stop = running.stopper();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing in-flight deliveries");
            let _ = stop.send(true);
        });
        running.wait().await
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
