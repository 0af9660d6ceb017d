//! Watching the event log while a service runs: when it disappears (the stream
//! deleted, the server restarted on an empty store), every stored view is marked
//! stale at once, so that no reader takes a view of a lost history for the current
//! one; commands meanwhile are answered "the event stream is missing" by the store.

use std::sync::Arc;
use std::time::Duration;

use roundtable_app::identity::mark_views_stale;
use roundtable_projector::ViewStore;
use roundtable_store::Connection;

/// How often the log is looked for.
pub(crate) const EVERY: Duration = Duration::from_secs(2);

/// Why the views are marked stale, as the parked entries say.
pub(crate) const REASON: &str = "the event stream is missing: this view was projected from a log that is gone, and may describe a lost history; restore the log and rebuild the views (roundtable project --rebuild)";

/// Looks for the log every [`EVERY`] until `stop` completes; marks the views stale
/// once each time the log is found missing (twice in a row), and says so in the logs.
pub(crate) async fn watch(
    connection: Arc<dyn Connection>,
    views: Arc<dyn ViewStore>,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut stop = std::pin::pin!(stop);
    let mut missing = false;
    // Looks that found no log in a row: two are needed, so that a server answering
    // oddly for a moment (a cluster electing its leaders) marks nothing.
    let mut absent = 0;
    loop {
        tokio::select! {
            () = stop.as_mut() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
        let exists = connection.log_exists().await;
        absent = if matches!(exists, Ok(false)) {
            absent + 1
        } else {
            0
        };
        match exists {
            Ok(false) if !missing && absent < 2 => {}
            Ok(false) if !missing => match mark_views_stale(&*views, REASON).await {
                Ok(marked) => {
                    missing = true;
                    tracing::error!(
                        store = %connection.describe(),
                        views = marked.len(),
                        "the event stream is missing: every stored view is marked stale and commands are refused; restore it (docs/OPERATIONS.md, \"When the event log is lost\")"
                    );
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the event stream is missing, and the views cannot be marked stale yet")
                }
            },
            Ok(true) if missing => {
                missing = false;
                tracing::warn!(
                    "the event stream is back; the views stay marked stale until `roundtable project --rebuild`"
                );
            }
            _ => {}
        }
    }
}
