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

fn fieldbrook_report(upto: usize) -> String {
    let (events, views) = fieldbrook();
    let events = &events[..upto];
    let view = &views[upto - 1];
    let report = verify(&export(events, Some(view)).unwrap());
    assert!(report.ok, "{report}");
    report_html(events, view, &report)
}

/// The HTML of the first `<tag` element carrying `attr` (such as
/// `data-commitment="c-1"`), up to its closing `</tag>`.
fn element<'a>(html: &'a str, tag: &str, attr: &str) -> &'a str {
    let open = format!("<{tag} ");
    let start = html
        .match_indices(attr)
        .filter_map(|(i, _)| html[..i].rfind('<'))
        .find(|&lt| html[lt..].starts_with(&open))
        .unwrap_or_else(|| panic!("no <{tag} {attr}> in the page"));
    let end = html[start..].find(&format!("</{tag}>")).unwrap() + start;
    &html[start..end]
}

#[test]
fn fieldbrook_report_shows_delivery_shortfalls_and_the_round() {
    let html = fieldbrook_report(87);
    assert!(
        html.contains("id=\"report-end\">2029-07-01<"),
        "the end is the last event's date"
    );

    // The transferred commitment shows its transfer, and the new one where it came from.
    let tankers = element(&html, "section", "data-commitment=\"c-brookline-tankers\"");
    assert!(tankers.contains("data-status=\"transferred\""), "{tankers}");
    assert!(
        tankers.contains("transferred to c-emptiers-tankers"),
        "{tankers}"
    );
    assert!(tankers.contains("<li data-step=\"transferred\"><time datetime=\"2029-04-30T09:00:00+00:00\">2029-04-30</time> transferred to <strong>emptiers</strong> as c-emptiers-tankers"), "{tankers}");
    // Its delivery: two reports with dates and amounts, 1,300,000 of 2,400,000.
    assert!(tankers.contains("2028-04-30</time> progress reported by brookline, delivered <strong class=\"delivered\">400000.00 KES</strong>"), "{tankers}");
    assert!(
        tankers.contains("delivered <strong class=\"delivered\">900000.00 KES</strong>"),
        "{tankers}"
    );
    assert!(
        tankers.contains("1300000.00 of 2400000.00 KES (54%)"),
        "{tankers}"
    );
    assert_eq!(
        tankers.matches("data-step=\"shortfall\"").count(),
        2,
        "{tankers}"
    );
    let taken = element(&html, "section", "data-commitment=\"c-emptiers-tankers\"");
    assert!(
        taken.contains("(taken over from c-brookline-tankers)"),
        "{taken}"
    );
    assert!(
        taken.contains("taken over by emptiers from c-brookline-tankers of brookline"),
        "{taken}"
    );
    assert!(
        taken.contains("150000.00 of 2400000.00 KES (6%)"),
        "{taken}"
    );
    // The drying beds: fulfilled 60 days after the due date.
    let plant = element(&html, "section", "data-commitment=\"c-brookline-plant\"");
    assert!(
        plant.contains("2028-06-30 <strong class=\"late\">fulfilled 60 days late</strong>"),
        "{plant}"
    );
    assert!(
        plant.contains("fulfilled on <strong>2028-08-29</strong>"),
        "{plant}"
    );
    assert!(
        plant.contains("2028-09-12</time> shortfall s-plant-late resolved, penalty <strong class=\"penalty\">60000.00 KES</strong>"),
        "{plant}"
    );
    // Nothing is overdue on 1 July 2029; the licence was on time.
    assert!(html.contains("data-count=\"0\""));
    let licence = element(&html, "section", "data-commitment=\"c-wsra-licence\"");
    assert!(licence.contains("fulfilled on time"), "{licence}");

    // Shortfalls: the resolved one shows its penalty and resolution, the open one is open.
    let late = element(&html, "tr", "data-shortfall=\"s-plant-late\"");
    assert!(late.contains("data-status=\"resolved\""), "{late}");
    assert!(
        late.contains("class=\"severity-critical\">critical<"),
        "{late}"
    );
    assert!(
        late.contains("<td class=\"num penalty\">60000.00 KES</td>"),
        "{late}"
    );
    assert!(
        late.contains("resolved <time datetime=\"2028-09-12T09:00:00+00:00\">2028-09-12</time>"),
        "{late}"
    );
    assert!(
        late.contains("2028-08-02</time> by <bdi>Fieldbrook Consumers&#39; Council</bdi>")
            || late.contains("2028-08-02</time> by <bdi>Fieldbrook Consumers' Council</bdi>"),
        "{late}"
    );
    let fees = element(&html, "tr", "data-shortfall=\"s-tanker-fees\"");
    assert!(
        fees.contains("<td class=\"num penalty\">none</td>"),
        "{fees}"
    );
    let subsidy = element(&html, "tr", "data-shortfall=\"s-subsidy-late\"");
    assert!(subsidy.contains("<strong>open</strong>"), "{subsidy}");
    assert!(html.contains("Open: 0 critical, 0 major, 1 minor."));
    // The table scrolls in its own focusable region, never the page.
    assert!(html.contains("<div class=\"scroll\" role=\"region\" aria-labelledby=\"shortfalls\" tabindex=\"0\"><table id=\"shortfall-table\">"));

    // The timeline draws contract version 2's events too, one mark each.
    let (events, _) = fieldbrook();
    let of = |t: &str| events.iter().filter(|e| e.event_type() == t).count();
    for (kind, event_type, n) in [
        ("progress", "progress_reported", 8),
        ("fulfilled", "commitment_fulfilled", 4),
        ("shortfall_reported", "shortfall_reported", 4),
        ("shortfall_resolved", "shortfall_resolved", 3),
        ("asset_declared", "asset_declared", 12),
        ("partner_withdrawn", "partner_withdrawn", 1),
        ("round_opened", "round_opened", 1),
    ] {
        assert_eq!(of(event_type), n, "{event_type}");
        assert_eq!(
            html.matches(&format!("data-kind=\"{kind}\"")).count(),
            n,
            "{kind} marks"
        );
    }
    // The round: opened, the tariff change word by word, concluded.
    let round = element(&html, "section", "data-round=\"r-tariff-2029\"");
    assert!(
        round.contains("2029-05-10</time> (version 73), from agreement version 13"),
        "{round}"
    );
    assert!(round.contains("concluded <time datetime=\"2029-06-07T10:30:00+00:00\">2029-06-07</time> at agreement version 15"), "{round}");
    assert!(
        round.contains(
            "Clause <strong>tariff</strong> amended, version 1 to 2 (p-tariff-2 to p-tariff-3)"
        ),
        "{round}"
    );
    assert!(
        round.contains("<del><bdi>600</bdi></del>") || round.contains("<del><bdi>600 </bdi></del>"),
        "{round}"
    );
    assert!(
        round.contains("<ins><bdi>650</bdi></ins>") || round.contains("<ins><bdi>650 </bdi></ins>"),
        "{round}"
    );
    assert!(
        round.contains("Commitment c-fbc-subsidy-2 made by fbc (4100000.00 KES)"),
        "{round}"
    );
    assert!(
        !round.contains("c-emptiers-tankers"),
        "the transfer came before the round"
    );
}

#[test]
fn fieldbrook_report_before_the_beds_were_commissioned_shows_them_overdue_and_the_round_open() {
    // Up to the critical shortfall (version 63, 2 August 2028): the beds, due 30 June,
    // are 33 days overdue.
    let html = fieldbrook_report(63);
    assert!(html.contains("id=\"report-end\">2028-08-02<"));
    let plant = element(&html, "section", "data-commitment=\"c-brookline-plant\"");
    assert!(
        plant.contains("data-overdue-days=\"33\">overdue by 33 days on 2028-08-02<"),
        "{plant}"
    );
    assert!(html.contains("<p id=\"overdue-count\" data-count=\"1\">1 overdue on 2028-08-02: c-brookline-plant</p>"), "{html}");
    assert!(html.contains("Open: 1 critical, 0 major, 0 minor."));
    assert!(html.contains("No round of renegotiation has been opened."));
    // While the round is open, it shows what it has changed so far.
    let open = fieldbrook_report(80);
    let round = element(&open, "section", "data-round=\"r-tariff-2029\"");
    assert!(round.contains("still open"), "{round}");
    assert!(
        round.contains("Clause <strong>tariff</strong> amended"),
        "{round}"
    );
    assert!(
        !round.contains("c-fbc-subsidy-2"),
        "not committed yet at version 80"
    );
}

#[test]
fn fieldbrook_report_does_not_scroll_sideways_at_360_px() {
    // Headless Chromium's window is at least about 500 px wide, so the report is laid
    // out in a 360 px frame. A probe script is added to a copy of the page (the report
    // itself has none): it writes, into the outer page, how wide the report's document
    // is and how many elements stick out outside the regions that scroll on their own.
    let inner = fieldbrook_report(87).replace(
        "</body>",
        "<script>const d = document.documentElement; parent.document.body.insertAdjacentHTML('beforeend', \
         '<p id=\"pro' + 'be\">' + d.scrollWidth + ' ' + d.clientWidth + ' ' + \
         Array.from(document.querySelectorAll('body *')).filter(e => !e.closest('.scroll') && !e.closest('.chart') \
         && e.getBoundingClientRect().right > d.clientWidth + 1).length + '</p>');</script></body>",
    );
    let srcdoc = inner.replace('&', "&amp;").replace('"', "&quot;");
    let outer = format!(
        "<!DOCTYPE html><html><body style=\"margin:0\"><iframe style=\"border:0\" width=\"360\" height=\"780\" srcdoc=\"{srcdoc}\"></iframe></body></html>"
    );
    let dom = render(&outer);
    let probe: Vec<u64> = by_id(&dom, "probe")
        .trim()
        .split(' ')
        .map(|n| n.parse().unwrap_or_else(|e| panic!("{n:?}: {e}")))
        .collect();
    assert!(
        (340..=360).contains(&probe[1]),
        "the frame is 360 px wide, less a scroll bar: {probe:?}"
    );
    assert!(
        probe[0] <= probe[1],
        "the report is {} px wide at 360 px",
        probe[0]
    );
    assert_eq!(probe[2], 0, "elements stick out at 360 px");
}
