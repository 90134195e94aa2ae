//! A test with `mockall` mocks of the ports: the dispatcher must call the mailer exactly once
//! with the "ticket received" mail of a new ticket, and never the workflow sink.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::sync::Arc;

use helpdesk_core::model::NotificationKind;
use helpdesk_core::testing::{InMemoryStore, ManualClock, MockMailer, MockWorkflowSink, desk_with_admin};
use helpdesk_core::{NewTicket, OutboxDispatcher};

#[tokio::test]
async fn a_new_ticket_sends_exactly_one_received_mail() {
    let store = Arc::new(InMemoryStore::new());
    let clock = ManualClock::default_start();
    let (desk, admin) = desk_with_admin(store.clone(), clock.clone()).await;
    desk.create_ticket(
        &admin,
        NewTicket {
            subject: "Mouse".into(),
            category: "hardware".into(),
            sub_category: "peripheral".into(),
            description: "Broken wheel".into(),
            scheduled_date: None,
            fields: Default::default(),
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
