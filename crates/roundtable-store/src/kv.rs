//! The revisioned key-value port ([`KvStore`], opened by bucket through [`KvBuckets`]):
//! what the read side (stored views, parked entries) and the webhooks (registrations,
//! dead letters) are written over, once, whatever keeps them.
//!
//! On NATS: one JetStream key-value bucket per [`KvBuckets::open`] (values larger than
//! a message are the adapter's business: it cuts them into chunks); embedded: the
//! rows of one table in the store's file, one bucket name per group of rows.

use std::sync::Arc;

use async_trait::async_trait;

use crate::StoreError;

/// A stored value and the revision it is updated (or deleted) against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The value, exactly the bytes written.
    pub value: Vec<u8>,
    /// The revision of the write that stored it: opaque, increasing across every key
    /// of the bucket, never reused (not even after [`KvStore::clear`]).
    pub revision: u64,
}

/// One bucket of revisioned key-value pairs.
///
/// Keys are 1 to 255 of `A-Z a-z 0-9 - _ =` and `.`, not starting or ending with `.`
/// (NATS key-value keys; dot-separated tokens read as a hierarchy). Values are any
/// bytes; an adapter that cannot store a large value in one piece keeps it in pieces
/// and gives it back whole.
///
/// Guarantees every adapter gives (the conformance suite checks them): of two writers
/// updating (or creating) one key against one revision, exactly one wins and the
/// other gets [`StoreError::RevisionConflict`] (or [`StoreError::AlreadyExists`]);
/// every write returns a revision higher than any before it in the bucket.
#[async_trait]
pub trait KvStore: Send + Sync + 'static {
    /// The bucket's name.
    fn bucket(&self) -> &str;

    /// The value under `key` and its revision; `None` when there is none (never
    /// written, or deleted).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Corrupt`] when a value kept in
    /// pieces cannot be put back together.
    async fn get(&self, key: &str) -> Result<Option<KvEntry>, StoreError>;

    /// Stores `value` under `key` only if the key holds no value, and returns the new
    /// revision.
    ///
    /// # Errors
    /// [`StoreError::AlreadyExists`] when the key holds a value;
    /// [`StoreError::Incompatible`] when the value is larger than the backend takes;
    /// [`StoreError::Unavailable`].
    async fn create(&self, key: &str, value: &[u8]) -> Result<u64, StoreError>;

    /// Stores `value` under `key` only if its value is still at `revision`, and
    /// returns the new revision.
    ///
    /// # Errors
    /// [`StoreError::RevisionConflict`] when the key holds no value or another
    /// revision; [`StoreError::Incompatible`] when the value is larger than the
    /// backend takes; [`StoreError::Unavailable`].
    async fn update(&self, key: &str, value: &[u8], revision: u64) -> Result<u64, StoreError>;

    /// Stores `value` under `key` whatever it held, and returns the new revision.
    ///
    /// # Errors
    /// [`StoreError::Incompatible`] when the value is larger than the backend takes;
    /// [`StoreError::Unavailable`].
    async fn put(&self, key: &str, value: &[u8]) -> Result<u64, StoreError>;

    /// Removes the value under `key`: whatever it is (`revision` `None`), or only if it
    /// is still at `revision`. Removing a key that holds nothing, unconditionally, is
    /// not an error.
    ///
    /// # Errors
    /// [`StoreError::RevisionConflict`] when `revision` is given and the key holds
    /// another one (or nothing); [`StoreError::Unavailable`].
    async fn delete(&self, key: &str, revision: Option<u64>) -> Result<(), StoreError>;

    /// The keys that hold a value and start with `prefix` (`""`: every key), sorted.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// The keys starting with `prefix` and their values, sorted by key. The default
    /// gets each key that [`KvStore::keys`] lists; a backend that can read them at
    /// once overrides it.
    ///
    /// # Errors
    /// As [`KvStore::get`].
    async fn entries(&self, prefix: &str) -> Result<Vec<(String, KvEntry)>, StoreError> {
        let mut out = Vec::new();
        for key in self.keys(prefix).await? {
            if let Some(entry) = self.get(&key).await? {
                out.push((key, entry));
            }
        }
        Ok(out)
    }

    /// Removes every key of the bucket (for a rebuild); revisions go on from where
    /// they were.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn clear(&self) -> Result<(), StoreError>;
}

/// Opens the buckets of one backing store.
#[async_trait]
pub trait KvBuckets: Send + Sync + 'static {
    /// The bucket `name` (letters, digits, `-` and `_`), created when missing (with
    /// `description`, where the backend keeps one). An existing bucket is used as it
    /// is, never reconfigured.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Incompatible`] when the bucket
    /// cannot be created or opened.
    async fn open(&self, name: &str, description: &str) -> Result<Arc<dyn KvStore>, StoreError>;
}

/// Checks a key as [`KvStore`] defines them.
///
/// # Errors
/// [`StoreError::Incompatible`] naming the key.
pub fn check_key(key: &str) -> Result<(), StoreError> {
    let ok = (1..=255).contains(&key.len())
        && !key.starts_with('.')
        && !key.ends_with('.')
        && !key.contains("..")
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Incompatible(format!(
            "key {key:?} must be 1 to 255 of A-Z, a-z, 0-9, '-', '_', '=' and '.', with no empty token"
        )))
    }
}
