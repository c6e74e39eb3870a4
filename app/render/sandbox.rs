//! Running a program on a pull request's files with nothing to reach: kustomize may be asked
//! (by anyone who can open a pull request) to fetch URLs, so it runs where no network exists.
//!
//! Layers, each enough on its own for what it covers:
//! - a fresh, empty network namespace (no interface but a down loopback), entered in the
//!   child before `exec`; when the platform refuses one (a container under the usual
//!   `RuntimeDefault` seccomp profile without `CAP_SYS_ADMIN` does), the other layers remain
//!   and slipway says so where an operator looks: [`NetworkIsolation::summary`] is logged at
//!   start and shown by `/readyz` and the status page;
//! - an environment that is cleared, keeps only `PATH`, and makes git refuse every transport
//!   (`GIT_ALLOW_PROTOCOL` empty) and ignore system and user configuration; no proxy variable
//!   survives, so nothing routes through one;
//! - its own process group, so a timeout kills whatever it started.

use std::ffi::OsStr;
use std::process::Command;
use std::sync::OnceLock;

/// A command for `program` that runs confined as described in the module documentation.
/// Callers add arguments, a working directory and variables of their own.
pub fn sandboxed_command(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_ALLOW_PROTOCOL", "")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0");
    #[cfg(target_os = "linux")]
    linux::confine(&mut command);
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
        warn_once();
    }
    command
}

/// Whether commands from [`sandboxed_command`] get an empty network namespace here, and if
/// not, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkIsolation {
    /// Every sandboxed command starts in a fresh, empty network namespace.
    Isolated,
    /// The platform gives none; the reason, as the kernel (or its absence) puts it.
    Unavailable(String),
}

impl NetworkIsolation {
    /// One line for an operator: what renders run in here and, when a layer is missing, what
    /// still holds and what to add.
    pub fn summary(&self) -> String {
        match self {
            NetworkIsolation::Isolated => {
                "render network isolation: on (kustomize and helm run in an empty network namespace)"
                    .to_string()
            }
            NetworkIsolation::Unavailable(reason) => format!(
                "render network isolation: unavailable ({reason}); renders rely on the \
                 kustomization check, which refuses remote resources, and on git refusing every \
                 transport; limit slipway's own egress with a NetworkPolicy"
            ),
        }
    }
}

/// What this process's platform allows, probed once (in a forked child; the process's own
/// namespaces are never touched).
pub fn network_isolation() -> &'static NetworkIsolation {
    ISOLATION.get_or_init(|| {
        #[cfg(target_os = "linux")]
        {
            linux::probe()
        }
        #[cfg(not(target_os = "linux"))]
        {
            NetworkIsolation::Unavailable("network namespaces exist on Linux only".to_string())
        }
    })
}

/// Whether commands from [`sandboxed_command`] get an empty network namespace here.
pub fn network_isolated() -> bool {
    *network_isolation() == NetworkIsolation::Isolated
}

static ISOLATION: OnceLock<NetworkIsolation> = OnceLock::new();
static WARNED: OnceLock<()> = OnceLock::new();

fn warn_once() {
    WARNED.get_or_init(|| {
        tracing::warn!("{}", network_isolation().summary());
    });
}

#[cfg(target_os = "linux")]
mod linux {
    use super::*;
    use std::ffi::CString;
    use std::io;
    use std::os::unix::process::CommandExt;

    /// What the child writes to become itself inside a new user namespace: the same user and
    /// group, so it reads the files it was given as before. Built before `fork`, because the
    /// child of a multi-threaded program must not allocate.
    struct IdMaps {
        uid_map: CString,
        gid_map: CString,
    }

    impl IdMaps {
        fn current() -> Option<IdMaps> {
            // SAFETY: getuid(2) and getgid(2) cannot fail and touch no memory.
            let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
            Some(IdMaps {
                uid_map: CString::new(format!("{uid} {uid} 1")).ok()?,
                gid_map: CString::new(format!("{gid} {gid} 1")).ok()?,
            })
        }
    }

    pub(super) fn confine(command: &mut Command) {
        command.process_group(0);
        if !network_isolated() {
            warn_once();
            return;
        }
        let Some(maps) = IdMaps::current() else {
            warn_once();
            return;
        };
        // SAFETY: the hook runs in the child between fork and exec and only makes system
        // calls (unshare, open, write, close) on memory prepared before the fork.
        unsafe {
            command.pre_exec(move || enter_empty_network(&maps));
        }
    }

    /// Probes once, in a forked child, whether a network namespace can be had; the parent's
    /// own namespaces are never touched. The child's exit status carries the refusal's errno.
    pub(super) fn probe() -> NetworkIsolation {
        let unavailable = |why: String| NetworkIsolation::Unavailable(why);
        let Some(maps) = IdMaps::current() else {
            return unavailable("no identity to map into a user namespace".to_string());
        };
        // SAFETY: the child only makes system calls on memory prepared before the fork and
        // leaves with `_exit`, which runs no destructors or atexit handlers.
        unsafe {
            let pid = libc::fork();
            if pid == 0 {
                let code = match enter_empty_network(&maps) {
                    Ok(()) => 0,
                    Err(err) => err
                        .raw_os_error()
                        .filter(|e| (1..=254).contains(e))
                        .unwrap_or(255),
                };
                libc::_exit(code);
            }
            if pid < 0 {
                return unavailable(format!("fork: {}", io::Error::last_os_error()));
            }
            let mut status = 0;
            while libc::waitpid(pid, &mut status, 0) < 0 {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return unavailable(format!("waitpid: {err}"));
                }
            }
            if !libc::WIFEXITED(status) {
                return unavailable("the probe did not exit".to_string());
            }
            match libc::WEXITSTATUS(status) {
                0 => NetworkIsolation::Isolated,
                255 => unavailable("a user and network namespace could not be entered".to_string()),
                errno => unavailable(format!(
                    "a user and network namespace was refused: {}",
                    io::Error::from_raw_os_error(errno)
                )),
            }
        }
    }

    /// Moves the calling process into a new, empty network namespace: directly when it may
    /// (root in its namespace), else inside a new user namespace that maps it to itself.
    fn enter_empty_network(maps: &IdMaps) -> io::Result<()> {
        // SAFETY: unshare(2) takes flags only.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0 {
            return Ok(());
        }
        // SAFETY: as above.
        if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        write_proc(c"/proc/self/setgroups", c"deny")?;
        write_proc(c"/proc/self/uid_map", &maps.uid_map)?;
        write_proc(c"/proc/self/gid_map", &maps.gid_map)
    }

    fn write_proc(path: &std::ffi::CStr, text: &std::ffi::CStr) -> io::Result<()> {
        // SAFETY: both pointers come from live C strings; the descriptor is closed below.
        unsafe {
            let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let bytes = text.to_bytes();
            let written = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
            libc::close(fd);
            if usize::try_from(written).ok() == Some(bytes.len()) {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        }
    }
}
