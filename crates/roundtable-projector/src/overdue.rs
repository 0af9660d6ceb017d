//! [`OverdueTimer`]: announces, once, the first day each commitment is overdue
//! (DOMAIN.md, "Overdue"), on the change stream, and so on webhooks and Server-Sent
//! Events.
//!
//! Overdue is not an event and is never stored in a view: the timer computes it from
//! the stored views against the day its clock gives
//! ([`roundtable_domain::overdue_commitments`], the same computation as `view --today`),
//! and keeps only the fact that it announced, over the key-value port, in the bucket
//! [`roundtable_store::overdue::OVERDUE_BUCKET`]. The key is
//! `<negotiation_id>.<commitment_id>.<due>`, created only if absent: the timer
//! announces only after its create succeeded, so a restarted timer, or two timers at
//! once (one beside each projector), announce each commitment's due date once. A
//! commitment whose due date changes (a transfer keeps it; a new commitment has its
//! own id) would be a new key.
//!
//! The schedule is the timer's own ([`OverdueTimer::run_until`] ticks every
//! [`OverdueTimer::with_interval`], one minute by default) on both stores, rather
//! than NATS 2.12's scheduled messages: the announcement depends on the view on the
//! day (a commitment fulfilled before its due date is never announced), which a
//! message scheduled at `commit` time could not know, and the embedded store has no
//! scheduler (docs/DECISIONS.md, "The overdue timer").

use std::sync::Arc;
use std::time::Duration;

use crate::ViewStore;
use chrono::{NaiveDate, Utc};
use roundtable_domain::view::NegotiationStatus;
use roundtable_domain::{NegotiationId, overdue_commitments};
use roundtable_store::{Change, ChangeSink, KvBuckets, KvStore, StoreError, overdue};
use tokio::sync::watch;

/// A clock giving today's date (UTC unless the caller's clock says otherwise).
pub type Clock = Arc<dyn Fn() -> NaiveDate + Send + Sync>;

/// How often [`OverdueTimer::run_until`] looks, by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// The overdue timer: over the stored views, the announcements bucket and the change
/// sink. Cheap to clone.
#[derive(Clone)]
pub struct OverdueTimer {
    views: Arc<dyn ViewStore>,
    marks: Arc<dyn KvStore>,
    sink: Arc<dyn ChangeSink>,
    clock: Clock,
    interval: Duration,
}

impl std::fmt::Debug for OverdueTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OverdueTimer")
            .field("marks", &self.marks.bucket())
            .field("today", &(self.clock)())
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl OverdueTimer {
    /// A timer over `views`, keeping its announcements in `marks` (the bucket
    /// [`overdue::OVERDUE_BUCKET`]) and publishing them on `sink`, with today in UTC
    /// as its clock.
    pub fn new(
        views: Arc<dyn ViewStore>,
        marks: Arc<dyn KvStore>,
        sink: Arc<dyn ChangeSink>,
    ) -> OverdueTimer {
        OverdueTimer {
            views,
            marks,
            sink,
            clock: Arc::new(|| Utc::now().date_naive()),
            interval: DEFAULT_INTERVAL,
        }
    }

    /// A timer as [`OverdueTimer::new`], opening the announcements bucket of `buckets`.
    ///
    /// # Errors
    /// The bucket's errors.
    pub async fn open(
        buckets: &dyn KvBuckets,
        views: Arc<dyn ViewStore>,
        sink: Arc<dyn ChangeSink>,
    ) -> Result<OverdueTimer, StoreError> {
        let marks = buckets
            .open(
                overdue::OVERDUE_BUCKET,
                "Roundtable: overdue commitments announced",
            )
            .await?;
        Ok(OverdueTimer::new(views, marks, sink))
    }

    /// The same timer with another clock (tests fix "today").
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> OverdueTimer {
        self.clock = clock;
        self
    }

    /// The same timer looking every `interval` in [`OverdueTimer::run_until`].
    #[must_use]
    pub fn with_interval(mut self, interval: Duration) -> OverdueTimer {
        self.interval = interval;
        self
    }

    /// The announcements bucket.
    pub fn marks(&self) -> &Arc<dyn KvStore> {
        &self.marks
    }

    /// Looks once: for every stored view not `terminated`, every commitment overdue
    /// today ([`overdue_commitments`]) that was not announced yet is claimed in the
    /// bucket and then published on the sink. Returns what this call announced, in
    /// order (by negotiation, then as the commitments were made).
    ///
    /// A terminated partnership is left out: it has ended, and nobody can fulfil.
    ///
    /// # Errors
    /// The view store's, the bucket's and the sink's errors; what was announced before
    /// the error stays announced (and is not announced again). A publish that failed
    /// after its claim is not tried again: the announcement is kept in the bucket,
    /// where Server-Sent Events and the embedded store's webhooks read it, but a NATS
    /// subscriber of `roundtable.changes.>` does not get it.
    pub async fn tick(&self) -> Result<Vec<Change>, StoreError> {
        let today = (self.clock)();
        let mut announced = Vec::new();
        for negotiation in self.views.list().await? {
            announced.extend(self.tick_one(&negotiation, today).await?);
        }
        Ok(announced)
    }

    async fn tick_one(
        &self,
        negotiation: &NegotiationId,
        today: NaiveDate,
    ) -> Result<Vec<Change>, StoreError> {
        let Some(stored) = self.views.get(negotiation).await? else {
            return Ok(Vec::new());
        };
        let view = &stored.view;
        if view.status == NegotiationStatus::Terminated {
            return Ok(Vec::new());
        }
        let mut announced = Vec::new();
        for commitment in overdue_commitments(view, today) {
            let Some(change) = Change::overdue(view, commitment) else {
                continue;
            };
            if overdue::claim(&*self.marks, &change).await? {
                tracing::info!(negotiation_id = %negotiation, commitment_id = %commitment.commitment_id, "commitment overdue: announcing");
                self.sink.publish(&change).await?;
                announced.push(change);
            }
        }
        Ok(announced)
    }

    /// Looks now and then every interval until `shutdown` turns `true`. An error is
    /// logged and the timer looks again at the next interval.
    pub async fn run_until(&self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "the overdue timer could not look; it tries again");
            }
            tokio::select! {
                () = tokio::time::sleep(self.interval) => {}
                _ = shutdown.wait_for(|closing| *closing) => return,
            }
        }
    }
}
