//! The answers a use case gives instead of a result.

use roundtable_domain::NegotiationId;
use roundtable_store::StoreError;

/// Which port a store error came from, so a front end can say which store failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// The event log.
    Events,
    /// The projected views (the read model).
    Views,
    /// The signed checkpoints and cosignatures.
    Checkpoints,
}

impl Port {
    /// The port in words: `the event store` or `the view store`.
    pub fn describe(self) -> &'static str {
        match self {
            Port::Events => "the event store",
            Port::Views => "the view store",
            Port::Checkpoints => "the checkpoint store",
        }
    }
}

/// Why a use case gives no result. Each variant is one answer: the HTTP API maps them
/// to status codes (404, 400, 409, 503, 500), the CLI to exit codes (1 for an answer
/// about the record, 2 for bad input or an unusable store).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The negotiation has no recorded event.
    #[error("negotiation {negotiation} has no recorded events")]
    NotRecorded {
        /// The negotiation asked for.
        negotiation: NegotiationId,
    },
    /// The projection holds no view of the negotiation.
    #[error("negotiation {negotiation} has no agreement view")]
    NoView {
        /// The negotiation asked for.
        negotiation: NegotiationId,
    },
    /// The negotiation had not been opened yet at the point asked for (`when`, in
    /// words: `at version 0`, `at 2027-01-01T00:00:00Z by occurred_at`).
    #[error("negotiation {negotiation} had not been opened yet {when}")]
    NotYetOpened {
        /// The negotiation asked for.
        negotiation: NegotiationId,
        /// The point, in words.
        when: String,
    },
    /// A version past the last one.
    #[error(
        "version {requested} of negotiation {negotiation} does not exist: it has {last} events"
    )]
    VersionNotFound {
        /// The negotiation asked for.
        negotiation: NegotiationId,
        /// The version asked for.
        requested: u64,
        /// Its last version.
        last: u64,
    },
    /// The request contradicts itself (`from` after `to`, say); the message names the
    /// values.
    #[error("{0}")]
    InvalidRequest(String),
    /// The projected view differs from a fresh fold of the events, so an export would
    /// not verify.
    #[error(
        "the projected view of {negotiation} differs from a fresh fold of its events at {at}, so the export would not verify"
    )]
    ViewMismatch {
        /// The negotiation.
        negotiation: NegotiationId,
        /// Where the two first differ (a JSON path).
        at: String,
    },
    /// The recorded events do not fold into one chain (the store is damaged:
    /// `verify` says where).
    #[error("the events of {negotiation} do not fold: {reason}")]
    Corrupt {
        /// The negotiation.
        negotiation: NegotiationId,
        /// What is wrong.
        reason: String,
    },
    /// An OCDS option is wrong (the ocid prefix); the message says how.
    #[error("{0}")]
    Ocds(roundtable_ocds::OcdsError),
    /// No checkpoint of the negotiation is kept (at `size`, or at all).
    #[error("no checkpoint of {negotiation} is kept{}", size.map_or_else(String::new, |s| format!(" at size {s}")))]
    NoCheckpoint {
        /// The negotiation asked for.
        negotiation: NegotiationId,
        /// The size asked for, if one was.
        size: Option<u64>,
    },
    /// The log parts from a checkpoint the server signed: its history was rewritten
    /// (or cut) under it.
    #[error("the log of {negotiation} does not extend its signed checkpoints: {reason}")]
    Rewritten {
        /// The negotiation.
        negotiation: NegotiationId,
        /// Where and how, in words.
        reason: String,
    },
    /// A witness's cosignature is refused; the message says why.
    #[error("cosignature refused: {0}")]
    Cosignature(String),
    /// A store failed.
    #[error("{} failed: {source}", port.describe())]
    Store {
        /// Which store.
        port: Port,
        /// What it said.
        #[source]
        source: StoreError,
    },
}

impl AppError {
    /// A [`AppError::Store`] of the event store.
    pub fn events(source: StoreError) -> Self {
        AppError::Store {
            port: Port::Events,
            source,
        }
    }

    /// A [`AppError::Store`] of the view store.
    pub fn views(source: StoreError) -> Self {
        AppError::Store {
            port: Port::Views,
            source,
        }
    }
}
