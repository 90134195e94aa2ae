//! List queries: every filter of SPEC §4, sorts with the id as tie-break, and opaque cursors.
//!
//! The matching rules live here ([`TicketQuery::matches`], [`TicketSort::key`]) so that every
//! store, and the conformance suite that checks them, agree on one meaning.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::FieldError;
use crate::domain::{CategoryKey, DepartmentKey, FieldKey, Priority, Role, Tag, TicketStatus, UserId, UserStatus};
use crate::model::{FieldFilter, Ticket, User};

/// A page size between 1 and 100 (default 25).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct PageSize(u32);

impl PageSize {
    /// The largest page.
    pub const MAX: u32 = 100;
    /// Parses a requested size.
    pub fn new(n: u32) -> Result<Self, FieldError> {
        if (1..=Self::MAX).contains(&n) {
            Ok(Self(n))
        } else {
            Err(FieldError::new("limit", "out_of_range", format!("between 1 and {}", Self::MAX)))
        }
    }
    /// The size.
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self(25)
    }
}
impl TryFrom<u32> for PageSize {
    type Error = String;
    fn try_from(n: u32) -> Result<Self, String> {
        PageSize::new(n).map_err(|e| e.message)
    }
}
impl From<PageSize> for u32 {
    fn from(p: PageSize) -> u32 {
        p.0
    }
}

/// A position in a sorted list: the sort key and id of the last item returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cursor {
    /// The sort key of the last item.
    pub key: i64,
    /// Its id (tie-break).
    pub id: uuid::Uuid,
}

impl Cursor {
    /// Encodes as an opaque URL-safe string.
    pub fn encode(&self) -> String {
        let mut buf = Vec::with_capacity(24);
        buf.extend_from_slice(&self.key.to_be_bytes());
        buf.extend_from_slice(self.id.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
    }
    /// Decodes a string from [`encode`](Self::encode).
    pub fn decode(s: &str) -> Result<Self, FieldError> {
        let bad = || FieldError::new("cursor", "invalid", "not a cursor from this list");
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
        if raw.len() != 24 {
            return Err(bad());
        }
        let mut k = [0u8; 8];
        k.copy_from_slice(&raw[..8]);
        let id = uuid::Uuid::from_slice(&raw[8..]).map_err(|_| bad())?;
        Ok(Self { key: i64::from_be_bytes(k), id })
    }
}

/// One page of a list and the cursor of the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The page's items, in the query's order.
    pub items: Vec<T>,
    /// Pass to get the next page; `None` at the end.
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` sorted items: the extra one only says that there
    /// is more.
    pub fn from_overfetch(mut items: Vec<T>, limit: PageSize, cursor_of: impl Fn(&T) -> Cursor) -> Self {
        let more = items.len() > limit.get();
        items.truncate(limit.get());
        let next = if more { items.last().map(cursor_of) } else { None };
        Self { items, next }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortDirection {
    /// Oldest / lowest first.
    Asc,
    /// Newest / highest first.
    #[default]
    Desc,
}

/// What tickets are sorted by (the id breaks ties).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketSortField {
    /// Submission time.
    #[default]
    Created,
    /// Last change.
    Updated,
    /// Priority rank (critical first ascending; untriaged last).
    Priority,
    /// Ticket number.
    Number,
    /// When the earliest running service-level target falls due ([`Ticket::sla`]): "due
    /// soonest" ascending. Only tickets with a running target have a due time, so sorting by
    /// it lists only those.
    Due,
    /// A custom field of a kind that sorts (number, date, checkbox), by
    /// [`FieldValue::sort_key`](crate::model::FieldValue::sort_key): tickets without a value
    /// that sorts come last in either direction (their key is [`TicketSort::unvalued_key`]), as
    /// in a spreadsheet: "highest cost first" starts with the highest cost, not the blanks.
    Field(FieldKey),
}

/// A sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct TicketSort {
    /// The field to sort by.
    pub field: TicketSortField,
    /// Ascending or descending (the id breaks ties the same way).
    pub direction: SortDirection,
}

impl TicketSort {
    /// The integer sort key of a ticket for this sort.
    pub fn key(&self, t: &Ticket) -> i64 {
        match self.field {
            TicketSortField::Created => t.created_at.timestamp_micros(),
            TicketSortField::Updated => t.updated_at.timestamp_micros(),
            TicketSortField::Priority => i64::from(t.priority.map_or(4, |p| p.rank())),
            TicketSortField::Number => i64::try_from(t.number.seq()).unwrap_or(i64::MAX),
            TicketSortField::Due => t.sla.due_at.map_or(i64::MAX, |d| d.timestamp_micros()),
            TicketSortField::Field(k) => match t.fields.get(&k).map(|v| v.sort_key()) {
                Some(key) if key != i64::MAX => key,
                _ => self.unvalued_key(),
            },
        }
    }

    /// The key of a ticket without a value that sorts, when sorting by a custom field: the
    /// end of the order in this sort's direction (`i64::MAX` ascending, `i64::MIN`
    /// descending), so such tickets come last either way. No value that sorts has either key
    /// (numbers stay within ±10¹⁶, dates within chrono's years).
    pub fn unvalued_key(&self) -> i64 {
        match self.direction {
            SortDirection::Asc => i64::MAX,
            SortDirection::Desc => i64::MIN,
        }
    }

    /// The cursor of a ticket.
    pub fn cursor(&self, t: &Ticket) -> Cursor {
        Cursor { key: self.key(t), id: t.id.as_uuid() }
    }

    /// Orders two tickets (key, then id), in this sort's direction.
    pub fn compare(&self, a: &Ticket, b: &Ticket) -> std::cmp::Ordering {
        let o = (self.key(a), a.id.as_uuid()).cmp(&(self.key(b), b.id.as_uuid()));
        match self.direction {
            SortDirection::Asc => o,
            SortDirection::Desc => o.reverse(),
        }
    }

    /// True when `t` comes strictly after `cursor` in this sort.
    pub fn is_after(&self, t: &Ticket, cursor: &Cursor) -> bool {
        let k = (self.key(t), t.id.as_uuid());
        let c = (cursor.key, cursor.id);
        match self.direction {
            SortDirection::Asc => k > c,
            SortDirection::Desc => k < c,
        }
    }
}

/// Whom tickets are assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum AssigneeFilter {
    /// Unassigned tickets.
    Nobody,
    /// Tickets assigned to this user.
    User(UserId),
}

/// A ticket list query. Empty vectors mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketQuery {
    /// Any of these statuses.
    pub statuses: Vec<TicketStatus>,
    /// Any of these priorities.
    pub priorities: Vec<Priority>,
    /// Any of these departments.
    pub departments: Vec<DepartmentKey>,
    /// Any of these categories.
    pub categories: Vec<CategoryKey>,
    /// Only tickets assigned to this user, or unassigned ones.
    pub assignee: Option<AssigneeFilter>,
    /// Requester (forced to the principal for employees).
    pub requester: Option<UserId>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created strictly before.
    pub created_to: Option<DateTime<Utc>>,
    /// Case-insensitive substring of subject or description.
    pub text: Option<String>,
    /// Only tickets whose earliest running service-level target falls due strictly before
    /// this; the current time gives the breached ones.
    pub due_before: Option<DateTime<Utc>>,
    /// Tickets carrying at least one of these tags.
    #[serde(default)]
    pub tags_any: Vec<Tag>,
    /// Tickets carrying every one of these tags.
    #[serde(default)]
    pub tags_all: Vec<Tag>,
    /// Tickets this user follows (for an employee: the tickets they follow instead of their
    /// own).
    #[serde(default)]
    pub follower: Option<UserId>,
    /// Tickets whose custom fields pass every one of these.
    #[serde(default)]
    pub fields: Vec<FieldFilter>,
    /// The order (created, updated, priority, number or due time).
    pub sort: TicketSort,
    /// Continue after this position.
    pub cursor: Option<Cursor>,
    /// Page size.
    pub limit: PageSize,
}

impl TicketQuery {
    /// The text filter, lower-cased, when non-empty.
    pub fn text_needle(&self) -> Option<String> {
        self.text.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase)
    }

    /// True when the query filters by tags (which not every store indexes).
    pub fn filters_tags(&self) -> bool {
        !self.tags_any.is_empty() || !self.tags_all.is_empty()
    }

    /// The same filters for [`TicketStore::ticket_counts`](super::TicketStore::ticket_counts):
    /// no status filter, no cursor.
    pub fn for_counting(&self) -> TicketQuery {
        TicketQuery { statuses: Vec::new(), cursor: None, ..self.clone() }
    }

    /// Counts `tickets` per status, in [`TicketStatus::ALL`] order, leaving out empty ones
    /// (for stores that count by walking the tickets that pass the filters).
    pub fn tally<'a>(tickets: impl IntoIterator<Item = &'a Ticket>) -> Vec<(TicketStatus, u64)> {
        let mut n = [0u64; TicketStatus::ALL.len()];
        for t in tickets {
            if let Some(i) = TicketStatus::ALL.iter().position(|s| *s == t.status) {
                n[i] += 1;
            }
        }
        TicketStatus::ALL.iter().zip(n).filter(|(_, c)| *c > 0).map(|(s, c)| (*s, c)).collect()
    }

    /// True when `t` passes every filter (not the cursor).
    pub fn matches(&self, t: &Ticket) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&t.status))
            && (self.priorities.is_empty() || t.priority.is_some_and(|p| self.priorities.contains(&p)))
            && (self.departments.is_empty() || t.department.as_ref().is_some_and(|d| self.departments.contains(d)))
            && (self.categories.is_empty() || self.categories.contains(&t.category))
            && match self.assignee {
                None => true,
                Some(AssigneeFilter::Nobody) => t.assignee.is_none(),
                Some(AssigneeFilter::User(u)) => t.assignee == Some(u),
            }
            && self.requester.is_none_or(|r| t.requester == r)
            && self.created_from.is_none_or(|f| t.created_at >= f)
            && self.created_to.is_none_or(|to| t.created_at < to)
            && (self.sort.field != TicketSortField::Due || t.sla.due_at.is_some())
            && self.due_before.is_none_or(|b| t.sla.due_at.is_some_and(|d| d < b))
            && (self.tags_any.is_empty() || self.tags_any.iter().any(|g| t.tags.contains(g)))
            && self.tags_all.iter().all(|g| t.tags.contains(g))
            && self.follower.is_none_or(|f| t.is_followed_by(f))
            && self.fields.iter().all(|f| t.fields.get(&f.key).is_some_and(|v| v.passes(&f.value)))
            && self.text_needle().is_none_or(|n| {
                t.subject.as_str().to_lowercase().contains(&n) || t.description.as_str().to_lowercase().contains(&n)
            })
    }

    /// True when `t` passes the filters and comes after the cursor.
    pub fn selects(&self, t: &Ticket) -> bool {
        self.matches(t) && self.cursor.as_ref().is_none_or(|c| self.sort.is_after(t, c))
    }
}

/// A user list query (admins). Sorted by creation time, newest first, id as tie-break.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserQuery {
    /// Only users with this role.
    pub role: Option<Role>,
    /// Only users with this status.
    pub status: Option<UserStatus>,
    /// Only users of this department.
    pub department: Option<DepartmentKey>,
    /// Case-insensitive substring of email, names or company id.
    pub text: Option<String>,
    /// Continue after this position.
    pub cursor: Option<Cursor>,
    /// Page size.
    pub limit: PageSize,
}

impl UserQuery {
    /// The sort key (creation time in microseconds, descending).
    pub fn key(u: &User) -> Cursor {
        Cursor { key: u.created_at.timestamp_micros(), id: u.id.as_uuid() }
    }

    /// True when `u` passes the filters and comes after the cursor.
    pub fn selects(&self, u: &User) -> bool {
        let needle = self.text.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
        let k = Self::key(u);
        self.role.is_none_or(|r| u.role == r)
            && self.status.is_none_or(|s| u.status == s)
            && self.department.as_ref().is_none_or(|d| u.department.as_ref() == Some(d))
            && needle.is_none_or(|n| {
                u.email.as_str().contains(&n)
                    || u.display_name().to_lowercase().contains(&n)
                    || u.company_id.as_str().to_lowercase().contains(&n)
            })
            && self.cursor.is_none_or(|c| (k.key, k.id) < (c.key, c.id))
    }
}

/// An audit log query, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// Only this kind.
    pub kind: Option<crate::model::AuditKind>,
    /// Only entries about this target (a user's id, a ticket number, …): a user's history.
    pub target: Option<String>,
    /// Continue after this position.
    pub cursor: Option<Cursor>,
    /// Page size.
    pub limit: PageSize,
}
