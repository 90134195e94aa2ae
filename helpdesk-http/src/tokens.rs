//! Access tokens: short-lived JWTs with one fixed algorithm (HS256) and every claim of SPEC §3
//! required and checked. A token only names a session; the session row is re-read in storage
//! on every request, so logout, deactivation, role and password changes act at once on every
//! instance. Refresh tokens are opaque and never JWTs, so an access token presented as a
//! refresh token is simply unknown.

mod verified;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use helpdesk_core::AuthFailure;
use helpdesk_core::domain::{SessionId, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use self::verified::{Times, VerifiedTokens};
use crate::error::ApiError;

/// The one token type this server issues.
const ACCESS: &str = "access";
/// Clock skew tolerated between instances.
const LEEWAY_SECS: i64 = 5;

/// Settings of the token signer.
#[derive(Clone)]
pub struct TokenOptions {
    /// HMAC secret (at least 32 bytes).
    pub secret: Vec<u8>,
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// Lifetime of an access token.
    pub access_ttl: Duration,
}

impl TokenOptions {
    /// Options signing with `secret` (at least 32 random bytes; keep it out of source code)
    /// for tokens issued by `issuer` (the public URL), with audience `helpdesk-api` and the
    /// 15-minute access lifetime of SPEC §11.
    pub fn new(secret: impl Into<Vec<u8>>, issuer: impl Into<String>) -> Self {
        Self {
            secret: secret.into(),
            issuer: issuer.into(),
            audience: "helpdesk-api".into(),
            access_ttl: Duration::minutes(15),
        }
    }
}

impl fmt::Debug for TokenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenOptions")
            .field("secret", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_ttl", &self.access_ttl)
            .finish()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    exp: i64,
    nbf: i64,
    iat: i64,
    jti: String,
    typ: String,
    sid: String,
}

/// What a valid access token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user.
    pub user: UserId,
    /// The session to re-check in storage.
    pub session: SessionId,
}

/// Signs and verifies access tokens.
#[derive(Clone)]
pub struct TokenSigner {
    options: TokenOptions,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Tokens lately verified, shared by the signer's clones (see [`verified`]).
    verified: Arc<VerifiedTokens>,
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSigner").field("options", &self.options).finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// A signer for `options`.
    pub fn new(options: TokenOptions) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[&options.audience]);
        validation.set_issuer(&[&options.issuer]);
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS.unsigned_abs();
        Self {
            encoding: EncodingKey::from_secret(&options.secret),
            decoding: DecodingKey::from_secret(&options.secret),
            validation,
            verified: Arc::new(VerifiedTokens::new(VerifiedTokens::SLOTS)),
            options,
        }
    }

    /// Lifetime of the tokens this signer issues.
    pub fn access_ttl(&self) -> Duration {
        self.options.access_ttl
    }

    /// An access token for `user` in `session`, issued at `now`.
    ///
    /// # Errors
    /// Only if signing fails (it does not with an HMAC key).
    pub fn issue(&self, user: UserId, session: SessionId, now: DateTime<Utc>) -> Result<String, ApiError> {
        let iat = now.timestamp();
        let claims = Claims {
            iss: self.options.issuer.clone(),
            aud: self.options.audience.clone(),
            sub: user.to_string(),
            exp: iat + self.options.access_ttl.num_seconds(),
            nbf: iat,
            iat,
            jti: uuid::Uuid::new_v4().to_string(),
            typ: ACCESS.to_owned(),
            sid: session.to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| helpdesk_core::Error::Internal(format!("signing a token: {e}")).into())
    }

    /// Verifies `token` at `now`: signature, algorithm, `exp`, `nbf`, `iat` (not in the
    /// future), `aud`, `iss`, `jti`, token type and ids. A token this signer verified lately
    /// is recognised by its bytes and only its times are checked again.
    ///
    /// # Errors
    /// 401 `auth.invalid_token` for anything wrong (the reason goes to the debug log only).
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, ApiError> {
        let invalid = |why: &str| {
            tracing::debug!(reason = why, "access token refused");
            ApiError::unauthenticated(AuthFailure::InvalidToken)
        };
        if let Some((claims, times)) = self.verified.get(token) {
            if times.current(now.timestamp(), LEEWAY_SECS) {
                return Ok(claims);
            }
            return Err(invalid("expired or not yet valid"));
        }
        let (claims, times) = self.verify_afresh(token, now).map_err(|why| invalid(&why))?;
        self.verified.insert(token, claims, times);
        Ok(claims)
    }

    /// Every check of [`Self::verify`] on the token's text; the reason when it fails.
    fn verify_afresh(&self, token: &str, now: DateTime<Utc>) -> Result<(AccessClaims, Times), Cow<'static, str>> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| Cow::Owned(e.to_string()))?;
        let c = data.claims;
        if c.typ != ACCESS {
            return Err("wrong token type".into());
        }
        if c.iat > now.timestamp() + LEEWAY_SECS || c.iat > c.exp || c.nbf < c.iat - LEEWAY_SECS {
            return Err("issued in the future or inconsistent times".into());
        }
        if c.exp - c.iat > self.options.access_ttl.num_seconds() + LEEWAY_SECS {
            return Err("lifetime longer than this server issues".into());
        }
        let times = Times { iat: c.iat, nbf: c.nbf, exp: c.exp };
        if !times.current(now.timestamp(), LEEWAY_SECS) {
            return Err("expired or not yet valid".into());
        }
        if uuid::Uuid::parse_str(&c.jti).is_err() {
            return Err("bad jti".into());
        }
        let user = c.sub.parse::<UserId>().map_err(|_| Cow::Borrowed("bad sub"))?;
        let session = c.sid.parse::<SessionId>().map_err(|_| Cow::Borrowed("bad sid"))?;
        Ok((AccessClaims { user, session }, times))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use base64::Engine as _;

    use super::*;

    fn signer() -> TokenSigner {
        TokenSigner::new(TokenOptions {
            secret: b"0123456789abcdef0123456789abcdef".to_vec(),
            issuer: "helpdesk".into(),
            audience: "helpdesk-api".into(),
            access_ttl: Duration::minutes(15),
        })
    }

    #[test]
    fn a_fresh_token_verifies_and_names_its_session() {
        let s = signer();
        let (u, sid) = (UserId::random(), SessionId::random());
        let t = s.issue(u, sid, Utc::now()).unwrap();
        assert_eq!(s.verify(&t, Utc::now()).unwrap(), AccessClaims { user: u, session: sid });
    }

    #[test]
    fn expired_tampered_alg_none_and_foreign_tokens_are_refused() {
        let s = signer();
        let now = Utc::now();
        let expired = s.issue(UserId::random(), SessionId::random(), now - Duration::hours(1)).unwrap();
        assert!(s.verify(&expired, now).is_err());

        let good = s.issue(UserId::random(), SessionId::random(), now).unwrap();
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: serde_json::Value = serde_json::from_slice(&b64.decode(&parts[1]).unwrap()).unwrap();
        claims["sub"] = serde_json::json!(UserId::random().to_string());
        parts[1] = b64.encode(serde_json::to_vec(&claims).unwrap());
        assert!(s.verify(&parts.join("."), now).is_err(), "tampered payload");

        let none_header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(s.verify(&format!("{none_header}.{}.", parts[1]), now).is_err(), "alg none");

        let other =
            TokenSigner::new(TokenOptions { secret: b"another-secret-another-secret-xx".to_vec(), ..signer().options });
        assert!(s.verify(&other.issue(UserId::random(), SessionId::random(), now).unwrap(), now).is_err());

        let future = s.issue(UserId::random(), SessionId::random(), now + Duration::minutes(5)).unwrap();
        assert!(s.verify(&future, now).is_err(), "not yet valid");
    }

    #[test]
    fn a_remembered_token_is_still_judged_by_its_times_and_its_every_byte() {
        let s = signer();
        let now = Utc::now();
        let (u, sid) = (UserId::random(), SessionId::random());
        let t = s.issue(u, sid, now).unwrap();
        assert_eq!(s.verify(&t, now).unwrap(), AccessClaims { user: u, session: sid });
        assert_eq!(s.clone().verify(&t, now).unwrap(), AccessClaims { user: u, session: sid }, "clones share it");
        assert!(s.verify(&t, now + Duration::minutes(16)).is_err(), "expired since");
        assert!(s.verify(&t, now - Duration::minutes(1)).is_err(), "not valid yet at that time");
        assert!(s.verify(&t, now + Duration::minutes(14)).is_ok());
        let mut forged = t.clone().into_bytes();
        let i = forged.len() - 5; // inside the signature
        forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
        assert!(s.verify(&String::from_utf8(forged).unwrap(), now).is_err(), "one byte changed");
        let other =
            TokenSigner::new(TokenOptions { secret: b"another-secret-another-secret-xx".to_vec(), ..signer().options });
        assert!(other.verify(&t, now).is_err(), "another secret has its own memory");
    }

    #[test]
    fn missing_or_wrong_claims_are_refused() {
        let s = signer();
        let now = Utc::now().timestamp();
        let key = EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef");
        let base = serde_json::json!({
            "iss": "helpdesk", "aud": "helpdesk-api", "sub": UserId::random().to_string(),
            "exp": now + 600, "nbf": now, "iat": now, "jti": uuid::Uuid::new_v4().to_string(),
            "typ": "access", "sid": SessionId::random().to_string()
        });
        let sign = |v: &serde_json::Value| jsonwebtoken::encode(&Header::new(Algorithm::HS256), v, &key).unwrap();
        assert!(s.verify(&sign(&base), Utc::now()).is_ok());
        for claim in ["iss", "aud", "sub", "exp", "nbf", "iat", "jti", "typ", "sid"] {
            let mut v = base.clone();
            v.as_object_mut().unwrap().remove(claim);
            assert!(s.verify(&sign(&v), Utc::now()).is_err(), "missing {claim}");
        }
        for (claim, bad) in
            [("typ", serde_json::json!("refresh")), ("aud", "other".into()), ("exp", "9999999999".into())]
        {
            let mut v = base.clone();
            v[claim] = bad;
            assert!(s.verify(&sign(&v), Utc::now()).is_err(), "bad {claim}");
        }
    }
}
