//! The agreement view (DOMAIN.md, "The agreement view"): the current state of one
//! negotiation as JSON, and at the same time the aggregate state that
//! [`crate::decide`] judges commands against. One type for both means the stored view
//! holds everything needed to go on deciding, and nothing can drift between them.
//!
//! Lists are in the order their items were first recorded. In memory they are
//! [`IndexMap`]s keyed by id (insertion-ordered, constant-time lookup); in JSON they
//! are plain arrays.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use indexmap::{IndexMap, IndexSet};
use serde::{Deserialize, Serialize};

use crate::id::{ClauseId, CommitmentId, NegotiationId, ObjectionId, PartnerId, ProposalId};
use crate::vocab::{Amount, CommitmentKind, DecisionRule, PartnerKind, Role, Sector};

/// Whether a negotiation still takes commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum NegotiationStatus {
    /// Taking commands.
    Open,
    /// Concluded: every later command is rejected.
    Concluded,
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
    /// Withdrawn by its committer.
    Withdrawn,
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
/// sign at it.
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
            && self.version == other.version
            && self.agreement_version == other.agreement_version
            && self.partners == other.partners
            && self.clauses == other.clauses
            && self.proposals == other.proposals
            && self.objections == other.objections
            && self.commitments == other.commitments
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
    pub fn reindex(&mut self) {
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

    /// The admitted signatories, in admission order.
    pub fn signatories(&self) -> impl Iterator<Item = &Partner> {
        self.partners.values().filter(|p| p.role == Role::Signatory)
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
