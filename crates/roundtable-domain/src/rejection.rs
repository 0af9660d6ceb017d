//! Why a command was rejected (DOMAIN.md, "Commands and the rules they obey").

use serde::{Deserialize, Serialize};

/// The kind of a rejection, for programs to match on. Maps to HTTP status codes
/// as DOMAIN.md says: `NotFound` 404, `Forbidden` 403, `Conflict` 409, `Invalid` 422.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionKind {
    /// The negotiation, partner, proposal, objection or commitment named does not exist.
    NotFound,
    /// The actor may not issue this command.
    Forbidden,
    /// The command conflicts with the negotiation's current state.
    Conflict,
    /// The command's input is malformed.
    Invalid,
}

impl RejectionKind {
    /// The `snake_case` name.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionKind::NotFound => "not_found",
            RejectionKind::Forbidden => "forbidden",
            RejectionKind::Conflict => "conflict",
            RejectionKind::Invalid => "invalid",
        }
    }
}

/// A rejected command: nothing is recorded.
///
/// `code` is a stable machine name for the rule broken (`proposal_not_open`,
/// `blocking_objection_open`...); `message` says it in words a secretariat
/// understands, naming the values involved (lowercase, no trailing period).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    /// What kind of rejection.
    pub kind: RejectionKind,
    /// Stable machine name of the rule.
    pub code: String,
    /// Plain-words explanation.
    pub message: String,
}

impl Rejection {
    fn new(kind: RejectionKind, code: &str, message: impl Into<String>) -> Self {
        Rejection {
            kind,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// A [`RejectionKind::NotFound`] rejection.
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(RejectionKind::NotFound, code, message)
    }

    /// A [`RejectionKind::Forbidden`] rejection.
    pub fn forbidden(code: &str, message: impl Into<String>) -> Self {
        Self::new(RejectionKind::Forbidden, code, message)
    }

    /// A [`RejectionKind::Conflict`] rejection.
    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(RejectionKind::Conflict, code, message)
    }

    /// A [`RejectionKind::Invalid`] rejection.
    pub fn invalid(code: &str, message: impl Into<String>) -> Self {
        Self::new(RejectionKind::Invalid, code, message)
    }
}
