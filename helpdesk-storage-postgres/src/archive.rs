//! The archive port ([`ArchiveStore`]) on PostgreSQL: tokens from their table, the
//! ticket-number sequence, and outbox rows inserted with their delivery columns.

use async_trait::async_trait;
use helpdesk_core::model::{OneTimeToken, OutboxRecord};
use helpdesk_core::ports::{ArchiveStore, StoreResult};

use crate::{Json, PgStore, pg_error};

/// The last number `ticket_number_seq` handed out (0 before the first).
const HIGH_WATER: &str = "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM ticket_number_seq";

#[async_trait]
impl ArchiveStore for PgStore {
    async fn one_time_tokens(&self) -> StoreResult<Vec<OneTimeToken>> {
        let docs: Vec<Json<OneTimeToken>> =
            sqlx::query_scalar("SELECT doc FROM one_time_tokens").fetch_all(&self.pool).await.map_err(pg_error)?;
        Ok(docs.into_iter().map(|d| d.0).collect())
    }

    async fn ticket_number_high_water(&self) -> StoreResult<u64> {
        let v: i64 = sqlx::query_scalar(HIGH_WATER).fetch_one(&self.pool).await.map_err(pg_error)?;
        Ok(v.max(0) as u64)
    }

    async fn raise_ticket_number(&self, at_least: u64) -> StoreResult<()> {
        let at_least = i64::try_from(at_least).unwrap_or(i64::MAX);
        self.detached(move |store| async move {
            // `setval` is not transactional; the guard keeps it from ever lowering the sequence.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT setval('ticket_number_seq', $1) WHERE $1 > ({HIGH_WATER})"
            )))
            .bind(at_least)
            .execute(&store.pool)
            .await
            .map_err(pg_error)?;
            Ok(())
        })
        .await
    }

    async fn import_outbox(&self, records: Vec<OutboxRecord>) -> StoreResult<()> {
        self.detached(move |store| async move {
            let mut tx = store.pool.begin().await.map_err(pg_error)?;
            for r in &records {
                sqlx::query(
                    "INSERT INTO outbox (id, created_at, state, attempts, next_attempt_at, delivered_at, last_error, payload) \
                     VALUES ($1, $2, $3::outbox_state, $4, $5, $6, $7, $8)",
                )
                .bind(r.message.id.as_uuid())
                .bind(r.message.created_at)
                .bind(r.state.as_str())
                .bind(i32::try_from(r.attempts).unwrap_or(i32::MAX))
                .bind(r.next_attempt_at)
                .bind(r.delivered_at)
                .bind(r.last_error.as_deref())
                .bind(Json(&r.message.payload))
                .execute(&mut *tx)
                .await
                .map_err(pg_error)?;
            }
            tx.commit().await.map_err(pg_error)?;
            Ok(())
        })
        .await
    }
}
