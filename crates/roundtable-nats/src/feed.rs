//! [`NatsEventFeed`]: every event of the stream through a durable pull consumer.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::message::Acker;
use async_nats::jetstream::stream::Stream;
use async_nats::jetstream::{ErrorCode, Message};
use async_trait::async_trait;
use futures::StreamExt;
use roundtable_domain::RecordedEvent;
use roundtable_store::{EventFeed, FeedItem, StoreError};

use crate::store::NatsStore;
use crate::subject::Subjects;

/// The durable consumer name the projector uses unless told otherwise.
pub const DEFAULT_CONSUMER: &str = "roundtable-projector";

/// Settings of a [`NatsEventFeed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedConfig {
    /// The durable consumer's name: processes that use the same name share its
    /// checkpoint and divide its messages between them. Letters, digits, `-` and `_`.
    pub durable: String,
    /// How long the server waits for the acknowledgement of a delivered message before
    /// delivering it again (to this or another process with the same name): after a
    /// crash, the entries in flight come again after this long.
    pub ack_wait: Duration,
    /// At most this many messages delivered and not yet acknowledged, over every
    /// process sharing the name; more than any one batch.
    pub max_ack_pending: i64,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig {
            durable: DEFAULT_CONSUMER.to_owned(),
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 20_000,
        }
    }
}

impl FeedConfig {
    /// The default settings with another consumer name.
    pub fn named(durable: &str) -> FeedConfig {
        FeedConfig {
            durable: durable.to_owned(),
            ..FeedConfig::default()
        }
    }

    fn validate(&self) -> Result<(), StoreError> {
        let ok = !self.durable.is_empty()
            && self
                .durable
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(StoreError::Incompatible(format!(
                "consumer name {:?} must be 1 or more letters, digits, '-' or '_'",
                self.durable
            )));
        }
        if self.ack_wait.is_zero() || self.max_ack_pending < 1 {
            return Err(StoreError::Incompatible(format!(
                "consumer {}: ack wait and max ack pending must be more than zero",
                self.durable
            )));
        }
        Ok(())
    }
}

/// The event feed on NATS: a durable pull consumer on the event stream, over every
/// negotiation's subject (`roundtable.events.>`), delivering from the first message,
/// with explicit acknowledgements. Its checkpoint is the consumer's state on the
/// server (the ack floor, and which messages above it are acknowledged), so it
/// survives the process and the server's restarts.
///
/// Explicit (not cumulative) acknowledgements because several processes may share
/// the consumer: each acknowledges only the messages it was given. A message delivered
/// and not acknowledged within [`FeedConfig::ack_wait`] is delivered again.
///
/// [`EventFeed::next`] first takes what is there without waiting; only when nothing
/// is there does it wait (up to `wait`) for one message, then takes what came with it.
/// No pull request outlives the call, so nothing is delivered to a feed that is not
/// asking.
///
/// Shares the connection of the [`NatsStore`] it was opened from.
pub struct NatsEventFeed {
    stream: Stream<()>,
    stream_name: String,
    subjects: Subjects,
    url: String,
    config: FeedConfig,
    consumer: PullConsumer,
    /// Whether to create the consumer again before the next pull (it failed, perhaps
    /// because another process deleted it for a rebuild).
    recreate: bool,
    /// Returned and not yet acknowledged, by stream sequence.
    pending: BTreeMap<u64, Acker>,
    /// How long the server may take to answer a pull, on top of its own wait.
    request_timeout: Duration,
}

impl std::fmt::Debug for NatsEventFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsEventFeed")
            .field("url", &self.url)
            .field("stream", &self.stream_name)
            .field("config", &self.config)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl NatsEventFeed {
    /// Creates the durable consumer `config.durable` on `store`'s event stream if it
    /// does not exist (updating its acknowledgement settings if it does), and returns
    /// a feed over it. A new consumer starts at the stream's first message.
    ///
    /// # Errors
    /// [`StoreError::Incompatible`] for a bad name or setting, or a consumer of that
    /// name that cannot take this configuration; [`StoreError::Unavailable`] when the
    /// server does not answer in time.
    pub async fn open(store: &NatsStore, config: FeedConfig) -> Result<NatsEventFeed, StoreError> {
        config.validate()?;
        let subjects = store.subjects.clone();
        let consumer = create(&store.stream, &config, &subjects, &store.url).await?;
        Ok(NatsEventFeed {
            stream: store.stream.clone(),
            stream_name: store.config.stream.clone(),
            subjects,
            url: store.url.clone(),
            config,
            consumer,
            recreate: false,
            pending: BTreeMap::new(),
            request_timeout: store.config.request_timeout,
        })
    }

    /// The settings it runs with.
    pub fn config(&self) -> &FeedConfig {
        &self.config
    }

    fn unavailable(
        &self,
        what: &str,
        err: impl Display + Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> StoreError {
        StoreError::unavailable_because(
            format!(
                "nats at {}: consumer {} of stream {}: {what}: {err}",
                self.url, self.config.durable, self.stream_name
            ),
            err,
        )
    }

    /// Up to `max` messages: what is there now, or (when `wait` is not zero) the
    /// first message to come within `wait`.
    async fn pull(&self, max: usize, wait: Option<Duration>) -> Result<Vec<Message>, StoreError> {
        // A pull the server never answers (it died between request and reply) would
        // otherwise wait forever: async-nats arms no timer for a fetch without expiry.
        // Bounding it turns a dead server into Unavailable, and the consumer is then
        // created again on the next pull.
        let bound = self.request_timeout + wait.unwrap_or_default();
        match tokio::time::timeout(bound, self.pull_unbounded(max, wait)).await {
            Ok(result) => result,
            Err(_) => Err(self.unavailable("cannot pull", format!("no answer within {bound:?}"))),
        }
    }

    async fn pull_unbounded(
        &self,
        max: usize,
        wait: Option<Duration>,
    ) -> Result<Vec<Message>, StoreError> {
        let batch = match wait {
            None => self.consumer.fetch().max_messages(max).messages().await,
            Some(wait) => {
                self.consumer
                    .batch()
                    .max_messages(max)
                    .expires(wait)
                    .messages()
                    .await
            }
        };
        let mut batch = batch.map_err(|e| self.unavailable("cannot pull", e))?;
        let mut messages = Vec::new();
        while let Some(message) = batch.next().await {
            messages.push(message.map_err(|e| self.unavailable("cannot pull", e))?);
        }
        Ok(messages)
    }

    /// One attempt: (re)creates the consumer when needed, then takes what is there now
    /// or, when nothing is, the first message to come within `wait` and what else is
    /// there by then.
    async fn pull_once(&mut self, max: usize, wait: Duration) -> Result<Vec<Message>, StoreError> {
        if self.recreate {
            self.consumer = create(&self.stream, &self.config, &self.subjects, &self.url).await?;
            self.recreate = false;
        }
        let mut messages = self.pull(max, None).await?;
        if messages.is_empty() && !wait.is_zero() {
            messages = self.pull(1, Some(wait)).await?;
            if !messages.is_empty() && max > 1 {
                messages.extend(self.pull(max - 1, None).await?);
            }
        }
        Ok(messages)
    }

    /// The feed entry of a message; keeps its acker until it is acknowledged.
    fn item(&mut self, message: Message) -> Result<FeedItem, StoreError> {
        let position = message
            .info()
            .map_err(|e| self.unavailable("a message without JetStream metadata", e))?
            .stream_sequence;
        let (message, acker) = message.split();
        // A message delivered again replaces the earlier delivery: only the latest
        // delivery's acknowledgement counts.
        self.pending.insert(position, acker);
        let negotiation = self.subjects.negotiation(message.subject.as_str());
        let corrupt = |reason: String| StoreError::Corrupt {
            negotiation: negotiation
                .as_ref()
                .map_or_else(|| message.subject.to_string(), ToString::to_string),
            position: format!("stream {} sequence {position}", self.stream_name),
            reason,
        };
        let event = match RecordedEvent::decode(&message.payload) {
            Err(e) => Err(corrupt(e.to_string())),
            Ok(e) if Some(&e.negotiation_id) != negotiation.as_ref() => Err(corrupt(format!(
                "the event on subject {} belongs to negotiation {}",
                message.subject, e.negotiation_id
            ))),
            Ok(e) => Ok(e),
        };
        Ok(FeedItem {
            position,
            negotiation,
            event,
        })
    }
}

/// Creates (or updates, or finds) the durable consumer.
async fn create(
    stream: &Stream<()>,
    config: &FeedConfig,
    subjects: &Subjects,
    url: &str,
) -> Result<PullConsumer, StoreError> {
    let consumer = pull::Config {
        durable_name: Some(config.durable.clone()),
        description: Some("Roundtable projector: every event, in stream order".to_owned()),
        deliver_policy: DeliverPolicy::All,
        ack_policy: AckPolicy::Explicit,
        ack_wait: config.ack_wait,
        max_ack_pending: config.max_ack_pending,
        filter_subject: subjects.all(),
        ..Default::default()
    };
    stream.create_consumer(consumer).await.map_err(|e| {
        let message = format!(
            "nats at {url}: cannot create or update consumer {}: {e}",
            config.durable
        );
        match e.kind() {
            async_nats::jetstream::stream::ConsumerErrorKind::TimedOut
            | async_nats::jetstream::stream::ConsumerErrorKind::Request => {
                StoreError::unavailable_because(message, e)
            }
            _ => StoreError::Incompatible(message),
        }
    })
}

#[async_trait]
impl EventFeed for NatsEventFeed {
    /// Takes up to `max` messages: those the consumer can deliver now; when there is
    /// none, waits up to `wait` for one and takes what else is there by then. Each
    /// message is decoded and hash-checked; one that does not decode, or whose event
    /// belongs to another negotiation than its subject names, is an entry with
    /// [`StoreError::Corrupt`] (and the subject's negotiation, when it names one).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] on timeouts and lost connections; the consumer is
    /// then created again before the next pull, in case it was deleted.
    async fn next(&mut self, max: usize, wait: Duration) -> Result<Vec<FeedItem>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        // A consumer without a leader yet (a cluster just started, or electing one)
        // answers "no responders"; within the caller's wait that is retried, as the
        // feed's contract is to wait up to `wait` for entries.
        let deadline = tokio::time::Instant::now() + wait;
        let messages = loop {
            match self.pull_once(max, wait).await {
                Ok(messages) => break messages,
                Err(e) => {
                    self.recreate = true;
                    let pause = Duration::from_millis(100);
                    if tokio::time::Instant::now() + pause >= deadline {
                        return Err(e);
                    }
                    tokio::time::sleep(pause).await;
                }
            }
        };
        let mut items = Vec::with_capacity(messages.len());
        for message in messages {
            items.push(self.item(message)?);
        }
        Ok(items)
    }

    /// Acknowledges every message returned and not yet acknowledged up to stream
    /// sequence `position`; the last one waits for the server's confirmation, so that
    /// [`EventFeed::lag`] counts them as acknowledged once this returns.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the acknowledgements cannot be sent (those not
    /// sent are delivered again after the ack wait).
    async fn ack(&mut self, position: u64) -> Result<(), StoreError> {
        let rest = self.pending.split_off(&(position + 1));
        let done = std::mem::replace(&mut self.pending, rest);
        let last = done.len().saturating_sub(1);
        for (i, (sequence, acker)) in done.into_iter().enumerate() {
            if i < last {
                acker
                    .ack()
                    .await
                    .map_err(|e| self.unavailable(&format!("cannot acknowledge {sequence}"), e))?;
            } else if let Err(e) = acker.double_ack().await {
                // The acknowledgement was sent; only its confirmation is missing. If
                // it was lost, the message comes again and is skipped as applied.
                tracing::warn!(sequence, error = %e, "no confirmation of an acknowledgement");
            }
        }
        Ok(())
    }

    /// The consumer's messages not yet delivered plus those delivered and not yet
    /// acknowledged (`num_pending + num_ack_pending`), over every process sharing it.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] on timeouts and lost connections.
    async fn lag(&mut self) -> Result<u64, StoreError> {
        let info = self
            .consumer
            .get_info()
            .await
            .map_err(|e| self.unavailable("cannot get consumer info", e))?;
        Ok(info.num_pending + info.num_ack_pending as u64)
    }

    /// Deletes the durable consumer and creates it again, delivering from the stream's
    /// first message. Other processes using the name follow onto the new consumer.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] on timeouts and lost connections.
    async fn reset(&mut self) -> Result<(), StoreError> {
        match self.stream.delete_consumer(&self.config.durable).await {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), async_nats::jetstream::stream::ConsumerErrorKind::JetStream(ref j) if j.error_code() == ErrorCode::CONSUMER_NOT_FOUND) =>
                {}
            Err(e) => return Err(self.unavailable("cannot delete", e)),
        }
        self.pending.clear();
        self.consumer = create(&self.stream, &self.config, &self.subjects, &self.url).await?;
        self.recreate = false;
        Ok(())
    }
}
