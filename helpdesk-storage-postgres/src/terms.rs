//! The terms of a ticket (`ticket_terms`, migration 0013): its tags and its custom field values
//! a list filters by, each a row beside the ticket with its creation time, so that a page
//! filtered by terms in creation order walks only those tickets, newest first, and stops at
//! the page. Written by every ticket write ([`crate::commit`]); read by the lists
//! ([`crate::tickets`]).
//!
//! The same terms (and '', which every ticket carries) key `ticket_term_keys` (migration
//! 0014): per term, the tickets in the order of each custom field whose value sorts, so that a
//! page sorted by a custom field walks one term's tickets in that order and stops at the page.

use helpdesk_core::model::{FieldFilter, FieldValue, Ticket};
use helpdesk_core::ports::TicketQuery;

/// The term of a tag.
pub(crate) fn tag_term(tag: &str) -> String {
    format!("g:{tag}")
}

/// The terms of a custom field value (none for a number: numbers are filtered through the
/// `fields` GIN index).
fn value_terms(key: &str, v: &FieldValue) -> Vec<String> {
    match v {
        FieldValue::Text(s) => vec![format!("f:{key}={s}")],
        FieldValue::Flag(b) => vec![format!("f:{key}={b}")],
        FieldValue::List(options) => options.iter().map(|o| format!("f:{key}={o}")).collect(),
        FieldValue::Number(_) => Vec::new(),
    }
}

/// Every term of `t`, sorted, without repeats.
pub(crate) fn ticket_terms(t: &Ticket) -> Vec<String> {
    let mut terms: Vec<String> = t.tags.iter().map(|g| tag_term(g.as_str())).collect();
    for (k, v) in &t.fields {
        terms.extend(value_terms(k.as_str(), v));
    }
    terms.sort();
    terms.dedup();
    terms
}

/// The term every ticket carries in `ticket_term_keys`: a page sorted by a custom field with
/// no term required walks it.
pub(crate) const EVERY_TICKET: &str = "";

/// The rows of `t` in `ticket_term_keys`: (term, field, sort key) for each of its `terms`
/// ([`ticket_terms`] of `t`) and [`EVERY_TICKET`], and each of its custom fields whose value
/// sorts ([`FieldValue::sort_key`] other than `i64::MAX`), sorted.
pub(crate) fn ticket_term_keys(t: &Ticket, terms: &[String]) -> Vec<(String, String, i64)> {
    let keys: Vec<(&str, i64)> =
        t.fields.iter().map(|(k, v)| (k.as_str(), v.sort_key())).filter(|&(_, key)| key != i64::MAX).collect();
    if keys.is_empty() {
        return Vec::new();
    }
    let mut rows: Vec<(String, String, i64)> = terms
        .iter()
        .map(String::as_str)
        .chain([EVERY_TICKET])
        .flat_map(|term| keys.iter().map(move |&(field, key)| (term.to_owned(), field.to_owned(), key)))
        .collect();
    rows.sort();
    rows
}

/// The term a page sorted by a custom field walks (`ticket_term_keys`), and the query left to
/// check on each ticket: the first custom field filter that is one term, else the first tag
/// of `tags_all`, else the one tag of a single-tag `tags_any`, else [`EVERY_TICKET`]. The
/// walked filter is left out of the rest: checked again on each ticket it always passes, but
/// the planner would count it twice and expect to walk far more rows than it does.
pub(crate) fn walked_term(q: &TicketQuery) -> (String, TicketQuery) {
    let mut rest = q.clone();
    for (i, f) in q.fields.iter().enumerate() {
        if let [term] = value_terms(f.key.as_str(), &f.value).as_slice() {
            rest.fields.remove(i);
            return (term.clone(), rest);
        }
    }
    if let Some(tag) = q.tags_all.first() {
        rest.tags_all.remove(0);
        return (tag_term(tag.as_str()), rest);
    }
    if let [one] = q.tags_any.as_slice() {
        rest.tags_any.clear();
        return (tag_term(one.as_str()), rest);
    }
    (EVERY_TICKET.to_owned(), rest)
}

/// The terms a list query requires of every ticket it lists (all of them must be carried),
/// and the query left to check on the tickets themselves: every tag of `tags_all`, the one tag
/// of a single-tag `tags_any`, and the custom field filters that have terms.
pub(crate) fn required_terms(q: &TicketQuery) -> (Vec<String>, TicketQuery) {
    let mut rest = q.clone();
    let mut terms: Vec<String> = q.tags_all.iter().map(|g| tag_term(g.as_str())).collect();
    rest.tags_all.clear();
    if let [one] = q.tags_any.as_slice() {
        terms.push(tag_term(one.as_str()));
        rest.tags_any.clear();
    }
    let (with, without): (Vec<FieldFilter>, Vec<FieldFilter>) =
        q.fields.iter().cloned().partition(|f| !value_terms(f.key.as_str(), &f.value).is_empty());
    for f in &with {
        terms.extend(value_terms(f.key.as_str(), &f.value));
    }
    rest.fields = without;
    terms.sort();
    terms.dedup();
    (terms, rest)
}
