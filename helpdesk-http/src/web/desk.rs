//! The staff desk: the coordinators' home (counts per status, tickets waiting for review over
//! a day, my open tickets) and the queue (every ticket the coordinator may see, with SPEC §4's
//! filters in the address bar, counts per status, and the triage and claim actions straight
//! from a row). What a coordinator may see and do is core's: the list is scoped by
//! `list_tickets`, each row's actions come from the ticket's view.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use helpdesk_core::domain::{CategoryKey, DepartmentKey, Priority, Tag, TicketStatus, UserId};
use helpdesk_core::lifecycle::Action;
use helpdesk_core::model::{Ticket, UserSummary};
use helpdesk_core::ports::{AssigneeFilter, Cursor, PageSize, SortDirection, TicketQuery, TicketSort, TicketSortField};

use super::desk_views::{self, Cols, ViewLink};
use super::session::PageUser;
use super::tickets::priority_words;
use super::{Choice, Layout, encode, error_page, page, when};
use crate::error::ApiError;
use crate::state::AppState;

/// A `new` ticket waiting longer than this stands out.
const REVIEW_WITHIN: chrono::Duration = chrono::Duration::hours(24);

/// The statuses of work not yet done: the queue's default view.
const OPEN_WORK: &[TicketStatus] =
    &[TicketStatus::New, TicketStatus::Open, TicketStatus::InProgress, TicketStatus::OnHold, TicketStatus::Pending];

/// The staff's name for a status (SPEC's words).
pub(crate) fn staff_status(s: TicketStatus) -> &'static str {
    match s {
        TicketStatus::New => "New",
        TicketStatus::Open => "Open",
        TicketStatus::InProgress => "In progress",
        TicketStatus::OnHold => "On hold",
        TicketStatus::Pending => "Waiting for requester",
        TicketStatus::Resolved => "Resolved",
        TicketStatus::Closed => "Closed",
        TicketStatus::Rejected => "Rejected",
        TicketStatus::Withdrawn => "Withdrawn",
    }
}

/// The queue's filters as they stand in the address bar.
#[derive(Debug, Default, Clone)]
struct Filters {
    statuses: Vec<TicketStatus>,
    priorities: Vec<Priority>,
    department: String,
    category: String,
    /// `""` anyone, `unassigned`, `me`, or a user id.
    assignee: String,
    requester: String,
    from: String,
    to: String,
    q: String,
    /// Tags, comma-separated: tickets carrying any of them.
    tag: String,
    /// `""` any, `breached`: a running service-level target past due.
    sla: String,
    sort: String,
    order: String,
    after: Option<String>,
    /// The saved view these filters came from (kept in the addresses it makes).
    view: String,
    /// Custom field filters (`field.<key>=value`), checked against the definitions by
    /// [`with_fields`].
    fields: Vec<(String, String)>,
}

impl Filters {
    /// Reads `status=new&status=open&priority=high&…` (repeated keys for several values).
    fn parse(pairs: &[(String, String)]) -> Self {
        let mut f = Filters { sort: "created".into(), order: "desc".into(), ..Filters::default() };
        let mut statuses_given = false;
        for (k, v) in pairs {
            let v = v.trim();
            match k.as_str() {
                "status" => {
                    statuses_given = true;
                    if let Some(st) = TicketStatus::ALL.iter().find(|s| s.as_str() == v) {
                        f.statuses.push(*st);
                    }
                }
                "priority" => f.priorities.extend(Priority::parse(v).ok()),
                "department" => f.department = v.to_owned(),
                "category" => f.category = v.to_owned(),
                "assignee" => f.assignee = v.to_owned(),
                "requester" => f.requester = v.to_owned(),
                "from" => f.from = v.to_owned(),
                "to" => f.to = v.to_owned(),
                "q" => f.q = v.to_owned(),
                "tag" => f.tag = v.to_owned(),
                "sla" if v == "breached" => f.sla = v.to_owned(),
                "sort"
                    if ["created", "updated", "priority", "number", "due"].contains(&v) || v.starts_with("field:") =>
                {
                    f.sort = v.to_owned()
                }
                k if k.starts_with("field.") && !v.is_empty() => {
                    f.fields.push((k.trim_start_matches("field.").to_owned(), v.to_owned()))
                }
                "order" if v == "asc" || v == "desc" => f.order = v.to_owned(),
                "after" => f.after = Some(v.to_owned()),
                "view" => f.view = v.to_owned(),
                _ => {}
            }
        }
        if !statuses_given {
            f.statuses = OPEN_WORK.to_vec();
        }
        f
    }

    /// The address of this view (without the cursor unless given).
    fn href(&self, after: Option<&str>) -> String {
        let mut parts: Vec<String> = self.statuses.iter().map(|s| format!("status={}", s.as_str())).collect();
        if self.statuses.is_empty() {
            parts.push("status=".into());
        }
        parts.extend(self.priorities.iter().map(|p| format!("priority={}", p.as_str())));
        for (k, v) in [
            ("department", &self.department),
            ("category", &self.category),
            ("assignee", &self.assignee),
            ("requester", &self.requester),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
            ("tag", &self.tag),
            ("sla", &self.sla),
            ("view", &self.view),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", encode(v)));
            }
        }
        for (k, v) in &self.fields {
            parts.push(format!("field.{}={}", encode(k), encode(v)));
        }
        if self.sort != "created" {
            parts.push(format!("sort={}", self.sort));
        }
        if self.order != "desc" {
            parts.push(format!("order={}", self.order));
        }
        if let Some(a) = after {
            parts.push(format!("after={}", encode(a)));
        }
        format!("/desk?{}", parts.join("&"))
    }

    /// The core query at `now`, or the name of the field that is wrong.
    fn query(&self, me: UserId, now: DateTime<Utc>) -> Result<TicketQuery, &'static str> {
        let date = |s: &str, field| match s {
            "" => Ok(None),
            d => NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()))
                .map_err(|_| field),
        };
        let assignee = match self.assignee.as_str() {
            "" => None,
            "unassigned" => Some(AssigneeFilter::Nobody),
            "me" => Some(AssigneeFilter::User(me)),
            id => Some(AssigneeFilter::User(id.parse::<UserId>().map_err(|_| "assignee")?)),
        };
        let requester = match self.requester.as_str() {
            "" => None,
            id => Some(id.parse::<UserId>().map_err(|_| "requester")?),
        };
        Ok(TicketQuery {
            statuses: self.statuses.clone(),
            priorities: self.priorities.clone(),
            departments: match self.department.as_str() {
                "" => Vec::new(),
                d => vec![DepartmentKey::parse_field("department", d).map_err(|_| "department")?],
            },
            categories: match self.category.as_str() {
                "" => Vec::new(),
                c => vec![CategoryKey::parse_field("category", c).map_err(|_| "category")?],
            },
            assignee,
            requester,
            follower: None,
            fields: Vec::new(),
            created_from: date(&self.from, "from")?,
            // "to" is the last day included.
            created_to: date(&self.to, "to")?.map(|t| t + chrono::Duration::days(1)),
            text: (!self.q.is_empty()).then(|| self.q.clone()),
            due_before: (self.sla == "breached").then_some(now),
            tags_any: Tag::parse_list("tag", &self.tag).map_err(|_| "tag")?,
            tags_all: Vec::new(),
            sort: match self.sort.as_str() {
                // "Due soonest" has one direction.
                "due" => TicketSort { field: TicketSortField::Due, direction: SortDirection::Asc },
                other => TicketSort {
                    field: match other {
                        "updated" => TicketSortField::Updated,
                        "priority" => TicketSortField::Priority,
                        "number" => TicketSortField::Number,
                        _ => TicketSortField::Created,
                    },
                    direction: if self.order == "asc" { SortDirection::Asc } else { SortDirection::Desc },
                },
            },
            cursor: self.after.as_deref().and_then(|a| Cursor::decode(a).ok()),
            limit: PageSize::new(50).unwrap_or_default(),
        })
    }
}

/// `q` with the custom field filters and sort of `f` (`field.<key>=value`, `sort=field:<key>`)
/// checked against the definitions the person sees.
async fn with_fields(
    s: &AppState,
    who: &PageUser,
    f: &Filters,
    mut q: TicketQuery,
) -> helpdesk_core::Result<TicketQuery> {
    if !f.fields.is_empty() {
        let map = f.fields.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
        q.fields = s.desk().field_filters(&who.principal, &map).await?;
    }
    if let Some(key) = f.sort.strip_prefix("field:") {
        q.sort.field = TicketSortField::Field(s.desk().sort_field(&who.principal, key).await?);
    }
    Ok(q)
}

/// The list query of the queue's address parameters (every filter, dates, requester and
/// custom fields included; no cursor), or what is wrong with them.
pub(crate) async fn query_of(s: &AppState, who: &PageUser, params: &[(String, String)]) -> Result<TicketQuery, String> {
    let f = Filters { after: None, ..Filters::parse(params) };
    let q = f.query(who.user.id, s.desk().now()).map_err(|field| format!("The filter “{field}” is not understood."))?;
    with_fields(s, who, &f, q).await.map_err(|e| ApiError::from(e).detail)
}

/// A status chip above the queue: its count and the view of that status alone.
#[derive(Debug)]
struct StatusChip {
    key: &'static str,
    label: &'static str,
    count: u64,
    checked: bool,
    href: String,
}

/// One row of the queue.
#[derive(Debug)]
struct QueueRow {
    number: String,
    subject: String,
    status_key: &'static str,
    status_label: &'static str,
    priority: &'static str,
    department: String,
    assignee: String,
    created: String,
    created_iso: String,
    overdue: bool,
    /// Staff: the running service-level targets' state (key, words) and earliest due time
    /// (shown, RFC 3339).
    sla: Option<(&'static str, &'static str, String, String)>,
    version: u64,
    /// The ticket's tags, each with the address of the queue filtered by it.
    tags: Vec<(String, String)>,
    can_claim: bool,
    can_approve: bool,
    can_reject: bool,
}

#[derive(Template)]
#[template(path = "desk.html")]
struct DeskView {
    layout: Layout,
    chips: Vec<StatusChip>,
    /// Tickets of the view (all its filters, statuses included).
    matching: u64,
    /// True when the filters are not the default "open work".
    filtered: bool,
    priorities: Vec<Choice>,
    departments: Vec<Choice>,
    categories: Vec<Choice>,
    assignees: Vec<Choice>,
    f: Filters,
    /// A filter control per custom field in use.
    field_filters: Vec<super::fields::FieldInput>,
    /// The custom fields the queue sorts by: (`field:<key>`, label).
    sort_fields: Vec<(String, String)>,
    rows: Vec<QueueRow>,
    next: Option<String>,
    error: Option<String>,
    /// The CSV of this view, for admins.
    csv_href: Option<String>,
    /// Service-level policies exist: the queue offers their filter and sort.
    has_sla: bool,
    /// The rows can be ticked for the bulk form.
    bulk: bool,
    /// This view's address, where the bulk change's answer leads back to.
    here: String,
    /// The bulk form's idempotency key (a form sent twice changes nothing the second time).
    bulk_key: String,
    /// The macros the bulk form offers: (id, name).
    macros: Vec<(String, String)>,
    /// The saved views, with their counts.
    views: Vec<ViewLink>,
    /// The view shown, if one is.
    active: Option<ViewLink>,
    /// The columns shown.
    cols: Cols,
    /// The filters as an address query, for the "Save this view" form.
    filters_query: String,
    /// Admins may share a view.
    may_share: bool,
    /// The columns a view may choose: (name, label).
    column_choices: Vec<(&'static str, &'static str)>,
}

fn rows(s: &AppState, who: &PageUser, tickets: &[Ticket], staff: &[UserSummary]) -> Vec<QueueRow> {
    let now = Utc::now();
    tickets
        .iter()
        .map(|t| {
            let view = s.desk().view(&who.principal, t.clone());
            let actions = view.actions;
            let sla = view.sla_state.zip(t.sla.due_at).map(|(state, due)| {
                let (key, words) = super::tickets::sla_words(state);
                let (shown, iso) = when(due);
                (key, words, shown, iso)
            });
            let (created, created_iso) = when(t.created_at);
            QueueRow {
                number: t.number.to_string(),
                subject: t.subject.to_string(),
                status_key: t.status.as_str(),
                status_label: staff_status(t.status),
                priority: t.priority.map_or("—", priority_words),
                department: super::department_name(s, t.department.as_ref(), "—"),
                assignee: match t.assignee {
                    None => "Unassigned".to_owned(),
                    Some(id) if id == who.user.id => "Me".to_owned(),
                    Some(id) => {
                        staff.iter().find(|u| u.id == id).map_or_else(|| "Someone".to_owned(), |u| u.name.clone())
                    }
                },
                created,
                created_iso,
                overdue: t.status == TicketStatus::New && now - t.created_at > REVIEW_WITHIN,
                sla,
                version: t.version,
                tags: view
                    .ticket
                    .tags
                    .iter()
                    .map(|g| (g.to_string(), format!("/desk?tag={}", encode(g.as_str()))))
                    .collect(),
                can_claim: actions.contains(&Action::Claim),
                can_approve: actions.contains(&Action::Approve),
                can_reject: actions.contains(&Action::Reject),
            }
        })
        .collect()
}

/// The queue.
pub(crate) async fn queue(
    State(s): State<AppState>,
    who: PageUser,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    if let Some(refused) = super::staff_only(&s, &who) {
        return refused;
    }
    let views = s.desk().views(&who.principal).await.unwrap_or_default();
    let admin = who.user.role == helpdesk_core::domain::Role::Admin;
    // A view named in the address, or with no address parameters at all the person's default.
    let named = pairs.iter().find(|(k, _)| k == "view").map(|(_, v)| v.clone());
    let chosen = match &named {
        Some(id) => views.iter().find(|v| v.view.id.to_string() == *id),
        None if pairs.is_empty() => views.iter().find(|v| v.default),
        None => None,
    };
    let mut view_error = None;
    let pairs = match (chosen, &named) {
        (Some(v), _) => {
            let mut p = desk_views::params_of(&v.view);
            p.extend(pairs.iter().filter(|(k, _)| k == "after").cloned());
            p
        }
        (None, Some(_)) => {
            view_error = Some("That view does not exist (any more); showing the open work instead.".to_owned());
            Vec::new()
        }
        (None, None) => pairs,
    };
    let cols = chosen.map_or_else(Cols::all, |v| Cols::of(&v.view));
    let active = chosen.map(|v| ViewLink::of(v, admin));
    let f = Filters::parse(&pairs);
    let now = s.desk().now();
    let (query, error) = match f.query(who.user.id, now) {
        Ok(q) => (q, None),
        Err(field) => {
            let q = Filters { after: None, ..Filters::parse(&[]) }.query(who.user.id, now).unwrap_or_default();
            (q, Some(format!("The filter “{field}” is not understood; showing the open work instead.")))
        }
    };
    let (query, error) = match with_fields(&s, &who, &f, query.clone()).await {
        Ok(q) => (q, error),
        Err(e) => {
            (query, error.or(Some(format!("{} Showing the tickets without that filter.", ApiError::from(e).detail))))
        }
    };
    let error = error.or(view_error);
    let desk = s.desk();
    let loaded = async {
        let page_of = desk.list_tickets(&who.principal, &query).await?;
        let counts = desk.ticket_counts(&who.principal, &query).await?;
        let staff = desk.list_staff(&who.principal).await?;
        Ok::<_, helpdesk_core::Error>((page_of, counts, staff))
    };
    let (page_of, counts, staff) = match loaded.await {
        Ok(x) => x,
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, Layout::of(&s, &who), &e.detail);
        }
    };
    let chips = TicketStatus::ALL
        .iter()
        .map(|st| StatusChip {
            key: st.as_str(),
            label: staff_status(*st),
            count: counts.iter().find(|(x, _)| x == st).map_or(0, |(_, n)| *n),
            checked: f.statuses.contains(st),
            href: Filters { statuses: vec![*st], after: None, ..f.clone() }.href(None),
        })
        .collect();
    let book = s.desk().custom_fields(&who.principal).await.map(|x| x.book).unwrap_or_default();
    let mut typed = super::fields::Posted::new();
    for (k, v) in &f.fields {
        typed.entry(k.clone()).or_default().push(v.clone());
    }
    let field_filters = super::fields::inputs(
        &book.active().collect::<Vec<_>>(),
        &Default::default(),
        Some(&typed),
        &Default::default(),
    )
    .into_iter()
    .map(|mut i| {
        i.id = format!("f-{}", i.id);
        i
    })
    .collect();
    let sort_fields =
        book.active().filter(|d| d.kind.sorts()).map(|d| (format!("field:{}", d.key), d.label.clone())).collect();
    let catalog = &s.desk().options().catalog;
    let choice = |value: String, label: String, current: &str| Choice { selected: value == current, value, label };
    let view = DeskView {
        layout: Layout::of(&s, &who).trail(&[("Queue", None)]),
        chips,
        matching: counts
            .iter()
            .filter(|(st, _)| f.statuses.is_empty() || f.statuses.contains(st))
            .map(|(_, n)| n)
            .sum(),
        filtered: f.href(None) != Filters::parse(&[]).href(None),
        priorities: Priority::ALL
            .iter()
            .map(|p| Choice {
                value: p.as_str().to_owned(),
                label: priority_words(*p).to_owned(),
                selected: f.priorities.contains(p),
            })
            .collect(),
        departments: catalog
            .departments
            .iter()
            .map(|d| choice(d.key.to_string(), d.name.clone(), &f.department))
            .collect(),
        categories: catalog.categories.iter().map(|c| choice(c.key.to_string(), c.name.clone(), &f.category)).collect(),
        assignees: [("unassigned".to_owned(), "Unassigned".to_owned()), ("me".to_owned(), "Me".to_owned())]
            .into_iter()
            .chain(staff.iter().filter(|u| u.id != who.user.id).map(|u| (u.id.to_string(), u.name.clone())))
            .map(|(v, l)| choice(v, l, &f.assignee))
            .collect(),
        rows: rows(&s, &who, &page_of.items, &staff),
        next: page_of.next.map(|c| f.href(Some(&c.encode()))),
        csv_href: (who.user.role == helpdesk_core::domain::Role::Admin)
            .then(|| f.href(None).replacen("/desk?", "/desk/tickets.csv?", 1)),
        has_sla: !s.desk().sla_rules().is_empty(),
        bulk: true,
        here: f.href(f.after.as_deref()),
        bulk_key: uuid::Uuid::new_v4().to_string(),
        macros: s
            .desk()
            .macros(&who.principal)
            .await
            .unwrap_or_default()
            .iter()
            .map(|m| (m.id.to_string(), m.name.to_string()))
            .collect(),
        views: views.iter().map(|v| ViewLink::of(v, admin)).collect(),
        active,
        cols,
        filters_query: Filters { view: String::new(), ..f.clone() }.href(None).trim_start_matches("/desk?").to_owned(),
        may_share: admin,
        column_choices: vec![
            ("status", "Status"),
            ("priority", "Priority"),
            ("department", "Department"),
            ("assignee", "Assignee"),
            ("filed", "Filed"),
            ("due", "Due"),
        ],
        f,
        field_filters,
        sort_fields,
        error,
    };
    page(StatusCode::OK, &view)
}

/// The queue's current view as CSV (admins: the reports permission), every page of it.
pub(crate) async fn export(
    State(s): State<AppState>,
    who: PageUser,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    use axum::response::IntoResponse;
    if who.user.role != helpdesk_core::domain::Role::Admin {
        return error_page(StatusCode::NOT_FOUND, Layout::of(&s, &who), "There is no page at this address.");
    }
    match query_of(&s, &who, &pairs).await {
        Ok(q) => crate::routes::reports::csv_export(&s, &who.principal, q).unwrap_or_else(IntoResponse::into_response),
        Err(why) => error_page(StatusCode::UNPROCESSABLE_ENTITY, Layout::of(&s, &who), &why),
    }
}

#[derive(Template)]
#[template(path = "staff_home.html")]
struct StaffHomeView {
    layout: Layout,
    first_name: String,
    cards: Vec<StatusChip>,
    total: u64,
    overdue: u64,
    overdue_href: String,
    mine: Vec<QueueRow>,
    /// For admins: users by role and status, and the registrations waiting.
    admin: Option<AdminCards>,
    /// Service-level policies exist: the rows show when each ticket is due.
    has_sla: bool,
    /// The home page's rows are not ticked (the bulk form is the queue's).
    bulk: bool,
    /// The columns shown (all).
    cols: Cols,
}

/// What an admin's home adds.
#[derive(Debug)]
struct AdminCards {
    users: Vec<(String, u64)>,
    pending: Vec<PendingRow>,
    more_pending: bool,
}

#[derive(Debug)]
struct PendingRow {
    id: String,
    name: String,
    email: String,
    version: u64,
}

/// The staff's home page.
pub(crate) async fn staff_home(s: &AppState, who: &PageUser) -> Response {
    let me = who.user.id;
    let all = TicketQuery::default();
    let overdue_query = TicketQuery {
        statuses: vec![TicketStatus::New],
        created_to: Some(Utc::now() - REVIEW_WITHIN),
        ..TicketQuery::default()
    };
    let mine_query = TicketQuery {
        statuses: OPEN_WORK.to_vec(),
        assignee: Some(AssigneeFilter::User(me)),
        sort: TicketSort { field: TicketSortField::Updated, direction: SortDirection::Desc },
        limit: PageSize::new(10).unwrap_or_default(),
        ..TicketQuery::default()
    };
    let desk = s.desk();
    let loaded = async {
        let counts = desk.ticket_counts(&who.principal, &all).await?;
        let overdue = desk.ticket_counts(&who.principal, &overdue_query).await?;
        let mine = desk.list_tickets(&who.principal, &mine_query).await?;
        let staff = desk.list_staff(&who.principal).await?;
        Ok::<_, helpdesk_core::Error>((counts, overdue, mine, staff))
    };
    let (counts, overdue, mine, staff) = match loaded.await {
        Ok(x) => x,
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, Layout::of(s, who), &e.detail);
        }
    };
    let base = Filters::parse(&[]);
    let cards = TicketStatus::ALL
        .iter()
        .map(|st| StatusChip {
            key: st.as_str(),
            label: staff_status(*st),
            count: counts.iter().find(|(x, _)| x == st).map_or(0, |(_, n)| *n),
            checked: false,
            href: Filters { statuses: vec![*st], ..base.clone() }.href(None),
        })
        .collect();
    let admin = if who.user.role == helpdesk_core::domain::Role::Admin {
        let pending_query = helpdesk_core::ports::UserQuery {
            status: Some(helpdesk_core::domain::UserStatus::Pending),
            limit: PageSize::new(5).unwrap_or_default(),
            ..helpdesk_core::ports::UserQuery::default()
        };
        let loaded = async {
            let summary = desk.summary_report(&who.principal).await?;
            let pending = desk.list_users(&who.principal, &pending_query).await?;
            Ok::<_, helpdesk_core::Error>((summary, pending))
        };
        match loaded.await {
            Ok((summary, pending)) => {
                let word = |k: &str| {
                    let mut c = k.chars();
                    c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
                };
                let users = summary
                    .users_by_role
                    .iter()
                    .chain(summary.users_by_status.iter())
                    .map(|(k, v)| (word(k), *v))
                    .collect();
                Some(AdminCards {
                    users,
                    more_pending: pending.next.is_some(),
                    pending: pending
                        .items
                        .iter()
                        .map(|u| PendingRow {
                            id: u.id.to_string(),
                            name: u.display_name(),
                            email: u.email.to_string(),
                            version: u.version,
                        })
                        .collect(),
                })
            }
            Err(e) => {
                let e = ApiError::from(e);
                return error_page(e.status, Layout::of(s, who), &e.detail);
            }
        }
    } else {
        None
    };
    let view = StaffHomeView {
        admin,
        has_sla: !s.desk().sla_rules().is_empty(),
        layout: Layout::of(s, who),
        first_name: who.user.first_name.to_string(),
        cards,
        total: counts.iter().map(|(_, n)| n).sum(),
        overdue: overdue.iter().map(|(_, n)| n).sum(),
        // The oldest new tickets first: those over a day old lead the list, marked.
        overdue_href: Filters { statuses: vec![TicketStatus::New], order: "asc".into(), ..base }.href(None),
        mine: rows(s, who, &mine.items, &staff),
        bulk: false,
        cols: Cols::all(),
    };
    page(StatusCode::OK, &view)
}
