//! Deploys: what a merged pull request (or a push to the default branch) deploys, and whether
//! it may.
//!
//! The decisions come first, pure where they can be: [`gate`] says whether an environment's
//! approval requirement is met by a pull request's reviews, and [`affected`] says which
//! environments a merge commit changes, rendered as they would be applied. The deploy
//! pipeline itself — server-side apply, prune, health — comes next and builds on these and
//! on [`report`], which words its check run, its GitHub Deployment and its PR comment.

pub mod affected;
pub mod gate;
pub mod report;
