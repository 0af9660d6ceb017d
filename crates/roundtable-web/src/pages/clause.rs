//! `/negotiations/{id}/clauses/{clause_id}`: one clause's history, folded from the
//! event log: each agreed version with its word diff against the one before, every
//! proposal and amendment made on it, and every endorsement, retraction, objection and
//! withdrawal over time, each linking to the agreement as of that version.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use roundtable_audit::diff::{WordOp, word_diff};
use roundtable_domain::view::ProposalStatus;
use roundtable_domain::{
    Actor, AgreementView, ClauseId, EventBody, ObjectionId, ProposalId, RecordedEvent,
};

use crate::pages::layout;
use crate::routes::Ctx;

/// One agreed version of the clause.
struct Version<'a> {
    version: u32,
    proposal: &'a ProposalId,
    text: &'a str,
    event: &'a RecordedEvent,
}

/// What happened to the clause in one event.
enum Step<'a> {
    Proposed(&'a ProposalId),
    Endorsed(&'a ProposalId),
    Retracted(&'a ProposalId),
    Objected {
        proposal: &'a ProposalId,
        objection: &'a ObjectionId,
        blocking: bool,
    },
    ObjectionWithdrawn {
        proposal: &'a ProposalId,
        objection: &'a ObjectionId,
    },
    Withdrawn(&'a ProposalId),
    Adopted {
        proposal: &'a ProposalId,
        version: u32,
    },
}

/// A clause's history page.
pub(crate) struct ClausePage<'a> {
    pub(crate) ctx: &'a Ctx,
    pub(crate) view: &'a AgreementView,
    pub(crate) clause: &'a ClauseId,
    pub(crate) events: &'a [RecordedEvent],
}

impl ClausePage<'_> {
    fn t(&self, k: &str) -> String {
        self.ctx.i18n.t(k)
    }

    fn a(&self, k: &str, args: &[(&str, &str)]) -> String {
        self.ctx.i18n.args(k, args)
    }

    fn who(&self, a: &Actor) -> String {
        match a {
            Actor::Secretariat => self.t("actor-secretariat"),
            Actor::Partner(p) => self
                .view
                .partners
                .get(p)
                .map_or_else(|| p.to_string(), |x| x.name.clone()),
        }
    }

    /// The clause's proposals' texts, its versions, and its steps, in log order.
    #[allow(clippy::type_complexity)]
    fn fold(
        &self,
    ) -> (
        HashMap<&ProposalId, &str>,
        Vec<Version<'_>>,
        Vec<(&RecordedEvent, Step<'_>)>,
    ) {
        let mut texts: HashMap<&ProposalId, &str> = HashMap::new();
        let mut objections: HashMap<&ObjectionId, &ProposalId> = HashMap::new();
        let mut versions = Vec::new();
        let mut steps = Vec::new();
        let mine: HashSet<&ProposalId> = self
            .events
            .iter()
            .filter_map(|e| match &e.event.body {
                EventBody::ProposalMade(p) if &p.clause_id == self.clause => Some(&p.proposal_id),
                _ => None,
            })
            .collect();
        for e in self.events {
            let step = match &e.event.body {
                EventBody::ProposalMade(p) if mine.contains(&p.proposal_id) => {
                    texts.insert(&p.proposal_id, &p.text);
                    Step::Proposed(&p.proposal_id)
                }
                EventBody::ProposalEndorsed(p) if mine.contains(&p.proposal_id) => {
                    Step::Endorsed(&p.proposal_id)
                }
                EventBody::EndorsementRetracted(p) if mine.contains(&p.proposal_id) => {
                    Step::Retracted(&p.proposal_id)
                }
                EventBody::ObjectionRaised(o) if mine.contains(&o.proposal_id) => {
                    objections.insert(&o.objection_id, &o.proposal_id);
                    Step::Objected {
                        proposal: &o.proposal_id,
                        objection: &o.objection_id,
                        blocking: o.blocking,
                    }
                }
                EventBody::ObjectionWithdrawn(o) => match objections.get(&o.objection_id) {
                    Some(p) => Step::ObjectionWithdrawn {
                        proposal: p,
                        objection: &o.objection_id,
                    },
                    None => continue,
                },
                EventBody::ProposalWithdrawn(p) if mine.contains(&p.proposal_id) => {
                    Step::Withdrawn(&p.proposal_id)
                }
                EventBody::ProposalAdopted(a) if &a.clause_id == self.clause => {
                    if let Some(text) = texts.get(&a.proposal_id) {
                        versions.push(Version {
                            version: a.clause_version,
                            proposal: &a.proposal_id,
                            text,
                            event: e,
                        });
                    }
                    Step::Adopted {
                        proposal: &a.proposal_id,
                        version: a.clause_version,
                    }
                }
                _ => continue,
            };
            steps.push((e, step));
        }
        (texts, versions, steps)
    }

    fn audit_at(&self, version: u64) -> String {
        format!(
            "/negotiations/{}/audit?version={version}",
            self.view.negotiation_id
        )
    }

    fn when(&self, t: DateTime<Utc>) -> Markup {
        html! { time datetime=(t.to_rfc3339()) { (self.ctx.i18n.datetime(t)) } }
    }

    /// The whole page.
    pub(crate) fn render(&self) -> Markup {
        let title = self.a("clause-history-title", &[("clause", self.clause.as_str())]);
        let (texts, versions, steps) = self.fold();
        let proposals: Vec<_> = self
            .view
            .proposals
            .values()
            .filter(|p| &p.clause_id == self.clause)
            .collect();
        let body = html! {
            p { a href={ "/negotiations/" (self.view.negotiation_id) "#clause-" (self.clause) } { (self.t("audit-back")) } }
            h1 { (title) }
            p.meta { (self.view.title) }
            section aria-labelledby="versions-title" {
                h2 #versions-title { (self.t("clause-versions")) }
                @if versions.is_empty() { p { (self.t("clause-never-agreed")) } }
                @for (i, v) in versions.iter().enumerate() {
                    article.clause id={ "version-" (v.version) } {
                        h3 { (self.a("clause-version", &[("version", &v.version.to_string())])) }
                        p.meta {
                            (self.a("clause-from", &[("proposal", v.proposal.as_str())])) " "
                            (self.when(v.event.occurred_at)) " · "
                            a href=(self.audit_at(v.event.version)) { (self.a("clause-as-of", &[("version", &v.event.version.to_string())])) }
                        }
                        @if i == 0 {
                            p.text { (v.text) }
                        } @else {
                            @let before = versions[i - 1].text;
                            p.hint { (self.a("clause-diff-from", &[("version", &versions[i - 1].version.to_string())])) }
                            p.text {
                                @for w in word_diff(before, v.text) {
                                    @match w.op {
                                        WordOp::Equal => span { (w.text) },
                                        WordOp::Deleted => del { (w.text) },
                                        WordOp::Inserted => ins { (w.text) },
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="clause-proposals-title" {
                h2 #clause-proposals-title { (self.t("clause-proposals")) }
                @for p in &proposals {
                    article.proposal id={ "proposal-" (p.proposal_id) } {
                        h3 { code { (p.proposal_id) } @if let Some(t) = &p.title { " · " (t) } }
                        p.meta {
                            (self.a("proposal-by", &[("who", &self.who(&Actor::Partner(p.proposed_by.clone()))), ("clause", p.clause_id.as_str())]))
                            @if let Some(v) = p.amends_version { " · " (self.a("proposal-amends", &[("version", &v.to_string())])) }
                            " · " span.tag { (self.t(match p.status {
                                ProposalStatus::Open => "proposal-status-open",
                                ProposalStatus::Adopted => "proposal-status-adopted",
                                ProposalStatus::Withdrawn => "proposal-status-withdrawn",
                                ProposalStatus::Superseded => "proposal-status-superseded",
                            })) }
                        }
                        p.text { (texts.get(&p.proposal_id).copied().unwrap_or(&p.text)) }
                    }
                }
            }
            section aria-labelledby="clause-steps-title" {
                h2 #clause-steps-title { (self.t("clause-steps")) }
                ol.timeline {
                    @for (e, step) in &steps {
                        li {
                            p { strong { (self.who(&e.event.actor)) } " " (self.step(step)) }
                            p.meta { (self.when(e.occurred_at)) " · " a href=(self.audit_at(e.version)) { (self.a("clause-as-of", &[("version", &e.version.to_string())])) } }
                        }
                    }
                }
            }
        };
        layout(self.ctx, &title, body, None)
    }

    fn step(&self, s: &Step<'_>) -> String {
        match s {
            Step::Proposed(p) => self.a("step-proposed", &[("proposal", p.as_str())]),
            Step::Endorsed(p) => self.a("step-endorsed", &[("proposal", p.as_str())]),
            Step::Retracted(p) => self.a("step-retracted", &[("proposal", p.as_str())]),
            Step::Objected {
                proposal,
                objection,
                blocking,
            } => self.a(
                if *blocking {
                    "step-blocked"
                } else {
                    "step-concern"
                },
                &[
                    ("proposal", proposal.as_str()),
                    ("objection", objection.as_str()),
                ],
            ),
            Step::ObjectionWithdrawn {
                proposal,
                objection,
            } => self.a(
                "step-objection-withdrawn",
                &[
                    ("proposal", proposal.as_str()),
                    ("objection", objection.as_str()),
                ],
            ),
            Step::Withdrawn(p) => self.a("step-withdrawn", &[("proposal", p.as_str())]),
            Step::Adopted { proposal, version } => self.a(
                "step-adopted",
                &[
                    ("proposal", proposal.as_str()),
                    ("version", &version.to_string()),
                ],
            ),
        }
    }
}
