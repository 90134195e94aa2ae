//! Two OS processes, each with its own pool on one database, create 2,000 tickets each and
//! race each other on transitions of shared tickets: no duplicate numbers, no lost update, history
//! and outbox consistent, and the counters the queue reads (the summary's per status, the
//! facets' of `ticket_facet_counts`) exactly what the tickets hold.

mod common;

#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_behave_as_one_store() {
    use std::collections::{BTreeMap, HashSet};
    use std::sync::Arc;

    use helpdesk_core::domain::{Priority, TicketNumber};
    use helpdesk_core::lifecycle::Action;
    use helpdesk_core::model::{NotificationKind, OutboxPayload, OutboxState};
    use helpdesk_core::ports::{OutboxStore, PageSize, TicketStore};
    use helpdesk_core::{ActionRequest, NewTicket};
    use helpdesk_storage_postgres::{PgOptions, PgStore};

    if let Some(why) = common::missing() {
        helpdesk_core::testing::skip("two_processes_behave_as_one_store", &why);
        return;
    }
    let url = common::fresh_url().await;
    let store = Arc::new(PgStore::connect(&url, &PgOptions::default()).await.unwrap());
    store.migrate().await.unwrap();
    let (desk, admin) =
        helpdesk_core::testing::desk_with_admin(store.clone(), Arc::new(helpdesk_core::ports::SystemClock)).await;
    let mut shared = Vec::new();
    for i in 0..10 {
        let t = desk
            .create_ticket(
                &admin,
                NewTicket {
                    subject: format!("shared {i}"),
                    category: "hardware".into(),
                    sub_category: "printer".into(),
                    description: "contended".into(),
                    scheduled_date: None,
                    fields: Default::default(),
                },
                None,
            )
            .await
            .unwrap();
        let req =
            ActionRequest { priority: Some(Priority::Low), department: Some("it".into()), ..ActionRequest::default() };
        desk.act(&admin, &t.number, Action::Approve, req, None).await.unwrap();
        desk.act(&admin, &t.number, Action::Claim, ActionRequest::default(), None).await.unwrap();
        shared.push(t.number.to_string());
    }

    let per_process = 2_000;
    let spawn = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_helpdesk-pg-worker"))
            .arg(&url)
            .arg(per_process.to_string())
            .arg(shared.join(","))
            .kill_on_drop(true)
            .output()
    };
    let (a, b) = tokio::join!(spawn(), spawn());
    let mut created = Vec::new();
    let mut edits: BTreeMap<String, u64> = BTreeMap::new();
    let mut conflicts = 0;
    for out in [a.unwrap(), b.unwrap()] {
        assert!(out.status.success(), "worker failed: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        created.extend(v["created"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_owned()));
        for (n, k) in v["edits"].as_object().unwrap() {
            *edits.entry(n.clone()).or_default() += k.as_u64().unwrap();
        }
        conflicts += v["conflicts"].as_u64().unwrap();
    }
    // No duplicate numbers, and none skipped (no creation failed).
    let unique: HashSet<&String> = created.iter().collect();
    assert_eq!(created.len(), 2 * per_process);
    assert_eq!(unique.len(), created.len(), "duplicate ticket numbers across processes");
    let max = created.iter().map(|n| TicketNumber::parse(n).unwrap().seq()).max().unwrap();
    assert_eq!(max, (2 * per_process + shared.len()) as u64, "numbers jumped");
    // No lost update: each shared ticket's version counts every successful transition, and its
    // status is where that many alternating holds and resumes from in progress lead.
    for n in &shared {
        let t = store.ticket_by_number(&TicketNumber::parse(n).unwrap()).await.unwrap().unwrap();
        let ok = edits.get(n).copied().unwrap_or(0);
        assert_eq!(t.version, 3 + ok, "{n}: lost update ({ok} successful transitions)");
        let want = if ok % 2 == 0 {
            helpdesk_core::domain::TicketStatus::InProgress
        } else {
            helpdesk_core::domain::TicketStatus::OnHold
        };
        assert_eq!(t.status, want, "{n}: status does not match {ok} alternating transitions");
        let history = store.history(t.id).await.unwrap();
        let versions: Vec<u64> = history.iter().map(|e| e.version).collect();
        assert_eq!(versions, (1..=t.version).collect::<Vec<_>>(), "{n}: history does not match the versions");
    }
    eprintln!(
        "multi-process: {} tickets, {} successful contended transitions, {conflicts} refused (stale or already moved)",
        created.len(),
        edits.values().sum::<u64>()
    );
    // Every ticket has its history event and its "received" mail.
    for n in created.iter().step_by(97) {
        let t = store.ticket_by_number(&TicketNumber::parse(n).unwrap()).await.unwrap().unwrap();
        assert_eq!(store.history(t.id).await.unwrap().len() as u64, t.version);
    }
    let mut received = 0;
    let mut cursor = None;
    loop {
        let page = store.list_outbox(OutboxState::Pending, cursor, PageSize::new(100).unwrap()).await.unwrap();
        received += page.items.iter().filter(|r| matches!(&r.message.payload, OutboxPayload::Mail(m) if matches!(m.kind, NotificationKind::TicketReceived { .. }))).count();
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(received, 2 * per_process + shared.len(), "a ticket without its received mail");
    // The counters, written by both processes' racing transactions, agree with the tickets:
    // the summary's per-status sums with a count of the tickets, and the facets' rows with what
    // their migration counts from the tickets afresh.
    let per_status = |sql: &'static str| {
        let pool = store.pool().clone();
        async move { sqlx::query_as::<_, (String, i64)>(sql).fetch_all(&pool).await.unwrap() }
    };
    assert_eq!(
        per_status(
            "SELECT substr(key, 10), sum(n)::bigint FROM ticket_counts WHERE key LIKE 't:status:%' \
             GROUP BY key HAVING sum(n) <> 0 ORDER BY 1"
        )
        .await,
        per_status("SELECT status::text, count(*) FROM tickets GROUP BY 1 ORDER BY 1").await
    );
    let kept = common::facet_counts(&store).await;
    assert!(!kept.is_empty() && kept.iter().all(|(_, _, _, n)| *n > 0), "{kept:?}");
    common::migrate_again(&store, &url, "ticket_facet_counts", 15).await;
    assert_eq!(common::facet_counts(&store).await, kept, "facet counters drifted from the tickets");
}
