//! Signing notes and verifying their signatures against trusted keys, with the rules
//! of c2sp.org/signed-note ("Signatures"): a signature whose name and key id match no
//! trusted key is ignored; one that matches must verify, or the whole note is
//! rejected; at least one must verify.
//!
//! Two signature types: Ed25519 over the note text (`0x01`), and the timestamped
//! cosignature (`0x04`, c2sp.org/tlog-cosignature): 8 bytes of big-endian POSIX
//! seconds, then the Ed25519 signature of
//! `"cosignature/v1\ntime <seconds>\n" || note text`.

use crate::keys::{COSIGNATURE_V1, ED25519, KeyError, SignerKey, VerifierKey};
use crate::note::{Note, NoteSignature};

/// The largest cosignature timestamp the format allows: 2^63 - 1.
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// Why a note's signatures are not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A signature by a trusted key does not verify: the note was altered or forged.
    #[error("the signature by {name} (key id {key_id:08x}) does not verify over this note")]
    Invalid {
        /// The key name.
        name: String,
        /// The key id.
        key_id: u32,
    },
    /// No signature is by a trusted key.
    #[error("no signature is by a trusted key (signed by: {}; trusted: {})", .signed.join(", "), .trusted.join(", "))]
    NoTrustedSignature {
        /// `name+keyid` of each signature line.
        signed: Vec<String>,
        /// `name+keyid` of each trusted key.
        trusted: Vec<String>,
    },
    /// A cosignature's timestamp is beyond 2^63 - 1.
    #[error("the cosignature by {name} has timestamp {timestamp}, beyond 2^63 - 1")]
    TimestampTooLarge {
        /// The cosigner's name.
        name: String,
        /// The timestamp.
        timestamp: u64,
    },
    /// The key cannot make this kind of signature.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// A signature line that verified against a trusted key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The key name.
    pub name: String,
    /// The key id.
    pub key_id: u32,
    /// The signature type.
    pub sig_type: u8,
    /// A cosignature's timestamp (POSIX seconds); `None` for a plain signature.
    pub timestamp: Option<u64>,
}

/// The message a cosignature of `timestamp` signs over a checkpoint's note `text`.
pub fn cosignature_message(text: &str, timestamp: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{text}").into_bytes()
}

/// The Ed25519 signature line of `key` (type `0x01`) over `text`.
///
/// # Errors
/// [`SignatureError::Key`] when the key is not of type `0x01`.
pub fn sign_text(key: &SignerKey, text: &str) -> Result<NoteSignature, SignatureError> {
    key.require_type(ED25519)?;
    Ok(NoteSignature {
        name: key.name().to_owned(),
        key_id: key.key_id(),
        signature: key.sign_raw(text.as_bytes()).to_vec(),
    })
}

/// The cosignature line of `key` (type `0x04`) over a checkpoint's note `text` at
/// `timestamp` (POSIX seconds, given by the caller).
///
/// # Errors
/// [`SignatureError::Key`] for a key not of type `0x04`,
/// [`SignatureError::TimestampTooLarge`] beyond 2^63 - 1.
pub fn cosign_text(
    key: &SignerKey,
    text: &str,
    timestamp: u64,
) -> Result<NoteSignature, SignatureError> {
    key.require_type(COSIGNATURE_V1)?;
    if timestamp > MAX_TIMESTAMP {
        return Err(SignatureError::TimestampTooLarge {
            name: key.name().to_owned(),
            timestamp,
        });
    }
    let mut signature = timestamp.to_be_bytes().to_vec();
    signature.extend_from_slice(&key.sign_raw(&cosignature_message(text, timestamp)));
    Ok(NoteSignature {
        name: key.name().to_owned(),
        key_id: key.key_id(),
        signature,
    })
}

/// Checks one signature line against the key it names.
fn check(key: &VerifierKey, text: &str, s: &NoteSignature) -> Result<Option<u64>, SignatureError> {
    let invalid = || SignatureError::Invalid {
        name: s.name.clone(),
        key_id: s.key_id,
    };
    if key.sig_type() == COSIGNATURE_V1 {
        if s.signature.len() != 72 {
            return Err(invalid());
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&s.signature[..8]);
        let timestamp = u64::from_be_bytes(ts);
        if timestamp > MAX_TIMESTAMP {
            return Err(SignatureError::TimestampTooLarge {
                name: s.name.clone(),
                timestamp,
            });
        }
        if !key.verify_raw(&cosignature_message(text, timestamp), &s.signature[8..]) {
            return Err(invalid());
        }
        Ok(Some(timestamp))
    } else {
        if !key.verify_raw(text.as_bytes(), &s.signature) {
            return Err(invalid());
        }
        Ok(None)
    }
}

/// Verifies `note`'s signatures against `trusted` keys; returns those that verified,
/// in the note's order.
///
/// # Errors
/// [`SignatureError::Invalid`] when a signature by a trusted key fails,
/// [`SignatureError::NoTrustedSignature`] when none is by a trusted key.
pub fn verify_note(note: &Note, trusted: &[VerifierKey]) -> Result<Vec<Verified>, SignatureError> {
    let mut verified = Vec::new();
    for s in note.signatures() {
        let Some(key) = trusted.iter().find(|k| k.names(&s.name, s.key_id)) else {
            continue;
        };
        let timestamp = check(key, note.text(), s)?;
        verified.push(Verified {
            name: s.name.clone(),
            key_id: s.key_id,
            sig_type: key.sig_type(),
            timestamp,
        });
    }
    if verified.is_empty() {
        return Err(SignatureError::NoTrustedSignature {
            signed: note
                .signatures()
                .iter()
                .map(|s| format!("{}+{:08x}", s.name, s.key_id))
                .collect(),
            trusted: trusted
                .iter()
                .map(|k| format!("{}+{:08x}", k.name(), k.key_id()))
                .collect(),
        });
    }
    Ok(verified)
}
