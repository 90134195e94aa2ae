//! Gauges of the process and of the embedded store, set when `/metrics` is scraped: the
//! figures an operator sizes memory by (the README's `sled_cache_mb` and `sled_row_cache_mb`
//! rows say what each cache costs; these say what it holds now).
//!
//! - `process_resident_memory_bytes`: the server's resident memory (Linux; the name is the one
//!   Prometheus client libraries use).
//! - `helpdesk_sled_row_cache_bytes`, `_rows`, `_budget_bytes`, and the counters
//!   `helpdesk_sled_row_cache_hits_total` / `_misses_total`: the sled store's ticket row cache
//!   (summed over the sled stores this process has open: one in a server).
//! - `helpdesk_pg_pool_connections` / `_idle` and `helpdesk_pg_read_lane_size`, `_open`,
//!   `_idle`, with the counters `helpdesk_pg_read_lane_lent_total`, `_fallbacks_total` and
//!   `_closed_total`: the PostgreSQL store's pool and read lane (README, `postgres_read_lane`).
//!   Fallbacks growing beside lendings say the lane is smaller than the concurrent reads.

use std::sync::{Arc, Mutex, Weak};

use helpdesk_storage_postgres::{PgStore, ReadLaneStats};
use helpdesk_storage_sled::{RowCacheStats, SledStore};

/// The sled stores opened by [`super::open_store`], while they stay open.
static SLED: Mutex<Vec<Weak<SledStore>>> = Mutex::new(Vec::new());
/// The PostgreSQL stores opened by [`super::open_store`], while they stay open.
static PG: Mutex<Vec<Weak<PgStore>>> = Mutex::new(Vec::new());

/// Sets every gauge to its value now (the metrics endpoint calls it before rendering).
pub(crate) fn publish() {
    if let Some(bytes) = resident_bytes() {
        metrics::gauge!("process_resident_memory_bytes").set(bytes as f64);
    }
    publish_pg();
    let mut stores = SLED.lock().unwrap_or_else(|e| e.into_inner());
    stores.retain(|s| s.strong_count() > 0);
    if stores.is_empty() {
        return;
    }
    let mut sum = RowCacheStats::default();
    for s in stores.iter().filter_map(Weak::upgrade) {
        sum += s.row_cache_stats();
    }
    metrics::gauge!("helpdesk_sled_row_cache_bytes").set(sum.bytes as f64);
    metrics::gauge!("helpdesk_sled_row_cache_rows").set(sum.rows as f64);
    metrics::gauge!("helpdesk_sled_row_cache_budget_bytes").set(sum.budget_bytes as f64);
    metrics::counter!("helpdesk_sled_row_cache_hits_total").absolute(sum.hits);
    metrics::counter!("helpdesk_sled_row_cache_misses_total").absolute(sum.misses);
}

/// The PostgreSQL pool's and read lane's gauges, summed over the open stores.
fn publish_pg() {
    let mut stores = PG.lock().unwrap_or_else(|e| e.into_inner());
    stores.retain(|s| s.strong_count() > 0);
    if stores.is_empty() {
        return;
    }
    let (mut connections, mut idle) = (0u64, 0u64);
    let mut lane = ReadLaneStats::default();
    for s in stores.iter().filter_map(Weak::upgrade) {
        connections += u64::from(s.pool().size());
        idle += s.pool().num_idle() as u64;
        lane += s.read_lane_stats();
    }
    metrics::gauge!("helpdesk_pg_pool_connections").set(connections as f64);
    metrics::gauge!("helpdesk_pg_pool_idle").set(idle as f64);
    metrics::gauge!("helpdesk_pg_read_lane_size").set(f64::from(lane.size));
    metrics::gauge!("helpdesk_pg_read_lane_open").set(f64::from(lane.open));
    metrics::gauge!("helpdesk_pg_read_lane_idle").set(f64::from(lane.idle));
    metrics::counter!("helpdesk_pg_read_lane_lent_total").absolute(lane.lent);
    metrics::counter!("helpdesk_pg_read_lane_fallbacks_total").absolute(lane.fallbacks);
    metrics::counter!("helpdesk_pg_read_lane_closed_total").absolute(lane.closed);
}

/// Counts `store` in the row cache's gauges while it is open.
pub(crate) fn watch_sled(store: &Arc<SledStore>) {
    SLED.lock().unwrap_or_else(|e| e.into_inner()).push(Arc::downgrade(store));
}

/// Counts `store` in the pool's and read lane's gauges while it is open.
pub(crate) fn watch_pg(store: &Arc<PgStore>) {
    PG.lock().unwrap_or_else(|e| e.into_inner()).push(Arc::downgrade(store));
}

fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_resident_memory() {
        if cfg!(target_os = "linux") {
            let bytes = resident_bytes().unwrap_or(0);
            assert!(bytes > 1024 * 1024, "a test process holds more than a MiB: {bytes}");
        }
    }
}
