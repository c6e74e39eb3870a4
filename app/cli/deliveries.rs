use std::process::ExitCode;

use anyhow::Context;

use crate::settings::Settings;
use crate::store::{DeliveryState, Store};

/// `slipway deliveries [--state S] [--limit N]` lists stored deliveries, newest first;
/// `slipway deliveries retry ID` puts a failed one back in the queue.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    /// Only deliveries in this state: pending, running, done or failed.
    #[arg(long)]
    state: Option<DeliveryState>,
    /// How many to list.
    #[arg(long, default_value_t = 20)]
    limit: i64,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Put a failed delivery back in the queue with a fresh attempt budget.
    Retry {
        /// The delivery id (GitHub's X-GitHub-Delivery).
        id: String,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_env()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let store = Store::connect(&settings.database_url)
            .await
            .with_context(|| format!("cannot open the database {}", settings.database_url))?;
        match args.action {
            Some(Action::Retry { id }) => {
                store.retry_failed(&id).await?;
                println!("delivery {id} is queued again");
            }
            None => {
                let rows = store.list_deliveries(args.state, args.limit.max(1)).await?;
                if rows.is_empty() {
                    println!("no deliveries");
                }
                for row in rows {
                    let received =
                        time::OffsetDateTime::from_unix_timestamp(row.received_at / 1000)
                            .ok()
                            .and_then(|t| {
                                t.format(&time::format_description::well_known::Rfc3339)
                                    .ok()
                            })
                            .unwrap_or_default();
                    let event = match &row.action {
                        Some(action) => format!("{}.{}", row.event, action),
                        None => row.event.clone(),
                    };
                    println!(
                        "{}  {:<7}  {:<36}  {:<30}  {}  attempts={}{}",
                        received,
                        row.state,
                        row.id,
                        event,
                        row.repository.as_deref().unwrap_or("-"),
                        row.attempts,
                        row.last_error
                            .as_deref()
                            .map(|e| format!("  error: {e}"))
                            .unwrap_or_default(),
                    );
                }
            }
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
