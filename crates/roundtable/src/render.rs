//! Text for people: the agreement as a secretariat reads it, and one line per event.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::str::FromStr;

use chrono::NaiveDate;
use roundtable_domain::view::{
    Commitment, CommitmentStatus, NegotiationStatus, ObjectionStatus, PartnerStatus,
    ProposalStatus, ShortfallStatus,
};
use roundtable_domain::vocab::{PartnerKind, Role, Sector, Severity};
use roundtable_domain::{AgreementView, EventBody, RecordedEvent, overdue_commitments};
use rust_decimal::Decimal;

/// What the text view is read against, besides the view itself.
pub(crate) struct Reading<'a> {
    /// The date overdue commitments are computed against (DOMAIN.md, "Overdue").
    pub(crate) today: NaiveDate,
    /// Whether `today` was named by the reader (`--today`) rather than the clock.
    pub(crate) today_given: bool,
    /// The agreement in force (the view at the last conclusion), while a round is open.
    pub(crate) in_force: Option<&'a AgreementView>,
}

const WIDTH: usize = 88;

/// The agreement view as a secretariat reads it: partners by sector (and which voices
/// are missing), agreed clauses with the concerns noted on them, open proposals with
/// endorsers and objectors, what blocks, commitments by partner with totals, and
/// signatures by agreement version.
///
/// Contract version 2 adds: the agreement in force beside the open round and what the
/// round changed, delivery against amounts (and what is overdue on the reading date),
/// shortfalls by severity, and assets by sector with those no active commitment
/// draws on.
///
/// Every text a partner wrote goes through [`clean`], so control characters cannot
/// reach the terminal.
pub(crate) fn agreement(v: &AgreementView, reading: &Reading<'_>) -> String {
    let mut out = String::new();
    let status = match v.status {
        NegotiationStatus::Open => "open",
        NegotiationStatus::Concluded => "CONCLUDED",
        NegotiationStatus::Renegotiating => "RENEGOTIATING",
        NegotiationStatus::Terminated => "TERMINATED",
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
    match v.in_force_agreement_version {
        Some(n) => {
            let _ = writeln!(out, "agreement in force: version {n}");
        }
        None => {
            let _ = writeln!(out, "no agreement in force yet");
        }
    }
    let _ = writeln!(out, "last event hash {}", v.last_event_hash);
    rounds(&mut out, v, reading.in_force);

    let _ = writeln!(out, "\nPARTNERS ({})", v.partners.len());
    for sector in Sector::ALL {
        let members: Vec<_> = v.partners.values().filter(|p| p.sector == sector).collect();
        if members.is_empty() {
            let _ = writeln!(out, "  {sector}: nobody admitted");
            continue;
        }
        let _ = writeln!(out, "  {sector}");
        for p in members {
            let left = if p.status == PartnerStatus::Withdrawn {
                " [WITHDRAWN]"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "    {:<20} {} ({}, {}){left}",
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
    let overdue: Vec<&str> = overdue_commitments(v, reading.today)
        .iter()
        .map(|k| k.commitment_id.as_str())
        .collect();
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
            let status = match (c.status, &c.transferred_to) {
                (CommitmentStatus::Active, _) if overdue.contains(&c.commitment_id.as_str()) => {
                    " [OVERDUE]".to_owned()
                }
                (CommitmentStatus::Active, _) => String::new(),
                (CommitmentStatus::Withdrawn, _) => " [WITHDRAWN]".to_owned(),
                (CommitmentStatus::Fulfilled, _) => format!(
                    " [FULFILLED{}]",
                    c.fulfilled_on.map(|d| format!(" {d}")).unwrap_or_default()
                ),
                (CommitmentStatus::Transferred, Some(to)) => format!(" [TRANSFERRED to {to}]"),
                (CommitmentStatus::Transferred, None) => " [TRANSFERRED]".to_owned(),
            };
            let _ = writeln!(
                out,
                "    {} {}{amount}{due}{clause}{status}",
                c.commitment_id, c.kind
            );
            wrap(&mut out, &c.description, "      ");
            delivery(&mut out, c);
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
    let source = if reading.today_given {
        "the date given"
    } else {
        "today in UTC"
    };
    if overdue.is_empty() {
        let _ = writeln!(out, "  overdue on {} ({source}): none", reading.today);
    } else {
        let list: Vec<String> = overdue.iter().map(|s| (*s).to_owned()).collect();
        wrap_list(
            &mut out,
            &format!("overdue on {} ({source}): ", reading.today),
            &list,
            "  ",
        );
    }
    shortfalls(&mut out, v);
    assets(&mut out, v);

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
    if v.status.negotiating() {
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

/// The rounds, and while one is open, the agreement in force beside it and what the
/// round has changed so far: clauses and active commitments.
fn rounds(out: &mut String, v: &AgreementView, in_force: Option<&AgreementView>) {
    if v.rounds.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nROUNDS ({})", v.rounds.len());
    for r in v.rounds.values() {
        let end = r
            .concluded_agreement_version
            .map(|n| format!(", concluded at version {n}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} {} (from version {}{end}): {}",
            r.round_id,
            r.status.as_str(),
            r.from_agreement_version,
            one_line(&r.reason)
        );
    }
    let (Some(round), Some(old)) = (v.open_round(), in_force) else {
        return;
    };
    let _ = writeln!(
        out,
        "\nIN FORCE (version {}) AND ROUND {} (version {})",
        old.agreement_version, round.round_id, v.agreement_version
    );
    let half = (WIDTH - 6) / 2;
    let cell = |t: &str| -> String {
        let t = one_line(t);
        if t.chars().count() > half {
            let cut: String = t.chars().take(half.saturating_sub(3)).collect();
            format!("{cut}...")
        } else {
            t
        }
    };
    let mut changed = 0;
    for c in v.clauses.values() {
        let before = old.clauses.get(&c.clause_id);
        if before.is_some_and(|b| b.version == c.version) {
            continue;
        }
        changed += 1;
        let left = before.map_or_else(
            || "(no agreed text)".to_owned(),
            |b| format!("v{}", b.version),
        );
        let _ = writeln!(out, "  clause {}", c.clause_id);
        let left = format!("in force: {left}");
        let _ = writeln!(out, "    {left:<half$} | in the round: v{}", c.version);
        if let Some(b) = before {
            wrap(out, &format!("in force: {}", b.text), "      ");
        }
        wrap(out, &format!("in the round: {}", c.text), "      ");
    }
    // What partners sign: active and fulfilled commitments (as the agreement hash).
    let active = |x: &AgreementView| -> Vec<String> {
        x.commitments
            .values()
            .filter(|k| {
                matches!(
                    k.status,
                    CommitmentStatus::Active | CommitmentStatus::Fulfilled
                )
            })
            .map(|k| format!("{} ({})", k.commitment_id, k.partner_id))
            .collect()
    };
    let (was, now) = (active(old), active(v));
    for k in was.iter().filter(|k| !now.contains(k)) {
        changed += 1;
        let _ = writeln!(
            out,
            "    {:<half$} | (gone)",
            cell(&format!("commitment {k}"))
        );
    }
    for k in now.iter().filter(|k| !was.contains(k)) {
        changed += 1;
        let _ = writeln!(
            out,
            "    {:<half$} | {}",
            "",
            cell(&format!("commitment {k}"))
        );
    }
    if changed == 0 {
        let _ = writeln!(
            out,
            "  nothing changed yet: the round can be concluded at once"
        );
    }
}

/// A commitment's delivery: what the progress reports delivered against its amount.
fn delivery(out: &mut String, c: &Commitment) {
    if c.progress.is_empty() {
        return;
    }
    let mut sum = Decimal::ZERO;
    let mut currency = None;
    for p in &c.progress {
        if let Some(d) = &p.delivered {
            if let Ok(x) = Decimal::from_str(&d.value) {
                sum += x;
                currency.get_or_insert(d.currency.clone());
            }
        }
    }
    let against = match (&c.amount, &currency) {
        (Some(a), _) => match Decimal::from_str(&a.value) {
            Ok(total) if !total.is_zero() => format!(
                "delivered {sum} of {} {} ({}%)",
                a.value,
                a.currency,
                (sum * Decimal::from(100) / total).round_dp(0)
            ),
            _ => format!("delivered {sum} of {} {}", a.value, a.currency),
        },
        (None, Some(cur)) => format!("delivered {sum} {cur}"),
        (None, None) => "no amount delivered".to_owned(),
    };
    let last = c.progress.last().map_or(String::new(), |p| {
        format!("; last {}: {}", p.at.format("%Y-%m-%d"), one_line(&p.note))
    });
    let reports = match c.progress.len() {
        1 => "1 progress report".to_owned(),
        n => format!("{n} progress reports"),
    };
    let _ = writeln!(out, "      {reports}, {against}{last}");
}

/// Open shortfalls by severity (most serious first) with who reported them.
fn shortfalls(out: &mut String, v: &AgreementView) {
    if v.shortfalls.is_empty() {
        return;
    }
    let open: Vec<_> = v
        .shortfalls
        .values()
        .filter(|f| f.status == ShortfallStatus::Open)
        .collect();
    let _ = writeln!(
        out,
        "\nSHORTFALLS ({} open, {} resolved)",
        open.len(),
        v.shortfalls.len() - open.len()
    );
    for severity in Severity::ALL.iter().rev() {
        let these: Vec<_> = open.iter().filter(|f| f.severity == *severity).collect();
        if these.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  {severity} ({})", these.len());
        for f in these {
            let _ = writeln!(
                out,
                "    {} on {}, reported by {}: {}",
                f.shortfall_id,
                f.commitment_id,
                f.reported_by,
                one_line(&f.description)
            );
        }
    }
    for f in v
        .shortfalls
        .values()
        .filter(|f| f.status == ShortfallStatus::Resolved)
    {
        let penalty = f
            .penalty
            .as_ref()
            .map(|p| format!(", penalty {} {}", p.value, p.currency))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  resolved: {} ({}, reported by {}){penalty}",
            f.shortfall_id, f.severity, f.reported_by
        );
    }
}

/// Assets by sector and kind, and the declared assets no active commitment draws on.
fn assets(out: &mut String, v: &AgreementView) {
    if v.assets.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nASSETS BY SECTOR ({})", v.assets.len());
    for sector in Sector::ALL {
        let theirs: Vec<String> = v
            .assets
            .values()
            .filter(|a| {
                v.partners
                    .get(&a.partner_id)
                    .is_some_and(|p| p.sector == sector)
            })
            .map(|a| format!("{} {} ({})", a.kind, a.asset_id, a.partner_id))
            .collect();
        if theirs.is_empty() {
            let _ = writeln!(out, "  {sector}: none declared");
        } else {
            wrap_list(out, &format!("{sector}: "), &theirs, "  ");
        }
    }
    let unused: Vec<String> = v
        .unused_assets()
        .iter()
        .map(|a| a.asset_id.to_string())
        .collect();
    if unused.is_empty() {
        let _ = writeln!(
            out,
            "  every declared asset is drawn on by an active commitment"
        );
    } else {
        wrap_list(
            out,
            &format!("drawn on by no active commitment ({}): ", unused.len()),
            &unused,
            "  ",
        );
    }
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
            let round = e
                .round_id
                .as_ref()
                .map(|r| format!(", round {r}"))
                .unwrap_or_default();
            format!(
                "agreement v{} signed by {} signatories{round}",
                e.agreement_version,
                e.signatories.len()
            )
        }
        EventBody::RoundOpened(e) => {
            format!(
                "{} from agreement v{}",
                e.round_id, e.from_agreement_version
            )
        }
        EventBody::AssetDeclared(e) => format!("{} {}", e.asset_id, e.kind),
        EventBody::ProgressReported(e) => match &e.delivered {
            Some(d) => format!("{} delivered {} {}", e.commitment_id, d.value, d.currency),
            None => e.commitment_id.to_string(),
        },
        EventBody::CommitmentFulfilled(e) => format!("{} on {}", e.commitment_id, e.fulfilled_on),
        EventBody::ShortfallReported(e) => {
            format!("{} on {} ({})", e.shortfall_id, e.commitment_id, e.severity)
        }
        EventBody::ShortfallResolved(e) => match &e.penalty {
            Some(p) => format!("{} penalty {} {}", e.shortfall_id, p.value, p.currency),
            None => e.shortfall_id.to_string(),
        },
        EventBody::PartnerWithdrawn(e) => {
            let moved: Vec<String> = e
                .transfers
                .iter()
                .map(|t| format!("{}->{}", t.commitment_id, t.to))
                .collect();
            let s = with_list(e.partner_id.as_str(), "transferred", &moved);
            let s = with_list(&s, "withdrawn", &e.withdrawn_commitments);
            format!("{s}, agreement v{}", e.agreement_version)
        }
        EventBody::NegotiationTerminated(e) => match &e.abandoned_round {
            Some(r) => format!("round {r} abandoned"),
            None => one_line(&e.reason),
        },
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
    use chrono::{TimeZone, Utc};
    use roundtable_domain::minutes::parse_line;
    use roundtable_domain::{CommandEnvelope, Projection, decide};
    use uuid::Uuid;

    use super::*;

    /// The Fieldbrook sample's events, folded through the rules.
    fn fieldbrook() -> Vec<RecordedEvent> {
        let text = include_str!("../../../examples/minutes/fieldbrook-sanitation.jsonl");
        let mut p = Projection::new();
        let mut events = Vec::new();
        for line in text.lines() {
            let Some(m) = parse_line(line).expect("a sample line") else {
                continue;
            };
            let cmd = CommandEnvelope {
                command_id: m.command_id,
                negotiation_id: m.negotiation_id,
                actor: m.actor,
                occurred_at: m.at.expect("every sample line has an at"),
                command: m.command,
            };
            let event = decide(p.view.as_ref(), &cmd).expect("every sample line is accepted");
            let e = RecordedEvent::seal(
                &cmd,
                event,
                p.version + 1,
                &p.last_hash.clone(),
                Uuid::nil(),
                Utc.timestamp_opt(0, 0).unwrap(),
            );
            p.apply(&e).expect("it links");
            events.push(e);
        }
        events
    }

    fn view_of(events: &[RecordedEvent]) -> AgreementView {
        Projection::fold(events)
            .ok()
            .and_then(|p| p.view)
            .expect("a view")
    }

    #[test]
    fn the_view_after_the_signature_shows_delivery_shortfalls_assets_and_overdue() {
        let events = fieldbrook();
        let v = view_of(&events);
        let today = NaiveDate::from_ymd_opt(2029, 10, 1).unwrap();
        let text = agreement(
            &v,
            &Reading {
                today,
                today_given: true,
                in_force: None,
            },
        );
        for want in [
            "· CONCLUDED",
            "agreement in force: version 15",
            "r-tariff-2029 concluded (from version 13, concluded at version 15)",
            "brookline            Brookline Sanitation Services Ltd (national_firm, signatory) [WITHDRAWN]",
            "c-fbc-subsidy finance 3600000.00 KES, due 2029-09-30, for tariff [OVERDUE]",
            "delivered 1800000.00 of 3600000.00 KES (50%)",
            "[TRANSFERRED to c-emptiers-tankers]",
            "[FULFILLED 2028-08-29]",
            "overdue on 2029-10-01 (the date given): c-fbc-subsidy, c-emptiers-tankers",
            "SHORTFALLS (1 open, 3 resolved)",
            "  minor (1)\n    s-subsidy-late on c-fbc-subsidy, reported by consumers",
            "resolved: s-plant-late (critical, reported by consumers), penalty 60000.00 KES",
            "ASSETS BY SECTOR (12)",
            "external: finance a-aquafund-grant (aquafund)",
            "drawn on by no active commitment (7): a-fbc-land",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
        // The day before, nothing is overdue, and the text says it used today's clock
        // when no date was given.
        let text = agreement(
            &v,
            &Reading {
                today: NaiveDate::from_ymd_opt(2029, 9, 30).unwrap(),
                today_given: false,
                in_force: None,
            },
        );
        assert!(
            text.contains("overdue on 2029-09-30 (today in UTC): none"),
            "{text}"
        );
        assert!(!text.contains("[OVERDUE]"));
    }

    #[test]
    fn an_open_round_is_shown_beside_the_agreement_in_force() {
        let events = fieldbrook();
        // After the amendment and the new commitment, before the signatures.
        let in_round = view_of(&events[..81]);
        assert_eq!(in_round.status, NegotiationStatus::Renegotiating);
        let last_conclusion = events[..81]
            .iter()
            .rposition(|e| matches!(e.event.body, EventBody::NegotiationConcluded(_)))
            .unwrap();
        let in_force = view_of(&events[..=last_conclusion]);
        let text = agreement(
            &in_round,
            &Reading {
                today: NaiveDate::from_ymd_opt(2029, 5, 30).unwrap(),
                today_given: true,
                in_force: Some(&in_force),
            },
        );
        for want in [
            "· RENEGOTIATING",
            "agreement in force: version 12",
            "IN FORCE (version 12) AND ROUND r-tariff-2029 (version 15)",
            "clause tariff",
            "in force: Households pay a lifeline fee of KES 600",
            "in the round: Households pay a lifeline fee of KES 650",
            "| commitment c-fbc-subsidy-2 (fbc)",
            "still to sign (4): fbc, emptiers, hillside-cbo, consumers",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
        assert!(
            !text.contains("clause service"),
            "unchanged clauses are not listed"
        );
        // A round opened right after the first conclusion has changed nothing yet.
        let first = events
            .iter()
            .position(|e| matches!(e.event.body, EventBody::NegotiationConcluded(_)))
            .unwrap();
        let mut p = Projection::fold(&events[..=first]).expect("it folds");
        let open = CommandEnvelope {
            command_id: roundtable_domain::CommandId::new("open-round").unwrap(),
            negotiation_id: events[0].negotiation_id.clone(),
            actor: roundtable_domain::Actor::Secretariat,
            occurred_at: Utc.timestamp_opt(1_900_000_000, 0).unwrap(),
            command: roundtable_domain::Command::OpenRound(roundtable_domain::command::OpenRound {
                round_id: roundtable_domain::RoundId::new("r-early").unwrap(),
                reason: "a check".into(),
            }),
        };
        let event = decide(p.view.as_ref(), &open).expect("a round opens");
        let e = RecordedEvent::seal(
            &open,
            event,
            p.version + 1,
            &p.last_hash.clone(),
            Uuid::nil(),
            Utc.timestamp_opt(0, 0).unwrap(),
        );
        p.apply(&e).expect("it links");
        let first_in_force = view_of(&events[..=first]);
        let text = agreement(
            p.view.as_ref().expect("a view"),
            &Reading {
                today: NaiveDate::from_ymd_opt(2028, 1, 1).unwrap(),
                today_given: true,
                in_force: Some(&first_in_force),
            },
        );
        assert!(
            text.contains("nothing changed yet: the round can be concluded at once"),
            "{text}"
        );
        // The real round opened after Brookline left: the transfer shows as a change
        // against the agreement in force before anything is proposed.
        let opened = events
            .iter()
            .position(|e| matches!(e.event.body, EventBody::RoundOpened(_)))
            .unwrap();
        let text = agreement(
            &view_of(&events[..=opened]),
            &Reading {
                today: NaiveDate::from_ymd_opt(2029, 5, 30).unwrap(),
                today_given: true,
                in_force: Some(&in_force),
            },
        );
        assert!(
            text.contains("commitment c-brookline-tankers (brookl... | (gone)"),
            "{text}"
        );
    }

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
        let text = agreement(
            &v,
            &Reading {
                today: NaiveDate::from_ymd_opt(2027, 5, 1).unwrap(),
                today_given: false,
                in_force: None,
            },
        );
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
