//! The web pages (SPEC §10), behind the default `web` feature: server-rendered HTML from
//! askama templates (checked at compile time, auto-escaped), usable without script, a strict CSP, and a
//! stylesheet embedded in the binary under a content-hashed name. Handlers call the same core
//! use cases as the JSON routes; a page is a view of core's answer, never a second rule.
//!
//! The employee's pages: signing in and out on cookie sessions ([`session`]), registration,
//! forgotten passwords and invitations ([`accounts`]), home and the list of one's tickets
//! ([`pages`]), filing a ticket ([`filing`]) and the ticket page ([`tickets`]), files ([`attachments`]),
//! the profile ([`profile`]). The staff's: the home and the queue ([`desk`]), lifecycle actions
//! and edits ([`actions`], for requesters too), users ([`users`]), the records ([`audit`]),
//! reports with server-drawn charts ([`reports`], [`charts`]), keys, deliveries and the system
//! ([`integrations`]). Everyone's: in-app notifications ([`notices`]) and the live-update
//! stream the pages listen to ([`live`]).

mod accounts;
mod actions;
mod attachments;
mod audit;
mod charts;
mod desk;
mod desk_bulk;
mod desk_views;
mod field_defs;
mod fields;
mod filing;
mod followers;
mod integrations;
mod links;
mod live;
mod macros;
mod mail_confirm;
mod notices;
mod pages;
mod profile;
mod rating;
mod reports;
mod reports_csat;
mod reports_sla;
mod session;
mod tickets;
mod users;

use std::sync::OnceLock;

use askama::Template;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::state::AppState;
pub(crate) use session::{NoSession, PageUser};

/// The pages' content security policy: nothing but the help desk's own files.
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                        form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A file the pages load, embedded in the binary and served under a content-hashed name.
struct Asset {
    stem: &'static str,
    ext: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        stem: "app",
        ext: "css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../static/app.css"),
    },
    Asset {
        stem: "app",
        ext: "js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/app.js"),
    },
    Asset { stem: "icon", ext: "svg", content_type: "image/svg+xml", bytes: include_bytes!("../../static/icon.svg") },
];

/// The assets' URLs (`/static/app.<hash>.css`), which change whenever their content does.
fn asset_urls() -> &'static [String] {
    static URLS: OnceLock<Vec<String>> = OnceLock::new();
    URLS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                use sha2::Digest as _;
                let digest = sha2::Sha256::digest(a.bytes);
                let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
                format!("/static/{}.{hash}.{}", a.stem, a.ext)
            })
            .collect()
    })
}

fn stylesheet_url() -> &'static str {
    asset_urls().first().map_or("/static/app.css", String::as_str)
}

/// The help desk's icon (browsers ask for one; without it they log a 404 on every page).
fn icon_url() -> &'static str {
    asset_urls().get(2).map_or("/static/icon.svg", String::as_str)
}

/// The enhancing script (mailed tokens from the URL fragment, password show/hide).
fn script_url() -> &'static str {
    asset_urls().get(1).map_or("/static/app.js", String::as_str)
}

/// The page routes, mounted at `/` beside `/api/v1`.
pub(crate) fn router(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/tickets", get(pages::my_tickets))
        .route("/desk", get(desk::queue))
        .route("/desk/tickets.csv", get(desk::export))
        .route("/desk/bulk", axum::routing::post(desk_bulk::bulk))
        .route("/desk/views", axum::routing::post(desk_views::save))
        .route("/desk/views/{id}/{action}", axum::routing::post(desk_views::change))
        .route("/reports", get(reports::reports))
        .route("/macros", get(macros::macros).post(macros::create))
        .route("/fields", get(field_defs::list).post(field_defs::create))
        .route("/fields/{key}", get(field_defs::edit_form).post(field_defs::update))
        .route("/macros/{id}", get(macros::edit_form).post(macros::update))
        .route("/macros/{id}/delete", axum::routing::post(macros::delete))
        .route("/tickets/{number}/macro", get(macros::preview).post(macros::apply))
        .route("/users/rejections", get(audit::rejections))
        .route("/audit", get(audit::audit))
        .route("/integrations", get(integrations::integrations))
        .route("/integrations/keys", axum::routing::post(integrations::create_key))
        .route("/integrations/keys/{id}/revoke", axum::routing::post(integrations::revoke_key))
        .route("/integrations/outbox/{id}/retry", axum::routing::post(integrations::retry))
        .route("/users", get(users::users))
        .route("/users/new", get(users::new_user_form).post(users::create_user))
        .route("/users/{id}", get(users::user))
        .route("/users/{id}/reject", get(users::confirm_reject).post(users::reject))
        .route("/users/{id}/{action}", axum::routing::post(users::change))
        .route("/sign-in", get(pages::sign_in_form).post(pages::sign_in))
        .route("/sign-out", axum::routing::post(pages::sign_out))
        .route("/password", get(pages::password_form).post(pages::change_password))
        .route(
            "/tickets/new",
            get(filing::new_ticket_form)
                .post(filing::create_ticket)
                .layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route("/tickets/{number}", get(tickets::ticket_page))
        .route(
            "/tickets/{number}/comments",
            axum::routing::post(tickets::add_comment).layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/tickets/{number}/files",
            axum::routing::post(attachments::upload).layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route("/attachments/{id}", get(attachments::download))
        .route("/attachments/{id}/preview", get(attachments::preview))
        .route("/profile", get(profile::profile).post(profile::save))
        .route(
            "/profile/sign-out-elsewhere",
            get(profile::confirm_sign_out_elsewhere).post(profile::sign_out_elsewhere),
        )
        .route(
            "/profile/avatar",
            axum::routing::post(profile::upload_avatar).layer(axum::extract::DefaultBodyLimit::max(3 << 20)),
        )
        .route("/avatars/{id}", get(profile::avatar))
        .route("/tickets/{number}/edit", axum::routing::post(actions::edit))
        .route("/tickets/{number}/tags", axum::routing::post(actions::tags))
        .route("/tickets/{number}/fields", axum::routing::post(fields::save))
        .route("/tickets/{number}/followers", axum::routing::post(followers::add))
        .route("/tickets/{number}/links", axum::routing::post(links::add))
        .route("/tickets/{number}/links/{other}/remove", axum::routing::post(links::remove))
        .route("/tickets/{number}/merge", get(links::merge_form).post(links::merge))
        .route("/tickets/{number}/followers/{user}/remove", axum::routing::post(followers::remove))
        .route("/tickets/{number}/{action}", get(actions::action_form).post(actions::act))
        .route(
            "/register",
            get(accounts::register_form).post(accounts::register).layer(axum::extract::DefaultBodyLimit::max(3 << 20)),
        )
        .route("/forgot-password", get(accounts::forgot_form).post(accounts::forgot))
        .route("/reset-password", get(accounts::reset_form).post(accounts::reset))
        .route("/accept-invitation", get(accounts::invitation_form).post(accounts::accept_invitation))
        .route("/rate/{number}/{token}", get(rating::rate_form).post(rating::rate))
        .route("/mail/confirm/{id}/{token}", get(mail_confirm::confirm_form).post(mail_confirm::confirm))
        .route("/notifications", get(notices::notices))
        .route("/notifications/read", axum::routing::post(notices::mark_all_read))
        .route("/notifications/{id}/{action}", axum::routing::post(notices::mark_read))
        .route("/live", get(live::live))
        .route("/static/{file}", get(static_file))
}

async fn static_file(Path(file): Path<String>) -> Response {
    let path = format!("/static/{file}");
    let Some(i) = asset_urls().iter().position(|u| *u == path) else { return StatusCode::NOT_FOUND.into_response() };
    let Some(asset) = ASSETS.get(i) else { return StatusCode::NOT_FOUND.into_response() };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
        ],
        asset.bytes,
    )
        .into_response()
}

/// Who is signed in, as the header shows them.
#[derive(Debug, Clone)]
pub(crate) struct Me {
    staff: bool,
    admin: bool,
    name: String,
    email: String,
    initials: String,
    avatar: Option<String>,
    unread: u64,
}

/// One step of the breadcrumb trail; the last one is the page itself (no link).
#[derive(Debug, Clone)]
pub(crate) struct Crumb {
    label: String,
    href: Option<String>,
}

/// What every page's layout needs.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    stylesheet: &'static str,
    script: &'static str,
    icon: &'static str,
    me: Option<Me>,
    csrf: String,
    flash: Option<String>,
    crumbs: Vec<Crumb>,
}

impl Layout {
    /// The layout for a visitor who is not signed in.
    fn anonymous() -> Self {
        Self {
            stylesheet: stylesheet_url(),
            script: script_url(),
            icon: icon_url(),
            me: None,
            csrf: String::new(),
            flash: None,
            crumbs: Vec::new(),
        }
    }

    /// With a breadcrumb trail: `(label, link)` pairs from the top; the page itself last,
    /// without a link. Signed-in pages start from "Home".
    fn trail(mut self, steps: &[(&str, Option<&str>)]) -> Self {
        let home = self.me.is_some().then(|| Crumb { label: "Home".to_owned(), href: Some("/".to_owned()) });
        self.crumbs = home
            .into_iter()
            .chain(
                steps.iter().map(|(label, href)| Crumb { label: (*label).to_owned(), href: href.map(str::to_owned) }),
            )
            .collect();
        self
    }

    /// The main navigation's entry this page belongs to (the trail's first step after
    /// "Home"; "Home" itself when there is none), for `aria-current` in the header.
    fn section(&self) -> &str {
        self.crumbs.get(1).or(self.crumbs.first()).map_or("Home", |c| c.label.as_str())
    }

    /// With a one-time message on top.
    fn flash(mut self, message: Option<String>) -> Self {
        self.flash = message;
        self
    }

    /// The layout for `who`, with its form token.
    fn of(state: &AppState, who: &PageUser) -> Self {
        let u = &who.user;
        let initials: String =
            [u.first_name.as_str(), u.last_name.as_str()].iter().filter_map(|n| n.chars().next()).collect();
        Self {
            stylesheet: stylesheet_url(),
            script: script_url(),
            icon: icon_url(),
            me: Some(Me {
                staff: u.role.is_staff(),
                admin: u.role == helpdesk_core::domain::Role::Admin,
                name: u.display_name(),
                email: u.email.to_string(),
                initials: initials.to_uppercase(),
                avatar: avatar_url(u.id, u.avatar.as_ref()),
                unread: who.unread,
            }),
            csrf: session::csrf_token(state, who.session),
            flash: None,
            crumbs: Vec::new(),
        }
    }
}

/// Renders `view` as a page with `status` and the page headers.
fn page(status: StatusCode, view: &impl Template) -> Response {
    match view.render() {
        Ok(html) => {
            let mut res = (status, html).into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "rendering a page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// An error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorView {
    layout: Layout,
    heading: String,
    message: String,
}

/// The page for `status` with `message`.
pub(crate) fn error_page(status: StatusCode, layout: Layout, message: &str) -> Response {
    let heading = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::SERVICE_UNAVAILABLE => "Temporarily unavailable",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        StatusCode::GONE => "Link expired",
        StatusCode::CONFLICT => "Cannot do that now",
        _ => "Something went wrong",
    };
    page(status, &ErrorView { layout, heading: heading.to_owned(), message: message.to_owned() })
}

impl IntoResponse for NoSession {
    fn into_response(self) -> Response {
        match self {
            NoSession::SignIn { next } => {
                let next = session::local_path(&next);
                let target =
                    if next == "/" { "/sign-in".to_owned() } else { format!("/sign-in?next={}", encode(next)) };
                Redirect::to(&target).into_response()
            }
            NoSession::ChangePassword => Redirect::to("/password").into_response(),
            NoSession::Unavailable => error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                Layout::anonymous(),
                "The help desk cannot reach its storage right now. Please try again in a moment.",
            ),
        }
    }
}

/// The address of a user's avatar, versioned by its storage key (so a new picture is a new
/// address and browsers may keep each one); `None` without a picture.
pub(crate) fn avatar_url(
    user: helpdesk_core::domain::UserId,
    key: Option<&helpdesk_core::domain::StorageKey>,
) -> Option<String> {
    key.map(|k| format!("/avatars/{user}?v={}", k.as_str().rsplit('/').next().unwrap_or("0")))
}

/// Initials of a name, for a picture's place.
pub(crate) fn initials(name: &str) -> String {
    name.split_whitespace().filter_map(|w| w.chars().next()).take(2).collect::<String>().to_uppercase()
}

/// A department's name from the catalogue (its key if the catalogue no longer has it), or
/// `none` when there is no department.
pub(crate) fn department_name(s: &AppState, key: Option<&helpdesk_core::domain::DepartmentKey>, none: &str) -> String {
    match key {
        None => none.to_owned(),
        Some(d) => {
            let names = &s.desk().options().catalog.departments;
            names.iter().find(|x| x.key == *d).map_or_else(|| d.to_string(), |x| x.name.clone())
        }
    }
}

/// A choice of a select list or a set of checkboxes.
#[derive(Debug)]
pub(crate) struct Choice {
    pub(crate) value: String,
    pub(crate) label: String,
    pub(crate) selected: bool,
}

/// The catalogue's departments as choices, `selected` the chosen key.
pub(crate) fn department_choices(s: &AppState, selected: &str) -> Vec<Choice> {
    let departments = &s.desk().options().catalog.departments;
    departments
        .iter()
        .map(|d| Choice { value: d.key.to_string(), label: d.name.clone(), selected: d.key.as_str() == selected })
        .collect()
}

/// A time as the pages show it (`2026-11-30 09:30 UTC`) and as `<time datetime>` takes it
/// (RFC 3339), written by hand: `chrono`'s `format` parses its pattern on every call, and a
/// ticket page shows a dozen times.
pub(crate) fn when(at: chrono::DateTime<chrono::Utc>) -> (String, String) {
    use chrono::{Datelike as _, Timelike as _};
    let shown = format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", at.year(), at.month(), at.day(), at.hour(), at.minute());
    (shown, at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The 404 page for unknown page routes (the API keeps its problem details).
/// The page for anyone but staff on a staff page: there is no such page for them.
pub(crate) fn staff_only(s: &AppState, who: &session::PageUser) -> Option<Response> {
    (!who.user.role.is_staff())
        .then(|| error_page(StatusCode::NOT_FOUND, Layout::of(s, who), "There is no page at this address."))
}

/// A form of one button: its token only.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    pub(crate) csrf: String,
}

pub(crate) fn not_found() -> Response {
    error_page(StatusCode::NOT_FOUND, Layout::anonymous(), "There is no page at this address.")
}
