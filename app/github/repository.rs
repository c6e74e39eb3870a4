//! A repository as the App finds it: which installation of the App covers it
//! (`GET /repos/{owner}/{repo}/installation`, with the App's JWT) and where it is cloned from and
//! committed to (`GET /repos/{owner}/{repo}`, with an installation token).

use serde::Deserialize;

use super::{Auth, GitHub, GitHubError, RepoRef};

/// What slipway reads of a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub full_name: RepoRef,
    pub default_branch: String,
    /// Where git fetches it from (`https://github.com/owner/name.git`).
    pub clone_url: String,
    pub html_url: String,
}

#[derive(Deserialize)]
struct WireInstallation {
    id: i64,
}

#[derive(Deserialize)]
struct WireRepository {
    full_name: String,
    default_branch: String,
    clone_url: String,
    #[serde(default)]
    html_url: Option<String>,
}

impl GitHub {
    /// The id of the App's installation that covers `repo`, or `None` when the App is not
    /// installed there (GitHub answers 404, also for a repository that does not exist).
    pub async fn repo_installation(&self, repo: &RepoRef) -> Result<Option<i64>, GitHubError> {
        let path = format!("{}/installation", repo.api_path());
        match self.get::<WireInstallation>(Auth::App, &path).await {
            Ok(found) => Ok(Some(found.id)),
            Err(GitHubError::Status { status: 404, .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// `repo`'s default branch and clone URL.
    pub async fn get_repository(
        &self,
        installation_id: i64,
        repo: &RepoRef,
    ) -> Result<Repository, GitHubError> {
        let path = repo.api_path();
        let wire: WireRepository = self.get(Auth::Installation(installation_id), &path).await?;
        let full_name = wire.full_name.parse().map_err(|err| GitHubError::Decode {
            endpoint: "GET /repos/{owner}/{repo}".to_string(),
            message: format!("{err}"),
        })?;
        let html_url = wire
            .html_url
            .unwrap_or_else(|| format!("https://github.com/{full_name}"));
        Ok(Repository {
            full_name,
            default_branch: wire.default_branch,
            clone_url: wire.clone_url,
            html_url,
        })
    }
}
