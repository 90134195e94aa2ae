//! Saved views: a named filter, sort and set of columns of the queue, personal or shared with
//! the staff, and each person's default view.
//!
//! A view keeps its filter in relative terms ("assigned to me", "service level breached"), so a
//! shared view means the same thing to each person who opens it, at the moment they open it:
//! [`ViewFilter::query`] turns it into a list query for one person at one time. Stores keep
//! every view in one versioned document ([`DocumentKey::Views`](crate::ports::DocumentKey)).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{CategoryKey, DepartmentKey, Priority, Tag, TicketStatus, UserId, ViewId, ViewName};
use crate::ports::{AssigneeFilter, SortDirection, TicketQuery, TicketSort, TicketSortField};

/// Whose tickets a view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewAssignee {
    /// The person who opens the view.
    Me,
    /// Nobody's yet.
    Unassigned,
    /// One staff member's.
    User(UserId),
}

/// What a view lists, in relative terms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ViewFilter {
    /// Any of these statuses (none: every status).
    pub statuses: Vec<TicketStatus>,
    /// Any of these priorities.
    pub priorities: Vec<Priority>,
    /// Any of these departments.
    pub departments: Vec<DepartmentKey>,
    /// Any of these categories.
    pub categories: Vec<CategoryKey>,
    /// Whose tickets.
    pub assignee: Option<ViewAssignee>,
    /// Words in the subject or description.
    pub text: Option<String>,
    /// Tickets carrying any of these tags.
    pub tags_any: Vec<Tag>,
    /// Only tickets with a service-level target past due when the view is opened.
    pub sla_breached: bool,
    /// The order.
    pub sort: TicketSort,
}

impl ViewFilter {
    /// The list query of this view for `me` at `now` (first page).
    pub fn query(&self, me: Option<UserId>, now: DateTime<Utc>) -> TicketQuery {
        TicketQuery {
            statuses: self.statuses.clone(),
            priorities: self.priorities.clone(),
            departments: self.departments.clone(),
            categories: self.categories.clone(),
            assignee: match self.assignee {
                Some(ViewAssignee::Me) => me.map(AssigneeFilter::User),
                Some(ViewAssignee::Unassigned) => Some(AssigneeFilter::Nobody),
                Some(ViewAssignee::User(u)) => Some(AssigneeFilter::User(u)),
                None => None,
            },
            text: self.text.clone(),
            tags_any: self.tags_any.clone(),
            due_before: self.sla_breached.then_some(now),
            sort: self.sort,
            ..TicketQuery::default()
        }
    }

    /// The default sort: newest first.
    pub fn newest_first() -> TicketSort {
        TicketSort { field: TicketSortField::Created, direction: SortDirection::Desc }
    }
}

/// A column of the queue a view may show (the number and subject always show).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewColumn {
    /// The status.
    Status,
    /// The priority.
    Priority,
    /// The owning department.
    Department,
    /// Who works on it.
    Assignee,
    /// When it was filed.
    Filed,
    /// When its next service-level target falls due.
    Due,
}

impl ViewColumn {
    /// Every column, in the queue's order.
    pub const ALL: &'static [ViewColumn] = &[
        ViewColumn::Status,
        ViewColumn::Priority,
        ViewColumn::Department,
        ViewColumn::Assignee,
        ViewColumn::Filed,
        ViewColumn::Due,
    ];

    /// The name in requests and forms.
    pub const fn as_str(self) -> &'static str {
        match self {
            ViewColumn::Status => "status",
            ViewColumn::Priority => "priority",
            ViewColumn::Department => "department",
            ViewColumn::Assignee => "assignee",
            ViewColumn::Filed => "filed",
            ViewColumn::Due => "due",
        }
    }
}

/// A named view of the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedView {
    /// Unique id.
    pub id: ViewId,
    /// The name the queue lists it by.
    pub name: ViewName,
    /// `None`: shared with all staff (admins keep it); otherwise its one owner's.
    pub owner: Option<UserId>,
    /// What it lists.
    pub filter: ViewFilter,
    /// The columns it shows, in the queue's order (empty: all of them).
    pub columns: Vec<ViewColumn>,
    /// When it was last saved.
    pub updated_at: DateTime<Utc>,
    /// Who saved it last.
    pub updated_by: UserId,
}

impl SavedView {
    /// True for a view shared with all staff.
    pub fn is_shared(&self) -> bool {
        self.owner.is_none()
    }

    /// Whether it shows `column`.
    pub fn shows(&self, column: ViewColumn) -> bool {
        self.columns.is_empty() || self.columns.contains(&column)
    }
}

/// Every saved view of the deployment and each person's default, as stores keep them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewBook {
    /// The views, in the order they were made.
    pub views: Vec<SavedView>,
    /// Each person's default view (the queue opens on it).
    #[serde(default)]
    pub defaults: Vec<(UserId, ViewId)>,
}
