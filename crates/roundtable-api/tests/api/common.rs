//! The harness: the router over a SQLite event store in a temp dir, an in-memory view
//! store, HS256 tokens, and helpers to send requests with `oneshot`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use roundtable_api::{ApiState, AuthConfig, Claims, TokenRole, router};
use roundtable_app::load;
use roundtable_domain::{AgreementView, NegotiationId, PartnerId, RecordedEvent};
use roundtable_projector::{ParkedEntry, StoredView, ViewStore};
use roundtable_sqlite::SqliteStore;
use roundtable_store::{EventStore, StoreError};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The HS256 secret of the tests.
pub(crate) const SECRET: &[u8] = b"roundtable-api-tests-secret-0123456789";

/// An in-memory view store with revisions, like the real adapters.
#[derive(Default)]
pub(crate) struct MemoryViews {
    views: Mutex<BTreeMap<NegotiationId, StoredView>>,
    parked: Mutex<BTreeMap<u64, ParkedEntry>>,
}

impl MemoryViews {
    /// The ids stored now.
    pub(crate) fn list_now(&self) -> Vec<NegotiationId> {
        self.lock().keys().cloned().collect()
    }

    fn parked_lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, ParkedEntry>> {
        self.parked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<NegotiationId, StoredView>> {
        self.views
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl ViewStore for MemoryViews {
    async fn get(&self, negotiation: &NegotiationId) -> Result<Option<StoredView>, StoreError> {
        Ok(self.lock().get(negotiation).cloned())
    }

    async fn put(&self, view: &AgreementView, expected: Option<u64>) -> Result<u64, StoreError> {
        let mut views = self.lock();
        let current = views.get(&view.negotiation_id).map(|s| s.revision);
        if current != expected {
            return Err(StoreError::Conflict {
                negotiation: view.negotiation_id.clone(),
                expected: expected.unwrap_or(0),
                actual: current,
            });
        }
        let revision = current.unwrap_or(0) + 1;
        views.insert(
            view.negotiation_id.clone(),
            StoredView {
                view: view.clone(),
                revision,
            },
        );
        Ok(revision)
    }

    async fn list(&self) -> Result<Vec<NegotiationId>, StoreError> {
        Ok(self.lock().keys().cloned().collect())
    }

    async fn clear(&self) -> Result<(), StoreError> {
        self.lock().clear();
        self.parked_lock().clear();
        Ok(())
    }

    async fn park(&self, entry: &ParkedEntry) -> Result<(), StoreError> {
        self.parked_lock()
            .entry(entry.position)
            .or_insert_with(|| entry.clone());
        Ok(())
    }

    async fn parked(&self) -> Result<Vec<ParkedEntry>, StoreError> {
        Ok(self.parked_lock().values().cloned().collect())
    }

    async fn stale(&self, negotiation: &NegotiationId) -> Result<Option<ParkedEntry>, StoreError> {
        Ok(self
            .parked_lock()
            .values()
            .find(|e| e.negotiation_id.as_ref() == Some(negotiation))
            .cloned())
    }
}

/// An event store and view store whose every call fails with one error.
pub(crate) struct Failing(pub(crate) StoreError);

/// A backend that cannot be reached.
pub(crate) fn down() -> Failing {
    Failing(StoreError::unavailable("connection refused"))
}

#[async_trait]
impl EventStore for Failing {
    async fn append(&self, _: &RecordedEvent) -> Result<(), StoreError> {
        Err(self.0.clone())
    }
    async fn read(
        &self,
        _: &NegotiationId,
        _: u64,
        _: Option<usize>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        Err(self.0.clone())
    }
    async fn negotiations(&self) -> Result<Vec<NegotiationId>, StoreError> {
        Err(self.0.clone())
    }
    async fn last_version(&self, _: &NegotiationId) -> Result<u64, StoreError> {
        Err(self.0.clone())
    }
}

#[async_trait]
impl ViewStore for Failing {
    async fn get(&self, _: &NegotiationId) -> Result<Option<StoredView>, StoreError> {
        Err(self.0.clone())
    }
    async fn put(&self, _: &AgreementView, _: Option<u64>) -> Result<u64, StoreError> {
        Err(self.0.clone())
    }
    async fn list(&self) -> Result<Vec<NegotiationId>, StoreError> {
        Err(self.0.clone())
    }
    async fn clear(&self) -> Result<(), StoreError> {
        Err(self.0.clone())
    }
}

/// A response, read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Reply {
    /// The error code of a JSON error body, checking the shape on the way.
    pub(crate) fn code(&self) -> &str {
        let obj = self
            .body
            .as_object()
            .unwrap_or_else(|| panic!("not an object: {self:?}"));
        assert_eq!(
            obj.len(),
            2,
            "error body has exactly code and message: {self:?}"
        );
        assert!(
            obj["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{self:?}"
        );
        obj["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no code: {self:?}"))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub(crate) fn n(s: &str) -> NegotiationId {
    NegotiationId::new(s).unwrap()
}

pub(crate) fn p(s: &str) -> PartnerId {
    PartnerId::new(s).unwrap()
}

/// The API over a fresh SQLite store.
pub(crate) struct Harness {
    _dir: tempfile::TempDir,
    pub(crate) store: Arc<SqliteStore>,
    pub(crate) views: Arc<MemoryViews>,
    pub(crate) auth: Arc<AuthConfig>,
    pub(crate) app: Router,
}

impl Harness {
    pub(crate) fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open_in_dir(dir.path()).unwrap());
        let views = Arc::new(MemoryViews::default());
        let state = ApiState::new(
            store.clone(),
            views.clone(),
            AuthConfig::hs256(SECRET).unwrap(),
        );
        Harness {
            _dir: dir,
            auth: state.auth.clone(),
            app: router(state),
            store,
            views,
        }
    }

    /// The API in development mode (no tokens) over a fresh store.
    pub(crate) fn development() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open_in_dir(dir.path()).unwrap());
        let views = Arc::new(MemoryViews::default());
        let state = ApiState::new(store.clone(), views.clone(), AuthConfig::development());
        Harness {
            _dir: dir,
            auth: Arc::new(AuthConfig::hs256(SECRET).unwrap()),
            app: router(state),
            store,
            views,
        }
    }

    pub(crate) fn secretariat(&self) -> String {
        self.token(TokenRole::Secretariat, None, None)
    }

    pub(crate) fn partner(&self, negotiation: &str, partner: &str) -> String {
        self.token(TokenRole::Partner, Some(negotiation), Some(partner))
    }

    pub(crate) fn token(
        &self,
        role: TokenRole,
        negotiation: Option<&str>,
        partner: Option<&str>,
    ) -> String {
        self.auth
            .mint(
                role,
                negotiation.map(n),
                partner.map(p),
                Duration::from_secs(600),
            )
            .unwrap()
    }

    /// Signs raw claims with the test key.
    pub(crate) fn sign(&self, claims: &Claims) -> String {
        self.auth.sign(claims).unwrap()
    }

    /// Folds every negotiation's events into the view store: the projector's job.
    pub(crate) async fn project(&self) {
        for id in self.store.negotiations().await.unwrap() {
            let view = load(&*self.store, &id).await.unwrap().view.unwrap();
            let current = self.views.get(&id).await.unwrap().map(|s| s.revision);
            self.views.put(&view, current).await.unwrap();
        }
    }

    /// How many events `negotiation` has.
    pub(crate) async fn recorded(&self, negotiation: &str) -> u64 {
        self.store.last_version(&n(negotiation)).await.unwrap()
    }

    pub(crate) async fn send(&self, request: Request<Body>) -> Reply {
        send(&self.app, request).await
    }

    /// GET `uri` with `token`.
    pub(crate) async fn get(&self, token: &str, uri: &str) -> Reply {
        self.send(
            Request::get(uri)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    /// POST a command with `token`.
    pub(crate) async fn command(&self, token: &str, negotiation: &str, body: Value) -> Reply {
        self.command_with(token, negotiation, body, &[]).await
    }

    /// POST a command with `token` and extra headers.
    pub(crate) async fn command_with(
        &self,
        token: &str,
        negotiation: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::post(format!("/v1/negotiations/{negotiation}/commands"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        self.send(request.body(Body::from(body.to_string())).unwrap())
            .await
    }

    /// Opens `negotiation` with two signatories (`lcc`, government; `union`, civil
    /// society) and an observer (`donor`), and has `lcc` propose `p-1` on `tariff`.
    pub(crate) async fn seed(&self, negotiation: &str) {
        let s = self.secretariat();
        let bodies = [
            json!({"do": "open_negotiation", "title": "Water", "service": "water_sanitation"}),
            json!({"do": "admit_partner", "partner_id": "lcc", "name": "Lakeside City Council", "sector": "government", "kind": "municipality", "role": "signatory"}),
            json!({"do": "admit_partner", "partner_id": "union", "name": "Water Workers Union", "sector": "civil_society", "kind": "trade_union", "role": "signatory"}),
            json!({"do": "admit_partner", "partner_id": "donor", "name": "Development Bank", "sector": "external", "kind": "donor", "role": "observer"}),
        ];
        for body in bodies {
            let r = self.command(&s, negotiation, body).await;
            assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        }
        let r = self
            .command(
                &self.partner(negotiation, "lcc"),
                negotiation,
                json!({"do": "propose", "proposal_id": "p-1", "clause_id": "tariff", "text": "A lifeline tariff."}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    }
}

/// Sends `request` through `app` with `oneshot`; a 5xx other than 503 fails the test.
pub(crate) async fn send(app: &Router, request: Request<Body>) -> Reply {
    let reply = send_any(app, request).await;
    assert!(
        reply.status.as_u16() < 500 || reply.status == StatusCode::SERVICE_UNAVAILABLE,
        "unexpected {}: {}",
        reply.status,
        reply.body
    );
    reply
}

/// Sends `request` through `app` with `oneshot`, whatever the status.
pub(crate) async fn send_any(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{status}: body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    Reply {
        status,
        headers,
        body,
    }
}
