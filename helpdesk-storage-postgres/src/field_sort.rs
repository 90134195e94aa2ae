//! Pages sorted by a custom field, in two reads.
//!
//! 1. **The tickets with a value that sorts**, from `ticket_term_keys` (migration 0014): one
//!    term's tickets (a term the list requires, or the term every ticket carries: see
//!    [`walked_term`]) in the field's order, each ticket checked against the other filters,
//!    stopping at the page.
//!    PostgreSQL may still start from another index when a filter is more selective (one
//!    requester's tickets); the statement leaves it the choice.
//! 2. **The tickets without one**, which come last in either direction (core's
//!    [`TicketSort::unvalued_key`]), by id, read only when the first read ran out before the
//!    page was full, or when the cursor is already among them (then the first read finds
//!    nothing past the cursor at once).
//!
//! The two reads are separate statements; a ticket whose value changes between them could be
//! listed by both, so the second drops what the first returned.
//!
//! [`TicketSort::unvalued_key`]: helpdesk_core::ports::TicketSort::unvalued_key

use std::collections::HashSet;

use helpdesk_core::domain::{FieldKey, TicketId};
use helpdesk_core::model::Ticket;
use helpdesk_core::ports::{Page, SortDirection, StoreResult, TicketQuery};
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::terms::{EVERY_TICKET, walked_term};
use crate::tickets::{docs, push_filters};
use crate::{PgStore, pg_error};

impl PgStore {
    /// A page of `q`, sorted by the custom field `field` (see the module docs).
    pub(crate) async fn list_by_field(&self, q: &TicketQuery, field: &FieldKey) -> StoreResult<Page<Ticket>> {
        let rows = keyed_sql("", q, field).build().persistent(false).fetch_all(&self.pool).await.map_err(pg_error)?;
        let mut items: Vec<Ticket> = docs(rows)?;
        let want = q.limit.get() + 1;
        if items.len() < want {
            let after = q.cursor.filter(|c| c.key == q.sort.unvalued_key()).map(|c| c.id);
            let mut sql = unvalued_sql(q, field, after, want - items.len());
            let rows = sql.build().persistent(false).fetch_all(&self.pool).await.map_err(pg_error)?;
            let more: Vec<Ticket> = docs(rows)?;
            let seen: HashSet<TicketId> = items.iter().map(|t| t.id).collect();
            items.extend(more.into_iter().filter(|t| !seen.contains(&t.id)));
        }
        Ok(Page::from_overfetch(items, q.limit, |t| q.sort.cursor(t)))
    }
}

/// `ASC`/`DESC` and the cursor's comparison of `q`'s direction.
fn direction(q: &TicketQuery) -> (&'static str, &'static str) {
    match q.sort.direction {
        SortDirection::Asc => ("ASC", ">"),
        SortDirection::Desc => ("DESC", "<"),
    }
}

/// The first read: the tickets passing `q` that have a value of `field` that sorts, in its
/// order, one more than the page (a cursor at [`TicketSort::unvalued_key`] finds none).
///
/// [`TicketSort::unvalued_key`]: helpdesk_core::ports::TicketSort::unvalued_key
pub(crate) fn keyed_sql(head: &'static str, q: &TicketQuery, field: &FieldKey) -> QueryBuilder<sqlx::Postgres> {
    let (term, rest) = walked_term(q);
    let (dir, op) = direction(q);
    let mut b = QueryBuilder::new(head);
    b.push("SELECT doc FROM ticket_term_keys k JOIN tickets ON tickets.id = k.ticket WHERE k.term = ")
        .push_bind(term)
        .push(" AND k.field = ")
        .push_bind(field.as_str().to_owned());
    push_filters(&mut b, &rest);
    if let Some(c) = q.cursor {
        b.push(format!(" AND (k.sort_key, k.ticket) {op} (")).push_bind(c.key).push(", ").push_bind(c.id).push(")");
    }
    b.push(format!(" ORDER BY k.sort_key {dir}, k.ticket {dir} LIMIT ")).push_bind((q.limit.get() + 1) as i64);
    b
}

/// The second read: up to `limit` tickets passing `q` without a value of `field` that sorts,
/// by id in `q`'s direction, after the ticket `after` (the cursor's, when it is among them).
pub(crate) fn unvalued_sql(
    q: &TicketQuery,
    field: &FieldKey,
    after: Option<Uuid>,
    limit: usize,
) -> QueryBuilder<sqlx::Postgres> {
    let (dir, op) = direction(q);
    let mut b = QueryBuilder::new("SELECT doc FROM tickets WHERE true");
    push_filters(&mut b, q);
    b.push(" AND NOT EXISTS (SELECT 1 FROM ticket_term_keys k WHERE k.ticket = tickets.id AND k.term = ")
        .push_bind(EVERY_TICKET)
        .push(" AND k.field = ")
        .push_bind(field.as_str().to_owned())
        .push(")");
    if let Some(id) = after {
        b.push(format!(" AND id {op} ")).push_bind(id);
    }
    b.push(format!(" ORDER BY id {dir} LIMIT ")).push_bind(limit as i64);
    b
}
