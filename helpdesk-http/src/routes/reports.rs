//! Reports for admins (SPEC §7): the summary, performance over a date range (first-response
//! and resolution statistics overall and by department, priority and assignee; backlog;
//! created vs resolved per day), and a CSV export of a filtered ticket list, streamed page by
//! page so a large export never sits in memory.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use helpdesk_core::model::Ticket;
use helpdesk_core::policy::Principal;
use helpdesk_core::ports::{PageSize, TicketQuery};
use helpdesk_core::report::ReportRange;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::tickets::{TicketListParams, ticket_query};
use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::extract::ApiQuery;
use crate::state::AppState;
use helpdesk_core::domain::FieldKey;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(summary))
        .routes(routes!(performance))
        .routes(routes!(sla))
        .routes(routes!(satisfaction))
        .routes(routes!(export_csv))
}

/// Tickets by status, priority, department and category; new tickets waiting for review over
/// 24 hours; users by role and status; rejected registrations.
#[utoipa::path(get, path = "/reports/summary", tag = "reports", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 403, body = Problem)))]
async fn summary(State(s): State<AppState>, c: Caller) -> ApiResult<Json<helpdesk_core::report::Summary>> {
    Ok(Json(s.desk().summary_report(&c.principal).await?))
}

/// The range of a performance report (default: the last 30 days; at most a year).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RangeParams {
    /// From (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// To (RFC 3339).
    pub to: Option<DateTime<Utc>>,
}

/// First-response and resolution times (mean, median, 90th percentile) overall, by
/// department, priority and assignee; the backlog; created vs resolved per day.
#[utoipa::path(get, path = "/reports/performance", tag = "reports", params(RangeParams), security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn performance(
    State(s): State<AppState>,
    c: Caller,
    ApiQuery(p): ApiQuery<RangeParams>,
) -> ApiResult<Json<helpdesk_core::report::PerformanceReport>> {
    Ok(Json(s.desk().performance_report(&c.principal, range_of(&s, &p)?).await?))
}

/// Service-level achievement of the tickets filed in the range (default: the last 30 days):
/// met, breached and running targets overall and by policy, priority, department and assignee
/// (`achievement_per_mille`: met per thousand decided), and the breaches, newest first.
#[utoipa::path(get, path = "/reports/sla", tag = "reports", params(RangeParams), security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn sla(
    State(s): State<AppState>,
    c: Caller,
    ApiQuery(p): ApiQuery<RangeParams>,
) -> ApiResult<Json<helpdesk_core::SlaReport>> {
    Ok(Json(s.desk().sla_report(&c.principal, range_of(&s, &p)?).await?))
}

/// Satisfaction of the tickets filed in the range (default: the last 30 days): good and bad
/// ratings with the score (`score_per_mille`: good per thousand ratings) overall, by
/// department and by assignee; the share of resolved tickets rated; the latest ratings with
/// their comments.
#[utoipa::path(get, path = "/reports/satisfaction", tag = "reports", params(RangeParams), security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn satisfaction(
    State(s): State<AppState>,
    c: Caller,
    ApiQuery(p): ApiQuery<RangeParams>,
) -> ApiResult<Json<helpdesk_core::SatisfactionReport>> {
    Ok(Json(s.desk().satisfaction_report(&c.principal, range_of(&s, &p)?).await?))
}

/// The range the parameters name, or `None` for the default.
fn range_of(s: &AppState, p: &RangeParams) -> Result<Option<ReportRange>, helpdesk_core::Error> {
    Ok(match (p.from, p.to) {
        (None, None) => None,
        (from, to) => {
            let to = to.unwrap_or_else(|| s.desk().now());
            let from = from.unwrap_or(to - chrono::Duration::days(30));
            Some(ReportRange::new(from, to)?)
        }
    })
}

/// One CSV field, quoted when needed, with spreadsheet formulas defused.
fn csv_field(out: &mut String, v: &str) {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{v}") } else { v.to_owned() };
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&v);
    }
}

const CSV_HEADER: &str = "number,status,priority,department,category,sub_category,subject,requester,assignee,created_at,first_response_at,resolved_at,closed_at,response_secs,resolution_secs,satisfaction,satisfaction_comment,rated_at,tags\r\n";

/// The columns added when the deployment has SLA policies: the policy and the state of each
/// target's latest cycle (`ok`, `warning`, `breached`, `met`, `paused`; empty when the policy
/// sets no such target or none has started).
const CSV_SLA_HEADER: &str = ",sla_policy,sla_first_response,sla_next_response,sla_resolution";

fn sla_fields(sla: Option<&helpdesk_core::TicketSla>) -> [String; 4] {
    use helpdesk_core::sla::TargetKind;
    let Some(sla) = sla else { return Default::default() };
    let name = |kind: TargetKind| {
        sla.targets.iter().find(|c| c.kind == kind).map_or_else(String::new, |c| c.state.as_str().to_owned())
    };
    [sla.policy.clone(), name(TargetKind::FirstResponse), name(TargetKind::NextResponse), name(TargetKind::Resolution)]
}

fn csv_row(t: &Ticket, sla: Option<&[String; 4]>, keys: &[FieldKey]) -> String {
    let opt = |v: Option<String>| v.unwrap_or_default();
    let fields = [
        t.number.to_string(),
        t.status.as_str().to_owned(),
        opt(t.priority.map(|p| p.as_str().to_owned())),
        opt(t.department.as_ref().map(|d| d.as_str().to_owned())),
        t.category.as_str().to_owned(),
        t.sub_category.as_str().to_owned(),
        t.subject.as_str().to_owned(),
        t.requester.to_string(),
        opt(t.assignee.map(|a| a.to_string())),
        t.created_at.to_rfc3339(),
        opt(t.first_response_at.map(|d| d.to_rfc3339())),
        opt(t.resolved_at.map(|d| d.to_rfc3339())),
        opt(t.closed_at.map(|d| d.to_rfc3339())),
        opt(t.response_secs.map(|s| s.to_string())),
        opt(t.resolution_secs.map(|s| s.to_string())),
        opt(t.satisfaction.as_ref().map(|s| s.rating.as_str().to_owned())),
        opt(t.satisfaction.as_ref().and_then(|s| s.comment.as_ref()).map(ToString::to_string)),
        opt(t.satisfaction.as_ref().map(|s| s.rated_at.to_rfc3339())),
        helpdesk_core::domain::Tag::join(&t.tags),
    ];
    let custom: Vec<String> = keys.iter().map(|k| t.fields.get(k).map_or_else(String::new, |v| v.display())).collect();
    let mut line = String::new();
    for (i, f) in fields.iter().chain(sla.into_iter().flatten()).chain(custom.iter()).enumerate() {
        if i > 0 {
            line.push(',');
        }
        csv_field(&mut line, f);
    }
    line.push_str("\r\n");
    line
}

/// The tickets of a filtered list as CSV (the list's filters; every page, streamed).
#[utoipa::path(get, path = "/reports/tickets.csv", tag = "reports", params(TicketListParams), security(("bearer" = [])),
    responses((status = 200, content_type = "text/csv", description = "the tickets"), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
async fn export_csv(
    State(s): State<AppState>,
    c: Caller,
    ApiQuery(p): ApiQuery<TicketListParams>,
) -> ApiResult<Response> {
    csv_export(&s, &c.principal, ticket_query(&s, &c.principal, p).await?)
}

/// Rows with the service-level columns: each ticket's history read (16 at a time) and its
/// targets computed.
async fn sla_rows(
    desk: helpdesk_core::HelpDesk,
    tickets: Vec<Ticket>,
    keys: std::sync::Arc<Vec<FieldKey>>,
) -> Result<String, helpdesk_core::ports::StoreError> {
    use futures::{StreamExt as _, TryStreamExt as _};
    let rows: Vec<String> = futures::stream::iter(tickets)
        .map(move |t| {
            let (desk, keys) = (desk.clone(), keys.clone());
            async move {
                let history = desk.store().history(t.id).await?;
                let sla = desk.sla_of(&t, &history);
                Ok::<_, helpdesk_core::ports::StoreError>(csv_row(&t, Some(&sla_fields(sla.as_ref())), &keys))
            }
        })
        .buffered(16)
        .try_collect()
        .await?;
    Ok(rows.concat())
}

/// The tickets of `q` (every page) as a streamed CSV download, for the API and the pages.
pub(crate) fn csv_export(s: &AppState, principal: &Principal, mut q: TicketQuery) -> ApiResult<Response> {
    s.desk().authorize_reports(principal)?; // checked before the stream starts: a 403, not a cut-off body
    q.limit = PageSize::new(PageSize::MAX).map_err(helpdesk_core::Error::from)?;
    q.cursor = None;
    struct Export {
        state: AppState,
        principal: Principal,
        query: TicketQuery,
        done: bool,
        header_sent: bool,
        /// The custom fields' columns (every definition, retired ones too).
        keys: std::sync::Arc<Vec<FieldKey>>,
    }
    let start = Export {
        state: s.clone(),
        principal: principal.clone(),
        query: q,
        done: false,
        header_sent: false,
        keys: Default::default(),
    };
    let stream = futures::stream::unfold(start, |mut e| async move {
        let with_sla = !e.state.desk().sla_rules().is_empty();
        if !e.header_sent {
            e.header_sent = true;
            let book = match e.state.desk().custom_fields(&e.principal).await {
                Ok(settings) => settings.book,
                Err(err) => return Some((Err(std::io::Error::other(err.to_string())), Export { done: true, ..e })),
            };
            e.keys = std::sync::Arc::new(book.fields.iter().map(|f| f.key).collect());
            let mut columns = CSV_HEADER.trim_end().to_owned();
            if with_sla {
                columns.push_str(CSV_SLA_HEADER);
            }
            for k in e.keys.iter() {
                columns.push_str(&format!(",field.{k}"));
            }
            let header = columns + "\r\n";
            return Some((Ok::<_, std::io::Error>(header), e));
        }
        if e.done {
            return None;
        }
        match e.state.desk().list_tickets(&e.principal, &e.query).await {
            Ok(page) => {
                let next = page.next;
                let chunk: String = if with_sla {
                    match sla_rows(e.state.desk().clone(), page.items, e.keys.clone()).await {
                        Ok(rows) => rows,
                        Err(err) => {
                            tracing::warn!(error = %err, "CSV export ended early");
                            return Some((Err(std::io::Error::other(err.to_string())), Export { done: true, ..e }));
                        }
                    }
                } else {
                    page.items.iter().map(|t| csv_row(t, None, &e.keys)).collect()
                };
                match next {
                    Some(c) => e.query.cursor = Some(c),
                    None => e.done = true,
                }
                Some((Ok(chunk), e))
            }
            Err(err) => {
                tracing::warn!(error = %err, "CSV export ended early");
                Some((Err(std::io::Error::other(err.to_string())), Export { done: true, ..e }))
            }
        }
    });
    let mut res = Body::from_stream(stream).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"tickets.csv\""));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        let mut s = String::new();
        csv_field(&mut s, "plain");
        s.push('|');
        csv_field(&mut s, "a, \"b\"");
        s.push('|');
        csv_field(&mut s, "=HYPERLINK(\"x\")");
        assert_eq!(s, "plain|\"a, \"\"b\"\"\"|\"'=HYPERLINK(\"\"x\"\")\"");
    }
}
