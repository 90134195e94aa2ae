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

use crate::facets::Counters;
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

pub(crate) fn docs<T: serde::de::DeserializeOwned>(rows: Vec<sqlx::postgres::PgRow>) -> StoreResult<Vec<T>> {
    rows.into_iter().map(|r| r.try_get::<Json<T>, _>("doc").map(|j| j.0).map_err(pg_error)).collect()
}

/// Builds the list statement for `q`.
pub(crate) fn list_sql(q: &TicketQuery) -> QueryBuilder<sqlx::Postgres> {
    list_sql_with("", q, true)
}

/// The list statement for `q` behind `EXPLAIN`, to show which index serves it.
pub fn explain_list_sql(q: &TicketQuery) -> QueryBuilder<sqlx::Postgres> {
    list_sql_with("EXPLAIN ", q, true)
}

/// The list statement for `q` as it was before `ticket_terms` and `ticket_term_keys` (tags and
/// custom fields through their GIN indexes only, a custom field's order computed from each
/// ticket's values): what the benchmark compares the terms path with, in the same run.
pub fn list_sql_without_terms(q: &TicketQuery) -> QueryBuilder<sqlx::Postgres> {
    list_sql_with("", q, false)
}

/// The per-status count statement for `q`'s filters (its status filter ignored), a pass over
/// the matching tickets: what the store sends when no counters serve the query, and what the
/// benchmark compares the counters with, in the same run.
pub fn counts_sql(q: &TicketQuery) -> QueryBuilder<sqlx::Postgres> {
    let mut b = QueryBuilder::new("SELECT status::text AS status, count(*) AS n FROM tickets WHERE true");
    push_filters(&mut b, &q.for_counting());
    b.push(" GROUP BY status");
    b
}

/// With several statuses, one ordered branch per status merged by the outer `ORDER BY`
/// (PostgreSQL reads each branch's first page from `(status, …, sort)` indexes and merges them):
/// a single scan filtered by `status = ANY(…)` has no index in the sort's order and walks the
/// creation index instead, through every newer ticket of another status — at 1,000,000
/// tickets, two statuses and a priority by creation took 16 ms that way, 0.5 ms this way.
fn list_sql_with(head: &'static str, q: &TicketQuery, use_terms: bool) -> QueryBuilder<sqlx::Postgres> {
    if let (true, TicketSortField::Field(k)) = (use_terms, q.sort.field) {
        return crate::field_sort::keyed_sql(head, q, &k);
    }
    if use_terms && q.sort.field == TicketSortField::Created {
        let (terms, rest) = crate::terms::required_terms(q);
        if !terms.is_empty() {
            return terms_list_sql(head, q, &terms, &rest);
        }
    }
    let mut b = QueryBuilder::new(head);
    if q.statuses.len() < 2 {
        b.push("SELECT doc FROM tickets WHERE true");
        push_filters(&mut b, q);
        push_order(&mut b, q);
        return b;
    }
    let (col, dir) = sort_of(q);
    b.push("SELECT doc FROM (");
    let col = col.to_string();
    for (i, status) in q.statuses.iter().enumerate() {
        if i > 0 {
            b.push(" UNION ALL ");
        }
        let one = TicketQuery { statuses: vec![*status], ..q.clone() };
        b.push(format!("(SELECT doc, {col} AS sort_key, id FROM tickets WHERE true"));
        push_filters(&mut b, &one);
        push_order(&mut b, &one);
        b.push(")");
    }
    b.push(format!(") AS per_status ORDER BY sort_key {dir}, id {dir} LIMIT ")).push_bind((q.limit.get() + 1) as i64);
    b
}

/// A page in creation order of the tickets carrying every one of `terms` (tags, custom field
/// values) and passing the other filters (`rest`): the first term's tickets walked newest
/// (or oldest) first from `ticket_terms`' primary key, each other term joined on the same
/// (time, ticket) (a merge of ordered lists, or a probe of the key per row), the tickets read
/// for the rest; the scan stops at the page.
fn terms_list_sql(
    head: &'static str,
    q: &TicketQuery,
    terms: &[String],
    rest: &TicketQuery,
) -> QueryBuilder<sqlx::Postgres> {
    let mut b = QueryBuilder::new(head);
    b.push("SELECT doc FROM ticket_terms a0");
    for (i, term) in terms.iter().enumerate().skip(1) {
        b.push(format!(" JOIN ticket_terms a{i} ON a{i}.term = "))
            .push_bind(term.clone())
            .push(format!(" AND a{i}.term_at = a0.term_at AND a{i}.term_ticket = a0.term_ticket"));
    }
    b.push(" JOIN tickets ON tickets.id = a0.term_ticket WHERE a0.term = ").push_bind(terms[0].clone());
    push_filters(&mut b, rest);
    let (op, dir) = match q.sort.direction {
        SortDirection::Asc => (">", "ASC"),
        SortDirection::Desc => ("<", "DESC"),
    };
    if let Some(c) = q.cursor {
        b.push(format!(" AND (a0.term_at, a0.term_ticket) {op} ("))
            .push_bind(DateTime::<Utc>::from_timestamp_micros(c.key).unwrap_or_default())
            .push(", ")
            .push_bind(c.id)
            .push(")");
    }
    b.push(format!(" ORDER BY a0.term_at {dir}, a0.term_ticket {dir} LIMIT ")).push_bind((q.limit.get() + 1) as i64);
    b
}

/// `AND …` for every filter of `q`.
pub(crate) fn push_filters(b: &mut QueryBuilder<sqlx::Postgres>, q: &TicketQuery) {
    push_one_of(b, "status", "ticket_status", q.statuses.iter().map(|s| s.as_str().to_owned()).collect());
    push_one_of(b, "priority", "ticket_priority", q.priorities.iter().map(|p| p.as_str().to_owned()).collect());
    push_one_of(b, "department", "text", q.departments.iter().map(|d| d.as_str().to_owned()).collect());
    push_one_of(b, "category", "text", q.categories.iter().map(|c| c.as_str().to_owned()).collect());
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
    if q.sort.field == TicketSortField::Due {
        b.push(" AND sla_due_at IS NOT NULL");
    }
    if let Some(d) = q.due_before {
        b.push(" AND sla_due_at < ").push_bind(d);
    }
    let tags = |tags: &[helpdesk_core::domain::Tag]| tags.iter().map(|g| g.as_str().to_owned()).collect::<Vec<_>>();
    if !q.tags_any.is_empty() {
        b.push(" AND tags && ").push_bind(tags(&q.tags_any)).push("::text[]");
    }
    if !q.tags_all.is_empty() {
        b.push(" AND tags @> ").push_bind(tags(&q.tags_all)).push("::text[]");
    }
    if let Some(f) = q.follower {
        b.push(" AND followers @> ARRAY[").push_bind(f.as_uuid()).push("]::uuid[]");
    }
    for f in &q.fields {
        b.push(" AND fields @> ").push_bind(Json(f.containment())).push("::jsonb");
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

/// `AND column = value` for one value (an equality the planner can use for an index's order),
/// `AND column = ANY(values)` for several, nothing for none.
fn push_one_of(b: &mut QueryBuilder<sqlx::Postgres>, column: &str, ty: &str, mut values: Vec<String>) {
    match values.len() {
        0 => {}
        1 => {
            b.push(format!(" AND {column} = ")).push_bind(values.pop().unwrap_or_default()).push(format!("::{ty}"));
        }
        _ => {
            b.push(format!(" AND {column} = ANY(")).push_bind(values).push(format!("::{ty}[])"));
        }
    }
}

/// The sort column (or expression) and direction of `q`.
fn sort_of(q: &TicketQuery) -> (std::borrow::Cow<'static, str>, &'static str) {
    let col = match q.sort.field {
        TicketSortField::Created => "created_at".into(),
        TicketSortField::Updated => "updated_at".into(),
        TicketSortField::Priority => "priority_rank".into(),
        TicketSortField::Number => "seq".into(),
        TicketSortField::Due => "sla_due_at".into(),
        TicketSortField::Field(k) => field_sort_key(k.as_str(), q.sort.unvalued_key()).into(),
    };
    let dir = match q.sort.direction {
        SortDirection::Asc => "ASC",
        SortDirection::Desc => "DESC",
    };
    (col, dir)
}

/// The integer a custom field sorts by, as [`FieldValue::sort_key`] computes it from the
/// same JSON: a number in ten-thousandths, a date (`YYYY-MM-DD`) in days since 1970, a
/// checkbox 0 or 1, anything else (or no value) `unvalued`. `key` is a field key (lower-case
/// letters, digits and `_`: [`FieldKey`](helpdesk_core::domain::FieldKey)), safe as a literal.
/// Only the statement the benchmark compares with computes it (see [`list_sql_without_terms`]);
/// the lists read the keys from `ticket_term_keys` ([`crate::field_sort`]).
///
/// [`FieldValue::sort_key`]: helpdesk_core::model::FieldValue::sort_key
fn field_sort_key(key: &str, unvalued: i64) -> String {
    let v = format!("(fields->>'{key}')");
    format!(
        "COALESCE(CASE jsonb_typeof(fields->'{key}') \
         WHEN 'number' THEN ({v}::numeric * 10000)::bigint \
         WHEN 'boolean' THEN {v}::boolean::int::bigint \
         WHEN 'string' THEN CASE WHEN {v} ~ '^\\d{{4}}-\\d{{2}}-\\d{{2}}$' THEN ({v}::date - DATE '1970-01-01')::bigint END \
         END, '{unvalued}'::bigint)"
    )
}

/// The cursor condition, order and over-fetching limit of `q`.
fn push_order(b: &mut QueryBuilder<sqlx::Postgres>, q: &TicketQuery) {
    let (col, dir) = sort_of(q);
    let op = match q.sort.direction {
        SortDirection::Asc => ">",
        SortDirection::Desc => "<",
    };
    if let Some(c) = q.cursor {
        b.push(format!(" AND ({col}, id) {op} ("));
        match q.sort.field {
            TicketSortField::Created | TicketSortField::Updated | TicketSortField::Due => {
                b.push_bind(DateTime::<Utc>::from_timestamp_micros(c.key).unwrap_or_default());
            }
            TicketSortField::Priority => {
                b.push_bind(c.key as i16);
            }
            TicketSortField::Number | TicketSortField::Field(_) => {
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
        let mut c = self.read().await?;
        let row = sqlx::query("SELECT doc FROM tickets WHERE seq = $1")
            .bind(number.seq() as i64)
            .fetch_optional(c.conn())
            .await
            .map_err(pg_error)?;
        c.finish();
        Ok(docs::<Ticket>(row.into_iter().collect())?.pop().filter(|t| &t.number == number))
    }

    async fn list_tickets(&self, q: &TicketQuery) -> StoreResult<Page<Ticket>> {
        if let TicketSortField::Field(k) = q.sort.field {
            return self.list_by_field(q, &k).await;
        }
        let mut c = self.read().await?;
        let rows = list_sql(q).build().persistent(false).fetch_all(c.conn()).await.map_err(pg_error)?;
        c.finish();
        Ok(Page::from_overfetch(docs(rows)?, q.limit, |t| q.sort.cursor(t)))
    }

    async fn ticket_counts(&self, q: &TicketQuery) -> StoreResult<Vec<(TicketStatus, u64)>> {
        let mut c = self.read().await?;
        let rows = match crate::facets::counters_for(q) {
            Some(Counters::Summary) => {
                // Every ticket counted (the queue's tabs without a filter): the summary's
                // per-status counters, kept in the same transactions as the tickets, instead of
                // a pass over every ticket (at 1,000,000 tickets, BENCHMARKS.md 2026-12-03 16:40).
                sqlx::query(
                    "SELECT substr(key, 10) AS status, sum(n)::bigint AS n FROM ticket_counts \
                     WHERE key LIKE 't:status:%' GROUP BY key HAVING sum(n) > 0",
                )
                .fetch_all(c.conn())
                .await
            }
            Some(Counters::Facets(facets)) => {
                // One kind of facet (a tag, a department, an assignee…): its per-status
                // counters, kept in the same transactions as the tickets (BENCHMARKS.md
                // 2026-12-03 18:00).
                sqlx::query(
                    "SELECT status, sum(n)::bigint AS n FROM ticket_facet_counts \
                     WHERE facet = ANY($1) GROUP BY status HAVING sum(n) > 0",
                )
                .bind(facets)
                .fetch_all(c.conn())
                .await
            }
            None => counts_sql(q).build().persistent(false).fetch_all(c.conn()).await,
        }
        .map_err(pg_error)?;
        c.finish();
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

    async fn sla_alerts_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<(DateTime<Utc>, TicketId)>> {
        let rows = sqlx::query(
            "SELECT at, ticket_id FROM ticket_sla_alerts WHERE at > $1 AND at <= $2 ORDER BY at, ticket_id LIMIT $3",
        )
        .bind(after)
        .bind(until)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        rows.into_iter()
            .map(|r| {
                Ok((r.try_get("at").map_err(pg_error)?, TicketId::from_uuid(r.try_get("ticket_id").map_err(pg_error)?)))
            })
            .collect()
    }

    async fn history(&self, ticket: TicketId) -> StoreResult<Vec<HistoryEvent>> {
        let mut c = self.read().await?;
        let rows = sqlx::query("SELECT doc FROM history_events WHERE ticket_id = $1 ORDER BY version, ord")
            .bind(ticket.as_uuid())
            .fetch_all(c.conn())
            .await
            .map_err(pg_error)?;
        c.finish();
        docs(rows)
    }

    async fn comments(&self, ticket: TicketId) -> StoreResult<Vec<Comment>> {
        let mut c = self.read().await?;
        let rows = sqlx::query("SELECT doc FROM comments WHERE ticket_id = $1 ORDER BY created_at, ord")
            .bind(ticket.as_uuid())
            .fetch_all(c.conn())
            .await
            .map_err(pg_error)?;
        c.finish();
        docs(rows)
    }

    async fn attachments(&self, ticket: TicketId) -> StoreResult<Vec<Attachment>> {
        let mut c = self.read().await?;
        let rows = sqlx::query("SELECT doc FROM attachments WHERE ticket_id = $1 ORDER BY created_at, id")
            .bind(ticket.as_uuid())
            .fetch_all(c.conn())
            .await
            .map_err(pg_error)?;
        c.finish();
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
