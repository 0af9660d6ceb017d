//! [`NatsViewStore`]: the projected agreement views in a JetStream key-value bucket.

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
use roundtable_domain::{AgreementView, NegotiationId};
use roundtable_store::{ParkedEntry, StoreError, StoredView, ViewStore};

use crate::append::is_wrong_last_sequence;
use crate::chunked::{self, Head};
use crate::store::NatsStore;

/// The key-value bucket holding the views: `ROUNDTABLE_VIEWS` (its stream is
/// `KV_ROUNDTABLE_VIEWS`).
pub const VIEWS_BUCKET: &str = "ROUNDTABLE_VIEWS";

/// The key-value bucket holding the parked entries beside [`VIEWS_BUCKET`]:
/// `ROUNDTABLE_VIEWS_PARKED`.
pub const PARKED_BUCKET: &str = "ROUNDTABLE_VIEWS_PARKED";

/// Attempts at setting a stale mark while other projectors change it.
const MARK_ATTEMPTS: usize = 16;

/// The key of a parked entry in the parked bucket.
fn entry_key(position: u64) -> String {
    format!("entry.{position}")
}

/// The key marking a negotiation's view as stale in the parked bucket.
fn stale_key(negotiation: &NegotiationId) -> String {
    format!("stale.{negotiation}")
}

/// The read model on NATS: one key per negotiation id in a JetStream key-value bucket,
/// whose value is the agreement view as JSON (`serde_json::to_vec(&view)`).
///
/// A view whose JSON does not fit in one message (the server's `max_payload`, 1 MiB by
/// default, or the bucket's `max_value_size` when smaller, less 4 KiB for the subject
/// and headers) is kept in chunks instead: its JSON cut into pieces under
/// `<negotiation_id>.<write>.<n>` (`write`: the view's version and a random id, new at
/// every write), then a small head under `<negotiation_id>`,
/// `{"chunked_view":{"write":...,"chunks":n,"bytes":...,"version":...}}`, written last
/// with the same conditional update as a small view. A reader gets the head, then its
/// chunks; chunk keys are never reused, so a head never names another write's chunks.
/// After a head is stored, the negotiation's chunks older than its own are purged (they
/// belong to heads that were replaced, or to writers that lost or died), and the
/// writer of a losing head purges its chunks at once. [`ViewStore::list`] leaves chunk
/// keys out. Layout and reasoning: docs/NATS.md, "Large views".
///
/// The bucket keeps one value per key (history 1) in file storage, created with the
/// store's replica count ([`NatsConfig::replicas`](crate::NatsConfig)). A
/// view's revision is the bucket's revision of its key: the stream sequence of the
/// value, which only ever grows (also across [`ViewStore::clear`], which purges the
/// bucket's stream). Updates are conditional on it: creating is an update expected at
/// "no value", updating one expected at the revision read, and the server refuses
/// either when another writer got there first (`wrong last sequence`), which becomes
/// [`StoreError::Conflict`].
///
/// Shares the connection of the [`NatsStore`] it was opened from. Cheap to clone.
/// The entries the projector parked are kept in a second bucket, `<bucket>_PARKED`
/// ([`PARKED_BUCKET`] beside the default): key `entry.<position>` holds each entry as
/// JSON, and key `stale.<negotiation_id>` the first entry of a negotiation, which
/// marks its view as stale. [`ViewStore::clear`] purges both buckets.
#[derive(Debug, Clone)]
pub struct NatsViewStore {
    kv: kv::Store,
    parked: kv::Store,
    url: String,
    /// Largest JSON kept as one value; larger views are cut into chunks this size.
    max_entry: usize,
    /// The negotiations whose view this store last read or wrote as chunks, with the
    /// head's revision: a smaller view replacing that revision purges the chunks.
    chunked: Arc<Mutex<HashMap<NegotiationId, u64>>>,
}

impl NatsViewStore {
    /// Opens the views bucket [`VIEWS_BUCKET`] on `store`'s connection, creating it
    /// when it is missing (file storage, history 1, the store's replica count). An
    /// existing bucket is used as it is, never reconfigured: an operator's settings
    /// (replicas on a cluster, placement) stay.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the server does not answer in time;
    /// [`StoreError::Incompatible`] when the bucket cannot be created or opened.
    pub async fn open(store: &NatsStore) -> Result<NatsViewStore, StoreError> {
        NatsViewStore::open_bucket(store, VIEWS_BUCKET).await
    }

    /// Like [`NatsViewStore::open`], with another bucket name (letters, digits, `-`,
    /// `_`).
    ///
    /// # Errors
    /// As [`NatsViewStore::open`].
    pub async fn open_bucket(store: &NatsStore, bucket: &str) -> Result<NatsViewStore, StoreError> {
        let kv = open_kv(
            store,
            bucket,
            "Roundtable agreement views, one key per negotiation, kept by the projector",
        )
        .await?;
        let parked = open_kv(
            store,
            &format!("{bucket}_PARKED"),
            "Roundtable feed entries the projector parked, and the negotiations whose views are stale",
        )
        .await?;
        let max_entry = chunked::chunk_size(
            store.client.server_info().max_payload,
            kv.stream.cached_info().config.max_message_size,
        );
        Ok(NatsViewStore {
            kv,
            parked,
            url: store.url.clone(),
            max_entry,
            chunked: Arc::default(),
        })
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.kv.name
    }

    /// The largest view JSON kept as one value: larger views are kept in chunks of
    /// this size. Set from the server's `max_payload` and the bucket's
    /// `max_value_size` when opened.
    pub fn max_entry(&self) -> usize {
        self.max_entry
    }

    /// The same store keeping views larger than `bytes` (at least 1,024) in chunks of
    /// `bytes`: for tests, and for a server whose other nodes take smaller messages.
    /// Values it cannot store as one message still fail.
    #[must_use]
    pub fn with_max_entry(mut self, bytes: usize) -> NatsViewStore {
        self.max_entry = bytes.max(1024);
        self
    }

    fn unavailable(&self, what: &str, err: impl Display) -> StoreError {
        StoreError::Unavailable(format!(
            "nats at {}: bucket {}: {what}: {err}",
            self.url, self.kv.name
        ))
    }

    /// Creates the key (`expected` `None`) or updates it at revision `expected` with
    /// `value` (a view's JSON of `size` bytes, or the head of one).
    async fn put_value(
        &self,
        negotiation: &NegotiationId,
        value: Bytes,
        size: usize,
        expected: Option<u64>,
    ) -> Result<u64, StoreError> {
        let conflict = || StoreError::Conflict {
            negotiation: negotiation.clone(),
            expected: expected.unwrap_or(0),
            actual: 0,
        };
        let too_big = |e: &dyn Display| self.too_big(negotiation, size, e);
        match expected {
            None => match self.kv.create(negotiation.as_str(), value).await {
                Ok(revision) => Ok(revision),
                Err(e) if e.kind() == CreateErrorKind::AlreadyExists => Err(conflict()),
                Err(e) if payload_too_large(&e) => Err(too_big(&e)),
                Err(e) => Err(self.unavailable(&format!("cannot create {negotiation}"), e)),
            },
            Some(revision) => match self.kv.update(negotiation.as_str(), value, revision).await {
                Ok(revision) => Ok(revision),
                Err(e) if is_wrong_revision(&e) => Err(conflict()),
                Err(e) if payload_too_large(&e) => Err(too_big(&e)),
                Err(e) => Err(self.unavailable(&format!("cannot update {negotiation}"), e)),
            },
        }
    }

    fn too_big(&self, negotiation: &NegotiationId, size: usize, e: &dyn Display) -> StoreError {
        StoreError::Incompatible(format!(
            "nats at {}: the view of {negotiation} ({size} bytes) cannot be stored in bucket {}: {e}",
            self.url, self.kv.name
        ))
    }

    /// Writes `body` (the JSON of `negotiation`'s view at `version`) as chunks, then
    /// its head at `expected`; purges the chunks of the write that loses, and the
    /// negotiation's older chunks once the head is stored.
    ///
    /// A rebuild ([`ViewStore::clear`]) purging the bucket after the chunks were
    /// written and before the head was would leave a head without chunks: the
    /// stream's first sequence, read after the head is stored, tells, and such a head
    /// is deleted again (conditionally) and reported as a conflict.
    async fn put_chunked(
        &self,
        negotiation: &NegotiationId,
        body: Bytes,
        version: u64,
        expected: Option<u64>,
    ) -> Result<u64, StoreError> {
        let size = body.len();
        let head = Head::new(chunked::write_id(version), &body, self.max_entry, version);
        let mut first = None;
        for n in 0..head.chunked_view.chunks {
            let piece = body.slice(n * self.max_entry..((n + 1) * self.max_entry).min(size));
            let key = head.chunk_key(negotiation, n);
            let written = self.kv.put(&key, piece).await.map_err(|e| {
                if payload_too_large(&e) {
                    self.too_big(negotiation, size, &e)
                } else {
                    self.unavailable(&format!("cannot put {key}"), e)
                }
            });
            match written {
                Ok(sequence) => {
                    first.get_or_insert(sequence);
                }
                Err(e) => {
                    self.discard(negotiation, &head).await;
                    return Err(e);
                }
            }
        }
        let first = first.unwrap_or(0);
        let revision = match self
            .put_value(negotiation, head.to_bytes(), size, expected)
            .await
        {
            Ok(revision) => revision,
            Err(e) => {
                self.discard(negotiation, &head).await;
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
            tracing::warn!(%negotiation, revision, "the chunks of a view were purged before its head was stored; withdrawing the head");
            return match self
                .kv
                .delete_expect_revision(negotiation.as_str(), Some(revision))
                .await
            {
                Ok(()) => Err(StoreError::Conflict {
                    negotiation: negotiation.clone(),
                    expected: expected.unwrap_or(0),
                    actual: 0,
                }),
                Err(e) if is_wrong_revision(&e) => {
                    // Another writer read this head and replaced it: it was whole then.
                    Ok(revision)
                }
                Err(e) => Err(self.unavailable(&format!("cannot withdraw {negotiation}"), e)),
            };
        }
        self.note_chunked(negotiation, Some(revision));
        self.sweep(negotiation, first).await;
        Ok(revision)
    }

    /// The chunks of `head`, joined; `None` when one is gone.
    async fn read_chunks(
        &self,
        negotiation: &NegotiationId,
        head: &Head,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let keys: Vec<String> = (0..head.chunked_view.chunks)
            .map(|n| head.chunk_key(negotiation, n))
            .collect();
        let pieces = futures::future::try_join_all(keys.iter().map(|key| self.kv.get(key)))
            .await
            .map_err(|e| self.unavailable(&format!("cannot get the chunks of {negotiation}"), e))?;
        let mut body = Vec::with_capacity(head.chunked_view.bytes);
        for piece in pieces {
            let Some(piece) = piece else {
                return Ok(None);
            };
            body.extend_from_slice(&piece);
        }
        if body.len() != head.chunked_view.bytes {
            return Err(StoreError::Corrupt {
                negotiation: negotiation.to_string(),
                position: format!("bucket {} write {}", self.kv.name, head.chunked_view.write),
                reason: format!(
                    "chunks hold {} bytes, the head says {}",
                    body.len(),
                    head.chunked_view.bytes
                ),
            });
        }
        Ok(Some(body))
    }

    /// Purges `negotiation`'s chunks stored before stream sequence `below`. Best
    /// effort: chunks left behind are only space, purged by the next sweep or rebuild.
    async fn sweep(&self, negotiation: &NegotiationId, below: u64) {
        let filter = format!("{}{negotiation}.>", self.kv.prefix);
        if let Err(e) = self.kv.stream.purge().filter(filter).sequence(below).await {
            tracing::warn!(%negotiation, error = %e, "cannot purge the chunks of replaced views; the next write tries again");
        }
    }

    /// Purges the chunks of a write whose head was not stored. Best effort.
    async fn discard(&self, negotiation: &NegotiationId, head: &Head) {
        let filter = format!(
            "{}{negotiation}.{}.>",
            self.kv.prefix, head.chunked_view.write
        );
        if let Err(e) = self.kv.stream.purge().filter(filter).await {
            tracing::warn!(%negotiation, error = %e, "cannot purge the chunks of a view not stored; the next write tries again");
        }
    }

    /// Notes the revision of `negotiation`'s chunked head, or that its view is not
    /// chunked.
    fn note_chunked(&self, negotiation: &NegotiationId, revision: Option<u64>) {
        let mut chunked = self.chunked.lock().unwrap_or_else(|e| e.into_inner());
        match revision {
            Some(revision) => {
                chunked.insert(negotiation.clone(), revision);
            }
            None => {
                chunked.remove(negotiation);
            }
        }
    }

    /// The revision of `negotiation`'s chunked head as last read or written here.
    fn last_chunked(&self, negotiation: &NegotiationId) -> Option<u64> {
        let chunked = self.chunked.lock().unwrap_or_else(|e| e.into_inner());
        chunked.get(negotiation).copied()
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
        |e: &dyn Display| StoreError::Unavailable(format!("nats at {url}: bucket {bucket}: {e}"));
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

/// A parked entry read back from the bucket.
fn decode_parked(key: &str, bytes: &[u8]) -> Result<ParkedEntry, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        negotiation: "?".into(),
        position: format!("parked entry {key}"),
        reason: format!("not a parked entry: {e}"),
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
impl ViewStore for NatsViewStore {
    /// The key's last value, parsed with [`AgreementView::from_json`]; `None` when the
    /// key has no value (or was deleted). A chunked view's head is followed to its
    /// chunks; when one is gone (the head moved on meanwhile and they were purged),
    /// the head is read again.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the value is not a view, or a head names chunks
    /// that stay missing; [`StoreError::Unavailable`] on timeouts and lost
    /// connections, and when the head keeps moving on while its chunks are read.
    async fn get(&self, negotiation: &NegotiationId) -> Result<Option<StoredView>, StoreError> {
        let mut missing_at = None;
        for attempt in 0..chunked::READ_ATTEMPTS {
            let entry = self
                .kv
                .entry(negotiation.as_str())
                .await
                .map_err(|e| self.unavailable(&format!("cannot get {negotiation}"), e))?;
            let Some(entry) = entry.filter(|e| e.operation == Operation::Put) else {
                self.note_chunked(negotiation, None);
                return Ok(None);
            };
            let corrupt = |reason: String| StoreError::Corrupt {
                negotiation: negotiation.to_string(),
                position: format!("bucket {} revision {}", self.kv.name, entry.revision),
                reason,
            };
            let Some(head) = Head::parse(&entry.value) else {
                self.note_chunked(negotiation, None);
                let view = AgreementView::from_json(&entry.value)
                    .map_err(|e| corrupt(format!("not an agreement view: {e}")))?;
                return Ok(Some(StoredView {
                    view,
                    revision: entry.revision,
                }));
            };
            let Some(body) = self.read_chunks(negotiation, &head).await? else {
                if missing_at == Some(entry.revision) {
                    // The same head twice: give its writer time to withdraw it.
                    tokio::time::sleep(Duration::from_millis(20 << attempt.min(5))).await;
                }
                missing_at = Some(entry.revision);
                continue;
            };
            let view = AgreementView::from_json(&body)
                .map_err(|e| corrupt(format!("chunks are not an agreement view: {e}")))?;
            if view.version != head.chunked_view.version {
                return Err(corrupt(format!(
                    "chunks hold version {}, the head says {}",
                    view.version, head.chunked_view.version
                )));
            }
            self.note_chunked(negotiation, Some(entry.revision));
            return Ok(Some(StoredView {
                view,
                revision: entry.revision,
            }));
        }
        match missing_at {
            Some(revision) => Err(StoreError::Corrupt {
                negotiation: negotiation.to_string(),
                position: format!("bucket {} revision {revision}", self.kv.name),
                reason: "the head of a chunked view names chunks that are gone".into(),
            }),
            None => Err(self.unavailable(
                &format!("cannot get {negotiation}"),
                "its head kept moving on while its chunks were read",
            )),
        }
    }

    /// Creates the key (`expected` `None`) or updates it at revision `expected`, and
    /// returns the new revision. A view larger than [`NatsViewStore::max_entry`] is
    /// written as chunks first, then its head under the key.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] (revisions in `expected` and `actual`, `actual` 0 as
    /// the server does not say) when the key exists already, or its revision is no
    /// longer `expected`; [`StoreError::Incompatible`] when a value is larger than the
    /// server takes; [`StoreError::Unavailable`] on timeouts and lost connections.
    async fn put(&self, view: &AgreementView, expected: Option<u64>) -> Result<u64, StoreError> {
        let negotiation = &view.negotiation_id;
        let body = serde_json::to_vec(view).map_err(|e| StoreError::Corrupt {
            negotiation: negotiation.to_string(),
            position: format!("view at version {}", view.version),
            reason: format!("cannot serialize: {e}"),
        })?;
        let size = body.len();
        if size > self.max_entry {
            return self
                .put_chunked(negotiation, Bytes::from(body), view.version, expected)
                .await;
        }
        let was_chunked = expected.is_some_and(|r| self.last_chunked(negotiation) == Some(r));
        let revision = self
            .put_value(negotiation, Bytes::from(body), size, expected)
            .await?;
        if was_chunked {
            // The chunks of the head just replaced: nothing names them any more.
            self.note_chunked(negotiation, None);
            self.sweep(negotiation, revision).await;
        }
        Ok(revision)
    }

    /// The keys that hold a value, as negotiation ids, sorted. A key that is not a
    /// valid negotiation id (written by something else) is left out with a warning.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] on timeouts and lost connections.
    async fn list(&self) -> Result<Vec<NegotiationId>, StoreError> {
        let keys: Vec<String> = self
            .kv
            .keys()
            .await
            .map_err(|e| self.unavailable("cannot list keys", e))?
            .try_collect()
            .await
            .map_err(|e| self.unavailable("cannot list keys", e))?;
        let mut ids: Vec<NegotiationId> = keys
            .into_iter()
            .filter(|key| !chunked::is_chunk_key(key))
            .filter_map(|key| match NegotiationId::new(&key) {
                Ok(id) => Some(id),
                Err(_) => {
                    tracing::warn!(key, "key is not a negotiation; left out");
                    None
                }
            })
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// Purges the bucket's stream: every key and value goes, and revisions go on
    /// from where they were.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] on timeouts and lost connections.
    async fn clear(&self) -> Result<(), StoreError> {
        self.kv
            .stream
            .purge()
            .await
            .map_err(|e| self.unavailable("cannot purge", e))?;
        self.parked
            .stream
            .purge()
            .await
            .map(|_| ())
            .map_err(|e| self.unavailable("cannot purge the parked entries", e))
    }

    /// Creates `entry.<position>` (kept as it is when it exists), then sets
    /// `stale.<negotiation_id>` to the entry unless it already holds one at a lower
    /// position (an update conditional on the revision read, tried again when another
    /// projector changed it meanwhile).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] on timeouts and lost connections.
    async fn park(&self, entry: &ParkedEntry) -> Result<(), StoreError> {
        let body = Bytes::from(serde_json::to_vec(entry).map_err(|e| StoreError::Corrupt {
            negotiation: "?".into(),
            position: format!("parked entry at position {}", entry.position),
            reason: format!("cannot serialize: {e}"),
        })?);
        let key = entry_key(entry.position);
        match self.parked.create(&key, body.clone()).await {
            Ok(_) => {}
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => {}
            Err(e) => return Err(self.unavailable(&format!("cannot keep {key}"), e)),
        }
        let Some(negotiation) = &entry.negotiation_id else {
            return Ok(());
        };
        let key = stale_key(negotiation);
        for _ in 0..MARK_ATTEMPTS {
            let current = self
                .parked
                .entry(&key)
                .await
                .map_err(|e| self.unavailable(&format!("cannot read {key}"), e))?
                .filter(|e| e.operation == Operation::Put);
            let written = match current {
                None => self.parked.create(&key, body.clone()).await.map_err(|e| {
                    (e.kind() == CreateErrorKind::AlreadyExists)
                        .then_some(())
                        .ok_or_else(|| self.unavailable(&format!("cannot mark {key}"), e))
                }),
                Some(mark) => {
                    if decode_parked(&key, &mark.value)?.position <= entry.position {
                        return Ok(());
                    }
                    self.parked
                        .update(&key, body.clone(), mark.revision)
                        .await
                        .map_err(|e| {
                            is_wrong_revision(&e)
                                .then_some(())
                                .ok_or_else(|| self.unavailable(&format!("cannot mark {key}"), e))
                        })
                }
            };
            match written {
                Ok(_) => return Ok(()),
                // Another projector changed the mark meanwhile: read it again.
                Err(Ok(())) => {}
                Err(Err(e)) => return Err(e),
            }
        }
        Err(self.unavailable(
            &format!("cannot mark {key}"),
            "other projectors kept changing it",
        ))
    }

    /// The values of the `entry.*` keys, by position.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Corrupt`] when a value is not an
    /// entry.
    async fn parked(&self) -> Result<Vec<ParkedEntry>, StoreError> {
        let keys: Vec<String> = self
            .parked
            .keys()
            .await
            .map_err(|e| self.unavailable("cannot list parked entries", e))?
            .try_collect()
            .await
            .map_err(|e| self.unavailable("cannot list parked entries", e))?;
        let mut entries = Vec::new();
        for key in keys.iter().filter(|k| k.starts_with("entry.")) {
            match self.parked.get(key).await {
                Ok(Some(bytes)) => entries.push(decode_parked(key, &bytes)?),
                Ok(None) => {}
                Err(e) => return Err(self.unavailable(&format!("cannot read {key}"), e)),
            }
        }
        entries.sort_by_key(|e| e.position);
        Ok(entries)
    }

    /// The value of `stale.<negotiation_id>`: one get.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Corrupt`] when it is not an entry.
    async fn stale(&self, negotiation: &NegotiationId) -> Result<Option<ParkedEntry>, StoreError> {
        let key = stale_key(negotiation);
        match self.parked.get(&key).await {
            Ok(Some(bytes)) => decode_parked(&key, &bytes).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(self.unavailable(&format!("cannot read {key}"), e)),
        }
    }
}
