//! The access tokens this process has lately verified. A client sends the same token on every
//! request of its 15-minute life, and checking it (base64, two JSON documents, the HMAC) was a
//! tenth of an authenticated read's cost on sled (BENCHMARKS.md). A token found here skips that
//! work and nothing else: its bytes are compared in full with the ones that passed, its times
//! are checked against the clock again on every hit, and the session it names is still read
//! from storage on every request, so logout and deactivation act at the next request as before.
//!
//! The memory is a fixed array of slots, a token's slot chosen by a keyed hash of it: bounded
//! whatever clients send (only tokens that verified with this process's secret enter it), and a
//! newer token simply takes the slot of an older one.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::sync::Mutex;

use subtle::ConstantTimeEq as _;

use super::AccessClaims;

/// The times of a verified token that must be checked again at every use (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Times {
    pub(super) iat: i64,
    pub(super) nbf: i64,
    pub(super) exp: i64,
}

impl Times {
    /// Whether the token is current at `now` with `leeway` seconds of clock skew, as the first
    /// verification judged it: not expired, not before its `nbf`, not issued in the future.
    pub(super) fn current(&self, now: i64, leeway: i64) -> bool {
        now <= self.exp + leeway && self.nbf <= now + leeway && self.iat <= now + leeway
    }
}

struct Slot {
    token: Box<str>,
    claims: AccessClaims,
    times: Times,
}

/// Recently verified tokens, in a fixed number of slots.
pub(super) struct VerifiedTokens {
    slots: Box<[Mutex<Option<Slot>>]>,
    hasher: RandomState,
}

impl VerifiedTokens {
    /// Slots for the tokens of about as many clients at once (each slot holds one token,
    /// about 300 bytes).
    pub(super) const SLOTS: usize = 1024;

    /// A memory of `slots` tokens (at least one).
    pub(super) fn new(slots: usize) -> Self {
        Self { slots: (0..slots.max(1)).map(|_| Mutex::new(None)).collect(), hasher: RandomState::new() }
    }

    fn slot(&self, token: &str) -> Option<&Mutex<Option<Slot>>> {
        let i = self.hasher.hash_one(token) as usize % self.slots.len();
        self.slots.get(i)
    }

    /// The claims and times of `token` if it is the token a slot holds.
    pub(super) fn get(&self, token: &str) -> Option<(AccessClaims, Times)> {
        let slot = self.slot(token)?.lock().ok()?;
        // In constant time, so how long a comparison takes says nothing of the token a slot holds.
        slot.as_ref().filter(|s| bool::from(s.token.as_bytes().ct_eq(token.as_bytes()))).map(|s| (s.claims, s.times))
    }

    /// Remembers `token`, which has just verified, in place of its slot's token.
    pub(super) fn insert(&self, token: &str, claims: AccessClaims, times: Times) {
        if let Some(mut slot) = self.slot(token).and_then(|s| s.lock().ok()) {
            *slot = Some(Slot { token: token.into(), claims, times });
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use helpdesk_core::domain::{SessionId, UserId};

    use super::*;

    fn claims() -> AccessClaims {
        AccessClaims { user: UserId::random(), session: SessionId::random() }
    }

    const T: Times = Times { iat: 1_000, nbf: 1_000, exp: 1_900 };

    #[test]
    fn a_token_is_found_only_by_its_exact_bytes() {
        let v = VerifiedTokens::new(16);
        let c = claims();
        v.insert("aaa.bbb.ccc", c, T);
        assert_eq!(v.get("aaa.bbb.ccc"), Some((c, T)));
        assert_eq!(v.get("aaa.bbb.ccd"), None);
        assert_eq!(v.get("aaa.bbb.cc"), None);
    }

    #[test]
    fn tokens_sharing_a_slot_replace_each_other_and_never_mix() {
        let v = VerifiedTokens::new(1);
        let (a, b) = (claims(), claims());
        v.insert("token-a", a, T);
        v.insert("token-b", b, T);
        assert_eq!(v.get("token-a"), None);
        assert_eq!(v.get("token-b"), Some((b, T)));
        v.insert("token-a", a, T);
        assert_eq!(v.get("token-a"), Some((a, T)));
        assert_eq!(v.get("token-b"), None);
    }

    #[test]
    fn times_are_judged_with_the_leeway() {
        assert!(T.current(1_000, 5));
        assert!(T.current(1_905, 5));
        assert!(!T.current(1_906, 5), "expired");
        assert!(T.current(995, 5));
        assert!(!T.current(994, 5), "not yet valid, or issued in the future");
    }
}
