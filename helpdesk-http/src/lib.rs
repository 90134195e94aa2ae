//! helpdesk-http: the `axum` layer of helpdesk.
//!
//! [`router`] turns an [`AppState`] (a [`helpdesk_core::HelpDesk`] plus [`HttpOptions`]) into
//! the versioned JSON API under `/api/v1`, `/healthz`, `/readyz`, `/metrics` and the OpenAPI
//! document at `/api/v1/openapi.json`, with security headers, request ids, structured request
//! logs, CORS for configured origins only, body limits and problem-details errors. An
//! application can mount it beside its own routes. The `helpdesk` binary composes it with a
//! store, an attachment store, mail and the background loops (`server`, behind the default
//! `server` feature: `default-features = false` gives the router alone, with only axum,
//! tower, utoipa, jsonwebtoken and core).

#![warn(missing_docs)]

pub mod auth;
mod envelope;
pub mod error;
pub mod extract;
mod json_time;
pub mod middleware;
mod openapi;
mod routes;
#[cfg(feature = "server")]
pub mod server;
pub mod state;
pub mod throttle;
pub mod tokens;
pub mod views;
#[cfg(feature = "web")]
mod web;

pub use error::{ApiError, ApiResult, Problem};
pub use openapi::openapi;
#[cfg(feature = "server")]
pub use server::config::{self, Config};
pub use state::{AppState, HttpOptions, MetricsEndpoint, Terms, WebOptions};
pub use tokens::{TokenOptions, TokenSigner};

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use tower_http::cors::{AllowOrigin, CorsLayer};

use envelope::REQUEST_ID;

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "resource.not_found", "no such route")
}

/// Unknown routes: problem details under `/api/`, a page elsewhere (with the `web` feature).
async fn fallback(uri: axum::http::Uri) -> axum::response::Response {
    #[cfg(feature = "web")]
    if !uri.path().starts_with("/api/") {
        return web::not_found();
    }
    let _ = uri;
    not_found().await.into_response()
}

fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> =
        origins.iter().filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([header::ETAG, header::RETRY_AFTER, REQUEST_ID])
        .max_age(std::time::Duration::from_secs(600))
}

/// The whole HTTP surface for `state`: `/api/v1/…`, `/api/v1/openapi.json`, `/healthz`,
/// `/readyz` and (when [`HttpOptions::metrics`] says so) `/metrics`. Nest it anywhere; serve it
/// with `into_make_service_with_connect_info::<SocketAddr>()` so that throttling sees each
/// client's address.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use axum::body::Body;
/// use axum::http::Request;
/// use helpdesk_core::HelpDesk;
/// use helpdesk_core::testing::InMemoryStore; // SledStore or PgStore in an application
/// use helpdesk_http::{AppState, HttpOptions, TokenOptions};
/// use tower::ServiceExt as _;
///
/// let desk = HelpDesk::builder(Arc::new(InMemoryStore::new()), Arc::new(object_store::memory::InMemory::new())).build()?;
/// let options = HttpOptions::new(TokenOptions::new(*b"a-secret-of-at-least-32-bytes!!!", "https://help.example.com"));
/// let app = axum::Router::new().nest("/helpdesk", helpdesk_http::router(AppState::new(desk, options)));
/// let res = app.oneshot(Request::get("/helpdesk/healthz").body(Body::empty())?).await?;
/// assert_eq!(res.status(), 200);
/// // Serve it: axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
/// # Ok(())
/// # }
/// ```
pub fn router(state: AppState) -> Router {
    let options = state.options().clone();
    // A multipart upload may carry a ticket's whole allowance; core enforces the per-file and
    // per-ticket limits while reading, this only bounds the request.
    let limits = &state.desk().options().attachments;
    let upload_limit = usize::try_from(limits.max_bytes_per_ticket.max(limits.max_file_bytes))
        .unwrap_or(usize::MAX)
        .saturating_add(1 << 20);
    let (api, _doc) = openapi::api_router(upload_limit).split_for_parts();
    let api = api
        .route("/openapi.json", axum::routing::get(openapi::serve))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::audit_denials));
    let app = Router::new().nest("/api/v1", api).merge(routes::ops::router());
    #[cfg(feature = "web")]
    let app = app.merge(web::router(upload_limit));
    app.fallback(fallback)
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "request.method_not_allowed",
                "this route does not take that method",
            )
            .into_response()
        })
        // One layer for everything around the routes (see `envelope` for why one).
        .layer(envelope::layer(options.hsts, cors(&options.cors_origins), options.body_limit))
        .with_state(state)
}
