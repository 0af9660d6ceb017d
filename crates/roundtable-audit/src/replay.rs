//! The rules re-checked from the record alone: every event states the command it
//! answered (its data and actor), so the command can be rebuilt, judged again by
//! `decide` against the state before the event, and the result compared with what
//! was recorded. This re-verifies every signature too, with the key in force then.

use roundtable_domain::command::{
    AdmitPartner, Commit, Conclude, DeclareAsset, Fulfil, Object, OpenNegotiation, OpenRound,
    ProposalRef, Propose, RegisterKey, ReportProgress, ReportShortfall, ResolveShortfall, Sign,
    Terminate, Transfer, WithdrawCommitment, WithdrawObjection, WithdrawPartner,
};
use roundtable_domain::{
    AgreementView, Command, CommandEnvelope, Event, EventBody, RecordedEvent, Rejection, decide,
};

/// The command `e` answered, rebuilt from its data.
pub(crate) fn command_of(e: &RecordedEvent) -> CommandEnvelope {
    let pref = |p: &roundtable_domain::ProposalId| ProposalRef {
        proposal_id: p.clone(),
    };
    let command = match &e.event.body {
        EventBody::NegotiationOpened(d) => Command::OpenNegotiation(OpenNegotiation {
            title: d.title.clone(),
            service: d.service.clone(),
            decision_rule: Some(d.decision_rule),
        }),
        EventBody::PartnerAdmitted(d) => Command::AdmitPartner(AdmitPartner {
            partner_id: d.partner_id.clone(),
            name: d.name.clone(),
            sector: d.sector,
            kind: d.kind,
            role: d.role,
            public_key: d.public_key.clone(),
        }),
        EventBody::PartnerKeyRegistered(d) => Command::RegisterKey(RegisterKey {
            partner_id: d.partner_id.clone(),
            public_key: d.public_key.clone(),
        }),
        EventBody::ProposalMade(d) => Command::Propose(Propose {
            proposal_id: d.proposal_id.clone(),
            clause_id: d.clause_id.clone(),
            text: d.text.clone(),
            title: d.title.clone(),
            rationale: d.rationale.clone(),
        }),
        EventBody::ProposalWithdrawn(d) => Command::WithdrawProposal(pref(&d.proposal_id)),
        EventBody::ProposalEndorsed(d) => Command::Endorse(pref(&d.proposal_id)),
        EventBody::EndorsementRetracted(d) => Command::RetractEndorsement(pref(&d.proposal_id)),
        EventBody::ObjectionRaised(d) => Command::Object(Object {
            objection_id: d.objection_id.clone(),
            proposal_id: d.proposal_id.clone(),
            grounds: d.grounds.clone(),
            blocking: d.blocking,
        }),
        EventBody::ObjectionWithdrawn(d) => Command::WithdrawObjection(WithdrawObjection {
            objection_id: d.objection_id.clone(),
            note: d.note.clone(),
        }),
        EventBody::ProposalAdopted(d) => Command::Adopt(pref(&d.proposal_id)),
        EventBody::CommitmentMade(d) => Command::Commit(Commit {
            commitment_id: d.commitment_id.clone(),
            description: d.description.clone(),
            kind: d.kind,
            clause_id: d.clause_id.clone(),
            amount: d.amount.clone(),
            due: d.due,
            assets: d.assets.clone(),
        }),
        EventBody::CommitmentWithdrawn(d) => Command::WithdrawCommitment(WithdrawCommitment {
            commitment_id: d.commitment_id.clone(),
            reason: d.reason.clone(),
        }),
        EventBody::AgreementSigned(d) => Command::Sign(Sign {
            signature: d.signature.clone(),
        }),
        EventBody::NegotiationConcluded(_) => Command::Conclude(Conclude {}),
        EventBody::RoundOpened(d) => Command::OpenRound(OpenRound {
            round_id: d.round_id.clone(),
            reason: d.reason.clone(),
        }),
        EventBody::AssetDeclared(d) => Command::DeclareAsset(DeclareAsset {
            asset_id: d.asset_id.clone(),
            kind: d.kind,
            description: d.description.clone(),
        }),
        EventBody::ProgressReported(d) => Command::ReportProgress(ReportProgress {
            commitment_id: d.commitment_id.clone(),
            note: d.note.clone(),
            delivered: d.delivered.clone(),
        }),
        EventBody::CommitmentFulfilled(d) => Command::Fulfil(Fulfil {
            commitment_id: d.commitment_id.clone(),
            fulfilled_on: d.fulfilled_on,
            note: d.note.clone(),
        }),
        EventBody::ShortfallReported(d) => Command::ReportShortfall(ReportShortfall {
            shortfall_id: d.shortfall_id.clone(),
            commitment_id: d.commitment_id.clone(),
            description: d.description.clone(),
            severity: d.severity,
        }),
        EventBody::ShortfallResolved(d) => Command::ResolveShortfall(ResolveShortfall {
            shortfall_id: d.shortfall_id.clone(),
            resolution: d.resolution.clone(),
            penalty: d.penalty.clone(),
        }),
        EventBody::PartnerWithdrawn(d) => Command::WithdrawPartner(WithdrawPartner {
            partner_id: d.partner_id.clone(),
            reason: d.reason.clone(),
            transfers: d
                .transfers
                .iter()
                .map(|t| Transfer {
                    commitment_id: t.commitment_id.clone(),
                    to: t.to.clone(),
                    new_commitment_id: t.new_commitment_id.clone(),
                })
                .collect(),
        }),
        EventBody::NegotiationTerminated(d) => Command::Terminate(Terminate {
            reason: d.reason.clone(),
        }),
    };
    CommandEnvelope {
        command_id: e.command_id.clone(),
        negotiation_id: e.negotiation_id.clone(),
        actor: e.event.actor.clone(),
        occurred_at: e.occurred_at,
        command,
    }
}

/// What judging an event's command again gave.
pub(crate) enum Replayed {
    /// The rules give exactly the recorded event.
    Same,
    /// The rules reject the command.
    Rejected(Rejection),
    /// The rules accept it, with other effects than recorded.
    Differs {
        /// What the rules give.
        decided: Box<Event>,
    },
}

/// Judges `e`'s command against `state` (the view before `e`) and compares.
pub(crate) fn replay(state: Option<&AgreementView>, e: &RecordedEvent) -> Replayed {
    match decide(state, &command_of(e)) {
        Err(r) => Replayed::Rejected(r),
        Ok(mut decided) => {
            // Events recorded before signatures existed carry no agreement hash.
            if let (EventBody::AgreementSigned(rec), EventBody::AgreementSigned(dec)) =
                (&e.event.body, &mut decided.body)
            {
                if rec.agreement_hash.is_none() && rec.signature.is_none() {
                    dec.agreement_hash = None;
                }
            }
            if decided == e.event {
                Replayed::Same
            } else {
                Replayed::Differs {
                    decided: Box::new(decided),
                }
            }
        }
    }
}

/// Rejection codes that concern signatures.
pub(crate) const SIGNATURE_CODES: [&str; 4] = [
    "signature_invalid",
    "signature_required",
    "signature_malformed",
    "no_public_key",
];
