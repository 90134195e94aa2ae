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
            }),
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
}
