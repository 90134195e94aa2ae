//! The yardsticks for `scripts/bench-http.sh`, on the same runtime and machine, so the load
//! benchmark can state the server's rates as a fraction of what the framework itself can do
//! here:
//!
//! - `GET /json`: the smallest axum JSON handler (the ratio the performance targets use).
//! - The floor of the ticket routes: `GET /api/v1/tickets/{number}` and `GET /api/v1/tickets`
//!   verify the bearer token exactly as the server does (the same [`TokenSigner`], so the same
//!   HMAC and claim checks) and answer with the bytes the real server answered, read once from
//!   the files named by `FLOOR_TICKET` and `FLOOR_LIST`. What the real server spends beyond
//!   this floor is storage, policy, serialisation and its middleware; what the floor itself
//!   costs is the framework, the token and moving the same bytes through the kernel, which no
//!   server can skip. `FLOOR_SECRET` and `FLOOR_ISSUER` are the server's JWT secret and public
//!   URL. A token that does not verify gets 401, so a broken floor shows as errors.
//!
//! `cargo run --release -p helpdesk-http --example bench_baseline -- 127.0.0.1:18090`

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use helpdesk_http::{TokenOptions, TokenSigner};

/// What the floor routes answer with, and how they check the caller.
struct Floor {
    signer: TokenSigner,
    ticket: axum::body::Bytes,
    list: axum::body::Bytes,
}

impl Floor {
    fn from_env() -> Option<Self> {
        let read = |var: &str| std::env::var(var).ok().and_then(|p| std::fs::read(p).ok()).map(axum::body::Bytes::from);
        let secret = std::env::var("FLOOR_SECRET").ok()?;
        let issuer = std::env::var("FLOOR_ISSUER").ok()?;
        Some(Self {
            signer: TokenSigner::new(TokenOptions::new(secret.into_bytes(), issuer)),
            ticket: read("FLOOR_TICKET")?,
            list: read("FLOOR_LIST")?,
        })
    }

    fn answer(&self, headers: &HeaderMap, body: &axum::body::Bytes) -> Response {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        match self.signer.verify(token, chrono::Utc::now()) {
            Ok(_) => ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response(),
            Err(_) => StatusCode::UNAUTHORIZED.into_response(),
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18090".into());
    let mut app = Router::new().route("/json", get(|| async { Json(serde_json::json!({ "message": "hello" })) }));
    if let Some(floor) = Floor::from_env() {
        let floor = Arc::new(floor);
        app = app.merge(
            Router::new()
                .route(
                    "/api/v1/tickets/{number}",
                    get(|State(f): State<Arc<Floor>>, h: HeaderMap| async move { f.answer(&h, &f.ticket) }),
                )
                .route(
                    "/api/v1/tickets",
                    get(|State(f): State<Arc<Floor>>, h: HeaderMap| async move { f.answer(&h, &f.list) }),
                )
                .with_state(floor),
        );
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
