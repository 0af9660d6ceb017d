//! A witness's core: given the last checkpoint it holds of a log and a new signed
//! checkpoint with a consistency proof from it, check that the new one extends the
//! held one, and cosign it (c2sp.org/tlog-cosignature, `cosignature/v1`); or refuse,
//! naming a split view when the log shows a history the held checkpoint rules out.
//!
//! Pure: the caller keeps the held checkpoint (per origin), fetches the new one and
//! its proof, and passes the time in.

use crate::checkpoint::{CheckpointError, LogCheckpoint, VerifiedCheckpoint, verify_checkpoint};
use crate::keys::{COSIGNATURE_V1, KeyError, SignerKey, VerifierKey};
use crate::merkle::Hash;
use crate::note::NoteError;
use crate::proof::{ProofError, verify_consistency};
use crate::signed::{SignatureError, cosign_text};

/// Why a witness refuses a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    /// The new checkpoint is malformed or not signed by the log's key.
    #[error("the checkpoint is not accepted: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The new checkpoint is of another log than the one held.
    #[error("the checkpoint is of {found}, but the one held is of {held}")]
    OtherLog {
        /// The held checkpoint's origin.
        held: String,
        /// The new checkpoint's origin.
        found: String,
    },
    /// The new checkpoint is smaller than the held one: the log went back.
    #[error("the checkpoint of {origin} has size {new}, smaller than the {held} already held")]
    Rollback {
        /// The origin.
        origin: String,
        /// The held size.
        held: u64,
        /// The new size.
        new: u64,
    },
    /// The log shows a history that does not extend the one held: two views.
    #[error(
        "split view of {origin}: the checkpoint at size {new_size} (root {new_root}) does not extend the one held at size {held_size} (root {held_root}): {reason}"
    )]
    SplitView {
        /// The origin.
        origin: String,
        /// The held size.
        held_size: u64,
        /// The held root (hex).
        held_root: String,
        /// The new size.
        new_size: u64,
        /// The new root (hex).
        new_root: String,
        /// Why: the proof's failure, or two roots for one size.
        reason: String,
    },
    /// The cosignature could not be made.
    #[error("cannot cosign: {0}")]
    Cosign(#[from] SignatureError),
    /// The cosigned note could not be written.
    #[error("cannot write the cosigned note: {0}")]
    Note(#[from] NoteError),
}

/// A checkpoint the witness checked and cosigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witnessed {
    /// The checkpoint: hold it as the last one of its origin.
    pub checkpoint: LogCheckpoint,
    /// The signed note with the witness's cosignature line appended.
    pub note: String,
    /// The cosignature line alone.
    pub cosignature: String,
}

/// A witness: its cosigning key and the log keys it trusts.
#[derive(Debug, Clone)]
pub struct Witness {
    key: SignerKey,
    log_keys: Vec<VerifierKey>,
}

impl Witness {
    /// A witness cosigning with `key` (type `0x04`) checkpoints signed by any of
    /// `log_keys`.
    ///
    /// # Errors
    /// [`KeyError::WrongType`] when `key` is not a cosignature key.
    pub fn new(key: SignerKey, log_keys: Vec<VerifierKey>) -> Result<Witness, KeyError> {
        key.require_type(COSIGNATURE_V1)?;
        Ok(Witness { key, log_keys })
    }

    /// The verifier key of the witness's cosignatures, to publish.
    pub fn verifier(&self) -> VerifierKey {
        self.key.verifier()
    }

    /// Checks `new_note` (a signed checkpoint) against `held` (the last checkpoint
    /// held of its origin, `None` for the first) with `proof`, the consistency proof
    /// from the held size to the new size, and cosigns it at `now` (POSIX seconds).
    ///
    /// # Errors
    /// [`WitnessError`]: a bad checkpoint, another log, a rollback, or a split view.
    pub fn check(
        &self,
        held: Option<&LogCheckpoint>,
        new_note: &str,
        proof: &[Hash],
        now: u64,
    ) -> Result<Witnessed, WitnessError> {
        let VerifiedCheckpoint {
            checkpoint, note, ..
        } = verify_checkpoint(new_note, &self.log_keys)?;
        if let Some(h) = held {
            check_extends(h, &checkpoint, proof)?;
        }
        let line = cosign_text(&self.key, note.text(), now)?;
        let cosignature = line.to_string();
        let mut note = note;
        note.add_signature(line)?;
        Ok(Witnessed {
            checkpoint,
            note: note.to_string(),
            cosignature,
        })
    }
}

/// Checks that `new` extends `held`: same origin, not smaller, and `proof` a valid
/// consistency proof between them (RFC 9162 2.1.4.2).
///
/// # Errors
/// [`WitnessError::OtherLog`], [`WitnessError::Rollback`] or
/// [`WitnessError::SplitView`].
pub fn check_extends(
    held: &LogCheckpoint,
    new: &LogCheckpoint,
    proof: &[Hash],
) -> Result<(), WitnessError> {
    let (held_origin, new_origin) = (held.to_checkpoint().origin, new.to_checkpoint().origin);
    if held_origin != new_origin {
        return Err(WitnessError::OtherLog {
            held: held_origin,
            found: new_origin,
        });
    }
    if new.size < held.size {
        return Err(WitnessError::Rollback {
            origin: new_origin,
            held: held.size,
            new: new.size,
        });
    }
    let split = |reason: String| WitnessError::SplitView {
        origin: new_origin.clone(),
        held_size: held.size,
        held_root: hex::encode(held.root),
        new_size: new.size,
        new_root: hex::encode(new.root),
        reason,
    };
    if new.size == held.size && new.root != held.root {
        return Err(split("two different roots for the same size".into()));
    }
    // Every tree extends the empty one: nothing to prove from size 0.
    if held.size > 0 {
        verify_consistency(held.size, new.size, &held.root, &new.root, proof).map_err(
            |e: ProofError| split(format!("the consistency proof does not verify: {e}")),
        )?;
    }
    if new.size == held.size && new.last_event != held.last_event {
        return Err(split("the same tree names a different last event".into()));
    }
    Ok(())
}
