//! Note keys: verifier keys (c2sp.org/signed-note, "Verifier keys") and the private
//! key format, for the two signature types Roundtable uses: Ed25519 note signatures
//! (type `0x01`, the log's key) and timestamped Ed25519 cosignatures (type `0x04`, a
//! witness's key, c2sp.org/tlog-cosignature).
//!
//! ```text
//! key id       = SHA-256(name || 0x0A || type || 32-byte public key)[:4], big-endian
//! verifier key = <name>+<8 hex digits of the key id>+base64(type || public key)
//! private key  = PRIVATE+KEY+<name>+<8 hex digits of the key id>+base64(type || 32-byte seed)
//! ```
//!
//! The private key format is the one Go's `golang.org/x/mod/sumdb/note` reads, so a
//! key can move between the two.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::note::{NoteError, check_key_name};

/// Signature type of Ed25519 note signatures (the log's checkpoints).
pub const ED25519: u8 = 0x01;
/// Signature type of timestamped Ed25519 cosignatures (c2sp.org/tlog-cosignature).
pub const COSIGNATURE_V1: u8 = 0x04;

const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// Why a key string cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not the `name+id+key` shape.
    #[error("{what} is not of the form {form}")]
    Shape {
        /// Which key (`verifier key`, `private key`).
        what: &'static str,
        /// The form expected.
        form: &'static str,
    },
    /// The key name is not a valid note key name.
    #[error(transparent)]
    Name(#[from] NoteError),
    /// The key id is not 8 lower-case hex digits.
    #[error("key id {0:?} is not 8 lower-case hex digits")]
    KeyIdFormat(String),
    /// The key material is not standard base64.
    #[error("the key material is not standard base64: {0}")]
    Base64(String),
    /// A signature type this build does not use.
    #[error(
        "signature type 0x{0:02x} is not one Roundtable uses (0x01 Ed25519, 0x04 cosignature/v1)"
    )]
    UnknownType(u8),
    /// A signature type other than the one required here.
    #[error("the key has signature type 0x{found:02x}; 0x{expected:02x} is needed here")]
    WrongType {
        /// The type needed.
        expected: u8,
        /// The key's type.
        found: u8,
    },
    /// The key material is not 32 bytes.
    #[error("the key material is {0} bytes, not 32")]
    Length(usize),
    /// The public key is not a valid Ed25519 point, or a weak one.
    #[error("the public key is not a usable Ed25519 key: {0}")]
    BadPublicKey(String),
    /// The key id written does not match the name and key.
    #[error("key id {stated:08x} does not match the name and key, which give {computed:08x}")]
    KeyIdMismatch {
        /// The key id written.
        stated: u32,
        /// The key id computed.
        computed: u32,
    },
}

/// The key id of a key: the first four bytes, big-endian, of
/// `SHA-256(name || 0x0A || type || public key)`.
pub fn key_id(name: &str, sig_type: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0a, sig_type]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

fn check_type(t: u8) -> Result<(), KeyError> {
    if t == ED25519 || t == COSIGNATURE_V1 {
        Ok(())
    } else {
        Err(KeyError::UnknownType(t))
    }
}

fn parse_id(s: &str) -> Result<u32, KeyError> {
    if s.len() != 8
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(KeyError::KeyIdFormat(s.chars().take(16).collect()));
    }
    u32::from_str_radix(s, 16).map_err(|_| KeyError::KeyIdFormat(s.to_owned()))
}

fn parse_material(s: &str) -> Result<(u8, [u8; 32]), KeyError> {
    let raw = STANDARD
        .decode(s)
        .map_err(|e| KeyError::Base64(e.to_string()))?;
    let Some((&t, key)) = raw.split_first() else {
        return Err(KeyError::Length(0));
    };
    check_type(t)?;
    let key: [u8; 32] = key.try_into().map_err(|_| KeyError::Length(key.len()))?;
    Ok((t, key))
}

fn verifying_key(bytes: &[u8; 32]) -> Result<VerifyingKey, KeyError> {
    let key = VerifyingKey::from_bytes(bytes).map_err(|e| KeyError::BadPublicKey(e.to_string()))?;
    if key.is_weak() {
        return Err(KeyError::BadPublicKey(
            "a weak key of small order, which would verify forged signatures".into(),
        ));
    }
    Ok(key)
}

/// A public key that verifies note signatures of one name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: u32,
    sig_type: u8,
    key: VerifyingKey,
}

impl VerifierKey {
    /// Parses `<name>+<hex key id>+base64(type || public key)`.
    ///
    /// # Errors
    /// [`KeyError`] naming what is wrong, including a key id that does not match.
    pub fn parse(s: &str) -> Result<VerifierKey, KeyError> {
        let shape = KeyError::Shape {
            what: "verifier key",
            form: "<name>+<8 hex digits>+<base64 of type and public key>",
        };
        // Names and ids hold no `+`; the base64 may.
        let mut parts = s.trim_end_matches('\n').splitn(3, '+');
        let (Some(name), Some(id), Some(material)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(shape);
        };
        check_key_name(name)?;
        let stated = parse_id(id)?;
        let (sig_type, public) = parse_material(material)?;
        let computed = key_id(name, sig_type, &public);
        if stated != computed {
            return Err(KeyError::KeyIdMismatch { stated, computed });
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id: stated,
            sig_type,
            key: verifying_key(&public)?,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature type ([`ED25519`] or [`COSIGNATURE_V1`]).
    pub fn sig_type(&self) -> u8 {
        self.sig_type
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Whether `name` and `key_id` name this key.
    pub fn names(&self, name: &str, key_id: u32) -> bool {
        self.name == name && self.key_id == key_id
    }

    /// Verifies an Ed25519 signature of `message` (RFC 8032, strict).
    pub(crate) fn verify_raw(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        self.key
            .verify_strict(message, &Signature::from_bytes(&bytes))
            .is_ok()
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = vec![self.sig_type];
        material.extend_from_slice(&self.key.to_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(material)
        )
    }
}

/// A private key that makes note signatures of one name and type.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    key_id: u32,
    sig_type: u8,
    key: SigningKey,
}

impl fmt::Debug for SignerKey {
    /// Never shows the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerKey")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .field("sig_type", &self.sig_type)
            .finish_non_exhaustive()
    }
}

impl SignerKey {
    /// A key of `name` and `sig_type` from a 32-byte Ed25519 seed (the caller draws
    /// the seed from a source of randomness: this crate has none).
    ///
    /// # Errors
    /// [`KeyError`] for a bad name or an unknown type.
    pub fn from_seed(name: &str, sig_type: u8, seed: [u8; 32]) -> Result<SignerKey, KeyError> {
        check_key_name(name)?;
        check_type(sig_type)?;
        let key = SigningKey::from_bytes(&seed);
        Ok(SignerKey {
            name: name.to_owned(),
            key_id: key_id(name, sig_type, &key.verifying_key().to_bytes()),
            sig_type,
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key id>+base64(type || seed)`.
    ///
    /// # Errors
    /// [`KeyError`] naming what is wrong, including a key id that does not match.
    pub fn parse(s: &str) -> Result<SignerKey, KeyError> {
        let shape = KeyError::Shape {
            what: "private key",
            form: "PRIVATE+KEY+<name>+<8 hex digits>+<base64 of type and seed>",
        };
        let Some(rest) = s.trim_end_matches('\n').strip_prefix(PRIVATE_PREFIX) else {
            return Err(shape);
        };
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(material)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(shape);
        };
        let stated = parse_id(id)?;
        let (sig_type, seed) = parse_material(material)?;
        let key = SignerKey::from_seed(name, sig_type, seed)?;
        if key.key_id != stated {
            return Err(KeyError::KeyIdMismatch {
                stated,
                computed: key.key_id,
            });
        }
        Ok(key)
    }

    /// The private key string ([`SignerKey::parse`] reads it back). Keep it secret.
    pub fn to_private_string(&self) -> String {
        let mut material = vec![self.sig_type];
        material.extend_from_slice(&self.key.to_bytes());
        format!(
            "{PRIVATE_PREFIX}{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(material)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature type.
    pub fn sig_type(&self) -> u8 {
        self.sig_type
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            sig_type: self.sig_type,
            key: self.key.verifying_key(),
        }
    }

    /// Requires this key to be of `sig_type`.
    ///
    /// # Errors
    /// [`KeyError::WrongType`].
    pub fn require_type(&self, sig_type: u8) -> Result<(), KeyError> {
        if self.sig_type != sig_type {
            return Err(KeyError::WrongType {
                expected: sig_type,
                found: self.sig_type,
            });
        }
        Ok(())
    }

    /// The Ed25519 signature of `message`.
    pub(crate) fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}
