//! Operations: liveness, readiness (storage and attachment store reachable, each answering
//! within a second) and Prometheus
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

/// How long readiness waits for each dependency: a probe wants its answer within about a
/// second, not after a pool's acquire time-out.
const READY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(1);

async fn readyz(State(s): State<AppState>) -> Response {
    let probe = object_store::path::Path::from("readyz-probe");
    let blobs = async {
        match s.desk().blobs().head(&probe).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    };
    let store = async { s.desk().store().ping().await.map_err(|e| e.to_string()) };
    readiness(store, blobs, READY_DEADLINE).await
}

/// Readiness from the two checks, run together, each given `deadline` (past it, the
/// dependency counts as unreachable).
async fn readiness(
    store: impl std::future::Future<Output = Result<(), String>>,
    blobs: impl std::future::Future<Output = Result<(), String>>,
    deadline: std::time::Duration,
) -> Response {
    let within = |r: Result<Result<(), String>, tokio::time::error::Elapsed>| {
        r.unwrap_or_else(|_| Err(format!("no answer within {} ms", deadline.as_millis())))
    };
    let (store, blobs) = tokio::join!(tokio::time::timeout(deadline, store), tokio::time::timeout(deadline, blobs));
    match (within(store), within(blobs)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn readiness_answers_within_its_deadline_when_a_dependency_hangs() {
        let start = tokio::time::Instant::now();
        let res = readiness(std::future::pending(), async { Ok(()) }, READY_DEADLINE).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()[header::RETRY_AFTER], "5");
        // Paused time: exactly the deadline passed, not a pool's time-out.
        assert_eq!(start.elapsed(), READY_DEADLINE);
        let ok = readiness(async { Ok(()) }, async { Ok(()) }, READY_DEADLINE).await;
        assert_eq!(ok.status(), StatusCode::OK);
        let down = readiness(async { Err("refused".to_owned()) }, async { Ok(()) }, READY_DEADLINE).await;
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
