//! The admin's records: the rejected-registrations list (what is kept of a rejected
//! registration once its personal data is gone) and the security audit log (sign-ins and their
//! failures, denials, password and role changes, key changes, downloads), filtered by kind and
//! paged, newest first.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use helpdesk_core::domain::Role;
use helpdesk_core::model::{ActorRef, AuditKind};
use helpdesk_core::ports::{AuditQuery, Cursor, PageSize};
use serde::Deserialize;

use super::session::PageUser;
use super::{Layout, encode, error_page, page, when};
use crate::error::ApiError;
use crate::state::AppState;

fn admins_only(s: &AppState, who: &PageUser) -> Option<Response> {
    (who.user.role != Role::Admin)
        .then(|| error_page(StatusCode::NOT_FOUND, Layout::of(s, who), "There is no page at this address."))
}

/// Every audit kind with its words, in the order the filter lists them.
const KINDS: &[(AuditKind, &str)] = &[
    (AuditKind::LoginSucceeded, "Signed in"),
    (AuditKind::LoginFailed, "Sign-in failed"),
    (AuditKind::LoginThrottled, "Sign-in throttled"),
    (AuditKind::RefreshReused, "Refresh token reused"),
    (AuditKind::PasswordChanged, "Password changed"),
    (AuditKind::PasswordResetRequested, "Password reset asked"),
    (AuditKind::AccessDenied, "Access denied"),
    (AuditKind::AttachmentDownloaded, "File downloaded"),
    (AuditKind::UserAdministered, "User administered"),
    (AuditKind::ApiKeyChanged, "API key changed"),
    (AuditKind::OutboxRetried, "Mail retried"),
    (AuditKind::MailBounced, "Mail bounced"),
];

fn kind_key(k: AuditKind) -> String {
    serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

#[derive(Debug)]
struct RejectionRow {
    name: String,
    email: String,
    company_id: String,
    reason: String,
    at: String,
    at_iso: String,
}

#[derive(Template)]
#[template(path = "rejections.html")]
struct RejectionsView {
    layout: Layout,
    rows: Vec<RejectionRow>,
    total: u64,
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    after: Option<String>,
    kind: Option<String>,
}

pub(crate) async fn rejections(State(s): State<AppState>, who: PageUser, Query(q): Query<PageQuery>) -> Response {
    if let Some(refused) = admins_only(&s, &who) {
        return refused;
    }
    let cursor = q.after.as_deref().and_then(|a| Cursor::decode(a).ok());
    let (page_of, total) =
        match s.desk().rejections(&who.principal, cursor, PageSize::new(50).unwrap_or_default()).await {
            Ok(x) => x,
            Err(e) => {
                let e = ApiError::from(e);
                return error_page(e.status, Layout::of(&s, &who), &e.detail);
            }
        };
    let rows = page_of
        .items
        .iter()
        .map(|r| {
            let (at, at_iso) = when(r.rejected_at);
            RejectionRow {
                name: format!("{} {}", r.first_name.as_str(), r.last_name.as_str()),
                email: r.email.to_string(),
                company_id: r.company_id.to_string(),
                reason: r.reason.as_ref().map(ToString::to_string).unwrap_or_default(),
                at,
                at_iso,
            }
        })
        .collect();
    let view = RejectionsView {
        layout: Layout::of(&s, &who).trail(&[("Users", Some("/users")), ("Rejected registrations", None)]),
        rows,
        total,
        next: page_of.next.map(|c| format!("/users/rejections?after={}", encode(&c.encode()))),
    };
    page(StatusCode::OK, &view)
}

#[derive(Debug)]
struct AuditRow {
    kind: &'static str,
    actor: String,
    target: String,
    address: String,
    detail: String,
    at: String,
    at_iso: String,
}

#[derive(Debug)]
struct KindChoice {
    value: String,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditView {
    layout: Layout,
    kinds: Vec<KindChoice>,
    rows: Vec<AuditRow>,
    next: Option<String>,
}

pub(crate) async fn audit(State(s): State<AppState>, who: PageUser, Query(q): Query<PageQuery>) -> Response {
    if let Some(refused) = admins_only(&s, &who) {
        return refused;
    }
    let kind = q.kind.as_deref().and_then(|k| KINDS.iter().find(|(x, _)| kind_key(*x) == k)).map(|(x, _)| *x);
    let query = AuditQuery {
        kind,
        target: None,
        cursor: q.after.as_deref().and_then(|a| Cursor::decode(a).ok()),
        limit: PageSize::new(50).unwrap_or_default(),
    };
    let desk = s.desk();
    let loaded = async {
        let entries = desk.audit_log(&who.principal, &query).await?;
        let staff = desk.list_staff(&who.principal).await?;
        Ok::<_, helpdesk_core::Error>((entries, staff))
    };
    let (entries, staff) = match loaded.await {
        Ok(x) => x,
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, Layout::of(&s, &who), &e.detail);
        }
    };
    let rows = entries
        .items
        .iter()
        .map(|e| {
            let (at, at_iso) = when(e.at);
            AuditRow {
                kind: KINDS.iter().find(|(k, _)| *k == e.kind).map_or("Other", |(_, w)| w),
                actor: match &e.actor {
                    None => "—".to_owned(),
                    Some(ActorRef::User { id }) => {
                        staff.iter().find(|u| u.id == *id).map_or_else(|| format!("user {id}"), |u| u.name.clone())
                    }
                    Some(ActorRef::ExternalSystem { name, .. }) => name.clone(),
                    Some(ActorRef::System) => "helpdesk".to_owned(),
                },
                target: e.target.clone().unwrap_or_default(),
                address: e.address.clone().unwrap_or_default(),
                detail: e.detail.clone(),
                at,
                at_iso,
            }
        })
        .collect();
    let kind_param = kind.map(kind_key).unwrap_or_default();
    let view = AuditView {
        layout: Layout::of(&s, &who).trail(&[("Users", Some("/users")), ("Audit log", None)]),
        kinds: KINDS
            .iter()
            .map(|(k, label)| KindChoice { value: kind_key(*k), label, selected: Some(*k) == kind })
            .collect(),
        rows,
        next: entries.next.map(|c| format!("/audit?kind={}&after={}", encode(&kind_param), encode(&c.encode()))),
    };
    page(StatusCode::OK, &view)
}
