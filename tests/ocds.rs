//! `roundtable export-ocds` end to end: the concluded Harbourside agreement (the sample minutes), imported
//! through the binary, exported as an OCDS release package and, with `--compiled`, as a
//! record package; then `tests/ocds/check_ocds.py` checks with the reference tools that
//! every release validates against the OCDS release schema with the PPP profile
//! (`tests/data/ocds-ppp/`, Python's `jsonschema`), and that `ocdsmerge` merging the releases
//! gives exactly the compiled release Roundtable wrote.
//!
//! Needs `python3 -m pip install ocdsmerge==0.8.0 jsonschema==4.26.0` (.ci/run does it);
//! without them the test fails, saying so.

mod common;

use std::process::Command;

use common::{Store, sample_minutes, workspace_root};
use serde_json::Value;

#[test]
fn the_sample_export_validates_and_ocdsmerge_gives_the_compiled_release() {
    let store = Store::embedded();
    let run = store.import(&sample_minutes("harbourside-waste.jsonl"), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let dir = tempfile::tempdir().expect("temp dir");
    let releases = dir.path().join("releases.json");
    let record = dir.path().join("record.json");
    let common = [
        "--published-date",
        "2027-03-01T12:00:00Z",
        "--ocid-prefix",
        "ocds-a1b2c3",
    ];
    let out = |path: &std::path::Path| path.display().to_string();
    let mut args = vec!["export-ocds", "harbourside-waste", "-o"];
    let releases_arg = out(&releases);
    args.push(&releases_arg);
    args.extend(common);
    let run = store.run(&args);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("wrote the OCDS release package"),
        "{run:?}"
    );
    let mut args = vec!["export-ocds", "harbourside-waste", "--compiled", "-o"];
    let record_arg = out(&record);
    args.push(&record_arg);
    args.extend(common);
    let run = store.run(&args);
    assert_eq!(run.code, 0, "{run:?}");

    let package: Value =
        serde_json::from_slice(&std::fs::read(&releases).expect("read")).expect("JSON");
    assert_eq!(package["publishedDate"], "2027-03-01T12:00:00Z");
    assert_eq!(
        package["releases"][0]["ocid"],
        "ocds-a1b2c3-harbourside-waste"
    );

    let root = workspace_root();
    let check = Command::new("python3")
        .arg(root.join("tests/ocds/check_ocds.py"))
        .arg(root.join("tests/data/ocds-ppp/release-schema.json"))
        .arg(&releases)
        .arg(&record)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&check.stdout);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        check.status.success(),
        "check_ocds.py failed ({}): {stderr}{}",
        check.status,
        if check.status.code() == Some(3) {
            "\ninstall the reference tools: python3 -m pip install ocdsmerge==0.8.0 jsonschema==4.26.0"
        } else {
            ""
        }
    );
    let summary: Value = serde_json::from_str(stdout.trim()).expect("one line of JSON");
    // The opening, four clauses agreed for the first time, the amendment of `collection`
    // (version 2), the union's commitment made after five signatures, the conclusion.
    assert_eq!(summary["releases"], 8, "{summary}");
    assert_eq!(
        summary["compiled_id"],
        "ocds-a1b2c3-harbourside-waste-2027-06-08T11:15:00Z"
    );
}

#[test]
fn export_ocds_of_an_unknown_negotiation_fails_clearly() {
    let store = Store::embedded();
    let run = store.import(&sample_minutes("harbourside-waste.jsonl"), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = store.run(&["export-ocds", "no-such-negotiation"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("no recorded events"), "{run:?}");
    let run = store.run(&["export-ocds", "Bad.Id"]);
    assert_eq!(run.code, 2, "{run:?}");
    let run = store.run(&[
        "export-ocds",
        "harbourside-waste",
        "--ocid-prefix",
        "ocds x",
    ]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("ocid prefix"), "{run:?}");
}
