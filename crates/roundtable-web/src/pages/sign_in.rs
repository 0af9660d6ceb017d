//! The sign-in page: a one-time link's confirmation button, or (development mode) a
//! form to pick who to act as.

use maud::{Markup, html};

use crate::pages::layout;
use crate::routes::Ctx;

pub(crate) fn page(ctx: &Ctx, token: Option<&str>, refused: Option<&str>) -> Markup {
    let t = |k: &str| ctx.i18n.t(k);
    let title = t("sign-in-title");
    layout(
        ctx,
        &title,
        html! {
            h1 { (title) }
            @if let Some(m) = refused {
                p.error role="alert" { (m) }
            }
            @if let Some(token) = token {
                form.card method="post" action="/sign-in" {
                    p { (t("sign-in-confirm")) }
                    input type="hidden" name="token" value=(token);
                    button type="submit" { (t("sign-in-button")) }
                }
            } @else {
                p { (t("sign-in-ask")) }
            }
            @if ctx.development {
                form.card method="post" action="/sign-in/dev" {
                    h2 { (t("sign-in-dev-title")) }
                    p.warning { (t("sign-in-dev-warning")) }
                    div.field {
                        label for="dev-role" { (t("field-role")) }
                        select #dev-role name="role" {
                            option value="secretariat" { (t("who-role-secretariat")) }
                            option value="partner" { (t("who-role-partner")) }
                            option value="auditor" { (t("who-role-auditor")) }
                        }
                    }
                    div.field {
                        label for="dev-negotiation" { (t("field-negotiation-id")) " " span.hint { (t("optional")) } }
                        input #dev-negotiation name="negotiation" autocomplete="off";
                    }
                    div.field {
                        label for="dev-partner" { (t("field-partner-id")) " " span.hint { (t("sign-in-dev-partner-hint")) } }
                        input #dev-partner name="partner" autocomplete="off";
                    }
                    button type="submit" { (t("sign-in-button")) }
                }
            }
        },
        None,
    )
}
