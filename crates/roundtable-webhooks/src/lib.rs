//! Webhook deliveries of Roundtable: every change of the negotiations a webhook
//! selects is posted to its URL, signed, retried, in order, at least once, and
//! parked in a dead-letter list after the last attempt. docs/INTEGRATIONS.md
//! describes it for receivers.
//!
//! ```no_run
//! # async fn example(store: std::sync::Arc<dyn roundtable_webhooks::WebhookStore>) {
//! use roundtable_webhooks::{UrlPolicy, WebhookConfig, WebhookWorker};
//! let worker = WebhookWorker::new(store, WebhookConfig::default(), UrlPolicy::default())
//!     .expect("an HTTP client");
//! worker.run_until(std::future::pending()).await; // beside `roundtable serve`
//! # }
//! ```
//!
//! - [`signature`]: the headers and the HMAC-SHA256 signature, and [`verify`] as a
//!   receiver checks it (with replay protection).
//! - [`policy`]: which URLs and addresses are refused (metadata, loopback, link-local,
//!   private unless allowed, the host's own), IPv6 forms embedding IPv4 judged by the
//!   address they embed, and the resolver deliveries connect through, so the address
//!   checked is the address connected to.
//! - [`config`]: retries (exponential backoff with full jitter) and time-outs.
//! - `deliver`: one attempt; `worker`: one task per webhook over its durable feed
//!   ([`roundtable_store::ChangeFeed`], from [`roundtable_webhooks::WebhookStore::feed`]).
//! - [`KvWebhookStore`]: the registrations, dead letters and replays, written once
//!   over the key-value port of either store, with the store's change feeds.

#![warn(missing_docs)]

pub mod config;
#[cfg(feature = "conformance")]
pub mod conformance;
mod deliver;
mod model;
pub mod policy;
pub mod signature;
mod store;
mod worker;

pub use config::{RetryPolicy, WebhookConfig};
pub use deliver::{Deliverer, outcome};
pub use model::{DeadLetter, Webhook, WebhookId, WebhookStore};
pub use policy::{AddressClass, Lookup, PolicyResolver, SystemLookup, UrlPolicy, UrlRefused};
pub use signature::{SignatureError, sign, verify};
pub use store::{KvWebhookStore, WEBHOOKS_BUCKET};
pub use worker::WebhookWorker;
