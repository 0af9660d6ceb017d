//! One attempt to deliver one change to one webhook.

use crate::Webhook;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use roundtable_store::Change;

use crate::config::WebhookConfig;
use crate::policy::UrlPolicy;
use crate::signature::{
    DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WEBHOOK_HEADER, sign,
};

/// Posts changes to webhooks: checks the URL against the [`UrlPolicy`] before every
/// attempt, signs the body, follows no redirect, and counts only a 2xx answer within
/// the attempt time-out as delivered. HTTPS uses rustls with the platform's roots.
#[derive(Debug, Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    policy: UrlPolicy,
}

impl Deliverer {
    /// A deliverer with `config`'s attempt time-out and `policy`'s URL rules.
    ///
    /// # Errors
    /// The HTTP client cannot be built (no TLS roots on the machine, for instance).
    pub fn new(config: &WebhookConfig, policy: UrlPolicy) -> Result<Deliverer, reqwest::Error> {
        // HTTPS through rustls with the ring provider, installed once for the process
        // (an error only says one is installed already).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(config.attempt_timeout)
            .connect_timeout(config.attempt_timeout)
            .redirect(reqwest::redirect::Policy::none())
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
    /// Why the attempt failed, in words: the URL refused, `status 500`, a time-out, a
    /// refused connection.
    pub async fn attempt(&self, webhook: &Webhook, change: &Change) -> Result<(), String> {
        let url = self
            .policy
            .check(&webhook.url)
            .await
            .map_err(|e| e.to_string())?;
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
                if e.is_timeout() {
                    "timed out".to_owned()
                } else if e.is_connect() {
                    format!("cannot connect: {e}")
                } else {
                    e.to_string()
                }
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("status {}", status.as_u16()))
        }
    }
}
