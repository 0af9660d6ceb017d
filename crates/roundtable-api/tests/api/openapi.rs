//! The OpenAPI document: served, parseable, complete.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use roundtable_domain::Command;

use crate::common::Harness;

#[tokio::test]
async fn the_document_is_served_without_a_token_and_names_every_route() {
    let h = Harness::new();
    let r = h
        .send(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let doc = &r.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/negotiations/{negotiation_id}/commands", "post"),
        ("/v1/negotiations", "get"),
        ("/v1/negotiations/{negotiation_id}", "get"),
        ("/v1/negotiations/{negotiation_id}/events", "get"),
        ("/v1/negotiations/{negotiation_id}/diff", "get"),
        ("/v1/negotiations/{negotiation_id}/export", "get"),
        ("/v1/negotiations/{negotiation_id}/verify", "get"),
        ("/v1/negotiations/{negotiation_id}/report", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/openapi.json", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path}"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "CommandRequest",
        "CommandResponse",
        "EventEnvelope",
        "ErrorBody",
        "AgreementView",
        "NegotiationPage",
        "EventPage",
        "AgreementDiff",
        "VerifyReport",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // Every $ref resolves.
    let mut refs = Vec::new();
    collect_refs(doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r}"));
        assert!(schemas.contains_key(name), "dangling {r}");
    }
}

#[tokio::test]
async fn every_command_is_in_the_document_with_its_do_and_at() {
    let doc = serde_json::to_value(roundtable_api::openapi::document()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let one_of = schemas["CommandRequest"]["oneOf"].as_array().unwrap();
    assert_eq!(one_of.len(), Command::NAMES.len());
    let mapping = schemas["CommandRequest"]["discriminator"]["mapping"]
        .as_object()
        .unwrap();
    for name in Command::NAMES {
        let reference = mapping[name].as_str().unwrap();
        let schema = &schemas[reference.rsplit('/').next().unwrap()];
        assert_eq!(
            schema["properties"]["do"]["enum"],
            serde_json::json!([name]),
            "{name}"
        );
        assert!(schema["properties"]["at"].is_object(), "{name}");
        assert_eq!(schema["required"][0], "do", "{name}");
        assert_eq!(schema["additionalProperties"], false, "{name}");
    }
    // The envelope schema names exactly the keys of a stored event.
    let envelope = schemas["EventEnvelope"]["properties"].as_object().unwrap();
    let keys: Vec<_> = envelope.keys().cloned().collect();
    let mut expected = vec![
        "actor",
        "command_id",
        "data",
        "event_id",
        "hash",
        "negotiation_id",
        "occurred_at",
        "prev_hash",
        "recorded_at",
        "schema_version",
        "type",
        "version",
    ];
    expected.sort_unstable();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(keys, expected);
}

fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.push(v.as_str().unwrap().to_owned());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}
