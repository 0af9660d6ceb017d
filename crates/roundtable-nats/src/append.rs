//! Appending: one conditional publish per event.

use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use roundtable_domain::{NegotiationId, RecordedEvent};
use roundtable_store::{StoreError, check_batch};
use serde::Deserialize;

use crate::store::NatsStore;

/// JetStream's "wrong last sequence: N" (10071), which async-nats reports as
/// [`PublishErrorKind::WrongLastSequence`].
const WRONG_LAST_SEQUENCE: ErrorCode = ErrorCode::STREAM_WRONG_LAST_SEQUENCE;

/// JetStream's "wrong last sequence" without the number (10164): what a clustered
/// stream's leader answers when it refuses a publish on its expected-sequence check
/// before proposing it to the replicas (nats-server 2.11 and later). async-nats does
/// not know this code and reports it as [`PublishErrorKind::Other`].
const WRONG_LAST_SEQUENCE_CONSTANT: ErrorCode = ErrorCode(10164);

/// Whether the server refused the publish because the subject's last sequence was not
/// the expected one: an optimistic-concurrency conflict, whichever of the two codes the
/// server used. Treating 10164 as anything else would turn every lost race on a
/// cluster into "unavailable" instead of "re-read and decide again".
pub(crate) fn is_wrong_last_sequence(e: &PublishError) -> bool {
    if matches!(e.kind(), PublishErrorKind::WrongLastSequence) {
        return true;
    }
    std::error::Error::source(e)
        .and_then(|source| source.downcast_ref::<async_nats::jetstream::Error>())
        .is_some_and(|js| {
            let code = js.error_code();
            code == WRONG_LAST_SEQUENCE || code == WRONG_LAST_SEQUENCE_CONSTANT
        })
}

/// The most messages one atomic batch may hold: nats-server's default (and maximum
/// useful) `jetstream.limits.batch.max_msgs`.
pub const MAX_ATOMIC_BATCH: usize = 1000;

/// What the server answers to a batch's commit: a publish acknowledgement naming the
/// batch, or a JetStream error.
#[derive(Debug, Deserialize)]
struct BatchAck {
    #[serde(default)]
    error: Option<async_nats::jetstream::Error>,
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    batch: String,
    #[serde(default)]
    count: usize,
}

impl NatsStore {
    pub(crate) async fn append_events(&self, events: &[RecordedEvent]) -> Result<(), StoreError> {
        check_batch(events)?;
        if events.len() == 1
            || !self
                .atomic_batches
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            for event in events {
                self.append_event(event).await?;
            }
            return Ok(());
        }
        for chunk in events.chunks(MAX_ATOMIC_BATCH) {
            self.append_atomic(chunk).await?;
        }
        Ok(())
    }

    /// One atomic batch (ADR-50): the first message is a request (the server answers
    /// once it has opened the batch), the middle ones plain publishes, the last a
    /// request carrying the commit, answered with the acknowledgement of the whole.
    async fn append_atomic(&self, events: &[RecordedEvent]) -> Result<(), StoreError> {
        let Some(first) = events.first() else {
            return Ok(());
        };
        let negotiation = &first.negotiation_id;
        let Some(expected) = first.version.checked_sub(1) else {
            return Err(self.conflict(negotiation, 0).await);
        };
        let last_sequence = self.expected_sequence(negotiation, expected).await?;
        let subject = self.subjects.of(negotiation);
        let batch_id = uuid::Uuid::new_v4().simple().to_string();
        let n = events.len();
        let mut reply = None;
        for (i, event) in events.iter().enumerate() {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Batch-Id", batch_id.as_str());
            headers.insert("Nats-Batch-Sequence", (i + 1).to_string().as_str());
            headers.insert("Nats-Expected-Stream", self.config.stream.as_str());
            if i == 0 {
                headers.insert(
                    "Nats-Expected-Last-Subject-Sequence",
                    last_sequence.to_string().as_str(),
                );
            }
            if i + 1 == n {
                headers.insert("Nats-Batch-Commit", "1");
            }
            let payload = Bytes::from(event.to_bytes());
            if i == 0 || i + 1 == n {
                let answer = self
                    .client
                    .request_with_headers(subject.clone(), headers, payload)
                    .await
                    .map_err(|e| {
                        self.unavailable(
                            &format!(
                                "no answer to the atomic batch of {n} events on {subject}; it may or may not be stored"
                            ),
                            e,
                        )
                    })?;
                if i + 1 == n || !answer.payload.is_empty() {
                    reply = Some(answer.payload);
                    if i + 1 < n {
                        break;
                    }
                }
            } else {
                self.client
                    .publish_with_headers(subject.clone(), headers, payload)
                    .await
                    .map_err(|e| self.unavailable(&format!("cannot publish on {subject}"), e))?;
            }
        }
        let reply = reply.unwrap_or_default();
        let ack: BatchAck = serde_json::from_slice(&reply).map_err(|e| {
            self.unavailable(
                &format!("unreadable answer to the atomic batch on {subject}"),
                format!("{e}: {}", String::from_utf8_lossy(&reply)),
            )
        })?;
        if let Some(error) = ack.error {
            let code = error.error_code();
            if code == WRONG_LAST_SEQUENCE || code == WRONG_LAST_SEQUENCE_CONSTANT {
                tracing::debug!(expected, last_sequence, "wrong last sequence for a batch");
                if self.index.sequence(negotiation, expected) == Some(last_sequence) {
                    self.index.forget(negotiation);
                }
                return Err(self.conflict(negotiation, expected).await);
            }
            return Err(StoreError::unavailable(format!(
                "nats at {}: the atomic batch of {n} events on {subject} was refused: {error}",
                self.url
            )));
        }
        if ack.batch != batch_id || ack.count != n || ack.seq == 0 {
            return Err(self.unavailable(
                &format!("the atomic batch on {subject}"),
                format!(
                    "acknowledged {} messages of batch {:?} at sequence {}, not {n} of {batch_id}",
                    ack.count, ack.batch, ack.seq
                ),
            ));
        }
        if let Some(last) = events.last() {
            self.index.record(negotiation, last.version, ack.seq);
        }
        Ok(())
    }

    pub(crate) async fn append_event(&self, event: &RecordedEvent) -> Result<(), StoreError> {
        let negotiation = &event.negotiation_id;
        let Some(expected) = event.version.checked_sub(1) else {
            // No event can be version 0: nothing it could follow.
            return Err(self.conflict(negotiation, 0).await);
        };
        let last_sequence = self.expected_sequence(negotiation, expected).await?;
        let subject = self.subjects.of(negotiation);
        let message = PublishMessage::build()
            .payload(Bytes::from(event.to_bytes()))
            .expected_stream(&self.config.stream)
            .expected_last_subject_sequence(last_sequence);
        let ack = self
            .js
            .send_publish(subject.clone(), message)
            .await
            .map_err(|e| self.publish_error(&subject, e))?
            .await;
        match ack {
            Ok(ack) if ack.duplicate => {
                // The server kept the earlier message with this command id (at
                // `ack.sequence`) and stored nothing now.
                tracing::debug!(
                    sequence = ack.sequence,
                    "duplicate command id; nothing appended"
                );
                Err(self.conflict(negotiation, expected).await)
            }
            Ok(ack) => {
                self.index.record(negotiation, event.version, ack.sequence);
                Ok(())
            }
            Err(e) if is_wrong_last_sequence(&e) => {
                tracing::debug!(expected, last_sequence, "wrong last sequence");
                if self.index.sequence(negotiation, expected) == Some(last_sequence) {
                    // What this client knew may be wrong (the stream was recreated):
                    // forget it, so that the next attempt asks the server.
                    self.index.forget(negotiation);
                }
                Err(self.conflict(negotiation, expected).await)
            }
            Err(e) => Err(self.publish_error(&subject, e)),
        }
    }

    /// The stream sequence of version `expected` of `negotiation`, which must be its
    /// last: 0 for version 0 (no message yet), from the index when known, else from the
    /// subject's last message.
    async fn expected_sequence(
        &self,
        negotiation: &NegotiationId,
        expected: u64,
    ) -> Result<u64, StoreError> {
        if expected == 0 {
            return Ok(0);
        }
        if let Some(sequence) = self.index.sequence(negotiation, expected) {
            return Ok(sequence);
        }
        match self.last_event(negotiation).await? {
            Some((sequence, last)) if last.version == expected => Ok(sequence),
            Some((_, last)) => Err(StoreError::Conflict {
                negotiation: negotiation.clone(),
                expected,
                actual: Some(last.version),
            }),
            None => Err(StoreError::Conflict {
                negotiation: negotiation.clone(),
                expected,
                actual: Some(0),
            }),
        }
    }

    /// A conflict at `expected`, with the version actually last (`None` when it cannot
    /// be read: the conflict itself is certain, and the caller re-reads anyway).
    async fn conflict(&self, negotiation: &NegotiationId, expected: u64) -> StoreError {
        let actual = match self.last_event(negotiation).await {
            Ok(last) => Some(last.map_or(0, |(_, e)| e.version)),
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the last version after a conflict");
                None
            }
        };
        StoreError::Conflict {
            negotiation: negotiation.clone(),
            expected,
            actual,
        }
    }

    fn publish_error(&self, subject: &str, e: PublishError) -> StoreError {
        match e.kind() {
            PublishErrorKind::MaxPayloadExceeded => StoreError::Incompatible(format!(
                "nats at {}: event on {subject} is larger than the server's max_payload: {e}",
                self.url
            )),
            PublishErrorKind::TimedOut | PublishErrorKind::BrokenPipe => self.unavailable(
                &format!(
                    "no acknowledgement for the event on {subject}; it may or may not be stored"
                ),
                e,
            ),
            _ => self.unavailable(&format!("cannot publish on {subject}"), e),
        }
    }
}
