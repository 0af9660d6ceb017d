//! Every event, view and change message of the project's sample minutes
//! (`examples/minutes/harbourside-waste.jsonl`) and of the vendored freshwater
//! consultation (`tests/data/polis-freshwater/`) validates against the schemas checked in
//! under `docs/schemas/`, with a real validator (the `jsonschema` crate): as published
//! (open), and closed to keys the schema does not name, so that a field written but
//! missing from its schema is caught.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::Duration;
use jsonschema::Validator;
use roundtable_app::ChangeReader;
use roundtable_contracts::{AGREEMENT_VIEW, CHANGE, closed, event_schema_path};
use roundtable_domain::minutes::parse_line;
use roundtable_domain::{CommandEnvelope, Projection, RecordedEvent, decide};
use serde_json::Value;
use uuid::Uuid;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A minutes file of the repository, by its path from the workspace root.
fn minutes(path: &str) -> String {
    let file = repo().join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

const SAMPLE: &str = "examples/minutes/harbourside-waste.jsonl";
const FRESHWATER: &str = "tests/data/polis-freshwater/polis-freshwater.jsonl";

/// An open and a closed validator of one checked-in schema file.
struct Checked {
    path: String,
    open: Validator,
    closed: Validator,
}

impl Checked {
    fn load(path: &str) -> Checked {
        let file = repo().join("docs/schemas").join(path);
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
        let build = |s: &Value| {
            jsonschema::options()
                .should_validate_formats(true)
                .build(s)
                .unwrap_or_else(|e| panic!("{path}: {e}"))
        };
        Checked {
            path: path.to_owned(),
            open: build(&schema),
            closed: build(&closed(&schema)),
        }
    }

    fn check(&self, what: &str, instance: &Value) {
        for (name, validator) in [("", &self.open), (" (closed)", &self.closed)] {
            let errors: Vec<String> = validator
                .iter_errors(instance)
                .take(5)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{what} does not validate against docs/schemas/{}{name}: {errors:#?}",
                self.path
            );
        }
    }
}

/// The events of `minutes`, decided and sealed in order, with the view after each.
fn record(minutes: &str) -> Vec<(RecordedEvent, Value)> {
    let mut projection = Projection::new();
    let mut out = Vec::new();
    for (n, line) in minutes.lines().enumerate() {
        let Some(m) = parse_line(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1)) else {
            continue;
        };
        let cmd = CommandEnvelope {
            command_id: m.command_id,
            negotiation_id: m.negotiation_id,
            actor: m.actor,
            occurred_at: m.at.expect("every line has an at"),
            command: m.command,
        };
        let event = decide(projection.view.as_ref(), &cmd)
            .unwrap_or_else(|r| panic!("line {}: {r:?}", n + 1));
        let version = projection.version + 1;
        let sealed = RecordedEvent::seal(
            &cmd,
            event,
            version,
            &projection.last_hash,
            Uuid::from_u128(0x0196_0000_0000_7000_8000_0000_0000_0000 + u128::from(version)),
            cmd.occurred_at + Duration::milliseconds(1500),
        );
        projection.apply(&sealed).expect("the chain links");
        let view = serde_json::to_value(projection.view.as_ref().expect("a view"))
            .expect("the view serializes");
        out.push((sealed, view));
    }
    out
}

fn validate_minutes(name: &str, expected_events: usize) {
    let recorded = record(&minutes(name));
    assert_eq!(recorded.len(), expected_events, "{name}");
    let mut events: BTreeMap<String, Checked> = BTreeMap::new();
    let view = Checked::load(AGREEMENT_VIEW);
    let change = Checked::load(CHANGE);
    let mut changes = ChangeReader::new(recorded[0].0.negotiation_id.clone());
    for (event, view_json) in &recorded {
        let path = event_schema_path(event.event_type(), u64::from(event.schema_version));
        let schema = events
            .entry(path.clone())
            .or_insert_with(|| Checked::load(&path));
        // The stored form, parsed back from the bytes stores keep.
        let stored: Value = serde_json::from_slice(&event.to_bytes()).expect("stored JSON");
        let what = format!("{name} event {} ({})", event.version, event.event_type());
        schema.check(&what, &stored);
        view.check(
            &format!("{name} view at version {}", event.version),
            view_json,
        );
        let message = changes.apply(event).expect("the change of the event");
        let message = serde_json::to_value(&message).expect("the change serializes");
        change.check(&format!("{name} change {}", event.version), &message);
    }
}

#[test]
fn every_sample_event_view_and_change_validates() {
    validate_minutes(SAMPLE, 73);
}

#[test]
fn every_freshwater_event_view_and_change_validates() {
    validate_minutes(FRESHWATER, 3748);
}

#[test]
fn a_field_missing_from_a_schema_is_caught() {
    let recorded = record(&minutes(SAMPLE));
    let schema = Checked::load(&event_schema_path("proposal_made", 1));
    let (made, _) = recorded
        .iter()
        .find(|(e, _)| e.event_type() == "proposal_made")
        .expect("a proposal");
    let mut stored: Value = serde_json::from_slice(&made.to_bytes()).expect("stored JSON");
    stored["data"]["surprise"] = Value::Bool(true);
    assert!(schema.open.is_valid(&stored), "published schemas are open");
    assert!(!schema.closed.is_valid(&stored));
    stored["data"]["title"] = Value::Null;
    assert!(
        !schema.open.is_valid(&stored),
        "optional event fields are never null"
    );
}
