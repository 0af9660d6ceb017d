//! The overdue announcements, kept over the key-value port (written once for every
//! store): the record that a commitment's first overdue day was announced, which is
//! also what the followers of the log (Server-Sent Events, the embedded store's
//! webhook feeds) read the announcement from.
//!
//! Overdue is not an event and is never stored in a view (DOMAIN.md, "Overdue"); what
//! is kept here is only that integrations were told, so that they are told once. The
//! timer that announces lives with the projector (`roundtable_projector::OverdueTimer`).
//!
//! Bucket [`OVERDUE_BUCKET`]:
//! - `<negotiation_id>.<commitment_id>.<due>`: the announcement ([`crate::Change`] as
//!   JSON), created only if absent ([`KvStore::create`]), so that of two timers, or a
//!   timer and its restart, exactly one announces;
//! - `feed.<name>.seen`: how far the embedded store's webhook feed `<name>` has
//!   delivered the announcements (the revision of the last one delivered, in decimal).

use chrono::NaiveDate;
use roundtable_domain::{CommitmentId, NegotiationId};

use crate::{Change, KvStore, StoreError};
use roundtable_domain::change::overdue_key;

/// The bucket of the overdue announcements: `ROUNDTABLE_OVERDUE` (on NATS, stream
/// `KV_ROUNDTABLE_OVERDUE`; embedded, rows of the `kv` table).
pub const OVERDUE_BUCKET: &str = "ROUNDTABLE_OVERDUE";

/// The prefix of the keys that are not announcements (feed checkpoints).
const FEED_PREFIX: &str = "feed.";

/// One kept announcement and its revision (revisions grow with every write to the
/// bucket, so they order the announcements as they were made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The revision of its key.
    pub revision: u64,
    /// The change announced.
    pub change: Change,
}

/// Records `change` (an overdue announcement, [`Change::overdue`]) unless one was
/// recorded already for its negotiation, commitment and due date. `true` when this
/// call recorded it (the caller announces it), `false` when it was there.
///
/// # Errors
/// [`StoreError::Incompatible`] for a change that is not an overdue announcement;
/// the bucket's errors.
pub async fn claim(kv: &dyn KvStore, change: &Change) -> Result<bool, StoreError> {
    let roundtable_domain::ChangeDetails::CommitmentOverdue {
        commitment_id, due, ..
    } = &change.details
    else {
        return Err(StoreError::Incompatible(format!(
            "only overdue announcements are kept in {OVERDUE_BUCKET}, not a {} change",
            change.event_type
        )));
    };
    let key = overdue_key(&change.negotiation_id, commitment_id, *due);
    let value = serde_json::to_vec(change).map_err(|e| {
        StoreError::Incompatible(format!("cannot serialize the announcement {key}: {e}"))
    })?;
    match kv.create(&key, &value).await {
        Ok(_) => Ok(true),
        Err(StoreError::AlreadyExists(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether the overdue announcement of `commitment` due on `due` was recorded.
///
/// # Errors
/// The bucket's errors.
pub async fn claimed(
    kv: &dyn KvStore,
    negotiation: &NegotiationId,
    commitment: &CommitmentId,
    due: NaiveDate,
) -> Result<bool, StoreError> {
    Ok(kv
        .get(&overdue_key(negotiation, commitment, due))
        .await?
        .is_some())
}

/// The announcements recorded for `negotiation` (`None`: every negotiation), in the
/// order they were recorded (by revision).
///
/// # Errors
/// The bucket's errors; [`StoreError::Corrupt`] for a value that is not a change.
pub async fn announcements(
    kv: &dyn KvStore,
    negotiation: Option<&NegotiationId>,
) -> Result<Vec<Announcement>, StoreError> {
    let prefix = negotiation.map_or_else(String::new, |n| format!("{n}."));
    let mut out = Vec::new();
    for (key, entry) in kv.entries(&prefix).await? {
        if key.starts_with(FEED_PREFIX) {
            continue;
        }
        let change: Change =
            serde_json::from_slice(&entry.value).map_err(|e| StoreError::Corrupt {
                negotiation: key.split('.').next().unwrap_or("?").to_owned(),
                position: format!("{OVERDUE_BUCKET} key {key}"),
                reason: format!("not an overdue announcement: {e}"),
            })?;
        out.push(Announcement {
            revision: entry.revision,
            change,
        });
    }
    out.sort_by_key(|a| a.revision);
    Ok(out)
}

/// The key of the checkpoint of the feed `name`.
fn feed_key(name: &str) -> String {
    format!("{FEED_PREFIX}{name}.seen")
}

/// How far the feed `name` has delivered the announcements: the revision of the last
/// one (0: none yet, or never started).
///
/// # Errors
/// The bucket's errors; [`StoreError::Corrupt`] for a checkpoint that is not a number.
pub async fn feed_checkpoint(kv: &dyn KvStore, name: &str) -> Result<u64, StoreError> {
    let key = feed_key(name);
    match kv.get(&key).await? {
        None => Ok(0),
        Some(entry) => std::str::from_utf8(&entry.value)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| StoreError::Corrupt {
                negotiation: "?".into(),
                position: format!("{OVERDUE_BUCKET} key {key}"),
                reason: "the checkpoint is not a number".into(),
            }),
    }
}

/// Moves the checkpoint of the feed `name` to `revision` (never back).
///
/// # Errors
/// The bucket's errors.
pub async fn set_feed_checkpoint(
    kv: &dyn KvStore,
    name: &str,
    revision: u64,
) -> Result<(), StoreError> {
    if feed_checkpoint(kv, name).await? < revision {
        kv.put(&feed_key(name), revision.to_string().as_bytes())
            .await?;
    }
    Ok(())
}

/// Starts the feed `name` after every announcement recorded until now.
///
/// # Errors
/// The bucket's errors.
pub async fn start_feed(kv: &dyn KvStore, name: &str) -> Result<(), StoreError> {
    // A write's revision is above every earlier one in the bucket.
    let now = kv.put(&feed_key(name), b"0").await?;
    kv.put(&feed_key(name), now.to_string().as_bytes()).await?;
    Ok(())
}

/// Forgets the checkpoint of the feed `name`.
///
/// # Errors
/// The bucket's errors.
pub async fn remove_feed(kv: &dyn KvStore, name: &str) -> Result<(), StoreError> {
    kv.delete(&feed_key(name), None).await
}
