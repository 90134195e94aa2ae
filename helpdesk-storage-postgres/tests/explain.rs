//! Every list filter and sort is backed by an index: with sequential scans disabled, the plan
//! of each query shape uses an index and never a full scan. The plans are printed (run with
//! `--nocapture` to read them).

mod common;

#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[tokio::test]
async fn every_filter_and_sort_uses_an_index() {
    use helpdesk_core::domain::{CategoryKey, DepartmentKey, Priority, TicketStatus, UserId};
    use helpdesk_core::ports::{AssigneeFilter, Cursor, SortDirection, TicketQuery, TicketSort, TicketSortField};
    use sqlx::Row;

    if let Some(why) = common::missing() {
        helpdesk_core::testing::skip("every_filter_and_sort_uses_an_index", &why);
        return;
    }
    let store = common::fresh_store().await;
    let mut conn = store.pool().acquire().await.unwrap();
    // The store's sessions plan without parallel workers (`PgOptions::parallel_workers`).
    let workers: String =
        sqlx::query_scalar("SHOW max_parallel_workers_per_gather").fetch_one(&mut *conn).await.unwrap();
    assert_eq!(workers, "0");
    sqlx::query("SET enable_seqscan = off").execute(&mut *conn).await.unwrap();
    let user = UserId::random();
    let base = TicketQuery::default();
    let mut shapes: Vec<(String, TicketQuery)> = vec![
        ("status".into(), TicketQuery { statuses: vec![TicketStatus::New, TicketStatus::Open], ..base.clone() }),
        ("priority".into(), TicketQuery { priorities: vec![Priority::High], ..base.clone() }),
        ("department".into(), TicketQuery { departments: vec![DepartmentKey::parse("it").unwrap()], ..base.clone() }),
        ("category".into(), TicketQuery { categories: vec![CategoryKey::parse("hardware").unwrap()], ..base.clone() }),
        ("assignee".into(), TicketQuery { assignee: Some(AssigneeFilter::User(user)), ..base.clone() }),
        ("unassigned".into(), TicketQuery { assignee: Some(AssigneeFilter::Nobody), ..base.clone() }),
        ("requester".into(), TicketQuery { requester: Some(user), ..base.clone() }),
        (
            "created range".into(),
            TicketQuery {
                created_from: Some(chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap()),
                created_to: Some(chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()),
                ..base.clone()
            },
        ),
        ("text".into(), TicketQuery { text: Some("printer".into()), ..base.clone() }),
        (
            "two statuses + priority, by creation".into(),
            TicketQuery {
                statuses: vec![TicketStatus::Open, TicketStatus::InProgress],
                priorities: vec![Priority::High],
                sort: TicketSort { field: TicketSortField::Created, direction: SortDirection::Asc },
                ..base.clone()
            },
        ),
    ];
    for field in
        [TicketSortField::Created, TicketSortField::Updated, TicketSortField::Priority, TicketSortField::Number]
    {
        for direction in [SortDirection::Asc, SortDirection::Desc] {
            let sort = TicketSort { field, direction };
            shapes.push((format!("sort {field:?} {direction:?}"), TicketQuery { sort, ..base.clone() }));
            shapes.push((
                format!("status + sort {field:?} {direction:?} + cursor"),
                TicketQuery {
                    sort,
                    statuses: vec![TicketStatus::Open],
                    cursor: Some(Cursor { key: 5, id: uuid::Uuid::nil() }),
                    ..base.clone()
                },
            ));
        }
    }
    // Sorted by a custom field: one term's tickets (or every ticket's) in the field's order.
    let cost = TicketSortField::Field(helpdesk_core::domain::FieldKey::parse_field("sort", "cost").unwrap());
    for direction in [SortDirection::Asc, SortDirection::Desc] {
        let sort = TicketSort { field: cost, direction };
        shapes.push((format!("sort by a custom field {direction:?}"), TicketQuery { sort, ..base.clone() }));
        shapes.push((
            format!("tag + sort by a custom field {direction:?} + cursor"),
            TicketQuery {
                sort,
                tags_any: vec![helpdesk_core::domain::Tag::parse_field("tags", "vip").unwrap()],
                cursor: Some(Cursor { key: 5, id: uuid::Uuid::nil() }),
                ..base.clone()
            },
        ));
    }
    for (name, q) in shapes {
        let rows = helpdesk_storage_postgres::explain_list_sql(&q).build().fetch_all(&mut *conn).await.unwrap();
        let plan: Vec<String> = rows.iter().map(|r| r.try_get::<String, _>(0).unwrap()).collect();
        let text = plan.join("\n");
        eprintln!("-- {name}\n{text}\n");
        assert!(!text.contains("Seq Scan"), "{name}: no index serves this query:\n{text}");
        assert!(text.contains("Index") || text.contains("Bitmap"), "{name}: unexpected plan:\n{text}");
        if matches!(q.sort.field, TicketSortField::Field(_)) {
            assert!(text.contains("ticket_term_keys_pkey"), "{name}: walks the field's order:\n{text}");
        }
        if q.statuses.len() > 1 {
            assert!(text.contains("Merge Append"), "{name}: one ordered branch per status, merged:\n{text}");
        }
    }
}
