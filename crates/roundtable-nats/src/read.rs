//! Reading a negotiation's events back, in order, stopping exactly at its end.

use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy};
use async_nats::jetstream::consumer::{Consumer, pull};
use async_nats::jetstream::stream::RawMessageErrorKind;
use futures::StreamExt;
use roundtable_domain::{NegotiationId, RecordedEvent};
use roundtable_store::StoreError;

use crate::store::NatsStore;

/// Most messages one pull of a read asks for.
const PULL: usize = 1_000;

type PullConsumer = Consumer<pull::Config>;

/// How a scan of the subject ended.
enum Scan {
    /// The events asked for.
    Events(Vec<RecordedEvent>),
    /// Started from a remembered sequence that does not hold the expected version.
    Misplaced,
}

impl NatsStore {
    pub(crate) async fn read_events(
        &self,
        negotiation: &NegotiationId,
        after: u64,
        limit: Option<usize>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if limit == Some(0) {
            return Ok(Vec::new());
        }
        // One event whose place is known (a retried command's earlier event): one get.
        // A wrong place (the stream was recreated under this client) falls through.
        if limit == Some(1) {
            if let Some(event) = self.known_event(negotiation, after + 1).await? {
                return Ok(vec![event]);
            }
        }
        // Where version `after` sits, when known: looked up before the subject's last
        // message is, since that lookup records the newest version in its place.
        let start = self.index.sequence(negotiation, after).map(|s| s + 1);
        // Where the subject ends now; the read stops there.
        let Some((last_sequence, last)) = self.last_event(negotiation).await? else {
            return Ok(Vec::new());
        };
        if last.version <= after {
            return Ok(Vec::new());
        }
        if last.version == after + 1 {
            return Ok(vec![last]);
        }
        let scan = self
            .scan(negotiation, start, after, limit, last_sequence)
            .await?;
        match scan {
            Scan::Events(events) => Ok(events),
            Scan::Misplaced => {
                self.index.forget(negotiation);
                match self
                    .scan(negotiation, None, after, limit, last_sequence)
                    .await?
                {
                    Scan::Events(events) => Ok(events),
                    Scan::Misplaced => Err(StoreError::Corrupt {
                        negotiation: negotiation.to_string(),
                        position: format!("version {}", after + 1),
                        reason: "the negotiation's versions do not follow each other".into(),
                    }),
                }
            }
        }
    }

    /// The event at `version`, when the index knows its sequence: one message get.
    /// `None` when unknown or when the message there is not that version.
    async fn known_event(
        &self,
        negotiation: &NegotiationId,
        version: u64,
    ) -> Result<Option<RecordedEvent>, StoreError> {
        let Some(sequence) = self.index.sequence(negotiation, version) else {
            return Ok(None);
        };
        let message = match self.stream.get_raw_message(sequence).await {
            Ok(message) => message,
            Err(e) if matches!(e.kind(), RawMessageErrorKind::NoMessageFound) => {
                self.index.forget(negotiation);
                return Ok(None);
            }
            Err(e) => {
                return Err(self.unavailable(&format!("cannot get stream sequence {sequence}"), e));
            }
        };
        if message.subject.as_str() != self.subjects.of(negotiation) {
            self.index.forget(negotiation);
            return Ok(None);
        }
        let event = self.decode(negotiation, sequence, &message.payload)?;
        if event.version != version {
            self.index.forget(negotiation);
            return Ok(None);
        }
        Ok(Some(event))
    }

    /// Reads the subject from stream sequence `start` (or from its first message),
    /// skipping versions up to `after`, until `limit` events or the message at
    /// `last_sequence`.
    ///
    /// Uses an ephemeral pull consumer of its own (in memory, one replica, no acks),
    /// pulled without waiting for exactly what is stored, and deleted as soon as the
    /// read ends: loading thousands of negotiations in a burst (a service starting
    /// under load) never leaves thousands of idle consumers behind, which the server
    /// would refuse beyond its consumer limit (JetStream error 10026). A consumer whose
    /// deletion fails expires after 10 s of inactivity.
    async fn scan(
        &self,
        negotiation: &NegotiationId,
        start: Option<u64>,
        after: u64,
        limit: Option<usize>,
        last_sequence: u64,
    ) -> Result<Scan, StoreError> {
        let subject = self.subjects.of(negotiation);
        let deliver_policy = match start {
            Some(start_sequence) => DeliverPolicy::ByStartSequence { start_sequence },
            None => DeliverPolicy::All,
        };
        let consumer = self
            .stream
            .create_consumer(pull::Config {
                filter_subject: subject.clone(),
                deliver_policy,
                ack_policy: AckPolicy::None,
                memory_storage: true,
                num_replicas: 1,
                inactive_threshold: Duration::from_secs(10),
                ..Default::default()
            })
            .await
            .map_err(|e| self.unavailable(&format!("cannot create a consumer on {subject}"), e))?;
        let name = consumer.cached_info().name.clone();
        let scanned = self
            .scan_with(&consumer, negotiation, start, after, limit, last_sequence)
            .await;
        let stream = self.stream.clone();
        tokio::spawn(async move {
            if let Err(e) = stream.delete_consumer(&name).await {
                tracing::debug!(consumer = %name, error = %e, "cannot delete a read's consumer; it expires on its own");
            }
        });
        scanned
    }

    async fn scan_with(
        &self,
        consumer: &PullConsumer,
        negotiation: &NegotiationId,
        start: Option<u64>,
        after: u64,
        limit: Option<usize>,
        last_sequence: u64,
    ) -> Result<Scan, StoreError> {
        let subject = self.subjects.of(negotiation);
        let limit = limit.unwrap_or(usize::MAX);
        let mut events = Vec::new();
        let mut next_version = after + 1;
        // On a cluster, a consumer just created may not have a leader yet: its first
        // pulls are answered "no responders" (503) for a moment. Those are tried again
        // until this deadline.
        let leaderless_until = tokio::time::Instant::now() + self.config.request_timeout;
        loop {
            let mut batch = tokio::time::timeout(
                self.config.request_timeout,
                consumer.fetch().max_messages(PULL).messages(),
            )
            .await
            .map_err(|_| self.unavailable(&format!("reading {subject}"), "no answer to a pull"))?
            .map_err(|e| self.unavailable(&format!("reading {subject}"), e))?;
            let mut pulled = 0;
            let mut leaderless = false;
            loop {
                let message = tokio::time::timeout(self.config.request_timeout, batch.next())
                    .await
                    .map_err(|_| {
                        self.unavailable(
                            &format!("reading {subject}"),
                            format!(
                                "no message within {:?}; expected up to stream sequence {last_sequence}",
                                self.config.request_timeout
                            ),
                        )
                    })?;
                let Some(message) = message else {
                    break;
                };
                let message = match message {
                    Ok(message) => message,
                    Err(e)
                        if pulled == 0
                            && e.to_string().contains("503")
                            && tokio::time::Instant::now() < leaderless_until =>
                    {
                        tracing::debug!(error = %e, "the read's consumer has no leader yet; pulling again");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        leaderless = true;
                        break;
                    }
                    Err(e) => return Err(self.unavailable(&format!("reading {subject}"), e)),
                };
                pulled += 1;
                let sequence = message
                    .info()
                    .map_err(|e| self.unavailable(&format!("reading {subject}"), e))?
                    .stream_sequence;
                let event = self.decode(negotiation, sequence, &message.payload)?;
                self.index.record(negotiation, event.version, sequence);
                if event.version == next_version {
                    events.push(event);
                    next_version += 1;
                } else if event.version > after || start.is_some() {
                    if start.is_some() && events.is_empty() {
                        return Ok(Scan::Misplaced);
                    }
                    return Err(StoreError::Corrupt {
                        negotiation: negotiation.to_string(),
                        position: format!("stream {} sequence {sequence}", self.config.stream),
                        reason: format!(
                            "version {} where version {next_version} was expected",
                            event.version
                        ),
                    });
                }
                if events.len() >= limit || sequence >= last_sequence {
                    return Ok(Scan::Events(events));
                }
            }
            if leaderless {
                continue;
            }
            if pulled == 0 {
                return Err(self.unavailable(
                    &format!("reading {subject}"),
                    format!("the subject ended before stream sequence {last_sequence}"),
                ));
            }
        }
    }
}
