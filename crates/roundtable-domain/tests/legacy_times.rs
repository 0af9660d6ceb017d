//! Events an earlier release stored with times outside today's window
//! (`testdata/legacy/out-of-range-times.v1.jsonl`: `occurred_at` of
//! `+10000-01-01T23:58:59Z` and `-0001-12-31T23:59:00Z`, `due` of `+10000-01-01` and
//! `-0001-01-01`, written by that release's own code from minutes lines it accepted).
//!
//! The log is immutable, so the reader copes: every line decodes through both the
//! stored-bytes path and the JSON path, folds to the frozen view, and re-encodes to the
//! very bytes that were stored.

mod common;

use std::path::PathBuf;

use roundtable_domain::{Projection, RecordedEvent};

fn legacy(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/legacy")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn lines() -> Vec<Vec<u8>> {
    legacy("out-of-range-times.v1.jsonl")
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

#[test]
fn out_of_range_times_stored_earlier_decode_fold_and_reencode_byte_for_byte() {
    let lines = lines();
    assert_eq!(lines.len(), 4);
    let mut events = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let fast = RecordedEvent::decode(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let value: serde_json::Value = serde_json::from_slice(line).unwrap();
        let full =
            RecordedEvent::from_json(value).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        assert_eq!(fast, full, "line {}: both paths read the same event", i + 1);
        assert_eq!(
            String::from_utf8(full.to_bytes()).unwrap(),
            String::from_utf8(line.clone()).unwrap(),
            "line {} re-encodes to its stored bytes",
            i + 1
        );
        events.push(full);
    }
    assert_eq!(
        events[0]
            .occurred_at
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "+10000-01-01T23:58:59Z"
    );
    let view = Projection::fold(&events)
        .expect("the chain links")
        .view
        .expect("a view");
    // The view frozen by the release that stored the log, plus the fields contract
    // version 2 added, at their version 1 defaults.
    let frozen: serde_json::Value =
        serde_json::from_slice(&legacy("out-of-range-times.v1.view.json")).unwrap();
    let folded = serde_json::to_value(&view).unwrap();
    common::holds(&folded, &frozen, "view").unwrap();
    assert_eq!(
        folded["in_force_agreement_version"],
        serde_json::Value::Null
    );
    for list in ["rounds", "assets", "shortfalls"] {
        assert_eq!(folded[list], serde_json::json!([]), "{list}");
    }
    assert_eq!(folded["partners"][0]["status"], "active");
    for c in folded["commitments"].as_array().unwrap() {
        assert_eq!(c["progress"], serde_json::json!([]));
        assert_eq!(c["fulfilled_on"], serde_json::Value::Null);
    }
}

#[test]
fn a_legacy_time_in_any_other_spelling_is_still_refused() {
    // Only the exact form an earlier release wrote is read: the same instant spelt
    // another way (or a year no release could write) is not an event this log holds.
    let line = String::from_utf8(lines()[0].clone()).unwrap();
    for other in [
        "+10000-01-01T23:58:59+00:00",
        "10000-01-01T23:58:59Z",
        "+9999-01-01T00:00:00Z",
    ] {
        let edited = line.replace("+10000-01-01T23:58:59Z", other);
        let mut value: serde_json::Value = serde_json::from_str(&edited).unwrap();
        let map = value.as_object_mut().unwrap();
        map.remove("hash");
        let hash = roundtable_domain::envelope::content_hash(map);
        map.insert("hash".into(), hash.into());
        let bytes = roundtable_domain::canonical::to_canonical(&value);
        assert!(
            RecordedEvent::decode(&bytes).is_err(),
            "{other} is not a time an earlier release stored"
        );
        assert!(RecordedEvent::from_json(value).is_err(), "{other}");
    }
}
