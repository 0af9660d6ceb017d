//! The commands and events the conformance suites record: small negotiations with
//! fixed times and command ids, sealed as the command handler would seal them.

use chrono::{TimeZone, Utc};
use roundtable_domain::command::*;
use roundtable_domain::vocab::{PartnerKind, Role, Sector};
use roundtable_domain::{
    Actor, AgreementView, Change, CommandEnvelope, CommandId, NegotiationId, PartnerId, Projection,
    ProposalId, RecordedEvent, decide,
};
use uuid::Uuid;

/// A negotiation id from a literal.
pub fn nid(s: &str) -> NegotiationId {
    NegotiationId::new(s).expect("valid test id")
}

/// A command of `by` on `negotiation`, the `n`-th minute after 2027-03-01 09:00 UTC,
/// with a command id made of them.
pub fn envelope(negotiation: &str, by: &str, n: u32, command: Command) -> CommandEnvelope {
    CommandEnvelope {
        command_id: CommandId::new(format!("test-{negotiation}-{by}-{n}-{}", command.name()))
            .expect("valid id"),
        negotiation_id: nid(negotiation),
        actor: Actor::parse(by).expect("valid actor"),
        occurred_at: Utc
            .with_ymd_and_hms(2027, 3, 1, 9, 0, 0)
            .single()
            .expect("valid time")
            + chrono::Duration::minutes(i64::from(n)),
        command,
    }
}

/// Opens `negotiation` (solid waste, the default decision rule).
pub fn open(negotiation: &str) -> CommandEnvelope {
    envelope(
        negotiation,
        "secretariat",
        0,
        Command::OpenNegotiation(OpenNegotiation {
            title: format!("Conformance {negotiation}"),
            service: "solid_waste".into(),
            decision_rule: None,
        }),
    )
}

/// Admits `partner`, a municipality and signatory, at minute `n`.
pub fn admit(negotiation: &str, partner: &str, n: u32) -> CommandEnvelope {
    envelope(
        negotiation,
        "secretariat",
        n,
        Command::AdmitPartner(AdmitPartner {
            partner_id: PartnerId::new(partner).expect("valid id"),
            name: format!("Partner {partner}"),
            sector: Sector::Government,
            kind: PartnerKind::Municipality,
            role: Role::Signatory,
            public_key: None,
        }),
    )
}

/// `by` proposes `proposal` for the clause `collection`, at minute `n`.
pub fn propose(negotiation: &str, by: &str, proposal: &str, n: u32) -> CommandEnvelope {
    envelope(
        negotiation,
        by,
        n,
        Command::Propose(Propose {
            proposal_id: ProposalId::new(proposal).expect("valid id"),
            clause_id: roundtable_domain::ClauseId::new("collection").expect("valid id"),
            text: format!("Text of {proposal}"),
            title: None,
            rationale: None,
        }),
    )
}

/// Seals the events of `cmds` in order, as the handler would, without a store.
pub fn chain(cmds: &[CommandEnvelope]) -> Vec<RecordedEvent> {
    let mut p = Projection::new();
    let mut out = Vec::new();
    for cmd in cmds {
        let event = decide(p.view.as_ref(), cmd).expect("test commands are valid");
        let e = RecordedEvent::seal(
            cmd,
            event,
            p.version + 1,
            &p.last_hash.clone(),
            Uuid::now_v7(),
            Utc::now(),
        );
        p.apply(&e).expect("chain links");
        out.push(e);
    }
    out
}

/// Opens `negotiation` and admits `p1`..`p<partners>`.
pub fn basic(negotiation: &str, partners: u32) -> Vec<CommandEnvelope> {
    let mut cmds = vec![open(negotiation)];
    for i in 1..=partners {
        cmds.push(admit(negotiation, &format!("p{i}"), i));
    }
    cmds
}

/// Events of `negotiation`: opened, `partners` admitted, and one proposal.
pub fn sample(negotiation: &str, partners: u32) -> Vec<RecordedEvent> {
    let mut cmds = basic(negotiation, partners);
    cmds.push(propose(negotiation, "p1", "prop-1", 50));
    chain(&cmds)
}

/// The change of each event, as the projector announces it.
pub fn changes_of(events: &[RecordedEvent]) -> Vec<Change> {
    let mut p = Projection::new();
    events
        .iter()
        .map(|e| {
            p.apply(e).expect("chain links");
            Change::of(e, p.view.as_ref().expect("opened"))
        })
        .collect()
}

/// The view after each of `events`, in order.
pub fn views_of(events: &[RecordedEvent]) -> Vec<AgreementView> {
    let mut p = Projection::new();
    events
        .iter()
        .map(|e| {
            p.apply(e).expect("chain links");
            p.view.clone().expect("opened")
        })
        .collect()
}
