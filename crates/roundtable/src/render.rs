//! Text for people: the agreement as a secretariat reads it, and one line per event.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::str::FromStr;

use roundtable_domain::view::{
    CommitmentStatus, NegotiationStatus, ObjectionStatus, ProposalStatus,
};
use roundtable_domain::vocab::{PartnerKind, Role, Sector};
use roundtable_domain::{AgreementView, EventBody, RecordedEvent};
use rust_decimal::Decimal;

const WIDTH: usize = 88;

/// The agreement view as a secretariat reads it: partners by sector (and which voices
/// are missing), agreed clauses with the concerns noted on them, open proposals with
/// endorsers and objectors, what blocks, commitments by partner with totals, and
/// signatures by agreement version.
///
/// Every text a partner wrote goes through [`clean`], so control characters cannot
/// reach the terminal.
pub(crate) fn agreement(v: &AgreementView) -> String {
    let mut out = String::new();
    let status = match v.status {
        NegotiationStatus::Open => "open",
        NegotiationStatus::Concluded => "CONCLUDED",
    };
    let _ = writeln!(out, "{}", clean(&v.title));
    let _ = writeln!(
        out,
        "negotiation {} · service {} · decision rule {} · {status}",
        v.negotiation_id,
        clean(&v.service),
        v.decision_rule
    );
    let _ = writeln!(
        out,
        "{} events · agreement version {}",
        v.version, v.agreement_version
    );
    let _ = writeln!(out, "last event hash {}", v.last_event_hash);

    let _ = writeln!(out, "\nPARTNERS ({})", v.partners.len());
    for sector in Sector::ALL {
        let members: Vec<_> = v.partners.values().filter(|p| p.sector == sector).collect();
        if members.is_empty() {
            let _ = writeln!(out, "  {sector}: nobody admitted");
            continue;
        }
        let _ = writeln!(out, "  {sector}");
        for p in members {
            let _ = writeln!(
                out,
                "    {:<20} {} ({}, {})",
                p.partner_id,
                clean(&p.name),
                p.kind,
                p.role.as_str()
            );
        }
    }
    // DOMAIN.md: small-scale providers and community groups are the partners most often
    // left out; say so when they are.
    for (kind, words) in [
        (
            PartnerKind::SmallScaleProvider,
            "no small-scale provider (water vendors, kiosk operators, informal collectors)",
        ),
        (
            PartnerKind::CommunityOrganisation,
            "no community organisation",
        ),
    ] {
        if !v.partners.values().any(|p| p.kind == kind) {
            let _ = writeln!(out, "  note: {words} has been admitted");
        }
    }

    let _ = writeln!(out, "\nAGREED CLAUSES ({})", v.clauses.len());
    if v.clauses.is_empty() {
        let _ = writeln!(out, "  none yet");
    }
    for c in v.clauses.values() {
        let _ = writeln!(
            out,
            "  {} (version {}, adopted from {})",
            c.clause_id, c.version, c.adopted_from
        );
        wrap(&mut out, &c.text, "    ");
        for o in v
            .objections
            .values()
            .filter(|o| o.proposal_id == c.adopted_from && o.status == ObjectionStatus::Noted)
        {
            let _ = writeln!(
                out,
                "    noted concern {} by {}: {}",
                o.objection_id,
                o.raised_by,
                one_line(&o.grounds)
            );
        }
    }

    let open: Vec<_> = v
        .proposals
        .values()
        .filter(|p| p.status == ProposalStatus::Open)
        .collect();
    let _ = writeln!(out, "\nOPEN PROPOSALS ({})", open.len());
    if open.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for p in open {
        let kind = match p.amends_version {
            Some(n) => format!("amends {} version {n}", p.clause_id),
            None => format!("on {}", p.clause_id),
        };
        let title = p
            .title
            .as_deref()
            .map(|t| format!(": {}", clean(t)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} {kind}, by {}{title}",
            p.proposal_id, p.proposed_by
        );
        wrap(&mut out, &p.text, "    ");
        let endorsers: Vec<String> = p
            .endorsed_by
            .iter()
            .map(|id| match v.partners.get(id) {
                Some(pt) if pt.role == Role::Observer => format!("{id} (observer)"),
                _ => id.to_string(),
            })
            .collect();
        let label = format!("endorsed by {}: ", endorsers.len());
        if endorsers.is_empty() {
            let _ = writeln!(out, "    endorsed by nobody yet");
        } else {
            wrap_list(&mut out, &label, &endorsers, "    ");
        }
        let objections: Vec<_> = v.open_objections_on(&p.proposal_id).collect();
        const SHOWN: usize = 10;
        for o in objections.iter().take(SHOWN) {
            let what = if o.blocking { "BLOCKS" } else { "concern" };
            let _ = writeln!(
                out,
                "    {what}: {} by {}: {}",
                o.objection_id,
                o.raised_by,
                one_line(&o.grounds)
            );
        }
        if objections.len() > SHOWN {
            let _ = writeln!(
                out,
                "    ... and {} more open objections (view --json lists them all)",
                objections.len() - SHOWN
            );
        }
    }

    let blocking: Vec<_> = v
        .objections
        .values()
        .filter(|o| o.status == ObjectionStatus::Open && o.blocking)
        .collect();
    if !blocking.is_empty() {
        let _ = writeln!(out, "\nBLOCKED BY ({})", blocking.len());
        for o in blocking {
            let _ = writeln!(
                out,
                "  {} blocks {} ({})",
                o.raised_by, o.proposal_id, o.objection_id
            );
        }
    }

    let _ = writeln!(out, "\nCOMMITMENTS ({})", v.commitments.len());
    if v.commitments.is_empty() {
        let _ = writeln!(out, "  none yet");
    }
    let mut totals: BTreeMap<&str, Decimal> = BTreeMap::new();
    for partner in v.partners.values() {
        let theirs: Vec<_> = v
            .commitments
            .values()
            .filter(|c| c.partner_id == partner.partner_id)
            .collect();
        if theirs.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  {} ({})", clean(&partner.name), partner.partner_id);
        for c in theirs {
            let amount = c
                .amount
                .as_ref()
                .map(|a| format!(" {} {}", a.value, a.currency))
                .unwrap_or_default();
            let due = c.due.map(|d| format!(", due {d}")).unwrap_or_default();
            let clause = c
                .clause_id
                .as_ref()
                .map(|cl| format!(", for {cl}"))
                .unwrap_or_default();
            let status = match c.status {
                CommitmentStatus::Active => "",
                CommitmentStatus::Withdrawn => " [WITHDRAWN]",
            };
            let _ = writeln!(
                out,
                "    {} {}{amount}{due}{clause}{status}",
                c.commitment_id, c.kind
            );
            wrap(&mut out, &c.description, "      ");
            if c.status == CommitmentStatus::Active {
                if let Some(a) = &c.amount {
                    if let Ok(d) = Decimal::from_str(&a.value) {
                        *totals.entry(a.currency.as_str()).or_default() += d;
                    }
                }
            }
        }
    }
    for (currency, total) in &totals {
        let _ = writeln!(out, "  active total: {total} {currency}");
    }

    let _ = writeln!(
        out,
        "\nSIGNATURES (agreement version {})",
        v.agreement_version
    );
    let mut by_version: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for s in &v.signatures {
        by_version
            .entry(s.agreement_version)
            .or_default()
            .push(s.partner_id.to_string());
    }
    if by_version.is_empty() {
        let _ = writeln!(out, "  nobody has signed");
    }
    for (version, who) in by_version.iter().rev() {
        let note = if *version == v.agreement_version {
            "current"
        } else {
            "stale"
        };
        wrap_list(
            &mut out,
            &format!("at version {version} ({note}): "),
            who,
            "  ",
        );
    }
    if v.status == NegotiationStatus::Open {
        let awaiting: Vec<String> = v
            .awaiting_signature
            .iter()
            .map(ToString::to_string)
            .collect();
        if awaiting.is_empty() {
            let _ = writeln!(out, "  still to sign: nobody");
        } else {
            wrap_list(
                &mut out,
                &format!("still to sign ({}): ", awaiting.len()),
                &awaiting,
                "  ",
            );
        }
    }
    out
}

/// What marks a text that holds bidi controls, shown in front of it.
const BIDI_MARK: &str = "[bidi controls shown] ";

/// `text` with every control character shown as an escape (`\u{1b}`), so that text
/// written by a partner can never move the cursor, clear or recolour a terminal.
/// Line breaks are kept for [`wrap`] to handle. Bidi controls (U+202E and the like,
/// [`roundtable_domain::text::is_bidi_control`]), which could reorder what is shown,
/// are written `<U+202E>` and the text is marked with a leading [`BIDI_MARK`].
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    if roundtable_domain::text::has_bidi_controls(text) {
        out.push_str(BIDI_MARK);
    }
    for c in text.chars() {
        if roundtable_domain::text::is_bidi_control(c) {
            let _ = write!(out, "<U+{:04X}>", u32::from(c));
        } else if c.is_control() && c != '\n' {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` cleaned and folded onto one line.
fn one_line(text: &str) -> String {
    clean(text).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `label` then the items, comma separated, wrapped at the page width.
fn wrap_list(out: &mut String, label: &str, items: &[String], indent: &str) {
    let text = format!("{label}{}", items.join(", "));
    wrap(out, &text, indent);
}

fn short(hash: &str) -> &str {
    hash.get(..16).unwrap_or(hash)
}

/// Writes `text` (cleaned) wrapped at the page width, each paragraph (line of the
/// original) on its own lines, so lists and paragraphs in clause text stay apart.
fn wrap(out: &mut String, text: &str, indent: &str) {
    for paragraph in clean(text).lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty()
                && indent.len() + line.chars().count() + 1 + word.chars().count() > WIDTH
            {
                let _ = writeln!(out, "{indent}{line}");
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            let _ = writeln!(out, "{indent}{line}");
        }
    }
}

/// One event as one line of text: version, business time, actor, type and gist.
pub(crate) fn write_event_line(out: &mut impl Write, e: &RecordedEvent) -> std::io::Result<()> {
    writeln!(
        out,
        "{:>5}  {}  {:<20} {:<22} {}",
        e.version,
        e.occurred_at.format("%Y-%m-%d %H:%M"),
        e.event.actor.as_str(),
        e.event_type(),
        gist(&e.event.body)
    )
}

/// One event as its stored canonical JSON envelope on one line.
pub(crate) fn write_json_line(out: &mut impl Write, e: &RecordedEvent) -> std::io::Result<()> {
    out.write_all(&e.to_bytes())?;
    out.write_all(b"\n")
}

fn gist(body: &EventBody) -> String {
    match body {
        EventBody::NegotiationOpened(e) => {
            format!("{} ({}, {})", e.title, e.service, e.decision_rule)
        }
        EventBody::PartnerKeyRegistered(e) => {
            format!("{} key {}", e.partner_id, short(&e.public_key))
        }
        EventBody::PartnerAdmitted(e) => format!(
            "{} {} ({}, {})",
            e.partner_id,
            one_line(&e.name),
            e.kind,
            e.role.as_str()
        ),
        EventBody::ProposalMade(e) => match e.amends_version {
            Some(n) => format!("{} amends {} v{n}", e.proposal_id, e.clause_id),
            None => format!("{} on {}", e.proposal_id, e.clause_id),
        },
        EventBody::ProposalWithdrawn(e) => {
            with_list(e.proposal_id.as_str(), "moot", &e.mooted_objections)
        }
        EventBody::ProposalEndorsed(e) => e.proposal_id.to_string(),
        EventBody::EndorsementRetracted(e) => e.proposal_id.to_string(),
        EventBody::ObjectionRaised(e) => format!(
            "{} on {}{}",
            e.objection_id,
            e.proposal_id,
            if e.blocking { " (blocking)" } else { "" }
        ),
        EventBody::ObjectionWithdrawn(e) => e.objection_id.to_string(),
        EventBody::ProposalAdopted(e) => {
            let mut s = format!(
                "{} -> {} v{}, agreement v{}",
                e.proposal_id, e.clause_id, e.clause_version, e.agreement_version
            );
            if !e.superseded.is_empty() {
                s = with_list(&s, "superseded", &e.superseded);
            }
            if !e.noted_objections.is_empty() {
                s = with_list(&s, "noted", &e.noted_objections);
            }
            s
        }
        EventBody::CommitmentMade(e) => {
            let amount = e
                .amount
                .as_ref()
                .map(|a| format!(" {} {}", a.value, a.currency))
                .unwrap_or_default();
            format!(
                "{} {}{amount}, agreement v{}",
                e.commitment_id, e.kind, e.agreement_version
            )
        }
        EventBody::CommitmentWithdrawn(e) => {
            format!("{}, agreement v{}", e.commitment_id, e.agreement_version)
        }
        EventBody::AgreementSigned(e) => format!("agreement v{}", e.agreement_version),
        EventBody::NegotiationConcluded(e) => {
            format!(
                "agreement v{} signed by {} signatories",
                e.agreement_version,
                e.signatories.len()
            )
        }
    }
}

fn with_list<T: std::fmt::Display>(head: &str, label: &str, items: &[T]) -> String {
    if items.is_empty() {
        return head.to_owned();
    }
    let list: Vec<String> = items.iter().map(ToString::to_string).collect();
    format!("{head}; {label}: {}", list.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_the_terminal() {
        // Events recorded before decide refused control characters, or written by
        // something else, still print safely.
        assert_eq!(clean("a\u{1b}[2Jb\nc"), "a\\u{1b}[2Jb\nc");
        assert_eq!(one_line("x\n  y\u{7}"), "x y\\u{7}");
        let mut out = String::new();
        wrap(&mut out, "one\ntwo", "  ");
        assert_eq!(out, "  one\n  two\n");
    }

    #[test]
    fn bidi_controls_are_shown_escaped_and_the_text_marked() {
        assert_eq!(
            clean("pay \u{202E}001$\u{202C} now"),
            "[bidi controls shown] pay <U+202E>001$<U+202C> now"
        );
        assert_eq!(
            one_line("a\u{2066}b\u{2069}\u{200F}"),
            "[bidi controls shown] a<U+2066>b<U+2069><U+200F>"
        );
        assert_eq!(clean("plain العربية"), "plain العربية");
        let m = roundtable_domain::minutes::parse_line(
            r#"{"at":"2027-03-02T09:00:00Z","negotiation_id":"n","by":"secretariat","do":"open_negotiation","title":"Water \u202Eretaw","service":"water"}"#,
        )
        .expect("parses")
        .expect("a command");
        let cmd = roundtable_domain::CommandEnvelope {
            command_id: m.command_id,
            negotiation_id: m.negotiation_id,
            actor: m.actor,
            occurred_at: m.at.expect("at"),
            command: m.command,
        };
        let event = roundtable_domain::decide(None, &cmd).expect("accepted");
        let e = RecordedEvent::seal(
            &cmd,
            event,
            1,
            roundtable_domain::GENESIS_HASH,
            uuid::Uuid::nil(),
            cmd.occurred_at,
        );
        let mut p = roundtable_domain::Projection::new();
        p.apply(&e).expect("applies");
        let v = p.view.expect("a view");
        let text = agreement(&v);
        assert!(
            !text.chars().any(roundtable_domain::text::is_bidi_control),
            "{text}"
        );
        assert!(
            text.starts_with("[bidi controls shown] Water <U+202E>retaw"),
            "{text}"
        );
    }
}
