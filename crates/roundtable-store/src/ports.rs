//! [`Ports`]: every port of one backing store, as each adapter's one constructor
//! (`roundtable_sqlite::open`, `roundtable_nats::connect`) returns them.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{ChangeFeeds, ChangeSink, ChangeWatch, EventFeed, EventStore, KvBuckets, StoreError};

/// Opens named, checkpointed feeds of every recorded event ([`EventFeed`]).
#[async_trait]
pub trait EventFeeds: Send + Sync + 'static {
    /// The feed under the consumer name `name` (letters, digits, `-` and `_`):
    /// processes opening one name share its checkpoint.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Incompatible`] for a bad name or a
    /// consumer the backend refuses.
    async fn open(&self, name: &str) -> Result<Box<dyn EventFeed>, StoreError>;
}

/// The connection to the backing store itself: what `/readyz` and shutdown need.
#[async_trait]
pub trait Connection: Send + Sync + 'static {
    /// Where the events are, in words (`the embedded store in DIR`, `NATS JetStream
    /// at URL` with the password left out).
    fn describe(&self) -> String;

    /// `Ok` while the connection is up (always, for a local file); otherwise what is
    /// wrong, in words.
    ///
    /// # Errors
    /// The reason, e.g. `not connected to NATS at URL`.
    async fn check(&self) -> Result<(), String> {
        Ok(())
    }

    /// Flushes what is pending and closes the connection (NATS: drains it); best
    /// effort, at shutdown.
    async fn close(&self) {}

    /// Whether the event log itself exists (NATS: the stream; embedded: the events
    /// table of the file). An adapter that always has it keeps this default, `true`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the backend does not answer.
    async fn log_exists(&self) -> Result<bool, StoreError> {
        Ok(true)
    }

    /// Creates the event log when it is missing and the adapter can (NATS: the
    /// stream, as a first start does). Called only once the deployment's log identity
    /// allows a new log (`roundtable_app::identity::open_log`).
    ///
    /// # Errors
    /// [`StoreError::LogMissing`] when the adapter cannot make a new log in place (the
    /// embedded file: restore the file or move it away); as the adapter's connect.
    async fn create_log(&self) -> Result<(), StoreError> {
        if self.log_exists().await? {
            Ok(())
        } else {
            Err(StoreError::LogMissing(format!(
                "{} has no event log, and none can be made in place",
                self.describe()
            )))
        }
    }
}

/// Every port of one backing store, sharing its connection.
#[derive(Clone)]
pub struct Ports {
    /// The event log.
    pub events: Arc<dyn EventStore>,
    /// Named feeds of every event, for projectors.
    pub feeds: Arc<dyn EventFeeds>,
    /// The key-value buckets (views, parked entries, webhooks).
    pub kv: Arc<dyn KvBuckets>,
    /// Where the projector announces changes ([`crate::NoChanges`] where the changes
    /// are derived from the log instead).
    pub changes: Arc<dyn ChangeSink>,
    /// The durable per-webhook feeds of changes.
    pub change_feeds: Arc<dyn ChangeFeeds>,
    /// Hints that a negotiation has new changes, where the backend has them.
    pub watch: Option<Arc<dyn ChangeWatch>>,
    /// The connection itself.
    pub connection: Arc<dyn Connection>,
}

impl fmt::Debug for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ports")
            .field("store", &self.connection.describe())
            .field("watch", &self.watch.is_some())
            .finish_non_exhaustive()
    }
}
