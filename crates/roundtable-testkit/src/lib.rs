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
//! Layout, with a cluster in mind: `binary` finds and checks the executable, `process`
//! runs one server process from a given command line (output to a log file, readiness,
//! SIGKILL and reaping), and `server` builds the command line of a single server. A
//! three-node cluster adds a module that writes one config file per node (`server_name`,
//! `listen`, `jetstream { store_dir }`, `cluster { name, listen, routes }`, with ports
//! reserved up front), starts three processes with `-c FILE`, and kills or restarts
//! nodes one at a time.

#![warn(missing_docs)]

mod binary;
mod process;
mod server;
mod version;

pub use binary::{BINARY_ENV, ServerBinary};
pub use server::{NatsServer, READY_TIMEOUT};
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
