//! Keep-alive that clients can trust: when a response goes out before the request body was
//! read to its end (a 401 before an upload, a 404, a 405, a 413 on the declared length),
//! HTTP/1 cannot reuse the connection — the unread bytes would be taken for the next
//! request — so hyper closes it after the response. Clients that send the body after the
//! headers (Python `requests`, many SDKs) then see the connection vanish under their next
//! request. [`close_if_body_unread`] says `Connection: close` on such responses, so the client
//! knows before it reuses the connection.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Version, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};

/// Adds `Connection: close` to an HTTP/1 response when the request had a body that was not
/// read to its end.
pub async fn close_if_body_unread(req: Request, next: Next) -> Response {
    use http_body::Body as _;
    let http1 = matches!(req.version(), Version::HTTP_10 | Version::HTTP_11);
    if !http1 || req.body().is_end_stream() {
        return next.run(req).await;
    }
    let finished = Arc::new(AtomicBool::new(false));
    let watched = finished.clone();
    let req = req.map(|inner| Body::new(Watched { inner, finished: watched }));
    let mut res = next.run(req).await;
    if !finished.load(Ordering::Acquire) {
        res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
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
