//! A complete in-memory store: every port, the same semantics as the durable stores (the
//! conformance suite proves it), no durability. Use it in tests and examples.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    ApiKeyId, AttachmentId, CompanyId, Email, InboundId, MessageId, NoticeId, SessionId, TicketId, TicketNumber,
    TicketStatus, UserId,
};
use crate::model::{
    ApiKey, Attachment, AuditEntry, Comment, HistoryEvent, InboundMessage, Notice, OneTimeToken, OutboxPayload,
    OutboxRecord, OutboxState, RejectionRecord, Session, Ticket, TokenHash, User,
};
use crate::ports::*;
use crate::report::{PerformanceBuilder, PerformanceReport, ReportRange, Summary};

#[derive(Debug, Default)]
struct State {
    tickets: HashMap<TicketId, Ticket>,
    numbers: HashMap<u64, TicketId>,
    counter: u64,
    users: HashMap<UserId, User>,
    by_email: HashMap<String, UserId>,
    by_company: HashMap<String, UserId>,
    events: HashMap<TicketId, Vec<HistoryEvent>>,
    comments: HashMap<TicketId, Vec<Comment>>,
    attachments: HashMap<AttachmentId, Attachment>,
    outbox: HashMap<MessageId, OutboxRecord>,
    outbox_order: Vec<MessageId>,
    audit: Vec<AuditEntry>,
    rejections: Vec<RejectionRecord>,
    tokens: HashMap<TokenHash, OneTimeToken>,
    sessions: HashMap<SessionId, Session>,
    refresh: HashMap<TokenHash, (SessionId, bool)>,
    api_keys: Vec<ApiKey>,
    idempotency: HashMap<IdempotencyKey, IdempotencyState>,
    failures: HashMap<String, FailureState>,
    windows: HashMap<(String, DateTime<Utc>), u64>,
    notices: Vec<Notice>,
    inbound: HashMap<InboundId, InboundMessage>,
    documents: HashMap<&'static str, (serde_json::Value, u64)>,
}

/// The in-memory store.
#[derive(Debug, Default)]
pub struct InMemoryStore {
    state: Mutex<State>,
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every outbox record still stored, in the order enqueued (tests inspect what a use case
    /// enqueued).
    pub fn outbox_records(&self) -> Vec<OutboxRecord> {
        let s = self.lock();
        s.outbox_order.iter().filter_map(|id| s.outbox.get(id)).cloned().collect()
    }
}

fn check(state: &State, uow: &UnitOfWork) -> StoreResult<()> {
    let mut new_emails = std::collections::HashSet::new();
    let mut new_companies = std::collections::HashSet::new();
    for (id, expected) in &uow.deleted_users {
        let u = state.users.get(id).ok_or(StoreError::NotFound { what: "user" })?;
        if u.version != *expected {
            return Err(StoreError::VersionMismatch { expected: *expected, found: u.version });
        }
    }
    let deleted: Vec<UserId> = uow.deleted_users.iter().map(|d| d.0).collect();
    for w in &uow.users {
        let u = &w.value;
        match (w.expected, state.users.get(&u.id)) {
            (None, Some(_)) => return Err(StoreError::AlreadyExists { what: "id" }),
            (Some(_), None) => return Err(StoreError::NotFound { what: "user" }),
            (Some(v), Some(old)) if old.version != v => {
                return Err(StoreError::VersionMismatch { expected: v, found: old.version });
            }
            _ => {}
        }
        let taken = |map: &HashMap<String, UserId>, key: &str| {
            map.get(key).is_some_and(|owner| *owner != u.id && !deleted.contains(owner))
        };
        if taken(&state.by_email, u.email.as_str()) || !new_emails.insert(u.email.as_str().to_owned()) {
            return Err(StoreError::AlreadyExists { what: "email" });
        }
        if taken(&state.by_company, u.company_id.as_str()) || !new_companies.insert(u.company_id.as_str().to_owned()) {
            return Err(StoreError::AlreadyExists { what: "company_id" });
        }
    }
    for w in &uow.tickets {
        let t = &w.value;
        match (w.expected, state.tickets.get(&t.id)) {
            (None, Some(_)) => return Err(StoreError::AlreadyExists { what: "id" }),
            (None, None) if state.numbers.contains_key(&t.number.seq()) => {
                return Err(StoreError::AlreadyExists { what: "ticket_number" });
            }
            (Some(_), None) => return Err(StoreError::NotFound { what: "ticket" }),
            (Some(v), Some(old)) if old.version != v => {
                return Err(StoreError::VersionMismatch { expected: v, found: old.version });
            }
            (Some(_), Some(old)) if old.number != t.number => {
                return Err(StoreError::Conflict { what: "ticket number is immutable" });
            }
            _ => {}
        }
    }
    let mut outbox_ids = HashSet::new();
    if uow.outbox.iter().any(|m| state.outbox.contains_key(&m.id) || !outbox_ids.insert(m.id)) {
        return Err(StoreError::AlreadyExists { what: "id" });
    }
    let mut inbound_keys = HashSet::new();
    for w in &uow.inbound {
        let m = &w.value;
        match (w.expected, state.inbound.get(&m.id)) {
            (None, Some(_)) => return Err(StoreError::AlreadyExists { what: "id" }),
            (None, None) if state.inbound.values().any(|o| o.key == m.key) || !inbound_keys.insert(&m.key) => {
                return Err(StoreError::AlreadyExists { what: "inbound message" });
            }
            (Some(_), None) => return Err(StoreError::NotFound { what: "inbound message" }),
            (Some(v), Some(old)) if old.version != v => {
                return Err(StoreError::VersionMismatch { expected: v, found: old.version });
            }
            (Some(_), Some(old)) if old.key != m.key => {
                return Err(StoreError::Conflict { what: "an inbound message's key is immutable" });
            }
            _ => {}
        }
    }
    if let Some((hash, _)) = &uow.consume_token {
        match state.tokens.get(hash) {
            Some(t) if t.used_at.is_none() => {}
            _ => return Err(StoreError::Conflict { what: "token" }),
        }
    }
    Ok(())
}

fn apply(state: &mut State, uow: UnitOfWork) {
    state.notices.extend(uow.notices);
    for w in uow.inbound {
        let mut m = w.value;
        m.version = w.expected.map_or(1, |v| v + 1);
        state.inbound.insert(m.id, m);
    }
    for (id, _) in uow.deleted_users {
        if let Some(u) = state.users.remove(&id) {
            state.by_email.remove(u.email.as_str());
            state.by_company.remove(u.company_id.as_str());
            for s in state.sessions.values_mut().filter(|s| s.user == id) {
                s.revoked_at.get_or_insert(u.updated_at);
            }
        }
    }
    for w in uow.users {
        let u = w.value;
        if let Some(old) = state.users.get(&u.id) {
            let (e, c) = (old.email.as_str().to_owned(), old.company_id.as_str().to_owned());
            state.by_email.remove(&e);
            state.by_company.remove(&c);
        }
        state.by_email.insert(u.email.as_str().to_owned(), u.id);
        state.by_company.insert(u.company_id.as_str().to_owned(), u.id);
        state.users.insert(u.id, u);
    }
    for w in uow.tickets {
        state.numbers.insert(w.value.number.seq(), w.value.id);
        state.tickets.insert(w.value.id, w.value);
    }
    for e in uow.events {
        state.events.entry(e.ticket).or_default().push(e);
    }
    for c in uow.comments {
        state.comments.entry(c.ticket).or_default().push(c);
    }
    for a in uow.attachments {
        state.attachments.insert(a.id, a);
    }
    for m in uow.outbox {
        state.outbox_order.push(m.id);
        state.outbox.insert(m.id, OutboxRecord::new(m));
    }
    state.audit.extend(uow.audit);
    state.rejections.extend(uow.rejections);
    for t in uow.new_tokens {
        state.tokens.insert(t.hash, t);
    }
    if let Some((hash, at)) = uow.consume_token
        && let Some(t) = state.tokens.get_mut(&hash)
    {
        t.used_at = Some(at);
    }
    for (r, at) in uow.revoke_sessions {
        for s in state.sessions.values_mut().filter(|s| s.user == r.user && Some(s.id) != r.except) {
            s.revoked_at.get_or_insert(at);
        }
    }
    if let Some(rec) = uow.idempotency {
        let started_at = state.idempotency.get(&rec.key).map_or(rec.expires_at, |i| i.started_at);
        state.idempotency.insert(
            rec.key,
            IdempotencyState {
                request_hash: rec.request_hash,
                response: Some(rec.response),
                started_at,
                expires_at: Some(rec.expires_at),
            },
        );
    }
}

#[async_trait]
impl UnitOfWorkStore for InMemoryStore {
    async fn commit(&self, uow: UnitOfWork) -> StoreResult<()> {
        let mut state = self.lock();
        check(&state, &uow)?;
        apply(&mut state, uow);
        Ok(())
    }
    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }
}

#[async_trait]
impl TicketStore for InMemoryStore {
    async fn ticket(&self, id: TicketId) -> StoreResult<Option<Ticket>> {
        Ok(self.lock().tickets.get(&id).cloned())
    }
    async fn ticket_by_number(&self, number: &TicketNumber) -> StoreResult<Option<Ticket>> {
        let s = self.lock();
        Ok(s.numbers.get(&number.seq()).and_then(|id| s.tickets.get(id)).filter(|t| &t.number == number).cloned())
    }
    async fn list_tickets(&self, q: &TicketQuery) -> StoreResult<Page<Ticket>> {
        let s = self.lock();
        let mut items: Vec<Ticket> = s.tickets.values().filter(|t| q.selects(t)).cloned().collect();
        items.sort_by(|a, b| q.sort.compare(a, b));
        items.truncate(q.limit.get() + 1);
        Ok(Page::from_overfetch(items, q.limit, |t| q.sort.cursor(t)))
    }
    async fn ticket_counts(&self, q: &TicketQuery) -> StoreResult<Vec<(TicketStatus, u64)>> {
        let q = q.for_counting();
        Ok(TicketQuery::tally(self.lock().tickets.values().filter(|t| q.matches(t))))
    }
    async fn resolved_before(&self, cutoff: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Ticket>> {
        let s = self.lock();
        let mut v: Vec<Ticket> = s
            .tickets
            .values()
            .filter(|t| t.status == TicketStatus::Resolved && t.resolved_at.is_some_and(|r| r < cutoff))
            .cloned()
            .collect();
        v.sort_by_key(|t| (t.resolved_at, t.id));
        v.truncate(limit);
        Ok(v)
    }
    async fn sla_alerts_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<(DateTime<Utc>, TicketId)>> {
        let s = self.lock();
        let mut v: Vec<(DateTime<Utc>, TicketId)> = s
            .tickets
            .values()
            .flat_map(|t| t.sla.alerts.iter().filter(|a| **a > after && **a <= until).map(|a| (*a, t.id)))
            .collect();
        v.sort_unstable_by_key(|(a, id)| (*a, id.as_uuid()));
        v.truncate(limit);
        Ok(v)
    }
    async fn history(&self, ticket: TicketId) -> StoreResult<Vec<HistoryEvent>> {
        Ok(self.lock().events.get(&ticket).cloned().unwrap_or_default())
    }
    async fn comments(&self, ticket: TicketId) -> StoreResult<Vec<Comment>> {
        Ok(self.lock().comments.get(&ticket).cloned().unwrap_or_default())
    }
    async fn attachments(&self, ticket: TicketId) -> StoreResult<Vec<Attachment>> {
        let mut v: Vec<Attachment> = self.lock().attachments.values().filter(|a| a.ticket == ticket).cloned().collect();
        v.sort_by_key(|a| (a.created_at, a.id));
        Ok(v)
    }
    async fn attachment(&self, id: AttachmentId) -> StoreResult<Option<Attachment>> {
        Ok(self.lock().attachments.get(&id).cloned())
    }
    async fn allocate_ticket_number(&self) -> StoreResult<u64> {
        let mut s = self.lock();
        s.counter += 1;
        Ok(s.counter)
    }
}

#[async_trait]
impl UserStore for InMemoryStore {
    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        Ok(self.lock().users.get(&id).cloned())
    }
    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        let s = self.lock();
        Ok(s.by_email.get(email.as_str()).and_then(|id| s.users.get(id)).cloned())
    }
    async fn user_by_company_id(&self, id: &CompanyId) -> StoreResult<Option<User>> {
        let s = self.lock();
        Ok(s.by_company.get(id.as_str()).and_then(|id| s.users.get(id)).cloned())
    }
    async fn list_users(&self, q: &UserQuery) -> StoreResult<Page<User>> {
        let s = self.lock();
        let mut v: Vec<User> = s.users.values().filter(|u| q.selects(u)).cloned().collect();
        v.sort_by_key(|u| std::cmp::Reverse((u.created_at.timestamp_micros(), u.id.as_uuid())));
        v.truncate(q.limit.get() + 1);
        Ok(Page::from_overfetch(v, q.limit, UserQuery::key))
    }
    async fn user_count(&self) -> StoreResult<u64> {
        Ok(self.lock().users.len() as u64)
    }
    async fn rejections(&self, cursor: Option<Cursor>, limit: PageSize) -> StoreResult<Page<RejectionRecord>> {
        let s = self.lock();
        let key = |r: &RejectionRecord| Cursor { key: r.rejected_at.timestamp_micros(), id: r.id.as_uuid() };
        let mut v: Vec<RejectionRecord> = s
            .rejections
            .iter()
            .filter(|r| cursor.is_none_or(|c| (key(r).key, key(r).id) < (c.key, c.id)))
            .cloned()
            .collect();
        v.sort_by_key(|r| std::cmp::Reverse((key(r).key, key(r).id)));
        v.truncate(limit.get() + 1);
        Ok(Page::from_overfetch(v, limit, key))
    }
    async fn rejection_count(&self) -> StoreResult<u64> {
        Ok(self.lock().rejections.len() as u64)
    }
}

#[async_trait]
impl SessionStore for InMemoryStore {
    async fn create_session(&self, session: &Session) -> StoreResult<()> {
        let mut s = self.lock();
        if s.sessions.contains_key(&session.id) {
            return Err(StoreError::AlreadyExists { what: "id" });
        }
        s.refresh.insert(session.refresh_hash, (session.id, false));
        s.sessions.insert(session.id, session.clone());
        Ok(())
    }
    async fn session(&self, id: SessionId) -> StoreResult<Option<(Session, User)>> {
        let s = self.lock();
        Ok(s.sessions.get(&id).and_then(|sess| s.users.get(&sess.user).map(|u| (sess.clone(), u.clone()))))
    }
    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: DateTime<Utc>,
        idle: DateTime<Utc>,
    ) -> StoreResult<RefreshOutcome> {
        let mut s = self.lock();
        let Some(&(sid, used)) = s.refresh.get(presented) else { return Ok(RefreshOutcome::Unknown) };
        let Some(session) = s.sessions.get(&sid).cloned() else { return Ok(RefreshOutcome::Unknown) };
        let decision = decide_refresh(session, used, *next, now, idle);
        match &decision {
            RefreshDecision::Rotate(rotated) => {
                s.sessions.insert(sid, rotated.clone());
                s.refresh.insert(*presented, (sid, true));
                s.refresh.insert(*next, (sid, false));
            }
            RefreshDecision::Revoke { revoked: Some(revoked), .. } => {
                s.sessions.insert(sid, revoked.clone());
            }
            RefreshDecision::Revoke { revoked: None, .. } | RefreshDecision::Ended => {}
        }
        Ok(decision.outcome())
    }
    async fn user_sessions(&self, user: UserId) -> StoreResult<Vec<Session>> {
        let mut v: Vec<Session> =
            self.lock().sessions.values().filter(|s| s.user == user && s.revoked_at.is_none()).cloned().collect();
        v.sort_by_key(|s| (s.created_at, s.id));
        Ok(v)
    }
    async fn revoke_session(&self, id: SessionId, now: DateTime<Utc>) -> StoreResult<()> {
        if let Some(s) = self.lock().sessions.get_mut(&id) {
            s.revoked_at.get_or_insert(now);
        }
        Ok(())
    }
    async fn revoke_user_sessions(
        &self,
        user: UserId,
        except: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut n = 0;
        for s in self
            .lock()
            .sessions
            .values_mut()
            .filter(|s| s.user == user && Some(s.id) != except && s.revoked_at.is_none())
        {
            s.revoked_at = Some(now);
            n += 1;
        }
        Ok(n)
    }
}

#[async_trait]
impl TokenStore for InMemoryStore {
    async fn one_time_token(&self, hash: &TokenHash) -> StoreResult<Option<OneTimeToken>> {
        Ok(self.lock().tokens.get(hash).cloned())
    }
}

#[async_trait]
impl ApiKeyStore for InMemoryStore {
    async fn create_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        let mut s = self.lock();
        if s.api_keys.iter().any(|k| k.id == key.id) {
            return Err(StoreError::AlreadyExists { what: "id" });
        }
        s.api_keys.push(key.clone());
        Ok(())
    }
    async fn api_key(&self, id: ApiKeyId) -> StoreResult<Option<ApiKey>> {
        Ok(self.lock().api_keys.iter().find(|k| k.id == id).cloned())
    }
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        let mut v = self.lock().api_keys.clone();
        v.sort_by_key(|k| (k.created_at, k.id));
        Ok(v)
    }
    async fn revoke_api_key(&self, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<()> {
        let mut s = self.lock();
        let k = s.api_keys.iter_mut().find(|k| k.id == id).ok_or(StoreError::NotFound { what: "api key" })?;
        k.revoked_at.get_or_insert(now);
        Ok(())
    }
}

#[async_trait]
impl AuditStore for InMemoryStore {
    async fn list_audit(&self, q: &AuditQuery) -> StoreResult<Page<AuditEntry>> {
        let s = self.lock();
        let key = |e: &AuditEntry| Cursor { key: e.at.timestamp_micros(), id: e.id.as_uuid() };
        let mut v: Vec<AuditEntry> = s
            .audit
            .iter()
            .filter(|e| {
                q.kind.is_none_or(|k| e.kind == k)
                    && q.target.as_ref().is_none_or(|t| e.target.as_ref() == Some(t))
                    && q.cursor.is_none_or(|c| (key(e).key, key(e).id) < (c.key, c.id))
            })
            .cloned()
            .collect();
        v.sort_by_key(|e| std::cmp::Reverse((key(e).key, key(e).id)));
        v.truncate(q.limit.get() + 1);
        Ok(Page::from_overfetch(v, q.limit, key))
    }
}

#[async_trait]
impl IdempotencyStore for InMemoryStore {
    async fn begin_idempotent(
        &self,
        key: &IdempotencyKey,
        hash: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> StoreResult<IdempotencyBegin> {
        let mut s = self.lock();
        if let Some(answer) = s.idempotency.get(key).and_then(|i| i.answer(key, hash, now, stale_before)) {
            return Ok(answer);
        }
        let row = IdempotencyState { request_hash: hash.to_owned(), response: None, started_at: now, expires_at: None };
        s.idempotency.insert(key.clone(), row);
        Ok(IdempotencyBegin::Started)
    }
    async fn release_idempotent(&self, key: &IdempotencyKey) -> StoreResult<()> {
        let mut s = self.lock();
        if s.idempotency.get(key).is_some_and(|i| i.response.is_none()) {
            s.idempotency.remove(key);
        }
        Ok(())
    }
}

#[async_trait]
impl ThrottleStore for InMemoryStore {
    async fn login_failures(&self, key: &str) -> StoreResult<FailureState> {
        Ok(self.lock().failures.get(key).copied().unwrap_or_default())
    }
    async fn record_login_failure(&self, key: &str, now: DateTime<Utc>) -> StoreResult<FailureState> {
        let mut s = self.lock();
        let f = s.failures.entry(key.to_owned()).or_default();
        f.count += 1;
        f.last_at = Some(now);
        Ok(*f)
    }
    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        self.lock().failures.remove(key);
        Ok(())
    }
    async fn hit_window(&self, key: &str, window_start: DateTime<Utc>) -> StoreResult<u64> {
        let mut s = self.lock();
        let n = s.windows.entry((key.to_owned(), window_start)).or_default();
        *n += 1;
        Ok(*n)
    }
}

#[async_trait]
impl OutboxStore for InMemoryStore {
    async fn claim_outbox(&self, now: DateTime<Utc>, limit: usize, lease: Lease) -> StoreResult<Vec<OutboxRecord>> {
        let mut s = self.lock();
        let mut due: Vec<&mut OutboxRecord> = s
            .outbox
            .values_mut()
            .filter(|r| {
                r.state == OutboxState::Pending && r.next_attempt_at <= now && r.lease_until.is_none_or(|u| u <= now)
            })
            .collect();
        due.sort_by_key(|r| (r.next_attempt_at, r.message.id));
        Ok(due
            .into_iter()
            .take(limit)
            .map(|r| {
                r.lease_token = Some(lease.token);
                r.lease_until = Some(lease.until);
                r.attempts += 1;
                r.clone()
            })
            .collect())
    }
    async fn ack_outbox(&self, id: MessageId, token: uuid::Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        let mut s = self.lock();
        let r = s.outbox.get_mut(&id).ok_or(StoreError::NotFound { what: "outbox message" })?;
        if r.lease_token != Some(token) || r.state != OutboxState::Pending {
            return Err(StoreError::Conflict { what: "lease" });
        }
        if r.message.is_sensitive() {
            r.message.payload = OutboxPayload::Redacted;
        }
        r.state = OutboxState::Delivered;
        r.delivered_at = Some(now);
        r.lease_token = None;
        r.lease_until = None;
        r.last_error = None;
        Ok(())
    }
    async fn fail_outbox(&self, id: MessageId, token: uuid::Uuid, failure: DeliveryFailure) -> StoreResult<()> {
        let mut s = self.lock();
        let r = s.outbox.get_mut(&id).ok_or(StoreError::NotFound { what: "outbox message" })?;
        if r.lease_token != Some(token) || r.state != OutboxState::Pending {
            return Err(StoreError::Conflict { what: "lease" });
        }
        r.last_error = Some(failure.error);
        r.lease_token = None;
        r.lease_until = None;
        match failure.retry_at {
            Some(at) => r.next_attempt_at = at,
            None => r.state = OutboxState::Dead,
        }
        Ok(())
    }
    async fn list_outbox(
        &self,
        state: OutboxState,
        cursor: Option<Cursor>,
        limit: PageSize,
    ) -> StoreResult<Page<OutboxRecord>> {
        let s = self.lock();
        let key =
            |r: &OutboxRecord| Cursor { key: r.message.created_at.timestamp_micros(), id: r.message.id.as_uuid() };
        let mut v: Vec<OutboxRecord> = s
            .outbox
            .values()
            .filter(|r| r.state == state && cursor.is_none_or(|c| (key(r).key, key(r).id) > (c.key, c.id)))
            .cloned()
            .collect();
        v.sort_by_key(|r| (key(r).key, key(r).id));
        v.truncate(limit.get() + 1);
        Ok(Page::from_overfetch(v, limit, key))
    }
    async fn outbox_message(&self, id: MessageId) -> StoreResult<Option<OutboxRecord>> {
        Ok(self.lock().outbox.get(&id).cloned())
    }
    async fn retry_outbox(&self, id: MessageId, now: DateTime<Utc>) -> StoreResult<()> {
        let mut s = self.lock();
        let r = s.outbox.get_mut(&id).ok_or(StoreError::NotFound { what: "outbox message" })?;
        if r.state != OutboxState::Dead {
            return Err(StoreError::Conflict { what: "state" });
        }
        r.state = OutboxState::Pending;
        r.attempts = 0;
        r.next_attempt_at = now;
        Ok(())
    }
    async fn next_outbox_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(self
            .lock()
            .outbox
            .values()
            .filter(|r| r.state == OutboxState::Pending)
            .map(|r| r.lease_until.map_or(r.next_attempt_at, |l| l.max(r.next_attempt_at)))
            .min())
    }
}

#[async_trait]
impl ReportStore for InMemoryStore {
    async fn summary(&self, now: DateTime<Utc>) -> StoreResult<Summary> {
        let s = self.lock();
        let mut out = Summary {
            total_tickets: s.tickets.len() as u64,
            rejected_registrations: s.rejections.len() as u64,
            ..Summary::default()
        };
        for t in s.tickets.values() {
            *out.by_status.entry(t.status.to_string()).or_default() += 1;
            *out.by_priority.entry(t.priority.map_or("untriaged".into(), |p| p.to_string())).or_default() += 1;
            *out.by_department.entry(t.department.as_ref().map_or("none".into(), |d| d.to_string())).or_default() += 1;
            *out.by_category.entry(t.category.to_string()).or_default() += 1;
            for g in &t.tags {
                *out.by_tag.entry(g.to_string()).or_default() += 1;
            }
            if t.status == TicketStatus::New && t.created_at < now - chrono::Duration::hours(24) {
                out.new_waiting_over_24h += 1;
            }
        }
        for u in s.users.values() {
            *out.users_by_role.entry(u.role.to_string()).or_default() += 1;
            *out.users_by_status.entry(u.status.to_string()).or_default() += 1;
        }
        Ok(out)
    }
    async fn performance(&self, range: ReportRange) -> StoreResult<PerformanceReport> {
        let s = self.lock();
        let mut b = PerformanceBuilder::default();
        for t in s.tickets.values() {
            if range.contains(t.created_at) {
                b.add_created(t);
            }
            if let Some(r) = t.resolved_at.filter(|r| range.contains(*r)) {
                b.add_resolved(r);
            }
            if !t.status.is_terminal() && t.status != TicketStatus::Resolved {
                b.add_backlog(t.status);
            }
        }
        Ok(b.finish(range))
    }
    async fn satisfaction_samples(&self, range: ReportRange) -> StoreResult<crate::ports::SatisfactionSamples> {
        let s = self.lock();
        let mut out = crate::ports::SatisfactionSamples::default();
        for t in s.tickets.values().filter(|t| range.contains(t.created_at)) {
            out.resolved += u64::from(t.resolved_at.is_some());
            if t.satisfaction.is_some() {
                out.rated.push(t.clone());
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl crate::ports::SettingsStore for InMemoryStore {
    async fn document(&self, key: crate::ports::DocumentKey) -> StoreResult<Option<(serde_json::Value, u64)>> {
        Ok(self.lock().documents.get(key.as_str()).cloned())
    }
    async fn save_document(
        &self,
        key: crate::ports::DocumentKey,
        doc: &serde_json::Value,
        expected: u64,
    ) -> StoreResult<u64> {
        let mut s = self.lock();
        let found = s.documents.get(key.as_str()).map_or(0, |(_, v)| *v);
        if found != expected {
            return Err(StoreError::VersionMismatch { expected, found });
        }
        s.documents.insert(key.as_str(), (doc.clone(), found + 1));
        Ok(found + 1)
    }
}

#[async_trait]
impl ArchiveStore for InMemoryStore {
    async fn one_time_tokens(&self) -> StoreResult<Vec<OneTimeToken>> {
        Ok(self.lock().tokens.values().cloned().collect())
    }

    async fn ticket_number_high_water(&self) -> StoreResult<u64> {
        Ok(self.lock().counter)
    }

    async fn raise_ticket_number(&self, at_least: u64) -> StoreResult<()> {
        let mut s = self.lock();
        s.counter = s.counter.max(at_least);
        Ok(())
    }

    async fn import_outbox(&self, records: Vec<OutboxRecord>) -> StoreResult<()> {
        let mut s = self.lock();
        let mut ids = HashSet::new();
        if records.iter().any(|r| s.outbox.contains_key(&r.message.id) || !ids.insert(r.message.id)) {
            return Err(StoreError::AlreadyExists { what: "id" });
        }
        for mut r in records {
            r.lease_token = None;
            r.lease_until = None;
            s.outbox_order.push(r.message.id);
            s.outbox.insert(r.message.id, r);
        }
        Ok(())
    }
}

#[async_trait]
impl MaintenanceStore for InMemoryStore {
    async fn purge(&self, before: PurgeBefore) -> StoreResult<PurgeReport> {
        let mut s = self.lock();
        let mut r = PurgeReport::default();
        let n = s.outbox.len();
        s.outbox.retain(|_, m| {
            !(m.state == OutboxState::Delivered && m.delivered_at.is_some_and(|d| d < before.delivered_outbox))
        });
        r.outbox = (n - s.outbox.len()) as u64;
        let State { outbox, outbox_order, .. } = &mut *s;
        outbox_order.retain(|id| outbox.contains_key(id));
        let n = s.idempotency.len();
        s.idempotency.retain(|_, i| i.expires_at.is_none_or(|e| e >= before.idempotency));
        r.idempotency = (n - s.idempotency.len()) as u64;
        let n = s.audit.len();
        s.audit.retain(|e| e.at >= before.audit);
        r.audit = (n - s.audit.len()) as u64;
        let cutoff = before.sessions_and_tokens;
        let n = s.sessions.len() + s.tokens.len() + s.windows.len();
        let ended: Vec<SessionId> = s
            .sessions
            .values()
            .filter(|x| {
                x.revoked_at.is_some_and(|r| r < cutoff) || x.absolute_expires_at < cutoff || x.idle_expires_at < cutoff
            })
            .map(|x| x.id)
            .collect();
        for id in &ended {
            s.sessions.remove(id);
        }
        s.refresh.retain(|_, (sid, _)| !ended.contains(sid));
        s.tokens.retain(|_, t| t.expires_at >= cutoff);
        s.windows.retain(|(_, start), _| *start >= cutoff);
        r.sessions_and_tokens = (n - s.sessions.len() - s.tokens.len() - s.windows.len()) as u64;
        let n = s.notices.len();
        s.notices.retain(|x| x.created_at >= before.notices);
        r.notices = (n - s.notices.len()) as u64;
        Ok(r)
    }
}

/// In memory a combined read gains nothing over the single reads: the defaults.
impl CombinedReads for InMemoryStore {}

#[async_trait]
impl crate::ports::InboundStore for InMemoryStore {
    async fn inbound(&self, id: InboundId) -> StoreResult<Option<InboundMessage>> {
        Ok(self.lock().inbound.get(&id).cloned())
    }

    async fn inbound_by_key(&self, key: &str) -> StoreResult<Option<InboundMessage>> {
        Ok(self.lock().inbound.values().find(|m| m.key == key).cloned())
    }

    async fn list_inbound(
        &self,
        outcome: Option<&'static str>,
        before: Option<(DateTime<Utc>, InboundId)>,
        limit: usize,
    ) -> StoreResult<Vec<InboundMessage>> {
        let s = self.lock();
        let mut v: Vec<InboundMessage> = s
            .inbound
            .values()
            .filter(|m| outcome.is_none_or(|o| m.outcome.name() == o))
            .filter(|m| before.is_none_or(|b| (m.received_at, m.id) < b))
            .cloned()
            .collect();
        v.sort_by_key(|m| std::cmp::Reverse((m.received_at, m.id)));
        v.truncate(limit);
        Ok(v)
    }
}

#[async_trait]
impl NoticeStore for InMemoryStore {
    async fn notices(&self, user: UserId, limit: usize) -> StoreResult<Vec<Notice>> {
        let s = self.lock();
        let mut v: Vec<Notice> = s.notices.iter().filter(|n| n.user == user).cloned().collect();
        v.sort_by_key(|n| std::cmp::Reverse((n.created_at, n.id)));
        v.truncate(limit);
        Ok(v)
    }
    async fn unread_notices(&self, user: UserId) -> StoreResult<u64> {
        Ok(self.lock().notices.iter().filter(|n| n.user == user && n.read_at.is_none()).count() as u64)
    }
    async fn mark_notices_read(&self, user: UserId, id: Option<NoticeId>, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut s = self.lock();
        let mut changed = 0;
        for n in s.notices.iter_mut() {
            if n.user == user && n.read_at.is_none() && id.is_none_or(|id| n.id == id) {
                n.read_at = Some(now);
                changed += 1;
            }
        }
        Ok(changed)
    }
}
