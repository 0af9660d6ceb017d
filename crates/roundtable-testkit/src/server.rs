//! A single `nats-server` with JetStream, on loopback, with a store of its own.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use crate::TestkitError;
use crate::binary::ServerBinary;
use crate::process::{ServerProcess, log_path, pid_path, read_from, tail};

/// How long a server may take to start (or restart, recovering its store) and take clients.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The server name given with `-n`, kept across restarts so JetStream sees the same server.
const SERVER_NAME: &str = "roundtable-testkit";

/// The config file written when JetStream's sync interval is not the default.
const CONFIG_FILE: &str = "nats-server.conf";

/// A running single `nats-server` with JetStream enabled, for one test.
///
/// Listens on `127.0.0.1` only, keeps its JetStream store in a fresh temporary
/// directory, and writes its stdout and stderr to `nats-server.log` in that directory
/// (not to the test's terminal). Command line:
/// `nats-server -a 127.0.0.1 -p PORT -js -sd STORE_DIR -n roundtable-testkit -P PID_FILE`.
///
/// [`NatsServer::kill`] stops it with SIGKILL, as a crash would;
/// [`NatsServer::restart`] brings it back on the same port and store directory.
/// Dropping it kills and reaps the process and removes the temporary directory; when
/// dropped during a panic (a failing test) it first prints the end of the server log to
/// stderr, which the test harness shows with the failure.
#[derive(Debug)]
pub struct NatsServer {
    // Declared before `dir`: the process is killed before its directory is removed.
    process: Option<ServerProcess>,
    binary: ServerBinary,
    port: u16,
    sync: SyncInterval,
    /// Config text added to the file the server reads (`authorization`, `tls`...).
    extra: Option<String>,
    dir: TempDir,
}

/// How often JetStream syncs its files to disk (`jetstream { sync_interval: ... }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncInterval {
    /// The server's default (every two minutes): no config file, flags only.
    #[default]
    Default,
    /// `sync_interval: always`: one fsync per message before it is acknowledged.
    Always,
    /// `sync_interval: <N>s`: a sync every `N` seconds.
    Every(Duration),
}

impl SyncInterval {
    /// The value of `sync_interval` in a config file, `None` for the default.
    fn config_value(self) -> Option<String> {
        match self {
            SyncInterval::Default => None,
            SyncInterval::Always => Some("always".to_owned()),
            SyncInterval::Every(every) => Some(format!("\"{}s\"", every.as_secs().max(1))),
        }
    }
}

impl NatsServer {
    /// Starts the `nats-server` found by [`ServerBinary::locate`] (2.10 or newer) on a
    /// free loopback port, and waits until it takes clients.
    ///
    /// # Errors
    /// Those of [`ServerBinary::locate`] (missing or too old binary, with how to get a
    /// current one) and of [`NatsServer::start_with`].
    pub async fn start() -> Result<NatsServer, TestkitError> {
        NatsServer::start_with(ServerBinary::locate()?).await
    }

    /// Starts the `nats-server` at `path`, whatever its version: for tests that need an
    /// old server on purpose.
    ///
    /// # Errors
    /// Those of [`ServerBinary::at`] and of [`NatsServer::start_with`].
    pub async fn start_with_binary(path: impl AsRef<Path>) -> Result<NatsServer, TestkitError> {
        NatsServer::start_with(ServerBinary::at(path)?).await
    }

    /// Starts `binary` on a free loopback port with a fresh store directory, and waits
    /// (at most [`READY_TIMEOUT`]) until it says it is ready and answers a client.
    ///
    /// The port is chosen by the server itself (`-p -1`) and read back from its log, so
    /// two tests never race for one port; restarts then ask for that same port.
    ///
    /// # Errors
    /// [`TestkitError::Io`] when the temporary directory or the process cannot be made;
    /// [`TestkitError::Start`] when the server exits early or is not ready in time, with
    /// the end of its log.
    pub async fn start_with(binary: ServerBinary) -> Result<NatsServer, TestkitError> {
        NatsServer::start_configured(binary, SyncInterval::Default).await
    }

    /// Starts the `nats-server` found by [`ServerBinary::locate`] with JetStream syncing
    /// its files as `sync` says: for benchmarks that compare fsync settings. With
    /// anything but [`SyncInterval::Default`] the server reads a config file,
    /// `nats-server.conf` in its directory, holding
    /// `jetstream { store_dir: STORE_DIR, sync_interval: ... }`.
    ///
    /// # Errors
    /// As [`NatsServer::start`].
    pub async fn start_with_sync(sync: SyncInterval) -> Result<NatsServer, TestkitError> {
        NatsServer::start_configured(ServerBinary::locate()?, sync).await
    }

    /// Starts the `nats-server` found by [`ServerBinary::locate`] reading a config
    /// file, `nats-server.conf` in its directory, that holds the `jetstream` block and
    /// then `config` as it is: an `authorization { ... }`, `tls { ... }` or
    /// `accounts { ... }` block, for tests of authentication and TLS. Paths in `config`
    /// may be anywhere (a test usually writes its files to [`NatsServer::config_dir`]
    /// of a scratch directory of its own). The server still listens on `127.0.0.1` on
    /// a port it picks, and restarts keep the config.
    ///
    /// # Errors
    /// As [`NatsServer::start`]; [`TestkitError::Start`] with the end of the log when
    /// the server refuses the config.
    pub async fn start_with_config(config: &str) -> Result<NatsServer, TestkitError> {
        NatsServer::start_full(
            ServerBinary::locate()?,
            SyncInterval::Default,
            Some(config.to_owned()),
        )
        .await
    }

    async fn start_configured(
        binary: ServerBinary,
        sync: SyncInterval,
    ) -> Result<NatsServer, TestkitError> {
        NatsServer::start_full(binary, sync, None).await
    }

    async fn start_full(
        binary: ServerBinary,
        sync: SyncInterval,
        extra: Option<String>,
    ) -> Result<NatsServer, TestkitError> {
        let dir = tempfile::Builder::new()
            .prefix("roundtable-nats-")
            .tempdir()
            .map_err(|e| TestkitError::Io(format!("cannot create a temporary directory: {e}")))?;
        let store = dir.path().join("store");
        fs::create_dir(&store)
            .map_err(|e| TestkitError::Io(format!("cannot create {}: {e}", store.display())))?;
        let args = server_args(None, &store, dir.path(), sync, extra.as_deref())?;
        let (process, port) = ServerProcess::start(
            &binary,
            &args,
            &pid_path(dir.path()),
            &log_path(dir.path()),
            READY_TIMEOUT,
        )
        .await?;
        Ok(NatsServer {
            process: Some(process),
            binary,
            port,
            sync,
            extra,
            dir,
        })
    }

    /// The client URL: `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port on `127.0.0.1`; the same across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's own temporary directory (its store, log and config file live
    /// there); removed when the server is dropped.
    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// The JetStream store directory (`-sd`); the same across restarts.
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// The file that collects the server's stdout and stderr, across restarts.
    pub fn log_path(&self) -> PathBuf {
        log_path(self.dir.path())
    }

    /// Everything the server has logged so far, across restarts.
    pub fn log(&self) -> String {
        read_from(&self.log_path(), 0)
    }

    /// The executable this server runs, and its version.
    pub fn binary(&self) -> &ServerBinary {
        &self.binary
    }

    /// The process id, while running.
    pub fn pid(&mut self) -> Option<u32> {
        let process = self.process.as_mut()?;
        process.is_running().then(|| process.id())
    }

    /// Whether the server process is running (it may also have died on its own).
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(ServerProcess::is_running)
    }

    /// Kills the server with SIGKILL, as a crash or power loss would (no clean
    /// shutdown, no flush), and reaps the process. Does nothing when it is not running.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// Pauses the server with SIGSTOP: it keeps its sockets but answers nothing, as a
    /// server that hangs (swapping, a stalled disk) would; clients' requests time out.
    ///
    /// # Errors
    /// [`TestkitError::Io`] when it does not run or the signal cannot be sent.
    pub fn pause(&mut self) -> Result<(), TestkitError> {
        match self.process.as_ref() {
            Some(process) => process.pause(),
            None => Err(TestkitError::Io(format!("{} is not running", self.url()))),
        }
    }

    /// Resumes the server with SIGCONT after [`NatsServer::pause`].
    ///
    /// # Errors
    /// [`TestkitError::Io`] when it does not run or the signal cannot be sent.
    pub fn resume(&mut self) -> Result<(), TestkitError> {
        match self.process.as_ref() {
            Some(process) => process.signal("CONT"),
            None => Err(TestkitError::Io(format!("{} is not running", self.url()))),
        }
    }

    /// Starts the server again on the same port and store directory, killing it first
    /// (SIGKILL) if it is still running, and waits until it takes clients again. JetStream
    /// recovers its streams before the server takes clients.
    ///
    /// # Errors
    /// As [`NatsServer::start_with`]; notably [`TestkitError::Start`] when another process
    /// took the port in the meantime.
    pub async fn restart(&mut self) -> Result<(), TestkitError> {
        self.kill();
        self.start_again().await
    }

    /// How JetStream syncs its files on this server now.
    pub fn sync_interval(&self) -> SyncInterval {
        self.sync
    }

    /// Stops the server cleanly (SIGTERM, so that JetStream writes its indexes; SIGKILL
    /// after [`READY_TIMEOUT`]) and starts it again on the same port and store directory
    /// with JetStream syncing its files as `sync` says. Later [`NatsServer::restart`]s
    /// keep that setting.
    ///
    /// # Errors
    /// As [`NatsServer::restart`].
    pub async fn restart_with_sync(&mut self, sync: SyncInterval) -> Result<(), TestkitError> {
        self.stop().await;
        self.sync = sync;
        self.start_again().await
    }

    /// Stops the server with SIGTERM and waits for it to exit (SIGKILL after
    /// [`READY_TIMEOUT`]). Does nothing when it is not running.
    pub async fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            if process.signal("TERM").is_ok() {
                let deadline = std::time::Instant::now() + READY_TIMEOUT;
                while process.is_running() && std::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            process.kill();
        }
    }

    async fn start_again(&mut self) -> Result<(), TestkitError> {
        let args = server_args(
            Some(self.port),
            &self.store_dir(),
            self.dir.path(),
            self.sync,
            self.extra.as_deref(),
        )?;
        let (process, port) = ServerProcess::start(
            &self.binary,
            &args,
            &pid_path(self.dir.path()),
            &log_path(self.dir.path()),
            READY_TIMEOUT,
        )
        .await?;
        self.process = Some(process);
        if port != self.port {
            return Err(TestkitError::Start(format!(
                "nats-server came back on port {port} instead of {}",
                self.port
            )));
        }
        Ok(())
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- end of nats-server log ({}, {}):\n{}\n---",
                self.url(),
                self.log_path().display(),
                tail(&self.log(), 40)
            );
        }
    }
}

/// The command line of a single server; `port: None` lets the server choose (`-p -1`).
/// With a sync setting other than the default, or `extra` config text, writes
/// `dir/nats-server.conf` holding the `jetstream` block (and `extra` after it) and
/// points the server at it with `-c`.
fn server_args(
    port: Option<u16>,
    store: &Path,
    dir: &Path,
    sync: SyncInterval,
    extra: Option<&str>,
) -> Result<Vec<OsString>, TestkitError> {
    let port = port.map_or_else(|| "-1".to_owned(), |p| p.to_string());
    let mut args: Vec<OsString> = ["-a", "127.0.0.1", "-p", &port]
        .into_iter()
        .map(OsString::from)
        .collect();
    match (sync.config_value(), extra) {
        (None, None) => {
            args.extend(["-js", "-sd"].map(OsString::from));
            args.push(store.as_os_str().to_owned());
        }
        (value, extra) => {
            let config = dir.join(CONFIG_FILE);
            let sync = value.map_or_else(String::new, |v| format!("  sync_interval: {v}\n"));
            let text = format!(
                "# Written by roundtable-testkit.\njetstream {{\n  store_dir: {}\n{sync}}}\n{}\n",
                serde_json::Value::String(store.display().to_string()),
                extra.unwrap_or("")
            );
            fs::write(&config, text)
                .map_err(|e| TestkitError::Io(format!("cannot write {}: {e}", config.display())))?;
            args.push(OsString::from("-c"));
            args.push(config.into_os_string());
        }
    }
    args.extend(["-n", SERVER_NAME].map(OsString::from));
    Ok(args)
}
