//! Appending: one conditional publish per event.

use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use roundtable_domain::{NegotiationId, RecordedEvent};
use roundtable_store::StoreError;

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

/// The `Nats-Msg-Id` of an event: `<negotiation_id>:<command_id>`.
///
/// The server's duplicate window spans the whole stream while command ids are unique
/// only within a negotiation, so the id is scoped: two negotiations may use one
/// command id without the second being taken for a duplicate of the first.
pub(crate) fn message_id(event: &RecordedEvent) -> String {
    format!("{}:{}", event.negotiation_id, event.command_id)
}

impl NatsStore {
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
            .message_id(message_id(event))
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
                actual: last.version,
            }),
            None => Err(StoreError::Conflict {
                negotiation: negotiation.clone(),
                expected,
                actual: 0,
            }),
        }
    }

    /// A conflict at `expected`, with the version actually last (0 when it cannot be
    /// read: the conflict itself is certain, and the caller re-reads anyway).
    async fn conflict(&self, negotiation: &NegotiationId, expected: u64) -> StoreError {
        let actual = match self.last_event(negotiation).await {
            Ok(last) => last.map_or(0, |(_, e)| e.version),
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the last version after a conflict");
                0
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
