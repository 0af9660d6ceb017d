//! Commands: what an actor asks of a negotiation (DOMAIN.md, "Commands and the rules
//! they obey"). A command is judged by [`crate::decide`]; it records one event or is
//! rejected.

#[cfg(feature = "utoipa")]
use crate::{MAX_SHORT_CHARS, MAX_TEXT_CHARS};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::id::{
    Actor, AssetId, ClauseId, CommitmentId, NegotiationId, ObjectionId, PartnerId, ProposalId,
    RoundId, ShortfallId,
};
use crate::vocab::{
    Amount, AssetKind, CommitmentKind, DecisionRule, PartnerKind, Role, Sector, Severity,
};

/// A command's identity, used for idempotency (DOMAIN.md, "Every command has a command id").
///
/// Free-form but bounded: 1 to 200 visible ASCII characters (no spaces or control
/// characters), so that it can travel in a NATS `Nats-Msg-Id` header. Importers derive
/// it from the minutes line's content; the HTTP API from the caller's idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CommandId(String);

impl CommandId {
    /// Longest command id accepted, in bytes.
    pub const MAX_LEN: usize = 200;

    /// Validates and wraps `value`.
    ///
    /// # Errors
    /// A message naming the problem when `value` is empty, too long or not visible ASCII.
    pub fn new(value: impl Into<String>) -> Result<Self, String> {
        let value = value.into();
        if value.is_empty() || value.len() > Self::MAX_LEN {
            return Err(format!(
                "command id must be 1 to {} characters, got {}",
                Self::MAX_LEN,
                value.len()
            ));
        }
        if let Some(c) = value.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(format!(
                "command id may hold only visible ASCII characters, found {c:?}"
            ));
        }
        Ok(Self(value))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CommandId {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Self::new(value)
    }
}

impl From<CommandId> for String {
    fn from(id: CommandId) -> String {
        id.0
    }
}

impl std::fmt::Display for CommandId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(feature = "utoipa")]
impl utoipa::PartialSchema for CommandId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::schema::command_id()
    }
}

#[cfg(feature = "utoipa")]
impl utoipa::ToSchema for CommandId {}

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for CommandId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CommandId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        crate::json_schema::command_id()
    }
}

/// A command with everything `decide` and the event envelope need: who, where, when
/// (business time, supplied by the caller: the domain has no clock) and its id.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandEnvelope {
    /// Idempotency identity of this command.
    pub command_id: CommandId,
    /// The negotiation it acts on.
    pub negotiation_id: NegotiationId,
    /// Who issues it (`by`).
    pub actor: Actor,
    /// Business time (`occurred_at` of the event it records).
    pub occurred_at: DateTime<Utc>,
    /// What is asked.
    pub command: Command,
}

/// The thirteen commands of DOMAIN.md, the eight of its contract version 2 ("After
/// the signature"), plus `register_key` (docs/AUDIT.md), tagged by `do` in JSON
/// (`{"do": "endorse", ...}`).
///
/// Unknown fields are refused, so that a misspelt optional field is an error rather
/// than silently dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Command {
    /// Open a new negotiation (secretariat).
    OpenNegotiation(OpenNegotiation),
    /// Admit a partner (secretariat).
    AdmitPartner(AdmitPartner),
    /// Register (or replace) a partner's Ed25519 public key (secretariat).
    RegisterKey(RegisterKey),
    /// Propose text for a clause (any admitted partner).
    Propose(Propose),
    /// Withdraw one's own open proposal.
    WithdrawProposal(ProposalRef),
    /// Endorse an open proposal.
    Endorse(ProposalRef),
    /// Retract one's endorsement of an open proposal.
    RetractEndorsement(ProposalRef),
    /// Raise an objection (blocking only from a signatory).
    Object(Object),
    /// Withdraw one's own open objection.
    WithdrawObjection(WithdrawObjection),
    /// Record adoption of a proposal (secretariat).
    Adopt(ProposalRef),
    /// Commit resources.
    Commit(Commit),
    /// Withdraw one's own active commitment.
    WithdrawCommitment(WithdrawCommitment),
    /// Sign the agreement at its current version (signatories).
    Sign(Sign),
    /// Conclude the negotiation, or the open round (secretariat).
    Conclude(Conclude),
    /// Open a renegotiation round of a concluded agreement (secretariat).
    OpenRound(OpenRound),
    /// Declare an asset one brings (any admitted partner).
    DeclareAsset(DeclareAsset),
    /// Report progress on a commitment (its committer or the secretariat).
    ReportProgress(ReportProgress),
    /// Mark one's own commitment fulfilled.
    Fulfil(Fulfil),
    /// Report a shortfall on a commitment (any admitted partner).
    ReportShortfall(ReportShortfall),
    /// Resolve an open shortfall (secretariat).
    ResolveShortfall(ResolveShortfall),
    /// A partner leaves, passing some commitments to others (that partner or the secretariat).
    WithdrawPartner(WithdrawPartner),
    /// End the partnership for good (secretariat).
    Terminate(Terminate),
}

impl Command {
    /// Every command name, as written in `do`.
    pub const NAMES: [&'static str; 22] = [
        "open_negotiation",
        "admit_partner",
        "register_key",
        "propose",
        "withdraw_proposal",
        "endorse",
        "retract_endorsement",
        "object",
        "withdraw_objection",
        "adopt",
        "commit",
        "withdraw_commitment",
        "sign",
        "conclude",
        "open_round",
        "declare_asset",
        "report_progress",
        "fulfil",
        "report_shortfall",
        "resolve_shortfall",
        "withdraw_partner",
        "terminate",
    ];

    /// Parses the fields of the command named `name` (the `do` value), as they appear
    /// in a minutes line or an HTTP body without `do`. Unknown fields are refused.
    ///
    /// # Errors
    /// A message naming the command or the offending field and what is wrong with it
    /// (`blocking: invalid type: string "yes", expected a boolean`).
    pub fn from_fields(
        name: &str,
        fields: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Command, String> {
        fn parse<T: serde::de::DeserializeOwned>(
            fields: serde_json::Map<String, serde_json::Value>,
        ) -> Result<T, String> {
            serde_path_to_error::deserialize(serde_json::Value::Object(fields)).map_err(|e| {
                let path = e.path().to_string();
                if path == "." {
                    e.inner().to_string()
                } else {
                    format!("{path}: {}", e.inner())
                }
            })
        }
        Ok(match name {
            "open_negotiation" => Command::OpenNegotiation(parse(fields)?),
            "admit_partner" => Command::AdmitPartner(parse(fields)?),
            "propose" => Command::Propose(parse(fields)?),
            "withdraw_proposal" => Command::WithdrawProposal(parse(fields)?),
            "endorse" => Command::Endorse(parse(fields)?),
            "retract_endorsement" => Command::RetractEndorsement(parse(fields)?),
            "object" => Command::Object(parse(fields)?),
            "withdraw_objection" => Command::WithdrawObjection(parse(fields)?),
            "adopt" => Command::Adopt(parse(fields)?),
            "commit" => Command::Commit(parse(fields)?),
            "withdraw_commitment" => Command::WithdrawCommitment(parse(fields)?),
            "sign" => Command::Sign(parse(fields)?),
            "conclude" => Command::Conclude(parse(fields)?),
            "register_key" => Command::RegisterKey(parse(fields)?),
            "open_round" => Command::OpenRound(parse(fields)?),
            "declare_asset" => Command::DeclareAsset(parse(fields)?),
            "report_progress" => Command::ReportProgress(parse(fields)?),
            "fulfil" => Command::Fulfil(parse(fields)?),
            "report_shortfall" => Command::ReportShortfall(parse(fields)?),
            "resolve_shortfall" => Command::ResolveShortfall(parse(fields)?),
            "withdraw_partner" => Command::WithdrawPartner(parse(fields)?),
            "terminate" => Command::Terminate(parse(fields)?),
            other => {
                return Err(format!(
                    "unknown command {other:?}; expected one of {}",
                    Command::NAMES.join(", ")
                ));
            }
        })
    }

    /// The command's name as written in `do`.
    pub fn name(&self) -> &'static str {
        match self {
            Command::OpenNegotiation(_) => "open_negotiation",
            Command::AdmitPartner(_) => "admit_partner",
            Command::RegisterKey(_) => "register_key",
            Command::Propose(_) => "propose",
            Command::WithdrawProposal(_) => "withdraw_proposal",
            Command::Endorse(_) => "endorse",
            Command::RetractEndorsement(_) => "retract_endorsement",
            Command::Object(_) => "object",
            Command::WithdrawObjection(_) => "withdraw_objection",
            Command::Adopt(_) => "adopt",
            Command::Commit(_) => "commit",
            Command::WithdrawCommitment(_) => "withdraw_commitment",
            Command::Sign(_) => "sign",
            Command::Conclude(_) => "conclude",
            Command::OpenRound(_) => "open_round",
            Command::DeclareAsset(_) => "declare_asset",
            Command::ReportProgress(_) => "report_progress",
            Command::Fulfil(_) => "fulfil",
            Command::ReportShortfall(_) => "report_shortfall",
            Command::ResolveShortfall(_) => "resolve_shortfall",
            Command::WithdrawPartner(_) => "withdraw_partner",
            Command::Terminate(_) => "terminate",
        }
    }
}

/// The OpenAPI schema of a text field of up to [`MAX_TEXT_CHARS`] characters, not
/// blank (what `decide` accepts: DOMAIN.md, "Commands and the rules they obey").
#[cfg(feature = "utoipa")]
pub struct Text;

/// The OpenAPI schema of a short text field (a title, a name) of up to
/// [`MAX_SHORT_CHARS`] characters, not blank.
#[cfg(feature = "utoipa")]
pub struct ShortText;

#[cfg(feature = "utoipa")]
fn text_schema(max: usize) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(r"\S"))
        .into()
}

#[cfg(feature = "utoipa")]
impl utoipa::PartialSchema for Text {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        text_schema(MAX_TEXT_CHARS)
    }
}

#[cfg(feature = "utoipa")]
impl utoipa::ToSchema for Text {}

#[cfg(feature = "utoipa")]
impl utoipa::PartialSchema for ShortText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        text_schema(MAX_SHORT_CHARS)
    }
}

#[cfg(feature = "utoipa")]
impl utoipa::ToSchema for ShortText {}

/// `open_negotiation {title, service, decision_rule?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpenNegotiation {
    /// Human title, 1 to 500 characters.
    #[cfg_attr(feature = "utoipa", schema(value_type = ShortText))]
    pub title: String,
    /// The municipal service negotiated (`water_sanitation`, `solid_waste`...), 1 to 500 characters.
    #[cfg_attr(feature = "utoipa", schema(value_type = ShortText))]
    pub service: String,
    /// Defaults to `consent`.
    #[serde(default)]
    pub decision_rule: Option<DecisionRule>,
}

/// `admit_partner {partner_id, name, sector, kind, role, public_key?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AdmitPartner {
    /// The new partner's id.
    pub partner_id: PartnerId,
    /// Display name, 1 to 500 characters.
    #[cfg_attr(feature = "utoipa", schema(value_type = ShortText))]
    pub name: String,
    /// Its sector; must match `kind`.
    pub sector: Sector,
    /// Its kind of organisation.
    pub kind: PartnerKind,
    /// Signatory or observer.
    pub role: Role,
    /// The partner's Ed25519 public key, 64 hex digits (docs/AUDIT.md, "Signatures").
    /// With a key, the partner's `sign` must carry a valid signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "utoipa", schema(pattern = "^[0-9a-fA-F]{64}$"))]
    pub public_key: Option<String>,
}

/// `register_key {partner_id, public_key}`: gives an admitted partner an Ed25519 public
/// key, or replaces the one it had (secretariat).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterKey {
    /// The partner.
    pub partner_id: PartnerId,
    /// The Ed25519 public key, 64 hex digits.
    #[cfg_attr(feature = "utoipa", schema(pattern = "^[0-9a-fA-F]{64}$"))]
    pub public_key: String,
}

/// `propose {proposal_id, clause_id, text, title?, rationale?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Propose {
    /// New proposal id.
    pub proposal_id: ProposalId,
    /// The clause it would set.
    pub clause_id: ClauseId,
    /// Proposed clause text, 1 to 20,000 characters.
    #[cfg_attr(feature = "utoipa", schema(value_type = Text))]
    pub text: String,
    /// Optional short title.
    #[serde(default)]
    #[cfg_attr(feature = "utoipa", schema(value_type = Option<ShortText>))]
    pub title: Option<String>,
    /// Optional reasons.
    #[serde(default)]
    #[cfg_attr(feature = "utoipa", schema(value_type = Option<Text>))]
    pub rationale: Option<String>,
}

/// `{proposal_id}`: the body of `withdraw_proposal`, `endorse`, `retract_endorsement`, `adopt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProposalRef {
    /// The proposal acted on.
    pub proposal_id: ProposalId,
}

/// `object {objection_id, proposal_id, grounds, blocking}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Object {
    /// New objection id.
    pub objection_id: ObjectionId,
    /// The proposal objected to.
    pub proposal_id: ProposalId,
    /// Why; must not be blank.
    #[cfg_attr(feature = "utoipa", schema(value_type = Text))]
    pub grounds: String,
    /// `true` blocks adoption (signatories only); `false` is a concern.
    pub blocking: bool,
}

/// `withdraw_objection {objection_id, note?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WithdrawObjection {
    /// The objection withdrawn.
    pub objection_id: ObjectionId,
    /// Optional note.
    #[serde(default)]
    #[cfg_attr(feature = "utoipa", schema(value_type = Option<Text>))]
    pub note: Option<String>,
}

/// `commit {commitment_id, description, kind, clause_id?, amount?, due?, assets?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Commit {
    /// New commitment id.
    pub commitment_id: CommitmentId,
    /// What is committed; must not be blank.
    #[cfg_attr(feature = "utoipa", schema(value_type = Text))]
    pub description: String,
    /// What kind of resource.
    pub kind: CommitmentKind,
    /// A clause that has at least one proposal, if given.
    #[serde(default)]
    pub clause_id: Option<ClauseId>,
    /// Sum of money, if any.
    #[serde(default)]
    pub amount: Option<Amount>,
    /// Due date, exactly `YYYY-MM-DD`, 1900-01-01 to 9999-12-31 ([`crate::time::parse_date`]).
    #[serde(default, deserialize_with = "crate::time::deserialize_optional_date")]
    pub due: Option<NaiveDate>,
    /// The committer's own declared assets the commitment draws on (contract version 2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<AssetId>,
}

/// `withdraw_commitment {commitment_id, reason}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WithdrawCommitment {
    /// The commitment withdrawn.
    pub commitment_id: CommitmentId,
    /// Why; must not be blank.
    #[cfg_attr(feature = "utoipa", schema(value_type = Text))]
    pub reason: String,
}

/// `sign {signature?}`.
///
/// A partner with a registered public key must give `signature`: its Ed25519
/// signature, 128 hex digits, of the agreement's signing message at the current
/// agreement version ([`crate::signing::view_signing_message`]). A partner without a
/// key signs without one.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Sign {
    /// Ed25519 signature of the signing message, 128 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "utoipa", schema(pattern = "^[0-9a-fA-F]{128}$"))]
    pub signature: Option<String>,
}

/// `conclude {}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Conclude {}

/// `open_round {round_id, reason}` (DOMAIN.md, "After the signature").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpenRound {
    /// New round id.
    pub round_id: RoundId,
    /// Why the agreement is renegotiated, 1 to 20,000 characters.
    #[cfg_attr(feature = "utoipa", schema(value_type = Text))]
    pub reason: String,
}

/// `declare_asset {asset_id, kind, description}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeclareAsset {
    /// New asset id.
    pub asset_id: AssetId,
    /// What kind of asset.
    pub kind: AssetKind,
    /// What it is, 1 to 20,000 characters.
    #[cfg_attr(feature = "utoipa", schema(value_type = Text))]
    pub description: String,
}

/// `report_progress {commitment_id, note, delivered?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReportProgress {
    /// The active commitment reported on.
    pub commitment_id: CommitmentId,
    /// What was done, 1 to 20,000 characters.
    #[cfg_attr(feature = "utoipa", schema(value_type = Text))]
    pub note: String,
    /// Amount delivered, in the commitment's currency when it has an amount.
    #[serde(default)]
    pub delivered: Option<Amount>,
}

/// `fulfil {commitment_id, fulfilled_on, note}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Fulfil {
    /// The committer's active commitment.
    pub commitment_id: CommitmentId,
    /// The date it was fulfilled on, exactly `YYYY-MM-DD`, 1900-01-01 to 9999-12-31
    /// ([`crate::time::parse_date`]).
    #[serde(deserialize_with = "crate::time::deserialize_date")]
    pub fulfilled_on: NaiveDate,
    /// A note, 1 to 20,000 characters.
    #[cfg_attr(feature = "utoipa", schema(value_type = Text))]
    pub note: String,
}

/// `report_shortfall {shortfall_id, commitment_id, description, severity}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReportShortfall {
    /// New shortfall id.
    pub shortfall_id: ShortfallId,
    /// An active or fulfilled commitment.
    pub commitment_id: CommitmentId,
    /// What fell short, 1 to 20,000 characters.
    #[cfg_attr(feature = "utoipa", schema(value_type = Text))]
    pub description: String,
    /// How serious.
    pub severity: Severity,
}

/// `resolve_shortfall {shortfall_id, resolution, penalty?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResolveShortfall {
    /// The open shortfall.
    pub shortfall_id: ShortfallId,
    /// How it was resolved, 1 to 20,000 characters.
    #[cfg_attr(feature = "utoipa", schema(value_type = Text))]
    pub resolution: String,
    /// A penalty, if one is set.
    #[serde(default)]
    pub penalty: Option<Amount>,
}

/// One `withdraw_partner` transfer: `{commitment_id, to, new_commitment_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// An active commitment of the leaving partner.
    pub commitment_id: CommitmentId,
    /// The admitted, active partner who takes it on.
    pub to: PartnerId,
    /// The id of the new commitment, unused so far.
    pub new_commitment_id: CommitmentId,
}

/// `withdraw_partner {partner_id, reason, transfers?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WithdrawPartner {
    /// The partner who leaves.
    pub partner_id: PartnerId,
    /// Why, 1 to 20,000 characters.
    #[cfg_attr(feature = "utoipa", schema(value_type = Text))]
    pub reason: String,
    /// Commitments passed to other partners; its other active ones are withdrawn.
    #[serde(default)]
    pub transfers: Vec<Transfer>,
}

/// `terminate {reason}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Terminate {
    /// Why, 1 to 20,000 characters.
    #[cfg_attr(feature = "utoipa", schema(value_type = Text))]
    pub reason: String,
}
