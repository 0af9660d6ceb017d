//! The agreement view (DOMAIN.md, "The agreement view"): the current state of one
//! negotiation as JSON, and at the same time the aggregate state that
//! [`crate::decide`] judges commands against. One type for both means the stored view
//! holds everything needed to go on deciding, and nothing can drift between them.
//!
//! Lists are in the order their items were first recorded. In memory they are
//! [`IndexMap`]s keyed by id (insertion-ordered, constant-time lookup); in JSON they
//! are plain arrays.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use indexmap::{IndexMap, IndexSet};
use serde::{Deserialize, Serialize};

use crate::id::{
    Actor, AssetId, ClauseId, CommitmentId, NegotiationId, ObjectionId, PartnerId, ProposalId,
    RoundId, ShortfallId,
};
use crate::vocab::{
    Amount, AssetKind, CommitmentKind, DecisionRule, PartnerKind, Role, Sector, Severity,
};
pub use crate::vocab::{PartnerStatus, RoundStatus, ShortfallStatus};

/// Where a negotiation stands (DOMAIN.md, "Statuses of a negotiation").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum NegotiationStatus {
    /// Negotiating the first agreement.
    Open,
    /// An agreement is in force; delivery is reported; a round may be opened.
    Concluded,
    /// An agreement is in force and a round renegotiates it.
    Renegotiating,
    /// Ended: every later command is rejected.
    Terminated,
}

impl NegotiationStatus {
    /// The `snake_case` name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            NegotiationStatus::Open => "open",
            NegotiationStatus::Concluded => "concluded",
            NegotiationStatus::Renegotiating => "renegotiating",
            NegotiationStatus::Terminated => "terminated",
        }
    }

    /// Whether an agreement is in force: `concluded` or `renegotiating`.
    pub fn in_force(self) -> bool {
        matches!(
            self,
            NegotiationStatus::Concluded | NegotiationStatus::Renegotiating
        )
    }

    /// Whether the version 1 commands are accepted: `open` or `renegotiating`.
    pub fn negotiating(self) -> bool {
        matches!(
            self,
            NegotiationStatus::Open | NegotiationStatus::Renegotiating
        )
    }
}

/// A proposal's status (DOMAIN.md, "The agreement view").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    /// Can be endorsed, objected to, adopted or withdrawn.
    Open,
    /// Its text is (or was) the clause's agreed text.
    Adopted,
    /// Withdrawn by its proposer.
    Withdrawn,
    /// Another proposal on the same clause was adopted while it was open.
    Superseded,
}

/// An objection's status (DOMAIN.md, "The agreement view").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ObjectionStatus {
    /// Standing; blocks adoption when `blocking`.
    Open,
    /// Withdrawn by its objector.
    Withdrawn,
    /// Its proposal was withdrawn or superseded.
    Moot,
    /// A concern on a proposal that was adopted anyway.
    Noted,
}

/// A commitment's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CommitmentStatus {
    /// In force.
    Active,
    /// Withdrawn by its committer, or when its partner withdrew.
    Withdrawn,
    /// Delivered in full (`fulfil`).
    Fulfilled,
    /// Passed to another partner when its partner withdrew (`transferred_to` names the new one).
    Transferred,
}

impl CommitmentStatus {
    /// The `snake_case` name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CommitmentStatus::Active => "active",
            CommitmentStatus::Withdrawn => "withdrawn",
            CommitmentStatus::Fulfilled => "fulfilled",
            CommitmentStatus::Transferred => "transferred",
        }
    }
}

/// A partner as admitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Partner {
    /// Id.
    pub partner_id: PartnerId,
    /// Name.
    pub name: String,
    /// Sector.
    pub sector: Sector,
    /// Kind.
    pub kind: PartnerKind,
    /// Role.
    pub role: Role,
    /// Its current Ed25519 public key (64 lower-case hex digits), if it has one
    /// (`null` otherwise). A stored view from before keys existed reads as `null`.
    #[serde(default)]
    pub public_key: Option<String>,
    /// `active`, or `withdrawn` once it left; `active` in a view stored before
    /// contract version 2.
    #[serde(default)]
    pub status: PartnerStatus,
}

/// An agreed clause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Clause {
    /// Id.
    pub clause_id: ClauseId,
    /// 1 when first agreed, +1 per later adoption.
    pub version: u32,
    /// Agreed text.
    pub text: String,
    /// The proposal whose adoption set the text.
    pub adopted_from: ProposalId,
}

/// A proposal and who endorses it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Proposal {
    /// Id.
    pub proposal_id: ProposalId,
    /// The clause it would set.
    pub clause_id: ClauseId,
    /// Proposer.
    pub proposed_by: PartnerId,
    /// Status.
    pub status: ProposalStatus,
    /// Current endorsers, in the order they endorsed.
    #[cfg_attr(feature = "utoipa", schema(value_type = Vec<PartnerId>))]
    #[cfg_attr(feature = "schemars", schemars(with = "Vec<PartnerId>"))]
    pub endorsed_by: IndexSet<PartnerId>,
    /// Title, if given.
    pub title: Option<String>,
    /// Proposed text.
    pub text: String,
    /// Rationale, if given.
    pub rationale: Option<String>,
    /// The clause version it amends, when it is an amendment.
    pub amends_version: Option<u32>,
}

/// An objection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Objection {
    /// Id.
    pub objection_id: ObjectionId,
    /// The proposal objected to.
    pub proposal_id: ProposalId,
    /// Objector.
    pub raised_by: PartnerId,
    /// Whether it blocks adoption.
    pub blocking: bool,
    /// Status.
    pub status: ObjectionStatus,
    /// Grounds.
    pub grounds: String,
}

/// A commitment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Commitment {
    /// Id.
    pub commitment_id: CommitmentId,
    /// Committer.
    pub partner_id: PartnerId,
    /// Kind of resource.
    pub kind: CommitmentKind,
    /// Clause supported, if any.
    pub clause_id: Option<ClauseId>,
    /// Sum, if any.
    pub amount: Option<Amount>,
    /// Due date, if any.
    pub due: Option<NaiveDate>,
    /// Status.
    pub status: CommitmentStatus,
    /// What is committed.
    pub description: String,
    /// The committer's declared assets it draws on, in the order given.
    #[serde(default)]
    pub assets: Vec<AssetId>,
    /// The date it was fulfilled on (`fulfil`), if it was.
    #[serde(default)]
    pub fulfilled_on: Option<NaiveDate>,
    /// The commitment it was transferred to, when its partner withdrew.
    #[serde(default)]
    pub transferred_to: Option<CommitmentId>,
    /// The commitment it was transferred from, when it was created by a transfer.
    #[serde(default)]
    pub transferred_from: Option<CommitmentId>,
    /// Progress reported on it, in order reported.
    #[serde(default)]
    pub progress: Vec<Progress>,
}

/// One progress report on a commitment (`report_progress`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Progress {
    /// What was reported.
    pub note: String,
    /// The amount delivered with this report, in the commitment's currency, if any.
    pub delivered: Option<Amount>,
    /// When (the business time of the report).
    pub at: DateTime<Utc>,
    /// Who reported it: the committer or `secretariat`.
    pub reported_by: Actor,
}

/// A renegotiation round (`open_round`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Round {
    /// Id.
    pub round_id: RoundId,
    /// Why it was opened.
    pub reason: String,
    /// The agreement version in force when it opened.
    pub from_agreement_version: u64,
    /// Status.
    pub status: RoundStatus,
    /// The agreement version its `conclude` put in force (`null` unless concluded).
    pub concluded_agreement_version: Option<u64>,
}

/// An asset a partner declared (`declare_asset`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Asset {
    /// Id.
    pub asset_id: AssetId,
    /// The partner who brings it.
    pub partner_id: PartnerId,
    /// Kind of asset.
    pub kind: AssetKind,
    /// What it is.
    pub description: String,
}

/// A shortfall reported on a commitment (`report_shortfall`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Shortfall {
    /// Id.
    pub shortfall_id: ShortfallId,
    /// The commitment that fell short.
    pub commitment_id: CommitmentId,
    /// Who reported it.
    pub reported_by: PartnerId,
    /// How serious.
    pub severity: Severity,
    /// Status.
    pub status: ShortfallStatus,
    /// The penalty set when it was resolved, if any.
    pub penalty: Option<Amount>,
    /// What fell short.
    pub description: String,
    /// How it was resolved (`null` while open).
    pub resolution: Option<String>,
}

/// One signature, valid only at the agreement version it was made at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Signature {
    /// Signatory.
    pub partner_id: PartnerId,
    /// Agreement version signed.
    pub agreement_version: u64,
}

/// The agreement view of one negotiation; also the aggregate state.
///
/// `version` counts events applied; `last_event_hash` is the hash of the last one
/// (both come from the envelope: [`crate::envelope::Projection`] keeps them).
/// `signatures` lists every signature ever made; only those at the current
/// `agreement_version` count, and `awaiting_signature` names the signatories still to
/// sign at it (derived: [`AgreementView::still_to_sign`]).
///
/// The fields of contract version 2 (DOMAIN.md, "The view, version 2") default when
/// absent, so that a view stored before them still reads: `in_force_agreement_version`
/// `null`, `rounds`, `assets` and `shortfalls` empty, every partner `active`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct AgreementView {
    /// Negotiation id.
    pub negotiation_id: NegotiationId,
    /// Title.
    pub title: String,
    /// Service negotiated.
    pub service: String,
    /// Decision rule.
    pub decision_rule: DecisionRule,
    /// Status.
    pub status: NegotiationStatus,
    /// The agreement version at the last conclusion: the agreement in force (`null`
    /// before the first `conclude`).
    #[serde(default)]
    pub in_force_agreement_version: Option<u64>,
    /// Number of events applied.
    pub version: u64,
    /// +1 per adoption, commitment and commitment withdrawal.
    pub agreement_version: u64,
    /// Partners, in admission order.
    #[serde(with = "as_list")]
    #[cfg_attr(feature = "utoipa", schema(value_type = Vec<Partner>))]
    #[cfg_attr(feature = "schemars", schemars(with = "Vec<Partner>"))]
    pub partners: IndexMap<PartnerId, Partner>,
    /// Agreed clauses, in order first agreed.
    #[serde(with = "as_list")]
    #[cfg_attr(feature = "utoipa", schema(value_type = Vec<Clause>))]
    #[cfg_attr(feature = "schemars", schemars(with = "Vec<Clause>"))]
    pub clauses: IndexMap<ClauseId, Clause>,
    /// Proposals, in order made.
    #[serde(with = "as_list")]
    #[cfg_attr(feature = "utoipa", schema(value_type = Vec<Proposal>))]
    #[cfg_attr(feature = "schemars", schemars(with = "Vec<Proposal>"))]
    pub proposals: IndexMap<ProposalId, Proposal>,
    /// Objections, in order raised.
    #[serde(with = "as_list")]
    #[cfg_attr(feature = "utoipa", schema(value_type = Vec<Objection>))]
    #[cfg_attr(feature = "schemars", schemars(with = "Vec<Objection>"))]
    pub objections: IndexMap<ObjectionId, Objection>,
    /// Commitments, in order made.
    #[serde(with = "as_list")]
    #[cfg_attr(feature = "utoipa", schema(value_type = Vec<Commitment>))]
    #[cfg_attr(feature = "schemars", schemars(with = "Vec<Commitment>"))]
    pub commitments: IndexMap<CommitmentId, Commitment>,
    /// Renegotiation rounds, in order opened.
    #[serde(default, with = "as_list")]
    #[cfg_attr(feature = "utoipa", schema(value_type = Vec<Round>))]
    #[cfg_attr(feature = "schemars", schemars(with = "Vec<Round>"))]
    pub rounds: IndexMap<RoundId, Round>,
    /// Declared assets, in order declared.
    #[serde(default, with = "as_list")]
    #[cfg_attr(feature = "utoipa", schema(value_type = Vec<Asset>))]
    #[cfg_attr(feature = "schemars", schemars(with = "Vec<Asset>"))]
    pub assets: IndexMap<AssetId, Asset>,
    /// Shortfalls, in order reported.
    #[serde(default, with = "as_list")]
    #[cfg_attr(feature = "utoipa", schema(value_type = Vec<Shortfall>))]
    #[cfg_attr(feature = "schemars", schemars(with = "Vec<Shortfall>"))]
    pub shortfalls: IndexMap<ShortfallId, Shortfall>,
    /// Every signature, in order made.
    pub signatures: Vec<Signature>,
    /// Signatories who have not signed at the current agreement version (empty once concluded).
    pub awaiting_signature: Vec<PartnerId>,
    /// Hash of the last event applied.
    pub last_event_hash: String,
    #[serde(skip)]
    pub(crate) index: Index,
}

impl PartialEq for AgreementView {
    fn eq(&self, other: &Self) -> bool {
        // The index is derived from the lists; comparing them is enough.
        self.negotiation_id == other.negotiation_id
            && self.title == other.title
            && self.service == other.service
            && self.decision_rule == other.decision_rule
            && self.status == other.status
            && self.in_force_agreement_version == other.in_force_agreement_version
            && self.version == other.version
            && self.agreement_version == other.agreement_version
            && self.partners == other.partners
            && self.clauses == other.clauses
            && self.proposals == other.proposals
            && self.objections == other.objections
            && self.commitments == other.commitments
            && self.rounds == other.rounds
            && self.assets == other.assets
            && self.shortfalls == other.shortfalls
            && self.signatures == other.signatures
            && self.awaiting_signature == other.awaiting_signature
            && self.last_event_hash == other.last_event_hash
    }
}

/// Lookups derived from the lists, rebuilt by [`AgreementView::reindex`] after
/// deserializing; never serialized.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    /// Objections per proposal, in order raised.
    pub(crate) objections_on: HashMap<ProposalId, Vec<ObjectionId>>,
    /// Clauses that have at least one proposal.
    pub(crate) proposed_clauses: HashSet<ClauseId>,
    /// Who signed, per agreement version.
    pub(crate) signed: HashMap<u64, HashSet<PartnerId>>,
}

impl AgreementView {
    /// Rebuilds the in-memory lookups from the lists. Call after deserializing a view
    /// that will be used as state (the JSON does not carry them).
    ///
    /// A view stored by a release before contract version 2 has no
    /// `in_force_agreement_version`; when it is `concluded`, nothing could change its
    /// agreement after the conclusion, so the agreement in force is its
    /// `agreement_version`, and that is filled in here.
    pub fn reindex(&mut self) {
        if self.status == NegotiationStatus::Concluded && self.in_force_agreement_version.is_none()
        {
            self.in_force_agreement_version = Some(self.agreement_version);
        }
        let mut index = Index::default();
        for o in self.objections.values() {
            index
                .objections_on
                .entry(o.proposal_id.clone())
                .or_default()
                .push(o.objection_id.clone());
        }
        index.proposed_clauses = self
            .proposals
            .values()
            .map(|p| p.clause_id.clone())
            .collect();
        for sig in &self.signatures {
            index
                .signed
                .entry(sig.agreement_version)
                .or_default()
                .insert(sig.partner_id.clone());
        }
        self.index = index;
    }

    /// Parses a view from JSON and rebuilds its lookups, ready to be used as state.
    ///
    /// # Errors
    /// The JSON error when the text is not a view.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let mut view: AgreementView = serde_json::from_slice(bytes)?;
        view.reindex();
        Ok(view)
    }

    /// The admitted signatories that have not withdrawn, in admission order: those
    /// that count for decision rules and for `conclude` (DOMAIN.md, "After the
    /// signature": a withdrawn partner counts for no rule).
    pub fn signatories(&self) -> impl Iterator<Item = &Partner> {
        self.partners
            .values()
            .filter(|p| p.role == Role::Signatory && p.status == PartnerStatus::Active)
    }

    /// The signatories still to sign the current agreement version while it is being
    /// negotiated (`open` or `renegotiating`), in admission order; none otherwise. A
    /// reader's derivation from the partners and signatures; `awaiting_signature`
    /// holds its value.
    pub fn still_to_sign(&self) -> Vec<PartnerId> {
        if !self.status.negotiating() {
            return Vec::new();
        }
        self.signatories()
            .filter(|p| !self.has_signed(&p.partner_id, self.agreement_version))
            .map(|p| p.partner_id.clone())
            .collect()
    }

    /// The open round, when the negotiation is `renegotiating`.
    pub fn open_round(&self) -> Option<&Round> {
        self.rounds
            .values()
            .rev()
            .find(|r| r.status == RoundStatus::Open)
    }

    /// The declared assets that no `active` commitment draws on, in order declared.
    pub fn unused_assets(&self) -> Vec<&Asset> {
        let used: HashSet<&AssetId> = self
            .commitments
            .values()
            .filter(|k| k.status == CommitmentStatus::Active)
            .flat_map(|k| &k.assets)
            .collect();
        self.assets
            .values()
            .filter(|a| !used.contains(&a.asset_id))
            .collect()
    }

    /// Whether `partner` has signed at agreement version `at`.
    pub fn has_signed(&self, partner: &PartnerId, at: u64) -> bool {
        self.index
            .signed
            .get(&at)
            .is_some_and(|who| who.contains(partner))
    }

    /// The open objections on `proposal`, in order raised.
    pub fn open_objections_on<'a>(
        &'a self,
        proposal: &ProposalId,
    ) -> impl Iterator<Item = &'a Objection> + 'a {
        self.index
            .objections_on
            .get(proposal)
            .into_iter()
            .flatten()
            .filter_map(|id| self.objections.get(id))
            .filter(|o| o.status == ObjectionStatus::Open)
    }

    /// Whether some proposal names `clause`.
    pub fn clause_has_proposal(&self, clause: &ClauseId) -> bool {
        self.index.proposed_clauses.contains(clause)
    }
}

/// Keyed list items: how an [`IndexMap`] is rebuilt from a JSON array.
pub(crate) trait Keyed {
    type Key: std::hash::Hash + Eq + Clone;
    fn key(&self) -> &Self::Key;
}

macro_rules! keyed {
    ($t:ty, $k:ty, $f:ident) => {
        impl Keyed for $t {
            type Key = $k;
            fn key(&self) -> &$k {
                &self.$f
            }
        }
    };
}
keyed!(Partner, PartnerId, partner_id);
keyed!(Clause, ClauseId, clause_id);
keyed!(Proposal, ProposalId, proposal_id);
keyed!(Objection, ObjectionId, objection_id);
keyed!(Commitment, CommitmentId, commitment_id);
keyed!(Round, RoundId, round_id);
keyed!(Asset, AssetId, asset_id);
keyed!(Shortfall, ShortfallId, shortfall_id);

/// The commitments overdue on `today` (DOMAIN.md, "Overdue"): still `active`, with a
/// `due` date before `today`, in the order made. A reader's computation, never stored:
/// the caller names the date it used (today in UTC unless the reader asks for
/// another).
pub fn overdue_commitments(view: &AgreementView, today: NaiveDate) -> Vec<&Commitment> {
    view.commitments
        .values()
        .filter(|k| k.status == CommitmentStatus::Active && k.due.is_some_and(|d| d < today))
        .collect()
}

/// The first day `commitment` is overdue: the day after its due date, when it has one.
pub fn first_overdue_day(commitment: &Commitment) -> Option<NaiveDate> {
    commitment.due.and_then(|d| d.succ_opt())
}

mod as_list {
    use indexmap::IndexMap;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Keyed;

    pub(crate) fn serialize<S, V>(map: &IndexMap<V::Key, V>, s: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        V: Keyed + Serialize,
    {
        s.collect_seq(map.values())
    }

    pub(crate) fn deserialize<'de, D, V>(d: D) -> Result<IndexMap<V::Key, V>, D::Error>
    where
        D: Deserializer<'de>,
        V: Keyed + Deserialize<'de>,
    {
        let items = Vec::<V>::deserialize(d)?;
        let mut map = IndexMap::with_capacity(items.len());
        for item in items {
            if map.insert(item.key().clone(), item).is_some() {
                return Err(serde::de::Error::custom("duplicate id in list"));
            }
        }
        Ok(map)
    }
}
