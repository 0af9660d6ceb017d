//! The read model's storage: one agreement view per negotiation ([`ViewStore`],
//! [`StoredView`]) and the entries the projector set aside ([`ParkedEntry`]), which
//! mark their negotiations' views as stale. [`crate::KvViewStore`] implements it once
//! over the key-value port, for every adapter.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roundtable_domain::{AgreementView, NegotiationId};
use roundtable_store::StoreError;
use serde::{Deserialize, Serialize};

/// A stored agreement view and the revision to update it against.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredView {
    /// The view, re-indexed and ready to be used as state.
    pub view: AgreementView,
    /// Opaque, increasing revision of the stored value (a KV revision, a row counter).
    pub revision: u64,
}

/// The read model: one agreement view per negotiation, updated optimistically.
///
/// On NATS: a JetStream key-value bucket; embedded: a table in the store's file.
#[async_trait]
pub trait ViewStore: Send + Sync + 'static {
    /// The stored view of `negotiation`, if any.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Corrupt`] when the stored bytes are
    /// not a view.
    async fn get(&self, negotiation: &NegotiationId) -> Result<Option<StoredView>, StoreError>;

    /// Stores `view` if the stored revision is still `expected` (`None`: no view stored
    /// yet) and returns the new revision.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when another writer updated (or created) it first: the
    /// caller re-reads and retries. [`StoreError::Unavailable`].
    async fn put(&self, view: &AgreementView, expected: Option<u64>) -> Result<u64, StoreError>;

    /// The ids of every stored view, sorted.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn list(&self) -> Result<Vec<NegotiationId>, StoreError>;

    /// Drops every stored view and every parked entry (for a rebuild, which parks
    /// again what still cannot be projected).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn clear(&self) -> Result<(), StoreError>;

    /// Keeps `entry`, which the projector parked, and marks its negotiation's view as
    /// stale ([`ViewStore::stale`]). Parking the same position again changes nothing.
    ///
    /// The default keeps nothing, for test doubles; both adapters keep every entry
    /// (the conformance suite checks it).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn park(&self, entry: &ParkedEntry) -> Result<(), StoreError> {
        let _ = entry;
        Ok(())
    }

    /// Every parked entry, by position.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Corrupt`] when a kept entry cannot
    /// be read.
    async fn parked(&self) -> Result<Vec<ParkedEntry>, StoreError> {
        Ok(Vec::new())
    }

    /// The first parked entry of `negotiation` when its view is stale (it has one),
    /// else `None`: one look-up, for every read of a view.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Corrupt`].
    async fn stale(&self, negotiation: &NegotiationId) -> Result<Option<ParkedEntry>, StoreError> {
        let _ = negotiation;
        Ok(None)
    }
}

/// One feed entry the projector could not project: a message on a negotiation's
/// subject that is not an event, fails its hash, has a schema version this build does
/// not know, does not link to the stored view, or whose view cannot be stored.
///
/// While a negotiation has a parked entry its stored view is *stale*: it stops at the
/// last event before the parked one and may lack later ones. It stays stale until the
/// views are rebuilt (`roundtable project --rebuild`), which clears every parked entry
/// and parks again whatever still cannot be projected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct ParkedEntry {
    /// Its position in the feed (the stream sequence on NATS, the row position in the
    /// embedded file): where an operator finds the message.
    pub position: u64,
    /// The negotiation it belongs to, when known (from the subject or the row) even if
    /// it did not decode; `null` for a subject that is not a negotiation.
    #[cfg_attr(feature = "utoipa", schema(value_type = Option<String>))]
    pub negotiation_id: Option<NegotiationId>,
    /// The event's version, when it decoded.
    pub version: Option<u64>,
    /// Why it was parked, in words.
    pub reason: String,
    /// When it was parked (the projector's clock).
    pub parked_at: DateTime<Utc>,
}
