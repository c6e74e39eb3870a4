//! The `slipway` subcommands. Each file holds one subcommand's arguments and its `run`;
//! they call the same library code the server runs.

pub mod bump;
pub mod check_config;
pub mod deliveries;
pub mod fingerprint_key;
pub mod preview;
pub mod render;
pub mod serve;
