//! An honest log never reads as tampered (issue 15, "Integrity"): events an earlier
//! release stored with out-of-range times verify, export and import; a repeated key in
//! an export is refused with its place; bidi controls in partners' text cannot reorder
//! the report around them.

#[path = "common/mod.rs"]
mod common;

use std::path::PathBuf;

use roundtable_audit::{Tampering, export, import_export, report_html, verify};
use roundtable_domain::{Projection, RecordedEvent};

use common::*;

/// The domain's golden log of times and dates an earlier release accepted and stored
/// (`+10000-01-01T23:58:59Z`, `-0001-12-31T23:59:00Z`, due `+10000-01-01`).
fn legacy_lines() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../roundtable-domain/testdata/legacy/out-of-range-times.v1.jsonl");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn legacy_events() -> Vec<RecordedEvent> {
    legacy_lines()
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| RecordedEvent::decode(l).expect("decodes"))
        .collect()
}

#[test]
fn a_log_with_out_of_range_times_from_an_earlier_release_exports_verifies_and_imports() {
    let events = legacy_events();
    let view = Projection::fold(&events).unwrap().view.unwrap();
    let bytes = export(&events, Some(&view)).expect("exports");
    // The export's event lines are the stored bytes, byte for byte.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let exported: Vec<&str> = text.lines().skip(1).collect();
    let stored = String::from_utf8(legacy_lines()).unwrap();
    assert_eq!(exported, stored.lines().collect::<Vec<_>>());
    assert!(stored.contains("\"occurred_at\":\"+10000-01-01T23:58:59Z\""));
    let r = verify(&bytes);
    assert!(r.ok, "an honest log verifies:\n{r}");
    assert_eq!(r.events, 4);
    let imported = import_export(&bytes).expect("imports");
    assert_eq!(imported.events, events);
    let html = report_html(&events, &view, &r);
    assert!(
        html.contains("data-ok=\"true\""),
        "the report says verified"
    );
}

#[test]
fn a_repeated_key_in_an_export_manifest_is_refused_with_its_line_and_column() {
    let events = legacy_events();
    let bytes = export(&events, None).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let (manifest, rest) = text.split_once('\n').unwrap();
    // A second event_count after the first: serde_json alone would take the last.
    let doubled = manifest.replacen("{", "{\"event_count\":3,", 1);
    let r = verify(format!("{doubled}\n{rest}").as_bytes());
    let f = r.failure.expect("refused");
    assert_eq!(
        (f.kind, f.check.as_str(), f.line),
        (Tampering::Malformed, "manifest", Some(1))
    );
    assert!(
        f.reason.contains("repeated key \"event_count\""),
        "{}",
        f.reason
    );
    assert!(f.reason.contains("column"), "{}", f.reason);
}

#[test]
fn a_repeated_key_in_an_export_event_line_is_refused_with_its_line_and_column() {
    let events = legacy_events();
    let text = String::from_utf8(export(&events, None).unwrap()).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // Event 2 given a second actor in front: the hash still matches the last one.
    lines[2] = lines[2].replacen("{", "{\"actor\":\"city\",", 1);
    let r = verify((lines.join("\n") + "\n").as_bytes());
    let f = r.failure.expect("refused");
    assert_eq!((f.kind, f.line), (Tampering::Edited, Some(3)), "{f:?}");
    assert!(f.reason.contains("repeated key \"actor\""), "{}", f.reason);
    assert!(f.reason.contains("column 23"), "{}", f.reason);
}

#[test]
fn bidi_controls_in_partners_text_are_isolated_in_the_report() {
    let lines = [
        r#"{"at":"2027-03-02T09:00:00Z","negotiation_id":"bidi","by":"secretariat","do":"open_negotiation","title":"Water \u202Eretaw","service":"water_sanitation"}"#,
        r#"{"at":"2027-03-02T09:01:00Z","negotiation_id":"bidi","by":"secretariat","do":"admit_partner","partner_id":"city","name":"City \u202Egnp.exe","sector":"government","kind":"municipality","role":"signatory"}"#,
        r#"{"at":"2027-03-02T09:02:00Z","negotiation_id":"bidi","by":"city","do":"propose","proposal_id":"p-1","clause_id":"fees","text":"Fees \u2067of 100\u2069 \u202Dset","title":"\u202BFees"}"#,
        r#"{"at":"2027-03-02T09:03:00Z","negotiation_id":"bidi","by":"city","do":"object","objection_id":"o-1","proposal_id":"p-1","grounds":"\u200Fmore \u202E","blocking":false}"#,
        r#"{"at":"2027-03-02T09:04:00Z","negotiation_id":"bidi","by":"city","do":"commit","commitment_id":"k-1","description":"Pipes \u202E","kind":"in_kind"}"#,
        r#"{"at":"2027-03-02T09:04:20Z","negotiation_id":"bidi","by":"city","do":"withdraw_objection","objection_id":"o-1","note":"ok \u202E"}"#,
        r#"{"at":"2027-03-02T09:04:30Z","negotiation_id":"bidi","by":"city","do":"endorse","proposal_id":"p-1"}"#,
        r#"{"at":"2027-03-02T09:05:00Z","negotiation_id":"bidi","by":"secretariat","do":"adopt","proposal_id":"p-1"}"#,
    ];
    let (events, views) = run(&commands(&lines.join("\n")));
    let view = views.last().unwrap();
    // Stored exactly as entered.
    assert_eq!(view.title, "Water \u{202E}retaw");
    let html = report_html(
        &events,
        view,
        &verify(&export(&events, Some(view)).unwrap()),
    );
    let mut checked = 0;
    for (at, c) in html.char_indices() {
        if !roundtable_domain::text::is_bidi_control(c) {
            continue;
        }
        checked += 1;
        let before = &html[..at];
        let open = before.rfind("<bdi>");
        let close = before.rfind("</bdi>");
        assert!(
            open.is_some() && open > close,
            "U+{:04X} outside a <bdi> isolate: ...{}",
            u32::from(c),
            &before[before.len().saturating_sub(120)..]
        );
    }
    assert!(
        checked >= 6,
        "the controls are kept in the body, isolated ({checked})"
    );
    // Where no element can isolate it (the page title, SVG tooltips), it is shown escaped.
    assert!(
        html.contains("<title>Audit report: Water &lt;U+202E&gt;retaw</title>"),
        "{}",
        &html[..html.find("</title>").unwrap_or(0).min(400)]
    );
}
