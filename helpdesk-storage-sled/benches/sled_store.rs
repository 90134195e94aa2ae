//! Storage benchmark of `SledStore`, with `InMemoryStore` measured in the same run for the
//! ratio. Prints a Markdown table.
//!
//! `cargo bench -p helpdesk-storage-sled --bench sled_store` (optionally `-- 100000` for the
//! size of the large data set; default 100,000 tickets, and 10,000 for the flatness check).
//! `SLED_CACHE_MB` sets sled's page cache and `ROW_CACHE_MB` the ticket row cache (default:
//! the store's defaults), to weigh the read figures against the server's memory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use helpdesk_core::domain::{
    DepartmentKey, Priority, Role, TicketNumber, TicketNumberFormat, TicketStatus, UserId, UserStatus,
};
use helpdesk_core::model::Ticket;
use helpdesk_core::ports::{
    PageSize, SortDirection, Store, TicketQuery, TicketSort, TicketSortField, UnitOfWork, Versioned,
};
use helpdesk_core::testing::InMemoryStore;
use helpdesk_core::testing::fixtures::{event, mail, t0, ticket, user};
use helpdesk_storage_sled::{SledOptions, SledStore};
use rand::{Rng, SeedableRng};

const DEPTS: [&str; 3] = ["it", "asset", "budget"];

fn make_ticket(seq: u64, requesters: &[UserId]) -> Ticket {
    let mut t =
        ticket(seq, requesters[(seq as usize) % requesters.len()], t0() + chrono::Duration::seconds(seq as i64));
    let statuses =
        [TicketStatus::New, TicketStatus::Open, TicketStatus::InProgress, TicketStatus::Resolved, TicketStatus::Closed];
    t.status = statuses[(seq as usize / 7) % statuses.len()];
    t.priority = Some(Priority::ALL[(seq as usize / 3) % 4]);
    t.department = Some(DepartmentKey::parse(DEPTS[seq as usize % 3]).unwrap());
    t
}

async fn create(store: &Arc<dyn Store>, requesters: &[UserId]) {
    let seq = store.allocate_ticket_number().await.unwrap();
    let t = make_ticket(seq, requesters);
    let mut uow = UnitOfWork::new();
    uow.events.push(event(&t, t.created_at));
    uow.outbox.push(mail(t.created_at));
    uow.tickets.push(Versioned::insert(t));
    store.commit(uow).await.unwrap();
}

/// Creates `n` tickets with `writers` concurrent writers; returns tickets per second.
async fn create_many(store: &Arc<dyn Store>, requesters: &Arc<Vec<UserId>>, n: usize, writers: usize) -> f64 {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (s, r) = (store.clone(), requesters.clone());
        let count = n / writers + usize::from(w < n % writers);
        tasks.push(tokio::spawn(async move {
            for _ in 0..count {
                create(&s, &r).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn pct(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

struct Row {
    name: String,
    sled: String,
    memory: String,
}

async fn measure(store: Arc<dyn Store>, requesters: Arc<Vec<UserId>>, total: u64) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let fmt = TicketNumberFormat::default();
    // get by number
    let n = 200_000;
    let start = Instant::now();
    for _ in 0..n {
        let seq = rng.gen_range(1..=total);
        let t = store.ticket_by_number(&TicketNumber::new(&fmt, seq)).await.unwrap();
        assert!(t.is_some());
    }
    out.push(("get by number (single reader)".into(), format!("{:.0}/s", n as f64 / start.elapsed().as_secs_f64())));
    // get by id: the same reads without the number's index lookup (what a store keyed by
    // number would pay for a get by number)
    let mut ids = Vec::with_capacity(total as usize);
    for seq in 1..=total {
        ids.push(store.ticket_by_number(&TicketNumber::new(&fmt, seq)).await.unwrap().unwrap().id);
    }
    let start = Instant::now();
    for _ in 0..n {
        let id = ids[rng.gen_range(0..ids.len())];
        assert!(store.ticket(id).await.unwrap().is_some());
    }
    out.push(("get by id (single reader)".into(), format!("{:.0}/s", n as f64 / start.elapsed().as_secs_f64())));
    drop(ids);
    // transition: optimistic update of ticket + event + outbox
    let n = 2_000;
    let start = Instant::now();
    for _ in 0..n {
        let seq = rng.gen_range(1..=total);
        let t = store.ticket_by_number(&TicketNumber::new(&fmt, seq)).await.unwrap().unwrap();
        let mut next = t.clone();
        next.version += 1;
        next.updated_at += chrono::Duration::seconds(1);
        next.priority = Some(Priority::ALL[rng.gen_range(0..4)]);
        let mut uow = UnitOfWork::new();
        uow.events.push(event(&next, next.updated_at));
        uow.outbox.push(mail(next.updated_at));
        uow.tickets.push(Versioned::update(next, t.version));
        store.commit(uow).await.unwrap();
    }
    out.push((
        "transition (single writer, durable)".into(),
        format!("{:.0}/s", n as f64 / start.elapsed().as_secs_f64()),
    ));
    // filtered pages of 50
    let queries: Vec<TicketQuery> = vec![
        TicketQuery { statuses: vec![TicketStatus::Open], ..TicketQuery::default() },
        TicketQuery {
            departments: vec![DepartmentKey::parse("asset").unwrap()],
            sort: TicketSort { field: TicketSortField::Priority, direction: SortDirection::Asc },
            ..TicketQuery::default()
        },
        TicketQuery { requester: Some(requesters[3]), ..TicketQuery::default() },
        TicketQuery {
            statuses: vec![TicketStatus::New, TicketStatus::InProgress],
            priorities: vec![Priority::High],
            ..TicketQuery::default()
        },
    ];
    let mut samples = Vec::new();
    for i in 0..800 {
        let mut q = queries[i % queries.len()].clone();
        q.limit = PageSize::new(50).unwrap();
        let start = Instant::now();
        let page = store.list_tickets(&q).await.unwrap();
        samples.push(start.elapsed());
        assert!(!page.items.is_empty());
    }
    out.push(("filtered page of 50, p50".into(), format!("{:.3} ms", pct(&mut samples, 0.5).as_secs_f64() * 1e3)));
    out.push(("filtered page of 50, p99".into(), format!("{:.3} ms", pct(&mut samples, 0.99).as_secs_f64() * 1e3)));
    // report summary
    let mut samples = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        let s = store.summary(t0() + chrono::Duration::days(30)).await.unwrap();
        samples.push(start.elapsed());
        assert!(s.total_tickets >= total);
    }
    out.push(("report summary, p50".into(), format!("{:.3} ms", pct(&mut samples, 0.5).as_secs_f64() * 1e3)));
    // The performance report over 30 days: every ticket of the benchmark (one a second from t0).
    let range = helpdesk_core::report::ReportRange::new(t0(), t0() + chrono::Duration::days(30)).unwrap();
    let mut samples = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let p = store.performance(range).await.unwrap();
        samples.push(start.elapsed());
        assert_eq!(p.per_day.iter().map(|d| d.created).sum::<u64>(), total.min(30 * 86_400));
    }
    out.push((
        "performance report, 30 days (every ticket), p50".into(),
        format!("{:.1} ms", pct(&mut samples, 0.5).as_secs_f64() * 1e3),
    ));
    out
}

async fn setup(store: &Arc<dyn Store>) -> Arc<Vec<UserId>> {
    let mut ids = Vec::new();
    let mut uow = UnitOfWork::new();
    for n in 1..=50 {
        let u = user(n, Role::Employee, UserStatus::Approved);
        ids.push(u.id);
        uow.users.push(Versioned::insert(u));
    }
    store.commit(uow).await.unwrap();
    Arc::new(ids)
}

fn main() {
    let large: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let mut rows: Vec<Row> = Vec::new();
        // A real directory (not `temporary`, which skips syncing) so writes are durable.
        let dir = std::env::temp_dir().join(format!("helpdesk-sled-bench-{}", std::process::id()));
        let mut options = SledOptions::new(&dir);
        if let Some(mb) = std::env::var("SLED_CACHE_MB").ok().and_then(|v| v.parse::<u64>().ok()) {
            options.cache_capacity_bytes = mb * 1024 * 1024;
        }
        if let Some(mb) = std::env::var("ROW_CACHE_MB").ok().and_then(|v| v.parse::<u64>().ok()) {
            options.row_cache_bytes = mb * 1024 * 1024;
        }
        println!(
            "sled page cache: {} MiB; ticket row cache: {} MiB",
            options.cache_capacity_bytes / (1024 * 1024),
            options.row_cache_bytes / (1024 * 1024)
        );
        let sled: Arc<dyn Store> = Arc::new(SledStore::open(&options).unwrap());
        let memory: Arc<dyn Store> = Arc::new(InMemoryStore::new());
        let rs = setup(&sled).await;
        let rm = setup(&memory).await;
        // Creation rates on an empty-ish store.
        for writers in [1, 8] {
            let n = if writers == 1 { 2_000 } else { 8_000 };
            let s = create_many(&sled, &rs, n, writers).await;
            let m = create_many(&memory, &rm, n, writers).await;
            rows.push(Row {
                name: format!("create, {writers} writer(s), durable"),
                sled: format!("{s:.0}/s"),
                memory: format!("{m:.0}/s"),
            });
        }
        for target in [10_000u64, large] {
            let have = sled.summary(t0()).await.unwrap().total_tickets;
            let need = target.saturating_sub(have) as usize;
            if need > 0 {
                create_many(&sled, &rs, need, 8).await;
                create_many(&memory, &rm, need, 8).await;
            }
            let s = measure(sled.clone(), rs.clone(), target).await;
            let m = measure(memory.clone(), rm.clone(), target).await;
            for ((name, sv), (_, mv)) in s.into_iter().zip(m) {
                rows.push(Row { name: format!("{name} @ {target} tickets"), sled: sv, memory: mv });
            }
            // Online backup: how long writes wait for the cut.
            let to = dir.with_extension(format!("backup-{target}"));
            let start = Instant::now();
            let summary = sled.backup_to(&to).await.unwrap();
            let took = start.elapsed();
            let _ = std::fs::remove_dir_all(&to);
            rows.push(Row {
                name: format!("online backup @ {target} tickets: writes wait / whole backup"),
                sled: format!(
                    "{} ms / {:.0} ms for {} records",
                    summary.writes_waited_ms,
                    took.as_secs_f64() * 1e3,
                    summary.records
                ),
                memory: "—".into(),
            });
        }
        drop(sled);
        let _ = std::fs::remove_dir_all(&dir);
        println!("| operation | SledStore | InMemoryStore |");
        println!("|---|---|---|");
        for r in rows {
            println!("| {} | {} | {} |", r.name, r.sled, r.memory);
        }
    });
}
