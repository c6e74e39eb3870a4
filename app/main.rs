use std::process::ExitCode;

use clap::{Parser, Subcommand};
use slipway::cli;

/// slipway: pull requests as the control plane of Kubernetes delivery.
#[derive(Parser)]
#[command(name = "slipway", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve GitHub webhooks, the setup page and the operations endpoints.
    Serve(cli::serve::Args),
    /// List stored webhook deliveries, or put a failed one back in the queue.
    Deliveries(cli::deliveries::Args),
    /// Validate a repository's `.github/slipway.yml`.
    CheckConfig(cli::check_config::Args),
    /// Render one environment of a config repo at a revision as a YAML stream.
    Render(cli::render::Args),
    /// Show what a pull request comment would say for a change between two revisions.
    Preview(cli::preview::Args),
    /// Set an image's tag or digest inside an environment, preserving formatting.
    Bump(cli::bump::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => cli::serve::run(args),
        Command::Deliveries(args) => cli::deliveries::run(args),
        Command::CheckConfig(args) => cli::check_config::run(args),
        Command::Render(args) => cli::render::run(args),
        Command::Preview(args) => cli::preview::run(args),
        Command::Bump(args) => cli::bump::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", cli::error_message(&err));
            ExitCode::from(1)
        }
    }
}
