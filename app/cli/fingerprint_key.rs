//! The key `slipway render` and `slipway preview` fingerprint Secret values with: given with
//! `--fingerprint-key` (or `FINGERPRINT_KEY`), else the one kept in the user's config directory,
//! made at first use. One key per user keeps fingerprints stable from one run to the next, so
//! two renders can be compared; a fresh key per run would make every value look changed.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::diff::FingerprintKey;

/// Where the key file lives, below the config directory.
const KEY_FILE: &str = "slipway/fingerprint-key";

#[derive(clap::Args)]
pub struct KeyArgs {
    /// The key Secret values are fingerprinted with, 64 hex digits; the server's
    /// `FINGERPRINT_KEY` gives the fingerprints its comments show. Default: a key kept in
    /// `$XDG_CONFIG_HOME/slipway/fingerprint-key` (or `~/.config/...`), made at first use.
    #[arg(
        long = "fingerprint-key",
        value_name = "HEX",
        env = "FINGERPRINT_KEY",
        hide_env_values = true
    )]
    pub fingerprint_key: Option<String>,
}

impl std::fmt::Debug for KeyArgs {
    // The key is a secret of its own.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyArgs").finish_non_exhaustive()
    }
}

impl KeyArgs {
    /// The key given, or the user's own.
    pub fn resolve(&self) -> anyhow::Result<FingerprintKey> {
        if let Some(hex) = &self.fingerprint_key {
            return FingerprintKey::from_hex(hex).context("--fingerprint-key (or FINGERPRINT_KEY)");
        }
        let path = key_file(
            std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from),
            std::env::var_os("HOME").map(PathBuf::from),
        )
        .context(
            "cannot keep a fingerprint key: neither XDG_CONFIG_HOME nor HOME is set; pass --fingerprint-key",
        )?;
        load_or_create(&path)
    }
}

/// `$XDG_CONFIG_HOME/slipway/fingerprint-key`, else `$HOME/.config/slipway/fingerprint-key`.
/// A relative `XDG_CONFIG_HOME` is ignored, as the XDG base directory specification says.
fn key_file(xdg_config_home: Option<PathBuf>, home: Option<PathBuf>) -> Option<PathBuf> {
    let config = xdg_config_home
        .filter(|dir| dir.is_absolute())
        .or_else(|| {
            home.filter(|dir| !dir.as_os_str().is_empty())
                .map(|home| home.join(".config"))
        })?;
    Some(config.join(KEY_FILE))
}

/// Reads the key at `path`, making it (mode 0600, its directory 0700) when there is none.
/// A file that holds no key is an error, never overwritten: fingerprints made with it would
/// no longer match.
fn load_or_create(path: &Path) -> anyhow::Result<FingerprintKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            return FingerprintKey::from_hex(&text).with_context(|| {
                format!(
                    "{} holds no fingerprint key; fix or remove it, or pass --fingerprint-key",
                    path.display()
                )
            })
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => {
            return Err(err).with_context(|| format!("cannot read {}", path.display()));
        }
    }
    let dir = path
        .parent()
        .context("the fingerprint key file has no directory")?;
    create_private_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let key = FingerprintKey::generate();
    // Written aside and linked into place, so two first runs at once agree on one key and
    // neither reads a half-written file.
    let mut temp = tempfile::Builder::new()
        .prefix(".fingerprint-key-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write a key file in {}", dir.display()))?;
    temp.write_all(format!("{}\n", key.to_hex()).as_bytes())
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("cannot write a key file in {}", dir.display()))?;
    match std::fs::hard_link(temp.path(), path) {
        Ok(()) => Ok(key),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(path),
        Err(err) => Err(err).with_context(|| format!("cannot create {}", path.display())),
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_under_xdg_config_home_else_home() {
        assert_eq!(
            key_file(Some("/x".into()), Some("/home/u".into())),
            Some(PathBuf::from("/x/slipway/fingerprint-key"))
        );
        assert_eq!(
            key_file(Some("relative".into()), Some("/home/u".into())),
            Some(PathBuf::from("/home/u/.config/slipway/fingerprint-key"))
        );
        assert_eq!(key_file(None, None), None);
    }

    #[test]
    fn a_key_is_made_once_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config/slipway/fingerprint-key");
        let first = load_or_create(&path).unwrap();
        assert_eq!(load_or_create(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "only the key file remains");
    }

    #[test]
    fn a_file_without_a_key_is_an_error_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fingerprint-key");
        std::fs::write(&path, "oops\n").unwrap();
        let message = format!("{:#}", load_or_create(&path).unwrap_err());
        assert!(message.contains("holds no fingerprint key"), "{message}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "oops\n");
    }
}
