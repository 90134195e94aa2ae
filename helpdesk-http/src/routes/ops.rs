//! Operations: liveness, readiness (storage and attachment store reachable) and Prometheus
//! metrics. These sit outside `/api/v1` and need no credentials.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use object_store::ObjectStoreExt as _;

use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics_text))
}

/// The process-wide Prometheus recorder (installed once, however many routers are built).
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|()| handle)
        })
        .as_ref()
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

async fn metrics_text() -> Response {
    let body = prometheus().map(PrometheusHandle::render).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
