//! Golden event files: one stored envelope per event type and schema version, under
//! `testdata/events/<type>.v<schema_version>.json`, kept byte for byte as
//! `RecordedEvent::to_bytes()` wrote them (canonical JSON: the hash covers those exact
//! bytes, so they are never pretty-printed or reformatted).
//!
//! Events are forever: every file here must keep decoding (hash check included) and,
//! at the current schema version, re-encode to the very same bytes. A failure means a
//! breaking change to the stored form; the fix is an upcaster, not a new file.
//!
//! Golden *logs* go further: `testdata/logs/<name>.v<schema_version>.jsonl` is a whole
//! negotiation (every event type, one stored envelope per line) and
//! `<name>.v<schema_version>.view.json` the agreement view folding it gave when it was
//! written. Every log must keep decoding and folding to that view (fields added to the
//! view later are allowed; no frozen value may change): events of an older schema
//! version, once upcast, must still mean what they meant. The projector's tests also
//! import each log into a store and project it (`crates/roundtable-projector/tests`).
//!
//! A missing file is written by the generator below, and only when asked:
//! `ROUNDTABLE_BLESS_GOLDEN=1 cargo test -p roundtable-domain --test golden`. It never
//! overwrites a file. Commit what it writes.

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Once;

use chrono::{Duration, NaiveDate};
use roundtable_domain::command::{Commit, Propose};
use roundtable_domain::envelope::upcast;
use roundtable_domain::event::CURRENT_SCHEMA_VERSION;
use roundtable_domain::signing::{signing_message, verify_signature, view_signing_message};
use roundtable_domain::upcast::schema_version;
use roundtable_domain::vocab::{
    Amount, AssetKind, CommitmentKind, DecisionRule, PartnerKind, Role, Severity,
};
use roundtable_domain::{
    AgreementView, Command, CommandEnvelope, CommandId, DecodeError, EventBody, Projection,
    RecordedEvent, decide,
};
use uuid::Uuid;

use common::*;

const BLESS: &str = "ROUNDTABLE_BLESS_GOLDEN";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/events")
}

/// The schema version this build writes for `event_type`.
fn current(event_type: &str) -> u32 {
    schema_version(event_type).unwrap_or_else(|| panic!("{event_type} is not a known type"))
}

fn logs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/logs")
}

/// The golden log the generator wrote before contract version 2: the sample
/// negotiation up to its conclusion, every type of version 1.
fn log_name(schema_version: u32) -> String {
    format!("every-type.v{schema_version}")
}

/// The golden log of contract version 2: the whole sample negotiation, its life after
/// the signature included, every type at its current schema version, under the id
/// [`LOG_V2_NEGOTIATION`]. Its first events are the history of [`log_name`]'s log.
fn log_name_v2(schema_version: u32) -> String {
    format!("every-type-after-signature.v{schema_version}")
}

/// How many events the version 1 sample had: the version 1 log.
const V1_SAMPLE_EVENTS: usize = 34;

fn file_name(event_type: &str, schema_version: u32) -> String {
    format!("{event_type}.v{schema_version}.json")
}

/// Optional fields added to a type after its golden file was written, each frozen by a
/// *variant* file `<type>.v<schema_version>.<field>.json`: a stored event of that type
/// whose data carries the field.
const VARIANTS: [(&str, &str); 4] = [
    ("partner_admitted", "public_key"),
    ("agreement_signed", "signature"),
    // Contract version 2.
    ("commitment_made", "assets"),
    ("negotiation_concluded", "round_id"),
];

fn variant_file_name(event_type: &str, schema_version: u32, field: &str) -> String {
    format!("{event_type}.v{schema_version}.{field}.json")
}

/// `(type, schema_version)` from a golden file's name (`<type>.v<n>.json`, or a
/// variant's `<type>.v<n>.<field>.json`).
fn parse_name(name: &str) -> Option<(String, u32)> {
    let stem = name.strip_suffix(".json")?;
    let (event_type, rest) = stem.split_once(".v")?;
    let version = rest.split_once('.').map_or(rest, |(v, _variant)| v);
    Some((event_type.to_owned(), version.parse().ok()?))
}

/// Every golden file, by name (after writing the missing ones, when blessing).
fn golden_files() -> BTreeMap<String, Vec<u8>> {
    static BLESSED: Once = Once::new();
    BLESSED.call_once(bless_missing);
    let mut files = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir()) else {
        return files;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        files.insert(name, std::fs::read(&path).unwrap());
    }
    files
}

/// A negotiation that records every event type, each at least once, with every
/// optional field present in the last event of its type, non-ASCII text and an
/// escaped control character: the last event of each type is its golden sample.
fn sample_commands() -> Vec<CommandEnvelope> {
    let amendment = cmd(
        "residents",
        Command::Propose(Propose {
            proposal_id: pid("p-coverage-2"),
            clause_id: cid("coverage"),
            text:
                "Água para todos: every household within 200 m of a kiosk.\nKiosks open 6:00–22:00."
                    .into(),
            title: Some("Coverage of informal settlements".into()),
            rationale: Some("the 2026 census counts 41,000 households \"off-grid\"".into()),
        }),
    );
    let rich_commitment = cmd(
        "kiosks",
        Command::Commit(Commit {
            commitment_id: kid("k-kiosks"),
            description: "run 40 kiosks at the lifeline tariff".into(),
            kind: CommitmentKind::ServiceDelivery,
            clause_id: Some(cid("coverage")),
            amount: Some(Amount {
                value: "1250.50".into(),
                currency: "KES".into(),
            }),
            due: NaiveDate::from_ymd_opt(2027, 6, 30),
            assets: Vec::new(),
        }),
    );
    vec![
        open(DecisionRule::CrossSectorConsent),
        admit("city", PartnerKind::Municipality, Role::Signatory),
        admit("kiosks", PartnerKind::SmallScaleProvider, Role::Signatory),
        admit(
            "residents",
            PartnerKind::CommunityOrganisation,
            Role::Signatory,
        ),
        admit_with_key(
            "donor",
            PartnerKind::Donor,
            Role::Observer,
            &public_key("donor"),
        ),
        // A key given, then replaced: the kiosks sign with the second one.
        register_key("kiosks", &public_key("kiosks-old")),
        register_key("kiosks", &public_key("kiosks")),
        // A first clause, agreed plainly.
        propose("city", "p-coverage-1", "coverage"),
        endorse("city", "p-coverage-1"),
        endorse("kiosks", "p-coverage-1"),
        endorse("residents", "p-coverage-1"),
        adopt("p-coverage-1"),
        // A proposal withdrawn with an objection on it.
        propose("kiosks", "p-hours", "hours"),
        object("residents", "o-hours", "p-hours", true),
        withdraw_proposal("kiosks", "p-hours"),
        // A rival amendment, to be superseded with its objection.
        propose("city", "p-coverage-3", "coverage"),
        object("kiosks", "o-rival", "p-coverage-3", true),
        object("donor", "o-temp", "p-coverage-3", false),
        withdraw_objection_noting("donor", "o-temp", Some("answered in session 3")),
        // The amendment adopted, with a concern noted.
        amendment,
        endorse("donor", "p-coverage-2"),
        retract("donor", "p-coverage-2"),
        endorse("residents", "p-coverage-2"),
        endorse("kiosks", "p-coverage-2"),
        object_on_grounds(
            "donor",
            "o-concern",
            "p-coverage-2",
            false,
            "who pays for the kiosks' meters?",
        ),
        endorse("city", "p-coverage-2"),
        adopt("p-coverage-2"),
        // Commitments, one withdrawn.
        commit("donor", "k-grant"),
        rich_commitment,
        withdraw_commitment("donor", "k-grant"),
        // Signed (the kiosks with their key: see `sample_events`) and concluded.
        sign("city"),
        sign("residents"),
        sign("kiosks"),
        conclude(),
        // Contract version 2: delivery, a round, a partner leaving, termination.
        report_progress("kiosks", "k-kiosks", Some(money("400.25", "KES"))),
        report_shortfall("residents", "s-hours", "k-kiosks", Severity::Major),
        resolve_shortfall("s-hours", Some(money("50.00", "KES"))),
        open_round("r-2029"),
        declare_asset("kiosks", "a-kiosk-network", AssetKind::Infrastructure),
        cmd(
            "kiosks",
            Command::Commit(Commit {
                commitment_id: kid("k-meters"),
                description: "fit a prepaid meter to every kiosk".into(),
                kind: CommitmentKind::InKind,
                clause_id: Some(cid("coverage")),
                amount: Some(money("980.00", "KES")),
                due: NaiveDate::from_ymd_opt(2029, 3, 31),
                assets: vec![aid("a-kiosk-network")],
            }),
        ),
        fulfil("kiosks", "k-meters", date(2029, 3, 15)),
        // The donor leaves with a proposal, an endorsement, an objection and two
        // commitments standing: one passes to the city, one is withdrawn.
        propose("donor", "p-audit", "audit"),
        object("city", "o-audit-cost", "p-audit", true),
        propose("residents", "p-hours-2", "hours"),
        endorse("donor", "p-hours-2"),
        propose("city", "p-tariff-2", "tariff"),
        object("donor", "o-tariff-2", "p-tariff-2", false),
        commit("donor", "k-audit"),
        commit("donor", "k-survey"),
        withdraw_partner(
            "secretariat",
            "donor",
            &[("k-audit", "city", "k-audit-city")],
        ),
        withdraw_proposal("residents", "p-hours-2"),
        withdraw_proposal("city", "p-tariff-2"),
        sign("city"),
        sign("residents"),
        sign("kiosks"),
        conclude(),
        open_round("r-2031"),
        terminate(),
    ]
}

/// The negotiation of the contract version 2 golden log: another id than the golden
/// files', so that a store can hold both golden logs at once.
const LOG_V2_NEGOTIATION: &str = "lakeside-water-after-signature";

/// The sample negotiation's events, sealed with fixed ids and times.
fn sample_events() -> Vec<RecordedEvent> {
    sample_events_in(&nid())
}

/// [`sample_events`] under the negotiation id `negotiation`.
fn sample_events_in(negotiation: &roundtable_domain::NegotiationId) -> Vec<RecordedEvent> {
    let mut p = Projection::new();
    let mut events = Vec::new();
    for (i, mut c) in sample_commands().into_iter().enumerate() {
        c.negotiation_id = negotiation.clone();
        let n = i64::try_from(i).unwrap();
        c.command_id = CommandId::new(format!("golden-{}", i + 1)).unwrap();
        c.occurred_at = t0() + Duration::minutes(n);
        sign_with_registered_key(p.view.as_ref(), &mut c);
        let event = decide(p.view.as_ref(), &c).unwrap_or_else(|r| {
            panic!(
                "sample command #{} ({}): {}",
                i + 1,
                c.command.name(),
                r.message
            )
        });
        let recorded = RecordedEvent::seal(
            &c,
            event,
            p.version + 1,
            &p.last_hash,
            Uuid::parse_str(&format!("0196a1b2-c3d4-7e5f-8a6b-{:012x}", i + 1)).unwrap(),
            c.occurred_at + Duration::milliseconds(1250),
        );
        p.apply(&recorded).unwrap();
        events.push(recorded);
    }
    events
}

/// Fills in the signature of a `sign` whose signatory has a registered key.
fn sign_with_registered_key(view: Option<&AgreementView>, c: &mut CommandEnvelope) {
    let (Some(view), Command::Sign(sign)) = (view, &mut c.command) else {
        return;
    };
    let Some(key) = view
        .partners
        .get(c.actor.as_str())
        .and_then(|p| p.public_key.as_deref())
    else {
        return;
    };
    let name = ["kiosks", "kiosks-old", "donor"]
        .into_iter()
        .find(|n| public_key(n) == key)
        .expect("a sample key");
    sign.signature = Some(signature(name, &view_signing_message(view)));
}

/// The last sample of each type.
fn samples_by_type() -> BTreeMap<&'static str, RecordedEvent> {
    sample_events()
        .into_iter()
        .map(|e| (e.event_type(), e))
        .collect()
}

/// Writes the golden file of every type that has none, when [`BLESS`] is set.
fn bless_missing() {
    if std::env::var_os(BLESS).is_none() {
        return;
    }
    std::fs::create_dir_all(dir()).unwrap();
    let mut files: Vec<(String, RecordedEvent)> = samples_by_type()
        .into_iter()
        .map(|(t, e)| (file_name(t, e.schema_version), e))
        .collect();
    for (event_type, field) in VARIANTS {
        let sample = sample_events()
            .into_iter()
            .rfind(|e| e.event_type() == event_type && e.to_json()["data"].get(field).is_some())
            .unwrap_or_else(|| panic!("no {event_type} sample carries {field}"));
        files.push((
            variant_file_name(event_type, sample.schema_version, field),
            sample,
        ));
    }
    for (name, e) in files {
        let path = dir().join(name);
        if !path.exists() {
            std::fs::write(&path, e.to_bytes()).unwrap();
            eprintln!("wrote {}", path.display());
        }
    }
    std::fs::create_dir_all(logs_dir()).unwrap();
    let name = log_name_v2(CURRENT_SCHEMA_VERSION);
    let log = logs_dir().join(format!("{name}.jsonl"));
    let view = logs_dir().join(format!("{name}.view.json"));
    if !log.exists() && !view.exists() {
        let events =
            sample_events_in(&roundtable_domain::NegotiationId::new(LOG_V2_NEGOTIATION).unwrap());
        let mut lines = Vec::new();
        for e in &events {
            lines.extend(e.to_bytes());
            lines.push(b'\n');
        }
        let folded = Projection::fold(&events).unwrap().view.unwrap();
        let value = serde_json::to_value(&folded).unwrap();
        std::fs::write(&log, lines).unwrap();
        std::fs::write(&view, serde_json::to_string_pretty(&value).unwrap() + "\n").unwrap();
        eprintln!("wrote {} and {}", log.display(), view.display());
    }
}

#[test]
fn every_event_type_has_a_golden_file_at_its_current_schema_version() {
    let files = golden_files();
    let missing: Vec<String> = EventBody::TYPES
        .iter()
        .map(|t| file_name(t, current(t)))
        .filter(|name| !files.contains_key(name))
        .collect();
    assert!(
        missing.is_empty(),
        "no golden file for {missing:?} in {}; run {BLESS}=1 cargo test -p roundtable-domain --test golden and commit the files",
        dir().display()
    );
}

#[test]
fn every_later_optional_field_has_a_variant_golden_file() {
    let files = golden_files();
    for (event_type, field) in VARIANTS {
        let name = variant_file_name(event_type, current(event_type), field);
        let bytes = files.get(&name).unwrap_or_else(|| {
            panic!("no golden file {name}; run {BLESS}=1 cargo test -p roundtable-domain --test golden and commit the files")
        });
        let value: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        assert_eq!(value["type"], event_type, "{name}");
        assert!(value["data"].get(field).is_some(), "{name} lacks {field}");
    }
}

#[test]
fn the_signed_golden_file_carries_a_signature_that_verifies() {
    let files = golden_files();
    let name = variant_file_name("agreement_signed", current("agreement_signed"), "signature");
    let e = RecordedEvent::decode(files.get(&name).expect("the signed golden file")).unwrap();
    let EventBody::AgreementSigned(data) = &e.event.body else {
        panic!("{name} is not agreement_signed");
    };
    let message = signing_message(
        &e.negotiation_id,
        data.agreement_version,
        data.agreement_hash.as_deref().expect("the agreement hash"),
    );
    verify_signature(
        &public_key("kiosks"),
        message.as_bytes(),
        data.signature.as_deref().expect("the signature"),
    )
    .unwrap();
    // The older, unsigned file still decodes, with neither field.
    let plain = RecordedEvent::decode(&files["agreement_signed.v1.json"]).unwrap();
    let EventBody::AgreementSigned(data) = &plain.event.body else {
        panic!("agreement_signed.v1.json is not agreement_signed");
    };
    assert_eq!((&data.agreement_hash, &data.signature), (&None, &None));
}

#[test]
fn every_golden_file_is_named_for_a_known_type_and_version() {
    let files = golden_files();
    assert!(!files.is_empty(), "no golden files in {}", dir().display());
    for name in files.keys() {
        let (event_type, version) =
            parse_name(name).unwrap_or_else(|| panic!("{name}: not <type>.v<version>.json"));
        assert!(
            EventBody::TYPES.contains(&event_type.as_str()),
            "{name}: unknown event type {event_type}"
        );
        assert!(
            (1..=current(&event_type)).contains(&version),
            "{name}: schema version {version} is not one this build reads"
        );
    }
}

#[test]
fn golden_files_decode_and_reencode_byte_for_byte() {
    let files = golden_files();
    assert!(!files.is_empty(), "no golden files in {}", dir().display());
    for (name, bytes) in &files {
        let Some((event_type, version)) = parse_name(name) else {
            continue; // reported by every_golden_file_is_named_for_a_known_type_and_version
        };
        let e = RecordedEvent::decode(bytes).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(e.event_type(), event_type, "{name}: type");
        assert_eq!(e.schema_version, version, "{name}: schema_version");
        assert_eq!(e.negotiation_id, nid(), "{name}: negotiation_id");
        if version == current(&event_type) {
            assert!(
                e.to_bytes() == *bytes,
                "{name}: re-encoding changed the bytes\nstored:    {}\nre-encoded: {}",
                String::from_utf8_lossy(bytes),
                String::from_utf8_lossy(&e.to_bytes())
            );
        }
    }
}

#[test]
fn golden_files_are_stored_canonical_not_pretty_printed() {
    for (name, bytes) in golden_files() {
        assert!(
            !bytes.contains(&b'\n') && !bytes.starts_with(b" ") && bytes.starts_with(b"{"),
            "{name}: not canonical JSON (white space or a trailing newline)"
        );
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            roundtable_domain::canonical::to_canonical(&value),
            bytes,
            "{name}: not canonical JSON"
        );
    }
}

#[test]
fn golden_files_carry_their_optional_fields() {
    // The samples were chosen so that optional fields are present and so frozen too.
    let files = golden_files();
    let data = |name: &str| -> serde_json::Value {
        let bytes = files
            .get(name)
            .unwrap_or_else(|| panic!("{name} is missing"));
        serde_json::from_slice::<serde_json::Value>(bytes).unwrap()["data"].clone()
    };
    let made = data("proposal_made.v1.json");
    for key in ["title", "rationale", "amends_version"] {
        assert!(made.get(key).is_some(), "proposal_made lacks {key}");
    }
    let committed = data("commitment_made.v1.json");
    for key in ["clause_id", "amount", "due"] {
        assert!(committed.get(key).is_some(), "commitment_made lacks {key}");
    }
    assert!(data("objection_withdrawn.v1.json").get("note").is_some());
    assert!(
        data("partner_key_registered.v1.json")
            .get("replaces")
            .is_some()
    );
    assert!(
        data("agreement_signed.v1.signature.json")
            .get("agreement_hash")
            .is_some()
    );
    let adopted = data("proposal_adopted.v1.json");
    for key in ["superseded", "mooted_objections", "noted_objections"] {
        assert!(
            adopted[key].as_array().is_some_and(|a| !a.is_empty()),
            "proposal_adopted has no {key}"
        );
    }
    assert!(
        data("proposal_withdrawn.v1.json")["mooted_objections"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
}

#[test]
fn an_altered_golden_file_fails_its_hash_check() {
    let files = golden_files();
    let bytes = files
        .get("proposal_adopted.v1.json")
        .expect("proposal_adopted.v1.json");
    let text = String::from_utf8(bytes.clone()).unwrap();
    let altered = text.replacen("\"clause_version\":2", "\"clause_version\":3", 1);
    assert_ne!(altered, text, "the sample adopts at clause version 2");
    assert!(matches!(
        RecordedEvent::decode(altered.as_bytes()),
        Err(DecodeError::HashMismatch { .. })
    ));
}

#[test]
fn the_generator_covers_every_event_type() {
    let samples = samples_by_type();
    let types: Vec<&str> = samples.keys().copied().collect();
    let mut expected = EventBody::TYPES.to_vec();
    expected.sort_unstable();
    assert_eq!(types, expected);
    for e in samples.values() {
        assert_eq!(e.schema_version, current(e.event_type()));
        assert!(upcast(e.event_type(), 1, serde_json::Value::Null).is_ok());
    }
}

/// Every golden log, by name: its events' stored lines and its frozen view.
fn golden_logs() -> BTreeMap<String, (Vec<u8>, serde_json::Value)> {
    static BLESSED: Once = Once::new();
    BLESSED.call_once(bless_missing);
    let mut logs = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(logs_dir()) else {
        return logs;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".jsonl") else {
            continue;
        };
        let view_path = logs_dir().join(format!("{stem}.view.json"));
        let view = std::fs::read(&view_path)
            .unwrap_or_else(|e| panic!("{name} has no frozen view {}: {e}", view_path.display()));
        logs.insert(
            stem.to_owned(),
            (
                std::fs::read(&path).unwrap(),
                serde_json::from_slice(&view).unwrap(),
            ),
        );
    }
    logs
}

#[test]
fn every_golden_log_decodes_and_folds_to_its_frozen_view() {
    let logs = golden_logs();
    for name in [log_name(1), log_name_v2(CURRENT_SCHEMA_VERSION)] {
        assert!(
            logs.contains_key(&name),
            "no golden log {name} in {}; run {BLESS}=1 cargo test -p roundtable-domain --test golden and commit the files",
            logs_dir().display()
        );
    }
    for (name, (lines, frozen)) in &logs {
        let events: Vec<RecordedEvent> = lines
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .enumerate()
            .map(|(i, line)| {
                RecordedEvent::decode(line).unwrap_or_else(|e| panic!("{name} line {}: {e}", i + 1))
            })
            .collect();
        let mut types: Vec<&str> = events.iter().map(RecordedEvent::event_type).collect();
        types.sort_unstable();
        types.dedup();
        // The version 1 log holds every type of version 1 (the first fourteen); the
        // log of contract version 2 every type.
        let expected = if *name == log_name(1) {
            14
        } else {
            EventBody::TYPES.len()
        };
        assert_eq!(types.len(), expected, "{name}: every type");
        let folded = Projection::fold(&events)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .view
            .unwrap_or_else(|| panic!("{name}: no view"));
        let actual = serde_json::to_value(&folded).unwrap();
        if let Err(difference) = holds(&actual, frozen, "view") {
            panic!("{name} no longer folds to its frozen view: {difference}");
        }
    }
}

#[test]
fn the_frozen_view_check_sees_changes_and_allows_additions() {
    let frozen = serde_json::json!({"a": 1, "list": [{"b": "x"}]});
    assert!(
        holds(
            &serde_json::json!({"a": 1, "list": [{"b": "x", "new": true}], "more": 2}),
            &frozen,
            "v"
        )
        .is_ok()
    );
    assert!(
        holds(
            &serde_json::json!({"a": 2, "list": [{"b": "x"}]}),
            &frozen,
            "v"
        )
        .is_err()
    );
    assert!(holds(&serde_json::json!({"list": [{"b": "x"}]}), &frozen, "v").is_err());
    assert!(holds(&serde_json::json!({"a": 1, "list": []}), &frozen, "v").is_err());
}

#[test]
fn the_version_1_log_is_where_the_version_2_log_starts() {
    let logs = golden_logs();
    let (v1, _) = &logs[&log_name(1)];
    let (v2, _) = &logs[&log_name_v2(CURRENT_SCHEMA_VERSION)];
    let lines = |b: &[u8]| -> Vec<Vec<u8>> {
        b.split(|&c| c == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    };
    let decode = |l: &Vec<u8>| RecordedEvent::decode(l).unwrap();
    let (v1, v2) = (lines(v1), lines(v2));
    assert_eq!(v1.len(), V1_SAMPLE_EVENTS);
    for (a, b) in v1.iter().map(decode).zip(v2.iter().map(decode)) {
        // The same history under another negotiation id: same actors, times, command
        // ids and data (but the negotiation id that `negotiation_opened` carries).
        assert_eq!(b.negotiation_id.as_str(), LOG_V2_NEGOTIATION);
        assert_eq!(
            (
                a.version,
                a.event_id,
                a.occurred_at,
                a.recorded_at,
                &a.command_id
            ),
            (
                b.version,
                b.event_id,
                b.occurred_at,
                b.recorded_at,
                &b.command_id
            )
        );
        assert_eq!(a.event.actor, b.event.actor);
        match (&a.event.body, &b.event.body) {
            (EventBody::NegotiationOpened(x), EventBody::NegotiationOpened(y)) => {
                assert_eq!((&x.title, &x.service), (&y.title, &y.service));
            }
            // The agreement hash, and so the signature, cover the negotiation id.
            (EventBody::AgreementSigned(x), EventBody::AgreementSigned(y)) => {
                assert_eq!(x.agreement_version, y.agreement_version);
                assert_eq!(x.signature.is_some(), y.signature.is_some());
            }
            (x, y) => assert_eq!(x, y, "version {}", a.version),
        }
    }
}

#[test]
fn the_version_2_golden_files_carry_their_effects() {
    let files = golden_files();
    let data = |name: &str| -> serde_json::Value {
        let bytes = files
            .get(name)
            .unwrap_or_else(|| panic!("{name} is missing"));
        serde_json::from_slice::<serde_json::Value>(bytes).unwrap()["data"].clone()
    };
    let withdrawn = data("partner_withdrawn.v1.json");
    for key in [
        "transfers",
        "withdrawn_commitments",
        "withdrawn_proposals",
        "mooted_objections",
        "retracted_endorsements",
        "withdrawn_objections",
    ] {
        assert!(
            withdrawn[key].as_array().is_some_and(|a| !a.is_empty()),
            "partner_withdrawn has no {key}"
        );
    }
    assert_eq!(withdrawn["agreement_version_raised"], true);
    assert!(data("progress_reported.v1.json").get("delivered").is_some());
    assert!(data("shortfall_resolved.v1.json").get("penalty").is_some());
    assert!(
        data("negotiation_terminated.v1.json")
            .get("abandoned_round")
            .is_some()
    );
    assert!(
        data("commitment_made.v1.assets.json")
            .get("assets")
            .is_some()
    );
    assert!(
        data("negotiation_concluded.v1.round_id.json")
            .get("round_id")
            .is_some()
    );
    // The version 1 files have neither new field: read, they default.
    let e = RecordedEvent::decode(&files["commitment_made.v1.json"]).unwrap();
    let EventBody::CommitmentMade(made) = &e.event.body else {
        panic!("commitment_made.v1.json is not commitment_made");
    };
    assert!(made.assets.is_empty());
}
