//! `slipway serve` as a process of its own: the real binary, its environment and working
//! directory as an operator sets them, its JSON log read line by line.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `slipway serve`; stopped with SIGTERM when dropped.
pub struct ServeProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// The listener GitHub reaches.
    pub addr: String,
    /// The operations listener.
    pub ops_addr: String,
    /// Every log line read so far, in order.
    pub log: Vec<String>,
}

impl ServeProcess {
    /// `slipway serve` in `dir` under a shell that first runs `umask`, with only `vars` (and
    /// `PATH`) in its environment, on free loopback ports, logging JSON. Waits for it to listen.
    pub fn start(dir: &std::path::Path, umask: &str, vars: &[(&str, &str)]) -> ServeProcess {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("umask {umask} && exec \"$0\" serve"))
            .arg(env!("CARGO_BIN_EXE_slipway"))
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("LOG_FORMAT", "json")
            .env("LOG_LEVEL", "info")
            .stderr(Stdio::piped());
        for (name, value) in vars {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("slipway serve starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut process = ServeProcess {
            child,
            lines,
            addr: String::new(),
            ops_addr: String::new(),
            log: Vec::new(),
        };
        let listening = process.wait_for_log("slipway is listening");
        process.addr = listening["addr"].as_str().expect("addr").to_string();
        process.ops_addr = listening["ops_addr"]
            .as_str()
            .expect("ops_addr")
            .to_string();
        process
    }

    /// The first log line from now on whose message contains `message`, as JSON.
    pub fn wait_for_log(&mut self, message: &str) -> serde_json::Value {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(message) {
                        return serde_json::from_str(&line)
                            .unwrap_or_else(|_| panic!("not JSON: {line}"));
                    }
                    seen.push(line);
                }
                Err(_) => panic!("slipway never logged {message:?}; it logged {seen:#?}"),
            }
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn ops_url(&self) -> String {
        format!("http://{}", self.ops_addr)
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the pid of a child this process started and has not reaped.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}
