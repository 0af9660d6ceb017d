//! Signatures that prove themselves: the agreement's canonical hash, the exact message a
//! partner signs, and Ed25519 key and signature checks (docs/AUDIT.md, "Signatures").
//!
//! A partner may register an Ed25519 public key (when admitted, or later through
//! `register_key`). Its `sign` command must then carry a signature over
//! [`signing_message`] for the agreement as it stands; `decide` verifies it before
//! recording, and the `agreement_signed` event keeps both the signature and the
//! agreement hash so that an auditor can check it again from an export alone.
//!
//! Encodings: public keys are the 32 bytes of the Ed25519 public key, signatures the 64
//! bytes of the Ed25519 signature, both written as hexadecimal (64 and 128 digits).
//! Upper-case digits are accepted on input; events and views always hold lower case.
//!
//! The *agreement content* is a deterministic JSON object built from the view (see
//! [`agreement_content`]); its hash is the lower-case hex SHA-256 of its canonical JSON
//! ([`crate::canonical`]). The signed message is the ASCII string
//! `roundtable-agreement:<negotiation_id>:<agreement_version>:<agreement_hash>`.
//! Pure computation: no IO, no randomness (Ed25519 signing is deterministic).

use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{Map, Value, json};

use crate::canonical::to_canonical;
use crate::envelope::sha256_hex;
use crate::id::NegotiationId;
use crate::view::{AgreementView, CommitmentStatus};

/// First field of the signed message: names what is signed, so that a signature made
/// for Roundtable cannot be replayed as a signature over something else.
pub const SIGNING_DOMAIN: &str = "roundtable-agreement";

/// Length of a public key in hex digits (32 bytes).
pub const PUBLIC_KEY_HEX_LEN: usize = 64;

/// Length of a signature in hex digits (64 bytes).
pub const SIGNATURE_HEX_LEN: usize = 128;

/// What is wrong with a key or a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The public key is not 64 hex digits, or not a point on the curve.
    #[error("public key {value:?} is not an Ed25519 public key: {reason}")]
    BadKey {
        /// The value given.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// The signature is not 128 hex digits.
    #[error("signature {value:?} is not an Ed25519 signature: {reason}")]
    BadSignature {
        /// The value given (cut to 140 characters).
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// Well-formed, but not a signature of the message by the key.
    #[error("the signature does not verify against public key {public_key}")]
    Mismatch {
        /// The key it was checked against.
        public_key: String,
    },
}

fn clip(s: &str) -> String {
    s.chars().take(140).collect()
}

fn hex_digits<const N: usize>(value: &str) -> Result<[u8; N], String> {
    if value.len() != 2 * N {
        return Err(format!(
            "expected {} hex digits, got {} characters",
            2 * N,
            value.chars().count()
        ));
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(value, &mut out).map_err(|e| format!("not hexadecimal: {e}"))?;
    Ok(out)
}

/// Parses a public key: 64 hex digits (either case) of a valid, non-weak Ed25519
/// public key. Returns the key in canonical form (lower-case hex).
///
/// # Errors
/// [`SignatureError::BadKey`] naming what is wrong.
pub fn parse_public_key(value: &str) -> Result<String, SignatureError> {
    verifying_key(value).map(|k| hex::encode(k.to_bytes()))
}

fn verifying_key(value: &str) -> Result<VerifyingKey, SignatureError> {
    let bad = |reason: String| SignatureError::BadKey {
        value: clip(value),
        reason,
    };
    let bytes = hex_digits::<32>(value).map_err(bad)?;
    let key = VerifyingKey::from_bytes(&bytes)
        .map_err(|_| bad("not a point on the Ed25519 curve".into()))?;
    if key.is_weak() {
        return Err(bad(
            "a weak key of small order, which would verify forged signatures".into(),
        ));
    }
    Ok(key)
}

/// Parses a signature: 128 hex digits (either case). Returns it in lower-case hex.
///
/// # Errors
/// [`SignatureError::BadSignature`] naming what is wrong.
pub fn parse_signature(value: &str) -> Result<String, SignatureError> {
    let bytes = hex_digits::<64>(value).map_err(|reason| SignatureError::BadSignature {
        value: clip(value),
        reason,
    })?;
    Ok(hex::encode(bytes))
}

/// Checks that `signature` (hex) is `public_key`'s (hex) Ed25519 signature of
/// `message`, with the strict rules of RFC 8032 (`verify_strict`: no malleable or
/// small-order components).
///
/// # Errors
/// [`SignatureError::BadKey`] or [`SignatureError::BadSignature`] for malformed input,
/// [`SignatureError::Mismatch`] when it does not verify.
pub fn verify_signature(
    public_key: &str,
    message: &[u8],
    signature: &str,
) -> Result<(), SignatureError> {
    let key = verifying_key(public_key)?;
    let bytes = hex_digits::<64>(signature).map_err(|reason| SignatureError::BadSignature {
        value: clip(signature),
        reason,
    })?;
    key.verify_strict(message, &Signature::from_bytes(&bytes))
        .map_err(|_| SignatureError::Mismatch {
            public_key: hex::encode(key.to_bytes()),
        })
}

/// The agreement content of `view`: what a signature covers.
///
/// A JSON object with exactly these keys (optional values left out, never `null`):
///
/// - `negotiation_id`, `title`, `service`, `decision_rule`, `agreement_version`;
/// - `clauses`: the agreed clauses in the order first agreed, each
///   `{clause_id, version, text}`;
/// - `commitments`: the *active* and *fulfilled* commitments (what was agreed, delivered
///   or not) in the order made, each
///   `{commitment_id, partner_id, kind, description, clause_id?, amount?, due?}`;
/// - `signatories`: the signatories in admission order that have not withdrawn, each
///   `{partner_id, name, sector, kind}`.
///
/// A version 1 history has neither fulfilled commitments nor withdrawn partners, so its
/// content and hash are what they were.
pub fn agreement_content(view: &AgreementView) -> Value {
    let clauses: Vec<Value> = view
        .clauses
        .values()
        .map(|c| json!({"clause_id": c.clause_id, "version": c.version, "text": c.text}))
        .collect();
    let commitments: Vec<Value> = view
        .commitments
        .values()
        .filter(|k| {
            matches!(
                k.status,
                CommitmentStatus::Active | CommitmentStatus::Fulfilled
            )
        })
        .map(|k| {
            let mut m = Map::new();
            m.insert("commitment_id".into(), json!(k.commitment_id));
            m.insert("partner_id".into(), json!(k.partner_id));
            m.insert("kind".into(), json!(k.kind));
            m.insert("description".into(), json!(k.description));
            if let Some(c) = &k.clause_id {
                m.insert("clause_id".into(), json!(c));
            }
            if let Some(a) = &k.amount {
                m.insert("amount".into(), json!(a));
            }
            if let Some(d) = &k.due {
                m.insert("due".into(), json!(d));
            }
            Value::Object(m)
        })
        .collect();
    let signatories: Vec<Value> = view
        .signatories()
        .map(|p| {
            json!({"partner_id": p.partner_id, "name": p.name, "sector": p.sector, "kind": p.kind})
        })
        .collect();
    json!({
        "negotiation_id": view.negotiation_id,
        "title": view.title,
        "service": view.service,
        "decision_rule": view.decision_rule,
        "agreement_version": view.agreement_version,
        "clauses": clauses,
        "commitments": commitments,
        "signatories": signatories,
    })
}

/// The agreement hash of `view`: lower-case hex SHA-256 of the canonical JSON of
/// [`agreement_content`].
pub fn agreement_hash(view: &AgreementView) -> String {
    sha256_hex(&to_canonical(&agreement_content(view)))
}

/// The message a signatory signs:
/// `roundtable-agreement:<negotiation_id>:<agreement_version>:<agreement_hash>`, as
/// ASCII bytes (no trailing newline).
pub fn signing_message(
    negotiation_id: &NegotiationId,
    agreement_version: u64,
    agreement_hash: &str,
) -> String {
    format!("{SIGNING_DOMAIN}:{negotiation_id}:{agreement_version}:{agreement_hash}")
}

/// The message a signatory signs for the agreement as `view` shows it.
pub fn view_signing_message(view: &AgreementView) -> String {
    signing_message(
        &view.negotiation_id,
        view.agreement_version,
        &agreement_hash(view),
    )
}
