//! The web app inside the API's router: sign-in links are the API's tokens, and a web
//! session reads `/v1` (the live page's stream, the downloads) but never writes there.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use roundtable_api::Claims;
use roundtable_api::TokenRole;
use tower::ServiceExt;

use crate::common::Harness;

async fn raw(h: &Harness, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = h.app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

async fn sign_in(h: &Harness, token: &str) -> (StatusCode, Option<String>, String) {
    let request = Request::post("/sign-in")
        .header(header::HOST, "api.test")
        .header(header::ORIGIN, "http://api.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={token}")))
        .unwrap();
    let (status, headers, body) = raw(h, request).await;
    let cookie = headers
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    (status, cookie, body)
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, "api.test")
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn a_session_from_a_sign_in_link_reads_v1_in_scope_and_never_writes() {
    let h = Harness::new();
    h.seed("water").await;
    h.seed("waste").await;
    let (status, cookie, body) = sign_in(&h, &h.partner("water", "lcc")).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let cookie = cookie.expect("a session cookie");
    let (status, _, body) = raw(&h, get("/v1/negotiations/water/events", &cookie)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("proposal_made"));
    let (status, _, _) = raw(&h, get("/v1/negotiations/waste/events", &cookie)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, page) = raw(&h, get("/negotiations/water", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("You act as Lakeside City Council"), "{page}");
    // A command through /v1 with the cookie alone: no bearer token, refused.
    let before = h.recorded("water").await;
    let request = Request::post("/v1/negotiations/water/commands")
        .header(header::HOST, "api.test")
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"do": "endorse", "proposal_id": "p-1"}"#))
        .unwrap();
    let (status, _, _) = raw(&h, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.recorded("water").await, before);
}

#[tokio::test]
async fn links_with_a_foreign_or_expired_token_start_no_session() {
    let h = Harness::new();
    let foreign = roundtable_api::AuthConfig::hs256(&[9; 32])
        .unwrap()
        .mint(
            TokenRole::Auditor,
            None,
            None,
            std::time::Duration::from_secs(60),
        )
        .unwrap();
    let (status, cookie, body) = sign_in(&h, &foreign).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(cookie.is_none());
    assert!(
        body.contains("sign-in link is not signed with this server"),
        "{body}"
    );
    let expired = h.sign(&Claims {
        sub: "auditor@*".into(),
        role: TokenRole::Auditor,
        negotiation_id: None,
        partner_id: None,
        exp: 1_000,
        iat: 0,
        nbf: None,
        iss: "roundtable".into(),
        aud: "roundtable".into(),
        jti: "test-token".into(),
    });
    let (status, cookie, body) = sign_in(&h, &expired).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(cookie.is_none());
    assert!(body.contains("expired"), "{body}");
}
