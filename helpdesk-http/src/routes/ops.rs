//! Operations: liveness, readiness (storage and attachment store reachable) and Prometheus
//! metrics. These sit outside `/api/v1`; liveness and readiness need no credentials, metrics
//! are served only when [`crate::HttpOptions::metrics`] says so (optionally behind a bearer
//! token).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use object_store::ObjectStoreExt as _;

use helpdesk_core::AuthFailure;

use crate::error::ApiError;
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics_text))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(s): State<AppState>) -> Response {
    let store = s.desk().store().ping().await;
    let probe = object_store::path::Path::from("readyz-probe");
    let blobs = match s.desk().blobs().head(&probe).await {
        Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    };
    match (store, blobs) {
        (Ok(()), Ok(())) => Json(serde_json::json!({ "status": "ready" })).into_response(),
        (store, blobs) => {
            if let Err(e) = &store {
                tracing::warn!(error = %e, "readiness: storage unreachable");
            }
            if let Err(e) = &blobs {
                tracing::warn!(error = %e, "readiness: attachment store unreachable");
            }
            let body = serde_json::json!({
                "status": "unavailable",
                "storage": if store.is_ok() { "ok" } else { "unreachable" },
                "attachments": if blobs.is_ok() { "ok" } else { "unreachable" },
            });
            let mut res = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            res
        }
    }
}

async fn metrics_text(State(s): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let Some(endpoint) = &s.options().metrics else {
        return ApiError::new(StatusCode::NOT_FOUND, "resource.not_found", "metrics are not served here")
            .into_response();
    };
    let given = headers.get(header::AUTHORIZATION);
    if !endpoint.allows(given.map(HeaderValue::as_bytes)) {
        let failure = if given.is_none() { AuthFailure::Missing } else { AuthFailure::InvalidToken };
        return ApiError::unauthenticated(failure).into_response();
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], endpoint.render()).into_response()
}
