//! In-app notifications: the `notices` table (migration 0004). `read_at` lives in its own
//! column, the authority over the copy in `doc`, so marking read is one `UPDATE` of a column.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use helpdesk_core::domain::{NoticeId, UserId};
use helpdesk_core::model::Notice;
use helpdesk_core::ports::{NoticeStore, StoreResult};
use sqlx::{Postgres, Row, Transaction};

use crate::{Json, PgStore, pg_error};

/// Inserts a unit of work's notices in one statement.
pub(crate) async fn insert_notices(tx: &mut Transaction<'_, Postgres>, notices: &[Notice]) -> sqlx::Result<()> {
    if notices.is_empty() {
        return Ok(());
    }
    let ids: Vec<uuid::Uuid> = notices.iter().map(|n| n.id.as_uuid()).collect();
    let users: Vec<uuid::Uuid> = notices.iter().map(|n| n.user.as_uuid()).collect();
    let at: Vec<DateTime<Utc>> = notices.iter().map(|n| n.created_at).collect();
    let read: Vec<Option<DateTime<Utc>>> = notices.iter().map(|n| n.read_at).collect();
    let docs: Vec<String> = notices.iter().map(|n| serde_json::to_string(n).unwrap_or_default()).collect();
    sqlx::query(
        "INSERT INTO notices (id, user_id, created_at, read_at, doc) \
         SELECT i, u, c, r, d::jsonb FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::timestamptz[], $5::text[]) AS x(i, u, c, r, d)",
    )
    .bind(ids)
    .bind(users)
    .bind(at)
    .bind(read)
    .bind(docs)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl NoticeStore for PgStore {
    async fn notices(&self, user: UserId, limit: usize) -> StoreResult<Vec<Notice>> {
        let mut c = self.read().await?;
        let rows = sqlx::query(
            "SELECT doc, read_at FROM notices WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(user.as_uuid())
        .bind(limit as i64)
        .fetch_all(c.conn())
        .await
        .map_err(pg_error)?;
        c.finish();
        rows.into_iter()
            .map(|r| {
                let Json(mut n): Json<Notice> = r.try_get("doc").map_err(pg_error)?;
                n.read_at = r.try_get("read_at").map_err(pg_error)?;
                Ok(n)
            })
            .collect()
    }

    async fn unread_notices(&self, user: UserId) -> StoreResult<u64> {
        let mut c = self.read().await?;
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM notices WHERE user_id = $1 AND read_at IS NULL")
            .bind(user.as_uuid())
            .fetch_one(c.conn())
            .await
            .map_err(pg_error)?;
        c.finish();
        Ok(n as u64)
    }

    async fn mark_notices_read(&self, user: UserId, id: Option<NoticeId>, now: DateTime<Utc>) -> StoreResult<u64> {
        self.detached(move |store| async move {
            let r = sqlx::query(
                "UPDATE notices SET read_at = $3 WHERE user_id = $1 AND read_at IS NULL AND ($2::uuid IS NULL OR id = $2)",
            )
            .bind(user.as_uuid())
            .bind(id.map(|i| i.as_uuid()))
            .bind(now)
            .execute(&store.pool)
            .await
            .map_err(pg_error)?;
            Ok(r.rows_affected())
        })
        .await
    }
}
