//! The rules of contract version 2 (DOMAIN.md, "After the signature"): rounds, assets,
//! delivery, shortfalls, partners leaving and termination. Part of [`crate::decide`]:
//! each function judges one command against the state and returns the event it
//! records, with every effect computed here.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use crate::command::{
    DeclareAsset, Fulfil, OpenRound, ReportProgress, ReportShortfall, ResolveShortfall, Terminate,
    WithdrawPartner,
};
use crate::decide::{MAX_TEXT_CHARS, admitted, non_blank, secretariat_only};
use crate::event::*;
use crate::id::{Actor, AssetId, CommitmentId, ObjectionId, PartnerId, ProposalId};
use crate::rejection::Rejection;
use crate::view::{
    AgreementView, Commitment, CommitmentStatus, NegotiationStatus, ObjectionStatus, Partner,
    PartnerStatus, ProposalStatus, ShortfallStatus,
};
use crate::vocab::Amount;

/// `open_round`: secretariat; status `concluded`; round_id new; reason non-blank.
pub(crate) fn open_round(
    s: &AgreementView,
    actor: &Actor,
    c: &OpenRound,
) -> Result<EventBody, Rejection> {
    secretariat_only(actor, "open_round")?;
    non_blank("reason", &c.reason, MAX_TEXT_CHARS)?;
    match s.status {
        NegotiationStatus::Concluded => {}
        NegotiationStatus::Renegotiating => {
            let open = s.open_round().map_or("", |r| r.round_id.as_str());
            return Err(Rejection::conflict(
                "round_open",
                format!(
                    "round {open} of negotiation {} is still open; conclude it before opening {}",
                    s.negotiation_id, c.round_id
                ),
            ));
        }
        status => {
            return Err(Rejection::conflict(
                "negotiation_not_concluded",
                format!(
                    "negotiation {} is {}: there is no agreement in force to renegotiate",
                    s.negotiation_id,
                    status.as_str()
                ),
            ));
        }
    }
    if s.rounds.contains_key(&c.round_id) {
        return Err(Rejection::conflict(
            "round_exists",
            format!("round {} already exists", c.round_id),
        ));
    }
    Ok(EventBody::RoundOpened(RoundOpened {
        round_id: c.round_id.clone(),
        reason: c.reason.clone(),
        from_agreement_version: s.agreement_version,
    }))
}

/// `declare_asset`: any admitted partner; status `open` or `renegotiating`; asset_id new.
pub(crate) fn declare_asset(
    s: &AgreementView,
    actor: &Actor,
    c: &DeclareAsset,
) -> Result<EventBody, Rejection> {
    admitted(s, actor, "declare assets")?;
    non_blank("description", &c.description, MAX_TEXT_CHARS)?;
    if !s.status.negotiating() {
        return Err(Rejection::conflict(
            "negotiation_concluded",
            format!(
                "negotiation {} is concluded; assets are declared while it is open or in a round",
                s.negotiation_id
            ),
        ));
    }
    if s.assets.contains_key(&c.asset_id) {
        return Err(Rejection::conflict(
            "asset_exists",
            format!("asset {} already exists", c.asset_id),
        ));
    }
    Ok(EventBody::AssetDeclared(AssetDeclared {
        asset_id: c.asset_id.clone(),
        kind: c.kind,
        description: c.description.clone(),
    }))
}

/// `report_progress`: the committer or the secretariat; in force; commitment `active`;
/// `delivered` in the commitment's currency when it has an amount.
pub(crate) fn report_progress(
    s: &AgreementView,
    actor: &Actor,
    c: &ReportProgress,
    at: DateTime<Utc>,
) -> Result<EventBody, Rejection> {
    let by = match actor {
        Actor::Secretariat => None,
        Actor::Partner(_) => Some(admitted(s, actor, "report progress")?),
    };
    non_blank("note", &c.note, MAX_TEXT_CHARS)?;
    if let Some(d) = &c.delivered {
        amount("delivered", d)?;
    }
    in_force(s, "progress is reported")?;
    let k = commitment(s, &c.commitment_id)?;
    if let Some(by) = by {
        committer(k, by, "report progress on")?;
    }
    if k.status != CommitmentStatus::Active {
        return Err(not_active(k));
    }
    if let (Some(d), Some(a)) = (&c.delivered, &k.amount) {
        if d.currency != a.currency {
            return Err(Rejection::invalid(
                "currency_mismatch",
                format!(
                    "delivered is in {}, but commitment {} is in {}",
                    d.currency, k.commitment_id, a.currency
                ),
            ));
        }
    }
    Ok(EventBody::ProgressReported(ProgressReported {
        commitment_id: c.commitment_id.clone(),
        note: c.note.clone(),
        delivered: c.delivered.clone(),
        at,
    }))
}

/// `fulfil`: the committer; in force; commitment `active`.
pub(crate) fn fulfil(s: &AgreementView, actor: &Actor, c: &Fulfil) -> Result<EventBody, Rejection> {
    let by = admitted(s, actor, "fulfil commitments")?;
    non_blank("note", &c.note, MAX_TEXT_CHARS)?;
    in_force(s, "commitments are fulfilled")?;
    let k = commitment(s, &c.commitment_id)?;
    committer(k, by, "fulfil")?;
    if k.status != CommitmentStatus::Active {
        return Err(not_active(k));
    }
    Ok(EventBody::CommitmentFulfilled(CommitmentFulfilled {
        commitment_id: c.commitment_id.clone(),
        fulfilled_on: c.fulfilled_on,
        note: c.note.clone(),
    }))
}

/// `report_shortfall`: any admitted partner; in force; shortfall_id new; commitment
/// `active` or `fulfilled`.
pub(crate) fn report_shortfall(
    s: &AgreementView,
    actor: &Actor,
    c: &ReportShortfall,
) -> Result<EventBody, Rejection> {
    admitted(s, actor, "report shortfalls")?;
    non_blank("description", &c.description, MAX_TEXT_CHARS)?;
    in_force(s, "shortfalls are reported")?;
    if s.shortfalls.contains_key(&c.shortfall_id) {
        return Err(Rejection::conflict(
            "shortfall_exists",
            format!("shortfall {} already exists", c.shortfall_id),
        ));
    }
    let k = commitment(s, &c.commitment_id)?;
    if !matches!(
        k.status,
        CommitmentStatus::Active | CommitmentStatus::Fulfilled
    ) {
        return Err(Rejection::conflict(
            "commitment_not_active",
            format!(
                "commitment {} is {}; shortfalls are reported on active or fulfilled commitments",
                k.commitment_id,
                k.status.as_str()
            ),
        ));
    }
    Ok(EventBody::ShortfallReported(ShortfallReported {
        shortfall_id: c.shortfall_id.clone(),
        commitment_id: c.commitment_id.clone(),
        description: c.description.clone(),
        severity: c.severity,
    }))
}

/// `resolve_shortfall`: secretariat; in force; shortfall `open`.
pub(crate) fn resolve_shortfall(
    s: &AgreementView,
    actor: &Actor,
    c: &ResolveShortfall,
) -> Result<EventBody, Rejection> {
    secretariat_only(actor, "resolve_shortfall")?;
    non_blank("resolution", &c.resolution, MAX_TEXT_CHARS)?;
    if let Some(p) = &c.penalty {
        amount("penalty", p)?;
    }
    in_force(s, "shortfalls are resolved")?;
    let f = s.shortfalls.get(&c.shortfall_id).ok_or_else(|| {
        Rejection::not_found(
            "shortfall_not_found",
            format!("there is no shortfall {}", c.shortfall_id),
        )
    })?;
    if f.status != ShortfallStatus::Open {
        return Err(Rejection::conflict(
            "shortfall_not_open",
            format!("shortfall {} is already resolved", f.shortfall_id),
        ));
    }
    Ok(EventBody::ShortfallResolved(ShortfallResolved {
        shortfall_id: c.shortfall_id.clone(),
        resolution: c.resolution.clone(),
        penalty: c.penalty.clone(),
    }))
}

/// `withdraw_partner`: that partner or the secretariat; status not `terminated`
/// (checked by `decide`); partner admitted and not withdrawn; every transfer valid.
/// Computes every effect, in DOMAIN.md's order.
pub(crate) fn withdraw_partner(
    s: &AgreementView,
    actor: &Actor,
    c: &WithdrawPartner,
) -> Result<EventBody, Rejection> {
    if let Actor::Partner(by) = actor {
        admitted(s, actor, "withdraw partners")?;
        if *by != c.partner_id {
            return Err(Rejection::forbidden(
                "not_that_partner",
                format!(
                    "only {} itself or the secretariat may withdraw {}",
                    c.partner_id, c.partner_id
                ),
            ));
        }
    }
    non_blank("reason", &c.reason, MAX_TEXT_CHARS)?;
    let leaving = listed_partner(s, &c.partner_id)?;
    if leaving.status == PartnerStatus::Withdrawn {
        return Err(already_withdrawn(&c.partner_id));
    }
    let leaving = &leaving.partner_id;

    let mut transfers = Vec::with_capacity(c.transfers.len());
    let mut moved: HashSet<&CommitmentId> = HashSet::new();
    let mut new_ids: HashSet<&CommitmentId> = HashSet::new();
    for t in &c.transfers {
        let k = commitment(s, &t.commitment_id)?;
        if k.partner_id != *leaving {
            return Err(Rejection::conflict(
                "commitment_of_another_partner",
                format!(
                    "commitment {} is {}'s, not {leaving}'s, so {leaving} cannot transfer it",
                    k.commitment_id, k.partner_id
                ),
            ));
        }
        if k.status != CommitmentStatus::Active {
            return Err(not_active(k));
        }
        if !moved.insert(&t.commitment_id) {
            return Err(Rejection::invalid(
                "duplicate_transfer",
                format!("commitment {} is transferred twice", t.commitment_id),
            ));
        }
        if t.to == *leaving {
            return Err(Rejection::invalid(
                "transfer_to_self",
                format!(
                    "commitment {} cannot be transferred to {leaving}, the partner who leaves",
                    t.commitment_id
                ),
            ));
        }
        let to = listed_partner(s, &t.to)?;
        if to.status == PartnerStatus::Withdrawn {
            return Err(Rejection::conflict(
                "transfer_to_withdrawn",
                format!(
                    "commitment {} cannot be transferred to {}, which has withdrawn",
                    t.commitment_id, t.to
                ),
            ));
        }
        if s.commitments.contains_key(&t.new_commitment_id) {
            return Err(Rejection::conflict(
                "commitment_exists",
                format!("commitment {} already exists", t.new_commitment_id),
            ));
        }
        if !new_ids.insert(&t.new_commitment_id) {
            return Err(Rejection::invalid(
                "duplicate_new_commitment",
                format!(
                    "new commitment id {} is given to two transfers",
                    t.new_commitment_id
                ),
            ));
        }
        transfers.push(CommitmentTransfer {
            commitment_id: k.commitment_id.clone(),
            to: t.to.clone(),
            new_commitment_id: t.new_commitment_id.clone(),
            description: k.description.clone(),
            kind: k.kind,
            clause_id: k.clause_id.clone(),
            amount: k.amount.clone(),
            due: k.due,
        });
    }

    let withdrawn_commitments: Vec<CommitmentId> = s
        .commitments
        .values()
        .filter(|k| {
            k.partner_id == *leaving
                && k.status == CommitmentStatus::Active
                && !moved.contains(&k.commitment_id)
        })
        .map(|k| k.commitment_id.clone())
        .collect();
    let withdrawn_proposals: Vec<ProposalId> = s
        .proposals
        .values()
        .filter(|p| p.proposed_by == *leaving && p.status == ProposalStatus::Open)
        .map(|p| p.proposal_id.clone())
        .collect();
    let mooted_objections: Vec<ObjectionId> = withdrawn_proposals
        .iter()
        .flat_map(|p| s.open_objections_on(p))
        .map(|o| o.objection_id.clone())
        .collect();
    let retracted_endorsements: Vec<ProposalId> = s
        .proposals
        .values()
        .filter(|p| {
            p.status == ProposalStatus::Open
                && p.proposed_by != *leaving
                && p.endorsed_by.contains(leaving)
        })
        .map(|p| p.proposal_id.clone())
        .collect();
    let withdrawn_objections: Vec<ObjectionId> = s
        .objections
        .values()
        .filter(|o| {
            o.raised_by == *leaving
                && o.status == ObjectionStatus::Open
                && !mooted_objections.contains(&o.objection_id)
        })
        .map(|o| o.objection_id.clone())
        .collect();
    let raised = !transfers.is_empty() || !withdrawn_commitments.is_empty();
    Ok(EventBody::PartnerWithdrawn(PartnerWithdrawn {
        partner_id: leaving.clone(),
        reason: c.reason.clone(),
        transfers,
        withdrawn_commitments,
        withdrawn_proposals,
        mooted_objections,
        retracted_endorsements,
        withdrawn_objections,
        agreement_version_raised: raised,
        agreement_version: s.agreement_version + u64::from(raised),
    }))
}

/// `terminate`: secretariat; status not `terminated` (checked by `decide`); an open
/// round becomes `abandoned`.
pub(crate) fn terminate(
    s: &AgreementView,
    actor: &Actor,
    c: &Terminate,
) -> Result<EventBody, Rejection> {
    secretariat_only(actor, "terminate")?;
    non_blank("reason", &c.reason, MAX_TEXT_CHARS)?;
    Ok(EventBody::NegotiationTerminated(NegotiationTerminated {
        reason: c.reason.clone(),
        abandoned_round: s.open_round().map(|r| r.round_id.clone()),
    }))
}

/// `commit`'s `assets`: each declared by the committer, each named once.
pub(crate) fn own_assets(
    s: &AgreementView,
    committer: &Partner,
    assets: &[AssetId],
) -> Result<(), Rejection> {
    let mut seen = HashSet::new();
    for id in assets {
        let a = s.assets.get(id).ok_or_else(|| {
            Rejection::not_found("asset_not_found", format!("there is no asset {id}"))
        })?;
        if a.partner_id != committer.partner_id {
            return Err(Rejection::forbidden(
                "not_own_asset",
                format!(
                    "asset {id} was declared by {}, not {}; a commitment draws only on its committer's own assets",
                    a.partner_id, committer.partner_id
                ),
            ));
        }
        if !seen.insert(id) {
            return Err(Rejection::invalid(
                "duplicate_asset",
                format!("asset {id} is named twice"),
            ));
        }
    }
    Ok(())
}

/// A listed partner (withdrawn or not), for commands that name one.
pub(crate) fn listed_partner<'a>(
    s: &'a AgreementView,
    id: &PartnerId,
) -> Result<&'a Partner, Rejection> {
    s.partners.get(id).ok_or_else(|| {
        Rejection::not_found(
            "partner_not_found",
            format!(
                "{id} is not an admitted partner of negotiation {}",
                s.negotiation_id
            ),
        )
    })
}

/// The rejection for naming a partner who has already withdrawn.
pub(crate) fn already_withdrawn(id: &PartnerId) -> Rejection {
    Rejection::conflict(
        "partner_already_withdrawn",
        format!("{id} has already withdrawn"),
    )
}

/// The rejection for a commitment that is not `active`.
pub(crate) fn not_active(k: &Commitment) -> Rejection {
    Rejection::conflict(
        "commitment_not_active",
        format!(
            "commitment {} is {}, not active",
            k.commitment_id,
            k.status.as_str()
        ),
    )
}

fn commitment<'a>(s: &'a AgreementView, id: &CommitmentId) -> Result<&'a Commitment, Rejection> {
    s.commitments.get(id).ok_or_else(|| {
        Rejection::not_found(
            "commitment_not_found",
            format!("there is no commitment {id}"),
        )
    })
}

fn committer(k: &Commitment, by: &Partner, what: &str) -> Result<(), Rejection> {
    if k.partner_id == by.partner_id {
        return Ok(());
    }
    Err(Rejection::forbidden(
        "not_committer",
        format!(
            "only {} may {what} commitment {}, which it made",
            k.partner_id, k.commitment_id
        ),
    ))
}

/// DOMAIN.md, "After the signature": *in force* means `concluded` or `renegotiating`.
fn in_force(s: &AgreementView, what: &str) -> Result<(), Rejection> {
    if s.status.in_force() {
        return Ok(());
    }
    Err(Rejection::conflict(
        "agreement_not_in_force",
        format!(
            "negotiation {} has no agreement in force yet (it is {}); {what} once it is concluded",
            s.negotiation_id,
            s.status.as_str()
        ),
    ))
}

fn amount(field: &str, a: &Amount) -> Result<(), Rejection> {
    a.validate()
        .map_err(|m| Rejection::invalid("bad_amount", format!("{field}: {m}")))
}
