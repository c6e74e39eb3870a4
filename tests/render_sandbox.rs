//! The sandbox kustomize runs in reaches no network: a loopback server started here sees no
//! connection from programs run through it, while the same program run plainly does connect.

use std::net::TcpListener;
use std::process::{Command, Stdio};

use slipway::render::{network_isolated, sandboxed_command};

/// A loopback server that only counts who connected; nothing is ever answered.
struct Listener(TcpListener);

impl Listener {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Listener(listener)
    }

    fn url(&self) -> String {
        format!("http://{}/org/repo.git", self.0.local_addr().unwrap())
    }

    /// Connections made so far (the kernel completes them into the backlog unanswered).
    fn connections(&self) -> usize {
        std::iter::from_fn(|| self.0.accept().ok()).count()
    }
}

fn quiet(mut command: Command) -> std::process::ExitStatus {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("the program starts")
}

fn curl_installed() -> bool {
    Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn git_in_the_sandbox_refuses_to_fetch_from_loopback() {
    let server = Listener::start();
    let mut git = sandboxed_command("git");
    git.args(["ls-remote", &server.url()]);
    let status = quiet(git);
    assert!(!status.success(), "git ls-remote must fail in the sandbox");
    assert_eq!(server.connections(), 0);
}

#[test]
fn curl_in_the_sandbox_reaches_no_loopback_server_where_the_platform_isolates() {
    if !curl_installed() {
        eprintln!("note: skipped: curl is not installed");
        return;
    }
    let server = Listener::start();
    // The same request outside the sandbox does connect: the server would see one.
    let mut plain = Command::new("curl");
    plain.args(["-s", "--max-time", "1", &server.url()]);
    quiet(plain);
    assert_eq!(server.connections(), 1, "the control request connects");

    if !network_isolated() {
        eprintln!("note: skipped: this platform gives no network namespace");
        return;
    }
    let mut curl = sandboxed_command("curl");
    curl.args(["-s", "--max-time", "5", &server.url()]);
    let status = quiet(curl);
    assert!(!status.success(), "curl must fail in the sandbox");
    assert_eq!(server.connections(), 0);
}

#[test]
fn no_proxy_or_git_configuration_is_inherited() {
    std::env::set_var("HTTPS_PROXY", "http://127.0.0.1:9");
    let mut env = sandboxed_command("env");
    let output = env.output().expect("env runs");
    let shown = String::from_utf8_lossy(&output.stdout);
    let mut names: Vec<&str> = shown
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "GIT_ALLOW_PROTOCOL",
            "GIT_CONFIG_GLOBAL",
            "GIT_CONFIG_NOSYSTEM",
            "GIT_TERMINAL_PROMPT",
            "PATH"
        ]
    );
    assert!(shown.contains("GIT_ALLOW_PROTOCOL=\n"), "{shown}");
}
