//! Properties of `decide`, `evolve`, the hash chain and the agreement view over random
//! command sequences.
//!
//! The universe is small on purpose, so that random sequences collide: seven partners
//! of mixed sectors and roles (plus a stranger never admitted), four proposal ids on
//! three clauses, four objection ids, three commitment ids, all twenty-two commands
//! (the eight of contract version 2 included: two round ids, three asset ids, two
//! shortfall ids, transfers to three new commitment ids), and sometimes invalid input
//! (blank or over-long text, a kind outside its sector, a bad amount or currency, the
//! wrong actor, a bad transfer). Actors are mostly chosen "naturally" from the state
//! (the proposer withdraws, a signatory who has not signed signs...) so that sequences
//! reach adoption, signing and conclusion often enough.

#[path = "common/mod.rs"]
mod common;

use ed25519_dalek::{Signer, SigningKey};
use proptest::prelude::*;
use roundtable_domain::command::{
    AdmitPartner, Commit, Conclude, DeclareAsset, Fulfil, Object, OpenNegotiation, OpenRound,
    ProposalRef, Propose, RegisterKey, ReportProgress, ReportShortfall, ResolveShortfall, Sign,
    Terminate, Transfer, WithdrawCommitment, WithdrawObjection, WithdrawPartner,
};
use roundtable_domain::signing::view_signing_message;
use roundtable_domain::view::{
    CommitmentStatus, NegotiationStatus, ObjectionStatus, PartnerStatus, ProposalStatus,
    RoundStatus,
};
use roundtable_domain::vocab::{
    Amount, AssetKind, CommitmentKind, DecisionRule, PartnerKind, Role, Sector, Severity,
};
use roundtable_domain::{
    AgreementView, Command, CommandEnvelope, EventBody, GENESIS_HASH, PartnerId, Projection,
    RecordedEvent, decide,
};

use common::{aid, bumps_agreement, cid, cmd, date, kid, oid, partner, pid, rid, seal, sid};

/// `(id, kind, role)`; the sector is the kind's.
const PARTNERS: [(&str, PartnerKind, Role); 7] = [
    ("city", PartnerKind::Municipality, Role::Signatory),
    ("utility", PartnerKind::PublicUtility, Role::Observer),
    ("firm", PartnerKind::NationalFirm, Role::Signatory),
    ("kiosks", PartnerKind::SmallScaleProvider, Role::Observer),
    ("union", PartnerKind::TradeUnion, Role::Signatory),
    (
        "residents",
        PartnerKind::CommunityOrganisation,
        Role::Observer,
    ),
    ("donor", PartnerKind::Donor, Role::Signatory),
];
/// Never admitted.
const STRANGER: &str = "stranger";
const PROPOSALS: usize = 4;
const CLAUSES: usize = 3;
const OBJECTIONS: usize = 4;
const COMMITMENTS: usize = 3;
/// Ed25519 keys partners may be admitted with or given.
const KEYS: usize = 3;
const ROUNDS: usize = 2;
const ASSETS: usize = 3;
const SHORTFALLS: usize = 2;
/// New commitment ids a transfer may give (`k-t0`...).
const NEW_COMMITMENTS: usize = 3;

fn signing_key(i: usize) -> SigningKey {
    SigningKey::from_bytes(&[u8::try_from(i).unwrap() + 1; 32])
}

fn key_hex(i: usize) -> String {
    hex::encode(signing_key(i).verifying_key().to_bytes())
}

/// `by`'s signature of the agreement as `view` shows it when it has a key (with
/// another key when `forge`), else none.
fn signature_of(view: Option<&AgreementView>, by: &str, forge: bool) -> Option<String> {
    let view = view?;
    let key = view.partners.get(by)?.public_key.as_deref()?;
    let i = (0..KEYS).find(|i| key_hex(*i) == key)?;
    let signer = signing_key(if forge { (i + 1) % KEYS } else { i });
    let message = view_signing_message(view);
    Some(hex::encode(signer.sign(message.as_bytes()).to_bytes()))
}

/// Who issues a generated command.
#[derive(Debug, Clone)]
enum Who {
    /// The actor the command would normally come from, picked from the state; `seed`
    /// chooses among several candidates.
    Natural(usize),
    Secretariat,
    /// Any partner id of the universe, or the stranger.
    Any(usize),
}

#[derive(Debug, Clone, Copy)]
enum Text {
    Normal,
    Blank,
    Longest,
    TooLong,
}

#[derive(Debug, Clone, Copy)]
enum Money {
    None,
    Good,
    BadValue,
    BadCurrency,
}

#[derive(Debug, Clone)]
enum Op {
    Open(DecisionRule),
    Admit {
        partner: usize,
        wrong_sector: bool,
        key: Option<usize>,
    },
    RegisterKey {
        partner: usize,
        key: usize,
    },
    Propose {
        p: usize,
        clause: usize,
        text: Text,
    },
    WithdrawProposal {
        p: usize,
    },
    Endorse {
        p: usize,
    },
    Retract {
        p: usize,
    },
    Object {
        o: usize,
        p: usize,
        blocking: bool,
        blank: bool,
    },
    WithdrawObjection {
        o: usize,
    },
    Adopt {
        p: usize,
    },
    Commit {
        k: usize,
        clause: Option<usize>,
        money: Money,
        asset: Option<usize>,
    },
    WithdrawCommitment {
        k: usize,
    },
    Sign {
        /// Sign with a key other than the partner's registered one.
        forge: bool,
    },
    Conclude,
    OpenRound {
        r: usize,
        blank: bool,
    },
    DeclareAsset {
        a: usize,
        kind: usize,
    },
    ReportProgress {
        k: usize,
        money: Money,
        /// Delivered in a currency other than the commitment's.
        other_currency: bool,
    },
    Fulfil {
        k: usize,
    },
    ReportShortfall {
        f: usize,
        k: usize,
        severity: usize,
    },
    ResolveShortfall {
        f: usize,
        penalty: Money,
    },
    WithdrawPartner {
        partner: usize,
        /// `(commitment, to, new commitment)`: indices into the commitments, the
        /// partners and the new commitment ids.
        transfers: Vec<(usize, usize, usize)>,
    },
    Terminate,
}

fn rule() -> impl Strategy<Value = DecisionRule> {
    prop_oneof![
        Just(DecisionRule::Consent),
        Just(DecisionRule::CrossSectorConsent),
        Just(DecisionRule::Unanimity),
    ]
}

fn text() -> impl Strategy<Value = Text> {
    prop_oneof![
        20 => Just(Text::Normal),
        1 => Just(Text::Blank),
        1 => Just(Text::Longest),
        1 => Just(Text::TooLong),
    ]
}

fn money() -> impl Strategy<Value = Money> {
    prop_oneof![
        6 => Just(Money::None),
        3 => Just(Money::Good),
        1 => Just(Money::BadValue),
        1 => Just(Money::BadCurrency),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0..PROPOSALS;
    prop_oneof![
        1 => rule().prop_map(Op::Open),
        2 => (0..PARTNERS.len(), prop::bool::weighted(0.1), prop::option::weighted(0.3, 0..KEYS))
            .prop_map(|(partner, wrong_sector, key)| Op::Admit { partner, wrong_sector, key }),
        1 => (0..PARTNERS.len(), 0..KEYS).prop_map(|(partner, key)| Op::RegisterKey { partner, key }),
        6 => (p.clone(), 0..CLAUSES, text())
            .prop_map(|(p, clause, text)| Op::Propose { p, clause, text }),
        1 => p.clone().prop_map(|p| Op::WithdrawProposal { p }),
        8 => p.clone().prop_map(|p| Op::Endorse { p }),
        1 => p.clone().prop_map(|p| Op::Retract { p }),
        3 => (0..OBJECTIONS, p.clone(), any::<bool>(), prop::bool::weighted(0.05))
            .prop_map(|(o, p, blocking, blank)| Op::Object { o, p, blocking, blank }),
        2 => (0..OBJECTIONS).prop_map(|o| Op::WithdrawObjection { o }),
        6 => p.prop_map(|p| Op::Adopt { p }),
        2 => (0..COMMITMENTS, prop::option::weighted(0.4, 0..CLAUSES), money(), prop::option::weighted(0.3, 0..ASSETS))
            .prop_map(|(k, clause, money, asset)| Op::Commit { k, clause, money, asset }),
        1 => (0..COMMITMENTS).prop_map(|k| Op::WithdrawCommitment { k }),
        6 => prop::bool::weighted(0.1).prop_map(|forge| Op::Sign { forge }),
        3 => Just(Op::Conclude),
        1 => after_op(),
    ]
}

/// The commands of contract version 2.
fn after_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..ROUNDS, prop::bool::weighted(0.05)).prop_map(|(r, blank)| Op::OpenRound { r, blank }),
        2 => (0..ASSETS, 0..AssetKind::ALL.len()).prop_map(|(a, kind)| Op::DeclareAsset { a, kind }),
        3 => (0..COMMITMENTS, money(), prop::bool::weighted(0.1))
            .prop_map(|(k, money, other_currency)| Op::ReportProgress { k, money, other_currency }),
        2 => (0..COMMITMENTS).prop_map(|k| Op::Fulfil { k }),
        2 => (0..SHORTFALLS, 0..COMMITMENTS, 0..Severity::ALL.len())
            .prop_map(|(f, k, severity)| Op::ReportShortfall { f, k, severity }),
        2 => (0..SHORTFALLS, money()).prop_map(|(f, penalty)| Op::ResolveShortfall { f, penalty }),
        2 => (0..PARTNERS.len(), prop::collection::vec((0..COMMITMENTS, 0..=PARTNERS.len(), 0..NEW_COMMITMENTS), 0..=2))
            .prop_map(|(partner, transfers)| Op::WithdrawPartner { partner, transfers }),
        1 => prop::bool::weighted(0.3).prop_map(|now| if now { Op::Terminate } else { Op::Conclude }),
    ]
}

/// Steps weighted towards closing: adopt, withdraw, sign, conclude (and still anything).
fn closing_op() -> impl Strategy<Value = Op> {
    let p = 0..PROPOSALS;
    prop_oneof![
        4 => p.clone().prop_map(|p| Op::Endorse { p }),
        4 => p.clone().prop_map(|p| Op::Adopt { p }),
        2 => p.prop_map(|p| Op::WithdrawProposal { p }),
        6 => prop::bool::weighted(0.1).prop_map(|forge| Op::Sign { forge }),
        2 => Just(Op::Conclude),
        2 => op(),
    ]
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        17 => any::<usize>().prop_map(Who::Natural),
        1 => Just(Who::Secretariat),
        2 => (0..=PARTNERS.len()).prop_map(Who::Any),
    ]
}

/// Steps of the life after the signature, and sometimes a round's business and its
/// closing.
fn later_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => after_op(),
        2 => closing_op(),
        2 => (0..COMMITMENTS, prop::option::weighted(0.3, 0..CLAUSES), money(), prop::option::weighted(0.5, 0..ASSETS))
            .prop_map(|(k, clause, money, asset)| Op::Commit { k, clause, money, asset }),
        1 => op(),
    ]
}

/// A random life: one that starts anywhere ([`negotiation`]) or one that concludes
/// first and then lives after the signature ([`after_conclusion`]).
fn sequence() -> BoxedStrategy<Vec<(Who, Op)>> {
    prop_oneof![
        3 => negotiation(),
        2 => after_conclusion(),
    ]
    .boxed()
}

/// A negotiation concluded at once (every partner admitted, one clause agreed, two
/// commitments, every signatory signs), then up to 40 random steps weighted to the
/// commands of contract version 2, rule-breaking ones included.
fn after_conclusion() -> impl Strategy<Value = Vec<(Who, Op)>> {
    prop::collection::vec((who(), later_op()), 0..=40).prop_map(|later| {
        let mut steps = vec![(Who::Natural(0), Op::Open(DecisionRule::Consent))];
        for partner in 0..PARTNERS.len() {
            steps.push((
                Who::Natural(0),
                Op::Admit {
                    partner,
                    wrong_sector: false,
                    key: None,
                },
            ));
        }
        steps.extend([
            (
                Who::Natural(0),
                Op::Propose {
                    p: 0,
                    clause: 0,
                    text: Text::Normal,
                },
            ),
            (Who::Natural(1), Op::Endorse { p: 0 }),
            (Who::Natural(0), Op::Adopt { p: 0 }),
            (
                Who::Natural(2),
                Op::Commit {
                    k: 0,
                    clause: None,
                    money: Money::Good,
                    asset: None,
                },
            ),
            (
                Who::Natural(5),
                Op::Commit {
                    k: 1,
                    clause: Some(0),
                    money: Money::None,
                    asset: None,
                },
            ),
        ]);
        for i in 0..4 {
            steps.push((Who::Natural(i), Op::Sign { forge: false }));
        }
        steps.push((Who::Natural(0), Op::Conclude));
        steps.extend(later);
        steps
    })
}

/// A sequence: usually opened first and with some partners admitted up front, then
/// random steps, then steps weighted towards closing, then the life after the
/// signature; 76 commands at most.
fn negotiation() -> impl Strategy<Value = Vec<(Who, Op)>> {
    (
        prop::option::weighted(0.95, rule()),
        prop::collection::vec(0..PARTNERS.len(), 0..=PARTNERS.len()),
        prop::collection::vec((who(), op()), 0..=36),
        prop::collection::vec((who(), closing_op()), 0..=16),
        prop::collection::vec((who(), later_op()), 0..=16),
    )
        .prop_map(|(opened, admitted, body, closing, later)| {
            let mut steps = Vec::new();
            if let Some(r) = opened {
                steps.push((Who::Natural(0), Op::Open(r)));
            }
            for partner in admitted {
                steps.push((
                    Who::Natural(0),
                    Op::Admit {
                        partner,
                        wrong_sector: false,
                        key: None,
                    },
                ));
            }
            steps.extend(body);
            steps.extend(closing);
            steps.extend(later);
            steps
        })
}

fn pick<T: Clone>(items: &[T], seed: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[seed % items.len()].clone())
}

fn p_id(i: usize) -> String {
    format!("p-{i}")
}

/// Under a natural actor, a command on a proposal goes to an open one when there is
/// one (`p` picks which), so that sequences make progress; other actors keep `p`.
fn steer(view: Option<&AgreementView>, who: &Who, op: &Op) -> Op {
    let Who::Natural(_) = who else {
        return op.clone();
    };
    let open: Vec<usize> = (0..PROPOSALS)
        .filter(|i| {
            view.and_then(|v| v.proposals.get(p_id(*i).as_str()))
                .is_some_and(|x| x.status == ProposalStatus::Open)
        })
        .collect();
    let to_open = |p: usize| {
        if open.contains(&p) {
            p
        } else {
            pick(&open, p).unwrap_or(p)
        }
    };
    // The secretariat adopts what has support, when something has.
    let endorsed: Vec<usize> = open
        .iter()
        .copied()
        .filter(|i| {
            view.and_then(|v| v.proposals.get(p_id(*i).as_str()))
                .is_some_and(|x| !x.endorsed_by.is_empty())
        })
        .collect();
    // Delivery goes to an active commitment, resolution to an open shortfall.
    let active: Vec<usize> = (0..COMMITMENTS)
        .filter(|k| {
            view.and_then(|v| v.commitments.get(format!("k-{k}").as_str()))
                .is_some_and(|x| x.status == CommitmentStatus::Active)
        })
        .collect();
    let to_active = |k: usize| pick(&active, k).unwrap_or(k);
    let open_shortfalls: Vec<usize> = (0..SHORTFALLS)
        .filter(|f| {
            view.and_then(|v| v.shortfalls.get(format!("s-{f}").as_str()))
                .is_some_and(|x| x.status == roundtable_domain::view::ShortfallStatus::Open)
        })
        .collect();
    match op.clone() {
        Op::ReportProgress {
            k,
            money,
            other_currency,
        } => Op::ReportProgress {
            k: to_active(k),
            money,
            other_currency,
        },
        Op::Fulfil { k } => Op::Fulfil { k: to_active(k) },
        Op::ReportShortfall { f, k, severity } => Op::ReportShortfall {
            f,
            k: to_active(k),
            severity,
        },
        Op::ResolveShortfall { f, penalty } => Op::ResolveShortfall {
            f: pick(&open_shortfalls, f).unwrap_or(f),
            penalty,
        },
        Op::Endorse { p } => Op::Endorse { p: to_open(p) },
        Op::Retract { p } => Op::Retract { p: to_open(p) },
        Op::Adopt { p } => Op::Adopt {
            p: pick(&endorsed, p).unwrap_or_else(|| to_open(p)),
        },
        Op::WithdrawProposal { p } => Op::WithdrawProposal { p: to_open(p) },
        Op::Object {
            o,
            p,
            blocking,
            blank,
        } => Op::Object {
            o,
            p: to_open(p),
            blocking,
            blank,
        },
        other => other,
    }
}

/// Turns a generated step into a command, choosing a natural actor from `view`.
fn to_command(view: Option<&AgreementView>, who: &Who, op: &Op) -> CommandEnvelope {
    let op = &steer(view, who, op);
    let admitted: Vec<String> = view
        .map(|v| {
            v.partners
                .values()
                .filter(|p| p.status == PartnerStatus::Active)
                .map(|p| p.partner_id.to_string())
                .collect()
        })
        .unwrap_or_default();
    let any_admitted = |seed| pick(&admitted, seed).unwrap_or_else(|| STRANGER.to_owned());
    let committer = |k: usize, seed| {
        view.and_then(|v| v.commitments.get(format!("k-{k}").as_str()))
            .map_or_else(|| any_admitted(seed), |x| x.partner_id.to_string())
    };
    let proposer = |p: usize, seed| {
        view.and_then(|v| v.proposals.get(p_id(p).as_str()))
            .map_or_else(|| any_admitted(seed), |x| x.proposed_by.to_string())
    };
    let by: String = match who {
        Who::Secretariat => "secretariat".to_owned(),
        Who::Any(i) => PARTNERS.get(*i).map_or(STRANGER, |p| p.0).to_owned(),
        Who::Natural(seed) => {
            let seed = *seed;
            match op {
                Op::Open(_)
                | Op::Admit { .. }
                | Op::RegisterKey { .. }
                | Op::Adopt { .. }
                | Op::Conclude
                | Op::OpenRound { .. }
                | Op::ResolveShortfall { .. }
                | Op::Terminate => "secretariat".to_owned(),
                Op::ReportProgress { .. } if seed % 3 == 0 => "secretariat".to_owned(),
                Op::ReportProgress { k, .. } | Op::Fulfil { k } => committer(*k, seed),
                Op::WithdrawPartner { partner: i, .. } => {
                    if seed % 2 == 0 {
                        "secretariat".to_owned()
                    } else {
                        PARTNERS[*i].0.to_owned()
                    }
                }
                Op::Commit { asset: Some(a), .. } => view
                    .and_then(|v| v.assets.get(format!("a-{a}").as_str()))
                    .map_or_else(|| any_admitted(seed), |x| x.partner_id.to_string()),
                Op::DeclareAsset { .. } | Op::ReportShortfall { .. } => any_admitted(seed),
                Op::WithdrawProposal { p } => proposer(*p, seed),
                Op::Retract { p } => view
                    .and_then(|v| v.proposals.get(p_id(*p).as_str()))
                    .and_then(|x| pick(&x.endorsed_by.iter().cloned().collect::<Vec<_>>(), seed))
                    .map_or_else(|| any_admitted(seed), |x| x.to_string()),
                Op::WithdrawObjection { o } => view
                    .and_then(|v| v.objections.get(format!("o-{o}").as_str()))
                    .map_or_else(|| any_admitted(seed), |x| x.raised_by.to_string()),
                Op::WithdrawCommitment { k } => view
                    .and_then(|v| v.commitments.get(format!("k-{k}").as_str()))
                    .map_or_else(|| any_admitted(seed), |x| x.partner_id.to_string()),
                Op::Sign { .. } => view
                    .and_then(|v| pick(&v.awaiting_signature, seed))
                    .map_or_else(|| any_admitted(seed), |x| x.to_string()),
                Op::Object { blocking: true, .. } => {
                    let signatories: Vec<String> = view
                        .map(|v| v.signatories().map(|x| x.partner_id.to_string()).collect())
                        .unwrap_or_default();
                    pick(&signatories, seed).unwrap_or_else(|| any_admitted(seed))
                }
                Op::Endorse { p } => {
                    // Someone who does not endorse it yet, signatories first.
                    let candidates: Vec<String> = view
                        .map(|v| {
                            let endorsing = v
                                .proposals
                                .get(p_id(*p).as_str())
                                .map(|x| x.endorsed_by.clone())
                                .unwrap_or_default();
                            let mut free: Vec<_> = v
                                .partners
                                .values()
                                .filter(|x| !endorsing.contains(&x.partner_id))
                                .collect();
                            if seed % 4 != 0 && free.iter().any(|x| x.role == Role::Signatory) {
                                free.retain(|x| x.role == Role::Signatory);
                            }
                            free.iter().map(|x| x.partner_id.to_string()).collect()
                        })
                        .unwrap_or_default();
                    pick(&candidates, seed).unwrap_or_else(|| any_admitted(seed))
                }
                Op::Propose { .. } | Op::Object { .. } | Op::Commit { .. } => any_admitted(seed),
            }
        }
    };
    let command = match op {
        Op::Open(r) => Command::OpenNegotiation(OpenNegotiation {
            title: "Lakeside water partnership".into(),
            service: "water_sanitation".into(),
            decision_rule: Some(*r),
        }),
        Op::Admit {
            partner: i,
            wrong_sector,
            key,
        } => {
            let (id, kind, role) = PARTNERS[*i];
            let sector = if *wrong_sector {
                Sector::ALL
                    .into_iter()
                    .find(|s| *s != kind.sector())
                    .unwrap()
            } else {
                kind.sector()
            };
            Command::AdmitPartner(AdmitPartner {
                partner_id: partner(id),
                name: id.to_uppercase(),
                sector,
                kind,
                role,
                public_key: key.map(key_hex),
            })
        }
        Op::RegisterKey { partner: i, key } => Command::RegisterKey(RegisterKey {
            partner_id: partner(PARTNERS[*i].0),
            public_key: key_hex(*key),
        }),
        Op::Propose { p, clause, text } => Command::Propose(Propose {
            proposal_id: pid(&p_id(*p)),
            clause_id: cid(&format!("c-{clause}")),
            text: match text {
                Text::Normal => format!("text of p-{p} on c-{clause}"),
                Text::Blank => " ".into(),
                Text::Longest => "é".repeat(20_000),
                Text::TooLong => "x".repeat(20_001),
            },
            title: (p % 2 == 0).then(|| format!("title {p}")),
            rationale: None,
        }),
        Op::WithdrawProposal { p } => Command::WithdrawProposal(ProposalRef {
            proposal_id: pid(&p_id(*p)),
        }),
        Op::Endorse { p } => Command::Endorse(ProposalRef {
            proposal_id: pid(&p_id(*p)),
        }),
        Op::Retract { p } => Command::RetractEndorsement(ProposalRef {
            proposal_id: pid(&p_id(*p)),
        }),
        Op::Object {
            o,
            p,
            blocking,
            blank,
        } => Command::Object(Object {
            objection_id: oid(&format!("o-{o}")),
            proposal_id: pid(&p_id(*p)),
            grounds: if *blank {
                String::new()
            } else {
                "costly".into()
            },
            blocking: *blocking,
        }),
        Op::WithdrawObjection { o } => Command::WithdrawObjection(WithdrawObjection {
            objection_id: oid(&format!("o-{o}")),
            note: None,
        }),
        Op::Adopt { p } => Command::Adopt(ProposalRef {
            proposal_id: pid(&p_id(*p)),
        }),
        Op::Commit {
            k,
            clause,
            money,
            asset,
        } => Command::Commit(Commit {
            commitment_id: kid(&format!("k-{k}")),
            description: "pipes".into(),
            kind: CommitmentKind::InKind,
            clause_id: clause.map(|c| cid(&format!("c-{c}"))),
            amount: match money {
                Money::None => None,
                Money::Good => Some(("1250.50", "KES")),
                Money::BadValue => Some(("-3", "KES")),
                Money::BadCurrency => Some(("3", "kes")),
            }
            .map(|(value, currency)| Amount {
                value: value.into(),
                currency: currency.into(),
            }),
            due: (k % 2 == 0).then(|| date(2028, 1, 1)),
            assets: asset.iter().map(|a| aid(&format!("a-{a}"))).collect(),
        }),
        Op::WithdrawCommitment { k } => Command::WithdrawCommitment(WithdrawCommitment {
            commitment_id: kid(&format!("k-{k}")),
            reason: "budget".into(),
        }),
        Op::Sign { forge } => Command::Sign(Sign {
            signature: signature_of(view, &by, *forge),
        }),
        Op::Conclude => Command::Conclude(Conclude {}),
        Op::OpenRound { r, blank } => Command::OpenRound(OpenRound {
            round_id: rid(&format!("r-{r}")),
            reason: if *blank {
                " ".into()
            } else {
                "tariff review".into()
            },
        }),
        Op::DeclareAsset { a, kind } => Command::DeclareAsset(DeclareAsset {
            asset_id: aid(&format!("a-{a}")),
            kind: AssetKind::ALL[*kind],
            description: "a depot".into(),
        }),
        Op::ReportProgress {
            k,
            money,
            other_currency,
        } => Command::ReportProgress(ReportProgress {
            commitment_id: kid(&format!("k-{k}")),
            note: "pipes laid".into(),
            delivered: amount(*money).map(|mut a| {
                if *other_currency {
                    a.currency = "EUR".into();
                }
                a
            }),
        }),
        Op::Fulfil { k } => Command::Fulfil(Fulfil {
            commitment_id: kid(&format!("k-{k}")),
            fulfilled_on: date(2028, 2, 1),
            note: "done".into(),
        }),
        Op::ReportShortfall { f, k, severity } => Command::ReportShortfall(ReportShortfall {
            shortfall_id: sid(&format!("s-{f}")),
            commitment_id: kid(&format!("k-{k}")),
            description: "kiosks shut early".into(),
            severity: Severity::ALL[*severity],
        }),
        Op::ResolveShortfall { f, penalty } => Command::ResolveShortfall(ResolveShortfall {
            shortfall_id: sid(&format!("s-{f}")),
            resolution: "hours restored".into(),
            penalty: amount(*penalty),
        }),
        Op::WithdrawPartner {
            partner: i,
            transfers,
        } => Command::WithdrawPartner(WithdrawPartner {
            partner_id: partner(PARTNERS[*i].0),
            reason: "leaves the city".into(),
            transfers: transfers
                .iter()
                .map(|(k, to, new)| Transfer {
                    commitment_id: kid(&format!("k-{k}")),
                    to: partner(PARTNERS.get(*to).map_or(STRANGER, |p| p.0)),
                    new_commitment_id: kid(&format!("k-t{new}")),
                })
                .collect(),
        }),
        Op::Terminate => Command::Terminate(Terminate {
            reason: "abandoned".into(),
        }),
    };
    cmd(&by, command)
}

/// The amount a [`Money`] stands for.
fn amount(money: Money) -> Option<Amount> {
    match money {
        Money::None => None,
        Money::Good => Some(("1250.50", "KES")),
        Money::BadValue => Some(("-3", "KES")),
        Money::BadCurrency => Some(("3", "kes")),
    }
    .map(|(value, currency)| Amount {
        value: value.into(),
        currency: currency.into(),
    })
}

/// What a run produced: every sealed event and the projection applied one by one.
struct Run {
    events: Vec<RecordedEvent>,
    projection: Projection,
}

/// Runs `steps`, checking the per-step properties as it goes.
fn run(steps: &[(Who, Op)]) -> Result<Run, TestCaseError> {
    let mut p = Projection::new();
    let mut events: Vec<RecordedEvent> = Vec::new();
    for (who, op) in steps {
        let c = to_command(p.view.as_ref(), who, op);
        let before_view = p.view.clone();
        let before_version = (p.version, p.last_hash.clone());
        let decided = decide(p.view.as_ref(), &c);

        // (d) the stored view is enough to go on deciding: after a JSON round trip
        // it is equal, decides this command the same way, and applies its event the same.
        let resumed = p.view.as_ref().map(|v| {
            let bytes = serde_json::to_vec(v).expect("a view serializes");
            AgreementView::from_json(&bytes).expect("a view deserializes")
        });
        prop_assert_eq!(&resumed, &p.view, "the view survives a JSON round trip");
        prop_assert_eq!(
            &decide(resumed.as_ref(), &c),
            &decided,
            "the stored view decides {} like the live one",
            c.command.name()
        );

        match decided {
            Err(rejection) => {
                // (a) a rejected command changes nothing and records nothing.
                prop_assert_eq!(&p.view, &before_view);
                prop_assert_eq!((p.version, p.last_hash.clone()), before_version.clone());
                prop_assert_eq!(
                    decide(p.view.as_ref(), &c),
                    Err(rejection),
                    "judged again, the same rejection"
                );
            }
            Ok(event) => {
                let recorded = seal(&p, &c, event);
                prop_assert_eq!(recorded.version, before_version.0 + 1);
                prop_assert_eq!(&recorded.prev_hash, &before_version.1);
                // The stored bytes decode to the same event.
                let decoded = RecordedEvent::decode(&recorded.to_bytes())
                    .map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
                prop_assert_eq!(&decoded, &recorded);
                p.apply(&recorded)
                    .map_err(|e| TestCaseError::fail(format!("apply: {e}")))?;
                if let Some(view) = resumed {
                    let mut resumed = Projection::from_view(view);
                    resumed
                        .apply(&recorded)
                        .map_err(|e| TestCaseError::fail(format!("resumed apply: {e}")))?;
                    prop_assert_eq!(&resumed.view, &p.view, "resumed view evolves alike");
                }
                events.push(recorded);
            }
        }
        if let Some(v) = &p.view {
            check_view(v, &events)?;
        }
    }
    Ok(Run {
        events,
        projection: p,
    })
}

/// (e) and (f): what must hold of every view.
fn check_view(v: &AgreementView, events: &[RecordedEvent]) -> Result<(), TestCaseError> {
    // (e) awaiting_signature.
    let expected: Vec<PartnerId> = if matches!(
        v.status,
        NegotiationStatus::Open | NegotiationStatus::Renegotiating
    ) {
        v.partners
            .values()
            .filter(|p| p.role == Role::Signatory && p.status == PartnerStatus::Active)
            .filter(|p| {
                !v.signatures.iter().any(|s| {
                    s.partner_id == p.partner_id && s.agreement_version == v.agreement_version
                })
            })
            .map(|p| p.partner_id.clone())
            .collect()
    } else {
        Vec::new()
    };
    prop_assert_eq!(&v.awaiting_signature, &expected, "awaiting_signature");

    // (f) every endorser is an admitted partner.
    for p in v.proposals.values() {
        for e in &p.endorsed_by {
            prop_assert!(
                v.partners.contains_key(e),
                "{} endorses {} without being admitted",
                e,
                p.proposal_id
            );
        }
    }
    // An agreed clause's text is its adopted_from proposal's text, and that proposal
    // is adopted and on that clause.
    for c in v.clauses.values() {
        let from = v.proposals.get(&c.adopted_from);
        prop_assert!(
            from.is_some(),
            "clause {} from an unknown proposal",
            c.clause_id
        );
        let from = from.unwrap();
        prop_assert_eq!(&from.text, &c.text);
        prop_assert_eq!(from.status, ProposalStatus::Adopted);
        prop_assert_eq!(&from.clause_id, &c.clause_id);
        prop_assert!(c.version >= 1);
    }
    // No open objection on a proposal that is not open.
    for o in v.objections.values() {
        if o.status == ObjectionStatus::Open {
            prop_assert_eq!(
                v.proposals[&o.proposal_id].status,
                ProposalStatus::Open,
                "open objection {} on a closed proposal",
                &o.objection_id
            );
        }
    }
    // Every signature is a signatory's, at an agreement version that existed.
    for s in &v.signatures {
        prop_assert_eq!(v.partners[&s.partner_id].role, Role::Signatory);
        prop_assert!(s.agreement_version <= v.agreement_version);
    }
    // A withdrawn partner holds no open objection and endorses no open proposal.
    for p in v
        .partners
        .values()
        .filter(|p| p.status == PartnerStatus::Withdrawn)
    {
        prop_assert!(
            !v.objections
                .values()
                .any(|o| o.raised_by == p.partner_id && o.status == ObjectionStatus::Open)
        );
        prop_assert!(
            !v.proposals
                .values()
                .any(|x| x.status == ProposalStatus::Open
                    && (x.endorsed_by.contains(&p.partner_id) || x.proposed_by == p.partner_id))
        );
        prop_assert!(
            !v.commitments
                .values()
                .any(|k| k.partner_id == p.partner_id && k.status == CommitmentStatus::Active)
        );
    }
    // A transferred commitment names the active-or-later one that took it over.
    for k in v.commitments.values() {
        prop_assert_eq!(
            k.status == CommitmentStatus::Transferred,
            k.transferred_to.is_some()
        );
        if let Some(to) = &k.transferred_to {
            prop_assert_eq!(
                v.commitments[to].transferred_from.as_ref(),
                Some(&k.commitment_id)
            );
        }
        prop_assert_eq!(
            k.status == CommitmentStatus::Fulfilled,
            k.fulfilled_on.is_some()
        );
    }
    // Renegotiating exactly while one round is open; in force from the last conclusion.
    let open_rounds = v
        .rounds
        .values()
        .filter(|r| r.status == RoundStatus::Open)
        .count();
    prop_assert_eq!(
        open_rounds,
        usize::from(v.status == NegotiationStatus::Renegotiating)
    );
    let last_conclusion = events.iter().rev().find_map(|e| match &e.event.body {
        EventBody::NegotiationConcluded(c) => Some(c.agreement_version),
        _ => None,
    });
    prop_assert_eq!(v.in_force_agreement_version, last_conclusion);
    // Every shortfall is on a known commitment; every asset is a listed partner's.
    for f in v.shortfalls.values() {
        prop_assert!(v.commitments.contains_key(&f.commitment_id));
    }
    for a in v.assets.values() {
        prop_assert!(v.partners.contains_key(&a.partner_id));
    }
    // agreement_version counts adoptions and commitments made or withdrawn, and
    // partner withdrawals that changed a commitment.
    let bumps = events
        .iter()
        .filter(|e| bumps_agreement(&e.event.body))
        .count();
    prop_assert_eq!(v.agreement_version, bumps as u64);
    // version and last_event_hash follow the log.
    prop_assert_eq!(v.version, events.len() as u64);
    prop_assert_eq!(
        Some(&v.last_event_hash),
        events.last().map(|e| &e.hash),
        "last_event_hash"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// (a), (d), (e), (f) per step (see `run`), then (b) and (c) over the whole log.
    #[test]
    fn random_sequences_keep_every_property(steps in sequence()) {
        let Run { events, projection } = run(&steps)?;

        // (b) versions are 1..n with no gaps and the hash chain links.
        for (i, e) in events.iter().enumerate() {
            prop_assert_eq!(e.version, i as u64 + 1);
            let prev = if i == 0 { GENESIS_HASH } else { events[i - 1].hash.as_str() };
            prop_assert_eq!(e.prev_hash.as_str(), prev);
        }
        // (c) folding from scratch gives the view applied one by one.
        let folded = Projection::fold(&events)
            .map_err(|e| TestCaseError::fail(format!("fold: {e}")))?;
        prop_assert_eq!(&folded.view, &projection.view);
        prop_assert_eq!(folded.version, events.len() as u64);
        prop_assert_eq!(&folded.last_hash, &projection.last_hash);

        // Only the first event opens; a terminated negotiation records nothing after;
        // after a conclusion only the commands of contract version 2 are accepted until
        // a round opens.
        let mut concluded = false;
        for (i, e) in events.iter().enumerate() {
            let opening = matches!(e.event.body, EventBody::NegotiationOpened(_));
            prop_assert_eq!(opening, i == 0);
            if matches!(e.event.body, EventBody::NegotiationTerminated(_)) {
                prop_assert_eq!(i + 1, events.len(), "events after terminate");
            }
            let name = e.event.body.type_name();
            if concluded {
                prop_assert!(
                    EventBody::TYPES[14..].contains(&name),
                    "{} while concluded", name
                );
            }
            match e.event.body {
                EventBody::NegotiationConcluded(_) => concluded = true,
                EventBody::RoundOpened(_) => concluded = false,
                _ => {}
            }
        }
    }

    /// Tampering with any one recorded event breaks the chain where it stands.
    #[test]
    fn altering_an_event_breaks_the_chain(steps in sequence(), pick in any::<prop::sample::Index>()) {
        let Run { events, .. } = run(&steps)?;
        prop_assume!(events.len() >= 2);
        let i = pick.index(events.len());
        let mut altered = events.clone();
        altered[i].command_id = roundtable_domain::CommandId::new("forged").unwrap();
        // Its stored hash no longer matches its content...
        prop_assert!(RecordedEvent::decode(&altered[i].to_bytes()).is_err());
        // ...and resealing it does not help the event after it.
        let mut resealed = altered[i].clone();
        resealed.hash = roundtable_domain::envelope::content_hash(
            resealed.to_json().as_object().unwrap(),
        );
        altered[i] = resealed;
        if i + 1 < altered.len() {
            prop_assert!(Projection::fold(&altered).is_err());
        }
        // Removing an event breaks the fold too.
        let mut removed = events.clone();
        removed.remove(i);
        prop_assert!(i + 1 == events.len() || Projection::fold(&removed).is_err());
    }
}

/// The generator must reach the interesting states; without this, a weak generator
/// would make the properties above pass vacuously.
#[test]
fn the_generator_reaches_every_event_type() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = sequence();
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    let mut concluded = 0;
    let mut renegotiated = 0;
    for _ in 0..256 {
        let steps = strategy.new_tree(&mut runner).unwrap().current();
        let Run { events, projection } = run(&steps).unwrap();
        for e in &events {
            *seen.entry(e.event.body.type_name()).or_default() += 1;
        }
        if events
            .iter()
            .any(|e| matches!(e.event.body, EventBody::NegotiationConcluded(_)))
        {
            concluded += 1;
        }
        if projection.view.is_some_and(|v| {
            v.rounds
                .values()
                .any(|r| r.status == RoundStatus::Concluded)
        }) {
            renegotiated += 1;
        }
    }
    for t in EventBody::TYPES {
        assert!(seen.contains_key(t), "no {t} in 256 sequences: {seen:?}");
    }
    assert!(
        concluded >= 5,
        "only {concluded} of 256 sequences concluded"
    );
    assert!(
        renegotiated >= 5,
        "only {renegotiated} of 256 sequences concluded a round"
    );
}
