//! Reports by SQL: maintained counts for the summary, `percentile_cont` for the performance
//! report, and retention.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use helpdesk_core::domain::TicketStatus;
use helpdesk_core::model::Ticket;
use helpdesk_core::ports::{
    MaintenanceStore, PurgeBefore, PurgeReport, ReportStore, SatisfactionSamples, StoreResult, add_to_summary,
};
use helpdesk_core::report::{PerformanceBuilder, PerformanceReport, ReportRange, Summary};
use sqlx::Row;
use sqlx::types::Json;

use crate::{PgStore, pg_error};

/// One group of the performance report's tickets: department, priority and assignee (or
/// `none` / `untriaged`), then the group's creation times and its response and resolution
/// times (`NULL` when no ticket of the group has one).
type GroupRow = (String, String, String, Vec<DateTime<Utc>>, Option<Vec<i64>>, Option<Vec<i64>>);

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
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {col}::text, count(*) FROM users GROUP BY 1")))
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

    /// PostgreSQL groups the tickets created in the range by their three report keys (one
    /// hash aggregate over the covering index `tickets_report`) and sends each group's creation
    /// times and response and resolution times as arrays; the statistics are computed here with
    /// core's definitions, which do not depend on how the samples arrive. Ordered-set
    /// aggregates would cost a sort per grouping and value; a row per ticket cost the decoding
    /// of ~130,000 rows for a 30-day range at 1,000,000 tickets.
    async fn performance(&self, range: ReportRange) -> StoreResult<PerformanceReport> {
        // Three independent reads on three connections at once: the grouped samples, the
        // resolutions per day (UTC dates, as `DateTime::date_naive` gives them) and the backlog.
        // The two range reads are not kept as prepared statements: after five runs PostgreSQL
        // would switch a prepared statement to a generic plan, which guesses a range's size
        // (5,000 rows) instead of reading it from the bounds and then groups 130,000 rows by a
        // sort that spills to disk (174 ms, against 50 ms for the hash aggregate).
        let samples = self.rows_in_range::<GroupRow>(
            "SELECT COALESCE(department, 'none'), COALESCE(priority::text, 'untriaged'), \
             COALESCE(assignee::text, 'none'), array_agg(created_at), \
             array_agg(response_secs) FILTER (WHERE response_secs IS NOT NULL), \
             array_agg(resolution_secs) FILTER (WHERE resolution_secs IS NOT NULL) \
             FROM tickets WHERE created_at >= $1 AND created_at < $2 \
             GROUP BY department, priority, assignee",
            range,
        );
        let resolved = self.rows_in_range::<(NaiveDate, i64)>(
            "SELECT (resolved_at AT TIME ZONE 'UTC')::date, count(*) FROM tickets \
             WHERE resolved_at >= $1 AND resolved_at < $2 GROUP BY 1",
            range,
        );
        let backlog = async {
            sqlx::query_as::<_, (String, i64)>(
                "SELECT substr(key, 10), sum(n)::bigint FROM ticket_counts WHERE key LIKE 't:status:%' GROUP BY key",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(pg_error)
        };
        let (samples, resolved, backlog) = futures::try_join!(samples, resolved, backlog)?;
        let mut b = PerformanceBuilder::default();
        for (department, priority, assignee, created, response, resolution) in samples {
            for at in created {
                b.add_created_on(at.date_naive(), 1);
            }
            b.add_group_samples(
                [&department, &priority, &assignee],
                response.as_deref().unwrap_or_default(),
                resolution.as_deref().unwrap_or_default(),
            );
        }
        for (day, n) in resolved {
            b.add_resolved_on(day, n.max(0) as u64);
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

    /// Two reads at once: the resolved tickets counted, and the rated ones' documents (the
    /// rating lives in the document alone). Unprepared, as the performance report's range
    /// reads, so each is planned with its bounds.
    async fn satisfaction_samples(&self, range: ReportRange) -> StoreResult<SatisfactionSamples> {
        let resolved = self.rows_in_range::<(i64,)>(
            "SELECT count(*) FROM tickets \
             WHERE created_at >= $1 AND created_at < $2 AND resolved_at IS NOT NULL",
            range,
        );
        let rated = self.rows_in_range::<(Json<Ticket>,)>(
            "SELECT doc FROM tickets WHERE created_at >= $1 AND created_at < $2 \
             AND jsonb_typeof(doc -> 'satisfaction') = 'object'",
            range,
        );
        let (resolved, rated) = futures::try_join!(resolved, rated)?;
        let resolved = resolved.first().map_or(0, |(n,)| (*n).max(0) as u64);
        Ok(SatisfactionSamples { resolved, rated: rated.into_iter().map(|(j,)| j.0).collect() })
    }
}

impl PgStore {
    /// The rows of `sql`, whose `$1` and `$2` are `range`'s bounds. Sent unprepared, so each
    /// run is planned with its actual bounds: after five runs PostgreSQL would switch a
    /// prepared statement to a generic plan that guesses a range's size (see `performance`).
    async fn rows_in_range<O>(&self, sql: &'static str, range: ReportRange) -> StoreResult<Vec<O>>
    where
        O: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
    {
        sqlx::query_as::<_, O>(sql)
            .persistent(false)
            .bind(range.from())
            .bind(range.to())
            .fetch_all(&self.pool)
            .await
            .map_err(pg_error)
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
