//! Cross-cutting layers: security headers on every response, Prometheus metrics per matched
//! route, and the audit of denials (a 403 is written to the security audit log with the
//! caller who was refused).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, OriginalUri, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use helpdesk_core::policy::Principal;

use crate::state::AppState;

/// Marks a response as a denial (set by [`ApiError`](crate::error::ApiError) on 403).
#[derive(Debug, Clone, Copy)]
pub struct Denied;

/// Where the auth extractor leaves the principal, so a denial can name it.
#[derive(Debug, Clone, Default)]
pub struct DenialSlot(Arc<Mutex<Option<Principal>>>);

impl DenialSlot {
    /// Records the authenticated principal.
    pub fn set(&self, p: Principal) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(p);
        }
    }

    fn take(&self) -> Option<Principal> {
        self.0.lock().ok().and_then(|mut g| g.take())
    }
}

/// Writes an `access_denied` audit entry for every 403 of an authenticated caller. On the
/// way in it only keeps cheap handles (method, URI, peer, forwarded header); the audit text
/// and the client address are worked out for denials alone.
pub async fn audit_denials(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let slot = DenialSlot::default();
    req.extensions_mut().insert(slot.clone());
    let method = req.method().clone();
    let uri = req.extensions().get::<OriginalUri>().map_or_else(|| req.uri().clone(), |u| u.0.clone());
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let forwarded = req.headers().get("x-forwarded-for").cloned();
    let res = next.run(req).await;
    if res.extensions().get::<Denied>().is_some()
        && let Some(p) = slot.take()
    {
        let address = crate::auth::address_of(peer, forwarded.as_ref(), &state.options().trusted_proxies);
        let what = format!("{method} {}", uri.path());
        if let Err(e) = state.desk().record_denial(&p, &what, address.map(|a| a.to_string())).await {
            tracing::warn!(error = %e, "could not audit a denial");
        }
    }
    res
}

/// Counts requests and their latency per method, matched route and status.
pub async fn track_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let path = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    let labels = [("method", method), ("path", path), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(start.elapsed().as_secs_f64());
    res
}

/// Security headers for a JSON API: no sniffing, no framing, no referrer, no caching of
/// personal data, a CSP that allows nothing (the API serves no active content). Each is set
/// only if the handler did not set it (a later download route sets its own).
pub fn with_security_headers<S: Clone + Send + Sync + 'static>(router: axum::Router<S>, hsts: bool) -> axum::Router<S> {
    use tower_http::set_header::SetResponseHeaderLayer as Set;
    let h = |name: HeaderName, value: &'static str| Set::if_not_present(name, HeaderValue::from_static(value));
    let router = router
        .layer(h(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(h(header::X_FRAME_OPTIONS, "DENY"))
        .layer(h(header::REFERRER_POLICY, "no-referrer"))
        .layer(h(header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'"))
        .layer(h(header::CACHE_CONTROL, "no-store"))
        .layer(h(HeaderName::from_static("cross-origin-resource-policy"), "same-origin"));
    if hsts {
        router.layer(h(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains"))
    } else {
        router
    }
}
