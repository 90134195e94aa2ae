//! What clients need to build forms: departments, categories with their sub-categories,
//! priorities, statuses and the lifecycle table in force.

use axum::Json;
use axum::extract::State;
use helpdesk_core::domain::{Priority, TicketStatus};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(catalog))
}

/// A key with its display name.
#[derive(Debug, Serialize, ToSchema)]
pub struct Named {
    /// Stable key.
    pub key: String,
    /// Display name.
    pub name: String,
}

/// A ticket category.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryOut {
    /// Stable key.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Department proposed for its tickets.
    pub department: String,
    /// Sub-categories.
    pub sub_categories: Vec<Named>,
}

/// A ticket status.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusOut {
    /// Key.
    pub key: String,
    /// Terminal statuses never change again.
    pub terminal: bool,
}

/// One status move of a lifecycle row.
#[derive(Debug, Serialize, ToSchema)]
pub struct MoveOut {
    /// From (`null` for submit).
    pub from: Option<String>,
    /// To.
    pub to: String,
}

/// One row of the lifecycle table.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleOut {
    /// Action (and route name, with `_` as `-`).
    pub action: String,
    /// Moves.
    pub moves: Vec<MoveOut>,
    /// Who may take it.
    pub who: Vec<String>,
    /// Required input fields.
    pub requires: Vec<String>,
}

/// Everything a form needs.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogOut {
    /// Departments.
    pub departments: Vec<Named>,
    /// Categories.
    pub categories: Vec<CategoryOut>,
    /// Priorities, most urgent first.
    pub priorities: Vec<String>,
    /// Ticket statuses.
    pub statuses: Vec<StatusOut>,
    /// The lifecycle table in force.
    pub lifecycle: Vec<RuleOut>,
}

/// Departments, categories, priorities, statuses and the lifecycle table.
#[utoipa::path(get, path = "/catalog", tag = "catalog", security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = CatalogOut), (status = 401, body = Problem)))]
async fn catalog(State(s): State<AppState>, c: Caller) -> ApiResult<Json<CatalogOut>> {
    let cat = s.desk().catalog(&c.principal)?;
    let rules = s.desk().lifecycle().rules();
    Ok(Json(CatalogOut {
        departments: cat
            .departments
            .iter()
            .map(|d| Named { key: d.key.as_str().into(), name: d.name.clone() })
            .collect(),
        categories: cat
            .categories
            .iter()
            .map(|c| CategoryOut {
                key: c.key.as_str().into(),
                name: c.name.clone(),
                department: c.department.as_str().into(),
                sub_categories: c
                    .sub_categories
                    .iter()
                    .map(|s| Named { key: s.key.as_str().into(), name: s.name.clone() })
                    .collect(),
            })
            .collect(),
        priorities: Priority::ALL.iter().map(|p| p.as_str().to_owned()).collect(),
        statuses: TicketStatus::ALL
            .iter()
            .map(|s| StatusOut { key: s.as_str().to_owned(), terminal: s.is_terminal() })
            .collect(),
        lifecycle: rules
            .iter()
            .map(|r| RuleOut {
                action: r.action.as_str().to_owned(),
                moves: r
                    .moves
                    .iter()
                    .map(|m| MoveOut { from: m.from.map(|f| f.as_str().to_owned()), to: m.to.as_str().to_owned() })
                    .collect(),
                who: r.who.iter().map(ToString::to_string).collect(),
                requires: r.requires.iter().map(|i| i.field().to_owned()).collect(),
            })
            .collect(),
    }))
}
