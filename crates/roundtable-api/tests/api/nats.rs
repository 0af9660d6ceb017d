//! On NATS JetStream (a real nats-server from the test kit): a stopped server is 503
//! for commands and reads and `not_ready` for /readyz, and a command retried with its
//! Idempotency-Key once the server is back is recorded once.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use roundtable_api::{ApiState, AuthConfig, TokenRole, router};
use roundtable_nats::{NatsBuckets, NatsConfig, NatsStore};
use roundtable_projector::KvViewStore;
use roundtable_testkit::NatsServer;
use serde_json::json;

use crate::common::{Reply, SECRET, send};

#[tokio::test]
async fn with_nats_stopped_the_api_answers_503_and_recovers_after() {
    let mut server = NatsServer::start().await.unwrap();
    let config = NatsConfig {
        request_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        ..NatsConfig::default()
    };
    let store = Arc::new(NatsStore::connect(&server.url(), config).await.unwrap());
    let views = Arc::new(
        KvViewStore::open(&NatsBuckets::new(store.clone()))
            .await
            .unwrap(),
    );
    let state = ApiState::new(store, views, AuthConfig::hs256(SECRET).unwrap());
    let token = state
        .auth
        .mint(TokenRole::Secretariat, None, None, Duration::from_secs(600))
        .unwrap();
    let app = router(state);
    let command = |key: &str, body: serde_json::Value| {
        Request::post("/v1/negotiations/water/commands")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let get = |uri: &str| {
        Request::get(uri)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let open = json!({"do": "open_negotiation", "title": "Water", "service": "water_sanitation"});
    let admit = json!({"do": "admit_partner", "partner_id": "lcc", "name": "Lakeside City Council", "sector": "government", "kind": "municipality", "role": "signatory"});

    let r = send(&app, command("open", open)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(send(&app, get("/readyz")).await.status, StatusCode::OK);

    server.kill();
    let r = send(&app, command("admit-lcc", admit.clone())).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
    );
    for uri in [
        "/v1/negotiations/water/events",
        "/v1/negotiations/water",
        "/v1/negotiations",
    ] {
        let r = send(&app, get(uri)).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            "{uri}"
        );
    }
    let r = send(&app, get("/readyz")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    );
    // An anonymous caller learns that the store is unavailable, not where it is.
    assert_eq!(r.body["message"], "not ready: store unavailable", "{r:?}");
    assert!(!r.body.to_string().contains(&server.url()));
    assert_eq!(send(&app, get("/healthz")).await.status, StatusCode::OK);

    server.restart().await.unwrap();
    // The client reconnects by itself; wait (bounded) until the API is ready again.
    let mut ready: Option<Reply> = None;
    for _ in 0..100 {
        let r = send(&app, get("/readyz")).await;
        if r.status == StatusCode::OK {
            ready = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ready.is_some(),
        "the API did not become ready after the restart"
    );
    let first = send(&app, command("admit-lcc", admit.clone())).await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    assert_eq!(first.body["version"], 2);
    let again = send(&app, command("admit-lcc", admit)).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, first.body);
    let r = send(&app, get("/v1/negotiations/water/events")).await;
    assert_eq!(r.body["events"].as_array().unwrap().len(), 2);
}

/// The deny-list is kept in JetStream: a token revoked through one connection is
/// refused through another, opened afterwards.
#[tokio::test]
async fn a_revoked_token_is_refused_by_every_server_on_nats() {
    let server = NatsServer::start().await.unwrap();
    let auth = AuthConfig::hs256(SECRET).unwrap();
    let minted = auth
        .mint_token(
            &roundtable_api::Principal::Secretariat { negotiation: None },
            Duration::from_secs(600),
        )
        .unwrap();
    let app = |ports: roundtable_store::Ports| async move {
        let revocations = roundtable_api::revocation::Revocations::open(&*ports.kv)
            .await
            .unwrap();
        let views = Arc::new(KvViewStore::open(&*ports.kv).await.unwrap());
        let state = ApiState::new(
            ports.events.clone(),
            views,
            AuthConfig::hs256(SECRET).unwrap(),
        )
        .with_revocations(Arc::new(revocations.clone()));
        (router(state), revocations)
    };
    let list = || {
        Request::get("/v1/negotiations")
            .header("authorization", format!("Bearer {}", minted.token))
            .body(Body::empty())
            .unwrap()
    };
    let first = roundtable_nats::connect(&server.url(), NatsConfig::default())
        .await
        .unwrap();
    let (one, revocations) = app(first).await;
    assert_eq!(send(&one, list()).await.status, StatusCode::OK);
    assert!(
        revocations
            .revoke(&minted.jti, Some("lost laptop"))
            .await
            .unwrap()
    );
    assert!(!revocations.revoke(&minted.jti, None).await.unwrap());
    let r = send(&one, list()).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    assert!(
        r.body["message"].as_str().unwrap().contains("revoked"),
        "{r:?}"
    );

    let second = roundtable_nats::connect(&server.url(), NatsConfig::default())
        .await
        .unwrap();
    let (two, revocations) = app(second).await;
    assert_eq!(send(&two, list()).await.status, StatusCode::UNAUTHORIZED);
    let listed = revocations.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].jti, minted.jti);
    assert_eq!(listed[0].reason.as_deref(), Some("lost laptop"));
}
