//! Migration 0014 fills `ticket_term_keys` for the tickets already stored with exactly the rows
//! the commit path writes for them: the migration is applied again over tickets written by the
//! store, and the two sets of rows compared.

mod common;

#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[tokio::test]
async fn migration_fills_the_rows_the_commit_path_writes() {
    use helpdesk_core::domain::{FieldKey, Role, Tag, UserStatus};
    use helpdesk_core::model::{FieldNumber, FieldValue};
    use helpdesk_core::ports::{UnitOfWork, UnitOfWorkStore, Versioned};
    use helpdesk_core::testing::fixtures::{t0, ticket, user};
    use sqlx::Row;

    if let Some(why) = common::missing() {
        helpdesk_core::testing::skip("migration_fills_the_rows_the_commit_path_writes", &why);
        return;
    }
    let store = common::fresh_store().await;
    let requester = user(1, Role::Employee, UserStatus::Approved);
    let mut uow = UnitOfWork::new();
    uow.users.push(Versioned::insert(requester.clone()));
    let key = |s: &str| FieldKey::parse_field("key", s).unwrap();
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
        uow.tickets.push(Versioned::insert(t));
    }
    store.commit(uow).await.unwrap();

    let rows = |store: &helpdesk_storage_postgres::PgStore| {
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

    sqlx::query("DROP TABLE ticket_term_keys").execute(store.pool()).await.unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 14").execute(store.pool()).await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(rows(&store).await, written);
}
