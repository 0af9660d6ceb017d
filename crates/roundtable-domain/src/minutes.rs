//! The import format, "minutes": JSON Lines, one command a line (DOMAIN.md, "The
//! import format").
//!
//! ```text
//! {"at": "2027-05-18T10:14:00Z", "negotiation_id": "harbourside-waste", "by": "hcc",
//!  "do": "endorse", "proposal_id": "p-workers-2"}
//! ```
//!
//! `at` is the business time (optional: the importer supplies its clock when absent),
//! `negotiation_id` and `by` are required, `do` names the command and the other keys
//! are the command's fields; unknown keys are refused. Blank lines and lines starting
//! with `#` are skipped.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::canonical::to_canonical;
use crate::command::{Command, CommandId};
use crate::envelope::sha256_hex;
use crate::id::{Actor, NegotiationId};

/// One parsed minutes line, before the clock fills a missing `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct MinutesCommand {
    /// Derived from the line's content: `m-` and the SHA-256 of the line's canonical
    /// JSON, so the same line always has the same id, wherever it stands in the file.
    pub command_id: CommandId,
    /// `negotiation_id`.
    pub negotiation_id: NegotiationId,
    /// `by`.
    pub actor: Actor,
    /// `at`, when given.
    pub at: Option<DateTime<Utc>>,
    /// The command.
    pub command: Command,
}

/// Why a line is not a command. `command` is the `do` value when it could be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LineError {
    /// The `do` value, when the line had one.
    pub command: Option<String>,
    /// What is wrong, naming the field and value.
    pub message: String,
}

impl LineError {
    fn new(command: Option<&str>, message: impl Into<String>) -> Self {
        LineError {
            command: command.map(str::to_owned),
            message: message.into(),
        }
    }
}

/// Parses one line of minutes: `Ok(None)` for a blank or `#` line.
///
/// # Errors
/// [`LineError`] for malformed JSON, a missing or unknown `do`, a missing or invalid
/// `negotiation_id`, `by` or `at`, and fields that do not fit the command (missing,
/// unknown, of the wrong type, or an invalid id).
pub fn parse_line(line: &str) -> Result<Option<MinutesCommand>, LineError> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    let value: Value =
        serde_json::from_str(trimmed).map_err(|e| LineError::new(None, malformed(&e)))?;
    let command_id = CommandId::new(format!("m-{}", sha256_hex(&to_canonical(&value))))
        .map_err(|e| LineError::new(None, e))?;
    let Value::Object(mut fields) = value else {
        return Err(LineError::new(None, "a line must be a JSON object"));
    };
    let name = match fields.remove("do") {
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(LineError::new(
                None,
                format!("\"do\" must be a command name, got {other}"),
            ));
        }
        None => return Err(LineError::new(None, "missing \"do\" (the command name)")),
    };
    let cmd = Some(name.as_str());
    if !Command::NAMES.contains(&name.as_str()) {
        return Err(LineError::new(
            cmd,
            format!(
                "unknown command {name:?}; expected one of {}",
                Command::NAMES.join(", ")
            ),
        ));
    }
    let negotiation_id = take_str(&mut fields, "negotiation_id", cmd)?;
    let negotiation_id =
        NegotiationId::new(negotiation_id).map_err(|e| LineError::new(cmd, e.to_string()))?;
    let by = take_str(&mut fields, "by", cmd)?;
    let actor = Actor::parse(&by).map_err(|e| LineError::new(cmd, e.to_string()))?;
    let at = match fields.remove("at") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            DateTime::parse_from_rfc3339(&s)
                .map_err(|e| {
                    LineError::new(
                        cmd,
                        format!(
                            "\"at\" {s:?} is not an RFC 3339 time such as 2027-03-02T09:30:00Z: {e}"
                        ),
                    )
                })?
                .with_timezone(&Utc),
        ),
        Some(other) => {
            return Err(LineError::new(
                cmd,
                format!("\"at\" must be a string time, got {other}"),
            ));
        }
    };
    let command = Command::from_fields(&name, fields)
        .map_err(|e| LineError::new(cmd, format!("invalid {name}: {e}")))?;
    Ok(Some(MinutesCommand {
        command_id,
        negotiation_id,
        actor,
        at,
        command,
    }))
}

/// serde_json's message without its "at line 1 column N" (a line is one line), with
/// the column first: `malformed JSON at column 70: trailing comma`.
fn malformed(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let reason = full
        .rsplit_once(" at line ")
        .map_or(full.as_str(), |(r, _)| r);
    format!("malformed JSON at column {}: {reason}", e.column())
}

fn take_str(
    fields: &mut Map<String, Value>,
    key: &str,
    cmd: Option<&str>,
) -> Result<String, LineError> {
    match fields.remove(key) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(LineError::new(
            cmd,
            format!("{key:?} must be a string, got {other}"),
        )),
        None => Err(LineError::new(cmd, format!("missing {key:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(line: &str) -> LineError {
        parse_line(line).expect_err(line)
    }

    #[test]
    fn skips_blank_and_comment_lines() {
        assert_eq!(parse_line("   ").unwrap(), None);
        assert_eq!(parse_line("# session 2").unwrap(), None);
    }

    #[test]
    fn parses_a_command_and_derives_a_stable_id() {
        let line = r#"{"at": "2027-02-01T09:17:00Z", "negotiation_id": "n1", "by": "lcc", "do": "endorse", "proposal_id": "p-1"}"#;
        let a = parse_line(line).unwrap().unwrap();
        assert_eq!(a.command.name(), "endorse");
        assert_eq!(a.actor.as_str(), "lcc");
        // Key order and spacing do not change the id; content does.
        let b = parse_line(r#"{"proposal_id":"p-1","do":"endorse","by":"lcc","negotiation_id":"n1","at":"2027-02-01T09:17:00Z"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(a.command_id, b.command_id);
        let c = parse_line(&line.replace("p-1", "p-2")).unwrap().unwrap();
        assert_ne!(a.command_id, c.command_id);
    }

    #[test]
    fn names_what_is_wrong() {
        assert!(err("{not json").message.starts_with("malformed JSON"));
        assert!(
            err(r#"{"negotiation_id":"n","by":"x"}"#)
                .message
                .contains("missing \"do\"")
        );
        let e = err(r#"{"negotiation_id":"n","by":"x","do":"frobnicate"}"#);
        assert_eq!(e.command.as_deref(), Some("frobnicate"));
        assert!(e.message.contains("unknown command"), "{e}");
        let e = err(r#"{"negotiation_id":"n.1","by":"x","do":"sign"}"#);
        assert!(e.message.contains("negotiation_id \"n.1\""), "{e}");
        let e = err(r#"{"negotiation_id":"n","by":"x","do":"endorse"}"#);
        assert!(e.message.contains("missing field `proposal_id`"), "{e}");
        let e =
            err(r#"{"negotiation_id":"n","by":"x","do":"endorse","proposal_id":"p","extra":1}"#);
        assert!(e.message.contains("unknown field `extra`"), "{e}");
        let e = err(
            r#"{"negotiation_id":"n","by":"x","do":"object","objection_id":"o","proposal_id":"p","grounds":"g","blocking":"yes"}"#,
        );
        assert!(
            e.message.contains("blocking: invalid type"),
            "the field is named: {e}"
        );
        let e = err(
            r#"{"negotiation_id":"n","by":"x","do":"commit","commitment_id":"k","description":"d","kind":"finance","due":"2027-02-30"}"#,
        );
        assert!(e.message.starts_with("invalid commit: due:"), "{e}");
        let e = err(r#"{"negotiation_id":"n","by":"x","do":"sign",}"#);
        assert!(e.message.starts_with("malformed JSON at column 44:"), "{e}");
        assert!(!e.message.contains("line 1"), "{e}");
        let e = err(r#"{"negotiation_id":"n","by":"x","do":"sign","at":"yesterday"}"#);
        assert!(e.message.contains("\"at\""), "{e}");
        let e = err(r#"{"negotiation_id":"n","by":"Big","do":"sign"}"#);
        assert!(e.message.contains("by \"Big\""), "{e}");
        let e = err(r#"{"negotiation_id":"n","by":"x","do":"sign","extra":true}"#);
        assert!(e.message.contains("unknown field"), "{e}");
    }
}
