//! The one atomic write: a [`UnitOfWork`] in one transaction, retried whole on serialization
//! failures and deadlocks.

use std::collections::BTreeMap;

use async_trait::async_trait;
use helpdesk_core::model::{OutboxRecord, Ticket, User};
use helpdesk_core::ports::{StoreError, StoreResult, UnitOfWork, UnitOfWorkStore, ticket_counter_keys};
use sqlx::{Postgres, Row, Transaction};

use crate::{Json, PgStore, pg_error, retryable};

pub(crate) enum TxError {
    Store(StoreError),
    Sql(sqlx::Error),
}

impl From<sqlx::Error> for TxError {
    fn from(e: sqlx::Error) -> Self {
        TxError::Sql(e)
    }
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        TxError::Store(e)
    }
}

impl TxError {
    pub(crate) fn into_store(self) -> StoreError {
        match self {
            TxError::Store(e) => e,
            TxError::Sql(e) => pg_error(e),
        }
    }
}

async fn check_version(
    tx: &mut Transaction<'_, Postgres>,
    table: &str,
    id: uuid::Uuid,
    expected: u64,
    what: &'static str,
) -> Result<(), TxError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT version FROM {table} WHERE id = $1 FOR UPDATE")))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        None => Err(StoreError::NotFound { what }.into()),
        Some(r) => {
            let found: i64 = r.try_get(0)?;
            if found as u64 != expected {
                Err(StoreError::VersionMismatch { expected, found: found as u64 }.into())
            } else {
                Ok(())
            }
        }
    }
}

async fn write_user(tx: &mut Transaction<'_, Postgres>, u: &User, expected: Option<u64>) -> Result<(), TxError> {
    const INSERT: &str = "INSERT INTO users (id, email, company_id, department, role, status, created_at, version, doc) \
                          VALUES ($1, $2, $3, $4, $5::user_role, $6::user_status, $7, $8, $9)";
    const UPDATE: &str = "UPDATE users SET email = $2, company_id = $3, department = $4, role = $5::user_role, \
                          status = $6::user_status, created_at = $7, version = $8, doc = $9 WHERE id = $1";
    let sql = match expected {
        None => INSERT,
        Some(v) => {
            check_version(tx, "users", u.id.as_uuid(), v, "user").await?;
            UPDATE
        }
    };
    sqlx::query(sql)
        .bind(u.id.as_uuid())
        .bind(u.email.as_str())
        .bind(u.company_id.as_str())
        .bind(u.department.as_ref().map(|d| d.as_str()))
        .bind(u.role.as_str())
        .bind(u.status.as_str())
        .bind(u.created_at)
        .bind(u.version as i64)
        .bind(Json(u))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The counters a unit of work moves, added up over its tickets and written once at its end:
/// the summary's (`ticket_counts`) and the facets' per status (`ticket_facet_counts`).
#[derive(Default)]
struct Deltas {
    summary: BTreeMap<String, i64>,
    /// By (facet, status, the ticket's shard: [`crate::facets::ticket_shard`]).
    facets: BTreeMap<(String, &'static str, i16), i64>,
    /// The shard of the first ticket counted: the summary's deltas go there too, so that a
    /// writer holds rows of one shard in both tables and waits on another only when their
    /// shards meet (two shards per transaction doubled the waits: 0.85× against 0.95× of the
    /// creates without facets, BENCHMARKS.md 2026-12-03 18:24).
    shard: Option<i16>,
}

impl Deltas {
    /// Counts `t` (whose terms are `terms`) once more (`by` 1) or once less (`by` -1).
    fn add(&mut self, t: &Ticket, terms: &[String], by: i64) {
        for k in ticket_counter_keys(t) {
            *self.summary.entry(k).or_default() += by;
        }
        let shard = crate::facets::ticket_shard(t);
        self.shard.get_or_insert(shard);
        for f in crate::facets::ticket_facets(t, terms) {
            *self.facets.entry((f, t.status.as_str(), shard)).or_default() += by;
        }
    }
}

async fn write_ticket(
    tx: &mut Transaction<'_, Postgres>,
    t: &Ticket,
    expected: Option<u64>,
    deltas: &mut Deltas,
) -> Result<(), TxError> {
    let terms = crate::terms::ticket_terms(t);
    let binds = |q: sqlx::query::Query<'static, Postgres, sqlx::postgres::PgArguments>| {
        q.bind(t.id.as_uuid())
            .bind(t.number.seq() as i64)
            .bind(t.requester.as_uuid())
            .bind(t.assignee.map(|a| a.as_uuid()))
            .bind(t.status.as_str().to_owned())
            .bind(t.priority.map(|p| p.as_str().to_owned()))
            .bind(t.department.as_ref().map(|d| d.as_str().to_owned()))
            .bind(t.category.as_str().to_owned())
            .bind(t.subject.as_str().to_owned())
            .bind(t.description.as_str().to_owned())
            .bind(t.created_at)
            .bind(t.updated_at)
            .bind(t.resolved_at)
            .bind(t.response_secs)
            .bind(t.resolution_secs)
            .bind(t.version as i64)
            .bind(Json(t.clone()))
            .bind(t.sla.due_at)
            .bind(t.sla.alerts.clone())
            .bind(t.tags.iter().map(|g| g.as_str().to_owned()).collect::<Vec<_>>())
            .bind(t.followers.iter().map(|f| f.as_uuid()).collect::<Vec<_>>())
            .bind(Json(t.fields.clone()))
    };
    match expected {
        None => {
            binds(sqlx::query(
                "INSERT INTO tickets (id, seq, requester, assignee, status, priority, department, category, subject, description, created_at, updated_at, resolved_at, response_secs, resolution_secs, version, doc, sla_due_at, sla_alerts, tags, followers, fields) \
                 VALUES ($1, $2, $3, $4, $5::ticket_status, $6::ticket_priority, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)",
            ))
            .execute(&mut **tx)
            .await
            ?;
            write_terms(tx, t, &terms, None).await?;
        }
        Some(v) => {
            let row = sqlx::query("SELECT version, doc FROM tickets WHERE id = $1 FOR UPDATE")
                .bind(t.id.as_uuid())
                .fetch_optional(&mut **tx)
                .await?;
            let Some(row) = row else { return Err(StoreError::NotFound { what: "ticket" }.into()) };
            let found: i64 = row.try_get(0)?;
            if found as u64 != v {
                return Err(StoreError::VersionMismatch { expected: v, found: found as u64 }.into());
            }
            let old: Json<Ticket> = row.try_get(1)?;
            if old.0.number != t.number {
                return Err(StoreError::Conflict { what: "ticket number is immutable" }.into());
            }
            let old_terms = crate::terms::ticket_terms(&old.0);
            deltas.add(&old.0, &old_terms, -1);
            binds(sqlx::query(
                "UPDATE tickets SET seq = $2, requester = $3, assignee = $4, status = $5::ticket_status, priority = $6::ticket_priority, department = $7, category = $8, \
                 subject = $9, description = $10, created_at = $11, updated_at = $12, resolved_at = $13, response_secs = $14, resolution_secs = $15, version = $16, doc = $17, \
                 sla_due_at = $18, sla_alerts = $19, tags = $20, followers = $21, fields = $22 WHERE id = $1",
            ))
            .execute(&mut **tx)
            .await
            ?;
            write_terms(tx, t, &terms, Some((&old.0, &old_terms))).await?;
        }
    }
    deltas.add(t, &terms, 1);
    Ok(())
}

/// Replaces the ticket's rows of `ticket_terms` and of `ticket_term_keys` where they changed
/// (`terms`: its terms, [`crate::terms::ticket_terms`]; `old`: the ticket as stored before
/// and its terms, `None` for a new ticket).
async fn write_terms(
    tx: &mut Transaction<'_, Postgres>,
    t: &Ticket,
    terms: &[String],
    old_terms: Option<(&Ticket, &Vec<String>)>,
) -> Result<(), TxError> {
    let same_terms = old_terms.is_some_and(|(o, ot)| o.created_at == t.created_at && ot.as_slice() == terms);
    if !same_terms {
        if old_terms.is_some_and(|(_, ot)| !ot.is_empty()) {
            sqlx::query("DELETE FROM ticket_terms WHERE term_ticket = $1")
                .bind(t.id.as_uuid())
                .execute(&mut **tx)
                .await?;
        }
        if !terms.is_empty() {
            sqlx::query(
                "INSERT INTO ticket_terms (term, term_at, term_ticket) SELECT unnest($1::text[]), $2, $3 ON CONFLICT DO NOTHING",
            )
            .bind(terms)
            .bind(t.created_at)
            .bind(t.id.as_uuid())
            .execute(&mut **tx)
            .await?;
        }
    }
    let rows = crate::terms::ticket_term_keys(t, terms);
    let old_rows = old_terms.map(|(o, ot)| crate::terms::ticket_term_keys(o, ot));
    write_term_keys(tx, t, rows, old_rows).await
}

/// Replaces the ticket's rows of `ticket_term_keys` when they changed (a term, or a value of a
/// field that sorts); nothing for a ticket without such a value.
async fn write_term_keys(
    tx: &mut Transaction<'_, Postgres>,
    t: &Ticket,
    rows: Vec<(String, String, i64)>,
    old_rows: Option<Vec<(String, String, i64)>>,
) -> Result<(), TxError> {
    if old_rows.as_ref() == Some(&rows) {
        return Ok(());
    }
    if old_rows.as_ref().is_some_and(|o| !o.is_empty()) {
        sqlx::query("DELETE FROM ticket_term_keys WHERE ticket = $1").bind(t.id.as_uuid()).execute(&mut **tx).await?;
    }
    if !rows.is_empty() {
        let (mut terms, mut fields, mut keys) = (Vec::new(), Vec::new(), Vec::new());
        for (term, field, key) in rows {
            terms.push(term);
            fields.push(field);
            keys.push(key);
        }
        sqlx::query(
            "INSERT INTO ticket_term_keys (term, field, sort_key, ticket) \
             SELECT term, field, sort_key, $4 FROM unnest($1::text[], $2::text[], $3::bigint[]) AS r (term, field, sort_key)",
        )
        .bind(terms)
        .bind(fields)
        .bind(keys)
        .bind(t.id.as_uuid())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn apply(tx: &mut Transaction<'_, Postgres>, uow: &UnitOfWork) -> Result<(), TxError> {
    let mut deltas = Deltas::default();
    for (id, expected) in &uow.deleted_users {
        check_version(tx, "users", id.as_uuid(), *expected, "user").await?;
        sqlx::query("DELETE FROM users WHERE id = $1").bind(id.as_uuid()).execute(&mut **tx).await?;
    }
    for w in &uow.users {
        write_user(tx, &w.value, w.expected).await?;
    }
    for w in &uow.tickets {
        write_ticket(tx, &w.value, w.expected, &mut deltas).await?;
    }
    for e in &uow.events {
        sqlx::query("INSERT INTO history_events (id, ticket_id, version, internal, doc) VALUES ($1, $2, $3, $4, $5)")
            .bind(e.id.as_uuid())
            .bind(e.ticket.as_uuid())
            .bind(e.version as i64)
            .bind(e.internal)
            .bind(Json(e))
            .execute(&mut **tx)
            .await?;
    }
    for c in &uow.comments {
        sqlx::query("INSERT INTO comments (id, ticket_id, internal, created_at, doc) VALUES ($1, $2, $3, $4, $5)")
            .bind(c.id.as_uuid())
            .bind(c.ticket.as_uuid())
            .bind(c.internal)
            .bind(c.created_at)
            .bind(Json(c))
            .execute(&mut **tx)
            .await?;
    }
    for a in &uow.attachments {
        sqlx::query("INSERT INTO attachments (id, ticket_id, comment_id, internal, storage_key, size, created_at, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(a.id.as_uuid())
            .bind(a.ticket.as_uuid())
            .bind(a.comment.map(|c| c.as_uuid()))
            .bind(a.internal)
            .bind(a.key.as_str())
            .bind(a.size as i64)
            .bind(a.created_at)
            .bind(Json(a))
            .execute(&mut **tx)
            .await
            ?;
    }
    for m in &uow.outbox {
        let r = OutboxRecord::new(m.clone());
        sqlx::query("INSERT INTO outbox (id, created_at, state, attempts, next_attempt_at, payload) VALUES ($1, $2, 'pending', 0, $3, $4)")
            .bind(m.id.as_uuid())
            .bind(m.created_at)
            .bind(r.next_attempt_at)
            .bind(Json(&m.payload))
            .execute(&mut **tx)
            .await?;
    }
    for a in &uow.audit {
        let kind = serde_json::to_value(a.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        sqlx::query("INSERT INTO audit_log (id, at, kind, doc) VALUES ($1, $2, $3, $4)")
            .bind(a.id.as_uuid())
            .bind(a.at)
            .bind(kind)
            .bind(Json(a))
            .execute(&mut **tx)
            .await?;
    }
    crate::notices::insert_notices(tx, &uow.notices).await?;
    crate::inbound::write_inbound(tx, &uow.inbound).await?;
    for r in &uow.rejections {
        sqlx::query("INSERT INTO rejections (id, rejected_at, doc) VALUES ($1, $2, $3)")
            .bind(r.id.as_uuid())
            .bind(r.rejected_at)
            .bind(Json(r))
            .execute(&mut **tx)
            .await?;
    }
    for t in &uow.new_tokens {
        let purpose = match t.purpose {
            helpdesk_core::model::TokenPurpose::PasswordReset => "password_reset",
            helpdesk_core::model::TokenPurpose::Invitation => "invitation",
        };
        sqlx::query("INSERT INTO one_time_tokens (hash, purpose, user_id, expires_at, used_at, doc) VALUES ($1, $2::token_purpose, $3, $4, $5, $6)")
            .bind(t.hash.0.as_slice())
            .bind(purpose)
            .bind(t.user.as_uuid())
            .bind(t.expires_at)
            .bind(t.used_at)
            .bind(Json(t))
            .execute(&mut **tx)
            .await
            ?;
    }
    if let Some((hash, at)) = &uow.consume_token {
        let done = sqlx::query("UPDATE one_time_tokens SET used_at = $2, doc = jsonb_set(doc, '{used_at}', to_jsonb($2::timestamptz)) WHERE hash = $1 AND used_at IS NULL")
            .bind(hash.0.as_slice())
            .bind(at)
            .execute(&mut **tx)
            .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict { what: "token" }.into());
        }
    }
    for (r, at) in &uow.revoke_sessions {
        sqlx::query(
            "UPDATE sessions SET revoked_at = $2, doc = jsonb_set(doc, '{revoked_at}', to_jsonb($2::timestamptz)) \
             WHERE user_id = $1 AND revoked_at IS NULL AND ($3::uuid IS NULL OR id <> $3)",
        )
        .bind(r.user.as_uuid())
        .bind(at)
        .bind(r.except.map(|s| s.as_uuid()))
        .execute(&mut **tx)
        .await?;
    }
    if let Some(rec) = &uow.idempotency {
        sqlx::query(
            "INSERT INTO idempotency (principal, key, request_hash, response, started_at, expires_at) VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (principal, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, response = EXCLUDED.response, expires_at = EXCLUDED.expires_at",
        )
        .bind(&rec.key.principal)
        .bind(&rec.key.key)
        .bind(&rec.request_hash)
        .bind(Json(&rec.response))
        .bind(rec.expires_at)
        .execute(&mut **tx)
        .await?;
    }
    write_counters(tx, deltas).await
}

/// Adds the unit of work's counter deltas, leaving out those that cancel, in sorted key order
/// (the summary's before the facets') so that writers never deadlock. A ticket's facets go to
/// the ticket's own shard, so that a facet row whose tickets all left it reaches zero, and is
/// removed (a text value held by one ticket leaves no row behind when the ticket moves on); the
/// summary's to the first ticket's shard (any shard adds up), or a random one without tickets.
async fn write_counters(tx: &mut Transaction<'_, Postgres>, deltas: Deltas) -> Result<(), TxError> {
    let shard: i16 = deltas.shard.unwrap_or_else(|| (uuid::Uuid::new_v4().as_u128() % 16) as i16);
    let summary: Vec<(String, i64)> = deltas.summary.into_iter().filter(|(_, d)| *d != 0).collect();
    if !summary.is_empty() {
        let (keys, ns): (Vec<String>, Vec<i64>) = summary.into_iter().unzip();
        sqlx::query(
            "INSERT INTO ticket_counts (key, shard, n) SELECT k, $3, d FROM unnest($1::text[], $2::bigint[]) AS x(k, d) \
             ON CONFLICT (key, shard) DO UPDATE SET n = ticket_counts.n + EXCLUDED.n",
        )
        .bind(&keys)
        .bind(&ns)
        .bind(shard)
        .execute(&mut **tx)
        .await?;
    }
    let (mut facets, mut statuses, mut shards, mut ns) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((facet, status, shard), n) in deltas.facets.into_iter().filter(|(_, d)| *d != 0) {
        facets.push(facet);
        statuses.push(status);
        shards.push(shard);
        ns.push(n);
    }
    if facets.is_empty() {
        return Ok(());
    }
    let rows = sqlx::query(
        "INSERT INTO ticket_facet_counts (facet, status, shard, n) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::smallint[], $4::bigint[]) \
         ON CONFLICT (facet, status, shard) DO UPDATE SET n = ticket_facet_counts.n + EXCLUDED.n \
         RETURNING facet, status, shard, n",
    )
    .bind(&facets)
    .bind(&statuses)
    .bind(&shards)
    .bind(&ns)
    .fetch_all(&mut **tx)
    .await?;
    let (mut facets, mut statuses, mut shards) = (Vec::new(), Vec::new(), Vec::new());
    for r in rows {
        if r.try_get::<i64, _>(3)? == 0 {
            facets.push(r.try_get::<String, _>(0)?);
            statuses.push(r.try_get::<String, _>(1)?);
            shards.push(r.try_get::<i16, _>(2)?);
        }
    }
    if !facets.is_empty() {
        sqlx::query(
            "DELETE FROM ticket_facet_counts WHERE n = 0 AND (facet, status, shard) IN \
             (SELECT * FROM unnest($1::text[], $2::text[], $3::smallint[]))",
        )
        .bind(&facets)
        .bind(&statuses)
        .bind(&shards)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl UnitOfWorkStore for PgStore {
    async fn commit(&self, uow: UnitOfWork) -> StoreResult<()> {
        if uow.is_empty() {
            return Ok(());
        }
        self.detached(move |store| async move { store.commit_now(&uow).await }).await
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(pg_error)?;
        Ok(())
    }
}

impl PgStore {
    /// The unit of work in one transaction, retried whole after a serialization failure or
    /// deadlock. Runs detached (see [`crate::cancel`]).
    async fn commit_now(&self, uow: &UnitOfWork) -> StoreResult<()> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut tx = self.pool.begin().await.map_err(pg_error)?;
            let result = match apply(&mut tx, uow).await {
                Ok(()) => tx.commit().await.map_err(TxError::Sql),
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => return Ok(()),
                Err(TxError::Sql(e)) if retryable(&e) && attempt < 5 => {
                    tracing::debug!(attempt, "retrying a unit of work after a serialization failure");
                    continue;
                }
                Err(e) => return Err(e.into_store()),
            }
        }
    }
}
