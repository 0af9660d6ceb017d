//! Helpers for the partner's side of a signature: what to sign and how, for a CLI
//! `sign --key-file` or a test. The scheme itself is in
//! [`roundtable_domain::signing`] (docs/AUDIT.md, "Signatures").

use ed25519_dalek::{Signer, SigningKey};
use roundtable_domain::AgreementView;

pub use roundtable_domain::signing::{
    SignatureError, agreement_content, agreement_hash, parse_public_key, signing_message,
    verify_signature, view_signing_message,
};

/// Why a secret key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret key is not 64 hex digits (the 32-byte Ed25519 seed): {0}")]
pub struct SecretKeyError(String);

fn signing_key(secret_hex: &str) -> Result<SigningKey, SecretKeyError> {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(secret_hex.trim(), &mut seed)
        .map_err(|e| SecretKeyError(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The public key (64 hex digits) of a secret key given as its 32-byte seed in hex.
///
/// # Errors
/// [`SecretKeyError`] when the secret is not 64 hex digits.
pub fn public_key_of(secret_hex: &str) -> Result<String, SecretKeyError> {
    Ok(hex::encode(
        signing_key(secret_hex)?.verifying_key().to_bytes(),
    ))
}

/// The signature (128 hex digits) of `message` by the secret key (seed, hex).
///
/// # Errors
/// [`SecretKeyError`] when the secret is not 64 hex digits.
pub fn sign_message(secret_hex: &str, message: &str) -> Result<String, SecretKeyError> {
    Ok(hex::encode(
        signing_key(secret_hex)?.sign(message.as_bytes()).to_bytes(),
    ))
}

/// The signature by the secret key (seed, hex) of the agreement as `view` shows it:
/// what `sign {signature}` must carry.
///
/// # Errors
/// [`SecretKeyError`] when the secret is not 64 hex digits.
pub fn sign_agreement(secret_hex: &str, view: &AgreementView) -> Result<String, SecretKeyError> {
    sign_message(secret_hex, &view_signing_message(view))
}
