//! Roundtable's negotiation domain: everything DOMAIN.md says about partners,
//! proposals, endorsements, objections, commitments and signatures, as pure code.
//!
//! - [`decide`] holds every rule: it judges a [`CommandEnvelope`] against the current
//!   [`AgreementView`] and returns one [`Event`] or a [`Rejection`].
//! - [`evolve`] applies an event and holds no rule.
//! - [`envelope`] wraps events in their stored form (ids, versions, times, hash chain)
//!   and folds them ([`Projection`]).
//! - [`minutes`] parses the JSON Lines import format.
//! - [`upcast`] reads events stored at older schema versions as the current schema.
//! - [`time`] holds the window of accepted times and dates and the one date grammar;
//!   [`text`] the blank check and the bidi controls; [`json`] the parser that refuses
//!   repeated keys.
//! - [`signing`] defines the agreement hash and the message a partner signs with its
//!   Ed25519 key, and checks keys and signatures.
//!
//! No IO, no async, no clock: time and ids come in with the command.

#![warn(missing_docs)]

mod after_signature;
pub mod canonical;
pub mod change;
pub mod command;
mod decide;
pub mod envelope;
pub mod event;
mod evolve;
pub mod id;
pub mod json;
#[cfg(feature = "schemars")]
pub mod json_schema;
pub mod minutes;
pub mod rejection;
#[cfg(feature = "utoipa")]
mod schema;
pub mod signing;
pub mod text;
pub mod time;
pub mod upcast;
pub mod view;
pub mod vocab;

pub use change::{Change, ChangeDeriver, ChangeDetails, ChangeError};
pub use command::{Command, CommandEnvelope, CommandId};
pub use decide::{MAX_SHORT_CHARS, MAX_TEXT_CHARS, check_sender, decide, secretariat_action};
pub use envelope::{ChainError, DecodeError, GENESIS_HASH, Projection, RecordedEvent};
pub use event::{Event, EventBody};
pub use evolve::evolve;
pub use id::{
    Actor, AssetId, ClauseId, CommitmentId, IdError, NegotiationId, ObjectionId, PartnerId,
    ProposalId, RoundId, ShortfallId,
};
pub use rejection::{Rejection, RejectionKind};
pub use view::{AgreementView, overdue_commitments};
