//! The durable deny-list of revoked tokens: a token whose `jti` is listed is refused
//! before it expires, by every server over the same store.
//!
//! Kept over the key-value port ([`KvBuckets`]) in bucket [`REVOKED_BUCKET`], one key
//! per revoked `jti` (`jti.` and the id in unpadded URL-safe base64, so any id is a
//! valid key), so the embedded store and NATS keep it the same way. Entries are never
//! removed: a few hundred bytes each.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use roundtable_store::{KvBuckets, KvStore, StoreError};
use serde::{Deserialize, Serialize};

use crate::auth::MAX_JTI_BYTES;

/// The key-value bucket of the deny-list.
pub const REVOKED_BUCKET: &str = "ROUNDTABLE_REVOKED_TOKENS";

/// One revoked token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// The token's id (`jti`).
    pub jti: String,
    /// When it was revoked.
    pub revoked_at: DateTime<Utc>,
    /// Why, as the operator said (free text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The deny-list over one key-value bucket.
#[derive(Clone)]
pub struct Revocations {
    kv: Arc<dyn KvStore>,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations")
            .field("bucket", &self.kv.bucket())
            .finish()
    }
}

impl Revocations {
    /// The deny-list in bucket [`REVOKED_BUCKET`] of `buckets`, created when missing.
    ///
    /// # Errors
    /// As [`KvBuckets::open`].
    pub async fn open(buckets: &dyn KvBuckets) -> Result<Revocations, StoreError> {
        let kv = buckets
            .open(
                REVOKED_BUCKET,
                "Roundtable: revoked tokens (jti), refused until they expire",
            )
            .await?;
        Ok(Revocations { kv })
    }

    /// Revokes the token `jti`. Returns `false` when it was revoked already (the first
    /// revocation is kept).
    ///
    /// # Errors
    /// [`StoreError::Incompatible`] for an empty id or one longer than
    /// [`MAX_JTI_BYTES`]; [`StoreError::Unavailable`].
    pub async fn revoke(&self, jti: &str, reason: Option<&str>) -> Result<bool, StoreError> {
        let key = key(jti)?;
        let entry = Revocation {
            jti: jti.to_owned(),
            revoked_at: Utc::now(),
            reason: reason.map(str::to_owned).filter(|r| !r.trim().is_empty()),
        };
        let value = serde_json::to_vec(&entry)
            .map_err(|e| StoreError::Incompatible(format!("cannot encode the entry: {e}")))?;
        match self.kv.create(&key, &value).await {
            Ok(_) => Ok(true),
            Err(StoreError::AlreadyExists(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether the token `jti` is revoked.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]. An id that could not have been revoked (empty, too
    /// long) is not an error: it is not listed.
    pub async fn is_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let Ok(key) = key(jti) else {
            return Ok(false);
        };
        Ok(self.kv.get(&key).await?.is_some())
    }

    /// Every revoked token, in key order.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Corrupt`] for an entry that is not one.
    pub async fn list(&self) -> Result<Vec<Revocation>, StoreError> {
        self.kv
            .entries("jti.")
            .await?
            .into_iter()
            .map(|(key, entry)| {
                serde_json::from_slice(&entry.value).map_err(|e| StoreError::Corrupt {
                    negotiation: "?".into(),
                    position: format!("{REVOKED_BUCKET}/{key}"),
                    reason: format!("not a deny-list entry: {e}"),
                })
            })
            .collect()
    }
}

/// The key of `jti`.
fn key(jti: &str) -> Result<String, StoreError> {
    use base64::Engine as _;
    if jti.is_empty() || jti.len() > MAX_JTI_BYTES {
        return Err(StoreError::Incompatible(format!(
            "a token id (jti) is 1 to {MAX_JTI_BYTES} bytes; got {}",
            jti.len()
        )));
    }
    Ok(format!(
        "jti.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(jti)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_makes_a_valid_key() {
        for jti in [
            "t-1",
            "a.b",
            "ünïcode ids / with spaces",
            &"x".repeat(MAX_JTI_BYTES),
        ] {
            roundtable_store::kv::check_key(&key(jti).unwrap()).unwrap();
        }
        assert!(key("").is_err());
        assert!(key(&"x".repeat(MAX_JTI_BYTES + 1)).is_err());
    }
}
