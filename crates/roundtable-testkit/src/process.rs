//! One running `nats-server` process: spawned with its output sent to a log file,
//! waited on until it takes clients, killed with SIGKILL and reaped.
//!
//! This is the part a single server and the nodes of a future cluster share: the
//! caller decides the arguments (flags, or `-c` with a config file holding routes).

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;

use crate::TestkitError;
use crate::binary::ServerBinary;

/// The log line that carries the client address, up to the address.
const LISTENING: &str = "Listening for client connections on ";
/// The log line that says the server finished starting (JetStream included).
const READY: &str = "Server is ready";
/// How many log lines an error message quotes.
const TAIL_LINES: usize = 30;

/// A started server process. Dropping it kills and reaps the process.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    child: Child,
}

impl ServerProcess {
    /// Runs `binary` with `args` plus `-P pid_file`, appending its stdout and stderr to
    /// `log`, and waits up to `timeout` until it says it is ready and answers a client
    /// connection with its `INFO` line. Returns the process and its client port.
    ///
    /// The server writes its own process id to `pid_file`; it must be the id of the
    /// process started, or killing that process would not kill the server (a wrapper
    /// script that runs the server without `exec`): then the server is killed and an
    /// error says to point the kit at the real executable.
    pub(crate) async fn start(
        binary: &ServerBinary,
        args: &[OsString],
        pid_file: &Path,
        log: &Path,
        timeout: Duration,
    ) -> Result<(ServerProcess, u16), TestkitError> {
        let io = |what: &str, e: std::io::Error| {
            TestkitError::Io(format!("{what} {}: {e}", log.display()))
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| io("cannot open server log", e))?;
        // Only what this run writes is searched for its port and readiness.
        let offset = file
            .metadata()
            .map_err(|e| io("cannot read server log", e))?
            .len();
        let stdout = file
            .try_clone()
            .map_err(|e| io("cannot share server log", e))?;
        let _ = std::fs::remove_file(pid_file);
        let child = Command::new(binary.path())
            .args(args)
            .arg("-P")
            .arg(pid_file)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(file)
            .spawn()
            .map_err(|e| {
                TestkitError::Io(format!("cannot start {}: {e}", binary.path().display()))
            })?;
        let mut process = ServerProcess { child };
        let ready = match process.wait_ready(log, offset, timeout).await {
            Ok(port) => process.check_pid(binary, pid_file).map(|()| port),
            Err(e) => Err(e),
        };
        match ready {
            Ok(port) => Ok((process, port)),
            Err(e) => {
                process.kill();
                Err(e)
            }
        }
    }

    /// Checks that the server's own process id is the one of the process started.
    fn check_pid(&self, binary: &ServerBinary, pid_file: &Path) -> Result<(), TestkitError> {
        let written = std::fs::read_to_string(pid_file).map_err(|e| {
            TestkitError::Start(format!(
                "nats-server wrote no pid file {}: {e}",
                pid_file.display()
            ))
        })?;
        let server_pid = written.trim();
        if server_pid == self.child.id().to_string() {
            return Ok(());
        }
        // The server runs under a wrapper: killing the wrapper would leave it running.
        let _ = Command::new("kill").args(["-9", server_pid]).status();
        Err(TestkitError::Start(format!(
            "{} started nats-server as another process ({server_pid}, not {}): it is a wrapper that does not exec the server, so the kit could not kill it; point {} at the real executable",
            binary.path().display(),
            self.child.id(),
            crate::BINARY_ENV
        )))
    }

    async fn wait_ready(
        &mut self,
        log: &Path,
        offset: u64,
        timeout: Duration,
    ) -> Result<u16, TestkitError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(TestkitError::Start(format!(
                    "nats-server exited before it was ready ({status}); its log {} ends with:\n{}",
                    log.display(),
                    tail(&read_from(log, offset), TAIL_LINES)
                )));
            }
            let text = read_from(log, offset);
            if text.contains(READY) {
                if let Some(port) = client_port(&text) {
                    if answers_info(port).await {
                        return Ok(port);
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(TestkitError::Start(format!(
                    "nats-server did not take clients within {timeout:?}; its log {} ends with:\n{}",
                    log.display(),
                    tail(&text, TAIL_LINES)
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running (it may have died on its own).
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `signal` (a name `kill -s` knows: `STOP`, `CONT`, `TERM`) with the `kill`
    /// command, so that no `unsafe` call into libc is needed.
    pub(crate) fn signal(&self, signal: &str) -> Result<(), TestkitError> {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-s", signal, &pid])
            .stdin(Stdio::null())
            .status()
            .map_err(|e| TestkitError::Io(format!("cannot run kill -s {signal} {pid}: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(TestkitError::Io(format!(
                "kill -s {signal} {pid} failed ({status})"
            )))
        }
    }

    /// Sends SIGSTOP and returns once the kernel reports every thread of the process
    /// stopped (state `T` in `/proc/<pid>/stat`), so that nothing the caller sends
    /// after it is answered: the signal is delivered asynchronously, and on a loaded
    /// machine a thread may still answer a request between `kill` and its stop.
    ///
    /// # Errors
    /// As [`ServerProcess::signal`], and [`TestkitError::Io`] when the process is not
    /// reported stopped within five seconds.
    pub(crate) fn pause(&self) -> Result<(), TestkitError> {
        self.signal("STOP")?;
        let pid = self.child.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            if stopped(pid) {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                return Err(TestkitError::Io(format!(
                    "process {pid} is not reported stopped 5 s after SIGSTOP"
                )));
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Sends SIGKILL (no clean shutdown) and reaps the process. Idempotent.
    pub(crate) fn kill(&mut self) {
        // Fails only when the process has already exited; reaping is what matters.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The port of the first "Listening for client connections on HOST:PORT" line.
fn client_port(log: &str) -> Option<u16> {
    log.lines().find_map(|line| {
        let (_, rest) = line.split_once(LISTENING)?;
        let addr = rest.split_whitespace().next()?;
        addr.rsplit_once(':')?.1.parse().ok()
    })
}

/// Whether a client connecting to `127.0.0.1:port` gets the server's `INFO` line.
async fn answers_info(port: u16) -> bool {
    let attempt = async {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).await.ok()?;
        Some(line.starts_with("INFO "))
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// What `path` holds past `offset` bytes, lossily decoded (empty when unreadable).
pub(crate) fn read_from(path: &Path, offset: u64) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut file) = File::open(path) {
        if file.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = file.read_to_end(&mut bytes);
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The last `n` lines of `text`.
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The log file of a server whose files live in `dir`.
pub(crate) fn log_path(dir: &Path) -> PathBuf {
    dir.join("nats-server.log")
}

/// The pid file of a server whose files live in `dir`.
/// Whether every thread of process `pid` is stopped (state `T` or `t` in
/// `/proc/<pid>/task/*/stat`); false when it cannot be read.
fn stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    let mut any = false;
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            return false;
        };
        // The state is the field after the command name, which is in parentheses.
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        if !matches!(state, Some("T" | "t")) {
            return false;
        }
        any = true;
    }
    any
}

pub(crate) fn pid_path(dir: &Path) -> PathBuf {
    dir.join("nats-server.pid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_client_port_from_the_log() {
        let log = "[1] 2027/03/01 09:00:00.000000 [INF] Starting nats-server\n\
                   [1] 2027/03/01 09:00:00.000001 [INF] Listening for client connections on 127.0.0.1:41234\n\
                   [1] 2027/03/01 09:00:00.000002 [INF] Server is ready\n";
        assert_eq!(client_port(log), Some(41234));
        assert_eq!(client_port("[INF] Server is ready"), None);
    }

    #[test]
    fn tails_keep_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
        assert_eq!(tail("", 5), "");
    }
}
