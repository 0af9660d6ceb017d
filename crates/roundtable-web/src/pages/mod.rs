//! The pages, one module each, over one layout. Every section of a page is its own
//! function, so that the sections contract version 2 adds (rounds, assets, delivery,
//! shortfalls, partners leaving, termination) slot in beside the others.

pub(crate) mod audit;
pub(crate) mod clause;
pub(crate) mod index;
pub(crate) mod negotiation;
pub(crate) mod sign_in;

use axum::http::StatusCode;
use maud::{DOCTYPE, Markup, html};
use roundtable_domain::vocab::{CommitmentKind, DecisionRule, PartnerKind, Role, Sector};

use crate::Principal;
use crate::i18n::Lang;
use crate::routes::Ctx;

/// The page around `body`: skip link, header (sign-out, language switch), `main`.
pub(crate) fn layout(ctx: &Ctx, title: &str, body: Markup, live: Option<(&str, u64)>) -> Markup {
    let t = |k: &str| ctx.i18n.t(k);
    html! {
        (DOCTYPE)
        html lang=(ctx.i18n.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (t("app-name")) }
                link rel="stylesheet" href="/assets/style.css";
                @if live.is_some() {
                    script src="/assets/live.js" defer {}
                }
            }
            body {
                a.skip href="#main" { (t("skip-to-content")) }
                header.site {
                    div.bar {
                        a.brand href="/" { (t("app-name")) }
                        nav aria-label=(t("nav-language")) {
                            ul.langs {
                                @for lang in Lang::ALL {
                                    li {
                                        @if lang == ctx.i18n.lang {
                                            span aria-current="true" lang=(lang.code()) { (lang.endonym()) }
                                        } @else {
                                            a href={ "/lang/" (lang.code()) "?back=" (ctx.path) } lang=(lang.code()) hreflang=(lang.code()) { (lang.endonym()) }
                                        }
                                    }
                                }
                            }
                        }
                        @if let Some(p) = ctx.principal() {
                            form.signout method="post" action="/sign-out" {
                                span.who { (t("signed-in-as")) " " strong { (describe(ctx, p)) } }
                                input type="hidden" name="csrf" value=(ctx.csrf());
                                button type="submit" { (t("sign-out")) }
                            }
                        }
                    }
                }
                main #main tabindex="-1" {
                    @if let Some((id, version)) = live {
                        div #live data-negotiation=(id) data-version=(version) data-changed=(t("live-changed")) {
                            (body)
                        }
                        p #live-status.status role="status" aria-live="polite" data-refresh=(t("live-refresh")) {}
                    } @else {
                        (body)
                    }
                }
            }
        }
    }
}

/// The principal in words, in the page's language.
pub(crate) fn describe(ctx: &Ctx, p: &Principal) -> String {
    let scope = p.negotiation().map(|n| n.as_str().to_owned());
    let scope = scope.unwrap_or_else(|| ctx.i18n.t("scope-all"));
    match p {
        Principal::Secretariat { .. } => ctx.i18n.args("who-secretariat", &[("scope", &scope)]),
        Principal::Partner { partner, .. } => ctx.i18n.args(
            "who-partner",
            &[("partner", partner.as_str()), ("scope", &scope)],
        ),
        Principal::Auditor { .. } => ctx.i18n.args("who-auditor", &[("scope", &scope)]),
        Principal::Integration { .. } => ctx.i18n.args("who-integration", &[("scope", &scope)]),
    }
}

/// A page saying what went wrong.
pub(crate) fn error_page(ctx: &Ctx, status: StatusCode, message: &str) -> Markup {
    let title = ctx.i18n.t("error-title");
    layout(
        ctx,
        &title,
        html! {
            h1 { (title) }
            p.error role="alert" { (message) }
            p { small { "HTTP " (status.as_u16()) } }
            @if ctx.principal().is_none() {
                p { (ctx.i18n.t("sign-in-ask")) }
            }
            p { a href="/" { (ctx.i18n.t("back-home")) } }
        },
        None,
    )
}

/// The name of a vocabulary word in the page's language (`sector-civil_society`).
pub(crate) fn word(ctx: &Ctx, family: &str, w: &str) -> String {
    ctx.i18n.t(&format!("{family}-{w}"))
}

pub(crate) fn sector(ctx: &Ctx, s: Sector) -> String {
    word(ctx, "sector", s.as_str())
}

pub(crate) fn kind(ctx: &Ctx, k: PartnerKind) -> String {
    word(ctx, "kind", k.as_str())
}

pub(crate) fn role(ctx: &Ctx, r: Role) -> String {
    word(ctx, "role", r.as_str())
}

pub(crate) fn rule(ctx: &Ctx, r: DecisionRule) -> String {
    word(ctx, "rule", r.as_str())
}

pub(crate) fn commitment_kind(ctx: &Ctx, k: CommitmentKind) -> String {
    word(ctx, "commitment", k.as_str())
}

/// Every partner kind, in the order of DOMAIN.md.
pub(crate) const KINDS: [PartnerKind; 13] = [
    PartnerKind::Municipality,
    PartnerKind::NationalGovernment,
    PartnerKind::Regulator,
    PartnerKind::PublicUtility,
    PartnerKind::InternationalOperator,
    PartnerKind::NationalFirm,
    PartnerKind::SmallScaleProvider,
    PartnerKind::Ngo,
    PartnerKind::CommunityOrganisation,
    PartnerKind::ConsumerGroup,
    PartnerKind::TradeUnion,
    PartnerKind::Donor,
    PartnerKind::Consultant,
];

/// Every commitment kind.
pub(crate) const COMMITMENT_KINDS: [CommitmentKind; 7] = [
    CommitmentKind::Finance,
    CommitmentKind::InKind,
    CommitmentKind::Staff,
    CommitmentKind::ServiceDelivery,
    CommitmentKind::Regulatory,
    CommitmentKind::Monitoring,
    CommitmentKind::Other,
];
