//! Verifying an export against an anchor: checkpoints signed by the log's key
//! (docs/AUDIT.md, "Checkpoints"), and making checkpoints and proofs of a
//! negotiation's events.
//!
//! The hash chain proves an export intact in itself; a checkpoint proves which history
//! the log committed to. An export extends a checkpoint of size `n` when the Merkle
//! tree of its first `n` events ([`roundtable_checkpoint::merkle`], one leaf per event
//! hash) has the checkpoint's root. A history rewritten from version `k` on, with every
//! hash recomputed, has another root at every size from `k` on: it fails against any
//! checkpoint of size `k` or more. Where the histories part is known as closely as the
//! checkpoints allow: after the largest checkpoint the export extends, at or before the
//! smallest one it does not.

use roundtable_checkpoint::merkle::{self, Frontier, Hash, LeafError, TreeError};
use roundtable_checkpoint::{
    CheckpointError, CheckpointSigner, LastEvent, LogCheckpoint, VerifierKey, verify_checkpoint,
};
use roundtable_domain::RecordedEvent;
use serde::Serialize;

use crate::verify::{Check, CheckOutcome, Failure, Tampering, VerifyReport, verify_export};

/// The name of the anchor check in a report.
pub const ANCHOR_CHECK: &str = "anchor";

/// What the verifier trusts: checkpoints of the negotiation (signed notes) and the
/// log's verifier keys (the current one and any kept from before a rotation).
#[derive(Debug, Clone, Default)]
pub struct Anchor {
    /// Signed checkpoint notes the verifier holds (from a witness, a partner, its own
    /// earlier run).
    pub checkpoints: Vec<String>,
    /// The log's verifier keys.
    pub log_keys: Vec<VerifierKey>,
}

/// The leaf hashes of events (in version order): one per event, from its `hash`.
///
/// # Errors
/// [`LeafError`] for an event whose hash is not 64 hex digits.
pub fn leaf_hashes(events: &[RecordedEvent]) -> Result<Vec<Hash>, LeafError> {
    events
        .iter()
        .map(|e| merkle::event_leaf_hash(&e.hash))
        .collect()
}

/// Why a checkpoint or proof cannot be made of a negotiation's events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProveError {
    /// An event's hash cannot be a leaf.
    #[error(transparent)]
    Leaf(#[from] LeafError),
    /// The sizes or version asked for are outside the log.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// Version 0 has no event.
    #[error("versions start at 1; there is no event at version 0")]
    VersionZero,
    /// The checkpoint cannot be signed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// The signed checkpoint of the first `size` of `events` (all when `None`).
///
/// # Errors
/// [`ProveError`] for a size beyond the events, or a negotiation id the origin cannot
/// hold.
pub fn sign_checkpoint(
    signer: &CheckpointSigner,
    events: &[RecordedEvent],
    size: Option<u64>,
) -> Result<String, ProveError> {
    let leaves = leaf_hashes(events)?;
    let size = size.unwrap_or(leaves.len() as u64);
    let root = merkle::root_at(&leaves, size)?;
    let last = size
        .checked_sub(1)
        .and_then(|i| events.get(usize::try_from(i).ok()?))
        .map(|e| LastEvent {
            hash: e.hash.clone(),
            recorded_at: e.recorded_at,
        });
    let id = events
        .first()
        .map(|e| e.negotiation_id.to_string())
        .unwrap_or_default();
    Ok(signer.sign(&id, size, root, last)?)
}

/// An inclusion proof of one event, as `roundtable prove --inclusion` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct InclusionProof {
    /// The event's version (leaf index + 1).
    pub version: u64,
    /// The leaf index (version - 1).
    pub leaf_index: u64,
    /// The tree size.
    pub tree_size: u64,
    /// The event's hash (the leaf input, hex).
    pub event_hash: String,
    /// SHA-256(0x00 || event hash bytes), hex.
    pub leaf_hash: String,
    /// The root at `tree_size`, hex.
    pub root: String,
    /// The proof's hashes, hex, from the leaf upwards (RFC 9162 2.1.3).
    pub proof: Vec<String>,
}

/// A consistency proof between two sizes, as `roundtable prove --consistency` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct ConsistencyProof {
    /// The old size.
    pub old_size: u64,
    /// The new size.
    pub new_size: u64,
    /// The root at the old size, hex.
    pub old_root: String,
    /// The root at the new size, hex.
    pub new_root: String,
    /// The proof's hashes, hex (RFC 9162 2.1.4).
    pub proof: Vec<String>,
}

fn hexes(h: &[Hash]) -> Vec<String> {
    h.iter().map(hex::encode).collect()
}

/// The inclusion proof of event `version` in the tree of the first `size` events.
///
/// # Errors
/// [`ProveError`] for version 0, a version after `size`, or a size beyond the events.
pub fn prove_inclusion(
    events: &[RecordedEvent],
    version: u64,
    size: u64,
) -> Result<InclusionProof, ProveError> {
    let leaves = leaf_hashes(events)?;
    let index = version.checked_sub(1).ok_or(ProveError::VersionZero)?;
    let proof = merkle::inclusion_proof(&leaves, index, size)?;
    let i = usize::try_from(index).unwrap_or(usize::MAX);
    Ok(InclusionProof {
        version,
        leaf_index: index,
        tree_size: size,
        event_hash: events[i].hash.clone(),
        leaf_hash: hex::encode(leaves[i]),
        root: hex::encode(merkle::root_at(&leaves, size)?),
        proof: hexes(&proof),
    })
}

/// The consistency proof from the first `old` events to the first `new`.
///
/// # Errors
/// [`ProveError`] for `old > new` or a size beyond the events.
pub fn prove_consistency(
    events: &[RecordedEvent],
    old: u64,
    new: u64,
) -> Result<ConsistencyProof, ProveError> {
    let leaves = leaf_hashes(events)?;
    let proof = merkle::consistency_proof(&leaves, old, new)?;
    Ok(ConsistencyProof {
        old_size: old,
        new_size: new,
        old_root: hex::encode(merkle::root_at(&leaves, old)?),
        new_root: hex::encode(merkle::root_at(&leaves, new)?),
        proof: hexes(&proof),
    })
}

/// Verifies an export ([`crate::verify`]), then that its events extend every
/// checkpoint of `anchor` and every checkpoint the export carries that a trusted key
/// signed (the `anchor` check).
///
/// Without any trusted checkpoint, the report fails: an anchor was asked for and none
/// could be used.
pub fn verify_anchored(bytes: &[u8], anchor: &Anchor) -> VerifyReport {
    let (mut report, verified) = verify_export(bytes);
    let detail = "the events extend the checkpoints signed by the log's key".to_owned();
    let Some((manifest, events, _)) = verified else {
        report.checks.push(Check {
            name: ANCHOR_CHECK.into(),
            outcome: CheckOutcome::Skipped,
            detail,
        });
        return report;
    };
    report.checks.push(Check {
        name: ANCHOR_CHECK.into(),
        outcome: CheckOutcome::Passed,
        detail,
    });
    match check_anchor(
        &manifest.negotiation_id,
        &manifest.checkpoints,
        &events,
        anchor,
    ) {
        Ok(detail) => {
            if let Some(c) = report.checks.last_mut() {
                c.detail = detail;
            }
        }
        Err(failure) => {
            if let Some(c) = report.checks.last_mut() {
                c.outcome = CheckOutcome::Failed;
            }
            report.ok = false;
            report.failure = Some(*failure);
        }
    }
    report
}

fn anchor_failure(kind: Tampering, version: Option<u64>, reason: String) -> Box<Failure> {
    Box::new(Failure {
        kind,
        check: ANCHOR_CHECK.into(),
        version,
        // Line 1 is the manifest; version v is on line v + 1.
        line: version.map(|v| usize::try_from(v).unwrap_or(usize::MAX).saturating_add(1)),
        event_id: None,
        reason,
    })
}

/// One trusted checkpoint and where it came from.
struct Trusted {
    checkpoint: LogCheckpoint,
    signed_by: String,
    source: String,
}

fn check_anchor(
    negotiation_id: &str,
    embedded: &[String],
    events: &[RecordedEvent],
    anchor: &Anchor,
) -> Result<String, Box<Failure>> {
    let unusable = |reason: String| anchor_failure(Tampering::Malformed, None, reason);
    let mut trusted = Vec::new();
    for (i, note) in anchor.checkpoints.iter().enumerate() {
        let v = verify_checkpoint(note, &anchor.log_keys)
            .map_err(|e| unusable(format!("anchor checkpoint {} is not usable: {e}", i + 1)))?;
        trusted.push(Trusted {
            signed_by: format!("{}+{:08x}", v.signed_by.name, v.signed_by.key_id),
            checkpoint: v.checkpoint,
            source: format!("anchor checkpoint {}", i + 1),
        });
    }
    for (i, note) in embedded.iter().enumerate() {
        match verify_checkpoint(note, &anchor.log_keys) {
            Ok(v) => trusted.push(Trusted {
                signed_by: format!("{}+{:08x}", v.signed_by.name, v.signed_by.key_id),
                checkpoint: v.checkpoint,
                source: format!("the export's checkpoint {}", i + 1),
            }),
            // A trusted key's signature that fails: the note was altered.
            Err(CheckpointError::Signature(
                e @ roundtable_checkpoint::SignatureError::Invalid { .. },
            )) => {
                return Err(anchor_failure(
                    Tampering::Edited,
                    None,
                    format!("the export's checkpoint {} was altered: {e}", i + 1),
                ));
            }
            // Signed by no trusted key (another deployment, an unknown key): not evidence.
            Err(_) => {}
        }
    }
    if trusted.is_empty() {
        return Err(unusable(
            "no checkpoint signed by the given log key was given or carried by the export".into(),
        ));
    }
    if let Some(t) = trusted
        .iter()
        .find(|t| t.checkpoint.negotiation_id != negotiation_id)
    {
        return Err(unusable(format!(
            "{} is of negotiation {}, the export of {negotiation_id}",
            t.source, t.checkpoint.negotiation_id
        )));
    }
    trusted.sort_by_key(|t| t.checkpoint.size);
    let leaves = leaf_hashes(events).map_err(|e| unusable(e.to_string()))?;
    // Roots of the export's tree at each trusted size, from one pass of the frontier.
    let mut frontier = Frontier::new();
    let mut matched: Option<&Trusted> = None;
    let mut parted: Option<(&Trusted, Option<Hash>)> = None;
    let mut leaf = leaves.iter();
    for t in &trusted {
        let size = t.checkpoint.size;
        while frontier.size() < size {
            match leaf.next() {
                Some(h) => frontier.push(*h),
                None => break,
            }
        }
        if frontier.size() < size {
            parted = Some((t, None));
            break;
        }
        let last_ok = match (&t.checkpoint.last_event, size.checked_sub(1)) {
            (Some(l), Some(i)) => events
                .get(usize::try_from(i).unwrap_or(usize::MAX))
                .is_some_and(|e| e.hash == l.hash),
            (None, None) => true,
            _ => false,
        };
        if frontier.root() == t.checkpoint.root && last_ok {
            matched = Some(t);
        } else {
            parted = Some((t, Some(frontier.root())));
            break;
        }
    }
    let after = matched.map_or(0, |t| t.checkpoint.size);
    match parted {
        None => {
            let t = matched.unwrap_or(&trusted[trusted.len() - 1]);
            Ok(format!(
                "the events extend {} checkpoint(s) signed by {}; the largest, {} at size {} (root {}), commits to versions 1 to {}",
                trusted.len(),
                t.signed_by,
                t.source,
                t.checkpoint.size,
                hex::encode(t.checkpoint.root),
                t.checkpoint.size
            ))
        }
        Some((t, None)) => Err(anchor_failure(
            Tampering::Truncated,
            Some(events.len() as u64 + 1),
            format!(
                "the log signed a checkpoint of {} events ({}, by {}), but the export ends at version {}: versions {} to {} are missing",
                t.checkpoint.size,
                t.source,
                t.signed_by,
                events.len(),
                events.len() + 1,
                t.checkpoint.size
            ),
        )),
        Some((t, Some(root))) => {
            let size = t.checkpoint.size;
            let first = after + 1;
            let place = if size == first {
                format!("the histories part at version {first}")
            } else if after == 0 {
                format!(
                    "the histories part at or before version {size} (no smaller checkpoint is held; one between would name the version exactly)"
                )
            } else {
                format!(
                    "the histories part after version {after} (the largest checkpoint the export extends) and at or before version {size}; a checkpoint between them would name the version exactly"
                )
            };
            let mut failure = anchor_failure(
                Tampering::Forked,
                Some(first),
                format!(
                    "the export does not extend {} (size {size}, root {}, signed by {}): its first {size} events give root {}; {place}",
                    t.source,
                    hex::encode(t.checkpoint.root),
                    t.signed_by,
                    hex::encode(root)
                ),
            );
            if size == first {
                failure.event_id = events
                    .get(usize::try_from(after).unwrap_or(usize::MAX))
                    .map(|e| e.event_id.to_string());
            }
            Err(failure)
        }
    }
}
