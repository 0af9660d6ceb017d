//! `/negotiations/{id}/audit`: the auditor's page. The timeline of every event (who,
//! what, both clocks), the agreement as of a version or an instant, a diff between two
//! versions, the live verification, and the downloads (the API's routes, which accept
//! the session for reading).

use maud::{Markup, html};
use roundtable_app::history::{Changes, PointInTime};
use roundtable_audit::VerifyReport;
use roundtable_audit::diff::WordOp;
use roundtable_audit::verify::CheckOutcome;
use roundtable_domain::{NegotiationId, RecordedEvent};

use crate::pages::layout;
use crate::routes::{AuditQuery, Ctx};

/// The most events the timeline lists at once (the newest).
const TIMELINE_MAX: usize = 500;

pub(crate) struct AuditPage<'a> {
    pub(crate) ctx: &'a Ctx,
    pub(crate) negotiation: &'a NegotiationId,
    pub(crate) events: &'a [RecordedEvent],
    pub(crate) verify: Result<VerifyReport, String>,
    pub(crate) query: &'a AuditQuery,
    pub(crate) as_of: Option<Result<PointInTime, String>>,
    pub(crate) diff: Option<Result<Changes, String>>,
}

impl AuditPage<'_> {
    fn t(&self, k: &str) -> String {
        self.ctx.i18n.t(k)
    }

    pub(crate) fn render(&self) -> Markup {
        let title = self
            .ctx
            .i18n
            .args("audit-title", &[("id", self.negotiation.as_str())]);
        layout(
            self.ctx,
            &title,
            html! {
                h1 { (title) }
                p { a href={ "/negotiations/" (self.negotiation) } { (self.t("audit-back")) } }
                (self.verification())
                (self.downloads())
                (self.point_in_time())
                (self.diff())
                (self.timeline())
            },
            None,
        )
    }

    fn verification(&self) -> Markup {
        html! {
            section aria-labelledby="verify-title" {
                h2 #verify-title { (self.t("verify-title")) }
                @match &self.verify {
                    Err(m) => p.error role="alert" { (m) },
                    Ok(r) => {
                        @if r.ok {
                            p.ok { (self.ctx.i18n.args("verify-ok", &[("events", &r.events.to_string()), ("signatures", &r.signatures_verified.to_string())])) }
                        } @else {
                            p.error role="alert" { (self.t("verify-failed")) }
                        }
                        ul.checks {
                            @for c in &r.checks {
                                li {
                                    @match c.outcome {
                                        CheckOutcome::Passed => span.yes { (self.t("check-passed")) },
                                        CheckOutcome::Failed => span.block { (self.t("check-failed")) },
                                        CheckOutcome::Skipped => span.tag { (self.t("check-skipped")) },
                                    }
                                    " " strong { (c.name) } ": " (c.detail)
                                }
                            }
                        }
                        @if let Some(hash) = &r.last_hash { p.meta { (self.t("verify-last-hash")) ": " code.hash { (hash) } } }
                    }
                }
            }
        }
    }

    fn downloads(&self) -> Markup {
        let base = format!("/v1/negotiations/{}", self.negotiation);
        html! {
            section aria-labelledby="downloads-title" {
                h2 #downloads-title { (self.t("downloads-title")) }
                ul {
                    li { a href={ (base) "/export" } download={ (self.negotiation) ".export.jsonl" } { (self.t("download-export")) } }
                    li { a href={ (base) "/report" } { (self.t("download-report")) } }
                    li { a href={ (base) "/ocds" } download={ (self.negotiation) ".ocds.json" } { (self.t("download-ocds")) } }
                    li { a href={ (base) "/ocds?compiled=true" } download={ (self.negotiation) ".ocds-record.json" } { (self.t("download-ocds-record")) } }
                }
            }
        }
    }

    fn point_in_time(&self) -> Markup {
        let last = self.events.len();
        html! {
            section aria-labelledby="asof-title" {
                h2 #asof-title { (self.t("asof-title")) }
                form.card method="get" action={ "/negotiations/" (self.negotiation) "/audit" } #asof {
                    div.row {
                        div.field {
                            label for="asof-version" { (self.t("field-version")) }
                            input #asof-version name="version" type="number" min="1" max=(last) value=(self.query.version.clone().unwrap_or_default());
                        }
                        div.field {
                            label for="asof-at" { (self.t("field-instant")) }
                            input #asof-at name="at" type="datetime-local" step="1" value=(self.query.at.clone().unwrap_or_default());
                        }
                    }
                    p.hint { (self.t("asof-hint")) }
                    button type="submit" { (self.t("asof-button")) }
                }
                @match &self.as_of {
                    None => {},
                    Some(Err(m)) => p.error role="alert" { (m) },
                    Some(Ok(p)) => {
                        h3 { (self.ctx.i18n.args("asof-at-version", &[("version", &p.version.to_string()), ("agreement", &p.view.agreement_version.to_string())])) }
                        @if !p.late_entries.is_empty() {
                            p.warning { (self.ctx.i18n.args("asof-late", &[("versions", &p.late_entries.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))])) }
                        }
                        @if p.view.clauses.is_empty() { p { (self.t("agreement-none")) } }
                        @for c in p.view.clauses.values() {
                            article.clause {
                                h4 { code { (c.clause_id) } " · " (self.ctx.i18n.args("clause-version", &[("version", &c.version.to_string())])) }
                                p.text { (c.text) }
                            }
                        }
                        p.meta { (self.ctx.i18n.args("asof-counts", &[
                            ("partners", &p.view.partners.len().to_string()),
                            ("proposals", &p.view.proposals.len().to_string()),
                            ("commitments", &p.view.commitments.len().to_string()),
                            ("signatures", &p.view.signatures.len().to_string()),
                        ])) }
                    }
                }
            }
        }
    }

    fn diff(&self) -> Markup {
        let last = self.events.len();
        html! {
            section aria-labelledby="diff-title" {
                h2 #diff-title { (self.t("diff-title")) }
                form.card method="get" action={ "/negotiations/" (self.negotiation) "/audit" } #diff {
                    div.row {
                        div.field {
                            label for="diff-from" { (self.t("field-from")) }
                            input #diff-from name="from" type="number" min="0" max=(last) value=(self.query.from.clone().unwrap_or_default());
                        }
                        div.field {
                            label for="diff-to" { (self.t("field-to")) }
                            input #diff-to name="to" type="number" min="1" max=(last) value=(self.query.to.clone().unwrap_or_default());
                        }
                    }
                    button type="submit" { (self.t("diff-button")) }
                }
                @match &self.diff {
                    None => {},
                    Some(Err(m)) => p.error role="alert" { (m) },
                    Some(Ok(c)) => {
                        h3 { (self.ctx.i18n.args("diff-between", &[("from", &c.from.to_string()), ("to", &c.to.to_string())])) }
                        @let d = &c.diff;
                        ul {
                            li { (self.ctx.i18n.args("diff-partners", &[("n", &d.partners_admitted.len().to_string())])) }
                            li { (self.ctx.i18n.args("diff-proposals", &[("n", &d.proposals.len().to_string())])) }
                            li { (self.ctx.i18n.args("diff-objections", &[("n", &d.objections.len().to_string())])) }
                            li { (self.ctx.i18n.args("diff-commitments", &[("made", &d.commitments_made.len().to_string()), ("withdrawn", &d.commitments_withdrawn.len().to_string())])) }
                            li { (self.ctx.i18n.args("diff-signatures", &[("n", &d.signatures_gained.len().to_string())])) }
                        }
                        @for a in &d.clauses_added {
                            article.clause {
                                h4 { (self.t("diff-clause-added")) " " code { (a.clause_id) } }
                                p.text { ins { (a.text) } }
                            }
                        }
                        @for ch in &d.clauses_changed {
                            article.clause {
                                h4 { (self.t("diff-clause-changed")) " " code { (ch.clause_id) } }
                                p.meta { (self.ctx.i18n.args("diff-clause-versions", &[("from", &ch.from_version.to_string()), ("to", &ch.to_version.to_string())])) }
                                p.text {
                                    @for w in &ch.words {
                                        @match w.op {
                                            WordOp::Equal => span { (w.text) },
                                            WordOp::Deleted => del { (w.text) },
                                            WordOp::Inserted => ins { (w.text) },
                                        }
                                    }
                                }
                            }
                        }
                        details {
                            summary { (self.t("diff-json")) }
                            pre.json { (serde_json::to_string_pretty(d).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    }

    fn timeline(&self) -> Markup {
        let skip = self.events.len().saturating_sub(TIMELINE_MAX);
        html! {
            section aria-labelledby="timeline-title" {
                h2 #timeline-title { (self.t("timeline-title")) }
                @if skip > 0 { p.hint { (self.ctx.i18n.args("timeline-newest", &[("n", &TIMELINE_MAX.to_string())])) } }
                ol.timeline {
                    @for e in self.events.iter().skip(skip) {
                        li {
                            p { strong { "v" (e.version) " · " (e.event.body.type_name()) } " · " (e.event.actor.as_str()) }
                            p.meta {
                                (self.t("clock-occurred")) ": " time datetime=(e.occurred_at.to_rfc3339()) { (self.ctx.i18n.datetime(e.occurred_at)) }
                                " · " (self.t("clock-recorded")) ": " time datetime=(e.recorded_at.to_rfc3339()) { (self.ctx.i18n.datetime(e.recorded_at)) }
                            }
                            p.meta { (summary(e)) }
                        }
                    }
                }
            }
        }
    }
}

/// The event's ids and short fields, as recorded (no long text).
fn summary(e: &RecordedEvent) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(&e.event.body) else {
        return String::new();
    };
    map.iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "text" | "rationale" | "grounds" | "description" | "reason" | "note" | "type"
            )
        })
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) if s.len() <= 80 => Some(format!("{k}: {s}")),
            serde_json::Value::Number(n) => Some(format!("{k}: {n}")),
            serde_json::Value::Bool(b) => Some(format!("{k}: {b}")),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" · ")
}
