//! The Lakeside minutes (../shared/scenarios/) exported as OCDS: every release, and
//! the compiled release, validates against the OCDS release schema patched with the PPP
//! profile (../shared/ocds/ppp-release-schema.json, JSON Schema draft-04) with the
//! `jsonschema` crate; and the mapping says what docs/OCDS.md says it does.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use roundtable_domain::minutes::parse_line;
use roundtable_domain::{CommandEnvelope, Projection, RecordedEvent, decide};
use roundtable_ocds::{Options, compile, ocid, record_package, release_package};
use serde_json::{Value, json};
use uuid::Uuid;

fn shared(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(path)
}

fn read(path: &str) -> String {
    let file = shared(path);
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{} (shared/ beside the checkout): {e}", file.display()))
}

/// The events of a minutes text, decided and sealed in order.
fn record(minutes: &str) -> Vec<RecordedEvent> {
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
            Uuid::from_u128(u128::from(version)),
            cmd.occurred_at + Duration::seconds(1),
        );
        projection.apply(&sealed).expect("the chain links");
        out.push(sealed);
    }
    out
}

fn published() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2027-03-01T00:00:00Z")
        .expect("a time")
        .with_timezone(&Utc)
}

fn validator() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(&read("ocds/ppp-release-schema.json")).expect("schema JSON");
    jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the PPP release schema compiles")
}

fn assert_valid(validator: &jsonschema::Validator, what: &str, release: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(release)
        .take(10)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} is not a valid OCDS PPP release: {errors:#?}"
    );
}

#[test]
fn every_release_and_the_compiled_release_validate() {
    let events = record(&read("scenarios/lakeside-water.jsonl"));
    let package = release_package(&events, &Options::new(published())).expect("exports");
    let validator = validator();
    let releases = package["releases"].as_array().expect("releases");
    for r in releases {
        assert_valid(&validator, &format!("release {}", r["id"]), r);
    }
    let record = record_package(&events, &Options::new(published())).expect("exports");
    let compiled = &record["records"][0]["compiledRelease"];
    assert_valid(&validator, "the compiled release", compiled);
    assert_eq!(record["records"][0]["releases"], package["releases"]);
    assert_eq!(Some(compiled.clone()), compile(releases));
}

#[test]
fn the_lakeside_releases_follow_the_milestones() {
    let events = record(&read("scenarios/lakeside-water.jsonl"));
    let package = release_package(&events, &Options::new(published())).expect("exports");
    assert_eq!(package["version"], "1.1");
    assert_eq!(package["publishedDate"], "2027-03-01T00:00:00Z");
    let releases = package["releases"].as_array().expect("releases");
    let tags: Vec<String> = releases.iter().map(|r| r["tag"].to_string()).collect();
    assert_eq!(
        tags,
        [
            r#"["tender"]"#,          // opened, 11 partners admitted
            r#"["tenderUpdate"]"#,    // coverage
            r#"["tenderUpdate"]"#,    // tariff
            r#"["tenderUpdate"]"#,    // small-providers
            r#"["tenderUpdate"]"#,    // staff
            r#"["tenderUpdate"]"#,    // monitoring v1
            r#"["tenderAmendment"]"#, // monitoring v2
            r#"["tenderAmendment"]"#, // the union's commitment after five signatures
            r#"["award","contract"]"#,
        ]
    );
    let ocid = "ocds-xxxxxx-roundtable-lakeside-water";
    assert!(releases.iter().all(|r| r["ocid"] == ocid));
    // Dates never go back, so merging in date order is merging in version order.
    let dates: Vec<&str> = releases.iter().filter_map(|r| r["date"].as_str()).collect();
    assert!(dates.windows(2).all(|w| w[0] <= w[1]), "{dates:?}");

    let opening = &releases[0];
    assert_eq!(opening["parties"].as_array().map(Vec::len), Some(11));
    assert_eq!(
        opening["buyer"],
        json!({"id": "lcc", "name": "Lakeside City Council"})
    );
    let roles = |r: &Value, id: &str| {
        r["parties"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["id"] == id))
            .map(|p| p["roles"].clone())
    };
    assert_eq!(
        roles(opening, "lcc"),
        Some(json!(["buyer", "procuringEntity"]))
    );
    assert_eq!(
        roles(opening, "aquaglobal"),
        Some(json!(["privateParty", "supplier"]))
    );
    assert_eq!(
        roles(opening, "lakeside-civil"),
        Some(json!(["privateParty", "supplier"]))
    );
    assert_eq!(roles(opening, "kiosk-assoc"), Some(json!(["supplier"])));
    assert_eq!(roles(opening, "oba-facility"), Some(json!(["funder"])));
    assert_eq!(
        roles(opening, "consumer-council"),
        Some(json!(["socialWitness"]))
    );
    assert_eq!(roles(opening, "nwrb"), Some(json!(["interestedParty"])));

    let amendment = &releases[6]["tender"]["amendments"][0];
    assert_eq!(amendment["releaseID"], releases[6]["id"]);
    assert_eq!(amendment["amendsReleaseID"], releases[5]["id"]);
    let late = &releases[7]["tender"]["amendments"][1];
    let text = late["description"].as_str().unwrap_or_default();
    assert!(
        text.contains("c-mwu-training") && text.contains("version 15"),
        "{text}"
    );

    let last = &releases[8];
    assert_eq!(last["tender"]["status"], "complete");
    let contract = &last["contracts"][0];
    assert_eq!(contract["awardID"], last["awards"][0]["id"]);
    assert_eq!(contract["dateSigned"], "2027-02-09T10:17:00Z");
    assert_eq!(contract["signatories"].as_array().map(Vec::len), Some(7));
    assert_eq!(contract["documents"].as_array().map(Vec::len), Some(5));
    let monitoring = contract["documents"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["id"] == "clause-monitoring"))
        .expect("the monitoring clause");
    assert!(
        monitoring["title"]
            .as_str()
            .is_some_and(|t| t.contains("version 2"))
    );
    // Active commitments only: the withdrawn trenching commitment is gone.
    let milestones = contract["milestones"].as_array().expect("milestones");
    assert_eq!(milestones.len(), 8);
    assert!(!milestones.iter().any(|m| m["id"] == "c-civil-trenching"));
    let grant = contract["finance"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["id"] == "c-oba-connections"))
        .expect("the subsidy");
    assert_eq!(
        grant["value"],
        json!({"amount": 2_400_000.0, "currency": "USD"})
    );
    assert_eq!(grant["type"], "grant");
    assert_eq!(grant["financingParty"]["id"], "oba-facility");
}

#[test]
fn an_open_negotiation_has_no_award_and_the_prefix_is_checked() {
    let events = record(&read("scenarios/lakeside-water.jsonl"));
    let open = &events[..40];
    let package = release_package(open, &Options::new(published())).expect("exports");
    let releases = package["releases"].as_array().expect("releases");
    assert!(releases.iter().all(|r| r.get("awards").is_none()));
    let validator = validator();
    for r in releases {
        assert_valid(&validator, &format!("release {}", r["id"]), r);
    }
    let id = &events[0].negotiation_id;
    assert_eq!(
        ocid("ocds-a1b2c3", id).as_deref(),
        Ok("ocds-a1b2c3-lakeside-water")
    );
    assert!(ocid("ocds a1b2c3", id).is_err());
    assert!(ocid("", id).is_err());
    assert!(release_package(&[], &Options::new(published())).is_err());
}
