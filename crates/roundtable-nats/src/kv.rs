//! [`NatsKv`]: the revisioned key-value port over a JetStream key-value bucket, with
//! values too large for one message kept in chunks ([`NatsBuckets`] opens them).

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::context::{
    CreateKeyValueErrorKind, GetStreamErrorKind, KeyValueErrorKind, PublishError, PublishErrorKind,
};
use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, UpdateError, UpdateErrorKind};
use async_nats::jetstream::stream::StorageType;
use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use roundtable_store::kv::check_key;
use roundtable_store::{KvBuckets, KvEntry, KvStore, StoreError};

use crate::append::is_wrong_last_sequence;
use crate::chunked::{self, Head};
use crate::store::NatsStore;

/// Opens JetStream key-value buckets on one store's connection. Cheap to clone.
#[derive(Debug, Clone)]
pub struct NatsBuckets {
    store: Arc<NatsStore>,
    max_entry: Option<usize>,
}

impl NatsBuckets {
    /// The buckets on `store`'s connection.
    pub fn new(store: Arc<NatsStore>) -> NatsBuckets {
        NatsBuckets {
            store,
            max_entry: None,
        }
    }

    /// The same, keeping values larger than `bytes` (at least 1,024) in chunks of
    /// `bytes` in every bucket it opens: for tests, and for a server whose other nodes
    /// take smaller messages. Values it cannot store as one message still fail.
    #[must_use]
    pub fn with_max_entry(mut self, bytes: usize) -> NatsBuckets {
        self.max_entry = Some(bytes.max(1024));
        self
    }

    /// Opens the bucket `name` as [`KvBuckets::open`] does, as the concrete type.
    ///
    /// # Errors
    /// As [`KvBuckets::open`].
    pub async fn open_kv(&self, name: &str, description: &str) -> Result<NatsKv, StoreError> {
        let kv = open_kv(&self.store, name, description).await?;
        let max_entry = self.max_entry.unwrap_or_else(|| {
            chunked::chunk_size(
                self.store.client.server_info().max_payload,
                kv.stream.cached_info().config.max_message_size,
            )
        });
        Ok(NatsKv {
            kv,
            url: self.store.url.clone(),
            max_entry,
            chunked: Arc::default(),
        })
    }
}

#[async_trait]
impl KvBuckets for NatsBuckets {
    /// The key-value bucket `name` (its stream `KV_<name>`), created when missing with
    /// file storage, history 1 and the store's replica count; an existing bucket is
    /// used as it is, never reconfigured (an operator's replicas and placement stay).
    async fn open(&self, name: &str, description: &str) -> Result<Arc<dyn KvStore>, StoreError> {
        Ok(Arc::new(self.open_kv(name, description).await?))
    }
}

/// What a write expects of the key.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Nothing,
    Revision(u64),
    Anything,
}

/// One bucket on NATS: a JetStream key-value bucket, one value per key (history 1).
///
/// A key's revision is the bucket's revision of it: the stream sequence of the value,
/// which only ever grows (also across [`KvStore::clear`], which purges the bucket's
/// stream). Creates and updates are conditional on it, and the server refuses either
/// when another writer got there first (`wrong last sequence`).
///
/// A value that does not fit in one message (the server's `max_payload`, 1 MiB by
/// default, or the bucket's `max_value_size` when smaller, less 4 KiB for the subject
/// and headers) is kept in chunks instead: cut into pieces under
/// `<key>.<write>.<n>` (`write`: a time and a random id, new at every write), then a
/// small head under `<key>`, `{"chunked_view":{"write":...,"chunks":n,"bytes":...}}`,
/// written last with the same conditional update as a small value. A reader gets the
/// head, then its chunks; chunk keys are never reused, so a head never names another
/// write's chunks. After a head is stored, the key's chunks older than its own are
/// purged (they belong to heads that were replaced, or to writers that lost or died),
/// and the writer of a losing head purges its chunks at once. [`KvStore::keys`]
/// leaves chunk keys out. Layout and reasoning: docs/NATS.md, "Large views".
#[derive(Debug, Clone)]
pub struct NatsKv {
    kv: kv::Store,
    url: String,
    /// Largest value kept as one message; larger values are cut into chunks this size.
    max_entry: usize,
    /// The keys whose value this store last read or wrote as chunks, with the head's
    /// revision: a smaller value replacing that revision purges the chunks.
    chunked: Arc<Mutex<HashMap<String, u64>>>,
}

impl NatsKv {
    /// The largest value kept as one message: larger values are kept in chunks of
    /// this size. Set from the server's `max_payload` and the bucket's
    /// `max_value_size` when opened.
    pub fn max_entry(&self) -> usize {
        self.max_entry
    }

    fn unavailable(
        &self,
        what: &str,
        err: impl Display + Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> StoreError {
        StoreError::unavailable_because(
            format!(
                "nats at {}: bucket {}: {what}: {err}",
                self.url, self.kv.name
            ),
            err,
        )
    }

    fn too_big(&self, key: &str, size: usize, e: &dyn Display) -> StoreError {
        StoreError::Incompatible(format!(
            "nats at {}: the value of {key} ({size} bytes) cannot be stored in bucket {}: {e}",
            self.url, self.kv.name
        ))
    }

    fn conflict(&self, key: &str, expect: Expect) -> StoreError {
        match expect {
            Expect::Revision(expected) => StoreError::RevisionConflict {
                key: format!("{}/{key}", self.kv.name),
                expected,
            },
            _ => StoreError::AlreadyExists(format!("key {key} of bucket {}", self.kv.name)),
        }
    }

    /// Writes one message under `key` as `expect` says (a value of `size` bytes, or
    /// the head of one).
    async fn put_value(
        &self,
        key: &str,
        value: Bytes,
        size: usize,
        expect: Expect,
    ) -> Result<u64, StoreError> {
        let too_big = |e: &dyn Display| self.too_big(key, size, e);
        match expect {
            Expect::Nothing => match self.kv.create(key, value).await {
                Ok(revision) => Ok(revision),
                Err(e) if e.kind() == CreateErrorKind::AlreadyExists || lost_race(&e) => {
                    Err(self.conflict(key, expect))
                }
                Err(e) if payload_too_large(&e) => Err(too_big(&e)),
                Err(e) => Err(self.unavailable(&format!("cannot create {key}"), e)),
            },
            Expect::Revision(revision) => match self.kv.update(key, value, revision).await {
                Ok(revision) => Ok(revision),
                Err(e) if is_wrong_revision(&e) => Err(self.conflict(key, expect)),
                Err(e) if payload_too_large(&e) => Err(too_big(&e)),
                Err(e) => Err(self.unavailable(&format!("cannot update {key}"), e)),
            },
            Expect::Anything => match self.kv.put(key, value).await {
                Ok(revision) => Ok(revision),
                Err(e) if payload_too_large(&e) => Err(too_big(&e)),
                Err(e) => Err(self.unavailable(&format!("cannot put {key}"), e)),
            },
        }
    }

    /// Writes `value` as one message, or as chunks and a head when it is larger than
    /// [`NatsKv::max_entry`].
    async fn write(&self, key: &str, value: &[u8], expect: Expect) -> Result<u64, StoreError> {
        check_key(key)?;
        let size = value.len();
        if size > self.max_entry {
            return self
                .put_chunked(key, Bytes::copy_from_slice(value), expect)
                .await;
        }
        let was_chunked = match expect {
            Expect::Revision(r) => self.last_chunked(key) == Some(r),
            Expect::Anything => self.last_chunked(key).is_some(),
            Expect::Nothing => false,
        };
        let revision = self
            .put_value(key, Bytes::copy_from_slice(value), size, expect)
            .await?;
        if was_chunked {
            // The chunks of the head just replaced: nothing names them any more.
            self.note_chunked(key, None);
            self.sweep(key, revision).await;
        }
        Ok(revision)
    }

    /// Writes `body` as chunks, then its head as `expect` says; purges the chunks of
    /// the write that loses, and the key's older chunks once the head is stored.
    ///
    /// A [`KvStore::clear`] purging the bucket after the chunks were written and
    /// before the head was would leave a head without chunks: the stream's first
    /// sequence, read after the head is stored, tells, and such a head is deleted
    /// again (conditionally) and reported as a conflict (as unavailable for an
    /// unconditional put: write it again).
    async fn put_chunked(&self, key: &str, body: Bytes, expect: Expect) -> Result<u64, StoreError> {
        let size = body.len();
        let head = Head::new(chunked::write_id(), &body, self.max_entry);
        let mut first = None;
        for n in 0..head.chunked_view.chunks {
            let piece = body.slice(n * self.max_entry..((n + 1) * self.max_entry).min(size));
            let chunk = head.chunk_key(key, n);
            let written = self.kv.put(&chunk, piece).await.map_err(|e| {
                if payload_too_large(&e) {
                    self.too_big(key, size, &e)
                } else {
                    self.unavailable(&format!("cannot put {chunk}"), e)
                }
            });
            match written {
                Ok(sequence) => {
                    first.get_or_insert(sequence);
                }
                Err(e) => {
                    self.discard(key, &head).await;
                    return Err(e);
                }
            }
        }
        let first = first.unwrap_or(0);
        let revision = match self.put_value(key, head.to_bytes(), size, expect).await {
            Ok(revision) => revision,
            Err(e) => {
                self.discard(key, &head).await;
                return Err(e);
            }
        };
        let info = self
            .kv
            .stream
            .get_info()
            .await
            .map_err(|e| self.unavailable("cannot check the chunks just written", e))?;
        if info.state.first_sequence > first {
            tracing::warn!(
                key,
                revision,
                "the chunks of a value were purged before its head was stored; withdrawing the head"
            );
            return match self.kv.delete_expect_revision(key, Some(revision)).await {
                Ok(()) => Err(match expect {
                    Expect::Anything => self.unavailable(
                        &format!("cannot put {key}"),
                        "the bucket was cleared while the value was written: write it again",
                    ),
                    _ => self.conflict(key, expect),
                }),
                Err(e) if is_wrong_revision(&e) => {
                    // Another writer read this head and replaced it: it was whole then.
                    Ok(revision)
                }
                Err(e) => Err(self.unavailable(&format!("cannot withdraw {key}"), e)),
            };
        }
        self.note_chunked(key, Some(revision));
        self.sweep(key, first).await;
        Ok(revision)
    }

    /// The chunks of `head`, joined; `None` when one is gone.
    async fn read_chunks(&self, key: &str, head: &Head) -> Result<Option<Vec<u8>>, StoreError> {
        let keys: Vec<String> = (0..head.chunked_view.chunks)
            .map(|n| head.chunk_key(key, n))
            .collect();
        let pieces = futures::future::try_join_all(keys.iter().map(|key| self.kv.get(key)))
            .await
            .map_err(|e| self.unavailable(&format!("cannot get the chunks of {key}"), e))?;
        let mut body = Vec::with_capacity(head.chunked_view.bytes);
        for piece in pieces {
            let Some(piece) = piece else {
                return Ok(None);
            };
            body.extend_from_slice(&piece);
        }
        if body.len() != head.chunked_view.bytes {
            return Err(StoreError::Corrupt {
                negotiation: "?".into(),
                position: format!("bucket {} key {key}", self.kv.name),
                reason: format!(
                    "chunks hold {} bytes, the head says {}",
                    body.len(),
                    head.chunked_view.bytes
                ),
            });
        }
        Ok(Some(body))
    }

    /// Purges `key`'s chunks stored before stream sequence `below`.
    /// Best effort: chunks left behind are only space, purged by the next sweep or
    /// clear.
    async fn sweep(&self, key: &str, below: u64) {
        let filter = format!("{}{key}.*.*", self.kv.prefix);
        if let Err(e) = self.kv.stream.purge().filter(filter).sequence(below).await {
            tracing::warn!(key, error = %e, "cannot purge the chunks of replaced values; the next write tries again");
        }
    }

    /// Purges the chunks of a write whose head was not stored, or was deleted. Best
    /// effort.
    async fn discard(&self, key: &str, head: &Head) {
        let filter = format!("{}{key}.{}.*", self.kv.prefix, head.chunked_view.write);
        if let Err(e) = self.kv.stream.purge().filter(filter).await {
            tracing::warn!(key, error = %e, "cannot purge the chunks of a value not stored; the next write tries again");
        }
    }

    /// Notes the revision of `key`'s chunked head, or that its value is not chunked.
    fn note_chunked(&self, key: &str, revision: Option<u64>) {
        let mut chunked = self.chunked.lock().unwrap_or_else(|e| e.into_inner());
        match revision {
            Some(revision) => {
                chunked.insert(key.to_owned(), revision);
            }
            None => {
                chunked.remove(key);
            }
        }
    }

    /// The revision of `key`'s chunked head as last read or written here.
    fn last_chunked(&self, key: &str) -> Option<u64> {
        let chunked = self.chunked.lock().unwrap_or_else(|e| e.into_inner());
        chunked.get(key).copied()
    }
}

/// Opens the key-value bucket `bucket` on `store`'s connection, creating it when it is
/// missing (file storage, history 1, the store's replica count); an existing bucket is
/// used as it is.
pub(crate) async fn open_kv(
    store: &NatsStore,
    bucket: &str,
    description: &str,
) -> Result<kv::Store, StoreError> {
    let url = &store.url;
    let unavailable =
        |e: &dyn Display| StoreError::unavailable(format!("nats at {url}: bucket {bucket}: {e}"));
    let incompatible =
        |e: &dyn Display| StoreError::Incompatible(format!("nats at {url}: bucket {bucket}: {e}"));
    let exists = match store.js.get_stream(format!("KV_{bucket}")).await {
        Ok(_) => true,
        Err(e) if matches!(e.kind(), GetStreamErrorKind::JetStream(ref j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND) => {
            false
        }
        Err(e) => return Err(unavailable(&e)),
    };
    if !exists {
        let config = kv::Config {
            bucket: bucket.to_owned(),
            description: description.to_owned(),
            history: 1,
            storage: StorageType::File,
            num_replicas: store.config.replicas,
            ..Default::default()
        };
        match store.js.create_key_value(config).await {
            Ok(kv) => return Ok(kv),
            Err(e) if e.kind() == CreateKeyValueErrorKind::TimedOut => {
                return Err(unavailable(&e));
            }
            // Another process may have created it meanwhile: open what is there.
            Err(e) => tracing::debug!(error = %e, bucket, "cannot create the bucket"),
        }
    }
    store
        .js
        .get_key_value(bucket)
        .await
        .map_err(|e| match e.kind() {
            KeyValueErrorKind::GetBucket => unavailable(&e),
            _ => incompatible(&e),
        })
}

/// Whether `err`, or an error it wraps, is a publish refused for exceeding the
/// server's `max_payload`.
fn payload_too_large(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if e.downcast_ref::<PublishError>()
            .is_some_and(|p| p.kind() == PublishErrorKind::MaxPayloadExceeded)
        {
            return true;
        }
        current = e.source();
    }
    false
}

/// Whether `err`, or an error it wraps, is a publish refused because another writer
/// stored a value first: on a clustered bucket a racing `create` can fail this way
/// (error 10164, see [`is_wrong_last_sequence`]) rather than as `AlreadyExists`.
fn lost_race(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if e.downcast_ref::<PublishError>()
            .is_some_and(is_wrong_last_sequence)
        {
            return true;
        }
        current = e.source();
    }
    false
}

/// Whether an update was refused because the key's revision moved on: async-nats's
/// `WrongLastRevision`, or the clustered stream's error 10164 that async-nats reports
/// as an unknown publish error (see [`is_wrong_last_sequence`]).
fn is_wrong_revision(e: &UpdateError) -> bool {
    e.kind() == UpdateErrorKind::WrongLastRevision
        || std::error::Error::source(e)
            .and_then(|source| source.downcast_ref::<PublishError>())
            .is_some_and(is_wrong_last_sequence)
}

#[async_trait]
impl KvStore for NatsKv {
    fn bucket(&self) -> &str {
        &self.kv.name
    }

    /// The key's last value; `None` when the key has no value (or was deleted). A
    /// chunked value's head is followed to its chunks; when one is gone (the head
    /// moved on meanwhile and they were purged), the head is read again.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when a head names chunks that stay missing, or chunks
    /// of another size; [`StoreError::Unavailable`] on timeouts and lost connections,
    /// and when the head keeps moving on while its chunks are read.
    async fn get(&self, key: &str) -> Result<Option<KvEntry>, StoreError> {
        let mut missing_at = None;
        for attempt in 0..chunked::READ_ATTEMPTS {
            let entry = self
                .kv
                .entry(key)
                .await
                .map_err(|e| self.unavailable(&format!("cannot get {key}"), e))?;
            let Some(entry) = entry.filter(|e| e.operation == Operation::Put) else {
                self.note_chunked(key, None);
                return Ok(None);
            };
            let Some(head) = Head::parse(&entry.value) else {
                self.note_chunked(key, None);
                return Ok(Some(KvEntry {
                    value: entry.value.to_vec(),
                    revision: entry.revision,
                }));
            };
            let Some(value) = self.read_chunks(key, &head).await? else {
                if missing_at == Some(entry.revision) {
                    // The same head twice: give its writer time to withdraw it.
                    tokio::time::sleep(Duration::from_millis(20 << attempt.min(5))).await;
                }
                missing_at = Some(entry.revision);
                continue;
            };
            self.note_chunked(key, Some(entry.revision));
            return Ok(Some(KvEntry {
                value,
                revision: entry.revision,
            }));
        }
        match missing_at {
            Some(revision) => Err(StoreError::Corrupt {
                negotiation: "?".into(),
                position: format!("bucket {} key {key} revision {revision}", self.kv.name),
                reason: "the head of a chunked value names chunks that are gone".into(),
            }),
            None => Err(self.unavailable(
                &format!("cannot get {key}"),
                "its head kept moving on while its chunks were read",
            )),
        }
    }

    async fn create(&self, key: &str, value: &[u8]) -> Result<u64, StoreError> {
        self.write(key, value, Expect::Nothing).await
    }

    async fn update(&self, key: &str, value: &[u8], revision: u64) -> Result<u64, StoreError> {
        self.write(key, value, Expect::Revision(revision)).await
    }

    async fn put(&self, key: &str, value: &[u8]) -> Result<u64, StoreError> {
        self.write(key, value, Expect::Anything).await
    }

    /// Unconditionally: purges the key (its history goes too). At a revision: a
    /// delete marker conditional on it. Either way a chunked value's chunks are
    /// purged after.
    async fn delete(&self, key: &str, revision: Option<u64>) -> Result<(), StoreError> {
        match revision {
            None => self
                .kv
                .purge(key)
                .await
                .map_err(|e| self.unavailable(&format!("cannot purge {key}"), e))?,
            Some(expected) => match self.kv.delete_expect_revision(key, Some(expected)).await {
                Ok(()) => {}
                Err(e) if is_wrong_revision(&e) => {
                    return Err(self.conflict(key, Expect::Revision(expected)));
                }
                Err(e) => return Err(self.unavailable(&format!("cannot delete {key}"), e)),
            },
        }
        if self.last_chunked(key).is_some() {
            self.note_chunked(key, None);
            self.sweep(key, u64::MAX).await;
        }
        Ok(())
    }

    /// The bucket's keys with `prefix`, chunk keys left out, sorted.
    async fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let keys: Vec<String> = self
            .kv
            .keys()
            .await
            .map_err(|e| self.unavailable("cannot list keys", e))?
            .try_collect()
            .await
            .map_err(|e| self.unavailable("cannot list keys", e))?;
        let mut keys: Vec<String> = keys
            .into_iter()
            .filter(|key| key.starts_with(prefix) && !chunked::is_chunk_key(key))
            .collect();
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// Purges the bucket's stream: every key and value goes, and revisions go on
    /// from where they were.
    async fn clear(&self) -> Result<(), StoreError> {
        self.kv
            .stream
            .purge()
            .await
            .map(|_| ())
            .map_err(|e| self.unavailable("cannot purge", e))
    }
}
