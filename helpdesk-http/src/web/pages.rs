//! The pages so far: sign in (with the forced password change of a first sign-in), sign out,
//! and the employee's tickets. Each handler calls the core use case the JSON route calls.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use helpdesk_core::LoginRequest;
use helpdesk_core::domain::TicketStatus;
use helpdesk_core::password::Password;
use helpdesk_core::ports::{SortDirection, TicketQuery, TicketSort, TicketSortField};
use serde::Deserialize;

use super::session::{self, PageUser};
use super::{Layout, error_page, page};
use crate::auth::ClientAddress;
use crate::error::ApiError;
use crate::state::AppState;
use crate::throttle::Limited;

/// What an employee reads for each status (SPEC's names are the staff's).
pub(crate) fn status_label(s: TicketStatus) -> &'static str {
    match s {
        TicketStatus::New => "Waiting for review",
        TicketStatus::Open => "Accepted",
        TicketStatus::InProgress => "In progress",
        TicketStatus::OnHold => "On hold",
        TicketStatus::Pending => "Waiting for you",
        TicketStatus::Resolved => "Resolved",
        TicketStatus::Closed => "Closed",
        TicketStatus::Rejected => "Rejected",
        TicketStatus::Withdrawn => "Withdrawn",
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInView {
    layout: Layout,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

pub(crate) async fn sign_in_form(Query(q): Query<NextQuery>) -> Response {
    let next = session::local_path(q.next.as_deref().unwrap_or("/")).to_owned();
    page(StatusCode::OK, &SignInView { layout: Layout::anonymous(), email: String::new(), next, error: None })
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignInForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// The message a refused sign-in shows (the API's problem, in words for the page).
fn sign_in_refusal(e: &ApiError) -> String {
    match e.code {
        "auth.invalid_credentials" => "Wrong email or password.".to_owned(),
        "auth.account_pending" => "Your registration is waiting for an administrator's approval.".to_owned(),
        "auth.account_deactivated" => "This account is deactivated; ask an administrator.".to_owned(),
        "rate_limited" => match e.retry_after {
            Some(secs) => format!("Too many attempts. Try again in {secs} seconds."),
            None => "Too many attempts. Try again later.".to_owned(),
        },
        _ => e.detail.clone(),
    }
}

pub(crate) async fn sign_in(
    State(s): State<AppState>,
    method: Method,
    headers: HeaderMap,
    addr: ClientAddress,
    Form(f): Form<SignInForm>,
) -> Response {
    if !session::same_origin(&s, &method, &headers) {
        return error_page(StatusCode::FORBIDDEN, Layout::anonymous(), "This form was sent from another site.");
    }
    let next = session::local_path(&f.next).to_owned();
    let attempt = match s.limiter().check(Limited::Login, addr.0.as_deref()) {
        Ok(()) => s
            .desk()
            .login(LoginRequest { email: f.email.clone(), password: Password::new(f.password), address: addr.get() })
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match attempt {
        Ok(issued) => {
            let Some(cookie) = session::sign_in_cookie(&s, issued.session.id) else {
                return error_page(StatusCode::INTERNAL_SERVER_ERROR, Layout::anonymous(), "Signing in failed.");
            };
            let to = if issued.user.must_change_password { "/password".to_owned() } else { next };
            let mut res = Redirect::to(&to).into_response();
            res.headers_mut().insert(header::SET_COOKIE, cookie);
            res
        }
        Err(e) => {
            let status = if e.status == StatusCode::TOO_MANY_REQUESTS { e.status } else { StatusCode::OK };
            let view =
                SignInView { layout: Layout::anonymous(), email: f.email, next, error: Some(sign_in_refusal(&e)) };
            let mut res = page(status, &view);
            if let Some(secs) = e.retry_after
                && let Ok(v) = secs.to_string().parse()
            {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Checks a `multipart/form-data` form, whose first part must be the session's token (read
/// before any file is).
pub(crate) async fn multipart_allowed(
    s: &AppState,
    who: &PageUser,
    method: &Method,
    headers: &HeaderMap,
    form: &mut axum::extract::Multipart,
) -> Option<Response> {
    let csrf = match form.next_field().await {
        Ok(Some(field)) if field.name() == Some("csrf") => field.text().await.unwrap_or_default(),
        _ => String::new(),
    };
    form_allowed(s, who, method, headers, &csrf)
}

/// The suffixes a name may carry (SPEC §2), `""` for none.
pub(crate) fn suffix_choices() -> Vec<String> {
    ["", "Jr.", "Sr.", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"].map(String::from).to_vec()
}

/// Checks a state-changing form: same origin and the session's token.
pub(crate) fn form_allowed(
    s: &AppState,
    who: &PageUser,
    method: &Method,
    headers: &HeaderMap,
    csrf: &str,
) -> Option<Response> {
    if session::same_origin(s, method, headers) && session::csrf_ok(s, who.session, csrf) {
        None
    } else {
        Some(error_page(
            StatusCode::FORBIDDEN,
            Layout::of(s, who),
            "This form has expired or was sent from another site. Reload the page and try again.",
        ))
    }
}

pub(crate) async fn sign_out(
    State(s): State<AppState>,
    who: PageUser,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    if let Err(e) = s.desk().logout(&who.principal).await {
        let e = ApiError::from(e);
        return error_page(e.status, Layout::of(&s, &who), &e.detail);
    }
    let mut res = Redirect::to("/sign-in").into_response();
    if let Some(cookie) = session::sign_out_cookie(&s) {
        res.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    res
}

/// A requester action offered on a row of a list (each leads to its confirmation page).
#[derive(Debug)]
struct RowAction {
    href: String,
    label: &'static str,
}

/// One row of the employee's list.
#[derive(Debug)]
struct TicketRow {
    number: String,
    subject: String,
    status_key: &'static str,
    status_label: &'static str,
    updated: String,
    updated_iso: String,
    actions: Vec<RowAction>,
}

/// The rows for `tickets`, with the close / withdraw actions the lifecycle allows now.
fn rows(s: &AppState, who: &PageUser, tickets: &[helpdesk_core::model::Ticket]) -> Vec<TicketRow> {
    use helpdesk_core::lifecycle::Action;
    tickets
        .iter()
        .map(|t| {
            let allowed = s.desk().view(&who.principal, t.clone()).actions;
            let actions = [(Action::Close, "Close"), (Action::Withdraw, "Withdraw")]
                .into_iter()
                .filter(|(a, _)| allowed.contains(a))
                .map(|(a, label)| RowAction { href: format!("/tickets/{}/{}", t.number, a.as_str()), label })
                .collect();
            let (updated, updated_iso) = super::when(t.updated_at);
            TicketRow {
                number: t.number.to_string(),
                subject: t.subject.to_string(),
                status_key: t.status.as_str(),
                status_label: status_label(t.status),
                updated,
                updated_iso,
                actions,
            }
        })
        .collect()
}

/// A filter link above the list, with how many tickets it shows.
#[derive(Debug)]
struct FilterLink {
    label: &'static str,
    href: String,
    count: u64,
    current: bool,
}

/// A status and how many of the employee's tickets have it, linking to them.
#[derive(Debug)]
struct StatusCard {
    key: &'static str,
    label: &'static str,
    count: u64,
    href: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomeView {
    layout: Layout,
    first_name: String,
    notice: Option<String>,
    cards: Vec<StatusCard>,
    total: u64,
    recent: Vec<TicketRow>,
    /// Colleagues' tickets the employee follows, most recently updated first (ten at most).
    followed: Vec<TicketRow>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct HomeQuery {
    /// Set after stopping to follow a ticket.
    unfollowed: Option<String>,
}

#[derive(Template)]
#[template(path = "my_tickets.html")]
struct MyTicketsView {
    layout: Layout,
    tickets: Vec<TicketRow>,
    filters: Vec<FilterLink>,
    show: String,
    show_label: &'static str,
    q: String,
    sort: String,
    next: Option<String>,
    any_filter: bool,
    /// The tickets the user follows rather than the ones they filed.
    following: bool,
}

/// The list's view, from the address bar (so a view can be bookmarked).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    /// `following`: the tickets the user follows.
    whose: Option<String>,
    show: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    after: Option<String>,
}

/// The status groups an employee filters by.
const SHOWS: &[(&str, &str, &[TicketStatus])] = &[
    ("all", "All", &[]),
    (
        "active",
        "Active",
        &[TicketStatus::New, TicketStatus::Open, TicketStatus::InProgress, TicketStatus::OnHold, TicketStatus::Pending],
    ),
    ("waiting", "Waiting for you", &[TicketStatus::Pending]),
    ("resolved", "Resolved", &[TicketStatus::Resolved]),
    ("done", "Closed or withdrawn", &[TicketStatus::Closed, TicketStatus::Withdrawn, TicketStatus::Rejected]),
];

/// A `show=` value: a group above or one status (the dashboard's cards link to those).
fn show_of(key: Option<&str>) -> (&'static str, &'static str, Vec<TicketStatus>) {
    if let Some((k, label, statuses)) = SHOWS.iter().find(|(k, ..)| Some(*k) == key) {
        return (k, label, statuses.to_vec());
    }
    match TicketStatus::ALL.iter().find(|st| Some(st.as_str()) == key) {
        Some(st) => (st.as_str(), status_label(*st), vec![*st]),
        None => ("all", "All", Vec::new()),
    }
}

fn list_href(following: bool, show: &str, q: &str, sort: &str, after: Option<&str>) -> String {
    let mut parts = vec![format!("show={}", super::encode(show))];
    if following {
        parts.insert(0, "whose=following".to_owned());
    }
    if !q.is_empty() {
        parts.push(format!("q={}", super::encode(q)));
    }
    if sort != "updated" {
        parts.push(format!("sort={}", super::encode(sort)));
    }
    if let Some(a) = after {
        parts.push(format!("after={}", super::encode(a)));
    }
    format!("/tickets?{}", parts.join("&"))
}

/// The query for the tickets this user filed (for staff too: their desk is another page).
fn own_tickets(who: &PageUser) -> TicketQuery {
    TicketQuery { requester: Some(who.user.id), ..TicketQuery::default() }
}

fn count_of(counts: &[(TicketStatus, u64)], statuses: &[TicketStatus]) -> u64 {
    counts.iter().filter(|(st, _)| statuses.is_empty() || statuses.contains(st)).map(|(_, n)| n).sum()
}

/// The home page: a welcome, the deployment's notice, counts per status and the five
/// tickets changed last.
pub(crate) async fn home(State(s): State<AppState>, who: PageUser, Query(hq): Query<HomeQuery>) -> Response {
    if who.user.must_change_password {
        return Redirect::to("/password").into_response();
    }
    if who.user.role.is_staff() {
        return super::desk::staff_home(&s, &who).await;
    }
    let recent_query = TicketQuery {
        sort: TicketSort { field: TicketSortField::Updated, direction: SortDirection::Desc },
        limit: helpdesk_core::ports::PageSize::new(5).unwrap_or_default(),
        ..own_tickets(&who)
    };
    let followed_query = TicketQuery {
        follower: Some(who.user.id),
        sort: TicketSort { field: TicketSortField::Updated, direction: SortDirection::Desc },
        limit: helpdesk_core::ports::PageSize::new(10).unwrap_or_default(),
        ..TicketQuery::default()
    };
    let desk = s.desk();
    let loaded = async {
        let counts = desk.ticket_counts(&who.principal, &own_tickets(&who)).await?;
        let recent = desk.list_tickets(&who.principal, &recent_query).await?;
        let followed = desk.list_tickets(&who.principal, &followed_query).await?;
        Ok::<_, helpdesk_core::Error>((counts, recent, followed))
    };
    let (counts, recent, followed) = match loaded.await {
        Ok(x) => x,
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, Layout::of(&s, &who), &e.detail);
        }
    };
    let cards = counts
        .iter()
        .map(|(st, n)| StatusCard {
            key: st.as_str(),
            label: status_label(*st),
            count: *n,
            href: list_href(false, st.as_str(), "", "updated", None),
        })
        .collect();
    let flash = hq.unfollowed.is_some().then(|| "You no longer follow that ticket.".to_owned());
    let view = HomeView {
        layout: Layout::of(&s, &who).flash(flash),
        first_name: who.user.first_name.to_string(),
        notice: s.options().web.notice.clone(),
        cards,
        total: count_of(&counts, &[]),
        recent: rows(&s, &who, &recent.items),
        followed: rows(&s, &who, &followed.items),
    };
    page(StatusCode::OK, &view)
}

/// The employee's tickets: filters by status (with counts), search, sort and paging.
pub(crate) async fn my_tickets(State(s): State<AppState>, who: PageUser, Query(lq): Query<ListQuery>) -> Response {
    if who.user.must_change_password {
        return Redirect::to("/password").into_response();
    }
    let (show, show_label, statuses) = show_of(lq.show.as_deref());
    let q = lq.q.as_deref().map(str::trim).unwrap_or_default().to_owned();
    let sort = if lq.sort.as_deref() == Some("created") { "created" } else { "updated" };
    let cursor = lq.after.as_deref().and_then(|a| helpdesk_core::ports::Cursor::decode(a).ok());
    let following = lq.whose.as_deref() == Some("following");
    let whose = if following {
        TicketQuery { follower: Some(who.user.id), ..TicketQuery::default() }
    } else {
        own_tickets(&who)
    };
    let query = TicketQuery {
        statuses,
        text: (!q.is_empty()).then(|| q.clone()),
        sort: TicketSort {
            field: if sort == "created" { TicketSortField::Created } else { TicketSortField::Updated },
            direction: SortDirection::Desc,
        },
        cursor,
        limit: helpdesk_core::ports::PageSize::new(25).unwrap_or_default(),
        ..whose
    };
    let desk = s.desk();
    let loaded = async {
        let page_of = desk.list_tickets(&who.principal, &query).await?;
        let counts = desk.ticket_counts(&who.principal, &query).await?;
        Ok::<_, helpdesk_core::Error>((page_of, counts))
    };
    let (page_of, counts) = match loaded.await {
        Ok(x) => x,
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, Layout::of(&s, &who), &e.detail);
        }
    };
    let mut filters: Vec<FilterLink> = SHOWS
        .iter()
        .map(|(key, label, statuses)| FilterLink {
            label,
            href: list_href(following, key, &q, sort, None),
            count: count_of(&counts, statuses),
            current: *key == show,
        })
        .collect();
    if !SHOWS.iter().any(|(k, ..)| *k == show) {
        filters.push(FilterLink {
            label: show_label,
            href: list_href(following, show, &q, sort, None),
            count: count_of(&counts, &query.statuses),
            current: true,
        });
    }
    let next = page_of.next.map(|c| list_href(following, show, &q, sort, Some(&c.encode())));
    let title = if following { "Tickets you follow" } else { "My tickets" };
    let view = MyTicketsView {
        layout: Layout::of(&s, &who).trail(&[(title, None)]),
        tickets: rows(&s, &who, &page_of.items),
        filters,
        show: show.to_owned(),
        show_label,
        q: q.clone(),
        sort: sort.to_owned(),
        next,
        any_filter: show != "all" || !q.is_empty(),
        following,
    };
    page(StatusCode::OK, &view)
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordView {
    layout: Layout,
    forced: bool,
    error: Option<String>,
}

pub(crate) async fn password_form(State(s): State<AppState>, who: PageUser) -> Response {
    let forced = who.user.must_change_password;
    page(StatusCode::OK, &PasswordView { layout: Layout::of(&s, &who), forced, error: None })
}

#[derive(Debug, Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    csrf: String,
    current_password: String,
    new_password: String,
    confirm_password: String,
}

pub(crate) async fn change_password(
    State(s): State<AppState>,
    who: PageUser,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<PasswordForm>,
) -> Response {
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    let forced = who.user.must_change_password;
    let refuse = |message: String| {
        page(StatusCode::OK, &PasswordView { layout: Layout::of(&s, &who), forced, error: Some(message) })
    };
    if f.new_password != f.confirm_password {
        return refuse("The new password and its confirmation differ.".to_owned());
    }
    match s
        .desk()
        .change_password(&who.principal, Password::new(f.current_password), Password::new(f.new_password))
        .await
    {
        Ok(()) => Redirect::to("/").into_response(),
        Err(e) => {
            let e = ApiError::from(e);
            let message = match e.errors.first() {
                Some(field) => field.message.clone(),
                None => e.detail.clone(),
            };
            refuse(message)
        }
    }
}
