//! `evolve`: applies an event's facts to the state. No rule lives here: every effect
//! was decided by [`crate::decide`] and is written in the event.

use indexmap::IndexSet;

use crate::event::{Event, EventBody};
use crate::id::Actor;
use crate::view::{
    AgreementView, Asset, Clause, Commitment, CommitmentStatus, Index, NegotiationStatus,
    Objection, ObjectionStatus, Partner, PartnerStatus, Progress, Proposal, ProposalStatus, Round,
    RoundStatus, Shortfall, ShortfallStatus, Signature,
};

/// Applies `event` to `state` (`None` before the negotiation is opened).
///
/// `version` and `last_event_hash` belong to the envelope and are set by
/// [`crate::envelope::Projection`], not here. An event that names something the
/// state does not hold (possible only in a log that `decide` did not write) changes
/// nothing; `verify` reports such logs.
pub fn evolve(state: &mut Option<AgreementView>, event: &Event) {
    apply(state, event);
    // Who still has to sign is derived from the partners and signatures, never decided.
    if let Some(s) = state.as_mut() {
        let awaiting = s.still_to_sign();
        s.awaiting_signature = awaiting;
    }
}

fn apply(state: &mut Option<AgreementView>, event: &Event) {
    if let EventBody::NegotiationOpened(e) = &event.body {
        if state.is_none() {
            *state = Some(AgreementView {
                negotiation_id: e.negotiation_id.clone(),
                title: e.title.clone(),
                service: e.service.clone(),
                decision_rule: e.decision_rule,
                status: NegotiationStatus::Open,
                in_force_agreement_version: None,
                version: 0,
                agreement_version: 0,
                partners: Default::default(),
                clauses: Default::default(),
                proposals: Default::default(),
                objections: Default::default(),
                commitments: Default::default(),
                rounds: Default::default(),
                assets: Default::default(),
                shortfalls: Default::default(),
                signatures: Vec::new(),
                awaiting_signature: Vec::new(),
                last_event_hash: String::new(),
                index: Index::default(),
            });
        }
        return;
    }
    let Some(s) = state.as_mut() else { return };
    if apply_after_signature(s, event) {
        return;
    }
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
                    assets: e.assets.clone(),
                    fulfilled_on: None,
                    transferred_to: None,
                    transferred_from: None,
                    progress: Vec::new(),
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
                status: PartnerStatus::Active,
            });
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
        EventBody::NegotiationConcluded(e) => {
            s.status = NegotiationStatus::Concluded;
            s.in_force_agreement_version = Some(e.agreement_version);
            if let Some(r) = e.round_id.as_ref().and_then(|id| s.rounds.get_mut(id)) {
                r.status = RoundStatus::Concluded;
                r.concluded_agreement_version = Some(e.agreement_version);
            }
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
}

/// The events of contract version 2 (DOMAIN.md, "After the signature"), whoever their
/// actor; `false` for the others.
fn apply_after_signature(s: &mut AgreementView, event: &Event) -> bool {
    match &event.body {
        EventBody::RoundOpened(e) => {
            s.status = NegotiationStatus::Renegotiating;
            s.rounds.entry(e.round_id.clone()).or_insert(Round {
                round_id: e.round_id.clone(),
                reason: e.reason.clone(),
                from_agreement_version: e.from_agreement_version,
                status: RoundStatus::Open,
                concluded_agreement_version: None,
            });
        }
        EventBody::AssetDeclared(e) => {
            if let Actor::Partner(by) = &event.actor {
                s.assets.entry(e.asset_id.clone()).or_insert(Asset {
                    asset_id: e.asset_id.clone(),
                    partner_id: by.clone(),
                    kind: e.kind,
                    description: e.description.clone(),
                });
            }
        }
        EventBody::ProgressReported(e) => {
            if let Some(k) = s.commitments.get_mut(&e.commitment_id) {
                k.progress.push(Progress {
                    note: e.note.clone(),
                    delivered: e.delivered.clone(),
                    at: e.at,
                    reported_by: event.actor.clone(),
                });
            }
        }
        EventBody::CommitmentFulfilled(e) => {
            if let Some(k) = s.commitments.get_mut(&e.commitment_id) {
                k.status = CommitmentStatus::Fulfilled;
                k.fulfilled_on = Some(e.fulfilled_on);
            }
        }
        EventBody::ShortfallReported(e) => {
            if let Actor::Partner(by) = &event.actor {
                s.shortfalls
                    .entry(e.shortfall_id.clone())
                    .or_insert(Shortfall {
                        shortfall_id: e.shortfall_id.clone(),
                        commitment_id: e.commitment_id.clone(),
                        reported_by: by.clone(),
                        severity: e.severity,
                        status: ShortfallStatus::Open,
                        penalty: None,
                        description: e.description.clone(),
                        resolution: None,
                    });
            }
        }
        EventBody::ShortfallResolved(e) => {
            if let Some(f) = s.shortfalls.get_mut(&e.shortfall_id) {
                f.status = ShortfallStatus::Resolved;
                f.penalty = e.penalty.clone();
                f.resolution = Some(e.resolution.clone());
            }
        }
        EventBody::PartnerWithdrawn(e) => {
            if let Some(p) = s.partners.get_mut(&e.partner_id) {
                p.status = PartnerStatus::Withdrawn;
            }
            for t in &e.transfers {
                if let Some(k) = s.commitments.get_mut(&t.commitment_id) {
                    k.status = CommitmentStatus::Transferred;
                    k.transferred_to = Some(t.new_commitment_id.clone());
                }
                s.commitments
                    .entry(t.new_commitment_id.clone())
                    .or_insert(Commitment {
                        commitment_id: t.new_commitment_id.clone(),
                        partner_id: t.to.clone(),
                        kind: t.kind,
                        clause_id: t.clause_id.clone(),
                        amount: t.amount.clone(),
                        due: t.due,
                        status: CommitmentStatus::Active,
                        description: t.description.clone(),
                        assets: Vec::new(),
                        fulfilled_on: None,
                        transferred_to: None,
                        transferred_from: Some(t.commitment_id.clone()),
                        progress: Vec::new(),
                    });
            }
            for id in &e.withdrawn_commitments {
                if let Some(k) = s.commitments.get_mut(id) {
                    k.status = CommitmentStatus::Withdrawn;
                }
            }
            for id in &e.withdrawn_proposals {
                if let Some(p) = s.proposals.get_mut(id) {
                    p.status = ProposalStatus::Withdrawn;
                }
            }
            set_objections(s, &e.mooted_objections, ObjectionStatus::Moot);
            for id in &e.retracted_endorsements {
                if let Some(p) = s.proposals.get_mut(id) {
                    p.endorsed_by.shift_remove(&e.partner_id);
                }
            }
            set_objections(s, &e.withdrawn_objections, ObjectionStatus::Withdrawn);
            set_agreement_version(s, e.agreement_version);
        }
        EventBody::NegotiationTerminated(e) => {
            s.status = NegotiationStatus::Terminated;
            if let Some(r) = e
                .abandoned_round
                .as_ref()
                .and_then(|id| s.rounds.get_mut(id))
            {
                r.status = RoundStatus::Abandoned;
            }
        }
        _ => return false,
    }
    true
}
