//! [`NatsStore`]: connecting, checking the server, making the stream, and the
//! [`EventStore`] methods that only look up a subject's last message or list subjects.

use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};

use async_nats::jetstream::context::CreateStreamErrorKind;
use async_nats::jetstream::stream::{LastRawMessageErrorKind, Stream};
use async_nats::{Client, ConnectOptions, jetstream};
use async_trait::async_trait;
use futures::StreamExt;
use roundtable_domain::{NegotiationId, RecordedEvent};
use roundtable_metrics::nats::{self as metrics, ConnectionEvent};
use roundtable_store::{EventStore, StoreError};

use crate::config::NatsConfig;
use crate::index::SequenceIndex;
use crate::subject::Subjects;
use crate::version::ServerVersion;

/// The JetStream adapter of [`EventStore`]: one stream, one subject per negotiation.
///
/// Layout: every event is one message on subject `<subject_prefix>.<negotiation_id>`
/// (by default `roundtable.events.<negotiation_id>`) of one stream (by default
/// `ROUNDTABLE_EVENTS`); the payload is [`RecordedEvent::to_bytes`] (canonical JSON).
/// The stream's sequence orders every event of every negotiation; an event's version
/// orders it within its negotiation.
///
/// Headers of each published message:
/// - `Nats-Expected-Stream: <stream>`: the server refuses the message if the subject
///   belongs to another stream.
/// - `Nats-Expected-Last-Subject-Sequence: <n>`: the server stores the message only
///   if the last message on the subject is at stream sequence `n` (`0`: the subject
///   has no message yet, which the server enforces too), else it answers JetStream
///   error 10071 ("wrong last sequence"). That is the optimistic concurrency check, and
///   it also makes a retried publish safe: once the first attempt is stored, the
///   retry names a sequence that is no longer the last and is refused, so no
///   `Nats-Msg-Id` (and no server-side duplicate tracking) is needed (docs/NATS.md).
///
/// Each client keeps an in-memory index of version → stream sequence per negotiation,
/// learned from its appends and reads, so that an append on a negotiation it has
/// seen needs no extra round trip.
///
/// Cheap to share behind an `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct NatsStore {
    pub(crate) url: String,
    pub(crate) config: NatsConfig,
    version: ServerVersion,
    pub(crate) client: Client,
    pub(crate) js: jetstream::Context,
    pub(crate) stream: Stream<()>,
    /// Whether the stream takes atomic batch publishes (`allow_atomic`).
    pub(crate) atomic_batches: AtomicBool,
    pub(crate) subjects: Subjects,
    pub(crate) index: SequenceIndex,
}

impl NatsStore {
    /// Connects to the NATS server at `url` (`nats://host:port`, or several
    /// comma-separated), checks it, and creates or updates the stream.
    ///
    /// Checks, in order: `config` is valid; the server answers within
    /// `config.connect_timeout`; it is nats-server 2.10.0 or newer
    /// ([`MIN_SERVER_VERSION`](crate::MIN_SERVER_VERSION)); JetStream is enabled. Then
    /// the stream is created, or updated to [`NatsConfig::stream_config`] when it
    /// exists. After connecting, the client reconnects on its own when the connection
    /// drops; calls made meanwhile fail with [`StoreError::Unavailable`] after
    /// `config.request_timeout`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] (naming the URL) when the server cannot be reached or
    /// times out; [`StoreError::Incompatible`] when `config` is invalid, the server is
    /// too old (the message names its version and URL and how to get a current one),
    /// JetStream is off, the stream cannot be created (for instance more replicas than
    /// servers, or overlapping subjects), or an existing stream breaks a guarantee
    /// (memory storage, deletes or purges allowed, limits that discard events, other
    /// subjects).
    pub async fn connect(url: &str, config: NatsConfig) -> Result<NatsStore, StoreError> {
        config.validate()?;
        let shown = url.to_owned();
        let options = crate::auth::apply(ConnectOptions::new(), &config.auth, &config.tls).await?;
        let client = options
            .name("roundtable")
            // The client reconnects by itself; say so in the logs, so an operator sees
            // an outage and its end.
            .event_callback(move |event| {
                let url = shown.clone();
                async move {
                    match event {
                        async_nats::Event::Disconnected => {
                            metrics::connection(ConnectionEvent::Disconnected);
                            tracing::warn!(url = %redacted(&url), "NATS connection lost; reconnecting");
                        }
                        async_nats::Event::Connected => {
                            metrics::connection(ConnectionEvent::Connected);
                            tracing::info!(url = %redacted(&url), "NATS connection established");
                        }
                        other => {
                            metrics::connection(ConnectionEvent::Other);
                            tracing::debug!(url = %redacted(&url), event = %other, "NATS client event");
                        }
                    }
                }
            })
            .connection_timeout(config.connect_timeout)
            .request_timeout(Some(config.request_timeout))
            .ping_interval(config.ping_interval)
            .connect(servers(url).as_slice())
            .await
            .map_err(|e| {
                StoreError::unavailable_because(
                    format!("cannot connect to nats at {}: {e}", redacted(url)),
                    e,
                )
            })?;
        let info = client.server_info();
        let version = ServerVersion::require_supported(&info.version, url)?;
        if !info.jetstream {
            return Err(StoreError::Incompatible(format!(
                "nats-server {version} at {url} runs without JetStream; start it with -js (or a jetstream block in its config)"
            )));
        }
        let js = jetstream::ContextBuilder::new()
            .timeout(config.request_timeout)
            .build(client.clone());
        let atomic_batches = if config.create_stream || stream_exists(&js, &config, url).await? {
            ensure_stream(&js, &config, &version, url).await?;
            let stream = js.get_stream(&config.stream).await.map_err(|e| {
                StoreError::Incompatible(format!("nats at {url}: stream {}: {e}", config.stream))
            })?;
            stream.cached_info().config.allow_atomic_publish
        } else {
            tracing::warn!(url = %redacted(url), stream = %config.stream, "the event stream is missing; not creating it");
            false
        };
        let stream = js.get_stream_no_info(&config.stream).await.map_err(|e| {
            StoreError::Incompatible(format!("nats at {url}: stream {}: {e}", config.stream))
        })?;
        if !atomic_batches && config.create_stream {
            tracing::info!(
                url = %redacted(url),
                stream = %config.stream,
                "the stream does not allow atomic batch publishes (nats-server 2.12 and newer, stream setting allow_atomic); batches of events are appended one by one"
            );
        }
        tracing::debug!(url = %redacted(url), %version, stream = %config.stream, "connected to nats");
        Ok(NatsStore {
            url: url.to_owned(),
            subjects: Subjects::new(&config.subject_prefix),
            config,
            version,
            client,
            js,
            stream,
            atomic_batches: AtomicBool::new(atomic_batches),
            index: SequenceIndex::default(),
        })
    }

    /// Whether the event stream exists on the server now.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the server does not answer.
    pub async fn log_exists(&self) -> Result<bool, StoreError> {
        stream_exists(&self.js, &self.config, &self.url).await
    }

    /// Creates the event stream when it is missing (as connecting with
    /// [`NatsConfig::create_stream`] does), or checks the existing one.
    ///
    /// # Errors
    /// As [`NatsStore::connect`] for the stream.
    pub async fn create_log(&self) -> Result<(), StoreError> {
        ensure_stream(&self.js, &self.config, &self.version, &self.url).await?;
        let stream = self.js.get_stream(&self.config.stream).await.map_err(|e| {
            StoreError::Incompatible(format!(
                "nats at {}: stream {}: {e}",
                self.url, self.config.stream
            ))
        })?;
        self.atomic_batches.store(
            stream.cached_info().config.allow_atomic_publish,
            Ordering::Relaxed,
        );
        Ok(())
    }

    /// `err` as it should reach the caller: when the store was unavailable although
    /// the server answers, and the reason is that the event stream is gone (deleted,
    /// or the server restarted on an empty store directory), says so. Nothing can
    /// have been recorded in a stream that does not exist, and retrying will not help
    /// until it is restored (docs/OPERATIONS.md, "When the event log is lost").
    pub(crate) async fn explain(&self, err: StoreError) -> StoreError {
        if !matches!(err, StoreError::Unavailable(_)) || !self.is_connected() {
            return err;
        }
        match self.log_exists().await {
            Ok(false) => StoreError::LogMissing(format!(
                "stream {} is not on NATS at {} (deleted, or the server lost its store); nothing was recorded. Restore it from a backup (docs/OPERATIONS.md, \"When the event log is lost\")",
                self.config.stream,
                redacted(&self.url)
            )),
            _ => err,
        }
    }

    /// The URL this store connected to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the client is connected right now (it reconnects by itself after an
    /// outage; calls made while it is not fail with [`StoreError::Unavailable`]).
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// The settings it runs with.
    pub fn config(&self) -> &NatsConfig {
        &self.config
    }

    /// The version of the server it connected to.
    pub fn server_version(&self) -> &ServerVersion {
        &self.version
    }

    /// The subject holding the events of `negotiation`: `<subject_prefix>.<id>`.
    pub fn subject(&self, negotiation: &NegotiationId) -> String {
        self.subjects.of(negotiation)
    }

    /// Flushes what is buffered and closes the connection; for a clean shutdown.
    /// Calls after it fail with [`StoreError::Unavailable`].
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the connection was already closed.
    pub async fn drain(&self) -> Result<(), StoreError> {
        self.client
            .drain()
            .await
            .map_err(|e| self.unavailable("cannot drain the connection", e))
    }

    /// `Unavailable`, naming the URL and what failed.
    pub(crate) fn unavailable(
        &self,
        what: &str,
        err: impl Display + Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> StoreError {
        StoreError::unavailable_because(format!("nats at {}: {what}: {err}", self.url), err)
    }

    /// Decodes the message at stream sequence `sequence`, which was read from the
    /// subject of `negotiation`.
    pub(crate) fn decode(
        &self,
        negotiation: &NegotiationId,
        sequence: u64,
        payload: &[u8],
    ) -> Result<RecordedEvent, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            negotiation: negotiation.to_string(),
            position: format!("stream {} sequence {sequence}", self.config.stream),
            reason,
        };
        let event = RecordedEvent::decode(payload).map_err(|e| corrupt(e.to_string()))?;
        if event.negotiation_id != *negotiation {
            return Err(corrupt(format!(
                "the event on subject {} belongs to negotiation {}",
                self.subjects.of(negotiation),
                event.negotiation_id
            )));
        }
        Ok(event)
    }

    /// The last message on the subject of `negotiation` (from the stream leader), with
    /// its stream sequence; `None` when the subject has no message.
    pub(crate) async fn last_event(
        &self,
        negotiation: &NegotiationId,
    ) -> Result<Option<(u64, RecordedEvent)>, StoreError> {
        let subject = self.subjects.of(negotiation);
        match self.stream.get_last_raw_message_by_subject(&subject).await {
            Ok(message) => {
                let event = self.decode(negotiation, message.sequence, &message.payload)?;
                self.index
                    .record(negotiation, event.version, message.sequence);
                Ok(Some((message.sequence, event)))
            }
            Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => Ok(None),
            Err(e) => {
                Err(self.unavailable(&format!("cannot get the last message on {subject}"), e))
            }
        }
    }
}

#[async_trait]
impl EventStore for NatsStore {
    /// Publishes the event on its negotiation's subject, conditional on the subject's
    /// last stream sequence being that of version `event.version - 1`, and awaits the
    /// server's acknowledgement.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the negotiation is not at `event.version - 1`
    /// (`actual` is the version found), which is also how a retry of an event already
    /// stored ends (re-read to find it), and for `event.version == 0`;
    /// [`StoreError::Unavailable`] on timeouts and lost connections (the event may or
    /// may not be stored); [`StoreError::Incompatible`] when the event is larger than
    /// the server's `max_payload`.
    #[tracing::instrument(skip_all, fields(negotiation_id = %event.negotiation_id, version = event.version))]
    async fn append(&self, event: &RecordedEvent) -> Result<(), StoreError> {
        match self.append_event(event).await {
            Err(e) => Err(self.explain(e).await),
            ok => ok,
        }
    }

    /// Publishes consecutive events of one negotiation as atomic batches of at most
    /// [`MAX_ATOMIC_BATCH`](crate::MAX_ATOMIC_BATCH) messages when the stream allows
    /// it (`allow_atomic`, nats-server 2.12 and newer): each batch is stored whole or
    /// not at all, conditional on the subject's last sequence before it (the first
    /// message carries `Nats-Expected-Last-Subject-Sequence`, checked when the batch
    /// commits). Headers of every message: `Nats-Batch-Id` (a fresh UUID per batch),
    /// `Nats-Batch-Sequence` (1, 2, ...), `Nats-Expected-Stream`; the last one also
    /// `Nats-Batch-Commit: 1`. Like single events, batches carry no `Nats-Msg-Id` (the
    /// server refuses it in a batch): a retried batch is stopped by the sequence check. Without
    /// atomic batches, the events are published one by one as by
    /// [`EventStore::append`].
    ///
    /// # Errors
    /// As [`EventStore::append`]. Events longer than one batch are several batches: a
    /// failure after the first leaves the earlier batches recorded (re-read).
    #[tracing::instrument(skip_all, fields(negotiation_id = ?events.first().map(|e| e.negotiation_id.as_str()), events = events.len()))]
    async fn append_batch(&self, events: &[RecordedEvent]) -> Result<(), StoreError> {
        match self.append_events(events).await {
            Err(e) => Err(self.explain(e).await),
            ok => ok,
        }
    }

    /// First gets the subject's last message: the read stops there (events appended
    /// meanwhile are left for the next read). An empty subject, or one whose last
    /// version is at most `after_version`, gives an empty `Vec` at once; when the last
    /// message is the only one wanted, it is the answer. Otherwise an ordered consumer
    /// filtered to the subject delivers the events, from the stream sequence after
    /// `after_version` when this client knows it (else from the subject's first
    /// message, skipping versions up to `after_version`). A single event whose
    /// sequence this client knows (`limit == Some(1)`) is one message get.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] (naming the negotiation and stream sequence) when a
    /// message does not decode, fails its hash, belongs to another negotiation, or
    /// breaks the version sequence; [`StoreError::Unavailable`] on timeouts and lost
    /// connections.
    #[tracing::instrument(skip_all, fields(negotiation_id = %negotiation, after_version))]
    async fn read(
        &self,
        negotiation: &NegotiationId,
        after_version: u64,
        limit: Option<usize>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        match self.read_events(negotiation, after_version, limit).await {
            Err(e) => Err(self.explain(e).await),
            ok => ok,
        }
    }

    /// Lists the subjects of the stream that hold messages (stream info with a subject
    /// filter), as negotiation ids, sorted. A subject under the prefix that is not a
    /// valid negotiation id (published by something else) is left out with a warning.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] on timeouts and lost connections.
    async fn negotiations(&self) -> Result<Vec<NegotiationId>, StoreError> {
        match self.list_negotiations().await {
            Err(e) => Err(self.explain(e).await),
            ok => ok,
        }
    }

    /// The version of the last message on the negotiation's subject (0 when none).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] on timeouts and lost connections;
    /// [`StoreError::Corrupt`] when that message does not decode;
    /// [`StoreError::LogMissing`] when the stream is gone.
    async fn last_version(&self, negotiation: &NegotiationId) -> Result<u64, StoreError> {
        match self.last_event(negotiation).await {
            Ok(last) => Ok(last.map_or(0, |(_, event)| event.version)),
            Err(e) => Err(self.explain(e).await),
        }
    }
}

impl NatsStore {
    /// [`EventStore::negotiations`], before a failure is explained.
    async fn list_negotiations(&self) -> Result<Vec<NegotiationId>, StoreError> {
        let mut subjects = self
            .stream
            .info_with_subjects(self.subjects.all())
            .await
            .map_err(|e| self.unavailable("cannot list subjects", e))?;
        let mut ids = Vec::new();
        while let Some(item) = subjects.next().await {
            let (subject, count) = item.map_err(|e| self.unavailable("cannot list subjects", e))?;
            match self.subjects.negotiation(&subject) {
                Some(id) if count > 0 => ids.push(id),
                Some(_) => {}
                None => tracing::warn!(subject, "subject is not a negotiation; left out"),
            }
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
}

/// The first `nats-server` with atomic batch publishes (ADR-50).
const ATOMIC_BATCH_VERSION: ServerVersion = ServerVersion {
    major: 2,
    minor: 12,
    patch: 0,
    pre: None,
};

/// Whether the event stream exists.
async fn stream_exists(
    js: &jetstream::Context,
    config: &NatsConfig,
    url: &str,
) -> Result<bool, StoreError> {
    use async_nats::jetstream::ErrorCode;
    use async_nats::jetstream::context::GetStreamErrorKind;
    match js.get_stream(&config.stream).await {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.kind(), GetStreamErrorKind::JetStream(ref j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND) => {
            Ok(false)
        }
        Err(e) => Err(StoreError::unavailable(format!(
            "nats at {url}: cannot look up stream {}: {e}",
            config.stream
        ))),
    }
}

/// Creates the event stream when it is missing; checks an existing one without
/// changing it, so that a read-only command never rewrites an operator's settings
/// (replicas on a cluster, placement, descriptions).
async fn ensure_stream(
    js: &jetstream::Context,
    config: &NatsConfig,
    version: &ServerVersion,
    url: &str,
) -> Result<(), StoreError> {
    use async_nats::jetstream::ErrorCode;
    use async_nats::jetstream::context::GetStreamErrorKind;
    let unavailable = |what: &str, e: &dyn Display| {
        StoreError::unavailable(format!(
            "nats at {url}: {what} stream {}: {e}",
            config.stream
        ))
    };
    match js.get_stream(&config.stream).await {
        Ok(stream) => check_existing_stream(&stream.cached_info().config, config, url),
        Err(e) if matches!(e.kind(), GetStreamErrorKind::JetStream(ref j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND) =>
        {
            let mut stream_config = config.stream_config();
            // Servers before 2.12 know no atomic batches.
            stream_config.allow_atomic_publish &= *version >= ATOMIC_BATCH_VERSION;
            match js.create_stream(stream_config).await {
                Ok(_) => Ok(()),
                Err(e) => match e.kind() {
                    CreateStreamErrorKind::TimedOut
                    | CreateStreamErrorKind::JetStreamUnavailable => {
                        Err(unavailable("cannot create", &e))
                    }
                    // Another process created it meanwhile: check what it made.
                    _ => match js.get_stream(&config.stream).await {
                        Ok(stream) => {
                            check_existing_stream(&stream.cached_info().config, config, url)
                        }
                        Err(_) => Err(StoreError::Incompatible(format!(
                            "nats at {url}: cannot create stream {}: {e}",
                            config.stream
                        ))),
                    },
                },
            }
        }
        Err(e) => Err(unavailable("cannot look up", &e)),
    }
}

/// The guarantees an existing stream must keep (docs/NATS.md): file storage, deletes
/// and purges denied, nothing ever discarded, our subjects.
fn check_existing_stream(
    found: &async_nats::jetstream::stream::Config,
    config: &NatsConfig,
    url: &str,
) -> Result<(), StoreError> {
    use async_nats::jetstream::stream::StorageType;
    let mut problems = Vec::new();
    if !found.subjects.contains(&config.subjects()) {
        problems.push(format!(
            "its subjects are {:?}, not {:?}",
            found.subjects,
            config.subjects()
        ));
    }
    if found.storage != StorageType::File {
        problems.push("it keeps messages in memory, not on file".to_owned());
    }
    if !found.deny_delete || !found.deny_purge {
        problems.push("it allows deleting or purging messages".to_owned());
    }
    if found.max_messages > 0
        || found.max_bytes > 0
        || found.max_messages_per_subject > 0
        || !found.max_age.is_zero()
        || found.allow_rollup
    {
        problems.push(
            "it has limits (messages, bytes, age or rollups) that can discard events".to_owned(),
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Incompatible(format!(
            "nats at {url}: stream {} exists but cannot hold Roundtable's log: {}",
            config.stream,
            problems.join("; ")
        )))
    }
}

/// The servers of a comma-separated URL list (`nats://a:4222,nats://b:4222`), in
/// order: the client connects to one that answers and, when it dies, to another (it
/// also learns the other nodes of a cluster from the one it reaches).
fn servers(url: &str) -> Vec<&str> {
    url.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// `url` without credentials, for logs and error messages: `nats://user:secret@host:4222`
/// becomes `nats://***@host:4222`; a URL without credentials is returned as it is.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme + 3 => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_list_gives_every_server_in_order() {
        assert_eq!(servers("nats://a:4222"), vec!["nats://a:4222"]);
        assert_eq!(
            servers("nats://a:4222, nats://b:4222,,nats://c:4222"),
            vec!["nats://a:4222", "nats://b:4222", "nats://c:4222"]
        );
        assert!(servers("").is_empty());
    }
}
