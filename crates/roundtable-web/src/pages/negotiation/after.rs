//! The sections of contract version 2 ("After the signature"): rounds beside the
//! agreement in force, assets by sector, delivery against amounts, shortfalls, partners
//! who left, and the actions the contract allows after the signature. Every form sends
//! its command through the application layer like the others; no rule is checked here.

use std::collections::BTreeMap;
use std::str::FromStr;

use maud::{Markup, html};
use roundtable_audit::diff::{WordOp, word_diff};
use roundtable_domain::view::{
    Commitment, CommitmentStatus, NegotiationStatus, Partner, PartnerStatus, RoundStatus,
    ShortfallStatus,
};
use roundtable_domain::vocab::{AssetKind, Sector, Severity};
use roundtable_domain::{Actor, AgreementView};
use rust_decimal::Decimal;

use super::{Page, anchor};
use crate::forms::form_key;
use crate::pages::word;

impl Page<'_> {
    /// Whether an agreement is in force (`concluded` or `renegotiating`).
    pub(super) fn in_force(&self) -> bool {
        self.view.status.in_force()
    }

    fn terminated(&self) -> bool {
        self.view.status == NegotiationStatus::Terminated
    }

    fn asset_kind(&self, k: AssetKind) -> String {
        word(self.ctx, "asset", k.as_str())
    }

    fn severity(&self, s: Severity) -> String {
        word(self.ctx, "severity", s.as_str())
    }

    fn actor_name(&self, a: &Actor) -> String {
        match a {
            Actor::Secretariat => self.t("actor-secretariat"),
            Actor::Partner(p) => self.name(p),
        }
    }

    /// The agreement in force and the rounds: what an open round has changed so far
    /// against the agreement of the last conclusion.
    pub(super) fn rounds(&self) -> Markup {
        let v = self.view;
        if v.rounds.is_empty() && v.in_force_agreement_version.is_none() {
            return html! {};
        }
        let open_round = v.rounds.values().find(|r| r.status == RoundStatus::Open);
        html! {
            section aria-labelledby="rounds-title" {
                h2 #rounds-title { (self.t("rounds-title")) }
                @if let Some(n) = v.in_force_agreement_version {
                    p { strong { (self.a("in-force-version", &[("version", &n.to_string())])) } }
                } @else if self.terminated() {
                    p { (self.t("in-force-none")) }
                }
                @if let Some(r) = open_round {
                    div.card.round-open {
                        h3 { (self.a("round-open", &[("round", r.round_id.as_str())])) }
                        p.meta { (self.a("round-from", &[("version", &r.from_agreement_version.to_string())])) }
                        p.text { (r.reason) }
                        @if let Some(before) = self.in_force { (self.round_changes(before)) }
                    }
                }
                @if !v.rounds.is_empty() {
                    h3 #rounds-list { (self.t("rounds-all")) }
                    ul.cards aria-labelledby="rounds-list" {
                        @for r in v.rounds.values() {
                            li.card {
                                p { code { (r.round_id) } " · "
                                    @match r.status {
                                        RoundStatus::Open => span.badge.open { (self.t("round-status-open")) },
                                        RoundStatus::Concluded => span.badge.done { (self.t("round-status-concluded")) },
                                        RoundStatus::Abandoned => span.tag { (self.t("round-status-abandoned")) },
                                    }
                                    " · " (self.a("round-from", &[("version", &r.from_agreement_version.to_string())]))
                                    @if let Some(c) = r.concluded_agreement_version { " · " (self.a("round-concluded-at", &[("version", &c.to_string())])) }
                                }
                                p.text { (r.reason) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The clauses and commitments an open round has changed against `before`, the
    /// view right after the last conclusion.
    fn round_changes(&self, before: &AgreementView) -> Markup {
        let v = self.view;
        let changed: Vec<_> = v
            .clauses
            .values()
            .filter(|c| {
                before
                    .clauses
                    .get(&c.clause_id)
                    .is_none_or(|b| b.text != c.text)
            })
            .collect();
        let made: Vec<&Commitment> = v
            .commitments
            .values()
            .filter(|c| {
                c.status == CommitmentStatus::Active
                    && !before.commitments.contains_key(&c.commitment_id)
            })
            .collect();
        let withdrawn: Vec<&Commitment> = v
            .commitments
            .values()
            .filter(|c| {
                c.status == CommitmentStatus::Withdrawn
                    && before
                        .commitments
                        .get(&c.commitment_id)
                        .is_some_and(|b| b.status == CommitmentStatus::Active)
            })
            .collect();
        html! {
            h4 { (self.t("round-changes")) }
            @if changed.is_empty() && made.is_empty() && withdrawn.is_empty() {
                p { (self.t("round-no-changes")) }
            }
            @for c in &changed {
                article.clause {
                    @match before.clauses.get(&c.clause_id) {
                        Some(b) => {
                            h5 { code { (c.clause_id) } " · " (self.a("round-clause-changed", &[("from", &b.version.to_string()), ("to", &c.version.to_string())])) }
                            p.text {
                                @for w in word_diff(&b.text, &c.text) {
                                    @match w.op {
                                        WordOp::Equal => span { (w.text) },
                                        WordOp::Deleted => del { (w.text) },
                                        WordOp::Inserted => ins { (w.text) },
                                    }
                                }
                            }
                        }
                        None => {
                            h5 { code { (c.clause_id) } " · " (self.t("round-clause-new")) }
                            p.text { ins { (c.text) } }
                        }
                    }
                }
            }
            @if !made.is_empty() {
                p { strong { (self.t("round-commitments-made")) ": " }
                    (made.iter().map(|c| format!("{} ({})", c.commitment_id, self.name(&c.partner_id))).collect::<Vec<_>>().join(", ")) }
            }
            @if !withdrawn.is_empty() {
                p { strong { (self.t("round-commitments-withdrawn")) ": " }
                    (withdrawn.iter().map(|c| format!("{} ({})", c.commitment_id, self.name(&c.partner_id))).collect::<Vec<_>>().join(", ")) }
            }
        }
    }

    /// A commitment's delivery against its amount, its fulfilment or transfer, the
    /// assets it draws on, its progress reports and its shortfalls.
    pub(super) fn delivery(&self, c: &Commitment) -> Markup {
        let v = self.view;
        let id = c.commitment_id.as_str();
        let delivered: Option<(Decimal, Decimal)> = c.amount.as_ref().and_then(|a| {
            let total = Decimal::from_str(&a.value).ok()?;
            let sum = c
                .progress
                .iter()
                .filter_map(|p| p.delivered.as_ref())
                .filter(|d| d.currency == a.currency)
                .filter_map(|d| Decimal::from_str(&d.value).ok())
                .sum::<Decimal>();
            Some((sum, total))
        });
        let shortfalls: Vec<_> = v
            .shortfalls
            .values()
            .filter(|s| s.commitment_id == c.commitment_id)
            .collect();
        html! {
            @match c.status {
                CommitmentStatus::Fulfilled => p.ok { (self.t("commitment-fulfilled"))
                    @if let Some(d) = c.fulfilled_on { " " (self.a("commitment-fulfilled-on", &[("date", &self.ctx.i18n.date(d))])) } },
                CommitmentStatus::Transferred => p { span.tag { (self.t("commitment-transferred")) }
                    @if let Some(to) = &c.transferred_to { " " (self.a("commitment-transferred-to", &[("commitment", to.as_str()), ("who", &v.commitments.get(to).map_or_else(String::new, |n| self.name(&n.partner_id)))])) } },
                _ => {},
            }
            @if let Some(from) = &c.transferred_from {
                p.meta { (self.a("commitment-taken-over", &[("commitment", from.as_str()), ("who", &v.commitments.get(from).map_or_else(String::new, |n| self.name(&n.partner_id)))])) }
            }
            @if !c.assets.is_empty() {
                p.meta { (self.t("commitment-draws-on")) ": "
                    @for (i, a) in c.assets.iter().enumerate() {
                        @if i > 0 { ", " }
                        code { (a) }
                        @if let Some(asset) = v.assets.get(a) { " (" (self.asset_kind(asset.kind)) ")" }
                    }
                }
            }
            @if let (Some((sum, total)), Some(a)) = (delivered, &c.amount) {
                @let pct = if total.is_zero() { Decimal::ONE_HUNDRED } else { (sum * Decimal::ONE_HUNDRED / total).round_dp(0) };
                @let bar = pct.min(Decimal::ONE_HUNDRED);
                @let label = self.a("delivered-of", &[
                    ("delivered", &self.ctx.i18n.amount(&sum.to_string(), &a.currency)),
                    ("amount", &self.ctx.i18n.amount(&total.to_string(), &a.currency)),
                    ("percent", &pct.to_string()),
                ]);
                div.delivery {
                    span id={ "delivery-" (id) } { (label) }
                    progress max="100" value=(bar) aria-labelledby={ "delivery-" (id) } {}
                }
            }
            @if !c.progress.is_empty() {
                details {
                    summary { (self.a("progress-title", &[("n", &c.progress.len().to_string())])) }
                    ol.progress {
                        @for p in &c.progress {
                            li {
                                time datetime=(p.at.to_rfc3339()) { (self.ctx.i18n.date(p.at.date_naive())) }
                                " · " (self.actor_name(&p.reported_by))
                                @if let Some(d) = &p.delivered { " · " strong { (self.ctx.i18n.amount(&d.value, &d.currency)) } }
                                ": " span.text { (p.note) }
                            }
                        }
                    }
                }
            }
            @if !shortfalls.is_empty() {
                p { strong { (self.t("commitment-shortfalls")) ": " }
                    @for (i, s) in shortfalls.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href={ "#shortfall-" (s.shortfall_id) } { (s.shortfall_id) }
                        " (" (self.severity(s.severity)) ", "
                        @if s.status == ShortfallStatus::Open { (self.t("shortfall-open")) } @else { (self.t("shortfall-resolved")) }
                        ")"
                    }
                }
            }
            (self.commitment_actions(c))
        }
    }

    /// Report progress, fulfil, report a shortfall: as far as the session's role goes.
    fn commitment_actions(&self, c: &Commitment) -> Markup {
        if !self.in_force() {
            return html! {};
        }
        let me = self.me();
        let mine = me.is_some_and(|m| m.partner_id == c.partner_id);
        let active = c.status == CommitmentStatus::Active;
        let id = c.commitment_id.as_str();
        let progress = (mine || self.is_secretariat()) && active;
        let fulfil = mine && active;
        let shortfall = me.is_some()
            && matches!(
                c.status,
                CommitmentStatus::Active | CommitmentStatus::Fulfilled
            );
        html! {
            @if progress {
                @let key = form_key("report_progress", id);
                @let a = anchor(&key);
                details open[self.error(&key).is_some()] {
                    summary { (self.t("progress-form-title")) }
                    form.card method="post" action=(self.form_action()) id=(a) {
                        (self.form_head(&key, "report_progress"))
                        input type="hidden" name="commitment_id" value=(id);
                        div.field {
                            label for={ (a) "-note" } { (self.t("field-note")) }
                            textarea id={ (a) "-note" } name="note" required rows="2" { (self.kept(&key, "note", "")) }
                        }
                        div.row {
                            div.field {
                                label for={ (a) "-amount" } { (self.t("field-delivered")) " " span.hint { (self.t("optional")) } }
                                input id={ (a) "-amount" } name="delivered" inputmode="decimal" autocomplete="off" value=(self.kept(&key, "delivered", ""));
                            }
                            div.field {
                                label for={ (a) "-cur" } { (self.t("field-currency")) }
                                input id={ (a) "-cur" } name="currency" size="4" autocomplete="off" value=(self.kept(&key, "currency", c.amount.as_ref().map_or("", |a| a.currency.as_str())));
                            }
                        }
                        button type="submit" { (self.t("progress-button")) }
                    }
                }
            }
            @if fulfil {
                @let key = form_key("fulfil", id);
                @let a = anchor(&key);
                details open[self.error(&key).is_some()] {
                    summary { (self.t("fulfil-title")) }
                    form.card method="post" action=(self.form_action()) id=(a) {
                        (self.form_head(&key, "fulfil"))
                        input type="hidden" name="commitment_id" value=(id);
                        div.field {
                            label for={ (a) "-on" } { (self.t("field-fulfilled-on")) }
                            input id={ (a) "-on" } name="fulfilled_on" required inputmode="numeric" placeholder="YYYY-MM-DD" pattern="[0-9]{4}-[0-9]{2}-[0-9]{2}" autocomplete="off" aria-describedby={ (a) "-on-hint" } value=(self.kept(&key, "fulfilled_on", &self.today.to_string()));
                            span.hint id={ (a) "-on-hint" } { (self.t("due-hint")) }
                        }
                        div.field {
                            label for={ (a) "-note" } { (self.t("field-note")) }
                            textarea id={ (a) "-note" } name="note" required rows="2" { (self.kept(&key, "note", "")) }
                        }
                        button type="submit" { (self.t("fulfil-button")) }
                    }
                }
            }
            @if shortfall {
                @let key = form_key("report_shortfall", id);
                @let a = anchor(&key);
                details open[self.error(&key).is_some()] {
                    summary { (self.t("shortfall-form-title")) }
                    form.card method="post" action=(self.form_action()) id=(a) {
                        (self.form_head(&key, "report_shortfall"))
                        input type="hidden" name="commitment_id" value=(id);
                        div.field {
                            label for={ (a) "-id" } { (self.t("field-shortfall-id")) }
                            input id={ (a) "-id" } name="shortfall_id" required autocomplete="off" value=(self.kept(&key, "shortfall_id", &format!("s-{}", self.view.shortfalls.len() + 1)));
                        }
                        div.field {
                            label for={ (a) "-sev" } { (self.t("field-severity")) }
                            select id={ (a) "-sev" } name="severity" {
                                @for s in Severity::ALL {
                                    option value=(s.as_str()) selected[self.kept(&key, "severity", "") == s.as_str()] { (self.severity(s)) }
                                }
                            }
                        }
                        div.field {
                            label for={ (a) "-desc" } { (self.t("field-what-fell-short")) }
                            textarea id={ (a) "-desc" } name="description" required rows="3" { (self.kept(&key, "description", "")) }
                        }
                        button type="submit" { (self.t("shortfall-button")) }
                    }
                }
            }
        }
    }

    /// Open shortfalls by severity (most serious first) and who reported them; the
    /// resolved ones below, with their resolution and penalty.
    pub(super) fn shortfalls(&self) -> Markup {
        let v = self.view;
        if v.shortfalls.is_empty() && !self.in_force() {
            return html! {};
        }
        let open: Vec<_> = v
            .shortfalls
            .values()
            .filter(|s| s.status == ShortfallStatus::Open)
            .collect();
        let resolved: Vec<_> = v
            .shortfalls
            .values()
            .filter(|s| s.status == ShortfallStatus::Resolved)
            .collect();
        html! {
            section aria-labelledby="shortfalls-title" {
                h2 #shortfalls-title { (self.t("shortfalls-title")) }
                @if v.shortfalls.is_empty() {
                    p { (self.t("shortfalls-none")) }
                } @else {
                    p.totals { strong { (self.t("shortfalls-open")) ": " }
                        @for (i, s) in Severity::ALL.iter().rev().enumerate() {
                            @if i > 0 { " · " }
                            (self.a("shortfalls-count", &[("severity", &self.severity(*s)), ("n", &open.iter().filter(|f| f.severity == *s).count().to_string())]))
                        }
                    }
                }
                @for sev in Severity::ALL.iter().rev() {
                    @let these: Vec<_> = open.iter().filter(|s| s.severity == *sev).collect();
                    @if !these.is_empty() {
                        h3 { (self.a("shortfalls-open-severity", &[("severity", &self.severity(*sev))])) }
                        ul.cards {
                            @for s in these {
                                li.card.shortfall id={ "shortfall-" (s.shortfall_id) } {
                                    p { code { (s.shortfall_id) } " · " span class={ "sev-" (s.severity.as_str()) } { (self.severity(s.severity)) } " · "
                                        (self.a("shortfall-on", &[("commitment", s.commitment_id.as_str()), ("who", &v.commitments.get(&s.commitment_id).map_or_else(String::new, |c| self.name(&c.partner_id)))]))
                                        " · " (self.a("shortfall-by", &[("who", &self.name(&s.reported_by))]))
                                    }
                                    p.text { (s.description) }
                                    @if self.is_secretariat() && self.in_force() { (self.resolve_form(s.shortfall_id.as_str())) }
                                }
                            }
                        }
                    }
                }
                @if !resolved.is_empty() {
                    h3 { (self.a("shortfalls-resolved", &[("n", &resolved.len().to_string())])) }
                    ul.cards {
                        @for s in &resolved {
                            li.card.shortfall id={ "shortfall-" (s.shortfall_id) } {
                                p { code { (s.shortfall_id) } " · " (self.severity(s.severity)) " · "
                                    (self.a("shortfall-on", &[("commitment", s.commitment_id.as_str()), ("who", &v.commitments.get(&s.commitment_id).map_or_else(String::new, |c| self.name(&c.partner_id)))]))
                                    " · " (self.a("shortfall-by", &[("who", &self.name(&s.reported_by))]))
                                }
                                p.text { (s.description) }
                                @if let Some(r) = &s.resolution { p { strong { (self.t("shortfall-resolution")) ": " } span.text { (r) } } }
                                @if let Some(p) = &s.penalty { p { strong { (self.t("shortfall-penalty")) ": " } (self.ctx.i18n.amount(&p.value, &p.currency)) } }
                            }
                        }
                    }
                }
            }
        }
    }

    fn resolve_form(&self, id: &str) -> Markup {
        let key = form_key("resolve_shortfall", id);
        let a = anchor(&key);
        html! {
            details open[self.error(&key).is_some()] {
                summary { (self.t("resolve-title")) }
                form.card method="post" action=(self.form_action()) id=(a) {
                    (self.form_head(&key, "resolve_shortfall"))
                    input type="hidden" name="shortfall_id" value=(id);
                    div.field {
                        label for={ (a) "-res" } { (self.t("field-resolution")) }
                        textarea id={ (a) "-res" } name="resolution" required rows="2" { (self.kept(&key, "resolution", "")) }
                    }
                    div.row {
                        div.field {
                            label for={ (a) "-amount" } { (self.t("field-penalty")) " " span.hint { (self.t("optional")) } }
                            input id={ (a) "-amount" } name="penalty" inputmode="decimal" autocomplete="off" value=(self.kept(&key, "penalty", ""));
                        }
                        div.field {
                            label for={ (a) "-cur" } { (self.t("field-currency")) }
                            input id={ (a) "-cur" } name="currency" size="4" autocomplete="off" value=(self.kept(&key, "currency", ""));
                        }
                    }
                    button type="submit" { (self.t("resolve-button")) }
                }
            }
        }
    }

    /// Assets by sector: which sectors bring which kinds, each asset with the active
    /// commitments that draw on it, and those no active commitment draws on.
    pub(super) fn assets(&self) -> Markup {
        let v = self.view;
        let mut drawn: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for c in v
            .commitments
            .values()
            .filter(|c| c.status == CommitmentStatus::Active)
        {
            for a in &c.assets {
                drawn
                    .entry(a.as_str())
                    .or_default()
                    .push(c.commitment_id.as_str());
            }
        }
        let idle: Vec<_> = v
            .assets
            .values()
            .filter(|a| !drawn.contains_key(a.asset_id.as_str()))
            .collect();
        let sector_of =
            |a: &roundtable_domain::view::Asset| v.partners.get(&a.partner_id).map(|p| p.sector);
        html! {
            section aria-labelledby="assets-title" {
                h2 #assets-title { (self.t("assets-title")) }
                @if v.assets.is_empty() {
                    p { (self.t("assets-none")) }
                } @else {
                    ul.sector-kinds {
                        @for s in Sector::ALL {
                            @let kinds: Vec<AssetKind> = AssetKind::ALL.into_iter().filter(|k| v.assets.values().any(|a| a.kind == *k && sector_of(a) == Some(s))).collect();
                            li { strong { (super::sector(self.ctx, s)) ": " }
                                @if kinds.is_empty() { span.hint { (self.t("assets-sector-none")) } }
                                @else { (kinds.iter().map(|k| self.asset_kind(*k)).collect::<Vec<_>>().join(", ")) }
                            }
                        }
                    }
                    @if !idle.is_empty() {
                        div.warning role="note" {
                            p { strong { (self.t("assets-idle")) } }
                            ul { @for a in &idle { li { code { (a.asset_id) } " · " (self.name(&a.partner_id)) " · " (self.asset_kind(a.kind)) } } }
                        }
                    }
                    @for s in Sector::ALL {
                        @let these: Vec<_> = v.assets.values().filter(|a| sector_of(a) == Some(s)).collect();
                        @if !these.is_empty() {
                            h3 { (super::sector(self.ctx, s)) " " span.count { "(" (these.len()) ")" } }
                            ul.assets {
                                @for a in &these {
                                    li id={ "asset-" (a.asset_id) } {
                                        strong { (self.asset_kind(a.kind)) } ": " span.text { (a.description) }
                                        br;
                                        span.meta { (self.name(&a.partner_id)) " · " code { (a.asset_id) } " · "
                                            @match drawn.get(a.asset_id.as_str()) {
                                                Some(cs) => (self.a("asset-drawn-on", &[("commitments", &cs.join(", "))])),
                                                None => span.concern { (self.t("asset-not-drawn")) },
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The partners who left, with the commitments they passed on.
    pub(super) fn left(&self) -> Markup {
        let v = self.view;
        let gone: Vec<&Partner> = v
            .partners
            .values()
            .filter(|p| p.status == PartnerStatus::Withdrawn)
            .collect();
        if gone.is_empty() {
            return html! {};
        }
        html! {
            h3 #left-title { (self.t("left-title")) }
            ul.partners aria-labelledby="left-title" {
                @for p in &gone {
                    li { strong { (p.name) } " " code { (p.partner_id) } " · " (super::kind(self.ctx, p.kind))
                        @let passed: Vec<String> = v.commitments.values()
                            .filter(|c| c.partner_id == p.partner_id && c.status == CommitmentStatus::Transferred)
                            .filter_map(|c| c.transferred_to.as_ref().map(|to| format!("{} → {} ({})", c.commitment_id, to, v.commitments.get(to).map_or_else(String::new, |n| self.name(&n.partner_id)))))
                            .collect();
                        @if !passed.is_empty() { br; span.meta { (self.t("left-passed")) ": " (passed.join("; ")) } }
                    }
                }
            }
        }
    }

    /// The secretariat's actions after the signature: open a round, record a partner
    /// leaving, terminate.
    pub(super) fn after_secretariat_actions(&self) -> Markup {
        let v = self.view;
        if self.terminated() {
            return html! {};
        }
        let rk = "open_round";
        let ra = anchor(rk);
        let tk = "terminate";
        let ta = anchor(tk);
        html! {
            @if v.status == NegotiationStatus::Concluded {
                details open[self.error(rk).is_some()] {
                    summary { (self.t("open-round-title")) }
                    form.card method="post" action=(self.form_action()) id=(ra) {
                        (self.form_head(rk, "open_round"))
                        div.field {
                            label for={ (ra) "-id" } { (self.t("field-round-id")) }
                            input id={ (ra) "-id" } name="round_id" required autocomplete="off" value=(self.kept(rk, "round_id", &format!("r-{}", v.rounds.len() + 1)));
                        }
                        div.field {
                            label for={ (ra) "-reason" } { (self.t("field-reason")) }
                            textarea id={ (ra) "-reason" } name="reason" required rows="2" { (self.kept(rk, "reason", "")) }
                        }
                        button type="submit" { (self.t("open-round-button")) }
                    }
                }
            }
            (self.leave_form(None))
            details open[self.error(tk).is_some()] {
                summary { (self.t("terminate-title")) }
                form.card method="post" action=(self.form_action()) id=(ta) {
                    (self.form_head(tk, "terminate"))
                    p.warning { (self.t("terminate-warning")) }
                    div.field {
                        label for={ (ta) "-reason" } { (self.t("field-reason")) }
                        textarea id={ (ta) "-reason" } name="reason" required rows="2" { (self.kept(tk, "reason", "")) }
                    }
                    button type="submit" { (self.t("terminate-button")) }
                }
            }
        }
    }

    /// A partner's own actions after the signature: declare an asset (while
    /// negotiating) and leave.
    pub(super) fn after_partner_actions(&self, me: &Partner) -> Markup {
        let k = "declare_asset";
        let a = anchor(k);
        html! {
            @if self.open() {
                details open[self.error(k).is_some()] {
                    summary { (self.t("declare-asset-title")) }
                    form.card method="post" action=(self.form_action()) id=(a) {
                        (self.form_head(k, "declare_asset"))
                        div.field {
                            label for={ (a) "-id" } { (self.t("field-asset-id")) }
                            input id={ (a) "-id" } name="asset_id" required autocomplete="off" value=(self.kept(k, "asset_id", &format!("a-{}-{}", me.partner_id, self.view.assets.values().filter(|x| x.partner_id == me.partner_id).count() + 1)));
                        }
                        div.field {
                            label for={ (a) "-kind" } { (self.t("field-asset-kind")) }
                            select id={ (a) "-kind" } name="kind" {
                                @for kind in AssetKind::ALL {
                                    option value=(kind.as_str()) selected[self.kept(k, "kind", "") == kind.as_str()] { (self.asset_kind(kind)) }
                                }
                            }
                        }
                        div.field {
                            label for={ (a) "-desc" } { (self.t("field-asset-description")) }
                            textarea id={ (a) "-desc" } name="description" required rows="2" { (self.kept(k, "description", "")) }
                        }
                        button type="submit" { (self.t("declare-asset-button")) }
                    }
                }
            }
            @if !self.terminated() { (self.leave_form(Some(me))) }
        }
    }

    /// The checkboxes of `me`'s declared assets, in the commit form.
    pub(super) fn asset_choices(&self, me: &Partner, key: &str) -> Markup {
        let mine: Vec<_> = self
            .view
            .assets
            .values()
            .filter(|x| x.partner_id == me.partner_id)
            .collect();
        if mine.is_empty() {
            return html! {};
        }
        let a = anchor(key);
        html! {
            fieldset.field {
                legend { (self.t("field-assets")) " " span.hint { (self.t("optional")) } }
                @for x in &mine {
                    @let name = format!("asset:{}", x.asset_id);
                    div.check {
                        input type="checkbox" id={ (a) "-" (x.asset_id) } name=(name) checked[!self.kept(key, &name, "").is_empty()];
                        label for={ (a) "-" (x.asset_id) } { (self.asset_kind(x.kind)) ": " (x.description) " (" code { (x.asset_id) } ")" }
                    }
                }
            }
        }
    }

    /// `withdraw_partner`: a partner leaving (`Some(me)`: its own active commitments,
    /// each passed on or not), or the secretariat recording that one leaves (`None`: a
    /// partner to pick and up to three transfers).
    fn leave_form(&self, me: Option<&Partner>) -> Markup {
        let v = self.view;
        let key = "withdraw_partner";
        let a = anchor(key);
        let others: Vec<&Partner> = v
            .partners
            .values()
            .filter(|p| {
                p.status == PartnerStatus::Active && me.is_none_or(|m| m.partner_id != p.partner_id)
            })
            .collect();
        let active: Vec<&Commitment> = v
            .commitments
            .values()
            .filter(|c| {
                c.status == CommitmentStatus::Active
                    && me.is_none_or(|m| m.partner_id == c.partner_id)
            })
            .collect();
        let rows = if me.is_some() {
            active.len()
        } else {
            3.min(active.len())
        };
        html! {
            details open[self.error(key).is_some()] {
                summary { @if me.is_some() { (self.t("leave-title")) } @else { (self.t("leave-secretariat-title")) } }
                form.card method="post" action=(self.form_action()) id=(a) {
                    (self.form_head(key, "withdraw_partner"))
                    @if let Some(m) = me {
                        input type="hidden" name="partner_id" value=(m.partner_id);
                        p.warning { (self.t("leave-warning")) }
                    } @else {
                        div.field {
                            label for={ (a) "-who" } { (self.t("field-leaving-partner")) }
                            select id={ (a) "-who" } name="partner_id" {
                                @for p in &others {
                                    option value=(p.partner_id) selected[self.kept(key, "partner_id", "") == p.partner_id.as_str()] { (p.name) }
                                }
                            }
                        }
                    }
                    div.field {
                        label for={ (a) "-reason" } { (self.t("field-reason")) }
                        textarea id={ (a) "-reason" } name="reason" required rows="2" { (self.kept(key, "reason", "")) }
                    }
                    @if rows > 0 {
                        fieldset {
                            legend { (self.t("leave-transfers")) }
                            p.hint { (self.t("leave-transfers-hint")) }
                            @for n in 1..=rows {
                                @let f = |s: &str| format!("transfer-{n}-{s}");
                                div.row.transfer {
                                    div.field {
                                        label for={ (a) "-" (n) "-c" } { (self.t("field-transfer-commitment")) }
                                        @if me.is_some() {
                                            @let c = active[n - 1];
                                            input id={ (a) "-" (n) "-c" } name=(f("commitment")) readonly value=(c.commitment_id);
                                        } @else {
                                            select id={ (a) "-" (n) "-c" } name=(f("commitment")) {
                                                @for c in &active {
                                                    option value=(c.commitment_id) selected[self.kept(key, &f("commitment"), "") == c.commitment_id.as_str()] { (c.commitment_id) " · " (self.name(&c.partner_id)) }
                                                }
                                            }
                                        }
                                    }
                                    div.field {
                                        label for={ (a) "-" (n) "-to" } { (self.t("field-transfer-to")) }
                                        select id={ (a) "-" (n) "-to" } name=(f("to")) {
                                            option value="" { (self.t("transfer-none")) }
                                            @for p in &others {
                                                option value=(p.partner_id) selected[self.kept(key, &f("to"), "") == p.partner_id.as_str()] { (p.name) }
                                            }
                                        }
                                    }
                                    div.field {
                                        label for={ (a) "-" (n) "-new" } { (self.t("field-transfer-new")) }
                                        input id={ (a) "-" (n) "-new" } name=(f("new")) autocomplete="off" value=(self.kept(key, &f("new"), ""));
                                    }
                                }
                            }
                        }
                    }
                    button type="submit" { @if me.is_some() { (self.t("leave-button")) } @else { (self.t("leave-secretariat-button")) } }
                }
            }
        }
    }
}
