//! Running a program on a pull request's files with nothing to reach: kustomize may be asked
//! (by anyone who can open a pull request) to fetch URLs, so it runs where no network exists.
//!
//! Layers, each enough on its own for what it covers:
//! - a fresh, empty network namespace (no interface but a down loopback), entered in the
//!   child before `exec`; when the platform refuses one, a warning is logged once and the
//!   other layers remain;
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

/// Whether commands from [`sandboxed_command`] get an empty network namespace here.
pub fn network_isolated() -> bool {
    *ISOLATED.get_or_init(|| {
        #[cfg(target_os = "linux")]
        {
            linux::probe()
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    })
}

static ISOLATED: OnceLock<bool> = OnceLock::new();
static WARNED: OnceLock<()> = OnceLock::new();

fn warn_once() {
    WARNED.get_or_init(|| {
        tracing::warn!(
            "this platform gives kustomize no network namespace of its own; renders rely on \
             the kustomization check and git's refusal of every transport alone"
        );
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
    /// own namespaces are never touched.
    pub(super) fn probe() -> bool {
        let Some(maps) = IdMaps::current() else {
            return false;
        };
        // SAFETY: the child only makes system calls on memory prepared before the fork and
        // leaves with `_exit`, which runs no destructors or atexit handlers.
        unsafe {
            let pid = libc::fork();
            if pid == 0 {
                let ok = enter_empty_network(&maps).is_ok();
                libc::_exit(if ok { 0 } else { 1 });
            }
            if pid < 0 {
                return false;
            }
            let mut status = 0;
            while libc::waitpid(pid, &mut status, 0) < 0 {
                if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                    return false;
                }
            }
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
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
