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
mod parked;
pub mod projection;
pub mod webhooks;

#[cfg(feature = "conformance")]
pub mod conformance;

use async_trait::async_trait;
use roundtable_domain::{NegotiationId, RecordedEvent};

pub use change::{ChangeDetails, ChangeReader};
pub use handler::{CommandHandler, HandleError, Handled, load};
pub use parked::ParkedEntry;
pub use projection::{
    Change, ChangeSink, ChangeWatch, EventFeed, FeedItem, NoChanges, StoredView, ViewStore,
};
pub use webhooks::{
    ChangeFeed, DeadLetter, FeedChange, LogChangeFeed, Selection, Webhook, WebhookId, WebhookStore,
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

/// What can go wrong in a store. Variants are for callers to match on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Optimistic concurrency: the negotiation is not at the expected version.
    #[error("negotiation {negotiation} moved on: expected version {expected}, found {actual}")]
    Conflict {
        /// The negotiation.
        negotiation: NegotiationId,
        /// The version the writer expected to be last.
        expected: u64,
        /// The version actually last, when the backend said so.
        actual: u64,
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
    /// The backend is reachable but unusable (too old, misconfigured).
    #[error("event store unusable: {0}")]
    Incompatible(String),
}
