//! The `tasktick` binary as a child process, as an operator runs it (shared by the API and the
//! end-to-end tests).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The `tasktick` binary running as a child process.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    /// The server's log lines after the one naming its address.
    log: mpsc::Receiver<String>,
    /// The lines up to and including the one naming its address.
    pub startup_log: Vec<String>,
}

impl ServerProcess {
    /// Starts `tasktick serve` on port 0 with `database` (a path or a URL), and waits for the log
    /// line with its address.
    pub fn start(database: impl AsRef<std::ffi::OsStr>, static_dir: &Path) -> Self {
        Self::start_on("127.0.0.1:0", database, static_dir)
    }

    /// Like [`ServerProcess::start`], on `addr`.
    pub fn start_on(addr: &str, database: impl AsRef<std::ffi::OsStr>, static_dir: &Path) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tasktick"));
        command
            .args(["serve", "--addr", addr, "--database"])
            .arg(database)
            .arg("--static-dir")
            .arg(static_dir);
        Self::spawn(command)
    }

    /// Starts plain `tasktick` (no subcommand, no flags) with `env` set.
    pub fn start_with_env(env: &[(&str, &std::ffi::OsStr)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tasktick"));
        command.envs(env.iter().copied());
        Self::spawn(command)
    }

    /// Starts `command` (a `tasktick` invocation) and waits for the log line with its address.
    pub fn spawn_command(command: Command) -> Self {
        Self::spawn(command)
    }

    fn spawn(mut command: Command) -> Self {
        if !command.get_envs().any(|(name, _)| name == "RUST_LOG") {
            command.env("RUST_LOG", "info");
        }
        let mut child = command
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let (lines, log) = mpsc::channel();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            // Keep draining after the address is found: a full pipe would block the server's logging.
            for line in stderr.lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let mut startup_log = Vec::new();
        let addr = loop {
            let line = log
                .recv_timeout(Duration::from_secs(30))
                .expect("the server logs its address");
            startup_log.push(line.clone());
            if let Some((_, rest)) = line.split_once("listening on http://") {
                // The address ends the text line, or a JSON string.
                let addr = rest.split(['"', ' ']).next().unwrap_or_default();
                break addr.trim().parse().expect("the logged address parses");
            }
        };
        Self {
            child,
            addr,
            log,
            startup_log,
        }
    }

    /// The next log line containing `text`, waiting at most `patience`.
    pub fn log_line_containing(&self, text: &str, patience: Duration) -> String {
        self.log_lines_until(text, patience)
            .pop()
            .expect("the matching line is last")
    }

    /// Every log line up to and including the next one containing `text`, waiting at most
    /// `patience`.
    pub fn log_lines_until(&self, text: &str, patience: Duration) -> Vec<String> {
        let deadline = std::time::Instant::now() + patience;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self
                .log
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no log line containing {text:?} in time"));
            let found = line.contains(text);
            lines.push(line);
            if found {
                return lines;
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Kills the process with SIGKILL, as a crash or power cut would, and reaps it.
    pub fn kill_hard(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// A server a failing test leaves behind must not outlive it.
impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
