//! Decisions every store must make the same way, as pure functions the stores call (STYLE §25):
//! a store keeps the records, core decides what happens to them. A third-party store that calls
//! these implements storage, not policy, and cannot drift from the others.
//!
//! - [`decide_refresh`]: refresh-token rotation and reuse detection (SPEC §3, §11).
//! - [`ticket_counter_keys`], [`user_counter_keys`] and [`add_to_summary`]: the keys of the
//!   summary counters a store keeps beside its records so that the summary report does not scan
//!   every ticket, and how they read back into a [`Summary`].
//! - [`IdempotencyState::answer`](super::IdempotencyState::answer): what a replayed
//!   idempotency key gets.

use chrono::{DateTime, Utc};

use super::RefreshOutcome;
use crate::model::{Session, Ticket, TokenHash, User};
use crate::report::Summary;

/// What a store must do with a presented refresh token it found, and answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshDecision {
    /// Rotate: store this session (new refresh hash, last use, idle expiry), mark the presented
    /// token used and store `next` unused for the same session, all atomically; answer
    /// [`RefreshOutcome::Rotated`].
    Rotate(Session),
    /// The token was used before: the whole session family ends. Store `revoked` when it is
    /// `Some` (the session was still live) and answer `outcome` ([`RefreshOutcome::Reused`]).
    Revoke {
        /// The session with `revoked_at` set, when it changed.
        revoked: Option<Session>,
        /// The answer.
        outcome: RefreshOutcome,
    },
    /// The session is revoked or expired: change nothing; answer [`RefreshOutcome::Ended`].
    Ended,
}

impl RefreshDecision {
    /// The answer the store returns once it has applied the decision.
    pub fn outcome(&self) -> RefreshOutcome {
        match self {
            Self::Rotate(s) => RefreshOutcome::Rotated(s.clone()),
            Self::Revoke { outcome, .. } => outcome.clone(),
            Self::Ended => RefreshOutcome::Ended,
        }
    }
}

/// Decides what presenting a refresh token does, given the session it belongs to and whether
/// it was used before. `next` is the hash of the token that replaces it; `idle_expires_at` the
/// new idle end (capped by the session's absolute end). A store that finds no token (or no
/// session) answers [`RefreshOutcome::Unknown`] without calling this.
///
/// Reuse of a used token revokes the session whatever its state (no grace window): of two
/// concurrent presentations, the store's atomicity lets one rotate, and the other then sees
/// the token used.
pub fn decide_refresh(
    mut session: Session,
    presented_was_used: bool,
    next: TokenHash,
    now: DateTime<Utc>,
    idle_expires_at: DateTime<Utc>,
) -> RefreshDecision {
    if presented_was_used {
        let outcome = RefreshOutcome::Reused { session: session.id, user: session.user };
        let revoked = session.revoked_at.is_none().then(|| {
            session.revoked_at = Some(now);
            session
        });
        return RefreshDecision::Revoke { revoked, outcome };
    }
    if !session.is_live(now) {
        return RefreshDecision::Ended;
    }
    session.refresh_hash = next;
    session.last_used_at = now;
    session.idle_expires_at = idle_expires_at.min(session.absolute_expires_at);
    RefreshDecision::Rotate(session)
}

/// The summary counters a ticket contributes one to: the total, its status, priority
/// (`untriaged` before triage), department (`none` before one is set), category and each of
/// its tags.
pub fn ticket_counter_keys(t: &Ticket) -> Vec<String> {
    let mut keys = vec![
        "t:total".to_owned(),
        format!("t:status:{}", t.status),
        format!("t:priority:{}", t.priority.map_or("untriaged".to_owned(), |p| p.to_string())),
        format!("t:department:{}", t.department.as_ref().map_or("none".to_owned(), |d| d.to_string())),
        format!("t:category:{}", t.category),
    ];
    keys.extend(t.tags.iter().map(|g| format!("t:tag:{g}")));
    keys
}

/// The summary counters a user contributes one to: their role and their status.
pub fn user_counter_keys(u: &User) -> [String; 2] {
    [format!("u:role:{}", u.role), format!("u:status:{}", u.status)]
}

/// Adds counter `key` (one of the keys above) with value `n` to `summary`; zero, negative and
/// unknown keys are left out.
pub fn add_to_summary(summary: &mut Summary, key: &str, n: i64) {
    let Ok(n) = u64::try_from(n) else { return };
    if n == 0 {
        return;
    }
    if key == "t:total" {
        summary.total_tickets = n;
        return;
    }
    let mut parts = key.splitn(3, ':');
    let (Some(kind), Some(dim), Some(value)) = (parts.next(), parts.next(), parts.next()) else { return };
    let map = match (kind, dim) {
        ("t", "status") => &mut summary.by_status,
        ("t", "priority") => &mut summary.by_priority,
        ("t", "department") => &mut summary.by_department,
        ("t", "category") => &mut summary.by_category,
        ("t", "tag") => &mut summary.by_tag,
        ("u", "role") => &mut summary.users_by_role,
        ("u", "status") => &mut summary.users_by_status,
        _ => return,
    };
    map.insert(value.to_owned(), n);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{SessionId, UserId};

    fn session(now: DateTime<Utc>) -> Session {
        Session {
            id: SessionId::random(),
            user: UserId::random(),
            refresh_hash: TokenHash([1; 32]),
            created_at: now,
            last_used_at: now,
            idle_expires_at: now + chrono::Duration::hours(24),
            absolute_expires_at: now + chrono::Duration::days(7),
            revoked_at: None,
            address: None,
        }
    }

    #[test]
    fn an_unused_token_of_a_live_session_rotates_within_the_absolute_end() {
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let s = session(now);
        let later = now + chrono::Duration::days(30);
        let RefreshDecision::Rotate(r) = decide_refresh(s.clone(), false, TokenHash([2; 32]), now, later) else {
            panic!("expected a rotation");
        };
        assert_eq!(r.refresh_hash, TokenHash([2; 32]));
        assert_eq!(r.idle_expires_at, s.absolute_expires_at, "never past the absolute end");
    }

    #[test]
    fn a_used_token_revokes_once_and_answers_reused() {
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let s = session(now);
        let d = decide_refresh(s.clone(), true, TokenHash([2; 32]), now, now);
        let RefreshDecision::Revoke { revoked: Some(r), outcome } = &d else { panic!("expected a revocation") };
        assert_eq!(r.revoked_at, Some(now));
        assert_eq!(outcome, &RefreshOutcome::Reused { session: s.id, user: s.user });
        let again = decide_refresh(r.clone(), true, TokenHash([3; 32]), now, now);
        assert!(matches!(again, RefreshDecision::Revoke { revoked: None, .. }), "already revoked: nothing to write");
    }

    #[test]
    fn an_ended_session_changes_nothing() {
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let mut s = session(now);
        s.revoked_at = Some(now);
        assert_eq!(decide_refresh(s, false, TokenHash([2; 32]), now, now), RefreshDecision::Ended);
    }

    #[test]
    fn counters_read_back_into_the_summary() {
        let mut s = Summary::default();
        for (k, n) in [
            ("t:total", 3),
            ("t:status:new", 2),
            ("t:priority:untriaged", 2),
            ("u:role:admin", 1),
            ("t:category:x", 0),
            ("junk", 5),
            ("t:status:open", -1),
        ] {
            add_to_summary(&mut s, k, n);
        }
        assert_eq!(s.total_tickets, 3);
        assert_eq!(s.by_status.get("new"), Some(&2));
        assert_eq!(s.by_priority.get("untriaged"), Some(&2));
        assert_eq!(s.users_by_role.get("admin"), Some(&1));
        assert!(s.by_category.is_empty() && !s.by_status.contains_key("open"));
    }
}
