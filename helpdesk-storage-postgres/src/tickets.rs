//! Ticket reads: by id and number, the list query (one SQL statement per page, every filter
//! backed by an index), history, comments, attachments, and number allocation.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use helpdesk_core::domain::{AttachmentId, TicketId, TicketNumber, TicketStatus};
use helpdesk_core::model::{Attachment, Comment, HistoryEvent, Ticket};
use helpdesk_core::ports::{
    AssigneeFilter, Page, SortDirection, StoreResult, TicketQuery, TicketSortField, TicketStore,
};
use sqlx::{QueryBuilder, Row};

use crate::{Json, PgStore, pg_error};

/// Escapes `%`, `_` and `\` for a LIKE pattern.
pub(crate) fn like_pattern(needle: &str) -> String {
    let mut s = String::with_capacity(needle.len() + 2);
    s.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('%');
    s
}

fn docs<T: serde::de::DeserializeOwned>(rows: Vec<sqlx::postgres::PgRow>) -> StoreResult<Vec<T>> {
    rows.into_iter().map(|r| r.try_get::<Json<T>, _>("doc").map(|j| j.0).map_err(pg_error)).collect()
}

/// Builds the list statement for `q`.
pub(crate) fn list_sql(q: &TicketQuery) -> QueryBuilder<'static, sqlx::Postgres> {
    list_sql_with("SELECT doc FROM tickets WHERE true", q)
}

/// The list statement for `q` behind `EXPLAIN`, to show which index serves it.
pub fn explain_list_sql(q: &TicketQuery) -> QueryBuilder<'static, sqlx::Postgres> {
    list_sql_with("EXPLAIN SELECT doc FROM tickets WHERE true", q)
}

/// The per-status count statement for `q`'s filters (its status filter ignored).
fn counts_sql(q: &TicketQuery) -> QueryBuilder<'static, sqlx::Postgres> {
    let mut b = QueryBuilder::new("SELECT status::text AS status, count(*) AS n FROM tickets WHERE true");
    push_filters(&mut b, &q.for_counting());
    b.push(" GROUP BY status");
    b
}

fn list_sql_with(head: &str, q: &TicketQuery) -> QueryBuilder<'static, sqlx::Postgres> {
    let mut b = QueryBuilder::new(head);
    push_filters(&mut b, q);
    push_order(&mut b, q);
    b
}

/// `AND …` for every filter of `q`.
fn push_filters(b: &mut QueryBuilder<'static, sqlx::Postgres>, q: &TicketQuery) {
    if !q.statuses.is_empty() {
        b.push(" AND status = ANY(")
            .push_bind(q.statuses.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>())
            .push("::ticket_status[])");
    }
    if !q.priorities.is_empty() {
        b.push(" AND priority = ANY(")
            .push_bind(q.priorities.iter().map(|p| p.as_str().to_owned()).collect::<Vec<_>>())
            .push("::ticket_priority[])");
    }
    if !q.departments.is_empty() {
        b.push(" AND department = ANY(")
            .push_bind(q.departments.iter().map(|d| d.as_str().to_owned()).collect::<Vec<_>>())
            .push(")");
    }
    if !q.categories.is_empty() {
        b.push(" AND category = ANY(")
            .push_bind(q.categories.iter().map(|c| c.as_str().to_owned()).collect::<Vec<_>>())
            .push(")");
    }
    match q.assignee {
        Some(AssigneeFilter::Nobody) => {
            b.push(" AND assignee IS NULL");
        }
        Some(AssigneeFilter::User(u)) => {
            b.push(" AND assignee = ").push_bind(u.as_uuid());
        }
        None => {}
    }
    if let Some(r) = q.requester {
        b.push(" AND requester = ").push_bind(r.as_uuid());
    }
    if let Some(f) = q.created_from {
        b.push(" AND created_at >= ").push_bind(f);
    }
    if let Some(t) = q.created_to {
        b.push(" AND created_at < ").push_bind(t);
    }
    if let Some(n) = q.text_needle() {
        // PostgreSQL text cannot hold U+0000, so no stored subject or description contains
        // it: a needle with one matches nothing, as on every store (binding it would fail).
        if n.contains('\0') {
            b.push(" AND FALSE");
            return;
        }
        let p = like_pattern(&n);
        b.push(" AND (subject ILIKE ").push_bind(p.clone()).push(" OR description ILIKE ").push_bind(p).push(")");
    }
}

/// The cursor condition, order and over-fetching limit of `q`.
fn push_order(b: &mut QueryBuilder<'static, sqlx::Postgres>, q: &TicketQuery) {
    let col = match q.sort.field {
        TicketSortField::Created => "created_at",
        TicketSortField::Updated => "updated_at",
        TicketSortField::Priority => "priority_rank",
        TicketSortField::Number => "seq",
    };
    let (op, dir) = match q.sort.direction {
        SortDirection::Asc => (">", "ASC"),
        SortDirection::Desc => ("<", "DESC"),
    };
    if let Some(c) = q.cursor {
        b.push(format!(" AND ({col}, id) {op} ("));
        match q.sort.field {
            TicketSortField::Created | TicketSortField::Updated => {
                b.push_bind(DateTime::<Utc>::from_timestamp_micros(c.key).unwrap_or_default());
            }
            TicketSortField::Priority => {
                b.push_bind(c.key as i16);
            }
            TicketSortField::Number => {
                b.push_bind(c.key);
            }
        }
        b.push(", ").push_bind(c.id).push(")");
    }
    b.push(format!(" ORDER BY {col} {dir}, id {dir} LIMIT ")).push_bind((q.limit.get() + 1) as i64);
}

#[async_trait]
impl TicketStore for PgStore {
    async fn ticket(&self, id: TicketId) -> StoreResult<Option<Ticket>> {
        self.doc_by_id("tickets", id.as_uuid()).await
    }

    async fn ticket_by_number(&self, number: &TicketNumber) -> StoreResult<Option<Ticket>> {
        let row = sqlx::query("SELECT doc FROM tickets WHERE seq = $1")
            .bind(number.seq() as i64)
            .fetch_optional(&self.pool)
            .await
            .map_err(pg_error)?;
        Ok(docs::<Ticket>(row.into_iter().collect())?.pop().filter(|t| &t.number == number))
    }

    async fn list_tickets(&self, q: &TicketQuery) -> StoreResult<Page<Ticket>> {
        let rows = list_sql(q).build().persistent(false).fetch_all(&self.pool).await.map_err(pg_error)?;
        Ok(Page::from_overfetch(docs(rows)?, q.limit, |t| q.sort.cursor(t)))
    }

    async fn ticket_counts(&self, q: &TicketQuery) -> StoreResult<Vec<(TicketStatus, u64)>> {
        let rows = counts_sql(q).build().persistent(false).fetch_all(&self.pool).await.map_err(pg_error)?;
        let mut counts = Vec::with_capacity(rows.len());
        for r in rows {
            let status: String = r.try_get("status").map_err(pg_error)?;
            let n: i64 = r.try_get("n").map_err(pg_error)?;
            let status = status
                .parse::<TicketStatus>()
                .map_err(|e| helpdesk_core::ports::StoreError::Backend { backend: "postgres", source: Box::new(e) })?;
            counts.push((status, n as u64));
        }
        counts.sort_by_key(|(s, _)| TicketStatus::ALL.iter().position(|x| x == s));
        Ok(counts)
    }

    async fn resolved_before(&self, cutoff: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Ticket>> {
        let rows = sqlx::query(
            "SELECT doc FROM tickets WHERE resolved_at < $1 AND status = 'resolved' ORDER BY resolved_at, id LIMIT $2",
        )
        .bind(cutoff)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        docs(rows)
    }

    async fn history(&self, ticket: TicketId) -> StoreResult<Vec<HistoryEvent>> {
        let rows = sqlx::query("SELECT doc FROM history_events WHERE ticket_id = $1 ORDER BY version, ord")
            .bind(ticket.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(pg_error)?;
        docs(rows)
    }

    async fn comments(&self, ticket: TicketId) -> StoreResult<Vec<Comment>> {
        let rows = sqlx::query("SELECT doc FROM comments WHERE ticket_id = $1 ORDER BY created_at, ord")
            .bind(ticket.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(pg_error)?;
        docs(rows)
    }

    async fn attachments(&self, ticket: TicketId) -> StoreResult<Vec<Attachment>> {
        let rows = sqlx::query("SELECT doc FROM attachments WHERE ticket_id = $1 ORDER BY created_at, id")
            .bind(ticket.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(pg_error)?;
        docs(rows)
    }

    async fn attachment(&self, id: AttachmentId) -> StoreResult<Option<Attachment>> {
        self.doc_by_id("attachments", id.as_uuid()).await
    }

    async fn allocate_ticket_number(&self) -> StoreResult<u64> {
        self.detached(move |store| async move {
            // A sequence: no commit of its own, no row lock shared by every create (see
            // migrations/0005_ticket_number_sequence.sql for why it never reuses a number).
            let v: i64 = sqlx::query_scalar("SELECT nextval('ticket_number_seq')")
                .fetch_one(&store.pool)
                .await
                .map_err(pg_error)?;
            Ok(v as u64)
        })
        .await
    }
}
