//! The web app's routes through `tower::ServiceExt::oneshot`, over a real embedded
//! store: sign-in links, sessions, CSRF, scope, forged fields and rejections.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use roundtable_app::CommandHandler;
use roundtable_domain::{NegotiationId, PartnerId};
use roundtable_projector::KvViewStore;
use roundtable_store::EventStore;
use roundtable_web::session::unix_now;
use roundtable_web::{LinkVerifier, Principal, Sessions, WebState, router};
use tower::ServiceExt;

const HOST: &str = "roundtable.test";

/// Tokens are names of principals here; the API's keys are tested in roundtable-api.
struct Links(HashMap<String, (Principal, u64)>);

#[async_trait::async_trait]
impl LinkVerifier for Links {
    async fn verify(&self, token: &str) -> Result<(Principal, u64), String> {
        // `partner:{negotiation}:{partner}`, for the sample minutes' many partners.
        if let Some(rest) = token.strip_prefix("partner:") {
            let (neg, partner) = rest.split_once(':').ok_or("partner:N:P")?;
            let partner = PartnerId::new(partner).map_err(|e| e.to_string())?;
            return Ok((
                Principal::Partner {
                    negotiation: n(neg),
                    partner,
                },
                unix_now() + 3600,
            ));
        }
        self.0
            .get(token)
            .cloned()
            .ok_or_else(|| format!("unknown token {token}"))
    }
}

struct App {
    _dir: tempfile::TempDir,
    store: Arc<dyn EventStore>,
    views: Arc<KvViewStore>,
    app: Router,
}

fn n(s: &str) -> NegotiationId {
    NegotiationId::new(s).unwrap()
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let ports = roundtable_sqlite::open(dir.path()).unwrap();
    let store = ports.events.clone();
    let views = Arc::new(KvViewStore::open(&*ports.kv).await.unwrap());
    let exp = unix_now() + 3600;
    let partner = |neg: &str, p: &str| Principal::Partner {
        negotiation: n(neg),
        partner: PartnerId::new(p).unwrap(),
    };
    let links = Links(HashMap::from([
        (
            "sec".to_owned(),
            (Principal::Secretariat { negotiation: None }, exp),
        ),
        ("hcc".to_owned(), (partner("water", "hcc"), exp)),
        ("epa".to_owned(), (partner("water", "epa"), exp)),
        ("firm".to_owned(), (partner("water", "firm"), exp)),
        (
            "aud".to_owned(),
            (Principal::Auditor { negotiation: None }, exp),
        ),
    ]));
    let events: Arc<dyn EventStore> = store.clone();
    let state = WebState {
        handler: Arc::new(CommandHandler::new(events.clone())),
        events,
        views: views.clone(),
        links: Arc::new(links),
        sessions: Arc::new(Sessions::new()),
        development: false,
    };
    App {
        _dir: dir,
        store,
        views,
        app: router(state),
    }
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl App {
    async fn call(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut r = Request::get(path).header(header::HOST, HOST);
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        self.call(r.body(Body::empty()).unwrap()).await
    }

    async fn post(
        &self,
        path: &str,
        cookie: Option<&str>,
        origin: Option<&str>,
        form: &[(&str, &str)],
    ) -> Reply {
        let mut r = Request::post(path)
            .header(header::HOST, HOST)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        if let Some(o) = origin {
            r = r.header(header::ORIGIN, o);
        }
        let body = serde_urlencoded(form);
        self.call(r.body(Body::from(body)).unwrap()).await
    }

    /// Signs in with link `token`: the session cookie and its CSRF token.
    async fn sign_in(&self, token: &str) -> (String, String) {
        let r = self
            .post(
                "/sign-in",
                None,
                Some(&format!("http://{HOST}")),
                &[("token", token)],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let set = r.headers[header::SET_COOKIE].to_str().unwrap().to_owned();
        let cookie = set.split(';').next().unwrap().to_owned();
        let page = self.get("/", Some(&cookie)).await;
        let csrf = page
            .body
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a csrf token on the page")
            .to_owned();
        (cookie, csrf)
    }

    async fn act(&self, who: &(String, String), negotiation: &str, form: &[(&str, &str)]) -> Reply {
        let mut fields = vec![("csrf", who.1.as_str())];
        fields.extend_from_slice(form);
        self.post(
            &format!("/negotiations/{negotiation}"),
            Some(&who.0),
            Some(&format!("http://{HOST}")),
            &fields,
        )
        .await
    }

    async fn events(&self, negotiation: &str) -> Vec<roundtable_domain::RecordedEvent> {
        self.store.read(&n(negotiation), 0, None).await.unwrap()
    }
}

fn serde_urlencoded(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The secretariat opens `water` (cross-sector consent) and admits three partners.
async fn water(app: &App) -> (String, String) {
    let sec = app.sign_in("sec").await;
    let r = app
        .post(
            "/negotiations",
            Some(&sec.0),
            Some(&format!("http://{HOST}")),
            &[
                ("csrf", &sec.1),
                ("action", "open_negotiation"),
                ("negotiation_id", "water"),
                ("title", "Water for Lakeside"),
                ("service", "water_sanitation"),
                ("decision_rule", "cross_sector_consent"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers[header::LOCATION], "/negotiations/water?v=1");
    for (id, kind, role) in [
        ("hcc", "municipality", "signatory"),
        ("epa", "regulator", "observer"),
        ("firm", "national_firm", "signatory"),
    ] {
        let r = app
            .act(
                &sec,
                "water",
                &[
                    ("action", "admit_partner"),
                    ("partner_id", id),
                    ("name", &id.to_uppercase()),
                    ("kind", kind),
                    ("role", role),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    sec
}

#[tokio::test]
async fn a_sign_in_link_starts_one_session_and_only_once() {
    let app = app().await;
    let page = app.get("/sign-in?token=hcc", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("name=\"token\" value=\"hcc\""));
    assert_eq!(page.headers["referrer-policy"], "same-origin");
    let r = app
        .post(
            "/sign-in",
            None,
            Some("https://roundtable.test"),
            &[("token", "hcc")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers[header::LOCATION], "/negotiations/water");
    let cookie = r.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Secure"),
        "{cookie}"
    );
    let max_age: u64 = cookie
        .split("Max-Age=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(max_age <= 3600, "the session outlives the token: {max_age}");
    let again = app
        .post(
            "/sign-in",
            None,
            Some("https://roundtable.test"),
            &[("token", "hcc")],
        )
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert!(again.body.contains("used already"), "{}", again.body);
    let bad = app
        .post("/sign-in", None, None, &[("token", "nobody")])
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    // Over plain HTTP the cookie is not Secure.
    let plain = app
        .post(
            "/sign-in",
            None,
            Some(&format!("http://{HOST}")),
            &[("token", "epa")],
        )
        .await;
    assert!(
        !plain.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Secure")
    );
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let app = app().await;
    let sec = app.sign_in("sec").await;
    let r = app
        .post(
            "/sign-out",
            Some(&sec.0),
            Some(&format!("http://{HOST}")),
            &[("csrf", &sec.1)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let page = app.get("/negotiations/water", Some(&sec.0)).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_post_without_the_csrf_token_or_from_another_origin_is_refused() {
    let app = app().await;
    let sec = water(&app).await;
    let before = app.events("water").await.len();
    let form = [
        ("action", "admit_partner"),
        ("partner_id", "x"),
        ("name", "X"),
        ("kind", "ngo"),
        ("role", "observer"),
    ];
    let no_token = app
        .post(
            "/negotiations/water",
            Some(&sec.0),
            Some(&format!("http://{HOST}")),
            &form,
        )
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    let mut wrong = vec![("csrf", "0".repeat(64))];
    wrong.extend(form.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = app
        .post(
            "/negotiations/water",
            Some(&sec.0),
            Some(&format!("http://{HOST}")),
            &wrong,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let mut good = vec![("csrf", sec.1.as_str())];
    good.extend_from_slice(&form);
    let elsewhere = app
        .post(
            "/negotiations/water",
            Some(&sec.0),
            Some("https://evil.example"),
            &good,
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.events("water").await.len(),
        before,
        "nothing was recorded"
    );
    let ok = app
        .post(
            "/negotiations/water",
            Some(&sec.0),
            Some(&format!("http://{HOST}")),
            &good,
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(app.events("water").await.len(), before + 1);
}

#[tokio::test]
async fn a_partner_is_refused_another_negotiation() {
    let app = app().await;
    let sec = water(&app).await;
    let r = app
        .post(
            "/negotiations",
            Some(&sec.0),
            Some(&format!("http://{HOST}")),
            &[
                ("csrf", &sec.1),
                ("action", "open_negotiation"),
                ("negotiation_id", "waste"),
                ("title", "Waste"),
                ("service", "solid_waste"),
                ("decision_rule", "consent"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let hcc = app.sign_in("hcc").await;
    assert_eq!(
        app.get("/negotiations/water", Some(&hcc.0)).await.status,
        StatusCode::OK
    );
    let other = app.get("/negotiations/waste", Some(&hcc.0)).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert!(other.body.contains("waste"));
    let act = app
        .act(
            &hcc,
            "waste",
            &[
                ("action", "propose"),
                ("proposal_id", "p1"),
                ("clause_id", "c1"),
                ("text", "x"),
            ],
        )
        .await;
    assert_eq!(act.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/negotiations/waste/audit", Some(&hcc.0))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.events("waste").await.len(), 1);
    // The index lists only its own negotiation.
    let index = app.get("/", Some(&hcc.0)).await;
    assert!(
        index.body.contains("/negotiations/water") && !index.body.contains("/negotiations/waste"),
        "{}",
        index.body
    );
}

#[tokio::test]
async fn a_forged_actor_field_does_not_change_who_acts() {
    let app = app().await;
    water(&app).await;
    let hcc = app.sign_in("hcc").await;
    let r = app
        .act(
            &hcc,
            "water",
            &[
                ("action", "propose"),
                ("proposal_id", "p1"),
                ("clause_id", "c1"),
                ("text", "Kiosks"),
                ("by", "firm"),
                ("actor", "firm"),
                ("partner_id", "firm"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let last = app.events("water").await.pop().unwrap();
    assert_eq!(last.event.actor.as_str(), "hcc");
    // Withdrawing the firm's proposal as hcc, whatever the form says, is hcc's act,
    // which the domain refuses.
    let firm = app.sign_in("firm").await;
    app.act(
        &firm,
        "water",
        &[
            ("action", "propose"),
            ("proposal_id", "p2"),
            ("clause_id", "c1"),
            ("text", "Trucks"),
        ],
    )
    .await;
    let before = app.events("water").await.len();
    let r = app
        .act(
            &hcc,
            "water",
            &[
                ("action", "withdraw_proposal"),
                ("proposal_id", "p2"),
                ("by", "firm"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("only firm may withdraw proposal p2"),
        "{}",
        r.body
    );
    assert_eq!(app.events("water").await.len(), before);
    // An auditor may read but not act.
    let aud = app.sign_in("aud").await;
    assert_eq!(
        app.get("/negotiations/water/audit", Some(&aud.0))
            .await
            .status,
        StatusCode::OK
    );
    let r = app
        .act(
            &aud,
            "water",
            &[("action", "endorse"), ("proposal_id", "p1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_rejection_is_shown_beside_its_form_with_the_input_kept_and_nothing_recorded() {
    let app = app().await;
    water(&app).await;
    let hcc = app.sign_in("hcc").await;
    app.act(
        &hcc,
        "water",
        &[
            ("action", "propose"),
            ("proposal_id", "p1"),
            ("clause_id", "c1"),
            ("text", "Kiosks"),
        ],
    )
    .await;
    let epa = app.sign_in("epa").await;
    let before = app.events("water").await.len();
    let grounds = "Too close to the river <b>bank</b> & \"wells\"";
    let r = app
        .act(
            &epa,
            "water",
            &[
                ("action", "object"),
                ("proposal_id", "p1"),
                ("objection_id", "o1"),
                ("grounds", grounds),
                ("blocking", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The domain's message, beside the object form of p1, announced.
    let at = r
        .body
        .find("id=\"object-p1-error\"")
        .expect("the error beside the form");
    assert!(r.body[at..].starts_with("id=\"object-p1-error\">epa is an observer; observers may raise only non-blocking objections"), "{}", &r.body[at..at + 200]);
    assert!(r.body[..at].ends_with("role=\"alert\" "));
    // The input kept, escaped.
    assert!(
        r.body
            .contains("Too close to the river &lt;b&gt;bank&lt;/b&gt; &amp; &quot;wells&quot;"),
        "grounds kept"
    );
    assert!(r.body.contains("value=\"o1\""));
    assert_eq!(app.events("water").await.len(), before, "nothing recorded");
    // A malformed field is shown the same way.
    let r = app
        .act(
            &hcc,
            "water",
            &[
                ("action", "commit"),
                ("commitment_id", "k1"),
                ("description", "d"),
                ("kind", "finance"),
                ("amount", "12"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("currency: an amount needs its currency"));
}

#[tokio::test]
async fn the_page_shows_what_the_rule_needs_and_text_as_entered() {
    let app = app().await;
    let sec = water(&app).await;
    let hcc = app.sign_in("hcc").await;
    let text = "<script>alert('x')</script>\n  second line";
    app.act(
        &hcc,
        "water",
        &[
            ("action", "propose"),
            ("proposal_id", "p1"),
            ("clause_id", "c1"),
            ("text", text),
        ],
    )
    .await;
    app.act(
        &hcc,
        "water",
        &[("action", "endorse"), ("proposal_id", "p1")],
    )
    .await;
    let page = app.get("/negotiations/water", Some(&sec.0)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("&lt;script&gt;alert('x')&lt;/script&gt;\n  second line")
    );
    assert!(!page.body.contains("<script>alert"));
    assert!(
        page.body
            .contains("a signatory of Private sector must endorse it (FIRM)"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("disabled aria-describedby=\"adopt-p1-why\"")
    );
    assert!(
        page.body
            .contains("No small-scale provider has been admitted.")
    );
    // Adopting now is the domain's rejection, shown beside the adopt form.
    let r = app
        .act(&sec, "water", &[("action", "adopt"), ("proposal_id", "p1")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains(
        "id=\"adopt-p1-error\">proposal p1 lacks endorsement from a signatory of private_sector"
    ));
    let firm = app.sign_in("firm").await;
    app.act(
        &firm,
        "water",
        &[("action", "endorse"), ("proposal_id", "p1")],
    )
    .await;
    let page = app.get("/negotiations/water", Some(&sec.0)).await;
    assert!(page.body.contains("The decision rule is met"));
    let r = app
        .act(&sec, "water", &[("action", "adopt"), ("proposal_id", "p1")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = app.get("/negotiations/water?v=7", Some(&firm.0)).await;
    assert!(page.body.contains("id=\"clause-c1\""));
    assert!(page.body.contains("Sign agreement version 1"));
    // The live fragment has no layout around it.
    let live = app.get("/negotiations/water/live", Some(&firm.0)).await;
    assert!(live.body.starts_with("<h1>") && !live.body.contains("<html"));
    let _ = &app.views;
}

#[tokio::test]
async fn the_language_follows_accept_language_and_the_switch() {
    let app = app().await;
    let sec = water(&app).await;
    let r = app
        .call(
            Request::get("/negotiations/water")
                .header(header::HOST, HOST)
                .header(header::COOKIE, &sec.0)
                .header(header::ACCEPT_LANGUAGE, "fr-SN,fr;q=0.9")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(r.body.contains("<html lang=\"fr\">") && r.body.contains("Clauses convenues"));
    let switch = app.get("/lang/pt?back=/negotiations/water", None).await;
    assert_eq!(switch.status, StatusCode::SEE_OTHER);
    assert_eq!(switch.headers[header::LOCATION], "/negotiations/water");
    let lang = switch.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let r = app
        .get("/negotiations/water", Some(&format!("{}; {lang}", sec.0)))
        .await;
    assert!(r.body.contains("<html lang=\"pt\">") && r.body.contains("Parceiros por setor"));
    let away = app.get("/lang/es?back=//evil.example", None).await;
    assert_eq!(away.headers[header::LOCATION], "/");
}

/// The fields a person fills in on the page's form for one minutes line: amounts as
/// value and currency, assets as one checkbox each, transfers as rows.
fn form_fields(m: &serde_json::Map<String, serde_json::Value>) -> Vec<(String, String)> {
    use serde_json::Value;
    let mut out = vec![("action".to_owned(), m["do"].as_str().unwrap().to_owned())];
    for (k, v) in m {
        match (k.as_str(), v) {
            ("at" | "by" | "do" | "sector", _) => {}
            ("negotiation_id", _) if m["do"] != "open_negotiation" => {}
            ("amount" | "delivered" | "penalty", Value::Object(a)) => {
                out.push((k.clone(), a["value"].as_str().unwrap().to_owned()));
                out.push((
                    "currency".to_owned(),
                    a["currency"].as_str().unwrap().to_owned(),
                ));
            }
            ("assets", Value::Array(ids)) => {
                for id in ids {
                    out.push((format!("asset:{}", id.as_str().unwrap()), "on".to_owned()));
                }
            }
            ("transfers", Value::Array(rows)) => {
                for (i, t) in rows.iter().enumerate() {
                    for (field, name) in [
                        ("commitment_id", "commitment"),
                        ("to", "to"),
                        ("new_commitment_id", "new"),
                    ] {
                        out.push((
                            format!("transfer-{}-{name}", i + 1),
                            t[field].as_str().unwrap().to_owned(),
                        ));
                    }
                }
            }
            (_, Value::Bool(true)) => out.push((k.clone(), "on".to_owned())),
            (_, Value::Bool(false)) => {}
            (_, Value::String(s)) => out.push((k.clone(), s.clone())),
            (_, other) => panic!("no form field for {k}: {other}"),
        }
    }
    out
}

/// The view without what the clock decides (the minutes' `at` against now).
fn timeless(view: &roundtable_domain::AgreementView) -> serde_json::Value {
    let mut v = serde_json::to_value(view).unwrap();
    v.as_object_mut().unwrap().remove("last_event_hash");
    for c in v["commitments"].as_array_mut().into_iter().flatten() {
        // A form's checkboxes carry no order: the assets a commitment draws on, as a set.
        if let Some(a) = c["assets"].as_array_mut() {
            a.sort_by_key(|x| x.as_str().unwrap_or_default().to_owned());
        }
        for p in c["progress"].as_array_mut().into_iter().flatten() {
            p.as_object_mut().unwrap().remove("at");
        }
    }
    v
}

fn minutes(name: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let path = format!(
        "{}/../../examples/minutes/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Contract version 2 through the forms: the Fieldbrook minutes (assets, a round,
/// progress, fulfilment, shortfalls, a partner leaving with a transfer) played as each
/// actor end in the view the same commands give when sent directly, and the pages show
/// the round beside the agreement in force, delivery, shortfalls, assets and who left.
#[tokio::test]
async fn the_after_signature_minutes_played_through_the_forms_give_the_view_and_pages() {
    let app = app().await;
    let direct = app_direct().await;
    let neg = "fieldbrook-sanitation";
    let lines = minutes("fieldbrook-sanitation.jsonl");
    let sec = app.sign_in("sec").await;
    let mut sessions: HashMap<String, (String, String)> = HashMap::new();
    let mut saw_round = false;
    for (i, m) in lines.iter().enumerate() {
        let by = m["by"].as_str().unwrap().to_owned();
        let who = if by == "secretariat" {
            sec.clone()
        } else {
            match sessions.get(&by) {
                Some(s) => s.clone(),
                None => {
                    let s = app.sign_in(&format!("partner:{neg}:{by}")).await;
                    sessions.insert(by.clone(), s.clone());
                    s
                }
            }
        };
        let fields = form_fields(m);
        let refs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = if m["do"] == "open_negotiation" {
            let mut f = vec![("csrf", who.1.as_str())];
            f.extend_from_slice(&refs);
            app.post(
                "/negotiations",
                Some(&who.0),
                Some(&format!("http://{HOST}")),
                &f,
            )
            .await
        } else {
            app.act(&who, neg, &refs).await
        };
        assert_eq!(
            r.status,
            StatusCode::SEE_OTHER,
            "line {i} ({}): {}",
            m["do"],
            error_text(&r.body)
        );
        // The same command sent directly, for the comparison at the end.
        let mut fields = m.clone();
        for k in ["at", "by", "do", "negotiation_id"] {
            fields.remove(k);
        }
        let command =
            roundtable_domain::Command::from_fields(m["do"].as_str().unwrap(), fields).unwrap();
        roundtable_app::commands::send(
            &direct.1,
            roundtable_app::commands::SendCommand {
                negotiation: n(neg),
                actor: roundtable_domain::Actor::parse(&by).unwrap(),
                command,
                at: None,
                idempotency_key: None,
                expected_version: None,
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        // In the round, after its amendment is adopted: the round beside the agreement
        // in force, with the tariff clause's word diff.
        if m["do"] == "adopt" && m["proposal_id"] == "p-tariff-3" {
            saw_round = true;
            let page = app
                .get(&format!("/negotiations/{neg}"), Some(&sec.0))
                .await
                .body;
            let round = section(&page, "rounds-title");
            assert!(round.contains("Round r-tariff-2029 is open"), "{round}");
            assert!(round.contains("Agreement in force: version"), "{round}");
            assert!(round.contains("What this round has changed against the agreement in force"));
            assert!(
                round.contains("<code>tariff</code>")
                    && round.contains("<del>")
                    && round.contains("<ins>"),
                "{round}"
            );
            // Version 1's forms are back while the round is open: the secretariat may
            // admit; it may not open another round.
            assert!(page.contains("id=\"admit_partner\""));
            assert!(!page.contains("id=\"open_round\""));
        }
    }
    assert!(saw_round);
    // The forms gave what the commands give.
    let played = roundtable_audit::as_of_version(&app.events(neg).await, lines.len() as u64)
        .unwrap()
        .unwrap();
    let sent = roundtable_audit::as_of_version(
        &direct.0.read(&n(neg), 0, None).await.unwrap(),
        lines.len() as u64,
    )
    .unwrap()
    .unwrap();
    assert_eq!(timeless(&played), timeless(&sent));
    assert_eq!(
        played.status,
        roundtable_domain::view::NegotiationStatus::Concluded
    );

    // What the secretariat sees.
    let page = app
        .get(&format!("/negotiations/{neg}"), Some(&sec.0))
        .await
        .body;
    let rounds = section(&page, "rounds-title");
    assert!(
        rounds.contains(&format!(
            "Agreement in force: version {}",
            played.in_force_agreement_version.unwrap()
        )),
        "{rounds}"
    );
    assert!(
        rounds.contains("r-tariff-2029") && rounds.contains("concluded"),
        "{rounds}"
    );
    let shortfalls = section(&page, "shortfalls-title");
    for s in played.shortfalls.values() {
        assert!(
            shortfalls.contains(&format!("id=\"shortfall-{}\"", s.shortfall_id)),
            "{s:?}"
        );
    }
    let open: Vec<_> = played
        .shortfalls
        .values()
        .filter(|s| s.status == roundtable_domain::view::ShortfallStatus::Open)
        .collect();
    assert!(!open.is_empty(), "the minutes leave a shortfall open");
    for s in &open {
        assert!(
            page.contains(&format!("id=\"resolve_shortfall-{}\"", s.shortfall_id)),
            "a resolve form for {}",
            s.shortfall_id
        );
    }
    assert!(shortfalls.contains("Resolved (3)"), "{shortfalls}");
    let commitments = section(&page, "commitments-title");
    assert!(
        commitments.contains("Delivered KES\u{a0}150,000.00 of KES\u{a0}2,400,000.00 (6%)"),
        "{commitments}"
    );
    assert!(commitments.contains("<progress"));
    assert!(commitments.contains("Fulfilled"));
    assert!(
        commitments
            .contains("Taken over from c-brookline-tankers (Brookline Sanitation Services Ltd)"),
        "{commitments}"
    );
    let assets = section(&page, "assets-title");
    assert!(assets.contains("Declared assets no active commitment draws on"));
    assert!(assets.contains("drawn on by"));
    let partners = section(&page, "partners-title");
    let left = &partners[partners.find("Partners who left").expect("who left")..];
    assert!(left.contains("Brookline Sanitation Services Ltd"));
    assert!(
        left.contains("c-brookline-tankers → c-emptiers-tankers"),
        "{left}"
    );
    assert!(page.contains("id=\"open_round\"") && page.contains("id=\"terminate\""));
    assert!(
        !page.contains("id=\"admit_partner\""),
        "no admission while concluded"
    );

    // Rejections of the new forms: the domain's message beside the form, input kept,
    // nothing recorded.
    let before = app.events(neg).await.len();
    let emptiers = sessions["emptiers"].clone();
    let r = app
        .act(
            &emptiers,
            neg,
            &[
                ("action", "report_progress"),
                ("commitment_id", "c-emptiers-tankers"),
                ("note", "kept <note>"),
                ("delivered", "10"),
                ("currency", "USD"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let at = r
        .body
        .find("id=\"report_progress-c-emptiers-tankers-error\"")
        .expect("beside the form");
    assert!(
        r.body[at..at + 300].contains("KES"),
        "{}",
        &r.body[at..at + 300]
    );
    assert!(r.body.contains("kept &lt;note&gt;"));
    // A partner cannot fulfil another's commitment, even with a forged form.
    let r = app
        .act(
            &emptiers,
            neg,
            &[
                ("action", "fulfil"),
                ("commitment_id", "c-fbc-subsidy-2"),
                ("fulfilled_on", "2029-07-01"),
                ("note", "n"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        !section(&r.body, "commitments-title").contains("id=\"fulfil-c-fbc-subsidy-2\""),
        "no fulfil form for another's commitment"
    );
    // The partner who left may do nothing, and sees no action.
    let brookline = sessions["brookline"].clone();
    let r = app
        .act(
            &brookline,
            neg,
            &[
                ("action", "declare_asset"),
                ("asset_id", "a-x"),
                ("kind", "finance"),
                ("description", "d"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = app
        .get(&format!("/negotiations/{neg}"), Some(&brookline.0))
        .await
        .body;
    assert!(page.contains("has left this partnership"));
    assert!(!page.contains("id=\"partner-title\""));
    assert_eq!(app.events(neg).await.len(), before, "nothing recorded");

    // The tariff clause's history, as a partner reads it: both versions, the second as
    // a word diff of the first, the superseded flat fee, who objected, and links to the
    // agreement as of each step.
    let consumers = sessions["consumers"].clone();
    let page = app
        .get(
            &format!("/negotiations/{neg}/clauses/tariff"),
            Some(&consumers.0),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let h = page.body;
    assert!(h.contains("<h1>History of clause tariff</h1>"), "{h}");
    let v2 = &h[h.find("id=\"version-2\"").expect("version 2")..];
    assert!(v2.contains("<del>") && v2.contains("<ins>"), "a word diff");
    assert!(h.contains("id=\"version-1\""));
    assert!(h.contains("Adopted from proposal p-tariff-3."));
    let flat = &h[h.find("id=\"proposal-p-tariff-1\"").expect("p-tariff-1")..];
    assert!(flat[..400].contains("superseded"), "{}", &flat[..400]);
    assert!(h.contains("raised a blocking objection (o-tariff-flat) to p-tariff-1."));
    assert!(h.contains("adopted p-tariff-3: version 2 of the clause."));
    assert!(h.contains(&format!("href=\"/negotiations/{neg}/audit?version=")));
    // Linked from the negotiation page; an unknown clause is a page saying so.
    let main = app
        .get(&format!("/negotiations/{neg}"), Some(&consumers.0))
        .await
        .body;
    assert!(main.contains(&format!("href=\"/negotiations/{neg}/clauses/tariff\"")));
    let r = app
        .get(
            &format!("/negotiations/{neg}/clauses/no-such-clause"),
            Some(&consumers.0),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("has no proposal on clause no-such-clause"));

    // Terminate: the end of every action.
    let r = app
        .act(&sec, neg, &[("action", "terminate"), ("reason", "")])
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a blank reason is the domain's to refuse"
    );
    assert!(r.body.contains("id=\"terminate-error\""));
    let r = app
        .act(
            &sec,
            neg,
            &[
                ("action", "terminate"),
                ("reason", "the Borough takes the service back"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", error_text(&r.body));
    let page = app
        .get(&format!("/negotiations/{neg}"), Some(&sec.0))
        .await
        .body;
    assert!(page.contains("terminated"));
    assert!(
        !page.contains("method=\"post\" action=\"/negotiations/"),
        "no form once terminated"
    );
}

/// A second store, for the same commands sent directly.
async fn app_direct() -> (
    Arc<dyn EventStore>,
    CommandHandler<dyn EventStore>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let ports = roundtable_sqlite::open(dir.path()).unwrap();
    let events: Arc<dyn EventStore> = ports.events.clone();
    (events.clone(), CommandHandler::new(events), dir)
}

/// The `section` labelled by heading `#id`, as HTML.
fn section<'a>(page: &'a str, id: &str) -> &'a str {
    let label = format!("aria-labelledby=\"{id}\"");
    let start = page
        .find(&label)
        .unwrap_or_else(|| panic!("no section {id}"));
    let end = page[start..]
        .find("</section>")
        .map_or(page.len(), |e| start + e);
    &page[start..end]
}

/// The rejection's message on a page, for failure messages.
fn error_text(body: &str) -> String {
    body.split("class=\"error\"")
        .nth(1)
        .map(|r| r.chars().take(300).collect())
        .unwrap_or_else(|| body.chars().take(300).collect())
}

/// Past 100 partners the endorsement matrix is paged, with a summary by sector above
/// it: page 1 shows the first 100 partners, page 2 the rest, and the counts by sector
/// cover everyone.
#[tokio::test]
async fn a_large_matrix_is_paged_with_a_summary_by_sector() {
    let app = app().await;
    let sec = water(&app).await;
    let handler = CommandHandler::new(app.store.clone());
    let send = |actor: &str, name: &str, fields: serde_json::Value| {
        let command =
            roundtable_domain::Command::from_fields(name, fields.as_object().unwrap().clone())
                .unwrap();
        roundtable_app::commands::SendCommand {
            negotiation: n("water"),
            actor: roundtable_domain::Actor::parse(actor).unwrap(),
            command,
            at: None,
            idempotency_key: None,
            expected_version: None,
        }
    };
    for i in 1..=120 {
        let r = send(
            "secretariat",
            "admit_partner",
            serde_json::json!({"partner_id": format!("cbo-{i:03}"), "name": format!("Block committee {i:03}"),
                "sector": "civil_society", "kind": "community_organisation", "role": "signatory"}),
        );
        roundtable_app::commands::send(&handler, r, chrono::Utc::now())
            .await
            .unwrap();
    }
    let r = send(
        "hcc",
        "propose",
        serde_json::json!({"proposal_id": "p1", "clause_id": "c1", "text": "Kiosks"}),
    );
    roundtable_app::commands::send(&handler, r, chrono::Utc::now())
        .await
        .unwrap();
    for i in 1..=7 {
        let r = send(
            &format!("cbo-{i:03}"),
            "endorse",
            serde_json::json!({"proposal_id": "p1"}),
        );
        roundtable_app::commands::send(&handler, r, chrono::Utc::now())
            .await
            .unwrap();
    }
    let v = app.events("water").await.len();
    let first = app
        .get(&format!("/negotiations/water?v={v}"), Some(&sec.0))
        .await
        .body;
    // 123 partners: hcc, epa, firm and the 120 committees.
    assert!(
        first.contains("Partners 1 to 100 of 123."),
        "{}",
        &first[..first.len().min(3000)]
    );
    assert!(first.contains("href=\"/negotiations/water?partners=2#matrix-title\""));
    assert!(!first.contains("?partners=0"));
    let summary = &first[first
        .find("id=\"matrix-sectors\"")
        .expect("the summary by sector")..];
    let civil = &summary[summary.find("Civil society").unwrap()..];
    assert!(civil.contains("✓ 7 · ✕ 0 · ! 0"), "{}", &civil[..300]);
    let matrix = &first[first.find("aria-labelledby=\"matrix-title\"").unwrap()..];
    let matrix = &matrix[..matrix.find("</table>").unwrap()];
    assert!(matrix.contains("Block committee 001"));
    assert!(!matrix.contains("Block committee 120"));
    let second = app
        .get(
            &format!("/negotiations/water?partners=2&v={v}"),
            Some(&sec.0),
        )
        .await
        .body;
    assert!(second.contains("Partners 101 to 123 of 123."));
    assert!(second.contains("href=\"/negotiations/water?partners=1#matrix-title\""));
    let matrix = &second[second.find("aria-labelledby=\"matrix-title\"").unwrap()..];
    let matrix = &matrix[..matrix.find("</table>").unwrap()];
    assert!(matrix.contains("Block committee 120"));
    assert!(!matrix.contains("Block committee 001"));
    // The live fragment follows the same page.
    let live = app
        .get("/negotiations/water/live?partners=2", Some(&sec.0))
        .await
        .body;
    assert!(live.contains("Partners 101 to 123 of 123."));
    // A page past the last shows the last.
    let past = app
        .get("/negotiations/water?partners=99", Some(&sec.0))
        .await
        .body;
    assert!(past.contains("Partners 101 to 123 of 123."));
}
