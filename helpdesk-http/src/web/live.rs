//! `GET /live`: the Server-Sent Events stream an open page listens to (`static/app.js`).
//!
//! Each event names what changed, never its content, and only what this viewer may hear of
//! ([`Change::visible_to`]): `ticket` (`{"number":"TX0042","version":7}`), after which the page
//! fetches itself again through the normal, policy-checked page route and swaps the parts
//! marked `data-live`; `notices` (the new unread count, for the bell); `signed-out` (the
//! session ended or the account was deactivated: the page goes to the sign-in page); and
//! `lagged` (this stream fell behind and lost changes: the page refreshes its parts).
//!
//! The session is checked again whenever the viewer's account changes and every
//! [`RECHECK`], so a stream never outlives its session by more than that. Without script,
//! nothing listens and a reload shows the change.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use helpdesk_core::HelpDesk;
use helpdesk_core::domain::SessionId;
use helpdesk_core::policy::Principal;
use helpdesk_core::ports::Change;
use tokio::sync::broadcast::{self, error::RecvError};

use super::PageUser;
use crate::state::AppState;

/// How often an open stream checks that its session still holds.
const RECHECK: Duration = Duration::from_secs(30);

struct Viewer {
    desk: HelpDesk,
    principal: Principal,
    session: SessionId,
    changes: broadcast::Receiver<Change>,
    end: tokio_util::sync::CancellationToken,
    recheck: tokio::time::Interval,
}

impl Viewer {
    /// Whether the session still holds (its principal refreshed, so a role change applies);
    /// a storage outage counts as holding.
    async fn still_signed_in(&mut self) -> bool {
        match self.desk.authenticate_session(self.session).await {
            Ok((principal, user)) if !user.must_change_password => {
                self.principal = principal;
                true
            }
            Err(helpdesk_core::Error::Unavailable(_)) => true, // say nothing while storage is away
            _ => false,
        }
    }

    /// The next event to send, or `None` to end the stream.
    async fn next(&mut self) -> Option<(Event, bool)> {
        loop {
            let change = tokio::select! {
                () = self.end.cancelled() => return None,
                _ = self.recheck.tick() => {
                    if self.still_signed_in().await { continue }
                    return Some((Event::default().event("signed-out").data("{}"), false));
                }
                r = self.changes.recv() => r,
            };
            match change {
                Ok(c) if c.visible_to(&self.principal) => match c {
                    Change::Ticket { number, version, .. } => {
                        let data = serde_json::json!({ "number": number, "version": version }).to_string();
                        return Some((Event::default().event("ticket").data(data), true));
                    }
                    Change::Notices { .. } => {
                        let unread = self.desk.unread_notices(&self.principal).await.unwrap_or(0);
                        return Some((Event::default().event("notices").data(unread.to_string()), true));
                    }
                    Change::Account { .. } => {
                        if !self.still_signed_in().await {
                            return Some((Event::default().event("signed-out").data("{}"), false));
                        }
                    }
                },
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => return Some((Event::default().event("lagged").data(n.to_string()), true)),
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// `GET /live`: the viewer's change stream (see the module documentation).
pub(crate) async fn live(State(state): State<AppState>, who: PageUser) -> Response {
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    recheck.reset(); // the first tick is a full period away: the session was just checked
    let unread = state.desk().unread_notices(&who.principal).await.unwrap_or(0);
    let viewer = Viewer {
        desk: state.desk().clone(),
        principal: who.principal,
        session: who.session,
        changes: state.desk().changes(),
        end: state.live_end().clone(),
        recheck,
    };
    let first = Event::default().event("ready").data(unread.to_string());
    let stream = futures::stream::unfold((Some(first), Some(viewer)), |(first, viewer)| async move {
        if let Some(e) = first {
            return Some((Ok::<_, Infallible>(e), (None, viewer)));
        }
        let mut viewer = viewer?;
        let (event, more) = viewer.next().await?;
        Some((Ok(event), (None, more.then_some(viewer))))
    });
    let mut res = Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Proxies that buffer responses (nginx) would hold the events back.
    res.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}
