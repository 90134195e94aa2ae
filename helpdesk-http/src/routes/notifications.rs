//! In-app notifications over the API: the same notices the pages' bell lists (what happened to
//! which ticket, never its content), with the unread count; mark one or all read. For users
//! only (an external system's key has none).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use helpdesk_core::domain::NoticeId;
use helpdesk_core::model::{Notice, NoticeKind};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiQuery, OptionalJson};
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_notifications)).routes(routes!(mark_read))
}

/// One notification.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationOut {
    /// Id (for marking it read).
    pub id: Uuid,
    /// The ticket's number (`GET /tickets/{number}`).
    pub ticket: String,
    /// The ticket's subject when the notification was made.
    pub subject: String,
    /// `status_changed`, `commented`, `assigned`, `requester_answered`, `new_ticket` or `rated`.
    pub kind: String,
    /// The new status, for `status_changed`.
    pub status: Option<String>,
    /// `good` or `bad`, for `rated`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it was marked read; null while unread.
    pub read_at: Option<DateTime<Utc>>,
}

impl From<&Notice> for NotificationOut {
    fn from(n: &Notice) -> Self {
        let (kind, status, rating) = match n.kind {
            NoticeKind::StatusChanged { status } => ("status_changed", Some(status.to_string()), None),
            NoticeKind::Commented => ("commented", None, None),
            NoticeKind::Assigned => ("assigned", None, None),
            NoticeKind::RequesterAnswered => ("requester_answered", None, None),
            NoticeKind::NewTicket => ("new_ticket", None, None),
            NoticeKind::Rated { rating } => ("rated", None, Some(rating.to_string())),
        };
        Self {
            id: n.id.as_uuid(),
            ticket: n.number.clone(),
            subject: n.subject.clone(),
            kind: kind.to_owned(),
            status,
            rating,
            created_at: n.created_at,
            read_at: n.read_at,
        }
    }
}

/// The newest notifications and how many are unread.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationsOut {
    /// Newest first.
    pub items: Vec<NotificationOut>,
    /// Unread, of all the user's notifications.
    pub unread: u64,
}

/// How many to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationParams {
    /// 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// The signed-in user's newest notifications, with the unread count.
#[utoipa::path(get, path = "/notifications", tag = "notifications", params(NotificationParams),
    security(("bearer" = [])),
    responses((status = 200, body = NotificationsOut), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
async fn list_notifications(
    State(s): State<AppState>,
    c: Caller,
    ApiQuery(p): ApiQuery<NotificationParams>,
) -> ApiResult<Json<NotificationsOut>> {
    let limit = match p.limit {
        None => 50,
        Some(n @ 1..=200) => n as usize,
        Some(_) => {
            let mut errs = helpdesk_core::ValidationErrors::new();
            errs.push(helpdesk_core::FieldError::new("limit", "out_of_range", "must be between 1 and 200"));
            return Err(helpdesk_core::Error::Validation(errs).into());
        }
    };
    let items = s.desk().notices(&c.principal, limit).await?;
    let unread = s.desk().unread_notices(&c.principal).await?;
    Ok(Json(NotificationsOut { items: items.iter().map(NotificationOut::from).collect(), unread }))
}

/// Which notification to mark read; none (or no body) marks all.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkReadBody {
    /// One notification's id; omit to mark every one read.
    pub id: Option<Uuid>,
}

/// How many were marked, and how many stay unread.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarkedOut {
    /// Marked read now (0 for one already read or not the caller's).
    pub marked: u64,
    /// Still unread.
    pub unread: u64,
}

/// Marks one notification, or all, read.
#[utoipa::path(post, path = "/notifications/read", tag = "notifications", request_body = Option<MarkReadBody>,
    security(("bearer" = [])),
    responses((status = 200, body = MarkedOut), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn mark_read(
    State(s): State<AppState>,
    c: Caller,
    OptionalJson(b): OptionalJson<MarkReadBody>,
) -> ApiResult<Json<MarkedOut>> {
    let marked = s.desk().mark_notices_read(&c.principal, b.id.map(NoticeId::from_uuid)).await?;
    let unread = s.desk().unread_notices(&c.principal).await?;
    Ok(Json(MarkedOut { marked, unread }))
}
