//! Sending one command: the use case every front end that records something calls (the
//! HTTP API's `POST .../commands`, the web app's forms). The minutes importer derives
//! its command ids from each line's content instead (docs/DECISIONS.md).

use crate::{CommandHandler, HandleError, Handled};
use chrono::{DateTime, Utc};
use roundtable_domain::{Actor, Command, CommandEnvelope, CommandId, NegotiationId};
use roundtable_store::EventStore;
use sha2::{Digest, Sha256};

/// One command as a front end received it.
#[derive(Debug, Clone)]
pub struct SendCommand {
    /// The negotiation it is for.
    pub negotiation: NegotiationId,
    /// Who sends it: the caller's principal, never a field of the request.
    pub actor: Actor,
    /// The command.
    pub command: Command,
    /// Its business time (`occurred_at`); `None`: now.
    pub at: Option<DateTime<Utc>>,
    /// The caller's idempotency key: a retry with the same key by the same actor on the
    /// same negotiation is answered with the event recorded the first time. `None`: a
    /// fresh command id.
    pub idempotency_key: Option<String>,
    /// Record only if the negotiation still has exactly this many events (HTTP
    /// `If-Match`).
    pub expected_version: Option<u64>,
}

/// Decides and records `request` through `handler`, at `now` when it names no time.
///
/// # Errors
/// As [`CommandHandler::handle_expecting`]: a rejection of the domain (nothing
/// recorded), a precondition that failed, or a store that could not be reached (retry
/// with the same idempotency key).
pub async fn send<S: EventStore + ?Sized>(
    handler: &CommandHandler<S>,
    request: SendCommand,
    now: DateTime<Utc>,
) -> Result<Handled, HandleError> {
    let command_id = match &request.idempotency_key {
        Some(key) => keyed_command_id(&request.actor, &request.negotiation, key),
        None => random_command_id(),
    };
    let envelope = CommandEnvelope {
        command_id,
        negotiation_id: request.negotiation,
        actor: request.actor,
        occurred_at: request.at.unwrap_or(now),
        command: request.command,
    };
    handler
        .handle_expecting(&envelope, request.expected_version)
        .await
}

/// The command id of an idempotency key: `k-` and the SHA-256 of the actor, the
/// negotiation and the key, each prefixed with its length, so that the same key sent
/// by two principals, or to two negotiations, names two commands.
pub fn keyed_command_id(actor: &Actor, negotiation: &NegotiationId, key: &str) -> CommandId {
    let mut hash = Sha256::new();
    for part in [actor.as_str(), negotiation.as_str(), key] {
        hash.update(part.len().to_be_bytes());
        hash.update(part.as_bytes());
    }
    command_id(format!("k-{}", hex::encode(hash.finalize())))
}

/// A fresh command id: `r-` and a random UUID.
pub fn random_command_id() -> CommandId {
    command_id(format!("r-{}", uuid::Uuid::new_v4()))
}

fn command_id(id: String) -> CommandId {
    CommandId::new(id).unwrap_or_else(|_| {
        // Both forms are well inside the grammar of command ids; never reached.
        CommandId::new(uuid::Uuid::new_v4().simple().to_string())
            .unwrap_or_else(|_| command_id(String::from("r")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_one_command_per_actor_and_negotiation() {
        let n = |s: &str| NegotiationId::new(s).expect("id");
        let a = keyed_command_id(&Actor::Secretariat, &n("water"), "k1");
        assert_eq!(a, keyed_command_id(&Actor::Secretariat, &n("water"), "k1"));
        let ward = Actor::parse("ward").expect("an actor");
        assert_ne!(a, keyed_command_id(&ward, &n("water"), "k1"));
        assert_ne!(a, keyed_command_id(&Actor::Secretariat, &n("waste"), "k1"));
        assert_ne!(a, keyed_command_id(&Actor::Secretariat, &n("water"), "k2"));
        assert!(a.as_str().starts_with("k-"));
        assert_ne!(random_command_id(), random_command_id());
    }
}
