//! Who hears of what in the app (the bell): [`helpdesk_core::notices_for`], the rules the
//! commit path derives notices from.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use helpdesk_core::domain::{CommentId, EventId, TicketStatus, UserId};
use helpdesk_core::model::{ActorRef, EventKind, FieldChange, HistoryEvent, NoticeKind};
use helpdesk_core::notices_for;

fn event(by: UserId, kind: EventKind, internal: bool) -> HistoryEvent {
    HistoryEvent {
        id: EventId::random(),
        ticket: helpdesk_core::domain::TicketId::random(),
        at: helpdesk_core::testing::fixtures::t0(),
        actor: ActorRef::User { id: by },
        kind,
        changes: Vec::new(),
        note: None,
        internal,
        version: 2,
        by_macro: None,
    }
}

/// Followers hear what the requester hears (never of internal events, nor of their own
/// comment), and a follower's comment reaches the requester and the assignee.
#[test]
fn followers_hear_what_the_requester_hears() {
    let (requester, staff, follower) = (UserId::random(), UserId::random(), UserId::random());
    let mut t = helpdesk_core::testing::fixtures::ticket(1, requester, helpdesk_core::testing::fixtures::t0());
    t.assignee = Some(staff);
    t.followers = vec![follower];
    t.status = TicketStatus::Resolved;
    let comment = EventKind::Commented { comment: CommentId::random() };
    let by_staff = event(staff, comment.clone(), false);
    let got = notices_for(&t, &[&by_staff], &[]);
    assert!(got.contains(&(requester, NoticeKind::Commented)) && got.contains(&(follower, NoticeKind::Commented)));
    let mut resolved = event(staff, EventKind::Edited, false);
    resolved.changes.push(FieldChange::new("status", Some("in_progress".into()), Some("resolved".into())));
    let got = notices_for(&t, &[&resolved], &[]);
    assert!(got.contains(&(follower, NoticeKind::StatusChanged { status: TicketStatus::Resolved })));
    let internal = event(staff, comment.clone(), true);
    assert!(notices_for(&t, &[&internal], &[]).is_empty());
    let by_follower = event(follower, comment, false);
    let got = notices_for(&t, &[&by_follower], &[]);
    assert!(got.contains(&(requester, NoticeKind::Commented)) && got.contains(&(staff, NoticeKind::Commented)));
    assert!(!got.iter().any(|(u, _)| *u == follower), "nobody hears of their own comment");
}

/// A follower's open pages hear of the public changes of the tickets they follow, and stop
/// hearing once removed (the change carries the followers after it).
#[test]
fn a_follower_hears_of_public_changes_only_while_following() {
    use helpdesk_core::policy::{Principal, UserPrincipal};
    use helpdesk_core::ports::Change;
    let follower = UserId::random();
    let change = |followers: Vec<UserId>, internal| Change::Ticket {
        id: helpdesk_core::domain::TicketId::random(),
        number: "TX0001".into(),
        requester: UserId::random(),
        followers,
        version: 2,
        internal,
    };
    let viewer = Principal::User(UserPrincipal {
        id: follower,
        role: helpdesk_core::domain::Role::Employee,
        department: None,
        session: None,
    });
    assert!(change(vec![follower], false).visible_to(&viewer));
    assert!(!change(vec![follower], true).visible_to(&viewer), "internal changes stay with staff");
    assert!(!change(Vec::new(), false).visible_to(&viewer), "removed: nothing more");
}
