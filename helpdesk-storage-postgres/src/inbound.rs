//! Messages that came in by mail: the `inbound_messages` table (migration 0009). The message's
//! identity is a unique column, so two processes racing on one message cannot both commit.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use helpdesk_core::domain::InboundId;
use helpdesk_core::model::InboundMessage;
use helpdesk_core::ports::{InboundStore, StoreError, StoreResult, Versioned};
use sqlx::{Postgres, Row, Transaction};

use crate::commit::TxError;
use crate::{Json, PgStore, pg_error};

/// Inserts or updates a unit of work's inbound records.
pub(crate) async fn write_inbound(
    tx: &mut Transaction<'_, Postgres>,
    records: &[Versioned<InboundMessage>],
) -> Result<(), TxError> {
    for w in records {
        let m = &w.value;
        let version = match w.expected {
            None => 1,
            Some(v) => {
                let row = sqlx::query("SELECT version, message_key FROM inbound_messages WHERE id = $1 FOR UPDATE")
                    .bind(m.id.as_uuid())
                    .fetch_optional(&mut **tx)
                    .await?;
                let Some(row) = row else { return Err(StoreError::NotFound { what: "inbound message" }.into()) };
                let found: i64 = row.try_get(0)?;
                let key: String = row.try_get(1)?;
                if found as u64 != v {
                    return Err(StoreError::VersionMismatch { expected: v, found: found as u64 }.into());
                }
                if key != m.key {
                    return Err(StoreError::Conflict { what: "an inbound message's key is immutable" }.into());
                }
                v + 1
            }
        };
        let mut row = m.clone();
        row.version = version;
        let sql = if w.expected.is_none() {
            "INSERT INTO inbound_messages (id, message_key, received_at, outcome, version, doc) \
             VALUES ($1, $2, $3, $4, $5, $6)"
        } else {
            "UPDATE inbound_messages SET outcome = $4, version = $5, doc = $6 WHERE id = $1"
        };
        let result = sqlx::query(sql)
            .bind(m.id.as_uuid())
            .bind(&m.key)
            .bind(m.received_at)
            .bind(m.outcome.name())
            .bind(version as i64)
            .bind(Json(&row))
            .execute(&mut **tx)
            .await;
        if let Err(sqlx::Error::Database(db)) = &result
            && db.code().as_deref() == Some("23505")
            && db.constraint() == Some("inbound_messages_key_key")
        {
            return Err(StoreError::AlreadyExists { what: "inbound message" }.into());
        }
        result?;
    }
    Ok(())
}

fn decode(rows: Vec<sqlx::postgres::PgRow>) -> StoreResult<Vec<InboundMessage>> {
    rows.into_iter()
        .map(|r| {
            let Json(m): Json<InboundMessage> = r.try_get("doc").map_err(pg_error)?;
            Ok(m)
        })
        .collect()
}

#[async_trait]
impl InboundStore for PgStore {
    async fn inbound(&self, id: InboundId) -> StoreResult<Option<InboundMessage>> {
        let rows = sqlx::query("SELECT doc FROM inbound_messages WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(pg_error)?;
        Ok(decode(rows)?.pop())
    }

    async fn inbound_by_key(&self, key: &str) -> StoreResult<Option<InboundMessage>> {
        let rows = sqlx::query("SELECT doc FROM inbound_messages WHERE message_key = $1")
            .bind(key)
            .fetch_all(&self.pool)
            .await
            .map_err(pg_error)?;
        Ok(decode(rows)?.pop())
    }

    async fn list_inbound(
        &self,
        outcome: Option<&'static str>,
        before: Option<(DateTime<Utc>, InboundId)>,
        limit: usize,
    ) -> StoreResult<Vec<InboundMessage>> {
        let (at, id) = before.map_or((None, None), |(at, id)| (Some(at), Some(id.as_uuid())));
        let rows = sqlx::query(
            "SELECT doc FROM inbound_messages \
             WHERE ($1::text IS NULL OR outcome = $1) \
               AND ($2::timestamptz IS NULL OR (received_at, id) < ($2, $3)) \
             ORDER BY received_at DESC, id DESC LIMIT $4",
        )
        .bind(outcome)
        .bind(at)
        .bind(id)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        decode(rows)
    }
}
