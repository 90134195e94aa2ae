//! Reports by SQL: maintained counts for the summary, `percentile_cont` for the performance
//! report, and retention.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use helpdesk_core::domain::TicketStatus;
use helpdesk_core::ports::{MaintenanceStore, PurgeBefore, PurgeReport, ReportStore, StoreResult};
use helpdesk_core::report::{DurationStats, GroupStats, PerformanceReport, ReportRange, Summary, days};
use sqlx::Row;

use crate::{PgStore, pg_error};

fn stats(r: &sqlx::postgres::PgRow, prefix: &str) -> StoreResult<DurationStats> {
    let count: i64 = r.try_get(format!("{prefix}_n").as_str()).map_err(pg_error)?;
    let mean: Option<f64> = r.try_get(format!("{prefix}_mean").as_str()).map_err(pg_error)?;
    let p: Option<Vec<Option<f64>>> = r.try_get(format!("{prefix}_p").as_str()).map_err(pg_error)?;
    let p = p.unwrap_or_default();
    Ok(DurationStats {
        count: count as u64,
        mean_secs: mean,
        median_secs: p.first().copied().flatten(),
        p90_secs: p.get(1).copied().flatten(),
    })
}

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
            if n <= 0 {
                continue;
            }
            let n = n as u64;
            if key == "t:total" {
                s.total_tickets = n;
            } else if let Some((dim, v)) = key.strip_prefix("t:").and_then(|k| k.split_once(':')) {
                let map = match dim {
                    "status" => &mut s.by_status,
                    "priority" => &mut s.by_priority,
                    "department" => &mut s.by_department,
                    "category" => &mut s.by_category,
                    _ => continue,
                };
                map.insert(v.to_owned(), n);
            }
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

    async fn performance(&self, range: ReportRange) -> StoreResult<PerformanceReport> {
        // One scan of the range; both percentiles from one sort per group (an array argument);
        // the four groupings in one pass with GROUPING SETS.
        let rows = sqlx::query(
            "WITH r AS MATERIALIZED (SELECT COALESCE(department, 'none') AS department, COALESCE(priority::text, 'untriaged') AS priority, \
                    COALESCE(assignee::text, 'none') AS assignee, response_secs AS a, resolution_secs AS b \
                    FROM tickets WHERE created_at >= $1 AND created_at < $2) \
             SELECT CASE WHEN GROUPING(department) = 0 THEN 'department' WHEN GROUPING(priority) = 0 THEN 'priority' \
                         WHEN GROUPING(assignee) = 0 THEN 'assignee' ELSE 'all' END AS dim, \
                    COALESCE(department, priority, assignee, '') AS key, \
                    count(a) AS a_n, avg(a)::float8 AS a_mean, percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY a) AS a_p, \
                    count(b) AS b_n, avg(b)::float8 AS b_mean, percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY b) AS b_p \
             FROM r GROUP BY GROUPING SETS ((), (department), (priority), (assignee))",
        )
        .bind(range.from())
        .bind(range.to())
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        let mut report = PerformanceReport {
            range,
            response: DurationStats::default(),
            resolution: DurationStats::default(),
            by_department: Vec::new(),
            by_priority: Vec::new(),
            by_assignee: Vec::new(),
            backlog: BTreeMap::new(),
            per_day: Vec::new(),
        };
        for r in &rows {
            let dim: String = r.try_get("dim").map_err(pg_error)?;
            let key: String = r.try_get("key").map_err(pg_error)?;
            let g = GroupStats { key, response: stats(r, "a")?, resolution: stats(r, "b")? };
            match dim.as_str() {
                "all" => {
                    report.response = g.response;
                    report.resolution = g.resolution;
                }
                "department" => report.by_department.push(g),
                "priority" => report.by_priority.push(g),
                _ => report.by_assignee.push(g),
            }
        }
        let per_day = |sql: &'static str| async move {
            let rows =
                sqlx::query(sql).bind(range.from()).bind(range.to()).fetch_all(&self.pool).await.map_err(pg_error)?;
            let mut m = BTreeMap::new();
            for r in rows {
                let d: NaiveDate = r.try_get(0).map_err(pg_error)?;
                m.insert(d, r.try_get::<i64, _>(1).map_err(pg_error)? as u64);
            }
            Ok::<_, helpdesk_core::ports::StoreError>(m)
        };
        let created = per_day("SELECT (created_at AT TIME ZONE 'UTC')::date, count(*) FROM tickets WHERE created_at >= $1 AND created_at < $2 GROUP BY 1").await?;
        let resolved = per_day("SELECT (resolved_at AT TIME ZONE 'UTC')::date, count(*) FROM tickets WHERE resolved_at >= $1 AND resolved_at < $2 GROUP BY 1").await?;
        report.per_day = days(range, &created, &resolved);
        let rows = sqlx::query(
            "SELECT substr(key, 10), sum(n)::bigint FROM ticket_counts WHERE key LIKE 't:status:%' GROUP BY key",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        for r in rows {
            let status: String = r.try_get(0).map_err(pg_error)?;
            let n: i64 = r.try_get(1).map_err(pg_error)?;
            if n <= 0 {
                continue;
            }
            let n = n as u64;
            if let Ok(s) = status.parse::<TicketStatus>()
                && !s.is_terminal()
                && s != TicketStatus::Resolved
            {
                report.backlog.insert(status, n);
            }
        }
        Ok(report)
    }
}

#[async_trait]
impl MaintenanceStore for PgStore {
    async fn purge(&self, before: PurgeBefore) -> StoreResult<PurgeReport> {
        let exec = |sql: &'static str, at: DateTime<Utc>| async move {
            sqlx::query(sql).bind(at).execute(&self.pool).await.map(|r| r.rows_affected()).map_err(pg_error)
        };
        Ok(PurgeReport {
            outbox: exec("DELETE FROM outbox WHERE state = 'delivered' AND delivered_at < $1", before.delivered_outbox)
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
        })
    }
}
