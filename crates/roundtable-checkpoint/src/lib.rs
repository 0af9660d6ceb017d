//! Signed checkpoints of a negotiation's log, and the proofs that go with them
//! (docs/AUDIT.md, "Checkpoints"):
//!
//! - [`merkle`]: the RFC 9162 Merkle tree over the log's event hashes, kept
//!   incrementally ([`Frontier`]), with roots at any size and inclusion and
//!   consistency proofs from a [`LeafSource`];
//! - [`proof`]: verifying those proofs (RFC 9162 2.1.3.2 and 2.1.4.2);
//! - [`note`], [`keys`], [`signed`]: C2SP signed notes, verifier and private keys,
//!   Ed25519 signatures and `cosignature/v1` cosignatures;
//! - [`checkpoint`]: the C2SP checkpoint text and Roundtable's profile of it (origin
//!   `<deployment>/negotiations/<id>`, the last event's hash and time), the
//!   [`CheckpointSigner`] and [`verify_checkpoint`];
//! - [`witness`]: a witness's check of a new checkpoint against the one it holds, and
//!   its cosignature, or the split view it found.
//!
//! Pure: no IO, no async, no clock and no randomness (seeds and times come in as
//! values).

#![warn(missing_docs)]

pub mod checkpoint;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod proof;
pub mod signed;
pub mod witness;

pub use checkpoint::{
    Checkpoint, CheckpointError, CheckpointSigner, LastEvent, LogCheckpoint, VerifiedCheckpoint,
    verify_checkpoint,
};
pub use keys::{COSIGNATURE_V1, ED25519, KeyError, SignerKey, VerifierKey};
pub use merkle::{Frontier, Hash, LeafSource, TreeError, event_leaf_hash};
pub use note::{Note, NoteError, NoteSignature};
pub use proof::{ProofError, verify_consistency, verify_inclusion};
pub use signed::{SignatureError, verify_note};
pub use witness::{Witness, WitnessError, Witnessed};
