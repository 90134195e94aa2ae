//! The migrations that fill tables derived from the tickets already stored (0014
//! `ticket_term_keys`, 0015 `ticket_facet_counts`) write exactly what the commit path writes
//! for the same tickets: each migration is applied again over tickets written (and changed) by
//! the store, and the two contents compared.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use helpdesk_core::domain::{CategoryKey, DepartmentKey, FieldKey, Priority, Role, Tag, TicketStatus, UserStatus};
use helpdesk_core::model::{FieldNumber, FieldValue, Ticket};
use helpdesk_core::ports::{UnitOfWork, UnitOfWorkStore, Versioned};
use helpdesk_core::testing::fixtures::{t0, ticket, user};
use helpdesk_storage_postgres::{PgOptions, PgStore};
use sqlx::Row;

/// A fresh store (and its database's URL) holding twelve tickets with tags, custom fields, priorities, departments,
/// categories and assignees, some of them changed after their creation; `None` (after a loud
/// skip) without a database.
async fn store_with_tickets(test: &str) -> Option<(PgStore, String)> {
    if let Some(why) = common::missing() {
        helpdesk_core::testing::skip(test, &why);
        return None;
    }
    let url = common::fresh_url().await;
    let store = PgStore::connect(&url, &PgOptions::default()).await.unwrap();
    store.migrate().await.unwrap();
    let requester = user(1, Role::Employee, UserStatus::Approved);
    let staff = user(2, Role::Coordinator, UserStatus::Approved);
    let mut uow = UnitOfWork::new();
    uow.users.push(Versioned::insert(requester.clone()));
    uow.users.push(Versioned::insert(staff.clone()));
    let key = |s: &str| FieldKey::parse_field("key", s).unwrap();
    let mut tickets: Vec<Ticket> = Vec::new();
    for i in 0..12u64 {
        let mut t = ticket(i + 1, requester.id, t0() + chrono::Duration::minutes(i as i64));
        if i % 2 == 0 {
            t.tags.push(Tag::parse_field("tags", "vip").unwrap());
        }
        if i % 3 == 0 {
            t.tags.push(Tag::parse_field("tags", "printer").unwrap());
        }
        t.tags.sort();
        if i % 4 != 3 {
            let n = FieldNumber::from_f64(i as f64 * 12.3456 - 40.0).unwrap();
            t.fields.insert(key("cost"), FieldValue::Number(n));
        }
        t.fields.insert(key("vip_flag"), FieldValue::Flag(i % 2 == 1));
        // A date, a text that only looks like one (it does not sort), plain text, a choice list.
        let when = ["2026-12-24", "1969-07-20", "2026-02-31", "Lisbon"][i as usize % 4];
        t.fields.insert(key("needed_by"), FieldValue::Text(when.into()));
        if i % 5 == 0 {
            t.fields.insert(key("os"), FieldValue::List(vec!["linux".into(), "mac".into()]));
        }
        t.priority = (i % 3 != 0).then(|| Priority::ALL[i as usize % Priority::ALL.len()]);
        t.department = (i % 4 != 0).then(|| DepartmentKey::parse(["it", "asset"][i as usize % 2]).unwrap());
        t.category = CategoryKey::parse(["hardware", "budget"][i as usize % 2]).unwrap();
        t.assignee = (i % 3 == 1).then_some(staff.id);
        t.status = TicketStatus::ALL[i as usize % TicketStatus::ALL.len()];
        uow.tickets.push(Versioned::insert(t.clone()));
        tickets.push(t);
    }
    store.commit(uow).await.unwrap();
    // Changes, each its own unit of work (its own counter shard): a status and an assignee,
    // a tag dropped and a priority cleared, a department moved.
    for (i, t) in tickets.iter_mut().enumerate().filter(|(i, _)| i % 3 == 0) {
        match i % 9 {
            0 => {
                t.status = TicketStatus::Closed;
                t.assignee = Some(staff.id);
            }
            3 => {
                t.tags.clear();
                t.priority = None;
            }
            _ => t.department = Some(DepartmentKey::parse("budget").unwrap()),
        }
        t.version += 1;
        let mut uow = UnitOfWork::new();
        uow.tickets.push(Versioned::update(t.clone(), t.version - 1));
        store.commit(uow).await.unwrap();
    }
    Some((store, url))
}

#[tokio::test]
async fn migration_fills_the_term_keys_the_commit_path_writes() {
    let Some((store, url)) = store_with_tickets("migration_fills_the_term_keys_the_commit_path_writes").await else {
        return;
    };
    let rows = |store: &PgStore| {
        let pool = store.pool().clone();
        async move {
            sqlx::query("SELECT term, field, sort_key, ticket FROM ticket_term_keys ORDER BY 1, 2, 3, 4")
                .fetch_all(&pool)
                .await
                .unwrap()
                .into_iter()
                .map(|r| {
                    let (term, field): (String, String) = (r.get(0), r.get(1));
                    let (key, ticket): (i64, uuid::Uuid) = (r.get(2), r.get(3));
                    (term, field, key, ticket)
                })
                .collect::<Vec<_>>()
        }
    };
    let written = rows(&store).await;
    // 12 tickets × (their terms and '') × (cost on 9, the flag on 12, a real date on 6).
    assert!(written.len() > 12 * 3, "{} rows", written.len());
    assert!(written.iter().all(|(_, field, _, _)| field != "os"), "choices do not sort");
    assert!(!written.iter().any(|(_, field, key, _)| field == "needed_by" && *key == i64::MAX));

    common::migrate_again(&store, &url, "ticket_term_keys", 14).await;
    assert_eq!(rows(&store).await, written);
}

#[tokio::test]
async fn migration_fills_the_facet_counts_the_commit_path_keeps() {
    let Some((store, url)) = store_with_tickets("migration_fills_the_facet_counts_the_commit_path_keeps").await else {
        return;
    };
    // Every row, shards apart: each ticket's counts move in its own shard, and rows that
    // reach zero are removed, so the rows kept are exactly the ones the migration counts.
    let kept = common::facet_counts(&store).await;
    let facets: std::collections::BTreeSet<&str> = kept.iter().map(|(f, _, _, _)| f.as_str()).collect();
    for f in ["a:", "c:budget", "c:hardware", "d:asset", "d:budget", "g:printer", "g:vip", "f:needed_by=Lisbon"] {
        assert!(facets.contains(f), "{f} missing from {facets:?}");
    }
    assert!(facets.iter().any(|f| f.starts_with("p:")), "a priority's facet");
    assert!(facets.iter().any(|f| f.starts_with("a:") && f.len() > 2), "an assignee's facet");
    assert!(facets.contains("f:os=mac") && facets.contains("f:vip_flag=true"));
    assert!(kept.iter().all(|(_, _, _, n)| *n > 0), "rows at zero are removed: {kept:?}");

    common::migrate_again(&store, &url, "ticket_facet_counts", 15).await;
    assert_eq!(common::facet_counts(&store).await, kept);
}

/// The README's repair for derived tables that drifted (an old process kept writing after an
/// upgrade): drop all three, forget their migrations, migrate again. Each comes back as the
/// commit path keeps it.
#[tokio::test]
async fn dropping_the_derived_tables_and_migrating_again_refills_them() {
    let Some((store, url)) = store_with_tickets("dropping_the_derived_tables_and_migrating_again_refills_them").await
    else {
        return;
    };
    let terms = |store: &PgStore| {
        let pool = store.pool().clone();
        async move {
            let terms: Vec<(String, uuid::Uuid)> =
                sqlx::query_as("SELECT term, term_ticket FROM ticket_terms ORDER BY 1, 2")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            let keys: Vec<(String, String, i64, uuid::Uuid)> =
                sqlx::query_as("SELECT term, field, sort_key, ticket FROM ticket_term_keys ORDER BY 1, 2, 3, 4")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            (terms, keys)
        }
    };
    let (kept_terms, kept_counts) = (terms(&store).await, common::facet_counts(&store).await);
    assert!(!kept_terms.0.is_empty() && !kept_terms.1.is_empty() && !kept_counts.is_empty());
    sqlx::query("DROP TABLE ticket_facet_counts, ticket_term_keys, ticket_terms").execute(store.pool()).await.unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version BETWEEN 13 AND 15").execute(store.pool()).await.unwrap();
    let again = PgStore::connect(&url, &PgOptions { max_connections: 1, ..PgOptions::default() }).await.unwrap();
    again.migrate().await.unwrap();
    assert_eq!(terms(&store).await, kept_terms);
    assert_eq!(common::facet_counts(&store).await, kept_counts);
}
