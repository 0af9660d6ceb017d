//! The audit report, opened in headless Chromium with no network: it shows the
//! timeline and every partner, and its numbers agree with the view (`view --json`).
//!
//! Needs Chromium: `apt-get install -y chromium` (or set `ROUNDTABLE_CHROMIUM` to a
//! Chromium binary). The test installs nothing itself.

#[path = "common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::Command;

use roundtable_audit::{export, report_html, verify, verify_live};
use roundtable_domain::{AgreementView, RecordedEvent};
use serde_json::json;

use common::*;

fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("ROUNDTABLE_CHROMIUM") {
        return PathBuf::from(p);
    }
    for candidate in [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ] {
        if std::path::Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "headless Chromium is needed to render the audit report and was not found \
         (looked at /usr/bin/chromium, /usr/bin/chromium-browser, /usr/bin/google-chrome \
         and $ROUNDTABLE_CHROMIUM): install it with `apt-get install -y chromium`"
    );
}

/// The DOM Chromium builds from `html`, opened as a local file with networking off.
fn render(html: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, html).unwrap();
    let profile = dir.path().join("profile");
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-extensions",
            "--disable-sync",
            "--no-first-run",
            "--proxy-server=127.0.0.1:9",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The text of the element with `id`, from Chromium's DOM dump.
fn by_id<'a>(dom: &'a str, id: &str) -> &'a str {
    let open = format!("id=\"{id}\">");
    let start = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no #{id} in the page"))
        + open.len();
    let end = dom[start..].find('<').unwrap() + start;
    &dom[start..end]
}

fn count(dom: &str, needle: &str) -> usize {
    dom.matches(needle).count()
}

fn sample_report() -> (Vec<RecordedEvent>, AgreementView, String) {
    let (events, views) = sample();
    let view = views[72].clone();
    let report = verify(&export(&events, Some(&view)).unwrap());
    assert!(report.ok, "{report}");
    let html = report_html(&events, &view, &report);
    (events, view, html)
}

#[test]
fn the_report_is_one_self_contained_file() {
    let (_, _, html) = sample_report();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for banned in ["<script", "http://", "https://", "<link", "@import", "src="] {
        // The SVG namespace is a name, not a fetch.
        let hits = html.matches(banned).count()
            - if banned == "http://" {
                html.matches("http://www.w3.org/2000/svg").count()
            } else {
                0
            };
        assert_eq!(hits, 0, "the report must not contain {banned:?}");
    }
}

#[test]
fn chromium_shows_the_timeline_every_partner_and_the_views_numbers() {
    let (events, view, html) = sample_report();
    let dom = render(&html);
    let v = serde_json::to_value(&view).unwrap();
    let len = |k: &str| v[k].as_array().unwrap().len().to_string();

    // Every partner, by name, and a lane of the timeline for each.
    for p in v["partners"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        assert!(dom.contains(name), "{name} is not on the page");
        let id = p["partner_id"].as_str().unwrap();
        assert!(
            dom.contains(&format!("class=\"lane\" data-partner=\"{id}\"")),
            "no timeline lane for {id}"
        );
    }
    assert_eq!(
        count(&dom, "class=\"lane\""),
        10,
        "nine partners and the secretariat"
    );

    // The timeline is drawn, with a mark for each thing done.
    assert!(dom.contains("<svg id=\"timeline\""), "no timeline");
    let of = |t: &str| events.iter().filter(|e| e.event_type() == t).count();
    assert_eq!(
        count(&dom, "data-kind=\"endorsement\""),
        of("proposal_endorsed")
    );
    assert_eq!(count(&dom, "data-kind=\"proposal\""), of("proposal_made"));
    assert_eq!(
        count(&dom, "data-kind=\"objection_opened\""),
        of("objection_raised")
    );
    assert_eq!(
        count(&dom, "data-kind=\"adoption\""),
        of("proposal_adopted")
    );
    assert_eq!(
        count(&dom, "data-kind=\"commitment\""),
        of("commitment_made")
    );
    assert_eq!(
        count(&dom, "data-kind=\"signature\""),
        of("agreement_signed")
    );
    // Every objection is closed by the end: withdrawn, moot or noted.
    assert_eq!(
        count(&dom, "data-kind=\"objection_closed\"").to_string(),
        len("objections")
    );

    // The numbers agree with the view.
    assert_eq!(by_id(&dom, "n-version"), v["version"].to_string());
    assert_eq!(
        by_id(&dom, "n-agreement-version"),
        v["agreement_version"].to_string()
    );
    assert_eq!(by_id(&dom, "n-partners"), len("partners"));
    assert_eq!(by_id(&dom, "n-clauses"), len("clauses"));
    assert_eq!(by_id(&dom, "n-proposals"), len("proposals"));
    assert_eq!(by_id(&dom, "n-objections"), len("objections"));
    assert_eq!(by_id(&dom, "n-commitments"), len("commitments"));
    assert_eq!(by_id(&dom, "n-signatures"), len("signatures"));
    assert_eq!(by_id(&dom, "n-awaiting"), len("awaiting_signature"));
    assert_eq!(by_id(&dom, "n-status"), v["status"].as_str().unwrap());
    let current = v["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["agreement_version"] == v["agreement_version"])
        .count();
    assert_eq!(by_id(&dom, "n-signatures-current"), current.to_string());
    let active = v["commitments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["status"] == "active")
        .count();
    assert_eq!(by_id(&dom, "n-commitments-active"), active.to_string());

    // The agreement as it stands: every clause's text.
    for c in v["clauses"].as_array().unwrap() {
        assert!(dom.contains(c["text"].as_str().unwrap()), "{c}");
    }
    // Who never endorsed anything.
    let never = &dom[dom.find("id=\"never-endorsed\"").unwrap()..];
    let never = &never[..never.find("</ul>").unwrap()];
    for id in ["epa", "resilience-fund", "advisor"] {
        assert!(
            never.contains(&format!("data-partner=\"{id}\"")),
            "{id} endorsed nothing"
        );
    }
    assert_eq!(count(never, "<li"), 3);
    // The integrity result.
    assert!(dom.contains("id=\"integrity-result\" data-ok=\"true\""));
    assert!(dom.contains(&view.last_event_hash));
}

#[test]
fn a_failed_verification_is_shown_and_user_strings_are_escaped() {
    let n = "escape-test";
    let nasty = "<script>alert('x')</script> & \"Co\"";
    let lines = vec![
        cmd(
            n,
            "secretariat",
            at(2027, 5, 1, 9, 0),
            command(
                json!({"do": "open_negotiation", "title": "<b>bold</b> title", "service": "water"}),
            ),
        ),
        cmd(
            n,
            "secretariat",
            at(2027, 5, 1, 9, 1),
            command(
                json!({"do": "admit_partner", "partner_id": "odd", "name": nasty, "sector": "civil_society", "kind": "ngo", "role": "signatory"}),
            ),
        ),
    ];
    let (events, views) = run(&lines);
    let mut other = views[1].clone();
    other.title = "changed".into();
    let report = verify_live(&events, Some(&other));
    assert!(!report.ok);
    let html = report_html(&events, &views[1], &report);
    assert!(
        !html.contains("<script>"),
        "a user string reached the page unescaped"
    );
    assert!(html.contains("&lt;script&gt;"));
    let dom = render(&html);
    assert!(!dom.contains("<script"), "Chromium found a script element");
    assert!(!dom.contains("<b>bold</b>"));
    assert!(dom.contains("id=\"integrity-result\" data-ok=\"false\""));
    assert!(dom.contains("view_mismatch"));
    assert!(
        dom.contains("No partner from this sector."),
        "absent sectors are shown"
    );
}

#[test]
fn a_check_that_did_not_run_is_not_claimed_as_passed() {
    let (events, view, _) = sample_report();
    // No projected view to compare: verify skips that check, and the report says so.
    let skipped = verify_live(&events, None);
    assert!(skipped.ok);
    let html = report_html(&events, &view, &skipped);
    assert!(
        html.contains("Not checked: view"),
        "the skipped check is named"
    );
    assert!(!html.contains("The view was reproduced by folding the log."));
    // With the projected view, the claim is made.
    let compared = verify_live(&events, Some(&view));
    let html = report_html(&events, &view, &compared);
    assert!(html.contains("The view was reproduced by folding the log."));
    assert!(!html.contains("Not checked"));
}
