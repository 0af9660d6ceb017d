//! `docs/asyncapi.yaml` describes the NATS subjects, streams and bucket with the
//! checked-in schemas: it parses as YAML, validates against the AsyncAPI 3.0.0 JSON
//! Schema (from the `@asyncapi/specs` npm package, which `scripts/ensure-test-tools`
//! installs), every `$ref` resolves (to a part of the document, or to a file that
//! exists), and every published schema file is the payload of some message.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use roundtable_contracts::schema_files;
use serde_json::Value;

/// The `@asyncapi/specs` release the tools script installs.
const SPECS: &str = "@asyncapi/specs@6.11.1";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn document() -> Value {
    let path = repo().join("docs/asyncapi.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("docs/asyncapi.yaml: {e}"))
}

/// Every `$ref` value in `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn the_document_is_asyncapi_3_and_valid() {
    let doc = document();
    assert_eq!(doc["asyncapi"], "3.0.0");
    let specs = std::env::var_os("ROUNDTABLE_ASYNCAPI_SPECS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".tools/npm/node_modules/@asyncapi/specs"));
    let schema_path = specs.join("schemas/3.0.0.json");
    let Ok(text) = std::fs::read_to_string(&schema_path) else {
        panic!(
            "the AsyncAPI 3.0.0 JSON Schema is missing at {}: run scripts/ensure-test-tools \
             (npm install --prefix .tools/npm {SPECS}), or point ROUNDTABLE_ASYNCAPI_SPECS at \
             an installed @asyncapi/specs",
            schema_path.display()
        )
    };
    let schema: Value = serde_json::from_str(&text).expect("the AsyncAPI schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the AsyncAPI schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .take(10)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "docs/asyncapi.yaml is not valid AsyncAPI 3.0.0: {errors:#?}"
    );
}

#[test]
fn every_reference_resolves() {
    let doc = document();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        if let Some(pointer) = r.strip_prefix('#') {
            assert!(
                doc.pointer(pointer).is_some(),
                "docs/asyncapi.yaml: {r} points at nothing"
            );
        } else {
            let file = repo().join("docs").join(&r);
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("docs/asyncapi.yaml refers to {r}: {e}"));
            serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{r} is not JSON: {e}"));
        }
    }
}

#[test]
fn every_published_schema_is_a_message_payload() {
    let doc = document();
    let mut all = Vec::new();
    refs(&doc["components"]["messages"], &mut all);
    let referenced: BTreeSet<String> = all
        .into_iter()
        .filter_map(|r| r.strip_prefix("./schemas/").map(str::to_owned))
        .collect();
    for file in schema_files() {
        assert!(
            referenced.contains(&file.path),
            "no message of docs/asyncapi.yaml has the payload schemas/{}",
            file.path
        );
    }
    let channels = &doc["channels"];
    assert_eq!(
        channels["events"]["address"],
        "roundtable.events.{negotiation_id}"
    );
    assert_eq!(
        channels["changes"]["address"],
        "roundtable.changes.{negotiation_id}"
    );
    assert_eq!(
        channels["events"]["x-jetstream-stream"],
        "ROUNDTABLE_EVENTS"
    );
    assert_eq!(
        channels["changes"]["x-jetstream-stream"],
        "ROUNDTABLE_CHANGES"
    );
}
