//! Shared test helpers: command builders that read like minutes, a fold that seals
//! events into a real hash chain, and a tiny given/when/then harness over `decide`.
//!
//! Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::NaiveDate;
use chrono::{DateTime, Duration, TimeZone, Utc};
use roundtable_domain::command::{
    AdmitPartner, Commit, Conclude, DeclareAsset, Fulfil, Object, OpenNegotiation, OpenRound,
    ProposalRef, Propose, RegisterKey, ReportProgress, ReportShortfall, ResolveShortfall, Sign,
    Terminate, Transfer, WithdrawCommitment, WithdrawObjection, WithdrawPartner,
};
use roundtable_domain::vocab::{
    Amount, AssetKind, CommitmentKind, DecisionRule, PartnerKind, Role, Sector, Severity,
};
use roundtable_domain::{
    Actor, AgreementView, AssetId, ClauseId, Command, CommandEnvelope, CommandId, CommitmentId,
    Event, EventBody, NegotiationId, ObjectionId, PartnerId, Projection, ProposalId, RecordedEvent,
    Rejection, RejectionKind, RoundId, ShortfallId, decide,
};
use uuid::Uuid;

/// The negotiation every helper acts on.
pub(crate) const NEGOTIATION: &str = "lakeside-water";

pub(crate) fn nid() -> NegotiationId {
    NegotiationId::new(NEGOTIATION).unwrap()
}

pub(crate) fn pid(s: &str) -> ProposalId {
    ProposalId::new(s).unwrap()
}

pub(crate) fn cid(s: &str) -> ClauseId {
    ClauseId::new(s).unwrap()
}

pub(crate) fn oid(s: &str) -> ObjectionId {
    ObjectionId::new(s).unwrap()
}

pub(crate) fn kid(s: &str) -> CommitmentId {
    CommitmentId::new(s).unwrap()
}

pub(crate) fn partner(s: &str) -> PartnerId {
    PartnerId::new(s).unwrap()
}

/// A fixed business time, so that sealed events are reproducible.
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 3, 2, 9, 30, 0).unwrap()
}

static NEXT_COMMAND: AtomicU64 = AtomicU64::new(1);

/// Wraps `command` as issued by `by` (`"secretariat"` or a partner id).
pub(crate) fn cmd(by: &str, command: Command) -> CommandEnvelope {
    let n = NEXT_COMMAND.fetch_add(1, Ordering::Relaxed);
    CommandEnvelope {
        command_id: CommandId::new(format!("cmd-{n}")).unwrap(),
        negotiation_id: nid(),
        actor: Actor::parse(by).unwrap(),
        occurred_at: t0(),
        command,
    }
}

/// Reissues a command under another actor.
pub(crate) trait IssuedBy {
    fn by(self, actor: &str) -> Self;
}

impl IssuedBy for CommandEnvelope {
    fn by(mut self, actor: &str) -> Self {
        self.actor = Actor::parse(actor).unwrap();
        self
    }
}

pub(crate) fn open(rule: DecisionRule) -> CommandEnvelope {
    cmd(
        "secretariat",
        Command::OpenNegotiation(OpenNegotiation {
            title: "Lakeside water partnership".into(),
            service: "water_sanitation".into(),
            decision_rule: Some(rule),
        }),
    )
}

/// `open_negotiation` without a decision rule (the default applies).
pub(crate) fn open_default() -> CommandEnvelope {
    cmd(
        "secretariat",
        Command::OpenNegotiation(OpenNegotiation {
            title: "Lakeside water partnership".into(),
            service: "water_sanitation".into(),
            decision_rule: None,
        }),
    )
}

/// `admit_partner` with the sector of `kind`.
pub(crate) fn admit(id: &str, kind: PartnerKind, role: Role) -> CommandEnvelope {
    admit_in(id, kind.sector(), kind, role)
}

/// `admit_partner` with an explicit sector (possibly not the kind's).
pub(crate) fn admit_in(id: &str, sector: Sector, kind: PartnerKind, role: Role) -> CommandEnvelope {
    cmd(
        "secretariat",
        Command::AdmitPartner(AdmitPartner {
            partner_id: partner(id),
            name: format!("{id} (name)"),
            sector,
            kind,
            role,
            public_key: None,
        }),
    )
}

/// `propose` with a text derived from the proposal id.
pub(crate) fn propose(by: &str, proposal: &str, clause: &str) -> CommandEnvelope {
    propose_text(by, proposal, clause, &format!("text of {proposal}"))
}

pub(crate) fn propose_text(by: &str, proposal: &str, clause: &str, text: &str) -> CommandEnvelope {
    cmd(
        by,
        Command::Propose(Propose {
            proposal_id: pid(proposal),
            clause_id: cid(clause),
            text: text.into(),
            title: None,
            rationale: None,
        }),
    )
}

pub(crate) fn withdraw_proposal(by: &str, proposal: &str) -> CommandEnvelope {
    cmd(
        by,
        Command::WithdrawProposal(ProposalRef {
            proposal_id: pid(proposal),
        }),
    )
}

pub(crate) fn endorse(by: &str, proposal: &str) -> CommandEnvelope {
    cmd(
        by,
        Command::Endorse(ProposalRef {
            proposal_id: pid(proposal),
        }),
    )
}

pub(crate) fn retract(by: &str, proposal: &str) -> CommandEnvelope {
    cmd(
        by,
        Command::RetractEndorsement(ProposalRef {
            proposal_id: pid(proposal),
        }),
    )
}

pub(crate) fn object(by: &str, objection: &str, proposal: &str, blocking: bool) -> CommandEnvelope {
    object_on_grounds(by, objection, proposal, blocking, "too costly for kiosks")
}

pub(crate) fn object_on_grounds(
    by: &str,
    objection: &str,
    proposal: &str,
    blocking: bool,
    grounds: &str,
) -> CommandEnvelope {
    cmd(
        by,
        Command::Object(Object {
            objection_id: oid(objection),
            proposal_id: pid(proposal),
            grounds: grounds.into(),
            blocking,
        }),
    )
}

pub(crate) fn withdraw_objection(by: &str, objection: &str) -> CommandEnvelope {
    withdraw_objection_noting(by, objection, None)
}

pub(crate) fn withdraw_objection_noting(
    by: &str,
    objection: &str,
    note: Option<&str>,
) -> CommandEnvelope {
    cmd(
        by,
        Command::WithdrawObjection(WithdrawObjection {
            objection_id: oid(objection),
            note: note.map(str::to_owned),
        }),
    )
}

/// `adopt` by the secretariat.
pub(crate) fn adopt(proposal: &str) -> CommandEnvelope {
    cmd(
        "secretariat",
        Command::Adopt(ProposalRef {
            proposal_id: pid(proposal),
        }),
    )
}

/// The `commit` body every commit helper starts from.
pub(crate) fn commitment(id: &str) -> Commit {
    Commit {
        commitment_id: kid(id),
        description: format!("resources of {id}"),
        kind: CommitmentKind::InKind,
        clause_id: None,
        amount: None,
        due: None,
        assets: Vec::new(),
    }
}

pub(crate) fn commit(by: &str, id: &str) -> CommandEnvelope {
    cmd(by, Command::Commit(commitment(id)))
}

pub(crate) fn commit_on(by: &str, id: &str, clause: &str) -> CommandEnvelope {
    cmd(
        by,
        Command::Commit(Commit {
            clause_id: Some(cid(clause)),
            ..commitment(id)
        }),
    )
}

pub(crate) fn commit_amount(by: &str, id: &str, value: &str, currency: &str) -> CommandEnvelope {
    cmd(
        by,
        Command::Commit(Commit {
            kind: CommitmentKind::Finance,
            amount: Some(Amount {
                value: value.into(),
                currency: currency.into(),
            }),
            ..commitment(id)
        }),
    )
}

pub(crate) fn withdraw_commitment(by: &str, id: &str) -> CommandEnvelope {
    cmd(
        by,
        Command::WithdrawCommitment(WithdrawCommitment {
            commitment_id: kid(id),
            reason: "budget cut".into(),
        }),
    )
}

pub(crate) fn sign(by: &str) -> CommandEnvelope {
    cmd(by, Command::Sign(Sign::default()))
}

/// `sign` carrying `signature` (hex).
pub(crate) fn sign_with(by: &str, signature: &str) -> CommandEnvelope {
    cmd(
        by,
        Command::Sign(Sign {
            signature: Some(signature.to_owned()),
        }),
    )
}

/// A test's Ed25519 key pair, derived from `name` (deterministic: Ed25519 signing
/// needs no randomness once the secret key is chosen).
pub(crate) fn key_pair(name: &str) -> ed25519_dalek::SigningKey {
    use sha2::Digest;
    let seed: [u8; 32] = sha2::Sha256::digest(format!("test key of {name}").as_bytes()).into();
    ed25519_dalek::SigningKey::from_bytes(&seed)
}

/// The public key of [`key_pair`]`(name)`, as 64 hex digits.
pub(crate) fn public_key(name: &str) -> String {
    hex::encode(key_pair(name).verifying_key().to_bytes())
}

/// `name`'s key's signature of `message`, as 128 hex digits.
pub(crate) fn signature(name: &str, message: &str) -> String {
    use ed25519_dalek::Signer;
    hex::encode(key_pair(name).sign(message.as_bytes()).to_bytes())
}

/// `admit_partner` with a public key.
pub(crate) fn admit_with_key(
    id: &str,
    kind: PartnerKind,
    role: Role,
    key: &str,
) -> CommandEnvelope {
    let mut c = admit(id, kind, role);
    if let Command::AdmitPartner(a) = &mut c.command {
        a.public_key = Some(key.to_owned());
    }
    c
}

/// `register_key` by the secretariat.
pub(crate) fn register_key(partner_id: &str, key: &str) -> CommandEnvelope {
    cmd(
        "secretariat",
        Command::RegisterKey(RegisterKey {
            partner_id: partner(partner_id),
            public_key: key.to_owned(),
        }),
    )
}

pub(crate) fn conclude() -> CommandEnvelope {
    cmd("secretariat", Command::Conclude(Conclude {}))
}

pub(crate) fn rid(s: &str) -> RoundId {
    RoundId::new(s).unwrap()
}

pub(crate) fn aid(s: &str) -> AssetId {
    AssetId::new(s).unwrap()
}

pub(crate) fn sid(s: &str) -> ShortfallId {
    ShortfallId::new(s).unwrap()
}

pub(crate) fn money(value: &str, currency: &str) -> Amount {
    Amount {
        value: value.into(),
        currency: currency.into(),
    }
}

pub(crate) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// `open_round` by the secretariat.
pub(crate) fn open_round(round: &str) -> CommandEnvelope {
    cmd(
        "secretariat",
        Command::OpenRound(OpenRound {
            round_id: rid(round),
            reason: format!("reasons for {round}"),
        }),
    )
}

pub(crate) fn declare_asset(by: &str, asset: &str, kind: AssetKind) -> CommandEnvelope {
    cmd(
        by,
        Command::DeclareAsset(DeclareAsset {
            asset_id: aid(asset),
            kind,
            description: format!("asset {asset}"),
        }),
    )
}

/// `commit` drawing on `assets`.
pub(crate) fn commit_assets(by: &str, id: &str, assets: &[&str]) -> CommandEnvelope {
    cmd(
        by,
        Command::Commit(Commit {
            assets: assets.iter().map(|a| aid(a)).collect(),
            ..commitment(id)
        }),
    )
}

pub(crate) fn report_progress(
    by: &str,
    commitment: &str,
    delivered: Option<Amount>,
) -> CommandEnvelope {
    cmd(
        by,
        Command::ReportProgress(ReportProgress {
            commitment_id: kid(commitment),
            note: format!("progress on {commitment}"),
            delivered,
        }),
    )
}

pub(crate) fn fulfil(by: &str, commitment: &str, on: NaiveDate) -> CommandEnvelope {
    cmd(
        by,
        Command::Fulfil(Fulfil {
            commitment_id: kid(commitment),
            fulfilled_on: on,
            note: format!("{commitment} delivered"),
        }),
    )
}

pub(crate) fn report_shortfall(
    by: &str,
    shortfall: &str,
    commitment: &str,
    severity: Severity,
) -> CommandEnvelope {
    cmd(
        by,
        Command::ReportShortfall(ReportShortfall {
            shortfall_id: sid(shortfall),
            commitment_id: kid(commitment),
            description: format!("{commitment} fell short"),
            severity,
        }),
    )
}

pub(crate) fn resolve_shortfall(shortfall: &str, penalty: Option<Amount>) -> CommandEnvelope {
    cmd(
        "secretariat",
        Command::ResolveShortfall(ResolveShortfall {
            shortfall_id: sid(shortfall),
            resolution: format!("{shortfall} settled"),
            penalty,
        }),
    )
}

/// `(commitment_id, to, new_commitment_id)`.
pub(crate) type T<'a> = (&'a str, &'a str, &'a str);

/// `withdraw_partner` of `leaving`, issued by `by`.
pub(crate) fn withdraw_partner(by: &str, leaving: &str, transfers: &[T<'_>]) -> CommandEnvelope {
    cmd(
        by,
        Command::WithdrawPartner(WithdrawPartner {
            partner_id: partner(leaving),
            reason: format!("{leaving} leaves"),
            transfers: transfers
                .iter()
                .map(|(k, to, new)| Transfer {
                    commitment_id: kid(k),
                    to: partner(to),
                    new_commitment_id: kid(new),
                })
                .collect(),
        }),
    )
}

pub(crate) fn terminate() -> CommandEnvelope {
    cmd(
        "secretariat",
        Command::Terminate(Terminate {
            reason: "the service was taken over by the province".into(),
        }),
    )
}

/// [`concluded`] with an active commitment `k-pipes` by `operator` (USD 1000, due
/// 2028-06-30) and `k-meters` by `city`, made before signing: concluded at agreement
/// version 3, in force.
pub(crate) fn in_force() -> Vec<CommandEnvelope> {
    let mut cmds = agreed();
    cmds.push(cmd(
        "operator",
        Command::Commit(Commit {
            amount: Some(money("1000", "USD")),
            due: Some(date(2028, 6, 30)),
            kind: CommitmentKind::Finance,
            ..commitment("k-pipes")
        }),
    ));
    cmds.push(commit("city", "k-meters"));
    cmds.extend([sign("city"), sign("operator"), sign("union"), conclude()]);
    cmds
}

/// [`in_force`] with round `r-1` open (renegotiating).
pub(crate) fn renegotiating() -> Vec<CommandEnvelope> {
    let mut cmds = in_force();
    cmds.push(open_round("r-1"));
    cmds
}

/// Seals `event` as the next event of `p` (fixed ids and clock: the domain has neither).
pub(crate) fn seal(p: &Projection, cmd: &CommandEnvelope, event: Event) -> RecordedEvent {
    let version = p.version + 1;
    RecordedEvent::seal(
        cmd,
        event,
        version,
        &p.last_hash,
        Uuid::from_u128(u128::from(version)),
        t0() + Duration::seconds(i64::try_from(version).unwrap()),
    )
}

/// Decides `cmd` against `p` and, when accepted, seals and applies the event.
pub(crate) fn step(p: &mut Projection, cmd: &CommandEnvelope) -> Result<RecordedEvent, Rejection> {
    let event = decide(p.view.as_ref(), cmd)?;
    let recorded = seal(p, cmd, event);
    p.apply(&recorded)
        .expect("a decided event links to the chain");
    Ok(recorded)
}

/// Folds `cmds` through `decide`, panicking on the first rejection: a scenario's
/// "given" must be accepted in full.
pub(crate) fn run(cmds: &[CommandEnvelope]) -> (Projection, Vec<RecordedEvent>) {
    let mut p = Projection::new();
    let mut events = Vec::new();
    for (i, c) in cmds.iter().enumerate() {
        match step(&mut p, c) {
            Ok(e) => events.push(e),
            Err(r) => panic!(
                "given command #{} ({} by {}) was rejected: {} ({})",
                i + 1,
                c.command.name(),
                c.actor,
                r.code,
                r.message
            ),
        }
    }
    (p, events)
}

/// The table most rule tests sit at, under `rule`:
///
/// | partner | sector | kind | role |
/// | --- | --- | --- | --- |
/// | `city` | government | municipality | signatory |
/// | `operator` | private_sector | international_operator | signatory |
/// | `union` | civil_society | trade_union | signatory |
/// | `kiosks` | private_sector | small_scale_provider | observer |
/// | `ngo` | civil_society | ngo | observer |
pub(crate) fn table(rule: DecisionRule) -> Vec<CommandEnvelope> {
    vec![
        open(rule),
        admit("city", PartnerKind::Municipality, Role::Signatory),
        admit(
            "operator",
            PartnerKind::InternationalOperator,
            Role::Signatory,
        ),
        admit("union", PartnerKind::TradeUnion, Role::Signatory),
        admit("kiosks", PartnerKind::SmallScaleProvider, Role::Observer),
        admit("ngo", PartnerKind::Ngo, Role::Observer),
    ]
}

/// [`table`] under `consent`, with clause `tariff` agreed from `p-tariff` (agreement
/// version 1) and nothing open.
pub(crate) fn agreed() -> Vec<CommandEnvelope> {
    let mut cmds = table(DecisionRule::Consent);
    cmds.extend([
        propose("city", "p-tariff", "tariff"),
        endorse("city", "p-tariff"),
        adopt("p-tariff"),
    ]);
    cmds
}

/// [`agreed`], signed by every signatory and concluded.
pub(crate) fn concluded() -> Vec<CommandEnvelope> {
    let mut cmds = agreed();
    cmds.extend([sign("city"), sign("operator"), sign("union"), conclude()]);
    cmds
}

/// Given/when/then: `given(commands).and(more).when(command)` then an expectation.
pub(crate) fn given(cmds: impl IntoIterator<Item = CommandEnvelope>) -> Given {
    Given {
        cmds: cmds.into_iter().collect(),
    }
}

pub(crate) struct Given {
    cmds: Vec<CommandEnvelope>,
}

impl Given {
    pub(crate) fn and(mut self, more: impl IntoIterator<Item = CommandEnvelope>) -> Given {
        self.cmds.extend(more);
        self
    }

    pub(crate) fn when(self, cmd: CommandEnvelope) -> Then {
        let (state, _) = run(&self.cmds);
        let before = state.view.clone();
        let result = decide(state.view.as_ref(), &cmd);
        // `decide` borrows the state; check anyway that judging left it as it was.
        assert_eq!(state.view, before, "deciding changed the state");
        Then { state, cmd, result }
    }
}

pub(crate) struct Then {
    state: Projection,
    cmd: CommandEnvelope,
    result: Result<Event, Rejection>,
}

/// An accepted command: its event and the view after applying it.
pub(crate) struct Accepted {
    pub(crate) event: Event,
    pub(crate) before: Option<AgreementView>,
    pub(crate) view: AgreementView,
}

impl Then {
    /// Asserts a rejection of `kind` with `code`, and returns it for message checks.
    #[track_caller]
    pub(crate) fn rejected(self, kind: RejectionKind, code: &str) -> Rejection {
        match self.result {
            Ok(e) => panic!(
                "{} by {} was accepted as {:?}, expected rejection {code}",
                self.cmd.command.name(),
                self.cmd.actor,
                e.body
            ),
            Err(r) => {
                assert_eq!(
                    (r.kind, r.code.as_str()),
                    (kind, code),
                    "wrong rejection: {}",
                    r.message
                );
                r
            }
        }
    }

    /// Asserts acceptance, seals and applies the event, and returns both.
    #[track_caller]
    pub(crate) fn accepted(self) -> Accepted {
        match self.result {
            Err(r) => panic!(
                "{} by {} was rejected: {} ({:?}): {}",
                self.cmd.command.name(),
                self.cmd.actor,
                r.code,
                r.kind,
                r.message
            ),
            Ok(event) => {
                let mut p = self.state;
                let before = p.view.clone();
                assert_eq!(
                    event.actor, self.cmd.actor,
                    "the event carries the command's actor"
                );
                let recorded = seal(&p, &self.cmd, event.clone());
                p.apply(&recorded).unwrap();
                Accepted {
                    event,
                    before,
                    view: p.view.expect("an accepted command leaves a negotiation"),
                }
            }
        }
    }
}

/// `then_event!(then, Variant)`: asserts the command was accepted as an event of that
/// type and returns `(data, accepted)`. Import the module with `#[macro_use]`.
#[allow(unused_macros)]
macro_rules! then_event {
    ($then:expr, $variant:ident) => {{
        let accepted = $then.accepted();
        match accepted.event.body.clone() {
            ::roundtable_domain::EventBody::$variant(data) => (data, accepted),
            other => panic!(
                "expected {} but got {}",
                stringify!($variant),
                other.type_name()
            ),
        }
    }};
}

/// The event types of `events`, in order.
pub(crate) fn types(events: &[RecordedEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.event.body.type_name()).collect()
}

/// True when `body` is one of the events that bump the agreement version.
pub(crate) fn bumps_agreement(body: &EventBody) -> bool {
    matches!(
        body,
        EventBody::ProposalAdopted(_)
            | EventBody::CommitmentMade(_)
            | EventBody::CommitmentWithdrawn(_)
    ) || matches!(body, EventBody::PartnerWithdrawn(e) if e.agreement_version_raised)
}

/// Whether `actual` holds everything `frozen` holds: the same scalars, arrays of the
/// same length whose items hold the frozen items, objects with every frozen key
/// (fields added to the view since are allowed). Returns where they differ.
pub(crate) fn holds(
    actual: &serde_json::Value,
    frozen: &serde_json::Value,
    at: &str,
) -> Result<(), String> {
    use serde_json::Value;
    match (actual, frozen) {
        (Value::Object(a), Value::Object(f)) => f.iter().try_for_each(|(k, fv)| match a.get(k) {
            Some(av) => holds(av, fv, &format!("{at}.{k}")),
            None => Err(format!("{at}.{k} is missing")),
        }),
        (Value::Array(a), Value::Array(f)) if a.len() == f.len() => a
            .iter()
            .zip(f)
            .enumerate()
            .try_for_each(|(i, (av, fv))| holds(av, fv, &format!("{at}[{i}]"))),
        (a, f) if a == f => Ok(()),
        (a, f) => Err(format!("{at} is {a}, was {f}")),
    }
}
