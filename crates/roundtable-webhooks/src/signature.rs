//! Signing deliveries, and checking a signature as a receiver would.
//!
//! Every delivery carries `Roundtable-Timestamp: <unix seconds>` and
//! `Roundtable-Signature: v1=<hex>`, where `<hex>` is the lower-case hex of
//! HMAC-SHA256(secret, "<timestamp>.<body>") over the exact bytes of the body. A
//! receiver recomputes it, compares in constant time, and refuses a timestamp more
//! than [`TOLERANCE`] away from its clock, so a captured delivery cannot be replayed
//! later.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header holding the delivery's id (stable across attempts and replays).
pub const DELIVERY_HEADER: &str = "roundtable-delivery";
/// The header holding the time of the attempt, in seconds since the Unix epoch.
pub const TIMESTAMP_HEADER: &str = "roundtable-timestamp";
/// The header holding the signature, `v1=<hex>`.
pub const SIGNATURE_HEADER: &str = "roundtable-signature";
/// The header holding the change's event type.
pub const EVENT_HEADER: &str = "roundtable-event";
/// The header holding the webhook's id.
pub const WEBHOOK_HEADER: &str = "roundtable-webhook";

/// How far a receiver lets a timestamp be from its own clock: 5 minutes.
pub const TOLERANCE: Duration = Duration::from_secs(300);

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The timestamp header is not a number of seconds.
    #[error("timestamp {0:?} is not a number of seconds")]
    BadTimestamp(String),
    /// The timestamp is more than [`TOLERANCE`] from now.
    #[error("timestamp {timestamp} is {skew} s from now, more than the tolerance")]
    Stale {
        /// The timestamp sent.
        timestamp: i64,
        /// How far from now, in seconds.
        skew: i64,
    },
    /// The signature header has no `v1=` value of 64 hex digits.
    #[error("signature {0:?} has no v1= value of 64 hex digits")]
    Malformed(String),
    /// No `v1` value matches.
    #[error("signature does not match")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature header's value for `body` sent at `timestamp`: `v1=<hex>`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// Checks a delivery as a receiver should: the timestamp within [`TOLERANCE`] of
/// `now` (seconds since the epoch), and one of the `v1=` values of the signature
/// header (comma-separated, to allow for a secret being rotated) matching, compared
/// in constant time.
///
/// # Errors
/// [`SignatureError`].
pub fn verify(
    secret: &[u8],
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp(timestamp.to_owned()))?;
    let skew = (now - ts).abs();
    if skew > TOLERANCE.as_secs() as i64 {
        return Err(SignatureError::Stale {
            timestamp: ts,
            skew,
        });
    }
    let candidates: Vec<Vec<u8>> = signature
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .filter_map(|h| hex::decode(h).ok())
        .filter(|b| b.len() == 32)
        .collect();
    if candidates.is_empty() {
        return Err(SignatureError::Malformed(signature.to_owned()));
    }
    for candidate in candidates {
        if mac(secret, ts, body).verify_slice(&candidate).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_with_its_secret_only_and_only_while_fresh() {
        let body = br#"{"negotiation_id":"lakeside-water","version":1}"#;
        let header = sign(b"s3cret-s3cret-s3cret", 1_800_000_000, body);
        assert!(header.starts_with("v1=") && header.len() == 67);
        assert_eq!(
            verify(
                b"s3cret-s3cret-s3cret",
                "1800000000",
                &header,
                body,
                1_800_000_100
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                b"another-secret-here",
                "1800000000",
                &header,
                body,
                1_800_000_100
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                b"s3cret-s3cret-s3cret",
                "1800000000",
                &header,
                b"{}",
                1_800_000_100
            ),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            verify(
                b"s3cret-s3cret-s3cret",
                "1800000000",
                &header,
                body,
                1_800_000_301
            ),
            Err(SignatureError::Stale { skew: 301, .. })
        ));
        assert!(matches!(
            verify(
                b"s3cret-s3cret-s3cret",
                "soon",
                &header,
                body,
                1_800_000_000
            ),
            Err(SignatureError::BadTimestamp(_))
        ));
    }

    /// The test vector of docs/INTEGRATIONS.md.
    #[test]
    fn the_documented_test_vector_holds() {
        assert_eq!(
            sign(
                b"whsec-example-0123456789",
                1_700_000_000,
                b"{\"version\":1}"
            ),
            "v1=".to_owned() + TEST_VECTOR
        );
    }

    const TEST_VECTOR: &str = "f7668168584c30470a3d534b659c6fb33178d3d5dc7c1c0f3b5ec423dc2728ef";
}
