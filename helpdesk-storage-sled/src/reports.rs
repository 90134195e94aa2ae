//! Reports from counters and indexes, and retention.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use helpdesk_core::domain::TicketStatus;
use helpdesk_core::model::{OneTimeToken, OutboxRecord, OutboxState, Session};
use helpdesk_core::ports::{
    BackupSummary, MaintenanceStore, PurgeBefore, PurgeReport, ReportStore, SatisfactionSamples, StoreResult,
    add_to_summary,
};
use helpdesk_core::report::{PerformanceBuilder, PerformanceReport, ReportRange, Summary};

use crate::SledStore;
use crate::codec::{counter_value, dec, get, sled_err};
use crate::commit::IdemRow;
use crate::keys::{Key, key_i64, time_key};

impl SledStore {
    fn counters_with(&self, prefix: &str) -> StoreResult<BTreeMap<String, u64>> {
        let mut out = BTreeMap::new();
        for kv in self.t.counters.scan_prefix(prefix.as_bytes()) {
            let (k, v) = kv.map_err(sled_err)?;
            let n = counter_value(Some(&v));
            if n > 0 {
                out.insert(String::from_utf8_lossy(&k[prefix.len()..]).into_owned(), n as u64);
            }
        }
        Ok(out)
    }

    fn counter(&self, key: &str) -> StoreResult<u64> {
        Ok(counter_value(self.t.counters.get(key.as_bytes()).map_err(sled_err)?.as_deref()).max(0) as u64)
    }
}

#[async_trait]
impl ReportStore for SledStore {
    async fn summary(&self, now: DateTime<Utc>) -> StoreResult<Summary> {
        // Waiting new tickets: all new ones (a counter) minus those of the last 24 hours.
        let recent = self.list.new_since(now - Duration::hours(24));
        let waiting = self.counter("t:status:new")?.saturating_sub(recent);
        let mut summary = Summary { new_waiting_over_24h: waiting, ..Summary::default() };
        for prefix in ["t:", "u:"] {
            for kv in self.t.counters.scan_prefix(prefix.as_bytes()) {
                let (k, v) = kv.map_err(sled_err)?;
                add_to_summary(&mut summary, &String::from_utf8_lossy(&k), counter_value(Some(&v)));
            }
        }
        summary.rejected_registrations = self.counter("rejections")?;
        Ok(summary)
    }

    async fn performance(&self, range: ReportRange) -> StoreResult<PerformanceReport> {
        let mut b = PerformanceBuilder::default();
        for id in self.list.created_between(range.from(), range.to()) {
            if let Some(t) = self.ticket_for_scan(id)? {
                b.add_created(&t);
            }
        }
        for kv in self.t.resolved_idx.range(time_key(range.from()).to_vec()..time_key(range.to()).to_vec()) {
            let (k, _) = kv.map_err(sled_err)?;
            if let Some(at) = DateTime::from_timestamp_micros(key_i64(&k)) {
                b.add_resolved(at);
            }
        }
        for (status, n) in self.counters_with("t:status:")? {
            if let Ok(s) = status.parse::<TicketStatus>()
                && !s.is_terminal()
                && s != TicketStatus::Resolved
            {
                b.add_backlog_count(s, n);
            }
        }
        Ok(b.finish(range))
    }

    /// The tickets created in the range, from the lists' index and the row cache.
    async fn satisfaction_samples(&self, range: ReportRange) -> StoreResult<SatisfactionSamples> {
        let mut out = SatisfactionSamples::default();
        for id in self.list.created_between(range.from(), range.to()) {
            if let Some(t) = self.ticket_for_scan(id)? {
                out.resolved += u64::from(t.resolved_at.is_some());
                if t.satisfaction.is_some() {
                    out.rated.push(t);
                }
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl MaintenanceStore for SledStore {
    async fn purge(&self, before: PurgeBefore) -> StoreResult<PurgeReport> {
        let writing = self.writing();
        let t = &self.t;
        let mut r = PurgeReport::default();
        // Delivered entries sort by creation, and a message is delivered after it is created:
        // only those created before the cutoff can have been delivered before it, so the scan
        // stops there instead of reading every delivered message each minute (the memory and
        // time of the maintenance round grew with the week's mail).
        let delivered = crate::outbox::state_tag(OutboxState::Delivered);
        let until = Key::new().u8(delivered).time(before.delivered_outbox).build();
        for kv in t.outbox_state.range(vec![delivered]..until) {
            let (k, _) = kv.map_err(sled_err)?;
            let id = &k[9..];
            if let Some(rec) = get::<OutboxRecord>(&t.outbox, id)?
                && rec.state == OutboxState::Delivered
                && rec.delivered_at.is_some_and(|d| d < before.delivered_outbox)
            {
                t.outbox.remove(id).map_err(sled_err)?;
                t.outbox_state.remove(&k).map_err(sled_err)?;
                r.outbox += 1;
            }
        }
        for kv in t.idem.iter() {
            let (k, v) = kv.map_err(sled_err)?;
            let row: IdemRow = dec(&v)?;
            if row.expires_at.is_some_and(|e| e < before.idempotency) {
                t.idem.remove(&k).map_err(sled_err)?;
                r.idempotency += 1;
            }
        }
        for kv in t.audit.range(..time_key(before.audit).to_vec()) {
            let (k, _) = kv.map_err(sled_err)?;
            t.audit.remove(&k).map_err(sled_err)?;
            r.audit += 1;
        }
        let cutoff = before.sessions_and_tokens;
        let mut ended = std::collections::HashSet::new();
        for kv in t.sessions.iter() {
            let (k, v) = kv.map_err(sled_err)?;
            let s: Session = crate::account_rows::decode_session(&v)?;
            if s.revoked_at.is_some_and(|x| x < cutoff) || s.absolute_expires_at < cutoff || s.idle_expires_at < cutoff
            {
                t.sessions.remove(&k).map_err(sled_err)?;
                t.user_sessions
                    .remove(Key::new().uuid(s.user.as_uuid()).uuid(s.id.as_uuid()).build())
                    .map_err(sled_err)?;
                ended.insert(s.id.as_uuid());
                r.sessions_and_tokens += 1;
            }
        }
        for kv in t.refresh.iter() {
            let (k, v) = kv.map_err(sled_err)?;
            if v.len() == 17 && uuid::Uuid::from_slice(&v[..16]).is_ok_and(|u| ended.contains(&u)) {
                t.refresh.remove(&k).map_err(sled_err)?;
            }
        }
        for kv in t.tokens.iter() {
            let (k, v) = kv.map_err(sled_err)?;
            let tok: OneTimeToken = dec(&v)?;
            if tok.expires_at < cutoff {
                t.tokens.remove(&k).map_err(sled_err)?;
                r.sessions_and_tokens += 1;
            }
        }
        let cut = time_key(cutoff);
        for kv in t.windows.iter() {
            let (k, _) = kv.map_err(sled_err)?;
            if k.len() >= 8 && k[k.len() - 8..] < cut[..] {
                t.windows.remove(&k).map_err(sled_err)?;
                r.sessions_and_tokens += 1;
            }
        }
        r.notices = self.purge_notices(before.notices)?;
        drop(writing);
        self.durable().await?;
        Ok(r)
    }

    async fn backup_to(&self, to: &std::path::Path) -> StoreResult<BackupSummary> {
        let (store, to) = (self.clone(), to.to_owned());
        tokio::task::spawn_blocking(move || store.backup(&to)).await.map_err(crate::backend)?
    }
}
