//! Every event, view and change message of the project's sample minutes
//! (`examples/minutes/harbourside-waste.jsonl`) and of the vendored freshwater
//! consultation (`tests/data/polis-freshwater/`) validates against the schemas checked in
//! under `docs/schemas/`, with a real validator (the `jsonschema` crate): as published
//! (open), and closed to keys the schema does not name, so that a field written but
//! missing from its schema is caught.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jsonschema::Validator;
use roundtable_app::ChangeReader;
use roundtable_contracts::{AGREEMENT_VIEW, CHANGE, closed, event_schema_path};
use roundtable_domain::{Projection, RecordedEvent};
use roundtable_testkit::schema;
use serde_json::Value;

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
        let build = |s: &Value| schema::validator(s).unwrap_or_else(|e| panic!("{path}: {e}"));
        Checked {
            path: path.to_owned(),
            open: build(&schema),
            closed: build(&closed(&schema)),
        }
    }

    fn check(&self, what: &str, instance: &Value) {
        for (name, validator) in [("", &self.open), (" (closed)", &self.closed)] {
            let errors = schema::errors(validator, instance, 5);
            assert!(
                errors.is_empty(),
                "{what} does not validate against docs/schemas/{}{name}: {errors:#?}",
                self.path
            );
        }
    }
}

/// The events of `minutes`, decided and sealed in order (`roundtable_testkit::minutes`,
/// shared with the OCDS tests), with the view after each.
fn record(minutes: &str) -> Vec<(RecordedEvent, Value)> {
    let events = roundtable_testkit::minutes::record(minutes).unwrap_or_else(|e| panic!("{e}"));
    let mut projection = Projection::new();
    events
        .into_iter()
        .map(|sealed| {
            projection.apply(&sealed).expect("the chain links");
            let view = serde_json::to_value(projection.view.as_ref().expect("a view"))
                .expect("the view serializes");
            (sealed, view)
        })
        .collect()
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
