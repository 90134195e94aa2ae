//! The workflow webhook: each event is `POST`ed as JSON to a configured URL, signed so the
//! receiver can tell it came from us and was not replayed.
//!
//! # What the receiver gets
//!
//! ```text
//! POST <url>
//! Content-Type: application/json
//! X-Helpdesk-Event-Id: 6f1c…            (the same on every retry: de-duplicate by it)
//! X-Helpdesk-Timestamp: 1795889808       (seconds since the epoch, at this attempt)
//! X-Helpdesk-Signature: v1=<hex>         (HMAC-SHA256)
//!
//! {"event_id":"6f1c…","event":{"kind":"ticket.opened","at":"…","ticket":{…}}}
//! ```
//!
//! # How a receiver verifies it
//!
//! 1. Take the raw body bytes, the event id and the timestamp headers.
//! 2. Compute `HMAC-SHA256(secret, "<event id>.<timestamp>.<body>")` and hex-encode it.
//! 3. Compare it with the `v1=` value in constant time; refuse the request if it differs or
//!    the timestamp is more than five minutes from now.
//! 4. Answer 2xx once the event is stored. If the event id was seen before, answer 2xx and
//!    ignore it. A 4xx answer (other than 408 and 429) is final; a 5xx, 408, 429, a time-out
//!    or a network error is retried with back-off.
//!
//! [`verify_signature`] does steps 2 and 3 for Rust receivers (and the tests).

use std::time::Duration;

use async_trait::async_trait;
use helpdesk_core::domain::MessageId;
use helpdesk_core::model::WorkflowEvent;
use helpdesk_core::ports::{DeliveryError, WorkflowSink};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Signs `body` for event `id` at `timestamp`: the `X-Helpdesk-Signature` value.
pub fn sign(secret: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable_hmac());
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!("v1={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

// HMAC accepts keys of any length, so this never runs.
fn unreachable_hmac() -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(b"k").unwrap_or_else(|_| unreachable_hmac())
}

/// Checks a signature header in constant time.
pub fn verify_signature(secret: &[u8], id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix("v1=") else { return false };
    let Some(given) = (0..hex.len())
        .step_by(2)
        .map(|i| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable_hmac());
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// Posts workflow events to a URL.
#[derive(Clone)]
pub struct WebhookSink {
    client: reqwest::Client,
    url: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink").field("url", &self.url).field("secret", &"<redacted>").finish()
    }
}

impl WebhookSink {
    /// A sink posting to `url`, signing with `secret`, giving up on an attempt after `timeout`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(url: impl Into<String>, secret: impl Into<Vec<u8>>, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("helpdesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { client, url: url.into(), secret: secret.into() })
    }
}

#[async_trait]
impl WorkflowSink for WebhookSink {
    async fn deliver(&self, id: MessageId, event: &WorkflowEvent) -> Result<(), DeliveryError> {
        let id = id.to_string();
        let body = serde_json::to_vec(&serde_json::json!({ "event_id": id, "event": event }))
            .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        let ts = chrono::Utc::now().timestamp();
        let signature = sign(&self.secret, &id, ts, &body);
        let res = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-helpdesk-event-id", &id)
            .header("x-helpdesk-timestamp", ts.to_string())
            .header("x-helpdesk-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| DeliveryError::Transient(format!("webhook: {e}")))?;
        let status = res.status();
        match status.as_u16() {
            200..=299 => Ok(()),
            408 | 429 => Err(DeliveryError::Transient(format!("webhook answered {status}"))),
            500..=599 => Err(DeliveryError::Transient(format!("webhook answered {status}"))),
            _ => Err(DeliveryError::Permanent(format!("webhook answered {status}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let s = sign(b"secret", "e1", 100, b"{}");
        assert!(verify_signature(b"secret", "e1", 100, b"{}", &s));
        assert!(!verify_signature(b"secret", "e2", 100, b"{}", &s));
        assert!(!verify_signature(b"secret", "e1", 101, b"{}", &s));
        assert!(!verify_signature(b"secret", "e1", 100, b"{ }", &s));
        assert!(!verify_signature(b"other", "e1", 100, b"{}", &s));
        assert!(!verify_signature(b"secret", "e1", 100, b"{}", "v1=zz"));
    }
}
