//! Online backup: a backup taken while writers commit is one consistent cut (every ticket's
//! history complete, counters and indexes matching, the number counter ahead of every
//! ticket), it restores into a working store, and both refuse a directory that is not empty.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use helpdesk_core::domain::{Role, UserStatus};
use helpdesk_core::ports::{MaintenanceStore, ReportStore, TicketStore, UnitOfWork, UnitOfWorkStore, Versioned};
use helpdesk_core::testing::fixtures::{event, mail, t0, ticket, user};
use helpdesk_storage_sled::{SledOptions, SledStore, restore};

/// Creates a ticket, then changes it twice (three history events), as separate commits.
async fn file_and_work(store: &SledStore, requester: helpdesk_core::domain::UserId) {
    let seq = store.allocate_ticket_number().await.unwrap();
    let mut t = ticket(seq, requester, t0());
    let mut uow = UnitOfWork::new();
    uow.tickets.push(Versioned::insert(t.clone()));
    uow.events.push(event(&t, t0()));
    uow.outbox.push(mail(t0()));
    store.commit(uow).await.unwrap();
    for _ in 0..2 {
        let before = t.version;
        t.version += 1;
        t.updated_at += chrono::Duration::seconds(1);
        let mut uow = UnitOfWork::new();
        uow.events.push(event(&t, t.updated_at));
        uow.tickets.push(Versioned::update(t.clone(), before));
        store.commit(uow).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_load_is_one_consistent_cut_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&SledOptions::new(dir.path().join("live"))).unwrap();
    let u = user(1, Role::Employee, UserStatus::Approved);
    let mut uow = UnitOfWork::new();
    uow.users.push(Versioned::insert(u.clone()));
    store.commit(uow).await.unwrap();
    for _ in 0..50 {
        file_and_work(&store, u.id).await;
    }

    // Four writers keep filing and working tickets while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for _ in 0..4 {
        let (s, stop, requester) = (store.clone(), stop.clone(), u.id);
        writers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                file_and_work(&s, requester).await;
                n += 1;
            }
            n
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let backup_dir = dir.path().join("backup");
    let summary = store.backup_to(&backup_dir).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let mut during = 0;
    for w in writers {
        during += w.await.unwrap();
    }
    assert!(during > 0, "no write happened during the test");
    let live_tickets = store.summary(t0()).await.unwrap().total_tickets;
    assert!(summary.tickets >= 50 && summary.tickets < live_tickets, "{summary:?} of {live_tickets}");
    assert!(summary.records > summary.tickets * 5, "{summary:?}");

    // The backup is a store of its own, consistent, with the tickets of the cut.
    let restored_dir = dir.path().join("restored");
    let restored = restore(&backup_dir, &restored_dir).unwrap();
    assert_eq!(restored.records, summary.records);
    let copy = SledStore::reopen(&SledOptions::new(&restored_dir), std::time::Duration::from_secs(10)).unwrap();
    let report = copy.check_consistency().unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.tickets, summary.tickets);
    // Each ticket's history covers exactly its versions (check_consistency), whether the cut
    // fell before, between or after the commits that worked it.
    assert!(report.events >= summary.tickets && report.events <= summary.tickets * 3, "{report:?}");
    // It goes on: the next number follows the highest one in the cut.
    let next = copy.allocate_ticket_number().await.unwrap();
    assert!(next > summary.tickets, "number {next} reused");
    file_and_work(&copy, u.id).await;
    assert!(copy.check_consistency().unwrap().problems.is_empty());

    // Neither writes into a directory with something in it.
    let err = store.backup_to(&backup_dir).await.unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    let err = restore(&backup_dir, &restored_dir).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    let err = restore(dir.path(), &dir.path().join("elsewhere")).unwrap_err();
    assert!(err.to_string().contains("not a sled backup"), "{err}");
}
