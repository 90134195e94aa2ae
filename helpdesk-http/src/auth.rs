//! Who is calling: a bearer access token (checked, then its session re-read in storage) or an
//! external system's `Authorization: ApiKey <id>.<secret>`. Credentials are read from the
//! `Authorization` header only, never from a URL. Also the client address, taken from
//! `X-Forwarded-For` only when the peer is a configured trusted proxy.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use helpdesk_core::AuthFailure;
use helpdesk_core::TicketView;
use helpdesk_core::domain::TicketNumber;
use helpdesk_core::model::User;
use helpdesk_core::policy::Principal;

use crate::error::ApiError;
use crate::middleware::DenialSlot;
use crate::state::AppState;
use crate::tokens::AccessClaims;

/// An authenticated caller whose account needs nothing first (a user who must change their
/// password may only do that: see [`PasswordChangeCaller`]).
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who it is, with role and department as stored now.
    pub principal: Principal,
    /// The user row, for users (not for external systems).
    pub user: Option<User>,
}

/// Like [`Caller`], but also lets through a user who must change their password (for the
/// routes that let them do it: change password, profile, logout).
#[derive(Debug, Clone)]
pub struct PasswordChangeCaller(pub Caller);

/// The credential of the `Authorization` header: a verified access token (its session not yet
/// read) or an API key (authenticated).
#[derive(Debug)]
enum Credential {
    Session(AccessClaims),
    Key(Box<Caller>),
}

async fn credential(parts: &Parts, state: &AppState) -> Result<Credential, ApiError> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::unauthenticated(AuthFailure::Missing))?
        .to_str()
        .map_err(|_| ApiError::unauthenticated(AuthFailure::InvalidToken))?;
    let (scheme, credential) = header.split_once(' ').ok_or(ApiError::unauthenticated(AuthFailure::InvalidToken))?;
    if scheme.eq_ignore_ascii_case("bearer") {
        Ok(Credential::Session(state.signer().verify(credential.trim(), chrono::Utc::now())?))
    } else if scheme.eq_ignore_ascii_case("apikey") {
        let principal = state.desk().authenticate_api_key(credential.trim()).await?;
        Ok(Credential::Key(Box::new(Caller { principal, user: None })))
    } else {
        Err(ApiError::unauthenticated(AuthFailure::InvalidToken))
    }
}

/// The caller of a checked session: the token must name the session's user.
fn session_caller(claims: &AccessClaims, principal: Principal, user: User) -> Result<Caller, ApiError> {
    if user.id != claims.user {
        return Err(ApiError::unauthenticated(AuthFailure::InvalidToken));
    }
    Ok(Caller { principal, user: Some(user) })
}

/// Leaves the principal where a denial can name it.
fn note_for_denials(parts_slot: Option<&DenialSlot>, caller: &Caller) {
    if let Some(slot) = parts_slot {
        slot.set(caller.principal.clone());
    }
}

async fn authenticate(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
    let caller = match credential(parts, state).await? {
        Credential::Session(claims) => {
            let (principal, user) = state.desk().authenticate_session(claims.session).await?;
            session_caller(&claims, principal, user)?
        }
        Credential::Key(caller) => *caller,
    };
    note_for_denials(parts.extensions.get::<DenialSlot>(), &caller);
    Ok(caller)
}

/// A user who must change their password may do nothing else.
fn needs_nothing_first(caller: Caller) -> Result<Caller, ApiError> {
    if caller.user.as_ref().is_some_and(|u| u.must_change_password) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "auth.password_change_required",
            "choose a new password first (POST /api/v1/auth/password/change)",
        ));
    }
    Ok(caller)
}

/// The caller of a route that reads one ticket, like [`Caller`] but cheaper: a bearer token
/// is verified here and its session is read together with the ticket by
/// [`with_ticket`](Self::with_ticket) — one store read (one round trip on PostgreSQL) instead
/// of two, with the same checks in the same order. An API key is authenticated at once.
#[derive(Debug)]
pub struct TicketCaller {
    credential: Credential,
    slot: Option<DenialSlot>,
}

impl FromRequestParts<AppState> for TicketCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self { credential: credential(parts, state).await?, slot: parts.extensions.get::<DenialSlot>().cloned() })
    }
}

impl TicketCaller {
    /// Authenticates the caller and reads the ticket `number` as they may see it. A number
    /// that does not parse is reported after the caller is authenticated, as on every route.
    ///
    /// # Errors
    /// The session's errors first (401; 403 while a password change is due), then the
    /// ticket's (404 when missing or not visible).
    pub async fn with_ticket(
        self,
        state: &AppState,
        number: Result<TicketNumber, ApiError>,
    ) -> Result<(Caller, TicketView), ApiError> {
        let (caller, view) = match self.credential {
            Credential::Key(caller) => {
                let caller = needs_nothing_first(*caller)?;
                let view = state.desk().ticket(&caller.principal, &number?).await;
                (caller, view)
            }
            Credential::Session(claims) => match number {
                Ok(n) => {
                    let (principal, user, view) =
                        state.desk().authenticate_session_with_ticket(claims.session, &n).await?;
                    (needs_nothing_first(session_caller(&claims, principal, user)?)?, view)
                }
                Err(e) => {
                    let (principal, user) = state.desk().authenticate_session(claims.session).await?;
                    needs_nothing_first(session_caller(&claims, principal, user)?)?;
                    return Err(e);
                }
            },
        };
        note_for_denials(self.slot.as_ref(), &caller);
        Ok((caller, view?))
    }
}

impl FromRequestParts<AppState> for PasswordChangeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state).await.map(Self)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        needs_nothing_first(authenticate(parts, state).await?)
    }
}

impl Caller {
    /// The principal.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }
}

/// The client's address: the peer, or with a trusted proxy the last untrusted hop of
/// `X-Forwarded-For`. `None` when the server was not given connection info (as in `oneshot`
/// tests).
#[derive(Debug, Clone, Default)]
pub struct ClientAddress(pub Option<String>);

impl ClientAddress {
    /// As an owned string for the audit log.
    pub fn get(&self) -> Option<String> {
        self.0.clone()
    }
}

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, std::convert::Infallible> {
        if parts.extensions.get::<ConnectInfo<SocketAddr>>().is_none() {
            state.warn_no_peer_address();
        }
        Ok(Self(client_address(parts, &state.options().trusted_proxies).map(|a| a.to_string())))
    }
}

/// The address a request came from (see [`ClientAddress`]).
pub fn client_address(parts: &Parts, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    address_of(peer, parts.headers.get("x-forwarded-for"), trusted)
}

/// The client address from the peer and its `X-Forwarded-For`, believed only from a trusted
/// proxy (then the last hop that is not one).
pub fn address_of(peer: Option<IpAddr>, forwarded: Option<&HeaderValue>, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = forwarded.and_then(|v| v.to_str().ok()).unwrap_or("");
    forwarded
        .split(',')
        .rev()
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .find(|ip| !trusted.contains(ip))
        .or(Some(peer))
}
