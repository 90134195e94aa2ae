//! The state every handler shares: the core service, the token signer, the in-process
//! address limiters and the HTTP options.

use std::net::IpAddr;
use std::sync::Arc;

use helpdesk_core::HelpDesk;

use crate::throttle::{AddressLimiter, AddressLimits};
use crate::tokens::{TokenOptions, TokenSigner};

/// Options of the HTTP layer (the core has its own, in [`HelpDesk`]).
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Access token signing.
    pub tokens: TokenOptions,
    /// Per-address limits.
    pub address_limits: AddressLimits,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Origins allowed by CORS (none by default).
    pub cors_origins: Vec<String>,
    /// Largest JSON body accepted, in bytes.
    pub body_limit: usize,
    /// Send `Strict-Transport-Security` (the public URL is https).
    pub hsts: bool,
    /// What `/metrics` serves, if anything (nothing by default: the router installs no
    /// metrics recorder; the reference server installs a Prometheus one and sets this).
    pub metrics: Option<MetricsEndpoint>,
    /// What the web pages show that a deployment decides (notice, terms of use).
    pub web: WebOptions,
}

/// What the web pages show that a deployment decides.
#[derive(Debug, Clone, Default)]
pub struct WebOptions {
    /// A notice on every employee's home page (support hours, an urgent contact), plain text.
    pub notice: Option<String>,
    /// The terms of use a registration must accept; set the same version in
    /// [`HelpDeskOptions::terms_version`](helpdesk_core::HelpDeskOptions::terms_version).
    pub terms: Option<Terms>,
    /// Facts the admin's system page lists (storage, mail mode, attachment store…), as the
    /// application that serves the router describes itself.
    pub system: Vec<(String, String)>,
}

/// Terms of use: a version, and where to read them (a link, or text shown on the page).
#[derive(Debug, Clone)]
pub struct Terms {
    /// The version a registration accepts.
    pub version: String,
    /// A link to the terms.
    pub url: Option<String>,
    /// The terms as plain text, shown on the registration page.
    pub text: Option<String>,
}

/// The `/metrics` route: a function that renders the exposition text and, optionally, the
/// bearer token a scraper must present.
#[derive(Clone)]
pub struct MetricsEndpoint {
    render: Arc<dyn Fn() -> String + Send + Sync>,
    bearer: Option<String>,
}

impl MetricsEndpoint {
    /// Serves what `render` returns (for example a `PrometheusHandle::render`), to anyone.
    pub fn new(render: impl Fn() -> String + Send + Sync + 'static) -> Self {
        Self { render: Arc::new(render), bearer: None }
    }

    /// Serves only requests with `Authorization: Bearer <token>`.
    #[must_use]
    pub fn with_bearer(mut self, token: impl Into<String>) -> Self {
        self.bearer = Some(token.into());
        self
    }

    /// The text to serve.
    pub fn render(&self) -> String {
        (self.render)()
    }

    /// Whether an `Authorization` header value may read the metrics.
    pub fn allows(&self, authorization: Option<&[u8]>) -> bool {
        use subtle::ConstantTimeEq as _;
        match &self.bearer {
            None => true,
            Some(token) => {
                let expected = format!("Bearer {token}");
                authorization.is_some_and(|given| bool::from(given.ct_eq(expected.as_bytes())))
            }
        }
    }
}

impl std::fmt::Debug for MetricsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsEndpoint").field("bearer", &self.bearer.as_ref().map(|_| "<redacted>")).finish()
    }
}

impl HttpOptions {
    /// Defaults around a signing configuration.
    pub fn new(tokens: TokenOptions) -> Self {
        Self {
            tokens,
            address_limits: AddressLimits::default(),
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
            body_limit: 64 * 1024,
            hsts: false,
            metrics: None,
            web: WebOptions::default(),
        }
    }
}

/// Shared, cheaply cloned handler state.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    desk: HelpDesk,
    signer: TokenSigner,
    limiter: AddressLimiter,
    options: HttpOptions,
    /// Set once the missing-`ConnectInfo` warning was logged.
    warned_no_peer: std::sync::atomic::AtomicBool,
    /// Cancelled when the server shuts down: ends the pages' live-update streams, which
    /// would otherwise keep a graceful shutdown waiting for ever.
    live_end: tokio_util::sync::CancellationToken,
}

impl AppState {
    /// State for `desk` with `options`.
    pub fn new(desk: HelpDesk, options: HttpOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                signer: TokenSigner::new(options.tokens.clone()),
                limiter: AddressLimiter::new(options.address_limits),
                desk,
                options,
                warned_no_peer: std::sync::atomic::AtomicBool::new(false),
                live_end: tokio_util::sync::CancellationToken::new(),
            }),
        }
    }

    /// Logs, once per state, that requests arrive without the peer address, so every client
    /// shares one throttling bucket.
    pub(crate) fn warn_no_peer_address(&self) {
        if !self.inner.warned_no_peer.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tracing::error!(
                "requests carry no ConnectInfo<SocketAddr>: every client shares ONE per-address throttling bucket \
                 (registrations, sign-ins, resets). Serve the router with \
                 `axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())`"
            );
        }
    }

    /// The core service.
    pub fn desk(&self) -> &HelpDesk {
        &self.inner.desk
    }

    /// The token signer.
    pub fn signer(&self) -> &TokenSigner {
        &self.inner.signer
    }

    /// The per-address limiters.
    pub fn limiter(&self) -> &AddressLimiter {
        &self.inner.limiter
    }

    /// The HTTP options.
    pub fn options(&self) -> &HttpOptions {
        &self.inner.options
    }

    /// Ends every open live-update stream (`GET /live`) and refuses new ones. Call it when
    /// shutting down gracefully (before waiting for connections to finish: a stream never
    /// finishes on its own); the pages reconnect to another process or after the restart.
    pub fn end_live_streams(&self) {
        self.inner.live_end.cancel();
    }

    /// Cancelled by [`end_live_streams`](Self::end_live_streams).
    #[cfg(feature = "web")]
    pub(crate) fn live_end(&self) -> &tokio_util::sync::CancellationToken {
        &self.inner.live_end
    }
}
