//! The recorded event: the domain event in its envelope of ids, versions, times and
//! the hash chain (DOMAIN.md, "Events"), its stored bytes, and folding envelopes into
//! the agreement view.
//!
//! Stored form: the canonical JSON ([`crate::canonical`]) of one object with the keys
//! `event_id` (UUID), `negotiation_id`, `version` (1, 2, 3... per negotiation),
//! `type`, `schema_version`, `actor`, `occurred_at` and `recorded_at` (RFC 3339, UTC,
//! `Z`), `command_id`, `data`, `prev_hash` and `hash`.
//!
//! `hash` is the lower-case hex SHA-256 of the canonical JSON of that same object
//! without its `hash` key. `prev_hash` is the previous event's `hash` in the same
//! negotiation, or [`GENESIS_HASH`] (64 zeros) for version 1. Changing, removing,
//! inserting or reordering any event therefore breaks the chain from that point on.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::canonical::to_canonical;
use crate::command::{CommandEnvelope, CommandId};
use crate::event::{Event, EventBody};
use crate::evolve::evolve;
use crate::id::{Actor, NegotiationId};
use crate::time::parse_stored_instant;
use crate::view::AgreementView;

/// `prev_hash` of a negotiation's first event: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The name of the hash algorithm, as written in exports.
pub const HASH_ALGORITHM: &str = "sha256";

/// One recorded event, decoded and upcast to the current schema.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// Unique id of this event.
    pub event_id: Uuid,
    /// Negotiation it belongs to.
    pub negotiation_id: NegotiationId,
    /// Position in the negotiation: 1, 2, 3... with no gaps.
    pub version: u64,
    /// Schema version the event was *stored* at (its data is upcast to the current one).
    pub schema_version: u32,
    /// Business time.
    pub occurred_at: DateTime<Utc>,
    /// Server time when recorded.
    pub recorded_at: DateTime<Utc>,
    /// The command it answered.
    pub command_id: CommandId,
    /// Who did what.
    pub event: Event,
    /// Hash of the previous event of the negotiation ([`GENESIS_HASH`] for version 1).
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

/// Why stored bytes are not a valid recorded event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, or not an object.
    #[error("not a JSON event object: {0}")]
    NotJson(String),
    /// A required key is missing or has the wrong type.
    #[error("field {0} is missing or malformed")]
    Field(&'static str),
    /// The stored hash is not the hash of the content: the event was altered.
    #[error("hash mismatch: stored {stored}, content hashes to {computed}")]
    HashMismatch {
        /// The `hash` the event carries.
        stored: String,
        /// The hash its content gives.
        computed: String,
    },
    /// The type or its schema version is unknown to this build.
    #[error("event type {event_type} at schema version {schema_version} is unknown to this build")]
    UnknownSchema {
        /// The `type`.
        event_type: String,
        /// The `schema_version`.
        schema_version: u64,
    },
    /// The data does not fit its type's schema.
    #[error("data of {event_type} does not fit its schema: {reason}")]
    BadData {
        /// The `type`.
        event_type: String,
        /// The deserializer's message.
        reason: String,
    },
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The hash an envelope object must carry: SHA-256 of its canonical JSON without `hash`.
pub fn content_hash(envelope: &Map<String, Value>) -> String {
    let mut without = envelope.clone();
    without.remove("hash");
    sha256_hex(&to_canonical(&Value::Object(without)))
}

fn timestamp(t: &DateTime<Utc>) -> String {
    crate::time::format_instant(t)
}

impl RecordedEvent {
    /// Wraps a decided event in its envelope and computes its hash.
    ///
    /// `version` is the negotiation's next version and `prev_hash` the hash of the
    /// event before it; `event_id` and `recorded_at` come from the caller (the
    /// domain has no clock and no randomness).
    pub fn seal(
        cmd: &CommandEnvelope,
        event: Event,
        version: u64,
        prev_hash: &str,
        event_id: Uuid,
        recorded_at: DateTime<Utc>,
    ) -> RecordedEvent {
        let mut e = RecordedEvent {
            event_id,
            negotiation_id: cmd.negotiation_id.clone(),
            version,
            schema_version: event.body.schema_version(),
            occurred_at: cmd.occurred_at,
            recorded_at,
            command_id: cmd.command_id.clone(),
            event,
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        let mut without_hash = Vec::with_capacity(1024);
        e.write_canonical_envelope(false, &mut without_hash);
        e.hash = sha256_hex(&without_hash);
        e
    }

    fn to_object_without_hash(&self) -> Map<String, Value> {
        let (event_type, data) = self.type_and_data();
        let mut m = Map::new();
        m.insert("event_id".into(), Value::String(self.event_id.to_string()));
        m.insert(
            "negotiation_id".into(),
            Value::String(self.negotiation_id.to_string()),
        );
        m.insert("version".into(), Value::from(self.version));
        m.insert("type".into(), event_type);
        m.insert("schema_version".into(), Value::from(self.schema_version));
        m.insert("actor".into(), Value::String(self.event.actor.to_string()));
        m.insert(
            "occurred_at".into(),
            Value::String(timestamp(&self.occurred_at)),
        );
        m.insert(
            "recorded_at".into(),
            Value::String(timestamp(&self.recorded_at)),
        );
        m.insert(
            "command_id".into(),
            Value::String(self.command_id.to_string()),
        );
        m.insert("data".into(), data);
        m.insert("prev_hash".into(), Value::String(self.prev_hash.clone()));
        m
    }

    /// The `type` and `data` of the event body, as JSON.
    fn type_and_data(&self) -> (Value, Value) {
        match serde_json::to_value(&self.event.body).unwrap_or(Value::Null) {
            Value::Object(mut m) => (
                m.remove("type").unwrap_or(Value::Null),
                m.remove("data").unwrap_or(Value::Null),
            ),
            _ => (Value::Null, Value::Null),
        }
    }

    /// Writes the canonical JSON of the envelope (with `hash` or without it) straight
    /// from its fields, keys in their sorted order: the same bytes as
    /// `to_canonical(&self.to_json())` (a test holds them equal), without building the
    /// envelope as a JSON object first.
    fn write_canonical_envelope(&self, with_hash: bool, out: &mut Vec<u8>) {
        use crate::canonical::{write_canonical, write_string};
        let (event_type, data) = self.type_and_data();
        let key = |k: &str, first: bool, out: &mut Vec<u8>| {
            if !first {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b"\":");
        };
        out.push(b'{');
        key("actor", true, out);
        write_string(&self.event.actor.to_string(), out);
        key("command_id", false, out);
        write_string(self.command_id.as_str(), out);
        key("data", false, out);
        write_canonical(&data, out);
        key("event_id", false, out);
        write_string(&self.event_id.to_string(), out);
        if with_hash {
            key("hash", false, out);
            write_string(&self.hash, out);
        }
        key("negotiation_id", false, out);
        write_string(self.negotiation_id.as_str(), out);
        key("occurred_at", false, out);
        write_string(&timestamp(&self.occurred_at), out);
        key("prev_hash", false, out);
        write_string(&self.prev_hash, out);
        key("recorded_at", false, out);
        write_string(&timestamp(&self.recorded_at), out);
        key("schema_version", false, out);
        write_canonical(&Value::from(self.schema_version), out);
        key("type", false, out);
        write_canonical(&event_type, out);
        key("version", false, out);
        write_canonical(&Value::from(self.version), out);
        out.push(b'}');
    }

    /// The envelope as a JSON object, `hash` included.
    pub fn to_json(&self) -> Value {
        let mut m = self.to_object_without_hash();
        m.insert("hash".into(), Value::String(self.hash.clone()));
        Value::Object(m)
    }

    /// The stored bytes: canonical JSON of [`RecordedEvent::to_json`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        self.write_canonical_envelope(true, &mut out);
        out
    }

    /// The event type name.
    pub fn event_type(&self) -> &'static str {
        self.event.body.type_name()
    }

    /// Decodes stored bytes: checks the hash against the content, then upcasts the data
    /// to the current schema ([`upcast`]) and parses it.
    ///
    /// # Errors
    /// [`DecodeError`] naming what is wrong; `HashMismatch` means the bytes were altered.
    pub fn decode(bytes: &[u8]) -> Result<RecordedEvent, DecodeError> {
        if let Some(event) = Self::decode_stored(bytes) {
            return Ok(event);
        }
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| DecodeError::NotJson(e.to_string()))?;
        Self::from_json(value)
    }

    /// The fast path of [`RecordedEvent::decode`], for bytes as this build stores them:
    /// canonical JSON whose data is at its type's current schema version. The hash is
    /// checked over the stored bytes themselves, without the `,"hash":"..."` member:
    /// for canonical bytes, that is exactly the canonical JSON the hash was computed
    /// over (docs/HASHING.md), with no re-serialization; the data is parsed straight
    /// into its type. `None` for anything else (a hash that does not match this way, an
    /// older schema version, malformed input), which the full path then decodes or
    /// refuses with the precise error.
    fn decode_stored(bytes: &[u8]) -> Option<RecordedEvent> {
        use std::borrow::Cow;
        #[derive(serde::Deserialize)]
        struct Stored<'a> {
            #[serde(borrow)]
            hash: Cow<'a, str>,
            #[serde(rename = "type", borrow)]
            event_type: Cow<'a, str>,
            schema_version: u64,
            #[serde(borrow)]
            data: &'a serde_json::value::RawValue,
            event_id: Uuid,
            #[serde(borrow)]
            negotiation_id: Cow<'a, str>,
            version: u64,
            #[serde(borrow)]
            actor: Cow<'a, str>,
            #[serde(borrow)]
            occurred_at: Cow<'a, str>,
            #[serde(borrow)]
            recorded_at: Cow<'a, str>,
            #[serde(borrow)]
            command_id: Cow<'a, str>,
            #[serde(borrow)]
            prev_hash: Cow<'a, str>,
        }
        let stored: Stored<'_> = serde_json::from_slice(bytes).ok()?;
        let schema_version = u32::try_from(stored.schema_version).ok()?;
        if crate::upcast::schema_version(&stored.event_type) != Some(schema_version) {
            return None;
        }
        if stored.hash.len() != 64 || !stored.hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let member = format!(",\"hash\":\"{}\"", stored.hash);
        let at = bytes
            .windows(member.len())
            .position(|w| w == member.as_bytes())?;
        let mut hasher = Sha256::new();
        hasher.update(&bytes[..at]);
        hasher.update(&bytes[at + member.len()..]);
        if hex::encode(hasher.finalize()) != stored.hash {
            return None;
        }
        let body: EventBody = serde_json::from_str(&format!(
            "{{\"type\":\"{}\",\"data\":{}}}",
            stored.event_type,
            stored.data.get()
        ))
        .ok()?;
        Some(RecordedEvent {
            event_id: stored.event_id,
            negotiation_id: NegotiationId::new(stored.negotiation_id.as_ref()).ok()?,
            version: stored.version,
            schema_version,
            occurred_at: parse_stored_instant(&stored.occurred_at)?,
            recorded_at: parse_stored_instant(&stored.recorded_at)?,
            command_id: CommandId::new(stored.command_id.as_ref()).ok()?,
            event: Event {
                actor: Actor::parse(&stored.actor).ok()?,
                body,
            },
            prev_hash: stored.prev_hash.into_owned(),
            hash: stored.hash.into_owned(),
        })
    }

    /// Like [`RecordedEvent::decode`], from an already parsed JSON value.
    ///
    /// # Errors
    /// As [`RecordedEvent::decode`].
    pub fn from_json(value: Value) -> Result<RecordedEvent, DecodeError> {
        let Value::Object(mut m) = value else {
            return Err(DecodeError::NotJson("not an object".into()));
        };
        let stored = str_field(&m, "hash")?.to_owned();
        let computed = content_hash(&m);
        if stored != computed {
            return Err(DecodeError::HashMismatch { stored, computed });
        }
        let event_type = str_field(&m, "type")?.to_owned();
        let schema_version = m
            .get("schema_version")
            .and_then(Value::as_u64)
            .ok_or(DecodeError::Field("schema_version"))?;
        let data = m.remove("data").ok_or(DecodeError::Field("data"))?;
        let data = upcast(&event_type, schema_version, data)?;
        let body: EventBody = serde_json::from_value(
            serde_json::json!({"type": event_type, "data": data}),
        )
        .map_err(|e| DecodeError::BadData {
            event_type: event_type.clone(),
            reason: e.to_string(),
        })?;
        // Times are read as any release wrote them, including the signed years an
        // earlier release stored for instants outside today's window (crate::time).
        let parse_time = |k: &'static str| -> Result<DateTime<Utc>, DecodeError> {
            parse_stored_instant(str_field(&m, k)?).ok_or(DecodeError::Field(k))
        };
        Ok(RecordedEvent {
            event_id: Uuid::parse_str(str_field(&m, "event_id")?)
                .map_err(|_| DecodeError::Field("event_id"))?,
            negotiation_id: NegotiationId::new(str_field(&m, "negotiation_id")?)
                .map_err(|_| DecodeError::Field("negotiation_id"))?,
            version: m
                .get("version")
                .and_then(Value::as_u64)
                .ok_or(DecodeError::Field("version"))?,
            schema_version: u32::try_from(schema_version)
                .map_err(|_| DecodeError::Field("schema_version"))?,
            occurred_at: parse_time("occurred_at")?,
            recorded_at: parse_time("recorded_at")?,
            command_id: CommandId::new(str_field(&m, "command_id")?)
                .map_err(|_| DecodeError::Field("command_id"))?,
            event: Event {
                actor: Actor::parse(str_field(&m, "actor")?)
                    .map_err(|_| DecodeError::Field("actor"))?,
                body,
            },
            prev_hash: str_field(&m, "prev_hash")?.to_owned(),
            hash: stored,
        })
    }
}

fn str_field<'a>(m: &'a Map<String, Value>, k: &'static str) -> Result<&'a str, DecodeError> {
    m.get(k)
        .and_then(Value::as_str)
        .ok_or(DecodeError::Field(k))
}

/// Turns an event's data stored at `schema_version` into the current schema's data,
/// with the registry of this build ([`crate::upcast::EVENTS`]).
///
/// Events are never rewritten in the log: every read path (command side, projector,
/// rebuild, export, verify) decodes through [`RecordedEvent::decode`], which calls this
/// after checking the hash. Every type is at version 1 today, so version 1 passes
/// through unchanged; when a type's schema changes, its step from the old version to
/// the next is registered in [`crate::upcast::STEPS`], and a golden file of the old
/// version under `testdata/events/` keeps it honest.
///
/// # Errors
/// [`DecodeError::UnknownSchema`] for an unknown type or a version this build cannot
/// read (0, newer than the current one); [`DecodeError::BadData`] when a step refuses
/// the data.
pub fn upcast(event_type: &str, schema_version: u64, data: Value) -> Result<Value, DecodeError> {
    crate::upcast::EVENTS.upcast(event_type, schema_version, data)
}

/// Why an event cannot be applied after the ones before it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The version is not the next one.
    #[error("event {event_id} has version {found}, expected {expected}")]
    Version {
        /// The event.
        event_id: Uuid,
        /// Version expected.
        expected: u64,
        /// Version found.
        found: u64,
    },
    /// `prev_hash` is not the previous event's hash.
    #[error(
        "event at version {version} has prev_hash {found}, but the previous event's hash is {expected}"
    )]
    Link {
        /// The event's version.
        version: u64,
        /// The previous event's hash.
        expected: String,
        /// The event's `prev_hash`.
        found: String,
    },
    /// The event belongs to another negotiation.
    #[error("event at version {version} belongs to negotiation {found}, not {expected}")]
    Negotiation {
        /// The event's version.
        version: u64,
        /// Negotiation folded.
        expected: String,
        /// Negotiation of the event.
        found: String,
    },
}

/// Folds recorded events of one negotiation into its agreement view, checking that
/// versions follow each other and the hash chain links as it goes.
///
/// This is the aggregate the command side decides against and the read model the
/// projector stores; both fold through here.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    /// The view so far (`None` before the negotiation is opened).
    pub view: Option<AgreementView>,
    /// Number of events applied.
    pub version: u64,
    /// Hash of the last event applied ([`GENESIS_HASH`] before the first).
    pub last_hash: String,
}

impl Projection {
    /// An empty projection, before any event.
    pub fn new() -> Self {
        Projection {
            view: None,
            version: 0,
            last_hash: GENESIS_HASH.to_owned(),
        }
    }

    /// Resumes from a stored view (its `version` and `last_event_hash`).
    pub fn from_view(mut view: AgreementView) -> Self {
        view.reindex();
        Projection {
            version: view.version,
            last_hash: view.last_event_hash.clone(),
            view: Some(view),
        }
    }

    /// Applies the next event.
    ///
    /// # Errors
    /// [`ChainError`] when `e` is not the next version, does not link to the last
    /// hash, or belongs to another negotiation; the projection is then unchanged.
    pub fn apply(&mut self, e: &RecordedEvent) -> Result<(), ChainError> {
        if e.version != self.version + 1 {
            return Err(ChainError::Version {
                event_id: e.event_id,
                expected: self.version + 1,
                found: e.version,
            });
        }
        if e.prev_hash != self.last_hash {
            return Err(ChainError::Link {
                version: e.version,
                expected: self.last_hash.clone(),
                found: e.prev_hash.clone(),
            });
        }
        if let Some(v) = &self.view {
            if v.negotiation_id != e.negotiation_id {
                return Err(ChainError::Negotiation {
                    version: e.version,
                    expected: v.negotiation_id.to_string(),
                    found: e.negotiation_id.to_string(),
                });
            }
        }
        evolve(&mut self.view, &e.event);
        self.version = e.version;
        self.last_hash.clone_from(&e.hash);
        if let Some(v) = self.view.as_mut() {
            v.version = e.version;
            v.last_event_hash.clone_from(&e.hash);
        }
        Ok(())
    }

    /// Folds `events` from scratch.
    ///
    /// # Errors
    /// The first [`ChainError`].
    pub fn fold<'a>(
        events: impl IntoIterator<Item = &'a RecordedEvent>,
    ) -> Result<Projection, ChainError> {
        let mut p = Projection::new();
        for e in events {
            p.apply(e)?;
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::minutes::parse_line;

    fn sealed() -> RecordedEvent {
        let m = parse_line(
            r#"{"at":"2026-01-05T09:00:00Z","negotiation_id":"n-1","by":"secretariat","do":"open_negotiation","title":"Water \"kiosks\" \u00e9","service":"water"}"#,
        )
        .expect("parses")
        .expect("a command");
        let cmd = CommandEnvelope {
            command_id: m.command_id,
            negotiation_id: m.negotiation_id,
            actor: m.actor,
            occurred_at: m.at.expect("at"),
            command: m.command,
        };
        let event = crate::decide(None, &cmd).expect("accepted");
        RecordedEvent::seal(&cmd, event, 1, GENESIS_HASH, Uuid::nil(), Utc::now())
    }

    #[test]
    fn stored_bytes_are_the_canonical_json_of_the_envelope() {
        let e = sealed();
        assert_eq!(e.to_bytes(), to_canonical(&e.to_json()));
        assert_eq!(
            e.hash,
            content_hash(&e.to_json().as_object().expect("object").clone())
        );
    }

    #[test]
    fn canonical_bytes_take_the_fast_path() {
        let e = sealed();
        assert_eq!(RecordedEvent::decode_stored(&e.to_bytes()), Some(e.clone()));
        // Not canonical: left to the full path, which accepts it.
        let pretty = serde_json::to_vec_pretty(&e.to_json()).expect("json");
        assert_eq!(RecordedEvent::decode_stored(&pretty), None);
        assert_eq!(RecordedEvent::decode(&pretty).expect("decodes"), e);
        // Another hash: left to the full path, which refuses it.
        let mut other = e.to_json();
        other["hash"] = Value::String("ab".repeat(32));
        let bytes = to_canonical(&other);
        assert_eq!(RecordedEvent::decode_stored(&bytes), None);
        assert!(matches!(
            RecordedEvent::decode(&bytes),
            Err(DecodeError::HashMismatch { .. })
        ));
    }
}
