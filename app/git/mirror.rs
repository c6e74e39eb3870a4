//! Bare mirrors in a cache directory: one per remote URL, fetched incrementally, one fetch
//! per mirror at a time.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::{CommitId, GitError, LocalRepo};

/// What a mirror fetches by default: every branch and tag, force-updated.
pub const DEFAULT_REFSPECS: &[&str] = &["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];

/// A secret used as the password of HTTPS fetches (a GitHub installation token). Its `Debug`
/// hides the value; it never appears in URLs, messages or logs.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(secret: impl Into<String>) -> Self {
        Token(secret.into())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Where to fetch from: an `https://` URL (with a token for private GitHub repositories), a
/// `file://` URL or a local path.
#[derive(Debug, Clone)]
pub struct Remote {
    pub url: String,
    pub token: Option<Token>,
    /// Refspecs to fetch; [`DEFAULT_REFSPECS`] unless changed.
    pub refspecs: Vec<String>,
}

impl Remote {
    /// A remote fetched without credentials.
    pub fn new(url: impl Into<String>) -> Self {
        Remote {
            url: url.into(),
            token: None,
            refspecs: DEFAULT_REFSPECS.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Authenticate HTTPS fetches as `x-access-token:<token>` (GitHub App installation tokens).
    pub fn with_token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }

    /// Fetch these refspecs instead of [`DEFAULT_REFSPECS`] (e.g. `+refs/pull/7/head:refs/pull/7/head`).
    pub fn with_refspecs<S: Into<String>>(mut self, refspecs: impl IntoIterator<Item = S>) -> Self {
        self.refspecs = refspecs.into_iter().map(Into::into).collect();
        self
    }
}

/// A cache directory of bare mirrors, one per remote URL.
#[derive(Debug)]
pub struct Mirrors {
    root: PathBuf,
    locks: Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>,
}

impl Mirrors {
    /// A mirror cache in `root` (created when missing).
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, GitError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|source| GitError::Io {
            context: format!("creating the mirror cache {}", root.display()),
            source,
        })?;
        Ok(Mirrors {
            root,
            locks: Mutex::new(HashMap::new()),
        })
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the mirror of `url` lives: a readable name from the URL (credentials dropped)
    /// plus a short hash of it, so distinct URLs never share a mirror.
    pub fn mirror_path(&self, url: &str) -> PathBuf {
        self.root.join(mirror_name(url))
    }

    /// The mirror of `url` if it has been fetched before; no network.
    pub fn open(&self, url: &str) -> Result<Option<LocalRepo>, GitError> {
        let path = self.mirror_path(url);
        if !path.exists() {
            return Ok(None);
        }
        LocalRepo::open(&path).map(Some)
    }

    /// The mirror of `remote.url` holding every commit of `wanted`: opened when it has them
    /// all, fetched (incrementally) when one is missing. A commit still missing after the fetch
    /// is [`GitError::RevisionNotFound`], saying "<what> is not in <url> (yet)": GitHub may
    /// announce a commit before it serves it.
    pub fn holding(
        &self,
        remote: &Remote,
        wanted: &[(&CommitId, &str)],
    ) -> Result<LocalRepo, GitError> {
        if let Some(mirror) = self.open(&remote.url)? {
            if wanted.iter().all(|(commit, _)| mirror.has_commit(commit)) {
                return Ok(mirror);
            }
        }
        let mirror = self.fetch(remote)?;
        for (commit, what) in wanted {
            if !mirror.has_commit(commit) {
                return Err(GitError::RevisionNotFound {
                    rev: commit.to_hex(),
                    source: format!("{what} is not in {} (yet)", remote.url).into(),
                });
            }
        }
        Ok(mirror)
    }

    /// Creates the mirror of `remote.url` when missing and fetches `remote.refspecs` into it.
    /// Concurrent calls for the same URL run one after the other; reading an existing
    /// [`LocalRepo`] of the mirror is never blocked.
    pub fn fetch(&self, remote: &Remote) -> Result<LocalRepo, GitError> {
        let path = self.mirror_path(&remote.url);
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(path.clone()).or_default().clone()
        };
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let repo = if path.join("HEAD").exists() {
            gix::open_opts(&path, gix::open::Options::isolated()).map_err(|e| GitError::Open {
                path: path.clone(),
                source: Box::new(e),
            })?
        } else {
            init_bare(&path)?
        };
        fetch_into(&repo, remote)?;
        Ok(LocalRepo::from_gix(repo))
    }
}

fn init_bare(path: &Path) -> Result<gix::Repository, GitError> {
    let init_error = |e: Box<dyn std::error::Error + Send + Sync>| GitError::Init {
        path: path.to_path_buf(),
        source: e,
    };
    // Initialise next to the final place and rename, so a crash never leaves half a mirror.
    let parent = path.parent().unwrap_or(path);
    let staging = tempfile::Builder::new()
        .prefix(".init-")
        .tempdir_in(parent)
        .map_err(|e| init_error(Box::new(e)))?;
    gix::init_bare(staging.path()).map_err(|e| init_error(Box::new(e)))?;
    let staged = staging.keep();
    std::fs::rename(&staged, path).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staged);
        init_error(Box::new(e))
    })?;
    gix::open_opts(path, gix::open::Options::isolated()).map_err(|e| GitError::Open {
        path: path.to_path_buf(),
        source: Box::new(e),
    })
}

fn fetch_into(repo: &gix::Repository, remote: &Remote) -> Result<(), GitError> {
    let shown_url = redact_url(&remote.url);
    let fetch_error = |e: Box<dyn std::error::Error + Send + Sync>| GitError::Fetch {
        url: shown_url.clone(),
        source: e,
    };
    let specs: Vec<&str> = remote.refspecs.iter().map(String::as_str).collect();
    let gix_remote = repo
        .remote_at(remote.url.as_str())
        .map_err(|e| fetch_error(Box::new(e)))?
        .with_fetch_tags(gix::remote::fetch::Tags::None)
        .with_refspecs(specs, gix::remote::Direction::Fetch)
        .map_err(|e| fetch_error(Box::new(e)))?;
    let connection = gix_remote
        .connect(gix::remote::Direction::Fetch)
        .map_err(|e| fetch_error(Box::new(e)))?;
    let token = remote.token.clone();
    // Never fall back to credential helpers or prompts: a server must not hang on input.
    let connection = connection.with_credentials(move |action| match (action, &token) {
        (gix::credentials::helper::Action::Get(ctx), Some(token)) => {
            Ok(Some(gix::credentials::protocol::Outcome {
                identity: gix::sec::identity::Account {
                    username: "x-access-token".to_string(),
                    password: token.0.clone(),
                    oauth_refresh_token: None,
                },
                next: ctx.into(),
            }))
        }
        _ => Ok(None),
    });
    let interrupt = AtomicBool::new(false);
    connection
        .prepare_fetch(gix::progress::Discard, Default::default())
        .map_err(|e| fetch_error(Box::new(e)))?
        .receive(gix::progress::Discard, &interrupt)
        .map_err(|e| fetch_error(Box::new(e)))?;
    Ok(())
}

/// The URL without user info (`https://user:secret@host/x` → `https://host/x`).
fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if path.is_empty() && !rest.contains('/') {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}/{path}")
            }
        }
        None => url.to_string(),
    }
}

/// `github.com_acme_gitops-config-1a2b3c4d5e6f.git` for `https://github.com/acme/gitops-config.git`.
fn mirror_name(url: &str) -> String {
    let clean = redact_url(url);
    let without_scheme = clean.split_once("://").map_or(clean.as_str(), |(_, r)| r);
    let readable: String = without_scheme
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let readable = readable.trim_matches(['_', '.']);
    let readable: String = readable
        .chars()
        .rev()
        .take(80)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let digest = Sha256::digest(clean.as_bytes());
    format!("{readable}-{}.git", &hex::encode(digest)[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            redact_url("https://x-access-token:s3cret@github.com/acme/config.git"),
            "https://github.com/acme/config.git"
        );
        assert_eq!(redact_url("/srv/repos/config"), "/srv/repos/config");
    }

    #[test]
    fn mirror_names_are_readable_and_distinct() {
        let a = mirror_name("https://github.com/acme/gitops-config.git");
        assert!(a.starts_with("github.com_acme_gitops-config-"), "{a}");
        assert!(a.ends_with(".git"));
        assert_ne!(a, mirror_name("https://github.com/acme/gitops_config.git"));
        assert!(!mirror_name("https://u:secret@host/r").contains("secret"));
        assert_eq!(
            mirror_name("https://u:secret@host/r"),
            mirror_name("https://host/r"),
            "credentials do not change which mirror a URL uses"
        );
    }

    #[test]
    fn tokens_do_not_print() {
        let remote = Remote::new("https://github.com/a/b").with_token(Token::new("ghs_secret"));
        assert!(!format!("{remote:?}").contains("ghs_secret"));
    }
}
