//! The project's sample minutes (`examples/minutes/harbourside-waste.jsonl`) exported
//! as OCDS: every release, and the compiled release, validates against the OCDS release
//! schema patched with the PPP profile (vendored as
//! `tests/data/ocds-ppp/release-schema.json`, JSON Schema draft-04) with the
//! `jsonschema` crate; and the mapping says what docs/OCDS.md says it does.

mod common;

use common::{assert_valid, published, read, record, validator};
use roundtable_ocds::{Options, compile, ocid, record_package, release_package};
use serde_json::{Value, json};

/// The sample minutes' text.
fn sample() -> String {
    read("examples/minutes/harbourside-waste.jsonl")
}

#[test]
fn every_release_and_the_compiled_release_validate() {
    let events = record(&sample());
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
fn the_sample_releases_follow_the_milestones() {
    let events = record(&sample());
    let package = release_package(&events, &Options::new(published())).expect("exports");
    assert_eq!(package["version"], "1.1");
    assert_eq!(package["publishedDate"], "2027-03-01T00:00:00Z");
    let releases = package["releases"].as_array().expect("releases");
    let tags: Vec<String> = releases.iter().map(|r| r["tag"].to_string()).collect();
    assert_eq!(
        tags,
        [
            r#"["tender"]"#,          // opened, 9 partners admitted
            r#"["tenderUpdate"]"#,    // collection v1
            r#"["tenderUpdate"]"#,    // pickers
            r#"["tenderUpdate"]"#,    // workers
            r#"["tenderUpdate"]"#,    // fees
            r#"["tenderAmendment"]"#, // collection v2
            r#"["tenderAmendment"]"#, // the union's commitment after five signatures
            r#"["award","contract"]"#,
        ]
    );
    let ocid = "ocds-xxxxxx-roundtable-harbourside-waste";
    assert!(releases.iter().all(|r| r["ocid"] == ocid));
    // Dates never go back, so merging in date order is merging in version order.
    let dates: Vec<&str> = releases.iter().filter_map(|r| r["date"].as_str()).collect();
    assert!(dates.windows(2).all(|w| w[0] <= w[1]), "{dates:?}");

    let opening = &releases[0];
    assert_eq!(opening["parties"].as_array().map(Vec::len), Some(9));
    assert_eq!(
        opening["buyer"],
        json!({"id": "hcc", "name": "Harbourside City Council"})
    );
    let roles = |r: &Value, id: &str| {
        r["parties"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["id"] == id))
            .map(|p| p["roles"].clone())
    };
    assert_eq!(
        roles(opening, "hcc"),
        Some(json!(["buyer", "procuringEntity"]))
    );
    assert_eq!(
        roles(opening, "clearway"),
        Some(json!(["privateParty", "supplier"]))
    );
    assert_eq!(roles(opening, "pickers-coop"), Some(json!(["supplier"])));
    assert_eq!(roles(opening, "resilience-fund"), Some(json!(["funder"])));
    // A regulator, a consultant and civil society signatories have no code of their own.
    for id in [
        "epa",
        "advisor",
        "greenhands",
        "residents",
        "sanitation-union",
    ] {
        assert_eq!(roles(opening, id), Some(json!(["interestedParty"])), "{id}");
    }

    // The amendment of collection points at the release before it (fees agreed).
    let amendment = &releases[5]["tender"]["amendments"][0];
    assert_eq!(amendment["releaseID"], releases[5]["id"]);
    assert_eq!(amendment["amendsReleaseID"], releases[4]["id"]);
    let late = &releases[6]["tender"]["amendments"][1];
    let text = late["description"].as_str().unwrap_or_default();
    assert!(
        text.contains("c-union-training") && text.contains("version 15"),
        "{text}"
    );

    let last = &releases[7];
    assert_eq!(last["tender"]["status"], "complete");
    let contract = &last["contracts"][0];
    assert_eq!(contract["awardID"], last["awards"][0]["id"]);
    assert_eq!(contract["dateSigned"], "2027-06-08T11:00:00Z");
    assert_eq!(contract["signatories"].as_array().map(Vec::len), Some(6));
    assert_eq!(contract["documents"].as_array().map(Vec::len), Some(4));
    let collection = contract["documents"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["id"] == "clause-collection"))
        .expect("the collection clause");
    assert!(
        collection["title"]
            .as_str()
            .is_some_and(|t| t.contains("version 2"))
    );
    // Active commitments only, as the implementation's milestones (the contract's own
    // milestones are for its finalisation): the withdrawn haulage commitment is gone.
    assert!(contract.get("milestones").is_none());
    let milestones = contract["implementation"]["milestones"]
        .as_array()
        .expect("milestones");
    assert!(milestones.iter().all(|m| m["status"] == "scheduled"));
    assert_eq!(milestones.len(), 9);
    assert!(!milestones.iter().any(|m| m["id"] == "c-clearway-haulage"));
    let finance = contract["finance"].as_array().expect("finance");
    let grant = finance
        .iter()
        .find(|f| f["id"] == "c-fund-equipment")
        .expect("the equipment grant");
    assert_eq!(
        grant["value"],
        json!({"amount": 310_000.0, "currency": "EUR"})
    );
    assert_eq!(grant["type"], "grant");
    assert_eq!(grant["financingParty"]["id"], "resilience-fund");
    // The Council's budget line is money, but not a donor's grant.
    let budget = finance
        .iter()
        .find(|f| f["id"] == "c-hcc-budget")
        .expect("the budget line");
    assert_eq!(budget.get("type"), None);
    assert_eq!(budget["financingParty"]["id"], "hcc");
}

#[test]
fn an_open_negotiation_has_no_award_and_the_prefix_is_checked() {
    let events = record(&sample());
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
        Ok("ocds-a1b2c3-harbourside-waste")
    );
    assert!(ocid("ocds a1b2c3", id).is_err());
    assert!(ocid("", id).is_err());
    assert!(release_package(&[], &Options::new(published())).is_err());
}

#[test]
fn a_civil_society_observer_is_a_social_witness() {
    // The sample minutes have no civil society observer: a negotiation that has one.
    let minutes = [
        r#"{"at": "2027-04-01T09:00:00Z", "negotiation_id": "witnessed", "by": "secretariat", "do": "open_negotiation", "title": "Water kiosks", "service": "water"}"#,
        r#"{"at": "2027-04-01T09:01:00Z", "negotiation_id": "witnessed", "by": "secretariat", "do": "admit_partner", "partner_id": "city", "name": "City", "sector": "government", "kind": "municipality", "role": "signatory"}"#,
        r#"{"at": "2027-04-01T09:02:00Z", "negotiation_id": "witnessed", "by": "secretariat", "do": "admit_partner", "partner_id": "consumers", "name": "Consumer Council", "sector": "civil_society", "kind": "consumer_group", "role": "observer"}"#,
    ]
    .join("\n");
    let events = record(&minutes);
    let package = release_package(&events, &Options::new(published())).expect("exports");
    let opening = &package["releases"][0];
    assert_valid(&validator(), "the opening release", opening);
    let consumers = opening["parties"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["id"] == "consumers"))
        .expect("the consumer council is a party");
    assert_eq!(consumers["roles"], json!(["socialWitness"]));
}
