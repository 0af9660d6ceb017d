//! Real `nats-server` processes for Roundtable's tests.
//!
//! [`NatsServer::start`] finds the executable ([`ServerBinary::locate`]: the path in
//! `ROUNDTABLE_NATS_SERVER`, else `nats-server` on `PATH`, refused when older than
//! 2.10), starts it on a free loopback port with JetStream on and a fresh temporary
//! store directory, and waits until it takes clients. [`NatsServer::kill`] crashes it
//! (SIGKILL), [`NatsServer::restart`] brings it back on the same port and store, and
//! dropping it cleans everything up.
//!
//! ```no_run
//! # async fn example() -> Result<(), roundtable_testkit::TestkitError> {
//! let mut server = roundtable_testkit::NatsServer::start().await?;
//! let url = server.url(); // nats://127.0.0.1:PORT
//! server.kill();
//! server.restart().await?; // same port, same JetStream data
//! # Ok(())
//! # }
//! ```
//!
//! [`NatsCluster::start`] starts a JetStream cluster instead (three nodes for one that
//! survives the loss of a node): one config file per node with routes to every node
//! on loopback ports reserved up front, a shared JetStream domain and
//! `sync_interval: always`. Its nodes can be killed (SIGKILL), restarted, paused
//! (SIGSTOP) and resumed (SIGCONT) one at a time or all together, and it tells which
//! node leads a stream.
//!
//! ```no_run
//! # async fn example() -> Result<(), roundtable_testkit::TestkitError> {
//! let mut cluster = roundtable_testkit::NatsCluster::start(3).await?;
//! let urls = cluster.urls(); // nats://127.0.0.1:P1,nats://127.0.0.1:P2,...
//! // ... create a stream with 3 replicas through `urls` ...
//! if let Some(leader) = cluster.stream_leader("ROUNDTABLE_EVENTS").await? {
//!     cluster.kill(leader);
//!     cluster.restart(leader).await?;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Layout: `binary` finds and checks the executable, `process` runs one server process
//! from a given command line (output to a log file, readiness, signals, SIGKILL and
//! reaping), `server` builds the command line of a single server, and `cluster` writes
//! the config files of a cluster's nodes and acts on them.
//!
//! Besides servers, two helpers that tests of several crates share: [`minutes::record`]
//! decides and seals a minutes text without a store, and [`schema`] builds JSON Schema
//! validators (formats checked) and lists their errors.

#![warn(missing_docs)]

mod binary;
mod cluster;
pub mod minutes;
mod process;
pub mod schema;
mod server;
mod version;

pub use binary::{BINARY_ENV, ServerBinary};
pub use cluster::{CLUSTER_DOMAIN, CLUSTER_NAME, NatsCluster};
pub use server::{NatsServer, READY_TIMEOUT, SyncInterval};
pub use version::{INSTALL_HINT, MIN_VERSION, Version};

/// Why a test server could not be found or started. Messages name the path, version or
/// log involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestkitError {
    /// No `nats-server` executable could be found or run.
    #[error("{0}")]
    NotFound(String),
    /// The executable did not report a version.
    #[error("{0}")]
    Version(String),
    /// The executable is older than [`MIN_VERSION`].
    #[error("{message}")]
    TooOld {
        /// The version it reported.
        version: String,
        /// Where it is.
        path: String,
        /// What is wrong and how to get a current one.
        message: String,
    },
    /// A file, directory or process could not be made.
    #[error("{0}")]
    Io(String),
    /// The server exited early or did not take clients in time (the message quotes the
    /// end of its log).
    #[error("{0}")]
    Start(String),
}
