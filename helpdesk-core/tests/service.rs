//! Use-case tests of the HelpDesk service over the in-memory store, a manual clock and
//! recording or mocked delivery ports: which mails and workflow messages each step enqueues,
//! and that internal content never reaches an employee.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use chrono::Duration;
use helpdesk_core::domain::{Role, TicketNumber, TicketStatus, UserId};
use helpdesk_core::lifecycle::{Action, Lifecycle, default_rules};
use helpdesk_core::model::{
    ApiScope, EventKind, NotificationKind, OutboxPayload, OutboxState, PasswordHash, User, WorkflowEventKind,
};
use helpdesk_core::password::{Argon2Hasher, Argon2Options, Password, PasswordHasher, Verification};
use helpdesk_core::policy::Principal;
use helpdesk_core::ports::{DeliveryError, OutboxStore, TicketQuery, UserStore};
use helpdesk_core::testing::{InMemoryStore, ManualClock, MockMailer, RecordingMailer, RecordingWorkflowSink};
use helpdesk_core::{
    ActionRequest, AuthFailure, BootstrapAdmin, Error, HelpDesk, HelpDeskOptions, LoginRequest, NewTicket, NewUser,
    OutboxDispatcher, Registration, TicketEdit, Upload,
};
use object_store::memory::InMemory;

/// Counts hashes and verifications, so tests can show an unknown email costs one.
#[derive(Debug)]
struct CountingHasher {
    inner: Argon2Hasher,
    verifications: AtomicUsize,
}

impl PasswordHasher for CountingHasher {
    fn hash(&self, p: &Password) -> Result<PasswordHash, String> {
        self.inner.hash(p)
    }
    fn verify(&self, p: &Password, h: &PasswordHash) -> Verification {
        self.verifications.fetch_add(1, Ordering::SeqCst);
        self.inner.verify(p, h)
    }
    fn verify_dummy(&self, p: &Password) {
        self.verifications.fetch_add(1, Ordering::SeqCst);
        self.inner.verify_dummy(p)
    }
}

struct Env {
    desk: HelpDesk,
    store: Arc<InMemoryStore>,
    clock: Arc<ManualClock>,
    hasher: Arc<CountingHasher>,
    admin: Principal,
}

const PW: &str = "harbor-lantern-quartz-71";

async fn env_with(lifecycle: Option<Lifecycle>, options: HelpDeskOptions) -> Env {
    let store = Arc::new(InMemoryStore::new());
    let clock = ManualClock::default_start();
    let hasher = Arc::new(CountingHasher {
        inner: Argon2Hasher::new(Argon2Options::insecure_fast_for_tests()).unwrap(),
        verifications: AtomicUsize::new(0),
    });
    let mut b = HelpDesk::builder(store.clone(), Arc::new(InMemory::new()))
        .clock(clock.clone())
        .hasher(hasher.clone())
        .options(options);
    if let Some(l) = lifecycle {
        b = b.lifecycle(l);
    }
    let desk = b.build().unwrap();
    desk.ensure_admin(BootstrapAdmin {
        email: "admin@example.com".into(),
        password: Some(Password::new(PW)),
        first_name: "Ada".into(),
        last_name: "Admin".into(),
    })
    .await
    .unwrap();
    let admin = login(&desk, "admin@example.com", PW).await;
    Env { desk, store, clock, hasher, admin }
}

async fn env() -> Env {
    env_with(None, HelpDeskOptions::default()).await
}

async fn login(desk: &HelpDesk, email: &str, pw: &str) -> Principal {
    let s = desk.login(LoginRequest { email: email.into(), password: Password::new(pw), address: None }).await.unwrap();
    desk.authenticate_session(s.session.id).await.unwrap().0
}

fn registration(n: u32) -> Registration {
    Registration {
        email: format!("emp{n}@example.com"),
        password: Password::new(PW),
        first_name: format!("Emp{n}"),
        middle_name: None,
        last_name: "Loyee".into(),
        suffix: None,
        company_id: format!("MA{:04}", 100 + n),
        department: Some("it".into()),
        accepted_terms: None,
        avatar: None,
    }
}

/// Registers and approves an employee, returns their principal.
async fn employee(e: &Env, n: u32) -> (Principal, User) {
    let u = e.desk.register(&Principal::Anonymous, registration(n)).await.unwrap();
    e.desk.approve_user(&e.admin, u.id, Some(1)).await.unwrap();
    let p = login(&e.desk, &format!("emp{n}@example.com"), PW).await;
    (p, u)
}

/// Creates an approved staff user through the admin route and sets a password by invitation.
async fn staff(e: &Env, n: u32, role: Role) -> (Principal, User) {
    let u = e
        .desk
        .create_user(
            &e.admin,
            NewUser {
                email: format!("staff{n}@example.com"),
                first_name: format!("Staff{n}"),
                middle_name: None,
                last_name: "Member".into(),
                suffix: None,
                company_id: None,
                department: Some("it".into()),
                role,
            },
        )
        .await
        .unwrap();
    let token = e
        .store
        .outbox_records()
        .into_iter()
        .rev()
        .find_map(|r| match r.message.payload {
            OutboxPayload::Mail(m) if m.to == u.email => match m.kind {
                NotificationKind::Invitation { token, .. } => Some(token.expose().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .expect("an invitation mail");
    e.desk.accept_invitation(&token, Password::new(PW)).await.unwrap();
    (login(&e.desk, &format!("staff{n}@example.com"), PW).await, u)
}

/// Mail kinds enqueued since `from`, as (recipient, kind name).
fn mails_since(e: &Env, from: usize) -> Vec<(String, String)> {
    e.store.outbox_records()[from..]
        .iter()
        .filter_map(|r| match &r.message.payload {
            OutboxPayload::Mail(m) => Some((m.to.to_string(), m.kind.name().to_owned())),
            _ => None,
        })
        .collect()
}

fn workflow_since(e: &Env, from: usize) -> Vec<(WorkflowEventKind, TicketStatus)> {
    e.store.outbox_records()[from..]
        .iter()
        .filter_map(|r| match &r.message.payload {
            OutboxPayload::Workflow(w) => Some((w.kind, w.ticket.status)),
            _ => None,
        })
        .collect()
}

/// The secret of the newest reset mail enqueued.
fn last_reset_token(e: &Env) -> String {
    e.store
        .outbox_records()
        .iter()
        .rev()
        .find_map(|r| match &r.message.payload {
            OutboxPayload::Mail(m) => match &m.kind {
                NotificationKind::PasswordReset { token, .. } => Some(token.expose().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .expect("a reset mail")
}

fn new_ticket() -> NewTicket {
    NewTicket {
        subject: "Laptop will not boot".into(),
        category: "hardware".into(),
        sub_category: "laptop".into(),
        description: "Black screen since this morning".into(),
        scheduled_date: None,
        fields: Default::default(),
    }
}

fn text(s: &str) -> ActionRequest {
    ActionRequest { text: Some(s.into()), ..ActionRequest::default() }
}

#[tokio::test]
async fn the_whole_story_enqueues_the_right_mails_and_workflow_pushes() {
    let e = env().await;
    let mark = e.store.outbox_records().len();
    let u = e.desk.register(&Principal::Anonymous, registration(1)).await.unwrap();
    assert_eq!(u.role, Role::Employee);
    assert_eq!(mails_since(&e, mark), [("emp1@example.com".into(), "registration_received".into())]);
    // Pending accounts cannot sign in, and learn why only with the right password.
    let pending = e
        .desk
        .login(LoginRequest { email: "emp1@example.com".into(), password: Password::new(PW), address: None })
        .await;
    assert!(matches!(pending, Err(Error::Unauthenticated(AuthFailure::AccountPending))));
    let wrong = e
        .desk
        .login(LoginRequest {
            email: "emp1@example.com".into(),
            password: Password::new("nope-nope-nope"),
            address: None,
        })
        .await;
    assert!(matches!(wrong, Err(Error::Unauthenticated(AuthFailure::InvalidCredentials))));

    let mark = e.store.outbox_records().len();
    e.desk.approve_user(&e.admin, u.id, None).await.unwrap();
    assert_eq!(mails_since(&e, mark), [("emp1@example.com".into(), "account_approved".into())]);
    let emp = login(&e.desk, "emp1@example.com", PW).await;
    let (coord, coord_user) = staff(&e, 1, Role::Coordinator).await;

    let mark = e.store.outbox_records().len();
    let t = e.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();
    assert_eq!(t.number.as_str(), "TX0001");
    assert_eq!(t.department.as_ref().unwrap().as_str(), "it", "proposed from the category");
    assert_eq!(mails_since(&e, mark), [("emp1@example.com".into(), "ticket_received".into())]);
    let n = t.number.clone();

    e.clock.advance(Duration::minutes(30));
    let mark = e.store.outbox_records().len();
    let approve = ActionRequest {
        priority: Some(helpdesk_core::domain::Priority::High),
        department: Some("it".into()),
        ..ActionRequest::default()
    };
    let t = e.desk.act(&coord, &n, Action::Approve, approve, Some(1)).await.unwrap();
    assert_eq!(t.status, TicketStatus::Open);
    assert_eq!(t.response_secs, Some(1800));
    assert_eq!(mails_since(&e, mark), [("emp1@example.com".into(), "ticket_approved".into())]);
    assert_eq!(workflow_since(&e, mark), [(WorkflowEventKind::Opened, TicketStatus::Open)]);

    let mark = e.store.outbox_records().len();
    let t = e.desk.act(&coord, &n, Action::Claim, ActionRequest::default(), Some(t.version)).await.unwrap();
    assert_eq!((t.status, t.assignee), (TicketStatus::InProgress, Some(coord_user.id)));
    assert!(mails_since(&e, mark).is_empty());
    assert_eq!(workflow_since(&e, mark), [(WorkflowEventKind::StatusChanged, TicketStatus::InProgress)]);

    let mark = e.store.outbox_records().len();
    let t = e.desk.act(&coord, &n, Action::AwaitRequester, text("Which model is it?"), None).await.unwrap();
    assert_eq!(t.status, TicketStatus::Pending);
    assert_eq!(mails_since(&e, mark), [("emp1@example.com".into(), "waiting_on_requester".into())]);

    // The requester's public comment resumes the ticket and mails the assignee.
    let mark = e.store.outbox_records().len();
    e.desk.add_comment(&emp, &n, "A ThinkPad T14", false).await.unwrap();
    let t = e.desk.ticket(&emp, &n).await.unwrap().ticket;
    assert_eq!(t.status, TicketStatus::InProgress);
    assert_eq!(mails_since(&e, mark), [("staff1@example.com".into(), "public_comment".into())]);

    e.clock.advance(Duration::hours(2));
    let mark = e.store.outbox_records().len();
    let t = e.desk.act(&coord, &n, Action::Resolve, text("Replaced the SSD"), None).await.unwrap();
    assert_eq!(t.status, TicketStatus::Resolved);
    assert_eq!(t.resolution_secs, Some(1800 + 7200));
    assert_eq!(mails_since(&e, mark), [("emp1@example.com".into(), "ticket_resolved".into())]);

    let t = e.desk.act(&emp, &n, Action::Close, ActionRequest::default(), None).await.unwrap();
    assert_eq!(t.status, TicketStatus::Closed);
    assert!(t.closed_at.is_some());
    // Closed is terminal.
    assert!(matches!(
        e.desk.act(&coord, &n, Action::Reopen, text("again"), None).await,
        Err(Error::InvalidTransition { .. })
    ));
    let history = e.desk.history(&emp, &n).await.unwrap();
    assert!(history.len() >= 7);
    assert!(history.windows(2).all(|w| w[0].version < w[1].version));
}

#[tokio::test]
async fn reject_withdraw_and_reopen() {
    let e = env().await;
    let (emp, _) = employee(&e, 1).await;
    let (coord, _) = staff(&e, 1, Role::Coordinator).await;
    let a = e.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();
    assert!(
        matches!(e.desk.act(&coord, &a.number, Action::Reject, ActionRequest::default(), None).await, Err(Error::Validation(v)) if v.0[0].field == "reason")
    );
    let mark = e.store.outbox_records().len();
    let a = e.desk.act(&coord, &a.number, Action::Reject, text("Duplicate of TX0002"), None).await.unwrap();
    assert_eq!(a.status, TicketStatus::Rejected);
    assert_eq!(
        e.desk.ticket(&emp, &a.number).await.unwrap().ticket.rejection_reason.as_deref(),
        Some("Duplicate of TX0002")
    );
    assert_eq!(mails_since(&e, mark), [("emp1@example.com".into(), "ticket_rejected".into())]);

    let b = e.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();
    // Only the requester withdraws: for anyone else it is forbidden, not a state conflict.
    assert!(matches!(
        e.desk.act(&coord, &b.number, Action::Withdraw, ActionRequest::default(), None).await,
        Err(Error::ActionNotAllowed { .. })
    ));
    assert_eq!(
        e.desk.act(&emp, &b.number, Action::Withdraw, ActionRequest::default(), None).await.unwrap().status,
        TicketStatus::Withdrawn
    );

    let c = e.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();
    let approve = ActionRequest {
        priority: Some(helpdesk_core::domain::Priority::Low),
        department: Some("it".into()),
        ..ActionRequest::default()
    };
    e.desk.act(&coord, &c.number, Action::Approve, approve, None).await.unwrap();
    e.desk.act(&coord, &c.number, Action::Claim, ActionRequest::default(), None).await.unwrap();
    e.desk.act(&coord, &c.number, Action::Resolve, text("done"), None).await.unwrap();
    let mark = e.store.outbox_records().len();
    let c = e.desk.act(&emp, &c.number, Action::Reopen, text("not fixed"), None).await.unwrap();
    assert_eq!(c.status, TicketStatus::InProgress);
    assert_eq!(mails_since(&e, mark), [("staff1@example.com".into(), "ticket_reopened".into())]);
    // Outside the window the requester cannot reopen.
    e.desk.act(&coord, &c.number, Action::Resolve, text("done again"), None).await.unwrap();
    e.clock.advance(Duration::days(8));
    assert!(matches!(
        e.desk.act(&emp, &c.number, Action::Reopen, text("still"), None).await,
        Err(Error::InvalidTransition { .. })
    ));
    // Auto-close picks it up.
    assert_eq!(e.desk.auto_close(e.desk.now(), 100).await.unwrap(), 1);
    assert_eq!(e.desk.ticket(&emp, &c.number).await.unwrap().ticket.status, TicketStatus::Closed);
}

#[tokio::test]
async fn internal_content_never_reaches_an_employee() {
    let e = env().await;
    let (emp, _) = employee(&e, 1).await;
    let (coord, _) = staff(&e, 1, Role::Coordinator).await;
    let t = e.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();
    let mark = e.store.outbox_records().len();
    let c =
        e.desk.add_comment(&coord, &t.number, "INTERNAL: requester's manager approved the spend", true).await.unwrap();
    assert!(mails_since(&e, mark).is_empty(), "an internal comment was mailed");
    // Employees cannot write internal comments.
    assert!(matches!(e.desk.add_comment(&emp, &t.number, "sneaky", true).await, Err(Error::Forbidden(_))));
    // An attachment on the internal comment is internal.
    let png = include_bytes!("data/pixel.png");
    let body = futures::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from_static(png))]);
    let a = e
        .desk
        .upload_attachment(&coord, &t.number, Upload { file_name: "quote.png".into(), comment: Some(c.id) }, body)
        .await
        .unwrap();
    assert!(a.internal);

    assert!(e.desk.comments(&emp, &t.number).await.unwrap().iter().all(|c| !c.internal));
    assert!(
        e.desk
            .history(&emp, &t.number)
            .await
            .unwrap()
            .iter()
            .all(|ev| !ev.internal && !ev.note.as_deref().unwrap_or("").contains("INTERNAL"))
    );
    assert!(e.desk.attachments(&emp, &t.number).await.unwrap().is_empty());
    assert!(matches!(e.desk.download(&emp, a.id, None).await, Err(Error::NotFound { .. })));
    assert!(!e.desk.ticket(&emp, &t.number).await.unwrap().sees_internal);
    // Staff see all of it.
    assert_eq!(e.desk.comments(&coord, &t.number).await.unwrap().len(), 1);
    assert!(e.desk.history(&coord, &t.number).await.unwrap().iter().any(|ev| ev.internal));
    assert!(e.desk.download(&coord, a.id, None).await.is_ok());
    // The whole thread in one call gives each of them the same as the separate calls.
    for who in [&emp, &coord] {
        let thread = e.desk.ticket_thread(who, &t.number).await.unwrap();
        assert_eq!(thread.view, e.desk.ticket(who, &t.number).await.unwrap());
        assert_eq!(thread.comments, e.desk.comments(who, &t.number).await.unwrap());
        assert_eq!(thread.history, e.desk.history(who, &t.number).await.unwrap());
        assert_eq!(thread.attachments, e.desk.attachments(who, &t.number).await.unwrap());
    }
    let names = |p: &Principal| {
        let (desk, p, n) = (&e.desk, p.clone(), t.number.clone());
        async move { desk.ticket_thread(&p, &n).await.unwrap().people.into_iter().map(|x| x.name).collect::<Vec<_>>() }
    };
    assert_eq!(names(&emp).await, ["Emp1 Loyee"], "the author of an internal comment is not named to the employee");
    assert_eq!(names(&coord).await.len(), 2, "staff see who wrote it");
    // Nothing the employee reads counts the internal events: the version and `updated_at`
    // did not move, and after a public comment the history's versions have no gap.
    let seen = e.desk.ticket(&emp, &t.number).await.unwrap().ticket;
    assert_eq!((seen.version, seen.updated_at), (t.version, t.updated_at));
    e.clock.advance(chrono::Duration::minutes(1));
    e.desk.add_comment(&coord, &t.number, "We are on it", false).await.unwrap();
    let seen = e.desk.ticket(&emp, &t.number).await.unwrap().ticket;
    let versions: Vec<u64> = e.desk.history(&emp, &t.number).await.unwrap().iter().map(|ev| ev.version).collect();
    assert_eq!(versions, (1..=seen.version).collect::<Vec<_>>());
    let staff_view: Vec<u64> = e.desk.history(&coord, &t.number).await.unwrap().iter().map(|ev| ev.version).collect();
    assert_eq!(staff_view, [1, 1, 1, 2], "internal events at the version they were made at, in order");
    let (other, _) = employee(&e, 2).await;
    assert!(matches!(e.desk.ticket_thread(&other, &t.number).await, Err(Error::NotFound { .. })));
    // No mail to the employee carries internal text, whatever happened.
    for r in e.store.outbox_records() {
        if let OutboxPayload::Mail(m) = r.message.payload
            && m.to.as_str() == "emp1@example.com"
        {
            assert!(!format!("{:?}", m.kind).contains("INTERNAL"));
        }
    }
}

#[tokio::test]
async fn employees_see_only_their_own_tickets() {
    let e = env().await;
    let (a, a_user) = employee(&e, 1).await;
    let (b, _) = employee(&e, 2).await;
    let (coord, _) = staff(&e, 1, Role::Coordinator).await;
    let ta = e.desk.create_ticket(&a, new_ticket(), None).await.unwrap();
    let tb = e.desk.create_ticket(&b, new_ticket(), None).await.unwrap();
    assert!(matches!(e.desk.ticket(&b, &ta.number).await, Err(Error::NotFound { .. })));
    assert!(matches!(
        e.desk.act(&b, &ta.number, Action::Withdraw, ActionRequest::default(), None).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(e.desk.add_comment(&b, &ta.number, "hi", false).await, Err(Error::NotFound { .. })));
    // Asking for someone else's tickets gives nothing; the filter is forced in core.
    let q = TicketQuery { requester: Some(a_user.id), ..TicketQuery::default() };
    assert!(e.desk.list_tickets(&b, &q).await.unwrap().items.is_empty());
    let mine = e.desk.list_tickets(&b, &TicketQuery::default()).await.unwrap();
    assert_eq!(mine.items.iter().map(|t| t.id).collect::<Vec<_>>(), vec![tb.id]);
    assert_eq!(e.desk.list_tickets(&coord, &TicketQuery::default()).await.unwrap().items.len(), 2);
    assert!(matches!(
        e.desk.list_tickets(&Principal::Anonymous, &TicketQuery::default()).await,
        Err(Error::Unauthenticated(_))
    ));
}

#[tokio::test]
async fn field_rules_and_versions() {
    let e = env().await;
    let (emp, _) = employee(&e, 1).await;
    let (coord, _) = staff(&e, 1, Role::Coordinator).await;
    let t = e.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();
    let t = e
        .desk
        .edit_ticket(
            &emp,
            &t.number,
            TicketEdit { subject: Some("Laptop dead".into()), ..TicketEdit::default() },
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!((t.subject.as_str(), t.version), ("Laptop dead", 2));
    // Stale version.
    assert!(matches!(
        e.desk
            .edit_ticket(&emp, &t.number, TicketEdit { subject: Some("x".into()), ..TicketEdit::default() }, Some(1))
            .await,
        Err(Error::VersionConflict { expected: 1, found: 2 })
    ));
    // Requesters cannot set priority; staff cannot rewrite the subject.
    assert!(matches!(
        e.desk
            .edit_ticket(
                &emp,
                &t.number,
                TicketEdit { priority: Some(helpdesk_core::domain::Priority::Critical), ..TicketEdit::default() },
                None
            )
            .await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        e.desk
            .edit_ticket(&coord, &t.number, TicketEdit { subject: Some("mine".into()), ..TicketEdit::default() }, None)
            .await,
        Err(Error::Forbidden(_))
    ));
    let t = e
        .desk
        .edit_ticket(
            &coord,
            &t.number,
            TicketEdit {
                priority: Some(helpdesk_core::domain::Priority::Critical),
                department: Some("asset".into()),
                ..TicketEdit::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(t.department.as_ref().unwrap().as_str(), "asset");
    // After triage the requester's edits stop.
    let approve = ActionRequest {
        priority: Some(helpdesk_core::domain::Priority::Low),
        department: Some("it".into()),
        ..ActionRequest::default()
    };
    e.desk.act(&coord, &t.number, Action::Approve, approve, None).await.unwrap();
    assert!(matches!(
        e.desk
            .edit_ticket(
                &emp,
                &t.number,
                TicketEdit { description: Some("more".into()), ..TicketEdit::default() },
                None
            )
            .await,
        Err(Error::Forbidden(_))
    ));
    // Validation names the field.
    match e
        .desk
        .create_ticket(&emp, NewTicket { subject: "".into(), category: "nope".into(), ..new_ticket() }, None)
        .await
    {
        Err(Error::Validation(v)) => {
            let fields: Vec<&str> = v.0.iter().map(|f| f.field.as_str()).collect();
            assert_eq!(fields, ["subject", "category"]);
        }
        other => panic!("{other:?}"),
    }
    let past = NewTicket { scheduled_date: Some(e.desk.now().date_naive() - Duration::days(1)), ..new_ticket() };
    assert!(
        matches!(e.desk.create_ticket(&emp, past, None).await, Err(Error::Validation(v)) if v.0[0].field == "scheduled_date")
    );
}

#[tokio::test]
async fn idempotent_creation() {
    let e = env().await;
    let (emp, _) = employee(&e, 1).await;
    let a = e.desk.create_ticket(&emp, new_ticket(), Some("key-1")).await.unwrap();
    let again = e.desk.create_ticket(&emp, new_ticket(), Some("key-1")).await.unwrap();
    assert_eq!(a.id, again.id);
    let other = NewTicket { subject: "Different".into(), ..new_ticket() };
    assert!(matches!(e.desk.create_ticket(&emp, other, Some("key-1")).await, Err(Error::IdempotencyMismatch)));
    assert_eq!(e.desk.list_tickets(&emp, &TicketQuery::default()).await.unwrap().items.len(), 1);
    // Another principal's same key is separate.
    let (emp2, _) = employee(&e, 2).await;
    assert_ne!(e.desk.create_ticket(&emp2, new_ticket(), Some("key-1")).await.unwrap().id, a.id);
}

#[tokio::test]
async fn a_create_that_died_in_flight_can_be_retried_within_seconds() {
    use sha2::Digest;
    let e = env().await;
    let (emp, _) = employee(&e, 1).await;
    // The first attempt began (its record says in progress) and the process died before it
    // committed: nothing released the key.
    let hash: String = sha2::Sha256::digest(serde_json::to_string(&new_ticket()).unwrap().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let key = helpdesk_core::ports::IdempotencyKey { principal: emp.key(), key: "crash-1".into() };
    let started = helpdesk_core::ports::Clock::now(e.clock.as_ref());
    let begun = helpdesk_core::ports::IdempotencyStore::begin_idempotent(
        &*e.store,
        &key,
        &hash,
        started,
        started - Duration::seconds(30),
    )
    .await
    .unwrap();
    assert_eq!(begun, helpdesk_core::ports::IdempotencyBegin::Started);
    // A retry at once is told to wait, and for how long: the rest of a 30 s window.
    e.clock.advance(Duration::seconds(10));
    match e.desk.create_ticket(&emp, new_ticket(), Some("crash-1")).await {
        Err(Error::IdempotencyInProgress { retry_after }) => assert_eq!(retry_after.as_secs(), 20),
        other => panic!("{other:?}"),
    }
    // Once the window has passed, the retry files the ticket, once.
    e.clock.advance(Duration::seconds(21));
    let t = e.desk.create_ticket(&emp, new_ticket(), Some("crash-1")).await.unwrap();
    assert_eq!(e.desk.create_ticket(&emp, new_ticket(), Some("crash-1")).await.unwrap().id, t.id);
    assert_eq!(e.desk.list_tickets(&emp, &TicketQuery::default()).await.unwrap().items.len(), 1);
}

#[tokio::test]
async fn sessions_refresh_reuse_logout_and_deactivation() {
    let e = env().await;
    let (_, u) = employee(&e, 1).await;
    let s1 = e
        .desk
        .login(LoginRequest { email: "emp1@example.com".into(), password: Password::new(PW), address: None })
        .await
        .unwrap();
    let s2 = e.desk.refresh(&s1.refresh_token, None).await.unwrap();
    assert_eq!(s1.session.id, s2.session.id);
    // Reusing the first refresh token revokes the family.
    assert!(matches!(
        e.desk.refresh(&s1.refresh_token, None).await,
        Err(Error::Unauthenticated(AuthFailure::RefreshReused))
    ));
    assert!(matches!(
        e.desk.refresh(&s2.refresh_token, None).await,
        Err(Error::Unauthenticated(AuthFailure::SessionEnded))
    ));
    assert!(e.desk.authenticate_session(s1.session.id).await.is_err());
    // Logout ends a session.
    let s3 = e
        .desk
        .login(LoginRequest { email: "emp1@example.com".into(), password: Password::new(PW), address: None })
        .await
        .unwrap();
    let (p3, _) = e.desk.authenticate_session(s3.session.id).await.unwrap();
    e.desk.logout(&p3).await.unwrap();
    assert!(e.desk.authenticate_session(s3.session.id).await.is_err());
    // Deactivation ends every session at once; role changes show on the next request.
    let s4 = e
        .desk
        .login(LoginRequest { email: "emp1@example.com".into(), password: Password::new(PW), address: None })
        .await
        .unwrap();
    e.desk.change_role(&e.admin, u.id, Some(Role::Coordinator), None, None).await.unwrap();
    assert!(e.desk.authenticate_session(s4.session.id).await.unwrap().0.is_staff());
    e.desk.deactivate_user(&e.admin, u.id, None).await.unwrap();
    assert!(e.desk.authenticate_session(s4.session.id).await.is_err());
    assert!(matches!(
        e.desk
            .login(LoginRequest { email: "emp1@example.com".into(), password: Password::new(PW), address: None })
            .await,
        Err(Error::Unauthenticated(AuthFailure::AccountDeactivated))
    ));
    // Idle expiry.
    e.desk.reactivate_user(&e.admin, u.id, None).await.unwrap();
    let s5 = e
        .desk
        .login(LoginRequest { email: "emp1@example.com".into(), password: Password::new(PW), address: None })
        .await
        .unwrap();
    e.clock.advance(Duration::hours(25));
    assert!(e.desk.authenticate_session(s5.session.id).await.is_err());
}

#[tokio::test]
async fn login_throttling_and_unknown_emails_cost_a_hash() {
    let e = env().await;
    employee(&e, 1).await;
    let before = e.hasher.verifications.load(Ordering::SeqCst);
    let r = e
        .desk
        .login(LoginRequest {
            email: "nobody@example.com".into(),
            password: Password::new("whatever-whatever"),
            address: None,
        })
        .await;
    assert!(matches!(r, Err(Error::Unauthenticated(AuthFailure::InvalidCredentials))));
    assert_eq!(e.hasher.verifications.load(Ordering::SeqCst) - before, 1, "an unknown email must cost one hash");

    for _ in 0..5 {
        let r = e
            .desk
            .login(LoginRequest {
                email: "emp1@example.com".into(),
                password: Password::new("wrong-wrong-wrong"),
                address: None,
            })
            .await;
        assert!(matches!(r, Err(Error::Unauthenticated(AuthFailure::InvalidCredentials))));
    }
    // Now throttled, even with the right password.
    let r = e
        .desk
        .login(LoginRequest { email: "emp1@example.com".into(), password: Password::new(PW), address: None })
        .await;
    assert!(matches!(r, Err(Error::Throttled { retry_after }) if retry_after.as_secs() >= 1));
    e.clock.advance(Duration::seconds(2));
    e.desk
        .login(LoginRequest { email: "emp1@example.com".into(), password: Password::new(PW), address: None })
        .await
        .unwrap();
}

#[tokio::test]
async fn password_reset_and_change() {
    let e = env().await;
    let (emp, _) = employee(&e, 1).await;
    let mark = e.store.outbox_records().len();
    e.desk.forgot_password("nobody@example.com", None).await.unwrap();
    assert!(mails_since(&e, mark).is_empty());
    e.desk.forgot_password("EMP1@example.com", None).await.unwrap();
    let token = last_reset_token(&e);
    // The secret never shows in a Debug print of what was enqueued (logs).
    assert!(e.store.outbox_records().iter().all(|r| !format!("{r:?}").contains(&token)));
    assert!(matches!(e.desk.reset_password(&token, Password::new("123456789012")).await, Err(Error::Validation(_))));
    e.desk.reset_password(&token, Password::new("violet-canyon-ember-38")).await.unwrap();
    assert!(e.desk.profile(&emp).await.is_ok());
    let session = emp.user().unwrap().session.unwrap();
    assert!(e.desk.authenticate_session(session).await.is_err(), "a reset ends every session");
    assert!(
        matches!(e.desk.reset_password(&token, Password::new("another-long-phrase-9")).await, Err(Error::Validation(v)) if v.0[0].field == "token")
    );
    let emp = login(&e.desk, "emp1@example.com", "violet-canyon-ember-38").await;
    assert!(
        matches!(e.desk.change_password(&emp, Password::new("bad"), Password::new("orbit-maple-sonnet-92")).await, Err(Error::Validation(v)) if v.0[0].field == "current_password")
    );
    e.desk
        .change_password(&emp, Password::new("violet-canyon-ember-38"), Password::new("orbit-maple-sonnet-92"))
        .await
        .unwrap();
    assert!(e.desk.profile(&emp).await.is_ok(), "the current session survives a change");
    // An expired reset link is refused.
    e.desk.forgot_password("emp1@example.com", None).await.unwrap();
    let token = last_reset_token(&e);
    e.clock.advance(Duration::minutes(31));
    assert!(e.desk.reset_password(&token, Password::new("gravel-tundra-piano-15")).await.is_err());
}

#[tokio::test]
async fn rejection_frees_the_email_and_keeps_an_audit_record() {
    let e = env().await;
    let u = e.desk.register(&Principal::Anonymous, registration(7)).await.unwrap();
    let mark = e.store.outbox_records().len();
    let rec = e.desk.reject_user(&e.admin, u.id, Some("Not an employee"), None).await.unwrap();
    assert_eq!(mails_since(&e, mark), [("emp7@example.com".into(), "registration_rejected".into())]);
    assert_eq!(rec.email.as_str(), "emp7@example.com");
    assert!(e.store.user(u.id).await.unwrap().is_none());
    let (page, count) = e.desk.rejections(&e.admin, None, Default::default()).await.unwrap();
    assert_eq!((page.items.len(), count), (1, 1));
    // A rejected registration's login fails like an unknown email; it may register again.
    assert!(matches!(
        e.desk
            .login(LoginRequest { email: "emp7@example.com".into(), password: Password::new(PW), address: None })
            .await,
        Err(Error::Unauthenticated(AuthFailure::InvalidCredentials))
    ));
    e.desk.register(&Principal::Anonymous, registration(7)).await.unwrap();
    // The client cannot choose a role: registration always makes a pending employee.
    let again = e.desk.register(&Principal::Anonymous, registration(7)).await;
    assert!(matches!(again, Err(Error::Validation(v)) if v.0.iter().any(|f| f.field == "email")));
}

#[tokio::test]
async fn external_system_moves_along_the_table_only() {
    let e = env().await;
    let (emp, _) = employee(&e, 1).await;
    let (coord, _) = staff(&e, 1, Role::Coordinator).await;
    let (_, credential) =
        e.desk.create_api_key(&e.admin, "workflow", vec![ApiScope::PushWorkflow, ApiScope::ReadTickets]).await.unwrap();
    let sys = e.desk.authenticate_api_key(&credential).await.unwrap();
    assert!(e.desk.authenticate_api_key("bogus.key").await.is_err());
    let t = e.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();
    // It cannot approve.
    assert!(matches!(
        e.desk.workflow_update(&sys, &t.number, TicketStatus::Open, "go", "k1").await,
        Err(Error::InvalidTransition { .. })
    ));
    let approve = ActionRequest {
        priority: Some(helpdesk_core::domain::Priority::Low),
        department: Some("it".into()),
        ..ActionRequest::default()
    };
    e.desk.act(&coord, &t.number, Action::Approve, approve, None).await.unwrap();
    let t2 = e
        .desk
        .workflow_update(&sys, &t.number, TicketStatus::InProgress, "picked up by the field team", "k2")
        .await
        .unwrap();
    assert_eq!(t2.status, TicketStatus::InProgress);
    assert_eq!(t2.assignee, None, "the external system keeps the assignee");
    // A replay with the same key is the same update, not a second one.
    let again = e
        .desk
        .workflow_update(&sys, &t.number, TicketStatus::InProgress, "picked up by the field team", "k2")
        .await
        .unwrap();
    assert_eq!(again.version, t2.version);
    assert!(matches!(
        e.desk.workflow_update(&sys, &t.number, TicketStatus::Closed, "skip", "k3").await,
        Err(Error::InvalidTransition { .. })
    ));
    let resolved =
        e.desk.workflow_update(&sys, &t.number, TicketStatus::Resolved, "fixed on site", "k4").await.unwrap();
    assert_eq!(resolved.status, TicketStatus::Resolved);
    let history = e.desk.history(&coord, &t.number).await.unwrap();
    assert!(history.iter().any(
        |h| matches!(&h.actor, helpdesk_core::model::ActorRef::ExternalSystem { name, .. } if name == "workflow")
    ));
    // A revoked key stops working.
    let keys = e.desk.list_api_keys(&e.admin).await.unwrap();
    e.desk.revoke_api_key(&e.admin, keys[0].id).await.unwrap();
    assert!(e.desk.authenticate_api_key(&credential).await.is_err());
}

#[tokio::test]
async fn uploads_are_typed_by_content_and_bounded() {
    let mut options = HelpDeskOptions::default();
    options.attachments.max_file_bytes = 1024;
    let e = env_with(None, options).await;
    let (emp, _) = employee(&e, 1).await;
    let (other, _) = employee(&e, 2).await;
    let t = e.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();
    let up = |name: &str, chunks: Vec<&'static [u8]>| {
        let s = futures::stream::iter(
            chunks.into_iter().map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c))).collect::<Vec<_>>(),
        );
        (Upload { file_name: name.into(), comment: None }, s)
    };
    let (u, s) = up("../../etc/passwd.png", vec![include_bytes!("data/pixel.png")]);
    let a = e.desk.upload_attachment(&emp, &t.number, u, s).await.unwrap();
    assert_eq!((a.content_type.as_str(), a.file_name.as_str()), ("image/png", "passwd.png"));
    let (u, s) = up("notes.pdf", vec![b"<!DOCTYPE html><script>alert(1)</script>"]);
    assert!(matches!(e.desk.upload_attachment(&emp, &t.number, u, s).await, Err(Error::UnsupportedMedia)));
    let (u, s) = up("x.svg", vec![b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>"]);
    assert!(matches!(e.desk.upload_attachment(&emp, &t.number, u, s).await, Err(Error::UnsupportedMedia)));
    let (u, s) = up("data.csv", vec![b"a,b\n1,2\n"]);
    assert_eq!(e.desk.upload_attachment(&emp, &t.number, u, s).await.unwrap().content_type, "text/csv");
    static BIG: [u8; 700] = [b'a'; 700];
    let (u, s) = up("big.txt", vec![&BIG, &BIG]);
    assert!(matches!(e.desk.upload_attachment(&emp, &t.number, u, s).await, Err(Error::TooLarge(_))));
    assert_eq!(e.desk.attachments(&emp, &t.number).await.unwrap().len(), 2, "nothing half-stored");
    // Another employee cannot download or upload.
    assert!(matches!(e.desk.download(&other, a.id, None).await, Err(Error::NotFound { .. })));
    let (u, s) = up("a.txt", vec![b"hello"]);
    assert!(matches!(e.desk.upload_attachment(&other, &t.number, u, s).await, Err(Error::NotFound { .. })));
    let grant = e.desk.download(&emp, a.id, None).await.unwrap();
    assert!(grant.inline());
    assert_eq!(grant.attachment().sha256.len(), 64);
    // An orphan blob (no metadata) is swept after the delay; real ones stay.
    let orphan = helpdesk_core::domain::StorageKey::for_attachment(t.id, helpdesk_core::domain::AttachmentId::random());
    object_store::ObjectStoreExt::put(e.desk.blobs().as_ref(), &orphan.to_path(), Bytes::from_static(b"x").into())
        .await
        .unwrap();
    assert_eq!(e.desk.sweep_orphans(e.desk.now() + Duration::hours(2) + Duration::days(10000)).await.unwrap(), 1);
    assert!(e.desk.download(&emp, a.id, None).await.is_ok());
}

#[tokio::test]
async fn reports_are_for_admins() {
    let e = env().await;
    let (emp, _) = employee(&e, 1).await;
    e.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();
    assert!(matches!(e.desk.summary_report(&emp).await, Err(Error::Forbidden(_))));
    let s = e.desk.summary_report(&e.admin).await.unwrap();
    assert_eq!(s.total_tickets, 1);
    assert_eq!(s.users_by_role.get("admin"), Some(&1));
    let p = e.desk.performance_report(&e.admin, None).await.unwrap();
    assert_eq!(p.per_day.iter().map(|d| d.created).sum::<u64>(), 1);
}

#[tokio::test]
async fn the_service_runs_a_custom_table() {
    // A table without withdraw, where only admins triage.
    let mut rules: Vec<_> = default_rules(7).into_iter().filter(|r| r.action != Action::Withdraw).collect();
    rules[1].who = vec![helpdesk_core::lifecycle::Who::Role(Role::Admin)];
    let e = env_with(Some(Lifecycle::new(rules).unwrap()), HelpDeskOptions::default()).await;
    let (emp, _) = employee(&e, 1).await;
    let (coord, _) = staff(&e, 1, Role::Coordinator).await;
    let t = e.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();
    assert!(!e.desk.ticket(&emp, &t.number).await.unwrap().actions.contains(&Action::Withdraw));
    assert!(matches!(
        e.desk.act(&emp, &t.number, Action::Withdraw, ActionRequest::default(), None).await,
        Err(Error::InvalidTransition { .. })
    ));
    let approve = ActionRequest {
        priority: Some(helpdesk_core::domain::Priority::Low),
        department: Some("it".into()),
        ..ActionRequest::default()
    };
    assert!(matches!(
        e.desk.act(&coord, &t.number, Action::Approve, approve.clone(), None).await,
        Err(Error::ActionNotAllowed { .. })
    ));
    assert_eq!(
        e.desk.act(&e.admin, &t.number, Action::Approve, approve, None).await.unwrap().status,
        TicketStatus::Open
    );
}

#[tokio::test]
async fn the_dispatcher_delivers_retries_and_gives_up() {
    let e = env().await;
    let (emp, _) = employee(&e, 1).await;
    let mailer = RecordingMailer::new();
    let sink = RecordingWorkflowSink::new();
    let d = OutboxDispatcher::new(
        e.store.clone(),
        mailer.clone(),
        sink.clone(),
        e.clock.clone(),
        e.desk.options().outbox.clone(),
    );
    // A mail server that is down changes nothing for the user's request.
    mailer.fail_with(Some(DeliveryError::Transient("connection refused".into())));
    let t = e.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();
    let r = d.run_once().await.unwrap();
    assert!(r.retried >= 1 && r.delivered == 0);
    assert_eq!(r.next_due, Some(e.desk.now() + Duration::seconds(10)));
    assert_eq!(d.backoff(1), Duration::seconds(10));
    assert_eq!(d.backoff(2), Duration::seconds(20));
    assert_eq!(d.backoff(20), Duration::hours(1));
    // Back up: everything arrives once due.
    mailer.fail_with(None);
    assert_eq!(d.run_once().await.unwrap().delivered, 0, "not due yet");
    e.clock.advance(Duration::seconds(10));
    let r = d.run_once().await.unwrap();
    assert!(r.delivered >= 1);
    assert!(mailer.sent().iter().any(|(_, m)| m.kind.name() == "ticket_received"));
    assert_eq!(e.desk.ticket(&emp, &t.number).await.unwrap().ticket.status, TicketStatus::New);

    // A transient failure that never ends is dead after the configured attempts.
    mailer.fail_with(Some(DeliveryError::Transient("421".into())));
    e.desk.forgot_password("emp1@example.com", None).await.unwrap();
    for _ in 0..12 {
        d.run_once().await.unwrap();
        e.clock.advance(Duration::hours(2));
    }
    let dead = e.desk.outbox_messages(&e.admin, OutboxState::Dead, None, Default::default()).await.unwrap();
    assert_eq!(dead.items.len(), 1);
    assert_eq!(dead.items[0].attempts, 10);
    // An admin retries it; delivered, then its secret is cleared.
    mailer.fail_with(None);
    e.desk.retry_outbox_message(&e.admin, dead.items[0].message.id).await.unwrap();
    assert_eq!(d.run_once().await.unwrap().delivered, 1);
    let rec = e.store.outbox_message(dead.items[0].message.id).await.unwrap().unwrap();
    assert_eq!(rec.message.payload, OutboxPayload::Redacted);
    // A permanent failure is dead at once.
    mailer.fail_with(Some(DeliveryError::Permanent("550 no such mailbox".into())));
    e.desk.forgot_password("emp1@example.com", None).await.unwrap();
    assert_eq!(d.run_once().await.unwrap().dead, 1);
    assert!(matches!(
        e.desk.outbox_messages(&emp, OutboxState::Dead, None, Default::default()).await,
        Err(Error::Forbidden(_))
    ));
}

#[tokio::test]
async fn the_dispatcher_calls_the_mailer_once_per_message() {
    let e = env().await;
    let (emp, _) = employee(&e, 1).await;
    // Drain what the set-up enqueued.
    let drain = OutboxDispatcher::new(
        e.store.clone(),
        RecordingMailer::new(),
        RecordingWorkflowSink::new(),
        e.clock.clone(),
        e.desk.options().outbox.clone(),
    );
    drain.run_once().await.unwrap();
    e.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();
    let mut mock = MockMailer::new();
    mock.expect_send()
        .withf(|_, n| {
            n.to.as_str() == "emp1@example.com"
                && matches!(&n.kind, NotificationKind::TicketReceived { ticket } if ticket.number == "TX0001")
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let d = OutboxDispatcher::new(
        e.store.clone(),
        Arc::new(mock),
        RecordingWorkflowSink::new(),
        e.clock.clone(),
        e.desk.options().outbox.clone(),
    );
    assert_eq!(d.run_once().await.unwrap().delivered, 1);
    assert_eq!(d.run_once().await.unwrap().claimed, 0, "acknowledged messages are not delivered again");
}

#[tokio::test]
async fn importing_django_users_keeps_their_hashes_and_upgrades_on_login() {
    let e = env().await;
    let fixture = "pbkdf2_sha256$20000$KKGb5dASNxqGpYuavOPH87$DxMaXO+FfERUo2E4+9ry6tk/Hj5yxZx9PnJEmkmhnLs=";
    let imported = helpdesk_core::ImportedUser {
        email: "Benedict.Ramos@example.com".into(),
        password_hash: fixture.into(),
        first_name: "Benedict".into(),
        middle_name: None,
        last_name: "Ramos".into(),
        suffix: None,
        company_id: "MA0002".into(),
        department: None,
        role: Role::Coordinator,
        status: Some(helpdesk_core::domain::UserStatus::Approved),
        created_at: e.desk.now(),
    };
    let id = match e.desk.import_user(&Principal::System, imported.clone()).await.unwrap() {
        helpdesk_core::ImportOutcome::Imported(id) => id,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        e.desk.import_user(&Principal::System, imported).await.unwrap(),
        helpdesk_core::ImportOutcome::AlreadyPresent
    );
    login(&e.desk, "benedict.ramos@example.com", "violet-canyon-ember-38").await;
    let u = e.store.user(id).await.unwrap().unwrap();
    assert!(u.password.unwrap().0.starts_with("$argon2id$"), "upgraded at login");
    let _ = UserId::random();
    let _ = TicketNumber::parse("TX0001").unwrap();
}

#[tokio::test]
async fn terms_of_use_are_required_when_configured_and_recorded_with_the_account() {
    let plain = env().await;
    let u = plain.desk.register(&Principal::Anonymous, registration(1)).await.unwrap();
    assert!(u.terms_accepted.is_none(), "no terms asked, none recorded");

    let options = HelpDeskOptions { terms_version: Some("2026-11".into()), ..HelpDeskOptions::default() };
    let e = env_with(None, options).await;
    let refused = e.desk.register(&Principal::Anonymous, registration(2)).await;
    let Err(Error::Validation(errs)) = refused else { panic!("expected a validation error, got {refused:?}") };
    assert!(errs.0.iter().any(|f| f.field == "accepted_terms"), "{errs:?}");
    let mut older = registration(2);
    older.accepted_terms = Some("2025-01".into());
    assert!(e.desk.register(&Principal::Anonymous, older).await.is_err(), "other terms are not these");

    let mut r = registration(2);
    r.accepted_terms = Some("2026-11".into());
    let u = e.desk.register(&Principal::Anonymous, r).await.unwrap();
    let accepted = u.terms_accepted.expect("the acceptance is recorded");
    assert_eq!(accepted.version, "2026-11");
    assert_eq!(accepted.at, helpdesk_core::ports::Clock::now(e.clock.as_ref()));
    let stored = e.store.user(u.id).await.unwrap().unwrap();
    assert_eq!(stored.terms_accepted.map(|t| t.version).as_deref(), Some("2026-11"));
}

/// Kinds of the user's notices, newest first.
async fn notice_kinds(e: &Env, who: &Principal) -> Vec<helpdesk_core::model::NoticeKind> {
    e.desk.notices(who, 50).await.unwrap().into_iter().map(|n| n.kind).collect()
}

#[tokio::test]
async fn notices_tell_the_people_concerned_and_never_of_internal_notes_or_their_own_actions() {
    use helpdesk_core::model::NoticeKind as K;
    use helpdesk_core::ports::Change;
    let e = env().await;
    let (emp, _) = employee(&e, 1).await;
    let (coord, coord_user) = staff(&e, 1, Role::Coordinator).await;
    let (other, _) = staff(&e, 2, Role::Coordinator).await;
    let mut feed = e.desk.changes();

    let t = e.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();
    let n = t.number.clone();
    assert_eq!(notice_kinds(&e, &coord).await, [K::NewTicket], "staff of the ticket's department");
    assert_eq!(notice_kinds(&e, &other).await, [K::NewTicket]);
    assert!(notice_kinds(&e, &emp).await.is_empty(), "nobody is told of their own action");
    match feed.recv().await.unwrap() {
        Change::Ticket { number, internal, version, .. } => {
            assert_eq!((number, internal, version), (n.to_string(), false, 1))
        }
        c => panic!("expected the ticket first, got {c:?}"),
    }

    let approve = ActionRequest::triage(helpdesk_core::domain::Priority::High, "it");
    e.desk.act(&coord, &n, Action::Approve, approve, None).await.unwrap();
    e.clock.advance(Duration::seconds(1));
    e.desk.act(&coord, &n, Action::Claim, ActionRequest::default(), None).await.unwrap();
    assert_eq!(
        notice_kinds(&e, &emp).await,
        [K::StatusChanged { status: TicketStatus::InProgress }, K::StatusChanged { status: TicketStatus::Open }]
    );
    assert_eq!(notice_kinds(&e, &coord).await, [K::NewTicket], "claiming is one's own action");

    // An internal note tells nobody, and the requester's pages hear nothing of it.
    let before = e.desk.unread_notices(&emp).await.unwrap();
    let mut feed = e.desk.changes();
    e.desk.add_comment(&other, &n, "internal: check the warranty", true).await.unwrap();
    assert_eq!(e.desk.unread_notices(&emp).await.unwrap(), before);
    let change = feed.recv().await.unwrap();
    assert!(matches!(change, Change::Ticket { internal: true, .. }));
    assert!(!change.visible_to(&emp), "an employee's stream never hears of an internal note");
    assert!(change.visible_to(&coord));

    // A public staff comment tells the requester; the requester's answer tells the assignee.
    e.clock.advance(Duration::seconds(1));
    e.desk.add_comment(&other, &n, "Which model is it?", false).await.unwrap();
    assert_eq!(notice_kinds(&e, &emp).await[0], K::Commented);
    e.clock.advance(Duration::seconds(1));
    e.desk.add_comment(&emp, &n, "A ThinkPad T14", false).await.unwrap();
    assert_eq!(notice_kinds(&e, &coord).await[0], K::RequesterAnswered);

    // Assigning tells the new assignee (one notice for the commit, the weightiest).
    let (third, third_user) = staff(&e, 3, Role::Coordinator).await;
    e.desk.act(&coord, &n, Action::Assign, ActionRequest::assign(third_user.id), None).await.unwrap();
    assert_eq!(notice_kinds(&e, &third).await, [K::Assigned]);
    assert_ne!(third_user.id, coord_user.id);

    // Marking read: one, then all; another user's notice is never touched.
    let mine = e.desk.notices(&emp, 50).await.unwrap();
    assert_eq!(e.desk.mark_notices_read(&coord, Some(mine[0].id)).await.unwrap(), 0);
    assert_eq!(e.desk.mark_notices_read(&emp, Some(mine[0].id)).await.unwrap(), 1);
    assert_eq!(e.desk.unread_notices(&emp).await.unwrap(), mine.len() as u64 - 1);
    e.desk.mark_notices_read(&emp, None).await.unwrap();
    assert_eq!(e.desk.unread_notices(&emp).await.unwrap(), 0);
    assert!(e.desk.notices(&Principal::Anonymous, 5).await.is_err());
}

#[tokio::test]
async fn requesters_tag_their_new_tickets_and_see_tags_only_when_the_policy_options_say_so() {
    let mut options = HelpDeskOptions::default();
    options.policy.requesters_tag_new_tickets = true;
    let e = env_with(None, options).await;
    let (emp, _) = employee(&e, 1).await;
    let t = e.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();
    let tag = |s: &str| vec![s.to_owned()];
    let edit = TicketEdit { add_tags: tag("Second Floor"), ..TicketEdit::default() };
    let t2 = e.desk.edit_ticket(&emp, &t.number, edit, None).await.unwrap();
    assert_eq!(helpdesk_core::domain::Tag::join(&t2.tags), "second-floor");
    // Requesters see tags here, so the change is a public history entry, and they may filter.
    let history = e.desk.history(&emp, &t.number).await.unwrap();
    assert!(history.iter().any(|h| h.changes.iter().any(|c| c.field == "tags") && !h.internal));
    let q = TicketQuery { tags_any: t2.tags.clone(), ..TicketQuery::default() };
    assert_eq!(e.desk.list_tickets(&emp, &q).await.unwrap().items.len(), 1);
    assert_eq!(e.desk.ticket(&emp, &t.number).await.unwrap().ticket.tags, t2.tags);
    // Once triaged, the ticket's tags are staff's again.
    e.desk
        .act(
            &e.admin,
            &t.number,
            Action::Approve,
            ActionRequest { priority: Some(helpdesk_core::domain::Priority::Low), ..ActionRequest::default() },
            None,
        )
        .await
        .unwrap();
    let edit = TicketEdit { remove_tags: tag("second-floor"), ..TicketEdit::default() };
    assert!(matches!(e.desk.edit_ticket(&emp, &t.number, edit, None).await, Err(Error::Forbidden(_))));

    // Under the default options the same requester may neither tag nor see tags.
    let plain = env().await;
    let (emp, _) = employee(&plain, 1).await;
    let t = plain.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();
    let edit = TicketEdit { add_tags: tag("mine"), ..TicketEdit::default() };
    assert!(matches!(plain.desk.edit_ticket(&emp, &t.number, edit.clone(), None).await, Err(Error::Forbidden(_))));
    plain.desk.edit_ticket(&plain.admin, &t.number, edit, None).await.unwrap();
    assert!(plain.desk.ticket(&emp, &t.number).await.unwrap().ticket.tags.is_empty());
    assert!(
        plain.desk.history(&emp, &t.number).await.unwrap().iter().all(|h| h.changes.iter().all(|c| c.field != "tags"))
    );
}

fn macro_draft(name: &str) -> helpdesk_core::MacroDraft {
    helpdesk_core::MacroDraft { name: name.into(), ..helpdesk_core::MacroDraft::default() }
}

#[tokio::test]
async fn a_macro_applies_all_of_its_parts_in_one_commit_or_nothing() {
    use helpdesk_core::MacroDraft;
    let e = env().await;
    let (emp, _) = employee(&e, 1).await;
    let (coord, _) = staff(&e, 1, Role::Coordinator).await;
    let (other, _) = staff(&e, 2, Role::Coordinator).await;
    let t = e.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();
    let n = t.number.clone();
    let approve = ActionRequest {
        priority: Some(helpdesk_core::domain::Priority::High),
        department: Some("it".into()),
        ..ActionRequest::default()
    };
    e.desk.act(&coord, &n, Action::Approve, approve, None).await.unwrap();
    let t = e.desk.act(&coord, &n, Action::Claim, ActionRequest::default(), None).await.unwrap();

    // Checked when saved: unknown placeholders, a missing note, actions a macro cannot take,
    // and a macro that does nothing are field errors.
    let bad = MacroDraft { comment: Some("Hi {{requester.email}}".into()), ..macro_draft("Bad") };
    let Err(Error::Validation(v)) = e.desk.save_macro(&coord, None, bad).await else { panic!("placeholder") };
    assert_eq!(v.0[0].field, "comment");
    let bad = MacroDraft { action: Some(Action::Resolve), ..macro_draft("Bad") };
    let Err(Error::Validation(v)) = e.desk.save_macro(&coord, None, bad).await else { panic!("note") };
    assert_eq!(v.0[0].field, "action_note");
    let bad = MacroDraft { action: Some(Action::Withdraw), ..macro_draft("Bad") };
    let Err(Error::Validation(v)) = e.desk.save_macro(&coord, None, bad).await else { panic!("action") };
    assert_eq!(v.0[0].field, "action");
    assert!(matches!(e.desk.save_macro(&coord, None, macro_draft("Empty")).await, Err(Error::Validation(_))));
    // Shared macros are the admins'; requesters have no macros at all.
    let shared = MacroDraft { shared: true, add_tags: vec!["x".into()], ..macro_draft("Shared") };
    assert!(matches!(e.desk.save_macro(&coord, None, shared.clone()).await, Err(Error::Forbidden(_))));
    assert!(matches!(e.desk.macros(&emp).await, Err(Error::Forbidden(_))));

    let solved = e
        .desk
        .save_macro(
            &coord,
            None,
            MacroDraft {
                comment: Some(
                    "Hello {{requester.first_name}}, {{ticket.number}} is fixed. {{agent.first_name}}".into(),
                ),
                add_tags: vec!["Fixed by macro".into()],
                action: Some(Action::Resolve),
                action_note: Some("Solved for {{requester.name}}".into()),
                ..macro_draft("Solved")
            },
        )
        .await
        .unwrap();
    let clash = MacroDraft { add_tags: vec!["y".into()], ..macro_draft("solved") };
    let Err(Error::Validation(v)) = e.desk.save_macro(&coord, None, clash).await else { panic!("name taken") };
    assert_eq!((v.0[0].field.as_str(), v.0[0].code.as_str()), ("name", "taken"));
    // Personal: another coordinator neither sees nor applies it.
    assert!(e.desk.macros(&other).await.unwrap().is_empty());
    assert!(matches!(e.desk.apply_macro(&other, &n, solved.id, None, None).await, Err(Error::NotFound { .. })));
    e.desk.save_macro(&e.admin, None, shared).await.unwrap();
    assert_eq!(e.desk.macros(&other).await.unwrap().len(), 1);

    // The preview fills the placeholders and writes nothing.
    let p = e.desk.preview_macro(&coord, &n, solved.id).await.unwrap();
    assert_eq!(p.comment.as_deref(), Some("Hello Emp1, TX0001 is fixed. Staff1"));
    assert_eq!(p.action_note.as_deref(), Some("Solved for Emp1 Loyee"));
    assert_eq!(p.status, TicketStatus::Resolved);
    assert!(p.changes.iter().any(|c| c.field == "tags"));
    assert_eq!(e.desk.ticket(&coord, &n).await.unwrap().ticket.version, t.version);

    // A part the lifecycle refuses refuses the whole macro: no comment, no tag, no change.
    let hold = e
        .desk
        .save_macro(
            &coord,
            None,
            MacroDraft {
                comment: Some("Waiting for the part".into()),
                add_tags: vec!["waiting".into()],
                action: Some(Action::Reopen),
                action_note: Some("again".into()),
                ..macro_draft("Reopen it")
            },
        )
        .await
        .unwrap();
    let mark = e.store.outbox_records().len();
    let refused = e.desk.apply_macro(&coord, &n, hold.id, None, None).await;
    assert!(matches!(refused, Err(Error::InvalidTransition { .. } | Error::ActionNotAllowed { .. })), "{refused:?}");
    let after = e.desk.ticket(&coord, &n).await.unwrap().ticket;
    assert_eq!((after.version, after.tags.len()), (t.version, 0));
    assert_eq!(e.desk.comments(&coord, &n).await.unwrap().len(), 0);
    assert_eq!(e.store.outbox_records().len(), mark);

    // Applied: every part in one commit, one version, each event naming the macro.
    let stale = e.desk.apply_macro(&coord, &n, solved.id, Some(t.version + 5), None).await;
    assert!(matches!(stale, Err(Error::VersionConflict { .. })));
    let done = e.desk.apply_macro(&coord, &n, solved.id, Some(t.version), Some("k1")).await.unwrap();
    assert_eq!((done.status, done.version), (TicketStatus::Resolved, t.version + 1));
    assert_eq!(helpdesk_core::domain::Tag::join(&done.tags), "fixed-by-macro");
    let comments = e.desk.comments(&emp, &n).await.unwrap();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].body.as_str(), "Hello Emp1, TX0001 is fixed. Staff1");
    let history = e.desk.history(&coord, &n).await.unwrap();
    let by_macro: Vec<_> = history.iter().filter(|h| h.by_macro.as_deref() == Some("Solved")).collect();
    assert_eq!(by_macro.len(), 3, "tags, comment, resolve: {history:#?}");
    assert!(by_macro.iter().all(|h| h.version == done.version));
    assert!(
        mails_since(&e, mark).iter().any(|(to, kind)| to == "emp1@example.com" && kind == "ticket_resolved"),
        "{:?}",
        mails_since(&e, mark)
    );
    // A retry with the same key applies nothing again.
    let again = e.desk.apply_macro(&coord, &n, solved.id, Some(t.version), Some("k1")).await.unwrap();
    assert_eq!(again.version, done.version);
    assert_eq!(e.desk.comments(&emp, &n).await.unwrap().len(), 1);

    // Deleting is the owner's; the history keeps the name.
    assert!(matches!(e.desk.delete_macro(&other, solved.id).await, Err(Error::NotFound { .. })));
    e.desk.delete_macro(&coord, solved.id).await.unwrap();
    assert_eq!(e.desk.macros(&coord).await.unwrap().len(), 2);
}

#[tokio::test]
async fn saved_views_count_for_the_person_who_opens_them_and_each_person_has_a_default() {
    use helpdesk_core::ViewDraft;
    use helpdesk_core::model::{ViewAssignee, ViewColumn, ViewFilter};
    let e = env().await;
    let (emp, _) = employee(&e, 1).await;
    let (coord, _) = staff(&e, 1, Role::Coordinator).await;
    let (other, _) = staff(&e, 2, Role::Coordinator).await;
    for _ in 0..3 {
        e.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();
    }
    let approve = ActionRequest {
        priority: Some(helpdesk_core::domain::Priority::High),
        department: Some("it".into()),
        ..ActionRequest::default()
    };
    let n = TicketNumber::parse("TX0001").unwrap();
    e.desk.act(&coord, &n, Action::Approve, approve, None).await.unwrap();
    e.desk.act(&coord, &n, Action::Claim, ActionRequest::default(), None).await.unwrap();

    let mine = ViewFilter { assignee: Some(ViewAssignee::Me), ..ViewFilter::default() };
    let draft = ViewDraft {
        name: "Mine".into(),
        filter: mine.clone(),
        columns: vec![ViewColumn::Priority, ViewColumn::Status],
        ..ViewDraft::default()
    };
    // Requesters have no views; coordinators keep their own; sharing is the admins'.
    assert!(matches!(e.desk.views(&emp).await, Err(Error::Forbidden(_))));
    let shared = ViewDraft { shared: true, ..draft.clone() };
    assert!(matches!(e.desk.save_view(&coord, None, shared.clone()).await, Err(Error::Forbidden(_))));
    let v = e.desk.save_view(&coord, None, draft.clone()).await.unwrap();
    assert_eq!(v.columns, vec![ViewColumn::Status, ViewColumn::Priority], "the queue's order");
    let Err(Error::Validation(errs)) = e.desk.save_view(&coord, None, draft.clone()).await else { panic!("taken") };
    assert_eq!(errs.0[0].field, "name");
    let new_work = ViewFilter { statuses: vec![TicketStatus::New], ..ViewFilter::default() };
    let shared = ViewDraft { name: "New work".into(), shared: true, filter: new_work, ..ViewDraft::default() };
    let s = e.desk.save_view(&e.admin, None, shared).await.unwrap();

    // Counts are the asker's: "assigned to me" is one ticket for the coordinator, none for the
    // other; the shared view's two new tickets are the same for both.
    let counts = |list: Vec<helpdesk_core::ViewSummary>| {
        list.into_iter().map(|s| (s.view.name.to_string(), s.count, s.default)).collect::<Vec<_>>()
    };
    assert_eq!(
        counts(e.desk.views(&coord).await.unwrap()),
        vec![("Mine".into(), 1, false), ("New work".into(), 2, false)]
    );
    assert_eq!(counts(e.desk.views(&other).await.unwrap()), vec![("New work".into(), 2, false)]);
    assert!(matches!(e.desk.view_by_id(&other, v.id).await, Err(Error::NotFound { .. })));

    // Defaults are per person and only of views they can open.
    e.desk.set_default_view(&coord, Some(v.id)).await.unwrap();
    assert!(matches!(e.desk.set_default_view(&other, Some(v.id)).await, Err(Error::NotFound { .. })));
    e.desk.set_default_view(&other, Some(s.id)).await.unwrap();
    assert_eq!(e.desk.default_view(&coord).await.unwrap().map(|d| d.id), Some(v.id));
    assert_eq!(e.desk.default_view(&other).await.unwrap().map(|d| d.id), Some(s.id));
    assert!(e.desk.views(&coord).await.unwrap().iter().any(|s| s.default && s.view.id == v.id));
    // Deleting a shared view is the admins'; it ends the defaults that pointed at it.
    assert!(matches!(e.desk.delete_view(&other, s.id).await, Err(Error::Forbidden(_))));
    e.desk.delete_view(&e.admin, s.id).await.unwrap();
    assert_eq!(e.desk.default_view(&other).await.unwrap(), None);
    e.desk.set_default_view(&coord, None).await.unwrap();
    assert_eq!(e.desk.default_view(&coord).await.unwrap(), None);
}

/// Followers: the requester adds a colleague, who reads the public thread only, gets the
/// mails, comments, finds the ticket in "tickets I follow", and loses it all when removed.
#[tokio::test]
async fn a_follower_reads_the_public_thread_gets_its_mails_and_never_anything_internal() {
    let e = env().await;
    let (emp, requester) = employee(&e, 1).await;
    let (colleague, mate) = employee(&e, 2).await;
    let (outsider, _) = employee(&e, 3).await;
    let (coord, _) = staff(&e, 1, Role::Coordinator).await;
    let t = e.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();

    // Who may add whom: not a stranger, not the requester, not an unknown address.
    let add = |p: &Principal, email: &str| {
        let (desk, p, n, email) = (&e.desk, p.clone(), t.number.clone(), email.to_owned());
        async move { desk.add_follower(&p, &n, &email, None).await }
    };
    assert!(matches!(add(&outsider, "emp2@example.com").await, Err(Error::NotFound { .. })));
    for (email, code) in
        [("emp1@example.com", "is_requester"), ("nobody@example.com", "unknown"), ("not an address", "invalid")]
    {
        match add(&emp, email).await {
            Err(Error::Validation(v)) => assert_eq!((v.0[0].field.as_str(), v.0[0].code.as_str()), ("email", code)),
            other => panic!("{email}: {other:?}"),
        }
    }
    let mark = e.store.outbox_records().len();
    let after = add(&emp, " EMP2@example.com ").await.unwrap();
    assert_eq!((after.followers.clone(), after.version), (vec![mate.id], t.version + 1));
    assert_eq!(mails_since(&e, mark), [("emp2@example.com".to_owned(), "following_started".to_owned())]);
    // Adding again changes nothing.
    assert_eq!(add(&emp, "emp2@example.com").await.unwrap().version, after.version);

    // The follower sees the public thread, not the internal note, and cannot act or edit.
    e.desk.add_comment(&coord, &t.number, "INTERNAL: check the warranty", true).await.unwrap();
    let thread = e.desk.ticket_thread(&colleague, &t.number).await.unwrap();
    assert!(!thread.view.sees_internal && thread.view.actions.is_empty());
    assert!(thread.comments.iter().all(|c| !c.internal));
    assert!(thread.history.iter().all(|ev| !ev.internal));
    assert!(thread.people.iter().any(|p| p.id == mate.id));
    assert!(matches!(e.desk.add_comment(&colleague, &t.number, "x", true).await, Err(Error::Forbidden(_))));
    assert!(e.desk.act(&colleague, &t.number, Action::Withdraw, ActionRequest::default(), None).await.is_err());
    assert!(add(&colleague, "emp3@example.com").await.is_err(), "a follower does not add others");

    // Mails: the staff reply and the approval reach the follower too; the follower's comment
    // reaches the requester.
    let mark = e.store.outbox_records().len();
    e.desk.add_comment(&coord, &t.number, "Which model is it?", false).await.unwrap();
    let mails = mails_since(&e, mark);
    assert!(mails.contains(&("emp1@example.com".into(), "public_comment".into())));
    assert!(mails.contains(&("emp2@example.com".into(), "public_comment".into())));
    let mark = e.store.outbox_records().len();
    e.desk.add_comment(&colleague, &t.number, "It is the X1, I sit next to it", false).await.unwrap();
    assert_eq!(mails_since(&e, mark), [("emp1@example.com".to_owned(), "public_comment".to_owned())]);
    let mark = e.store.outbox_records().len();
    let approve = ActionRequest {
        priority: Some(helpdesk_core::domain::Priority::High),
        department: Some("it".into()),
        ..ActionRequest::default()
    };
    e.desk.act(&coord, &t.number, Action::Approve, approve, None).await.unwrap();
    let mails = mails_since(&e, mark);
    assert!(mails.contains(&("emp1@example.com".into(), "ticket_approved".into())));
    assert!(mails.contains(&("emp2@example.com".into(), "followed_ticket_changed".into())));
    // No mail to the follower carries internal text.
    for r in e.store.outbox_records() {
        if let OutboxPayload::Mail(m) = r.message.payload
            && m.to.as_str() == "emp2@example.com"
        {
            assert!(!format!("{:?}", m.kind).contains("INTERNAL"));
        }
    }

    // "Tickets I follow" lists it for the follower; their own list does not.
    let followed = TicketQuery { follower: Some(mate.id), ..TicketQuery::default() };
    assert_eq!(e.desk.list_tickets(&colleague, &followed).await.unwrap().items.len(), 1);
    assert!(e.desk.list_tickets(&colleague, &TicketQuery::default()).await.unwrap().items.is_empty());
    let theirs = TicketQuery { follower: Some(requester.id), ..TicketQuery::default() };
    assert!(e.desk.list_tickets(&colleague, &theirs).await.unwrap().items.is_empty());

    // Removed: access ends at the next request; the history says who did what.
    let removed = e.desk.remove_follower(&emp, &t.number, mate.id, None).await.unwrap();
    assert!(removed.followers.is_empty());
    assert!(matches!(e.desk.ticket(&colleague, &t.number).await, Err(Error::NotFound { .. })));
    assert!(e.desk.list_tickets(&colleague, &followed).await.unwrap().items.is_empty());
    assert!(matches!(
        e.desk.remove_follower(&emp, &t.number, mate.id, None).await,
        Err(Error::NotFound { what: "follower" })
    ));
    // A follower may leave by themselves; staff may add and remove anyone.
    e.desk.add_follower(&coord, &t.number, "emp2@example.com", None).await.unwrap();
    e.desk.remove_follower(&colleague, &t.number, mate.id, None).await.unwrap();
    let kinds: Vec<String> = e
        .desk
        .history(&emp, &t.number)
        .await
        .unwrap()
        .iter()
        .filter_map(|ev| match ev.kind {
            EventKind::FollowerAdded { .. } => Some("added".to_owned()),
            EventKind::FollowerRemoved { .. } => Some("removed".to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["added", "removed", "added", "removed"]);
}

/// Links are kept on both tickets and hidden from requesters; a parent is not resolved while a
/// child is open unless staff force it; a merge copies the conversation, moves the followers,
/// closes the duplicate as a pointer and tells its requester, all in one commit.
#[tokio::test]
async fn links_hold_a_parent_open_and_a_merge_folds_a_duplicate_into_its_survivor() {
    let e = env().await;
    let (emp, _) = employee(&e, 1).await;
    let (other_emp, other) = employee(&e, 2).await;
    let (coord, _) = staff(&e, 1, Role::Coordinator).await;
    let parent = e.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();
    let child = e.desk.create_ticket(&emp, new_ticket(), None).await.unwrap();
    let approve = || ActionRequest {
        priority: Some(helpdesk_core::domain::Priority::High),
        department: Some("it".into()),
        ..ActionRequest::default()
    };
    for t in [&parent, &child] {
        e.desk.act(&coord, &t.number, Action::Approve, approve(), None).await.unwrap();
        e.desk.act(&coord, &t.number, Action::Claim, ActionRequest::default(), None).await.unwrap();
    }

    // Only staff link; bad numbers name the field; both tickets hold the link.
    use helpdesk_core::model::LinkKind;
    assert!(e.desk.link_tickets(&emp, &parent.number, LinkKind::ParentOf, child.number.as_str(), None).await.is_err());
    for (other, code) in [("TX9999", "unknown"), (parent.number.as_str(), "same_ticket"), ("nonsense", "unknown")] {
        match e.desk.link_tickets(&coord, &parent.number, LinkKind::ParentOf, other, None).await {
            Err(Error::Validation(v)) => assert_eq!((v.0[0].field.as_str(), v.0[0].code.as_str()), ("ticket", code)),
            x => panic!("{other}: {x:?}"),
        }
    }
    let p = e.desk.link_tickets(&coord, &parent.number, LinkKind::ParentOf, child.number.as_str(), None).await.unwrap();
    assert_eq!(p.links[0].kind, LinkKind::ParentOf);
    let c = e.desk.ticket(&coord, &child.number).await.unwrap().ticket;
    assert_eq!((c.links[0].kind, c.links[0].ticket.clone()), (LinkKind::ChildOf, parent.number.clone()));
    assert!(e.desk.ticket(&emp, &parent.number).await.unwrap().ticket.links.is_empty(), "requesters see no links");
    assert!(
        e.desk
            .history(&emp, &parent.number)
            .await
            .unwrap()
            .iter()
            .all(|ev| !matches!(ev.kind, EventKind::Linked { .. }))
    );
    match e.desk.link_tickets(&coord, &child.number, LinkKind::ParentOf, parent.number.as_str(), None).await {
        Err(Error::Validation(v)) => assert_eq!(v.0[0].code, "cycle"),
        x => panic!("{x:?}"),
    }

    // The parent waits for its child, unless staff force it (the history names the child).
    let resolve = |force| ActionRequest { text: Some("Fixed the dock".into()), force, ..ActionRequest::default() };
    match e.desk.act(&coord, &parent.number, Action::Resolve, resolve(false), None).await {
        Err(Error::Validation(v)) => {
            assert_eq!(v.0[0].field, "force");
            assert!(v.0[0].message.contains(child.number.as_str()), "{}", v.0[0].message);
        }
        x => panic!("{x:?}"),
    }
    let forced = e.desk.act(&coord, &parent.number, Action::Resolve, resolve(true), None).await.unwrap();
    assert_eq!(forced.status, TicketStatus::Resolved);
    let h = e.desk.history(&coord, &parent.number).await.unwrap();
    assert!(h.last().unwrap().changes.iter().any(|c| c.field == "open_children"));
    e.desk.unlink_tickets(&coord, &child.number, &parent.number, None).await.unwrap();
    assert!(e.desk.ticket(&coord, &parent.number).await.unwrap().ticket.links.is_empty(), "gone from both");

    // A merge: another employee's duplicate, with a comment and an internal note.
    let dup = e.desk.create_ticket(&other_emp, new_ticket(), None).await.unwrap();
    e.desk.add_comment(&other_emp, &dup.number, "Same here on floor 2", false).await.unwrap();
    e.desk.add_comment(&coord, &dup.number, "INTERNAL: same dock batch", true).await.unwrap();
    assert!(matches!(
        e.desk.merge_ticket(&coord, &dup.number, child.number.as_str(), "", None).await,
        Err(Error::Validation(_))
    ));
    assert!(e.desk.merge_ticket(&emp, &child.number, dup.number.as_str(), "dup", None).await.is_err(), "staff only");
    let mark = e.store.outbox_records().len();
    let kept =
        e.desk.merge_ticket(&coord, &dup.number, child.number.as_str(), "Same dock as TX0002", None).await.unwrap();
    assert_eq!(kept.number, child.number);
    assert!(kept.followers.contains(&other.id), "the duplicate's requester follows the survivor");
    assert_eq!(mails_since(&e, mark), [("emp2@example.com".to_owned(), "ticket_merged".to_owned())]);
    let closed = e.desk.ticket(&coord, &dup.number).await.unwrap().ticket;
    assert_eq!((closed.status, closed.merged_into.clone()), (TicketStatus::Closed, Some(child.number.clone())));
    // The conversation came along, the internal note still internal.
    let staff_view = e.desk.comments(&coord, &child.number).await.unwrap();
    assert!(staff_view.iter().any(|c| c.body.as_str() == "Same here on floor 2" && !c.internal));
    assert!(
        staff_view
            .iter()
            .any(|c| c.body.as_str().contains("Black screen since this morning") && c.author.user() == Some(other.id)),
        "the duplicate's description comes first, as its requester's comment"
    );
    assert!(staff_view.iter().any(|c| c.body.as_str().starts_with("INTERNAL") && c.internal));
    let theirs = e.desk.ticket_thread(&other_emp, &child.number).await.unwrap();
    assert!(theirs.comments.iter().any(|c| c.body.as_str() == "Same here on floor 2"));
    assert!(theirs.comments.iter().all(|c| !c.internal));
    // Both histories say so; a merged ticket is not merged twice, nor merged into.
    assert!(
        e.desk
            .history(&other_emp, &dup.number)
            .await
            .unwrap()
            .iter()
            .any(|ev| matches!(ev.kind, EventKind::MergedInto { .. }))
    );
    assert!(
        e.desk
            .history(&emp, &child.number)
            .await
            .unwrap()
            .iter()
            .any(|ev| matches!(ev.kind, EventKind::MergedFrom { .. }))
    );
    assert!(matches!(
        e.desk.merge_ticket(&coord, &dup.number, parent.number.as_str(), "again", None).await,
        Err(Error::Conflict(_))
    ));
    // Nothing more is written on the pointer: a late note or follower goes to the survivor.
    assert!(matches!(e.desk.add_comment(&coord, &dup.number, "late note", true).await, Err(Error::Conflict(_))));
    assert!(matches!(
        e.desk.add_follower(&coord, &dup.number, "emp1@example.com", None).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        e.desk.merge_ticket(&coord, &parent.number, dup.number.as_str(), "into a pointer", None).await,
        Err(Error::Validation(_))
    ));
}

/// Custom fields end to end on the service: an admin defines them; the requester sets only
/// theirs when filing (required ones included); staff edit any, internal ones stay staff's
/// (values, history); lists filter and sort by them; a required staff field holds up a
/// resolution; a retired field keeps its values and takes no new ones.
#[tokio::test]
async fn custom_fields_are_checked_on_every_write_and_internal_ones_stay_with_staff() {
    use helpdesk_core::domain::FieldKey;
    use helpdesk_core::model::{FieldBook, FieldDef, FieldKind, FieldValue};
    use serde_json::json;

    let e = env().await;
    let (emp, _) = employee(&e, 1).await;
    let (coord, _) = staff(&e, 1, Role::Coordinator).await;
    let def = |key: &str, kind, options: &[&str], required, requester_sets, internal| FieldDef {
        key: FieldKey::parse_field("key", key).unwrap(),
        label: key.replace('_', " "),
        kind,
        options: options.iter().map(|s| s.to_string()).collect(),
        required,
        requester_sets,
        internal,
        retired: false,
    };
    let mut book = FieldBook {
        fields: vec![
            def("site", FieldKind::Choice, &["Lisbon", "Berlin"], true, true, false),
            def("asset_tag", FieldKind::Text, &[], false, true, false),
            def("cost", FieldKind::Number, &[], false, false, true),
            def("root_cause", FieldKind::Text, &[], true, false, false),
        ],
    };
    assert!(matches!(e.desk.save_custom_fields(&coord, book.clone(), 0).await, Err(Error::Forbidden(_))));
    let saved = e.desk.save_custom_fields(&e.admin, book.clone(), 0).await.unwrap();
    assert_eq!(saved.version, 1);
    // Requesters read the fields they see: not the internal one.
    let seen = e.desk.custom_fields(&emp).await.unwrap();
    assert_eq!(
        seen.book.fields.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(),
        ["site", "asset_tag", "root_cause"]
    );

    // Filing: the required requester field, their own fields only, values checked.
    let with = |fields: serde_json::Value| {
        let mut t = new_ticket();
        t.fields = serde_json::from_value(fields).unwrap();
        t
    };
    fn codes<T: std::fmt::Debug>(r: Result<T, Error>) -> Vec<String> {
        match r {
            Err(Error::Validation(v)) => v.0.iter().map(|f| format!("{}:{}", f.field, f.code)).collect(),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(codes(e.desk.create_ticket(&emp, new_ticket(), None).await), ["fields.site:required"]);
    assert_eq!(
        codes(e.desk.create_ticket(&emp, with(json!({"site": "Paris", "cost": 3, "nope": 1})), None).await),
        ["fields.cost:not_allowed", "fields.nope:unknown", "fields.site:invalid"]
    );
    let t = e.desk.create_ticket(&emp, with(json!({"site": "lisbon", "asset_tag": " LT-7 "})), None).await.unwrap();
    assert_eq!(t.fields.get(&FieldKey::parse_field("k", "site").unwrap()), Some(&FieldValue::Text("Lisbon".into())));

    // After filing, requesters edit no field; staff edit any, the internal one too.
    let edit = |fields: serde_json::Value| TicketEdit {
        fields: serde_json::from_value(fields).unwrap(),
        ..TicketEdit::default()
    };
    assert!(matches!(
        e.desk.edit_ticket(&emp, &t.number, edit(json!({"asset_tag": "LT-8"})), None).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        e.desk.edit_ticket(&emp, &t.number, edit(json!({"cost": 12})), None).await,
        Err(Error::Forbidden(_))
    ));
    assert_eq!(
        codes(e.desk.edit_ticket(&coord, &t.number, edit(json!({"site": null})), None).await),
        ["fields.site:required"]
    );
    let t = e
        .desk
        .edit_ticket(&coord, &t.number, edit(json!({"cost": "129.50", "asset_tag": "LT-8"})), None)
        .await
        .unwrap();
    assert_eq!(t.fields.len(), 3);

    // The requester never sees the internal value nor its change.
    let thread = e.desk.ticket_thread(&emp, &t.number).await.unwrap();
    assert!(thread.view.ticket.fields.keys().all(|k| k.as_str() != "cost"));
    assert!(thread.history.iter().flat_map(|ev| &ev.changes).all(|c| c.field != "fields.cost"));
    assert!(thread.history.iter().flat_map(|ev| &ev.changes).any(|c| c.field == "fields.asset_tag"));
    let staff_thread = e.desk.ticket_thread(&coord, &t.number).await.unwrap();
    let cost = staff_thread.history.iter().find(|ev| ev.changes.iter().any(|c| c.field == "fields.cost")).unwrap();
    assert!(cost.internal);

    // Lists filter and sort by them (an employee cannot filter by an internal field).
    let filters = e.desk.field_filters(&coord, &[("cost".to_owned(), json!("129.5"))].into()).await.unwrap();
    let q = TicketQuery { fields: filters, ..TicketQuery::default() };
    assert_eq!(e.desk.list_tickets(&coord, &q).await.unwrap().items.len(), 1);
    assert!(e.desk.field_filters(&emp, &[("cost".to_owned(), json!(1))].into()).await.is_err());
    assert!(e.desk.sort_field(&coord, "cost").await.is_ok());
    assert!(e.desk.sort_field(&coord, "site").await.is_err(), "choices do not sort");

    // A required staff field holds up the resolution.
    e.desk
        .act(
            &coord,
            &t.number,
            Action::Approve,
            ActionRequest { priority: Some(helpdesk_core::domain::Priority::Low), ..ActionRequest::default() },
            None,
        )
        .await
        .unwrap();
    e.desk.act(&coord, &t.number, Action::Claim, ActionRequest::default(), None).await.unwrap();
    assert_eq!(
        codes(e.desk.act(&coord, &t.number, Action::Resolve, text("Replaced"), None).await),
        ["fields.root_cause:required"]
    );
    e.desk.edit_ticket(&coord, &t.number, edit(json!({"root_cause": "worn cable"})), None).await.unwrap();
    e.desk.act(&coord, &t.number, Action::Resolve, text("Replaced"), None).await.unwrap();

    // Kinds and keys stay; a field is retired, not removed; its values stay.
    book.fields[2].kind = FieldKind::Text;
    assert_eq!(codes(e.desk.save_custom_fields(&e.admin, book.clone(), 1).await), ["fields[2].kind:fixed"]);
    book.fields[2].kind = FieldKind::Number;
    let mut removed = book.clone();
    removed.fields.remove(1);
    assert_eq!(codes(e.desk.save_custom_fields(&e.admin, removed, 1).await), ["fields:removed"]);
    book.fields[1].retired = true;
    assert!(matches!(e.desk.save_custom_fields(&e.admin, book.clone(), 0).await, Err(Error::VersionConflict { .. })));
    e.desk.save_custom_fields(&e.admin, book.clone(), 1).await.unwrap();
    let kept = e.desk.ticket_thread(&coord, &t.number).await.unwrap().view.ticket;
    assert_eq!(
        kept.fields.get(&FieldKey::parse_field("k", "asset_tag").unwrap()),
        Some(&FieldValue::Text("LT-8".into()))
    );
    assert_eq!(
        codes(e.desk.create_ticket(&emp, with(json!({"site": "Berlin", "asset_tag": "x"})), None).await),
        ["fields.asset_tag:retired"]
    );
}
