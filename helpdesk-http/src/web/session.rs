//! Cookie sessions for the pages, on core's sessions: signing in through a page creates the
//! same session row as the API's login (same throttling, revocation and policy), and every
//! page request re-reads it in storage. The cookie holds the session id and an HMAC of it
//! under the server's token secret, so it cannot be forged from a session id alone; it is
//! `HttpOnly`, `SameSite=Lax`, and `Secure` with the `__Host-` prefix when the public URL is
//! https. Forms carry a synchronizer token bound to the session (an HMAC too, nothing stored),
//! and every state-changing request must come from the help desk's own origin.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use helpdesk_core::domain::SessionId;
use helpdesk_core::model::User;
use helpdesk_core::policy::Principal;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use crate::state::AppState;

/// The cookie's name: with the `__Host-` prefix when it is `Secure`.
pub(crate) fn cookie_name(state: &AppState) -> &'static str {
    if secure(state) { "__Host-helpdesk" } else { "helpdesk" }
}

fn secure(state: &AppState) -> bool {
    state.options().tokens.issuer.starts_with("https://")
}

/// HMAC-SHA256 of `purpose:sid` under the token secret, in hex (`None` only if the MAC could
/// not be keyed, which HMAC's any-length keys rule out; callers then refuse).
fn mac(state: &AppState, purpose: &str, sid: SessionId) -> Option<String> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&state.options().tokens.secret).ok()?;
    m.update(purpose.as_bytes());
    m.update(b":");
    m.update(sid.to_string().as_bytes());
    Some(m.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect())
}

/// The `Set-Cookie` value that signs `sid` in.
pub(crate) fn sign_in_cookie(state: &AppState, sid: SessionId) -> Option<HeaderValue> {
    let attrs = if secure(state) { "; Secure" } else { "" };
    let value =
        format!("{}={sid}.{}; Path=/; HttpOnly; SameSite=Lax{attrs}", cookie_name(state), mac(state, "session", sid)?);
    HeaderValue::from_str(&value).ok()
}

/// The `Set-Cookie` value that removes the session cookie.
pub(crate) fn sign_out_cookie(state: &AppState) -> Option<HeaderValue> {
    let attrs = if secure(state) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{attrs}", cookie_name(state))).ok()
}

/// The form token of a session.
pub(crate) fn csrf_token(state: &AppState, sid: SessionId) -> String {
    mac(state, "csrf", sid).unwrap_or_default()
}

/// Whether `given` is the form token of `sid` (constant time).
pub(crate) fn csrf_ok(state: &AppState, sid: SessionId, given: &str) -> bool {
    mac(state, "csrf", sid).is_some_and(|t| bool::from(t.as_bytes().ct_eq(given.as_bytes())))
}

/// The session id of a well-formed, authentic cookie.
fn session_of(state: &AppState, headers: &HeaderMap) -> Option<SessionId> {
    let name = cookie_name(state);
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))?;
    let (sid, given) = value.split_once('.')?;
    let sid: SessionId = sid.parse().ok()?;
    let expected = mac(state, "session", sid)?;
    bool::from(expected.as_bytes().ct_eq(given.as_bytes())).then_some(sid)
}

/// Whether a state-changing request comes from the help desk's own pages: `Sec-Fetch-Site`
/// says so, or else `Origin` is the public URL's origin. Requests that carry neither (not a
/// browser) pass; browsers send at least one on every POST.
pub(crate) fn same_origin(state: &AppState, method: &Method, headers: &HeaderMap) -> bool {
    if method == Method::GET || method == Method::HEAD {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => origin == origin_of(&state.options().tokens.issuer),
        None => true,
    }
}

fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    url[after_scheme..].find('/').map_or(url, |i| &url[..after_scheme + i])
}

/// A signed-in page visitor: the principal and user as stored now, and the session.
#[derive(Debug, Clone)]
pub(crate) struct PageUser {
    pub principal: Principal,
    pub user: User,
    pub session: SessionId,
    /// Unread in-app notifications (the bell), read for pages (GET) only.
    pub unread: u64,
}

/// Why a page request has no [`PageUser`].
#[derive(Debug)]
pub(crate) enum NoSession {
    /// Go and sign in, then come back to `next`.
    SignIn { next: String },
    /// The store could not be asked.
    Unavailable,
    /// The account must choose a new password before anything else (the generated first
    /// admin password, an imported weak one).
    ChangePassword,
}

impl FromRequestParts<AppState> for PageUser {
    type Rejection = NoSession;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, NoSession> {
        let next = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let Some(sid) = session_of(state, &parts.headers) else { return Err(NoSession::SignIn { next }) };
        match state.desk().authenticate_session(sid).await {
            Ok((_, user)) if user.must_change_password && !matches!(parts.uri.path(), "/password" | "/sign-out") => {
                Err(NoSession::ChangePassword)
            }
            Ok((principal, user)) => {
                let unread = if parts.method == axum::http::Method::GET && parts.uri.path() != "/live" {
                    state.desk().unread_notices(&principal).await.unwrap_or(0)
                } else {
                    0
                };
                Ok(Self { principal, user, session: sid, unread })
            }
            Err(helpdesk_core::Error::Unavailable(_)) => Err(NoSession::Unavailable),
            Err(_) => Err(NoSession::SignIn { next }),
        }
    }
}

/// A local path to go back to after signing in (never another site).
pub(crate) fn local_path(next: &str) -> &str {
    let ok =
        next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") && !next.contains(['\r', '\n']);
    if ok { next } else { "/" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path("/tickets/TX0001"), "/tickets/TX0001");
        for bad in ["//evil.example", "https://evil.example", "/\\evil.example", "evil", "/a\r\nSet-Cookie: x"] {
            assert_eq!(local_path(bad), "/", "{bad}");
        }
    }

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert_eq!(origin_of("https://help.example.com/desk"), "https://help.example.com");
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }
}
