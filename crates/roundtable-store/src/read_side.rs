//! The read side's ports: the ordered feed of every recorded event that projectors
//! consume ([`EventFeed`]), where change notifications go ([`ChangeSink`]) and the hints
//! that a negotiation has new changes ([`ChangeWatch`]). The stored views themselves are
//! written once over the key-value port, in `roundtable-projector`.

use std::time::Duration;

use async_trait::async_trait;
use roundtable_domain::{NegotiationId, RecordedEvent};

use crate::{Change, StoreError};

/// One entry of the [`EventFeed`]: a recorded event at its position in the global
/// order, or an entry that could not be decoded.
#[derive(Debug, Clone)]
pub struct FeedItem {
    /// Position in the store's global order (the stream sequence on NATS, the row
    /// position embedded). Increasing, not necessarily gapless.
    pub position: u64,
    /// The negotiation the entry belongs to, when known even if it did not decode
    /// (from the NATS subject, from the row).
    pub negotiation: Option<NegotiationId>,
    /// The decoded event, or why it could not be decoded.
    pub event: Result<RecordedEvent, StoreError>,
}

/// The ordered feed of every recorded event of every negotiation, with a durable
/// checkpoint: a restarted consumer resumes after the last acknowledged entry.
///
/// On NATS: a durable JetStream consumer (the checkpoint is its ack floor); embedded:
/// the events table read by position, with a checkpoint row. Entries may be delivered
/// more than once (after a crash, or to several consumers of one durable name): a
/// projector must apply each event at most once by comparing versions.
#[async_trait]
pub trait EventFeed: Send {
    /// Waits up to `wait` for entries after those already returned, up to `max`.
    /// An empty result means nothing new arrived in time.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn next(&mut self, max: usize, wait: Duration) -> Result<Vec<FeedItem>, StoreError>;

    /// Acknowledges entries up to and including `position` among those returned: the
    /// checkpoint moves there and they are not delivered again to this consumer name.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn ack(&mut self, position: u64) -> Result<(), StoreError>;

    /// How many recorded entries this consumer has not yet acknowledged.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn lag(&mut self) -> Result<u64, StoreError>;

    /// Forgets the checkpoint of this consumer name, for a rebuild: the next
    /// [`EventFeed::next`] starts again from the first recorded entry, and entries
    /// returned before the reset are no longer acknowledged.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn reset(&mut self) -> Result<(), StoreError>;
}

/// Where change notifications go once a view is stored.
#[async_trait]
pub trait ChangeSink: Send + Sync + 'static {
    /// Publishes one change.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn publish(&self, change: &Change) -> Result<(), StoreError>;

    /// Makes sure the sink can take changes before the first one comes (NATS: creates
    /// the changes stream, so that an integration can make its consumer at once). The
    /// default does nothing.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Incompatible`].
    async fn prepare(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Publishes `changes` in order. An adapter may pipeline them (send all, then
    /// wait for every acknowledgement); the default publishes one after the other.
    /// On an error some may have been published: publishing them all again must be
    /// harmless (a change carries its version; NATS drops repeats by message id).
    ///
    /// # Errors
    /// The first error.
    async fn publish_all(&self, changes: &[Change]) -> Result<(), StoreError> {
        for change in changes {
            self.publish(change).await?;
        }
        Ok(())
    }

    /// Sends `changes` in order, possibly without waiting until the sink has stored
    /// them: [`ChangeSink::confirm`] waits for that. The default publishes them with
    /// [`ChangeSink::publish_all`] (stored when it returns).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; some may have been sent.
    async fn send_all(&self, changes: &[Change]) -> Result<(), StoreError> {
        self.publish_all(changes).await
    }

    /// Waits until every change sent with [`ChangeSink::send_all`] since the last
    /// confirmation is stored. A projector confirms before it acknowledges a batch, so
    /// that one round trip covers every negotiation of the batch.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when some may not be stored: send them again
    /// (repeats are harmless, see [`ChangeSink::publish_all`]).
    async fn confirm(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The version of the last change of `negotiation` this sink holds (`Some(0)`:
    /// none yet), or `None` when the sink cannot tell (the default). A rebuild of the
    /// views announces only changes after it, so that rebuilding does not announce
    /// again what integrations have already been told.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn last_announced(
        &self,
        _negotiation: &NegotiationId,
    ) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }
}

/// Tells a follower when a negotiation may have new changes, so that it reads the log
/// again at once rather than on its next poll. Hints only: a signal may be spurious,
/// and one may be missed, so a follower still polls now and then.
///
/// On NATS: a subscription to `roundtable.changes.<negotiation_id>`; the embedded
/// store has none (followers poll).
#[async_trait]
pub trait ChangeWatch: Send + Sync + 'static {
    /// A receiver that gets `()` whenever `negotiation` may have new changes; it stops
    /// watching when dropped.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn watch(
        &self,
        negotiation: &NegotiationId,
    ) -> Result<tokio::sync::mpsc::Receiver<()>, StoreError>;
}

/// A [`ChangeSink`] that drops every change (the embedded store has no message bus).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoChanges;

#[async_trait]
impl ChangeSink for NoChanges {
    async fn publish(&self, _change: &Change) -> Result<(), StoreError> {
        Ok(())
    }
}
