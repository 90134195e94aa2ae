//! The router is safe to embed: nothing process-wide is installed by building it, `/metrics` is
//! served only when the application asks (optionally behind a bearer token), the OpenAPI
//! document names where the router is mounted, and a server that forgets the peer address is
//! told so loudly.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use helpdesk_core::HelpDesk;
use helpdesk_core::testing::InMemoryStore;
use helpdesk_http::{AppState, HttpOptions, MetricsEndpoint};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;

fn router(metrics: Option<MetricsEndpoint>) -> Router {
    let desk = HelpDesk::builder(Arc::new(InMemoryStore::new()), Arc::new(object_store::memory::InMemory::new()))
        .build()
        .unwrap();
    let mut options = HttpOptions::new(common::token_options());
    options.metrics = metrics;
    helpdesk_http::router(AppState::new(desk, options))
}

async fn get(app: &Router, path: &str, authorization: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::get(path);
    if let Some(a) = authorization {
        req = req.header(header::AUTHORIZATION, a);
    }
    let res = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    (status, String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap())
}

#[tokio::test]
async fn metrics_are_served_only_when_configured_and_behind_their_token() {
    assert_eq!(get(&router(None), "/metrics", None).await.0, StatusCode::NOT_FOUND);

    let app = router(Some(MetricsEndpoint::new(|| "helpdesk_up 1\n".to_owned()).with_bearer("scrape-secret")));
    assert_eq!(get(&app, "/metrics", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&app, "/metrics", Some("Bearer wrong")).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(&app, "/metrics", Some("Bearer scrape-secret")).await,
        (StatusCode::OK, "helpdesk_up 1\n".to_owned())
    );

    let open = router(Some(MetricsEndpoint::new(|| "helpdesk_up 1\n".to_owned())));
    assert_eq!(get(&open, "/metrics", None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_openapi_document_names_where_the_router_is_mounted() {
    for (app, path, server) in [
        (router(None), "/api/v1/openapi.json", "/api/v1"),
        (Router::new().nest("/helpdesk", router(None)), "/helpdesk/api/v1/openapi.json", "/helpdesk/api/v1"),
    ] {
        let (status, body) = get(&app, path, None).await;
        assert_eq!(status, StatusCode::OK);
        let doc: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["servers"][0]["url"], server);
    }
}

/// A log sink for one test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn requests_without_the_peer_address_are_reported_once() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || sink.clone()).with_ansi(false).finish();
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let app = router(None);
            for _ in 0..3 {
                // No ConnectInfo extension: what plain `axum::serve(listener, app)` gives.
                let req = Request::post("/api/v1/auth/password/forgot")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(r#"{"email":"a@example.com"}"#))
                    .unwrap();
                let res = app.clone().oneshot(req).await.unwrap();
                assert!(res.status().is_success(), "{}", res.status());
            }
        });
    });
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_eq!(log.matches("into_make_service_with_connect_info").count(), 1, "{log}");
}
