//! Roundtable's published contracts (docs/schemas/README.md): JSON Schemas (draft
//! 2020-12) of what Roundtable writes for other systems to read, generated from the
//! Rust types that write it.
//!
//! - `events/<type>.v<schema_version>.json`: one stored event of each type, envelope
//!   and `data`, at the schema version this build writes;
//! - `agreement-view.json`: the agreement view;
//! - `change.json`: a change message (NATS, Server-Sent Events, webhooks).
//!
//! [`schema_files`] makes them; the tests of this crate check that the files checked in
//! under `docs/schemas/` are exactly these (`ROUNDTABLE_BLESS_SCHEMAS=1` rewrites them),
//! that the events, views and changes of the sample minutes and of the vendored
//! freshwater consultation validate against them, and that `docs/asyncapi.yaml` refers
//! to them.
//!
//! Pure: no IO.

#![warn(missing_docs)]

use roundtable_domain::json_schema;
use serde_json::{Map, Value};

/// One schema file of `docs/schemas/`.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaFile {
    /// Its path below `docs/schemas/`, with `/` separators (`events/proposal_made.v1.json`).
    pub path: String,
    /// The schema.
    pub schema: Value,
}

impl SchemaFile {
    /// The file's text: the schema as pretty JSON, keys sorted, with a final newline.
    pub fn text(&self) -> String {
        let mut schema = self.schema.clone();
        sort_keys(&mut schema);
        let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Sorts every object's keys, whatever map serde_json was built with.
fn sort_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.sort_keys();
            map.values_mut().for_each(sort_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// The path below `docs/schemas/` of the schema of `event_type` at `schema_version`.
pub fn event_schema_path(event_type: &str, schema_version: u64) -> String {
    format!("events/{event_type}.v{schema_version}.json")
}

/// The path below `docs/schemas/` of the agreement view's schema.
pub const AGREEMENT_VIEW: &str = "agreement-view.json";

/// The path below `docs/schemas/` of the change message's schema.
pub const CHANGE: &str = "change.json";

/// Every schema this build publishes: the 22 event types at the current schema
/// version, the agreement view and the change message.
pub fn schema_files() -> Vec<SchemaFile> {
    let mut files: Vec<SchemaFile> = json_schema::event_schemas()
        .into_iter()
        .map(|(event_type, version, schema)| SchemaFile {
            path: event_schema_path(event_type, u64::from(version)),
            schema,
        })
        .collect();
    files.push(SchemaFile {
        path: AGREEMENT_VIEW.to_owned(),
        schema: json_schema::agreement_view_schema(),
    });
    files.push(SchemaFile {
        path: CHANGE.to_owned(),
        schema: change_schema(),
    });
    files
}

/// The schema of a change message (`roundtable_domain::Change`).
pub fn change_schema() -> Value {
    let mut schema = json_schema::root_schema::<roundtable_domain::Change>();
    if let Some(root) = schema.as_object_mut() {
        root.insert(
            "title".into(),
            Value::String("Roundtable change message".into()),
        );
    }
    schema
}

/// A copy of `schema` that refuses keys it does not name: `additionalProperties: false`
/// on every object schema that lists `properties` and says nothing of other keys.
///
/// The published schemas are open, so that an optional field added later without a new
/// schema version does not break a consumer's validation (docs/EVENTS.md); the tests
/// validate against this closed copy too, so that a field written but missing from a
/// schema is caught.
pub fn closed(schema: &Value) -> Value {
    let mut schema = schema.clone();
    close(&mut schema);
    schema
}

fn close(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            close_object(map);
            map.values_mut().for_each(close);
        }
        Value::Array(items) => items.iter_mut().for_each(close),
        _ => {}
    }
}

fn close_object(map: &mut Map<String, Value>) {
    let describes_keys = map.get("properties").is_some_and(Value::is_object);
    let open_ended = [
        "additionalProperties",
        "unevaluatedProperties",
        "patternProperties",
    ]
    .iter()
    .any(|k| map.contains_key(*k));
    if describes_keys && !open_ended {
        map.insert("additionalProperties".into(), Value::Bool(false));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_four_files_with_unique_paths() {
        let files = schema_files();
        assert_eq!(files.len(), 24);
        let mut paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), 24);
        assert!(paths.contains(&"events/proposal_adopted.v1.json"));
        assert!(paths.contains(&"events/partner_withdrawn.v1.json"));
    }

    #[test]
    fn closing_refuses_unknown_keys_only_where_keys_are_described() {
        let open = serde_json::json!({
            "type": "object",
            "properties": {"a": {"type": "object", "properties": {"b": {}}}},
            "$defs": {"M": {"type": "object", "additionalProperties": {"type": "string"}}}
        });
        let closed = closed(&open);
        assert_eq!(closed["additionalProperties"], false);
        assert_eq!(closed["properties"]["a"]["additionalProperties"], false);
        assert_eq!(
            closed["$defs"]["M"]["additionalProperties"]["type"],
            "string"
        );
    }
}
