//! One attempt to deliver one change to one webhook.

use std::sync::Arc;

use crate::Webhook;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use roundtable_store::Change;

use crate::config::WebhookConfig;
use crate::policy::{Lookup, PolicyResolver, Refused, SystemLookup, UrlPolicy};
use crate::signature::{
    DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WEBHOOK_HEADER, sign,
};

/// What a failed attempt records (the dead letter's `last_error`): coarse on purpose,
/// so that webhooks cannot map which ports answer where (the detail is logged at
/// debug level).
pub mod outcome {
    /// The URL or the address it resolves to is not allowed.
    pub const REFUSED: &str = "refused: the address is not allowed";
    /// The name does not resolve.
    pub const NO_ADDRESS: &str = "the host name does not resolve";
    /// No connection could be made (refused, unreachable, or no answer in time).
    pub const CANNOT_CONNECT: &str = "cannot connect";
    /// Connected, but no answer came within the attempt's time-out.
    pub const TIMED_OUT: &str = "timed out";
    /// Connected, but what came back was not an HTTP answer (including TLS failures).
    pub const NO_HTTP_ANSWER: &str = "no valid HTTP answer";
}

/// Posts changes to webhooks: checks the URL against the [`UrlPolicy`] before every
/// attempt, connects only to addresses the policy let through (its resolver,
/// [`PolicyResolver`], is the client's), signs the body, uses no proxy, follows no
/// redirect, and counts only a 2xx answer within the attempt time-out as delivered.
/// HTTPS uses rustls with the platform's roots.
#[derive(Debug, Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    policy: UrlPolicy,
}

impl Deliverer {
    /// A deliverer with `config`'s attempt time-out and `policy`'s URL rules, resolving
    /// names with the system's resolver.
    ///
    /// # Errors
    /// The HTTP client cannot be built (no TLS roots on the machine, for instance).
    pub fn new(config: &WebhookConfig, policy: UrlPolicy) -> Result<Deliverer, reqwest::Error> {
        Deliverer::with_lookup(config, policy, Arc::new(SystemLookup))
    }

    /// [`Deliverer::new`] resolving names with `lookup` (tests give names addresses).
    ///
    /// # Errors
    /// As [`Deliverer::new`].
    pub fn with_lookup(
        config: &WebhookConfig,
        policy: UrlPolicy,
        lookup: Arc<dyn Lookup>,
    ) -> Result<Deliverer, reqwest::Error> {
        // HTTPS through rustls with the ring provider, installed once for the process
        // (an error only says one is installed already).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(config.attempt_timeout)
            .connect_timeout(config.attempt_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(PolicyResolver::new(policy.clone(), lookup)))
            .build()?;
        Ok(Deliverer { client, policy })
    }

    /// The URL rules.
    pub fn policy(&self) -> &UrlPolicy {
        &self.policy
    }

    /// Posts `change` to `webhook` once, signed at the current time.
    ///
    /// # Errors
    /// Why the attempt failed, coarsely (the constants of [`outcome`], or `HTTP 500`).
    pub async fn attempt(&self, webhook: &Webhook, change: &Change) -> Result<(), String> {
        let (url, _) = self.policy.check_static(&webhook.url).map_err(|e| {
            tracing::debug!(webhook = %webhook.id, error = %e, "webhook url refused");
            outcome::REFUSED.to_owned()
        })?;
        let body = serde_json::to_vec(change).map_err(|e| format!("cannot serialize: {e}"))?;
        let timestamp = chrono::Utc::now().timestamp();
        let signature = sign(webhook.secret.as_bytes(), timestamp, &body);
        let mut headers = HeaderMap::new();
        let value =
            |s: &str| HeaderValue::from_str(s).map_err(|e| format!("bad header {s:?}: {e}"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static("roundtable-webhooks/1"),
        );
        headers.insert(DELIVERY_HEADER, value(&webhook.delivery_id(change))?);
        headers.insert(TIMESTAMP_HEADER, value(&timestamp.to_string())?);
        headers.insert(SIGNATURE_HEADER, value(&signature)?);
        headers.insert(EVENT_HEADER, value(&change.event_type)?);
        headers.insert(WEBHOOK_HEADER, value(webhook.id.as_str())?);
        let response = self
            .client
            .post(url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                tracing::debug!(webhook = %webhook.id, error = %e, "delivery attempt failed");
                coarse(&e).to_owned()
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", status.as_u16()))
        }
    }
}

/// The coarse outcome of a failed request.
fn coarse(e: &reqwest::Error) -> &'static str {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.downcast_ref::<Refused>().is_some() {
            return if s.to_string().contains("does not resolve")
                || s.to_string().contains("resolves to no address")
            {
                outcome::NO_ADDRESS
            } else {
                outcome::REFUSED
            };
        }
        source = s.source();
    }
    if e.is_connect() {
        outcome::CANNOT_CONNECT
    } else if e.is_timeout() {
        outcome::TIMED_OUT
    } else {
        outcome::NO_HTTP_ANSWER
    }
}
