//! What keeps one client from taking the service from the others (docs/OPERATIONS.md,
//! "Connections and limits"): an overall request timeout, a bound on how many heavy
//! requests (export, report, OCDS, verify, diff, views as of a point) run at once, a
//! rate limit per principal, and, in development mode, a check that the `Host` is a
//! loopback name (so that a page on another site, reached through DNS rebinding,
//! cannot act as the secretariat). Also who may read `/metrics`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::ApiState;
use crate::auth::Caller;
use crate::error::ApiError;

/// How requests are bounded. [`Limits::default`] is what `roundtable serve` uses
/// without options.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// The longest a request may take until its response starts (the head; a
    /// streamed body such as an export or Server-Sent Events may go on). Default
    /// 60 s, above the longest `wait_ms` (30 s). Beyond it: 503 `request_timeout`.
    pub request_timeout: Duration,
    /// How many heavy requests (export, report, OCDS, verify, diff, a view as of a
    /// version or an instant: each folds a whole log) may run at once; more get 503
    /// `busy` with `Retry-After`. Default 4. At least 1.
    pub heavy_requests: usize,
    /// Requests per principal (a token's principal, a web session's, a development
    /// caller's); `None`: no limit. Default `None`.
    pub rate: Option<Rate>,
    /// Who may read `/metrics`. Default [`MetricsAccess::Open`].
    pub metrics: MetricsAccess,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: Duration::from_secs(60),
            heavy_requests: 4,
            rate: None,
            metrics: MetricsAccess::Open,
        }
    }
}

/// A rate: a bucket of `burst` requests, refilled at `per_minute` a minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests a minute, in the long run (at least 1).
    pub per_minute: u32,
    /// Requests that may come at once (at least 1).
    pub burst: u32,
}

/// Who may read `GET /metrics` on the API's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsAccess {
    /// Anyone who reaches the port.
    Open,
    /// Only a request with `Authorization: Bearer <this token>`.
    Token(String),
    /// Nobody here: the metrics are served on another address ([`metrics_router`]),
    /// and `/metrics` on the API's address answers 404.
    Elsewhere,
}

/// What the guards keep between requests.
pub struct Guards {
    /// The configuration.
    pub limits: Limits,
    heavy: Arc<Semaphore>,
    buckets: Mutex<Buckets>,
}

impl std::fmt::Debug for Guards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guards")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Guards {
    /// Guards enforcing `limits`.
    pub fn new(limits: Limits) -> Guards {
        Guards {
            heavy: Arc::new(Semaphore::new(
                limits.heavy_requests.clamp(1, Semaphore::MAX_PERMITS),
            )),
            limits,
            buckets: Mutex::new(Buckets::default()),
        }
    }
}

impl Default for Guards {
    fn default() -> Self {
        Guards::new(Limits::default())
    }
}

/// The most principals whose buckets are kept; beyond, full buckets are dropped
/// (a principal with a full bucket loses nothing by being forgotten).
const MAX_BUCKETS: usize = 100_000;

#[derive(Default)]
struct Buckets {
    by_principal: HashMap<String, Bucket>,
}

/// A token bucket: `tokens` left at `at`.
#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Buckets {
    /// Takes one request from `key`'s bucket; `Err(wait)` when it is empty, with how
    /// long until it holds one.
    fn take(&mut self, key: &str, rate: Rate, now: Instant) -> Result<(), Duration> {
        let burst = f64::from(rate.burst.max(1));
        let per_sec = f64::from(rate.per_minute.max(1)) / 60.0;
        if self.by_principal.len() >= MAX_BUCKETS && !self.by_principal.contains_key(key) {
            self.by_principal
                .retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * per_sec < burst);
        }
        let bucket = self.by_principal.entry(key.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refilled =
            (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * per_sec).min(burst);
        bucket.at = now;
        if refilled >= 1.0 {
            bucket.tokens = refilled - 1.0;
            Ok(())
        } else {
            bucket.tokens = refilled;
            Err(Duration::from_secs_f64((1.0 - refilled) / per_sec))
        }
    }
}

/// A response refused for now, with `Retry-After` (whole seconds, at least 1).
fn retry_later(
    status: StatusCode,
    code: &'static str,
    message: String,
    wait: Duration,
) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = ApiError::new(status, code, message).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    response
}

/// Middleware: 503 `request_timeout` when the response has not started within the
/// request timeout.
pub(crate) async fn timeout(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    let limit = state.guards.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            roundtable_metrics::http::request_timed_out();
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "request_timeout",
                format!(
                    "the request took longer than {} ms and was abandoned (a command may or may \
                     not have been recorded: retry it with the same Idempotency-Key)",
                    limit.as_millis()
                ),
            )
            .into_response()
        }
    }
}

/// Middleware: the per-principal rate limit. A request whose caller cannot be
/// authenticated goes through (its handler answers 401).
pub(crate) async fn rate_limit(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(rate) = state.guards.limits.rate else {
        return next.run(request).await;
    };
    let (mut parts, body) = request.into_parts();
    let caller = Caller::from_request_parts(&mut parts, &state).await;
    let request = Request::from_parts(parts, body);
    let Ok(caller) = caller else {
        return next.run(request).await;
    };
    let key = match &caller {
        Caller::Token(principal) => format!("{principal:?}"),
        Caller::Development { partner } => format!("development {partner:?}"),
    };
    let taken = state
        .guards
        .buckets
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take(&key, rate, Instant::now());
    match taken {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            roundtable_metrics::http::rate_limited();
            retry_later(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "too many requests from this principal: the limit is {} a minute, {} at once",
                    rate.per_minute, rate.burst
                ),
                wait,
            )
        }
    }
}

/// Middleware of the heavy routes: at most [`Limits::heavy_requests`] at once, the
/// permit held until the response's body is sent; beyond, 503 `busy`.
pub(crate) async fn heavy(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    // A view is heavy only as of a point (folded from the log); the projected view is not.
    if request.uri().path().matches('/').count() == 3
        && !request.uri().query().is_some_and(|q| q.contains("as_of"))
    {
        return next.run(request).await;
    }
    let Ok(permit) = state.guards.heavy.clone().try_acquire_owned() else {
        roundtable_metrics::http::busy();
        return retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            format!(
                "the server is already running {} exports, reports or other full reads of a log; \
                 try again shortly",
                state.guards.limits.heavy_requests
            ),
            Duration::from_secs(1),
        );
    };
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let body = body.into_data_stream().map(move |chunk| {
        let _held = &permit;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(body))
}

/// Whether `host` (a `Host` header: a name or address, with an optional port) names
/// this machine's loopback: `localhost`, a name under `.localhost`, 127.0.0.0/8 or
/// `[::1]`.
pub fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        match rest.split_once(']') {
            Some((ip, port)) if port.is_empty() || port.starts_with(':') => ip,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            Some(_) => return false,
            None => host,
        }
    };
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    match name.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(std::net::IpAddr::V6(ip)) => ip.is_loopback(),
        Err(_) => false,
    }
}

/// Middleware of development mode: 421 `not_loopback_host` unless the `Host` header
/// names the loopback (a DNS-rebinding page sends its own name).
pub(crate) async fn loopback_host(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    match host {
        Some(host) if is_loopback_host(host) => next.run(request).await,
        other => ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "not_loopback_host",
            format!(
                "development mode answers only requests addressed to the loopback (Host \
                 localhost or 127.0.0.1), not {}",
                other.map_or_else(|| "a request without Host".to_owned(), |h| format!("{h:?}"))
            ),
        )
        .into_response(),
    }
}

/// Middleware of `/metrics`: as [`Limits::metrics`] says.
pub(crate) async fn metrics_access(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    match &state.guards.limits.metrics {
        MetricsAccess::Open => next.run(request).await,
        MetricsAccess::Elsewhere => ApiError::not_found(
            "route_not_found",
            "the metrics are served on another address",
        )
        .into_response(),
        MetricsAccess::Token(token) => {
            let given = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t.trim());
            if given.is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes())) {
                next.run(request).await
            } else {
                ApiError::unauthenticated(
                    "/metrics needs Authorization: Bearer <the metrics token>",
                )
                .into_response()
            }
        }
    }
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A router serving only `GET /metrics` (for a separate listen address, such as one
/// reachable only from the monitoring network).
pub fn metrics_router() -> axum::Router {
    let _ = roundtable_metrics::Exporter::global();
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(crate::operations::render_metrics),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_told_apart_from_other_names() {
        for good in [
            "localhost",
            "localhost:8080",
            "LOCALHOST.",
            "app.localhost:3000",
            "127.0.0.1",
            "127.0.0.1:8080",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:8080",
        ] {
            assert!(is_loopback_host(good), "{good}");
        }
        for bad in [
            "attacker.example",
            "attacker.example:8080",
            "localhost.attacker.example",
            "127.0.0.1.nip.io",
            "10.0.0.1:8080",
            "[::2]:80",
            "[::1]x",
            "localhost:80:80",
            "",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn a_bucket_lets_a_burst_through_then_one_per_interval() {
        let rate = Rate {
            per_minute: 60,
            burst: 3,
        };
        let mut buckets = Buckets::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(buckets.take("a", rate, t0).is_ok());
        }
        let wait = buckets.take("a", rate, t0).unwrap_err();
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::ZERO,
            "{wait:?}"
        );
        // Another principal has its own bucket.
        assert!(buckets.take("b", rate, t0).is_ok());
        // One second later, one more.
        let t1 = t0 + Duration::from_secs(1);
        assert!(buckets.take("a", rate, t1).is_ok());
        assert!(buckets.take("a", rate, t1).is_err());
    }
}
