//! Entries the projector set aside ([`ParkedEntry`]): kept with the views, so that the
//! API can list them and mark the affected negotiations' views as stale.

use chrono::{DateTime, Utc};
use roundtable_domain::NegotiationId;
use serde::{Deserialize, Serialize};

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
