//! The audit report (`roundtable report ID > report.html`): one self-contained HTML
//! file, readable in a browser with no network: inline CSS and an inline SVG timeline,
//! no script. Every string from the negotiation is HTML-escaped (maud escapes every
//! interpolated value), and text partners wrote is bidi-isolated: in `<bdi>` in the
//! page, with its bidi controls shown as `<U+202E>` where no element can isolate it.
//!
//! Sections: the integrity result; the agreement as it stands (clauses, commitments,
//! signatures); key numbers (`id="n-..."`, equal to `roundtable view --json`); the
//! timeline; after the signature (contract version 2): a delivery timeline per
//! commitment, the shortfalls and the rounds; participation by sector, and who never
//! endorsed anything; proposals and objections; the event log.

mod after;
mod story;
mod timeline;

use maud::{DOCTYPE, Markup, PreEscaped, html};
use roundtable_domain::view::{
    CommitmentStatus, NegotiationStatus, ObjectionStatus, ProposalStatus,
};
use roundtable_domain::vocab::{PartnerKind, Role};
use roundtable_domain::{AgreementView, RecordedEvent};

use crate::export::TOOL;
use crate::verify::{CheckOutcome, VerifyReport};
use story::{Participation, SECTORS, read_story, sector_colour, sector_label};

/// The design tokens and base rules the audit report shares with the web app (which
/// serves them before its own stylesheet): colours, type, focus, tables.
pub const STYLE_TOKENS: &str = include_str!("tokens.css");

/// The report's own rules, after [`STYLE_TOKENS`]. One column at 360 px: wide tables
/// wrap their cells, and the timeline chart scrolls inside its own focusable region.
const CSS: &str = r#"
body { margin: 1rem auto; max-width: 1200px; padding: 0 1rem; }
h1 { margin-bottom: .2rem; }
.sub { color: var(--muted); margin-top: 0; }
table { margin: .5rem 0 1rem; font-size: .92rem; }
th, td { border: 1px solid var(--line); padding: .3rem .45rem; }
th { background: var(--wash); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { background: var(--ok-bg); border: 1px solid var(--ok); color: var(--ok); padding: .6rem .8rem; border-radius: 4px; }
.fail { background: var(--bad-bg); border: 1px solid var(--bad); color: var(--bad); padding: .6rem .8rem; border-radius: 4px; }
.outcome-passed { color: var(--ok); font-weight: 600; }
.outcome-failed { color: var(--bad); font-weight: 600; }
.outcome-skipped { color: var(--muted); }
.clause { border-left: 4px solid #b58400; padding: .2rem .8rem; margin: .6rem 0; background: var(--warn-bg); }
.clause p { margin: .3rem 0; white-space: pre-wrap; }
.muted { color: var(--muted); font-size: .88rem; }
.hash { font-size: .8rem; }
dl.numbers { display: grid; grid-template-columns: auto 1fr; gap: .2rem .8rem; }
dl.numbers dt { color: var(--muted); }
dl.numbers dd { margin: 0; font-weight: 600; }
.chart { overflow-x: auto; max-width: 100%; border: 1px solid var(--line); }
.lane-label { font-size: 11px; }
.tick { font-size: 10px; fill: var(--muted); }
.legend { margin: .4rem 0; font-size: .85rem; }
.legend-item { display: inline-flex; align-items: center; margin-right: 1rem; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; }
.sector-head { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: .4rem; }
.absent { color: var(--bad); font-weight: 600; }
.late { color: var(--bad); font-weight: 600; }
section.delivery, section.round { border-left: 4px solid var(--line); padding: .1rem .8rem; margin: .8rem 0; }
section.delivery h3, section.round h3 { margin-top: .4rem; }
dl.facts { display: grid; grid-template-columns: auto 1fr; gap: .1rem .8rem; margin: .4rem 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
ol.steps { margin: .4rem 0; padding-left: 1.2rem; }
ol.steps li { margin: .15rem 0; }
.scroll table { margin: 0; }
.severity-critical, .severity-major { color: var(--bad); font-weight: 600; }
@media (min-width: 48rem) {
  body { margin: 2rem auto; }
  dl.numbers { grid-template-columns: repeat(4, auto 1fr); }
}
"#;

/// The audit report of one negotiation: `events` in version order, `view` the view
/// after them, `verify` the result of [`crate::verify::verify`] or
/// [`crate::verify::verify_live`] on them.
pub fn report_html(
    events: &[RecordedEvent],
    view: &AgreementView,
    verify: &VerifyReport,
) -> String {
    let (marks, participation) = read_story(events, view);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Audit report: " (plain(&view.title)) }
                style { (PreEscaped(STYLE_TOKENS)) (PreEscaped(CSS)) }
            }
            body {
                h1 { (user(&view.title)) }
                p.sub {
                    "Negotiation " code { (view.negotiation_id) } " · service " (user(&view.service))
                    " · decision rule " (view.decision_rule.as_str())
                    " · " strong #status { (status_word(view.status)) }
                }
                (integrity(verify))
                (numbers(view))
                (agreement(view))
                h2 #timeline-section { "Timeline" }
                p.muted { "Each partner's proposals, endorsements, objections and commitments over time, coloured by sector; objections opened and closed; clauses adopted; signatures. Hover a mark for what it records." }
                (timeline::legend())
                // Wider than a phone: it scrolls inside its own region, which a keyboard
                // can reach (focusable, named by the section's heading).
                div.chart role="region" aria-labelledby="timeline-section" tabindex="0" { (timeline::timeline_svg(&marks, view)) }
                (after::sections(events, view))
                (participation_section(view, &participation))
                (proposals_and_objections(view))
                (event_log(events))
                p.muted { "Written by " (TOOL) " from the negotiation's " (events.len()) " events. This file needs no network and runs no script." }
            }
        }
    };
    page.into_string()
}

/// Text a partner wrote, kept exactly as entered but isolated in a `<bdi>` element, so
/// that bidi controls in it (U+202E and the like) cannot reorder what surrounds it.
fn user(text: &str) -> Markup {
    html! { bdi { (text) } }
}

/// Text a partner wrote, for places no element can isolate (the page title, SVG
/// tooltips and labels): bidi controls shown as `<U+202E>`
/// ([`roundtable_domain::text::escape_bidi_controls`]).
fn plain(text: &str) -> std::borrow::Cow<'_, str> {
    roundtable_domain::text::escape_bidi_controls(text)
}

fn status_word(s: NegotiationStatus) -> &'static str {
    s.as_str()
}

fn json_word<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".to_owned(),
    }
}

fn integrity(r: &VerifyReport) -> Markup {
    html! {
        h2 #integrity { "Integrity" }
        @if r.ok {
            div.ok #integrity-result data-ok="true" {
                strong { "Verified." } " "
                (r.events) " events, hash chain intact, every event what the rules give, "
                (r.signatures_verified) " Ed25519 signatures verified."
                @let skipped: Vec<&str> = r
                    .checks
                    .iter()
                    .filter(|c| c.outcome == CheckOutcome::Skipped)
                    .map(|c| c.name.as_str())
                    .collect();
                @if skipped.is_empty() {
                    " The view was reproduced by folding the log."
                } @else {
                    " " strong { "Not checked: " (skipped.join(", ")) "." }
                    " (see the table below: a check is skipped when there was nothing to compare, such as no projected view.)"
                }
                br;
                "Last event hash: " span.hash { (r.last_hash.as_deref().unwrap_or("-")) }
            }
        } @else {
            div.fail #integrity-result data-ok="false" {
                strong { "Verification FAILED." } " "
                @if let Some(f) = &r.failure {
                    "Kind: " strong { (f.kind.as_str()) } ". "
                    @if let Some(v) = f.version { "Version " (v) ". " }
                    @if let Some(l) = f.line { "Line " (l) ". " }
                    @if let Some(id) = &f.event_id { "Event " span.hash { (id) } ". " }
                    br;
                    (user(&f.reason))
                }
            }
        }
        table #checks {
            tr { th { "check" } th { "outcome" } th { "what it checks" } }
            @for c in &r.checks {
                @let (cls, word) = match c.outcome {
                    CheckOutcome::Passed => ("outcome-passed", "passed"),
                    CheckOutcome::Failed => ("outcome-failed", "FAILED"),
                    CheckOutcome::Skipped => ("outcome-skipped", "not run"),
                };
                tr { td { code { (c.name) } } td class=(cls) { (word) } td { (c.detail) } }
            }
        }
    }
}

fn numbers(v: &AgreementView) -> Markup {
    let current = v
        .signatures
        .iter()
        .filter(|s| s.agreement_version == v.agreement_version)
        .count();
    let active = v
        .commitments
        .values()
        .filter(|k| k.status == CommitmentStatus::Active)
        .count();
    let count_p = |s: ProposalStatus| v.proposals.values().filter(|p| p.status == s).count();
    let open_objections = v
        .objections
        .values()
        .filter(|o| o.status == ObjectionStatus::Open)
        .count();
    let items: [(&str, &str, String); 16] = [
        ("n-version", "events (version)", v.version.to_string()),
        (
            "n-agreement-version",
            "agreement version",
            v.agreement_version.to_string(),
        ),
        ("n-partners", "partners", v.partners.len().to_string()),
        (
            "n-signatories",
            "signatories",
            v.signatories().count().to_string(),
        ),
        ("n-clauses", "agreed clauses", v.clauses.len().to_string()),
        ("n-proposals", "proposals", v.proposals.len().to_string()),
        (
            "n-proposals-adopted",
            "adopted",
            count_p(ProposalStatus::Adopted).to_string(),
        ),
        (
            "n-proposals-open",
            "open proposals",
            count_p(ProposalStatus::Open).to_string(),
        ),
        ("n-objections", "objections", v.objections.len().to_string()),
        (
            "n-objections-open",
            "open objections",
            open_objections.to_string(),
        ),
        (
            "n-commitments",
            "commitments",
            v.commitments.len().to_string(),
        ),
        (
            "n-commitments-active",
            "active commitments",
            active.to_string(),
        ),
        (
            "n-signatures",
            "signatures (all)",
            v.signatures.len().to_string(),
        ),
        (
            "n-signatures-current",
            "signatures at the current version",
            current.to_string(),
        ),
        (
            "n-awaiting",
            "awaiting signature",
            v.awaiting_signature.len().to_string(),
        ),
        ("n-status", "status", status_word(v.status).to_owned()),
    ];
    html! {
        h2 #numbers-section { "In numbers" }
        dl.numbers #numbers {
            @for (id, label, value) in &items {
                dt { (label) } dd id=(id) { (value) }
            }
        }
        p.muted { "Last event hash " span.hash { (v.last_event_hash) } }
    }
}

fn agreement(v: &AgreementView) -> Markup {
    let active: Vec<_> = v
        .commitments
        .values()
        .filter(|k| k.status == CommitmentStatus::Active)
        .collect();
    let name = |id: &roundtable_domain::PartnerId| {
        v.partners
            .get(id)
            .map_or_else(|| id.to_string(), |p| p.name.clone())
    };
    html! {
        h2 #agreement { "The agreement as it stands (agreement version " (v.agreement_version) ")" }
        @if v.clauses.is_empty() {
            p.muted { "No clause has been agreed yet." }
        }
        @for c in v.clauses.values() {
            div.clause data-clause=(c.clause_id) {
                h3 { "Clause " (c.clause_id) " " span.muted { "version " (c.version) ", from proposal " (c.adopted_from) } }
                p { (user(&c.text)) }
            }
        }
        h3 { "Commitments in force" }
        @if active.is_empty() {
            p.muted { "None." }
        } @else {
            table #commitments {
                tr { th { "commitment" } th { "partner" } th { "kind" } th { "clause" } th.num { "amount" } th { "due" } th { "what" } }
                @for k in &active {
                    tr data-commitment=(k.commitment_id) {
                        td { (k.commitment_id) }
                        td { (user(&name(&k.partner_id))) }
                        td { (k.kind.as_str()) }
                        td { (k.clause_id.as_ref().map_or("", |c| c.as_str())) }
                        td.num { @if let Some(a) = &k.amount { (a.value) " " (a.currency) } }
                        td { @if let Some(d) = &k.due { (d.to_string()) } }
                        td { (user(&k.description)) }
                    }
                }
            }
        }
        h3 { "Signatures" }
        table #signatures {
            tr { th { "partner" } th.num { "agreement version" } th { "counts now" } }
            @for s in &v.signatures {
                tr {
                    td { (user(&name(&s.partner_id))) }
                    td.num { (s.agreement_version) }
                    td { @if s.agreement_version == v.agreement_version { "yes" } @else { "no (stale)" } }
                }
            }
        }
        @if !v.awaiting_signature.is_empty() {
            p { "Awaiting signature: "
                @for (i, p) in v.awaiting_signature.iter().enumerate() {
                    @if i > 0 { ", " } (user(&name(p)))
                }
            }
        }
    }
}

fn participation_section(
    v: &AgreementView,
    part: &std::collections::HashMap<roundtable_domain::PartnerId, Participation>,
) -> Markup {
    let none = Participation::default();
    let never_endorsed: Vec<_> = v
        .partners
        .values()
        .filter(|p| part.get(&p.partner_id).is_none_or(|x| x.endorsements == 0))
        .collect();
    let of_kind = |k: PartnerKind| v.partners.values().filter(move |p| p.kind == k);
    html! {
        h2 #participation { "Who took part" }
        @for sector in SECTORS {
            @let members: Vec<_> = v.partners.values().filter(|p| p.sector == sector).collect();
            h3 data-sector=(sector.as_str()) {
                span.sector-head style=(format!("background:{}", sector_colour(sector).0)) {}
                (sector_label(sector)) " (" (members.len()) ")"
            }
            @if members.is_empty() {
                p.absent { "No partner from this sector." }
            } @else {
                table.participation {
                    tr { th { "partner" } th { "kind" } th { "role" } th.num { "proposals" } th.num { "endorsements" } th.num { "objections" } th.num { "commitments" } th.num { "signatures" } }
                    @for p in &members {
                        @let x = part.get(&p.partner_id).unwrap_or(&none);
                        tr data-partner=(p.partner_id) {
                            td { (user(&p.name)) " " span.muted { "(" (p.partner_id) ")" } }
                            td { (p.kind.as_str()) }
                            td { (p.role.as_str()) }
                            td.num { (x.proposals) }
                            td.num { (x.endorsements) }
                            td.num { (x.objections) }
                            td.num { (x.commitments) }
                            td.num { (x.signatures) }
                        }
                    }
                }
            }
        }
        h3 { "Never endorsed anything" }
        @if never_endorsed.is_empty() {
            p #never-endorsed { "Every partner endorsed at least one proposal." }
        } @else {
            ul #never-endorsed {
                @for p in &never_endorsed {
                    li data-partner=(p.partner_id) { (user(&p.name)) " (" (p.partner_id) ", " (sector_label(p.sector)) ", " (p.role.as_str()) ")" }
                }
            }
        }
        h3 { "The partners most often left out" }
        ul #left-out {
            @for (kind, label) in [(PartnerKind::SmallScaleProvider, "Small-scale providers"), (PartnerKind::CommunityOrganisation, "Community organisations")] {
                @let present: Vec<_> = of_kind(kind).collect();
                li {
                    (label) ": "
                    @if present.is_empty() {
                        span.absent { "none admitted" }
                    } @else {
                        @for (i, p) in present.iter().enumerate() {
                            @if i > 0 { ", " }
                            (user(&p.name)) " (" (if p.role == Role::Signatory { "signatory" } else { "observer" }) ")"
                        }
                    }
                }
            }
        }
    }
}

fn proposals_and_objections(v: &AgreementView) -> Markup {
    html! {
        h2 #proposals { "Proposals and objections" }
        table #proposal-table {
            tr { th { "proposal" } th { "clause" } th { "by" } th { "status" } th { "endorsed by" } th { "objections" } }
            @for p in v.proposals.values() {
                tr data-proposal=(p.proposal_id) {
                    td { (p.proposal_id) @if let Some(t) = &p.title { br; span.muted { (user(t)) } } }
                    td { (p.clause_id) }
                    td { (p.proposed_by) }
                    td { (json_word(&p.status)) }
                    td { @for (i, e) in p.endorsed_by.iter().enumerate() { @if i > 0 { ", " } (e) } }
                    td {
                        @for o in v.objections.values().filter(|o| o.proposal_id == p.proposal_id) {
                            div {
                                (o.objection_id) " by " (o.raised_by)
                                @if o.blocking { " (blocking)" }
                                ": " (json_word(&o.status))
                                br; span.muted { (user(&o.grounds)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn event_log(events: &[RecordedEvent]) -> Markup {
    html! {
        h2 #events { "Event log" }
        table #event-log {
            tr { th.num { "version" } th { "occurred at" } th { "recorded at" } th { "actor" } th { "type" } th { "hash" } }
            @for e in events {
                tr {
                    td.num { (e.version) }
                    td { (e.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string()) }
                    td { (e.recorded_at.format("%Y-%m-%d %H:%M:%S").to_string()) }
                    td { (e.event.actor) }
                    td { (e.event_type()) }
                    td.hash { (e.hash.get(..16).unwrap_or(&e.hash)) "…" }
                }
            }
        }
    }
}
