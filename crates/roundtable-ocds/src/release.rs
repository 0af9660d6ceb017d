//! The releases of one negotiation: one at each milestone, each a snapshot of the
//! agreement as it stood then, mapped to OCDS (docs/OCDS.md, "Releases").
//!
//! | milestone | tag |
//! | --- | --- |
//! | the opening (the negotiation opened and the partners admitted with it) | `tender` |
//! | a clause agreed for the first time | `tenderUpdate` |
//! | a clause agreed again, or any change to the agreement once signing has begun | `tenderAmendment`, with an entry in `tender.amendments` |
//! | the conclusion | `award`, `contract` |

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use roundtable_domain::event::EventBody;
use roundtable_domain::view::{CommitmentStatus, NegotiationStatus, Partner};
use roundtable_domain::vocab::{CommitmentKind, PartnerKind, Sector};
use roundtable_domain::{AgreementView, ClauseId, Projection, RecordedEvent};
use serde_json::{Map, Value, json};

use crate::OcdsError;
use crate::parties::{party, reference};

/// A release's `date`: RFC 3339 in UTC to the second, so that dates sort as strings.
pub(crate) fn release_date(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// What a release marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Milestone {
    Opening,
    ClauseAgreed,
    Amendment,
    Conclusion,
}

/// An adoption, for the tender's milestones and the clause documents.
#[derive(Debug, Clone)]
struct Adoption {
    proposal_id: String,
    clause_id: String,
    clause_version: u32,
    date: String,
}

/// What the releases so far have said, carried into the next snapshot.
#[derive(Debug, Default)]
struct History {
    opened: String,
    adoptions: Vec<Adoption>,
    /// When each clause was first agreed.
    first_agreed: HashMap<ClauseId, String>,
    amendments: Vec<Value>,
    last_release: Option<String>,
    /// A signature has been recorded: a later change to the agreement is an amendment.
    signing_begun: bool,
    /// The date of the last signature, per agreement version.
    signed_at: HashMap<u64, String>,
}

/// The releases of `events` (one negotiation, in version order) under `ocid`.
///
/// # Errors
/// [`OcdsError::Chain`] when the events do not fold (a gap, a broken hash chain, or
/// events of two negotiations); [`OcdsError::NoEvents`] for none.
pub fn releases(events: &[RecordedEvent], ocid: &str) -> Result<Vec<Value>, OcdsError> {
    if events.is_empty() {
        return Err(OcdsError::NoEvents);
    }
    let mut projection = Projection::new();
    let mut history = History::default();
    let mut out = Vec::new();
    let mut latest: Option<DateTime<Utc>> = None;
    let mut opened = false;
    for (i, event) in events.iter().enumerate() {
        let before = projection.view.as_ref().map(|v| v.agreement_version);
        projection.apply(event).map_err(OcdsError::Chain)?;
        let Some(view) = projection.view.as_ref() else {
            continue;
        };
        // Business time, never going back: releases are merged in date order.
        let at = latest.map_or(event.occurred_at, |l| l.max(event.occurred_at));
        latest = Some(at);
        let date = release_date(&at);
        let milestone = match &event.event.body {
            EventBody::NegotiationOpened(_) => {
                history.opened.clone_from(&date);
                None
            }
            EventBody::ProposalAdopted(a) => {
                let amendment = a.clause_version > 1 || history.signing_begun;
                if amendment {
                    let what = if a.clause_version > 1 {
                        format!(
                            "clause {} agreed again (version {}) from proposal {}",
                            a.clause_id, a.clause_version, a.proposal_id
                        )
                    } else {
                        format!(
                            "clause {} agreed (version 1) from proposal {} after signing had begun",
                            a.clause_id, a.proposal_id
                        )
                    };
                    push_amendment(&mut history, ocid, event.version, &date, what, before, view);
                }
                history
                    .first_agreed
                    .entry(a.clause_id.clone())
                    .or_insert_with(|| date.clone());
                history.adoptions.push(Adoption {
                    proposal_id: a.proposal_id.to_string(),
                    clause_id: a.clause_id.to_string(),
                    clause_version: a.clause_version,
                    date: date.clone(),
                });
                Some(if amendment {
                    Milestone::Amendment
                } else {
                    Milestone::ClauseAgreed
                })
            }
            EventBody::CommitmentMade(c) if history.signing_begun => {
                let what = format!(
                    "commitment {} ({}) made by {} after signing had begun",
                    c.commitment_id, c.kind, event.event.actor
                );
                push_amendment(&mut history, ocid, event.version, &date, what, before, view);
                Some(Milestone::Amendment)
            }
            EventBody::CommitmentWithdrawn(c) if history.signing_begun => {
                let what = format!(
                    "commitment {} withdrawn by {} after signing had begun: {}",
                    c.commitment_id, event.event.actor, c.reason
                );
                push_amendment(&mut history, ocid, event.version, &date, what, before, view);
                Some(Milestone::Amendment)
            }
            EventBody::AgreementSigned(s) => {
                history.signing_begun = true;
                history.signed_at.insert(s.agreement_version, date.clone());
                None
            }
            EventBody::NegotiationConcluded(_) => Some(Milestone::Conclusion),
            _ => None,
        };
        // The opening release comes after the admissions that follow the opening.
        let opening_done = !opened
            && !matches!(
                events.get(i + 1).map(|e| &e.event.body),
                Some(EventBody::PartnerAdmitted(_))
            );
        let milestone = match milestone {
            None if opening_done => Some(Milestone::Opening),
            other => other,
        };
        if opening_done && milestone != Some(Milestone::Opening) {
            // A milestone came before the opening's release could (no admissions): the
            // opening is released first, at the same version.
            out.push(snapshot(
                view,
                &history,
                ocid,
                event.version,
                &date,
                Milestone::Opening,
            ));
            history.last_release = Some(release_id(ocid, event.version, Milestone::Opening));
        }
        opened |= opening_done;
        if let Some(m) = milestone {
            out.push(snapshot(view, &history, ocid, event.version, &date, m));
            history.last_release = Some(release_id(ocid, event.version, m));
        }
    }
    Ok(out)
}

fn release_id(ocid: &str, version: u64, milestone: Milestone) -> String {
    match milestone {
        Milestone::Opening => format!("{ocid}-v{version}-opening"),
        _ => format!("{ocid}-v{version}"),
    }
}

fn push_amendment(
    history: &mut History,
    ocid: &str,
    version: u64,
    date: &str,
    what: String,
    before: Option<u64>,
    view: &AgreementView,
) {
    let mut amendment = Map::new();
    amendment.insert(
        "id".into(),
        Value::String(format!("amendment-{}", history.amendments.len() + 1)),
    );
    amendment.insert("date".into(), Value::String(date.to_owned()));
    let stale = match before {
        Some(b) if b != view.agreement_version && history.signing_begun => format!(
            "; the agreement moved from version {b} to {}, so signatures made at version {b} no longer count",
            view.agreement_version
        ),
        _ => String::new(),
    };
    amendment.insert(
        "description".into(),
        Value::String(format!("{what}{stale}")),
    );
    if let Some(previous) = &history.last_release {
        amendment.insert("amendsReleaseID".into(), Value::String(previous.clone()));
    }
    amendment.insert(
        "releaseID".into(),
        Value::String(release_id(ocid, version, Milestone::Amendment)),
    );
    history.amendments.push(Value::Object(amendment));
}

/// The first partner (in admission order) whose kind is in `kinds`, among signatories.
fn first_of<'a>(view: &'a AgreementView, kinds: &[PartnerKind]) -> Option<&'a Partner> {
    view.signatories().find(|p| kinds.contains(&p.kind))
}

fn snapshot(
    view: &AgreementView,
    history: &History,
    ocid: &str,
    version: u64,
    date: &str,
    milestone: Milestone,
) -> Value {
    use PartnerKind::*;
    let tag: &[&str] = match milestone {
        Milestone::Opening => &["tender"],
        Milestone::ClauseAgreed => &["tenderUpdate"],
        Milestone::Amendment => &["tenderAmendment"],
        Milestone::Conclusion => &["award", "contract"],
    };
    let mut release = Map::new();
    release.insert("ocid".into(), json!(ocid));
    release.insert("id".into(), json!(release_id(ocid, version, milestone)));
    release.insert("date".into(), json!(date));
    release.insert("tag".into(), json!(tag));
    release.insert("initiationType".into(), json!("tender"));
    release.insert("language".into(), json!("en"));
    let parties: Vec<Value> = view.partners.values().map(party).collect();
    if !parties.is_empty() {
        release.insert("parties".into(), Value::Array(parties));
    }
    let buyer = first_of(view, &[Municipality, NationalGovernment]);
    if let Some(b) = buyer {
        release.insert("buyer".into(), reference(b));
    }
    release.insert(
        "planning".into(),
        json!({"rationale": format!(
            "A partnership agreement for the municipal service {}, negotiated with the partners it must bring together (Roundtable, decision rule {}).",
            view.service, view.decision_rule
        )}),
    );
    release.insert("tender".into(), tender(view, history, milestone));
    if milestone == Milestone::Conclusion && view.status == NegotiationStatus::Concluded {
        let award_id = format!("{}-award", view.negotiation_id);
        let suppliers: Vec<Value> = view
            .signatories()
            .filter(|p| p.sector == Sector::PrivateSector)
            .map(reference)
            .collect();
        let mut award = Map::new();
        award.insert("id".into(), json!(award_id));
        award.insert("title".into(), json!(view.title));
        award.insert("status".into(), json!("active"));
        award.insert("date".into(), json!(date));
        if !suppliers.is_empty() {
            award.insert("suppliers".into(), Value::Array(suppliers));
        }
        release.insert("awards".into(), json!([award]));
        release.insert(
            "contracts".into(),
            json!([contract(view, history, &award_id)]),
        );
    }
    Value::Object(release)
}

fn tender(view: &AgreementView, history: &History, milestone: Milestone) -> Value {
    use PartnerKind::*;
    let mut tender = Map::new();
    tender.insert("id".into(), json!(view.negotiation_id.as_str()));
    tender.insert("title".into(), json!(view.title));
    tender.insert(
        "status".into(),
        json!(if milestone == Milestone::Conclusion {
            "complete"
        } else {
            "active"
        }),
    );
    if let Some(p) = first_of(view, &[Municipality, NationalGovernment, PublicUtility]) {
        tender.insert("procuringEntity".into(), reference(p));
    }
    tender.insert("procurementMethod".into(), json!("limited"));
    tender.insert(
        "procurementMethodDetails".into(),
        json!(format!(
            "Partnership negotiation convened by a secretariat: the admitted partners propose, endorse and object to clause texts, which are adopted under the decision rule {}, then sign.",
            view.decision_rule
        )),
    );
    let mut milestones = vec![json!({
        "id": "opening",
        "title": "Negotiation opened",
        "type": "engagement",
        "dateMet": history.opened,
        "status": "met",
    })];
    for a in &history.adoptions {
        milestones.push(json!({
            "id": format!("adoption-{}", a.proposal_id),
            "title": format!("Clause {} agreed (version {})", a.clause_id, a.clause_version),
            "description": format!("Proposal {} adopted as the agreed text of clause {}.", a.proposal_id, a.clause_id),
            "type": "approval",
            "dateMet": a.date,
            "status": "met",
        }));
    }
    tender.insert("milestones".into(), Value::Array(milestones));
    let documents: Vec<Value> = clause_documents(view, history, "contractDraft");
    if !documents.is_empty() {
        tender.insert("documents".into(), Value::Array(documents));
    }
    if !history.amendments.is_empty() {
        tender.insert(
            "amendments".into(),
            Value::Array(history.amendments.clone()),
        );
    }
    Value::Object(tender)
}

/// One document per agreed clause, its text in `description`.
fn clause_documents(view: &AgreementView, history: &History, kind: &str) -> Vec<Value> {
    view.clauses
        .values()
        .map(|c| {
            let title = view
                .proposals
                .get(&c.adopted_from)
                .and_then(|p| p.title.as_deref());
            let last = history
                .adoptions
                .iter()
                .rev()
                .find(|a| a.clause_id == c.clause_id.as_str())
                .map(|a| a.date.clone());
            let mut doc = Map::new();
            doc.insert("id".into(), json!(format!("clause-{}", c.clause_id)));
            doc.insert("documentType".into(), json!(kind));
            doc.insert(
                "title".into(),
                json!(match title {
                    Some(t) => format!("Clause {} (version {}): {t}", c.clause_id, c.version),
                    None => format!("Clause {} (version {})", c.clause_id, c.version),
                }),
            );
            doc.insert("description".into(), json!(c.text));
            if let Some(first) = history.first_agreed.get(&c.clause_id) {
                doc.insert("datePublished".into(), json!(first));
            }
            if let Some(last) = last {
                doc.insert("dateModified".into(), json!(last));
            }
            Value::Object(doc)
        })
        .collect()
}

fn contract(view: &AgreementView, history: &History, award_id: &str) -> Value {
    let mut contract = Map::new();
    contract.insert("id".into(), json!(view.negotiation_id.as_str()));
    contract.insert("awardID".into(), json!(award_id));
    contract.insert("title".into(), json!(view.title));
    contract.insert("status".into(), json!("active"));
    if let Some(signed) = history.signed_at.get(&view.agreement_version) {
        contract.insert("dateSigned".into(), json!(signed));
    }
    let signatories: Vec<Value> = view.signatories().map(reference).collect();
    if !signatories.is_empty() {
        contract.insert("signatories".into(), Value::Array(signatories));
    }
    let documents = clause_documents(view, history, "contractSigned");
    if !documents.is_empty() {
        contract.insert("documents".into(), Value::Array(documents));
    }
    let active = view
        .commitments
        .values()
        .filter(|c| c.status == CommitmentStatus::Active);
    let mut milestones = Vec::new();
    let mut finance = Vec::new();
    for c in active {
        let who = view
            .partners
            .get(&c.partner_id)
            .map_or(c.partner_id.as_str(), |p| p.name.as_str());
        let title = format!("{who}: {} commitment", c.kind.as_str().replace('_', " "));
        let mut milestone = Map::new();
        milestone.insert("id".into(), json!(c.commitment_id.as_str()));
        milestone.insert("title".into(), json!(title));
        let mut description = c.description.clone();
        if let Some(a) = &c.amount {
            description.push_str(&format!(" ({} {})", a.value, a.currency));
        }
        if let Some(clause) = &c.clause_id {
            description.push_str(&format!(" [clause {clause}]"));
        }
        milestone.insert("description".into(), json!(description));
        milestone.insert("type".into(), json!(milestone_type(c.kind)));
        if let Some(due) = c.due {
            milestone.insert("dueDate".into(), json!(format!("{due}T00:00:00Z")));
        }
        milestone.insert("status".into(), json!("scheduled"));
        milestones.push(Value::Object(milestone));
        if let Some(a) = &c.amount {
            let mut f = Map::new();
            f.insert("id".into(), json!(c.commitment_id.as_str()));
            f.insert("title".into(), json!(title));
            f.insert("description".into(), json!(c.description));
            f.insert("value".into(), value(&a.value, &a.currency));
            if let Some(p) = view.partners.get(&c.partner_id) {
                f.insert("financingParty".into(), reference(p));
                if p.kind == PartnerKind::Donor && c.kind == CommitmentKind::Finance {
                    f.insert("type".into(), json!("grant"));
                }
            }
            finance.push(Value::Object(f));
        }
    }
    if !milestones.is_empty() {
        contract.insert("milestones".into(), Value::Array(milestones));
    }
    if !finance.is_empty() {
        contract.insert("finance".into(), Value::Array(finance));
    }
    Value::Object(contract)
}

/// The milestone type of a commitment kind (the open `milestoneType` codelist).
fn milestone_type(kind: CommitmentKind) -> &'static str {
    match kind {
        CommitmentKind::Finance => "financing",
        CommitmentKind::Regulatory => "approval",
        CommitmentKind::Monitoring => "reporting",
        CommitmentKind::InKind
        | CommitmentKind::Staff
        | CommitmentKind::ServiceDelivery
        | CommitmentKind::Other => "delivery",
    }
}

/// An OCDS value: the decimal string as a JSON number (OCDS has no decimal strings;
/// values beyond 15 significant digits lose precision, the string stays in the event).
fn value(amount: &str, currency: &str) -> Value {
    let number = amount
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number);
    json!({"amount": number, "currency": currency})
}
