//! The auditor's subcommands: time travel, diff, export, verify, report, import of an
//! export, and the signing helpers partners use (docs/AUDIT.md).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use roundtable_app::history::PointInTime;
use roundtable_app::time::instant;
use roundtable_app::{AppError, AsOf};
use roundtable_audit::VerifyReport;
use roundtable_domain::NegotiationId;

use crate::backend::Backend;

/// How long the command line waits for the projection to reach the log before
/// comparing them: not at all, since no projector need be running beside it.
const CATCH_UP: Duration = Duration::ZERO;

/// Most late entries named in a view's head.
const MAX_LATE_ENTRIES: usize = 20;

/// The lines that say which moment a view shows, for the text view's head, and the
/// entries made late or back-dated that it leaves out (issue 15: reported as the HTTP
/// API's `Roundtable-Late-Entries` does).
pub(crate) fn describe(point: &PointInTime) -> Option<String> {
    let late = late_entries(point);
    match point.as_of {
        AsOf::Now => None,
        AsOf::Version(n) => Some(format!(
            "AS OF VERSION {n} (the view after the first {n} events)"
        )),
        AsOf::Time(t, axis) => Some(match late {
            None => format!(
                "AS OF {} by {} (the view after event {}, the last one at or before then)",
                instant(t),
                axis.field(),
                point.version
            ),
            Some(late) => format!(
                "AS OF {} by {} (the view after event {}: the next event came after then)\n{late}",
                instant(t),
                axis.field(),
                point.version
            ),
        }),
    }
}

/// `LATE ENTRIES: ...` when the point leaves out events whose time is at or before it.
pub(crate) fn late_entries(point: &PointInTime) -> Option<String> {
    let late = &point.late_entries;
    if late.is_empty() {
        return None;
    }
    let shown: Vec<String> = late
        .iter()
        .take(MAX_LATE_ENTRIES)
        .map(u64::to_string)
        .collect();
    let more = if late.len() > MAX_LATE_ENTRIES {
        format!(" and {} more", late.len() - MAX_LATE_ENTRIES)
    } else {
        String::new()
    };
    Some(format!(
        "LATE ENTRIES: {} later event{} happened at or before then but {} entered after an event that came later (entered late or back-dated), so the view leaves {} out: version{} {}{more}",
        late.len(),
        if late.len() == 1 { "" } else { "s" },
        if late.len() == 1 { "was" } else { "were" },
        if late.len() == 1 { "it" } else { "them" },
        if late.len() == 1 { "" } else { "s" },
        shown.join(", ")
    ))
}

/// Parses `--as-of` (and other instants of the command line) with the application
/// layer's one parser.
pub(crate) fn parse_time(flag: &str, raw: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    roundtable_app::parse_instant(raw).map_err(|e| anyhow::anyhow!("{flag} {e}"))
}

/// The answer of a use case that found nothing to show: the message and exit status 1
/// for what is (not) in the record, an error (exit status 2) for anything else.
pub(crate) fn not_found(backend: &Backend, e: AppError) -> anyhow::Result<ExitCode> {
    match e {
        AppError::NotRecorded { negotiation } => {
            eprintln!(
                "error: negotiation {negotiation} has no recorded events in {}",
                backend.describe()
            );
            Ok(ExitCode::from(1))
        }
        AppError::NotYetOpened { .. } => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
        other => Err(other.into()),
    }
}

/// `roundtable diff ID --from N --to M`.
pub(crate) async fn diff(
    backend: &Backend,
    id: &NegotiationId,
    from: u64,
    to: Option<u64>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let changes = match roundtable_app::history::diff(&**backend.store(), id, from, to).await {
        Ok(c) => c,
        Err(AppError::InvalidRequest(why)) => anyhow::bail!("{why} (--from, --to)"),
        Err(e) => return not_found(backend, e),
    };
    let text = if json {
        serde_json::to_string_pretty(&changes.diff)? + "\n"
    } else {
        format!(
            "changes in {id} from version {} to version {}\n{}",
            changes.from,
            changes.to,
            changes.diff.to_text()
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
    let views = backend.views().await?;
    // The latest checkpoint the server signed, when there is one: `verify FILE
    // --log-key KEY` then checks the events against it.
    let checkpoints = roundtable_app::checkpoints::CheckpointStore::open(&*backend.ports().kv)
        .await?
        .latest(id)
        .await?
        .map(|c| vec![c.note])
        .unwrap_or_default();
    let export = match roundtable_app::audit::export_carrying(
        &**backend.store(),
        &*views,
        id,
        roundtable_audit::export::TOOL,
        CATCH_UP,
        &checkpoints,
    )
    .await
    {
        Ok(export) => export,
        Err(e @ AppError::NotRecorded { .. }) => return not_found(backend, e),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot export {id}"))),
    };
    let what = match checkpoints.len() {
        0 => format!("{} events of {id}", export.events),
        _ => format!(
            "{} events of {id}, with the latest signed checkpoint",
            export.events
        ),
    };
    write_to(output, &export.bytes, &what)
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
    let views = backend.views().await?;
    match roundtable_app::audit::verify_live(&**backend.store(), &*views, id, CATCH_UP).await {
        Ok(report) => print_report(&report, json),
        Err(e) => not_found(backend, e),
    }
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
    let views = backend.views().await?;
    let html = match roundtable_app::audit::report(&**backend.store(), &*views, id, CATCH_UP).await
    {
        Ok(html) => html,
        Err(e) => return not_found(backend, e),
    };
    write_to(
        output,
        html.as_bytes(),
        &format!("the audit report of {id}"),
    )
}

/// `roundtable import-export FILE`: a verified export into a store that does not hold
/// its negotiation yet; a tampered export is refused.
pub(crate) async fn import_export(
    backend: &Backend,
    file: &Path,
    anchor: Option<&roundtable_audit::Anchor>,
) -> anyhow::Result<ExitCode> {
    let bytes =
        std::fs::read(file).with_context(|| format!("cannot read export {}", file.display()))?;
    if let Some(anchor) = anchor {
        let report = roundtable_audit::verify_anchored(&bytes, anchor);
        if !report.ok {
            eprint!("{report}");
            eprintln!(
                "error: {} is refused: it does not extend the checkpoints signed by the log key",
                file.display()
            );
            return Ok(ExitCode::from(1));
        }
    }
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
    let view = match roundtable_app::history::view_as_of(&**backend.store(), id, AsOf::Now).await {
        Ok(point) => point.view,
        Err(e) => return not_found(backend, e),
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
