//! `/promote <env> [from <env>]`: copy the images running in one environment into another,
//! as a pull request.

pub mod plan;
