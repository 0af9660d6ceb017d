//! Signed checkpoints kept by the server (docs/AUDIT.md, "Checkpoints made by the
//! server"): the [`Checkpointer`] that signs them off the append path, the
//! [`CheckpointStore`] that keeps every one of them (and the witnesses' cosignatures)
//! over the key-value port, and the proofs a client asks for against them.
//!
//! Written once over the ports: the same code keeps checkpoints in the embedded
//! store's `kv` table and in a NATS key-value bucket.
//!
//! Keys in the bucket [`BUCKET`]:
//!
//! | key | value |
//! | --- | --- |
//! | `cp.<negotiation_id>.<size, 20 digits>` | the signed note, as signed (C2SP signed note of a tlog-checkpoint) |
//! | `cosig.<negotiation_id>.<size, 20 digits>.<witness key id, 8 hex digits>` | a [`Cosignature`] as JSON |
//!
//! A checkpoint is written once (`create`): two servers that sign the same size with
//! the same key write the same bytes (Ed25519 signatures are deterministic); the
//! first one kept stays.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use roundtable_audit::anchor::{
    ConsistencyProof, InclusionProof, prove_consistency, prove_inclusion,
};
use roundtable_checkpoint::merkle::{Frontier, Hash, event_leaf_hash};
use roundtable_checkpoint::{
    CheckpointSigner, LastEvent, LogCheckpoint, Note, VerifierKey, verify_note,
};
use roundtable_domain::{NegotiationId, RecordedEvent};
use roundtable_store::{EventStore, KvBuckets, KvStore, StoreError};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::AppError;
use crate::history::events;

/// The key-value bucket of checkpoints and cosignatures.
pub const BUCKET: &str = "ROUNDTABLE_CHECKPOINTS";

/// The event types after which a checkpoint is always signed, whatever the policy:
/// a signature and a conclusion are the points partners and auditors cite.
pub const ALWAYS_AFTER: [&str; 2] = ["agreement_signed", "negotiation_concluded"];

/// Events read from the log at once while catching up.
const PAGE: usize = 1_000;

fn cp_prefix(negotiation: &NegotiationId) -> String {
    format!("cp.{negotiation}.")
}

fn cp_key(negotiation: &NegotiationId, size: u64) -> String {
    format!("cp.{negotiation}.{size:020}")
}

fn cosig_prefix(negotiation: &NegotiationId, size: u64) -> String {
    format!("cosig.{negotiation}.{size:020}.")
}

/// One checkpoint the server signed and keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct StoredCheckpoint {
    /// Events in the tree: the last version it covers.
    pub size: u64,
    /// The RFC 9162 root of the tree of its first `size` events, hex.
    pub root: String,
    /// The hash of the event at version `size` (absent for size 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_hash: Option<String>,
    /// The signed note: the checkpoint text, a blank line, the log's signature line.
    pub note: String,
    /// The cosignature lines witnesses sent for it, in the order of their key ids.
    #[serde(default)]
    pub cosignatures: Vec<String>,
}

impl StoredCheckpoint {
    /// The note with every cosignature appended (c2sp.org/tlog-witness: a checkpoint
    /// served with its cosignatures).
    pub fn cosigned_note(&self) -> String {
        let mut note = self.note.clone();
        for line in &self.cosignatures {
            note.push_str(line);
            if !line.ends_with('\n') {
                note.push('\n');
            }
        }
        note
    }
}

/// A witness's cosignature of one checkpoint, as kept and listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Cosignature {
    /// The checkpoint's size.
    pub size: u64,
    /// The witness's verifier key (`<name>+<key id>+<base64 of 0x04 || public key>`).
    pub witness_key: String,
    /// The cosignature line (`— <name> <base64>\n`, c2sp.org/tlog-cosignature).
    pub signature: String,
    /// The time the witness cosigned at, POSIX seconds.
    pub timestamp: u64,
}

/// Where checkpoints and cosignatures are kept: the [`BUCKET`] of the key-value port.
#[derive(Clone)]
pub struct CheckpointStore {
    kv: Arc<dyn KvStore>,
}

impl std::fmt::Debug for CheckpointStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointStore")
            .field("bucket", &self.kv.bucket())
            .finish()
    }
}

fn store_err(source: StoreError) -> AppError {
    AppError::Store {
        port: crate::Port::Checkpoints,
        source,
    }
}

/// Reads a kept note: the checkpoint it holds (its signature is checked by whoever
/// trusts the key; here it was written by this server).
fn parse_kept(key: &str, bytes: &[u8]) -> Result<(LogCheckpoint, String), AppError> {
    let corrupt = |reason: String| {
        store_err(StoreError::Corrupt {
            negotiation: key.to_owned(),
            position: format!("key {key} of {BUCKET}"),
            reason,
        })
    };
    let text = String::from_utf8(bytes.to_vec()).map_err(|e| corrupt(e.to_string()))?;
    let note = Note::parse(&text).map_err(|e| corrupt(e.to_string()))?;
    let cp = LogCheckpoint::parse_text(note.text()).map_err(|e| corrupt(e.to_string()))?;
    Ok((cp, text))
}

impl CheckpointStore {
    /// The store over an opened bucket.
    pub fn new(kv: Arc<dyn KvStore>) -> CheckpointStore {
        CheckpointStore { kv }
    }

    /// Opens (creating when missing) the [`BUCKET`] of `buckets`.
    ///
    /// # Errors
    /// [`AppError::Store`] when the bucket cannot be opened.
    pub async fn open(buckets: &dyn KvBuckets) -> Result<CheckpointStore, AppError> {
        let kv = buckets
            .open(
                BUCKET,
                "Roundtable signed checkpoints of each negotiation's log, and witnesses' cosignatures",
            )
            .await
            .map_err(store_err)?;
        Ok(CheckpointStore { kv })
    }

    /// Keeps the signed checkpoint `note` (signed by this server's log key). Returns
    /// `false` when a checkpoint of that size was kept already (the first stays).
    ///
    /// # Errors
    /// [`AppError::InvalidRequest`] for a note that is not a Roundtable checkpoint;
    /// [`AppError::Store`].
    pub async fn put(&self, note: &str) -> Result<bool, AppError> {
        let parsed = Note::parse(note)
            .ok()
            .and_then(|n| LogCheckpoint::parse_text(n.text()).ok())
            .ok_or_else(|| AppError::InvalidRequest("not a signed Roundtable checkpoint".into()))?;
        let id = NegotiationId::new(parsed.negotiation_id.clone())
            .map_err(|e| AppError::InvalidRequest(e.to_string()))?;
        match self
            .kv
            .create(&cp_key(&id, parsed.size), note.as_bytes())
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::AlreadyExists(_)) => Ok(false),
            Err(e) => Err(store_err(e)),
        }
    }

    async fn with_cosignatures(
        &self,
        negotiation: &NegotiationId,
        cp: &LogCheckpoint,
        note: String,
    ) -> Result<StoredCheckpoint, AppError> {
        let cosignatures = self
            .cosignatures(negotiation, cp.size)
            .await?
            .into_iter()
            .map(|c| c.signature)
            .collect();
        Ok(StoredCheckpoint {
            size: cp.size,
            root: hex::encode(cp.root),
            last_event_hash: cp.last_event.as_ref().map(|e| e.hash.clone()),
            note,
            cosignatures,
        })
    }

    /// Every checkpoint kept of `negotiation`, smallest first, with their
    /// cosignatures.
    ///
    /// # Errors
    /// [`AppError::Store`].
    pub async fn history(
        &self,
        negotiation: &NegotiationId,
    ) -> Result<Vec<StoredCheckpoint>, AppError> {
        let mut out = Vec::new();
        for (key, entry) in self
            .kv
            .entries(&cp_prefix(negotiation))
            .await
            .map_err(store_err)?
        {
            let (cp, note) = parse_kept(&key, &entry.value)?;
            out.push(self.with_cosignatures(negotiation, &cp, note).await?);
        }
        Ok(out)
    }

    /// The largest checkpoint kept of `negotiation`, if any.
    ///
    /// # Errors
    /// [`AppError::Store`].
    pub async fn latest(
        &self,
        negotiation: &NegotiationId,
    ) -> Result<Option<StoredCheckpoint>, AppError> {
        let keys = self
            .kv
            .keys(&cp_prefix(negotiation))
            .await
            .map_err(store_err)?;
        match keys.last() {
            Some(key) => self.read_key(negotiation, key).await,
            None => Ok(None),
        }
    }

    /// The checkpoint kept of `negotiation` at `size`, if any.
    ///
    /// # Errors
    /// [`AppError::Store`].
    pub async fn at(
        &self,
        negotiation: &NegotiationId,
        size: u64,
    ) -> Result<Option<StoredCheckpoint>, AppError> {
        self.read_key(negotiation, &cp_key(negotiation, size)).await
    }

    async fn read_key(
        &self,
        negotiation: &NegotiationId,
        key: &str,
    ) -> Result<Option<StoredCheckpoint>, AppError> {
        let Some(entry) = self.kv.get(key).await.map_err(store_err)? else {
            return Ok(None);
        };
        let (cp, note) = parse_kept(key, &entry.value)?;
        Ok(Some(self.with_cosignatures(negotiation, &cp, note).await?))
    }

    /// The latest checkpoint, or the one at `size`; [`AppError::NoCheckpoint`] when
    /// there is none.
    ///
    /// # Errors
    /// [`AppError::NoCheckpoint`]; [`AppError::Store`].
    pub async fn get(
        &self,
        negotiation: &NegotiationId,
        size: Option<u64>,
    ) -> Result<StoredCheckpoint, AppError> {
        let found = match size {
            Some(s) => self.at(negotiation, s).await?,
            None => self.latest(negotiation).await?,
        };
        found.ok_or_else(|| AppError::NoCheckpoint {
            negotiation: negotiation.clone(),
            size,
        })
    }

    /// The cosignatures kept of the checkpoint of `negotiation` at `size`.
    ///
    /// # Errors
    /// [`AppError::Store`]; a kept value that is not a [`Cosignature`] is
    /// [`StoreError::Corrupt`].
    pub async fn cosignatures(
        &self,
        negotiation: &NegotiationId,
        size: u64,
    ) -> Result<Vec<Cosignature>, AppError> {
        let mut out = Vec::new();
        for (key, entry) in self
            .kv
            .entries(&cosig_prefix(negotiation, size))
            .await
            .map_err(store_err)?
        {
            let c: Cosignature = serde_json::from_slice(&entry.value).map_err(|e| {
                store_err(StoreError::Corrupt {
                    negotiation: negotiation.to_string(),
                    position: format!("key {key} of {BUCKET}"),
                    reason: e.to_string(),
                })
            })?;
            out.push(c);
        }
        Ok(out)
    }

    /// Keeps a witness's cosignature of a kept checkpoint: `note` is the checkpoint's
    /// note with the witness's cosignature line (other lines are ignored), and
    /// `witness_key` the witness's verifier key (type `0x04`). The note's text must
    /// be exactly that of a kept checkpoint of `negotiation`, and the line by
    /// `witness_key` must verify. A witness's later cosignature of the same size
    /// replaces its earlier one.
    ///
    /// # Errors
    /// [`AppError::Cosignature`] naming what is wrong; [`AppError::NoCheckpoint`] when
    /// no checkpoint of that size is kept; [`AppError::Store`].
    pub async fn add_cosignature(
        &self,
        negotiation: &NegotiationId,
        witness_key: &str,
        note: &str,
    ) -> Result<Cosignature, AppError> {
        let refuse = AppError::Cosignature;
        let key = VerifierKey::parse(witness_key.trim())
            .map_err(|e| refuse(format!("witness_key is not a verifier key: {e}")))?;
        if key.sig_type() != roundtable_checkpoint::COSIGNATURE_V1 {
            return Err(refuse(format!(
                "witness_key {} is not a cosignature/v1 key (type 0x04)",
                key.name()
            )));
        }
        let parsed = Note::parse(note).map_err(|e| refuse(format!("note: {e}")))?;
        let cp =
            LogCheckpoint::parse_text(parsed.text()).map_err(|e| refuse(format!("note: {e}")))?;
        if cp.negotiation_id != negotiation.as_str() {
            return Err(refuse(format!(
                "the note is a checkpoint of {}, not of {negotiation}",
                cp.negotiation_id
            )));
        }
        let kept = self
            .at(negotiation, cp.size)
            .await?
            .ok_or_else(|| AppError::NoCheckpoint {
                negotiation: negotiation.clone(),
                size: Some(cp.size),
            })?;
        let kept_text = Note::parse(&kept.note)
            .map_err(|e| refuse(e.to_string()))?
            .text()
            .to_owned();
        if kept_text != parsed.text() {
            return Err(refuse(format!(
                "the note's checkpoint text differs from the checkpoint kept at size {}",
                cp.size
            )));
        }
        let verified = verify_note(&parsed, std::slice::from_ref(&key))
            .map_err(|e| refuse(format!("the cosignature does not verify: {e}")))?;
        let timestamp = verified
            .first()
            .and_then(|v| v.timestamp)
            .ok_or_else(|| refuse("no cosignature line by witness_key".into()))?;
        let line = parsed
            .signatures()
            .iter()
            .find(|s| key.names(&s.name, s.key_id))
            .map(ToString::to_string)
            .ok_or_else(|| refuse("no cosignature line by witness_key".into()))?;
        let c = Cosignature {
            size: cp.size,
            witness_key: key.to_string(),
            signature: line,
            timestamp,
        };
        let value = serde_json::to_vec(&c).map_err(|e| refuse(e.to_string()))?;
        let k = format!("{}{:08x}", cosig_prefix(negotiation, cp.size), key.key_id());
        self.kv.put(&k, &value).await.map_err(store_err)?;
        Ok(c)
    }
}

/// The inclusion proof of event `version` in the tree of the first `size` events
/// (default: every event), for `GET .../proof/inclusion` and `roundtable prove`.
///
/// # Errors
/// [`AppError::NotRecorded`]; [`AppError::VersionNotFound`] for a size past the last
/// version; [`AppError::InvalidRequest`] for version 0 or a version after `size`;
/// [`AppError::Store`].
pub async fn inclusion(
    log: &dyn EventStore,
    negotiation: &NegotiationId,
    version: u64,
    size: Option<u64>,
) -> Result<InclusionProof, AppError> {
    let all = recorded(log, negotiation).await?;
    let last = all.len() as u64;
    let size = size.unwrap_or(last);
    if size > last {
        return Err(AppError::VersionNotFound {
            negotiation: negotiation.clone(),
            requested: size,
            last,
        });
    }
    if version == 0 || version > size {
        return Err(AppError::InvalidRequest(format!(
            "version {version} is outside a tree of size {size}: give a version from 1 to {size}"
        )));
    }
    prove_inclusion(&all, version, size).map_err(|e| AppError::InvalidRequest(e.to_string()))
}

/// The consistency proof from the tree of the first `old` events to that of the first
/// `new`, for `GET .../proof/consistency` and `roundtable prove`.
///
/// # Errors
/// [`AppError::NotRecorded`]; [`AppError::VersionNotFound`] for a size past the last
/// version; [`AppError::InvalidRequest`] when `old` is after `new`;
/// [`AppError::Store`].
pub async fn consistency(
    log: &dyn EventStore,
    negotiation: &NegotiationId,
    old: u64,
    new: u64,
) -> Result<ConsistencyProof, AppError> {
    let all = recorded(log, negotiation).await?;
    let last = all.len() as u64;
    if new > last {
        return Err(AppError::VersionNotFound {
            negotiation: negotiation.clone(),
            requested: new,
            last,
        });
    }
    if old > new {
        return Err(AppError::InvalidRequest(format!(
            "the old size {old} is after the new size {new}"
        )));
    }
    prove_consistency(&all, old, new).map_err(|e| AppError::InvalidRequest(e.to_string()))
}

async fn recorded(
    log: &dyn EventStore,
    negotiation: &NegotiationId,
) -> Result<Vec<RecordedEvent>, AppError> {
    let all = events(log, negotiation, None).await?;
    if all.is_empty() {
        return Err(AppError::NotRecorded {
            negotiation: negotiation.clone(),
        });
    }
    Ok(all)
}

/// When the [`Checkpointer`] signs: after `every_events` events not yet covered, or
/// once events have waited `every` uncovered, whichever comes first; and always
/// after each event of [`ALWAYS_AFTER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// Most events a checkpoint may lag behind the log (at least 1).
    pub every_events: u64,
    /// Longest time new events wait for a checkpoint.
    pub every: Duration,
    /// How often the log is looked at for new events.
    pub poll: Duration,
}

impl Default for CheckpointPolicy {
    /// 1,000 events or 10 seconds, looking every second.
    fn default() -> Self {
        CheckpointPolicy {
            every_events: 1_000,
            every: Duration::from_secs(10),
            poll: Duration::from_secs(1),
        }
    }
}

/// A checkpoint the [`Checkpointer`] signed and kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The negotiation.
    pub negotiation: NegotiationId,
    /// The size signed.
    pub size: u64,
    /// The signed note.
    pub note: String,
    /// `false` when another process had kept that size already.
    pub new: bool,
}

/// What the checkpointer knows of one negotiation's log.
struct Tracked {
    frontier: Frontier,
    last_event: Option<LastEvent>,
    /// The size of the last checkpoint kept.
    signed: u64,
    /// The kept checkpoint the log has not reached yet in this process (on start: the
    /// latest kept), checked when the frontier reaches its size.
    to_check: Option<(u64, Hash)>,
    /// Since when events have waited uncovered.
    pending_since: Option<Instant>,
    /// Set when the log parts from a kept checkpoint: nothing more is signed.
    rewritten: Option<String>,
}

/// Signs checkpoints of every negotiation off the append path, as the
/// [`CheckpointPolicy`] says, and keeps them in the [`CheckpointStore`]. Before it
/// signs past a kept checkpoint, it checks that the log still has that checkpoint's
/// root: a log rewritten under it is refused ([`AppError::Rewritten`]) and nothing
/// more is signed for that negotiation.
///
/// Keeps one Merkle frontier per negotiation in memory (a few hundred bytes), so each
/// event is hashed into the tree once; on start it reads each log once.
pub struct Checkpointer {
    log: Arc<dyn EventStore>,
    store: CheckpointStore,
    signer: CheckpointSigner,
    policy: CheckpointPolicy,
    tracked: HashMap<NegotiationId, Tracked>,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer")
            .field("deployment", &self.signer.deployment())
            .field("policy", &self.policy)
            .field("negotiations", &self.tracked.len())
            .finish()
    }
}

impl Checkpointer {
    /// A checkpointer over `log`, keeping checkpoints in `store`, signed by `signer`.
    pub fn new(
        log: Arc<dyn EventStore>,
        store: CheckpointStore,
        signer: CheckpointSigner,
        mut policy: CheckpointPolicy,
    ) -> Checkpointer {
        policy.every_events = policy.every_events.max(1);
        Checkpointer {
            log,
            store,
            signer,
            policy,
            tracked: HashMap::new(),
        }
    }

    /// Looks at every negotiation once and signs what the policy says is due. A
    /// negotiation whose log parts from a kept checkpoint is reported by an error and
    /// skipped from then on; the others go on.
    ///
    /// # Errors
    /// [`AppError::Store`] when a store fails (the next tick tries again);
    /// [`AppError::Rewritten`], the first rewritten log found.
    pub async fn tick(&mut self) -> Result<Vec<Signed>, AppError> {
        let mut signed = Vec::new();
        let mut first_error = None;
        let negotiations = self.log.negotiations().await.map_err(AppError::events)?;
        for id in negotiations {
            match self.negotiation(&id, &mut signed).await {
                Ok(()) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) if signed.is_empty() => Err(e),
            Some(e) => {
                tracing::error!(error = %e, "checkpointing");
                Ok(signed)
            }
            None => Ok(signed),
        }
    }

    async fn sign(
        &self,
        id: &NegotiationId,
        t: &Tracked,
        out: &mut Vec<Signed>,
    ) -> Result<(), AppError> {
        let size = t.frontier.size();
        let note = self
            .signer
            .sign(id.as_str(), size, t.frontier.root(), t.last_event.clone())
            .map_err(|e| {
                AppError::InvalidRequest(format!("cannot sign a checkpoint of {id}: {e}"))
            })?;
        let new = self.store.put(&note).await?;
        log_signed(id, size, new);
        out.push(Signed {
            negotiation: id.clone(),
            size,
            note,
            new,
        });
        Ok(())
    }

    async fn negotiation(
        &mut self,
        id: &NegotiationId,
        out: &mut Vec<Signed>,
    ) -> Result<(), AppError> {
        if !self.tracked.contains_key(id) {
            let latest = self.store.latest(id).await?;
            let to_check = match &latest {
                Some(s) => {
                    let root: Hash = hex::decode(&s.root)
                        .ok()
                        .and_then(|r| r.try_into().ok())
                        .unwrap_or([0; 32]);
                    Some((s.size, root))
                }
                None => None,
            };
            self.tracked.insert(
                id.clone(),
                Tracked {
                    frontier: Frontier::new(),
                    last_event: None,
                    signed: latest.map_or(0, |s| s.size),
                    to_check,
                    pending_since: None,
                    rewritten: None,
                },
            );
        }
        let Some(mut t) = self.tracked.remove(id) else {
            return Ok(());
        };
        let result = self.advance(id, &mut t, out).await;
        self.tracked.insert(id.clone(), t);
        result
    }

    async fn advance(
        &self,
        id: &NegotiationId,
        t: &mut Tracked,
        out: &mut Vec<Signed>,
    ) -> Result<(), AppError> {
        if let Some(reason) = &t.rewritten {
            return Err(AppError::Rewritten {
                negotiation: id.clone(),
                reason: reason.clone(),
            });
        }
        loop {
            let page = self
                .log
                .read(id, t.frontier.size(), Some(PAGE))
                .await
                .map_err(AppError::events)?;
            if page.is_empty() {
                break;
            }
            for e in &page {
                let leaf = event_leaf_hash(&e.hash).map_err(|err| AppError::Corrupt {
                    negotiation: id.clone(),
                    reason: err.to_string(),
                })?;
                t.frontier.push(leaf);
                t.last_event = Some(LastEvent {
                    hash: e.hash.clone(),
                    recorded_at: e.recorded_at,
                });
                let size = t.frontier.size();
                if let Some((_, root)) = t.to_check.filter(|(at, _)| *at == size) {
                    t.to_check = None;
                    if t.frontier.root() != root {
                        let reason = format!(
                            "the log's first {size} events give root {}, but the checkpoint kept at size {size} has root {}: the history was rewritten at or before version {size}",
                            hex::encode(t.frontier.root()),
                            hex::encode(root)
                        );
                        t.rewritten = Some(reason.clone());
                        tracing::error!(negotiation_id = %id, %reason, "log rewritten under a kept checkpoint; no more checkpoints are signed for it");
                        return Err(AppError::Rewritten {
                            negotiation: id.clone(),
                            reason,
                        });
                    }
                }
                if size <= t.signed || t.to_check.is_some() {
                    continue;
                }
                let due = size - t.signed >= self.policy.every_events
                    || ALWAYS_AFTER.contains(&e.event_type());
                if due {
                    self.sign(id, t, out).await?;
                    t.signed = size;
                    t.pending_since = None;
                }
            }
        }
        if let Some((at, _)) = t.to_check {
            // The log is shorter than a kept checkpoint: events were removed.
            let reason = format!(
                "the log holds {} events, but a checkpoint of size {at} is kept: versions {} to {at} are missing",
                t.frontier.size(),
                t.frontier.size() + 1
            );
            t.rewritten = Some(reason.clone());
            return Err(AppError::Rewritten {
                negotiation: id.clone(),
                reason,
            });
        }
        let size = t.frontier.size();
        if size > t.signed {
            let since = *t.pending_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= self.policy.every {
                self.sign(id, t, out).await?;
                t.signed = size;
                t.pending_since = None;
            }
        }
        Ok(())
    }

    /// Signs whatever is uncovered now, whatever the policy (used at shutdown, and by
    /// tests and the benchmark).
    ///
    /// # Errors
    /// As [`Checkpointer::tick`].
    pub async fn flush(&mut self) -> Result<Vec<Signed>, AppError> {
        let every = self.policy.every;
        self.policy.every = Duration::ZERO;
        let result = self.tick().await;
        self.policy.every = every;
        result
    }

    /// Ticks every [`CheckpointPolicy::poll`] until `shutdown` completes, calling
    /// `signed` with each checkpoint kept; store errors are logged and tried again.
    pub async fn run_until<F, S>(&mut self, shutdown: F, mut signed: S)
    where
        F: Future<Output = ()>,
        S: FnMut(&Signed),
    {
        tokio::pin!(shutdown);
        let mut interval = tokio::time::interval(self.policy.poll);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = interval.tick() => {
                    match self.tick().await {
                        Ok(list) => list.iter().for_each(&mut signed),
                        Err(e) => tracing::warn!(error = %e, "checkpointing failed; trying again"),
                    }
                }
            }
        }
    }
}

fn log_signed(id: &NegotiationId, size: u64, new: bool) {
    if new {
        tracing::info!(negotiation_id = %id, size, "checkpoint signed");
    } else {
        tracing::debug!(negotiation_id = %id, size, "checkpoint already kept");
    }
}
