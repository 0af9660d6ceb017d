//! What changed between two views of one negotiation (`roundtable diff ID --from N
//! --to M`): clauses added and changed, with a word-level diff of their text;
//! proposals and objections made or whose status changed; commitments made and
//! withdrawn; signatures gained and made stale; partners admitted and keys registered.
//!
//! Every list keeps the order of the `to` view (the order items were first recorded).

use std::fmt::Write as _;

use roundtable_domain::view::{
    CommitmentStatus, NegotiationStatus, ObjectionStatus, ProposalStatus, Signature,
};
use roundtable_domain::vocab::{Amount, CommitmentKind, Role, Sector};
use roundtable_domain::{
    AgreementView, ClauseId, CommitmentId, ObjectionId, PartnerId, ProposalId,
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
        out
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
