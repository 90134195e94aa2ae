//! Users, sessions and refresh tokens, single-use tokens, API keys, the audit log,
//! idempotency records and throttling counters.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use helpdesk_core::domain::{ApiKeyId, CompanyId, Email, SessionId, TicketNumber, UserId};
use helpdesk_core::model::{ApiKey, AuditEntry, OneTimeToken, RejectionRecord, Session, Ticket, TokenHash, User};
use helpdesk_core::ports::*;
use sqlx::Row;

use crate::commit::TxError;
use crate::{Json, PgStore, pg_error};

fn doc<T: serde::de::DeserializeOwned>(r: &sqlx::postgres::PgRow) -> StoreResult<T> {
    r.try_get::<Json<T>, _>("doc").map(|j| j.0).map_err(pg_error)
}

impl PgStore {
    /// The `doc` of the row of `table` with this id.
    pub(crate) async fn doc_by_id<T: serde::de::DeserializeOwned>(
        &self,
        table: &str,
        id: uuid::Uuid,
    ) -> StoreResult<Option<T>> {
        let mut c = self.read().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT doc FROM {table} WHERE id = $1")))
            .bind(id)
            .fetch_optional(c.conn())
            .await
            .map_err(pg_error)?;
        c.finish();
        row.as_ref().map(doc).transpose()
    }

    async fn user_where(&self, sql: &'static str, bind: &str) -> StoreResult<Option<User>> {
        let mut c = self.read().await?;
        let row = sqlx::query(sql).bind(bind).fetch_optional(c.conn()).await.map_err(pg_error)?;
        c.finish();
        row.as_ref().map(doc).transpose()
    }

    /// A newest-first page of a table with `doc` and a (time, id) order.
    async fn newest_first<T: serde::de::DeserializeOwned + Send + Unpin>(
        &self,
        table: &str,
        time_col: &str,
        // (SQL expression, value) pairs that must be equal.
        equal: &[(&str, &str)],
        cursor: Option<Cursor>,
        limit: PageSize,
        key: impl Fn(&T) -> Cursor,
    ) -> StoreResult<Page<T>> {
        let mut b = sqlx::QueryBuilder::new(format!("SELECT doc FROM {table} WHERE true"));
        for (expr, value) in equal {
            b.push(format!(" AND {expr} = ")).push_bind((*value).to_owned());
        }
        if let Some(c) = cursor {
            b.push(format!(" AND ({time_col}, id) < ("))
                .push_bind(DateTime::<Utc>::from_timestamp_micros(c.key).unwrap_or_default())
                .push(", ")
                .push_bind(c.id)
                .push(")");
        }
        b.push(format!(" ORDER BY {time_col} DESC, id DESC LIMIT ")).push_bind((limit.get() + 1) as i64);
        let rows = b.build().persistent(false).fetch_all(&self.pool).await.map_err(pg_error)?;
        let items = rows.iter().map(doc).collect::<StoreResult<Vec<T>>>()?;
        Ok(Page::from_overfetch(items, limit, key))
    }
}

#[async_trait]
impl UserStore for PgStore {
    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.doc_by_id("users", id.as_uuid()).await
    }
    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        self.user_where("SELECT doc FROM users WHERE email = $1", email.as_str()).await
    }
    async fn user_by_company_id(&self, id: &CompanyId) -> StoreResult<Option<User>> {
        self.user_where("SELECT doc FROM users WHERE company_id = $1", id.as_str()).await
    }
    async fn list_users(&self, q: &UserQuery) -> StoreResult<Page<User>> {
        let mut b = sqlx::QueryBuilder::new("SELECT doc FROM users WHERE true");
        if let Some(r) = q.role {
            b.push(" AND role = ").push_bind(r.as_str()).push("::user_role");
        }
        if let Some(s) = q.status {
            b.push(" AND status = ").push_bind(s.as_str()).push("::user_status");
        }
        if let Some(d) = &q.department {
            b.push(" AND department = ").push_bind(d.as_str().to_owned());
        }
        if let Some(c) = q.cursor {
            b.push(" AND (created_at, id) < (")
                .push_bind(DateTime::<Utc>::from_timestamp_micros(c.key).unwrap_or_default())
                .push(", ")
                .push_bind(c.id)
                .push(")");
        }
        b.push(" ORDER BY created_at DESC, id DESC");
        // The text filter matches display names as core defines them: applied while streaming.
        let mut rows = b.build().persistent(false).fetch(&self.pool);
        let mut items = Vec::new();
        while let Some(row) = rows.next().await {
            let u: User = doc(&row.map_err(pg_error)?)?;
            if q.selects(&u) {
                items.push(u);
                if items.len() > q.limit.get() {
                    break;
                }
            }
        }
        Ok(Page::from_overfetch(items, q.limit, UserQuery::key))
    }
    async fn user_count(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&self.pool).await.map_err(pg_error)?;
        Ok(n as u64)
    }
    async fn rejections(&self, cursor: Option<Cursor>, limit: PageSize) -> StoreResult<Page<RejectionRecord>> {
        self.newest_first("rejections", "rejected_at", &[], cursor, limit, |r: &RejectionRecord| Cursor {
            key: r.rejected_at.timestamp_micros(),
            id: r.id.as_uuid(),
        })
        .await
    }
    async fn rejection_count(&self) -> StoreResult<u64> {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM rejections").fetch_one(&self.pool).await.map_err(pg_error)?;
        Ok(n as u64)
    }
}

/// One statement for a session, its user and a ticket: an authenticated read of one ticket is
/// then one round trip instead of two (measured in BENCHMARKS.md).
#[async_trait]
impl CombinedReads for PgStore {
    async fn session_and_ticket(
        &self,
        id: SessionId,
        number: &TicketNumber,
    ) -> StoreResult<Option<(Session, User, Option<Ticket>)>> {
        let mut c = self.read().await?;
        let row = sqlx::query(
            "SELECT s.doc AS sdoc, u.doc AS udoc, (SELECT t.doc FROM tickets t WHERE t.seq = $2) AS tdoc \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1",
        )
        .bind(id.as_uuid())
        .bind(number.seq() as i64)
        .fetch_optional(c.conn())
        .await
        .map_err(pg_error)?;
        c.finish();
        let Some(r) = row else { return Ok(None) };
        let s: Json<Session> = r.try_get("sdoc").map_err(pg_error)?;
        let u: Json<User> = r.try_get("udoc").map_err(pg_error)?;
        let t: Option<Json<Ticket>> = r.try_get("tdoc").map_err(pg_error)?;
        // As `ticket_by_number`: the number's prefix must match too.
        Ok(Some((s.0, u.0, t.map(|t| t.0).filter(|t| &t.number == number))))
    }
}

#[async_trait]
impl SessionStore for PgStore {
    async fn create_session(&self, s: &Session) -> StoreResult<()> {
        let s = s.clone();
        self.detached(move |store| async move {
            let s = &s;
            let mut tx = store.pool.begin().await.map_err(pg_error)?;
            sqlx::query("INSERT INTO sessions (id, user_id, revoked_at, idle_expires_at, absolute_expires_at, doc) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(s.id.as_uuid())
                .bind(s.user.as_uuid())
                .bind(s.revoked_at)
                .bind(s.idle_expires_at)
                .bind(s.absolute_expires_at)
                .bind(Json(s))
                .execute(&mut *tx)
                .await
                .map_err(pg_error)?;
            sqlx::query("INSERT INTO refresh_tokens (hash, session_id, used) VALUES ($1, $2, false)")
                .bind(s.refresh_hash.0.as_slice())
                .bind(s.id.as_uuid())
                .execute(&mut *tx)
                .await
                .map_err(pg_error)?;
            tx.commit().await.map_err(pg_error)
        })
        .await
    }

    async fn session(&self, id: SessionId) -> StoreResult<Option<(Session, User)>> {
        let mut c = self.read().await?;
        let row = sqlx::query(
            "SELECT s.doc AS sdoc, u.doc AS udoc FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1",
        )
        .bind(id.as_uuid())
        .fetch_optional(c.conn())
        .await
        .map_err(pg_error)?;
        c.finish();
        match row {
            Some(r) => {
                let s: Json<Session> = r.try_get("sdoc").map_err(pg_error)?;
                let u: Json<User> = r.try_get("udoc").map_err(pg_error)?;
                Ok(Some((s.0, u.0)))
            }
            None => Ok(None),
        }
    }

    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: DateTime<Utc>,
        idle: DateTime<Utc>,
    ) -> StoreResult<RefreshOutcome> {
        let presented = *presented;
        let next = *next;
        self.detached(move |store| async move {
            let presented = &presented;
            let next = &next;
            let mut tx = store.pool.begin().await.map_err(pg_error)?;
            let run = async {
                let Some(row) = sqlx::query("SELECT session_id, used FROM refresh_tokens WHERE hash = $1 FOR UPDATE")
                    .bind(presented.0.as_slice())
                    .fetch_optional(&mut *tx)
                    .await?
                else {
                    return Ok::<_, TxError>(RefreshOutcome::Unknown);
                };
                let sid: uuid::Uuid = row.try_get(0)?;
                let used: bool = row.try_get(1)?;
                let Some(srow) = sqlx::query("SELECT doc FROM sessions WHERE id = $1 FOR UPDATE")
                    .bind(sid)
                    .fetch_optional(&mut *tx)
                    .await?
                else {
                    return Ok(RefreshOutcome::Unknown);
                };
                let decision = decide_refresh(doc(&srow)?, used, *next, now, idle);
                let write = match &decision {
                    RefreshDecision::Rotate(s) | RefreshDecision::Revoke { revoked: Some(s), .. } => Some(s),
                    RefreshDecision::Revoke { revoked: None, .. } | RefreshDecision::Ended => None,
                };
                if let Some(s) = write {
                    sqlx::query("UPDATE sessions SET revoked_at = $2, idle_expires_at = $3, doc = $4 WHERE id = $1")
                        .bind(sid)
                        .bind(s.revoked_at)
                        .bind(s.idle_expires_at)
                        .bind(Json(s))
                        .execute(&mut *tx)
                        .await?;
                }
                if let RefreshDecision::Rotate(_) = decision {
                    sqlx::query("UPDATE refresh_tokens SET used = true WHERE hash = $1")
                        .bind(presented.0.as_slice())
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("INSERT INTO refresh_tokens (hash, session_id, used) VALUES ($1, $2, false)")
                        .bind(next.0.as_slice())
                        .bind(sid)
                        .execute(&mut *tx)
                        .await?;
                }
                Ok(decision.outcome())
            }
            .await;
            match run {
                Ok(out) => {
                    tx.commit().await.map_err(pg_error)?;
                    Ok(out)
                }
                Err(e) => Err(e.into_store()),
            }
        })
        .await
    }

    async fn user_sessions(&self, user: UserId) -> StoreResult<Vec<Session>> {
        let rows = sqlx::query(
            "SELECT doc FROM sessions WHERE user_id = $1 AND revoked_at IS NULL ORDER BY (doc->>'created_at')::timestamptz, id",
        )
        .bind(user.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        rows.into_iter().map(|r| r.try_get::<Json<Session>, _>("doc").map(|j| j.0).map_err(pg_error)).collect()
    }

    async fn revoke_session(&self, id: SessionId, now: DateTime<Utc>) -> StoreResult<()> {
        self.detached(move |store| async move {
            sqlx::query("UPDATE sessions SET revoked_at = $2, doc = jsonb_set(doc, '{revoked_at}', to_jsonb($2::timestamptz)) WHERE id = $1 AND revoked_at IS NULL")
                .bind(id.as_uuid())
                .bind(now)
                .execute(&store.pool)
                .await
                .map_err(pg_error)?;
            Ok(())
        })
        .await
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        except: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.detached(move |store| async move {
            let r = sqlx::query(
                "UPDATE sessions SET revoked_at = $2, doc = jsonb_set(doc, '{revoked_at}', to_jsonb($2::timestamptz)) WHERE user_id = $1 AND revoked_at IS NULL AND ($3::uuid IS NULL OR id <> $3)",
            )
            .bind(user.as_uuid())
            .bind(now)
            .bind(except.map(|s| s.as_uuid()))
            .execute(&store.pool)
            .await
            .map_err(pg_error)?;
            Ok(r.rows_affected())
        })
        .await
    }
}

#[async_trait]
impl TokenStore for PgStore {
    async fn one_time_token(&self, hash: &TokenHash) -> StoreResult<Option<OneTimeToken>> {
        let row = sqlx::query("SELECT doc FROM one_time_tokens WHERE hash = $1")
            .bind(hash.0.as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(pg_error)?;
        row.as_ref().map(doc).transpose()
    }
}

#[async_trait]
impl ApiKeyStore for PgStore {
    async fn create_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        let key = key.clone();
        self.detached(move |store| async move {
            let key = &key;
            sqlx::query("INSERT INTO api_keys (id, created_at, doc) VALUES ($1, $2, $3)")
                .bind(key.id.as_uuid())
                .bind(key.created_at)
                .bind(Json(key))
                .execute(&store.pool)
                .await
                .map_err(pg_error)?;
            Ok(())
        })
        .await
    }
    async fn api_key(&self, id: ApiKeyId) -> StoreResult<Option<ApiKey>> {
        self.doc_by_id("api_keys", id.as_uuid()).await
    }
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        let rows = sqlx::query("SELECT doc FROM api_keys ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
            .map_err(pg_error)?;
        rows.iter().map(doc).collect()
    }
    async fn revoke_api_key(&self, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<()> {
        self.detached(move |store| async move {
            let r = sqlx::query(
                "UPDATE api_keys SET doc = CASE WHEN doc->'revoked_at' IS NULL OR doc->'revoked_at' = 'null'::jsonb THEN jsonb_set(doc, '{revoked_at}', to_jsonb($2::timestamptz)) ELSE doc END WHERE id = $1",
            )
            .bind(id.as_uuid())
            .bind(now)
            .execute(&store.pool)
            .await
            .map_err(pg_error)?;
            if r.rows_affected() == 0 {
                return Err(StoreError::NotFound { what: "api key" });
            }
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl AuditStore for PgStore {
    async fn list_audit(&self, q: &AuditQuery) -> StoreResult<Page<AuditEntry>> {
        let kind = q.kind.and_then(|k| serde_json::to_value(k).ok()).and_then(|v| v.as_str().map(str::to_owned));
        let mut equal = Vec::new();
        if let Some(k) = kind.as_deref() {
            equal.push(("kind", k));
        }
        if let Some(t) = q.target.as_deref() {
            equal.push(("doc->>'target'", t));
        }
        self.newest_first("audit_log", "at", &equal, q.cursor, q.limit, |e: &AuditEntry| Cursor {
            key: e.at.timestamp_micros(),
            id: e.id.as_uuid(),
        })
        .await
    }
}

#[async_trait]
impl IdempotencyStore for PgStore {
    async fn begin_idempotent(
        &self,
        key: &IdempotencyKey,
        hash: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> StoreResult<IdempotencyBegin> {
        let key = key.clone();
        let hash = hash.to_owned();
        self.detached(move |store| async move {
            let key = &key;
            let hash = hash.as_str();
            let mut tx = store.pool.begin().await.map_err(pg_error)?;
            let inserted = sqlx::query("INSERT INTO idempotency (principal, key, request_hash, started_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                .bind(&key.principal)
                .bind(&key.key)
                .bind(hash)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(pg_error)?;
            let out = if inserted.rows_affected() == 1 {
                IdempotencyBegin::Started
            } else {
                let row = sqlx::query("SELECT request_hash, response, started_at, expires_at FROM idempotency WHERE principal = $1 AND key = $2 FOR UPDATE")
                    .bind(&key.principal)
                    .bind(&key.key)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(pg_error)?;
                let stored: String = row.try_get(0).map_err(pg_error)?;
                let response: Option<Json<serde_json::Value>> = row.try_get(1).map_err(pg_error)?;
                let started_at: DateTime<Utc> = row.try_get(2).map_err(pg_error)?;
                let expires_at: Option<DateTime<Utc>> = row.try_get(3).map_err(pg_error)?;
                let state =
                    IdempotencyState { request_hash: stored, response: response.map(|r| r.0), started_at, expires_at };
                if let Some(answer) = state.answer(key, hash, now, stale_before) {
                    answer
                } else {
                    sqlx::query("UPDATE idempotency SET request_hash = $3, response = NULL, started_at = $4, expires_at = NULL WHERE principal = $1 AND key = $2")
                        .bind(&key.principal)
                        .bind(&key.key)
                        .bind(hash)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(pg_error)?;
                    IdempotencyBegin::Started
                }
            };
            tx.commit().await.map_err(pg_error)?;
            Ok(out)
        })
        .await
    }

    async fn release_idempotent(&self, key: &IdempotencyKey) -> StoreResult<()> {
        let key = key.clone();
        self.detached(move |store| async move {
            let key = &key;
            sqlx::query("DELETE FROM idempotency WHERE principal = $1 AND key = $2 AND response IS NULL")
                .bind(&key.principal)
                .bind(&key.key)
                .execute(&store.pool)
                .await
                .map_err(pg_error)?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl ThrottleStore for PgStore {
    async fn login_failures(&self, key: &str) -> StoreResult<FailureState> {
        let row = sqlx::query("SELECT count, last_at FROM login_failures WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(pg_error)?;
        match row {
            Some(r) => Ok(FailureState {
                count: r.try_get::<i32, _>(0).map_err(pg_error)? as u32,
                last_at: r.try_get(1).map_err(pg_error)?,
            }),
            None => Ok(FailureState::default()),
        }
    }
    async fn record_login_failure(&self, key: &str, now: DateTime<Utc>) -> StoreResult<FailureState> {
        let key = key.to_owned();
        self.detached(move |store| async move {
            let key = key.as_str();
            let r = sqlx::query("INSERT INTO login_failures (key, count, last_at) VALUES ($1, 1, $2) ON CONFLICT (key) DO UPDATE SET count = login_failures.count + 1, last_at = $2 RETURNING count, last_at")
                .bind(key)
                .bind(now)
                .fetch_one(&store.pool)
                .await
                .map_err(pg_error)?;
            Ok(FailureState {
                count: r.try_get::<i32, _>(0).map_err(pg_error)? as u32,
                last_at: r.try_get(1).map_err(pg_error)?,
            })
        })
        .await
    }
    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.detached(move |store| async move {
            let key = key.as_str();
            sqlx::query("DELETE FROM login_failures WHERE key = $1")
                .bind(key)
                .execute(&store.pool)
                .await
                .map_err(pg_error)?;
            Ok(())
        })
        .await
    }
    async fn hit_window(&self, key: &str, window_start: DateTime<Utc>) -> StoreResult<u64> {
        let key = key.to_owned();
        self.detached(move |store| async move {
            let key = key.as_str();
            let n: i64 = sqlx::query_scalar("INSERT INTO rate_windows (key, window_start, count) VALUES ($1, $2, 1) ON CONFLICT (key, window_start) DO UPDATE SET count = rate_windows.count + 1 RETURNING count")
                .bind(key)
                .bind(window_start)
                .fetch_one(&store.pool)
                .await
                .map_err(pg_error)?;
            Ok(n as u64)
        })
        .await
    }
}
