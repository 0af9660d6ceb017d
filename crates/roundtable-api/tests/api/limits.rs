//! Availability (issue 15, items 4, 5, 8, 12, 14): connections with partial heads or
//! idle are closed, the connection limit holds and the server goes on serving, heavy
//! routes are bounded, principals are rate limited, requests time out, negotiations
//! have limits, the largest command fits in any encoding, development mode checks the
//! `Host`, and `/metrics` can need a token.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use roundtable_api::{
    ApiState, AuthConfig, ConnectionLimits, Limits, MetricsAccess, Rate, TokenRole, router,
};
use roundtable_app::{CommandHandler, NegotiationLimits};
use roundtable_sqlite::SqliteStore;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

use crate::common::{Harness, MemoryViews, SECRET, send_any};

/// A generous bound for "eventually": never a timing assertion, only a hang guard.
const EVENTUALLY: Duration = Duration::from_secs(20);

/// `roundtable_api::serve` on 127.0.0.1:0 with `limits`; returns the address and a
/// sender that stops it.
async fn start(
    limits: ConnectionLimits,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open_in_dir(dir.path()).unwrap());
    let state = ApiState::new(
        store,
        Arc::new(MemoryViews::default()),
        AuthConfig::hs256(SECRET).unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _dir = dir;
        roundtable_api::serve(listener, router(state), limits, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (addr, stop)
}

/// Reads until the server closes the connection (or `EVENTUALLY` passes: `None`).
async fn read_until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut out = Vec::new();
    let read = tokio::time::timeout(EVENTUALLY, stream.read_to_end(&mut out)).await;
    match read {
        Ok(Ok(_)) => Some(String::from_utf8_lossy(&out).into_owned()),
        // A reset is a close too.
        Ok(Err(_)) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

async fn healthz(addr: std::net::SocketAddr) -> reqwest::Result<reqwest::StatusCode> {
    reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .timeout(EVENTUALLY)
        .send()
        .await
        .map(|r| r.status())
}

#[tokio::test]
async fn connections_with_partial_headers_or_nothing_are_closed_after_the_header_timeout() {
    let (addr, _stop) = start(ConnectionLimits {
        header_read_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(60),
        max_connections: 16,
    })
    .await;
    let mut partial = TcpStream::connect(addr).await.unwrap();
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // A keep-alive connection after its request, idle between requests.
    let mut kept = TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    for (name, stream) in [
        ("partial head", &mut partial),
        ("nothing sent", &mut silent),
        ("idle keep-alive", &mut kept),
    ] {
        let read = read_until_closed(stream).await;
        assert!(read.is_some(), "{name}: still open after {EVENTUALLY:?}");
        if name == "idle keep-alive" {
            assert!(read.unwrap().starts_with("HTTP/1.1 200"), "{name}");
        }
    }
    assert_eq!(healthz(addr).await.unwrap(), 200);
}

#[tokio::test]
async fn a_connection_that_stops_sending_its_body_is_closed_after_the_idle_timeout() {
    let (addr, _stop) = start(ConnectionLimits {
        header_read_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_millis(300),
        max_connections: 16,
    })
    .await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /v1/negotiations/water/commands HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"do\":",
        )
        .await
        .unwrap();
    assert!(
        read_until_closed(&mut stream).await.is_some(),
        "still open after {EVENTUALLY:?}"
    );
}

#[tokio::test]
async fn the_connection_limit_holds_and_clients_are_served_again_once_slots_free() {
    let (addr, _stop) = start(ConnectionLimits {
        header_read_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_secs(60),
        max_connections: 3,
    })
    .await;
    // Three idle connections fill the slots.
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    // Let the server accept them (a served request on one would need a slot).
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Beyond the limit: answered 503 with Retry-After at once, and closed.
    for _ in 0..5 {
        let mut extra = TcpStream::connect(addr).await.unwrap();
        let answer = read_until_closed(&mut extra).await.expect("closed");
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
        assert!(answer.contains("retry-after: 1"), "{answer}");
        assert!(answer.contains("too_many_connections"), "{answer}");
    }
    // The idle ones are closed by the header timeout; then others are served.
    for stream in &mut idle {
        assert!(read_until_closed(stream).await.is_some(), "idle still open");
    }
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        match healthz(addr).await {
            Ok(status) if status == 200 => break,
            other => assert!(
                tokio::time::Instant::now() < deadline,
                "not served again: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A harness whose router has `limits` (and, optionally, negotiation limits).
fn harness_with(limits: Limits, negotiation: NegotiationLimits) -> Harness {
    let mut h = Harness::new();
    let state = ApiState::new(
        h.store.clone(),
        h.views.clone(),
        AuthConfig::hs256(SECRET).unwrap(),
    )
    .with_limits(limits);
    let mut state = state;
    state.handler = Arc::new(CommandHandler::new(h.store.clone() as _).with_limits(negotiation));
    h.app = router(state);
    h
}

#[tokio::test]
async fn heavy_routes_are_bounded_and_the_permit_lasts_while_the_body_is_sent() {
    let h = harness_with(
        Limits {
            heavy_requests: 1,
            ..Limits::default()
        },
        NegotiationLimits::NONE,
    );
    h.seed("water").await;
    h.project().await;
    let token = h.secretariat();
    let export = || {
        Request::get("/v1/negotiations/water/export")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    // The first export's response is held, its body not yet read.
    let first = h.app.clone().oneshot(export()).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let busy = send_any(&h.app, export()).await;
    assert_eq!(
        (busy.status, busy.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "busy")
    );
    assert_eq!(busy.header("retry-after"), Some("1"));
    // So is a report; a plain view is not heavy.
    let report = h.get(&token, "/v1/negotiations/water/report").await;
    assert_eq!(report.code(), "busy");
    let view = h.get(&token, "/v1/negotiations/water").await;
    assert_eq!(view.status, StatusCode::OK);
    // Once the first body is read, the next export runs.
    let bytes = first.into_body().collect().await.unwrap().to_bytes();
    assert!(bytes.starts_with(b"{"));
    let again = h.app.clone().oneshot(export()).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test]
async fn principals_over_their_rate_get_429_with_retry_after() {
    let h = harness_with(
        Limits {
            rate: Some(Rate {
                per_minute: 1,
                burst: 3,
            }),
            ..Limits::default()
        },
        NegotiationLimits::NONE,
    );
    let auditor = h.token(TokenRole::Auditor, None, None);
    for _ in 0..3 {
        let r = h.get(&auditor, "/v1/negotiations").await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
    }
    let r = h.get(&auditor, "/v1/negotiations").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Another principal has its own allowance.
    let other = h.token(TokenRole::Integration, None, None);
    assert_eq!(
        h.get(&other, "/v1/negotiations").await.status,
        StatusCode::OK
    );
    // The health checks are not rate limited.
    let health = crate::common::send(
        &h.app,
        Request::get("/healthz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(health.status, StatusCode::OK);
}

#[tokio::test]
async fn a_request_past_the_request_timeout_gets_503() {
    let h = harness_with(
        Limits {
            request_timeout: Duration::from_millis(200),
            ..Limits::default()
        },
        NegotiationLimits::NONE,
    );
    h.seed("water").await;
    h.project().await;
    // Version 6 is recorded but never projected (no projector runs here): the view
    // waits up to 10 s for it, and the request timeout cuts it off.
    let r = h
        .command(
            &h.partner("water", "lcc"),
            "water",
            json!({"do": "propose", "proposal_id": "p-2", "clause_id": "c", "text": "More."}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = h
        .get(
            &h.secretariat(),
            "/v1/negotiations/water?min_version=6&wait_ms=10000",
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "request_timeout"),
        "{r:?}"
    );
}

#[tokio::test]
async fn commands_past_a_negotiation_limit_are_rejected_clearly() {
    let h = harness_with(
        Limits::default(),
        NegotiationLimits {
            max_events: Some(5),
            max_bytes: None,
        },
    );
    h.seed("water").await;
    assert_eq!(h.recorded("water").await, 5);
    let r = h
        .command(
            &h.partner("water", "lcc"),
            "water",
            json!({"do": "propose", "proposal_id": "p-2", "clause_id": "c", "text": "More."}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "negotiation_limit_reached"),
        "{r:?}"
    );
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("max events per negotiation 5")
    );
    assert_eq!(h.recorded("water").await, 5);

    let h = harness_with(
        Limits::default(),
        NegotiationLimits {
            max_events: None,
            max_bytes: Some(6_000),
        },
    );
    h.seed("water").await;
    let text = "x".repeat(5_000);
    let r = h
        .command(
            &h.partner("water", "lcc"),
            "water",
            json!({"do": "propose", "proposal_id": "p-2", "clause_id": "c", "text": text}),
        )
        .await;
    assert_eq!(r.code(), "negotiation_limit_reached", "{r:?}");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("max bytes per negotiation 6000")
    );
    assert_eq!(h.recorded("water").await, 5);
}

/// `s` as Python's `json.dumps` writes it by default (`ensure_ascii=True`): every
/// character outside ASCII as `\uXXXX`, astral ones as an escaped surrogate pair.
fn python_json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

#[tokio::test]
async fn the_largest_proposal_fits_even_ascii_escaped_as_python_writes_it() {
    let h = Harness::new();
    h.seed("water").await;
    let max = roundtable_domain::MAX_TEXT_CHARS;
    let short = roundtable_domain::MAX_SHORT_CHARS;
    let drop = "\u{1F4A7}";
    let body = format!(
        r#"{{"do": "propose", "proposal_id": "p-max", "clause_id": "tariff", "title": {}, "text": {}, "rationale": {}}}"#,
        python_json_string(&drop.repeat(short)),
        python_json_string(&drop.repeat(max)),
        python_json_string(&drop.repeat(max)),
    );
    assert!(body.is_ascii());
    assert!(body.len() > 480_000, "{}", body.len());
    assert!(body.len() <= roundtable_api::MAX_BODY_BYTES);
    let r = h
        .send(
            Request::post("/v1/negotiations/water/commands")
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", h.partner("water", "lcc")),
                )
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(h.recorded("water").await, 6);
}

#[tokio::test]
async fn development_mode_answers_only_requests_addressed_to_the_loopback() {
    let h = Harness::development();
    let open = |host: Option<&str>| {
        let mut r = Request::post("/v1/negotiations/water/commands")
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(host) = host {
            r = r.header(header::HOST, host);
        }
        r.body(Body::from(
            json!({"do": "open_negotiation", "title": "t", "service": "s"}).to_string(),
        ))
        .unwrap()
    };
    // A DNS-rebinding page: the browser sends the attacker's name.
    for host in [
        Some("attacker.example:8080"),
        Some("127.0.0.1.nip.io"),
        None,
    ] {
        let r = send_any(&h.app, open(host)).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::MISDIRECTED_REQUEST, "not_loopback_host"),
            "{host:?}"
        );
    }
    assert_eq!(h.recorded("water").await, 0);
    let r = send_any(&h.app, open(Some("localhost:8080"))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = send_any(
        &h.app,
        Request::get("/v1/negotiations/water")
            .header(header::HOST, "[::1]:8080")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_ne!(r.status, StatusCode::MISDIRECTED_REQUEST);
}

#[tokio::test]
async fn metrics_can_need_a_token_or_live_elsewhere() {
    let token = "metrics-token-0123456789".to_owned();
    let h = harness_with(
        Limits {
            metrics: MetricsAccess::Token(token.clone()),
            ..Limits::default()
        },
        NegotiationLimits::NONE,
    );
    let get = |auth: Option<&str>| {
        let mut r = Request::get("/metrics");
        if let Some(a) = auth {
            r = r.header(header::AUTHORIZATION, a);
        }
        r.body(Body::empty()).unwrap()
    };
    async fn plain(app: &axum::Router, req: Request<Body>) -> StatusCode {
        app.clone().oneshot(req).await.unwrap().status()
    }
    assert_eq!(plain(&h.app, get(None)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        plain(&h.app, get(Some("Bearer wrong-token-0123456789"))).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        plain(&h.app, get(Some(&format!("Bearer {token}")))).await,
        StatusCode::OK
    );
    let h = harness_with(
        Limits {
            metrics: MetricsAccess::Elsewhere,
            ..Limits::default()
        },
        NegotiationLimits::NONE,
    );
    assert_eq!(plain(&h.app, get(None)).await, StatusCode::NOT_FOUND);
    let elsewhere = roundtable_api::metrics_router();
    assert_eq!(plain(&elsewhere, get(None)).await, StatusCode::OK);
}
