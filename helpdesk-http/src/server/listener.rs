//! Accepting connections so that no client can starve the server: a cap on open connections
//! (new ones wait in the listen backlog, with a warning, rather than the process running out
//! of file descriptors), a time-out on reading a request head that is also the keep-alive idle
//! time-out (a connection that sends `GET / HTTP/1.1\r\nHost: x\r\n` and nothing more is
//! closed), and graceful shutdown that lets requests in flight finish.
//!
//! `axum::serve` sets neither a timer nor a limit, hence this loop over hyper-util's
//! connection builder (HTTP/1.1 and HTTP/2 with prior knowledge, as `axum::serve` serves).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use crate::config::ConnectionsConfig;

/// How long shutdown waits for requests in flight before closing what is left.
const DRAIN: Duration = Duration::from_secs(30);

/// File descriptors kept free for everything but client connections: the store, attachment
/// files, mail and webhook connections, logs.
const RESERVED_FDS: usize = 256;

/// The connection cap: the configured one, lowered to what the process's open-file limit
/// leaves after [`RESERVED_FDS`].
pub fn effective_max(configured: usize) -> usize {
    match open_file_limit() {
        Some(limit) if limit.saturating_sub(RESERVED_FDS) < configured => {
            let max = limit.saturating_sub(RESERVED_FDS).max(1);
            tracing::warn!(
                configured,
                open_file_limit = limit,
                max,
                "connections.max lowered to fit the open-file limit (raise it with `ulimit -n` or LimitNOFILE=)"
            );
            max
        }
        _ => configured,
    }
}

/// The soft limit on open files, from `/proc/self/limits` (Linux; `None` elsewhere).
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Serves `router` on `listener` until `shutdown` completes, then drains.
///
/// # Errors
/// None today: accept errors are logged and retried (a full descriptor table must not end
/// the server).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &ConnectionsConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let max = effective_max(limits.max);
    let permits = Arc::new(Semaphore::new(max));
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.header_read_timeout_secs))
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_secs(limits.header_read_timeout_secs))
        .keep_alive_timeout(Duration::from_secs(limits.header_read_timeout_secs));
    let graceful = GracefulShutdown::new();
    let mut last_warning: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    tracing::warn!(max, "connection limit reached: new connections wait until one closes");
                    last_warning = Some(Instant::now());
                }
                tokio::select! {
                    p = permits.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_error(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            async move {
                if lacks_host(&req) {
                    return Ok(missing_host());
                }
                router.oneshot(req.map(axum::body::Body::new)).await
            }
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => tracing::warn!("connections still open after {} s: closing them", DRAIN.as_secs()),
    }
    Ok(())
}

/// RFC 9112 §3.2: an HTTP/1.1 request without `Host` is answered 400. (The router itself
/// accepts requests without one: tests and embedders send them in-process.)
fn lacks_host<B>(req: &hyper::Request<B>) -> bool {
    req.version() == axum::http::Version::HTTP_11
        && !req.headers().contains_key(axum::http::header::HOST)
        && req.uri().authority().is_none()
}

fn missing_host() -> axum::response::Response {
    use axum::response::IntoResponse as _;
    crate::error::ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "request.missing_host",
        "an HTTP/1.1 request needs a Host header",
    )
    .into_response()
}

/// Logs an accept error and, for errors that affect every accept (no descriptors, no
/// memory), waits a moment so the loop does not spin.
async fn accept_error(e: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(e.kind(), ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
