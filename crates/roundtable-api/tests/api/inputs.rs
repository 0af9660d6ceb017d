//! Bad input of every kind: 4xx with the JSON error shape, never 500, nothing recorded.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::common::Harness;

fn post(
    token: &str,
    uri: &str,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut r = Request::post(uri).header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(ct) = content_type {
        r = r.header(header::CONTENT_TYPE, ct);
    }
    r.body(body.into()).unwrap()
}

#[tokio::test]
async fn malformed_bodies_get_4xx_json_and_record_nothing() {
    let h = Harness::new();
    h.seed("water").await;
    let lcc = h.partner("water", "lcc");
    let uri = "/v1/negotiations/water/commands";
    let json = Some("application/json");
    let cases: Vec<(Option<&str>, String, StatusCode, &str)> = vec![
        (json, "{\"do\": \"endorse\", ".into(), StatusCode::BAD_REQUEST, "malformed_json"),
        (json, String::new(), StatusCode::BAD_REQUEST, "malformed_json"),
        (json, "\u{feff}{}".into(), StatusCode::BAD_REQUEST, "malformed_json"),
        (json, "[1, 2]".into(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_command"),
        (json, "\"sign\"".into(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_command"),
        (json, "{}".into(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_command"),
        (json, r#"{"do": 7}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_command"),
        (json, r#"{"do": "frobnicate"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_command"),
        (json, r#"{"do": "endorse"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_command"),
        (json, r#"{"do": "endorse", "proposal_id": 12}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_command"),
        (json, r#"{"do": "endorse", "proposal_id": "P.1"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_command"),
        (json, r#"{"do": "endorse", "proposal_id": "p-1", "extra": true}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_command"),
        (json, r#"{"do": "endorse", "proposal_id": "p-1", "negotiation_id": "water"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_command"),
        (json, r#"{"do": "endorse", "proposal_id": "p-1", "at": "yesterday"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_command"),
        (json, r#"{"do": "endorse", "proposal_id": "p-1", "at": 1700000000}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_command"),
        (json, r#"{"do": "object", "objection_id": "o", "proposal_id": "p-1", "grounds": "g", "blocking": "yes"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_command"),
        (json, r#"{"do": "commit", "commitment_id": "c", "description": "d", "kind": "finance", "due": "next week"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_command"),
        (json, r#"{"do": "commit", "commitment_id": "c", "description": "d", "kind": "finance", "amount": {"value": 5, "currency": "USD"}}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_command"),
        (json, r#"{"do": "commit", "commitment_id": "c", "description": "d", "kind": "finance", "amount": {"value": "-5", "currency": "USD"}}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, "bad_amount"),
        (None, r#"{"do": "endorse", "proposal_id": "p-1"}"#.into(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        (Some("text/plain"), r#"{"do": "endorse", "proposal_id": "p-1"}"#.into(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
    ];
    for (ct, body, status, code) in cases {
        let r = h.send(post(&lcc, uri, ct, body.clone())).await;
        assert_eq!((r.status, r.code()), (status, code), "{body}: {r:?}");
    }
    // Not UTF-8 at all.
    let r = h
        .send(post(&lcc, uri, json, vec![0xff_u8, 0xfe, 0x00]))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "malformed_json")
    );
    assert_eq!(h.recorded("water").await, 5);
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let h = Harness::new();
    h.seed("water").await;
    let lcc = h.partner("water", "lcc");
    let text = "x".repeat(roundtable_api::MAX_BODY_BYTES + 1);
    let body = json!({"do": "propose", "proposal_id": "p-big", "clause_id": "c", "text": text})
        .to_string();
    let r = h
        .send(post(
            &lcc,
            "/v1/negotiations/water/commands",
            Some("application/json"),
            body,
        ))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    // A proposal at the domain's limit (20,000 characters of 4 bytes) fits.
    let text = "\u{1F4A7}".repeat(20_000);
    let r = h
        .command(
            &lcc,
            "water",
            json!({"do": "propose", "proposal_id": "p-max", "clause_id": "c", "text": text}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(h.recorded("water").await, 6);
}

#[tokio::test]
async fn bad_ids_in_the_path_get_400() {
    let h = Harness::new();
    let s = h.secretariat();
    for id in [
        "Water",
        "a.b",
        "a%2Eb",
        "-a",
        "%F0%9F%92%A7",
        "a%20b",
        "%FF",
        &"x".repeat(65),
    ] {
        let r = h
            .send(post(
                &s,
                &format!("/v1/negotiations/{id}/commands"),
                Some("application/json"),
                json!({"do": "open_negotiation", "title": "t", "service": "s"}).to_string(),
            ))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "invalid_id"),
            "{id}: {r:?}"
        );
        for suffix in ["", "/events"] {
            let r = h.get(&s, &format!("/v1/negotiations/{id}{suffix}")).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::BAD_REQUEST, "invalid_id"),
                "{id}{suffix}"
            );
        }
    }
    assert!(h.views.list_now().is_empty());
}

#[tokio::test]
async fn bad_headers_and_queries_get_400() {
    let h = Harness::new();
    h.seed("water").await;
    let s = h.secretariat();
    let long = "k".repeat(201);
    for key in ["", "has space", long.as_str()] {
        let r = h
            .command_with(
                &s,
                "water",
                json!({"do": "conclude"}),
                &[("idempotency-key", key)],
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "invalid_idempotency_key"),
            "{key:?}"
        );
    }
    for uri in [
        "/v1/negotiations?limit=0",
        "/v1/negotiations?limit=1001",
        "/v1/negotiations?limit=many",
        "/v1/negotiations?after=Bad.Id",
        "/v1/negotiations?colour=blue",
        "/v1/negotiations/water?wait_ms=30001",
        "/v1/negotiations/water?min_version=-1",
        "/v1/negotiations/water/events?after=-1",
        "/v1/negotiations/water/events?limit=0",
        "/v1/negotiations/water/events?after=9223372036854775808",
        "/v1/negotiations/water?min_version=9223372036854775808",
        "/v1/negotiations/water/events?limit=99999999999999999999999",
    ] {
        let r = h.get(&s, uri).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "invalid_query"),
            "{uri}: {r:?}"
        );
    }
    assert_eq!(h.recorded("water").await, 5);
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_json() {
    let h = Harness::new();
    let s = h.secretariat();
    let r = h.get(&s, "/v2/nothing").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "route_not_found")
    );
    let r = h
        .send(
            Request::builder()
                .method(Method::DELETE)
                .uri("/v1/negotiations/water")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    let r = h.get(&s, "/v1/negotiations/water/commands").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    assert!(
        r.header("allow").is_some_and(|a| a.contains("POST")),
        "{r:?}"
    );
}
