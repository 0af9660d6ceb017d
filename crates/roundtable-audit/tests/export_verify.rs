//! Export, offline verification and the tampering it catches, on the sample minutes
//! (Harbourside); `verify_live` against a projected view; importing an export.

#[path = "common/mod.rs"]
mod common;

use roundtable_audit::export::{ExportError, FORMAT, Manifest};
use roundtable_audit::verify::CheckOutcome;
use roundtable_audit::{
    ImportError, Tampering, VerifyReport, export, import_export, verify, verify_live,
};
use roundtable_domain::AgreementView;
use roundtable_domain::envelope::content_hash;
use serde_json::{Value, json};

use common::*;

fn sample_export() -> (
    Vec<u8>,
    Vec<roundtable_domain::RecordedEvent>,
    AgreementView,
) {
    let (events, views) = sample();
    let bytes = export(&events, Some(&views[72])).unwrap();
    (bytes, events, views[72].clone())
}

/// Asserts the report failed with `kind` at `version`, and returns the failure's reason.
#[track_caller]
fn failed(r: &VerifyReport, kind: Tampering, version: u64) -> String {
    assert!(!r.ok, "verified, expected {kind}:\n{r}");
    let f = r.failure.as_ref().expect("a failure");
    assert_eq!((f.kind, f.version), (kind, Some(version)), "{r}");
    f.reason.clone()
}

#[test]
fn an_export_verifies_offline() {
    let (bytes, events, view) = sample_export();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert_eq!(text.lines().count(), 74, "a manifest and 73 events");
    assert!(text.ends_with('\n'));
    let manifest: Manifest = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(manifest.format, FORMAT);
    assert_eq!(manifest.format_version, 1);
    assert_eq!(manifest.negotiation_id, "harbourside-waste");
    assert_eq!(manifest.event_count, 73);
    assert_eq!(manifest.first_hash, events[0].hash);
    assert_eq!(manifest.last_hash, events[72].hash);
    assert_eq!(manifest.hash_algorithm, "sha256");
    assert!(manifest.hashed_bytes.contains("canonical JSON"));
    assert!(manifest.tool.starts_with("roundtable "));
    assert_eq!(manifest.view, serde_json::to_value(&view).unwrap());
    // Each event line is exactly the stored bytes.
    for (line, e) in text.lines().skip(1).zip(&events) {
        assert_eq!(line.as_bytes(), e.to_bytes());
    }
    let r = verify(&bytes);
    assert!(r.ok, "{r}");
    assert_eq!(r.events, 73);
    assert_eq!(r.last_hash.as_deref(), Some(events[72].hash.as_str()));
    assert_eq!(r.negotiation_id.as_deref(), Some("harbourside-waste"));
    assert!(
        r.checks.iter().all(|c| c.outcome == CheckOutcome::Passed),
        "{r}"
    );
    assert!(
        r.to_string()
            .contains("verified: negotiation harbourside-waste, 73 events")
    );
    // Without a projected view the fold is recorded, and verifies too.
    assert!(verify(&export(&events, None).unwrap()).ok);
}

#[test]
fn one_byte_of_one_events_data_changed_is_edited() {
    let (bytes, events, _) = sample_export();
    let mut text = String::from_utf8(bytes).unwrap();
    // "25 fenced transfer points" in the adopted collection proposal (version 17)
    // becomes "95".
    let line_start: usize = text.lines().take(17).map(|l| l.len() + 1).sum();
    let line_len = text.lines().nth(17).unwrap().len();
    let at = text[line_start..line_start + line_len]
        .find("25 fenced")
        .unwrap()
        + line_start;
    text.replace_range(at..=at, "9");
    let r = verify(text.as_bytes());
    let reason = failed(&r, Tampering::Edited, 17);
    let f = r.failure.as_ref().unwrap();
    assert_eq!(f.line, Some(18));
    assert_eq!(f.event_id, Some(events[16].event_id.to_string()));
    assert!(reason.contains("does not match its hash"), "{reason}");
}

#[test]
fn an_edited_event_with_its_hash_recomputed_is_edited() {
    let (bytes, _, _) = sample_export();
    let mut l = Lines::parse(&bytes);
    // The text of p-workers-2 (version 42).
    let e = l.event(42).as_object_mut().unwrap();
    assert_eq!(e["data"]["proposal_id"], "p-workers-2");
    e.get_mut("data").unwrap()["text"] = json!("Something else entirely.");
    let h = content_hash(e);
    e.insert("hash".into(), Value::String(h));
    let r = verify(&l.bytes());
    let reason = failed(&r, Tampering::Edited, 42);
    assert!(reason.contains("hash recomputed"), "{reason}");
}

#[test]
fn one_event_removed_is_removed() {
    let (bytes, _, _) = sample_export();
    let mut l = Lines::parse(&bytes);
    let gone = l.events.remove(29);
    let r = verify(&l.bytes());
    let reason = failed(&r, Tampering::Removed, 30);
    assert_eq!(r.failure.as_ref().unwrap().line, Some(31));
    assert!(reason.contains("version 30 is missing"), "{reason}");
    assert!(
        reason.contains(gone["hash"].as_str().unwrap()),
        "names the missing hash: {reason}"
    );
}

#[test]
fn two_events_swapped_are_reordered() {
    let (bytes, _, _) = sample_export();
    let mut l = Lines::parse(&bytes);
    l.events.swap(49, 50);
    let r = verify(&l.bytes());
    let reason = failed(&r, Tampering::Reordered, 51);
    assert_eq!(r.failure.as_ref().unwrap().line, Some(51));
    assert!(reason.contains("version 50 comes later"), "{reason}");
}

#[test]
fn one_event_inserted_is_inserted() {
    let (bytes, _, _) = sample_export();
    // A forged endorsement slipped in after version 20, linked and hashed properly.
    let mut l = Lines::parse(&bytes);
    let mut forged = l.event(19).clone();
    let m = forged.as_object_mut().unwrap();
    m.insert("version".into(), json!(21));
    m.insert(
        "event_id".into(),
        json!("0196ffff-0000-7000-8000-000000000021"),
    );
    m.insert("prev_hash".into(), l.events[19]["hash"].clone());
    let h = content_hash(m);
    m.insert("hash".into(), Value::String(h.clone()));
    l.events.insert(20, forged);
    let r = verify(&l.bytes());
    let reason = failed(&r, Tampering::Inserted, 21);
    let f = r.failure.as_ref().unwrap();
    assert_eq!(
        f.line,
        Some(22),
        "the forged line, not the genuine version 21"
    );
    assert_eq!(
        f.event_id.as_deref(),
        Some("0196ffff-0000-7000-8000-000000000021")
    );
    assert!(reason.contains("appears twice"), "{reason}");

    // A line copied twice.
    let mut l = Lines::parse(&bytes);
    let copy = l.event(60).clone();
    l.events.insert(60, copy);
    let r = verify(&l.bytes());
    failed(&r, Tampering::Inserted, 60);
    assert_eq!(r.failure.as_ref().unwrap().line, Some(62));

    // An event of another negotiation.
    let mut l = Lines::parse(&bytes);
    let e = l.event(10).as_object_mut().unwrap();
    e.insert("negotiation_id".into(), json!("another-negotiation"));
    let h = content_hash(e);
    e.insert("hash".into(), Value::String(h));
    let r = verify(&l.bytes());
    let reason = failed(&r, Tampering::Inserted, 10);
    assert!(reason.contains("another-negotiation"), "{reason}");

    // An event appended after the last the manifest lists.
    let mut l = Lines::parse(&bytes);
    let mut extra = l.event(73).clone();
    let m = extra.as_object_mut().unwrap();
    m.insert("version".into(), json!(74));
    m.insert("prev_hash".into(), l.events[72]["hash"].clone());
    let h = content_hash(m);
    m.insert("hash".into(), Value::String(h));
    l.events.push(extra);
    failed(&verify(&l.bytes()), Tampering::Inserted, 74);
}

#[test]
fn the_tail_cut_off_is_truncated() {
    let (bytes, _, _) = sample_export();
    let mut l = Lines::parse(&bytes);
    l.events.truncate(64);
    let r = verify(&l.bytes());
    let reason = failed(&r, Tampering::Truncated, 65);
    assert!(reason.contains("ends after version 64"), "{reason}");
    assert!(reason.contains("73 events"), "{reason}");

    // Cut in the middle of a line.
    let text = String::from_utf8(bytes).unwrap();
    let cut = &text[..text.len() - 40];
    let r = verify(cut.as_bytes());
    failed(&r, Tampering::Truncated, 73);
    assert_eq!(r.failure.as_ref().unwrap().line, Some(74));
}

#[test]
fn a_recorded_view_that_folding_does_not_reproduce_fails() {
    let (bytes, _, _) = sample_export();
    let mut l = Lines::parse(&bytes);
    l.manifest["view"]["clauses"][0]["text"] = json!("The Operator shall connect 12 kiosks.");
    let r = verify(&l.bytes());
    let reason = failed(&r, Tampering::ViewMismatch, 73);
    assert!(reason.contains("clauses[0].text"), "{reason}");
}

#[test]
fn a_log_rewritten_whole_is_caught_by_the_rules() {
    // A forger rewrites the chain from scratch so that every hash links: an adoption
    // nobody endorsed. The rules, judged again, refuse it.
    let (bytes, _, _) = sample_export();
    let mut l = Lines::parse(&bytes);
    // Drop the three endorsements of p-fees-1 but keep its adoption (versions 48-50, 51).
    let before = l.events.len();
    l.events
        .retain(|e| !(e["type"] == "proposal_endorsed" && e["data"]["proposal_id"] == "p-fees-1"));
    assert_eq!(l.events.len(), before - 3);
    for (i, e) in l.events.iter_mut().enumerate() {
        e["version"] = json!(i + 1);
    }
    l.rechain();
    let r = verify(&l.bytes());
    assert!(!r.ok);
    let f = r.failure.as_ref().unwrap();
    assert_eq!(f.kind, Tampering::RuleBroken, "{r}");
    assert!(f.reason.contains("no_signatory_endorsement"), "{r}");
}

#[test]
fn a_file_that_is_not_an_export_is_malformed() {
    let r = verify(b"{\"format\":\"something-else\"}\n");
    assert_eq!(r.failure.unwrap().kind, Tampering::Malformed);
    let r = verify(b"");
    assert_eq!(r.failure.unwrap().kind, Tampering::Malformed);
}

#[test]
fn export_refuses_a_projected_view_that_differs_from_the_fold() {
    let (events, views) = sample();
    let mut wrong = views[72].clone();
    wrong.title = "Another title".into();
    assert_eq!(
        export(&events, Some(&wrong)),
        Err(ExportError::ViewMismatch { at: "title".into() })
    );
    assert_eq!(export(&[], None), Err(ExportError::Empty));
}

#[test]
fn verify_live_passes_on_a_healthy_store_and_fails_on_an_altered_view() {
    let (events, views) = sample();
    let r = verify_live(&events, Some(&views[72]));
    assert!(r.ok, "{r}");
    assert!(
        r.checks
            .iter()
            .any(|c| c.name == "view" && c.outcome == CheckOutcome::Passed)
    );
    // A stored view altered behind the projector's back.
    let mut altered = views[72].clone();
    altered
        .commitments
        .get_mut("c-union-training")
        .unwrap()
        .description = "Nothing.".into();
    let r = verify_live(&events, Some(&altered));
    assert!(!r.ok);
    let f = r.failure.as_ref().unwrap();
    assert_eq!(f.kind, Tampering::ViewMismatch);
    assert!(f.reason.contains("commitments[9].description"), "{r}");
    // A stale view (the projector fell behind) is a mismatch too.
    let r = verify_live(&events, Some(&views[70]));
    assert_eq!(r.failure.unwrap().kind, Tampering::ViewMismatch);
    // Events missing from the live log are named as for an export.
    let mut gapped = events.clone();
    gapped.remove(9);
    let r = verify_live(&gapped, Some(&views[72]));
    let f = r.failure.unwrap();
    assert_eq!(
        (f.kind, f.version, f.line),
        (Tampering::Removed, Some(10), None)
    );
}

#[test]
fn import_export_returns_the_events_of_a_verified_export_and_refuses_a_tampered_one() {
    let (bytes, events, view) = sample_export();
    let v = import_export(&bytes).unwrap();
    assert_eq!(v.events, events);
    assert_eq!(v.view, view);
    assert_eq!(v.manifest.event_count, 73);
    let mut l = Lines::parse(&bytes);
    l.events.swap(3, 4);
    match import_export(&l.bytes()) {
        Err(ImportError::Refused(report)) => {
            assert_eq!(report.failure.unwrap().kind, Tampering::Reordered);
        }
        Ok(_) => panic!("a tampered export was imported"),
    }
}

#[test]
fn a_long_negotiation_exports_verifies_and_reports() {
    // The freshwater consultation: 3,748 events, 116 partners.
    let (events, views) = run(&commands(&repository_file(
        "tests/data/polis-freshwater/polis-freshwater.jsonl",
    )));
    let view = views.last().unwrap();
    let bytes = export(&events, Some(view)).unwrap();
    let r = verify(&bytes);
    assert!(r.ok, "{r}");
    assert_eq!(r.events, 3748);
    let html = roundtable_audit::report_html(&events, view, &r);
    assert!(html.contains("<svg id=\"timeline\""));
    assert_eq!(html.matches("class=\"lane\"").count(), 117);
}

#[test]
fn a_byte_that_breaks_an_events_json_is_edited_too() {
    let (bytes, _, _) = sample_export();
    let text = String::from_utf8(bytes).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[8] = lines[8].replacen('"', "'", 1);
    let r = verify((lines.join("\n") + "\n").as_bytes());
    failed(&r, Tampering::Edited, 8);
    assert_eq!(r.failure.unwrap().line, Some(9));
}
