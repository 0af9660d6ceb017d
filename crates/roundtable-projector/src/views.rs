//! [`KvViewStore`]: the stored views and parked entries, written once over the
//! key-value port, for every store.

use std::sync::Arc;

use crate::{ParkedEntry, StoredView, ViewStore};
use async_trait::async_trait;
use roundtable_domain::{AgreementView, NegotiationId};
use roundtable_store::{KvBuckets, KvStore, StoreError};

/// The bucket of the views: `ROUNDTABLE_VIEWS` (on NATS its stream is
/// `KV_ROUNDTABLE_VIEWS`; embedded, rows of the `kv` table).
pub const VIEWS_BUCKET: &str = "ROUNDTABLE_VIEWS";

/// The bucket of the parked entries beside [`VIEWS_BUCKET`]: `ROUNDTABLE_VIEWS_PARKED`.
pub const PARKED_BUCKET: &str = "ROUNDTABLE_VIEWS_PARKED";

/// Attempts at setting a stale mark while other projectors change it.
const MARK_ATTEMPTS: usize = 16;

/// The key of a parked entry in the parked bucket: `entry.<position>`.
fn entry_key(position: u64) -> String {
    format!("entry.{position}")
}

/// The key marking a negotiation's view as stale in the parked bucket:
/// `stale.<negotiation_id>`.
fn stale_key(negotiation: &NegotiationId) -> String {
    format!("stale.{negotiation}")
}

/// The read model over the key-value port: one key per negotiation id in the views
/// bucket, whose value is the agreement view as JSON (`serde_json::to_vec(&view)`),
/// and whose revision is the view's.
///
/// Updates are conditional on the revision: creating is [`KvStore::create`],
/// updating [`KvStore::update`] at the revision read, and a writer that lost gets
/// [`StoreError::Conflict`]. Revisions are never reused, not even after
/// [`ViewStore::clear`], so a writer holding a revision from before a rebuild
/// conflicts instead of overwriting the rebuilt view.
///
/// The entries the projector parked are kept in a second bucket ([`PARKED_BUCKET`]
/// beside the default): key `entry.<position>` holds each entry as JSON, and key
/// `stale.<negotiation_id>` the first entry of a negotiation, which marks its view as
/// stale. [`ViewStore::clear`] clears both buckets.
///
/// Cheap to clone; shares the buckets.
#[derive(Clone)]
pub struct KvViewStore {
    views: Arc<dyn KvStore>,
    parked: Arc<dyn KvStore>,
}

impl std::fmt::Debug for KvViewStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvViewStore")
            .field("views", &self.views.bucket())
            .field("parked", &self.parked.bucket())
            .finish()
    }
}

impl KvViewStore {
    /// Opens the buckets [`VIEWS_BUCKET`] and [`PARKED_BUCKET`], creating them when
    /// missing.
    ///
    /// # Errors
    /// As [`KvBuckets::open`].
    pub async fn open(buckets: &dyn KvBuckets) -> Result<KvViewStore, StoreError> {
        KvViewStore::open_bucket(buckets, VIEWS_BUCKET).await
    }

    /// Like [`KvViewStore::open`], with another views bucket `bucket` (letters,
    /// digits, `-`, `_`) and its parked entries in `<bucket>_PARKED`.
    ///
    /// # Errors
    /// As [`KvBuckets::open`].
    pub async fn open_bucket(
        buckets: &dyn KvBuckets,
        bucket: &str,
    ) -> Result<KvViewStore, StoreError> {
        let views = buckets
            .open(
                bucket,
                "Roundtable agreement views, one key per negotiation, kept by the projector",
            )
            .await?;
        let parked = buckets
            .open(
                &format!("{bucket}_PARKED"),
                "Roundtable feed entries the projector parked, and the negotiations whose views are stale",
            )
            .await?;
        Ok(KvViewStore::new(views, parked))
    }

    /// The views in `views` and the parked entries in `parked`.
    pub fn new(views: Arc<dyn KvStore>, parked: Arc<dyn KvStore>) -> KvViewStore {
        KvViewStore { views, parked }
    }

    /// The views bucket's name.
    pub fn bucket(&self) -> &str {
        self.views.bucket()
    }
}

/// A parked entry read back from the bucket.
fn decode_parked(key: &str, bytes: &[u8]) -> Result<ParkedEntry, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        negotiation: "?".into(),
        position: format!("parked entry {key}"),
        reason: format!("not a parked entry: {e}"),
    })
}

#[async_trait]
impl ViewStore for KvViewStore {
    /// The key's value, parsed with [`AgreementView::from_json`]; `None` when the key
    /// has no value.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the value is not a view; as [`KvStore::get`].
    async fn get(&self, negotiation: &NegotiationId) -> Result<Option<StoredView>, StoreError> {
        let Some(entry) = self.views.get(negotiation.as_str()).await? else {
            return Ok(None);
        };
        let view = AgreementView::from_json(&entry.value).map_err(|e| StoreError::Corrupt {
            negotiation: negotiation.to_string(),
            position: format!(
                "stored view in bucket {} at revision {}",
                self.views.bucket(),
                entry.revision
            ),
            reason: format!("not an agreement view: {e}"),
        })?;
        Ok(Some(StoredView {
            view,
            revision: entry.revision,
        }))
    }

    /// Creates the key (`expected` `None`) or updates it at revision `expected`, and
    /// returns the new revision.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] (the revision in `expected`, `actual` `None` as the
    /// port does not say) when the key exists already, or its revision is no
    /// longer `expected`; [`StoreError::Incompatible`] when the value is larger than
    /// the backend takes; [`StoreError::Unavailable`].
    async fn put(&self, view: &AgreementView, expected: Option<u64>) -> Result<u64, StoreError> {
        let negotiation = &view.negotiation_id;
        let body = serde_json::to_vec(view).map_err(|e| StoreError::Corrupt {
            negotiation: negotiation.to_string(),
            position: format!("view at version {}", view.version),
            reason: format!("cannot serialize: {e}"),
        })?;
        let written = match expected {
            None => self.views.create(negotiation.as_str(), &body).await,
            Some(revision) => {
                self.views
                    .update(negotiation.as_str(), &body, revision)
                    .await
            }
        };
        written.map_err(|e| match e {
            StoreError::AlreadyExists(_) | StoreError::RevisionConflict { .. } => {
                StoreError::Conflict {
                    negotiation: negotiation.clone(),
                    expected: expected.unwrap_or(0),
                    actual: None,
                }
            }
            other => other,
        })
    }

    /// The keys that hold a value, as negotiation ids, sorted. A key that is not a
    /// valid negotiation id (written by something else) is left out with a warning.
    async fn list(&self) -> Result<Vec<NegotiationId>, StoreError> {
        let keys = self.views.keys("").await?;
        Ok(keys
            .into_iter()
            .filter_map(|key| match NegotiationId::new(&key) {
                Ok(id) => Some(id),
                Err(_) => {
                    tracing::warn!(key, "key is not a negotiation; left out");
                    None
                }
            })
            .collect())
    }

    /// Clears the views bucket, then the parked bucket.
    async fn clear(&self) -> Result<(), StoreError> {
        self.views.clear().await?;
        self.parked.clear().await
    }

    /// Creates `entry.<position>` (kept as it is when it exists), then sets
    /// `stale.<negotiation_id>` to the entry unless it already holds one at a lower
    /// position (an update conditional on the revision read, tried again when another
    /// projector changed it meanwhile).
    async fn park(&self, entry: &ParkedEntry) -> Result<(), StoreError> {
        let body = serde_json::to_vec(entry).map_err(|e| StoreError::Corrupt {
            negotiation: "?".into(),
            position: format!("parked entry at position {}", entry.position),
            reason: format!("cannot serialize: {e}"),
        })?;
        match self.parked.create(&entry_key(entry.position), &body).await {
            Ok(_) | Err(StoreError::AlreadyExists(_)) => {}
            Err(e) => return Err(e),
        }
        let Some(negotiation) = &entry.negotiation_id else {
            return Ok(());
        };
        let key = stale_key(negotiation);
        for _ in 0..MARK_ATTEMPTS {
            let written = match self.parked.get(&key).await? {
                None => self.parked.create(&key, &body).await,
                Some(mark) => {
                    if decode_parked(&key, &mark.value)?.position <= entry.position {
                        return Ok(());
                    }
                    self.parked.update(&key, &body, mark.revision).await
                }
            };
            match written {
                Ok(_) => return Ok(()),
                // Another projector changed the mark meanwhile: read it again.
                Err(StoreError::AlreadyExists(_) | StoreError::RevisionConflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::unavailable(format!(
            "bucket {}: cannot mark {key}: other projectors kept changing it",
            self.parked.bucket()
        )))
    }

    /// The values of the `entry.*` keys, by position.
    ///
    /// # Errors
    /// As [`KvStore::entries`]; [`StoreError::Corrupt`] when a value is not an entry.
    async fn parked(&self) -> Result<Vec<ParkedEntry>, StoreError> {
        let mut entries = self
            .parked
            .entries("entry.")
            .await?
            .into_iter()
            .map(|(key, entry)| decode_parked(&key, &entry.value))
            .collect::<Result<Vec<_>, _>>()?;
        entries.sort_by_key(|e| e.position);
        Ok(entries)
    }

    /// The value of `stale.<negotiation_id>`: one get.
    ///
    /// # Errors
    /// As [`KvStore::get`]; [`StoreError::Corrupt`] when it is not an entry.
    async fn stale(&self, negotiation: &NegotiationId) -> Result<Option<ParkedEntry>, StoreError> {
        let key = stale_key(negotiation);
        match self.parked.get(&key).await? {
            Some(entry) => decode_parked(&key, &entry.value).map(Some),
            None => Ok(None),
        }
    }
}
