//! User management for admins: registrations awaiting approval first (approve in place, reject
//! with a required reason), every user with search and filters and counts by role and status,
//! a page per user (facts, role and department, deactivate / reactivate, their tickets), and
//! creating a user who gets an invitation mail. Core decides: every call here is an admin use
//! case, refused to anyone else (the pages answer 404 to non-admins, as they do for unknown
//! addresses).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use helpdesk_core::NewUser;
use helpdesk_core::domain::{DepartmentKey, Role, UserId, UserStatus};
use helpdesk_core::model::AuditKind;
use helpdesk_core::model::User;
use helpdesk_core::ports::{AuditQuery, Cursor, PageSize, TicketQuery, UserQuery};
use serde::Deserialize;

use super::pages::{form_allowed, status_label};
use super::session::PageUser;
use super::{Choice, Layout, department_choices, encode, error_page, page, when};
use crate::error::ApiError;
use crate::state::AppState;

fn admins_only(s: &AppState, who: &PageUser) -> Option<Response> {
    (who.user.role != Role::Admin)
        .then(|| error_page(StatusCode::NOT_FOUND, Layout::of(s, who), "There is no page at this address."))
}

fn role_words(r: Role) -> &'static str {
    match r {
        Role::Employee => "Employee",
        Role::Coordinator => "Ticket coordinator",
        Role::Admin => "Administrator",
    }
}

fn status_words(s: UserStatus) -> &'static str {
    match s {
        UserStatus::Pending => "Awaiting approval",
        UserStatus::Approved => "Active",
        UserStatus::Deactivated => "Deactivated",
    }
}

/// One user in a list.
#[derive(Debug)]
struct UserRow {
    id: String,
    name: String,
    email: String,
    company_id: String,
    department: String,
    role: &'static str,
    status: &'static str,
    status_key: &'static str,
    version: u64,
    registered: String,
    registered_iso: String,
}

fn row(s: &AppState, u: &User) -> UserRow {
    let (registered, registered_iso) = when(u.created_at);
    UserRow {
        id: u.id.to_string(),
        name: u.display_name(),
        email: u.email.to_string(),
        company_id: u.company_id.to_string(),
        department: super::department_name(s, u.department.as_ref(), "—"),
        role: role_words(u.role),
        status: status_words(u.status),
        status_key: u.status.as_str(),
        version: u.version,
        registered,
        registered_iso,
    }
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersView {
    layout: Layout,
    pending: Vec<UserRow>,
    users: Vec<UserRow>,
    counts: Vec<(String, u64)>,
    roles: Vec<Choice>,
    statuses: Vec<Choice>,
    departments: Vec<Choice>,
    q: String,
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct UsersQuery {
    q: Option<String>,
    role: Option<String>,
    status: Option<String>,
    department: Option<String>,
    after: Option<String>,
    done: Option<String>,
}

pub(crate) async fn users(State(s): State<AppState>, who: PageUser, Query(uq): Query<UsersQuery>) -> Response {
    if let Some(refused) = admins_only(&s, &who) {
        return refused;
    }
    let role = uq.role.as_deref().and_then(|r| Role::ALL.iter().copied().find(|x| x.as_str() == r));
    let status = uq.status.as_deref().and_then(|r| UserStatus::ALL.iter().copied().find(|x| x.as_str() == r));
    let department = uq.department.as_deref().filter(|d| !d.is_empty()).and_then(|d| DepartmentKey::parse(d).ok());
    let q = uq.q.as_deref().map(str::trim).unwrap_or_default().to_owned();
    let query = UserQuery {
        role,
        status,
        department: department.clone(),
        text: (!q.is_empty()).then(|| q.clone()),
        cursor: uq.after.as_deref().and_then(|a| Cursor::decode(a).ok()),
        limit: PageSize::new(50).unwrap_or_default(),
    };
    let desk = s.desk();
    let pending_query = UserQuery {
        status: Some(UserStatus::Pending),
        limit: PageSize::new(100).unwrap_or_default(),
        ..UserQuery::default()
    };
    let loaded = async {
        let pending = desk.list_users(&who.principal, &pending_query).await?;
        let page_of = desk.list_users(&who.principal, &query).await?;
        // Counts by role and status: a walk over every user (fine for a company's staff list;
        // a store-side count is for the performance issue).
        let mut counts = std::collections::BTreeMap::<String, u64>::new();
        let mut cursor = None;
        loop {
            let q = UserQuery { cursor, limit: PageSize::new(100).unwrap_or_default(), ..UserQuery::default() };
            let p = desk.list_users(&who.principal, &q).await?;
            for u in &p.items {
                *counts.entry(role_words(u.role).to_owned()).or_default() += 1;
                *counts.entry(status_words(u.status).to_owned()).or_default() += 1;
            }
            match p.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        Ok::<_, helpdesk_core::Error>((pending, page_of, counts))
    };
    let (pending, page_of, counts) = match loaded.await {
        Ok(x) => x,
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, Layout::of(&s, &who), &e.detail);
        }
    };
    let href = |after: &str| {
        let mut parts = Vec::new();
        for (k, v) in [
            ("q", q.as_str()),
            ("role", role.map_or("", Role::as_str)),
            ("status", status.map_or("", UserStatus::as_str)),
            ("department", department.as_ref().map_or("", |d| d.as_str())),
            ("after", after),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", encode(v)));
            }
        }
        format!("/users?{}", parts.join("&"))
    };
    let flash = uq.done.as_deref().map(|d| match d {
        "approved" => "Registration approved; the person got a mail.".to_owned(),
        "rejected" => "Registration rejected; its personal data is gone, the audit record stays.".to_owned(),
        "invited" => "User created; the invitation is on its way.".to_owned(),
        _ => "Done.".to_owned(),
    });
    let view = UsersView {
        layout: Layout::of(&s, &who).flash(flash).trail(&[("Users", None)]),
        pending: pending.items.iter().map(|u| row(&s, u)).collect(),
        users: page_of.items.iter().map(|u| row(&s, u)).collect(),
        counts: counts.into_iter().collect(),
        roles: Role::ALL
            .iter()
            .map(|r| Choice { value: r.as_str().into(), label: role_words(*r).into(), selected: role == Some(*r) })
            .collect(),
        statuses: [UserStatus::Pending, UserStatus::Approved, UserStatus::Deactivated]
            .iter()
            .map(|x| Choice { value: x.as_str().into(), label: status_words(*x).into(), selected: status == Some(*x) })
            .collect(),
        departments: department_choices(&s, department.as_ref().map_or("", |d| d.as_str())),
        next: page_of.next.map(|c| href(&c.encode())),
        q: q.clone(),
    };
    page(StatusCode::OK, &view)
}

/// A ticket of the user, on their page.
#[derive(Debug)]
struct TicketLine {
    number: String,
    subject: String,
    status: &'static str,
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserView {
    layout: Layout,
    u: UserRow,
    roles: Vec<Choice>,
    departments: Vec<Choice>,
    can_approve: bool,
    can_deactivate: bool,
    can_reactivate: bool,
    tickets: Vec<TicketLine>,
    /// Live sessions: when they began, and from where.
    sessions: Vec<(String, String)>,
    /// What happened to the account, newest first: (when, ISO time, what, by whom).
    history: Vec<(String, String, String, String)>,
    error: Option<String>,
}

/// The account's history: every administrative step recorded in the audit log about it
/// (approval, role and department changes, deactivation, sessions ended), newest first,
/// ending with the registration.
async fn account_history(s: &AppState, who: &PageUser, u: &User) -> Vec<(String, String, String, String)> {
    let q = AuditQuery {
        kind: Some(AuditKind::UserAdministered),
        target: Some(u.id.to_string()),
        limit: PageSize::new(50).unwrap_or_default(),
        ..AuditQuery::default()
    };
    let entries = s.desk().audit_log(&who.principal, &q).await.map(|p| p.items).unwrap_or_default();
    let mut names: std::collections::HashMap<UserId, String> = std::collections::HashMap::new();
    let mut out = Vec::new();
    for e in entries {
        let by = match e.actor.as_ref().and_then(|a| a.user()) {
            Some(id) => match names.get(&id) {
                Some(n) => n.clone(),
                None => {
                    let n = s
                        .desk()
                        .user(&who.principal, id)
                        .await
                        .map_or_else(|_| "a former user".to_owned(), |x| x.display_name());
                    names.insert(id, n.clone());
                    n
                }
            },
            None => e.actor.as_ref().map_or_else(|| "the help desk".to_owned(), ToString::to_string),
        };
        let mut what = e.detail.clone();
        if let Some(first) = what.get(..1) {
            what.replace_range(..1, &first.to_uppercase());
        }
        let (at, iso) = when(e.at);
        out.push((at, iso, what, by));
    }
    let (at, iso) = when(u.created_at);
    out.push((at, iso, "Registered".to_owned(), u.display_name()));
    out
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct UserPageQuery {
    done: Option<String>,
}

async fn user_page(s: &AppState, who: &PageUser, id: &str, flash: Option<String>, error: Option<String>) -> Response {
    let not_found = || error_page(StatusCode::NOT_FOUND, Layout::of(s, who), "There is no such user.");
    let Ok(id) = id.parse::<UserId>() else { return not_found() };
    let u = match s.desk().user(&who.principal, id).await {
        Ok(u) => u,
        Err(helpdesk_core::Error::NotFound { .. }) => return not_found(),
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, Layout::of(s, who), &e.detail);
        }
    };
    let tickets_query =
        TicketQuery { requester: Some(u.id), limit: PageSize::new(10).unwrap_or_default(), ..TicketQuery::default() };
    let tickets = match s.desk().list_tickets(&who.principal, &tickets_query).await {
        Ok(p) => p
            .items
            .iter()
            .map(|t| TicketLine {
                number: t.number.to_string(),
                subject: t.subject.to_string(),
                status: status_label(t.status),
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let sessions = match s.desk().user_sessions(&who.principal, u.id).await {
        Ok(v) => {
            v.iter().map(|x| (when(x.created_at).0, x.address.clone().unwrap_or_else(|| "—".to_owned()))).collect()
        }
        Err(_) => Vec::new(),
    };
    let history = account_history(s, who, &u).await;
    let r = row(s, &u);
    let name = r.name.clone();
    let department_key = u.department.as_ref().map(ToString::to_string).unwrap_or_default();
    let view = UserView {
        layout: Layout::of(s, who).flash(flash).trail(&[("Users", Some("/users")), (&name, None)]),
        roles: Role::ALL
            .iter()
            .map(|x| Choice { value: x.as_str().into(), label: role_words(*x).into(), selected: *x == u.role })
            .collect(),
        departments: department_choices(s, &department_key),
        can_approve: u.status == UserStatus::Pending,
        can_deactivate: u.status == UserStatus::Approved && u.id != who.user.id,
        can_reactivate: u.status == UserStatus::Deactivated,
        u: r,
        tickets,
        sessions,
        history,
        error,
    };
    let status = if view.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    page(status, &view)
}

pub(crate) async fn user(
    State(s): State<AppState>,
    who: PageUser,
    Path(id): Path<String>,
    Query(q): Query<UserPageQuery>,
) -> Response {
    if let Some(refused) = admins_only(&s, &who) {
        return refused;
    }
    let flash = q.done.as_deref().map(|d| match d {
        "role" => "Role and department saved; they apply from the user's next request.".to_owned(),
        "deactivated" => "Deactivated: every session of the user has ended.".to_owned(),
        "reactivated" => "Reactivated: the user can sign in again.".to_owned(),
        "sessions" => "Every session of the user has ended; they sign in again to continue.".to_owned(),
        "approved" => "Approved; the user got a mail.".to_owned(),
        _ => "Done.".to_owned(),
    });
    user_page(&s, &who, &id, flash, None).await
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct UserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: u64,
    #[serde(default)]
    role: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    reason: String,
    /// Where to go back to: `list` for the users page.
    #[serde(default)]
    back: String,
}

/// Approve, deactivate, reactivate, role, end sessions: one handler, by the action in the
/// address.
pub(crate) async fn change(
    State(s): State<AppState>,
    who: PageUser,
    Path((id, action)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<UserForm>,
) -> Response {
    apply(s, who, id, &action, method, headers, f).await
}

/// Rejecting a registration (its page asks for the reason first).
pub(crate) async fn reject(
    State(s): State<AppState>,
    who: PageUser,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<UserForm>,
) -> Response {
    apply(s, who, id, "reject", method, headers, f).await
}

async fn apply(
    s: AppState,
    who: PageUser,
    id: String,
    action: &str,
    method: Method,
    headers: HeaderMap,
    f: UserForm,
) -> Response {
    if let Some(refused) = admins_only(&s, &who) {
        return refused;
    }
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    let Ok(uid) = id.parse::<UserId>() else {
        return error_page(StatusCode::NOT_FOUND, Layout::of(&s, &who), "There is no such user.");
    };
    let desk = s.desk();
    let p = &who.principal;
    let v = Some(f.version);
    let result = match action {
        "approve" => desk.approve_user(p, uid, v).await.map(|_| "approved"),
        "deactivate" => desk.deactivate_user(p, uid, v).await.map(|_| "deactivated"),
        "reactivate" => desk.reactivate_user(p, uid, v).await.map(|_| "reactivated"),
        "end-sessions" => desk.end_user_sessions(p, uid).await.map(|_| "sessions"),
        "role" => {
            let role = Role::ALL.iter().copied().find(|r| r.as_str() == f.role);
            let department = Some((!f.department.is_empty()).then(|| f.department.clone()));
            desk.change_role(p, uid, role, department, v).await.map(|_| "role")
        }
        "reject" => {
            let reason = f.reason.trim();
            if reason.is_empty() {
                return reject_page(&s, &who, &id, Some("Say why: the person gets the reason by mail.".into())).await;
            }
            desk.reject_user(p, uid, Some(reason), v).await.map(|_| "rejected")
        }
        _ => return error_page(StatusCode::NOT_FOUND, Layout::of(&s, &who), "There is no page at this address."),
    };
    match result {
        Ok(done) if f.back == "list" || done == "rejected" => {
            Redirect::to(&format!("/users?done={done}")).into_response()
        }
        Ok(done) => Redirect::to(&format!("/users/{uid}?done={done}")).into_response(),
        Err(e) => {
            let e = ApiError::from(e);
            let message = e.errors.first().map_or(e.detail.clone(), |x| x.message.clone());
            let message = if e.status == StatusCode::CONFLICT || e.status == StatusCode::PRECONDITION_FAILED {
                "The user changed since you opened the page; here they are now. Nothing was done.".to_owned()
            } else {
                format!("Nothing was done: {message}")
            };
            user_page(&s, &who, &id, None, Some(message)).await
        }
    }
}

#[derive(Template)]
#[template(path = "confirm_reject_user.html")]
struct RejectView {
    layout: Layout,
    u: UserRow,
    error: Option<String>,
}

async fn reject_page(s: &AppState, who: &PageUser, id: &str, error: Option<String>) -> Response {
    let not_found = || error_page(StatusCode::NOT_FOUND, Layout::of(s, who), "There is no such user.");
    let Ok(uid) = id.parse::<UserId>() else { return not_found() };
    let u = match s.desk().user(&who.principal, uid).await {
        Ok(u) if u.status == UserStatus::Pending => u,
        Ok(_) => return Redirect::to(&format!("/users/{uid}")).into_response(),
        Err(_) => return not_found(),
    };
    let r = row(s, &u);
    let name = r.name.clone();
    let href = format!("/users/{uid}");
    let layout =
        Layout::of(s, who).trail(&[("Users", Some("/users")), (&name, Some(&href)), ("Reject the registration", None)]);
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    page(status, &RejectView { layout, u: r, error })
}

pub(crate) async fn confirm_reject(State(s): State<AppState>, who: PageUser, Path(id): Path<String>) -> Response {
    if let Some(refused) = admins_only(&s, &who) {
        return refused;
    }
    reject_page(&s, &who, &id, None).await
}

#[derive(Template)]
#[template(path = "new_user.html")]
struct NewUserView {
    layout: Layout,
    f: NewUserForm,
    roles: Vec<Choice>,
    departments: Vec<Choice>,
    errors: Vec<(String, String)>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct NewUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    company_id: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    role: String,
}

fn new_user_page(s: &AppState, who: &PageUser, f: NewUserForm, errors: Vec<(String, String)>) -> Response {
    let view = NewUserView {
        layout: Layout::of(s, who).trail(&[("Users", Some("/users")), ("New user", None)]),
        roles: Role::ALL
            .iter()
            .map(|x| Choice {
                value: x.as_str().into(),
                label: role_words(*x).into(),
                selected: x.as_str() == f.role || (f.role.is_empty() && *x == Role::Employee),
            })
            .collect(),
        departments: department_choices(s, &f.department),
        f,
        errors,
    };
    let status = if view.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    page(status, &view)
}

pub(crate) async fn new_user_form(State(s): State<AppState>, who: PageUser) -> Response {
    if let Some(refused) = admins_only(&s, &who) {
        return refused;
    }
    new_user_page(&s, &who, NewUserForm::default(), Vec::new())
}

pub(crate) async fn create_user(
    State(s): State<AppState>,
    who: PageUser,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<NewUserForm>,
) -> Response {
    if let Some(refused) = admins_only(&s, &who) {
        return refused;
    }
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    let n = NewUser {
        email: f.email.trim().to_owned(),
        first_name: f.first_name.trim().to_owned(),
        middle_name: None,
        last_name: f.last_name.trim().to_owned(),
        suffix: None,
        company_id: Some(f.company_id.trim().to_owned()).filter(|c| !c.is_empty()),
        department: Some(f.department.clone()).filter(|d| !d.is_empty()),
        role: Role::ALL.iter().copied().find(|r| r.as_str() == f.role).unwrap_or(Role::Employee),
    };
    match s.desk().create_user(&who.principal, n).await {
        Ok(_) => Redirect::to("/users?done=invited").into_response(),
        Err(e) => {
            let e = ApiError::from(e);
            let errors = if e.errors.is_empty() {
                vec![(String::new(), e.detail.clone())]
            } else {
                e.errors.iter().map(|x| (x.field.clone(), x.message.clone())).collect()
            };
            new_user_page(&s, &who, f, errors)
        }
    }
}
