//! Events: the facts a negotiation records, one per accepted command (DOMAIN.md, "Events").
//!
//! Each event states its own effects (which proposals it superseded, which objections
//! it made moot or noted, the agreement version it produced), so that [`crate::evolve`]
//! applies facts and holds no rule, and an auditor or integrator reads what changed
//! without re-deriving it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::id::{
    Actor, AssetId, ClauseId, CommitmentId, ObjectionId, PartnerId, ProposalId, RoundId,
    ShortfallId,
};
use crate::vocab::{
    Amount, AssetKind, CommitmentKind, DecisionRule, PartnerKind, Role, Sector, Severity,
};

/// One domain event: who did it and what happened. The stored form, with ids, versions,
/// times and hashes, is [`crate::envelope::RecordedEvent`].
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The actor of the command that recorded it.
    pub actor: Actor,
    /// What happened.
    pub body: EventBody,
}

/// What happened, tagged in JSON as `{"type": "...", "data": {...}}`.
///
/// Every type is at schema version 1 ([`EventBody::schema_version`]); an older version,
/// once there is one, is upcast on read by [`crate::envelope::upcast`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum EventBody {
    /// `open_negotiation` accepted.
    NegotiationOpened(NegotiationOpened),
    /// `admit_partner` accepted.
    PartnerAdmitted(PartnerAdmitted),
    /// `register_key` accepted.
    PartnerKeyRegistered(PartnerKeyRegistered),
    /// `propose` accepted.
    ProposalMade(ProposalMade),
    /// `withdraw_proposal` accepted.
    ProposalWithdrawn(ProposalWithdrawn),
    /// `endorse` accepted.
    ProposalEndorsed(ProposalEndorsed),
    /// `retract_endorsement` accepted.
    EndorsementRetracted(EndorsementRetracted),
    /// `object` accepted.
    ObjectionRaised(ObjectionRaised),
    /// `withdraw_objection` accepted.
    ObjectionWithdrawn(ObjectionWithdrawn),
    /// `adopt` accepted.
    ProposalAdopted(ProposalAdopted),
    /// `commit` accepted.
    CommitmentMade(CommitmentMade),
    /// `withdraw_commitment` accepted.
    CommitmentWithdrawn(CommitmentWithdrawn),
    /// `sign` accepted.
    AgreementSigned(AgreementSigned),
    /// `conclude` accepted.
    NegotiationConcluded(NegotiationConcluded),
    /// `open_round` accepted.
    RoundOpened(RoundOpened),
    /// `declare_asset` accepted.
    AssetDeclared(AssetDeclared),
    /// `report_progress` accepted.
    ProgressReported(ProgressReported),
    /// `fulfil` accepted.
    CommitmentFulfilled(CommitmentFulfilled),
    /// `report_shortfall` accepted.
    ShortfallReported(ShortfallReported),
    /// `resolve_shortfall` accepted.
    ShortfallResolved(ShortfallResolved),
    /// `withdraw_partner` accepted.
    PartnerWithdrawn(PartnerWithdrawn),
    /// `terminate` accepted.
    NegotiationTerminated(NegotiationTerminated),
}

impl EventBody {
    /// Every event type name, in the order of the commands that record them.
    pub const TYPES: [&'static str; 22] = [
        "negotiation_opened",
        "partner_admitted",
        "partner_key_registered",
        "proposal_made",
        "proposal_withdrawn",
        "proposal_endorsed",
        "endorsement_retracted",
        "objection_raised",
        "objection_withdrawn",
        "proposal_adopted",
        "commitment_made",
        "commitment_withdrawn",
        "agreement_signed",
        "negotiation_concluded",
        "round_opened",
        "asset_declared",
        "progress_reported",
        "commitment_fulfilled",
        "shortfall_reported",
        "shortfall_resolved",
        "partner_withdrawn",
        "negotiation_terminated",
    ];

    /// The type name, as in the envelope's `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventBody::NegotiationOpened(_) => "negotiation_opened",
            EventBody::PartnerAdmitted(_) => "partner_admitted",
            EventBody::PartnerKeyRegistered(_) => "partner_key_registered",
            EventBody::ProposalMade(_) => "proposal_made",
            EventBody::ProposalWithdrawn(_) => "proposal_withdrawn",
            EventBody::ProposalEndorsed(_) => "proposal_endorsed",
            EventBody::EndorsementRetracted(_) => "endorsement_retracted",
            EventBody::ObjectionRaised(_) => "objection_raised",
            EventBody::ObjectionWithdrawn(_) => "objection_withdrawn",
            EventBody::ProposalAdopted(_) => "proposal_adopted",
            EventBody::CommitmentMade(_) => "commitment_made",
            EventBody::CommitmentWithdrawn(_) => "commitment_withdrawn",
            EventBody::AgreementSigned(_) => "agreement_signed",
            EventBody::NegotiationConcluded(_) => "negotiation_concluded",
            EventBody::RoundOpened(_) => "round_opened",
            EventBody::AssetDeclared(_) => "asset_declared",
            EventBody::ProgressReported(_) => "progress_reported",
            EventBody::CommitmentFulfilled(_) => "commitment_fulfilled",
            EventBody::ShortfallReported(_) => "shortfall_reported",
            EventBody::ShortfallResolved(_) => "shortfall_resolved",
            EventBody::PartnerWithdrawn(_) => "partner_withdrawn",
            EventBody::NegotiationTerminated(_) => "negotiation_terminated",
        }
    }
}

/// The highest schema version of any event type in this build (1: no type has changed
/// its schema yet). Each type's own version is [`crate::upcast::schema_version`] and
/// [`EventBody::schema_version`].
pub const CURRENT_SCHEMA_VERSION: u32 = 1;

/// `negotiation_opened` data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct NegotiationOpened {
    /// The negotiation opened (also in the envelope; here so the event stands alone).
    pub negotiation_id: crate::id::NegotiationId,
    /// Title.
    pub title: String,
    /// Service negotiated.
    pub service: String,
    /// The decision rule in force (the default already applied).
    pub decision_rule: DecisionRule,
}

/// `partner_admitted` data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct PartnerAdmitted {
    /// The partner.
    pub partner_id: PartnerId,
    /// Its name.
    pub name: String,
    /// Its sector.
    pub sector: Sector,
    /// Its kind.
    pub kind: PartnerKind,
    /// Its role.
    pub role: Role,
    /// Its Ed25519 public key (64 lower-case hex digits), when admitted with one.
    /// Absent in events recorded before keys existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

/// `partner_key_registered` data: the partner's public key from now on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct PartnerKeyRegistered {
    /// The partner.
    pub partner_id: PartnerId,
    /// Its Ed25519 public key, 64 lower-case hex digits.
    pub public_key: String,
    /// The key it replaces, when the partner had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

/// `proposal_made` data. The proposer is the event's actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ProposalMade {
    /// The proposal.
    pub proposal_id: ProposalId,
    /// The clause it would set.
    pub clause_id: ClauseId,
    /// Its text.
    pub text: String,
    /// Optional title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Optional rationale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
    /// When the clause already had agreed text, the clause version this amends
    /// (the proposal is then an *amendment*); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amends_version: Option<u32>,
}

/// `proposal_withdrawn` data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ProposalWithdrawn {
    /// The proposal.
    pub proposal_id: ProposalId,
    /// Open objections on it, which became `moot`.
    pub mooted_objections: Vec<ObjectionId>,
}

/// `proposal_endorsed` data. The endorser is the event's actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ProposalEndorsed {
    /// The proposal.
    pub proposal_id: ProposalId,
}

/// `endorsement_retracted` data. The endorser is the event's actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct EndorsementRetracted {
    /// The proposal.
    pub proposal_id: ProposalId,
}

/// `objection_raised` data. The objector is the event's actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ObjectionRaised {
    /// The objection.
    pub objection_id: ObjectionId,
    /// The proposal objected to.
    pub proposal_id: ProposalId,
    /// Grounds.
    pub grounds: String,
    /// Whether it blocks adoption.
    pub blocking: bool,
}

/// `objection_withdrawn` data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ObjectionWithdrawn {
    /// The objection.
    pub objection_id: ObjectionId,
    /// Optional note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `proposal_adopted` data: the adoption and all its effects (DOMAIN.md, "`adopt` effects").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ProposalAdopted {
    /// The proposal adopted.
    pub proposal_id: ProposalId,
    /// The clause whose agreed text it becomes.
    pub clause_id: ClauseId,
    /// The clause's new version (1 when first agreed).
    pub clause_version: u32,
    /// The agreement version after this event.
    pub agreement_version: u64,
    /// Other open proposals on the clause, now `superseded`.
    pub superseded: Vec<ProposalId>,
    /// Open objections on the superseded proposals, now `moot`.
    pub mooted_objections: Vec<ObjectionId>,
    /// Open non-blocking objections on the adopted proposal, now `noted`.
    pub noted_objections: Vec<ObjectionId>,
}

/// `commitment_made` data. The committer is the event's actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct CommitmentMade {
    /// The commitment.
    pub commitment_id: CommitmentId,
    /// What is committed.
    pub description: String,
    /// Kind of resource.
    pub kind: CommitmentKind,
    /// Clause it supports, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clause_id: Option<ClauseId>,
    /// Sum, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Amount>,
    /// Due date, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<NaiveDate>,
    /// The committer's declared assets it draws on (contract version 2). Left out when
    /// empty, so events recorded before it read and re-encode unchanged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<AssetId>,
    /// The agreement version after this event.
    pub agreement_version: u64,
}

/// `commitment_withdrawn` data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct CommitmentWithdrawn {
    /// The commitment.
    pub commitment_id: CommitmentId,
    /// Why.
    pub reason: String,
    /// The agreement version after this event.
    pub agreement_version: u64,
}

/// `agreement_signed` data. The signatory is the event's actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct AgreementSigned {
    /// The agreement version signed.
    pub agreement_version: u64,
    /// The agreement hash at that version ([`crate::signing::agreement_hash`]): what
    /// was signed. Absent in events recorded before signatures existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement_hash: Option<String>,
    /// The signatory's Ed25519 signature of the signing message, 128 lower-case hex
    /// digits, when it has a registered key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// `negotiation_concluded` data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct NegotiationConcluded {
    /// The agreement version concluded: from now on the agreement in force.
    pub agreement_version: u64,
    /// The signatories whose signatures at that version concluded it (withdrawn
    /// partners excluded).
    pub signatories: Vec<PartnerId>,
    /// The round this conclusion ended, when the negotiation was `renegotiating`
    /// (contract version 2); absent for the first conclusion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_id: Option<RoundId>,
}

/// `round_opened` data: the negotiation is `renegotiating` (DOMAIN.md, "After the signature").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct RoundOpened {
    /// The round.
    pub round_id: RoundId,
    /// Why it was opened.
    pub reason: String,
    /// The agreement version in force when it opened.
    pub from_agreement_version: u64,
}

/// `asset_declared` data. The partner who brings the asset is the event's actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct AssetDeclared {
    /// The asset.
    pub asset_id: AssetId,
    /// Its kind.
    pub kind: AssetKind,
    /// What it is.
    pub description: String,
}

/// `progress_reported` data. The reporter (committer or secretariat) is the event's actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ProgressReported {
    /// The commitment reported on.
    pub commitment_id: CommitmentId,
    /// What was reported.
    pub note: String,
    /// Amount delivered with this report, in the commitment's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<Amount>,
    /// The report's business time (the command's `occurred_at`), carried so that the
    /// view's progress entry is a copy of this event.
    pub at: DateTime<Utc>,
}

/// `commitment_fulfilled` data. The committer is the event's actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct CommitmentFulfilled {
    /// The commitment.
    pub commitment_id: CommitmentId,
    /// The date it was fulfilled on.
    pub fulfilled_on: NaiveDate,
    /// A note on the fulfilment.
    pub note: String,
}

/// `shortfall_reported` data. The reporter is the event's actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ShortfallReported {
    /// The shortfall.
    pub shortfall_id: ShortfallId,
    /// The commitment that fell short.
    pub commitment_id: CommitmentId,
    /// What fell short.
    pub description: String,
    /// How serious.
    pub severity: Severity,
}

/// `shortfall_resolved` data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ShortfallResolved {
    /// The shortfall.
    pub shortfall_id: ShortfallId,
    /// How it was resolved.
    pub resolution: String,
    /// A penalty, if one was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalty: Option<Amount>,
}

/// One commitment passed on by `withdraw_partner`: the old one becomes `transferred`,
/// and the new one, `active` and committed by `to`, copies its terms (no assets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct CommitmentTransfer {
    /// The leaving partner's commitment.
    pub commitment_id: CommitmentId,
    /// The partner who takes it on.
    pub to: PartnerId,
    /// The new commitment's id.
    pub new_commitment_id: CommitmentId,
    /// Copied: what is committed.
    pub description: String,
    /// Copied: kind of resource.
    pub kind: CommitmentKind,
    /// Copied: clause supported, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clause_id: Option<ClauseId>,
    /// Copied: sum, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Amount>,
    /// Copied: due date, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<NaiveDate>,
}

/// `partner_withdrawn` data: the partner left, and every effect of its leaving, in
/// the order DOMAIN.md gives them ("After the signature", `withdraw_partner`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct PartnerWithdrawn {
    /// The partner who left (the actor is that partner or the secretariat).
    pub partner_id: PartnerId,
    /// Why.
    pub reason: String,
    /// Its commitments passed to other partners, in the order given.
    pub transfers: Vec<CommitmentTransfer>,
    /// Its other active commitments, now `withdrawn`.
    pub withdrawn_commitments: Vec<CommitmentId>,
    /// Its open proposals, now `withdrawn`.
    pub withdrawn_proposals: Vec<ProposalId>,
    /// Open objections on those proposals, now `moot`.
    pub mooted_objections: Vec<ObjectionId>,
    /// The open proposals whose endorsement by it was removed.
    pub retracted_endorsements: Vec<ProposalId>,
    /// Its objections still open after that, now `withdrawn`.
    pub withdrawn_objections: Vec<ObjectionId>,
    /// Whether the agreement version rose (some commitment changed).
    pub agreement_version_raised: bool,
    /// The agreement version after this event.
    pub agreement_version: u64,
}

/// `negotiation_terminated` data: the status is `terminated`, for good.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct NegotiationTerminated {
    /// Why.
    pub reason: String,
    /// The round that was open and is now `abandoned`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abandoned_round: Option<RoundId>,
}
