//! The story of a negotiation, read from its events: one [`Mark`] per thing a partner
//! (or the secretariat) did, and who took part how much.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use roundtable_domain::vocab::Sector;
use roundtable_domain::{AgreementView, EventBody, ObjectionId, PartnerId, RecordedEvent};

/// What a mark on the timeline stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum MarkKind {
    Opened,
    Admitted,
    KeyRegistered,
    Proposal,
    ProposalWithdrawn,
    Endorsement,
    Retraction,
    ObjectionOpened,
    ObjectionClosed,
    Adoption,
    Commitment,
    CommitmentWithdrawn,
    Signature,
    Concluded,
    RoundOpened,
    AssetDeclared,
    Progress,
    Fulfilled,
    ShortfallReported,
    ShortfallResolved,
    PartnerWithdrawn,
    Terminated,
}

impl MarkKind {
    /// Every kind, in legend order.
    pub(crate) const ALL: [MarkKind; 22] = [
        MarkKind::Proposal,
        MarkKind::Endorsement,
        MarkKind::Retraction,
        MarkKind::ObjectionOpened,
        MarkKind::ObjectionClosed,
        MarkKind::Adoption,
        MarkKind::Commitment,
        MarkKind::CommitmentWithdrawn,
        MarkKind::Signature,
        MarkKind::ProposalWithdrawn,
        MarkKind::Admitted,
        MarkKind::KeyRegistered,
        MarkKind::Opened,
        MarkKind::Concluded,
        MarkKind::AssetDeclared,
        MarkKind::Progress,
        MarkKind::Fulfilled,
        MarkKind::ShortfallReported,
        MarkKind::ShortfallResolved,
        MarkKind::PartnerWithdrawn,
        MarkKind::RoundOpened,
        MarkKind::Terminated,
    ];

    /// The `data-kind` written on the mark.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MarkKind::Opened => "opened",
            MarkKind::Admitted => "admitted",
            MarkKind::KeyRegistered => "key_registered",
            MarkKind::Proposal => "proposal",
            MarkKind::ProposalWithdrawn => "proposal_withdrawn",
            MarkKind::Endorsement => "endorsement",
            MarkKind::Retraction => "retraction",
            MarkKind::ObjectionOpened => "objection_opened",
            MarkKind::ObjectionClosed => "objection_closed",
            MarkKind::Adoption => "adoption",
            MarkKind::Commitment => "commitment",
            MarkKind::CommitmentWithdrawn => "commitment_withdrawn",
            MarkKind::Signature => "signature",
            MarkKind::Concluded => "concluded",
            MarkKind::RoundOpened => "round_opened",
            MarkKind::AssetDeclared => "asset_declared",
            MarkKind::Progress => "progress",
            MarkKind::Fulfilled => "fulfilled",
            MarkKind::ShortfallReported => "shortfall_reported",
            MarkKind::ShortfallResolved => "shortfall_resolved",
            MarkKind::PartnerWithdrawn => "partner_withdrawn",
            MarkKind::Terminated => "terminated",
        }
    }

    /// In words, for the legend.
    pub(crate) fn label(self) -> &'static str {
        match self {
            MarkKind::Opened => "negotiation opened",
            MarkKind::Admitted => "partner admitted",
            MarkKind::KeyRegistered => "public key registered",
            MarkKind::Proposal => "proposal",
            MarkKind::ProposalWithdrawn => "proposal withdrawn",
            MarkKind::Endorsement => "endorsement",
            MarkKind::Retraction => "endorsement retracted",
            MarkKind::ObjectionOpened => "objection raised (filled: blocking)",
            MarkKind::ObjectionClosed => "objection closed (withdrawn, moot or noted)",
            MarkKind::Adoption => "clause adopted",
            MarkKind::Commitment => "commitment",
            MarkKind::CommitmentWithdrawn => "commitment withdrawn",
            MarkKind::Signature => "signature (faded: made stale later)",
            MarkKind::Concluded => "negotiation concluded",
            MarkKind::RoundOpened => "round opened",
            MarkKind::AssetDeclared => "asset declared",
            MarkKind::Progress => "progress reported",
            MarkKind::Fulfilled => "commitment fulfilled",
            MarkKind::ShortfallReported => "shortfall reported (filled: major or critical)",
            MarkKind::ShortfallResolved => "shortfall resolved",
            MarkKind::PartnerWithdrawn => "partner withdrawn",
            MarkKind::Terminated => "negotiation terminated",
        }
    }
}

/// One mark: who (the lane: `None` for the secretariat), when, what.
#[derive(Debug, Clone)]
pub(crate) struct Mark {
    pub(crate) lane: Option<PartnerId>,
    pub(crate) at: DateTime<Utc>,
    pub(crate) version: u64,
    pub(crate) kind: MarkKind,
    /// A blocking objection, or a signature that still counts.
    pub(crate) strong: bool,
    pub(crate) title: String,
}

/// How much one partner took part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Participation {
    pub(crate) proposals: u64,
    pub(crate) endorsements: u64,
    pub(crate) objections: u64,
    pub(crate) commitments: u64,
    pub(crate) signatures: u64,
}

/// The marks of `events` (in version order), and each partner's participation.
pub(crate) fn read_story(
    events: &[RecordedEvent],
    view: &AgreementView,
) -> (Vec<Mark>, HashMap<PartnerId, Participation>) {
    let mut marks = Vec::with_capacity(events.len());
    let mut part: HashMap<PartnerId, Participation> = HashMap::new();
    let mut objector: HashMap<ObjectionId, PartnerId> = HashMap::new();
    for e in events {
        let actor = e.event.actor.partner().cloned();
        let who = e.event.actor.to_string();
        let mut mark = |lane: Option<PartnerId>, kind: MarkKind, strong: bool, what: String| {
            marks.push(Mark {
                lane,
                at: e.occurred_at,
                version: e.version,
                kind,
                strong,
                title: format!(
                    "v{} {}: {what}",
                    e.version,
                    e.occurred_at.format("%Y-%m-%d %H:%M")
                ),
            });
        };
        let count = |part: &mut HashMap<PartnerId, Participation>, f: fn(&mut Participation)| {
            if let Some(a) = &actor {
                f(part.entry(a.clone()).or_default());
            }
        };
        match &e.event.body {
            EventBody::NegotiationOpened(d) => {
                mark(
                    None,
                    MarkKind::Opened,
                    false,
                    format!("opened \"{}\"", d.title),
                );
            }
            EventBody::PartnerAdmitted(d) => mark(
                Some(d.partner_id.clone()),
                MarkKind::Admitted,
                false,
                format!("{} admitted as {}", d.name, d.role.as_str()),
            ),
            EventBody::PartnerKeyRegistered(d) => mark(
                Some(d.partner_id.clone()),
                MarkKind::KeyRegistered,
                false,
                format!("public key of {} registered", d.partner_id),
            ),
            EventBody::ProposalMade(d) => {
                count(&mut part, |p| p.proposals += 1);
                mark(
                    actor.clone(),
                    MarkKind::Proposal,
                    false,
                    format!("{who} proposed {} on clause {}", d.proposal_id, d.clause_id),
                );
            }
            EventBody::ProposalWithdrawn(d) => {
                mark(
                    actor.clone(),
                    MarkKind::ProposalWithdrawn,
                    false,
                    format!("{who} withdrew {}", d.proposal_id),
                );
                closed(&objector, &d.mooted_objections, "moot", &mut mark);
            }
            EventBody::ProposalEndorsed(d) => {
                count(&mut part, |p| p.endorsements += 1);
                mark(
                    actor.clone(),
                    MarkKind::Endorsement,
                    false,
                    format!("{who} endorsed {}", d.proposal_id),
                );
            }
            EventBody::EndorsementRetracted(d) => mark(
                actor.clone(),
                MarkKind::Retraction,
                false,
                format!("{who} retracted its endorsement of {}", d.proposal_id),
            ),
            EventBody::ObjectionRaised(d) => {
                count(&mut part, |p| p.objections += 1);
                if let Some(a) = &actor {
                    objector.insert(d.objection_id.clone(), a.clone());
                }
                mark(
                    actor.clone(),
                    MarkKind::ObjectionOpened,
                    d.blocking,
                    format!(
                        "{who} raised {} objection {} on {}",
                        if d.blocking {
                            "blocking"
                        } else {
                            "non-blocking"
                        },
                        d.objection_id,
                        d.proposal_id
                    ),
                );
            }
            EventBody::ObjectionWithdrawn(d) => {
                closed(
                    &objector,
                    std::slice::from_ref(&d.objection_id),
                    "withdrawn",
                    &mut mark,
                );
            }
            EventBody::ProposalAdopted(d) => {
                mark(
                    None,
                    MarkKind::Adoption,
                    true,
                    format!(
                        "{} adopted: clause {} version {} (agreement version {})",
                        d.proposal_id, d.clause_id, d.clause_version, d.agreement_version
                    ),
                );
                closed(&objector, &d.mooted_objections, "moot", &mut mark);
                closed(&objector, &d.noted_objections, "noted", &mut mark);
            }
            EventBody::CommitmentMade(d) => {
                count(&mut part, |p| p.commitments += 1);
                let amount = d
                    .amount
                    .as_ref()
                    .map(|a| format!(" ({} {})", a.value, a.currency))
                    .unwrap_or_default();
                mark(
                    actor.clone(),
                    MarkKind::Commitment,
                    false,
                    format!("{who} committed {}{amount}", d.commitment_id),
                );
            }
            EventBody::CommitmentWithdrawn(d) => mark(
                actor.clone(),
                MarkKind::CommitmentWithdrawn,
                false,
                format!("{who} withdrew commitment {}", d.commitment_id),
            ),
            EventBody::AgreementSigned(d) => {
                count(&mut part, |p| p.signatures += 1);
                let current = d.agreement_version == view.agreement_version;
                mark(
                    actor.clone(),
                    MarkKind::Signature,
                    current,
                    format!(
                        "{who} signed agreement version {}{}{}",
                        d.agreement_version,
                        if d.signature.is_some() {
                            " with an Ed25519 signature"
                        } else {
                            ""
                        },
                        if current { "" } else { " (made stale later)" }
                    ),
                );
            }
            EventBody::NegotiationConcluded(d) => mark(
                None,
                MarkKind::Concluded,
                true,
                format!("concluded at agreement version {}", d.agreement_version),
            ),
            EventBody::RoundOpened(d) => mark(
                None,
                MarkKind::RoundOpened,
                true,
                format!(
                    "round {} opened from agreement version {}",
                    d.round_id, d.from_agreement_version
                ),
            ),
            EventBody::AssetDeclared(d) => mark(
                actor.clone(),
                MarkKind::AssetDeclared,
                false,
                format!("{who} declared asset {} ({})", d.asset_id, d.kind.as_str()),
            ),
            EventBody::ProgressReported(d) => {
                let delivered = d
                    .delivered
                    .as_ref()
                    .map(|a| format!(", delivered {} {}", a.value, a.currency))
                    .unwrap_or_default();
                mark(
                    actor.clone(),
                    MarkKind::Progress,
                    false,
                    format!("{who} reported progress on {}{delivered}", d.commitment_id),
                );
            }
            EventBody::CommitmentFulfilled(d) => mark(
                actor.clone(),
                MarkKind::Fulfilled,
                false,
                format!("{who} fulfilled {} on {}", d.commitment_id, d.fulfilled_on),
            ),
            EventBody::ShortfallReported(d) => mark(
                actor.clone(),
                MarkKind::ShortfallReported,
                d.severity != roundtable_domain::vocab::Severity::Minor,
                format!(
                    "{who} reported {} shortfall {} on {}",
                    d.severity.as_str(),
                    d.shortfall_id,
                    d.commitment_id
                ),
            ),
            EventBody::ShortfallResolved(d) => {
                let penalty = d
                    .penalty
                    .as_ref()
                    .map(|a| format!(", penalty {} {}", a.value, a.currency))
                    .unwrap_or_default();
                mark(
                    None,
                    MarkKind::ShortfallResolved,
                    false,
                    format!("shortfall {} resolved{penalty}", d.shortfall_id),
                );
            }
            EventBody::PartnerWithdrawn(d) => mark(
                Some(d.partner_id.clone()),
                MarkKind::PartnerWithdrawn,
                true,
                format!(
                    "{} withdrew{}",
                    d.partner_id,
                    if d.transfers.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; transferred {}",
                            d.transfers
                                .iter()
                                .map(|t| format!("{} to {}", t.commitment_id, t.to))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                ),
            ),
            EventBody::NegotiationTerminated(d) => mark(
                None,
                MarkKind::Terminated,
                true,
                format!("terminated: {}", d.reason),
            ),
        }
    }
    (marks, part)
}

/// Marks objections closed on their objectors' lanes.
fn closed(
    objector: &HashMap<ObjectionId, PartnerId>,
    ids: &[ObjectionId],
    how: &str,
    mark: &mut dyn FnMut(Option<PartnerId>, MarkKind, bool, String),
) {
    for id in ids {
        mark(
            objector.get(id).cloned(),
            MarkKind::ObjectionClosed,
            false,
            format!("objection {id} {how}"),
        );
    }
}

/// Sectors in the order DOMAIN.md lists them.
pub(crate) const SECTORS: [Sector; 4] = Sector::ALL;

/// The colour of a sector (fill, and a light tint for its lanes).
pub(crate) fn sector_colour(s: Sector) -> (&'static str, &'static str) {
    match s {
        Sector::Government => ("#1f5fa8", "#e8f0fa"),
        Sector::PrivateSector => ("#c2571a", "#fbeee5"),
        Sector::CivilSociety => ("#2e7d32", "#e9f5ea"),
        Sector::External => ("#6a3d9a", "#f1ebf7"),
    }
}

/// A sector in words.
pub(crate) fn sector_label(s: Sector) -> &'static str {
    match s {
        Sector::Government => "Government",
        Sector::PrivateSector => "Private sector",
        Sector::CivilSociety => "Civil society",
        Sector::External => "External agents",
    }
}
