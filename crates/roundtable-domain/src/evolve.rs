//! `evolve`: applies an event's facts to the state. No rule lives here: every effect
//! was decided by [`crate::decide`] and is written in the event.

use indexmap::IndexSet;

use crate::event::{Event, EventBody};
use crate::id::Actor;
use crate::view::{
    AgreementView, Clause, Commitment, CommitmentStatus, Index, NegotiationStatus, Objection,
    ObjectionStatus, Partner, Proposal, ProposalStatus, Signature,
};

/// Applies `event` to `state` (`None` before the negotiation is opened).
///
/// `version` and `last_event_hash` belong to the envelope and are set by
/// [`crate::envelope::Projection`], not here. An event that names something the
/// state does not hold (possible only in a log that `decide` did not write) changes
/// nothing; `verify` reports such logs.
pub fn evolve(state: &mut Option<AgreementView>, event: &Event) {
    if let EventBody::NegotiationOpened(e) = &event.body {
        if state.is_none() {
            *state = Some(AgreementView {
                negotiation_id: e.negotiation_id.clone(),
                title: e.title.clone(),
                service: e.service.clone(),
                decision_rule: e.decision_rule,
                status: NegotiationStatus::Open,
                version: 0,
                agreement_version: 0,
                partners: Default::default(),
                clauses: Default::default(),
                proposals: Default::default(),
                objections: Default::default(),
                commitments: Default::default(),
                signatures: Vec::new(),
                awaiting_signature: Vec::new(),
                last_event_hash: String::new(),
                index: Index::default(),
            });
        }
        return;
    }
    let Some(s) = state.as_mut() else { return };
    let Actor::Partner(by) = &event.actor else {
        apply_secretariat(s, &event.body);
        return;
    };
    match &event.body {
        EventBody::ProposalMade(e) => {
            s.index.proposed_clauses.insert(e.clause_id.clone());
            s.proposals
                .entry(e.proposal_id.clone())
                .or_insert(Proposal {
                    proposal_id: e.proposal_id.clone(),
                    clause_id: e.clause_id.clone(),
                    proposed_by: by.clone(),
                    status: ProposalStatus::Open,
                    endorsed_by: IndexSet::new(),
                    title: e.title.clone(),
                    text: e.text.clone(),
                    rationale: e.rationale.clone(),
                    amends_version: e.amends_version,
                });
        }
        EventBody::ProposalWithdrawn(e) => {
            if let Some(p) = s.proposals.get_mut(&e.proposal_id) {
                p.status = ProposalStatus::Withdrawn;
            }
            set_objections(s, &e.mooted_objections, ObjectionStatus::Moot);
        }
        EventBody::ProposalEndorsed(e) => {
            if let Some(p) = s.proposals.get_mut(&e.proposal_id) {
                p.endorsed_by.insert(by.clone());
            }
        }
        EventBody::EndorsementRetracted(e) => {
            if let Some(p) = s.proposals.get_mut(&e.proposal_id) {
                p.endorsed_by.shift_remove(by);
            }
        }
        EventBody::ObjectionRaised(e) => {
            s.index
                .objections_on
                .entry(e.proposal_id.clone())
                .or_default()
                .push(e.objection_id.clone());
            s.objections
                .entry(e.objection_id.clone())
                .or_insert(Objection {
                    objection_id: e.objection_id.clone(),
                    proposal_id: e.proposal_id.clone(),
                    raised_by: by.clone(),
                    blocking: e.blocking,
                    status: ObjectionStatus::Open,
                    grounds: e.grounds.clone(),
                });
        }
        EventBody::ObjectionWithdrawn(e) => {
            set_objections(
                s,
                std::slice::from_ref(&e.objection_id),
                ObjectionStatus::Withdrawn,
            );
        }
        EventBody::CommitmentMade(e) => {
            s.commitments
                .entry(e.commitment_id.clone())
                .or_insert(Commitment {
                    commitment_id: e.commitment_id.clone(),
                    partner_id: by.clone(),
                    kind: e.kind,
                    clause_id: e.clause_id.clone(),
                    amount: e.amount.clone(),
                    due: e.due,
                    status: CommitmentStatus::Active,
                    description: e.description.clone(),
                });
            set_agreement_version(s, e.agreement_version);
        }
        EventBody::CommitmentWithdrawn(e) => {
            if let Some(k) = s.commitments.get_mut(&e.commitment_id) {
                k.status = CommitmentStatus::Withdrawn;
            }
            set_agreement_version(s, e.agreement_version);
        }
        EventBody::AgreementSigned(e) => {
            let sig = Signature {
                partner_id: by.clone(),
                agreement_version: e.agreement_version,
            };
            if s.index
                .signed
                .entry(e.agreement_version)
                .or_default()
                .insert(by.clone())
            {
                s.signatures.push(sig);
            }
            if e.agreement_version == s.agreement_version {
                s.awaiting_signature.retain(|p| p != by);
            }
        }
        // Secretariat events recorded with a partner actor cannot come from `decide`.
        _ => {}
    }
}

fn apply_secretariat(s: &mut AgreementView, body: &EventBody) {
    match body {
        EventBody::PartnerAdmitted(e) => {
            s.partners.entry(e.partner_id.clone()).or_insert(Partner {
                partner_id: e.partner_id.clone(),
                name: e.name.clone(),
                sector: e.sector,
                kind: e.kind,
                role: e.role,
                public_key: e.public_key.clone(),
            });
            if e.role == crate::vocab::Role::Signatory
                && s.status == NegotiationStatus::Open
                && !s.has_signed(&e.partner_id, s.agreement_version)
            {
                s.awaiting_signature.push(e.partner_id.clone());
            }
        }
        EventBody::PartnerKeyRegistered(e) => {
            if let Some(p) = s.partners.get_mut(&e.partner_id) {
                p.public_key = Some(e.public_key.clone());
            }
        }
        EventBody::ProposalAdopted(e) => {
            for id in &e.superseded {
                if let Some(p) = s.proposals.get_mut(id) {
                    p.status = ProposalStatus::Superseded;
                }
            }
            set_objections(s, &e.mooted_objections, ObjectionStatus::Moot);
            set_objections(s, &e.noted_objections, ObjectionStatus::Noted);
            if let Some(p) = s.proposals.get_mut(&e.proposal_id) {
                p.status = ProposalStatus::Adopted;
                let clause = Clause {
                    clause_id: e.clause_id.clone(),
                    version: e.clause_version,
                    text: p.text.clone(),
                    adopted_from: e.proposal_id.clone(),
                };
                // Keeps the clause's first-agreed position in the list.
                s.clauses.insert(e.clause_id.clone(), clause);
            }
            set_agreement_version(s, e.agreement_version);
        }
        EventBody::NegotiationConcluded(_) => {
            s.status = NegotiationStatus::Concluded;
            s.awaiting_signature.clear();
        }
        _ => {}
    }
}

fn set_objections(s: &mut AgreementView, ids: &[crate::id::ObjectionId], status: ObjectionStatus) {
    for id in ids {
        if let Some(o) = s.objections.get_mut(id) {
            o.status = status;
        }
    }
}

fn set_agreement_version(s: &mut AgreementView, v: u64) {
    s.agreement_version = v;
    refresh_awaiting(s);
}

/// Recomputes `awaiting_signature` from the signatories and signatures: derived data,
/// kept in the view because secretariats read it there.
fn refresh_awaiting(s: &mut AgreementView) {
    if s.status == NegotiationStatus::Concluded {
        s.awaiting_signature.clear();
        return;
    }
    let at = s.agreement_version;
    let awaiting = s
        .signatories()
        .filter(|p| !s.has_signed(&p.partner_id, at))
        .map(|p| p.partner_id.clone())
        .collect();
    s.awaiting_signature = awaiting;
}
