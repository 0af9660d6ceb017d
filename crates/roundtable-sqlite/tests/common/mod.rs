//! Events to store, built through the domain as the command handler would.

use chrono::{TimeZone, Utc};
use roundtable_domain::command::{AdmitPartner, Command, OpenNegotiation};
use roundtable_domain::vocab::{PartnerKind, Role, Sector};
use roundtable_domain::{
    Actor, CommandEnvelope, CommandId, NegotiationId, PartnerId, Projection, RecordedEvent, decide,
};
use uuid::Uuid;

pub(crate) fn nid(s: &str) -> NegotiationId {
    NegotiationId::new(s).expect("valid test id")
}

fn envelope(negotiation: &str, command_id: &str, n: u32, command: Command) -> CommandEnvelope {
    CommandEnvelope {
        command_id: CommandId::new(command_id).expect("valid id"),
        negotiation_id: nid(negotiation),
        actor: Actor::parse("secretariat").expect("valid actor"),
        occurred_at: Utc
            .with_ymd_and_hms(2027, 3, 2, 9, 30, 0)
            .single()
            .expect("valid time")
            + chrono::Duration::minutes(i64::from(n)),
        command,
    }
}

/// `open` then `admit` of `partners` partners, each with command id `{negotiation}-{n}`.
pub(crate) fn commands(negotiation: &str, partners: u32) -> Vec<CommandEnvelope> {
    let mut cmds = vec![envelope(
        negotiation,
        &format!("{negotiation}-0"),
        0,
        Command::OpenNegotiation(OpenNegotiation {
            title: format!("Test {negotiation}"),
            service: "water".into(),
            decision_rule: None,
        }),
    )];
    for i in 1..=partners {
        cmds.push(envelope(
            negotiation,
            &format!("{negotiation}-{i}"),
            i,
            Command::AdmitPartner(AdmitPartner {
                partner_id: PartnerId::new(format!("p{i}")).expect("valid id"),
                name: format!("Partner {i}"),
                sector: Sector::CivilSociety,
                kind: PartnerKind::CommunityOrganisation,
                role: Role::Signatory,
                public_key: None,
            }),
        ));
    }
    cmds
}

/// Decides and seals `cmds` in order, continuing `from`.
pub(crate) fn seal_after(from: &mut Projection, cmds: &[CommandEnvelope]) -> Vec<RecordedEvent> {
    cmds.iter()
        .map(|cmd| {
            let event = decide(from.view.as_ref(), cmd).expect("test commands are valid");
            let e = RecordedEvent::seal(
                cmd,
                event,
                from.version + 1,
                &from.last_hash.clone(),
                Uuid::now_v7(),
                Utc::now(),
            );
            from.apply(&e).expect("chain links");
            e
        })
        .collect()
}

/// The events of [`commands`]`(negotiation, partners)`.
pub(crate) fn chain(negotiation: &str, partners: u32) -> Vec<RecordedEvent> {
    seal_after(&mut Projection::new(), &commands(negotiation, partners))
}
