//! The service-level alert loop over 100,000 open tickets on sled: how long one run of
//! `HelpDesk::sla_alerts` takes, reading the moments due in its window from the store's index
//! and alerting the tickets found (history read, targets recomputed, alerts enqueued). Prints
//! a Markdown table.
//!
//! `cargo bench -p helpdesk-storage-sled --bench sla_alert_loop` (optionally `-- 100000`).
//!
//! The tickets are filed through the use case, one every 6 seconds of the benchmark's clock
//! (100,000 over a week), under a policy with a 4-hour first response and a 3-day resolution
//! on an always-open calendar, so each has four alert moments spread over the following days,
//! as an open queue has.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use helpdesk_core::testing::{ManualClock, desk_with_admin};
use helpdesk_core::{HelpDesk, NewTicket, SlaAlertCursor};
use helpdesk_storage_sled::{SledOptions, SledStore};

fn pct(v: &mut [StdDuration], p: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)].as_secs_f64() * 1000.0
}

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn helpdesk_core::ports::Store> =
            Arc::new(SledStore::open(&SledOptions::new(dir.path().join("db"))).unwrap());
        let start = chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z").unwrap().to_utc();
        let clock = ManualClock::new(start);
        let (_, admin) = desk_with_admin(store.clone(), clock.clone()).await;
        let days: Vec<serde_json::Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .map(|d| serde_json::json!({"day": d, "hours": [{"start": "00:00", "end": "24:00"}]}))
            .collect();
        let spec: helpdesk_core::sla::SlaSpec = serde_json::from_value(serde_json::json!({
            "calendars": [{"key": "always", "time_zone": "UTC", "week": days}],
            "policies": [{"key": "standard", "calendar": "always",
                          "targets": [{"first_response_minutes": 240, "resolution_minutes": 4320}]}]
        }))
        .unwrap();
        let desk = HelpDesk::builder(store.clone(), Arc::new(object_store::memory::InMemory::new()))
            .clock(clock.clone())
            .sla(spec.compile().unwrap())
            .build()
            .unwrap();

        // One at a time, each at its own instant, so the moments spread as a real queue's do.
        let t0 = Instant::now();
        for i in 0..n {
            clock.set(start + Duration::seconds(6 * i as i64));
            let t = NewTicket::new("Printer", "hardware", "laptop", "Jammed again");
            desk.create_ticket(&admin, t, None).await.unwrap();
        }
        eprintln!("filed {n} tickets in {:.0} s", t0.elapsed().as_secs_f64());
        let end = start + Duration::seconds(6 * n as i64);

        let mut rows: Vec<(String, String)> = Vec::new();
        // A process starting at the end of the week reads back 24 hours.
        clock.set(end);
        let mut cursor = SlaAlertCursor::starting(end, Duration::hours(24));
        let t0 = Instant::now();
        let first = desk.sla_alerts(&mut cursor, end).await.unwrap();
        rows.push((
            format!(
                "first run, 24 h back ({} moments, {} tickets, {} alerts)",
                first.moments, first.tickets, first.alerted
            ),
            format!("{:.0} ms", t0.elapsed().as_secs_f64() * 1000.0),
        ));
        // Then a run every 15 seconds for the next 2 hours.
        let mut lat = Vec::new();
        let (mut moments, mut alerted) = (0, 0);
        for i in 1..=480 {
            let now = end + Duration::seconds(15 * i);
            clock.set(now);
            let t0 = Instant::now();
            let run = desk.sla_alerts(&mut cursor, now).await.unwrap();
            lat.push(t0.elapsed());
            moments += run.moments;
            alerted += run.alerted;
        }
        rows.push((
            format!("a run every 15 s for 2 hours ({moments} moments read, {alerted} alerts, 480 runs)"),
            format!(
                "p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
                pct(&mut lat, 0.5),
                pct(&mut lat, 0.99),
                pct(&mut lat, 1.0)
            ),
        ));
        println!("| alert loop, {n} open tickets on sled | result |");
        println!("|---|---|");
        for (a, b) in rows {
            println!("| {a} | {b} |");
        }
    });
}
