//! `decide`: every rule of DOMAIN.md, "Commands and the rules they obey", in one place;
//! the commands of contract version 2 ("After the signature") are judged in
//! [`crate::after_signature`], with the helpers here.

use crate::after_signature as v2;
use crate::command::{Command, CommandEnvelope};
use crate::event::*;
use crate::id::{Actor, PartnerId, ProposalId};
use crate::rejection::Rejection;
use crate::signing::{
    SignatureError, agreement_hash, parse_public_key, parse_signature, signing_message,
    verify_signature,
};
use crate::view::{
    AgreementView, CommitmentStatus, NegotiationStatus, ObjectionStatus, Partner, PartnerStatus,
    ProposalStatus,
};
use crate::vocab::{DecisionRule, Role, Sector};

/// Longest proposal text, in characters (DOMAIN.md: "text 1..20,000 chars").
pub const MAX_TEXT_CHARS: usize = 20_000;
/// Longest title, name or service, in characters (our choice; see docs/DECISIONS.md).
pub const MAX_SHORT_CHARS: usize = 500;

/// Judges `cmd` against the negotiation's current state (`None` when nothing has been
/// recorded for its id) and returns the one event it records, or why it is rejected.
///
/// Pure: no IO, no clock. The rules are those of DOMAIN.md, "Commands and the rules
/// they obey", "Decision rules" and "After the signature"; every effect (of `adopt`,
/// `withdraw_proposal`, `withdraw_partner`...) is computed here and carried by the
/// event.
///
/// # Errors
/// A [`Rejection`] whose kind is `NotFound` (unknown negotiation, proposal, objection,
/// commitment or clause), `Forbidden` (the actor may not do this), `Conflict` (the
/// state does not allow it now) or `Invalid` (malformed input).
pub fn decide(state: Option<&AgreementView>, cmd: &CommandEnvelope) -> Result<Event, Rejection> {
    let actor = &cmd.actor;
    let body = match (state, &cmd.command) {
        (None, Command::OpenNegotiation(c)) => {
            secretariat_only(actor, "open_negotiation")?;
            non_blank("title", &c.title, MAX_SHORT_CHARS)?;
            non_blank("service", &c.service, MAX_SHORT_CHARS)?;
            EventBody::NegotiationOpened(NegotiationOpened {
                negotiation_id: cmd.negotiation_id.clone(),
                title: c.title.clone(),
                service: c.service.clone(),
                decision_rule: c.decision_rule.unwrap_or_default(),
            })
        }
        (None, c) => {
            return Err(Rejection::not_found(
                "negotiation_not_found",
                format!(
                    "negotiation {} has not been opened, so {} cannot apply to it",
                    cmd.negotiation_id,
                    c.name()
                ),
            ));
        }
        (Some(s), _) if s.status == NegotiationStatus::Terminated => {
            return Err(Rejection::conflict(
                "negotiation_terminated",
                format!(
                    "negotiation {} is terminated; no further commands are accepted",
                    s.negotiation_id
                ),
            ));
        }
        (Some(s), c) => decide_open(s, actor, c, cmd)?,
    };
    Ok(Event {
        actor: actor.clone(),
        body,
    })
}

/// DOMAIN.md, "After the signature": the version 1 commands are accepted while `open`
/// and again while `renegotiating`; on a `concluded` negotiation they wait for a round.
fn negotiating(s: &AgreementView, command: &Command) -> Result<(), Rejection> {
    if s.status.negotiating() {
        return Ok(());
    }
    Err(Rejection::conflict(
        "negotiation_concluded",
        match command {
            Command::Conclude(_) => {
                format!("negotiation {} is already concluded", s.negotiation_id)
            }
            c => format!(
                "negotiation {} is concluded, so {} is not accepted until the secretariat opens a round (open_round)",
                s.negotiation_id,
                c.name()
            ),
        },
    ))
}

fn decide_open(
    s: &AgreementView,
    actor: &Actor,
    command: &Command,
    cmd: &CommandEnvelope,
) -> Result<EventBody, Rejection> {
    match command {
        Command::OpenRound(c) => return v2::open_round(s, actor, c),
        Command::DeclareAsset(c) => return v2::declare_asset(s, actor, c),
        Command::ReportProgress(c) => return v2::report_progress(s, actor, c, cmd.occurred_at),
        Command::Fulfil(c) => return v2::fulfil(s, actor, c),
        Command::ReportShortfall(c) => return v2::report_shortfall(s, actor, c),
        Command::ResolveShortfall(c) => return v2::resolve_shortfall(s, actor, c),
        Command::WithdrawPartner(c) => return v2::withdraw_partner(s, actor, c),
        Command::Terminate(c) => return v2::terminate(s, actor, c),
        _ => negotiating(s, command)?,
    }
    Ok(match command {
        Command::OpenNegotiation(_) => {
            return Err(Rejection::conflict(
                "negotiation_exists",
                format!("negotiation {} is already open", s.negotiation_id),
            ));
        }
        Command::AdmitPartner(c) => {
            secretariat_only(actor, "admit_partner")?;
            non_blank("name", &c.name, MAX_SHORT_CHARS)?;
            if c.kind.sector() != c.sector {
                return Err(Rejection::invalid(
                    "kind_not_in_sector",
                    format!(
                        "kind {} belongs to sector {}, not {}",
                        c.kind,
                        c.kind.sector(),
                        c.sector
                    ),
                ));
            }
            let public_key = c.public_key.as_deref().map(public_key).transpose()?;
            if s.partners.contains_key(&c.partner_id) {
                return Err(Rejection::conflict(
                    "partner_exists",
                    format!("partner {} is already admitted", c.partner_id),
                ));
            }
            EventBody::PartnerAdmitted(PartnerAdmitted {
                partner_id: c.partner_id.clone(),
                name: c.name.clone(),
                sector: c.sector,
                kind: c.kind,
                role: c.role,
                public_key,
            })
        }
        Command::RegisterKey(c) => {
            secretariat_only(actor, "register_key")?;
            let key = public_key(&c.public_key)?;
            let partner = v2::listed_partner(s, &c.partner_id)?;
            if partner.status == PartnerStatus::Withdrawn {
                return Err(v2::already_withdrawn(&c.partner_id));
            }
            EventBody::PartnerKeyRegistered(PartnerKeyRegistered {
                partner_id: c.partner_id.clone(),
                public_key: key,
                replaces: partner.public_key.clone(),
            })
        }
        Command::Propose(c) => {
            admitted(s, actor, "propose")?;
            non_blank("text", &c.text, MAX_TEXT_CHARS)?;
            if let Some(t) = &c.title {
                non_blank("title", t, MAX_SHORT_CHARS)?;
            }
            if let Some(r) = &c.rationale {
                non_blank("rationale", r, MAX_TEXT_CHARS)?;
            }
            if s.proposals.contains_key(&c.proposal_id) {
                return Err(Rejection::conflict(
                    "proposal_exists",
                    format!("proposal {} already exists", c.proposal_id),
                ));
            }
            EventBody::ProposalMade(ProposalMade {
                proposal_id: c.proposal_id.clone(),
                clause_id: c.clause_id.clone(),
                text: c.text.clone(),
                title: c.title.clone(),
                rationale: c.rationale.clone(),
                amends_version: s.clauses.get(&c.clause_id).map(|cl| cl.version),
            })
        }
        Command::WithdrawProposal(c) => {
            let partner = admitted(s, actor, "withdraw proposals")?;
            let p = proposal(s, &c.proposal_id)?;
            if p.proposed_by != partner.partner_id {
                return Err(Rejection::forbidden(
                    "not_proposer",
                    format!(
                        "only {} may withdraw proposal {}, which it made",
                        p.proposed_by, p.proposal_id
                    ),
                ));
            }
            open_proposal(s, &c.proposal_id)?;
            EventBody::ProposalWithdrawn(ProposalWithdrawn {
                proposal_id: c.proposal_id.clone(),
                mooted_objections: s
                    .open_objections_on(&c.proposal_id)
                    .map(|o| o.objection_id.clone())
                    .collect(),
            })
        }
        Command::Endorse(c) => {
            let partner = admitted(s, actor, "endorse")?;
            let p = open_proposal(s, &c.proposal_id)?;
            if p.endorsed_by.contains(&partner.partner_id) {
                return Err(Rejection::conflict(
                    "already_endorsed",
                    format!(
                        "{} already endorses proposal {}",
                        partner.partner_id, p.proposal_id
                    ),
                ));
            }
            if let Some(o) = s
                .open_objections_on(&c.proposal_id)
                .find(|o| o.raised_by == partner.partner_id)
            {
                return Err(Rejection::conflict(
                    "objection_open",
                    format!(
                        "{} cannot endorse proposal {} while its objection {} on it is open; withdraw the objection first",
                        partner.partner_id, p.proposal_id, o.objection_id
                    ),
                ));
            }
            EventBody::ProposalEndorsed(ProposalEndorsed {
                proposal_id: c.proposal_id.clone(),
            })
        }
        Command::RetractEndorsement(c) => {
            let partner = admitted(s, actor, "retract endorsements")?;
            let p = open_proposal(s, &c.proposal_id)?;
            if !p.endorsed_by.contains(&partner.partner_id) {
                return Err(Rejection::conflict(
                    "not_endorsed",
                    format!(
                        "{} does not endorse proposal {}, so there is nothing to retract",
                        partner.partner_id, p.proposal_id
                    ),
                ));
            }
            EventBody::EndorsementRetracted(EndorsementRetracted {
                proposal_id: c.proposal_id.clone(),
            })
        }
        Command::Object(c) => {
            let partner = admitted(s, actor, "object")?;
            non_blank("grounds", &c.grounds, MAX_TEXT_CHARS)?;
            if c.blocking && partner.role != Role::Signatory {
                return Err(Rejection::forbidden(
                    "observer_cannot_block",
                    format!(
                        "{} is an observer; observers may raise only non-blocking objections (blocking: false)",
                        partner.partner_id
                    ),
                ));
            }
            let p = open_proposal(s, &c.proposal_id)?;
            if s.objections.contains_key(&c.objection_id) {
                return Err(Rejection::conflict(
                    "objection_exists",
                    format!("objection {} already exists", c.objection_id),
                ));
            }
            if p.endorsed_by.contains(&partner.partner_id) {
                return Err(Rejection::conflict(
                    "endorsement_held",
                    format!(
                        "{} endorses proposal {}; retract the endorsement before objecting",
                        partner.partner_id, p.proposal_id
                    ),
                ));
            }
            EventBody::ObjectionRaised(ObjectionRaised {
                objection_id: c.objection_id.clone(),
                proposal_id: c.proposal_id.clone(),
                grounds: c.grounds.clone(),
                blocking: c.blocking,
            })
        }
        Command::WithdrawObjection(c) => {
            let partner = admitted(s, actor, "withdraw objections")?;
            if let Some(n) = &c.note {
                non_blank("note", n, MAX_TEXT_CHARS)?;
            }
            let o = s.objections.get(&c.objection_id).ok_or_else(|| {
                Rejection::not_found(
                    "objection_not_found",
                    format!("there is no objection {}", c.objection_id),
                )
            })?;
            if o.raised_by != partner.partner_id {
                return Err(Rejection::forbidden(
                    "not_objector",
                    format!(
                        "only {} may withdraw objection {}, which it raised",
                        o.raised_by, o.objection_id
                    ),
                ));
            }
            if o.status != ObjectionStatus::Open {
                return Err(Rejection::conflict(
                    "objection_not_open",
                    format!(
                        "objection {} is {}, not open",
                        o.objection_id,
                        status_word(o.status)
                    ),
                ));
            }
            EventBody::ObjectionWithdrawn(ObjectionWithdrawn {
                objection_id: c.objection_id.clone(),
                note: c.note.clone(),
            })
        }
        Command::Adopt(c) => {
            secretariat_only(actor, "adopt")?;
            let p = open_proposal(s, &c.proposal_id)?;
            if let Some(o) = s.open_objections_on(&p.proposal_id).find(|o| o.blocking) {
                return Err(Rejection::conflict(
                    "blocking_objection_open",
                    format!(
                        "proposal {} cannot be adopted: {} holds an open blocking objection ({})",
                        p.proposal_id, o.raised_by, o.objection_id
                    ),
                ));
            }
            decision_rule_met(s, &p.proposal_id)?;
            let superseded: Vec<ProposalId> = s
                .proposals
                .values()
                .filter(|q| {
                    q.clause_id == p.clause_id
                        && q.proposal_id != p.proposal_id
                        && q.status == ProposalStatus::Open
                })
                .map(|q| q.proposal_id.clone())
                .collect();
            let mooted_objections = superseded
                .iter()
                .flat_map(|q| s.open_objections_on(q))
                .map(|o| o.objection_id.clone())
                .collect();
            let noted_objections = s
                .open_objections_on(&p.proposal_id)
                .map(|o| o.objection_id.clone())
                .collect();
            EventBody::ProposalAdopted(ProposalAdopted {
                proposal_id: p.proposal_id.clone(),
                clause_id: p.clause_id.clone(),
                clause_version: s.clauses.get(&p.clause_id).map_or(1, |cl| cl.version + 1),
                agreement_version: s.agreement_version + 1,
                superseded,
                mooted_objections,
                noted_objections,
            })
        }
        Command::Commit(c) => {
            let partner = admitted(s, actor, "commit resources")?;
            non_blank("description", &c.description, MAX_TEXT_CHARS)?;
            if let Some(a) = &c.amount {
                a.validate()
                    .map_err(|m| Rejection::invalid("bad_amount", m))?;
            }
            if s.commitments.contains_key(&c.commitment_id) {
                return Err(Rejection::conflict(
                    "commitment_exists",
                    format!("commitment {} already exists", c.commitment_id),
                ));
            }
            if let Some(clause) = &c.clause_id {
                if !s.clause_has_proposal(clause) {
                    return Err(Rejection::not_found(
                        "clause_not_found",
                        format!(
                            "no proposal names clause {clause}, so a commitment cannot refer to it"
                        ),
                    ));
                }
            }
            v2::own_assets(s, partner, &c.assets)?;
            EventBody::CommitmentMade(CommitmentMade {
                commitment_id: c.commitment_id.clone(),
                description: c.description.clone(),
                kind: c.kind,
                clause_id: c.clause_id.clone(),
                amount: c.amount.clone(),
                due: c.due,
                assets: c.assets.clone(),
                agreement_version: s.agreement_version + 1,
            })
        }
        Command::WithdrawCommitment(c) => {
            let partner = admitted(s, actor, "withdraw commitments")?;
            non_blank("reason", &c.reason, MAX_TEXT_CHARS)?;
            let k = s.commitments.get(&c.commitment_id).ok_or_else(|| {
                Rejection::not_found(
                    "commitment_not_found",
                    format!("there is no commitment {}", c.commitment_id),
                )
            })?;
            if k.partner_id != partner.partner_id {
                return Err(Rejection::forbidden(
                    "not_committer",
                    format!(
                        "only {} may withdraw commitment {}, which it made",
                        k.partner_id, k.commitment_id
                    ),
                ));
            }
            if k.status != CommitmentStatus::Active {
                return Err(v2::not_active(k));
            }
            EventBody::CommitmentWithdrawn(CommitmentWithdrawn {
                commitment_id: c.commitment_id.clone(),
                reason: c.reason.clone(),
                agreement_version: s.agreement_version + 1,
            })
        }
        Command::Sign(c) => {
            let partner = admitted(s, actor, "sign")?;
            if partner.role != Role::Signatory {
                return Err(Rejection::forbidden(
                    "observer_cannot_sign",
                    format!(
                        "{} is an observer; only signatories sign",
                        partner.partner_id
                    ),
                ));
            }
            let signature = c
                .signature
                .as_deref()
                .map(parse_signature)
                .transpose()
                .map_err(|e| Rejection::invalid("signature_malformed", e.to_string()))?;
            if s.clauses.is_empty() {
                return Err(Rejection::conflict(
                    "nothing_agreed",
                    "no clause has been agreed yet, so there is nothing to sign",
                ));
            }
            let open: Vec<&str> = s
                .proposals
                .values()
                .filter(|p| p.status == ProposalStatus::Open)
                .map(|p| p.proposal_id.as_str())
                .collect();
            if !open.is_empty() {
                return Err(Rejection::conflict(
                    "proposals_open",
                    format!(
                        "the agreement cannot be signed while proposals are open: {}",
                        list_some(&open)
                    ),
                ));
            }
            if s.has_signed(&partner.partner_id, s.agreement_version) {
                return Err(Rejection::conflict(
                    "already_signed",
                    format!(
                        "{} has already signed agreement version {}",
                        partner.partner_id, s.agreement_version
                    ),
                ));
            }
            let hash = agreement_hash(s);
            let signature = signature_checked(s, partner, &hash, signature)?;
            EventBody::AgreementSigned(AgreementSigned {
                agreement_version: s.agreement_version,
                agreement_hash: Some(hash),
                signature,
            })
        }
        Command::Conclude(_) => {
            secretariat_only(actor, "conclude")?;
            let signatories: Vec<&PartnerId> = s.signatories().map(|p| &p.partner_id).collect();
            if signatories.is_empty() {
                return Err(Rejection::conflict(
                    "no_signatories",
                    "the negotiation has no signatories, so it cannot be concluded",
                ));
            }
            let missing: Vec<&str> = signatories
                .iter()
                .filter(|p| !s.has_signed(p, s.agreement_version))
                .map(|p| p.as_str())
                .collect();
            if !missing.is_empty() {
                return Err(Rejection::conflict(
                    "signatures_missing",
                    format!(
                        "not every signatory has signed agreement version {}: still to sign: {}",
                        s.agreement_version,
                        list_some(&missing)
                    ),
                ));
            }
            EventBody::NegotiationConcluded(NegotiationConcluded {
                agreement_version: s.agreement_version,
                signatories: signatories.into_iter().cloned().collect(),
                round_id: s.open_round().map(|r| r.round_id.clone()),
            })
        }
        Command::OpenRound(_)
        | Command::DeclareAsset(_)
        | Command::ReportProgress(_)
        | Command::Fulfil(_)
        | Command::ReportShortfall(_)
        | Command::ResolveShortfall(_)
        | Command::WithdrawPartner(_)
        | Command::Terminate(_) => unreachable_v2(command)?,
    })
}

/// DOMAIN.md, "Decision rules".
fn decision_rule_met(s: &AgreementView, proposal: &ProposalId) -> Result<(), Rejection> {
    let p = &s.proposals[proposal];
    let endorsing: Vec<&Partner> = p
        .endorsed_by
        .iter()
        .filter_map(|id| s.partners.get(id))
        .filter(|pt| pt.role == Role::Signatory && pt.status == PartnerStatus::Active)
        .collect();
    if endorsing.is_empty() {
        return Err(Rejection::conflict(
            "no_signatory_endorsement",
            format!(
                "proposal {} has no endorsement from a signatory; every decision rule needs at least one",
                p.proposal_id
            ),
        ));
    }
    match s.decision_rule {
        DecisionRule::Consent => Ok(()),
        DecisionRule::CrossSectorConsent => {
            let missing: Vec<&str> = Sector::DECIDING
                .iter()
                .filter(|sector| s.signatories().any(|pt| pt.sector == **sector))
                .filter(|sector| !endorsing.iter().any(|pt| pt.sector == **sector))
                .map(|sector| sector.as_str())
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(Rejection::conflict(
                    "decision_rule_not_met",
                    format!(
                        "proposal {} lacks endorsement from a signatory of {} (cross_sector_consent)",
                        p.proposal_id,
                        missing.join(" and ")
                    ),
                ))
            }
        }
        DecisionRule::Unanimity => {
            let missing: Vec<&str> = s
                .signatories()
                .filter(|pt| !p.endorsed_by.contains(&pt.partner_id))
                .map(|pt| pt.partner_id.as_str())
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(Rejection::conflict(
                    "decision_rule_not_met",
                    format!(
                        "proposal {} lacks endorsement from signatories {} (unanimity)",
                        p.proposal_id,
                        list_some(&missing)
                    ),
                ))
            }
        }
    }
}

/// A public key from a command, checked and in lower-case hex.
fn public_key(value: &str) -> Result<String, Rejection> {
    parse_public_key(value).map_err(|e| Rejection::invalid("bad_public_key", e.to_string()))
}

/// Checks `signature` (already well-formed) against the signatory's registered key and
/// the agreement as it stands (docs/AUDIT.md, "Signatures"); returns what the event
/// records.
fn signature_checked(
    s: &AgreementView,
    partner: &Partner,
    hash: &str,
    signature: Option<String>,
) -> Result<Option<String>, Rejection> {
    let message = signing_message(&s.negotiation_id, s.agreement_version, hash);
    match (&partner.public_key, signature) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(Rejection::conflict(
            "no_public_key",
            format!(
                "{} has no registered public key, so its signature cannot be checked; the secretariat registers one with register_key",
                partner.partner_id
            ),
        )),
        (Some(_), None) => Err(Rejection::invalid(
            "signature_required",
            format!(
                "{} has a registered public key, so it must sign with an Ed25519 signature of {message:?}",
                partner.partner_id
            ),
        )),
        (Some(key), Some(sig)) => match verify_signature(key, message.as_bytes(), &sig) {
            Ok(()) => Ok(Some(sig)),
            Err(SignatureError::Mismatch { .. }) => Err(Rejection::forbidden(
                "signature_invalid",
                format!(
                    "the signature is not {}'s signature of {message:?} (agreement version {}); it was made by another key or for another version of the agreement",
                    partner.partner_id, s.agreement_version
                ),
            )),
            Err(e) => Err(Rejection::invalid("signature_malformed", e.to_string())),
        },
    }
}

/// The contract version 2 commands are judged before the version 1 match; reaching
/// it with one is a bug, answered as a rejection rather than a panic.
fn unreachable_v2(command: &Command) -> Result<EventBody, Rejection> {
    Err(Rejection::invalid(
        "unexpected_command",
        format!("{} was not judged by its own rules", command.name()),
    ))
}

/// What a command does, in words, when only the secretariat may send it; `None` for a
/// command partners send (DOMAIN.md, "Commands and the rules they obey" and "After
/// the signature": opening a negotiation, admitting partners, registering their keys,
/// adopting proposals, concluding, opening a round, resolving shortfalls and
/// terminating are the secretariat's). `command` is the command's wire name
/// ([`Command::name`]): `open_negotiation`, `admit_partner`...
pub fn secretariat_action(command: &str) -> Option<&'static str> {
    Some(match command {
        "open_negotiation" => "open a negotiation",
        "admit_partner" => "admit partners",
        "register_key" => "register partners' keys",
        "adopt" => "adopt proposals",
        "conclude" => "conclude the negotiation",
        "open_round" => "open a round",
        "resolve_shortfall" => "resolve shortfalls",
        "terminate" => "terminate the negotiation",
        _ => return None,
    })
}

/// Whether `actor` may send `command` at all, whatever the state: the
/// secretariat-only rule of [`secretariat_action`], as [`decide`] applies it (a front
/// end may check it early, with this function, to answer before reading the state).
///
/// # Errors
/// A `Forbidden` rejection with code `secretariat_only` when a partner sends a command
/// only the secretariat may send.
pub fn check_sender(actor: &Actor, command: &Command) -> Result<(), Rejection> {
    secretariat_only(actor, command.name())
}

/// [`check_sender`] by the command's wire name.
pub(crate) fn secretariat_only(actor: &Actor, command: &str) -> Result<(), Rejection> {
    match (actor, secretariat_action(command)) {
        (Actor::Partner(p), Some(what)) => Err(Rejection::forbidden(
            "secretariat_only",
            format!("only the secretariat may {what}; {p} is a partner"),
        )),
        _ => Ok(()),
    }
}

/// The acting partner, admitted and not withdrawn (DOMAIN.md, "After the signature":
/// a withdrawn partner may issue no command).
pub(crate) fn admitted<'a>(
    s: &'a AgreementView,
    actor: &Actor,
    what: &str,
) -> Result<&'a Partner, Rejection> {
    match actor {
        Actor::Secretariat => Err(Rejection::forbidden(
            "partners_only",
            format!("the secretariat is not a partner and cannot {what}"),
        )),
        Actor::Partner(id) => {
            let p = s.partners.get(id).ok_or_else(|| {
                Rejection::forbidden(
                    "not_admitted",
                    format!(
                        "{id} is not an admitted partner of negotiation {}",
                        s.negotiation_id
                    ),
                )
            })?;
            if p.status == PartnerStatus::Withdrawn {
                return Err(Rejection::forbidden(
                    "partner_withdrawn",
                    format!(
                        "{id} has withdrawn from negotiation {} and may issue no command",
                        s.negotiation_id
                    ),
                ));
            }
            Ok(p)
        }
    }
}

fn proposal<'a>(
    s: &'a AgreementView,
    id: &ProposalId,
) -> Result<&'a crate::view::Proposal, Rejection> {
    s.proposals.get(id).ok_or_else(|| {
        Rejection::not_found("proposal_not_found", format!("there is no proposal {id}"))
    })
}

fn open_proposal<'a>(
    s: &'a AgreementView,
    id: &ProposalId,
) -> Result<&'a crate::view::Proposal, Rejection> {
    let p = proposal(s, id)?;
    if p.status != ProposalStatus::Open {
        return Err(Rejection::conflict(
            "proposal_not_open",
            format!("proposal {id} is {}, not open", proposal_word(p.status)),
        ));
    }
    Ok(p)
}

pub(crate) fn non_blank(field: &str, value: &str, max_chars: usize) -> Result<(), Rejection> {
    if crate::text::is_blank(value) {
        return Err(Rejection::invalid(
            "blank_field",
            format!("{field} must not be empty"),
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Rejection::invalid(
            "control_character",
            format!(
                "{field} contains the control character U+{:04X}; only line breaks and tabs are allowed",
                u32::from(c)
            ),
        ));
    }
    let n = value.chars().count();
    if n > max_chars {
        return Err(Rejection::invalid(
            "field_too_long",
            format!("{field} is {n} characters long; the limit is {max_chars}"),
        ));
    }
    Ok(())
}

fn list_some(items: &[&str]) -> String {
    const SHOWN: usize = 8;
    if items.len() <= SHOWN {
        items.join(", ")
    } else {
        format!(
            "{} and {} more",
            items[..SHOWN].join(", "),
            items.len() - SHOWN
        )
    }
}

fn proposal_word(s: ProposalStatus) -> &'static str {
    match s {
        ProposalStatus::Open => "open",
        ProposalStatus::Adopted => "adopted",
        ProposalStatus::Withdrawn => "withdrawn",
        ProposalStatus::Superseded => "superseded",
    }
}

fn status_word(s: ObjectionStatus) -> &'static str {
    match s {
        ObjectionStatus::Open => "open",
        ObjectionStatus::Withdrawn => "withdrawn",
        ObjectionStatus::Moot => "moot",
        ObjectionStatus::Noted => "noted",
    }
}
