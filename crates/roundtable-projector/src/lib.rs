//! The projector of Roundtable: keeps the agreement view of every negotiation up to
//! date from the ordered feed of every recorded event, and announces each change.
//!
//! ```no_run
//! # async fn example(
//! #     events: std::sync::Arc<dyn roundtable_store::EventStore>,
//! #     views: std::sync::Arc<dyn roundtable_projector::ViewStore>,
//! #     feed: Box<dyn roundtable_store::EventFeed>,
//! # ) -> Result<(), roundtable_store::StoreError> {
//! use std::sync::Arc;
//! use roundtable_projector::Projector;
//! use roundtable_store::NoChanges;
//!
//! let mut projector = Projector::new(events, views, feed, Arc::new(NoChanges));
//! let stats = projector.catch_up().await?; // or run_until(shutdown), or rebuild()
//! println!("{} applied, lag {:?}", stats.applied, stats.lag);
//! # Ok(())
//! # }
//! ```
//!
//! It works over the ports of `roundtable-store` only, so it runs the same on NATS
//! JetStream (views in a key-value bucket, the feed a durable consumer, changes on
//! `roundtable.changes.<negotiation_id>`) and on the embedded store (views and
//! checkpoint in the store's file). See `docs/PROJECTOR.md`.
//!
//! The read model ([`ViewStore`]: stored views and [`ParkedEntry`]s) is [`KvViewStore`], written once
//! over the key-value port ([`roundtable_store::KvStore`]) that both stores implement.
//!
//! [`OverdueTimer`] announces, once, the first day a commitment is overdue.
//!
//! Modules: `projector` (the loop and its public API), `batch` (grouping a batch by
//! negotiation), `update` (one negotiation's update: skip, fill gaps, apply, store,
//! announce), `cache` (recent views in memory), `views` (the view store over the
//! key-value port), `config`, `stats`.

#![warn(missing_docs)]

mod batch;
mod cache;
mod config;
#[cfg(feature = "conformance")]
pub mod conformance;
mod overdue;
mod projector;
mod read_model;
mod stats;
mod update;
mod views;

pub use config::ProjectorConfig;
pub use overdue::{Clock, DEFAULT_INTERVAL as OVERDUE_INTERVAL, OverdueTimer};
pub use projector::Projector;
pub use read_model::{ParkedEntry, StoredView, ViewStore};
pub use stats::ProjectorStats;
pub use views::{KvViewStore, PARKED_BUCKET, VIEWS_BUCKET};
