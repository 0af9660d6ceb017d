//! The closed vocabularies of the domain: sectors, kinds, roles, decision rules,
//! commitment kinds, amounts (DOMAIN.md, "Who negotiates" and "Commands"), and those of
//! contract version 2 (DOMAIN.md, "After the signature"): asset kinds, shortfall
//! severities, and the statuses of partners, rounds and shortfalls.
//!
//! Each vocabulary's wire names are written once, beside its variants, in a
//! [`vocabulary!`] declaration: serde (and so the JSON Schemas and OpenAPI), `as_str`,
//! `Display` and `ALL` all take them from there.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Declares a closed vocabulary: the enum, with each variant's wire name written once
/// (`Variant => "wire_name"`), which becomes its serde name (`#[serde(rename)]`, read
/// by schemars and utoipa too), what `as_str` returns and what `Display` writes; and
/// `ALL`, every variant in the order declared.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:tt, )+
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $wire)] $variant, )+
        }

        impl $name {
            /// Every value, in the order declared (the order DOMAIN.md lists them).
            pub const ALL: [$name; [$($wire),+].len()] = [$($name::$variant),+];

            /// The name used in JSON, the minutes and messages (`snake_case`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $wire, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// One of the organisational sectors a partner comes from (DOMAIN.md, "Who negotiates").
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    #[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
    #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
    pub enum Sector {
        /// Municipalities, national government, regulators, public utilities.
        Government => "government",
        /// International operators, national firms, small-scale providers.
        PrivateSector => "private_sector",
        /// NGOs, community organisations, consumer groups, trade unions.
        CivilSociety => "civil_society",
        /// Donors and consultants.
        External => "external",
    }
}

impl Sector {
    /// The sectors whose signatories `cross_sector_consent` requires (DOMAIN.md, "Decision rules").
    pub const DECIDING: [Sector; 3] = [
        Sector::Government,
        Sector::PrivateSector,
        Sector::CivilSociety,
    ];
}

vocabulary! {
    /// What kind of organisation a partner is; each kind belongs to exactly one [`Sector`]
    /// (DOMAIN.md, "Who negotiates", the table of kinds).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
    #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
    pub enum PartnerKind {
        /// A municipality (government).
        Municipality => "municipality",
        /// A national government body (government).
        NationalGovernment => "national_government",
        /// A regulator (government).
        Regulator => "regulator",
        /// A public utility (government).
        PublicUtility => "public_utility",
        /// A large international PPP operator (private sector).
        InternationalOperator => "international_operator",
        /// A national firm (private sector).
        NationalFirm => "national_firm",
        /// A small-scale provider: water vendors, kiosk operators, informal collectors (private sector).
        SmallScaleProvider => "small_scale_provider",
        /// A non-governmental organisation (civil society).
        Ngo => "ngo",
        /// A community organisation (civil society).
        CommunityOrganisation => "community_organisation",
        /// A consumer group (civil society).
        ConsumerGroup => "consumer_group",
        /// Employees and their trade unions (civil society).
        TradeUnion => "trade_union",
        /// A donor (external).
        Donor => "donor",
        /// A consultant (external).
        Consultant => "consultant",
    }
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
}

vocabulary! {
    /// A partner's role (DOMAIN.md, "Who negotiates").
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
    #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
    pub enum Role {
        /// Must sign; counts for decisions; may block.
        Signatory => "signatory",
        /// May propose, endorse, raise non-blocking concerns and commit; does not count or sign.
        Observer => "observer",
    }
}

vocabulary! {
    /// How `adopt` decides (DOMAIN.md, "Decision rules"). Default: `consent`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
    #[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
    #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
    pub enum DecisionRule {
        /// At least one signatory endorses.
        #[default]
        Consent => "consent",
        /// Consent, and one signatory endorsement from each of government, private sector
        /// and civil society that has an admitted signatory.
        CrossSectorConsent => "cross_sector_consent",
        /// Every admitted signatory endorses.
        Unanimity => "unanimity",
    }
}

vocabulary! {
    /// What a commitment gives (DOMAIN.md, "`commit` kinds").
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
    #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
    pub enum CommitmentKind {
        /// Money.
        Finance => "finance",
        /// Goods, land, rights of way and the like.
        InKind => "in_kind",
        /// People.
        Staff => "staff",
        /// Running part of the service.
        ServiceDelivery => "service_delivery",
        /// A regulatory act or duty.
        Regulatory => "regulatory",
        /// Checking and reporting.
        Monitoring => "monitoring",
        /// Anything else.
        Other => "other",
    }
}

vocabulary! {
    /// What kind of asset a partner brings to the partnership (DOMAIN.md, "After the
    /// signature": asset kinds).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
    #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
    pub enum AssetKind {
        /// Money: capital, grants, budget lines.
        Finance => "finance",
        /// Technical know-how.
        TechnicalExpertise => "technical_expertise",
        /// Knowledge of the place and its people.
        LocalKnowledge => "local_knowledge",
        /// Standing with the people served.
        Legitimacy => "legitimacy",
        /// The power to regulate, license or enforce.
        RegulatoryAuthority => "regulatory_authority",
        /// People who do the work.
        Workforce => "workforce",
        /// Land, networks, depots, vehicles and the like.
        Infrastructure => "infrastructure",
        /// Anything else.
        Other => "other",
    }
}

vocabulary! {
    /// How serious a shortfall is (DOMAIN.md, "After the signature": shortfall
    /// severities). Ordered: `minor < major < critical`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    #[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
    #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
    pub enum Severity {
        /// An inconvenience.
        Minor => "minor",
        /// A failure that people served feel.
        Major => "major",
        /// A failure that puts the service or people at risk.
        Critical => "critical",
    }
}

vocabulary! {
    /// Whether a partner still takes part (DOMAIN.md, "The view, version 2"). A view
    /// stored before contract version 2 has no status: every partner there is `active`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
    #[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
    #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
    pub enum PartnerStatus {
        /// Admitted and taking part.
        #[default]
        Active => "active",
        /// Left through `withdraw_partner`: still listed, counts for no rule, issues no command.
        Withdrawn => "withdrawn",
    }
}

vocabulary! {
    /// A renegotiation round's status (DOMAIN.md, "The view, version 2").
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
    #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
    pub enum RoundStatus {
        /// The negotiation is `renegotiating` in this round.
        Open => "open",
        /// Ended by `conclude`: its agreement is in force.
        Concluded => "concluded",
        /// The negotiation was terminated while the round was open.
        Abandoned => "abandoned",
    }
}

vocabulary! {
    /// A shortfall's status (DOMAIN.md, "The view, version 2").
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
    #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
    pub enum ShortfallStatus {
        /// Reported, not yet resolved.
        Open => "open",
        /// Resolved by the secretariat, perhaps with a penalty.
        Resolved => "resolved",
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

    /// Every value of `T` is written and read under its `as_str` name, which is
    /// `snake_case` and unique within its vocabulary.
    fn round_trips<T>(all: &[T])
    where
        T: Serialize + serde::de::DeserializeOwned + Copy + PartialEq + fmt::Debug + fmt::Display,
    {
        let mut seen = std::collections::HashSet::new();
        for &v in all {
            let name = wire(v);
            assert_eq!(name, v.to_string(), "{v:?}");
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
            assert!(seen.insert(name.clone()), "{name} twice");
            let back: T = serde_json::from_value(serde_json::Value::String(name)).expect("reads");
            assert_eq!(back, v);
        }
    }

    #[test]
    fn every_vocabulary_reads_and_writes_its_declared_names() {
        round_trips(&Sector::ALL);
        round_trips(&PartnerKind::ALL);
        round_trips(&Role::ALL);
        round_trips(&DecisionRule::ALL);
        round_trips(&CommitmentKind::ALL);
        round_trips(&AssetKind::ALL);
        round_trips(&Severity::ALL);
        round_trips(&PartnerStatus::ALL);
        round_trips(&RoundStatus::ALL);
        round_trips(&ShortfallStatus::ALL);
        assert_eq!(PartnerKind::ALL.len(), 13);
        assert_eq!(wire(Sector::PrivateSector), "private_sector");
        assert_eq!(
            wire(PartnerKind::SmallScaleProvider),
            "small_scale_provider"
        );
        assert!(Severity::Minor < Severity::Major && Severity::Major < Severity::Critical);
    }
}
