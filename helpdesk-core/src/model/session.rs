//! Sessions (refresh-token families) and single-use tokens, all stored as hashes.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::{SessionId, UserId};

/// SHA-256 of a secret token; the secret itself is never stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TokenHash(#[serde(with = "hex32")] pub [u8; 32]);

impl TokenHash {
    /// Hashes a presented secret.
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }
    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
    /// Parses lower-case hex.
    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            let hex = std::str::from_utf8(chunk).ok()?;
            out[i] = u8::from_str_radix(hex, 16).ok()?;
        }
        Some(Self(out))
    }
    /// Constant-time comparison.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        use subtle::ConstantTimeEq;
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", &self.to_hex()[..8])
    }
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::TokenHash(*v).to_hex())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        super::TokenHash::from_hex(&s).map(|h| h.0).ok_or_else(|| serde::de::Error::custom("bad token hash"))
    }
}

/// A login session. Its refresh tokens form one family: rotation replaces the current hash;
/// presenting an older one revokes the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Id (the `sid` claim of access tokens).
    pub id: SessionId,
    /// The user the session belongs to.
    pub user: UserId,
    /// Hash of the refresh token that may be used next.
    pub refresh_hash: TokenHash,
    /// When the user signed in.
    pub created_at: DateTime<Utc>,
    /// Last refresh (or creation).
    pub last_used_at: DateTime<Utc>,
    /// Ends if not refreshed before this.
    pub idle_expires_at: DateTime<Utc>,
    /// Ends at this time whatever happens.
    pub absolute_expires_at: DateTime<Utc>,
    /// Set when revoked (logout, reuse, password change, deactivation).
    pub revoked_at: Option<DateTime<Utc>>,
    /// The client's address at sign-in, if known (shown to the user among their sessions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl Session {
    /// True while neither revoked nor expired at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.idle_expires_at && now < self.absolute_expires_at
    }
}

/// What a single-use token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPurpose {
    /// Password reset ("forgot password").
    PasswordReset,
    /// Set-password invitation of an admin-created user.
    Invitation,
}

/// A single-use token (reset or invitation), stored by hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneTimeToken {
    /// SHA-256 of the mailed secret.
    pub hash: TokenHash,
    /// What the token is for (reset or invitation); a token is only accepted for its purpose.
    pub purpose: TokenPurpose,
    /// Whose password it sets.
    pub user: UserId,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// Not valid from this time on.
    pub expires_at: DateTime<Utc>,
    /// Set once used.
    pub used_at: Option<DateTime<Utc>>,
}
