//! One route per lifecycle action (`POST /tickets/{number}/<action>`), each with its own
//! body type so the OpenAPI document says exactly what an action takes. Required input is
//! checked by the lifecycle table in core, which names the missing field.

use axum::extract::State;
use helpdesk_core::ActionRequest;
use helpdesk_core::domain::{Priority, UserId};
use helpdesk_core::lifecycle::Action;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::tickets::{TicketReply, act};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiPath, IfMatch, OptionalJson};
use crate::state::AppState;
use crate::views::TicketOut;

/// Triage: accept, with priority and department.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// `critical`, `high`, `medium` or `low`.
    #[schema(schema_with = crate::openapi::priority_schema)]
    pub priority: Option<String>,
    /// Department key (defaults to the one proposed by the category).
    pub department: Option<String>,
}

/// A reason (reject, reopen).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// Why.
    pub reason: Option<String>,
}

/// A note (hold, resolve).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// The note.
    pub note: Option<String>,
}

/// A resolution note; `force` resolves a parent whose child tickets are still open (staff).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// The resolution note.
    pub note: Option<String>,
    /// Resolve even though child tickets are open (staff; the history names them).
    #[serde(default)]
    pub force: bool,
}

/// A comment (await requester: required and public; close, withdraw: optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentTextBody {
    /// The comment.
    pub comment: Option<String>,
}

/// Whom to give the ticket to.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// An approved coordinator or admin.
    pub assignee: Option<Uuid>,
}

/// No input (an empty body or `{}`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}

trait IntoAction {
    fn into_action(self) -> Result<ActionRequest, ApiError>;
}

impl IntoAction for ApproveBody {
    fn into_action(self) -> Result<ActionRequest, ApiError> {
        let priority = self.priority.as_deref().map(Priority::parse).transpose().map_err(helpdesk_core::Error::from)?;
        Ok(ActionRequest { priority, department: self.department, ..ActionRequest::default() })
    }
}
impl IntoAction for ReasonBody {
    fn into_action(self) -> Result<ActionRequest, ApiError> {
        Ok(ActionRequest { text: self.reason, ..ActionRequest::default() })
    }
}
impl IntoAction for NoteBody {
    fn into_action(self) -> Result<ActionRequest, ApiError> {
        Ok(ActionRequest { text: self.note, ..ActionRequest::default() })
    }
}
impl IntoAction for ResolveBody {
    fn into_action(self) -> Result<ActionRequest, ApiError> {
        Ok(ActionRequest { text: self.note, force: self.force, ..ActionRequest::default() })
    }
}
impl IntoAction for CommentTextBody {
    fn into_action(self) -> Result<ActionRequest, ApiError> {
        Ok(ActionRequest { text: self.comment, ..ActionRequest::default() })
    }
}
impl IntoAction for AssignBody {
    fn into_action(self) -> Result<ActionRequest, ApiError> {
        Ok(ActionRequest { assignee: self.assignee.map(UserId::from_uuid), ..ActionRequest::default() })
    }
}
impl IntoAction for EmptyBody {
    fn into_action(self) -> Result<ActionRequest, ApiError> {
        Ok(ActionRequest::default())
    }
}

macro_rules! action_route {
    ($name:ident, $path:literal, $action:expr, $body:ty, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "ticket actions", request_body = Option<$body>,
            params(("number" = String, Path), ("If-Match" = Option<String>, Header, description = "the ETag this action is based on")),
            security(("bearer" = [])),
            responses((status = 200, body = TicketOut<'_>), (status = 404, body = Problem), (status = 409, body = Problem),
                (status = 412, body = Problem), (status = 422, body = Problem)))]
        async fn $name(
            State(s): State<AppState>,
            c: Caller,
            if_match: IfMatch,
            ApiPath(n): ApiPath<String>,
            OptionalJson(b): OptionalJson<$body>,
        ) -> ApiResult<TicketReply> {
            act(&s, &c, &n, $action, b.into_action()?, if_match).await
        }
    };
}

action_route!(
    approve,
    "/tickets/{number}/approve",
    Action::Approve,
    ApproveBody,
    "Triage: accept (priority and department)."
);
action_route!(
    reject,
    "/tickets/{number}/reject",
    Action::Reject,
    ReasonBody,
    "Triage: refuse, with a reason the requester sees."
);
action_route!(claim, "/tickets/{number}/claim", Action::Claim, EmptyBody, "Take an open ticket.");
action_route!(assign, "/tickets/{number}/assign", Action::Assign, AssignBody, "Give the ticket to a staff member.");
action_route!(hold, "/tickets/{number}/hold", Action::Hold, NoteBody, "Put the ticket on hold, with a note.");
action_route!(
    await_requester,
    "/tickets/{number}/await-requester",
    Action::AwaitRequester,
    CommentTextBody,
    "Ask the requester something (a public comment)."
);
action_route!(resume, "/tickets/{number}/resume", Action::Resume, EmptyBody, "Continue after hold or waiting.");
action_route!(
    resolve,
    "/tickets/{number}/resolve",
    Action::Resolve,
    ResolveBody,
    "Resolve, with a resolution note (a parent with open children: `force`, staff)."
);
action_route!(
    reopen,
    "/tickets/{number}/reopen",
    Action::Reopen,
    ReasonBody,
    "Reopen a resolved ticket, with a reason."
);
action_route!(close, "/tickets/{number}/close", Action::Close, CommentTextBody, "Close a resolved ticket.");
action_route!(
    withdraw,
    "/tickets/{number}/withdraw",
    Action::Withdraw,
    CommentTextBody,
    "The requester withdraws the ticket."
);

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(claim))
        .routes(routes!(assign))
        .routes(routes!(hold))
        .routes(routes!(await_requester))
        .routes(routes!(resume))
        .routes(routes!(resolve))
        .routes(routes!(reopen))
        .routes(routes!(close))
        .routes(routes!(withdraw))
}
