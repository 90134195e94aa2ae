//! Reports by SQL: maintained counts for the summary, `percentile_cont` for the performance
//! report, and retention.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use helpdesk_core::domain::TicketStatus;
use helpdesk_core::ports::{
    MaintenanceStore, PurgeBefore, PurgeReport, ReportStore, StoreError, StoreResult, add_to_summary,
};
use helpdesk_core::report::{PerformanceBuilder, PerformanceReport, ReportRange, Summary};
use sqlx::Row;

use crate::{PgStore, pg_error};

#[async_trait]
impl ReportStore for PgStore {
    async fn summary(&self, now: DateTime<Utc>) -> StoreResult<Summary> {
        let mut s = Summary::default();
        let rows = sqlx::query("SELECT key, sum(n)::bigint AS n FROM ticket_counts GROUP BY key")
            .fetch_all(&self.pool)
            .await
            .map_err(pg_error)?;
        for r in rows {
            let key: String = r.try_get(0).map_err(pg_error)?;
            let n: i64 = r.try_get(1).map_err(pg_error)?;
            add_to_summary(&mut s, &key, n);
        }
        s.new_waiting_over_24h =
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM tickets WHERE status = 'new' AND created_at < $1")
                .bind(now - chrono::Duration::hours(24))
                .fetch_one(&self.pool)
                .await
                .map_err(pg_error)? as u64;
        for (col, map) in [("role", &mut s.users_by_role), ("status", &mut s.users_by_status)] {
            let rows = sqlx::query(&format!("SELECT {col}::text, count(*) FROM users GROUP BY 1"))
                .fetch_all(&self.pool)
                .await
                .map_err(pg_error)?;
            for r in rows {
                map.insert(r.try_get(0).map_err(pg_error)?, r.try_get::<i64, _>(1).map_err(pg_error)? as u64);
            }
        }
        s.rejected_registrations = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM rejections")
            .fetch_one(&self.pool)
            .await
            .map_err(pg_error)? as u64;
        Ok(s)
    }

    /// One indexed range scan streams the report columns of the tickets created in the range;
    /// the statistics are computed here with core's definitions (ordered-set aggregates over
    /// four groupings cost PostgreSQL a sort per grouping and value, several times slower).
    async fn performance(&self, range: ReportRange) -> StoreResult<PerformanceReport> {
        // Three independent reads on three connections at once: the created tickets' columns
        // (streamed through the covering index and folded as they arrive), the resolutions in
        // the range, and the backlog counts. Run one after the other they added up.
        let samples = async {
            let mut b = PerformanceBuilder::default();
            let mut rows = sqlx::query(
                "SELECT created_at, COALESCE(department, 'none'), COALESCE(priority::text, 'untriaged'), \
                 COALESCE(assignee::text, 'none'), response_secs, resolution_secs \
                 FROM tickets WHERE created_at >= $1 AND created_at < $2",
            )
            .bind(range.from())
            .bind(range.to())
            .fetch(&self.pool);
            while let Some(r) = rows.next().await {
                let r = r.map_err(pg_error)?;
                b.add_sample(
                    r.try_get(0).map_err(pg_error)?,
                    [
                        r.try_get::<&str, _>(1).map_err(pg_error)?,
                        r.try_get::<&str, _>(2).map_err(pg_error)?,
                        r.try_get::<&str, _>(3).map_err(pg_error)?,
                    ],
                    r.try_get(4).map_err(pg_error)?,
                    r.try_get(5).map_err(pg_error)?,
                );
            }
            Ok::<_, StoreError>(b)
        };
        let resolved = async {
            sqlx::query_scalar::<_, DateTime<Utc>>(
                "SELECT resolved_at FROM tickets WHERE resolved_at >= $1 AND resolved_at < $2",
            )
            .bind(range.from())
            .bind(range.to())
            .fetch_all(&self.pool)
            .await
            .map_err(pg_error)
        };
        let backlog = async {
            sqlx::query_as::<_, (String, i64)>(
                "SELECT substr(key, 10), sum(n)::bigint FROM ticket_counts WHERE key LIKE 't:status:%' GROUP BY key",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(pg_error)
        };
        let (mut b, resolved, backlog) = futures::try_join!(samples, resolved, backlog)?;
        for at in resolved {
            b.add_resolved(at);
        }
        for (status, n) in backlog {
            if let Ok(s) = status.parse::<TicketStatus>()
                && !s.is_terminal()
                && s != TicketStatus::Resolved
            {
                b.add_backlog_count(s, n.max(0) as u64);
            }
        }
        Ok(b.finish(range))
    }
}

#[async_trait]
impl MaintenanceStore for PgStore {
    async fn purge(&self, before: PurgeBefore) -> StoreResult<PurgeReport> {
        self.detached(move |store| async move {
            let pool = &store.pool;
            let exec = |sql: &'static str, at: DateTime<Utc>| async move {
                sqlx::query(sql).bind(at).execute(pool).await.map(|r| r.rows_affected()).map_err(pg_error)
            };
            Ok(PurgeReport {
                // A message is delivered after it is created: the bound on `created_at` lets
                // `outbox_by_state` stop at the cutoff instead of visiting every delivered row.
                outbox: exec(
                    "DELETE FROM outbox WHERE state = 'delivered' AND created_at < $1 AND delivered_at < $1",
                    before.delivered_outbox,
                )
                .await?,
                idempotency: exec("DELETE FROM idempotency WHERE expires_at < $1", before.idempotency).await?,
                audit: exec("DELETE FROM audit_log WHERE at < $1", before.audit).await?,
                sessions_and_tokens: exec(
                    "DELETE FROM sessions WHERE revoked_at < $1 OR absolute_expires_at < $1 OR idle_expires_at < $1",
                    before.sessions_and_tokens,
                )
                .await?
                    + exec("DELETE FROM one_time_tokens WHERE expires_at < $1", before.sessions_and_tokens).await?
                    + exec("DELETE FROM rate_windows WHERE window_start < $1", before.sessions_and_tokens).await?,
                notices: exec("DELETE FROM notices WHERE created_at < $1", before.notices).await?,
            })
        })
        .await
    }
}
