//! The commit path every use case takes: in-app notifications derived from what the unit of
//! work records, the commit, then the change feed.
//!
//! Deriving notices here, from the unit of work's history events, rather than in each use
//! case means no path (a page, the API, the workflow system, the background auto-close) can
//! change a ticket without telling the people concerned, and the notices commit with the
//! change. The rules (who hears of what) are [`notices_for`]; each recipient gets at most one
//! notice per commit (the weightiest), nobody is told of their own action, and internal
//! events tell nobody.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use super::HelpDesk;
use crate::domain::{DepartmentKey, NoticeId, Role, UserId, UserStatus};
use crate::lifecycle::Action;
use crate::model::{EventKind, HistoryEvent, Notice, NoticeKind, Ticket};
use crate::policy::Principal;
use crate::ports::{Change, PageSize, StoreResult, UnitOfWork, UserQuery};
use crate::{AuthFailure, Error, Result};

/// How long the list of staff per department is reused before it is read again (a new
/// coordinator hears of new tickets in their department within this time).
const STAFF_TTL: Duration = Duration::from_secs(30);

/// Staff (approved coordinators and admins) per department, read at most every
/// [`STAFF_TTL`].
#[derive(Debug, Default)]
pub(crate) struct StaffCache {
    cached: tokio::sync::Mutex<Option<(Instant, StaffByDepartment)>>,
}

type StaffByDepartment = HashMap<DepartmentKey, Vec<UserId>>;

/// Who hears of what in one ticket's events: `(recipient, kind)`, before de-duplication.
/// `department_staff` are the staff of the ticket's department (told of new tickets); the
/// ticket's followers hear what its requester hears.
pub fn notices_for(
    ticket: &Ticket,
    events: &[&HistoryEvent],
    department_staff: &[UserId],
) -> Vec<(UserId, NoticeKind)> {
    let acting: HashSet<UserId> = events.iter().filter_map(|e| e.actor.user()).collect();
    let mut out = Vec::new();
    // A rating is staff-only, told to the assignee alone.
    for e in events {
        if let EventKind::Rated { rating } = e.kind {
            out.extend(ticket.assignee.map(|a| (a, NoticeKind::Rated { rating })));
        }
    }
    for e in events.iter().filter(|e| !e.internal) {
        let by_requester = e.actor.user() == Some(ticket.requester);
        match e.kind {
            EventKind::Action { action: Action::Submit } => {
                out.extend(department_staff.iter().map(|s| (*s, NoticeKind::NewTicket)));
            }
            EventKind::Commented { .. } if by_requester => {
                out.extend(ticket.assignee.map(|a| (a, NoticeKind::RequesterAnswered)));
                out.extend(ticket.followers.iter().map(|f| (*f, NoticeKind::Commented)));
            }
            EventKind::Commented { .. } => {
                // A follower's comment is news to the assignee as well as to the requester.
                if e.actor.user().is_some_and(|u| ticket.is_followed_by(u)) {
                    out.extend(ticket.assignee.map(|a| (a, NoticeKind::Commented)));
                }
                out.push((ticket.requester, NoticeKind::Commented));
                out.extend(ticket.followers.iter().map(|f| (*f, NoticeKind::Commented)));
            }
            _ => {}
        }
        if e.changes.iter().any(|c| c.field == "status")
            && !matches!(e.kind, EventKind::Action { action: Action::Submit })
        {
            let status = NoticeKind::StatusChanged { status: ticket.status };
            out.push((ticket.requester, status));
            out.extend(ticket.followers.iter().map(|f| (*f, status)));
        }
        if e.changes.iter().any(|c| c.field == "assignee")
            && let Some(a) = ticket.assignee
        {
            out.push((a, NoticeKind::Assigned));
        }
    }
    out.retain(|(u, _)| !acting.contains(u));
    out
}

impl HelpDesk {
    /// Commits `uow` with the notices its ticket events call for, then publishes what changed.
    /// Answers the tickets as written (with their service-level schedules filled in).
    pub(crate) async fn commit(&self, mut uow: UnitOfWork) -> StoreResult<Vec<Ticket>> {
        let now = self.now();
        let mut changes = Vec::new();
        for w in &uow.tickets {
            let t = &w.value;
            let events: Vec<&HistoryEvent> = uow.events.iter().filter(|e| e.ticket == t.id).collect();
            let internal = !events.is_empty() && events.iter().all(|e| e.internal);
            changes.push(Change::Ticket {
                id: t.id,
                number: t.number.to_string(),
                requester: t.requester,
                followers: t.followers.clone(),
                version: t.version,
                internal,
            });
            let submitted = events.iter().any(|e| matches!(e.kind, EventKind::Action { action: Action::Submit }));
            let staff = match (&t.department, submitted) {
                (Some(d), true) => self.department_staff(d).await?,
                _ => Vec::new(),
            };
            let mut best: BTreeMap<UserId, NoticeKind> = BTreeMap::new();
            for (user, kind) in notices_for(t, &events, &staff) {
                let slot = best.entry(user).or_insert(kind);
                if kind.weight() > slot.weight() {
                    *slot = kind;
                }
            }
            for (user, kind) in best {
                uow.notices.push(Notice {
                    id: NoticeId::random(),
                    user,
                    ticket: t.id,
                    number: t.number.to_string(),
                    subject: t.subject.to_string(),
                    kind,
                    created_at: now,
                    read_at: None,
                });
            }
        }
        self.record_sla(&mut uow, now).await?;
        let told: HashSet<UserId> = uow.notices.iter().map(|n| n.user).collect();
        changes.extend(told.into_iter().map(|user| Change::Notices { user }));
        let accounts: HashSet<UserId> = uow
            .users
            .iter()
            .map(|u| u.value.id)
            .chain(uow.deleted_users.iter().map(|d| d.0))
            .chain(uow.revoke_sessions.iter().map(|(r, _)| r.user))
            .collect();
        changes.extend(accounts.into_iter().map(|user| Change::Account { user }));
        let written = uow.tickets.iter().map(|w| w.value.clone()).collect();
        self.inner.store.commit(uow).await?;
        self.inner.changes.publish(changes);
        Ok(written)
    }

    /// Publishes changes made outside a unit of work (a session ended on its own row).
    pub(crate) fn publish(&self, changes: Vec<Change>) {
        self.inner.changes.publish(changes);
    }

    pub(super) async fn department_staff(&self, department: &DepartmentKey) -> StoreResult<Vec<UserId>> {
        let mut cached = self.inner.staff.cached.lock().await;
        if let Some((at, map)) = cached.as_ref()
            && at.elapsed() < STAFF_TTL
        {
            return Ok(map.get(department).cloned().unwrap_or_default());
        }
        let mut map = StaffByDepartment::new();
        for role in [Role::Coordinator, Role::Admin] {
            let mut q = UserQuery {
                role: Some(role),
                status: Some(UserStatus::Approved),
                limit: PageSize::new(PageSize::MAX).unwrap_or_default(),
                ..UserQuery::default()
            };
            loop {
                let page = self.inner.store.list_users(&q).await?;
                for u in &page.items {
                    if let Some(d) = &u.department {
                        map.entry(d.clone()).or_default().push(u.id);
                    }
                }
                match page.next {
                    Some(c) => q.cursor = Some(c),
                    None => break,
                }
            }
        }
        let staff = map.get(department).cloned().unwrap_or_default();
        *cached = Some((Instant::now(), map));
        Ok(staff)
    }

    /// The user whose notices these are: anonymous callers are unauthenticated, an external
    /// system (an API key) has none.
    fn notice_owner(principal: &Principal) -> Result<&crate::policy::UserPrincipal> {
        match principal {
            Principal::User(u) => Ok(u),
            Principal::Anonymous => Err(Error::Unauthenticated(AuthFailure::Missing)),
            _ => Err(Error::Forbidden("read notifications (users only)")),
        }
    }

    /// Subscribes to committed changes (filter each with [`Change::visible_to`]).
    pub fn changes(&self) -> tokio::sync::broadcast::Receiver<Change> {
        self.inner.changes.subscribe()
    }

    /// The signed-in user's newest `limit` in-app notifications.
    ///
    /// # Errors
    /// `Unauthenticated` for anonymous callers, `Forbidden` for external systems.
    pub async fn notices(&self, principal: &Principal, limit: usize) -> Result<Vec<Notice>> {
        let user = Self::notice_owner(principal)?;
        Ok(self.inner.store.notices(user.id, limit.min(200)).await?)
    }

    /// How many of the signed-in user's notifications are unread.
    ///
    /// # Errors
    /// `Unauthenticated` for anonymous callers, `Forbidden` for external systems.
    pub async fn unread_notices(&self, principal: &Principal) -> Result<u64> {
        let user = Self::notice_owner(principal)?;
        Ok(self.inner.store.unread_notices(user.id).await?)
    }

    /// Marks one (`Some`) or all of the signed-in user's notifications read; answers how many
    /// changed (a notice of someone else: 0).
    ///
    /// # Errors
    /// `Unauthenticated` for anonymous callers, `Forbidden` for external systems.
    pub async fn mark_notices_read(&self, principal: &Principal, id: Option<NoticeId>) -> Result<u64> {
        let user = Self::notice_owner(principal)?;
        let n = self.inner.store.mark_notices_read(user.id, id, self.now()).await?;
        if n > 0 {
            self.publish(vec![Change::Notices { user: user.id }]);
        }
        Ok(n)
    }
}
