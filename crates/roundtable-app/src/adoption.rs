//! What a proposal still needs before the secretariat may adopt it, read from the
//! agreement view: the web app's "what blocks it" line, in the terms of DOMAIN.md,
//! "Decision rules".
//!
//! This mirrors the checks `decide` makes on `adopt` (the rules themselves stay in
//! `roundtable_domain::decide`): [`Adoption::adoptable`] is `true` exactly when
//! `decide` accepts `adopt` of that proposal from the secretariat. The tests hold the
//! two together on the sample minutes and on random negotiations.

use roundtable_domain::view::{NegotiationStatus, ProposalStatus};
use roundtable_domain::vocab::{DecisionRule, Role, Sector};
use roundtable_domain::{AgreementView, ObjectionId, PartnerId, ProposalId};

/// One thing that stands between a proposal and its adoption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// The negotiation is concluded: nothing more can be adopted.
    Concluded,
    /// The proposal is not open (adopted, withdrawn or superseded).
    NotOpen {
        /// Its status.
        status: ProposalStatus,
    },
    /// A signatory holds an open blocking objection: it must withdraw it.
    BlockingObjection {
        /// The objection.
        objection: ObjectionId,
        /// Who raised it.
        by: PartnerId,
    },
    /// No signatory endorses it yet (every rule needs one).
    SignatoryEndorsement,
    /// `cross_sector_consent`: no signatory of `sector` endorses it; any of
    /// `signatories` (the sector's signatories, in admission order) could.
    SectorEndorsement {
        /// The sector still silent.
        sector: Sector,
        /// Who could give the endorsement.
        signatories: Vec<PartnerId>,
    },
    /// `unanimity`: these signatories do not endorse it yet, in admission order.
    Endorsements {
        /// Who has yet to endorse.
        signatories: Vec<PartnerId>,
    },
}

/// Everything a proposal still needs, in the order `decide` checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    /// The proposal.
    pub proposal: ProposalId,
    /// What it needs; empty when it can be adopted now.
    pub needs: Vec<Need>,
}

impl Adoption {
    /// Whether the secretariat may adopt it now.
    pub fn adoptable(&self) -> bool {
        self.needs.is_empty()
    }
}

/// What `proposal` needs before it can be adopted in `view`; `None` when the view has
/// no such proposal.
pub fn adoption(view: &AgreementView, proposal: &ProposalId) -> Option<Adoption> {
    let p = view.proposals.get(proposal)?;
    let mut needs = Vec::new();
    if view.status == NegotiationStatus::Concluded {
        needs.push(Need::Concluded);
    }
    if p.status != ProposalStatus::Open {
        needs.push(Need::NotOpen { status: p.status });
    }
    for o in view.open_objections_on(proposal).filter(|o| o.blocking) {
        needs.push(Need::BlockingObjection {
            objection: o.objection_id.clone(),
            by: o.raised_by.clone(),
        });
    }
    let endorsing_signatory = |id: &PartnerId| {
        p.endorsed_by.contains(id)
            && view
                .partners
                .get(id)
                .is_some_and(|pt| pt.role == Role::Signatory)
    };
    let any_endorsing = p.endorsed_by.iter().any(endorsing_signatory);
    let mut rule = Vec::new();
    match view.decision_rule {
        DecisionRule::Consent => {}
        DecisionRule::CrossSectorConsent => {
            for sector in Sector::DECIDING {
                let of_sector: Vec<PartnerId> = view
                    .signatories()
                    .filter(|pt| pt.sector == sector)
                    .map(|pt| pt.partner_id.clone())
                    .collect();
                if !of_sector.is_empty() && !of_sector.iter().any(endorsing_signatory) {
                    rule.push(Need::SectorEndorsement {
                        sector,
                        signatories: of_sector,
                    });
                }
            }
        }
        DecisionRule::Unanimity => {
            let missing: Vec<PartnerId> = view
                .signatories()
                .filter(|pt| !p.endorsed_by.contains(&pt.partner_id))
                .map(|pt| pt.partner_id.clone())
                .collect();
            if !missing.is_empty() {
                rule.push(Need::Endorsements {
                    signatories: missing,
                });
            }
        }
    }
    if !any_endorsing && rule.is_empty() {
        needs.push(Need::SignatoryEndorsement);
    }
    needs.extend(rule);
    Some(Adoption {
        proposal: proposal.clone(),
        needs,
    })
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;
    use roundtable_domain::command::{
        AdmitPartner, Object, OpenNegotiation, ProposalRef, Propose, WithdrawObjection,
    };
    use roundtable_domain::vocab::PartnerKind;
    use roundtable_domain::{
        Actor, Command, CommandEnvelope, CommandId, NegotiationId, Projection, RecordedEvent,
        decide,
    };

    use super::*;

    /// Decides `cmd` and, when accepted, applies it; returns whether it was accepted.
    fn step(p: &mut Projection, cmd: &CommandEnvelope) -> bool {
        let Ok(event) = decide(p.view.as_ref(), cmd) else {
            return false;
        };
        let sealed = RecordedEvent::seal(
            cmd,
            event,
            p.version + 1,
            &p.last_hash,
            uuid::Uuid::new_v4(),
            cmd.occurred_at,
        );
        p.apply(&sealed).expect("a sealed event applies");
        true
    }

    fn envelope(n: u64, actor: Actor, command: Command) -> CommandEnvelope {
        CommandEnvelope {
            command_id: CommandId::new(format!("c{n}")).expect("id"),
            negotiation_id: NegotiationId::new("n").expect("id"),
            actor,
            occurred_at: Utc.timestamp_opt(1_800_000_000 + n as i64, 0).unwrap(),
            command,
        }
    }

    /// The property: for every proposal, `adoptable` is what `decide` says of adopt.
    fn agrees_with_decide(view: &AgreementView) {
        for id in view.proposals.keys() {
            let a = adoption(view, id).expect("the proposal exists");
            let adopt = envelope(
                0,
                Actor::Secretariat,
                Command::Adopt(ProposalRef {
                    proposal_id: id.clone(),
                }),
            );
            let decided = decide(Some(view), &adopt);
            assert_eq!(
                a.adoptable(),
                decided.is_ok(),
                "proposal {id}: needs {:?}, decide says {decided:?}",
                a.needs
            );
        }
    }

    #[test]
    fn the_sample_minutes_agree_with_decide_at_every_step() {
        let text = include_str!("../../../examples/minutes/harbourside-waste.jsonl");
        let mut p = Projection::new();
        let mut checked = 0;
        for (n, line) in text.lines().enumerate() {
            let Some(m) = roundtable_domain::minutes::parse_line(line).expect("a good line") else {
                continue;
            };
            let cmd = CommandEnvelope {
                command_id: m.command_id,
                negotiation_id: m.negotiation_id,
                actor: m.actor,
                occurred_at: m
                    .at
                    .unwrap_or_else(|| Utc.timestamp_opt(n as i64, 0).unwrap()),
                command: m.command,
            };
            assert!(step(&mut p, &cmd), "line {} is accepted", n + 1);
            let view = p.view.as_ref().expect("opened");
            agrees_with_decide(view);
            checked += view.proposals.len();
        }
        assert!(checked > 50, "checked {checked} proposal states");
    }

    #[test]
    fn a_blocking_objection_and_a_silent_sector_are_named() {
        let mut p = Projection::new();
        let s = Actor::Secretariat;
        let partner = |id: &str| Actor::parse(id).expect("partner");
        let admit = |id: &str, kind: PartnerKind, role: Role| {
            Command::AdmitPartner(AdmitPartner {
                partner_id: PartnerId::new(id).expect("id"),
                name: id.to_owned(),
                sector: kind.sector(),
                kind,
                role,
                public_key: None,
            })
        };
        let cmds = [
            (
                s.clone(),
                Command::OpenNegotiation(OpenNegotiation {
                    title: "t".into(),
                    service: "water".into(),
                    decision_rule: Some(DecisionRule::CrossSectorConsent),
                }),
            ),
            (
                s.clone(),
                admit("city", PartnerKind::Municipality, Role::Signatory),
            ),
            (
                s.clone(),
                admit("firm", PartnerKind::NationalFirm, Role::Signatory),
            ),
            (
                s.clone(),
                admit("union", PartnerKind::TradeUnion, Role::Signatory),
            ),
            (
                partner("city"),
                Command::Propose(Propose {
                    proposal_id: ProposalId::new("p1").expect("id"),
                    clause_id: roundtable_domain::ClauseId::new("c1").expect("id"),
                    text: "text".into(),
                    title: None,
                    rationale: None,
                }),
            ),
            (
                partner("city"),
                Command::Endorse(ProposalRef {
                    proposal_id: ProposalId::new("p1").expect("id"),
                }),
            ),
            (
                partner("union"),
                Command::Object(Object {
                    objection_id: ObjectionId::new("o1").expect("id"),
                    proposal_id: ProposalId::new("p1").expect("id"),
                    grounds: "no".into(),
                    blocking: true,
                }),
            ),
        ];
        for (n, (actor, command)) in cmds.into_iter().enumerate() {
            assert!(step(&mut p, &envelope(n as u64 + 1, actor, command)));
        }
        let view = p.view.as_ref().expect("opened");
        let p1 = ProposalId::new("p1").expect("id");
        let a = adoption(view, &p1).expect("exists");
        assert_eq!(
            a.needs,
            vec![
                Need::BlockingObjection {
                    objection: ObjectionId::new("o1").expect("id"),
                    by: PartnerId::new("union").expect("id"),
                },
                Need::SectorEndorsement {
                    sector: Sector::PrivateSector,
                    signatories: vec![PartnerId::new("firm").expect("id")],
                },
                Need::SectorEndorsement {
                    sector: Sector::CivilSociety,
                    signatories: vec![PartnerId::new("union").expect("id")],
                },
            ]
        );
        agrees_with_decide(view);
        assert!(adoption(view, &ProposalId::new("p2").expect("id")).is_none());
    }

    const PARTNERS: [(&str, PartnerKind, Role); 6] = [
        ("city", PartnerKind::Municipality, Role::Signatory),
        ("epa", PartnerKind::Regulator, Role::Observer),
        ("firm", PartnerKind::NationalFirm, Role::Signatory),
        ("coop", PartnerKind::SmallScaleProvider, Role::Observer),
        ("union", PartnerKind::TradeUnion, Role::Signatory),
        ("donor", PartnerKind::Donor, Role::Signatory),
    ];

    fn command(op: u8, who: usize, what: usize) -> (Actor, Command) {
        let partner = Actor::parse(PARTNERS[who % PARTNERS.len()].0).expect("partner");
        let proposal = ProposalId::new(format!("p{}", what % 3)).expect("id");
        let r = ProposalRef {
            proposal_id: proposal.clone(),
        };
        match op % 7 {
            0 => (
                partner,
                Command::Propose(Propose {
                    proposal_id: proposal,
                    clause_id: roundtable_domain::ClauseId::new(format!("c{}", what % 2))
                        .expect("id"),
                    text: "text".into(),
                    title: None,
                    rationale: None,
                }),
            ),
            1 | 2 => (partner, Command::Endorse(r)),
            3 => (partner, Command::RetractEndorsement(r)),
            4 => (
                partner,
                Command::Object(Object {
                    objection_id: ObjectionId::new(format!("o{who}{what}")).expect("id"),
                    proposal_id: proposal,
                    grounds: "grounds".into(),
                    blocking: what % 2 == 0,
                }),
            ),
            5 => (
                partner,
                Command::WithdrawObjection(WithdrawObjection {
                    objection_id: ObjectionId::new(format!("o{who}{what}")).expect("id"),
                    note: None,
                }),
            ),
            _ => (Actor::Secretariat, Command::Adopt(r)),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn adoptable_exactly_when_decide_accepts_adopt(
            rule in 0u8..3,
            admitted in 1usize..=PARTNERS.len(),
            ops in proptest::collection::vec((0u8..7, 0usize..6, 0usize..6), 0..60),
        ) {
            let mut p = Projection::new();
            let rule = [DecisionRule::Consent, DecisionRule::CrossSectorConsent, DecisionRule::Unanimity][rule as usize];
            let open = Command::OpenNegotiation(OpenNegotiation {
                title: "t".into(),
                service: "water".into(),
                decision_rule: Some(rule),
            });
            prop_assert!(step(&mut p, &envelope(1, Actor::Secretariat, open)));
            for (id, kind, role) in PARTNERS.iter().take(admitted) {
                let admit = Command::AdmitPartner(AdmitPartner {
                    partner_id: PartnerId::new(*id).expect("id"),
                    name: (*id).to_owned(),
                    sector: kind.sector(),
                    kind: *kind,
                    role: *role,
                    public_key: None,
                });
                let cmd = envelope(p.version + 1, Actor::Secretariat, admit);
                prop_assert!(step(&mut p, &cmd));
            }
            for (op, who, what) in ops {
                let (actor, cmd) = command(op, who, what);
                let cmd = envelope(p.version + 1, actor, cmd);
                step(&mut p, &cmd);
                agrees_with_decide(p.view.as_ref().expect("opened"));
            }
        }
    }
}
