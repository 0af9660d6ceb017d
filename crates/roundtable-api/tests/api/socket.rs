//! A few requests over a real socket: `axum::serve` on 127.0.0.1:0 and reqwest.

use std::sync::Arc;
use std::time::Duration;

use roundtable_api::{ApiState, AuthConfig, TokenRole, router};
use roundtable_sqlite::SqliteStore;
use serde_json::{Value, json};

use crate::common::{MemoryViews, SECRET};

struct Server {
    base: String,
    auth: Arc<AuthConfig>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn serve() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open_in_dir(dir.path()).unwrap());
    let state = ApiState::new(
        store,
        Arc::new(MemoryViews::default()),
        AuthConfig::hs256(SECRET).unwrap(),
    );
    let auth = state.auth.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    assert!(roundtable_api::is_loopback(&addr));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Server {
        base: format!("http://{addr}"),
        auth,
        stop: Some(stop),
        task,
        _dir: dir,
    }
}

impl Server {
    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap();
    }
}

#[tokio::test]
async fn commands_and_reads_over_http() {
    let server = serve().await;
    let client = reqwest::Client::new();
    let token = server
        .auth
        .mint(TokenRole::Secretariat, None, None, Duration::from_secs(60))
        .unwrap();
    let url = format!("{}/v1/negotiations/water/commands", server.base);
    let open = json!({"do": "open_negotiation", "title": "Water", "service": "water_sanitation"});
    let send = || {
        client
            .post(&url)
            .bearer_auth(&token)
            .header("idempotency-key", "open-water")
            .json(&open)
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().contains_key("x-request-id"));
    let first: Value = first.json().await.unwrap();
    let second = send().await.unwrap();
    assert_eq!(second.status(), 200);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(second.json::<Value>().await.unwrap(), first);

    let events: Value = client
        .get(format!("{}/v1/negotiations/water/events", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events["events"].as_array().unwrap().len(), 1);

    // A plain-text client error still gets JSON.
    let r = client
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "malformed_json");
    server.shutdown().await;
}

#[tokio::test]
async fn a_request_id_sent_is_echoed_and_health_needs_no_token() {
    let server = serve().await;
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{}/healthz", server.base))
        .header("x-request-id", "trace-me-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], "trace-me-1");
    let r = client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = client
        .get(format!("{}/openapi.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"].is_object());
    server.shutdown().await;
}
