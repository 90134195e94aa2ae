//! The application's own logic tested against helpdesk's `MockStore`: the help desk runs its
//! real policy over a store that answers only what the test expects, so the test proves both
//! what the application shows and which query reaches the store (an employee's list is always
//! narrowed to their own tickets by core).

use std::sync::Arc;

use helpdesk_core::HelpDesk;
use helpdesk_core::domain::{Role, TicketStatus, UserId};
use helpdesk_core::policy::{Principal, UserPrincipal};
use helpdesk_core::ports::Page;
use helpdesk_core::testing::{MockStore, fixtures};

fn employee(id: UserId) -> Principal {
    Principal::User(UserPrincipal { id, role: Role::Employee, department: None, session: None })
}

fn desk(store: MockStore) -> HelpDesk {
    HelpDesk::builder(Arc::new(store), Arc::new(object_store::memory::InMemory::new())).build().unwrap()
}

#[tokio::test]
async fn the_banner_counts_the_employees_own_open_tickets() {
    let me = UserId::random();
    let mut store = MockStore::new();
    store
        .expect_list_tickets()
        .withf(move |q| q.requester == Some(me) && q.statuses.len() == 5 && !q.statuses.contains(&TicketStatus::Closed))
        .times(1)
        .returning(move |_| {
            let t0 = fixtures::t0();
            Ok(Page { items: vec![fixtures::ticket(1, me, t0), fixtures::ticket(2, me, t0)], next: None })
        });
    let banner = helpdesk_embedder::open_tickets_banner(&desk(store), &employee(me)).await.unwrap();
    assert_eq!(banner, "2 open tickets.");
}

#[tokio::test]
async fn a_store_outage_reaches_the_application_as_an_error() {
    let mut store = MockStore::new();
    store
        .expect_list_tickets()
        .returning(|_| Err(helpdesk_core::ports::StoreError::Unavailable { source: "database restarting".into() }));
    let err = helpdesk_embedder::open_tickets_banner(&desk(store), &employee(UserId::random())).await.unwrap_err();
    assert!(matches!(err, helpdesk_core::Error::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn nobody_signed_in_never_reaches_the_store() {
    let mut store = MockStore::new();
    store.expect_list_tickets().never();
    assert!(helpdesk_embedder::open_tickets_banner(&desk(store), &Principal::Anonymous).await.is_err());
}
