//! [`NatsChangeSink`]: change notifications on `roundtable.changes.<negotiation_id>`,
//! kept in the JetStream stream `ROUNDTABLE_CHANGES` for integrations that consume
//! them with their own durable consumers.

use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::context::{GetStreamErrorKind, PublishAckFuture};
use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, ErrorCode};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use roundtable_domain::NegotiationId;
use roundtable_store::{Change, ChangeSink, ChangeWatch, StoreError};

use crate::store::NatsStore;

/// The subject prefix of change notifications: `roundtable.changes`.
pub const CHANGES_PREFIX: &str = "roundtable.changes";

/// The stream that keeps every change notification: `ROUNDTABLE_CHANGES`.
pub const CHANGES_STREAM: &str = "ROUNDTABLE_CHANGES";

/// How long the changes stream remembers a `Nats-Msg-Id`: a change published again
/// within it (a projector's retry, a second projector) is stored once.
pub const CHANGES_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Publishes each [`Change`] as JSON on `<prefix>.<negotiation_id>` (by default
/// `roundtable.changes.<negotiation_id>`) through JetStream: the stream
/// [`CHANGES_STREAM`] keeps them, so an integration can consume them with a durable
/// consumer of its own, from the beginning or from a point in time, and miss nothing
/// across its restarts. Subscribers on the core NATS subjects get them too.
///
/// The stream is created when missing (file storage, the store's replica count,
/// limits retention with no limits, a 2-minute duplicate window) on the first publish
/// or by [`NatsChangeSink::ensure_stream`]; an existing one is used as it is, never
/// updated, so an operator's settings (a `max_age`, replicas, placement) stay.
///
/// Every publish waits for the stream's acknowledgement and carries
/// `Nats-Msg-Id: <negotiation_id>:<version>`, so a change published twice within the
/// duplicate window (a projector retrying, two projectors racing) is stored once.
///
/// Shares the connection of the [`NatsStore`] it was made from.
#[derive(Debug, Clone)]
pub struct NatsChangeSink {
    js: jetstream::Context,
    prefix: String,
    stream: String,
    replicas: usize,
    url: String,
    /// Whether the stream is known to exist (set after a look-up or creation; cleared
    /// when a publish fails, so that the next one looks again).
    ensured: Arc<AtomicBool>,
    /// Acknowledgements of changes sent and not yet confirmed, with their subjects.
    awaiting: Arc<Mutex<Vec<(String, PublishAckFuture)>>>,
}

/// Most changes sent and not yet confirmed: [`NatsChangeSink::send_all`] confirms
/// before sending more, well within async-nats's limit of 5,000 pending
/// acknowledgements per context (beyond which a publish waits).
const MAX_UNCONFIRMED: usize = 1_000;

impl NatsChangeSink {
    fn awaiting_count(&self) -> usize {
        self.awaiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// A sink on `store`'s connection, publishing under [`CHANGES_PREFIX`] into
    /// [`CHANGES_STREAM`].
    pub fn new(store: &NatsStore) -> NatsChangeSink {
        NatsChangeSink {
            js: store.js.clone(),
            prefix: CHANGES_PREFIX.to_owned(),
            stream: CHANGES_STREAM.to_owned(),
            replicas: store.config.replicas,
            url: store.url.clone(),
            ensured: Arc::new(AtomicBool::new(false)),
            awaiting: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The same sink, publishing under `prefix` instead (and keeping the changes in
    /// stream `<stream>`, which captures `<prefix>.>`).
    ///
    /// # Errors
    /// [`StoreError::Incompatible`] unless `prefix` is one or more `.`-separated
    /// tokens without wildcards or white space, and `stream` letters, digits, `-`
    /// and `_`.
    pub fn with_prefix(mut self, prefix: &str) -> Result<NatsChangeSink, StoreError> {
        let token_ok = |t: &str| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_graphic() && !matches!(c, '.' | '*' | '>'))
        };
        if !prefix.split('.').all(token_ok) {
            return Err(StoreError::Incompatible(format!(
                "change subject prefix {prefix:?} must be '.'-separated tokens without wildcards or white space"
            )));
        }
        prefix.clone_into(&mut self.prefix);
        self.ensured = Arc::new(AtomicBool::new(false));
        Ok(self)
    }

    /// The same sink, keeping the changes in stream `stream` instead of
    /// [`CHANGES_STREAM`] (for instance with another prefix on a shared server).
    ///
    /// # Errors
    /// [`StoreError::Incompatible`] unless `stream` is letters, digits, `-` and `_`.
    pub fn with_stream(mut self, stream: &str) -> Result<NatsChangeSink, StoreError> {
        let ok = !stream.is_empty()
            && stream
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(StoreError::Incompatible(format!(
                "change stream name {stream:?} must be letters, digits, '-' or '_'"
            )));
        }
        stream.clone_into(&mut self.stream);
        self.ensured = Arc::new(AtomicBool::new(false));
        Ok(self)
    }

    /// The subject of `negotiation`'s changes: `<prefix>.<negotiation_id>`.
    pub fn subject(&self, negotiation: &NegotiationId) -> String {
        format!("{}.{}", self.prefix, negotiation.as_str())
    }

    /// The subject prefix: changes of `n` are on `<prefix>.n`.
    pub fn subject_prefix(&self) -> &str {
        &self.prefix
    }

    /// The stream that keeps the changes.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The configuration the stream is created with when it is missing.
    pub fn stream_config(&self) -> Config {
        Config {
            name: self.stream.clone(),
            description: Some(
                "Roundtable change notifications, one per recorded event, published by the projector"
                    .to_owned(),
            ),
            subjects: vec![format!("{}.>", self.prefix)],
            storage: StorageType::File,
            num_replicas: self.replicas,
            retention: RetentionPolicy::Limits,
            discard: DiscardPolicy::Old,
            duplicate_window: CHANGES_DUPLICATE_WINDOW,
            allow_direct: true,
            ..Default::default()
        }
    }

    fn unavailable(&self, what: &str, e: &dyn Display) -> StoreError {
        StoreError::unavailable(format!(
            "nats at {}: stream {}: {what}: {e}",
            self.url, self.stream
        ))
    }

    /// Creates the changes stream when it is missing; an existing one is left as it
    /// is (never updated).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the server does not answer;
    /// [`StoreError::Incompatible`] when the stream cannot be created (its subjects
    /// overlap another stream's, more replicas than servers).
    pub async fn ensure_stream(&self) -> Result<(), StoreError> {
        if self.ensured.load(Ordering::Acquire) {
            return Ok(());
        }
        match self.js.get_stream(&self.stream).await {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), GetStreamErrorKind::JetStream(ref j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND) =>
            {
                if let Err(e) = self.js.create_stream(self.stream_config()).await {
                    // Another process may have created it meanwhile.
                    if self.js.get_stream(&self.stream).await.is_err() {
                        return Err(StoreError::Incompatible(format!(
                            "nats at {}: cannot create stream {}: {e}",
                            self.url, self.stream
                        )));
                    }
                } else {
                    tracing::info!(stream = %self.stream, "created the changes stream");
                }
            }
            Err(e) => return Err(self.unavailable("cannot look up", &e)),
        }
        self.ensured.store(true, Ordering::Release);
        Ok(())
    }
}

#[async_trait]
impl ChangeSink for NatsChangeSink {
    /// Creates the changes stream when it is missing ([`NatsChangeSink::ensure_stream`]).
    async fn prepare(&self) -> Result<(), StoreError> {
        self.ensure_stream().await
    }

    /// Publishes `change` as JSON on its negotiation's subject, with
    /// `Nats-Msg-Id: <negotiation_id>:<version>` (an overdue announcement:
    /// `<negotiation_id>:overdue:<commitment_id>:<due>`), and waits for the stream's
    /// acknowledgement (a duplicate acknowledgement is a success: it is stored).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the stream does not acknowledge in time or the
    /// connection is closed; [`StoreError::Incompatible`] when the stream cannot be
    /// created.
    async fn publish(&self, change: &Change) -> Result<(), StoreError> {
        self.publish_all(std::slice::from_ref(change)).await
    }

    /// Sends every change, in order, then waits for every acknowledgement: one round
    /// trip for the lot rather than one per change. The stream stores them in the
    /// order sent (one connection).
    ///
    /// # Errors
    /// As [`NatsChangeSink::publish`]; some changes may be stored, and publishing them
    /// again within the duplicate window stores nothing twice.
    async fn publish_all(&self, changes: &[Change]) -> Result<(), StoreError> {
        self.send_all(changes).await?;
        self.confirm().await
    }

    /// Sends every change, in order, and keeps their acknowledgements for
    /// [`NatsChangeSink::confirm`]. The stream stores them in the order sent (one
    /// connection).
    ///
    /// # Errors
    /// As [`NatsChangeSink::publish`].
    async fn send_all(&self, changes: &[Change]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        self.ensure_stream().await?;
        let failed = |subject: &str, e: &dyn Display| {
            self.ensured.store(false, Ordering::Release);
            self.unavailable(&format!("cannot publish on {subject}"), e)
        };
        let mut acks = Vec::with_capacity(changes.len().min(MAX_UNCONFIRMED));
        for change in changes {
            // async-nats makes a publish wait while 5,000 acknowledgements are pending,
            // and they are ours: confirm before reaching that, or the publish would
            // wait for itself.
            let pending = acks.len() + self.awaiting_count();
            if pending >= MAX_UNCONFIRMED {
                self.awaiting
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .append(&mut acks);
                self.confirm().await?;
            }
            let subject = self.subject(&change.negotiation_id);
            let payload = serde_json::to_vec(change).map_err(|e| {
                StoreError::unavailable(format!("cannot serialize the change of {subject}: {e}"))
            })?;
            let mut headers = HeaderMap::new();
            // `<negotiation_id>:<version>`, or for an overdue announcement (which
            // carries the version of the event before it)
            // `<negotiation_id>:overdue:<commitment_id>:<due>`.
            headers.insert("Nats-Msg-Id", change.announcement_id().as_str());
            let ack = self
                .js
                .publish_with_headers(subject.clone(), headers, Bytes::from(payload))
                .await
                .map_err(|e| failed(&subject, &e))?;
            acks.push((subject, ack));
        }
        self.awaiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(acks);
        Ok(())
    }

    /// Waits for the acknowledgement of every change sent and not yet confirmed (a
    /// duplicate acknowledgement is a success: it is stored).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when one does not come in time: send them again.
    async fn confirm(&self) -> Result<(), StoreError> {
        let acks = std::mem::take(
            &mut *self
                .awaiting
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let mut failure = None;
        for (subject, ack) in acks {
            if let Err(e) = ack.await {
                self.ensured.store(false, Ordering::Release);
                failure.get_or_insert_with(|| {
                    self.unavailable(&format!("no acknowledgement on {subject}"), &e)
                });
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// The `version` of the last message on the negotiation's subject of the changes
    /// stream (from the stream leader): `Some(0)` when it has none, `None` when that
    /// message is not a change this build can read.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the stream does not answer.
    async fn last_announced(&self, negotiation: &NegotiationId) -> Result<Option<u64>, StoreError> {
        use async_nats::jetstream::stream::LastRawMessageErrorKind;
        self.ensure_stream().await?;
        let subject = self.subject(negotiation);
        let stream = self
            .js
            .get_stream_no_info(&self.stream)
            .await
            .map_err(|e| self.unavailable("cannot look up", &e))?;
        match stream.get_last_raw_message_by_subject(&subject).await {
            Ok(message) => Ok(
                serde_json::from_slice::<serde_json::Value>(&message.payload)
                    .ok()
                    .and_then(|v| v.get("version").and_then(serde_json::Value::as_u64)),
            ),
            Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => Ok(Some(0)),
            Err(e) => {
                Err(self.unavailable(&format!("cannot get the last message on {subject}"), &e))
            }
        }
    }
}

#[async_trait]
impl ChangeWatch for NatsChangeSink {
    /// Subscribes to `<prefix>.<negotiation_id>` and sends `()` for every message (at
    /// most one waiting); the subscription ends when the receiver is dropped.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the subscription cannot be made.
    async fn watch(
        &self,
        negotiation: &NegotiationId,
    ) -> Result<tokio::sync::mpsc::Receiver<()>, StoreError> {
        let subject = self.subject(negotiation);
        let mut subscription = self
            .js
            .client()
            .subscribe(subject.clone())
            .await
            .map_err(|e| self.unavailable(&format!("cannot subscribe to {subject}"), &e))?;
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tx.closed() => break,
                    message = subscription.next() => match message {
                        // A full channel already holds a signal: nothing is lost.
                        Some(_) => { let _ = tx.try_send(()); }
                        None => break,
                    },
                }
            }
            let _ = subscription.unsubscribe().await;
        });
        Ok(rx)
    }
}
