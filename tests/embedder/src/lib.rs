//! An application that embeds helpdesk: its own routes beside the help desk's API nested under
//! `/helpdesk`, and a bit of logic of its own on top of the library (a banner of the signed-in
//! user's open tickets), tested with helpdesk's mocks.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use helpdesk_core::HelpDesk;
use helpdesk_core::domain::TicketStatus;
use helpdesk_core::policy::Principal;
use helpdesk_core::ports::TicketQuery;
use helpdesk_http::{AppState, HttpOptions, TokenOptions};

/// The application's router: `/` is its own, `/helpdesk/...` is the help desk.
pub fn app(desk: HelpDesk, public_url: &str, secret: &[u8]) -> Router {
    let helpdesk = helpdesk_http::router(AppState::new(desk, HttpOptions::new(TokenOptions::new(secret, public_url))));
    Router::new().route("/", get(|| async { "the application's own page" })).nest("/helpdesk", helpdesk)
}

/// Serves `router` on `listener` with the peer address every request needs for per-client
/// throttling (`into_make_service_with_connect_info`).
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await
}

/// The application's own logic: a banner with the number of the user's tickets still open.
///
/// # Errors
/// What the help desk answers.
pub async fn open_tickets_banner(desk: &HelpDesk, user: &Principal) -> helpdesk_core::Result<String> {
    let open =
        [TicketStatus::New, TicketStatus::Open, TicketStatus::InProgress, TicketStatus::OnHold, TicketStatus::Pending];
    let query = TicketQuery { statuses: open.to_vec(), ..TicketQuery::default() };
    let page = desk.list_tickets(user, &query).await?;
    Ok(match page.items.len() {
        0 => "No open tickets.".to_owned(),
        1 => "1 open ticket.".to_owned(),
        n if page.next.is_some() => format!("More than {n} open tickets."),
        n => format!("{n} open tickets."),
    })
}
