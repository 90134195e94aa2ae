//! [`seed_every_kind`]: a store holding at least one record of every kind, each written by the
//! use case that writes it in production (registration, approval, rejection, invitation,
//! password reset, tickets through their lifecycle with comments and attachments, API keys,
//! deliveries that succeed and fail, notices read and unread, an avatar). Whole-store tests
//! (export and import, backups) start from it.

use std::sync::Arc;

use bytes::Bytes;
use chrono::Duration;
use object_store::ObjectStore;

use super::{ManualClock, RecordingMailer, RecordingWorkflowSink};
use crate::OutboxOptions;
use crate::domain::{Priority, Role, TicketNumber, TicketStatus};
use crate::lifecycle::Action;
use crate::model::{ApiScope, NotificationKind, OutboxPayload, OutboxState};
use crate::password::{Argon2Hasher, Argon2Options, Password};
use crate::policy::Principal;
use crate::ports::{DeliveryError, PageSize, Store};
use crate::{
    ActionRequest, BootstrapAdmin, HelpDesk, LoginRequest, NewTicket, NewUser, OutboxDispatcher, Registration, Upload,
};

/// The password of every user [`seed_every_kind`] creates.
pub const SEED_PASSWORD: &str = "harbor-lantern-quartz-71";

/// What [`seed_every_kind`] made.
#[derive(Debug)]
pub struct Seeded {
    /// The desk over the seeded store (its clock is the one passed in).
    pub desk: HelpDesk,
    /// The tickets, in creation order.
    pub tickets: Vec<TicketNumber>,
    /// Every user's email that can sign in with [`SEED_PASSWORD`].
    pub sign_ins: Vec<String>,
    /// The bytes of every attachment uploaded, by file name.
    pub files: Vec<(String, Vec<u8>)>,
}

/// A help desk over `store` and `blobs` with cheap password hashing and `clock`.
pub fn seed_desk(store: Arc<dyn Store>, blobs: Arc<dyn ObjectStore>, clock: Arc<ManualClock>) -> HelpDesk {
    let mut options = crate::HelpDeskOptions::default();
    options.satisfaction.link_key = Some(crate::LinkKey::derive(b"the seed's token secret"));
    HelpDesk::builder(store, blobs)
        .clock(clock)
        .hasher(Arc::new(Argon2Hasher::new(Argon2Options::insecure_fast_for_tests()).unwrap()))
        .options(options)
        .build()
        .unwrap()
}

async fn sign_in(desk: &HelpDesk, email: &str) -> Principal {
    let login = LoginRequest { email: email.into(), password: Password::new(SEED_PASSWORD), address: None };
    let s = desk.login(login).await.unwrap();
    desk.authenticate_session(s.session.id).await.unwrap().0
}

fn registration(n: u32) -> Registration {
    Registration {
        email: format!("emp{n}@example.com"),
        password: Password::new(SEED_PASSWORD),
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

fn text(s: &str) -> ActionRequest {
    ActionRequest { text: Some(s.into()), ..ActionRequest::default() }
}

fn ticket(subject: &str) -> NewTicket {
    NewTicket {
        subject: subject.into(),
        category: "hardware".into(),
        sub_category: "laptop".into(),
        description: format!("{subject}: since this morning"),
        scheduled_date: None,
        fields: Default::default(),
    }
}

/// Fills an empty `store` (and `blobs`) with every kind of record; see the module docs.
pub async fn seed_every_kind(store: Arc<dyn Store>, blobs: Arc<dyn ObjectStore>, clock: Arc<ManualClock>) -> Seeded {
    let desk = seed_desk(store.clone(), blobs, clock.clone());
    let tick = || clock.advance(Duration::seconds(7));
    desk.ensure_admin(BootstrapAdmin {
        email: "admin@example.com".into(),
        password: Some(Password::new(SEED_PASSWORD)),
        first_name: "Ada".into(),
        last_name: "Admin".into(),
    })
    .await
    .unwrap();
    let admin = sign_in(&desk, "admin@example.com").await;
    tick();

    // Employees: two approved, one rejected (a rejection record), one left pending.
    for n in 1..=4 {
        let u = desk.register(&Principal::Anonymous, registration(n)).await.unwrap();
        tick();
        match n {
            1 | 2 => {
                desk.approve_user(&admin, u.id, None).await.unwrap();
            }
            3 => {
                desk.reject_user(&admin, u.id, Some("Not an employee"), None).await.unwrap();
            }
            _ => {}
        }
        tick();
    }
    let emp = sign_in(&desk, "emp1@example.com").await;
    let emp2 = sign_in(&desk, "emp2@example.com").await;
    desk.set_avatar(&emp, Bytes::from_static(b"\x89PNG avatar of emp1")).await.unwrap();

    // A coordinator through an invitation (a used token), and a password reset (an unused one).
    let coordinator = desk
        .create_user(
            &admin,
            NewUser {
                email: "coord@example.com".into(),
                first_name: "Cora".into(),
                middle_name: None,
                last_name: "Ordinator".into(),
                suffix: None,
                company_id: None,
                department: Some("it".into()),
                role: Role::Coordinator,
            },
        )
        .await
        .unwrap();
    let page = PageSize::new(PageSize::MAX).unwrap();
    let invitation = store
        .list_outbox(OutboxState::Pending, None, page)
        .await
        .unwrap()
        .items
        .into_iter()
        .find_map(|r| match r.message.payload {
            OutboxPayload::Mail(m) if m.to == coordinator.email => match m.kind {
                NotificationKind::Invitation { token, .. } => Some(token.expose().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .unwrap();
    desk.accept_invitation(&invitation, Password::new(SEED_PASSWORD)).await.unwrap();
    let coord = sign_in(&desk, "coord@example.com").await;
    desk.forgot_password("emp2@example.com", None).await.unwrap();
    tick();

    // API keys: one live, one revoked.
    desk.create_api_key(&admin, "workflow", vec![ApiScope::ReadTickets, ApiScope::PushWorkflow]).await.unwrap();
    let (old, _) = desk.create_api_key(&admin, "old system", vec![ApiScope::ReadTickets]).await.unwrap();
    desk.revoke_api_key(&admin, old.id).await.unwrap();

    // Tickets: one resolved and closed with comments and attachments, one rejected, one
    // waiting on its requester, one new.
    let mut tickets = Vec::new();
    let mut files = Vec::new();
    let a = desk.create_ticket(&emp, ticket("Laptop will not boot"), None).await.unwrap();
    tick();
    let approve =
        ActionRequest { priority: Some(Priority::High), department: Some("it".into()), ..ActionRequest::default() };
    desk.act(&coord, &a.number, Action::Approve, approve.clone(), None).await.unwrap();
    desk.act(&coord, &a.number, Action::Claim, ActionRequest::default(), None).await.unwrap();
    tick();
    let note = desk.add_comment(&coord, &a.number, "Warranty ends next month", true).await.unwrap();
    desk.add_comment(&coord, &a.number, "Which model is it?", false).await.unwrap();
    desk.add_comment(&emp, &a.number, "A ThinkPad T14", false).await.unwrap();
    for (who, name, comment, bytes) in [
        (&emp, "boot-screen.txt", None, b"black screen, fan spinning\n".to_vec()),
        (&coord, "warranty.txt", Some(note.id), b"warranty until 2026-02-28\n".to_vec()),
    ] {
        let body = futures::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(bytes.clone()))]);
        desk.upload_attachment(who, &a.number, Upload { file_name: name.into(), comment }, body).await.unwrap();
        files.push((name.to_owned(), bytes));
    }
    tick();
    desk.act(&coord, &a.number, Action::Resolve, text("Replaced the SSD"), None).await.unwrap();
    let closed = desk.act(&emp, &a.number, Action::Close, ActionRequest::default(), None).await.unwrap();
    // Rated through the resolution mail's link.
    let link = desk.rating_link(&closed, desk.now()).unwrap();
    desk.rate_ticket(&a.number, link.token.expose(), "good", Some("Fast, thank you")).await.unwrap();
    tickets.push(a.number);

    let b = desk.create_ticket(&emp2, ticket("Second monitor"), None).await.unwrap();
    desk.act(&coord, &b.number, Action::Reject, text("Ask your manager first"), None).await.unwrap();
    tickets.push(b.number);
    tick();
    let c = desk.create_ticket(&emp2, ticket("VPN drops"), None).await.unwrap();
    desk.act(&coord, &c.number, Action::Approve, approve, None).await.unwrap();
    desk.act(&coord, &c.number, Action::Claim, ActionRequest::default(), None).await.unwrap();
    desk.act(&coord, &c.number, Action::AwaitRequester, text("Since when?"), None).await.unwrap();
    tickets.push(c.number.clone());
    tick();
    let d = desk.create_ticket(&emp, ticket("Keyboard sticks"), None).await.unwrap();
    tickets.push(d.number);
    desk.mark_notices_read(&emp, None).await.unwrap();
    // A message that came in by mail (an auto-reply, recorded and left alone).
    let away = b"From: emp1@example.com\r\nSubject: Away\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <seed-away@example.com>\r\n\r\nBack on Monday\r\n";
    desk.ingest_mail(&crate::policy::Principal::System, away, crate::model::InboundChannel::Pipe).await.unwrap();

    // Deliveries: everything so far delivered, then one dead message, then some left pending.
    let (mailer, workflow) = (RecordingMailer::new(), RecordingWorkflowSink::new());
    let options = OutboxOptions { max_attempts: 1, ..OutboxOptions::default() };
    let dispatcher = OutboxDispatcher::new(store.clone(), mailer.clone(), workflow, clock.clone(), options);
    tick();
    while dispatcher.run_once().await.unwrap().claimed > 0 {}
    desk.add_comment(&coord, &c.number, "Any news?", false).await.unwrap();
    mailer.fail_with(Some(DeliveryError::Permanent("550 no such user".into())));
    tick();
    while dispatcher.run_once().await.unwrap().claimed > 0 {}
    desk.add_comment(&emp2, &c.number, "Since Monday", false).await.unwrap();
    tick();

    // Service levels an admin saved (straight to the store: not put in force here, so the
    // tickets above keep their schedules as they are).
    let sla: crate::sla::SlaSpec = serde_json::from_value(serde_json::json!({
        "calendars": [{"key": "office", "time_zone": "Europe/Berlin",
                       "week": [{"day": "mon", "hours": [{"start": "09:00", "end": "17:00"}]}],
                       "holidays": [{"date": "2026-01-01", "recurring": true, "name": "New Year"}]}],
        "policies": [{"key": "standard", "calendar": "office", "targets": [{"first_response_minutes": 240}]}]
    }))
    .unwrap();
    store.save_sla_spec(&sla, 0).await.unwrap();
    // A macro of the coordinator's.
    let draft = crate::MacroDraft {
        name: "Ask for the model".into(),
        comment: Some("Which model is it, {{requester.first_name}}?".into()),
        add_tags: vec!["needs-info".into()],
        ..crate::MacroDraft::default()
    };
    desk.save_macro(&coord, None, draft).await.unwrap();
    // A view of the coordinator's, their default.
    let filter = crate::model::ViewFilter {
        statuses: vec![TicketStatus::Open, TicketStatus::InProgress],
        assignee: Some(crate::model::ViewAssignee::Me),
        ..crate::model::ViewFilter::default()
    };
    let draft = crate::ViewDraft { name: "My open work".into(), filter, ..crate::ViewDraft::default() };
    let view = desk.save_view(&coord, None, draft).await.unwrap();
    desk.set_default_view(&coord, Some(view.id)).await.unwrap();
    // A custom field, and its value on the first ticket.
    let book: crate::model::FieldBook = serde_json::from_value(serde_json::json!({
        "fields": [{"key": "asset_tag", "label": "Asset tag", "kind": "text"}]
    }))
    .unwrap();
    desk.save_custom_fields(&admin, book, 0).await.unwrap();
    let edit = crate::TicketEdit {
        fields: [("asset_tag".to_owned(), serde_json::json!("LT-0042"))].into(),
        ..crate::TicketEdit::default()
    };
    desk.edit_ticket(&coord, &tickets[0], edit, None).await.unwrap();

    Seeded {
        desk,
        tickets,
        sign_ins: ["admin@example.com", "emp1@example.com", "emp2@example.com", "coord@example.com"]
            .map(str::to_owned)
            .to_vec(),
        files,
    }
}
