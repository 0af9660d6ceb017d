//! Who may act: tokens, scopes, read-only roles, development mode.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use roundtable_api::{AuthConfig, Claims, TokenRole};
use serde_json::json;

use crate::common::{Harness, SECRET};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn a_partner_may_act_only_as_itself_in_its_negotiation() {
    let h = Harness::new();
    h.seed("water").await;
    h.seed("waste").await;
    let before = (h.recorded("water").await, h.recorded("waste").await);

    // The token of lcc in "water" used in "waste": 403, nothing recorded there.
    let lcc = h.partner("water", "lcc");
    let r = h
        .command(
            &lcc,
            "waste",
            json!({"do": "endorse", "proposal_id": "p-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "forbidden");

    // Acting as another partner: `by` is refused, whatever it says.
    let r = h
        .command(
            &lcc,
            "water",
            json!({"do": "endorse", "proposal_id": "p-1", "by": "union"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "invalid_command");

    // A partner adopting: 403 before anything is decided.
    let r = h
        .command(&lcc, "water", json!({"do": "adopt", "proposal_id": "p-1"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "secretariat_only");
    // Even in a negotiation that does not exist: scope first.
    let r = h
        .command(
            &h.partner("nowhere", "lcc"),
            "nowhere",
            json!({"do": "conclude"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    assert_eq!(
        before,
        (h.recorded("water").await, h.recorded("waste").await)
    );

    // The event's actor is the token's partner.
    let r = h
        .command(
            &lcc,
            "water",
            json!({"do": "endorse", "proposal_id": "p-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.body["event"]["actor"], "lcc");
}

#[tokio::test]
async fn a_secretariat_scoped_to_one_negotiation_stays_there() {
    let h = Harness::new();
    h.seed("water").await;
    let scoped = h.token(TokenRole::Secretariat, Some("water"), None);
    let r = h
        .command(
            &scoped,
            "waste",
            json!({"do": "open_negotiation", "title": "t", "service": "s"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "forbidden");
    assert_eq!(h.recorded("waste").await, 0);
    let r = h.get(&scoped, "/v1/negotiations/waste/events").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = h.get(&scoped, "/v1/negotiations/water/events").await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn auditors_and_integrations_read_but_do_not_act() {
    let h = Harness::new();
    h.seed("water").await;
    h.project().await;
    for role in [TokenRole::Auditor, TokenRole::Integration] {
        let token = h.token(role, None, None);
        let r = h.command(&token, "water", json!({"do": "sign"})).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(r.code(), "read_only");
        assert_eq!(
            h.get(&token, "/v1/negotiations/water").await.status,
            StatusCode::OK
        );
        assert_eq!(
            h.get(&token, "/v1/negotiations/water/events").await.status,
            StatusCode::OK
        );
    }
    assert_eq!(h.recorded("water").await, 5);
}

#[tokio::test]
async fn no_expired_foreign_or_garbage_token_gets_401() {
    let h = Harness::new();
    h.seed("water").await;
    let body = || Body::from(json!({"do": "endorse", "proposal_id": "p-1"}).to_string());
    let post = |auth: Option<String>| {
        let mut r = Request::post("/v1/negotiations/water/commands")
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(a) = auth {
            r = r.header(header::AUTHORIZATION, a);
        }
        r.body(body()).unwrap()
    };
    let expired = h.sign(&Claims {
        sub: "lcc".into(),
        role: TokenRole::Partner,
        negotiation_id: Some("water".into()),
        partner_id: Some("lcc".into()),
        exp: now() - 3600,
        iat: now() - 7200,
        nbf: None,
        iss: "roundtable".into(),
        aud: "roundtable".into(),
        jti: "test-token".into(),
    });
    let foreign = AuthConfig::hs256(b"another-secret-another-secret-another")
        .unwrap()
        .mint(
            TokenRole::Secretariat,
            None,
            None,
            std::time::Duration::from_secs(600),
        )
        .unwrap();
    let bad_claims = h.sign(&Claims {
        sub: "x".into(),
        role: TokenRole::Partner,
        negotiation_id: None,
        partner_id: Some("lcc".into()),
        exp: now() + 600,
        iat: now(),
        nbf: None,
        iss: "roundtable".into(),
        aud: "roundtable".into(),
        jti: "test-token".into(),
    });
    let mut tampered = h.partner("water", "lcc");
    tampered.pop();
    tampered.push('A');
    let cases = [
        None,
        Some(format!("Bearer {expired}")),
        Some(format!("Bearer {foreign}")),
        Some(format!("Bearer {bad_claims}")),
        Some("Bearer not.a.jwt".into()),
        Some("Bearer ".into()),
        Some(format!("Basic {}", h.secretariat())),
        Some(format!("Bearer {tampered}x")),
    ];
    for auth in cases {
        let r = h.send(post(auth.clone())).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth:?}: {r:?}");
        assert_eq!(r.code(), "unauthenticated");
        assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    }
    assert!(
        h.send(post(Some(format!("Bearer {expired}")))).await.body["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    // Reads need a token too.
    let r = h
        .send(
            Request::get("/v1/negotiations")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.recorded("water").await, 5);
}

#[tokio::test]
async fn ed25519_tokens_verify_with_the_public_key_only() {
    // A test-only key pair (openssl genpkey -algorithm ed25519).
    const PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINKOS+StKW0kRiUdSCirVdPomJZo8UaXDPqmIN3rE7zQ\n-----END PRIVATE KEY-----\n";
    const PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAf8SXwha3ILCdlptX7+ID3yQUBy/aEnxq8VbJiUW/fCA=\n-----END PUBLIC KEY-----\n";
    let signer = AuthConfig::ed25519(PUBLIC.as_bytes(), Some(PRIVATE.as_bytes())).unwrap();
    let verifier = AuthConfig::ed25519(PUBLIC.as_bytes(), None).unwrap();
    let token = signer
        .mint(
            TokenRole::Auditor,
            None,
            None,
            std::time::Duration::from_secs(60),
        )
        .unwrap();
    assert_eq!(
        verifier.verify(&token).unwrap(),
        roundtable_api::Principal::Auditor { negotiation: None }
    );
    assert!(
        verifier
            .mint(
                TokenRole::Auditor,
                None,
                None,
                std::time::Duration::from_secs(60)
            )
            .is_err()
    );
    // An HS256 token does not pass an EdDSA server, whatever its secret.
    let hs = AuthConfig::hs256(SECRET)
        .unwrap()
        .mint(
            TokenRole::Auditor,
            None,
            None,
            std::time::Duration::from_secs(60),
        )
        .unwrap();
    assert_eq!(
        verifier.verify(&hs).unwrap_err().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn development_mode_acts_as_the_secretariat_or_the_named_partner() {
    let h = Harness::development();
    let post = |actor: Option<&str>, body: serde_json::Value| {
        let mut r = Request::post("/v1/negotiations/water/commands")
            .header(header::HOST, "127.0.0.1:8080")
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(a) = actor {
            r = r.header("x-roundtable-actor", a);
        }
        r.body(Body::from(body.to_string())).unwrap()
    };
    let r = h
        .send(post(
            None,
            json!({"do": "open_negotiation", "title": "t", "service": "s"}),
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.body["event"]["actor"], "secretariat");
    let r = h
        .send(post(
            Some("lcc"),
            json!({"do": "propose", "proposal_id": "p", "clause_id": "c", "text": "t"}),
        ))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "not_admitted");
    let r = h.send(post(Some("Not.Valid"), json!({"do": "sign"}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "invalid_actor");
}

/// A revoked token is refused by the embedded store's servers, also after a restart
/// (the deny-list is in the store's file), and only that token: another of the same
/// principal still works. A sign-in link of the revoked token signs no one in.
#[tokio::test]
async fn a_revoked_token_is_refused_from_the_next_request_on() {
    use std::sync::Arc;
    use std::time::Duration;

    use roundtable_api::revocation::Revocations;
    use roundtable_api::{ApiState, Principal, router};

    let dir = tempfile::tempdir().unwrap();
    let app = || async {
        let ports = roundtable_sqlite::open(dir.path()).unwrap();
        let revocations = Arc::new(Revocations::open(&*ports.kv).await.unwrap());
        let views = Arc::new(crate::common::MemoryViews::default());
        let state = ApiState::new(
            ports.events.clone(),
            views,
            AuthConfig::hs256(SECRET).unwrap(),
        )
        .with_revocations(revocations.clone());
        (router(state), revocations)
    };
    let keys = AuthConfig::hs256(SECRET).unwrap();
    let auditor = Principal::Auditor { negotiation: None };
    let lost = keys.mint_token(&auditor, Duration::from_secs(600)).unwrap();
    let kept = keys.mint_token(&auditor, Duration::from_secs(600)).unwrap();
    assert_ne!(lost.jti, kept.jti);
    let list = |token: &str| {
        Request::get("/v1/negotiations")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let (one, revocations) = app().await;
    assert_eq!(
        crate::common::send(&one, list(&lost.token)).await.status,
        StatusCode::OK
    );
    assert!(revocations.revoke(&lost.jti, None).await.unwrap());
    let r = crate::common::send(&one, list(&lost.token)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.body["message"].as_str().unwrap().contains("revoked"),
        "{r:?}"
    );
    assert_eq!(
        crate::common::send(&one, list(&kept.token)).await.status,
        StatusCode::OK
    );
    drop(one);

    // Another server over the same file.
    let (two, _) = app().await;
    assert_eq!(
        crate::common::send(&two, list(&lost.token)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let form = format!("token={}", lost.token);
    let response = tower::ServiceExt::oneshot(
        two.clone(),
        Request::post("/sign-in")
            .header(header::HOST, "api.test")
            .header(header::ORIGIN, "http://api.test")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
}

/// Minted tokens carry what the server requires: issuer, audience, an id, a
/// not-before time; the server refuses one without them (as tokens of an earlier
/// release are).
#[tokio::test]
async fn minted_tokens_carry_issuer_audience_and_id() {
    let h = Harness::new();
    let token = h.secretariat();
    let claims = h.auth.verify_claims(&token).unwrap();
    assert_eq!(claims.iss, "roundtable");
    assert_eq!(claims.aud, "roundtable");
    assert!(!claims.jti.is_empty());
    assert_eq!(claims.nbf, Some(claims.iat));
    let old = h.sign(&Claims {
        iss: String::new(),
        aud: String::new(),
        jti: String::new(),
        ..claims
    });
    let r = h
        .send(
            Request::get("/v1/negotiations")
                .header(header::AUTHORIZATION, format!("Bearer {old}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
