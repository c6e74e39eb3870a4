//! The SQLite file and its companions are private to slipway's user: the database holds the
//! Secret fingerprint key, installation data and every stored webhook payload.
//!
//! SQLite creates a missing database file with mode 0644 (less the umask) and gives its `-wal`
//! and `-shm` files the mode of the database file. So the file is created here first, with
//! 0600, before SQLite opens it; a missing directory is created with 0700; an existing file
//! (and companions) readable by others is narrowed to 0600.

use std::io;
use std::path::{Path, PathBuf};

/// What cannot be prepared, with the path it concerns.
#[derive(Debug, thiserror::Error)]
#[error("cannot prepare {path}: {source}")]
pub struct FileError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> FileError + '_ {
    move |source| FileError {
        path: path.to_path_buf(),
        source,
    }
}

/// Makes `database` exist with mode 0600 (its directory 0700 when slipway creates it), and
/// narrows an existing database and its `-wal`/`-shm` files to 0600.
pub fn prepare_database_file(database: &Path) -> Result<(), FileError> {
    if let Some(directory) = database.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(directory)?;
    }
    create_private_file(database)?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut companion = database.as_os_str().to_owned();
        companion.push(suffix);
        narrow(Path::new(&companion))?;
    }
    narrow(database)
}

/// Creates `directory` and its missing parents with mode 0700; an existing one is left as it is
/// (it may be a shared mount the operator chose).
pub fn create_private_dir(directory: &Path) -> Result<(), FileError> {
    if directory.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(directory).map_err(at(directory))
}

fn create_private_file(path: &Path) -> Result<(), FileError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(at(path)(err)),
    }
}

/// Takes group and other permissions away from `path` when it exists.
fn narrow(path: &Path) -> Result<(), FileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(at(path)(err)),
        };
        let mode = metadata.permissions().mode() & 0o777;
        // Only files: a directory in the database's place is SQLite's error to report.
        if metadata.is_file() && mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "the database was readable by others: narrowed to 0600"
            );
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))
                .map_err(at(path))?;
        }
    }
    Ok(())
}
