//! [`Projector`]: the loop that takes batches from the feed, updates the views, and
//! acknowledges.

use std::collections::HashMap;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::{ParkedEntry, ViewStore};
use chrono::Utc;
use roundtable_domain::NegotiationId;
use roundtable_metrics::projector::{self as metrics, ParkReason};
use roundtable_store::{ChangeSink, EventFeed, EventStore, FeedItem, StoreError};
use tokio::sync::watch;

use crate::batch::Batch;
use crate::cache::ViewCache;
use crate::config::ProjectorConfig;
use crate::stats::ProjectorStats;

/// How long [`Projector::catch_up`] waits for more entries before it asks whether the
/// lag is 0.
const CATCH_UP_WAIT: Duration = Duration::from_millis(200);

/// The first pause after a store failed; it doubles up to
/// [`ProjectorConfig::max_backoff`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Keeps the agreement view of every negotiation up to date from the event feed.
///
/// Each batch taken from the [`EventFeed`] is grouped by negotiation; each group is
/// applied to its stored view ([`ViewStore`]) with one optimistic update, skipping
/// the events the view already holds and filling gaps from the [`EventStore`]; one
/// [`Change`](roundtable_store::Change) per applied event goes to the [`ChangeSink`]
/// after the update is stored (when that fails, they are published again before
/// anything else, and the batch is not acknowledged until they are); the batch is
/// acknowledged once every entry in it is handled. An entry that cannot be decoded or
/// applied is parked (logged at error level and counted) and acknowledged: it never
/// stops the projector.
///
/// Because an event is applied only on top of the version before it, and a view is
/// stored only if nobody stored another revision since it was read, a redelivered
/// entry is never applied twice, and several projectors (processes) may share one
/// feed name: whichever stores first wins, the others re-read and skip.
pub struct Projector {
    pub(crate) events: Arc<dyn EventStore>,
    pub(crate) views: Arc<dyn ViewStore>,
    feed: Box<dyn EventFeed>,
    pub(crate) changes: Arc<dyn ChangeSink>,
    pub(crate) config: ProjectorConfig,
    pub(crate) cache: ViewCache,
    pub(crate) stats: ProjectorStats,
    status: watch::Sender<ProjectorStats>,
    /// The batch taken and not yet acknowledged, kept across failures: a feed does not
    /// give an entry twice to the same consumer until it is acknowledged or times out.
    in_flight: Option<Batch>,
    /// Changes of a stored view whose publication failed: published before anything
    /// else, so that the change stream misses none while this process lives.
    pub(crate) unannounced: Vec<roundtable_store::Change>,
    /// Changes of the batch in flight sent to the sink and not yet confirmed stored
    /// ([`ChangeSink::confirm`]): sent again if the confirmation fails.
    pub(crate) unconfirmed: Vec<roundtable_store::Change>,
    /// How many entries the next batch asks for (grows while behind).
    next_batch: usize,
    /// Entries parked in the batch in flight and not yet kept by the view store: kept
    /// before the batch is acknowledged, so that none is acknowledged unrecorded.
    unrecorded: Vec<ParkedEntry>,
    /// While rebuilding: per negotiation, the version of the last change the sink
    /// already holds, so that a rebuild announces nothing twice.
    pub(crate) announced: Option<HashMap<NegotiationId, u64>>,
    last_progress_log: Instant,
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projector")
            .field("config", &self.config)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Projector {
    /// A projector reading `feed`, reading gaps from `events`, storing into `views`
    /// and announcing to `changes`, with [`ProjectorConfig::default`].
    pub fn new(
        events: Arc<dyn EventStore>,
        views: Arc<dyn ViewStore>,
        feed: Box<dyn EventFeed>,
        changes: Arc<dyn ChangeSink>,
    ) -> Projector {
        let config = ProjectorConfig::default();
        let (status, _) = watch::channel(ProjectorStats::default());
        Projector {
            events,
            views,
            feed,
            changes,
            cache: ViewCache::new(config.cache_capacity),
            config,
            stats: ProjectorStats::default(),
            status,
            in_flight: None,
            unrecorded: Vec::new(),
            unannounced: Vec::new(),
            unconfirmed: Vec::new(),
            next_batch: 0,
            announced: None,
            last_progress_log: Instant::now(),
        }
    }

    /// The same projector with other settings.
    #[must_use]
    pub fn with_config(mut self, config: ProjectorConfig) -> Projector {
        self.cache = ViewCache::new(config.cache_capacity);
        self.config = config;
        self
    }

    /// The settings it runs with.
    pub fn config(&self) -> &ProjectorConfig {
        &self.config
    }

    /// What it has done since it was made, and the lag as last measured.
    pub fn stats(&self) -> ProjectorStats {
        self.stats
    }

    /// A receiver of [`Projector::stats`], updated after every batch and lag
    /// measurement: for a status endpoint or a progress display while
    /// [`Projector::run_until`] runs.
    pub fn watch(&self) -> watch::Receiver<ProjectorStats> {
        self.status.subscribe()
    }

    /// Measures the lag now (entries recorded and not yet acknowledged by this
    /// feed's consumer name) and records it in the stats.
    ///
    /// # Errors
    /// The feed's [`StoreError`].
    pub async fn lag(&mut self) -> Result<u64, StoreError> {
        let lag = self.feed.lag().await?;
        metrics::lag(lag);
        self.stats.lag = Some(lag);
        self.status.send_replace(self.stats);
        Ok(lag)
    }

    /// Handles one batch: the one in flight if an earlier attempt failed, else the
    /// next one from the feed (waiting up to [`ProjectorConfig::poll_wait`] for it).
    /// Returns how many entries it held (0: the feed had nothing new).
    ///
    /// # Errors
    /// A store error that may go away (the backend is unreachable, or other
    /// projectors kept winning every update of a view): the batch stays in flight and
    /// the next call tries it again, from the first negotiation not yet stored.
    pub async fn step(&mut self) -> Result<usize, StoreError> {
        self.step_waiting(self.config.poll_wait).await
    }

    async fn step_waiting(&mut self, wait: Duration) -> Result<usize, StoreError> {
        if !self.unannounced.is_empty() {
            self.changes.publish_all(&self.unannounced).await?;
            self.unannounced.clear();
        }
        let mut batch = match self.in_flight.take() {
            Some(batch) => batch,
            None => {
                let want = self.next_batch.max(self.config.batch_size);
                let items = self.feed.next(want, wait).await?;
                // Behind (a full batch came): take larger batches, up to
                // `rebuild_batch_size`, so that each view is stored less often while
                // catching up; back to `batch_size` once caught up.
                self.next_batch = if items.len() >= want {
                    (want * 4).min(self.config.rebuild_batch_size.max(self.config.batch_size))
                } else {
                    self.config.batch_size
                };
                if items.is_empty() {
                    return Ok(0);
                }
                Batch::of(items, |item| self.park_item(item))
            }
        };
        while let Some(group) = batch.groups.get(batch.done) {
            let mut mark = self.stats;
            let updated = self.update(group).await;
            self.record_metrics(&mut mark);
            if let Err(e) = updated {
                self.in_flight = Some(batch);
                return Err(e);
            }
            batch.done += 1;
        }
        if let Err(e) = self.keep_parked().await {
            self.in_flight = Some(batch);
            return Err(e);
        }
        // Every change of the batch is stored before the batch is acknowledged.
        if let Err(e) = self.changes.confirm().await {
            tracing::warn!(error = %e, "change notifications not confirmed; sending them again");
            self.unannounced = std::mem::take(&mut self.unconfirmed);
            self.in_flight = Some(batch);
            return Err(e);
        }
        self.unconfirmed.clear();
        if let Err(e) = self.feed.ack(batch.last_position).await {
            self.in_flight = Some(batch);
            return Err(e);
        }
        self.stats.last_position = Some(batch.last_position);
        self.status.send_replace(self.stats);
        tracing::debug!(
            entries = batch.size,
            negotiations = batch.groups.len(),
            position = batch.last_position,
            "batch projected"
        );
        Ok(batch.size)
    }

    /// Runs until `shutdown` completes: takes batches as they come, measures the lag
    /// whenever it has caught up, and logs progress. Once `shutdown` completes it
    /// takes no new batch; the batch in flight is finished and acknowledged first.
    /// When a store fails it logs a warning and tries again, pausing longer each time
    /// (up to [`ProjectorConfig::max_backoff`]); a shutdown during a pause stops it
    /// with the batch unfinished, which the feed delivers again later.
    ///
    /// Returns the stats since the projector was made.
    ///
    /// # Errors
    /// [`StoreError::Incompatible`]: a store that cannot be used (trying again will not
    /// help).
    #[tracing::instrument(skip_all)]
    pub async fn run_until(
        &mut self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<ProjectorStats, StoreError> {
        let mut shutdown = pin!(shutdown);
        let mut backoff = FIRST_BACKOFF;
        tracing::info!("projector running");
        loop {
            if self.in_flight.is_none() && is_ready(shutdown.as_mut()).await {
                break;
            }
            match self.step().await {
                Ok(n) => {
                    backoff = FIRST_BACKOFF;
                    if n < self.config.batch_size {
                        if let Err(e) = self.lag().await {
                            tracing::warn!(error = %e, "cannot measure the lag");
                        }
                    }
                    self.log_progress(n);
                }
                Err(e @ StoreError::Incompatible(_)) => return Err(e),
                Err(e) => {
                    metrics::batch_failed();
                    tracing::warn!(error = %e, retry_in = ?backoff, "a store failed; trying again");
                    tokio::select! {
                        () = shutdown.as_mut() => {
                            if self.in_flight.is_some() {
                                tracing::warn!("stopping with a batch unfinished; it will be delivered again");
                            }
                            break;
                        }
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.config.max_backoff);
                }
            }
        }
        tracing::info!(
            applied = self.stats.applied,
            skipped = self.stats.skipped,
            parked = self.stats.parked,
            "projector stopped"
        );
        Ok(self.stats)
    }

    /// Works until the feed has nothing more and the lag is 0 (every recorded entry
    /// acknowledged by this consumer name, also by other processes sharing it), then
    /// returns the stats of this call: what it applied, skipped and parked, and where
    /// it stopped.
    ///
    /// # Errors
    /// The first store error, with the batch left in flight (a later call goes on
    /// with it).
    #[tracing::instrument(skip_all)]
    pub async fn catch_up(&mut self) -> Result<ProjectorStats, StoreError> {
        let start = self.stats;
        loop {
            let n = self
                .step_waiting(self.config.poll_wait.min(CATCH_UP_WAIT))
                .await?;
            self.log_progress(n);
            if n == 0 && self.lag().await? == 0 {
                return Ok(self.stats.since(&start));
            }
        }
    }

    /// Drops every stored view, resets the feed's checkpoint to the start of the log,
    /// and catches up: the views are rebuilt from the events alone, identical to the
    /// views of a projector that never stopped. Returns the stats of the rebuild.
    ///
    /// Changes are announced only where the change sink does not hold them already
    /// ([`ChangeSink::last_announced`]): a rebuild does not tell integrations again
    /// what they were told when the events were first projected.
    ///
    /// Other projectors sharing the consumer name may keep running: one that gets an
    /// entry of a dropped view finds no view and rebuilds it from the log, and one
    /// holding a dropped view in memory finds it gone when it stores.
    ///
    /// # Errors
    /// The first store error.
    #[tracing::instrument(skip_all)]
    pub async fn rebuild(&mut self) -> Result<ProjectorStats, StoreError> {
        tracing::info!("rebuilding every view from the log");
        let start = self.stats;
        self.in_flight = None;
        self.cache.clear();
        self.unrecorded.clear();
        self.views.clear().await?;
        self.feed.reset().await?;
        self.announced = Some(HashMap::new());
        let caught_up = self.catch_up().await;
        self.announced = None;
        caught_up?;
        let stats = self.stats.since(&start);
        tracing::info!(
            applied = stats.applied,
            parked = stats.parked,
            "views rebuilt"
        );
        Ok(stats)
    }

    /// Parks an entry that could not be decoded.
    fn park_item(&mut self, item: FeedItem) {
        if let Err(reason) = &item.event {
            self.park(
                item.position,
                item.negotiation.as_ref(),
                None,
                ParkReason::Undecodable,
                reason,
            );
        }
    }

    /// Sets an entry aside: it is logged at error level with its negotiation, position
    /// and reason, counted in [`ProjectorStats::parked`] and in the metrics, kept by the
    /// view store ([`ViewStore::park`], which marks the negotiation's view as stale)
    /// before its batch is acknowledged, and acknowledged with its batch, so that it
    /// never stops the projector.
    ///
    /// It is parked at its first delivery: what makes an entry unprojectable (bytes
    /// that are not an event, a wrong hash, a schema this build does not know, an
    /// event that does not link) is the same at every delivery, so delivering it again
    /// would only hold up the negotiations behind it. Failures that may go away (a store
    /// unreachable or timing out, conflicts) are never parked: the batch is tried again.
    pub(crate) fn park(
        &mut self,
        position: u64,
        negotiation: Option<&NegotiationId>,
        version: Option<u64>,
        kind: ParkReason,
        reason: &StoreError,
    ) {
        self.stats.parked += 1;
        metrics::parked(kind);
        tracing::error!(
            negotiation_id = negotiation.map(NegotiationId::as_str),
            position,
            version,
            reason = kind.as_str(),
            error = %reason,
            "entry parked: it cannot be projected; the negotiation's view is marked stale"
        );
        self.unrecorded.push(ParkedEntry {
            position,
            negotiation_id: negotiation.cloned(),
            version,
            reason: reason.to_string(),
            parked_at: Utc::now(),
        });
    }

    /// Keeps the entries parked since the last batch in the view store.
    async fn keep_parked(&mut self) -> Result<(), StoreError> {
        while let Some(entry) = self.unrecorded.first() {
            self.views.park(entry).await?;
            self.unrecorded.remove(0);
        }
        Ok(())
    }

    /// Adds what the stats gained since `mark` to the metrics, and moves `mark` up.
    fn record_metrics(&self, mark: &mut ProjectorStats) {
        metrics::applied(self.stats.applied - mark.applied);
        metrics::skipped(self.stats.skipped - mark.skipped);
        *mark = self.stats;
    }

    fn log_progress(&mut self, entries: usize) {
        if entries > 0 && self.last_progress_log.elapsed() >= self.config.progress_every {
            self.last_progress_log = Instant::now();
            tracing::info!(
                applied = self.stats.applied,
                skipped = self.stats.skipped,
                parked = self.stats.parked,
                position = self.stats.last_position,
                lag = self.stats.lag,
                "projecting"
            );
        }
    }
}

/// Whether `future` has completed, without waiting for it. Polls it at most until
/// it completes once.
async fn is_ready(mut future: Pin<&mut impl Future<Output = ()>>) -> bool {
    std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx).is_ready())).await
}
