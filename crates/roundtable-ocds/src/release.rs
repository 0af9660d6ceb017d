//! The releases of one negotiation: one at each milestone, each a snapshot of the
//! agreement as it stood then, mapped to OCDS (docs/OCDS.md, "Releases").
//!
//! | milestone | tag |
//! | --- | --- |
//! | the opening (the negotiation opened and the partners admitted with it) | `tender` |
//! | a clause agreed for the first time | `tenderUpdate` |
//! | a clause agreed again, or any change to the agreement once signing has begun | `tenderAmendment`, with an entry in `tender.amendments` |
//! | the conclusion | `award`, `contract` |
//! | after it: progress, a fulfilment, a shortfall reported or resolved | `implementation` (the first), then `implementationUpdate` |
//! | a partner leaving while the agreement is in force | `contractAmendment` when its commitments changed (an entry in `contracts[0].amendments`), else `contractUpdate` |
//! | a round concluded | `contractAmendment`, with an entry in `contracts[0].amendments` |
//! | the termination | `contractTermination` once there is a contract, else `tenderCancellation` |
//!
//! Once there is a contract the tender and the award stay as they were at the first
//! conclusion, and every list only grows, so that merging loses nothing (docs/OCDS.md,
//! "After the signature").

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use roundtable_domain::event::EventBody;
use roundtable_domain::view::{Clause, Commitment, CommitmentStatus, Partner};
use roundtable_domain::vocab::{Amount, CommitmentKind, PartnerKind, Sector};
use roundtable_domain::{
    Actor, AgreementView, ClauseId, CommitmentId, PartnerId, Projection, RecordedEvent, ShortfallId,
};
use serde_json::{Map, Value, json};

use crate::OcdsError;
use crate::parties::{Withdrawal, party, reference};

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
    /// Delivery reported after the conclusion; `first` for the first such release.
    Implementation {
        first: bool,
    },
    ContractAmendment,
    ContractUpdate,
    Termination,
    Cancellation,
}

/// An adoption, for the tender's milestones and the clause documents.
#[derive(Debug, Clone)]
struct Adoption {
    proposal_id: String,
    clause_id: String,
    clause_version: u32,
    date: String,
}

/// An implementation document, in the order first released: fixed once written
/// (progress, fulfilment), or rebuilt from the view at each release (a shortfall,
/// which its resolution completes).
#[derive(Debug, Clone)]
enum ImplementationDocument {
    Fixed(Value),
    Shortfall(ShortfallId),
}

/// A shortfall as a performance failure: when it was reported and resolved.
#[derive(Debug, Clone)]
struct Failure {
    shortfall_id: ShortfallId,
    reported: String,
    resolved: Option<String>,
}

/// The contract, once the negotiation has concluded: what every later release carries.
/// Every list only grows, so that merging the releases loses nothing.
#[derive(Debug)]
struct ContractState {
    /// The tender as it stood at the first conclusion (`complete`).
    tender: Value,
    /// The award made at the first conclusion.
    award: Value,
    award_id: String,
    /// The first conclusion's date: the contract's start.
    started: String,
    /// The last signature at the first concluded agreement version.
    date_signed: Option<String>,
    /// Every partner that signed a concluded version, in order first concluded.
    signatories: Vec<PartnerId>,
    /// The agreed clauses in force (as at the last conclusion).
    clauses: Vec<Clause>,
    /// Every commitment that has been in force, in the order it came into force.
    commitments: Vec<CommitmentId>,
    amendments: Vec<Value>,
    /// What the open round has changed so far, in order.
    round_changes: Vec<String>,
    /// The agreement version when the open round opened.
    round_from: u64,
    transactions: Vec<Value>,
    documents: Vec<ImplementationDocument>,
    failures: Vec<Failure>,
    /// When each commitment last changed after a conclusion (progress, fulfilment,
    /// transfer, withdrawal, termination).
    modified: HashMap<CommitmentId, String>,
    /// An implementation release has been written.
    implementation_released: bool,
    /// The termination's date and reason.
    terminated: Option<(String, String)>,
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
    /// The partners that left: when and why.
    withdrawals: HashMap<PartnerId, Withdrawal>,
    /// Set at the first conclusion.
    contract: Option<ContractState>,
    /// The negotiation was terminated before any conclusion: when and why.
    cancelled: Option<(String, String)>,
}

/// The name of a partner, or its id when unknown.
fn name_of<'a>(view: &'a AgreementView, partner: &'a PartnerId) -> &'a str {
    view.partners
        .get(partner)
        .map_or(partner.as_str(), |p| p.name.as_str())
}

/// The name of an actor: a partner's name, or `secretariat`.
fn actor_name<'a>(view: &'a AgreementView, actor: &'a Actor) -> &'a str {
    match actor.partner() {
        Some(p) => name_of(view, p),
        None => actor.as_str(),
    }
}

fn amount_text(a: &Amount) -> String {
    format!("{} {}", a.value, a.currency)
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
        let milestone = if history.contract.is_some() {
            after_conclusion(&mut history, view, event, ocid, &date, before)
        } else {
            before_conclusion(&mut history, view, event, ocid, &date, before)
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

/// The milestone an event marks while there is no contract yet (the tender).
fn before_conclusion(
    history: &mut History,
    view: &AgreementView,
    event: &RecordedEvent,
    ocid: &str,
    date: &str,
    before: Option<u64>,
) -> Option<Milestone> {
    match &event.event.body {
        EventBody::NegotiationOpened(_) => {
            history.opened = date.to_owned();
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
                push_amendment(history, ocid, event.version, date, what, before, view);
            }
            history
                .first_agreed
                .entry(a.clause_id.clone())
                .or_insert_with(|| date.to_owned());
            history.adoptions.push(Adoption {
                proposal_id: a.proposal_id.to_string(),
                clause_id: a.clause_id.to_string(),
                clause_version: a.clause_version,
                date: date.to_owned(),
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
            push_amendment(history, ocid, event.version, date, what, before, view);
            Some(Milestone::Amendment)
        }
        EventBody::CommitmentWithdrawn(c) if history.signing_begun => {
            let what = format!(
                "commitment {} withdrawn by {} after signing had begun: {}",
                c.commitment_id, event.event.actor, c.reason
            );
            push_amendment(history, ocid, event.version, date, what, before, view);
            Some(Milestone::Amendment)
        }
        EventBody::PartnerWithdrawn(w) => {
            history.withdrawals.insert(
                w.partner_id.clone(),
                Withdrawal {
                    date: date.to_owned(),
                    reason: w.reason.clone(),
                },
            );
            if history.signing_begun && w.agreement_version_raised {
                let what = format!(
                    "{} withdrew after signing had begun: {}",
                    withdrawal_changes(view, w),
                    w.reason
                );
                push_amendment(history, ocid, event.version, date, what, before, view);
                Some(Milestone::Amendment)
            } else {
                None
            }
        }
        EventBody::AgreementSigned(s) => {
            history.signing_begun = true;
            history
                .signed_at
                .insert(s.agreement_version, date.to_owned());
            None
        }
        EventBody::NegotiationConcluded(c) => {
            let tender = tender(view, history, Milestone::Conclusion);
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
            history.contract = Some(ContractState {
                tender,
                award: Value::Object(award),
                award_id,
                started: date.to_owned(),
                date_signed: history.signed_at.get(&c.agreement_version).cloned(),
                signatories: c.signatories.clone(),
                clauses: view.clauses.values().cloned().collect(),
                commitments: active_commitments(view),
                amendments: Vec::new(),
                round_changes: Vec::new(),
                round_from: c.agreement_version,
                transactions: Vec::new(),
                documents: Vec::new(),
                failures: Vec::new(),
                modified: HashMap::new(),
                implementation_released: false,
                terminated: None,
            });
            Some(Milestone::Conclusion)
        }
        EventBody::NegotiationTerminated(t) => {
            history.cancelled = Some((date.to_owned(), t.reason.clone()));
            Some(Milestone::Cancellation)
        }
        _ => None,
    }
}

fn active_commitments(view: &AgreementView) -> Vec<CommitmentId> {
    view.commitments
        .values()
        .filter(|c| c.status == CommitmentStatus::Active)
        .map(|c| c.commitment_id.clone())
        .collect()
}

/// What a partner's leaving changed: its name, and each commitment passed on or
/// withdrawn.
fn withdrawal_changes(
    view: &AgreementView,
    w: &roundtable_domain::event::PartnerWithdrawn,
) -> String {
    let mut parts = vec![format!("{} withdrew", name_of(view, &w.partner_id))];
    for t in &w.transfers {
        parts.push(format!(
            "commitment {} transferred to {} as {}",
            t.commitment_id,
            name_of(view, &t.to),
            t.new_commitment_id
        ));
    }
    for c in &w.withdrawn_commitments {
        parts.push(format!("commitment {c} withdrawn"));
    }
    parts.join("; ")
}

/// The milestone an event marks once there is a contract, and what it adds to it.
fn after_conclusion(
    history: &mut History,
    view: &AgreementView,
    event: &RecordedEvent,
    ocid: &str,
    date: &str,
    before: Option<u64>,
) -> Option<Milestone> {
    let previous = history.last_release.clone();
    let this_release = |m| release_id(ocid, event.version, m);
    match &event.event.body {
        EventBody::PartnerWithdrawn(w) => {
            history.withdrawals.insert(
                w.partner_id.clone(),
                Withdrawal {
                    date: date.to_owned(),
                    reason: w.reason.clone(),
                },
            );
        }
        // Kept for the clause documents' dates (the tender is no longer written).
        EventBody::ProposalAdopted(a) => {
            history
                .first_agreed
                .entry(a.clause_id.clone())
                .or_insert_with(|| date.to_owned());
            history.adoptions.push(Adoption {
                proposal_id: a.proposal_id.to_string(),
                clause_id: a.clause_id.to_string(),
                clause_version: a.clause_version,
                date: date.to_owned(),
            });
        }
        _ => {}
    }
    let contract = history.contract.as_mut()?;
    let date = date.to_owned();
    let implementation = |contract: &mut ContractState| {
        let first = !contract.implementation_released;
        contract.implementation_released = true;
        Some(Milestone::Implementation { first })
    };
    match &event.event.body {
        EventBody::PartnerAdmitted(p) => {
            contract.round_changes.push(format!(
                "partner {} admitted as {}",
                p.name,
                p.role.as_str()
            ));
            None
        }
        EventBody::ProposalAdopted(a) => {
            let title = view
                .proposals
                .get(&a.proposal_id)
                .and_then(|p| p.title.as_deref())
                .map(|t| format!(" ({t})"))
                .unwrap_or_default();
            contract.round_changes.push(if a.clause_version > 1 {
                format!(
                    "clause {} amended (version {} to version {}) from proposal {}{title}",
                    a.clause_id,
                    a.clause_version - 1,
                    a.clause_version,
                    a.proposal_id
                )
            } else {
                format!(
                    "clause {} added from proposal {}{title}",
                    a.clause_id, a.proposal_id
                )
            });
            None
        }
        EventBody::CommitmentMade(c) => {
            let mut terms = vec![c.kind.as_str().replace('_', " ")];
            terms.extend(c.amount.as_ref().map(amount_text));
            terms.extend(c.due.map(|d| format!("due {d}")));
            contract.round_changes.push(format!(
                "commitment {} made by {} ({})",
                c.commitment_id,
                actor_name(view, &event.event.actor),
                terms.join(", ")
            ));
            None
        }
        EventBody::CommitmentWithdrawn(c) => {
            contract.round_changes.push(format!(
                "commitment {} withdrawn by {}: {}",
                c.commitment_id,
                actor_name(view, &event.event.actor),
                c.reason
            ));
            if contract.commitments.contains(&c.commitment_id) {
                contract.modified.insert(c.commitment_id.clone(), date);
            }
            None
        }
        EventBody::RoundOpened(_) => {
            contract.round_changes.clear();
            contract.round_from = view.agreement_version;
            None
        }
        EventBody::NegotiationConcluded(c) => {
            let round = c.round_id.as_ref().and_then(|r| view.rounds.get(r));
            let id = c.round_id.as_ref().map_or_else(
                || format!("round-{}", contract.amendments.len() + 1),
                |r| format!("round-{r}"),
            );
            let mut parts = if contract.round_changes.is_empty() {
                vec!["no change to the terms".to_owned()]
            } else {
                contract.round_changes.clone()
            };
            let signed: Vec<&str> = c.signatories.iter().map(|p| name_of(view, p)).collect();
            if !signed.is_empty() {
                parts.push(format!(
                    "concluded with the signatures of {}",
                    signed.join(", ")
                ));
            }
            parts.push(format!(
                "agreement version {} to version {}",
                contract.round_from, c.agreement_version
            ));
            let mut amendment = Map::new();
            amendment.insert("id".into(), json!(id));
            amendment.insert("date".into(), json!(date));
            if let Some(r) = round {
                amendment.insert("rationale".into(), json!(r.reason));
            }
            amendment.insert("description".into(), json!(parts.join("; ")));
            if let Some(previous) = previous {
                amendment.insert("amendsReleaseID".into(), json!(previous));
            }
            amendment.insert(
                "releaseID".into(),
                json!(this_release(Milestone::ContractAmendment)),
            );
            contract.amendments.push(Value::Object(amendment));
            for p in &c.signatories {
                if !contract.signatories.contains(p) {
                    contract.signatories.push(p.clone());
                }
            }
            contract.clauses = view.clauses.values().cloned().collect();
            for k in active_commitments(view) {
                if !contract.commitments.contains(&k) {
                    contract.commitments.push(k);
                }
            }
            contract.round_changes.clear();
            Some(Milestone::ContractAmendment)
        }
        EventBody::ProgressReported(p) => {
            let commitment = view.commitments.get(&p.commitment_id)?;
            let n = commitment.progress.len();
            let reporter = actor_name(view, &event.event.actor);
            contract
                .documents
                .push(ImplementationDocument::Fixed(json!({
                    "id": format!("progress-{}-{n}", p.commitment_id),
                    "documentType": "physicalProgressReport",
                    "title": format!("Progress report {n} on {} ({})", p.commitment_id, commitment_title(view, commitment)),
                    "description": p.note,
                    "author": reporter,
                    "datePublished": date,
                })));
            if let Some(delivered) = &p.delivered {
                let mut t = Map::new();
                t.insert("id".into(), json!(format!("{}-{n}", p.commitment_id)));
                t.insert("date".into(), json!(date));
                t.insert("value".into(), value(&delivered.value, &delivered.currency));
                if commitment.kind == CommitmentKind::Finance
                    && let Some(payer) = view.partners.get(&commitment.partner_id)
                {
                    t.insert("payer".into(), reference(payer));
                }
                t.insert(
                    "relatedImplementationMilestone".into(),
                    json!({"id": p.commitment_id.as_str(), "title": commitment_title(view, commitment)}),
                );
                contract.transactions.push(Value::Object(t));
            }
            contract.modified.insert(p.commitment_id.clone(), date);
            implementation(contract)
        }
        EventBody::CommitmentFulfilled(f) => {
            let commitment = view.commitments.get(&f.commitment_id)?;
            contract
                .documents
                .push(ImplementationDocument::Fixed(json!({
                    "id": format!("fulfilment-{}", f.commitment_id),
                    "documentType": "physicalProgressReport",
                    "title": format!("{} ({}) fulfilled on {}", f.commitment_id, commitment_title(view, commitment), f.fulfilled_on),
                    "description": f.note,
                    "author": actor_name(view, &event.event.actor),
                    "datePublished": date,
                })));
            contract.modified.insert(f.commitment_id.clone(), date);
            implementation(contract)
        }
        EventBody::ShortfallReported(s) => {
            contract.failures.push(Failure {
                shortfall_id: s.shortfall_id.clone(),
                reported: date,
                resolved: None,
            });
            contract
                .documents
                .push(ImplementationDocument::Shortfall(s.shortfall_id.clone()));
            implementation(contract)
        }
        EventBody::ShortfallResolved(s) => {
            if let Some(f) = contract
                .failures
                .iter_mut()
                .find(|f| f.shortfall_id == s.shortfall_id)
            {
                f.resolved = Some(date);
            }
            implementation(contract)
        }
        EventBody::PartnerWithdrawn(w) => {
            for t in &w.transfers {
                if contract.commitments.contains(&t.commitment_id) {
                    contract.commitments.push(t.new_commitment_id.clone());
                }
                contract
                    .modified
                    .insert(t.commitment_id.clone(), date.clone());
            }
            for c in &w.withdrawn_commitments {
                contract.modified.insert(c.clone(), date.clone());
            }
            if !w.agreement_version_raised {
                return Some(Milestone::ContractUpdate);
            }
            let mut parts = vec![withdrawal_changes(view, w)];
            if let Some(b) = before {
                parts.push(format!(
                    "agreement version {b} to version {}",
                    w.agreement_version
                ));
            }
            let mut amendment = Map::new();
            amendment.insert("id".into(), json!(format!("withdrawal-{}", w.partner_id)));
            amendment.insert("date".into(), json!(date));
            amendment.insert("rationale".into(), json!(w.reason));
            amendment.insert("description".into(), json!(parts.join("; ")));
            if let Some(previous) = previous {
                amendment.insert("amendsReleaseID".into(), json!(previous));
            }
            amendment.insert(
                "releaseID".into(),
                json!(this_release(Milestone::ContractAmendment)),
            );
            contract.amendments.push(Value::Object(amendment));
            Some(Milestone::ContractAmendment)
        }
        EventBody::NegotiationTerminated(t) => {
            for k in &contract.commitments {
                if view
                    .commitments
                    .get(k)
                    .is_some_and(|c| c.status == CommitmentStatus::Active)
                {
                    contract.modified.insert(k.clone(), date.clone());
                }
            }
            contract.terminated = Some((date, t.reason.clone()));
            Some(Milestone::Termination)
        }
        _ => None,
    }
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
        Milestone::Implementation { first: true } => &["implementation"],
        Milestone::Implementation { first: false } => &["implementationUpdate"],
        Milestone::ContractAmendment => &["contractAmendment"],
        Milestone::ContractUpdate => &["contractUpdate"],
        Milestone::Termination => &["contractTermination"],
        Milestone::Cancellation => &["tenderCancellation"],
    };
    let mut release = Map::new();
    release.insert("ocid".into(), json!(ocid));
    release.insert("id".into(), json!(release_id(ocid, version, milestone)));
    release.insert("date".into(), json!(date));
    release.insert("tag".into(), json!(tag));
    release.insert("initiationType".into(), json!("tender"));
    release.insert("language".into(), json!("en"));
    let parties: Vec<Value> = view
        .partners
        .values()
        .map(|p| party(view, p, history.withdrawals.get(&p.partner_id)))
        .collect();
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
    match &history.contract {
        Some(contract) => {
            release.insert("tender".into(), contract.tender.clone());
            release.insert("awards".into(), json!([contract.award]));
            release.insert(
                "contracts".into(),
                json!([contract_release(view, history, contract)]),
            );
        }
        None => {
            release.insert("tender".into(), tender(view, history, milestone));
        }
    }
    Value::Object(release)
}

fn tender(view: &AgreementView, history: &History, milestone: Milestone) -> Value {
    use PartnerKind::*;
    let mut tender = Map::new();
    tender.insert("id".into(), json!(view.negotiation_id.as_str()));
    tender.insert("title".into(), json!(view.title));
    let status = match milestone {
        Milestone::Conclusion => "complete",
        Milestone::Cancellation => "cancelled",
        _ => "active",
    };
    tender.insert("status".into(), json!(status));
    if let Some((date, reason)) = &history.cancelled {
        tender.insert(
            "description".into(),
            json!(format!("Abandoned on {date}: {reason}")),
        );
    }
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
    let clauses: Vec<&Clause> = view.clauses.values().collect();
    let documents = clause_documents(view, history, &clauses, "contractDraft");
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
fn clause_documents(
    view: &AgreementView,
    history: &History,
    clauses: &[&Clause],
    kind: &str,
) -> Vec<Value> {
    clauses
        .iter()
        .map(|c| {
            let title = view
                .proposals
                .get(&c.adopted_from)
                .and_then(|p| p.title.as_deref());
            let last = history
                .adoptions
                .iter()
                .rev()
                .find(|a| a.proposal_id == c.adopted_from.as_str())
                .or_else(|| {
                    history
                        .adoptions
                        .iter()
                        .rev()
                        .find(|a| a.clause_id == c.clause_id.as_str())
                })
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

/// `<partner>: <kind> commitment`.
fn commitment_title(view: &AgreementView, c: &Commitment) -> String {
    format!(
        "{}: {} commitment",
        name_of(view, &c.partner_id),
        c.kind.as_str().replace('_', " ")
    )
}

/// The contract as a release carries it once concluded (docs/OCDS.md, "The contract"
/// and "After the signature").
fn contract_release(view: &AgreementView, history: &History, state: &ContractState) -> Value {
    let mut contract = Map::new();
    contract.insert("id".into(), json!(view.negotiation_id.as_str()));
    contract.insert("awardID".into(), json!(state.award_id));
    contract.insert("title".into(), json!(view.title));
    let mut period = Map::new();
    period.insert("startDate".into(), json!(state.started));
    match &state.terminated {
        Some((date, reason)) => {
            contract.insert("status".into(), json!("terminated"));
            contract.insert(
                "description".into(),
                json!(format!("Terminated on {date}: {reason}")),
            );
            period.insert("endDate".into(), json!(date));
        }
        None => {
            contract.insert("status".into(), json!("active"));
        }
    }
    contract.insert("period".into(), Value::Object(period));
    if let Some(signed) = &state.date_signed {
        contract.insert("dateSigned".into(), json!(signed));
    }
    let signatories: Vec<Value> = state
        .signatories
        .iter()
        .filter_map(|p| view.partners.get(p))
        .map(reference)
        .collect();
    if !signatories.is_empty() {
        contract.insert("signatories".into(), Value::Array(signatories));
    }
    let clauses: Vec<&Clause> = state.clauses.iter().collect();
    let documents = clause_documents(view, history, &clauses, "contractSigned");
    if !documents.is_empty() {
        contract.insert("documents".into(), Value::Array(documents));
    }
    let in_force: Vec<&Commitment> = state
        .commitments
        .iter()
        .filter_map(|k| view.commitments.get(k))
        .collect();
    let implementation = implementation(view, state, &in_force);
    if !implementation.is_empty() {
        contract.insert("implementation".into(), Value::Object(implementation));
    }
    let mut finance = Vec::new();
    for c in &in_force {
        let Some(a) = &c.amount else {
            continue;
        };
        let mut f = Map::new();
        f.insert("id".into(), json!(c.commitment_id.as_str()));
        f.insert("title".into(), json!(commitment_title(view, c)));
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
    if !finance.is_empty() {
        contract.insert("finance".into(), Value::Array(finance));
    }
    if !state.amendments.is_empty() {
        contract.insert("amendments".into(), Value::Array(state.amendments.clone()));
    }
    Value::Object(contract)
}

/// `contracts[0].implementation`: a milestone per commitment in force, transactions for
/// delivered amounts, progress and shortfall documents, shortfalls as performance
/// failures. Empty lists are left out (the schema wants at least one item).
fn implementation(
    view: &AgreementView,
    state: &ContractState,
    in_force: &[&Commitment],
) -> Map<String, Value> {
    let mut implementation = Map::new();
    let milestones: Vec<Value> = in_force
        .iter()
        .map(|c| commitment_milestone(view, state, c))
        .collect();
    if !milestones.is_empty() {
        implementation.insert("milestones".into(), Value::Array(milestones));
    }
    if !state.transactions.is_empty() {
        implementation.insert(
            "transactions".into(),
            Value::Array(state.transactions.clone()),
        );
    }
    let documents: Vec<Value> = state
        .documents
        .iter()
        .filter_map(|d| match d {
            ImplementationDocument::Fixed(v) => Some(v.clone()),
            ImplementationDocument::Shortfall(id) => shortfall_document(view, state, id),
        })
        .collect();
    if !documents.is_empty() {
        implementation.insert("documents".into(), Value::Array(documents));
    }
    let failures: Vec<Value> = state
        .failures
        .iter()
        .filter_map(|f| performance_failure(view, f))
        .collect();
    if !failures.is_empty() {
        implementation.insert("performanceFailures".into(), Value::Array(failures));
    }
    implementation
}

/// A commitment in force as an implementation milestone.
fn commitment_milestone(view: &AgreementView, state: &ContractState, c: &Commitment) -> Value {
    let mut milestone = Map::new();
    milestone.insert("id".into(), json!(c.commitment_id.as_str()));
    milestone.insert("title".into(), json!(commitment_title(view, c)));
    let mut description = c.description.clone();
    if let Some(a) = &c.amount {
        description.push_str(&format!(" ({})", amount_text(a)));
    }
    if let Some(clause) = &c.clause_id {
        description.push_str(&format!(" [clause {clause}]"));
    }
    if !c.assets.is_empty() {
        let assets: Vec<&str> = c.assets.iter().map(|a| a.as_str()).collect();
        description.push_str(&format!("; draws on {}", assets.join(", ")));
    }
    if let Some(from) = &c.transferred_from {
        let from_partner = view
            .commitments
            .get(from)
            .map(|k| name_of(view, &k.partner_id));
        match from_partner {
            Some(p) => description.push_str(&format!("; transferred from {from} ({p})")),
            None => description.push_str(&format!("; transferred from {from}")),
        }
    }
    if let Some(to) = &c.transferred_to {
        let to_partner = view
            .commitments
            .get(to)
            .map(|k| name_of(view, &k.partner_id));
        match to_partner {
            Some(p) => description.push_str(&format!("; transferred to {to} ({p})")),
            None => description.push_str(&format!("; transferred to {to}")),
        }
    }
    if c.status == CommitmentStatus::Withdrawn {
        description.push_str("; withdrawn");
    }
    milestone.insert("description".into(), json!(description));
    milestone.insert("type".into(), json!(milestone_type(c.kind)));
    if let Some(due) = c.due {
        milestone.insert("dueDate".into(), json!(format!("{due}T00:00:00Z")));
    }
    let status = match c.status {
        CommitmentStatus::Active if state.terminated.is_some() => "notMet",
        CommitmentStatus::Active => "scheduled",
        CommitmentStatus::Fulfilled => "met",
        CommitmentStatus::Withdrawn => "notMet",
        CommitmentStatus::Transferred if c.progress.is_empty() => "notMet",
        CommitmentStatus::Transferred => "partiallyMet",
    };
    milestone.insert("status".into(), json!(status));
    if let Some(on) = c.fulfilled_on {
        milestone.insert("dateMet".into(), json!(format!("{on}T00:00:00Z")));
    }
    if let Some(modified) = state.modified.get(&c.commitment_id) {
        milestone.insert("dateModified".into(), json!(modified));
    }
    Value::Object(milestone)
}

/// A shortfall as a performance failure disclosure: one event of its severity, over
/// the period from its report to its resolution, with the penalty imposed.
fn performance_failure(view: &AgreementView, f: &Failure) -> Option<Value> {
    let s = view.shortfalls.get(&f.shortfall_id)?;
    let mut period = Map::new();
    period.insert("startDate".into(), json!(f.reported));
    if let Some(resolved) = &f.resolved {
        period.insert("endDate".into(), json!(resolved));
    }
    let mut failure = Map::new();
    failure.insert("id".into(), json!(s.shortfall_id.as_str()));
    failure.insert("period".into(), Value::Object(period));
    failure.insert("category".into(), json!(s.severity.as_str()));
    failure.insert("events".into(), json!(1));
    if let Some(penalty) = &s.penalty {
        failure.insert("penaltyImposed".into(), json!(amount_text(penalty)));
    }
    Some(Value::Object(failure))
}

/// What fell short, who reported it, and how it was resolved, as a document.
fn shortfall_document(
    view: &AgreementView,
    state: &ContractState,
    id: &ShortfallId,
) -> Option<Value> {
    let s = view.shortfalls.get(id)?;
    let f = state.failures.iter().find(|f| &f.shortfall_id == id)?;
    let reporter = name_of(view, &s.reported_by);
    let on = view.commitments.get(&s.commitment_id).map_or_else(
        || s.commitment_id.to_string(),
        |c| format!("{} ({})", s.commitment_id, commitment_title(view, c)),
    );
    let stop = if s.description.ends_with(['.', '!', '?']) {
        ""
    } else {
        "."
    };
    let mut text = format!(
        "{}{stop} Reported by {reporter} on {}, severity {}, on commitment {on}.",
        s.description,
        f.reported,
        s.severity.as_str()
    );
    if let (Some(resolution), Some(resolved)) = (&s.resolution, &f.resolved) {
        text.push_str(&format!(" Resolved on {resolved}: {resolution}"));
        if let Some(penalty) = &s.penalty {
            text.push_str(&format!(" (penalty {})", amount_text(penalty)));
        }
        text.push('.');
    }
    let mut doc = Map::new();
    doc.insert("id".into(), json!(format!("shortfall-{id}")));
    doc.insert("documentType".into(), json!("physicalProgressReport"));
    doc.insert(
        "title".into(),
        json!(format!(
            "Shortfall {id} ({}) on {}",
            s.severity.as_str(),
            s.commitment_id
        )),
    );
    doc.insert("description".into(), json!(text));
    doc.insert("author".into(), json!(reporter));
    doc.insert("datePublished".into(), json!(f.reported));
    if let Some(resolved) = &f.resolved {
        doc.insert("dateModified".into(), json!(resolved));
    }
    Some(Value::Object(doc))
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
