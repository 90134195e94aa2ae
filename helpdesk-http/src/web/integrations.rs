//! Integrations and operations for admins: API keys (created with scopes, the secret shown
//! once on the page that answers the form and never again; listed; revoked), mail and webhook
//! deliveries that gave up (what, to whom with the address masked, the last error, attempts)
//! with retry, and a system page (version, storage, mail mode, attachment store, outbox
//! backlog, readiness).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use helpdesk_core::domain::{ApiKeyId, MessageId, Role};
use helpdesk_core::model::{ApiScope, OutboxPayload, OutboxState};
use helpdesk_core::ports::PageSize;
use object_store::ObjectStoreExt as _;
use serde::Deserialize;

use super::pages::form_allowed;
use super::session::PageUser;
use super::{Layout, error_page, page, when};
use crate::error::ApiError;
use crate::state::AppState;

fn admins_only(s: &AppState, who: &PageUser) -> Option<Response> {
    (who.user.role != Role::Admin)
        .then(|| error_page(StatusCode::NOT_FOUND, Layout::of(s, who), "There is no page at this address."))
}

/// `n***@example.com`: enough to recognise, not enough to harvest.
fn mask(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

fn scope_words(s: ApiScope) -> &'static str {
    match s {
        ApiScope::ReadTickets => "Read tickets",
        ApiScope::PushWorkflow => "Push workflow status",
        ApiScope::IngestMail => "Hand over incoming mail",
    }
}

#[derive(Debug)]
struct KeyRow {
    id: String,
    name: String,
    scopes: String,
    created: String,
    revoked: Option<String>,
}

#[derive(Debug)]
struct DeadRow {
    id: String,
    what: String,
    to: String,
    attempts: u32,
    error: String,
    since: String,
}

#[derive(Template)]
#[template(path = "integrations.html")]
struct IntegrationsView {
    layout: Layout,
    keys: Vec<KeyRow>,
    scopes: Vec<(&'static str, &'static str)>,
    new_key: Option<(String, String)>,
    dead: Vec<DeadRow>,
    pending: usize,
    system: Vec<(String, String)>,
    ready: Vec<(&'static str, bool)>,
    error: Option<String>,
}

async fn integrations_page(
    s: &AppState,
    who: &PageUser,
    flash: Option<String>,
    new_key: Option<(String, String)>,
    error: Option<String>,
) -> Response {
    let desk = s.desk();
    let p = &who.principal;
    let loaded = async {
        let keys = desk.list_api_keys(p).await?;
        let dead = desk.outbox_messages(p, OutboxState::Dead, None, PageSize::new(100)?).await?;
        let pending = desk.outbox_messages(p, OutboxState::Pending, None, PageSize::new(100)?).await?;
        Ok::<_, helpdesk_core::Error>((keys, dead, pending))
    };
    let (keys, dead, pending) = match loaded.await {
        Ok(x) => x,
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, Layout::of(s, who), &e.detail);
        }
    };
    let store_ready = desk.store().ping().await.is_ok();
    let probe = object_store::path::Path::from("readyz-probe");
    let blobs_ready = matches!(desk.blobs().head(&probe).await, Ok(_) | Err(object_store::Error::NotFound { .. }));
    let mut system = vec![("Version".to_owned(), env!("CARGO_PKG_VERSION").to_owned())];
    system.extend(s.options().web.system.iter().cloned());
    let view = IntegrationsView {
        layout: Layout::of(s, who).flash(flash).trail(&[("Integrations and system", None)]),
        keys: keys
            .iter()
            .map(|k| KeyRow {
                id: k.id.to_string(),
                name: k.name.clone(),
                scopes: k.scopes.iter().map(|x| scope_words(*x)).collect::<Vec<_>>().join(", "),
                created: when(k.created_at).0,
                revoked: k.revoked_at.map(|t| when(t).0),
            })
            .collect(),
        scopes: ApiScope::ALL.iter().map(|x| (x.as_str(), scope_words(*x))).collect(),
        new_key,
        dead: dead
            .items
            .iter()
            .map(|r| {
                let (what, to) = match &r.message.payload {
                    OutboxPayload::Mail(n) => {
                        (format!("Mail: {}", n.kind.name().replace('_', " ")), mask(n.to.as_str()))
                    }
                    OutboxPayload::Workflow(_) => ("Workflow webhook".to_owned(), "the workflow system".to_owned()),
                    _ => ("(cleared)".to_owned(), String::new()),
                };
                DeadRow {
                    id: r.message.id.to_string(),
                    what,
                    to,
                    attempts: r.attempts,
                    error: r.last_error.clone().unwrap_or_default(),
                    since: when(r.message.created_at).0,
                }
            })
            .collect(),
        pending: pending.items.len(),
        system,
        ready: vec![("Storage connection", store_ready), ("Attachment store connection", blobs_ready)],
        error,
    };
    page(if view.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK }, &view)
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct DoneQuery {
    done: Option<String>,
}

pub(crate) async fn integrations(
    State(s): State<AppState>,
    who: PageUser,
    axum::extract::Query(q): axum::extract::Query<DoneQuery>,
) -> Response {
    if let Some(refused) = admins_only(&s, &who) {
        return refused;
    }
    let flash = q.done.as_deref().map(|d| match d {
        "revoked" => "Key revoked: it is refused from now on.".to_owned(),
        "retried" => "Queued again: it goes out with the next delivery round.".to_owned(),
        _ => "Done.".to_owned(),
    });
    integrations_page(&s, &who, flash, None, None).await
}

/// The form's fields; `scope` repeats (one per checked box).
pub(crate) async fn create_key(
    State(s): State<AppState>,
    who: PageUser,
    method: Method,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    if let Some(refused) = admins_only(&s, &who) {
        return refused;
    }
    let field = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &field("csrf")) {
        return refused;
    }
    let scopes: Vec<ApiScope> = pairs
        .iter()
        .filter(|(k, _)| k == "scope")
        .filter_map(|(_, v)| ApiScope::ALL.iter().copied().find(|x| x.as_str() == v))
        .collect();
    if scopes.is_empty() {
        return integrations_page(&s, &who, None, None, Some("Choose at least one scope.".into())).await;
    }
    match s.desk().create_api_key(&who.principal, &field("name"), scopes).await {
        // The secret is on this page only: answering the POST (not redirecting) keeps it out
        // of every address and history entry; the page is never cached.
        Ok((key, credential)) => {
            let header = format!("ApiKey {credential}");
            integrations_page(&s, &who, Some(format!("Key “{}” created.", key.name)), Some((key.name, header)), None)
                .await
        }
        Err(e) => {
            let e = ApiError::from(e);
            let message = e.first_message();
            integrations_page(&s, &who, None, None, Some(format!("No key was created: {message}"))).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// What a one-button form on this page does to the thing its address names.
#[derive(Debug, Clone, Copy)]
enum Change {
    RevokeKey,
    RetryMessage,
}

pub(crate) async fn revoke_key(
    State(s): State<AppState>,
    who: PageUser,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    apply(s, who, &id, method, headers, f, Change::RevokeKey).await
}

pub(crate) async fn retry(
    State(s): State<AppState>,
    who: PageUser,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    apply(s, who, &id, method, headers, f, Change::RetryMessage).await
}

async fn apply(
    s: AppState,
    who: PageUser,
    id: &str,
    method: Method,
    headers: HeaderMap,
    f: CsrfForm,
    change: Change,
) -> Response {
    if let Some(refused) = admins_only(&s, &who) {
        return refused;
    }
    if let Some(refused) = form_allowed(&s, &who, &method, &headers, &f.csrf) {
        return refused;
    }
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return error_page(StatusCode::NOT_FOUND, Layout::of(&s, &who), "There is nothing at this address.");
    };
    let (done, result) = match change {
        Change::RevokeKey => ("revoked", s.desk().revoke_api_key(&who.principal, ApiKeyId::from_uuid(id)).await),
        Change::RetryMessage => {
            ("retried", s.desk().retry_outbox_message(&who.principal, MessageId::from_uuid(id)).await)
        }
    };
    match result {
        Ok(()) => Redirect::to(&format!("/integrations?done={done}")).into_response(),
        Err(e) => integrations_page(&s, &who, None, None, Some(ApiError::from(e).detail)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn addresses_are_masked() {
        assert_eq!(mask("nadia.okafor@example.com"), "n***@example.com");
        assert_eq!(mask("no-at-sign"), "***");
    }
}
