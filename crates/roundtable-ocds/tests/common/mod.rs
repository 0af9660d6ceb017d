//! What the OCDS tests share: the repository's files, minutes recorded without a store,
//! and the vendored PPP release schema as a validator.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use roundtable_domain::RecordedEvent;
use serde_json::Value;

/// A file of the repository, by its path from the workspace root.
pub(crate) fn repository_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The text of a repository file.
pub(crate) fn read(path: &str) -> String {
    let file = repository_file(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// The events of a minutes text, decided and sealed in order (every line accepted).
pub(crate) fn record(minutes: &str) -> Vec<RecordedEvent> {
    roundtable_testkit::minutes::record(minutes).unwrap_or_else(|e| panic!("{e}"))
}

/// The packages' publication date used by the tests.
pub(crate) fn published() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2027-03-01T00:00:00Z")
        .expect("a time")
        .with_timezone(&Utc)
}

/// The vendored OCDS release schema patched with the PPP profile.
pub(crate) const PPP_SCHEMA: &str = "tests/data/ocds-ppp/release-schema.json";

/// A draft-04 validator of the PPP release schema, with formats.
pub(crate) fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&read(PPP_SCHEMA)).expect("schema JSON");
    roundtable_testkit::schema::draft4(&schema).expect("the PPP release schema compiles")
}

/// Asserts that `release` validates, naming `what` and the first errors if not.
pub(crate) fn assert_valid(validator: &jsonschema::Validator, what: &str, release: &Value) {
    let errors = roundtable_testkit::schema::errors(validator, release, 10);
    assert!(
        errors.is_empty(),
        "{what} is not a valid OCDS PPP release: {errors:#?}"
    );
}
