//! Satisfaction ratings (CSAT) through the use cases, on the in-memory store: the resolution
//! mail carries a signed link; the link rates that ticket once, answers a fresh one, and is
//! refused when reused, moved to another ticket, tampered with, expired, or after a reopen;
//! staff and the requester see the rating, other employees never; the report counts it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use helpdesk_core::domain::{Priority, TicketNumber};
use helpdesk_core::lifecycle::Action;
use helpdesk_core::model::{EventKind, NotificationKind, OutboxPayload, OutboxState, Rating, Ticket};
use helpdesk_core::policy::Principal;
use helpdesk_core::ports::PageSize;
use helpdesk_core::testing::ManualClock;
use helpdesk_core::{ActionRequest, Error, HelpDesk, HelpDeskOptions, LinkKey, NewTicket, RatingLinkRefusal};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

struct Desk {
    desk: HelpDesk,
    clock: Arc<ManualClock>,
    admin: Principal,
    emp: Principal,
    other: Principal,
}

async fn desk() -> Desk {
    use helpdesk_core::password::{Argon2Hasher, Argon2Options, Password};
    use helpdesk_core::testing::InMemoryStore;
    use helpdesk_core::{BootstrapAdmin, LoginRequest, Registration};

    let clock = ManualClock::new(at("2026-06-01T08:00:00Z"));
    let mut options = HelpDeskOptions::default();
    options.satisfaction.link_key = Some(LinkKey::derive(b"a test secret that is long enough!"));
    let desk = HelpDesk::builder(Arc::new(InMemoryStore::new()), Arc::new(object_store::memory::InMemory::new()))
        .clock(clock.clone())
        .hasher(Arc::new(Argon2Hasher::new(Argon2Options::insecure_fast_for_tests()).unwrap()))
        .options(options)
        .build()
        .unwrap();
    let pw = "harbor-lantern-quartz-71";
    desk.ensure_admin(BootstrapAdmin {
        email: "admin@example.com".into(),
        password: Some(Password::new(pw)),
        first_name: "Ada".into(),
        last_name: "Admin".into(),
    })
    .await
    .unwrap();
    let login = |email: &str| LoginRequest { email: email.into(), password: Password::new(pw), address: None };
    let s = desk.login(login("admin@example.com")).await.unwrap();
    let admin = desk.authenticate_session(s.session.id).await.unwrap().0;
    let mut employees = Vec::new();
    for (n, email) in ["emp@example.com", "other@example.com"].iter().enumerate() {
        let u = desk
            .register(
                &Principal::Anonymous,
                Registration {
                    email: (*email).into(),
                    password: Password::new(pw),
                    first_name: "Emp".into(),
                    middle_name: None,
                    last_name: "Loyee".into(),
                    suffix: None,
                    company_id: format!("MA010{n}"),
                    department: Some("it".into()),
                    accepted_terms: None,
                    avatar: None,
                },
            )
            .await
            .unwrap();
        desk.approve_user(&admin, u.id, None).await.unwrap();
        let s = desk.login(login(email)).await.unwrap();
        employees.push(desk.authenticate_session(s.session.id).await.unwrap().0);
    }
    let other = employees.pop().unwrap();
    let emp = employees.pop().unwrap();
    Desk { desk, clock, admin, emp, other }
}

impl Desk {
    /// A ticket of `emp`'s, approved, claimed and resolved by the admin.
    async fn resolved(&self, subject: &str) -> Ticket {
        let d = &self.desk;
        let t = d
            .create_ticket(
                &self.emp,
                NewTicket {
                    subject: subject.into(),
                    category: "hardware".into(),
                    sub_category: "laptop".into(),
                    description: "Details".into(),
                    scheduled_date: None,
                    fields: Default::default(),
                },
                None,
            )
            .await
            .unwrap();
        let approve =
            ActionRequest { priority: Some(Priority::High), department: Some("it".into()), ..ActionRequest::default() };
        d.act(&self.admin, &t.number, Action::Approve, approve, None).await.unwrap();
        d.act(&self.admin, &t.number, Action::Claim, ActionRequest::default(), None).await.unwrap();
        let resolve = ActionRequest { text: Some("Replaced the dock.".into()), ..ActionRequest::default() };
        d.act(&self.admin, &t.number, Action::Resolve, resolve, None).await.unwrap()
    }

    /// The rating token of the newest resolution mail about `number`.
    async fn mailed_token(&self, number: &TicketNumber) -> Option<String> {
        let page = self
            .desk
            .store()
            .list_outbox(OutboxState::Pending, None, PageSize::new(PageSize::MAX).unwrap())
            .await
            .unwrap();
        page.items.iter().rev().find_map(|r| match &r.message.payload {
            OutboxPayload::Mail(n) => match &n.kind {
                NotificationKind::TicketResolved { ticket, rating: Some(link), .. }
                    if ticket.number == number.to_string() =>
                {
                    Some(link.token.expose().to_owned())
                }
                _ => None,
            },
            _ => None,
        })
    }
}

fn refusal(e: Error) -> RatingLinkRefusal {
    match e {
        Error::RatingLink(r) => r,
        other => panic!("expected a refused link, got {other:?}"),
    }
}

#[tokio::test]
async fn a_link_rates_its_ticket_once_and_answers_a_fresh_one_that_changes_the_rating() {
    let d = desk().await;
    let t = d.resolved("Dock flickers").await;
    let token = d.mailed_token(&t.number).await.expect("the resolution mail asks for a rating");
    let invite = d.desk.rating_invite(&t.number, &token).await.unwrap();
    assert_eq!((invite.current.as_ref(), invite.expires_at), (None, d.desk.now() + Duration::days(14)));

    let first = d.desk.rate_ticket(&t.number, &token, "good", Some("  Fast and friendly.  ")).await.unwrap();
    let rated = first.invite.current.clone().unwrap();
    assert_eq!(rated.rating, Rating::Good);
    assert_eq!(rated.comment.as_ref().map(|c| c.as_str()), Some("Fast and friendly."));
    assert_eq!(first.next.expires_at, invite.expires_at, "changing keeps the original expiry");

    // Reused: refused, nothing changed.
    let reused = d.desk.rate_ticket(&t.number, &token, "bad", None).await.unwrap_err();
    assert_eq!(refusal(reused), RatingLinkRefusal::Used);
    assert_eq!(refusal(d.desk.rating_invite(&t.number, &token).await.unwrap_err()), RatingLinkRefusal::Used);

    // The fresh link changes the rating; one rating per ticket.
    d.clock.advance(Duration::hours(1));
    let second = d.desk.rate_ticket(&t.number, first.next.token.expose(), "bad", Some("It broke again")).await.unwrap();
    let stored = d.desk.ticket(&d.admin, &t.number).await.unwrap().ticket;
    let s = stored.satisfaction.clone().unwrap();
    assert_eq!((s.rating, s.ratings, s.rated_at), (Rating::Bad, 2, d.desk.now()));
    assert_eq!(second.invite.current, Some(s));

    // History: one staff-only event per rating, the comment as its note.
    let history = d.desk.store().history(stored.id).await.unwrap();
    let rated: Vec<_> = history.iter().filter(|e| matches!(e.kind, EventKind::Rated { .. })).collect();
    assert_eq!(rated.len(), 2);
    assert!(rated.iter().all(|e| e.internal && e.actor.user() == Some(stored.requester)));
    assert_eq!(rated[1].note.as_deref(), Some("It broke again"));
    assert_eq!(rated[1].changes[0].old.as_deref(), Some("good"));

    // The assignee is told in the app.
    let notices = d.desk.notices(&d.admin, 10).await.unwrap();
    assert_eq!(notices[0].kind, helpdesk_core::model::NoticeKind::Rated { rating: Rating::Bad });
}

#[tokio::test]
async fn another_tickets_link_a_tampered_one_and_garbage_are_refused() {
    let d = desk().await;
    let a = d.resolved("First").await;
    let b = d.resolved("Second").await;
    let token_a = d.mailed_token(&a.number).await.unwrap();
    // A's link on B's address.
    assert_eq!(
        refusal(d.desk.rate_ticket(&b.number, &token_a, "good", None).await.unwrap_err()),
        RatingLinkRefusal::Invalid
    );
    // One character changed anywhere in the token.
    for i in [0, token_a.len() / 2, token_a.len() - 1] {
        let mut bytes = token_a.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            refusal(d.desk.rate_ticket(&a.number, &tampered, "good", None).await.unwrap_err()),
            RatingLinkRefusal::Invalid,
            "position {i}"
        );
    }
    for garbage in ["", "x", "%00", &"A".repeat(5000)] {
        assert_eq!(refusal(d.desk.rating_invite(&a.number, garbage).await.unwrap_err()), RatingLinkRefusal::Invalid);
    }
    assert!(d.desk.store().ticket(a.id).await.unwrap().unwrap().satisfaction.is_none(), "nothing was recorded");
    assert!(d.desk.rate_ticket(&a.number, &token_a, "good", None).await.is_ok(), "the real link still works");
}

#[tokio::test]
async fn a_link_expires_and_dies_when_the_ticket_is_reopened() {
    let d = desk().await;
    let t = d.resolved("Printer").await;
    let token = d.mailed_token(&t.number).await.unwrap();
    d.desk
        .act(
            &d.emp,
            &t.number,
            Action::Reopen,
            ActionRequest { text: Some("Still jams".into()), ..Default::default() },
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        refusal(d.desk.rate_ticket(&t.number, &token, "good", None).await.unwrap_err()),
        RatingLinkRefusal::Reopened
    );
    // Resolved again: a new mail with a new link; the expiry runs from this resolution.
    let resolve = ActionRequest { text: Some("New drum.".into()), ..ActionRequest::default() };
    d.desk.act(&d.admin, &t.number, Action::Resolve, resolve, None).await.unwrap();
    let token = d.mailed_token(&t.number).await.unwrap();
    d.clock.advance(Duration::days(14) - Duration::seconds(1));
    assert!(d.desk.rating_invite(&t.number, &token).await.is_ok(), "valid to the last second");
    d.clock.advance(Duration::seconds(1));
    assert_eq!(
        refusal(d.desk.rate_ticket(&t.number, &token, "good", None).await.unwrap_err()),
        RatingLinkRefusal::Expired
    );
    assert!(d.desk.store().ticket(t.id).await.unwrap().unwrap().satisfaction.is_none());
}

#[tokio::test]
async fn bad_input_names_its_field_and_records_nothing() {
    let d = desk().await;
    let t = d.resolved("Mouse").await;
    let token = d.mailed_token(&t.number).await.unwrap();
    let Err(Error::Validation(v)) = d.desk.rate_ticket(&t.number, &token, "great", Some(&"x".repeat(5001))).await
    else {
        panic!("expected a validation error")
    };
    let fields: Vec<&str> = v.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["rating", "comment"]);
    assert!(d.desk.store().ticket(t.id).await.unwrap().unwrap().satisfaction.is_none());
    assert!(d.desk.rate_ticket(&t.number, &token, "good", Some("")).await.is_ok(), "the link is still unused");
}

#[tokio::test]
async fn two_uses_of_one_link_at_once_record_one_rating() {
    let d = desk().await;
    let t = d.resolved("Race").await;
    let token = d.mailed_token(&t.number).await.unwrap();
    let (a, b) = tokio::join!(
        d.desk.rate_ticket(&t.number, &token, "good", None),
        d.desk.rate_ticket(&t.number, &token, "bad", None)
    );
    let outcomes = [a.is_ok(), b.is_ok()];
    assert_eq!(outcomes.iter().filter(|ok| **ok).count(), 1, "exactly one use wins: {outcomes:?}");
    let loser = match (a, b) {
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => e,
        other => panic!("expected one winner, got {other:?}"),
    };
    assert_eq!(refusal(loser), RatingLinkRefusal::Used);
    assert_eq!(d.desk.store().ticket(t.id).await.unwrap().unwrap().satisfaction.unwrap().ratings, 1);
}

#[tokio::test]
async fn staff_and_the_requester_see_the_rating_and_nobody_else_does() {
    let d = desk().await;
    let t = d.resolved("Keyboard").await;
    let token = d.mailed_token(&t.number).await.unwrap();
    d.desk.rate_ticket(&t.number, &token, "bad", Some("Took a week")).await.unwrap();
    let staff = d.desk.ticket(&d.admin, &t.number).await.unwrap();
    assert_eq!(staff.ticket.satisfaction.as_ref().map(|s| s.rating), Some(Rating::Bad));
    let own = d.desk.ticket(&d.emp, &t.number).await.unwrap();
    assert!(own.ticket.satisfaction.is_some(), "the requester sees their own rating");
    assert!(d.desk.ticket(&d.other, &t.number).await.is_err(), "another employee cannot see the ticket at all");
    // The staff-only history event is not in the requester's thread.
    let thread = d.desk.ticket_thread(&d.emp, &t.number).await.unwrap();
    assert!(thread.history.iter().all(|e| !matches!(e.kind, EventKind::Rated { .. })));
    let staff_thread = d.desk.ticket_thread(&d.admin, &t.number).await.unwrap();
    assert!(staff_thread.history.iter().any(|e| matches!(e.kind, EventKind::Rated { .. })));
}

#[tokio::test]
async fn without_a_link_key_nobody_is_asked() {
    let (desk, admin) = helpdesk_core::testing::desk_with_admin(
        Arc::new(helpdesk_core::testing::InMemoryStore::new()),
        ManualClock::default_start(),
    )
    .await;
    assert!(desk.options().satisfaction.link_key.is_none());
    let report = desk.satisfaction_report(&admin, None).await.unwrap();
    assert_eq!((report.overall.good, report.overall.bad, report.overall.score_per_mille), (0, 0, None));
}

#[tokio::test]
async fn the_report_scores_ratings_by_department_and_assignee() {
    let d = desk().await;
    let mut tickets = Vec::new();
    for (subject, rating) in [("One", "good"), ("Two", "good"), ("Three", "bad")] {
        let t = d.resolved(subject).await;
        let token = d.mailed_token(&t.number).await.unwrap();
        d.desk.rate_ticket(&t.number, &token, rating, Some(subject)).await.unwrap();
        tickets.push(t);
    }
    d.resolved("Unrated").await;
    let report = d.desk.satisfaction_report(&d.admin, None).await.unwrap();
    assert_eq!((report.overall.good, report.overall.bad, report.overall.score_per_mille), (2, 1, Some(666)));
    assert_eq!((report.resolved, report.response_percent), (4, Some(75)));
    assert_eq!(report.by_department["it"].good, 2);
    let assignee = tickets[0].assignee.unwrap().to_string();
    assert_eq!(report.by_assignee[&assignee].bad, 1);
    assert_eq!(report.ratings.len(), 3);
    assert!(matches!(d.desk.satisfaction_report(&d.emp, None).await, Err(Error::Forbidden(_))));
}
