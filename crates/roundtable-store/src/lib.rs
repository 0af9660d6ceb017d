//! The event store port: what Roundtable needs from an event log, whatever keeps it.
//!
//! Adapters: `roundtable-nats` (NATS JetStream) and `roundtable-sqlite` (the embedded
//! store, one local file). Each runs the shared [`conformance`] suite.
//!
//! [`CommandHandler`] is the command side over any store: load (or catch up) the
//! negotiation, `decide`, seal the event into the hash chain, append with optimistic
//! concurrency, retry on conflict, and answer retries of a recorded command with the
//! event recorded the first time.

#![warn(missing_docs)]

mod change;
mod handler;
pub mod kv;
mod parked;
mod ports;
pub mod projection;
pub mod webhooks;

#[cfg(feature = "conformance")]
pub mod conformance;

use async_trait::async_trait;
use roundtable_domain::{NegotiationId, RecordedEvent};

pub use change::{ChangeDetails, ChangeReader};
pub use handler::{
    CommandHandler, DEFAULT_CACHED_NEGOTIATIONS, HandleError, Handled, NegotiationLimits, load,
};
pub use kv::{KvBuckets, KvEntry, KvStore};
pub use parked::ParkedEntry;
pub use ports::{Connection, EventFeeds, Ports};
pub use projection::{
    Change, ChangeSink, ChangeWatch, EventFeed, FeedItem, NoChanges, StoredView, ViewStore,
};
pub use webhooks::{
    ChangeFeed, ChangeFeeds, DeadLetter, FeedChange, LogChangeFeed, Selection, Webhook, WebhookId,
    WebhookStore,
};

/// An append-only log of [`RecordedEvent`]s, one sequence per negotiation.
///
/// Guarantees every adapter gives (and the conformance suite checks):
/// - `append` records `event` only if the negotiation's last version is exactly
///   `event.version - 1` (optimistic concurrency); of two writers racing for one
///   version, exactly one wins and the other gets [`StoreError::Conflict`].
/// - Because every append is conditional on the exact last version, a writer always
///   decides against every event before it, command ids included: that is what makes
///   [`CommandHandler`] idempotent for as long as the log exists, not only within a
///   backend's duplicate window.
/// - Events are never changed or removed; reads return exactly the bytes appended,
///   checked against their hash.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends one event as the next version of its negotiation.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the negotiation's current version is not
    /// `event.version - 1`; [`StoreError::Unavailable`] when the backend cannot be
    /// reached (the event may or may not have been recorded: retry with the same
    /// command id, which is idempotent).
    async fn append(&self, event: &RecordedEvent) -> Result<(), StoreError>;

    /// Appends consecutive events of one negotiation: `events[0]` as its next version,
    /// each following event as the version after the one before it. An empty slice
    /// appends nothing.
    ///
    /// A backend that can write several events at once overrides this and records all
    /// of them or none (SQLite: one transaction; JetStream: one atomic batch, when the
    /// stream allows it). This default appends them one by one and stops at the first
    /// failure, so a prefix of the events may be recorded when it returns an error:
    /// callers must re-read the negotiation after any error, as after a failed
    /// [`EventStore::append`].
    ///
    /// # Errors
    /// As [`EventStore::append`], for the first event that could not be appended;
    /// [`StoreError::Conflict`] also when the events are not consecutive versions of one
    /// negotiation.
    async fn append_batch(&self, events: &[RecordedEvent]) -> Result<(), StoreError> {
        check_batch(events)?;
        for event in events {
            self.append(event).await?;
        }
        Ok(())
    }

    /// Reads the events of `negotiation` with versions above `after_version`, in
    /// order, at most `limit` of them (`None`: all).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when a stored event fails to decode or its hash does not
    /// match; [`StoreError::Unavailable`] when the backend cannot be reached.
    async fn read(
        &self,
        negotiation: &NegotiationId,
        after_version: u64,
        limit: Option<usize>,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The ids of every negotiation with at least one event, sorted.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the backend cannot be reached.
    async fn negotiations(&self) -> Result<Vec<NegotiationId>, StoreError>;

    /// The last version recorded for `negotiation` (0 when it has no events).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the backend cannot be reached.
    async fn last_version(&self, negotiation: &NegotiationId) -> Result<u64, StoreError>;
}

/// Checks that `events` are consecutive versions of one negotiation, as
/// [`EventStore::append_batch`] requires.
///
/// # Errors
/// [`StoreError::Conflict`] naming the first event out of line (its negotiation, the
/// version expected there, and the version found).
pub fn check_batch(events: &[RecordedEvent]) -> Result<(), StoreError> {
    let Some(first) = events.first() else {
        return Ok(());
    };
    for (i, e) in events.iter().enumerate() {
        let expected = first.version + i as u64;
        if e.negotiation_id != first.negotiation_id || e.version != expected {
            return Err(StoreError::Conflict {
                negotiation: e.negotiation_id.clone(),
                expected: expected.saturating_sub(1),
                actual: Some(e.version.saturating_sub(1)),
            });
        }
    }
    Ok(())
}

/// `, found N` when the version found is known, else nothing.
fn found(actual: &Option<u64>) -> String {
    actual.map_or_else(String::new, |a| format!(", found {a}"))
}

/// What can go wrong in a store. Variants are for callers to match on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Optimistic concurrency: the negotiation is not at the expected version.
    #[error("negotiation {negotiation} moved on: expected version {expected}{}", found(.actual))]
    Conflict {
        /// The negotiation.
        negotiation: NegotiationId,
        /// The version the writer expected to be last.
        expected: u64,
        /// The version (or revision) actually last, when the backend said so; `None`
        /// when it is not known (the conflict itself is certain).
        actual: Option<u64>,
    },
    /// A stored event cannot be decoded or fails its hash check.
    #[error("stored event of {negotiation} at {position} is corrupt: {reason}")]
    Corrupt {
        /// The negotiation (or `?` when unknown).
        negotiation: String,
        /// Where: a version or the backend's position.
        position: String,
        /// What is wrong.
        reason: String,
    },
    /// The backend cannot be reached or timed out.
    #[error("event store unavailable: {0}")]
    Unavailable(String),
    /// A key-value write or delete conditional on a revision found the key at another
    /// revision (or holding nothing): another writer got there first.
    #[error("key {key} moved on: expected revision {expected}")]
    RevisionConflict {
        /// The key (with its bucket, for messages).
        key: String,
        /// The revision the writer expected.
        expected: u64,
    },
    /// Something created only once (a key, a webhook id) exists already.
    #[error("{0} exists already")]
    AlreadyExists(String),
    /// The backend is reachable but unusable (too old, misconfigured).
    #[error("event store unusable: {0}")]
    Incompatible(String),
}
