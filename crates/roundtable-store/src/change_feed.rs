//! The change feeds' port: each webhook's durable feed of changes ([`ChangeFeeds`],
//! [`ChangeFeed`]) and which negotiations it selects ([`Selection`]).
//!
//! On NATS: one durable consumer per feed on the stream `ROUNDTABLE_CHANGES`; embedded:
//! a checkpoint per feed over the events table, each change derived from the log. The
//! webhooks themselves (registrations, dead letters, replays) are written once over the
//! key-value port, in `roundtable-webhooks`.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roundtable_domain::NegotiationId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Change, StoreError};

/// Every item, or only those listed. JSON: `"all"` or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection<T> {
    /// Every item, also those that appear later.
    All,
    /// Only these.
    Only(Vec<T>),
}

impl<T: PartialEq> Selection<T> {
    /// Whether `item` is selected.
    pub fn contains(&self, item: &T) -> bool {
        match self {
            Selection::All => true,
            Selection::Only(items) => items.contains(item),
        }
    }
}

impl<T: Serialize> Serialize for Selection<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Selection::All => s.serialize_str("all"),
            Selection::Only(items) => items.serialize(s),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Selection<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw<T> {
            Word(String),
            List(Vec<T>),
        }
        match Raw::deserialize(d)? {
            Raw::Word(w) if w == "all" => Ok(Selection::All),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "expected \"all\" or a list, got {w:?}"
            ))),
            Raw::List(items) => Ok(Selection::Only(items)),
        }
    }
}

/// One change taken from a [`ChangeFeed`]: its position, to acknowledge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedChange {
    /// Position in the feed (a stream sequence, an events row).
    pub position: u64,
    /// The change.
    pub change: Change,
}

/// One webhook's durable feed of changes: it resumes after the last acknowledged
/// change, across restarts. Changes of a negotiation come in version order.
#[async_trait]
pub trait ChangeFeed: Send {
    /// Waits up to `wait` for the next change after those returned; `None` when
    /// none came. The same change is returned again until acknowledged only after a
    /// restart (or, on NATS, when not kept in hand with [`ChangeFeed::working`]).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn next(&mut self, wait: Duration) -> Result<Option<FeedChange>, StoreError>;

    /// Acknowledges the change at `position` (the last returned): the feed's
    /// checkpoint moves past it.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn ack(&mut self, position: u64) -> Result<(), StoreError>;

    /// Says the last change returned is still being worked on (NATS: in progress, so
    /// the server does not hand it to another process); call it at least every 10 s.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn working(&mut self) -> Result<(), StoreError>;
}

/// Opens the durable feeds of changes the webhooks are delivered from, one per name
/// (a webhook's id).
///
/// On NATS: a durable consumer `roundtable-webhook-<name>` on the changes stream,
/// delivering from a start time; embedded: a checkpoint `webhook-<name>` over the
/// events table, each change derived from the log ([`LogChangeFeed`]).
#[async_trait]
pub trait ChangeFeeds: Send + Sync + 'static {
    /// Starts the feed `name` at the changes recorded from now on (`since`: now, as
    /// the caller's clock says), replacing any earlier feed of that name.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Incompatible`].
    async fn start(&self, name: &str, since: DateTime<Utc>) -> Result<(), StoreError>;

    /// The feed `name` of the changes of `negotiations`, resuming after its last
    /// acknowledged change (after `since` when it was never started); `description`
    /// is kept where the backend shows one.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Incompatible`].
    async fn open(
        &self,
        name: &str,
        negotiations: &Selection<NegotiationId>,
        since: DateTime<Utc>,
        description: &str,
    ) -> Result<Box<dyn ChangeFeed>, StoreError>;

    /// Forgets the feed `name` and its checkpoint; a feed that does not exist is not
    /// an error.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn remove(&self, name: &str) -> Result<(), StoreError>;
}
