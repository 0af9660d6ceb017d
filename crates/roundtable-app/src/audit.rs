//! The auditor's use cases over the live stores: the export, the live verification and
//! the audit report (docs/AUDIT.md). Each folds the whole event log and checks the view
//! the projection stores against it, read so that the two belong together.

use std::time::Duration;

use roundtable_audit::VerifyReport;
use roundtable_audit::export::ExportError;
use roundtable_domain::{AgreementView, NegotiationId, Projection, RecordedEvent};
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

/// Events read at a time by [`export_stream`] (an event is at most about 170 KB, so a
/// page holds at most about 11 MB).
pub const EXPORT_PAGE: usize = 64;

/// An export to be written a page of events at a time ([`export_stream`]): the
/// manifest line, already checked, and what is needed to read the event lines.
pub struct ExportStream {
    /// The manifest line (canonical JSON and `\n`).
    pub manifest: Vec<u8>,
    /// How many event lines follow.
    pub events: u64,
    /// The hash of the last of them, as the manifest says.
    pub last_hash: String,
    negotiation: NegotiationId,
    log: std::sync::Arc<dyn EventStore>,
}

impl std::fmt::Debug for ExportStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportStream")
            .field("negotiation", &self.negotiation)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl ExportStream {
    /// The export's lines after the manifest, [`EXPORT_PAGE`] events a chunk, read
    /// as they are sent. A chunk that is not the continuation the manifest promises
    /// (it cannot happen on an intact store: events never change) is an error, which
    /// ends the stream: the file written is then incomplete, and fails verification.
    pub fn event_lines(
        self,
    ) -> impl futures::Stream<Item = Result<Vec<u8>, AppError>> + Send + 'static {
        let state = (self, Projection::new());
        futures::stream::unfold(Some(state), |state| async move {
            let (stream, mut chain) = state?;
            if chain.version >= stream.events {
                if chain.last_hash != stream.last_hash {
                    return Some((Err(stream.changed("its last hash")), None));
                }
                return None;
            }
            let want = usize::try_from(stream.events - chain.version)
                .unwrap_or(usize::MAX)
                .min(EXPORT_PAGE);
            let page = match stream
                .log
                .read(&stream.negotiation, chain.version, Some(want))
                .await
            {
                Ok(page) => page,
                Err(e) => return Some((Err(AppError::events(e)), None)),
            };
            if page.is_empty() {
                return Some((Err(stream.changed("its length")), None));
            }
            let mut out = Vec::new();
            for e in &page {
                if chain.apply_link(e).is_err() {
                    return Some((Err(stream.changed("its chain")), None));
                }
                out.extend_from_slice(&e.to_bytes());
                out.push(b'\n');
            }
            Some((Ok(out), Some((stream, chain))))
        })
    }

    fn changed(&self, what: &str) -> AppError {
        AppError::Corrupt {
            negotiation: self.negotiation.clone(),
            reason: format!("the event log changed {what} while it was exported"),
        }
    }
}

/// Only the version and hash chain of a projection, for re-reading events already
/// folded once.
trait Link {
    fn apply_link(&mut self, e: &RecordedEvent) -> Result<(), ()>;
}

impl Link for Projection {
    fn apply_link(&mut self, e: &RecordedEvent) -> Result<(), ()> {
        if e.version != self.version + 1 || e.prev_hash != self.last_hash {
            return Err(());
        }
        self.version = e.version;
        self.last_hash = e.hash.clone();
        Ok(())
    }
}

/// [`export`], holding at most one page of events at a time: the log is folded a
/// page at a time to check it and the projected view (as [`events_and_view`] does,
/// waiting up to `catch_up` for the projection), the manifest is made, and the event
/// lines are read again as they are written ([`ExportStream::event_lines`]). Memory:
/// the folded view, the stored view and one page, whatever the length of the log. The
/// manifest carries `checkpoints` (signed notes of this log, as [`export_carrying`]).
///
/// # Errors
/// As [`export`].
pub async fn export_stream(
    log: std::sync::Arc<dyn EventStore>,
    views: &dyn ViewStore,
    negotiation: &NegotiationId,
    tool: &str,
    catch_up: Duration,
    checkpoints: &[String],
) -> Result<ExportStream, AppError> {
    let deadline = Instant::now() + catch_up;
    let mut pause = Duration::from_millis(10);
    let mut folded = Projection::new();
    let mut first_hash: Option<String> = None;
    let corrupt = |reason: String| AppError::Corrupt {
        negotiation: negotiation.clone(),
        reason,
    };
    loop {
        // Fold what was recorded since the last look.
        loop {
            let page = log
                .read(negotiation, folded.version, Some(EXPORT_PAGE))
                .await
                .map_err(AppError::events)?;
            for e in &page {
                folded.apply(e).map_err(|e| corrupt(e.to_string()))?;
                first_hash.get_or_insert_with(|| e.hash.clone());
            }
            if page.len() < EXPORT_PAGE {
                break;
            }
        }
        if folded.version == 0 {
            return Err(AppError::NotRecorded {
                negotiation: negotiation.clone(),
            });
        }
        let stored = views
            .get(negotiation)
            .await
            .map_err(AppError::views)?
            .map(|stored| stored.view);
        let settled = match &stored {
            None => true,
            Some(v) => v.version == folded.version || Instant::now() >= deadline,
        };
        if settled {
            let Some(view) = folded.view.as_ref() else {
                return Err(AppError::NotRecorded {
                    negotiation: negotiation.clone(),
                });
            };
            if let Some(stored) = &stored {
                if stored != view {
                    let at = roundtable_audit::export::first_difference(
                        &roundtable_audit::export::view_json(view),
                        &roundtable_audit::export::view_json(stored),
                    )
                    .unwrap_or_else(|| "(an in-memory index)".into());
                    return Err(AppError::ViewMismatch {
                        negotiation: negotiation.clone(),
                        at,
                    });
                }
            }
            let manifest = roundtable_audit::export::Manifest::new(
                negotiation.as_str(),
                folded.version,
                first_hash.as_deref().unwrap_or_default(),
                &folded.last_hash,
                view,
                tool,
            );
            return Ok(ExportStream {
                manifest: roundtable_audit::export::manifest_line(&manifest, checkpoints),
                events: folded.version,
                last_hash: folded.last_hash.clone(),
                negotiation: negotiation.clone(),
                log,
            });
        }
        // The stored view is behind (wait for the projector) or ahead (more events
        // were recorded: the next round folds them).
        let now = Instant::now();
        tokio::time::sleep(pause.min(deadline.saturating_duration_since(now))).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}
