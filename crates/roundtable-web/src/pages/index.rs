//! `/`: the negotiations a session may read, and the secretariat's form to open one.

use maud::{Markup, html};
use roundtable_domain::AgreementView;
use roundtable_domain::view::NegotiationStatus;
use roundtable_domain::vocab::DecisionRule;

use crate::Principal;
use crate::pages::{layout, rule};
use crate::routes::{Ctx, FormError};

pub(crate) fn signed_out(ctx: &Ctx) -> Markup {
    crate::pages::sign_in::page(ctx, None, None)
}

pub(crate) fn page(
    ctx: &Ctx,
    principal: &Principal,
    views: &[AgreementView],
    form: Option<&FormError>,
) -> Markup {
    let t = |k: &str| ctx.i18n.t(k);
    let title = t("negotiations-title");
    let kept = |name: &str| form.map_or(String::new(), |f| f.input.get(name).to_owned());
    layout(
        ctx,
        &title,
        html! {
            h1 { (title) }
            @if views.is_empty() {
                p { (t("negotiations-none")) }
            } @else {
                ul.cards {
                    @for v in views {
                        li.card {
                            h2 { a href={ "/negotiations/" (v.negotiation_id) } { (v.title) } }
                            p.meta {
                                code { (v.negotiation_id) } " · " (v.service) " · " (rule(ctx, v.decision_rule)) " · "
                                @match v.status {
                                    NegotiationStatus::Open => (t("status-open")),
                                    NegotiationStatus::Concluded => (t("status-concluded")),
                                    NegotiationStatus::Renegotiating => (t("status-renegotiating")),
                                    NegotiationStatus::Terminated => (t("status-terminated")),
                                }
                            }
                            p.meta { (ctx.i18n.args("negotiation-counts", &[
                                ("partners", &v.partners.len().to_string()),
                                ("clauses", &v.clauses.len().to_string()),
                                ("version", &v.agreement_version.to_string()),
                            ])) }
                        }
                    }
                }
            }
            @if matches!(principal, Principal::Secretariat { .. }) {
                section aria-labelledby="open-title" {
                    h2 #open-title { (t("open-title")) }
                    form.card #open_negotiation method="post" action="/negotiations" {
                        @if let Some(f) = form.filter(|f| f.key == "open_negotiation") {
                            p.error role="alert" #open-error { (f.message) }
                        }
                        input type="hidden" name="csrf" value=(ctx.csrf());
                        input type="hidden" name="action" value="open_negotiation";
                        div.field {
                            label for="open-id" { (t("field-negotiation-id")) }
                            input #open-id name="negotiation_id" required autocomplete="off" value=(if form.is_some() { kept("negotiation_id") } else { principal.negotiation().map(|n| n.to_string()).unwrap_or_default() });
                        }
                        div.field {
                            label for="open-title-input" { (t("field-title")) }
                            input #open-title-input name="title" required value=(kept("title"));
                        }
                        div.field {
                            label for="open-service" { (t("field-service")) }
                            input #open-service name="service" required value=(kept("service"));
                        }
                        div.field {
                            label for="open-rule" { (t("field-decision-rule")) }
                            select #open-rule name="decision_rule" {
                                @for r in [DecisionRule::Consent, DecisionRule::CrossSectorConsent, DecisionRule::Unanimity] {
                                    option value=(r.as_str()) selected[kept("decision_rule") == r.as_str()] { (rule(ctx, r)) }
                                }
                            }
                        }
                        button type="submit" { (t("open-button")) }
                    }
                }
            }
        },
        None,
    )
}
