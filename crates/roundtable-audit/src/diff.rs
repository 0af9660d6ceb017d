//! What changed between two views of one negotiation (`roundtable diff ID --from N
//! --to M`): clauses added and changed, with a word-level diff of their text;
//! proposals and objections made or whose status changed; commitments made and
//! withdrawn; signatures gained and made stale; partners admitted and keys registered;
//! and, for contract version 2 (DOMAIN.md, "After the signature"): rounds opened,
//! concluded or abandoned, the agreement version in force, assets declared, progress
//! reported, commitments fulfilled and transferred, shortfalls reported and resolved,
//! partners withdrawn.
//!
//! Every list keeps the order of the `to` view (the order items were first recorded).

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use roundtable_domain::view::{
    Asset, CommitmentStatus, NegotiationStatus, ObjectionStatus, PartnerStatus, ProposalStatus,
    RoundStatus, ShortfallStatus, Signature,
};
use roundtable_domain::vocab::{Amount, CommitmentKind, Role, Sector, Severity};
use roundtable_domain::{
    Actor, AgreementView, ClauseId, CommitmentId, ObjectionId, PartnerId, ProposalId, RoundId,
    ShortfallId,
};
use serde::{Deserialize, Serialize};
use similar::{ChangeTag, TextDiff};

/// The changes from one view to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct AgreementDiff {
    /// `version` of the first view (0: before the negotiation was opened).
    pub from_version: u64,
    /// `version` of the second view.
    pub to_version: u64,
    /// `agreement_version` of the first view.
    pub from_agreement_version: u64,
    /// `agreement_version` of the second view.
    pub to_agreement_version: u64,
    /// `(from, to)` when the status changed.
    pub status: Option<(Option<NegotiationStatus>, NegotiationStatus)>,
    /// Partners admitted in between.
    pub partners_admitted: Vec<PartnerAdmitted>,
    /// Partners whose public key changed (registered or replaced).
    pub keys_registered: Vec<KeyChange>,
    /// Clauses agreed for the first time.
    pub clauses_added: Vec<ClauseAdded>,
    /// Clauses whose agreed text changed (amended).
    pub clauses_changed: Vec<ClauseChanged>,
    /// Proposals made in between (`from: None`) or whose status changed.
    pub proposals: Vec<ProposalChange>,
    /// Objections raised in between (`from: None`) or whose status changed.
    pub objections: Vec<ObjectionChange>,
    /// Commitments made in between (with their status in the second view).
    pub commitments_made: Vec<CommitmentRef>,
    /// Commitments active in the first view (or made in between) and withdrawn in the
    /// second.
    pub commitments_withdrawn: Vec<CommitmentRef>,
    /// Signatures made in between.
    pub signatures_gained: Vec<Signature>,
    /// Signatures that counted in the first view (or were made in between) and no
    /// longer count in the second, because the agreement version moved on.
    pub signatures_made_stale: Vec<Signature>,
    /// `(from, to)` when the agreement version in force changed (a `conclude`):
    /// `null` is "nothing in force yet" (contract version 2).
    pub in_force_agreement_version: Option<(Option<u64>, Option<u64>)>,
    /// Rounds opened in between (`from: None`) or whose status changed (concluded,
    /// abandoned).
    pub rounds: Vec<RoundChange>,
    /// Assets declared in between.
    pub assets_declared: Vec<Asset>,
    /// Progress reported in between, one entry per report, in the order of the
    /// commitments and then of the reports.
    pub progress_reported: Vec<ProgressEntry>,
    /// Commitments fulfilled in between (not fulfilled in the first view).
    pub commitments_fulfilled: Vec<CommitmentFulfilled>,
    /// Commitments transferred in between, when their partner withdrew.
    pub commitments_transferred: Vec<CommitmentTransferred>,
    /// Shortfalls reported in between (with their status in the second view).
    pub shortfalls_reported: Vec<ShortfallRef>,
    /// Shortfalls open in the first view (or reported in between) and resolved in the
    /// second.
    pub shortfalls_resolved: Vec<ShortfallRef>,
    /// Partners active in the first view (or admitted in between) and withdrawn in the
    /// second.
    pub partners_withdrawn: Vec<PartnerWithdrawn>,
}

/// A round opened or whose status changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct RoundChange {
    /// The round.
    pub round_id: RoundId,
    /// Why it was opened.
    pub reason: String,
    /// The agreement version in force when it opened.
    pub from_agreement_version: u64,
    /// Status before (`None`: opened in between).
    pub from: Option<RoundStatus>,
    /// Status after.
    pub to: RoundStatus,
    /// The agreement version its conclusion put in force (`None` unless concluded).
    pub concluded_agreement_version: Option<u64>,
}

/// One progress report made in between.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct ProgressEntry {
    /// The commitment reported on.
    pub commitment_id: CommitmentId,
    /// Its committer.
    pub partner_id: PartnerId,
    /// What was reported.
    pub note: String,
    /// The amount delivered with the report, if any.
    pub delivered: Option<Amount>,
    /// When (business time).
    pub at: DateTime<Utc>,
    /// Who reported it: the committer or `secretariat`.
    #[cfg_attr(feature = "utoipa", schema(value_type = String))]
    pub reported_by: Actor,
}

/// A commitment fulfilled in between.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct CommitmentFulfilled {
    /// The commitment.
    pub commitment_id: CommitmentId,
    /// Its committer.
    pub partner_id: PartnerId,
    /// The date it was fulfilled on.
    pub fulfilled_on: NaiveDate,
    /// Its due date, if any.
    pub due: Option<NaiveDate>,
}

/// A commitment passed to another partner in between.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct CommitmentTransferred {
    /// The leaving partner's commitment, now `transferred`.
    pub commitment_id: CommitmentId,
    /// The leaving partner.
    pub from_partner_id: PartnerId,
    /// The new commitment.
    pub to_commitment_id: CommitmentId,
    /// The partner who took it on (`None` if the second view lacks the new commitment).
    pub to_partner_id: Option<PartnerId>,
}

/// A shortfall, as the second view shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct ShortfallRef {
    /// The shortfall.
    pub shortfall_id: ShortfallId,
    /// The commitment that fell short.
    pub commitment_id: CommitmentId,
    /// Who reported it.
    pub reported_by: PartnerId,
    /// How serious.
    pub severity: Severity,
    /// Status in the second view.
    pub status: ShortfallStatus,
    /// How it was resolved (`None` while open).
    pub resolution: Option<String>,
    /// The penalty set when it was resolved, if any.
    pub penalty: Option<Amount>,
}

/// A partner withdrawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct PartnerWithdrawn {
    /// Id.
    pub partner_id: PartnerId,
    /// Name.
    pub name: String,
    /// Sector.
    pub sector: Sector,
    /// Role.
    pub role: Role,
}

/// A partner admitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct PartnerAdmitted {
    /// Id.
    pub partner_id: PartnerId,
    /// Name.
    pub name: String,
    /// Sector.
    pub sector: Sector,
    /// Role.
    pub role: Role,
}

/// A partner's public key changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct KeyChange {
    /// The partner.
    pub partner_id: PartnerId,
    /// The key before (`None`: it had none, or was not admitted yet).
    pub from: Option<String>,
    /// The key after.
    pub to: Option<String>,
}

/// A clause agreed for the first time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct ClauseAdded {
    /// The clause.
    pub clause_id: ClauseId,
    /// Its version in the second view (above 1 when also amended in between).
    pub version: u32,
    /// Its agreed text.
    pub text: String,
    /// The proposal whose adoption set the text.
    pub adopted_from: ProposalId,
}

/// A clause whose agreed text changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct ClauseChanged {
    /// The clause.
    pub clause_id: ClauseId,
    /// Version before.
    pub from_version: u32,
    /// Version after.
    pub to_version: u32,
    /// The proposal that set the text before.
    pub from_adopted_from: ProposalId,
    /// The proposal that set the text after.
    pub to_adopted_from: ProposalId,
    /// Word-level diff of the text, old to new.
    pub words: Vec<WordChange>,
}

/// One run of a word-level diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct WordChange {
    /// `equal`, `deleted` or `inserted`.
    pub op: WordOp,
    /// The text of the run, white space included.
    pub text: String,
}

/// What happened to a run of words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub enum WordOp {
    /// In both texts.
    Equal,
    /// Only in the old text.
    Deleted,
    /// Only in the new text.
    Inserted,
}

/// A proposal made or whose status changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct ProposalChange {
    /// The proposal.
    pub proposal_id: ProposalId,
    /// Its clause.
    pub clause_id: ClauseId,
    /// Its proposer.
    pub proposed_by: PartnerId,
    /// Status before (`None`: made in between).
    pub from: Option<ProposalStatus>,
    /// Status after.
    pub to: ProposalStatus,
}

/// An objection raised or whose status changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct ObjectionChange {
    /// The objection.
    pub objection_id: ObjectionId,
    /// The proposal objected to.
    pub proposal_id: ProposalId,
    /// The objector.
    pub raised_by: PartnerId,
    /// Whether it blocks.
    pub blocking: bool,
    /// Status before (`None`: raised in between).
    pub from: Option<ObjectionStatus>,
    /// Status after.
    pub to: ObjectionStatus,
}

/// A commitment, as the second view shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct CommitmentRef {
    /// The commitment.
    pub commitment_id: CommitmentId,
    /// The committer.
    pub partner_id: PartnerId,
    /// Kind.
    pub kind: CommitmentKind,
    /// Amount, if any.
    pub amount: Option<Amount>,
    /// Status in the second view.
    pub status: CommitmentStatus,
}

/// Word-level diff of `old` to `new` (runs of words and the white space between them).
pub fn word_diff(old: &str, new: &str) -> Vec<WordChange> {
    let diff = TextDiff::from_words(old, new);
    let mut out: Vec<WordChange> = Vec::new();
    for change in diff.iter_all_changes() {
        let op = match change.tag() {
            ChangeTag::Equal => WordOp::Equal,
            ChangeTag::Delete => WordOp::Deleted,
            ChangeTag::Insert => WordOp::Inserted,
        };
        match out.last_mut() {
            Some(last) if last.op == op => last.text.push_str(change.value()),
            _ => out.push(WordChange {
                op,
                text: change.value().to_owned(),
            }),
        }
    }
    out
}

fn counts(view: Option<&AgreementView>, sig: &Signature) -> bool {
    view.is_some_and(|v| v.agreement_version == sig.agreement_version)
}

/// What changed from `from` to `to` (`from: None`: before the negotiation was opened).
///
/// Both views should be of the same negotiation, `from` no later than `to`; the diff
/// of any two views is still well defined (items only in `from` are ignored).
pub fn diff(from: Option<&AgreementView>, to: &AgreementView) -> AgreementDiff {
    let status = match from {
        Some(f) if f.status == to.status => None,
        _ => Some((from.map(|f| f.status), to.status)),
    };
    let partners_admitted = to
        .partners
        .values()
        .filter(|p| !from.is_some_and(|f| f.partners.contains_key(&p.partner_id)))
        .map(|p| PartnerAdmitted {
            partner_id: p.partner_id.clone(),
            name: p.name.clone(),
            sector: p.sector,
            role: p.role,
        })
        .collect();
    let keys_registered = to
        .partners
        .values()
        .filter_map(|p| {
            let before = from
                .and_then(|f| f.partners.get(&p.partner_id))
                .and_then(|q| q.public_key.clone());
            (before != p.public_key).then(|| KeyChange {
                partner_id: p.partner_id.clone(),
                from: before,
                to: p.public_key.clone(),
            })
        })
        .collect();
    let mut clauses_added = Vec::new();
    let mut clauses_changed = Vec::new();
    for c in to.clauses.values() {
        match from.and_then(|f| f.clauses.get(&c.clause_id)) {
            None => clauses_added.push(ClauseAdded {
                clause_id: c.clause_id.clone(),
                version: c.version,
                text: c.text.clone(),
                adopted_from: c.adopted_from.clone(),
            }),
            Some(old) if old.version != c.version || old.text != c.text => {
                clauses_changed.push(ClauseChanged {
                    clause_id: c.clause_id.clone(),
                    from_version: old.version,
                    to_version: c.version,
                    from_adopted_from: old.adopted_from.clone(),
                    to_adopted_from: c.adopted_from.clone(),
                    words: word_diff(&old.text, &c.text),
                });
            }
            Some(_) => {}
        }
    }
    let proposals = to
        .proposals
        .values()
        .filter_map(|p| {
            let before = from
                .and_then(|f| f.proposals.get(&p.proposal_id))
                .map(|q| q.status);
            (before != Some(p.status)).then(|| ProposalChange {
                proposal_id: p.proposal_id.clone(),
                clause_id: p.clause_id.clone(),
                proposed_by: p.proposed_by.clone(),
                from: before,
                to: p.status,
            })
        })
        .collect();
    let objections = to
        .objections
        .values()
        .filter_map(|o| {
            let before = from
                .and_then(|f| f.objections.get(&o.objection_id))
                .map(|q| q.status);
            (before != Some(o.status)).then(|| ObjectionChange {
                objection_id: o.objection_id.clone(),
                proposal_id: o.proposal_id.clone(),
                raised_by: o.raised_by.clone(),
                blocking: o.blocking,
                from: before,
                to: o.status,
            })
        })
        .collect();
    let commitment_ref = |k: &roundtable_domain::view::Commitment| CommitmentRef {
        commitment_id: k.commitment_id.clone(),
        partner_id: k.partner_id.clone(),
        kind: k.kind,
        amount: k.amount.clone(),
        status: k.status,
    };
    let commitments_made = to
        .commitments
        .values()
        .filter(|k| !from.is_some_and(|f| f.commitments.contains_key(&k.commitment_id)))
        .map(commitment_ref)
        .collect();
    let commitments_withdrawn = to
        .commitments
        .values()
        .filter(|k| k.status == CommitmentStatus::Withdrawn)
        .filter(|k| {
            from.and_then(|f| f.commitments.get(&k.commitment_id))
                .is_none_or(|old| old.status == CommitmentStatus::Active)
        })
        .map(commitment_ref)
        .collect();
    let before_signatures: &[Signature] = from.map_or(&[], |f| &f.signatures);
    let signatures_gained: Vec<Signature> = to
        .signatures
        .iter()
        .filter(|s| !before_signatures.contains(s))
        .cloned()
        .collect();
    let signatures_made_stale = to
        .signatures
        .iter()
        .filter(|s| s.agreement_version != to.agreement_version)
        .filter(|s| !before_signatures.contains(s) || counts(from, s))
        .cloned()
        .collect();
    let v2 = diff_v2(from, to);
    AgreementDiff {
        from_version: from.map_or(0, |f| f.version),
        to_version: to.version,
        from_agreement_version: from.map_or(0, |f| f.agreement_version),
        to_agreement_version: to.agreement_version,
        status,
        partners_admitted,
        keys_registered,
        clauses_added,
        clauses_changed,
        proposals,
        objections,
        commitments_made,
        commitments_withdrawn,
        signatures_gained,
        signatures_made_stale,
        in_force_agreement_version: v2.in_force_agreement_version,
        rounds: v2.rounds,
        assets_declared: v2.assets_declared,
        progress_reported: v2.progress_reported,
        commitments_fulfilled: v2.commitments_fulfilled,
        commitments_transferred: v2.commitments_transferred,
        shortfalls_reported: v2.shortfalls_reported,
        shortfalls_resolved: v2.shortfalls_resolved,
        partners_withdrawn: v2.partners_withdrawn,
    }
}

/// The fields of contract version 2.
struct V2 {
    in_force_agreement_version: Option<(Option<u64>, Option<u64>)>,
    rounds: Vec<RoundChange>,
    assets_declared: Vec<Asset>,
    progress_reported: Vec<ProgressEntry>,
    commitments_fulfilled: Vec<CommitmentFulfilled>,
    commitments_transferred: Vec<CommitmentTransferred>,
    shortfalls_reported: Vec<ShortfallRef>,
    shortfalls_resolved: Vec<ShortfallRef>,
    partners_withdrawn: Vec<PartnerWithdrawn>,
}

fn diff_v2(from: Option<&AgreementView>, to: &AgreementView) -> V2 {
    let before_in_force = from.and_then(|f| f.in_force_agreement_version);
    let in_force_agreement_version = (before_in_force != to.in_force_agreement_version)
        .then_some((before_in_force, to.in_force_agreement_version));
    let rounds = to
        .rounds
        .values()
        .filter_map(|r| {
            let before = from
                .and_then(|f| f.rounds.get(&r.round_id))
                .map(|q| q.status);
            (before != Some(r.status)).then(|| RoundChange {
                round_id: r.round_id.clone(),
                reason: r.reason.clone(),
                from_agreement_version: r.from_agreement_version,
                from: before,
                to: r.status,
                concluded_agreement_version: r.concluded_agreement_version,
            })
        })
        .collect();
    let assets_declared = to
        .assets
        .values()
        .filter(|a| !from.is_some_and(|f| f.assets.contains_key(&a.asset_id)))
        .cloned()
        .collect();
    let old = |id: &CommitmentId| from.and_then(|f| f.commitments.get(id));
    let mut progress_reported = Vec::new();
    for k in to.commitments.values() {
        // Progress is only ever appended: the entries past the first view's count are
        // the new ones.
        let seen = old(&k.commitment_id).map_or(0, |o| o.progress.len());
        for p in k.progress.iter().skip(seen) {
            progress_reported.push(ProgressEntry {
                commitment_id: k.commitment_id.clone(),
                partner_id: k.partner_id.clone(),
                note: p.note.clone(),
                delivered: p.delivered.clone(),
                at: p.at,
                reported_by: p.reported_by.clone(),
            });
        }
    }
    let commitments_fulfilled = to
        .commitments
        .values()
        .filter(|k| k.status == CommitmentStatus::Fulfilled)
        .filter(|k| old(&k.commitment_id).is_none_or(|o| o.status != CommitmentStatus::Fulfilled))
        .filter_map(|k| {
            Some(CommitmentFulfilled {
                commitment_id: k.commitment_id.clone(),
                partner_id: k.partner_id.clone(),
                fulfilled_on: k.fulfilled_on?,
                due: k.due,
            })
        })
        .collect();
    let commitments_transferred = to
        .commitments
        .values()
        .filter(|k| k.status == CommitmentStatus::Transferred)
        .filter(|k| old(&k.commitment_id).is_none_or(|o| o.status != CommitmentStatus::Transferred))
        .filter_map(|k| {
            let new_id = k.transferred_to.clone()?;
            Some(CommitmentTransferred {
                commitment_id: k.commitment_id.clone(),
                from_partner_id: k.partner_id.clone(),
                to_partner_id: to.commitments.get(&new_id).map(|n| n.partner_id.clone()),
                to_commitment_id: new_id,
            })
        })
        .collect();
    let shortfall_ref = |s: &roundtable_domain::view::Shortfall| ShortfallRef {
        shortfall_id: s.shortfall_id.clone(),
        commitment_id: s.commitment_id.clone(),
        reported_by: s.reported_by.clone(),
        severity: s.severity,
        status: s.status,
        resolution: s.resolution.clone(),
        penalty: s.penalty.clone(),
    };
    let old_shortfall = |id: &ShortfallId| from.and_then(|f| f.shortfalls.get(id));
    let shortfalls_reported = to
        .shortfalls
        .values()
        .filter(|s| old_shortfall(&s.shortfall_id).is_none())
        .map(shortfall_ref)
        .collect();
    let shortfalls_resolved = to
        .shortfalls
        .values()
        .filter(|s| s.status == ShortfallStatus::Resolved)
        .filter(|s| {
            old_shortfall(&s.shortfall_id).is_none_or(|o| o.status == ShortfallStatus::Open)
        })
        .map(shortfall_ref)
        .collect();
    let partners_withdrawn = to
        .partners
        .values()
        .filter(|p| p.status == PartnerStatus::Withdrawn)
        .filter(|p| {
            from.and_then(|f| f.partners.get(&p.partner_id))
                .is_none_or(|o| o.status != PartnerStatus::Withdrawn)
        })
        .map(|p| PartnerWithdrawn {
            partner_id: p.partner_id.clone(),
            name: p.name.clone(),
            sector: p.sector,
            role: p.role,
        })
        .collect();
    V2 {
        in_force_agreement_version,
        rounds,
        assets_declared,
        progress_reported,
        commitments_fulfilled,
        commitments_transferred,
        shortfalls_reported,
        shortfalls_resolved,
        partners_withdrawn,
    }
}

fn json_word<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".to_owned(),
    }
}

fn status_pair<T: Serialize>(from: Option<&T>, to: &T) -> String {
    match from {
        None => format!("new, {}", json_word(to)),
        Some(f) => format!("{} -> {}", json_word(f), json_word(to)),
    }
}

/// The word diff as text: deleted runs as `[-...-]`, inserted runs as `{+...+}`.
pub fn render_words(words: &[WordChange]) -> String {
    let mut out = String::new();
    for w in words {
        match w.op {
            WordOp::Equal => out.push_str(&w.text),
            WordOp::Deleted => {
                let _ = write!(out, "[-{}-]", w.text);
            }
            WordOp::Inserted => {
                let _ = write!(out, "{{+{}+}}", w.text);
            }
        }
    }
    out
}

impl AgreementDiff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.partners_admitted.is_empty()
            && self.keys_registered.is_empty()
            && self.clauses_added.is_empty()
            && self.clauses_changed.is_empty()
            && self.proposals.is_empty()
            && self.objections.is_empty()
            && self.commitments_made.is_empty()
            && self.commitments_withdrawn.is_empty()
            && self.signatures_gained.is_empty()
            && self.signatures_made_stale.is_empty()
            && self.in_force_agreement_version.is_none()
            && self.rounds.is_empty()
            && self.assets_declared.is_empty()
            && self.progress_reported.is_empty()
            && self.commitments_fulfilled.is_empty()
            && self.commitments_transferred.is_empty()
            && self.shortfalls_reported.is_empty()
            && self.shortfalls_resolved.is_empty()
            && self.partners_withdrawn.is_empty()
    }

    /// A plain-text rendering for terminals, one section per kind of change.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "version {} -> {} (agreement version {} -> {})",
            self.from_version,
            self.to_version,
            self.from_agreement_version,
            self.to_agreement_version
        );
        if self.is_empty() {
            out.push_str("no changes\n");
            return out;
        }
        if let Some((from, to)) = &self.status {
            let _ = writeln!(out, "status: {}", status_pair(from.as_ref(), to));
        }
        section(
            &mut out,
            "partners admitted",
            &self.partners_admitted,
            |p| {
                format!(
                    "{} ({}, {}, {})",
                    p.partner_id,
                    p.name,
                    p.sector,
                    p.role.as_str()
                )
            },
        );
        section(&mut out, "keys registered", &self.keys_registered, |k| {
            format!(
                "{}: {} -> {}",
                k.partner_id,
                k.from.as_deref().unwrap_or("none"),
                k.to.as_deref().unwrap_or("none")
            )
        });
        section(&mut out, "clauses added", &self.clauses_added, |c| {
            format!(
                "{} v{} (from {}): {}",
                c.clause_id, c.version, c.adopted_from, c.text
            )
        });
        section(&mut out, "clauses changed", &self.clauses_changed, |c| {
            format!(
                "{} v{} -> v{} ({} -> {}): {}",
                c.clause_id,
                c.from_version,
                c.to_version,
                c.from_adopted_from,
                c.to_adopted_from,
                render_words(&c.words)
            )
        });
        section(&mut out, "proposals", &self.proposals, |p| {
            format!(
                "{} on {} by {}: {}",
                p.proposal_id,
                p.clause_id,
                p.proposed_by,
                status_pair(p.from.as_ref(), &p.to)
            )
        });
        section(&mut out, "objections", &self.objections, |o| {
            format!(
                "{} on {} by {}{}: {}",
                o.objection_id,
                o.proposal_id,
                o.raised_by,
                if o.blocking { " (blocking)" } else { "" },
                status_pair(o.from.as_ref(), &o.to)
            )
        });
        let commitment = |k: &CommitmentRef| {
            let amount = k
                .amount
                .as_ref()
                .map(|a| format!(", {} {}", a.value, a.currency))
                .unwrap_or_default();
            format!(
                "{} by {} ({}{amount}), now {}",
                k.commitment_id,
                k.partner_id,
                k.kind,
                json_word(&k.status)
            )
        };
        section(
            &mut out,
            "commitments made",
            &self.commitments_made,
            commitment,
        );
        section(
            &mut out,
            "commitments withdrawn",
            &self.commitments_withdrawn,
            commitment,
        );
        let signature = |s: &Signature| {
            format!(
                "{} at agreement version {}",
                s.partner_id, s.agreement_version
            )
        };
        section(
            &mut out,
            "signatures gained",
            &self.signatures_gained,
            signature,
        );
        section(
            &mut out,
            "signatures made stale",
            &self.signatures_made_stale,
            signature,
        );
        self.v2_text(&mut out);
        out
    }

    /// The sections of contract version 2, after the version 1 ones.
    fn v2_text(&self, out: &mut String) {
        let version = |v: &Option<u64>| v.map_or_else(|| "none".to_owned(), |v| v.to_string());
        if let Some((from, to)) = &self.in_force_agreement_version {
            let _ = writeln!(
                out,
                "agreement version in force: {} -> {}",
                version(from),
                version(to)
            );
        }
        section(out, "rounds", &self.rounds, |r| {
            let concluded = r
                .concluded_agreement_version
                .map(|v| format!(" at agreement version {v}"))
                .unwrap_or_default();
            format!(
                "{} (from agreement version {}): {}{concluded}; {}",
                r.round_id,
                r.from_agreement_version,
                status_pair(r.from.as_ref(), &r.to),
                r.reason
            )
        });
        section(out, "assets declared", &self.assets_declared, |a| {
            format!(
                "{} by {} ({}): {}",
                a.asset_id,
                a.partner_id,
                a.kind.as_str(),
                a.description
            )
        });
        section(out, "progress reported", &self.progress_reported, |p| {
            let delivered = p
                .delivered
                .as_ref()
                .map(|a| format!(", delivered {} {}", a.value, a.currency))
                .unwrap_or_default();
            format!(
                "{} on {} by {}{delivered}: {}",
                p.at.format("%Y-%m-%d"),
                p.commitment_id,
                p.reported_by,
                p.note
            )
        });
        section(
            out,
            "commitments fulfilled",
            &self.commitments_fulfilled,
            |k| {
                let due = k.due.map(|d| format!(" (due {d})")).unwrap_or_default();
                format!(
                    "{} by {} on {}{due}",
                    k.commitment_id, k.partner_id, k.fulfilled_on
                )
            },
        );
        section(
            out,
            "commitments transferred",
            &self.commitments_transferred,
            |k| {
                format!(
                    "{} of {} -> {} of {}",
                    k.commitment_id,
                    k.from_partner_id,
                    k.to_commitment_id,
                    k.to_partner_id
                        .as_ref()
                        .map_or("?", roundtable_domain::PartnerId::as_str)
                )
            },
        );
        let shortfall = |s: &ShortfallRef| {
            let penalty = s
                .penalty
                .as_ref()
                .map(|a| format!(", penalty {} {}", a.value, a.currency))
                .unwrap_or_default();
            format!(
                "{} on {} by {} ({}), now {}{penalty}",
                s.shortfall_id,
                s.commitment_id,
                s.reported_by,
                json_word(&s.severity),
                json_word(&s.status)
            )
        };
        section(
            out,
            "shortfalls reported",
            &self.shortfalls_reported,
            shortfall,
        );
        section(
            out,
            "shortfalls resolved",
            &self.shortfalls_resolved,
            shortfall,
        );
        section(out, "partners withdrawn", &self.partners_withdrawn, |p| {
            format!(
                "{} ({}, {}, {})",
                p.partner_id,
                p.name,
                p.sector,
                p.role.as_str()
            )
        });
    }
}

fn section<T>(out: &mut String, title: &str, items: &[T], line: impl Fn(&T) -> String) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title} ({}):", items.len());
    for item in items {
        let _ = writeln!(out, "  {}", line(item));
    }
}
