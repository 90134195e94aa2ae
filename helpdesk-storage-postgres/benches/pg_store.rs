//! Storage benchmark of `PgStore` at a million tickets, compared in the same run with
//! `pgbench` running, as raw SQL, the writes of one ticket creation at the same concurrency.
//! Prints a Markdown table.
//!
//! Needs `DATABASE_URL` and `PG_BIN` (the directory of `pgbench`); `scripts/bench-postgres.sh`
//! starts a throwaway cluster with fsync on and runs this. Argument: the number of tickets
//! (default 1,000,000).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use helpdesk_core::domain::{
    DepartmentKey, FieldKey, Priority, Role, Tag, TicketNumber, TicketNumberFormat, TicketStatus, UserId, UserStatus,
};
use helpdesk_core::model::{FieldFilter, FieldValue};
use helpdesk_core::ports::*;
use helpdesk_core::report::ReportRange;
use helpdesk_core::testing::fixtures::{event, mail, ticket, user};
use helpdesk_storage_postgres::{PgOptions, PgStore, counts_sql};
use rand::{Rng, SeedableRng};

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3
}

/// One ticket created as the service does it; `fielded`: with a tag, a site and a cost, so
/// that its terms (`ticket_terms`) and its keys (`ticket_term_keys`) are written too. The tag
/// and the sites are ones no list shape filters by, so the list pages measured after the
/// creations walk the same terms as before them.
async fn create(store: &PgStore, requesters: &[UserId], i: u64, fielded: bool) {
    let seq = store.allocate_ticket_number().await.unwrap();
    // Like real traffic: every ticket its own creation time (microseconds), after the loaded ones.
    let mut t = ticket(seq, requesters[(i as usize) % requesters.len()], chrono::Utc::now());
    t.department = Some(DepartmentKey::parse("it").unwrap());
    if fielded {
        use helpdesk_core::model::FieldNumber;
        t.tags = vec![Tag::parse_field("tags", "created-by-bench").unwrap()];
        t.fields.insert(FieldKey::parse_field("f", "site").unwrap(), FieldValue::Text(format!("bench-{:02}", i % 20)));
        t.fields.insert(
            FieldKey::parse_field("f", "cost").unwrap(),
            FieldValue::Number(FieldNumber::from_f64((i % 5000) as f64 / 4.0).unwrap()),
        );
    }
    let mut uow = UnitOfWork::new();
    uow.events.push(event(&t, t.created_at));
    uow.outbox.push(mail(t.created_at));
    uow.tickets.push(Versioned::insert(t));
    store.commit(uow).await.unwrap();
}

async fn create_rate(store: &PgStore, requesters: &Arc<Vec<UserId>>, n: u64, writers: u64, fielded: bool) -> f64 {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (s, r) = (store.clone(), requesters.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..n / writers {
                create(&s, &r, w * 1_000_000 + i, fielded).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (n / writers * writers) as f64 / start.elapsed().as_secs_f64()
}

const PGBENCH_SCRIPT: &str = r#"
BEGIN;
SELECT nextval('ticket_number_seq') AS value \gset
WITH t AS (INSERT INTO tickets (id, seq, requester, status, department, category, subject, description, created_at, updated_at, version, doc) VALUES (gen_random_uuid(), :value + 100000000, (SELECT id FROM users LIMIT 1), 'new', 'it', 'hardware', 'pgbench', 'pgbench', now(), now(), 1, '{"kind": "pgbench"}') RETURNING id) INSERT INTO history_events (id, ticket_id, version, internal, doc) SELECT gen_random_uuid(), id, 1, false, '{"kind": "pgbench"}' FROM t;
INSERT INTO outbox (id, created_at, state, attempts, next_attempt_at, payload) VALUES (gen_random_uuid(), now(), 'pending', 0, now(), '{"channel": "redacted"}');
COMMIT;
"#;

fn pgbench(url: &str, clients: u32) -> f64 {
    let bin = std::env::var("PG_BIN").expect("PG_BIN");
    let script = std::env::temp_dir().join("helpdesk-pgbench.sql");
    std::fs::write(&script, PGBENCH_SCRIPT).unwrap();
    let out = std::process::Command::new(format!("{bin}/pgbench"))
        .args(["-n", "-c", &clients.to_string(), "-j", &clients.min(2).to_string(), "-T", "10", "-f"])
        .arg(&script)
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "pgbench failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("pgbench tps")
}

const LOAD: &str = r#"
INSERT INTO tickets (id, seq, requester, assignee, status, priority, department, category, subject, description, created_at, updated_at, resolved_at, response_secs, resolution_secs, version, doc, sla_due_at, sla_alerts, tags, fields)
SELECT id, g, requester, NULL, status::ticket_status, priority::ticket_priority, dept, cat, subj, descr, created, created, resolved, resp, reso, 1,
  jsonb_build_object('id', id, 'number', 'TX' || CASE WHEN g < 1000 THEN lpad(g::text, 4, '0') ELSE g::text END, 'requester', requester, 'subject', subj, 'category', cat, 'sub_category', sub,
    'description', descr, 'scheduled_date', NULL, 'priority', priority, 'department', dept, 'status', status, 'assignee', NULL,
    'created_at', to_jsonb(created), 'updated_at', to_jsonb(created), 'first_response_at', CASE WHEN resp IS NULL THEN NULL ELSE to_jsonb(created + resp * interval '1 second') END,
    'resolved_at', to_jsonb(resolved), 'closed_at', NULL, 'response_secs', resp, 'resolution_secs', reso, 'rejection_reason', NULL,
    'workflow_linked', false, 'version', 1, 'tags', to_jsonb(tags), 'fields', fields),
  due, CASE WHEN due IS NULL THEN '{}'::timestamptz[] ELSE ARRAY[due - interval '2 hours', due] END, tags, fields
FROM (
  SELECT g, gen_random_uuid() AS id, ($3::uuid[])[1 + g % array_length($3::uuid[], 1)] AS requester,
    (ARRAY['new','open','in_progress','on_hold','pending','resolved','closed','rejected'])[1 + (g / 7) % 8] AS status,
    CASE WHEN g % 5 = 0 THEN NULL ELSE (ARRAY['critical','high','medium','low'])[1 + (g / 3) % 4] END AS priority,
    (ARRAY['it','asset','budget'])[1 + g % 3] AS dept,
    (ARRAY['hardware','software','network','asset','budget'])[1 + (g / 11) % 5] AS cat,
    (ARRAY['laptop','license','vpn','transfer','purchase'])[1 + (g / 11) % 5] AS sub,
    'Ticket ' || g || CASE WHEN g % 1000 = 0 THEN ' printer on fire' ELSE ' about something' END AS subj,
    'Description of ticket number ' || g AS descr,
    timestamptz '2025-06-01' + g * interval '20 seconds' AS created,
    CASE WHEN (g / 7) % 8 IN (5, 6) THEN timestamptz '2025-06-01' + g * interval '20 seconds' + (3600 + g % 86400) * interval '1 second' END AS resolved,
    CASE WHEN (g / 7) % 8 > 0 THEN 60 + g % 7200 END AS resp,
    CASE WHEN (g / 7) % 8 IN (5, 6) THEN 3600 + g % 86400 END AS reso,
    -- Tickets still worked on (new, open, in progress) have a running service-level target,
    -- due within 30 days of the benchmark's "now" (2025-12-01), some already past.
    CASE WHEN (g / 7) % 8 IN (0, 1, 2) THEN timestamptz '2025-11-24' + (g * 7919 % 2592000) * interval '1 second' END AS due,
    -- Tags: `printer` on one ticket in 10, `vip` on one in 50 (half of them with `printer`),
    -- `vpn-outage` on one in 1,000.
    CASE WHEN g % 100 = 0 THEN ARRAY['printer', 'vip'] WHEN g % 10 = 0 THEN ARRAY['printer']
      WHEN g % 1000 = 3 THEN ARRAY['vpn-outage'] WHEN g % 1000 IN (1, 7, 9, 11, 13, 17, 19, 21, 23, 27) THEN ARRAY['vip']
      ELSE '{}'::text[] END AS tags,
    -- Custom fields: a site (one of 20, 5% each, independent of the tags), a cost on every
    -- ticket, and a multiple
    -- choice (`os`) on one ticket in three.
    jsonb_build_object('site', 'site-' || lpad((((g * 2654435761) % 1000003) % 20)::text, 2, '0'), 'cost', round((g % 5000) / 4.0, 2))
      || CASE WHEN g % 3 = 0 THEN jsonb_build_object('os', jsonb_build_array('linux')) ELSE '{}'::jsonb END AS fields
  FROM generate_series($1::bigint, $2::bigint) g
) s
"#;

/// The performance report's main read as it was before PostgreSQL grouped the samples: a row
/// per ticket created in the range, streamed through the covering index and folded here (the
/// per-day counts and the backlog, cheap beside it, are left out).
async fn performance_by_rows(store: &PgStore, range: ReportRange) -> helpdesk_core::report::PerformanceReport {
    use futures::StreamExt;
    use sqlx::Row;
    let mut b = helpdesk_core::report::PerformanceBuilder::default();
    let mut rows = sqlx::query(
        "SELECT created_at, COALESCE(department, 'none'), COALESCE(priority::text, 'untriaged'), \
         COALESCE(assignee::text, 'none'), response_secs, resolution_secs \
         FROM tickets WHERE created_at >= $1 AND created_at < $2",
    )
    .bind(range.from())
    .bind(range.to())
    .fetch(store.pool());
    while let Some(r) = rows.next().await {
        let r = r.unwrap();
        let at: chrono::DateTime<chrono::Utc> = r.get(0);
        b.add_created_on(at.date_naive(), 1);
        let (response, resolution): (Option<i64>, Option<i64>) = (r.get(4), r.get(5));
        b.add_group_samples([r.get(1), r.get(2), r.get(3)], response.as_slice(), resolution.as_slice());
    }
    b.finish(range)
}

fn main() {
    let n: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL (use scripts/bench-postgres.sh)");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let store = PgStore::connect(&url, &PgOptions { max_connections: 16, ..PgOptions::default() }).await.unwrap();
        store.migrate().await.unwrap();
        let mut users: Vec<UserId> = sqlx::query_scalar::<_, uuid::Uuid>("SELECT id FROM users ORDER BY created_at").fetch_all(store.pool()).await.unwrap().into_iter().map(UserId::from_uuid).collect();
        if users.is_empty() {
            let mut uow = UnitOfWork::new();
            for i in 1..=50 {
                let u = user(i, if i == 1 { Role::Admin } else { Role::Employee }, UserStatus::Approved);
                users.push(u.id);
                uow.users.push(Versioned::insert(u));
            }
            store.commit(uow).await.unwrap();
        }
        let users = Arc::new(users);
        let ids: Vec<uuid::Uuid> = users.iter().map(|u| u.as_uuid()).collect();
        let start = Instant::now();
        let have: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets").fetch_one(store.pool()).await.unwrap();
        let mut from = if have > 0 { n + 1 } else { 1u64 };
        while from <= n {
            let to = (from + 99_999).min(n);
            sqlx::query(LOAD).bind(from as i64).bind(to as i64).bind(&ids).execute(store.pool()).await.unwrap();
            from = to + 1;
        }
        if have == 0 {
        // The terms of the loaded tickets, as the commit path writes them (`ticket_terms`).
        sqlx::query("INSERT INTO ticket_terms (term, term_at, term_ticket) SELECT 'g:' || tag, created_at, id FROM tickets, unnest(tags) AS tag").execute(store.pool()).await.unwrap();
        sqlx::query("INSERT INTO ticket_terms (term, term_at, term_ticket) SELECT 'f:' || f.key || '=' || f.value, created_at, id FROM tickets, jsonb_each_text(fields) AS f WHERE jsonb_typeof(fields -> f.key) IN ('string', 'boolean')").execute(store.pool()).await.unwrap();
        sqlx::query("INSERT INTO ticket_terms (term, term_at, term_ticket) SELECT 'f:' || f.key || '=' || e, created_at, id FROM tickets, jsonb_each(fields) AS f, jsonb_array_elements_text(f.value) AS e WHERE jsonb_typeof(f.value) = 'array'").execute(store.pool()).await.unwrap();
        // Each term's tickets (and every ticket, term '') in the order of the one custom field
        // that sorts, `cost` (`ticket_term_keys`).
        sqlx::query("INSERT INTO ticket_term_keys (term, field, sort_key, ticket) SELECT t.term, 'cost', round((fields->>'cost')::numeric * 10000)::bigint, id FROM (SELECT term_ticket AS id, term FROM ticket_terms UNION ALL SELECT id, '' FROM tickets) t JOIN tickets USING (id)").execute(store.pool()).await.unwrap();
        sqlx::query("SELECT setval('ticket_number_seq', $1)").bind(n as i64).execute(store.pool()).await.unwrap();
        for (prefix, col) in [("t:status:", "status::text"), ("t:priority:", "COALESCE(priority::text, 'untriaged')"), ("t:department:", "COALESCE(department, 'none')"), ("t:category:", "category")] {
            sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO ticket_counts (key, shard, n) SELECT '{prefix}' || {col}, 0, count(*) FROM tickets GROUP BY 1"))).execute(store.pool()).await.unwrap();
        }
        sqlx::query("INSERT INTO ticket_counts (key, shard, n) SELECT 't:total', 0, count(*) FROM tickets").execute(store.pool()).await.unwrap();
        sqlx::query("INSERT INTO ticket_counts (key, shard, n) SELECT 't:tag:' || tag, 0, count(*) FROM tickets, unnest(tags) AS tag GROUP BY 1").execute(store.pool()).await.unwrap();
        // The facets' per-status counters, filled by their own migration (0015) run again
        // over the loaded tickets, as on an upgrade.
        let filled = Instant::now();
        sqlx::query("DROP TABLE ticket_facet_counts").execute(store.pool()).await.unwrap();
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 15").execute(store.pool()).await.unwrap();
        store.migrate().await.unwrap();
        eprintln!("migration 0015 filled ticket_facet_counts in {:.1} s", filled.elapsed().as_secs_f64());
        }
        sqlx::query("VACUUM ANALYZE").execute(store.pool()).await.unwrap();
        eprintln!("loaded {n} tickets in {:.0} s", start.elapsed().as_secs_f64());

        let mut rows: Vec<(String, String)> = Vec::new();
        // `--lists-only`: the list pages alone (the creations and pgbench take minutes).
        let lists_only = std::env::args().any(|a| a == "--lists-only");
        // `--reports-only`: the reports alone (to compare report reads quickly).
        let reports_only = std::env::args().any(|a| a == "--reports-only");
        let rounds: &[(u64, u64)] = if lists_only || reports_only { &[] } else { &[(1, 1_000), (8, 8_000)] };
        for &(writers, count) in rounds {
            let ours = create_rate(&store, &users, count, writers, false).await;
            let raw = pgbench(&url, writers as u32);
            // pgbench's rows are raw SQL, not store records: remove them before reading.
            sqlx::query("DELETE FROM history_events WHERE doc->>'kind' = 'pgbench'").execute(store.pool()).await.unwrap();
            sqlx::query("DELETE FROM tickets WHERE doc->>'kind' = 'pgbench'").execute(store.pool()).await.unwrap();
            // What autovacuum would do soon after: without it the next reads walk the
            // deleted rows' index entries.
            sqlx::query("VACUUM ANALYZE tickets, history_events").execute(store.pool()).await.unwrap();
            rows.push((format!("create, {writers} writer(s)"), format!("{ours:.0}/s vs pgbench {raw:.0}/s = **{:.0}%**", 100.0 * ours / raw)));
        }
        if !rounds.is_empty() {
            // What a custom field that sorts costs a create (one more statement, a row per
            // term and field): the same creations with and without, alternated, in one run.
            let (mut plain, mut fielded) = (Vec::new(), Vec::new());
            for _ in 0..2 {
                plain.push(create_rate(&store, &users, 8_000, 8, false).await);
                fielded.push(create_rate(&store, &users, 8_000, 8, true).await);
            }
            let (p, f) = (plain.iter().sum::<f64>() / 2.0, fielded.iter().sum::<f64>() / 2.0);
            rows.push(("create, 8 writers, with a tag, a site and a cost".into(), format!("{f:.0}/s vs {p:.0}/s without them = **{:.0}%**", 100.0 * f / p)));
        }
        let fmt = TicketNumberFormat::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut lat = Vec::new();
        let start = Instant::now();
        for _ in 0..10_000 {
            let t0 = Instant::now();
            let t = store.ticket_by_number(&TicketNumber::new(&fmt, rng.gen_range(1..=n))).await.unwrap();
            lat.push(t0.elapsed());
            assert!(t.is_some());
        }
        rows.push(("get by number (1 client)".into(), format!("{:.0}/s, p50 {:.3} ms, p99 {:.3} ms", 10_000.0 / start.elapsed().as_secs_f64(), pct(&mut lat, 0.5), pct(&mut lat, 0.99))));
        // The service-level "now" of the loaded data (see LOAD).
        let sla_now = chrono::DateTime::parse_from_rfc3339("2025-12-01T00:00:00Z").unwrap().to_utc();
        let site = |v: &str| helpdesk_core::model::FieldFilter {
            key: FieldKey::parse_field("key", "site").unwrap(),
            value: helpdesk_core::model::FieldValue::Text(v.to_owned()),
        };
        let q = |f: &dyn Fn(&mut TicketQuery)| {
            let mut q = TicketQuery { limit: PageSize::new(50).unwrap(), ..TicketQuery::default() };
            f(&mut q);
            q
        };
        let shapes = [q(&|q| q.statuses = vec![TicketStatus::New]),
            q(&|q| {
                q.departments = vec![DepartmentKey::parse("asset").unwrap()];
                q.sort = TicketSort { field: TicketSortField::Priority, direction: SortDirection::Asc };
            }),
            q(&|q| q.requester = Some(users[7])),
            q(&|q| {
                q.statuses = vec![TicketStatus::Open, TicketStatus::InProgress];
                q.priorities = vec![Priority::High];
            }),
            q(&|q| q.sort = TicketSort { field: TicketSortField::Updated, direction: SortDirection::Desc }),
            q(&|q| q.sort = TicketSort { field: TicketSortField::Due, direction: SortDirection::Asc }),
            q(&|q| {
                q.statuses = vec![TicketStatus::Open, TicketStatus::InProgress];
                q.sort = TicketSort { field: TicketSortField::Due, direction: SortDirection::Asc };
            }),
            q(&|q| {
                q.due_before = Some(sla_now);
                q.departments = vec![DepartmentKey::parse("it").unwrap()];
                q.sort = TicketSort { field: TicketSortField::Due, direction: SortDirection::Asc };
            }),
            q(&|q| q.tags_any = vec![Tag::parse_field("tags", "vip").unwrap()]),
            q(&|q| q.tags_all = vec![Tag::parse_field("tags", "printer").unwrap(), Tag::parse_field("tags", "vip").unwrap()]),
            q(&|q| {
                q.tags_any = vec![Tag::parse_field("tags", "vpn-outage").unwrap()];
                q.statuses = vec![TicketStatus::Open];
            }),
            q(&|q| {
                q.tags_any = vec![Tag::parse_field("tags", "printer").unwrap()];
                q.statuses = vec![TicketStatus::Open, TicketStatus::InProgress];
                q.sort = TicketSort { field: TicketSortField::Due, direction: SortDirection::Asc };
            }),
            q(&|q| q.fields = vec![site("site-07")]),
            q(&|q| {
                q.fields = vec![site("site-07")];
                q.tags_any = vec![Tag::parse_field("tags", "printer").unwrap()];
            }),
            q(&|q| {
                q.fields = vec![site("site-03")];
                q.tags_any = vec![Tag::parse_field("tags", "vip").unwrap()];
            }),
            q(&|q| {
                q.fields = vec![site("site-07")];
                q.tags_any = vec![Tag::parse_field("tags", "printer").unwrap()];
                q.statuses = vec![TicketStatus::Open, TicketStatus::InProgress];
            }),
            q(&|q| {
                q.fields = vec![site("site-07")];
                q.tags_any = vec![Tag::parse_field("tags", "printer").unwrap()];
                q.sort = TicketSort { field: TicketSortField::Field(FieldKey::parse_field("sort", "cost").unwrap()), direction: SortDirection::Desc };
            }),
            q(&|q| {
                q.tags_any = vec![Tag::parse_field("tags", "vip").unwrap()];
                q.sort = TicketSort { field: TicketSortField::Field(FieldKey::parse_field("sort", "cost").unwrap()), direction: SortDirection::Desc };
            }),
            q(&|q| {
                q.statuses = vec![TicketStatus::Open, TicketStatus::InProgress];
                q.sort = TicketSort { field: TicketSortField::Field(FieldKey::parse_field("sort", "cost").unwrap()), direction: SortDirection::Asc };
            })];
        // Each shape on its own: the target holds for every one of them.
        let names = ["one status (new), by creation", "one department, by priority", "one requester, by creation",
            "two statuses + one priority, by creation", "everything, by last change", "due soonest",
            "two statuses, due soonest", "breached in one department, due soonest",
            "one tag (2%), by creation", "all of two tags (1%), by creation", "a tag (0.1%) + one status, by creation",
            "a tag (10%) + two statuses, due soonest", "a custom field (5%), by creation",
            "a custom field (5%) + a tag (10%), by creation", "a custom field (5%) + a tag (2%), by creation",
            "a custom field + a tag + two statuses, by creation", "a custom field + a tag, by a number field",
            "a tag (2%), by a number field", "two statuses, by a number field (ascending)"];
        for (shape, name) in shapes.iter().zip(names).filter(|_| !reports_only) {
            let mut lat = Vec::new();
            for _ in 0..300 {
                let t0 = Instant::now();
                let page = store.list_tickets(shape).await.unwrap();
                lat.push(t0.elapsed());
                assert_eq!(page.items.len(), 50, "{name}");
            }
            let by_terms = helpdesk_storage_postgres::list_sql_without_terms(shape).sql().as_str() != helpdesk_storage_postgres::explain_list_sql(shape).sql().as_str().trim_start_matches("EXPLAIN ");
            let mut before = String::new();
            if by_terms {
                // The same page through the GIN indexes alone (before `ticket_terms`), in the same run.
                let mut old = Vec::new();
                for _ in 0..100 {
                    let t0 = Instant::now();
                    let rows = helpdesk_storage_postgres::list_sql_without_terms(shape).build().fetch_all(store.pool()).await.unwrap();
                    old.push(t0.elapsed());
                    assert_eq!(rows.len(), 51, "{name}");
                }
                before = format!(" (GIN indexes alone: p50 {:.3} ms, p99 {:.3} ms)", pct(&mut old, 0.5), pct(&mut old, 0.99));
            }
            rows.push((format!("filtered page of 50: {name}"), format!("p50 {:.3} ms, p99 {:.3} ms{before}", pct(&mut lat, 0.5), pct(&mut lat, 0.99))));
        }
        if !reports_only {
            // The queue's tabs: tickets per status under the list's filters (its status filter
            // ignored). Without a filter the store reads its summary counters; the statement it
            // sent before (a pass over every ticket) runs beside it, in the same run.
            let mut lat = Vec::new();
            let mut old = Vec::new();
            for _ in 0..30 {
                let t0 = Instant::now();
                let counts = store.ticket_counts(&TicketQuery::default()).await.unwrap();
                lat.push(t0.elapsed());
                let t0 = Instant::now();
                let rows: Vec<(String, i64)> = sqlx::query_as("SELECT status::text, count(*) FROM tickets GROUP BY status").fetch_all(store.pool()).await.unwrap();
                old.push(t0.elapsed());
                assert_eq!(counts.iter().map(|(_, c)| *c as i64).sum::<i64>(), rows.iter().map(|(_, c)| c).sum::<i64>());
            }
            rows.push(("tickets per status, no filter (the queue's tabs)".into(), format!("p50 {:.3} ms, p99 {:.3} ms (counted from the tickets: p50 {:.3} ms, p99 {:.3} ms)", pct(&mut lat, 0.5), pct(&mut lat, 0.99), pct(&mut old, 0.5), pct(&mut old, 0.99))));
            // Under one facet the store sums its facet counters (`ticket_facet_counts`); the
            // pass over the matching tickets it sent before runs beside it, and both agree.
            let site = FieldFilter { key: FieldKey::parse_field("key", "site").unwrap(), value: FieldValue::Text("site-07".into()) };
            let facet_shapes: Vec<(&str, TicketQuery)> = vec![
                ("one tag (10%)", q(&|q| q.tags_any = vec![Tag::parse_field("tags", "printer").unwrap()])),
                ("one custom field value (5%)", q(&|q| q.fields = vec![site.clone()])),
                ("one department (33%)", q(&|q| q.departments = vec![DepartmentKey::parse("asset").unwrap()])),
                ("two priorities (40%)", q(&|q| q.priorities = vec![Priority::Critical, Priority::High])),
                ("nobody's tickets (all of them)", q(&|q| q.assignee = Some(AssigneeFilter::Nobody))),
            ];
            for (name, shape) in facet_shapes {
                let (mut lat, mut old) = (Vec::new(), Vec::new());
                for _ in 0..10 {
                    let t0 = Instant::now();
                    let counts = store.ticket_counts(&shape).await.unwrap();
                    lat.push(t0.elapsed());
                    let t0 = Instant::now();
                    let rows: Vec<(String, i64)> = counts_sql(&shape).build_query_as().persistent(false).fetch_all(store.pool()).await.unwrap();
                    old.push(t0.elapsed());
                    let mut rows: Vec<(String, u64)> = rows.into_iter().map(|(s, n)| (s, n as u64)).collect();
                    rows.sort();
                    let mut counts: Vec<(String, u64)> = counts.into_iter().map(|(s, n)| (s.as_str().to_owned(), n)).collect();
                    counts.sort();
                    assert_eq!(counts, rows, "{name}");
                }
                rows.push((format!("tickets per status, {name}"), format!("p50 {:.3} ms, p99 {:.3} ms (counted from the tickets: p50 {:.1} ms, p99 {:.1} ms)", pct(&mut lat, 0.5), pct(&mut lat, 0.99), pct(&mut old, 0.5), pct(&mut old, 0.99))));
            }
        }
        if lists_only {
            println!("| operation at {n} tickets | result |");
            println!("|---|---|");
            for (a, b) in rows {
                println!("| {a} | {b} |");
            }
            return;
        }
        let mut lat = Vec::new();
        for _ in 0..100 {
            let t0 = Instant::now();
            store.list_tickets(&q(&|q| q.text = Some("printer on fire".into()))).await.unwrap();
            lat.push(t0.elapsed());
        }
        rows.push(("text search, page of 50".into(), format!("p50 {:.3} ms, p99 {:.3} ms", pct(&mut lat, 0.5), pct(&mut lat, 0.99))));
        let mut lat = Vec::new();
        for _ in 0..50 {
            let t0 = Instant::now();
            let s = store.summary(chrono::Utc::now()).await.unwrap();
            lat.push(t0.elapsed());
            assert!(s.total_tickets >= n);
        }
        rows.push(("report summary".into(), format!("p50 {:.3} ms, p99 {:.3} ms", pct(&mut lat, 0.5), pct(&mut lat, 0.99))));
        let from = chrono::DateTime::parse_from_rfc3339("2025-06-10T00:00:00Z").unwrap().to_utc();
        let range = ReportRange::new(from, from + chrono::Duration::days(30)).unwrap();
        // Alternate the report with its earlier read, a row per ticket streamed and folded
        // here, so both see the same moments of this noisy machine.
        // One untimed call first opens the pool's connections for the four concurrent reads.
        store.performance(range).await.unwrap();
        let (mut lat, mut rows_lat) = (Vec::new(), Vec::new());
        for _ in 0..30 {
            let t0 = Instant::now();
            let p = store.performance(range).await.unwrap();
            lat.push(t0.elapsed());
            assert!(p.response.count > 0);
            let t0 = Instant::now();
            let old = performance_by_rows(&store, range).await;
            rows_lat.push(t0.elapsed());
            assert_eq!((&old.response, &old.resolution, &old.by_assignee), (&p.response, &p.resolution, &p.by_assignee));
            assert!(old.per_day.iter().zip(&p.per_day).all(|(a, b)| a.created == b.created));
        }
        rows.push(("performance report (30 days, ~130,000 tickets)".into(), format!("p50 {:.3} ms, p99 {:.3} ms (a row per ticket: p50 {:.3} ms, p99 {:.3} ms)", pct(&mut lat, 0.5), pct(&mut lat, 0.99), pct(&mut rows_lat, 0.5), pct(&mut rows_lat, 0.99))));
        // The alert loop's read: the moments of one 15-second run, and of a first run reading
        // back 24 hours.
        for (window, name) in [(chrono::Duration::seconds(15), "15 s"), (chrono::Duration::hours(24), "24 h")] {
            let mut lat = Vec::new();
            let mut found = 0;
            for i in 0..100 {
                let until = sla_now + chrono::Duration::minutes(i * 7);
                let t0 = Instant::now();
                found = store.sla_alerts_between(until - window, until, 100_000).await.unwrap().len();
                lat.push(t0.elapsed());
            }
            rows.push((format!("alert moments due in {name} (~{found} found)"), format!("p50 {:.3} ms, p99 {:.3} ms", pct(&mut lat, 0.5), pct(&mut lat, 0.99))));
        }
        println!("| operation at {n} tickets | result |");
        println!("|---|---|");
        for (a, b) in rows {
            println!("| {a} | {b} |");
        }
    });
}
