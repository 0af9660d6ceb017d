//! Client-chosen identifiers (DOMAIN.md, "Identifiers").
//!
//! Every identifier is 1 to 64 characters of `a-z`, `0-9` and `-`, starting with a
//! letter or digit. That alphabet is also what makes an id safe to use as one token
//! of a NATS subject: no `.`, `*`, `>` or white space can get through.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest identifier accepted, in characters (DOMAIN.md, "Identifiers").
pub const MAX_ID_LEN: usize = 64;

/// Why a string is not a valid identifier. The `Display` text names the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string was empty.
    #[error("{what} is empty; it must be 1 to 64 characters of a-z, 0-9 and '-'")]
    Empty {
        /// Which identifier, e.g. `partner_id`.
        what: &'static str,
    },
    /// The string was longer than [`MAX_ID_LEN`] characters.
    #[error("{what} {value:?} is {len} characters long; the limit is 64")]
    TooLong {
        /// Which identifier.
        what: &'static str,
        /// The offending value, cut to 80 characters.
        value: String,
        /// Its length in characters.
        len: usize,
    },
    /// The string holds a character outside `a-z`, `0-9`, `-`.
    #[error(
        "{what} {value:?} has {found:?} at position {position}; only a-z, 0-9 and '-' are allowed"
    )]
    BadChar {
        /// Which identifier.
        what: &'static str,
        /// The offending value, cut to 80 characters.
        value: String,
        /// The first character that is not allowed.
        found: char,
        /// Its position, counting characters from 1.
        position: usize,
    },
    /// The string starts with `-`.
    #[error("{what} {value:?} starts with '-'; it must start with a letter or digit")]
    LeadingDash {
        /// Which identifier.
        what: &'static str,
        /// The offending value.
        value: String,
    },
    /// `secretariat` was given as a partner id (it is reserved for the convening actor).
    #[error("partner_id \"secretariat\" is reserved for the secretariat")]
    Reserved,
}

fn shown(value: &str) -> String {
    value.chars().take(80).collect()
}

/// Checks `value` against the identifier grammar of DOMAIN.md ("Identifiers").
///
/// `what` names the identifier in the error (`"proposal_id"`).
///
/// # Errors
/// [`IdError`] naming the first problem found.
pub fn validate_id(what: &'static str, value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { what });
    }
    for (i, c) in value.chars().enumerate() {
        if !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return Err(IdError::BadChar {
                what,
                value: shown(value),
                found: c,
                position: i + 1,
            });
        }
    }
    // All ASCII from here on, so bytes are characters.
    if value.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            what,
            value: shown(value),
            len: value.len(),
        });
    }
    if value.starts_with('-') {
        return Err(IdError::LeadingDash {
            what,
            value: shown(value),
        });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        ///
        /// Grammar: DOMAIN.md, "Identifiers" (see [`validate_id`]). Serialized as a plain
        /// JSON string; deserializing an invalid string fails with an [`IdError`] message.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps `value`.
            ///
            /// # Errors
            /// [`IdError`] when `value` breaks the identifier grammar.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                validate_id($what, &value)?;
                Ok(Self(value))
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::new(value)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(value: &str) -> Result<Self, IdError> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        #[cfg(feature = "utoipa")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                crate::schema::id($what)
            }
        }

        #[cfg(feature = "utoipa")]
        impl utoipa::ToSchema for $name {}

        #[cfg(feature = "schemars")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                crate::json_schema::id($what)
            }
        }
    };
}

id_type!(
    /// Identifies one negotiation (and so one partnership agreement and one event sequence).
    NegotiationId,
    "negotiation_id"
);
id_type!(
    /// Identifies a proposal within its negotiation.
    ProposalId,
    "proposal_id"
);
id_type!(
    /// Identifies a clause of the agreement within its negotiation.
    ClauseId,
    "clause_id"
);
id_type!(
    /// Identifies an objection within its negotiation.
    ObjectionId,
    "objection_id"
);
id_type!(
    /// Identifies a commitment within its negotiation.
    CommitmentId,
    "commitment_id"
);

id_type!(
    /// Identifies a renegotiation round within its negotiation (DOMAIN.md, "After the
    /// signature": `open_round`).
    RoundId,
    "round_id"
);
id_type!(
    /// Identifies a declared asset within its negotiation (DOMAIN.md, "After the
    /// signature": `declare_asset`).
    AssetId,
    "asset_id"
);
id_type!(
    /// Identifies a reported shortfall within its negotiation (DOMAIN.md, "After the
    /// signature": `report_shortfall`).
    ShortfallId,
    "shortfall_id"
);

/// Identifies a partner within its negotiation.
///
/// Grammar: DOMAIN.md, "Identifiers"; the literal `secretariat` is reserved and refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PartnerId(String);

impl PartnerId {
    /// Validates and wraps `value`.
    ///
    /// # Errors
    /// [`IdError`] when `value` breaks the grammar or is `secretariat`.
    pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
        let value = value.into();
        validate_id("partner_id", &value)?;
        if value == SECRETARIAT {
            return Err(IdError::Reserved);
        }
        Ok(Self(value))
    }

    /// The identifier as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PartnerId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, IdError> {
        Self::new(value)
    }
}

impl TryFrom<&str> for PartnerId {
    type Error = IdError;
    fn try_from(value: &str) -> Result<Self, IdError> {
        Self::new(value)
    }
}

impl From<PartnerId> for String {
    fn from(id: PartnerId) -> String {
        id.0
    }
}

impl fmt::Display for PartnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl std::borrow::Borrow<str> for PartnerId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

#[cfg(feature = "utoipa")]
impl utoipa::PartialSchema for PartnerId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::schema::id("partner_id")
    }
}

#[cfg(feature = "utoipa")]
impl utoipa::ToSchema for PartnerId {}

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for PartnerId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PartnerId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        crate::json_schema::id("partner_id")
    }
}

/// The reserved actor name of the convening secretariat (DOMAIN.md, "Who negotiates").
pub const SECRETARIAT: &str = "secretariat";

/// Who issues a command: the secretariat or an admitted partner (DOMAIN.md, "Commands").
///
/// Serialized as a plain string: `"secretariat"` or the partner id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Actor {
    /// The secretariat that convenes the negotiation; an actor, not a partner.
    Secretariat,
    /// A partner, by its id (admitted or not: `decide` checks admission).
    Partner(PartnerId),
}

impl Actor {
    /// Parses `secretariat` or a partner id.
    ///
    /// # Errors
    /// [`IdError`] (for `by`) when the value is neither.
    pub fn parse(value: &str) -> Result<Self, IdError> {
        if value == SECRETARIAT {
            return Ok(Actor::Secretariat);
        }
        validate_id("by", value)?;
        Ok(Actor::Partner(PartnerId(value.to_owned())))
    }

    /// The partner id, when the actor is a partner.
    pub fn partner(&self) -> Option<&PartnerId> {
        match self {
            Actor::Secretariat => None,
            Actor::Partner(p) => Some(p),
        }
    }

    /// The actor as written in minutes and events.
    pub fn as_str(&self) -> &str {
        match self {
            Actor::Secretariat => SECRETARIAT,
            Actor::Partner(p) => p.as_str(),
        }
    }
}

impl TryFrom<String> for Actor {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, IdError> {
        Actor::parse(&value)
    }
}

impl From<Actor> for String {
    fn from(actor: Actor) -> String {
        actor.as_str().to_owned()
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(feature = "utoipa")]
impl utoipa::PartialSchema for Actor {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::schema::actor()
    }
}

#[cfg(feature = "utoipa")]
impl utoipa::ToSchema for Actor {}

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for Actor {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Actor".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        crate::json_schema::actor()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_grammar() {
        for ok in ["a", "0", "lakeside-water", "p-0", &"x".repeat(64), "a-"] {
            assert!(validate_id("x", ok).is_ok(), "{ok}");
        }
    }

    /// Whether an error is the one expected.
    type Check = fn(&IdError) -> bool;

    #[test]
    fn refuses_everything_else_with_a_named_reason() {
        let cases: &[(&str, Check)] = &[
            ("", |e| matches!(e, IdError::Empty { .. })),
            ("a.b", |e| {
                matches!(
                    e,
                    IdError::BadChar {
                        found: '.',
                        position: 2,
                        ..
                    }
                )
            }),
            ("a*", |e| matches!(e, IdError::BadChar { found: '*', .. })),
            (">", |e| matches!(e, IdError::BadChar { found: '>', .. })),
            ("a b", |e| matches!(e, IdError::BadChar { found: ' ', .. })),
            ("Abc", |e| matches!(e, IdError::BadChar { found: 'A', .. })),
            ("café", |e| {
                matches!(e, IdError::BadChar { found: 'é', .. })
            }),
            ("-a", |e| matches!(e, IdError::LeadingDash { .. })),
        ];
        for (bad, check) in cases {
            let err = validate_id("partner_id", bad).unwrap_err();
            assert!(check(&err), "{bad:?} gave {err:?}");
        }
        let long = "x".repeat(65);
        assert!(matches!(
            validate_id("x", &long),
            Err(IdError::TooLong { len: 65, .. })
        ));
    }

    #[test]
    fn secretariat_is_reserved_as_partner_but_is_an_actor() {
        assert_eq!(PartnerId::new("secretariat"), Err(IdError::Reserved));
        assert_eq!(Actor::parse("secretariat").unwrap(), Actor::Secretariat);
        assert_eq!(
            Actor::parse("lcc").unwrap(),
            Actor::Partner(PartnerId::new("lcc").unwrap())
        );
    }

    #[test]
    fn deserializing_an_invalid_id_fails_with_the_reason() {
        let err = serde_json::from_str::<ProposalId>("\"P.1\"").unwrap_err();
        assert!(err.to_string().contains("proposal_id \"P.1\""), "{err}");
    }
}
