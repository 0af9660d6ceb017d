//! `/negotiations/{id}`: one negotiation, as the session's role sees it. The
//! secretariat and the partners see the same agreement; each sees its own actions.
//! Auditors see it read-only, with the audit page one link away. Contract version 2's
//! sections (rounds, assets, delivery, shortfalls, partners who left) are in `after`.

mod after;

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::NaiveDate;
use maud::{Markup, html};
use roundtable_app::adoption::{Need, adoption};
use roundtable_domain::signing::view_signing_message;
use roundtable_domain::view::{
    CommitmentStatus, NegotiationStatus, ObjectionStatus, Partner, PartnerStatus, Proposal,
    ProposalStatus,
};
use roundtable_domain::vocab::{PartnerKind, Role, Sector};
use roundtable_domain::{Actor, AgreementView, PartnerId};
use rust_decimal::Decimal;

use crate::Principal;
use crate::forms::form_key;
use crate::pages::{COMMITMENT_KINDS, KINDS, commitment_kind, kind, layout, role, rule, sector};
use crate::routes::{Ctx, FormError};

/// How many partners one page of the endorsement matrix shows.
pub(crate) const MATRIX_ROWS: usize = 100;

/// A negotiation's page.
pub(crate) struct Page<'a> {
    pub(crate) ctx: &'a Ctx,
    pub(crate) principal: &'a Principal,
    pub(crate) view: &'a AgreementView,
    /// While a round is open: the agreement in force (the view right after the last
    /// conclusion), to show what the round has changed.
    pub(crate) in_force: Option<&'a AgreementView>,
    /// The form that was rejected, if any.
    pub(crate) form: Option<&'a FormError>,
    /// Today, for overdue commitments.
    pub(crate) today: NaiveDate,
    /// The page of the endorsement matrix shown (0: the first [`MATRIX_ROWS`] partners).
    pub(crate) matrix_page: usize,
    /// Set once the rejected form's message has been shown beside it.
    pub(crate) shown: std::cell::Cell<bool>,
}

impl Page<'_> {
    fn t(&self, k: &str) -> String {
        self.ctx.i18n.t(k)
    }

    fn a(&self, k: &str, args: &[(&str, &str)]) -> String {
        self.ctx.i18n.args(k, args)
    }

    /// The session's partner in this negotiation, whatever its status.
    fn myself(&self) -> Option<&Partner> {
        match self.principal.actor_in(&self.view.negotiation_id)? {
            Actor::Partner(p) => self.view.partners.get(&p),
            Actor::Secretariat => None,
        }
    }

    /// The acting partner, when the session is a partner of this negotiation that has
    /// not left it (a partner who left may issue no command).
    fn me(&self) -> Option<&Partner> {
        self.myself().filter(|p| p.status == PartnerStatus::Active)
    }

    fn is_secretariat(&self) -> bool {
        matches!(
            self.principal.actor_in(&self.view.negotiation_id),
            Some(Actor::Secretariat)
        )
    }

    /// Whether version 1's commands are accepted: `open`, or `renegotiating` (a round).
    fn open(&self) -> bool {
        self.view.status.negotiating()
    }

    fn name(&self, id: &PartnerId) -> String {
        self.view
            .partners
            .get(id)
            .map_or_else(|| id.to_string(), |p| p.name.clone())
    }

    fn names(&self, ids: &[PartnerId]) -> String {
        ids.iter()
            .map(|id| self.name(id))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The rejection of the form `key`, if that is the form that was sent.
    fn error(&self, key: &str) -> Option<&FormError> {
        self.form.filter(|f| f.key == key)
    }

    /// What to show in field `name` of form `key`: what was typed when it was
    /// rejected, else `default`.
    fn kept(&self, key: &str, name: &str, default: &str) -> String {
        match self.error(key) {
            Some(f) => f.input.get(name).to_owned(),
            None => default.to_owned(),
        }
    }

    /// The opening of a form: its id (the anchor a redirect returns to), its rejection
    /// shown first and announced, the CSRF token and the action.
    fn form_head(&self, key: &str, action: &str) -> Markup {
        html! {
            @if let Some(f) = self.error(key) {
                p.error role="alert" id={ (anchor(key)) "-error" } { (f.message) }
                ({ self.shown.set(true); "" })
            }
            input type="hidden" name="csrf" value=(self.ctx.csrf());
            input type="hidden" name="action" value=(action);
        }
    }

    fn form_action(&self) -> String {
        format!("/negotiations/{}", self.view.negotiation_id)
    }

    /// The whole page.
    pub(crate) fn render(&self) -> Markup {
        layout(
            self.ctx,
            &self.view.title,
            self.live(),
            Some((self.view.negotiation_id.as_str(), self.view.version)),
        )
    }

    /// What the live script replaces: everything in `main`.
    pub(crate) fn live(&self) -> Markup {
        let body = self.sections();
        html! {
            // A rejected form that is no longer on the page (the item changed): its
            // message at the top.
            @if let Some(f) = self.form.filter(|_| !self.shown.get()) {
                p.error role="alert" id="action-error" { (f.message) }
            }
            (body)
        }
    }

    fn sections(&self) -> Markup {
        html! {
            (self.heading())
            (self.rounds())
            (self.agreement())
            (self.proposals())
            (self.commitments())
            (self.shortfalls())
            (self.assets())
            (self.signatures())
            (self.partners())
            @if self.is_secretariat() { (self.secretariat_actions()) }
            @if let Some(me) = self.me() { (self.partner_actions(me)) }
        }
    }

    fn heading(&self) -> Markup {
        let v = self.view;
        html! {
            h1 { (v.title) }
            p.meta {
                code { (v.negotiation_id) } " · " (v.service) " · "
                (self.t("field-decision-rule")) ": " strong { (rule(self.ctx, v.decision_rule)) } " · "
                @match v.status {
                    NegotiationStatus::Open => span.badge.open { (self.t("status-open")) },
                    NegotiationStatus::Concluded => span.badge.done { (self.t("status-concluded")) },
                    NegotiationStatus::Renegotiating => span.badge.open { (self.t("status-renegotiating")) },
                    NegotiationStatus::Terminated => span.badge.done { (self.t("status-terminated")) },
                }
            }
            p.meta {
                (self.a("versions", &[("version", &v.version.to_string()), ("agreement", &v.agreement_version.to_string())]))
                " · " a href={ "/negotiations/" (v.negotiation_id) "/audit" } { (self.t("audit-link")) }
            }
            @if let Some(me) = self.me() {
                p.you { (self.a("you-are", &[("name", &me.name), ("role", &role(self.ctx, me.role))])) }
            } @else if let Some(gone) = self.myself() {
                p.you { (self.a("you-left", &[("name", &gone.name)])) }
            }
        }
    }

    fn agreement(&self) -> Markup {
        let v = self.view;
        html! {
            section aria-labelledby="agreement-title" {
                h2 #agreement-title { (self.t("agreement-title")) }
                @if v.clauses.is_empty() {
                    p { (self.t("agreement-none")) }
                }
                @for c in v.clauses.values() {
                    article.clause id={ "clause-" (c.clause_id) } {
                        h3 { code { (c.clause_id) } " · " (self.a("clause-version", &[("version", &c.version.to_string())])) }
                        p.text { (c.text) }
                        p.meta { (self.a("clause-from", &[("proposal", c.adopted_from.as_str())])) " · "
                            a href={ "/negotiations/" (v.negotiation_id) "/clauses/" (c.clause_id) } { (self.a("clause-history-link", &[("clause", c.clause_id.as_str())])) } }
                        @if self.me().is_some() && self.open() {
                            (self.propose_form(Some((c.clause_id.as_str(), &c.text))))
                        }
                    }
                }
            }
        }
    }

    fn open_proposals(&self) -> Vec<&Proposal> {
        self.view
            .proposals
            .values()
            .filter(|p| p.status == ProposalStatus::Open)
            .collect()
    }

    fn proposals(&self) -> Markup {
        let open = self.open_proposals();
        html! {
            section aria-labelledby="proposals-title" {
                h2 #proposals-title { (self.t("proposals-title")) }
                @if open.is_empty() {
                    p { (self.t("proposals-none")) }
                } @else {
                    (self.matrix(&open))
                    @for p in &open { (self.proposal(p)) }
                }
                @if self.me().is_some() && self.open() {
                    (self.propose_form(None))
                }
            }
        }
    }

    /// Partners (grouped by sector) × open proposals: who endorses, who objects. Past
    /// [`MATRIX_ROWS`] partners, the matrix is paged (`?partners=N`), with a summary
    /// by sector above it, so that a consultation of thousands stays usable.
    fn matrix(&self, open: &[&Proposal]) -> Markup {
        let v = self.view;
        let everyone: Vec<&Partner> = Sector::ALL
            .iter()
            .flat_map(|s| {
                v.partners
                    .values()
                    .filter(move |p| p.sector == *s && p.status == PartnerStatus::Active)
            })
            .collect();
        let total = everyone.len();
        let pages = total.div_ceil(MATRIX_ROWS).max(1);
        let page = self.matrix_page.min(pages - 1);
        let rows =
            &everyone[(page * MATRIX_ROWS).min(total)..((page + 1) * MATRIX_ROWS).min(total)];
        let here = format!("/negotiations/{}", v.negotiation_id);
        html! {
            h3 #matrix-title { (self.t("matrix-title")) }
            @if pages > 1 {
                (self.sector_summary(open))
                nav.pager aria-label=(self.t("matrix-pages")) {
                    p {
                        (self.a("matrix-showing", &[("from", &(page * MATRIX_ROWS + 1).to_string()), ("to", &(page * MATRIX_ROWS + rows.len()).to_string()), ("total", &total.to_string())]))
                        @if page > 0 { " " a href={ (here) "?partners=" (page) "#matrix-title" } { (self.t("matrix-previous")) } }
                        @if page + 1 < pages { " " a href={ (here) "?partners=" (page + 2) "#matrix-title" } { (self.t("matrix-next")) } }
                    }
                }
            }
            div.scroll role="region" aria-labelledby="matrix-title" tabindex="0" {
                table.matrix {
                    thead {
                        tr {
                            th scope="col" { (self.t("matrix-partner")) }
                            @for p in open {
                                th scope="col" { a href={ "#proposal-" (p.proposal_id) } { code { (p.proposal_id) } } br; small { (p.clause_id) } }
                            }
                        }
                    }
                    @for s in Sector::ALL {
                        @let members: Vec<&&Partner> = rows.iter().filter(|p| p.sector == s).collect();
                        @if !members.is_empty() {
                            tbody {
                                tr.group { th scope="colgroup" colspan=(open.len() + 1) { (sector(self.ctx, s)) } }
                                @for m in &members {
                                    tr {
                                        th scope="row" {
                                            (m.name)
                                            @if m.role == Role::Observer { " " span.tag { (self.t("role-observer")) } }
                                        }
                                        @for p in open {
                                            td { (self.cell(p, &m.partner_id)) }
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

    /// Sectors × open proposals: how many endorse, block and raise a concern.
    fn sector_summary(&self, open: &[&Proposal]) -> Markup {
        let v = self.view;
        html! {
            h4 #matrix-sectors { (self.t("matrix-by-sector")) }
            div.scroll role="region" aria-labelledby="matrix-sectors" tabindex="0" {
                table.matrix {
                    thead {
                        tr {
                            th scope="col" { (self.t("matrix-sector")) }
                            @for p in open { th scope="col" { code { (p.proposal_id) } } }
                        }
                    }
                    tbody {
                        @for s in Sector::ALL {
                            tr {
                                th scope="row" { (sector(self.ctx, s)) }
                                @for p in open {
                                    @let in_sector = |id: &PartnerId| v.partners.get(id).is_some_and(|x| x.sector == s);
                                    @let yes = p.endorsed_by.iter().filter(|id| in_sector(id)).count();
                                    @let (block, concern) = v.open_objections_on(&p.proposal_id).filter(|o| in_sector(&o.raised_by)).fold((0, 0), |(b, c), o| if o.blocking { (b + 1, c) } else { (b, c + 1) });
                                    td { (self.a("matrix-counts", &[("yes", &yes.to_string()), ("block", &block.to_string()), ("concern", &concern.to_string())])) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn cell(&self, p: &Proposal, who: &PartnerId) -> Markup {
        let objection = self
            .view
            .open_objections_on(&p.proposal_id)
            .find(|o| &o.raised_by == who);
        html! {
            @if p.endorsed_by.contains(who) {
                span.yes { "✓ " (self.t("cell-endorses")) }
            } @else if let Some(o) = objection {
                @if o.blocking {
                    span.block { "✕ " (self.t("cell-blocks")) }
                } @else {
                    span.concern { "! " (self.t("cell-concern")) }
                }
            } @else {
                span.none { "–" span.visually-hidden { (self.t("cell-silent")) } }
            }
        }
    }

    fn needs(&self, p: &Proposal) -> (bool, Vec<String>) {
        let Some(a) = adoption(self.view, &p.proposal_id) else {
            return (false, Vec::new());
        };
        let words = a
            .needs
            .iter()
            .map(|n| match n {
                Need::Concluded => self.t("need-concluded"),
                Need::NotOpen { .. } => self.t("need-not-open"),
                Need::BlockingObjection { by, objection } => self.a(
                    "need-blocking",
                    &[("who", &self.name(by)), ("objection", objection.as_str())],
                ),
                Need::SignatoryEndorsement => self.t("need-signatory"),
                Need::SectorEndorsement {
                    sector: s,
                    signatories,
                } => self.a(
                    "need-sector",
                    &[
                        ("sector", &sector(self.ctx, *s)),
                        ("who", &self.names(signatories)),
                    ],
                ),
                Need::Endorsements { signatories } => {
                    self.a("need-unanimity", &[("who", &self.names(signatories))])
                }
            })
            .collect();
        (a.adoptable(), words)
    }

    fn proposal(&self, p: &Proposal) -> Markup {
        let (adoptable, needs) = self.needs(p);
        let objections: Vec<_> = self
            .view
            .objections
            .values()
            .filter(|o| o.proposal_id == p.proposal_id && o.status == ObjectionStatus::Open)
            .collect();
        let id = p.proposal_id.as_str();
        html! {
            article.proposal id={ "proposal-" (id) } aria-labelledby={ "proposal-" (id) "-title" } {
                h3 id={ "proposal-" (id) "-title" } {
                    code { (id) } " · "
                    @if let Some(title) = &p.title { (title) } @else { (self.a("proposal-on", &[("clause", p.clause_id.as_str())])) }
                }
                p.meta {
                    (self.a("proposal-by", &[("who", &self.name(&p.proposed_by)), ("clause", p.clause_id.as_str())]))
                    @if let Some(v) = p.amends_version { " · " (self.a("proposal-amends", &[("version", &v.to_string())])) }
                    " · " a href={ "/negotiations/" (self.view.negotiation_id) "/clauses/" (p.clause_id) } { (self.a("clause-history-link", &[("clause", p.clause_id.as_str())])) }
                }
                p.text { (p.text) }
                @if let Some(r) = &p.rationale {
                    p.rationale { strong { (self.t("proposal-rationale")) ": " } span.text { (r) } }
                }
                p { strong { (self.t("proposal-endorsed-by")) ": " }
                    @if p.endorsed_by.is_empty() { (self.t("nobody")) }
                    @else { (self.names(&p.endorsed_by.iter().cloned().collect::<Vec<_>>())) }
                }
                @if !objections.is_empty() {
                    ul.objections {
                        @for o in &objections {
                            li {
                                @if o.blocking { span.block { (self.t("objection-blocking")) } } @else { span.concern { (self.t("objection-concern")) } }
                                " " code { (o.objection_id) } " · " (self.name(&o.raised_by)) ": " span.text { (o.grounds) }
                            }
                        }
                    }
                }
                div.needs {
                    @if adoptable {
                        p.ok { (self.t("need-none")) }
                    } @else {
                        p { strong { (self.t("needs-title")) } }
                        ul { @for n in &needs { li { (n) } } }
                    }
                }
                @if self.is_secretariat() && self.open() {
                    @let key = form_key("adopt", id);
                    form.inline method="post" action=(self.form_action()) id=(anchor(&key)) {
                        (self.form_head(&key, "adopt"))
                        input type="hidden" name="proposal_id" value=(id);
                        @if adoptable {
                            button type="submit" { (self.a("adopt-button", &[("proposal", id)])) }
                        } @else {
                            button type="submit" disabled aria-describedby={ (anchor(&key)) "-why" } { (self.a("adopt-button", &[("proposal", id)])) }
                            span.hint id={ (anchor(&key)) "-why" } { (self.t("adopt-disabled")) " " (needs.join("; ")) }
                        }
                    }
                }
                @if let Some(me) = self.me() {
                    @if self.open() { (self.proposal_actions(me, p)) }
                }
            }
        }
    }

    fn proposal_actions(&self, me: &Partner, p: &Proposal) -> Markup {
        let id = p.proposal_id.as_str();
        let endorses = p.endorsed_by.contains(&me.partner_id);
        let mine: Vec<_> = self
            .view
            .open_objections_on(&p.proposal_id)
            .filter(|o| o.raised_by == me.partner_id)
            .collect();
        let object_key = form_key("object", id);
        html! {
            div.actions {
                @if endorses {
                    (self.simple_form("retract_endorsement", "proposal_id", id, &self.t("retract-button")))
                } @else if mine.is_empty() {
                    (self.simple_form("endorse", "proposal_id", id, &self.t("endorse-button")))
                }
                @if p.proposed_by == me.partner_id {
                    (self.simple_form("withdraw_proposal", "proposal_id", id, &self.t("withdraw-proposal-button")))
                }
                @for o in &mine {
                    (self.simple_form("withdraw_objection", "objection_id", o.objection_id.as_str(), &self.a("withdraw-objection-button", &[("objection", o.objection_id.as_str())])))
                }
            }
            @if !endorses {
                details open[self.error(&object_key).is_some()] {
                    summary { (self.t("object-title")) }
                    form.card method="post" action=(self.form_action()) id=(anchor(&object_key)) {
                        (self.form_head(&object_key, "object"))
                        input type="hidden" name="proposal_id" value=(id);
                        div.field {
                            label for={ (anchor(&object_key)) "-id" } { (self.t("field-objection-id")) }
                            input id={ (anchor(&object_key)) "-id" } name="objection_id" required autocomplete="off" value=(self.kept(&object_key, "objection_id", &format!("{}-{}-o", id, me.partner_id)));
                        }
                        div.field {
                            label for={ (anchor(&object_key)) "-grounds" } { (self.t("field-grounds")) }
                            textarea id={ (anchor(&object_key)) "-grounds" } name="grounds" required rows="3" { (self.kept(&object_key, "grounds", "")) }
                        }
                        @if me.role == Role::Signatory {
                            div.check {
                                input type="checkbox" id={ (anchor(&object_key)) "-blocking" } name="blocking" checked[self.kept(&object_key, "blocking", "") == "on"];
                                label for={ (anchor(&object_key)) "-blocking" } { (self.t("field-blocking")) }
                            }
                        } @else {
                            p.hint { (self.t("observer-no-block")) }
                        }
                        button type="submit" { (self.t("object-button")) }
                    }
                }
            }
        }
    }

    /// A one-button form acting on one item.
    fn simple_form(&self, action: &str, field: &str, value: &str, label: &str) -> Markup {
        let key = form_key(action, value);
        html! {
            form.inline method="post" action=(self.form_action()) id=(anchor(&key)) {
                (self.form_head(&key, action))
                input type="hidden" name=(field) value=(value);
                button type="submit" { (label) }
            }
        }
    }

    /// Propose text for a new clause (`None`), or amend `clause` (its text prefilled).
    fn propose_form(&self, clause: Option<(&str, &str)>) -> Markup {
        let key = form_key("propose", clause.map_or("", |c| c.0));
        let a = anchor(&key);
        let n = self.view.proposals.len() + 1;
        html! {
            details open[self.error(&key).is_some()] {
                summary { @if let Some((c, _)) = clause { (self.a("amend-title", &[("clause", c)])) } @else { (self.t("propose-title")) } }
                form.card method="post" action=(self.form_action()) id=(a) {
                    (self.form_head(&key, "propose"))
                    @if let Some((c, _)) = clause { input type="hidden" name="amends" value=(c); }
                    div.field {
                        label for={ (a) "-pid" } { (self.t("field-proposal-id")) }
                        input id={ (a) "-pid" } name="proposal_id" required autocomplete="off" value=(self.kept(&key, "proposal_id", &format!("p-{n}")));
                    }
                    div.field {
                        label for={ (a) "-cid" } { (self.t("field-clause-id")) }
                        @if let Some((c, _)) = clause {
                            input id={ (a) "-cid" } name="clause_id" required readonly value=(c);
                        } @else {
                            input id={ (a) "-cid" } name="clause_id" required autocomplete="off" value=(self.kept(&key, "clause_id", ""));
                        }
                    }
                    div.field {
                        label for={ (a) "-title" } { (self.t("field-title")) " " span.hint { (self.t("optional")) } }
                        input id={ (a) "-title" } name="title" value=(self.kept(&key, "title", ""));
                    }
                    div.field {
                        label for={ (a) "-text" } { (self.t("field-text")) }
                        textarea id={ (a) "-text" } name="text" required rows="5" { (self.kept(&key, "text", clause.map_or("", |c| c.1))) }
                    }
                    div.field {
                        label for={ (a) "-why" } { (self.t("field-rationale")) " " span.hint { (self.t("optional")) } }
                        textarea id={ (a) "-why" } name="rationale" rows="3" { (self.kept(&key, "rationale", "")) }
                    }
                    button type="submit" { (self.t("propose-button")) }
                }
            }
        }
    }

    fn commitments(&self) -> Markup {
        let v = self.view;
        let mut totals: BTreeMap<String, Decimal> = BTreeMap::new();
        for c in v
            .commitments
            .values()
            .filter(|c| c.status == CommitmentStatus::Active)
        {
            if let Some(a) = &c.amount {
                if let Ok(d) = Decimal::from_str(&a.value) {
                    *totals.entry(a.currency.clone()).or_default() += d;
                }
            }
        }
        let me = self.me().map(|p| p.partner_id.clone());
        html! {
            section aria-labelledby="commitments-title" {
                h2 #commitments-title { (self.t("commitments-title")) }
                @if v.commitments.is_empty() {
                    p { (self.t("commitments-none")) }
                } @else {
                    @if !totals.is_empty() {
                        p.totals { strong { (self.t("commitments-totals")) ": " }
                            @for (i, (cur, sum)) in totals.iter().enumerate() {
                                @if i > 0 { " · " }
                                (self.ctx.i18n.amount(&sum.to_string(), cur))
                            }
                        }
                    }
                    @for p in v.partners.values() {
                        @let theirs: Vec<_> = v.commitments.values().filter(|c| c.partner_id == p.partner_id).collect();
                        @if !theirs.is_empty() {
                            h3 { (p.name) }
                            ul.commitments {
                                @for c in &theirs {
                                    li.card {
                                        p { code { (c.commitment_id) } " · " (commitment_kind(self.ctx, c.kind))
                                            @if let Some(a) = &c.amount { " · " strong { (self.ctx.i18n.amount(&a.value, &a.currency)) } }
                                            @if let Some(d) = c.due {
                                                " · " (self.t("commitment-due")) " " (self.ctx.i18n.date(d))
                                                @if d < self.today && c.status == CommitmentStatus::Active { " " span.block { (self.t("commitment-overdue")) } }
                                            }
                                            @if c.status == CommitmentStatus::Withdrawn { " · " span.tag { (self.t("commitment-withdrawn")) } }
                                            @if let Some(cl) = &c.clause_id { " · " (self.a("commitment-clause", &[("clause", cl.as_str())])) }
                                        }
                                        p.text { (c.description) }
                                        (self.delivery(c))
                                        @if me.as_ref() == Some(&c.partner_id) && c.status == CommitmentStatus::Active && self.open() {
                                            (self.withdraw_commitment_form(c.commitment_id.as_str()))
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

    fn withdraw_commitment_form(&self, id: &str) -> Markup {
        let key = form_key("withdraw_commitment", id);
        let a = anchor(&key);
        html! {
            details open[self.error(&key).is_some()] {
                summary { (self.t("withdraw-commitment-title")) }
                form.card method="post" action=(self.form_action()) id=(a) {
                    (self.form_head(&key, "withdraw_commitment"))
                    input type="hidden" name="commitment_id" value=(id);
                    div.field {
                        label for={ (a) "-reason" } { (self.t("field-reason")) }
                        textarea id={ (a) "-reason" } name="reason" required rows="2" { (self.kept(&key, "reason", "")) }
                    }
                    button type="submit" { (self.t("withdraw-commitment-button")) }
                }
            }
        }
    }

    fn signatures(&self) -> Markup {
        let v = self.view;
        let signed: Vec<&Partner> = v
            .signatories()
            .filter(|p| v.has_signed(&p.partner_id, v.agreement_version))
            .collect();
        html! {
            section aria-labelledby="signatures-title" {
                h2 #signatures-title { (self.a("signatures-title", &[("version", &v.agreement_version.to_string())])) }
                @if v.status == NegotiationStatus::Concluded {
                    p.ok { (self.t("signatures-concluded")) }
                } @else if v.awaiting_signature.is_empty() {
                    p { (self.t("signatures-all")) }
                } @else {
                    p { strong { (self.t("signatures-awaiting")) ": " } (self.names(&v.awaiting_signature)) }
                }
                @if !signed.is_empty() {
                    p { strong { (self.t("signatures-signed")) ": " } (signed.iter().map(|p| p.name.clone()).collect::<Vec<_>>().join(", ")) }
                }
            }
        }
    }

    fn partners(&self) -> Markup {
        let v = self.view;
        let has = |k: PartnerKind| {
            v.partners
                .values()
                .any(|p| p.kind == k && p.status == PartnerStatus::Active)
        };
        let missing: Vec<PartnerKind> = [
            PartnerKind::SmallScaleProvider,
            PartnerKind::CommunityOrganisation,
            PartnerKind::TradeUnion,
        ]
        .into_iter()
        .filter(|k| !has(*k))
        .collect();
        html! {
            section aria-labelledby="partners-title" {
                h2 #partners-title { (self.t("partners-title")) }
                @if !missing.is_empty() {
                    div.warning role="note" {
                        p { strong { (self.t("missing-voices")) } }
                        ul { @for k in &missing { li { (self.a("missing-kind", &[("kind", &kind(self.ctx, *k))])) } } }
                    }
                }
                @for s in Sector::ALL {
                    @let members: Vec<&Partner> = v.partners.values().filter(|p| p.sector == s && p.status == PartnerStatus::Active).collect();
                    h3 { (sector(self.ctx, s)) " " span.count { "(" (members.len()) ")" } }
                    @if members.is_empty() {
                        p.hint { (self.t("sector-empty")) }
                    } @else {
                        ul.partners {
                            @for p in &members {
                                li { strong { (p.name) } " " code { (p.partner_id) } " · " (kind(self.ctx, p.kind)) " · " (role(self.ctx, p.role))
                                    @if p.public_key.is_some() { " · " span.tag { (self.t("partner-keyed")) } } }
                            }
                        }
                    }
                }
                (self.left())
            }
        }
    }

    fn secretariat_actions(&self) -> Markup {
        if self.view.status == NegotiationStatus::Terminated {
            return html! {};
        }
        let key = "admit_partner";
        let a = anchor(key);
        let kk = "register_key";
        let ka = anchor(kk);
        html! {
            section aria-labelledby="secretariat-title" {
                h2 #secretariat-title { (self.t("secretariat-actions")) }
                @if self.open() { (self.negotiating_secretariat_actions(key, &a, kk, &ka)) }
                (self.after_secretariat_actions())
            }
        }
    }

    /// Admit, register a key, conclude: while negotiating.
    fn negotiating_secretariat_actions(&self, key: &str, a: &str, kk: &str, ka: &str) -> Markup {
        html! {
                details open[self.error(key).is_some()] {
                    summary { (self.t("admit-title")) }
                    form.card method="post" action=(self.form_action()) id=(a) {
                        (self.form_head(key, "admit_partner"))
                        div.field {
                            label for={ (a) "-id" } { (self.t("field-partner-id")) }
                            input id={ (a) "-id" } name="partner_id" required autocomplete="off" value=(self.kept(key, "partner_id", ""));
                        }
                        div.field {
                            label for={ (a) "-name" } { (self.t("field-name")) }
                            input id={ (a) "-name" } name="name" required value=(self.kept(key, "name", ""));
                        }
                        div.field {
                            label for={ (a) "-kind" } { (self.t("field-kind")) }
                            select id={ (a) "-kind" } name="kind" {
                                @for s in Sector::ALL {
                                    optgroup label=(sector(self.ctx, s)) {
                                        @for k in KINDS.iter().filter(|k| k.sector() == s) {
                                            option value=(k.as_str()) selected[self.kept(key, "kind", "") == k.as_str()] { (kind(self.ctx, *k)) }
                                        }
                                    }
                                }
                            }
                        }
                        div.field {
                            label for={ (a) "-role" } { (self.t("field-role")) }
                            select id={ (a) "-role" } name="role" {
                                @for r in [Role::Signatory, Role::Observer] {
                                    option value=(r.as_str()) selected[self.kept(key, "role", "") == r.as_str()] { (role(self.ctx, r)) }
                                }
                            }
                        }
                        div.field {
                            label for={ (a) "-key" } { (self.t("field-public-key")) " " span.hint { (self.t("optional")) } }
                            input id={ (a) "-key" } name="public_key" autocomplete="off" spellcheck="false" value=(self.kept(key, "public_key", ""));
                        }
                        button type="submit" { (self.t("admit-button")) }
                    }
                }
                details open[self.error(kk).is_some()] {
                    summary { (self.t("register-key-title")) }
                    form.card method="post" action=(self.form_action()) id=(ka) {
                        (self.form_head(kk, "register_key"))
                        div.field {
                            label for={ (ka) "-id" } { (self.t("field-partner-id")) }
                            select id={ (ka) "-id" } name="partner_id" {
                                @for p in self.view.partners.values() {
                                    option value=(p.partner_id) selected[self.kept(kk, "partner_id", "") == p.partner_id.as_str()] { (p.name) }
                                }
                            }
                        }
                        div.field {
                            label for={ (ka) "-key" } { (self.t("field-public-key")) }
                            input id={ (ka) "-key" } name="public_key" required autocomplete="off" spellcheck="false" value=(self.kept(kk, "public_key", ""));
                        }
                        button type="submit" { (self.t("register-key-button")) }
                    }
                }
                @let ck = "conclude";
                form.inline method="post" action=(self.form_action()) id=(anchor(ck)) {
                    (self.form_head(ck, "conclude"))
                    @if self.view.awaiting_signature.is_empty() && self.view.signatories().next().is_some() {
                        button type="submit" { (self.t("conclude-button")) }
                    } @else {
                        button type="submit" disabled aria-describedby="conclude-why" { (self.t("conclude-button")) }
                        span.hint #conclude-why { (self.t("conclude-disabled")) }
                    }
                }
        }
    }

    fn partner_actions(&self, me: &Partner) -> Markup {
        if self.view.status == NegotiationStatus::Terminated {
            return html! {};
        }
        let key = "commit";
        let a = anchor(key);
        let n = self.view.commitments.len() + 1;
        html! {
            section aria-labelledby="partner-title" {
                h2 #partner-title { (self.t("partner-actions")) }
                @if self.open() { (self.commit_form(me, key, &a, n)) }
                (self.after_partner_actions(me))
                @if me.role == Role::Signatory && self.open() { (self.sign_form(me)) }
            }
        }
    }

    fn commit_form(&self, me: &Partner, key: &str, a: &str, n: usize) -> Markup {
        html! {
                details open[self.error(key).is_some()] {
                    summary { (self.t("commit-title")) }
                    form.card method="post" action=(self.form_action()) id=(a) {
                        (self.form_head(key, "commit"))
                        div.field {
                            label for={ (a) "-id" } { (self.t("field-commitment-id")) }
                            input id={ (a) "-id" } name="commitment_id" required autocomplete="off" value=(self.kept(key, "commitment_id", &format!("k-{n}")));
                        }
                        div.field {
                            label for={ (a) "-desc" } { (self.t("field-description")) }
                            textarea id={ (a) "-desc" } name="description" required rows="3" { (self.kept(key, "description", "")) }
                        }
                        div.field {
                            label for={ (a) "-kind" } { (self.t("field-commitment-kind")) }
                            select id={ (a) "-kind" } name="kind" {
                                @for k in COMMITMENT_KINDS {
                                    option value=(k.as_str()) selected[self.kept(key, "kind", "") == k.as_str()] { (commitment_kind(self.ctx, k)) }
                                }
                            }
                        }
                        div.field {
                            label for={ (a) "-clause" } { (self.t("field-clause-id")) " " span.hint { (self.t("optional")) } }
                            input id={ (a) "-clause" } name="clause_id" autocomplete="off" value=(self.kept(key, "clause_id", ""));
                        }
                        div.row {
                            div.field {
                                label for={ (a) "-amount" } { (self.t("field-amount")) " " span.hint { (self.t("optional")) } }
                                input id={ (a) "-amount" } name="amount" inputmode="decimal" autocomplete="off" value=(self.kept(key, "amount", ""));
                            }
                            div.field {
                                label for={ (a) "-cur" } { (self.t("field-currency")) }
                                input id={ (a) "-cur" } name="currency" size="4" autocomplete="off" value=(self.kept(key, "currency", ""));
                            }
                        }
                        div.field {
                            label for={ (a) "-due" } { (self.t("field-due")) " " span.hint { (self.t("optional")) } }
                            input id={ (a) "-due" } name="due" inputmode="numeric" placeholder="YYYY-MM-DD" pattern="[0-9]{4}-[0-9]{2}-[0-9]{2}" autocomplete="off" aria-describedby={ (a) "-due-hint" } value=(self.kept(key, "due", ""));
                            span.hint id={ (a) "-due-hint" } { (self.t("due-hint")) }
                        }
                        (self.asset_choices(me, key))
                        button type="submit" { (self.t("commit-button")) }
                    }
                }
        }
    }

    fn sign_form(&self, me: &Partner) -> Markup {
        let key = "sign";
        let a = anchor(key);
        let v = self.view;
        let signed = v.has_signed(&me.partner_id, v.agreement_version);
        html! {
            h3 #sign-title { (self.a("sign-title", &[("version", &v.agreement_version.to_string())])) }
            @if signed {
                p.ok { (self.t("sign-done")) }
            } @else {
                form.card method="post" action=(self.form_action()) id=(a) aria-labelledby="sign-title" {
                    (self.form_head(key, "sign"))
                    @if me.public_key.is_some() {
                        p { (self.t("sign-keyed")) }
                        p { label for={ (a) "-msg" } { (self.t("sign-message")) } }
                        pre.message { code id={ (a) "-msg" } { (view_signing_message(v)) } }
                        p.hint { (self.t("sign-command")) " " code { "roundtable keys sign" } }
                        div.field {
                            label for={ (a) "-sig" } { (self.t("field-signature")) }
                            textarea id={ (a) "-sig" } name="signature" required rows="3" spellcheck="false" { (self.kept(key, "signature", "")) }
                        }
                    }
                    button type="submit" { (self.t("sign-button")) }
                }
            }
        }
    }
}

/// A form key as an HTML id: `endorse:p-2` → `endorse-p-2`.
pub(crate) fn anchor(key: &str) -> String {
    key.replace(':', "-")
}
