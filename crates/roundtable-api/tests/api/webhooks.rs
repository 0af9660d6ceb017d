//! The webhook routes: registration by the secretariat only, refused URLs, listing,
//! dead letters, replay and removal.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use roundtable_api::{ApiState, AuthConfig, TokenRole, router};
use roundtable_sqlite::{SqliteBuckets, SqliteChangeFeeds, SqliteStore};
use roundtable_store::KvBuckets;
use roundtable_webhooks::KvWebhookStore;
use roundtable_webhooks::UrlPolicy;
use serde_json::{Value, json};

use crate::common::{MemoryViews, Reply, SECRET, n, p, send};

struct Hooks {
    app: Router,
    auth: Arc<AuthConfig>,
    _dir: tempfile::TempDir,
}

impl Hooks {
    async fn new() -> Hooks {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_in_dir(dir.path()).unwrap();
        let webhooks = KvWebhookStore::new(
            SqliteBuckets::new(&store)
                .open(roundtable_webhooks::WEBHOOKS_BUCKET, "webhooks")
                .await
                .unwrap(),
            Arc::new(SqliteChangeFeeds::new(&store)),
        );
        let state = ApiState::new(
            Arc::new(store.clone()),
            Arc::new(MemoryViews::default()),
            AuthConfig::hs256(SECRET).unwrap(),
        )
        .with_webhooks(Arc::new(webhooks), UrlPolicy::allowing(["127.0.0.1"]));
        Hooks {
            auth: state.auth.clone(),
            app: router(state),
            _dir: dir,
        }
    }

    fn token(&self, role: TokenRole, negotiation: Option<&str>, partner: Option<&str>) -> String {
        self.auth
            .mint(
                role,
                negotiation.map(n),
                partner.map(p),
                Duration::from_secs(600),
            )
            .unwrap()
    }

    async fn call(&self, method: &str, uri: &str, token: &str, body: Option<Value>) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json");
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        send(&self.app, request.body(body).unwrap()).await
    }
}

fn registration(url: &str) -> Value {
    json!({"url": url, "negotiations": ["saltpan-water"], "event_types": ["proposal_adopted", "negotiation_concluded"],
           "secret": "a-long-enough-shared-secret"})
}

#[tokio::test]
async fn the_secretariat_registers_lists_replays_and_removes_webhooks() {
    let h = Hooks::new().await;
    let s = h.token(TokenRole::Secretariat, None, None);
    let r = h
        .call(
            "POST",
            "/v1/webhooks",
            &s,
            Some(registration("http://127.0.0.1:9/hook")),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert!(r.body.get("secret").is_none(), "the secret is never shown");
    assert_eq!(r.body["negotiations"], json!(["saltpan-water"]));
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("wh-"));

    let r = h.call("GET", "/v1/webhooks", &s, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["webhooks"].as_array().unwrap().len(), 1);
    // A secretariat of another negotiation sees none of it.
    let other = h.token(TokenRole::Secretariat, Some("harbourside-waste"), None);
    let r = h.call("GET", "/v1/webhooks", &other, None).await;
    assert_eq!(r.body["webhooks"], json!([]));
    let r = h
        .call(
            "GET",
            &format!("/v1/webhooks/{id}/dead-letters"),
            &other,
            None,
        )
        .await;
    assert_eq!(r.status, 404);

    let r = h
        .call("GET", &format!("/v1/webhooks/{id}/dead-letters"), &s, None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["dead_letters"], json!([]));
    let r = h
        .call(
            "POST",
            &format!("/v1/webhooks/{id}/dead-letters/replay"),
            &s,
            None,
        )
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(r.body["replaying"], 0);

    let r = h
        .call("DELETE", &format!("/v1/webhooks/{id}"), &s, None)
        .await;
    assert_eq!(r.status, 204);
    let r = h
        .call("DELETE", &format!("/v1/webhooks/{id}"), &s, None)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "webhook_not_found");
}

#[tokio::test]
async fn metadata_and_link_local_urls_and_other_principals_are_refused() {
    let h = Hooks::new().await;
    let s = h.token(TokenRole::Secretariat, None, None);
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.1.1/hook",
        "http://[fe80::1]/hook",
        "http://metadata.google.internal/",
        "http://localhost:8080/hook",
    ] {
        let r = h
            .call("POST", "/v1/webhooks", &s, Some(registration(url)))
            .await;
        assert_eq!(r.status, 422, "{url}: {r:?}");
        assert_eq!(r.code(), "webhook_url_refused");
    }
    let partner = h.token(TokenRole::Partner, Some("saltpan-water"), Some("lcc"));
    let r = h
        .call(
            "POST",
            "/v1/webhooks",
            &partner,
            Some(registration("http://127.0.0.1:9/")),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "secretariat_only");
    let scoped = h.token(TokenRole::Secretariat, Some("harbourside-waste"), None);
    let r = h
        .call(
            "POST",
            "/v1/webhooks",
            &scoped,
            Some(registration("http://127.0.0.1:9/")),
        )
        .await;
    assert_eq!(r.status, 403);
    let mut bad = registration("http://127.0.0.1:9/");
    bad["event_types"] = json!(["proposal_invented"]);
    let r = h.call("POST", "/v1/webhooks", &s, Some(bad)).await;
    assert_eq!(r.status, 422);
    let mut short = registration("http://127.0.0.1:9/");
    short["secret"] = json!("short");
    let r = h.call("POST", "/v1/webhooks", &s, Some(short)).await;
    assert_eq!(r.status, 422);
}
