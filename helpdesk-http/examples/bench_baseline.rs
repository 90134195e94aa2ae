//! The yardstick for `scripts/bench-http.sh`: the smallest axum JSON handler, on the same
//! runtime and machine, so the load benchmark can state the server's rates as a fraction of
//! what the framework itself can do here.
//!
//! `cargo run --release -p helpdesk-http --example bench_baseline -- 127.0.0.1:18090`

use axum::routing::get;
use axum::{Json, Router};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18090".into());
    let app = Router::new().route("/json", get(|| async { Json(serde_json::json!({ "message": "hello" })) }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
