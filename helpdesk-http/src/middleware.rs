//! The audit of denials: a 403 is written to the security audit log with the caller who was
//! refused. (Request ids, logs, metrics and security headers are the envelope's: see
//! `envelope.rs`.)

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, OriginalUri, Request, State};
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
