//! The facets of a ticket (`ticket_facet_counts`, migration 0015): each value a queue filters
//! by on its own (a priority, a department, a category, an assignee or nobody, a term of
//! [`crate::terms`]), counted per status in the same transaction as every ticket write
//! ([`crate::commit`]), so that the queue's counts under one such filter are a sum over a few
//! rows instead of a pass over every matching ticket ([`crate::tickets`]).

use helpdesk_core::model::Ticket;
use helpdesk_core::ports::{AssigneeFilter, TicketQuery, TicketSortField};

use crate::terms::required_terms;

/// The facet of an assignee filter: the user, or nobody.
fn assignee_facet(a: &AssigneeFilter) -> String {
    match a {
        AssigneeFilter::Nobody => "a:".to_owned(),
        AssigneeFilter::User(u) => format!("a:{}", u.as_uuid()),
    }
}

/// The shard of `t`'s facet counters: the last hex digit of its id (migration 0015 computes the
/// same), so that a ticket's counts always move in the same rows.
pub(crate) fn ticket_shard(t: &Ticket) -> i16 {
    (t.id.as_uuid().as_u128() % 16) as i16
}

/// Every facet of `t`, whose terms ([`crate::terms::ticket_terms`]) are `terms`.
pub(crate) fn ticket_facets(t: &Ticket, terms: &[String]) -> Vec<String> {
    let mut facets = Vec::with_capacity(4 + terms.len());
    if let Some(p) = t.priority {
        facets.push(format!("p:{}", p.as_str()));
    }
    if let Some(d) = &t.department {
        facets.push(format!("d:{}", d.as_str()));
    }
    facets.push(format!("c:{}", t.category.as_str()));
    facets.push(assignee_facet(&t.assignee.map_or(AssigneeFilter::Nobody, AssigneeFilter::User)));
    facets.extend(terms.iter().cloned());
    facets
}

/// Where the counts of a query ([`TicketQuery::for_counting`]) are kept, so that they are read
/// instead of counted from the tickets.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Counters {
    /// No filter: the summary's per-status counters (`ticket_counts`).
    Summary,
    /// Exactly one kind of facet: the sum of these facets' counters. Any of several
    /// priorities, departments or categories (a ticket holds at most one of each, so their
    /// counts add up), an assignee, or one term.
    Facets(Vec<String>),
}

/// The counters that add up to the counts of `q`; `None` for any other query, which is counted
/// from the tickets.
pub(crate) fn counters_for(q: &TicketQuery) -> Option<Counters> {
    let q = q.for_counting();
    if q.sort.field == TicketSortField::Due {
        // A list sorted by due time holds only tickets with a running target.
        return None;
    }
    let bare = TicketQuery { limit: q.limit, sort: q.sort, ..TicketQuery::default() };
    if q == bare {
        return Some(Counters::Summary);
    }
    let mut rest = q.clone();
    let mut facets: Vec<String> = if !q.priorities.is_empty() {
        rest.priorities.clear();
        q.priorities.iter().map(|p| format!("p:{}", p.as_str())).collect()
    } else if !q.departments.is_empty() {
        rest.departments.clear();
        q.departments.iter().map(|d| format!("d:{}", d.as_str())).collect()
    } else if !q.categories.is_empty() {
        rest.categories.clear();
        q.categories.iter().map(|c| format!("c:{}", c.as_str())).collect()
    } else if let Some(a) = &q.assignee {
        rest.assignee = None;
        vec![assignee_facet(a)]
    } else {
        let (terms, without) = required_terms(&q);
        if terms.len() != 1 {
            return None;
        }
        rest = without;
        terms
    };
    facets.sort();
    facets.dedup();
    (rest == bare).then_some(Counters::Facets(facets))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use helpdesk_core::domain::{DepartmentKey, Priority, Tag, TicketStatus};
    use helpdesk_core::model::{FieldFilter, FieldNumber, FieldValue};
    use helpdesk_core::ports::{TicketSort, TicketSortField};

    use super::*;

    fn q(f: impl FnOnce(&mut TicketQuery)) -> TicketQuery {
        let mut q = TicketQuery::default();
        f(&mut q);
        q
    }

    fn tag(s: &str) -> Tag {
        Tag::parse_field("tags", s).unwrap()
    }

    #[test]
    fn a_tickets_shard_is_the_last_hex_digit_of_its_id() {
        let mut t =
            helpdesk_core::testing::fixtures::ticket(1, helpdesk_core::domain::UserId::random(), chrono::Utc::now());
        for _ in 0..32 {
            t.id = helpdesk_core::domain::TicketId::random();
            let last = t.id.as_uuid().to_string().pop().unwrap();
            assert_eq!(ticket_shard(&t), i16::from_str_radix(&last.to_string(), 16).unwrap());
        }
    }

    #[test]
    fn one_kind_of_facet_is_counted_from_the_counters() {
        let it = DepartmentKey::parse("it").unwrap();
        assert_eq!(
            counters_for(&q(|q| q.departments = vec![it.clone(), it.clone()])),
            Some(Counters::Facets(vec!["d:it".into()]))
        );
        assert_eq!(
            counters_for(&q(|q| {
                q.priorities = vec![Priority::High, Priority::Low];
                q.statuses = vec![TicketStatus::New];
            })),
            Some(Counters::Facets(vec!["p:high".into(), "p:low".into()]))
        );
        assert_eq!(
            counters_for(&q(|q| q.assignee = Some(AssigneeFilter::Nobody))),
            Some(Counters::Facets(vec!["a:".into()]))
        );
        assert_eq!(counters_for(&q(|q| q.tags_any = vec![tag("vip")])), Some(Counters::Facets(vec!["g:vip".into()])));
        assert_eq!(counters_for(&q(|q| q.tags_all = vec![tag("vip")])), Some(Counters::Facets(vec!["g:vip".into()])));
        let site = FieldFilter {
            key: helpdesk_core::domain::FieldKey::parse_field("key", "site").unwrap(),
            value: FieldValue::Text("Berlin".into()),
        };
        assert_eq!(
            counters_for(&q(|q| q.fields = vec![site.clone()])),
            Some(Counters::Facets(vec!["f:site=Berlin".into()]))
        );
    }

    #[test]
    fn anything_else_is_counted_from_the_tickets() {
        let it = DepartmentKey::parse("it").unwrap();
        // Two kinds, tags that overlap, two terms, a number, a text, a due-time sort.
        assert_eq!(
            counters_for(&q(|q| {
                q.departments = vec![it.clone()];
                q.priorities = vec![Priority::High];
            })),
            None
        );
        assert_eq!(counters_for(&q(|q| q.tags_any = vec![tag("vip"), tag("printer")])), None);
        assert_eq!(counters_for(&q(|q| q.tags_all = vec![tag("vip"), tag("printer")])), None);
        let cost = FieldFilter {
            key: helpdesk_core::domain::FieldKey::parse_field("key", "cost").unwrap(),
            value: FieldValue::Number(FieldNumber::from_f64(3.0).unwrap()),
        };
        assert_eq!(counters_for(&q(|q| q.fields = vec![cost])), None);
        assert_eq!(
            counters_for(&q(|q| {
                q.tags_any = vec![tag("vip")];
                q.text = Some("printer".into());
            })),
            None
        );
        assert_eq!(
            counters_for(&q(|q| {
                q.departments = vec![it];
                q.sort = TicketSort { field: TicketSortField::Due, ..TicketSort::default() };
            })),
            None
        );
        // No filter at all (a status filter is no filter for counts): the summary's counters.
        assert_eq!(counters_for(&TicketQuery::default()), Some(Counters::Summary));
        assert_eq!(counters_for(&q(|q| q.statuses = vec![TicketStatus::New])), Some(Counters::Summary));
    }
}
