//! The ticket row cache under load: while readers hammer tickets in a cache too small for them
//! (filling and evicting all the time), a writer changes them again and again, and every read
//! it makes after its own commit sees that commit, never a row the cache held before; reads
//! through a small cache always answer each ticket with its own row; a store without the cache
//! reads from sled. The exact interleavings (a read begun before a commit filling after it,
//! with or without an eviction between) are driven step by step in `src/row_cache.rs`'s tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use helpdesk_core::domain::{Role, UserStatus};
use helpdesk_core::model::Ticket;
use helpdesk_core::ports::{TicketStore, UnitOfWork, UnitOfWorkStore, Versioned};
use helpdesk_core::testing::fixtures::{t0, ticket, user};
use helpdesk_storage_sled::{SledOptions, SledStore};

async fn store_with(row_cache_bytes: u64) -> SledStore {
    let store = SledStore::open(&SledOptions { row_cache_bytes, ..SledOptions::temporary() }).unwrap();
    let mut uow = UnitOfWork::new();
    uow.users.push(Versioned::insert(user(1, Role::Employee, UserStatus::Approved)));
    store.commit(uow).await.unwrap();
    store
}

async fn file(store: &SledStore) -> Ticket {
    let seq = store.allocate_ticket_number().await.unwrap();
    let t = ticket(seq, user(1, Role::Employee, UserStatus::Approved).id, t0());
    let mut uow = UnitOfWork::new();
    uow.tickets.push(Versioned::insert(t.clone()));
    store.commit(uow).await.unwrap();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_after_a_commit_never_sees_an_older_row() {
    // Room for about two rows a shard, so readers evict each other's rows and the writer's all
    // the time: a read that raced a commit must not put the older row back after an eviction.
    let store = Arc::new(store_with(16 * 2 * 700).await);
    let mut tickets = Vec::new();
    for _ in 0..48 {
        tickets.push(file(&store).await);
    }
    let ids: Arc<Vec<_>> = Arc::new(tickets.iter().map(|t| t.id).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|k| {
            let (store, stop, ids) = (store.clone(), stop.clone(), ids.clone());
            tokio::spawn(async move {
                let mut reads = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    store.ticket(ids[(reads * 7 + k) % ids.len()]).await.unwrap().expect("the ticket");
                    reads += 1;
                    if reads.is_multiple_of(64) {
                        tokio::task::yield_now().await;
                    }
                }
                reads
            })
        })
        .collect();
    for i in 0..3_000 {
        let t = &mut tickets[i % 48];
        let before = t.version;
        t.version += 1;
        t.updated_at += chrono::Duration::seconds(1);
        let mut uow = UnitOfWork::new();
        uow.tickets.push(Versioned::update(t.clone(), before));
        store.commit(uow).await.unwrap();
        let read = store.ticket(t.id).await.unwrap().expect("the ticket");
        assert_eq!(read.version, t.version, "read an older row after committing");
        assert_eq!(read.updated_at, t.updated_at);
    }
    stop.store(true, Ordering::Relaxed);
    let mut reads = 0;
    for r in readers {
        reads += r.await.unwrap();
    }
    assert!(reads > 3_000, "the readers raced the writer ({reads} reads)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_small_cache_evicts_and_still_answers_each_ticket_with_its_own_row() {
    // Room for a handful of rows a shard: reads of 300 tickets evict all the time.
    let store = Arc::new(store_with(16 * 4 * 512).await);
    let mut tickets = Vec::new();
    for _ in 0..300 {
        tickets.push(file(&store).await);
    }
    let tickets = Arc::new(tickets);
    let tasks: Vec<_> = (0..4)
        .map(|k| {
            let (store, tickets) = (store.clone(), tickets.clone());
            tokio::spawn(async move {
                for round in 0..5 {
                    for (i, t) in tickets.iter().enumerate() {
                        if (i + k + round) % 3 == 0 {
                            continue;
                        }
                        let read = store.ticket(t.id).await.unwrap().expect("the ticket");
                        assert_eq!((read.id, read.number.clone()), (t.id, t.number.clone()));
                        let by_number = store.ticket_by_number(&t.number).await.unwrap().expect("by number");
                        assert_eq!(by_number.id, t.id);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn without_a_cache_reads_come_from_sled() {
    let store = store_with(0).await;
    let t = file(&store).await;
    assert_eq!(store.ticket(t.id).await.unwrap().map(|r| r.id), Some(t.id));
    assert!(store.ticket(helpdesk_core::domain::TicketId::random()).await.unwrap().is_none());
}
