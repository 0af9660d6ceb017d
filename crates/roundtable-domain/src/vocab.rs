//! The closed vocabularies of the domain: sectors, kinds, roles, decision rules,
//! commitment kinds, amounts (DOMAIN.md, "Who negotiates" and "Commands"), and those of
//! contract version 2 (DOMAIN.md, "After the signature"): asset kinds, shortfall
//! severities, and the statuses of partners, rounds and shortfalls.
//!
//! Each vocabulary's wire names are written once, in its `as_str`; serde's
//! `snake_case` renaming gives the same names, and a unit test holds the two equal.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One of the organisational sectors a partner comes from (DOMAIN.md, "Who negotiates").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Sector {
    /// Municipalities, national government, regulators, public utilities.
    Government,
    /// International operators, national firms, small-scale providers.
    PrivateSector,
    /// NGOs, community organisations, consumer groups, trade unions.
    CivilSociety,
    /// Donors and consultants.
    External,
}

impl Sector {
    /// Every sector, in the order DOMAIN.md lists them.
    pub const ALL: [Sector; 4] = [
        Sector::Government,
        Sector::PrivateSector,
        Sector::CivilSociety,
        Sector::External,
    ];

    /// The sectors whose signatories `cross_sector_consent` requires (DOMAIN.md, "Decision rules").
    pub const DECIDING: [Sector; 3] = [
        Sector::Government,
        Sector::PrivateSector,
        Sector::CivilSociety,
    ];

    /// The `snake_case` name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Sector::Government => "government",
            Sector::PrivateSector => "private_sector",
            Sector::CivilSociety => "civil_society",
            Sector::External => "external",
        }
    }
}

impl fmt::Display for Sector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What kind of organisation a partner is; each kind belongs to exactly one [`Sector`]
/// (DOMAIN.md, "Who negotiates", the table of kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PartnerKind {
    /// A municipality (government).
    Municipality,
    /// A national government body (government).
    NationalGovernment,
    /// A regulator (government).
    Regulator,
    /// A public utility (government).
    PublicUtility,
    /// A large international PPP operator (private sector).
    InternationalOperator,
    /// A national firm (private sector).
    NationalFirm,
    /// A small-scale provider: water vendors, kiosk operators, informal collectors (private sector).
    SmallScaleProvider,
    /// A non-governmental organisation (civil society).
    Ngo,
    /// A community organisation (civil society).
    CommunityOrganisation,
    /// A consumer group (civil society).
    ConsumerGroup,
    /// Employees and their trade unions (civil society).
    TradeUnion,
    /// A donor (external).
    Donor,
    /// A consultant (external).
    Consultant,
}

impl PartnerKind {
    /// The sector this kind belongs to.
    pub fn sector(self) -> Sector {
        use PartnerKind::*;
        match self {
            Municipality | NationalGovernment | Regulator | PublicUtility => Sector::Government,
            InternationalOperator | NationalFirm | SmallScaleProvider => Sector::PrivateSector,
            Ngo | CommunityOrganisation | ConsumerGroup | TradeUnion => Sector::CivilSociety,
            Donor | Consultant => Sector::External,
        }
    }

    /// The `snake_case` name used in JSON.
    pub fn as_str(self) -> &'static str {
        use PartnerKind::*;
        match self {
            Municipality => "municipality",
            NationalGovernment => "national_government",
            Regulator => "regulator",
            PublicUtility => "public_utility",
            InternationalOperator => "international_operator",
            NationalFirm => "national_firm",
            SmallScaleProvider => "small_scale_provider",
            Ngo => "ngo",
            CommunityOrganisation => "community_organisation",
            ConsumerGroup => "consumer_group",
            TradeUnion => "trade_union",
            Donor => "donor",
            Consultant => "consultant",
        }
    }
}

impl fmt::Display for PartnerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A partner's role (DOMAIN.md, "Who negotiates").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Must sign; counts for decisions; may block.
    Signatory,
    /// May propose, endorse, raise non-blocking concerns and commit; does not count or sign.
    Observer,
}

impl Role {
    /// The `snake_case` name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Signatory => "signatory",
            Role::Observer => "observer",
        }
    }
}

/// How `adopt` decides (DOMAIN.md, "Decision rules"). Default: `consent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DecisionRule {
    /// At least one signatory endorses.
    #[default]
    Consent,
    /// Consent, and one signatory endorsement from each of government, private sector
    /// and civil society that has an admitted signatory.
    CrossSectorConsent,
    /// Every admitted signatory endorses.
    Unanimity,
}

impl DecisionRule {
    /// The `snake_case` name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionRule::Consent => "consent",
            DecisionRule::CrossSectorConsent => "cross_sector_consent",
            DecisionRule::Unanimity => "unanimity",
        }
    }
}

impl fmt::Display for DecisionRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What a commitment gives (DOMAIN.md, "`commit` kinds").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CommitmentKind {
    /// Money.
    Finance,
    /// Goods, land, rights of way and the like.
    InKind,
    /// People.
    Staff,
    /// Running part of the service.
    ServiceDelivery,
    /// A regulatory act or duty.
    Regulatory,
    /// Checking and reporting.
    Monitoring,
    /// Anything else.
    Other,
}

impl CommitmentKind {
    /// The `snake_case` name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CommitmentKind::Finance => "finance",
            CommitmentKind::InKind => "in_kind",
            CommitmentKind::Staff => "staff",
            CommitmentKind::ServiceDelivery => "service_delivery",
            CommitmentKind::Regulatory => "regulatory",
            CommitmentKind::Monitoring => "monitoring",
            CommitmentKind::Other => "other",
        }
    }
}

impl fmt::Display for CommitmentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What kind of asset a partner brings to the partnership (DOMAIN.md, "After the
/// signature": asset kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    /// Money: capital, grants, budget lines.
    Finance,
    /// Technical know-how.
    TechnicalExpertise,
    /// Knowledge of the place and its people.
    LocalKnowledge,
    /// Standing with the people served.
    Legitimacy,
    /// The power to regulate, license or enforce.
    RegulatoryAuthority,
    /// People who do the work.
    Workforce,
    /// Land, networks, depots, vehicles and the like.
    Infrastructure,
    /// Anything else.
    Other,
}

impl AssetKind {
    /// Every asset kind, in the order DOMAIN.md lists them.
    pub const ALL: [AssetKind; 8] = [
        AssetKind::Finance,
        AssetKind::TechnicalExpertise,
        AssetKind::LocalKnowledge,
        AssetKind::Legitimacy,
        AssetKind::RegulatoryAuthority,
        AssetKind::Workforce,
        AssetKind::Infrastructure,
        AssetKind::Other,
    ];

    /// The `snake_case` name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AssetKind::Finance => "finance",
            AssetKind::TechnicalExpertise => "technical_expertise",
            AssetKind::LocalKnowledge => "local_knowledge",
            AssetKind::Legitimacy => "legitimacy",
            AssetKind::RegulatoryAuthority => "regulatory_authority",
            AssetKind::Workforce => "workforce",
            AssetKind::Infrastructure => "infrastructure",
            AssetKind::Other => "other",
        }
    }
}

impl fmt::Display for AssetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// How serious a shortfall is (DOMAIN.md, "After the signature": shortfall
/// severities). Ordered: `minor < major < critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// An inconvenience.
    Minor,
    /// A failure that people served feel.
    Major,
    /// A failure that puts the service or people at risk.
    Critical,
}

impl Severity {
    /// Every severity, least serious first.
    pub const ALL: [Severity; 3] = [Severity::Minor, Severity::Major, Severity::Critical];

    /// The `snake_case` name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Minor => "minor",
            Severity::Major => "major",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Whether a partner still takes part (DOMAIN.md, "The view, version 2"). A view
/// stored before contract version 2 has no status: every partner there is `active`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PartnerStatus {
    /// Admitted and taking part.
    #[default]
    Active,
    /// Left through `withdraw_partner`: still listed, counts for no rule, issues no command.
    Withdrawn,
}

impl PartnerStatus {
    /// The `snake_case` name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            PartnerStatus::Active => "active",
            PartnerStatus::Withdrawn => "withdrawn",
        }
    }
}

/// A renegotiation round's status (DOMAIN.md, "The view, version 2").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RoundStatus {
    /// The negotiation is `renegotiating` in this round.
    Open,
    /// Ended by `conclude`: its agreement is in force.
    Concluded,
    /// The negotiation was terminated while the round was open.
    Abandoned,
}

impl RoundStatus {
    /// The `snake_case` name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RoundStatus::Open => "open",
            RoundStatus::Concluded => "concluded",
            RoundStatus::Abandoned => "abandoned",
        }
    }
}

/// A shortfall's status (DOMAIN.md, "The view, version 2").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ShortfallStatus {
    /// Reported, not yet resolved.
    Open,
    /// Resolved by the secretariat, perhaps with a penalty.
    Resolved,
}

impl ShortfallStatus {
    /// The `snake_case` name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ShortfallStatus::Open => "open",
            ShortfallStatus::Resolved => "resolved",
        }
    }
}

/// A sum of money: `{value, currency}` (DOMAIN.md, "`commit` kinds").
///
/// `value` is a non-negative decimal written as a string (`"2400000.00"`; no exponent,
/// no sign, no floating point); `currency` an ISO 4217 code (`"USD"`). Both are checked
/// by [`Amount::validate`], which `decide` calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Amount {
    /// Non-negative decimal as a string: digits, optionally `.` and more digits.
    #[cfg_attr(
        feature = "utoipa",
        schema(pattern = r"^[0-9]{1,24}(\.[0-9]{1,12})?$", examples("2400000.00"))
    )]
    #[cfg_attr(
        feature = "schemars",
        schemars(pattern(r"^[0-9]{1,24}(\.[0-9]{1,12})?$"))
    )]
    pub value: String,
    /// ISO 4217 alphabetic code, upper case.
    #[cfg_attr(feature = "utoipa", schema(pattern = "^[A-Z]{3}$", examples("USD")))]
    #[cfg_attr(feature = "schemars", schemars(pattern("^[A-Z]{3}$")))]
    pub currency: String,
}

impl Amount {
    /// Checks the value's form and the currency code.
    ///
    /// # Errors
    /// A message naming the offending value.
    pub fn validate(&self) -> Result<(), String> {
        let (int, frac) = match self.value.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (self.value.as_str(), None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(int)
            || frac.is_some_and(|f| !digits(f))
            || int.len() > 24
            || frac.is_some_and(|f| f.len() > 12)
        {
            return Err(format!(
                "amount value {:?} is not a non-negative decimal string such as \"1250.00\" (at most 24 digits before the point and 12 after)",
                self.value
            ));
        }
        if iso_currency::Currency::from_code(&self.currency).is_none() {
            return Err(format!(
                "amount currency {:?} is not an ISO 4217 code such as \"USD\" or \"EUR\"",
                self.currency
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_sector() {
        assert_eq!(
            PartnerKind::SmallScaleProvider.sector(),
            Sector::PrivateSector
        );
        assert_eq!(PartnerKind::TradeUnion.sector(), Sector::CivilSociety);
        assert_eq!(PartnerKind::Regulator.sector(), Sector::Government);
        assert_eq!(PartnerKind::Consultant.sector(), Sector::External);
    }

    #[test]
    fn amounts_are_decimal_strings_in_iso_currencies() {
        let ok = |v: &str, c: &str| {
            Amount {
                value: v.into(),
                currency: c.into(),
            }
            .validate()
        };
        assert!(ok("0", "USD").is_ok());
        assert!(ok("2400000.00", "EUR").is_ok());
        for bad in ["-1", "1e5", "1.", ".5", "", "1,000", " 1"] {
            assert!(ok(bad, "USD").is_err(), "{bad:?}");
        }
        for bad in ["usd", "XYZ", "US", ""] {
            assert!(ok("1", bad).is_err(), "{bad:?}");
        }
    }

    /// The wire name of `value` as serde writes it.
    fn wire<T: Serialize>(value: T) -> String {
        serde_json::to_value(value)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    #[test]
    fn as_str_is_the_wire_name_of_every_new_vocabulary() {
        for k in AssetKind::ALL {
            assert_eq!(wire(k), k.as_str());
        }
        for s in Severity::ALL {
            assert_eq!(wire(s), s.as_str());
        }
        for s in [PartnerStatus::Active, PartnerStatus::Withdrawn] {
            assert_eq!(wire(s), s.as_str());
        }
        for s in [
            RoundStatus::Open,
            RoundStatus::Concluded,
            RoundStatus::Abandoned,
        ] {
            assert_eq!(wire(s), s.as_str());
        }
        for s in [ShortfallStatus::Open, ShortfallStatus::Resolved] {
            assert_eq!(wire(s), s.as_str());
        }
        assert!(Severity::Minor < Severity::Major && Severity::Major < Severity::Critical);
    }
}
