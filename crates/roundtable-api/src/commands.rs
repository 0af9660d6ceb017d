//! `POST /v1/negotiations/{negotiation_id}/commands`: one command, one event or one
//! rejection, with `Idempotency-Key` and `If-Match`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use roundtable_app::Handled;
use roundtable_app::commands::SendCommand;
use roundtable_domain::{Command, NegotiationId};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::openapi::{CommandRequest, EventEnvelope};
use crate::{ApiState, etag, negotiation_id};

/// The header that makes a command idempotent.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The response header set on a replayed command.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// Longest `Idempotency-Key` accepted, in bytes.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 200;

/// What a recorded (or replayed) command answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CommandResponse {
    /// The event recorded, as stored (see docs/EVENTS.md).
    #[schema(value_type = EventEnvelope)]
    pub event: Value,
    /// The event's version, which is the negotiation's version once it is recorded.
    pub version: u64,
}

/// Sends one command to a negotiation.
///
/// The actor is the bearer token's principal. The body is the command as a minutes
/// line writes it, without `negotiation_id` and `by`: `do` names the command, the
/// other keys are its fields, and `at` (optional) is its business time.
#[utoipa::path(
    post,
    path = "/v1/negotiations/{negotiation_id}/commands",
    tag = "commands",
    params(
        ("negotiation_id" = NegotiationId, Path, description = "the negotiation"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = "^[!-~]{1,200}$",
            description = "1 to 200 visible ASCII characters; a retry with the same key by the same principal returns the event recorded the first time and records nothing"),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = "^(\"[0-9]{1,18}\"|[0-9]{1,18})$",
            description = "the negotiation's version as an ETag (\"12\") or a bare number: the command is recorded only if the negotiation is still at that version"),
    ),
    request_body(content = CommandRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "recorded", body = CommandResponse,
            headers(("ETag" = String, description = "the negotiation's version after the event"))),
        (status = 200, description = "already recorded with this Idempotency-Key: the event recorded the first time; nothing new recorded", body = CommandResponse,
            headers(("Idempotent-Replayed" = String, description = "`true`"))),
        (status = 400, description = "malformed JSON, path or header", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the principal may not send this command here", body = ErrorBody),
        (status = 404, description = "the negotiation or an item named does not exist", body = ErrorBody),
        (status = 409, description = "the negotiation's state does not allow it", body = ErrorBody),
        (status = 412, description = "If-Match names an older version", body = ErrorBody),
        (status = 413, description = "the body is larger than 551,536 bytes (`MAX_BODY_BYTES`)", body = ErrorBody),
        (status = 415, description = "the body is not application/json", body = ErrorBody),
        (status = 422, description = "not a valid command, or input a rule refuses", body = ErrorBody),
        (status = 503, description = "the event store is unreachable: retry with the same Idempotency-Key", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn send(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let negotiation = negotiation_id(path)?;
    let principal = caller.principal(Some(&negotiation));
    let actor = principal.actor_in(&negotiation)?;
    let key = idempotency_key(&headers)?;
    let expected = if_match(&headers)?;
    json_content_type(&headers)?;
    let body = body.map_err(body_rejection)?;
    let (command, at) = parse_command(&body)?;
    // Early, before the state is read; `decide` applies the same rule.
    roundtable_domain::check_sender(&actor, &command).map_err(ApiError::from)?;
    let handled = roundtable_app::commands::send(
        &state.handler,
        SendCommand {
            negotiation,
            actor,
            command,
            at,
            idempotency_key: key,
            expected_version: expected,
        },
        Utc::now(),
    )
    .await
    .map_err(ApiError::from)?;
    let (status, event) = match handled {
        Handled::Recorded(e) => (StatusCode::CREATED, e),
        Handled::AlreadyRecorded(e) => (StatusCode::OK, e),
    };
    let body = CommandResponse {
        version: event.version,
        event: event.to_json(),
    };
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::CREATED {
        response
            .headers_mut()
            .insert(header::ETAG, etag(event.version));
    } else {
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "send one Idempotency-Key header, not several",
        ));
    }
    let bad = || {
        ApiError::bad_request(
            "invalid_idempotency_key",
            format!(
                "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters, got {:?}",
                String::from_utf8_lossy(value.as_bytes())
                    .chars()
                    .take(80)
                    .collect::<String>()
            ),
        )
    };
    let key = value.to_str().map_err(|_| bad())?;
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY_LEN
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(bad());
    }
    Ok(Some(key.to_owned()))
}

/// Parses `If-Match`: `"12"` (a strong ETag) or a bare `12`.
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let mut values = headers.get_all(header::IF_MATCH).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    let bad = || {
        ApiError::bad_request(
            "invalid_if_match",
            format!(
                "If-Match must be the negotiation's version as an ETag such as \"12\" (or a bare 12), got {:?}",
                text.chars().take(80).collect::<String>()
            ),
        )
    };
    if values.next().is_some() {
        return Err(bad());
    }
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    inner.parse().map(Some).map_err(|_| bad())
}

fn json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json")) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            if ct.is_empty() {
                "send the command as JSON with Content-Type: application/json".to_owned()
            } else {
                format!("send the command as JSON with Content-Type: application/json, not {ct:?}")
            },
        ))
    }
}

pub(crate) fn body_rejection(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the body is larger than {} bytes; the largest command is far smaller",
                crate::MAX_BODY_BYTES
            ),
        )
    } else {
        ApiError::bad_request("unreadable_body", format!("cannot read the body: {e}"))
    }
}

/// Parses a command body: `{"do": ..., fields..., "at"?}`, with the parser of minutes
/// lines ([`Command::from_fields`]), so both validate alike.
///
/// # Errors
/// 400 `malformed_json` for JSON that does not parse; 422 `invalid_command` for JSON
/// that is not a command (unknown `do`, unknown or missing field, wrong type, bad id,
/// a key given twice, an `at` that is not RFC 3339 or is outside the window of
/// [`roundtable_domain::time`]).
pub fn parse_command(body: &[u8]) -> Result<(Command, Option<DateTime<Utc>>), ApiError> {
    let value = roundtable_domain::json::parse_unique_slice(body).map_err(|e| {
        if e.is_data() {
            // Well-formed JSON that gives a key twice: which value was meant is unknown.
            invalid(e.to_string())
        } else {
            ApiError::bad_request("malformed_json", format!("malformed JSON: {e}"))
        }
    })?;
    let Value::Object(mut fields) = value else {
        return Err(invalid(
            "a command must be a JSON object such as {\"do\": \"sign\"}",
        ));
    };
    let name = match fields.remove("do") {
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(invalid(format!(
                "\"do\" must be a command name, got {other}"
            )));
        }
        None => return Err(invalid("missing \"do\" (the command name)")),
    };
    if !Command::NAMES.contains(&name.as_str()) {
        return Err(invalid(format!(
            "unknown command {:?}; expected one of {}",
            name.chars().take(80).collect::<String>(),
            Command::NAMES.join(", ")
        )));
    }
    if fields.contains_key("by") {
        return Err(invalid(
            "\"by\" is not accepted: the actor is the principal of the bearer token",
        ));
    }
    if fields.contains_key("negotiation_id") {
        return Err(invalid(
            "\"negotiation_id\" is not accepted in the body: the negotiation is in the path",
        ));
    }
    let at = at(&mut fields)?;
    let command =
        Command::from_fields(&name, fields).map_err(|e| invalid(format!("invalid {name}: {e}")))?;
    Ok((command, at))
}

fn at(fields: &mut Map<String, Value>) -> Result<Option<DateTime<Utc>>, ApiError> {
    match fields.remove("at") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => roundtable_domain::time::parse_instant("at", &s)
            .map(Some)
            .map_err(invalid),
        Some(other) => Err(invalid(format!(
            "\"at\" must be a string time, got {other}"
        ))),
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::unprocessable("invalid_command", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_takes_a_quoted_or_bare_version() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::IF_MATCH, HeaderValue::from_str(v).unwrap());
            if_match(&m)
        };
        assert_eq!(h("\"12\"").unwrap(), Some(12));
        assert_eq!(h("7").unwrap(), Some(7));
        for bad in [
            "W/\"1\"",
            "*",
            "\"\"",
            "abc",
            "-1",
            "\"1\", \"2\"",
            "99999999999999999999999",
        ] {
            assert_eq!(h(bad).unwrap_err().code(), "invalid_if_match", "{bad}");
        }
        assert_eq!(if_match(&HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn bodies_parse_like_minutes_lines() {
        let (c, at) = parse_command(
            br#"{"do":"endorse","proposal_id":"p-1","at":"2027-03-02T10:30:00+01:00"}"#,
        )
        .unwrap();
        assert_eq!(c.name(), "endorse");
        assert_eq!(at.unwrap().to_rfc3339(), "2027-03-02T09:30:00+00:00");
        let code = |b: &str| parse_command(b.as_bytes()).unwrap_err();
        assert_eq!(code("{").code(), "malformed_json");
        assert_eq!(code("[]").code(), "invalid_command");
        assert_eq!(code(r#"{"do":"frob"}"#).code(), "invalid_command");
        assert!(
            code(r#"{"do":"sign","by":"lcc"}"#)
                .message()
                .contains("\"by\"")
        );
        assert!(
            code(r#"{"do":"endorse","proposal_id":"P.1"}"#)
                .message()
                .contains("proposal_id \"P.1\"")
        );
        assert!(
            code(r#"{"do":"sign","extra":1}"#)
                .message()
                .contains("unknown field")
        );
    }
    #[test]
    fn bodies_refuse_times_and_dates_outside_the_window_and_repeated_keys() {
        let err = |b: &str| parse_command(b.as_bytes()).unwrap_err();
        for at in ["9999-12-31T23:59:59-23:59", "0000-01-01T00:00:00+00:01"] {
            let e = err(&format!(r#"{{"do":"sign","at":"{at}"}}"#));
            assert_eq!(e.code(), "invalid_command");
            assert!(
                e.message().contains(at) && e.message().contains("1900-01-01T00:00:00Z"),
                "{}",
                e.message()
            );
        }
        for due in ["+10000-01-01", "-0001-01-01", "2027-1-1", " 2027-01-01"] {
            let e = err(&format!(
                r#"{{"do":"commit","commitment_id":"k","description":"d","kind":"finance","due":"{due}"}}"#
            ));
            assert_eq!(e.code(), "invalid_command", "{due}");
            assert!(e.message().contains("due:"), "{}", e.message());
        }
        let e = err(r#"{"do":"sign","do":"propose","proposal_id":"p","clause_id":"c","text":"t"}"#);
        assert_eq!(e.code(), "invalid_command");
        assert_eq!(e.message(), "repeated key \"do\" at line 1 column 17");
    }
}
