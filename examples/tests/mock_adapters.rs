//! A test with `mockall` mocks of the ports: the dispatcher must call the mailer exactly once
//! with the "ticket received" mail of a new ticket, and never the workflow sink.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::sync::Arc;

use helpdesk_core::model::NotificationKind;
use helpdesk_core::password::{Argon2Hasher, Argon2Options, Password};
use helpdesk_core::testing::{InMemoryStore, ManualClock, MockMailer, MockWorkflowSink};
use helpdesk_core::{BootstrapAdmin, HelpDesk, LoginRequest, NewTicket, OutboxDispatcher};

#[tokio::test]
async fn a_new_ticket_sends_exactly_one_received_mail() {
    let store = Arc::new(InMemoryStore::new());
    let clock = ManualClock::default_start();
    let desk = HelpDesk::builder(store.clone(), Arc::new(object_store::memory::InMemory::new()))
        .clock(clock.clone())
        .hasher(Arc::new(Argon2Hasher::new(Argon2Options::insecure_fast_for_tests()).unwrap()))
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
    let s = desk
        .login(LoginRequest { email: "admin@example.com".into(), password: Password::new(pw), address: None })
        .await
        .unwrap();
    let (admin, _) = desk.authenticate_session(s.session.id).await.unwrap();
    desk.create_ticket(
        &admin,
        NewTicket {
            subject: "Mouse".into(),
            category: "hardware".into(),
            sub_category: "peripheral".into(),
            description: "Broken wheel".into(),
            scheduled_date: None,
        },
        None,
    )
    .await
    .unwrap();

    let mut mailer = MockMailer::new();
    mailer
        .expect_send()
        .withf(|_, n| {
            n.to.as_str() == "admin@example.com"
                && matches!(&n.kind, NotificationKind::TicketReceived { ticket } if ticket.subject == "Mouse")
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let mut sink = MockWorkflowSink::new();
    sink.expect_deliver().never();
    let d = OutboxDispatcher::new(store, Arc::new(mailer), Arc::new(sink), clock, desk.options().outbox.clone());
    assert_eq!(d.run_once().await.unwrap().delivered, 1);
}
