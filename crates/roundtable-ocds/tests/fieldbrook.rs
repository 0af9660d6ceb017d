//! Life after the signature as OCDS (docs/OCDS.md, "After the signature"): the sample
//! minutes `examples/minutes/fieldbrook-sanitation.jsonl` (a sanitation partnership
//! that concludes, delivers for two years with progress and shortfalls, loses its
//! tanker operator, whose commitment passes to the emptiers, renegotiates its tariff in
//! a round and concludes again) exported with the PPP profile. Every release and the
//! compiled release validate against the vendored PPP release schema; the compiled
//! release equals the last release (nothing is lost in merging) and, through
//! `tests/ocds/check_ocds.py`, what the reference tool `ocdsmerge` compiles; and it
//! carries the amendment and the final terms.

mod common;

use std::process::Command;

use common::{PPP_SCHEMA, assert_valid, published, read, record, repository_file, validator};
use roundtable_domain::RecordedEvent;
use roundtable_ocds::{Options, compile, record_package, release_package};
use serde_json::{Map, Value, json};

const OCID: &str = "ocds-xxxxxx-roundtable-fieldbrook-sanitation";

fn sample() -> String {
    read("examples/minutes/fieldbrook-sanitation.jsonl")
}

/// The sample, then `extra` minutes lines.
fn sample_and(extra: &[&str]) -> Vec<RecordedEvent> {
    let mut text = sample();
    for line in extra {
        text.push('\n');
        text.push_str(line);
    }
    record(&text)
}

fn releases_of(events: &[RecordedEvent]) -> Vec<Value> {
    let package = release_package(events, &Options::new(published())).expect("exports");
    package["releases"].as_array().expect("releases").clone()
}

fn compiled_of(events: &[RecordedEvent]) -> Value {
    let record = record_package(events, &Options::new(published())).expect("exports");
    record["records"][0]["compiledRelease"].clone()
}

/// The item of `list` (an array of objects) whose `id` is `id`.
fn item<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .and_then(|items| items.iter().find(|i| i["id"] == id))
        .unwrap_or_else(|| panic!("no item {id:?} in {list}"))
}

fn tags(releases: &[Value]) -> Vec<String> {
    releases
        .iter()
        .map(|r| {
            r["tag"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("+")
                })
                .unwrap_or_default()
        })
        .collect()
}

/// A release without the fields merging leaves out (`id`, `date`, `tag`).
fn merged_fields(release: &Value) -> Map<String, Value> {
    let mut fields = release.as_object().expect("an object").clone();
    for key in ["id", "date", "tag"] {
        fields.remove(key);
    }
    fields
}

#[test]
fn every_release_validates_and_the_compiled_release_is_the_last_snapshot() {
    let events = record(&sample());
    let releases = releases_of(&events);
    let validator = validator();
    for r in &releases {
        assert_valid(&validator, &format!("release {}", r["id"]), r);
    }
    let compiled = compiled_of(&events);
    assert_valid(&validator, "the compiled release", &compiled);
    assert_eq!(Some(compiled.clone()), compile(&releases));
    // Every list keeps the items of earlier releases and no field is dropped, so
    // merging loses nothing: the compiled release is the last release.
    let last = releases.last().expect("releases");
    assert_eq!(merged_fields(&compiled), merged_fields(last));
    assert_eq!(compiled["date"], last["date"]);
    // Dates never go back.
    let dates: Vec<&str> = releases.iter().filter_map(|r| r["date"].as_str()).collect();
    assert!(dates.windows(2).all(|w| w[0] <= w[1]), "{dates:?}");
}

#[test]
fn the_releases_follow_the_life_of_the_partnership() {
    let releases = releases_of(&record(&sample()));
    let mut expected = vec!["tender", "tenderUpdate", "tenderUpdate", "tenderUpdate"];
    expected.push("award+contract"); // 18 October 2027
    expected.push("implementation"); // the licence fulfilled
    // Progress, fulfilments, shortfalls and their resolutions up to April 2029.
    expected.extend(["implementationUpdate"; 16]);
    expected.push("contractAmendment"); // Brookline leaves, its tankers pass on
    expected.push("implementationUpdate"); // the tanker fees shortfall resolved
    expected.push("contractAmendment"); // the round concluded
    expected.push("implementationUpdate"); // the Association's first progress
    assert_eq!(tags(&releases), expected);
    assert!(releases.iter().all(|r| r["ocid"] == OCID));
    // Nothing in the round is released before its conclusion: the adoption of the
    // indexed tariff is no tender amendment, and the tender stays complete.
    assert!(
        releases
            .iter()
            .all(|r| !tags(std::slice::from_ref(r))[0].starts_with("tenderAmendment"))
    );
    let conclusion = &releases[4];
    for r in &releases[4..] {
        assert_eq!(r["tender"], conclusion["tender"], "release {}", r["id"]);
        assert_eq!(r["awards"], conclusion["awards"], "release {}", r["id"]);
    }
}

#[test]
fn the_round_is_a_contract_amendment_with_its_rationale_and_what_changed() {
    let events = record(&sample());
    let releases = releases_of(&events);
    let concluded_again = releases
        .iter()
        .rposition(|r| r["tag"] == json!(["contractAmendment"]))
        .expect("a contract amendment");
    let release = &releases[concluded_again];
    let amendment = item(
        &release["contracts"][0]["amendments"],
        "round-r-tariff-2029",
    );
    assert_eq!(amendment["date"], "2029-06-07T10:30:00Z");
    assert_eq!(
        amendment["rationale"],
        "the lifeline fee was agreed for two years, and the tankers have a new operator"
    );
    assert_eq!(amendment["releaseID"], release["id"]);
    assert_eq!(
        amendment["amendsReleaseID"],
        releases[concluded_again - 1]["id"]
    );
    let what = amendment["description"].as_str().expect("a description");
    for part in [
        "clause tariff amended (version 1 to version 2) from proposal p-tariff-3",
        "commitment c-fbc-subsidy-2 made by Fieldbrook Borough Council",
        "4100000.00 KES",
        "agreement version 13 to version 15",
        "concluded with the signatures of Fieldbrook Borough Council, Fieldbrook Pit Emptiers' Association, Hillside and Ferry Row Toilet Committees, Fieldbrook Consumers' Council;",
    ] {
        assert!(what.contains(part), "{part:?} not in {what:?}");
    }

    // The compiled release carries the amendment and the final terms.
    let compiled = compiled_of(&events);
    let contract = &compiled["contracts"][0];
    assert_eq!(contract["status"], "active");
    let amendments = contract["amendments"].as_array().expect("amendments");
    let ids: Vec<&str> = amendments.iter().filter_map(|a| a["id"].as_str()).collect();
    assert_eq!(ids, ["withdrawal-brookline", "round-r-tariff-2029"]);
    assert_eq!(
        item(&contract["amendments"], "round-r-tariff-2029"),
        amendment
    );
    let tariff = item(&contract["documents"], "clause-tariff");
    assert_eq!(tariff["documentType"], "contractSigned");
    assert!(
        tariff["title"]
            .as_str()
            .is_some_and(|t| t.contains("version 2") && t.contains("Lifeline fee, indexed")),
        "{tariff}"
    );
    assert!(
        tariff["description"]
            .as_str()
            .is_some_and(|t| t.starts_with("Households pay a lifeline fee of KES 650")),
        "{tariff}"
    );
    assert_eq!(tariff["dateModified"], "2029-05-24T10:00:00Z");
    // The new subsidy is in force: a milestone and a finance line.
    let milestones = &contract["implementation"]["milestones"];
    assert_eq!(item(milestones, "c-fbc-subsidy-2")["status"], "scheduled");
    assert_eq!(
        item(milestones, "c-fbc-subsidy-2")["dueDate"],
        "2031-09-30T00:00:00Z"
    );
    assert_eq!(
        item(&contract["finance"], "c-fbc-subsidy-2")["value"],
        json!({"amount": 4_100_000.0, "currency": "KES"})
    );
    // The contract was signed once; the round's signatures are the amendment's.
    assert_eq!(contract["dateSigned"], "2027-10-18T10:20:00Z");
    assert_eq!(contract["period"]["startDate"], "2027-10-18T10:30:00Z");
}

#[test]
fn while_the_round_is_open_the_contract_keeps_the_terms_in_force() {
    let events = record(&sample());
    let releases = releases_of(&events);
    // The last release before the round concluded: the tanker fees resolved, 6 May 2029.
    let during = releases
        .iter()
        .rfind(|r| r["date"].as_str() < Some("2029-06-07"))
        .expect("a release before the round concluded");
    let contract = &during["contracts"][0];
    let tariff = item(&contract["documents"], "clause-tariff");
    assert!(
        tariff["title"]
            .as_str()
            .is_some_and(|t| t.contains("version 1")),
        "{tariff}"
    );
    let milestones = contract["implementation"]["milestones"]
        .as_array()
        .expect("milestones");
    assert!(!milestones.iter().any(|m| m["id"] == "c-fbc-subsidy-2"));
    assert!(contract.get("milestones").is_none());
}

#[test]
fn delivery_is_the_contracts_implementation() {
    let compiled = compiled_of(&record(&sample()));
    let implementation = &compiled["contracts"][0]["implementation"];
    let milestones = &implementation["milestones"];
    let licence = item(milestones, "c-wsra-licence");
    assert_eq!(licence["status"], "met");
    assert_eq!(licence["dateMet"], "2027-12-14T00:00:00Z");
    assert_eq!(licence["dueDate"], "2027-12-31T00:00:00Z");
    assert_eq!(licence["type"], "approval");
    // Brookline's tankers: part delivered, then passed to the Association.
    let old = item(milestones, "c-brookline-tankers");
    assert_eq!(old["status"], "partiallyMet");
    assert_eq!(old["dateModified"], "2029-04-30T09:00:00Z");
    assert!(
        old["description"]
            .as_str()
            .is_some_and(|d| d.contains("transferred to c-emptiers-tankers")),
        "{old}"
    );
    let new = item(milestones, "c-emptiers-tankers");
    assert_eq!(new["status"], "scheduled");
    assert!(
        new["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("Fieldbrook Pit Emptiers' Association")),
        "{new}"
    );
    assert!(
        new["description"]
            .as_str()
            .is_some_and(|d| d.contains("transferred from c-brookline-tankers")),
        "{new}"
    );
    assert_eq!(item(milestones, "c-aquafund-grant")["status"], "met");
    assert_eq!(
        item(milestones, "c-brookline-plant")["dateMet"],
        "2028-08-29T00:00:00Z"
    );
    // Every commitment in force at some conclusion, and the one transferred in.
    assert_eq!(milestones.as_array().map(Vec::len), Some(11));

    // One transaction per delivered amount, in the commitment's currency.
    let transactions = &implementation["transactions"];
    let amounts: Vec<(String, Value)> = transactions
        .as_array()
        .expect("transactions")
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap_or("").to_owned(),
                t["value"].clone(),
            )
        })
        .collect();
    let kes = |n: f64| json!({"amount": n, "currency": "KES"});
    assert_eq!(
        amounts,
        [
            ("c-aquafund-grant-1".to_owned(), kes(600_000.0)),
            ("c-brookline-tankers-1".to_owned(), kes(400_000.0)),
            ("c-fbc-subsidy-1".to_owned(), kes(1_800_000.0)),
            ("c-brookline-tankers-2".to_owned(), kes(900_000.0)),
            ("c-emptiers-tankers-1".to_owned(), kes(150_000.0)),
        ]
    );
    let subsidy = item(transactions, "c-fbc-subsidy-1");
    assert_eq!(subsidy["date"], "2028-10-03T09:00:00Z");
    assert_eq!(
        subsidy["payer"],
        json!({"id": "fbc", "name": "Fieldbrook Borough Council"})
    );
    // A service delivered is not a payment by the one who delivers it.
    assert!(
        item(transactions, "c-brookline-tankers-1")
            .get("payer")
            .is_none()
    );
    // Every report, with or without an amount, is a progress report document.
    let documents = &implementation["documents"];
    let report = item(documents, "progress-c-hillside-reports-1");
    assert_eq!(report["documentType"], "physicalProgressReport");
    assert_eq!(
        report["description"],
        "six monthly reports received, January to June"
    );
    assert_eq!(report["datePublished"], "2028-07-10T09:00:00Z");
    let fulfilled = item(documents, "fulfilment-c-fbc-site");
    assert_eq!(fulfilled["description"], "lease signed for 15 years");
}

#[test]
fn shortfalls_are_performance_failures_with_their_penalties() {
    let compiled = compiled_of(&record(&sample()));
    let implementation = &compiled["contracts"][0]["implementation"];
    let failures = &implementation["performanceFailures"];
    assert_eq!(failures.as_array().map(Vec::len), Some(4));
    let wait = item(failures, "s-ferry-row-wait");
    assert_eq!(wait["category"], "major");
    assert_eq!(wait["events"], 1);
    assert_eq!(
        wait["period"],
        json!({"startDate": "2028-05-06T09:00:00Z", "endDate": "2028-05-20T09:00:00Z"})
    );
    assert_eq!(wait["penaltyImposed"], "25000.00 KES");
    assert_eq!(item(failures, "s-plant-late")["category"], "critical");
    // Still open: no end to its period, no penalty.
    let late = item(failures, "s-subsidy-late");
    assert_eq!(late["period"], json!({"startDate": "2029-02-10T09:00:00Z"}));
    assert!(late.get("penaltyImposed").is_none());
    // Resolved without a penalty.
    let fees = item(failures, "s-tanker-fees");
    assert_eq!(fees["period"]["endDate"], "2029-05-06T09:00:00Z");
    assert!(fees.get("penaltyImposed").is_none());
    // What fell short, who reported it, and how it was resolved.
    let report = item(&implementation["documents"], "shortfall-s-ferry-row-wait");
    let text = report["description"].as_str().unwrap_or_default();
    for part in [
        "Ferry Row waited 11 days",
        "Hillside and Ferry Row Toilet Committees",
        "c-brookline-tankers",
        "Brookline keeps one tanker on standby",
    ] {
        assert!(text.contains(part), "{part:?} not in {text:?}");
    }
}

#[test]
fn a_partner_that_left_stays_a_party_and_its_commitment_passes_on() {
    let events = record(&sample());
    let releases = releases_of(&events);
    let left = releases
        .iter()
        .find(|r| r["tag"] == json!(["contractAmendment"]))
        .expect("the withdrawal");
    assert_eq!(left["date"], "2029-04-30T09:00:00Z");
    let amendment = item(&left["contracts"][0]["amendments"], "withdrawal-brookline");
    assert_eq!(
        amendment["rationale"],
        "Brookline has sold its sanitation business and leaves Fieldbrook"
    );
    let what = amendment["description"].as_str().unwrap_or_default();
    assert!(
        what.contains("Brookline Sanitation Services Ltd withdrew")
            && what.contains(
                "commitment c-brookline-tankers transferred to Fieldbrook Pit Emptiers' Association as c-emptiers-tankers"
            ),
        "{what}"
    );

    let compiled = compiled_of(&events);
    let brookline = item(&compiled["parties"], "brookline");
    assert_eq!(brookline["roles"], json!(["privateParty", "supplier"]));
    assert_eq!(brookline["details"]["roundtable"]["status"], "withdrawn");
    assert_eq!(
        brookline["details"]["roundtable"]["withdrawal"],
        json!({"date": "2029-04-30T09:00:00Z",
               "reason": "Brookline has sold its sanitation business and leaves Fieldbrook"})
    );
    assert_eq!(
        item(&compiled["parties"], "fbc")["details"]["roundtable"]["status"],
        "active"
    );
    // It signed the contract, and stays among its signatories; the award is unchanged.
    let signatories = compiled["contracts"][0]["signatories"]
        .as_array()
        .expect("signatories");
    assert_eq!(signatories.len(), 5);
    assert!(signatories.iter().any(|s| s["id"] == "brookline"));
    assert!(
        compiled["awards"][0]["suppliers"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["id"] == "brookline"))
    );
}

#[test]
fn assets_are_listed_under_the_partner_that_brings_them() {
    let compiled = compiled_of(&record(&sample()));
    let emptiers = item(&compiled["parties"], "emptiers");
    let assets = &emptiers["details"]["roundtable"]["assets"];
    assert_eq!(
        assets,
        &json!([
            {"id": "a-emptiers-crews", "kind": "workforce", "description": "62 registered manual and mechanical emptiers"},
            {"id": "a-emptiers-routes", "kind": "local_knowledge", "description": "the lanes and yards tankers cannot reach, and who lives there"},
            {"id": "a-emptiers-tankers", "kind": "infrastructure", "description": "the three tankers, bought from Brookline"},
        ])
    );
    // The milestone of a commitment names the assets it draws on.
    let site = item(
        &compiled["contracts"][0]["implementation"]["milestones"],
        "c-fbc-site",
    );
    assert!(
        site["description"]
            .as_str()
            .is_some_and(|d| d.contains("draws on a-fbc-land")),
        "{site}"
    );
    // A partner without assets has no asset list.
    let total: usize = compiled["parties"]
        .as_array()
        .expect("parties")
        .iter()
        .filter_map(|p| p["details"]["roundtable"]["assets"].as_array())
        .map(Vec::len)
        .sum();
    assert_eq!(total, 12);
}

#[test]
fn a_termination_is_the_contracts_status_with_its_date_and_reason() {
    let events = sample_and(&[
        r#"{"at": "2030-02-01T09:00:00Z", "negotiation_id": "fieldbrook-sanitation", "by": "secretariat", "do": "terminate", "reason": "the Borough takes the service in house"}"#,
    ]);
    let releases = releases_of(&events);
    let validator = validator();
    for r in &releases {
        assert_valid(&validator, &format!("release {}", r["id"]), r);
    }
    let last = releases.last().expect("releases");
    assert_eq!(last["tag"], json!(["contractTermination"]));
    let contract = &last["contracts"][0];
    assert_eq!(contract["status"], "terminated");
    assert_eq!(contract["period"]["endDate"], "2030-02-01T09:00:00Z");
    assert_eq!(
        contract["description"],
        "Terminated on 2030-02-01T09:00:00Z: the Borough takes the service in house"
    );
    // What was still due will not be delivered.
    let milestones = &contract["implementation"]["milestones"];
    assert_eq!(item(milestones, "c-emptiers-tankers")["status"], "notMet");
    assert_eq!(item(milestones, "c-wsra-licence")["status"], "met");
    let compiled = compiled_of(&events);
    assert_valid(&validator, "the compiled release", &compiled);
    assert_eq!(merged_fields(&compiled), merged_fields(last));
}

#[test]
fn a_negotiation_abandoned_before_its_conclusion_is_a_cancelled_tender() {
    let mut text: Vec<&str> = Vec::new();
    let sample = sample();
    for line in sample.lines() {
        if line.contains(r#""do": "sign""#) {
            break;
        }
        text.push(line);
    }
    text.push(
        r#"{"at": "2027-10-10T09:00:00Z", "negotiation_id": "fieldbrook-sanitation", "by": "secretariat", "do": "terminate", "reason": "no operator would sign"}"#,
    );
    let events = record(&text.join("\n"));
    let releases = releases_of(&events);
    let last = releases.last().expect("releases");
    assert_eq!(last["tag"], json!(["tenderCancellation"]));
    assert_eq!(last["tender"]["status"], "cancelled");
    assert_eq!(
        last["tender"]["description"],
        "Abandoned on 2027-10-10T09:00:00Z: no operator would sign"
    );
    assert!(releases.iter().all(|r| r.get("contracts").is_none()));
    assert_valid(&validator(), "the cancellation", last);
}

/// The reference tools agree: every release and the compiled release validate with
/// Python's `jsonschema`, and `ocdsmerge` compiles the releases into exactly the
/// compiled release Roundtable wrote (`tests/ocds/check_ocds.py`; it needs
/// `python3 -m pip install ocdsmerge==0.8.0 jsonschema==4.26.0`, which
/// `scripts/ensure-test-tools` installs).
#[test]
fn ocdsmerge_compiles_the_releases_as_roundtable_does() {
    let events = sample_and(&[
        r#"{"at": "2030-02-01T09:00:00Z", "negotiation_id": "fieldbrook-sanitation", "by": "secretariat", "do": "terminate", "reason": "the Borough takes the service in house"}"#,
    ]);
    // And the version 1 sample, whose export changed shape (the implementation's
    // milestones, the parties' status).
    let harbourside = record(&read("examples/minutes/harbourside-waste.jsonl"));
    for events in [&events[..events.len() - 1], &events[..], &harbourside[..]] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let releases = dir.path().join("releases.json");
        let record = dir.path().join("record.json");
        let opts = Options::new(published());
        let write = |path: &std::path::Path, value: &Value| {
            std::fs::write(path, serde_json::to_vec(value).expect("JSON")).expect("written");
        };
        write(&releases, &release_package(events, &opts).expect("exports"));
        write(&record, &record_package(events, &opts).expect("exports"));
        let check = Command::new("python3")
            .arg(repository_file("tests/ocds/check_ocds.py"))
            .arg(repository_file(PPP_SCHEMA))
            .arg(&releases)
            .arg(&record)
            .output()
            .expect("python3 runs");
        let stderr = String::from_utf8_lossy(&check.stderr);
        assert!(
            check.status.success(),
            "check_ocds.py failed ({}): {stderr}{}",
            check.status,
            if check.status.code() == Some(3) {
                "\ninstall the reference tools: scripts/ensure-test-tools"
            } else {
                ""
            }
        );
        let summary: Value = serde_json::from_slice(&check.stdout).expect("one line of JSON");
        let last = events.last().expect("events");
        let tag = match last.event_type() {
            "negotiation_terminated" => json!(["contractTermination"]),
            "negotiation_concluded" => json!(["award", "contract"]),
            _ => json!(["implementationUpdate"]),
        };
        assert_eq!(
            summary["tags"].as_array().and_then(|t| t.last()),
            Some(&tag),
            "{summary}"
        );
    }
}

#[test]
fn a_partner_leaving_without_commitments_in_force_is_a_contract_update() {
    // The regulator's only commitment (the licences) is fulfilled: its leaving changes
    // no term, so there is no amendment.
    let events = sample_and(&[
        r#"{"at": "2029-08-01T09:00:00Z", "negotiation_id": "fieldbrook-sanitation", "by": "wsra", "do": "withdraw_partner", "partner_id": "wsra", "reason": "licensing passes to the national authority"}"#,
    ]);
    let releases = releases_of(&events);
    let last = releases.last().expect("releases");
    assert_eq!(last["tag"], json!(["contractUpdate"]));
    let contract = &last["contracts"][0];
    assert_eq!(contract["amendments"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        item(&last["parties"], "wsra")["details"]["roundtable"]["status"],
        "withdrawn"
    );
    assert_eq!(
        item(&contract["implementation"]["milestones"], "c-wsra-licence")["status"],
        "met"
    );
    assert_valid(&validator(), "the update", last);
}

#[test]
fn a_round_that_changed_nothing_is_an_amendment_saying_so() {
    let events = sample_and(&[
        r#"{"at": "2029-09-01T09:00:00Z", "negotiation_id": "fieldbrook-sanitation", "by": "secretariat", "do": "open_round", "round_id": "r-review-2029", "reason": "the annual review"}"#,
        r#"{"at": "2029-09-08T09:00:00Z", "negotiation_id": "fieldbrook-sanitation", "by": "secretariat", "do": "conclude"}"#,
    ]);
    let releases = releases_of(&events);
    let last = releases.last().expect("releases");
    assert_eq!(last["tag"], json!(["contractAmendment"]));
    let amendment = item(&last["contracts"][0]["amendments"], "round-r-review-2029");
    assert_eq!(amendment["rationale"], "the annual review");
    let what = amendment["description"].as_str().unwrap_or_default();
    assert!(
        what.starts_with("no change to the terms; concluded with the signatures of")
            && what.ends_with("agreement version 15 to version 15"),
        "{what}"
    );
    assert_valid(&validator(), "the amendment", last);
}
