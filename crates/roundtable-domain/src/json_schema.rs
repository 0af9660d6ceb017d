//! JSON Schemas of what Roundtable writes (feature `schemars`): every event type at the
//! schema version this build writes, in its stored envelope, and the agreement view.
//! `roundtable-contracts` writes them to `docs/schemas/` and checks them there.
//!
//! The schemas describe the *serialized* form (schemars' serialize contract): a field
//! always written is required; an optional event field is left out when it has no value,
//! never `null` ([`event_schema`] says so), while the view writes `null`.
//!
//! They are open: no `additionalProperties: false` (except where the Rust type refuses
//! unknown keys, as [`crate::vocab::Amount`] does), because a later build may add an
//! optional field to a type without a new schema version (docs/EVENTS.md, "Adding
//! optional fields"). Tests that want to catch a field missing from a schema tighten
//! them first.

use std::borrow::Cow;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::command::CommandId;
use crate::event::{
    AgreementSigned, AssetDeclared, CommitmentFulfilled, CommitmentMade, CommitmentWithdrawn,
    EndorsementRetracted, EventBody, NegotiationConcluded, NegotiationOpened,
    NegotiationTerminated, ObjectionRaised, ObjectionWithdrawn, PartnerAdmitted,
    PartnerKeyRegistered, PartnerWithdrawn, ProgressReported, ProposalAdopted, ProposalEndorsed,
    ProposalMade, ProposalWithdrawn, RoundOpened, ShortfallReported, ShortfallResolved,
};
use crate::id::{Actor, MAX_ID_LEN, NegotiationId};
use crate::view::AgreementView;

/// The JSON Schema dialect of every schema here.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The grammar of every identifier (DOMAIN.md, "Identifiers").
const ID_PATTERN: &str = "^[a-z0-9][a-z0-9-]*$";

/// An identifier of DOMAIN.md, "Identifiers"; `what` names it (`partner_id`).
pub(crate) fn id(what: &str) -> Schema {
    let mut schema = json_schema!({
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_ID_LEN,
        "pattern": ID_PATTERN,
        "description": format!("{what}: 1 to 64 characters of a-z, 0-9 and '-', starting with a letter or digit"),
    });
    if what == "partner_id" {
        schema.insert(
            "not".into(),
            serde_json::json!({"const": crate::id::SECRETARIAT}),
        );
        schema.insert(
            "description".into(),
            Value::String(
                "partner_id: 1 to 64 characters of a-z, 0-9 and '-', starting with a letter or digit; \"secretariat\" is reserved".into(),
            ),
        );
    }
    schema
}

/// `secretariat` or a partner id.
pub(crate) fn actor() -> Schema {
    json_schema!({
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_ID_LEN,
        "pattern": ID_PATTERN,
        "description": "who acted: \"secretariat\" or the partner_id of a partner",
    })
}

/// A command id: 1 to 200 visible ASCII characters.
pub(crate) fn command_id() -> Schema {
    json_schema!({
        "type": "string",
        "minLength": 1,
        "maxLength": CommandId::MAX_LEN,
        "pattern": "^[!-~]+$",
        "description": "the id of the command the event answered (idempotency): 1 to 200 visible ASCII characters; minutes lines use \"m-\" and 64 hex digits",
    })
}

/// An instant as events write it: RFC 3339 in UTC with `Z`, the fraction of a second
/// only when non-zero (3, 6 or 9 digits).
struct Timestamp;

impl JsonSchema for Timestamp {
    fn schema_name() -> Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": "date-time",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{3}|\\.[0-9]{6}|\\.[0-9]{9})?Z$",
            "description": "RFC 3339 in UTC with a Z suffix; the fraction of a second is written only when non-zero, with 3, 6 or 9 digits",
        })
    }
}

/// A SHA-256 hash in lower-case hex.
struct Hash;

impl JsonSchema for Hash {
    fn schema_name() -> Cow<'static, str> {
        "Hash".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9a-f]{64}$",
            "description": "lower-case hex SHA-256 (docs/HASHING.md)",
        })
    }
}

/// The stored envelope of one event (docs/EVENTS.md, "The envelope"): the object
/// [`crate::RecordedEvent::to_json`] writes, with the data of type `D`. Only for its
/// schema; the envelope itself is written by [`crate::envelope`].
#[derive(JsonSchema)]
#[allow(dead_code)]
struct StoredEvent<D> {
    /// A UUID, unique for every event (written as a UUIDv7; treat it as opaque).
    event_id: Uuid,
    /// The negotiation the event belongs to.
    negotiation_id: NegotiationId,
    /// The event's position in its negotiation: 1, 2, 3... with no gaps.
    #[schemars(range(min = 1))]
    version: u64,
    /// The event type.
    #[schemars(rename = "type")]
    event_type: String,
    /// The schema version of `data` as stored.
    #[schemars(range(min = 1))]
    schema_version: u32,
    /// Who issued the command: "secretariat" or a partner_id.
    actor: Actor,
    /// Business time: the minutes line's `at`, the time the caller gave, or else the
    /// server's clock.
    occurred_at: Timestamp,
    /// The server's clock when the event was sealed.
    recorded_at: Timestamp,
    /// The id of the command this event answered.
    command_id: CommandId,
    /// The type-specific fields.
    data: D,
    /// The hash of the previous event of the same negotiation, or 64 zeros for version 1.
    prev_hash: Hash,
    /// SHA-256 of the canonical JSON of this object without `hash` (docs/HASHING.md).
    hash: Hash,
}

/// The generator every schema of Roundtable is made with: JSON Schema 2020-12,
/// describing what is serialized.
pub fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
}

/// The root schema of `T` as JSON, from [`generator`].
pub fn root_schema<T: JsonSchema>() -> Value {
    generator().into_root_schema_for::<T>().to_value()
}

/// The schema of the agreement view (DOMAIN.md, "The agreement view"), as
/// `roundtable view --json`, the HTTP API and the key-value bucket of views serve it.
pub fn agreement_view_schema() -> Value {
    let mut schema = root_schema::<AgreementView>();
    if let Some(root) = schema.as_object_mut() {
        root.insert(
            "title".into(),
            Value::String("Roundtable agreement view".into()),
        );
    }
    schema
}

/// The schema of a stored event of `event_type` at the schema version this build
/// writes for it ([`crate::upcast::schema_version`]), envelope included; `None` for a
/// type this build does not know.
pub fn event_schema(event_type: &str) -> Option<Value> {
    let schema = match event_type {
        "negotiation_opened" => root_schema::<StoredEvent<NegotiationOpened>>(),
        "partner_admitted" => root_schema::<StoredEvent<PartnerAdmitted>>(),
        "partner_key_registered" => root_schema::<StoredEvent<PartnerKeyRegistered>>(),
        "proposal_made" => root_schema::<StoredEvent<ProposalMade>>(),
        "proposal_withdrawn" => root_schema::<StoredEvent<ProposalWithdrawn>>(),
        "proposal_endorsed" => root_schema::<StoredEvent<ProposalEndorsed>>(),
        "endorsement_retracted" => root_schema::<StoredEvent<EndorsementRetracted>>(),
        "objection_raised" => root_schema::<StoredEvent<ObjectionRaised>>(),
        "objection_withdrawn" => root_schema::<StoredEvent<ObjectionWithdrawn>>(),
        "proposal_adopted" => root_schema::<StoredEvent<ProposalAdopted>>(),
        "commitment_made" => root_schema::<StoredEvent<CommitmentMade>>(),
        "commitment_withdrawn" => root_schema::<StoredEvent<CommitmentWithdrawn>>(),
        "agreement_signed" => root_schema::<StoredEvent<AgreementSigned>>(),
        "negotiation_concluded" => root_schema::<StoredEvent<NegotiationConcluded>>(),
        "round_opened" => root_schema::<StoredEvent<RoundOpened>>(),
        "asset_declared" => root_schema::<StoredEvent<AssetDeclared>>(),
        "progress_reported" => root_schema::<StoredEvent<ProgressReported>>(),
        "commitment_fulfilled" => root_schema::<StoredEvent<CommitmentFulfilled>>(),
        "shortfall_reported" => root_schema::<StoredEvent<ShortfallReported>>(),
        "shortfall_resolved" => root_schema::<StoredEvent<ShortfallResolved>>(),
        "partner_withdrawn" => root_schema::<StoredEvent<PartnerWithdrawn>>(),
        "negotiation_terminated" => root_schema::<StoredEvent<NegotiationTerminated>>(),
        _ => return None,
    };
    let version = crate::upcast::schema_version(event_type)?;
    Some(finish_event_schema(schema, event_type, version))
}

/// Every event type with its schema version and its schema at that version, in the
/// order of [`EventBody::TYPES`].
pub fn event_schemas() -> Vec<(&'static str, u32, Value)> {
    EventBody::TYPES
        .iter()
        .filter_map(|t| Some((*t, crate::upcast::schema_version(t)?, event_schema(t)?)))
        .collect()
}

/// Names the schema, pins `type` and `schema_version`, and drops `null` from optional
/// fields: an event leaves out a field that has no value.
fn finish_event_schema(mut schema: Value, event_type: &str, version: u32) -> Value {
    drop_null_from_optional(&mut schema);
    let Some(root) = schema.as_object_mut() else {
        return schema;
    };
    root.insert(
        "title".into(),
        Value::String(format!(
            "Roundtable event {event_type}, schema version {version}"
        )),
    );
    root.insert(
        "description".into(),
        Value::String(format!(
            "One stored `{event_type}` event: the envelope every event shares and its data (docs/EVENTS.md). Stored as canonical JSON: keys sorted, no whitespace."
        )),
    );
    if let Some(Value::Object(props)) = root.get_mut("properties") {
        for (key, pinned) in [
            ("type", Value::String(event_type.to_owned())),
            ("schema_version", Value::from(version)),
        ] {
            if let Some(Value::Object(prop)) = props.get_mut(key) {
                prop.retain(|k, _| k == "description");
                prop.insert("const".into(), pinned);
            }
        }
    }
    schema
}

/// In every object schema, removes `null` from the properties that are not required.
fn drop_null_from_optional(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let required: Vec<String> = map
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(Value::Object(props)) = map.get_mut("properties") {
                for (name, prop) in props.iter_mut() {
                    if !required.contains(name) {
                        if let Value::Object(prop) = prop {
                            without_null(prop);
                        }
                    }
                }
            }
            for value in map.values_mut() {
                drop_null_from_optional(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null_from_optional),
        _ => {}
    }
}

/// `{"type": ["string", "null"]}` → `{"type": "string"}`;
/// `{"anyOf": [{"$ref": ...}, {"type": "null"}]}` → `{"$ref": ...}`.
fn without_null(prop: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = prop.get("type") {
        let kept: Vec<Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .cloned()
            .collect();
        let kept = match <[Value; 1]>::try_from(kept) {
            Ok([one]) => one,
            Err(many) => Value::Array(many),
        };
        prop.insert("type".into(), kept);
    }
    if let Some(Value::Array(branches)) = prop.get("anyOf") {
        let kept: Vec<Value> = branches
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"))
            .cloned()
            .collect();
        prop.remove("anyOf");
        match <[Value; 1]>::try_from(kept) {
            Ok([Value::Object(one)]) => prop.extend(one),
            Ok([other]) => {
                prop.insert("anyOf".into(), Value::Array(vec![other]));
            }
            Err(many) => {
                prop.insert("anyOf".into(), Value::Array(many));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_a_schema() {
        for t in EventBody::TYPES {
            let schema = event_schema(t).unwrap_or_else(|| panic!("no schema for {t}"));
            assert_eq!(schema["properties"]["type"]["const"], t);
            assert_eq!(schema["$schema"], DIALECT);
        }
        assert!(event_schema("nothing_happened").is_none());
    }

    #[test]
    fn optional_event_fields_are_never_null() {
        let schema = event_schema("proposal_made").unwrap_or_default();
        let text = schema.to_string();
        assert!(!text.contains("\"null\""), "{text}");
        let view = agreement_view_schema().to_string();
        assert!(
            view.contains("\"null\""),
            "the view writes null for no value"
        );
    }
}
