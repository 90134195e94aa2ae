//! The envelope every request and response passes through: request id, the request's trace
//! span and its log line, Prometheus metrics per matched route, the security headers, and
//! `Connection: close` when a response leaves before its request body was read.
//!
//! That last one is keep-alive clients can trust: when a response goes out before the request
//! body was read to its end (a 401 before an upload, a 404, a 405, a 413 on the declared
//! length), HTTP/1 cannot reuse the connection — the unread bytes would be taken for the next
//! request — so hyper closes it after the response. Clients that send the body after the
//! headers (Python `requests`, many SDKs) would see the connection vanish under their next
//! request; `Connection: close` tells them before they reuse it.
//!
//! Why one hand-written layer instead of a layer per concern: `Router::layer` wraps every
//! route once per layer, and each wrapper boxes and clones the service below it on every
//! request; with eleven of them (and `from_fn`'s own boxing) the layers cost half the
//! framework's rate on `/healthz`. Here they are one service, composed statically with CORS and
//! the body limit by [`layer`], so a request pays for one wrapper. Behaviour is what the
//! separate layers did; the tests of each concern (headers, ids, metrics, keep-alive) still
//! hold.

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Version, header};
use axum::response::Response;
use http_body::{Frame, SizeHint};
use tower::Layer;
use tower::Service;
use tracing::Instrument as _;

/// The request id header: kept when the client sent one, made up otherwise, and echoed on the
/// response.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole envelope as one layer: this module's service outside CORS and the body limit.
pub(crate) fn layer(
    hsts: bool,
    cors: tower_http::cors::CorsLayer,
    body_limit: usize,
) -> tower::layer::util::Stack<
    axum::extract::DefaultBodyLimit,
    tower::layer::util::Stack<
        tower_http::cors::CorsLayer,
        tower::layer::util::Stack<EnvelopeLayer, tower::layer::util::Identity>,
    >,
> {
    tower::ServiceBuilder::new()
        .layer(EnvelopeLayer::new(hsts))
        .layer(cors)
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .into_inner()
}

/// The headers every response gets unless its handler set them (a download or a page sets its
/// own content security policy, say): no sniffing, no framing, no referrer, no caching of
/// personal data, a CSP that allows nothing for the API, and HSTS when configured.
fn security_headers(hsts: bool) -> Vec<(HeaderName, HeaderValue)> {
    let mut h = vec![
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (HeaderName::from_static("cross-origin-resource-policy"), HeaderValue::from_static("same-origin")),
    ];
    if hsts {
        h.push((header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains")));
    }
    h
}

/// Makes [`Envelope`] services.
#[derive(Debug, Clone)]
pub(crate) struct EnvelopeLayer {
    headers: Arc<[(HeaderName, HeaderValue)]>,
}

impl EnvelopeLayer {
    fn new(hsts: bool) -> Self {
        Self { headers: security_headers(hsts).into() }
    }
}

impl<S> Layer<S> for EnvelopeLayer {
    type Service = Envelope<S>;

    fn layer(&self, inner: S) -> Envelope<S> {
        Envelope { inner, headers: self.headers.clone() }
    }
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct Envelope<S> {
    inner: S,
    headers: Arc<[(HeaderName, HeaderValue)]>,
}

impl<S> Service<Request> for Envelope<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        use http_body::Body as _;
        let start = Instant::now();
        let id = match req.headers().get(REQUEST_ID) {
            Some(id) => id.clone(),
            None => {
                let id = new_request_id();
                req.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
        let method = method_label(req.method());
        let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
        let span = tracing::info_span!(
            "request",
            method = %req.method(),
            path = %req.uri().path(),
            request_id = %id.to_str().unwrap_or("-"),
        );
        // HTTP/1 cannot reuse a connection whose request body was left unread: watch the body.
        let http1 = matches!(req.version(), Version::HTTP_10 | Version::HTTP_11);
        let finished = if http1 && !req.body().is_end_stream() {
            let finished = Arc::new(AtomicBool::new(false));
            let watched = finished.clone();
            req = req.map(|inner| Body::new(Watched { inner, finished: watched }));
            Some(finished)
        } else {
            None
        };
        let headers = self.headers.clone();
        let future = self.inner.call(req);
        Box::pin(
            async move {
                let Ok(mut res) = future.await;
                let status = res.status();
                let out = res.headers_mut();
                set_if_absent(out, &headers);
                out.insert(REQUEST_ID, id);
                if finished.is_some_and(|f| !f.load(Ordering::Acquire)) {
                    out.insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                let elapsed = start.elapsed();
                let labels = [
                    ("method", Cow::Borrowed(method)),
                    ("path", route.map_or(Cow::Borrowed("unmatched"), Cow::Owned)),
                    ("status", status_label(status.as_u16())),
                ];
                metrics::counter!("http_requests_total", &labels).increment(1);
                metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
                let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
                if status.is_server_error() {
                    tracing::error!(status = status.as_u16(), latency_us, "response failed");
                } else {
                    tracing::info!(status = status.as_u16(), latency_us, "finished processing request");
                }
                Ok(res)
            }
            .instrument(span),
        )
    }
}

fn set_if_absent(out: &mut HeaderMap, headers: &[(HeaderName, HeaderValue)]) {
    for (name, value) in headers {
        if !out.contains_key(name) {
            out.insert(name.clone(), value.clone());
        }
    }
}

/// A random request id (a UUID v4, as clients and log tools expect).
fn new_request_id() -> HeaderValue {
    let mut buf = uuid::Uuid::encode_buffer();
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// The method as a label without allocating (anything unusual counts as "other", so a client
/// cannot grow the metrics with made-up methods).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The status code as a label, allocating only for codes this server seldom sends.
fn status_label(code: u16) -> Cow<'static, str> {
    Cow::Borrowed(match code {
        200 => "200",
        201 => "201",
        204 => "204",
        303 => "303",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        409 => "409",
        412 => "412",
        422 => "422",
        429 => "429",
        500 => "500",
        503 => "503",
        _ => return Cow::Owned(code.to_string()),
    })
}

/// A request body that records when it has been read to its end.
struct Watched {
    inner: Body,
    finished: Arc<AtomicBool>,
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || this.inner.is_end_stream() {
            this.finished.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
