//! OpenAPI schemas of the types whose JSON form is a checked string (ids, actors,
//! command ids), for the HTTP API's document (feature `utoipa`).

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::command::CommandId;
use crate::id::MAX_ID_LEN;

/// An identifier of DOMAIN.md, "Identifiers".
pub(crate) fn id(what: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_ID_LEN))
        .pattern(Some("^[a-z0-9][a-z0-9-]*$"))
        .description(Some(format!(
            "{what}: 1 to 64 characters of a-z, 0-9 and '-', starting with a letter or digit{}",
            if what == "partner_id" {
                "; \"secretariat\" is reserved"
            } else {
                ""
            }
        )))
        .examples([example(what)])
        .into()
}

fn example(what: &str) -> &'static str {
    match what {
        "negotiation_id" => "lakeside-water",
        "partner_id" => "lcc",
        "proposal_id" => "p-tariff-1",
        "clause_id" => "tariff",
        "objection_id" => "o-staff-1",
        "commitment_id" => "c-finance-1",
        "round_id" => "r-tariff-2029",
        "asset_id" => "a-depot-land",
        "shortfall_id" => "s-kiosk-hours-1",
        _ => "x-1",
    }
}

/// `secretariat` or a partner id.
pub(crate) fn actor() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_ID_LEN))
        .pattern(Some("^[a-z0-9][a-z0-9-]*$"))
        .description(Some(
            "who acted: \"secretariat\" or the partner_id of an admitted partner",
        ))
        .examples(["secretariat"])
        .into()
}

/// A command id: 1 to 200 visible ASCII characters.
pub(crate) fn command_id() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(CommandId::MAX_LEN))
        .pattern(Some("^[!-~]+$"))
        .description(Some(
            "the command's idempotency identity: 1 to 200 visible ASCII characters",
        ))
        .into()
}
