//! The report's sections for contract version 2 (DOMAIN.md, "After the signature"):
//! a delivery timeline per commitment, the shortfalls, and the rounds.
//!
//! Dates come from the events (business time, `occurred_at`); overdue is reckoned on
//! the report's end: the business date of the last event, so that the same log gives
//! the same report whenever it is written.

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use maud::{Markup, html};
use roundtable_domain::view::{Commitment, CommitmentStatus, RoundStatus, ShortfallStatus};
use roundtable_domain::vocab::Amount;
use roundtable_domain::{
    AgreementView, CommitmentId, EventBody, PartnerId, RecordedEvent, RoundId, ShortfallId,
};
use rust_decimal::Decimal;

use super::{json_word, user};
use crate::diff::{WordOp, diff};

/// One dated step of a commitment's delivery.
struct Step {
    at: DateTime<Utc>,
    kind: &'static str,
    text: Markup,
}

/// What the events say, by commitment, shortfall and round.
#[derive(Default)]
struct Dates {
    steps: HashMap<CommitmentId, Vec<Step>>,
    reported: HashMap<ShortfallId, DateTime<Utc>>,
    resolved: HashMap<ShortfallId, DateTime<Utc>>,
    /// Version and time a round opened, and closed (concluded or abandoned).
    opened: HashMap<RoundId, (u64, DateTime<Utc>)>,
    closed: HashMap<RoundId, (u64, DateTime<Utc>)>,
}

fn amount(a: &Amount) -> String {
    format!("{} {}", a.value, a.currency)
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

fn read(events: &[RecordedEvent]) -> Dates {
    let mut d = Dates::default();
    let mut on: HashMap<ShortfallId, CommitmentId> = HashMap::new();
    for e in events {
        let at = e.occurred_at;
        let mut step = |id: &CommitmentId, kind: &'static str, text: Markup| {
            d.steps
                .entry(id.clone())
                .or_default()
                .push(Step { at, kind, text });
        };
        match &e.event.body {
            EventBody::CommitmentMade(c) => step(
                &c.commitment_id,
                "committed",
                html! { "committed by " (e.event.actor) },
            ),
            EventBody::CommitmentWithdrawn(c) => step(
                &c.commitment_id,
                "withdrawn",
                html! { "withdrawn by " (e.event.actor) },
            ),
            EventBody::ProgressReported(p) => step(
                &p.commitment_id,
                "progress",
                html! {
                    "progress reported by " (e.event.actor)
                    @if let Some(a) = &p.delivered { ", delivered " strong.delivered { (amount(a)) } }
                    ": " (user(&p.note))
                },
            ),
            EventBody::CommitmentFulfilled(f) => step(
                &f.commitment_id,
                "fulfilled",
                html! { "fulfilled on " strong { (f.fulfilled_on.to_string()) } ": " (user(&f.note)) },
            ),
            EventBody::ShortfallReported(s) => {
                d.reported.insert(s.shortfall_id.clone(), at);
                on.insert(s.shortfall_id.clone(), s.commitment_id.clone());
                step(
                    &s.commitment_id,
                    "shortfall",
                    html! { "shortfall " (s.shortfall_id) " (" (json_word(&s.severity)) ") reported by " (e.event.actor) },
                );
            }
            EventBody::ShortfallResolved(s) => {
                d.resolved.insert(s.shortfall_id.clone(), at);
                if let Some(k) = on.get(&s.shortfall_id) {
                    step(
                        k,
                        "shortfall_resolved",
                        html! {
                            "shortfall " (s.shortfall_id) " resolved"
                            @if let Some(p) = &s.penalty { ", penalty " strong.penalty { (amount(p)) } }
                            ": " (user(&s.resolution))
                        },
                    );
                }
            }
            EventBody::PartnerWithdrawn(w) => {
                for t in &w.transfers {
                    step(
                        &t.commitment_id,
                        "transferred",
                        html! { "transferred to " strong { (t.to) } " as " (t.new_commitment_id) ", when " (w.partner_id) " withdrew" },
                    );
                    step(
                        &t.new_commitment_id,
                        "committed",
                        html! { "taken over by " (t.to) " from " (t.commitment_id) " of " (w.partner_id) },
                    );
                }
                for id in &w.withdrawn_commitments {
                    step(
                        id,
                        "withdrawn",
                        html! { "withdrawn when " (w.partner_id) " withdrew" },
                    );
                }
            }
            EventBody::RoundOpened(r) => {
                d.opened.insert(r.round_id.clone(), (e.version, at));
            }
            EventBody::NegotiationConcluded(c) => {
                if let Some(r) = &c.round_id {
                    d.closed.insert(r.clone(), (e.version, at));
                }
            }
            EventBody::NegotiationTerminated(t) => {
                if let Some(r) = &t.abandoned_round {
                    d.closed.insert(r.clone(), (e.version, at));
                }
            }
            _ => {}
        }
    }
    d
}

/// The sum of the amounts delivered on `k` in its currency, when it has an amount.
fn delivered(k: &Commitment) -> Option<(Decimal, Decimal, &str)> {
    let of = k.amount.as_ref()?;
    let total = Decimal::from_str(&of.value).ok()?;
    let mut sum = Decimal::ZERO;
    for p in &k.progress {
        if let Some(a) = &p.delivered {
            if a.currency == of.currency {
                sum += Decimal::from_str(&a.value).ok()?;
            }
        }
    }
    Some((sum, total, of.currency.as_str()))
}

/// Due date and lateness: overdue on `end` when still active past its due date;
/// fulfilled early, on time or late.
fn due_words(k: &Commitment, end: NaiveDate) -> Markup {
    let Some(due) = k.due else {
        return html! { "no due date" };
    };
    html! {
        (due.to_string())
        @match (k.status, k.fulfilled_on) {
            (CommitmentStatus::Active, _) if due < end => {
                " " strong.late data-overdue-days=((end - due).num_days()) { "overdue by " ((end - due).num_days()) " days on " (end.to_string()) }
            }
            (CommitmentStatus::Active, _) => { " " span.muted { "not yet due on " (end.to_string()) } }
            (CommitmentStatus::Fulfilled, Some(on)) if on > due => {
                " " strong.late { "fulfilled " ((on - due).num_days()) " days late" }
            }
            (CommitmentStatus::Fulfilled, Some(_)) => { " " span.muted { "fulfilled on time" } }
            _ => {}
        }
    }
}

/// The three sections: delivery, shortfalls, rounds.
pub(crate) fn sections(events: &[RecordedEvent], view: &AgreementView) -> Markup {
    let dates = read(events);
    let end = events
        .last()
        .map_or_else(|| Utc::now().date_naive(), |e| e.occurred_at.date_naive());
    html! {
        (delivery(view, &dates, end))
        (shortfalls(view, &dates))
        (rounds(events, view, &dates))
    }
}

fn name(v: &AgreementView, id: &PartnerId) -> String {
    v.partners
        .get(id)
        .map_or_else(|| id.to_string(), |p| p.name.clone())
}

fn delivery(v: &AgreementView, dates: &Dates, end: NaiveDate) -> Markup {
    let none = Vec::new();
    let overdue = roundtable_domain::view::overdue_commitments(v, end);
    html! {
        h2 #delivery { "Delivery" }
        p.muted {
            "Each commitment from when it was made: progress reported with the amounts delivered, fulfilment, transfer, shortfalls. Overdue is reckoned on "
            strong #report-end { (end.to_string()) } ", the date of the last event."
        }
        p #overdue-count data-count=(overdue.len()) {
            @if overdue.is_empty() { "No commitment is overdue on " (end.to_string()) "." }
            @else { (overdue.len()) " overdue on " (end.to_string()) ": "
                @for (i, k) in overdue.iter().enumerate() { @if i > 0 { ", " } (k.commitment_id) }
            }
        }
        @if v.commitments.is_empty() { p.muted { "No commitment has been made." } }
        @for k in v.commitments.values() {
            section.delivery data-commitment=(k.commitment_id) aria-labelledby=(format!("delivery-{}", k.commitment_id)) {
                h3 id=(format!("delivery-{}", k.commitment_id)) {
                    (k.commitment_id) " " span.muted { (user(&name(v, &k.partner_id))) ", " (k.kind.as_str()) }
                }
                p { (user(&k.description)) }
                dl.facts {
                    dt { "status" } dd data-status=(k.status.as_str()) {
                        (k.status.as_str())
                        @if let Some(t) = &k.transferred_to { " to " (t) }
                        @if let Some(f) = &k.transferred_from { " (taken over from " (f) ")" }
                    }
                    dt { "amount" } dd { @if let Some(a) = &k.amount { (amount(a)) } @else { "none" } }
                    @if let Some((sum, total, cur)) = delivered(k) {
                        dt { "delivered" } dd.delivered-total {
                            (sum) " of " (total) " " (cur)
                            @if !total.is_zero() {
                                " (" ((sum * Decimal::ONE_HUNDRED / total).round_dp(0)) "%)"
                            }
                        }
                    }
                    dt { "due" } dd.due { (due_words(k, end)) }
                    @if !k.assets.is_empty() {
                        dt { "draws on" } dd { @for (i, a) in k.assets.iter().enumerate() { @if i > 0 { ", " } (a) } }
                    }
                }
                ol.steps {
                    @for s in dates.steps.get(&k.commitment_id).unwrap_or(&none) {
                        li data-step=(s.kind) { time datetime=(s.at.to_rfc3339()) { (day(s.at)) } " " (s.text) }
                    }
                }
            }
        }
    }
}

fn shortfalls(v: &AgreementView, dates: &Dates) -> Markup {
    let open = |sev: &str| {
        v.shortfalls
            .values()
            .filter(|s| s.status == ShortfallStatus::Open && s.severity.as_str() == sev)
            .count()
    };
    html! {
        h2 #shortfalls { "Shortfalls" }
        @if v.shortfalls.is_empty() {
            p.muted { "No shortfall has been reported." }
        } @else {
            p #open-shortfalls {
                "Open: " (open("critical")) " critical, " (open("major")) " major, " (open("minor")) " minor."
            }
            div.scroll role="region" aria-labelledby="shortfalls" tabindex="0" {
                table #shortfall-table {
                    tr { th { "shortfall" } th { "commitment" } th { "reported" } th { "severity" } th { "what fell short" } th { "resolution" } th.num { "penalty" } }
                    @for s in v.shortfalls.values() {
                        tr data-shortfall=(s.shortfall_id) data-status=(json_word(&s.status)) {
                            td { (s.shortfall_id) }
                            td { (s.commitment_id) }
                            td {
                                @if let Some(t) = dates.reported.get(&s.shortfall_id) { time datetime=(t.to_rfc3339()) { (day(*t)) } " " }
                                "by " (user(&name(v, &s.reported_by)))
                            }
                            td class=(format!("severity-{}", s.severity.as_str())) { (s.severity.as_str()) }
                            td { (user(&s.description)) }
                            td {
                                @match &s.resolution {
                                    Some(r) => {
                                        "resolved"
                                        @if let Some(t) = dates.resolved.get(&s.shortfall_id) { " " time datetime=(t.to_rfc3339()) { (day(*t)) } }
                                        ": " (user(r))
                                    }
                                    None => { strong { "open" } }
                                }
                            }
                            td.num.penalty { @if let Some(p) = &s.penalty { (amount(p)) } @else { "none" } }
                        }
                    }
                }
            }
        }
    }
}

fn rounds(events: &[RecordedEvent], v: &AgreementView, dates: &Dates) -> Markup {
    html! {
        h2 #rounds { "Rounds" }
        @if v.rounds.is_empty() {
            p.muted { "No round of renegotiation has been opened." }
        }
        @for r in v.rounds.values() {
            @let opened = dates.opened.get(&r.round_id);
            @let closed = dates.closed.get(&r.round_id);
            section.round data-round=(r.round_id) aria-labelledby=(format!("round-{}", r.round_id)) {
                h3 id=(format!("round-{}", r.round_id)) { "Round " (r.round_id) " " span.muted { "(" (json_word(&r.status)) ")" } }
                dl.facts {
                    dt { "why" } dd { (user(&r.reason)) }
                    dt { "opened" } dd {
                        @if let Some((ver, t)) = opened { time datetime=(t.to_rfc3339()) { (day(*t)) } " (version " (ver) "), " }
                        "from agreement version " (r.from_agreement_version)
                    }
                    dt { "closed" } dd.round-end {
                        @match (r.status, closed) {
                            (RoundStatus::Open, _) => { "still open" }
                            (RoundStatus::Concluded, c) => {
                                "concluded"
                                @if let Some((_, t)) = c { " " time datetime=(t.to_rfc3339()) { (day(*t)) } }
                                @if let Some(a) = r.concluded_agreement_version { " at agreement version " (a) }
                            }
                            (RoundStatus::Abandoned, c) => {
                                "abandoned (the negotiation was terminated)"
                                @if let Some((_, t)) = c { " " time datetime=(t.to_rfc3339()) { (day(*t)) } }
                            }
                        }
                    }
                }
                h4 { "What it changed" }
                (round_changes(events, v, opened.map(|o| o.0), closed.map(|c| c.0)))
            }
        }
    }
}

/// What changed from the round's opening to its close (or to now, while open).
fn round_changes(
    events: &[RecordedEvent],
    v: &AgreementView,
    opened: Option<u64>,
    closed: Option<u64>,
) -> Markup {
    let Some(opened) = opened else {
        return html! { p.muted { "Its opening is not in these events." } };
    };
    let from = crate::as_of_version(events, opened);
    let to = match closed {
        Some(c) => crate::as_of_version(events, c),
        None => Ok(Some(v.clone())),
    };
    let (Ok(Some(from)), Ok(Some(to))) = (from, to) else {
        return html! { p.muted { "The log does not fold to the round's versions." } };
    };
    let d = diff(Some(&from), &to);
    let nothing = d.clauses_added.is_empty()
        && d.clauses_changed.is_empty()
        && d.commitments_made.is_empty()
        && d.commitments_withdrawn.is_empty()
        && d.partners_admitted.is_empty()
        && d.partners_withdrawn.is_empty();
    html! {
        @if nothing {
            p.round-changes { "Nothing: the agreement version did not move and no partner was admitted." }
        } @else {
            ul.round-changes {
                @for c in &d.clauses_changed {
                    li data-clause=(c.clause_id) {
                        "Clause " strong { (c.clause_id) } " amended, version " (c.from_version) " to " (c.to_version)
                        " (" (c.from_adopted_from) " to " (c.to_adopted_from) "): "
                        span.words {
                            @for w in &c.words {
                                @match w.op {
                                    WordOp::Equal => { (user(&w.text)) }
                                    WordOp::Deleted => { del { (user(&w.text)) } }
                                    WordOp::Inserted => { ins { (user(&w.text)) } }
                                }
                            }
                        }
                    }
                }
                @for c in &d.clauses_added {
                    li data-clause=(c.clause_id) { "Clause " strong { (c.clause_id) } " agreed: " (user(&c.text)) }
                }
                @for k in &d.commitments_made {
                    li data-commitment=(k.commitment_id) {
                        "Commitment " (k.commitment_id) " made by " (k.partner_id)
                        @if let Some(a) = &k.amount { " (" (amount(a)) ")" }
                    }
                }
                @for k in &d.commitments_withdrawn {
                    li data-commitment=(k.commitment_id) { "Commitment " (k.commitment_id) " of " (k.partner_id) " withdrawn" }
                }
                @for p in &d.partners_admitted {
                    li { "Partner " (user(&p.name)) " admitted" }
                }
                @for p in &d.partners_withdrawn {
                    li { "Partner " (user(&p.name)) " withdrew" }
                }
            }
        }
    }
}
