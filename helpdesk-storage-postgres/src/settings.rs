//! The settings port on PostgreSQL: one row of `settings` per document key (`sla`, `macros`),
//! replaced only at the version the save names (an insert for the first save, which a
//! concurrent first save loses on the primary key).

use async_trait::async_trait;
use helpdesk_core::ports::{DocumentKey, SettingsStore, StoreError, StoreResult};
use sqlx::Row;

use crate::{Json, PgStore, pg_error};

impl PgStore {
    async fn document_version(&self, key: DocumentKey) -> StoreResult<u64> {
        let v: Option<i64> = sqlx::query_scalar("SELECT version FROM settings WHERE key = $1")
            .bind(key.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(pg_error)?;
        Ok(v.map_or(0, |v| v as u64))
    }
}

#[async_trait]
impl SettingsStore for PgStore {
    async fn document(&self, key: DocumentKey) -> StoreResult<Option<(serde_json::Value, u64)>> {
        let row = sqlx::query("SELECT version, doc FROM settings WHERE key = $1")
            .bind(key.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(pg_error)?;
        row.map(|r| {
            let version: i64 = r.try_get("version").map_err(pg_error)?;
            let doc: Json<serde_json::Value> = r.try_get("doc").map_err(pg_error)?;
            Ok((doc.0, version as u64))
        })
        .transpose()
    }

    async fn save_document(&self, key: DocumentKey, doc: &serde_json::Value, expected: u64) -> StoreResult<u64> {
        let next = expected as i64 + 1;
        let written = if expected == 0 {
            sqlx::query("INSERT INTO settings (key, version, doc) VALUES ($1, 1, $2) ON CONFLICT (key) DO NOTHING")
                .bind(key.as_str())
                .bind(Json(doc))
                .execute(&self.pool)
                .await
        } else {
            sqlx::query("UPDATE settings SET version = $2, doc = $3 WHERE key = $1 AND version = $4")
                .bind(key.as_str())
                .bind(next)
                .bind(Json(doc))
                .bind(expected as i64)
                .execute(&self.pool)
                .await
        }
        .map_err(pg_error)?;
        if written.rows_affected() == 1 {
            Ok(next as u64)
        } else {
            Err(StoreError::VersionMismatch { expected, found: self.document_version(key).await? })
        }
    }
}
