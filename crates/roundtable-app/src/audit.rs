//! The auditor's use cases over the live stores: the export, the live verification and
//! the audit report (docs/AUDIT.md). Each folds the whole event log and checks the view
//! the projection stores against it, read so that the two belong together.

use std::time::Duration;

use roundtable_audit::VerifyReport;
use roundtable_audit::export::ExportError;
use roundtable_domain::{AgreementView, NegotiationId, RecordedEvent};
use roundtable_projector::ViewStore;
use roundtable_store::EventStore;
use tokio::time::Instant;

use crate::AppError;
use crate::history::{events, fold_to};

/// How long the export, verification and report wait by default for the projection to
/// reach the event log before comparing them: a projector a moment behind a command
/// just recorded is not a mismatch. A front end with no projector running beside it
/// (the command line on a store nobody serves) passes [`Duration::ZERO`].
pub const CATCH_UP: Duration = Duration::from_millis(2_000);

/// Every event of `negotiation`, and the view the projection stores, read so that they
/// belong together: when the stored view is behind the events, it is read again (for
/// up to `catch_up`) until it catches up; when it is ahead, the events are read again.
/// A view still behind after that is returned as it is, for the checks to report. No
/// stored view at all is `None` (the view is then not checked).
///
/// # Errors
/// [`AppError::NotRecorded`] when it has no event; [`AppError::Store`] when a store
/// fails.
pub async fn events_and_view(
    log: &dyn EventStore,
    views: &dyn ViewStore,
    negotiation: &NegotiationId,
    catch_up: Duration,
) -> Result<(Vec<RecordedEvent>, Option<AgreementView>), AppError> {
    let deadline = Instant::now() + catch_up;
    let mut pause = Duration::from_millis(10);
    let mut events = events(log, negotiation, None).await?;
    loop {
        let view = views
            .get(negotiation)
            .await
            .map_err(AppError::views)?
            .map(|stored| stored.view);
        let recorded = events.len() as u64;
        let projected = match &view {
            None => return Ok((events, None)),
            Some(v) => v.version,
        };
        if projected == recorded || Instant::now() >= deadline {
            return Ok((events, view));
        }
        if projected > recorded {
            // Events were recorded after they were read.
            events = self::events(log, negotiation, None).await?;
            if events.len() as u64 == projected {
                return Ok((events, view));
            }
        }
        let now = Instant::now();
        tokio::time::sleep(pause.min(deadline.saturating_duration_since(now))).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// An export ready to write (docs/AUDIT.md, "The export format").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// The export: the manifest line, then every event as stored, one per line.
    pub bytes: Vec<u8>,
    /// How many events it holds.
    pub events: usize,
}

/// The export of `negotiation`, naming `tool` in its manifest. It refuses to write an
/// export that would not verify.
///
/// # Errors
/// [`AppError::ViewMismatch`] when the projected view differs from a fresh fold of the
/// events; [`AppError::NotRecorded`], [`AppError::Corrupt`] and [`AppError::Store`]
/// otherwise.
pub async fn export(
    log: &dyn EventStore,
    views: &dyn ViewStore,
    negotiation: &NegotiationId,
    tool: &str,
    catch_up: Duration,
) -> Result<Export, AppError> {
    export_carrying(log, views, negotiation, tool, catch_up, &[]).await
}

/// [`export`], its manifest carrying the signed checkpoints `checkpoints` (notes of
/// this negotiation's log, such as the latest the server keeps:
/// [`crate::checkpoints::CheckpointStore::latest`]), so that `roundtable verify FILE
/// --log-key KEY` checks the events against them.
///
/// # Errors
/// As [`export`].
pub async fn export_carrying(
    log: &dyn EventStore,
    views: &dyn ViewStore,
    negotiation: &NegotiationId,
    tool: &str,
    catch_up: Duration,
    checkpoints: &[String],
) -> Result<Export, AppError> {
    let (events, projected) = events_and_view(log, views, negotiation, catch_up).await?;
    let bytes = roundtable_audit::export::export_with_checkpoints(
        &events,
        projected.as_ref(),
        tool,
        checkpoints,
    )
    .map_err(|e| match e {
        ExportError::Empty => AppError::NotRecorded {
            negotiation: negotiation.clone(),
        },
        ExportError::ViewMismatch { at } => AppError::ViewMismatch {
            negotiation: negotiation.clone(),
            at,
        },
        ExportError::Chain(e) => AppError::Corrupt {
            negotiation: negotiation.clone(),
            reason: e.to_string(),
        },
    })?;
    Ok(Export {
        bytes,
        events: events.len(),
    })
}

/// Verifies the live record of `negotiation`: hashes, chain, rules and signatures of
/// the stored events, then the projected view against a fresh fold. A failed check is
/// a report with `ok: false`, not an error.
///
/// # Errors
/// [`AppError::NotRecorded`] and [`AppError::Store`].
pub async fn verify_live(
    log: &dyn EventStore,
    views: &dyn ViewStore,
    negotiation: &NegotiationId,
    catch_up: Duration,
) -> Result<VerifyReport, AppError> {
    let (events, projected) = events_and_view(log, views, negotiation, catch_up).await?;
    Ok(roundtable_audit::verify_live(&events, projected.as_ref()))
}

/// The audit report of `negotiation`: one self-contained HTML page holding the live
/// verification's result, the agreement, the timeline and the event log.
///
/// # Errors
/// [`AppError::NotRecorded`], [`AppError::Corrupt`] and [`AppError::Store`].
pub async fn report(
    log: &dyn EventStore,
    views: &dyn ViewStore,
    negotiation: &NegotiationId,
    catch_up: Duration,
) -> Result<String, AppError> {
    let (events, projected) = events_and_view(log, views, negotiation, catch_up).await?;
    let integrity = roundtable_audit::verify_live(&events, projected.as_ref());
    let last = events.len() as u64;
    let Some(view) = fold_to(&events, last, negotiation)? else {
        return Err(AppError::NotRecorded {
            negotiation: negotiation.clone(),
        });
    };
    Ok(roundtable_audit::report_html(&events, &view, &integrity))
}
