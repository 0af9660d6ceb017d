//! [`WebhookWorker`]: one task per webhook, each following its durable feed and
//! delivering in order.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::{DeadLetter, Webhook, WebhookId, WebhookStore};
use chrono::Utc;
use roundtable_metrics::webhooks::{self as metrics, Delivery};
use roundtable_store::{Change, ChangeFeed};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::WebhookConfig;
use crate::deliver::Deliverer;
use crate::policy::UrlPolicy;

/// How often a change in hand is said to be still worked on, while its delivery is
/// retried (NATS: the consumer's ack wait is 30 s).
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Delivers every change to every matching webhook.
///
/// For each webhook a task follows the webhook's durable [`ChangeFeed`] and delivers
/// one change at a time, in feed order (so in version order per negotiation): a
/// change is acknowledged, and the feed's checkpoint moves past it, only once it is
/// delivered (a 2xx answer) or parked in the dead-letter list after its last attempt.
/// So deliveries are at least once: a crash between a delivery and its
/// acknowledgement delivers it again, with the same `Roundtable-Delivery` id. Between
/// changes the task delivers the dead letters an operator asked to replay.
///
/// A webhook whose receiver is down holds up only itself.
pub struct WebhookWorker {
    store: Arc<dyn WebhookStore>,
    deliverer: Arc<Deliverer>,
    config: WebhookConfig,
}

impl std::fmt::Debug for WebhookWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookWorker")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How one delivery ended.
enum Outcome {
    Delivered,
    Dead { attempts: u32, error: String },
    Stopped,
}

struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl WebhookWorker {
    /// A worker over `store`'s webhooks.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(
        store: Arc<dyn WebhookStore>,
        config: WebhookConfig,
        policy: UrlPolicy,
    ) -> Result<WebhookWorker, reqwest::Error> {
        let deliverer = Deliverer::new(&config, policy)?;
        Ok(WebhookWorker::with_deliverer(store, config, deliverer))
    }

    /// A worker over `store`'s webhooks posting through `deliverer` (one that resolves
    /// names its own way, [`Deliverer::with_lookup`]).
    pub fn with_deliverer(
        store: Arc<dyn WebhookStore>,
        config: WebhookConfig,
        deliverer: Deliverer,
    ) -> WebhookWorker {
        WebhookWorker {
            store,
            deliverer: Arc::new(deliverer),
            config,
        }
    }

    /// Runs until `shutdown` completes: reads the webhooks every
    /// [`WebhookConfig::refresh_every`], starts a task for each new one and stops the
    /// task of each removed one. On shutdown every task stops taking changes; a
    /// delivery being retried stops without being acknowledged (it comes again after
    /// a restart).
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut running: HashMap<WebhookId, Running> = HashMap::new();
        tracing::info!("webhook deliveries running");
        loop {
            match self.store.list().await {
                Ok(hooks) => {
                    let ids: Vec<&WebhookId> = hooks.iter().map(|h| &h.id).collect();
                    let gone: Vec<WebhookId> = running
                        .keys()
                        .filter(|id| !ids.contains(id))
                        .cloned()
                        .collect();
                    for id in gone {
                        if let Some(r) = running.remove(&id) {
                            tracing::info!(webhook = %id, "webhook removed; its deliveries stop");
                            let _ = r.stop.send(true);
                            let _ = r.task.await;
                        }
                    }
                    for hook in hooks {
                        running.entry(hook.id.clone()).or_insert_with(|| {
                            let (stop, stopped) = watch::channel(false);
                            let task = tokio::spawn(follow(
                                self.store.clone(),
                                self.deliverer.clone(),
                                self.config.clone(),
                                hook,
                                stopped,
                            ));
                            Running { stop, task }
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot list the webhooks; trying again"),
            }
            tokio::select! {
                () = shutdown.as_mut() => break,
                () = tokio::time::sleep(self.config.refresh_every) => {}
            }
        }
        for r in running.values() {
            let _ = r.stop.send(true);
        }
        for (_, r) in running {
            let _ = r.task.await;
        }
        tracing::info!("webhook deliveries stopped");
    }
}

/// Whether the stop signal was given.
fn is_stopped(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow()
}

/// Sleeps `pause` unless stopped first; `false` when stopped.
async fn pause(stop: &mut watch::Receiver<bool>, pause: Duration) -> bool {
    if is_stopped(stop) {
        return false;
    }
    tokio::select! {
        _ = stop.changed() => !is_stopped(stop),
        () = tokio::time::sleep(pause) => true,
    }
}

/// One webhook's task.
#[tracing::instrument(skip_all, fields(webhook = %webhook.id))]
async fn follow(
    store: Arc<dyn WebhookStore>,
    deliverer: Arc<Deliverer>,
    config: WebhookConfig,
    webhook: Webhook,
    mut stop: watch::Receiver<bool>,
) {
    let mut feed = loop {
        match store.feed(&webhook).await {
            Ok(feed) => break feed,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the webhook's feed; trying again");
                if !pause(&mut stop, config.poll_wait).await {
                    return;
                }
            }
        }
    };
    tracing::debug!(url = %webhook.url, "following changes");
    while !is_stopped(&stop) {
        if !replay(&*store, &deliverer, &config, &webhook, &mut stop).await {
            return;
        }
        let taken = match feed.next(config.poll_wait).await {
            Ok(Some(taken)) => taken,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the webhook's feed; trying again");
                if !pause(&mut stop, config.poll_wait).await {
                    return;
                }
                continue;
            }
        };
        if webhook.matches(&taken.change) {
            let outcome = deliver(
                &deliverer,
                &config,
                &webhook,
                &taken.change,
                Some(&mut *feed),
                &mut stop,
            )
            .await;
            match outcome {
                Outcome::Delivered => {}
                Outcome::Stopped => return,
                Outcome::Dead { attempts, error } => {
                    let letter = DeadLetter {
                        webhook_id: webhook.id.clone(),
                        delivery_id: webhook.delivery_id(&taken.change),
                        change: taken.change.clone(),
                        attempts,
                        last_error: error,
                        parked_at: Utc::now(),
                        replay: false,
                    };
                    // The checkpoint may move on only once the letter is kept.
                    while let Err(e) = store.park(&letter).await {
                        tracing::warn!(error = %e, "cannot park a delivery; trying again");
                        let _ = feed.working().await;
                        if !pause(&mut stop, config.poll_wait).await {
                            return;
                        }
                    }
                    tracing::warn!(
                        negotiation_id = %letter.change.negotiation_id,
                        version = letter.change.version,
                        attempts,
                        last_error = %letter.last_error,
                        "delivery parked in the dead-letter list"
                    );
                }
            }
        }
        if let Err(e) = feed.ack(taken.position).await {
            // It will come again and be delivered again, with the same delivery id.
            tracing::warn!(error = %e, position = taken.position, "cannot acknowledge a change");
        }
    }
}

/// Delivers the dead letters asked to be replayed; `false` when stopped.
async fn replay(
    store: &dyn WebhookStore,
    deliverer: &Deliverer,
    config: &WebhookConfig,
    webhook: &Webhook,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let letters = match store.replays(&webhook.id).await {
        Ok(letters) => letters,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the replays asked for");
            return true;
        }
    };
    for mut letter in letters {
        match deliver(deliverer, config, webhook, &letter.change, None, stop).await {
            Outcome::Stopped => return false,
            Outcome::Delivered => {
                if let Err(e) = store.unpark(&webhook.id, &letter.change).await {
                    tracing::warn!(error = %e, "replayed, but cannot drop the dead letter");
                }
            }
            Outcome::Dead { attempts, error } => {
                letter.attempts += attempts;
                letter.last_error = error;
                letter.parked_at = Utc::now();
                letter.replay = false;
                if let Err(e) = store.park(&letter).await {
                    tracing::warn!(error = %e, "cannot park a replayed delivery again");
                }
            }
        }
    }
    true
}

/// Attempts `change` until delivered, out of attempts, or stopped; keeps the feed's
/// change in hand meanwhile.
async fn deliver(
    deliverer: &Deliverer,
    config: &WebhookConfig,
    webhook: &Webhook,
    change: &Change,
    mut feed: Option<&mut dyn ChangeFeed>,
    stop: &mut watch::Receiver<bool>,
) -> Outcome {
    let max = config.retry.max_attempts.max(1);
    let mut last_error = String::new();
    for attempt in 1..=max {
        if is_stopped(stop) {
            return Outcome::Stopped;
        }
        let started = std::time::Instant::now();
        let attempted = deliverer.attempt(webhook, change).await;
        metrics::delivery(
            match (&attempted, attempt == max) {
                (Ok(()), _) => Delivery::Delivered,
                (Err(_), false) => Delivery::Failed,
                (Err(_), true) => Delivery::DeadLettered,
            },
            started.elapsed(),
        );
        match attempted {
            Ok(()) => {
                if attempt > 1 {
                    tracing::info!(
                        negotiation_id = %change.negotiation_id,
                        version = change.version,
                        attempt,
                        "delivered after retrying"
                    );
                }
                return Outcome::Delivered;
            }
            Err(e) => {
                tracing::debug!(negotiation_id = %change.negotiation_id, version = change.version, attempt, error = %e, "delivery failed");
                last_error = e;
            }
        }
        if attempt == max {
            break;
        }
        let mut left = config.retry.pause(attempt);
        loop {
            if let Some(feed) = feed.as_deref_mut() {
                if let Err(e) = feed.working().await {
                    tracing::debug!(error = %e, "cannot keep the change in hand");
                }
            }
            let step = left.min(KEEP_ALIVE);
            if !pause(stop, step).await {
                return Outcome::Stopped;
            }
            left = left.saturating_sub(step);
            if left.is_zero() {
                break;
            }
        }
    }
    Outcome::Dead {
        attempts: max,
        error: last_error,
    }
}
