//! GitHub as slipway talks to it: the App's JWT, installation tokens, and one client facade
//! (octocrab underneath) that every pipeline uses. It honours rate limits, refreshes tokens and
//! counts every request by endpoint and status.

mod branch_replace;
mod checks;
mod client;
mod comments;
mod deployments;
mod endpoint;
mod error;
mod git_data;
mod issues;
mod jwt;
mod manifest;
mod permissions;
mod pulls;
mod repo;
mod repository;
mod reviews;
mod tokens;

pub use checks::{
    fit_output_text, Annotation, AnnotationLevel, CheckConclusion, CheckRunId, CheckRunOutput,
    CheckRunRequest, CheckRunUpdate, CheckStatus, ANNOTATIONS_PER_REQUEST, CHECK_OUTPUT_LIMIT,
};
pub use client::{Auth, GitHub, GitHubResponse, RetryPolicy};
pub use comments::{IssueComment, Reaction, ReactionOutcome, COMMENT_BODY_LIMIT};
pub use deployments::{
    deployment_body, fit_description, status_body, Deployment, DeploymentId, DeploymentRequest,
    DeploymentState, DeploymentStatus, DeploymentStatusRequest,
    DEPLOYMENT_STATUS_DESCRIPTION_LIMIT,
};
pub use endpoint::endpoint_label;
pub use error::GitHubError;
pub use git_data::{BranchMove, CommitRequest, TreeEntry, TreeMode};
pub use issues::{Issue, IssueState, IssueUpdate, ISSUE_BODY_LIMIT};
pub use jwt::app_jwt;
pub use manifest::ManifestConversion;
pub use permissions::RepoPermission;
pub use pulls::{OpenedPull, PullBranch, PullRequest};
pub use repo::{RepoRef, RepoRefError};
pub use repository::Repository;
pub use reviews::{Review, ReviewState};
pub use tokens::InstallationToken;

use std::sync::{Arc, RwLock};

use crate::settings::AppCredentials;

/// The App's credentials, shared by ingress and the client, replaced once by the setup flow.
#[derive(Clone, Default)]
pub struct SharedCredentials(Arc<RwLock<Option<Arc<AppCredentials>>>>);

impl SharedCredentials {
    pub fn new(initial: Option<Arc<AppCredentials>>) -> Self {
        SharedCredentials(Arc::new(RwLock::new(initial)))
    }

    pub fn get(&self) -> Option<Arc<AppCredentials>> {
        match self.0.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn set(&self, credentials: Arc<AppCredentials>) {
        match self.0.write() {
            Ok(mut guard) => *guard = Some(credentials),
            Err(poisoned) => *poisoned.into_inner() = Some(credentials),
        }
    }
}
