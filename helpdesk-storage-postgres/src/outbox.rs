//! The outbox on PostgreSQL: claims with `FOR UPDATE SKIP LOCKED` under a lease, so several
//! dispatcher processes never hold the same message, and a crashed one's claim expires.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use helpdesk_core::domain::MessageId;
use helpdesk_core::model::{OutboxMessage, OutboxPayload, OutboxRecord, OutboxState};
use helpdesk_core::ports::{Cursor, DeliveryFailure, Lease, OutboxStore, Page, PageSize, StoreError, StoreResult};
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::{Json, PgStore, pg_error};

const COLUMNS: &str = "id, created_at, state::text AS state, attempts, next_attempt_at, lease_token, lease_until, delivered_at, last_error, payload";

fn record(r: &PgRow) -> StoreResult<OutboxRecord> {
    let state: String = r.try_get("state").map_err(pg_error)?;
    let state = match state.as_str() {
        "pending" => OutboxState::Pending,
        "delivered" => OutboxState::Delivered,
        _ => OutboxState::Dead,
    };
    let payload: Json<OutboxPayload> = r.try_get("payload").map_err(pg_error)?;
    Ok(OutboxRecord {
        message: OutboxMessage {
            id: MessageId::from_uuid(r.try_get("id").map_err(pg_error)?),
            created_at: r.try_get("created_at").map_err(pg_error)?,
            payload: payload.0,
        },
        state,
        attempts: r.try_get::<i32, _>("attempts").map_err(pg_error)? as u32,
        next_attempt_at: r.try_get("next_attempt_at").map_err(pg_error)?,
        last_error: r.try_get("last_error").map_err(pg_error)?,
        lease_token: r.try_get("lease_token").map_err(pg_error)?,
        lease_until: r.try_get("lease_until").map_err(pg_error)?,
        delivered_at: r.try_get("delivered_at").map_err(pg_error)?,
    })
}

impl PgStore {
    /// `NotFound` or `Conflict` after an update that touched no row.
    async fn why_not(&self, id: MessageId, conflict: &'static str) -> StoreError {
        match sqlx::query("SELECT 1 FROM outbox WHERE id = $1").bind(id.as_uuid()).fetch_optional(&self.pool).await {
            Ok(Some(_)) => StoreError::Conflict { what: conflict },
            Ok(None) => StoreError::NotFound { what: "outbox message" },
            Err(e) => pg_error(e),
        }
    }
}

#[async_trait]
impl OutboxStore for PgStore {
    async fn claim_outbox(&self, now: DateTime<Utc>, limit: usize, lease: Lease) -> StoreResult<Vec<OutboxRecord>> {
        self.detached(move |store| async move {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE outbox SET lease_token = $3, lease_until = $4, attempts = attempts + 1 WHERE id IN (\
                   SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) \
                   ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING {COLUMNS}"
            )))
            .bind(now)
            .bind(limit as i64)
            .bind(lease.token)
            .bind(lease.until)
            .fetch_all(&store.pool)
            .await
            .map_err(pg_error)?;
            let mut out = rows.iter().map(record).collect::<StoreResult<Vec<_>>>()?;
            out.sort_by_key(|r| (r.next_attempt_at, r.message.id));
            Ok(out)
        })
        .await
    }

    async fn ack_outbox(&self, id: MessageId, token: uuid::Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        self.detached(move |store| async move {
            let r = sqlx::query(
                "UPDATE outbox SET state = 'delivered', delivered_at = $3, lease_token = NULL, lease_until = NULL, last_error = NULL, \
                 payload = CASE WHEN payload->>'channel' = 'mail' AND payload->'kind'->>'kind' IN ('invitation', 'password_reset') \
                                THEN '{\"channel\": \"redacted\"}'::jsonb ELSE payload END \
                 WHERE id = $1 AND lease_token = $2 AND state = 'pending'",
            )
            .bind(id.as_uuid())
            .bind(token)
            .bind(now)
            .execute(&store.pool)
            .await
            .map_err(pg_error)?;
            if r.rows_affected() == 0 {
                return Err(store.why_not(id, "lease").await);
            }
            Ok(())
        })
        .await
    }

    async fn fail_outbox(&self, id: MessageId, token: uuid::Uuid, failure: DeliveryFailure) -> StoreResult<()> {
        self.detached(move |store| async move {
            let r = sqlx::query(
                "UPDATE outbox SET last_error = $3, lease_token = NULL, lease_until = NULL, \
                 state = CASE WHEN $4::timestamptz IS NULL THEN 'dead'::outbox_state ELSE state END, \
                 next_attempt_at = COALESCE($4, next_attempt_at) WHERE id = $1 AND lease_token = $2 AND state = 'pending'",
            )
            .bind(id.as_uuid())
            .bind(token)
            .bind(&failure.error)
            .bind(failure.retry_at)
            .execute(&store.pool)
            .await
            .map_err(pg_error)?;
            if r.rows_affected() == 0 {
                return Err(store.why_not(id, "lease").await);
            }
            Ok(())
        })
        .await
    }

    async fn list_outbox(
        &self,
        state: OutboxState,
        cursor: Option<Cursor>,
        limit: PageSize,
    ) -> StoreResult<Page<OutboxRecord>> {
        let mut b = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM outbox WHERE state = "));
        b.push_bind(state.as_str()).push("::outbox_state");
        if let Some(c) = cursor {
            b.push(" AND (created_at, id) > (")
                .push_bind(DateTime::<Utc>::from_timestamp_micros(c.key).unwrap_or_default())
                .push(", ")
                .push_bind(c.id)
                .push(")");
        }
        b.push(" ORDER BY created_at, id LIMIT ").push_bind((limit.get() + 1) as i64);
        let rows = b.build().persistent(false).fetch_all(&self.pool).await.map_err(pg_error)?;
        let items = rows.iter().map(record).collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit, |r| Cursor {
            key: r.message.created_at.timestamp_micros(),
            id: r.message.id.as_uuid(),
        }))
    }

    async fn outbox_message(&self, id: MessageId) -> StoreResult<Option<OutboxRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM outbox WHERE id = $1")))
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(pg_error)?;
        row.as_ref().map(record).transpose()
    }

    async fn retry_outbox(&self, id: MessageId, now: DateTime<Utc>) -> StoreResult<()> {
        self.detached(move |store| async move {
            let r = sqlx::query(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $2 WHERE id = $1 AND state = 'dead'",
            )
            .bind(id.as_uuid())
            .bind(now)
            .execute(&store.pool)
            .await
            .map_err(pg_error)?;
            if r.rows_affected() == 0 {
                return Err(store.why_not(id, "state").await);
            }
            Ok(())
        })
        .await
    }

    async fn next_outbox_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        sqlx::query_scalar("SELECT min(GREATEST(next_attempt_at, COALESCE(lease_until, next_attempt_at))) FROM outbox WHERE state = 'pending'")
            .fetch_one(&self.pool)
            .await
            .map_err(pg_error)
    }
}
