//! The ports of Roundtable: what it needs from a backing store, whatever keeps it, and
//! the conformance suites that say what each port guarantees.
//!
//! - the event log ([`EventStore`]): append with an expected version, batch append,
//!   read, list, last version;
//! - the event feed ([`EventFeeds`], [`EventFeed`]): every event in order from a
//!   checkpoint, acknowledgement, lag, reset;
//! - the revisioned key-value port ([`KvBuckets`], [`KvStore`]), over which the
//!   projector's views and the webhooks are written once;
//! - the change notifications ([`ChangeSink`], [`ChangeWatch`]) and the webhooks'
//!   durable change feeds ([`ChangeFeeds`], [`ChangeFeed`]);
//! - the connection itself ([`Connection`]), and [`Ports`], all of them as each
//!   adapter's one constructor returns them.
//!
//! Adapters: `roundtable-nats` (NATS JetStream) and `roundtable-sqlite` (the embedded
//! store, one local file). Each runs the [`conformance`] suite, on one server and, for
//! NATS, a three-node cluster. The command handler and the use cases over these ports
//! are in `roundtable-app`.

#![warn(missing_docs)]

mod change_feed;
pub mod kv;
pub mod overdue;
mod ports;
mod read_side;

#[cfg(feature = "conformance")]
pub mod conformance;

use async_trait::async_trait;
use roundtable_domain::{NegotiationId, RecordedEvent};

pub use change_feed::{ChangeFeed, ChangeFeeds, FeedChange, Selection};
pub use kv::{KvBuckets, KvEntry, KvStore};
pub use ports::{Connection, EventFeeds, Ports};
pub use read_side::{ChangeSink, ChangeWatch, EventFeed, FeedItem, NoChanges};
/// The change notification the change ports carry (defined in the domain:
/// `roundtable_domain::change`).
pub use roundtable_domain::Change;

/// An append-only log of [`RecordedEvent`]s, one sequence per negotiation.
///
/// Guarantees every adapter gives (and the conformance suite checks):
/// - `append` records `event` only if the negotiation's last version is exactly
///   `event.version - 1` (optimistic concurrency); of two writers racing for one
///   version, exactly one wins and the other gets [`StoreError::Conflict`].
/// - Because every append is conditional on the exact last version, a writer always
///   decides against every event before it, command ids included: that is what makes
///   the command handler idempotent for as long as the log exists, not only within a
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
    /// The backend cannot be reached or timed out. The [`Cause`] says where and what
    /// in words (its message already includes the backend's words, so it is not
    /// chained as this error's source, which would print them twice) and keeps the
    /// backend's own error, for callers that inspect it (`Error::source` of the
    /// [`Cause`]).
    #[error("event store unavailable: {0}")]
    Unavailable(Cause),
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
    /// The event log itself is gone (the JetStream stream deleted, or the server
    /// restarted on an empty store directory; the embedded file's events table
    /// missing): nothing can be recorded there, and retrying will not help until it is
    /// restored (docs/OPERATIONS.md, "When the event log is lost"). Also the refusal to
    /// start a new log where there is evidence of an earlier one (`roundtable_app::identity`).
    #[error("the event stream is missing: {0}")]
    LogMissing(String),
}

impl StoreError {
    /// [`StoreError::Unavailable`] with `message` (where, and what failed) and no
    /// source.
    pub fn unavailable(message: impl Into<String>) -> StoreError {
        StoreError::Unavailable(Cause::new(message))
    }

    /// [`StoreError::Unavailable`] with `message`, keeping `source` (the backend's own
    /// error, or its words) for [`std::error::Error::source`].
    pub fn unavailable_because(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> StoreError {
        StoreError::Unavailable(Cause::new(message).because(source))
    }
}

/// Why a backend is unavailable: a message for people (which store, doing what, and
/// the backend's words) and, when there is one, the backend's own error as the
/// [`std::error::Error::source`]. Two causes are equal when their messages are; it
/// reads as its message (`Deref<Target = str>`).
#[derive(Clone)]
pub struct Cause {
    message: String,
    source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
}

impl Cause {
    /// A cause with `message` and no source.
    pub fn new(message: impl Into<String>) -> Cause {
        Cause {
            message: message.into(),
            source: None,
        }
    }

    /// The same cause, keeping `source` as the error it came from.
    #[must_use]
    pub fn because(mut self, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Cause {
        self.source = Some(std::sync::Arc::from(source.into()));
        self
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Debug for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Cause");
        d.field("message", &self.message);
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Cause) -> bool {
        self.message == other.message
    }
}

impl Eq for Cause {}

impl std::ops::Deref for Cause {
    type Target = str;
    fn deref(&self) -> &str {
        &self.message
    }
}

impl From<String> for Cause {
    fn from(message: String) -> Cause {
        Cause::new(message)
    }
}

impl From<&str> for Cause {
    fn from(message: &str) -> Cause {
        Cause::new(message)
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn an_unavailable_store_keeps_the_backends_error_and_says_it_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e =
            StoreError::unavailable_because("nats at nats://h:4222: cannot connect: refused", io);
        assert_eq!(
            e.to_string(),
            "event store unavailable: nats at nats://h:4222: cannot connect: refused"
        );
        // Not chained: a report of the chain says the backend's words once.
        assert!(e.source().is_none());
        let StoreError::Unavailable(cause) = &e else {
            panic!("{e:?}")
        };
        let kept = cause.source().expect("the backend's error is kept");
        assert_eq!(kept.to_string(), "refused");
        assert_eq!(
            kept.downcast_ref::<std::io::Error>()
                .map(std::io::Error::kind),
            Some(std::io::ErrorKind::ConnectionRefused)
        );
        // Equal by message, whatever the source.
        assert_eq!(
            e,
            StoreError::unavailable("nats at nats://h:4222: cannot connect: refused")
        );
    }
}
