//! The OpenAPI 3.1 document, generated from the code: the handlers' `#[utoipa::path]`
//! attributes, the domain's types (feature `utoipa` of `roundtable-domain`), and two
//! schemas built here from the domain: the command body ([`CommandRequest`], a `oneOf`
//! over the commands tagged by `do`) and the stored event
//! ([`EventEnvelope`]).

use std::borrow::Cow;

use roundtable_domain::command::{
    AdmitPartner, Commit, Conclude, DeclareAsset, Fulfil, Object, OpenNegotiation, OpenRound,
    ProposalRef, Propose, RegisterKey, ReportProgress, ReportShortfall, ResolveShortfall, Sign,
    Terminate, WithdrawCommitment, WithdrawObjection, WithdrawPartner,
};
use roundtable_domain::{Command, EventBody};
use utoipa::openapi::schema::{
    AdditionalProperties, Discriminator, KnownFormat, ObjectBuilder, OneOfBuilder, Schema,
    SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::commands::CommandResponse;
use crate::error::ErrorBody;
use crate::health::Status;
use crate::reads::{EventPage, NegotiationPage, NegotiationSummary};

/// The OpenAPI document of the API, as served at `/openapi.json`.
pub fn document() -> Document {
    ApiDoc::openapi()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Roundtable",
        description = "Partnership negotiations as an immutable event log. Every request but \
            /healthz, /readyz and /openapi.json carries a bearer token (a JWT naming a \
            secretariat, partner, auditor or integration); the actor of a command is the \
            token's principal. Errors are always `{\"code\", \"message\"}`. See docs/API.md."
    ),
    paths(
        crate::commands::send,
        crate::reads::list,
        crate::reads::view,
        crate::reads::events,
        crate::audit::diff,
        crate::audit::export,
        crate::audit::ocds,
        crate::audit::verify,
        crate::audit::report,
        crate::changes::changes,
        crate::checkpoints::latest,
        crate::checkpoints::history,
        crate::checkpoints::inclusion,
        crate::checkpoints::consistency,
        crate::checkpoints::log_key,
        crate::checkpoints::add_cosignature,
        crate::checkpoints::cosignatures,
        crate::webhooks::register,
        crate::webhooks::list,
        crate::webhooks::remove,
        crate::webhooks::dead_letters,
        crate::webhooks::replay,
        crate::operations::parked,
        crate::health::healthz,
        crate::health::readyz,
        crate::operations::metrics,
        openapi_json,
    ),
    components(schemas(
        roundtable_store::Change,
        roundtable_app::checkpoints::StoredCheckpoint,
        roundtable_app::checkpoints::Cosignature,
        roundtable_audit::anchor::InclusionProof,
        roundtable_audit::anchor::ConsistencyProof,
        crate::checkpoints::CheckpointHistory,
        crate::checkpoints::CosignRequest,
        crate::checkpoints::CosignatureList,
        roundtable_projector::ParkedEntry,
        crate::operations::ParkedList,
        crate::webhooks::RegisterWebhook,
        crate::webhooks::WebhookView,
        crate::webhooks::WebhookList,
        crate::webhooks::DeadLetterList,
        crate::webhooks::Replaying,
        CommandRequest,
        CommandResponse,
        EventEnvelope,
        EventPage,
        NegotiationPage,
        NegotiationSummary,
        crate::reads::OverdueOn,
        ErrorBody,
        Status,
        roundtable_domain::AgreementView,
        roundtable_audit::AgreementDiff,
        roundtable_audit::VerifyReport,
    )),
    modifiers(&Security),
    tags(
        (name = "commands", description = "one command, one event or one rejection"),
        (name = "reads", description = "negotiations, agreement views and events"),
        (name = "webhooks", description = "webhooks and their dead letters, by the secretariat"),
        (name = "audit", description = "folded from the event log: what changed, the export, \
            verification, the audit report (docs/AUDIT.md); time travel is on the view"),
        (name = "checkpoints", description = "signed checkpoints of each log, RFC 9162 proofs, the log key, witnesses' cosignatures (docs/AUDIT.md)"),
        (name = "operations", description = "for operators: what the projector could not project"),
        (name = "health", description = "liveness, readiness and metrics"),
    )
)]
struct ApiDoc;

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "health",
    responses((status = 200, description = "the OpenAPI 3.1 document of this API", content_type = "application/json")),
    security(())
)]
#[allow(dead_code)]
fn openapi_json() {}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "a JWT (HS256 or EdDSA) with claims sub, role (secretariat, partner, \
                         auditor, integration), negotiation_id, partner_id, exp, iat; \
                         minted with `roundtable token issue`",
                    ))
                    .build(),
            ),
        );
    }
}

/// The body of `POST /v1/negotiations/{negotiation_id}/commands`: one of the commands
/// of DOMAIN.md (and `register_key`), tagged by `do`, plus an optional business time `at`.
/// (Documentation type: the body is parsed by [`crate::commands::parse_command`].)
pub struct CommandRequest;

type SchemaOf = fn() -> RefOr<Schema>;
type SchemasOf = fn(&mut Vec<(String, RefOr<Schema>)>);

/// Each command name with its fields' schema, in the order of [`Command::NAMES`].
fn variants() -> [(&'static str, SchemaOf, SchemasOf); 22] {
    fn of<T: ToSchema>() -> (SchemaOf, SchemasOf) {
        (T::schema, T::schemas)
    }
    let v = |name, (s, ss): (SchemaOf, SchemasOf)| (name, s, ss);
    [
        v("open_negotiation", of::<OpenNegotiation>()),
        v("admit_partner", of::<AdmitPartner>()),
        v("register_key", of::<RegisterKey>()),
        v("propose", of::<Propose>()),
        v("withdraw_proposal", of::<ProposalRef>()),
        v("endorse", of::<ProposalRef>()),
        v("retract_endorsement", of::<ProposalRef>()),
        v("object", of::<Object>()),
        v("withdraw_objection", of::<WithdrawObjection>()),
        v("adopt", of::<ProposalRef>()),
        v("commit", of::<Commit>()),
        v("withdraw_commitment", of::<WithdrawCommitment>()),
        v("sign", of::<Sign>()),
        v("conclude", of::<Conclude>()),
        v("open_round", of::<OpenRound>()),
        v("declare_asset", of::<DeclareAsset>()),
        v("report_progress", of::<ReportProgress>()),
        v("fulfil", of::<Fulfil>()),
        v("report_shortfall", of::<ReportShortfall>()),
        v("resolve_shortfall", of::<ResolveShortfall>()),
        v("withdraw_partner", of::<WithdrawPartner>()),
        v("terminate", of::<Terminate>()),
    ]
}

/// `open_negotiation` → `OpenNegotiationCommand`.
fn component_name(command: &str) -> String {
    let mut name: String = command
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    name.push_str("Command");
    name
}

/// One command's body: its fields, `do` fixed to its name, and `at`.
fn command_schema(name: &str, fields: RefOr<Schema>) -> RefOr<Schema> {
    let mut object = match fields {
        RefOr::T(Schema::Object(object)) => object,
        // Every command's fields derive an object schema; anything else is a bug
        // caught by the tests (`every_command_is_in_the_document`).
        _ => ObjectBuilder::new().build(),
    };
    object.properties.insert(
        "do".into(),
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([name]))
            .description(Some("the command"))
            .into(),
    );
    object.required.insert(0, "do".into());
    object.properties.insert(
        "at".into(),
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some(
                "business time of the command (the event's occurred_at), RFC 3339 with an \
                 offset; the server's clock when absent or null",
            ))
            .examples(["2027-03-02T09:30:00Z"])
            .into(),
    );
    object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
    object.title = Some(name.to_owned());
    RefOr::T(Schema::Object(object))
}

impl PartialSchema for CommandRequest {
    fn schema() -> RefOr<Schema> {
        let mut one_of = OneOfBuilder::new();
        let mut discriminator = Discriminator::new("do");
        for (name, _, _) in variants() {
            let reference = format!("#/components/schemas/{}", component_name(name));
            one_of = one_of.item(Ref::new(reference.clone()));
            discriminator.mapping.insert(name.to_owned(), reference);
        }
        one_of
            .discriminator(Some(discriminator))
            .description(Some(
                "one command of DOMAIN.md, as a minutes line writes it without \
                 negotiation_id (in the path) and by (the token's principal)",
            ))
            .into()
    }
}

impl ToSchema for CommandRequest {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CommandRequest")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        debug_assert!(variants().iter().map(|v| v.0).eq(Command::NAMES));
        for (name, schema, dependencies) in variants() {
            schemas.push((component_name(name), command_schema(name, schema())));
            dependencies(schemas);
        }
    }
}

/// A recorded event in its stored form (docs/EVENTS.md): the hash-chained envelope.
/// (Documentation type: events are served as [`roundtable_domain::RecordedEvent::to_json`].)
pub struct EventEnvelope;

impl PartialSchema for EventEnvelope {
    fn schema() -> RefOr<Schema> {
        let string = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
        };
        let time = |description: &str| {
            string(description).format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        };
        let hash = |description: &str| string(description).pattern(Some("^[0-9a-f]{64}$"));
        let version = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .description(Some(description))
        };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "a recorded event: its hash is the SHA-256 of the canonical JSON of this \
                 object without `hash`, and prev_hash links it to the event before",
            ))
            .property(
                "event_id",
                string("unique id of the event (a UUID)")
                    .format(Some(SchemaFormat::Custom("uuid".into()))),
            )
            .property("negotiation_id", Ref::from_schema_name("NegotiationId"))
            .property(
                "version",
                version("position in the negotiation: 1, 2, 3... with no gaps"),
            )
            .property(
                "type",
                string("the event type").enum_values(Some(EventBody::TYPES)),
            )
            .property(
                "schema_version",
                version("the schema version of `data` as stored"),
            )
            .property("actor", Ref::from_schema_name("Actor"))
            .property("occurred_at", time("business time"))
            .property("recorded_at", time("server time when recorded"))
            .property("command_id", Ref::from_schema_name("CommandId"))
            .property(
                "data",
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .description(Some(
                        "the event's facts; their fields depend on `type` (docs/EVENTS.md)",
                    )),
            )
            .property(
                "prev_hash",
                hash("hash of the previous event of the negotiation (64 zeros for version 1)"),
            )
            .property("hash", hash("this event's hash"))
            .required("event_id")
            .required("negotiation_id")
            .required("version")
            .required("type")
            .required("schema_version")
            .required("actor")
            .required("occurred_at")
            .required("recorded_at")
            .required("command_id")
            .required("data")
            .required("prev_hash")
            .required("hash")
            .into()
    }
}

impl ToSchema for EventEnvelope {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("EventEnvelope")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        use roundtable_domain::{Actor, CommandId, NegotiationId};
        schemas.push((NegotiationId::name().into_owned(), NegotiationId::schema()));
        schemas.push((Actor::name().into_owned(), Actor::schema()));
        schemas.push((CommandId::name().into_owned(), CommandId::schema()));
    }
}
