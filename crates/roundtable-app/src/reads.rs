//! The projected agreement view (the read model), and the wait for it to include a
//! version a command just answered with.

use std::time::Duration;

use roundtable_domain::{AgreementView, NegotiationId};
use roundtable_projector::{ParkedEntry, ViewStore};
use roundtable_store::EventStore;
use tokio::time::Instant;

use crate::AppError;

/// The projected view of one negotiation, as a reader gets it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectedView {
    /// The view.
    pub view: AgreementView,
    /// `true` when the view has not reached the version waited for.
    pub behind: bool,
    /// The entry the projector parked for this negotiation, if any: the view stops
    /// before it and may lack events (docs/PROJECTOR.md, "Parked entries").
    pub stale: Option<ParkedEntry>,
}

/// The projected view of `negotiation`, waiting up to `wait` until it includes version
/// `min_version` (0: no wait). The wait is only for versions the event log already
/// holds, since the projection cannot get ahead of it; the log is asked once, and only
/// if the view is behind. When the wait ends first, the view is served as it is, with
/// [`ProjectedView::behind`] set.
///
/// # Errors
/// [`AppError::NoView`] when the projection holds no view of it; [`AppError::Store`]
/// when a store fails.
pub async fn view_at_least(
    log: &dyn EventStore,
    views: &dyn ViewStore,
    negotiation: &NegotiationId,
    min_version: u64,
    wait: Duration,
) -> Result<ProjectedView, AppError> {
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(10);
    let mut target = min_version;
    let mut log_checked = false;
    let stored = loop {
        let stored = views.get(negotiation).await.map_err(AppError::views)?;
        let have = stored.as_ref().map(|s| s.view.version);
        if have.is_some_and(|v| v >= target) || Instant::now() >= deadline {
            break stored;
        }
        if !log_checked {
            log_checked = true;
            let last = log
                .last_version(negotiation)
                .await
                .map_err(AppError::events)?;
            target = target.min(last);
            if last == 0 || have.is_some_and(|v| v >= target) {
                break stored;
            }
        }
        let now = Instant::now();
        tokio::time::sleep(pause.min(deadline.saturating_duration_since(now))).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    };
    let Some(stored) = stored else {
        return Err(AppError::NoView {
            negotiation: negotiation.clone(),
        });
    };
    let stale = views.stale(negotiation).await.map_err(AppError::views)?;
    Ok(ProjectedView {
        behind: stored.view.version < min_version,
        view: stored.view,
        stale,
    })
}
