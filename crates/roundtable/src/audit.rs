//! The auditor's subcommands: time travel, diff, export, verify, report, import of an
//! export, and the signing helpers partners use (docs/AUDIT.md).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use roundtable_audit::{TimeAxis, VerifyReport};
use roundtable_domain::{AgreementView, NegotiationId, RecordedEvent};

use crate::backend::Backend;

/// Which view of a negotiation `view` shows.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AsOf {
    /// As it stands.
    Now,
    /// After this many events.
    Version(u64),
    /// At this instant on this clock.
    Time(DateTime<Utc>, TimeAxis),
}

impl AsOf {
    /// A line saying which moment a view shows, for the text view's head.
    pub(crate) fn describe(self, view: &AgreementView) -> Option<String> {
        match self {
            AsOf::Now => None,
            AsOf::Version(n) => Some(format!(
                "AS OF VERSION {n} (the view after the first {n} events)"
            )),
            AsOf::Time(t, axis) => Some(format!(
                "AS OF {} by {} (the view after event {}, the last one at or before then)",
                t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                axis.field(),
                view.version
            )),
        }
    }
}

/// Parses `--as-of` as RFC 3339, or a plain date (its start, UTC).
pub(crate) fn parse_time(raw: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    bail!("--as-of {raw:?} is not a time such as 2027-02-01T18:00:00Z or a date such as 2027-02-01")
}

/// The view of `id` at `as_of`, folded from the log (never from a snapshot).
pub(crate) async fn view_at(
    backend: &Backend,
    id: &NegotiationId,
    as_of: AsOf,
) -> anyhow::Result<Option<AgreementView>> {
    let events = backend.store().read(id, 0, None).await?;
    Ok(match as_of {
        AsOf::Now => roundtable_domain::Projection::fold(&events)?.view,
        AsOf::Version(n) => roundtable_audit::as_of_version(&events, n)?,
        AsOf::Time(t, axis) => roundtable_audit::as_of_time(&events, t, axis)?,
    })
}

async fn events_of(
    backend: &Backend,
    id: &NegotiationId,
) -> anyhow::Result<Option<Vec<RecordedEvent>>> {
    let events = backend.store().read(id, 0, None).await?;
    if events.is_empty() {
        eprintln!(
            "error: negotiation {id} has no recorded events in {}",
            backend.describe()
        );
        return Ok(None);
    }
    Ok(Some(events))
}

/// `roundtable diff ID --from N --to M`.
pub(crate) async fn diff(
    backend: &Backend,
    id: &NegotiationId,
    from: u64,
    to: Option<u64>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let Some(events) = events_of(backend, id).await? else {
        return Ok(ExitCode::from(1));
    };
    let to = to.unwrap_or(events.len() as u64);
    if from > to {
        bail!("--from {from} is after --to {to}");
    }
    let before = roundtable_audit::as_of_version(&events, from)?;
    let Some(after) = roundtable_audit::as_of_version(&events, to)? else {
        bail!("negotiation {id} has no view at version {to}");
    };
    let changes = roundtable_audit::diff(before.as_ref(), &after);
    let text = if json {
        serde_json::to_string_pretty(&changes)? + "\n"
    } else {
        format!(
            "changes in {id} from version {from} to version {to}\n{}",
            changes.to_text()
        )
    };
    write_out(text.as_bytes())
}

/// `roundtable export ID [--output FILE]`.
pub(crate) async fn export(
    backend: &Backend,
    id: &NegotiationId,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let Some(events) = events_of(backend, id).await? else {
        return Ok(ExitCode::from(1));
    };
    let projected = backend.projected_view(id).await?;
    let bytes = roundtable_audit::export::export_with_tool(
        &events,
        projected.as_ref(),
        roundtable_audit::export::TOOL,
    )
    .with_context(|| format!("cannot export {id}"))?;
    let what = format!("{} events of {id}", events.len());
    write_to(output, &bytes, &what)
}

/// `roundtable verify FILE [--checkpoint CP... --log-key KEY]` (no store needed).
pub(crate) fn verify_file(
    file: &Path,
    anchor: Option<&roundtable_audit::Anchor>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let bytes =
        std::fs::read(file).with_context(|| format!("cannot read export {}", file.display()))?;
    let report = match anchor {
        Some(a) => roundtable_audit::verify_anchored(&bytes, a),
        None => roundtable_audit::verify(&bytes),
    };
    print_report(&report, json)
}

/// `roundtable verify --negotiation ID`: the live store, and the projected view
/// against a fresh fold.
pub(crate) async fn verify_live(
    backend: &Backend,
    id: &NegotiationId,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let Some(events) = events_of(backend, id).await? else {
        return Ok(ExitCode::from(1));
    };
    let projected = backend.projected_view(id).await?;
    print_report(
        &roundtable_audit::verify_live(&events, projected.as_ref()),
        json,
    )
}

fn print_report(report: &VerifyReport, json: bool) -> anyhow::Result<ExitCode> {
    let text = if json {
        serde_json::to_string_pretty(report)? + "\n"
    } else {
        report.to_string()
    };
    write_out(text.as_bytes())?;
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `roundtable report ID [--output FILE]`: one self-contained HTML file.
pub(crate) async fn report(
    backend: &Backend,
    id: &NegotiationId,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let Some(events) = events_of(backend, id).await? else {
        return Ok(ExitCode::from(1));
    };
    let projected = backend.projected_view(id).await?;
    let integrity = roundtable_audit::verify_live(&events, projected.as_ref());
    let Some(view) = roundtable_domain::Projection::fold(&events)?.view else {
        bail!("negotiation {id} was never opened");
    };
    let html = roundtable_audit::report_html(&events, &view, &integrity);
    write_to(
        output,
        html.as_bytes(),
        &format!("the audit report of {id}"),
    )
}

/// `roundtable import-export FILE`: a verified export into a store that does not hold
/// its negotiation yet; a tampered export is refused.
pub(crate) async fn import_export(backend: &Backend, file: &Path) -> anyhow::Result<ExitCode> {
    let bytes =
        std::fs::read(file).with_context(|| format!("cannot read export {}", file.display()))?;
    let verified = match roundtable_audit::import_export(&bytes) {
        Ok(v) => v,
        Err(roundtable_audit::ImportError::Refused(report)) => {
            eprint!("{report}");
            eprintln!("error: {} is refused: it does not verify", file.display());
            return Ok(ExitCode::from(1));
        }
    };
    let id = &verified.view.negotiation_id;
    let existing = backend.store().last_version(id).await?;
    if existing > 0 {
        eprintln!(
            "error: {} already holds {existing} events of negotiation {id}; import an export only into a store without it",
            backend.describe()
        );
        return Ok(ExitCode::from(1));
    }
    for e in &verified.events {
        backend
            .store()
            .append(e)
            .await
            .with_context(|| format!("cannot append version {} of {id}", e.version))?;
    }
    println!(
        "imported {} verified events of {id} (last hash {})",
        verified.events.len(),
        verified.report.last_hash.as_deref().unwrap_or("-")
    );
    Ok(ExitCode::SUCCESS)
}

/// `roundtable keys generate`: a new Ed25519 key pair as hex, for a partner.
pub(crate) fn generate_key() -> anyhow::Result<ExitCode> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness available: {e}"))?;
    let secret = hex::encode(seed);
    let public = roundtable_audit::signing::public_key_of(&secret)?;
    let json = serde_json::json!({ "secret_key": secret, "public_key": public });
    write_out((serde_json::to_string_pretty(&json)? + "\n").as_bytes())
}

/// `roundtable keys sign ID --secret-file F`: the signature a partner's `sign` carries
/// for the agreement as it stands now.
pub(crate) async fn sign_agreement(
    backend: &Backend,
    id: &NegotiationId,
    secret_file: &Path,
) -> anyhow::Result<ExitCode> {
    let secret = std::fs::read_to_string(secret_file)
        .with_context(|| format!("cannot read {}", secret_file.display()))?;
    let Some(view) = view_at(backend, id, AsOf::Now).await? else {
        eprintln!(
            "error: negotiation {id} has no recorded events in {}",
            backend.describe()
        );
        return Ok(ExitCode::from(1));
    };
    let signature = roundtable_audit::signing::sign_agreement(secret.trim(), &view)?;
    let message = roundtable_domain::signing::view_signing_message(&view);
    eprintln!("signed: {message}");
    write_out(format!("{signature}\n").as_bytes())
}

/// Writes `bytes` to `output` (saying so on standard error), or to standard output.
pub(crate) fn write_to(
    output: Option<&Path>,
    bytes: &[u8],
    what: &str,
) -> anyhow::Result<ExitCode> {
    match output {
        Some(path) => {
            std::fs::write(path, bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {what} to {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        None => write_out(bytes),
    }
}

fn write_out(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to standard output")),
    }
}
