//! The handlers: each reads the session, calls one use case of `roundtable-app` and
//! renders a page (or redirects after a post).

use std::collections::HashMap;
use std::time::Duration;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::header::{ACCEPT_LANGUAGE, CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use maud::Markup;
use roundtable_app::HandleError;
use roundtable_app::commands::SendCommand;
use roundtable_app::{AppError, AsOf, history, reads};
use roundtable_domain::{AgreementView, NegotiationId};
use serde::Deserialize;

use crate::forms::Submitted;
use crate::i18n::{I18n, Lang};
use crate::pages;
use crate::session::{self, LANG_COOKIE, Session, same_origin, tokens_match};
use crate::{Principal, WebState};

/// What every page needs to know about its request.
pub(crate) struct Ctx {
    pub(crate) i18n: I18n,
    pub(crate) session: Option<(String, Session)>,
    pub(crate) development: bool,
    /// The path of the page (for the language switch's way back).
    pub(crate) path: String,
}

impl Ctx {
    fn new(state: &WebState, headers: &HeaderMap, path: String) -> Ctx {
        let chosen = session::cookie(headers, LANG_COOKIE);
        let accept = headers.get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        Ctx {
            i18n: I18n::new(Lang::negotiate(chosen.as_deref(), accept)),
            session: state.sessions.from_headers(headers),
            development: state.development,
            path,
        }
    }

    pub(crate) fn principal(&self) -> Option<&Principal> {
        self.session.as_ref().map(|(_, s)| &s.principal)
    }

    pub(crate) fn csrf(&self) -> &str {
        self.session.as_ref().map_or("", |(_, s)| s.csrf.as_str())
    }
}

/// A rejected form: which one, the message, and what was typed in it.
#[derive(Debug, Clone, Default)]
pub(crate) struct FormError {
    pub(crate) key: String,
    pub(crate) message: String,
    pub(crate) input: Submitted,
}

fn html(status: StatusCode, markup: Markup) -> Response {
    let mut r = (status, Html(markup.into_string())).into_response();
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

fn error(ctx: &Ctx, status: StatusCode, message: &str) -> Response {
    html(status, pages::error_page(ctx, status, message))
}

fn app_error(ctx: &Ctx, e: &AppError) -> Response {
    let status = match e {
        AppError::NotRecorded { .. } | AppError::NoView { .. } | AppError::NoCheckpoint { .. } => {
            StatusCode::NOT_FOUND
        }
        AppError::Cosignature(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Rewritten { .. } => StatusCode::CONFLICT,
        AppError::NotYetOpened { .. }
        | AppError::VersionNotFound { .. }
        | AppError::InvalidRequest(_)
        | AppError::Ocds(_) => StatusCode::BAD_REQUEST,
        AppError::ViewMismatch { .. } => StatusCode::CONFLICT,
        AppError::Corrupt { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        AppError::Store { .. } => StatusCode::SERVICE_UNAVAILABLE,
    };
    if status.is_server_error() {
        tracing::error!(error = %e, "a page failed");
    }
    error(ctx, status, &e.to_string())
}

fn negotiation_id(ctx: &Ctx, raw: &str) -> Result<NegotiationId, Box<Response>> {
    NegotiationId::new(raw)
        .map_err(|e| Box::new(error(ctx, StatusCode::BAD_REQUEST, &e.to_string())))
}

/// The session's principal, when it may read `negotiation`; else the page to show.
fn reader(ctx: &Ctx, negotiation: &NegotiationId) -> Result<Principal, Box<Response>> {
    let Some(principal) = ctx.principal() else {
        return Err(Box::new(error(
            ctx,
            StatusCode::UNAUTHORIZED,
            &ctx.i18n.t("error-signed-out"),
        )));
    };
    if !principal.may_read(negotiation) {
        return Err(Box::new(error(
            ctx,
            StatusCode::FORBIDDEN,
            &ctx.i18n
                .args("error-out-of-scope", &[("id", negotiation.as_str())]),
        )));
    }
    Ok(principal.clone())
}

/// Checks a form post: a session, the same origin, and the session's CSRF token.
fn checked_post(
    ctx: &Ctx,
    headers: &HeaderMap,
    csrf: Option<&String>,
) -> Result<(), Box<Response>> {
    let Some((_, session)) = &ctx.session else {
        return Err(Box::new(error(
            ctx,
            StatusCode::UNAUTHORIZED,
            &ctx.i18n.t("error-signed-out"),
        )));
    };
    let token_ok = csrf.is_some_and(|c| tokens_match(c, &session.csrf));
    if !same_origin(headers) || !token_ok {
        return Err(Box::new(error(
            ctx,
            StatusCode::FORBIDDEN,
            &ctx.i18n.t("error-csrf"),
        )));
    }
    Ok(())
}

/// How long a page waits for the projector to catch up with the log before it folds
/// the log itself.
const PROJECTION_WAIT: Duration = Duration::from_millis(300);

/// The current view of `negotiation`: the projected view once it includes every
/// recorded event (and at least version `min`), waiting up to [`PROJECTION_WAIT`];
/// else (the projector behind, or the view stale) a fresh fold of the log, so that a
/// page always shows every recorded action, its own post included.
pub(crate) async fn current_view(
    state: &WebState,
    negotiation: &NegotiationId,
    min: u64,
) -> Result<AgreementView, AppError> {
    let last = state
        .events
        .last_version(negotiation)
        .await
        .map_err(AppError::events)?;
    match reads::view_at_least(
        state.events.as_ref(),
        state.views.as_ref(),
        negotiation,
        min.max(last),
        PROJECTION_WAIT,
    )
    .await
    {
        Ok(p) if !p.behind && p.stale.is_none() => Ok(p.view),
        Ok(_) | Err(AppError::NoView { .. }) => {
            history::view_as_of(state.events.as_ref(), negotiation, AsOf::Now)
                .await
                .map(|p| p.view)
        }
        Err(e) => Err(e),
    }
}

pub(crate) async fn index(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let ctx = Ctx::new(&state, &headers, "/".to_owned());
    let Some(principal) = ctx.principal().cloned() else {
        return html(StatusCode::OK, pages::index::signed_out(&ctx));
    };
    index_with(&state, &ctx, &principal, None, StatusCode::OK).await
}

async fn index_with(
    state: &WebState,
    ctx: &Ctx,
    principal: &Principal,
    form: Option<FormError>,
    status: StatusCode,
) -> Response {
    let ids = match state.views.list().await {
        Ok(ids) => ids,
        Err(e) => return app_error(ctx, &AppError::views(e)),
    };
    let mut listed = Vec::new();
    for id in ids.into_iter().filter(|id| principal.may_read(id)) {
        match state.views.get(&id).await {
            Ok(Some(stored)) => listed.push(stored.view),
            Ok(None) => {}
            Err(e) => return app_error(ctx, &AppError::views(e)),
        }
    }
    // A partner's own negotiation, even before the projector has caught up.
    if let Some(n) = principal.negotiation() {
        if !listed.iter().any(|v| &v.negotiation_id == n) {
            if let Ok(view) = current_view(state, n, 0).await {
                listed.push(view);
            }
        }
    }
    html(
        status,
        pages::index::page(ctx, principal, &listed, form.as_ref()),
    )
}

pub(crate) async fn open(
    State(state): State<WebState>,
    headers: HeaderMap,
    Form(fields): Form<HashMap<String, String>>,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/".to_owned());
    if let Err(r) = checked_post(&ctx, &headers, fields.get("csrf")) {
        return *r;
    }
    let form = Submitted::new(fields);
    let Some(principal) = ctx.principal().cloned() else {
        return error(
            &ctx,
            StatusCode::UNAUTHORIZED,
            &ctx.i18n.t("error-signed-out"),
        );
    };
    let rejected = |message: String| FormError {
        key: form.form_key(),
        message,
        input: form.clone(),
    };
    let negotiation = match NegotiationId::new(form.get("negotiation_id").trim()) {
        Ok(n) => n,
        Err(e) => {
            let f = rejected(format!("negotiation_id: {e}"));
            return index_with(
                &state,
                &ctx,
                &principal,
                Some(f),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let Some(actor) = principal.actor_in(&negotiation) else {
        return error(
            &ctx,
            StatusCode::FORBIDDEN,
            &ctx.i18n
                .args("error-out-of-scope", &[("id", negotiation.as_str())]),
        );
    };
    let command = match form.command() {
        Ok(c) if form.action() == "open_negotiation" => c,
        Ok(_) => {
            return error(
                &ctx,
                StatusCode::BAD_REQUEST,
                "this form only opens negotiations",
            );
        }
        Err(m) => {
            return index_with(
                &state,
                &ctx,
                &principal,
                Some(rejected(m)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match send(&state, negotiation.clone(), actor, command).await {
        Ok(version) => see_other(&format!("/negotiations/{negotiation}?v={version}")),
        Err(Sent::Rejected(m)) => {
            index_with(
                &state,
                &ctx,
                &principal,
                Some(rejected(m)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(Sent::Failed(status, m)) => error(&ctx, status, &m),
    }
}

enum Sent {
    /// The domain (or the form) said no: shown beside the form.
    Rejected(String),
    /// Not recorded for another reason (a conflict, the store down).
    Failed(StatusCode, String),
}

async fn send(
    state: &WebState,
    negotiation: NegotiationId,
    actor: roundtable_domain::Actor,
    command: roundtable_domain::Command,
) -> Result<u64, Sent> {
    let request = SendCommand {
        negotiation,
        actor,
        command,
        at: None,
        idempotency_key: None,
        expected_version: None,
    };
    match roundtable_app::commands::send(&state.handler, request, Utc::now()).await {
        Ok(handled) => Ok(handled.event().version),
        Err(HandleError::Rejected(r)) => Err(Sent::Rejected(r.message)),
        Err(e @ HandleError::Conflict { .. }) | Err(e @ HandleError::PreconditionFailed { .. }) => {
            Err(Sent::Failed(StatusCode::CONFLICT, e.to_string()))
        }
        Err(e) => {
            tracing::error!(error = %e, "a command from the web app was not recorded");
            Err(Sent::Failed(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
        }
    }
}

/// `?v=N`: the version the page must show at least (after a post).
#[derive(Debug, Deserialize)]
pub(crate) struct PageQuery {
    #[serde(default)]
    v: Option<u64>,
    /// The page of the endorsement matrix, from 1.
    #[serde(default)]
    partners: Option<usize>,
}

pub(crate) async fn negotiation(
    State(state): State<WebState>,
    Path(raw): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let ctx = Ctx::new(&state, &headers, format!("/negotiations/{raw}"));
    let min = query.v.unwrap_or(0);
    let page = query.partners.unwrap_or(1).saturating_sub(1);
    render_negotiation(&state, &ctx, &raw, min, None, StatusCode::OK, false, page).await
}

pub(crate) async fn live(
    State(state): State<WebState>,
    Path(raw): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let ctx = Ctx::new(&state, &headers, format!("/negotiations/{raw}"));
    let page = query.partners.unwrap_or(1).saturating_sub(1);
    render_negotiation(&state, &ctx, &raw, 0, None, StatusCode::OK, true, page).await
}

#[allow(clippy::too_many_arguments)]
async fn render_negotiation(
    state: &WebState,
    ctx: &Ctx,
    raw: &str,
    min: u64,
    form: Option<FormError>,
    status: StatusCode,
    fragment: bool,
    matrix_page: usize,
) -> Response {
    let negotiation = match negotiation_id(ctx, raw) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    let principal = match reader(ctx, &negotiation) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let view = match current_view(state, &negotiation, min).await {
        Ok(v) => v,
        Err(e) => return app_error(ctx, &e),
    };
    // While a round is open, the agreement in force beside it (folded from the log).
    let in_force = if view.status == roundtable_domain::view::NegotiationStatus::Renegotiating {
        match history::in_force_view(state.events.as_ref(), &negotiation, view.version).await {
            Ok(v) => v,
            Err(e) => return app_error(ctx, &e),
        }
    } else {
        None
    };
    let page = pages::negotiation::Page {
        ctx,
        principal: &principal,
        view: &view,
        in_force: in_force.as_ref(),
        form: form.as_ref(),
        today: Utc::now().date_naive(),
        matrix_page,
        shown: std::cell::Cell::new(false),
    };
    if fragment {
        html(status, page.live())
    } else {
        html(status, page.render())
    }
}

pub(crate) async fn act(
    State(state): State<WebState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<HashMap<String, String>>,
) -> Response {
    let ctx = Ctx::new(&state, &headers, format!("/negotiations/{raw}"));
    if let Err(r) = checked_post(&ctx, &headers, fields.get("csrf")) {
        return *r;
    }
    let negotiation = match negotiation_id(&ctx, &raw) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    let principal = match reader(&ctx, &negotiation) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let Some(actor) = principal.actor_in(&negotiation) else {
        return error(&ctx, StatusCode::FORBIDDEN, &ctx.i18n.t("error-read-only"));
    };
    let form = Submitted::new(fields);
    let anchor = form.form_key().replace(':', "-");
    let outcome = match form.command() {
        Ok(command) => send(&state, negotiation.clone(), actor, command).await,
        Err(m) => Err(Sent::Rejected(m)),
    };
    match outcome {
        Ok(version) => see_other(&format!("/negotiations/{negotiation}?v={version}#{anchor}")),
        Err(Sent::Rejected(message)) => {
            let f = FormError {
                key: form.form_key(),
                message,
                input: form,
            };
            render_negotiation(
                &state,
                &ctx,
                &raw,
                0,
                Some(f),
                StatusCode::UNPROCESSABLE_ENTITY,
                false,
                0,
            )
            .await
        }
        Err(Sent::Failed(status, m)) => error(&ctx, status, &m),
    }
}

pub(crate) async fn clause(
    State(state): State<WebState>,
    Path((raw, raw_clause)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let ctx = Ctx::new(
        &state,
        &headers,
        format!("/negotiations/{raw}/clauses/{raw_clause}"),
    );
    let negotiation = match negotiation_id(&ctx, &raw) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    if let Err(r) = reader(&ctx, &negotiation) {
        return *r;
    }
    let clause = match roundtable_domain::ClauseId::new(raw_clause) {
        Ok(c) => c,
        Err(e) => return error(&ctx, StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let events = match history::events(state.events.as_ref(), &negotiation, None).await {
        Ok(e) => e,
        Err(e) => return app_error(&ctx, &e),
    };
    let view = match current_view(&state, &negotiation, events.len() as u64).await {
        Ok(v) => v,
        Err(e) => return app_error(&ctx, &e),
    };
    if !view.proposals.values().any(|p| p.clause_id == clause) {
        let message = ctx.i18n.args(
            "clause-history-none",
            &[("clause", clause.as_str()), ("id", negotiation.as_str())],
        );
        return error(&ctx, StatusCode::NOT_FOUND, &message);
    }
    let page = pages::clause::ClausePage {
        ctx: &ctx,
        view: &view,
        clause: &clause,
        events: &events,
    };
    html(StatusCode::OK, page.render())
}

/// The audit page's query: a point in time and a diff.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuditQuery {
    /// The agreement as of this version.
    #[serde(default)]
    pub(crate) version: Option<String>,
    /// ... or as of this instant (RFC 3339, or `YYYY-MM-DDTHH:MM` from a picker, UTC).
    #[serde(default)]
    pub(crate) at: Option<String>,
    /// The diff's first version.
    #[serde(default)]
    pub(crate) from: Option<String>,
    /// The diff's second version.
    #[serde(default)]
    pub(crate) to: Option<String>,
}

pub(crate) async fn audit(
    State(state): State<WebState>,
    Path(raw): Path<String>,
    Query(query): Query<AuditQuery>,
    headers: HeaderMap,
) -> Response {
    let ctx = Ctx::new(&state, &headers, format!("/negotiations/{raw}/audit"));
    let negotiation = match negotiation_id(&ctx, &raw) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    if let Err(r) = reader(&ctx, &negotiation) {
        return *r;
    }
    let events = match history::events(state.events.as_ref(), &negotiation, None).await {
        Ok(e) => e,
        Err(e) => return app_error(&ctx, &e),
    };
    let verify = roundtable_app::audit::verify_live(
        state.events.as_ref(),
        state.views.as_ref(),
        &negotiation,
        Duration::from_secs(2),
    )
    .await;
    // The point in time asked for, and the diff asked for, each with its own error.
    let blank = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let as_of = match (blank(&query.version), blank(&query.at)) {
        (Some(v), _) => Some(match v.parse::<u64>() {
            Ok(n) => history::view_as_of(state.events.as_ref(), &negotiation, AsOf::Version(n))
                .await
                .map_err(|e| e.to_string()),
            Err(_) => Err(format!("version: {v:?} is not a whole number")),
        }),
        (None, Some(at)) => Some(match parse_picker_instant(&at) {
            Ok(t) => history::view_as_of(
                state.events.as_ref(),
                &negotiation,
                AsOf::Time(t, roundtable_audit::TimeAxis::Occurred),
            )
            .await
            .map_err(|e| e.to_string()),
            Err(m) => Err(m),
        }),
        (None, None) => None,
    };
    let diff = match (blank(&query.from), blank(&query.to)) {
        (None, None) => None,
        (from, to) => Some(
            match (
                from.as_deref().unwrap_or("0").parse::<u64>(),
                to.as_deref().map(str::parse::<u64>).transpose(),
            ) {
                (Ok(from), Ok(to)) => history::diff(state.events.as_ref(), &negotiation, from, to)
                    .await
                    .map_err(|e| e.to_string()),
                _ => Err("from and to must be whole numbers".to_owned()),
            },
        ),
    };
    let page = pages::audit::AuditPage {
        ctx: &ctx,
        negotiation: &negotiation,
        events: &events,
        verify: verify.map_err(|e| e.to_string()),
        query: &query,
        as_of,
        diff,
    };
    html(StatusCode::OK, page.render())
}

/// An instant from a form: RFC 3339, or a `datetime-local` picker's
/// `YYYY-MM-DDTHH:MM[:SS]`, read as UTC.
fn parse_picker_instant(raw: &str) -> Result<chrono::DateTime<Utc>, String> {
    if let Ok(t) = roundtable_app::parse_instant(raw) {
        return Ok(t);
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(raw, format) {
            return Ok(t.and_utc());
        }
    }
    Err(format!(
        "at: {raw:?} is not a date and time such as 2027-05-04T08:30"
    ))
}

/// `?token=...` of a sign-in link.
#[derive(Debug, Deserialize)]
pub(crate) struct LinkQuery {
    #[serde(default)]
    token: Option<String>,
}

pub(crate) async fn sign_in_page(
    State(state): State<WebState>,
    Query(query): Query<LinkQuery>,
    headers: HeaderMap,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/sign-in".to_owned());
    let token = query.token;
    let mut r = html(
        StatusCode::OK,
        pages::sign_in::page(&ctx, token.as_deref(), None),
    );
    // The token must not leak to another site through the Referer header. (Not
    // `no-referrer`: with it the browser sends `Origin: null` with the form's post.)
    r.headers_mut()
        .insert("referrer-policy", HeaderValue::from_static("same-origin"));
    r
}

pub(crate) async fn sign_in(
    State(state): State<WebState>,
    headers: HeaderMap,
    Form(fields): Form<HashMap<String, String>>,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/sign-in".to_owned());
    if !same_origin(&headers) {
        return error(&ctx, StatusCode::FORBIDDEN, &ctx.i18n.t("error-csrf"));
    }
    let token = fields.get("token").map_or("", |t| t.trim());
    let refused = |message: String| {
        html(
            StatusCode::UNAUTHORIZED,
            pages::sign_in::page(&ctx, None, Some(&message)),
        )
    };
    let (principal, expires_at) = match state.links.verify(token).await {
        Ok(ok) => ok,
        Err(m) => return refused(m),
    };
    if state.sessions.use_link(token, expires_at).is_err() {
        return refused(ctx.i18n.t("sign-in-used"));
    }
    start_session(&state, &headers, principal, expires_at)
}

fn start_session(
    state: &WebState,
    headers: &HeaderMap,
    principal: Principal,
    expires_at: u64,
) -> Response {
    let to = match &principal {
        Principal::Partner { negotiation, .. } => format!("/negotiations/{negotiation}"),
        p if p.is_reader() => match p.negotiation() {
            Some(n) => format!("/negotiations/{n}/audit"),
            None => "/".to_owned(),
        },
        p => match p.negotiation() {
            Some(n) => format!("/negotiations/{n}"),
            None => "/".to_owned(),
        },
    };
    let id = state.sessions.start(principal, expires_at);
    let mut r = see_other(&to);
    let cookie = session::session_cookie(&id, expires_at, session::is_https(headers));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(SET_COOKIE, v);
    }
    r
}

/// How long a development-mode session lasts: 12 hours.
const DEV_SESSION_SECS: u64 = 12 * 3600;

pub(crate) async fn sign_in_dev(
    State(state): State<WebState>,
    headers: HeaderMap,
    Form(fields): Form<HashMap<String, String>>,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/sign-in".to_owned());
    if !state.development {
        return error(
            &ctx,
            StatusCode::NOT_FOUND,
            &ctx.i18n.t("error-no-dev-mode"),
        );
    }
    if !same_origin(&headers) {
        return error(&ctx, StatusCode::FORBIDDEN, &ctx.i18n.t("error-csrf"));
    }
    let get = |k: &str| fields.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let negotiation = match get("negotiation").map(NegotiationId::new).transpose() {
        Ok(n) => n,
        Err(e) => {
            return html(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::sign_in::page(&ctx, None, Some(&format!("negotiation: {e}"))),
            );
        }
    };
    let principal = match (get("role"), get("partner"), negotiation) {
        (Some("partner"), Some(p), Some(negotiation)) => match roundtable_domain::PartnerId::new(p)
        {
            Ok(partner) => Principal::Partner {
                negotiation,
                partner,
            },
            Err(e) => {
                return html(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    pages::sign_in::page(&ctx, None, Some(&format!("partner: {e}"))),
                );
            }
        },
        (Some("partner"), _, _) => {
            return html(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::sign_in::page(&ctx, None, Some(&ctx.i18n.t("sign-in-dev-partner-needs"))),
            );
        }
        (Some("auditor"), _, negotiation) => Principal::Auditor { negotiation },
        (_, _, negotiation) => Principal::Secretariat { negotiation },
    };
    start_session(
        &state,
        &headers,
        principal,
        session::unix_now() + DEV_SESSION_SECS,
    )
}

pub(crate) async fn sign_out(
    State(state): State<WebState>,
    headers: HeaderMap,
    Form(fields): Form<HashMap<String, String>>,
) -> Response {
    let ctx = Ctx::new(&state, &headers, "/".to_owned());
    if let Err(r) = checked_post(&ctx, &headers, fields.get("csrf")) {
        return *r;
    }
    if let Some((id, _)) = &ctx.session {
        state.sessions.end(id);
    }
    let mut r = see_other("/");
    if let Ok(v) = HeaderValue::from_str(&session::cleared_cookie()) {
        r.headers_mut().insert(SET_COOKIE, v);
    }
    r
}

/// `?back=/path`: where the language switch returns to.
#[derive(Debug, Deserialize)]
pub(crate) struct LangQuery {
    #[serde(default)]
    back: Option<String>,
}

pub(crate) async fn lang(Path(code): Path<String>, Query(query): Query<LangQuery>) -> Response {
    let back = query
        .back
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/".to_owned());
    let mut r = see_other(&back);
    if let Some(lang) = Lang::from_code(&code) {
        let cookie = format!(
            "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
            lang.code()
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            r.headers_mut().insert(SET_COOKIE, v);
        }
    }
    r
}

/// The stylesheet.
pub(crate) const STYLE: &str = include_str!("../assets/style.css");
/// The script that keeps a negotiation's page live.
pub(crate) const SCRIPT: &str = include_str!("../assets/live.js");

/// The stylesheet as served: the tokens shared with the audit report, then the web
/// app's own rules.
static SERVED_STYLE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{}\n{STYLE}", roundtable_audit::STYLE_TOKENS));

pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "style.css" => (SERVED_STYLE.as_str(), "text/css; charset=utf-8"),
        "live.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        body,
    )
        .into_response()
}
