//! [`Change`]: what one recorded event changed, in terms an integrator understands,
//! and [`ChangeReader`], which derives the changes of a negotiation from its event log.
//!
//! A change carries the negotiation's `version` after the event, so applying it is
//! idempotent: a consumer keeps the last version it applied per negotiation and
//! ignores a change at or below it. `summary` is one sentence for people ("clause
//! tariff agreed at version 1"); `details` is the same, structured for programs
//! (`{"kind": "clause_agreed", "clause_id": "tariff", "clause_version": 1, ...}`).

use crate::event::CommitmentTransfer;
use crate::event::EventBody;
use crate::view::{Commitment, NegotiationStatus};
use crate::vocab::{
    Amount, AssetKind, CommitmentKind, DecisionRule, PartnerKind, Role, Sector, Severity,
};
use crate::{
    Actor, AgreementView, AssetId, ClauseId, CommitmentId, NegotiationId, ObjectionId, PartnerId,
    Projection, ProposalId, RecordedEvent, RoundId, ShortfallId,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use uuid::Uuid;

/// A change notification: one per recorded event. Published by the projector on
/// `roundtable.changes.<negotiation_id>` (and kept in the stream `ROUNDTABLE_CHANGES`)
/// on NATS, served over Server-Sent Events and posted to webhooks. Applying it is
/// idempotent: `version` says how far the negotiation has moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Change {
    /// The negotiation.
    #[cfg_attr(feature = "utoipa", schema(value_type = String, examples("lakeside-water")))]
    pub negotiation_id: NegotiationId,
    /// Its version after this event (number of events applied).
    pub version: u64,
    /// The event's id.
    #[cfg_attr(feature = "utoipa", schema(value_type = String, format = "uuid"))]
    pub event_id: Uuid,
    /// The event's type (`proposal_adopted`...).
    #[cfg_attr(feature = "utoipa", schema(examples("proposal_adopted")))]
    pub event_type: String,
    /// Who acted: `secretariat` or a partner id.
    pub actor: String,
    /// Business time of the event.
    pub occurred_at: DateTime<Utc>,
    /// The agreement version after this event.
    pub agreement_version: u64,
    /// The negotiation's status after this event.
    #[cfg_attr(feature = "utoipa", schema(value_type = String, examples("open")))]
    pub status: NegotiationStatus,
    /// What changed, in one sentence: `clause tariff agreed at version 1`.
    #[cfg_attr(
        feature = "utoipa",
        schema(examples("clause tariff agreed at version 1"))
    )]
    pub summary: String,
    /// What changed, structured; `kind` tells which fields follow.
    #[cfg_attr(feature = "utoipa", schema(value_type = Object))]
    pub details: ChangeDetails,
}

/// What changed, by kind (JSON: `{"kind": "...", ...fields}`). Ids are as recorded;
/// `*_by` and `partner_id` name partners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChangeDetails {
    /// `negotiation_opened`.
    NegotiationOpened {
        /// Title.
        title: String,
        /// Service negotiated.
        service: String,
        /// Decision rule in force.
        decision_rule: DecisionRule,
    },
    /// `partner_admitted`.
    PartnerAdmitted {
        /// The partner.
        partner_id: PartnerId,
        /// Its name.
        name: String,
        /// Its sector.
        sector: Sector,
        /// Its kind (`trade_union`...).
        partner_kind: PartnerKind,
        /// `signatory` or `observer`.
        role: Role,
    },
    /// `partner_key_registered`.
    PartnerKeyRegistered {
        /// The partner.
        partner_id: PartnerId,
        /// Whether it replaced an earlier key.
        replaced: bool,
    },
    /// `proposal_made`.
    ProposalMade {
        /// The proposal.
        proposal_id: ProposalId,
        /// The clause it would set.
        clause_id: ClauseId,
        /// Its proposer.
        proposed_by: String,
        /// For an amendment, the clause version it amends.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amends_version: Option<u32>,
        /// Its title, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
    },
    /// `proposal_withdrawn`.
    ProposalWithdrawn {
        /// The proposal.
        proposal_id: ProposalId,
        /// Its proposer.
        proposed_by: String,
        /// Open objections on it, now moot.
        mooted_objections: Vec<ObjectionId>,
    },
    /// `proposal_endorsed`.
    ProposalEndorsed {
        /// The proposal.
        proposal_id: ProposalId,
        /// The endorser.
        endorsed_by: String,
        /// How many partners endorse it now.
        endorsements: usize,
    },
    /// `endorsement_retracted`.
    EndorsementRetracted {
        /// The proposal.
        proposal_id: ProposalId,
        /// The partner who retracted.
        retracted_by: String,
        /// How many partners endorse it now.
        endorsements: usize,
    },
    /// `objection_raised`.
    ObjectionRaised {
        /// The objection.
        objection_id: ObjectionId,
        /// The proposal objected to.
        proposal_id: ProposalId,
        /// The objector.
        raised_by: String,
        /// Whether it blocks adoption.
        blocking: bool,
    },
    /// `objection_withdrawn`.
    ObjectionWithdrawn {
        /// The objection.
        objection_id: ObjectionId,
        /// The proposal it was on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proposal_id: Option<ProposalId>,
        /// The objector.
        raised_by: String,
        /// Whether it was blocking.
        blocking: bool,
    },
    /// `proposal_adopted`: a clause got (new) agreed text.
    ClauseAgreed {
        /// The clause.
        clause_id: ClauseId,
        /// Its version now (1 when first agreed).
        clause_version: u32,
        /// The proposal adopted.
        proposal_id: ProposalId,
        /// Other proposals on the clause, now superseded.
        superseded: Vec<ProposalId>,
        /// Objections on the superseded proposals, now moot.
        mooted_objections: Vec<ObjectionId>,
        /// Concerns on the adopted proposal, now noted.
        noted_objections: Vec<ObjectionId>,
    },
    /// `commitment_made`.
    CommitmentMade {
        /// The commitment.
        commitment_id: CommitmentId,
        /// The partner committing.
        partner_id: String,
        /// Kind of resource.
        commitment_kind: CommitmentKind,
        /// The clause it supports, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clause_id: Option<ClauseId>,
        /// The sum, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount: Option<Amount>,
        /// The due date, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due: Option<NaiveDate>,
        /// The committer's assets it draws on (left out when none).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        assets: Vec<AssetId>,
    },
    /// `commitment_withdrawn`.
    CommitmentWithdrawn {
        /// The commitment.
        commitment_id: CommitmentId,
        /// The partner who had committed it.
        partner_id: String,
        /// Why.
        reason: String,
    },
    /// `agreement_signed`.
    AgreementSigned {
        /// The signatory.
        partner_id: String,
        /// The agreement version signed.
        agreement_version: u64,
        /// Signatories still to sign at that version.
        awaiting_signature: Vec<PartnerId>,
    },
    /// `negotiation_concluded`.
    NegotiationConcluded {
        /// The agreement version concluded: the agreement in force.
        agreement_version: u64,
        /// The signatories whose signatures concluded it.
        signatories: Vec<PartnerId>,
        /// The round it ended, when it was a renegotiation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        round_id: Option<RoundId>,
    },
    /// `round_opened`: the agreement in force is renegotiated.
    RoundOpened {
        /// The round.
        round_id: RoundId,
        /// Why.
        reason: String,
        /// The agreement version in force when it opened.
        from_agreement_version: u64,
    },
    /// `asset_declared`.
    AssetDeclared {
        /// The asset.
        asset_id: AssetId,
        /// The partner who brings it.
        partner_id: String,
        /// Its kind.
        asset_kind: AssetKind,
    },
    /// `progress_reported`.
    ProgressReported {
        /// The commitment.
        commitment_id: CommitmentId,
        /// Who reported: the committer or `secretariat`.
        reported_by: String,
        /// The amount delivered with this report, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivered: Option<Amount>,
    },
    /// `commitment_fulfilled`.
    CommitmentFulfilled {
        /// The commitment.
        commitment_id: CommitmentId,
        /// Its committer.
        partner_id: String,
        /// The date it was fulfilled on.
        fulfilled_on: NaiveDate,
    },
    /// `shortfall_reported`.
    ShortfallReported {
        /// The shortfall.
        shortfall_id: ShortfallId,
        /// The commitment that fell short.
        commitment_id: CommitmentId,
        /// Who reported it.
        reported_by: String,
        /// How serious.
        severity: Severity,
    },
    /// `shortfall_resolved`.
    ShortfallResolved {
        /// The shortfall.
        shortfall_id: ShortfallId,
        /// The penalty, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        penalty: Option<Amount>,
    },
    /// `partner_withdrawn`, with its effects.
    PartnerWithdrawn {
        /// The partner who left.
        partner_id: PartnerId,
        /// Why.
        reason: String,
        /// Commitments passed on.
        transfers: Vec<CommitmentTransfer>,
        /// Its other commitments, now withdrawn.
        withdrawn_commitments: Vec<CommitmentId>,
        /// Its open proposals, now withdrawn.
        withdrawn_proposals: Vec<ProposalId>,
        /// Open objections on them, now moot.
        mooted_objections: Vec<ObjectionId>,
        /// Proposals it no longer endorses.
        retracted_endorsements: Vec<ProposalId>,
        /// Its objections, now withdrawn.
        withdrawn_objections: Vec<ObjectionId>,
    },
    /// `commitment_overdue`: not an event but the timer's announcement, once, on the
    /// first day an `active` commitment is past its due date (DOMAIN.md, "Overdue").
    CommitmentOverdue {
        /// The commitment.
        commitment_id: CommitmentId,
        /// Its committer.
        partner_id: PartnerId,
        /// Its due date.
        due: NaiveDate,
        /// The first day it is overdue: the day after `due`.
        overdue_since: NaiveDate,
    },
    /// `negotiation_terminated`.
    NegotiationTerminated {
        /// Why.
        reason: String,
        /// The round abandoned, if one was open.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        abandoned_round: Option<RoundId>,
    },
}

impl Change {
    /// The change `event` made, once `view` includes it.
    pub fn of(event: &RecordedEvent, view: &AgreementView) -> Change {
        let (summary, details) = describe(event, view);
        Change {
            negotiation_id: event.negotiation_id.clone(),
            version: event.version,
            event_id: event.event_id,
            event_type: event.event_type().to_owned(),
            actor: event.event.actor.to_string(),
            occurred_at: event.occurred_at,
            agreement_version: view.agreement_version,
            status: view.status,
            summary,
            details,
        }
    }
}

/// The `event_type` of the change the overdue timer announces: no event has it.
pub const COMMITMENT_OVERDUE: &str = "commitment_overdue";

impl Change {
    /// The announcement that `commitment` of `view` is overdue (DOMAIN.md, "Overdue"):
    /// `event_type` [`COMMITMENT_OVERDUE`], `version` and `agreement_version` those of
    /// `view` when announced (no event is recorded, so the version does not move),
    /// `actor` the committer, `occurred_at` the start (00:00 UTC) of the first
    /// overdue day, and an `event_id` derived from the negotiation, commitment and due
    /// date, so that every timer makes the same announcement. `None` when the
    /// commitment has no due date.
    pub fn overdue(view: &AgreementView, commitment: &Commitment) -> Option<Change> {
        let due = commitment.due?;
        let since = crate::view::first_overdue_day(commitment)?;
        let key = overdue_key(&view.negotiation_id, &commitment.commitment_id, due);
        let digest = sha2::Sha256::digest(key.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Some(Change {
            negotiation_id: view.negotiation_id.clone(),
            version: view.version,
            event_id: uuid::Builder::from_custom_bytes(bytes).into_uuid(),
            event_type: COMMITMENT_OVERDUE.to_owned(),
            actor: commitment.partner_id.to_string(),
            occurred_at: since.and_time(chrono::NaiveTime::MIN).and_utc(),
            agreement_version: view.agreement_version,
            status: view.status,
            summary: format!(
                "commitment {} by {} overdue since {since}: it was due on {due} and is still active",
                commitment.commitment_id, commitment.partner_id
            ),
            details: ChangeDetails::CommitmentOverdue {
                commitment_id: commitment.commitment_id.clone(),
                partner_id: commitment.partner_id.clone(),
                due,
                overdue_since: since,
            },
        })
    }

    /// Whether this is an overdue announcement rather than an event's change.
    pub fn is_overdue(&self) -> bool {
        matches!(self.details, ChangeDetails::CommitmentOverdue { .. })
    }

    /// What tells this change from every other, for message ids and delivery ids:
    /// `<negotiation_id>:<version>` for an event's change, and
    /// `<negotiation_id>:overdue:<commitment_id>:<due>` for an overdue announcement
    /// (which carries the version of the event before it).
    pub fn announcement_id(&self) -> String {
        match &self.details {
            ChangeDetails::CommitmentOverdue {
                commitment_id, due, ..
            } => format!("{}:overdue:{commitment_id}:{due}", self.negotiation_id),
            _ => format!("{}:{}", self.negotiation_id, self.version),
        }
    }
}

/// The key of the overdue announcement of one commitment and due date, in the
/// announcements bucket ([`crate::overdue::OVERDUE_BUCKET`]):
/// `<negotiation_id>.<commitment_id>.<due>` (ids are `a-z 0-9 -`, dates `YYYY-MM-DD`,
/// so the key is valid on every key-value store).
pub fn overdue_key(
    negotiation: &NegotiationId,
    commitment: &CommitmentId,
    due: NaiveDate,
) -> String {
    format!("{negotiation}.{commitment}.{due}")
}

/// The actor's name: a partner id (the secretariat never makes a partner's move, but
/// if it did it would show as `secretariat`).
fn partner(actor: &Actor) -> String {
    actor.to_string()
}

fn list<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(event: &RecordedEvent, view: &AgreementView) -> (String, ChangeDetails) {
    let actor = &event.event.actor;
    match &event.event.body {
        EventBody::NegotiationOpened(e) => (
            format!(
                "negotiation {} opened: {} ({}, decision rule {})",
                e.negotiation_id, e.title, e.service, e.decision_rule
            ),
            ChangeDetails::NegotiationOpened {
                title: e.title.clone(),
                service: e.service.clone(),
                decision_rule: e.decision_rule,
            },
        ),
        EventBody::PartnerAdmitted(e) => (
            format!(
                "partner {} ({}) admitted as {}, {} {}",
                e.partner_id,
                e.name,
                e.role.as_str(),
                e.sector,
                e.kind
            ),
            ChangeDetails::PartnerAdmitted {
                partner_id: e.partner_id.clone(),
                name: e.name.clone(),
                sector: e.sector,
                partner_kind: e.kind,
                role: e.role,
            },
        ),
        EventBody::PartnerKeyRegistered(e) => (
            if e.replaces.is_some() {
                format!("partner {} replaced its signing key", e.partner_id)
            } else {
                format!("partner {} registered a signing key", e.partner_id)
            },
            ChangeDetails::PartnerKeyRegistered {
                partner_id: e.partner_id.clone(),
                replaced: e.replaces.is_some(),
            },
        ),
        EventBody::ProposalMade(e) => {
            let by = partner(actor);
            let summary = match e.amends_version {
                Some(v) => format!(
                    "proposal {} by {by} made on clause {}, amending version {v}",
                    e.proposal_id, e.clause_id
                ),
                None => format!(
                    "proposal {} by {by} made on clause {}",
                    e.proposal_id, e.clause_id
                ),
            };
            (
                summary,
                ChangeDetails::ProposalMade {
                    proposal_id: e.proposal_id.clone(),
                    clause_id: e.clause_id.clone(),
                    proposed_by: by,
                    amends_version: e.amends_version,
                    title: e.title.clone(),
                },
            )
        }
        EventBody::ProposalWithdrawn(e) => {
            let by = partner(actor);
            let mut summary = format!("proposal {} by {by} withdrawn", e.proposal_id);
            if !e.mooted_objections.is_empty() {
                summary.push_str(&format!(
                    "; objections now moot: {}",
                    list(&e.mooted_objections)
                ));
            }
            (
                summary,
                ChangeDetails::ProposalWithdrawn {
                    proposal_id: e.proposal_id.clone(),
                    proposed_by: by,
                    mooted_objections: e.mooted_objections.clone(),
                },
            )
        }
        EventBody::ProposalEndorsed(e) => {
            let by = partner(actor);
            let endorsements = endorsements(view, &e.proposal_id);
            (
                format!(
                    "proposal {} endorsed by {by} ({endorsements} endorsing)",
                    e.proposal_id
                ),
                ChangeDetails::ProposalEndorsed {
                    proposal_id: e.proposal_id.clone(),
                    endorsed_by: by,
                    endorsements,
                },
            )
        }
        EventBody::EndorsementRetracted(e) => {
            let by = partner(actor);
            let endorsements = endorsements(view, &e.proposal_id);
            (
                format!(
                    "endorsement of proposal {} by {by} retracted ({endorsements} endorsing)",
                    e.proposal_id
                ),
                ChangeDetails::EndorsementRetracted {
                    proposal_id: e.proposal_id.clone(),
                    retracted_by: by,
                    endorsements,
                },
            )
        }
        EventBody::ObjectionRaised(e) => {
            let by = partner(actor);
            let blocking = if e.blocking {
                "blocking"
            } else {
                "non-blocking"
            };
            (
                format!("objection {} by {by} raised, {blocking}", e.objection_id),
                ChangeDetails::ObjectionRaised {
                    objection_id: e.objection_id.clone(),
                    proposal_id: e.proposal_id.clone(),
                    raised_by: by,
                    blocking: e.blocking,
                },
            )
        }
        EventBody::ObjectionWithdrawn(e) => {
            let objection = view.objections.get(&e.objection_id);
            let by = objection.map_or_else(|| partner(actor), |o| o.raised_by.to_string());
            let blocking = objection.is_some_and(|o| o.blocking);
            let proposal_id = objection.map(|o| o.proposal_id.clone());
            (
                format!("objection {} by {by} withdrawn", e.objection_id),
                ChangeDetails::ObjectionWithdrawn {
                    objection_id: e.objection_id.clone(),
                    proposal_id,
                    raised_by: by,
                    blocking,
                },
            )
        }
        EventBody::ProposalAdopted(e) => (
            format!(
                "clause {} agreed at version {} (proposal {} adopted; agreement version {})",
                e.clause_id, e.clause_version, e.proposal_id, e.agreement_version
            ),
            ChangeDetails::ClauseAgreed {
                clause_id: e.clause_id.clone(),
                clause_version: e.clause_version,
                proposal_id: e.proposal_id.clone(),
                superseded: e.superseded.clone(),
                mooted_objections: e.mooted_objections.clone(),
                noted_objections: e.noted_objections.clone(),
            },
        ),
        EventBody::CommitmentMade(e) => {
            let by = partner(actor);
            let mut summary = format!("commitment {} by {by} made: {}", e.commitment_id, e.kind);
            if let Some(a) = &e.amount {
                summary.push_str(&format!(", {} {}", a.value, a.currency));
            }
            if let Some(due) = e.due {
                summary.push_str(&format!(", due {due}"));
            }
            (
                summary,
                ChangeDetails::CommitmentMade {
                    commitment_id: e.commitment_id.clone(),
                    partner_id: by,
                    commitment_kind: e.kind,
                    clause_id: e.clause_id.clone(),
                    amount: e.amount.clone(),
                    due: e.due,
                    assets: e.assets.clone(),
                },
            )
        }
        EventBody::CommitmentWithdrawn(e) => {
            let by = view
                .commitments
                .get(&e.commitment_id)
                .map_or_else(|| partner(actor), |c| c.partner_id.to_string());
            (
                format!("commitment {} by {by} withdrawn", e.commitment_id),
                ChangeDetails::CommitmentWithdrawn {
                    commitment_id: e.commitment_id.clone(),
                    partner_id: by,
                    reason: e.reason.clone(),
                },
            )
        }
        EventBody::AgreementSigned(e) => {
            let by = partner(actor);
            let awaiting = view.awaiting_signature.clone();
            let mut summary = format!(
                "agreement signed by {by} at agreement version {}",
                e.agreement_version
            );
            if awaiting.is_empty() {
                summary.push_str("; every signatory has signed");
            } else {
                summary.push_str(&format!("; awaiting {}", list(&awaiting)));
            }
            (
                summary,
                ChangeDetails::AgreementSigned {
                    partner_id: by,
                    agreement_version: e.agreement_version,
                    awaiting_signature: awaiting,
                },
            )
        }
        EventBody::NegotiationConcluded(e) => (
            match &e.round_id {
                Some(r) => format!(
                    "round {r} concluded: agreement version {} in force, signed by {}",
                    e.agreement_version,
                    list(&e.signatories)
                ),
                None => format!(
                    "negotiation concluded at agreement version {}, signed by {}",
                    e.agreement_version,
                    list(&e.signatories)
                ),
            },
            ChangeDetails::NegotiationConcluded {
                agreement_version: e.agreement_version,
                signatories: e.signatories.clone(),
                round_id: e.round_id.clone(),
            },
        ),
        EventBody::RoundOpened(e) => (
            format!(
                "round {} opened to renegotiate agreement version {}: {}",
                e.round_id, e.from_agreement_version, e.reason
            ),
            ChangeDetails::RoundOpened {
                round_id: e.round_id.clone(),
                reason: e.reason.clone(),
                from_agreement_version: e.from_agreement_version,
            },
        ),
        EventBody::AssetDeclared(e) => {
            let by = partner(actor);
            (
                format!("asset {} ({}) declared by {by}", e.asset_id, e.kind),
                ChangeDetails::AssetDeclared {
                    asset_id: e.asset_id.clone(),
                    partner_id: by,
                    asset_kind: e.kind,
                },
            )
        }
        EventBody::ProgressReported(e) => {
            let by = partner(actor);
            let mut summary = format!(
                "progress on commitment {} reported by {by}",
                e.commitment_id
            );
            if let Some(d) = &e.delivered {
                summary.push_str(&format!(": {} {} delivered", d.value, d.currency));
            }
            (
                summary,
                ChangeDetails::ProgressReported {
                    commitment_id: e.commitment_id.clone(),
                    reported_by: by,
                    delivered: e.delivered.clone(),
                },
            )
        }
        EventBody::CommitmentFulfilled(e) => {
            let by = partner(actor);
            (
                format!(
                    "commitment {} by {by} fulfilled on {}",
                    e.commitment_id, e.fulfilled_on
                ),
                ChangeDetails::CommitmentFulfilled {
                    commitment_id: e.commitment_id.clone(),
                    partner_id: by,
                    fulfilled_on: e.fulfilled_on,
                },
            )
        }
        EventBody::ShortfallReported(e) => {
            let by = partner(actor);
            (
                format!(
                    "{} shortfall {} on commitment {} reported by {by}",
                    e.severity, e.shortfall_id, e.commitment_id
                ),
                ChangeDetails::ShortfallReported {
                    shortfall_id: e.shortfall_id.clone(),
                    commitment_id: e.commitment_id.clone(),
                    reported_by: by,
                    severity: e.severity,
                },
            )
        }
        EventBody::ShortfallResolved(e) => {
            let mut summary = format!("shortfall {} resolved", e.shortfall_id);
            if let Some(p) = &e.penalty {
                summary.push_str(&format!(" with a penalty of {} {}", p.value, p.currency));
            }
            (
                summary,
                ChangeDetails::ShortfallResolved {
                    shortfall_id: e.shortfall_id.clone(),
                    penalty: e.penalty.clone(),
                },
            )
        }
        EventBody::PartnerWithdrawn(e) => {
            let mut summary = format!("partner {} withdrew", e.partner_id);
            if !e.transfers.is_empty() {
                let moved: Vec<String> = e
                    .transfers
                    .iter()
                    .map(|t| format!("{} to {} as {}", t.commitment_id, t.to, t.new_commitment_id))
                    .collect();
                summary.push_str(&format!("; commitments passed on: {}", moved.join(", ")));
            }
            if !e.withdrawn_commitments.is_empty() {
                summary.push_str(&format!(
                    "; commitments withdrawn: {}",
                    list(&e.withdrawn_commitments)
                ));
            }
            (
                summary,
                ChangeDetails::PartnerWithdrawn {
                    partner_id: e.partner_id.clone(),
                    reason: e.reason.clone(),
                    transfers: e.transfers.clone(),
                    withdrawn_commitments: e.withdrawn_commitments.clone(),
                    withdrawn_proposals: e.withdrawn_proposals.clone(),
                    mooted_objections: e.mooted_objections.clone(),
                    retracted_endorsements: e.retracted_endorsements.clone(),
                    withdrawn_objections: e.withdrawn_objections.clone(),
                },
            )
        }
        EventBody::NegotiationTerminated(e) => (
            match &e.abandoned_round {
                Some(r) => format!("negotiation terminated, round {r} abandoned: {}", e.reason),
                None => format!("negotiation terminated: {}", e.reason),
            },
            ChangeDetails::NegotiationTerminated {
                reason: e.reason.clone(),
                abandoned_round: e.abandoned_round.clone(),
            },
        ),
    }
}

fn endorsements(view: &AgreementView, proposal: &ProposalId) -> usize {
    view.proposals
        .get(proposal)
        .map_or(0, |p| p.endorsed_by.len())
}

/// Derives one negotiation's changes from its events, in version order, folding as it
/// goes: what Server-Sent Events and the embedded store's webhook feed use to give
/// every change with no gap, whatever the projector did. It reads nothing itself: the
/// application layer's change reader and the embedded store's feed hand it the events.
#[derive(Debug, Clone)]
pub struct ChangeDeriver {
    negotiation: NegotiationId,
    projection: Projection,
}

/// Why an event has no change: it does not follow on from the events before it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("version {version}: {reason}")]
pub struct ChangeError {
    /// The event's version.
    pub version: u64,
    /// What is wrong, in words.
    pub reason: String,
}

impl ChangeDeriver {
    /// A deriver before the first event of `negotiation`.
    pub fn new(negotiation: NegotiationId) -> ChangeDeriver {
        ChangeDeriver {
            negotiation,
            projection: Projection::new(),
        }
    }

    /// The negotiation.
    pub fn negotiation(&self) -> &NegotiationId {
        &self.negotiation
    }

    /// The version folded so far: the next event applied must be the one after it.
    pub fn version(&self) -> u64 {
        self.projection.version
    }

    /// Applies the next event and returns its change.
    ///
    /// # Errors
    /// [`ChangeError`] when it does not follow on (another version, a broken hash
    /// link, an event before the negotiation was opened).
    pub fn apply(&mut self, event: &RecordedEvent) -> Result<Change, ChangeError> {
        let error = |reason: String| ChangeError {
            version: event.version,
            reason,
        };
        self.projection
            .apply(event)
            .map_err(|e| error(e.to_string()))?;
        match &self.projection.view {
            Some(view) => Ok(Change::of(event, view)),
            None => Err(error("an event before the negotiation was opened".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::command::{
        AdmitPartner, Commit, Conclude, OpenNegotiation, OpenRound, ProposalRef, Propose, Sign,
        Terminate, Transfer, WithdrawPartner,
    };
    use crate::vocab::{CommitmentKind, PartnerKind, Role};
    use crate::{Command, CommandEnvelope, CommandId, decide};
    use chrono::{TimeZone, Utc};

    use super::*;

    fn run(cmds: Vec<(&str, Command)>) -> Vec<Change> {
        let mut p = Projection::new();
        let mut changes = Vec::new();
        for (i, (by, command)) in cmds.into_iter().enumerate() {
            let cmd = CommandEnvelope {
                command_id: CommandId::new(format!("c-{i}")).unwrap(),
                negotiation_id: NegotiationId::new("n").unwrap(),
                actor: Actor::parse(by).unwrap(),
                occurred_at: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
                command,
            };
            let event = decide(p.view.as_ref(), &cmd).unwrap_or_else(|r| panic!("#{i}: {r}"));
            let e = RecordedEvent::seal(
                &cmd,
                event,
                p.version + 1,
                &p.last_hash.clone(),
                Uuid::nil(),
                Utc.timestamp_opt(0, 0).unwrap(),
            );
            p.apply(&e).unwrap();
            changes.push(Change::of(&e, p.view.as_ref().unwrap()));
        }
        changes
    }

    fn admit(id: &str, kind: PartnerKind) -> (&'static str, Command) {
        (
            "secretariat",
            Command::AdmitPartner(AdmitPartner {
                partner_id: PartnerId::new(id).unwrap(),
                name: id.to_uppercase(),
                sector: kind.sector(),
                kind,
                role: Role::Signatory,
                public_key: None,
            }),
        )
    }

    #[test]
    fn the_events_after_the_signature_are_described() {
        let k = |s: &str| CommitmentId::new(s).unwrap();
        let changes = run(vec![
            (
                "secretariat",
                Command::OpenNegotiation(OpenNegotiation {
                    title: "t".into(),
                    service: "water".into(),
                    decision_rule: None,
                }),
            ),
            admit("city", PartnerKind::Municipality),
            admit("firm", PartnerKind::NationalFirm),
            (
                "city",
                Command::Propose(Propose {
                    proposal_id: ProposalId::new("p-1").unwrap(),
                    clause_id: ClauseId::new("tariff").unwrap(),
                    text: "x".into(),
                    title: None,
                    rationale: None,
                }),
            ),
            (
                "city",
                Command::Endorse(ProposalRef {
                    proposal_id: ProposalId::new("p-1").unwrap(),
                }),
            ),
            (
                "secretariat",
                Command::Adopt(ProposalRef {
                    proposal_id: ProposalId::new("p-1").unwrap(),
                }),
            ),
            (
                "firm",
                Command::Commit(Commit {
                    commitment_id: k("k-pipes"),
                    description: "pipes".into(),
                    kind: CommitmentKind::InKind,
                    clause_id: None,
                    amount: None,
                    due: None,
                    assets: Vec::new(),
                }),
            ),
            ("city", Command::Sign(Sign::default())),
            ("firm", Command::Sign(Sign::default())),
            ("secretariat", Command::Conclude(Conclude {})),
            (
                "firm",
                Command::WithdrawPartner(WithdrawPartner {
                    partner_id: PartnerId::new("firm").unwrap(),
                    reason: "sold".into(),
                    transfers: vec![Transfer {
                        commitment_id: k("k-pipes"),
                        to: PartnerId::new("city").unwrap(),
                        new_commitment_id: k("k-pipes-2"),
                    }],
                }),
            ),
            (
                "secretariat",
                Command::OpenRound(OpenRound {
                    round_id: RoundId::new("r-1").unwrap(),
                    reason: "the firm left".into(),
                }),
            ),
            (
                "secretariat",
                Command::Terminate(Terminate {
                    reason: "the province took over".into(),
                }),
            ),
        ]);
        let last: Vec<&str> = changes[10..].iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(
            last,
            [
                "partner firm withdrew; commitments passed on: k-pipes to city as k-pipes-2",
                "round r-1 opened to renegotiate agreement version 3: the firm left",
                "negotiation terminated, round r-1 abandoned: the province took over",
            ]
        );
        assert!(matches!(
            &changes[10].details,
            ChangeDetails::PartnerWithdrawn { transfers, .. } if transfers.len() == 1
        ));
        assert_eq!(changes[10].agreement_version, 3);
        assert_eq!(changes[12].status, NegotiationStatus::Terminated);
    }
}
