//! Reads and the small single-purpose writes (sessions, throttles, idempotency, API keys):
//! every port except the unit of work, the outbox and reports.

use std::ops::Bound;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use helpdesk_core::domain::{
    ApiKeyId, AttachmentId, CompanyId, Email, SessionId, TicketId, TicketNumber, TicketStatus, UserId,
};
use helpdesk_core::model::{
    ApiKey, Attachment, AuditEntry, Comment, HistoryEvent, OneTimeToken, RejectionRecord, Session, Ticket, TokenHash,
    User,
};
use helpdesk_core::ports::*;
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use crate::SledStore;
use crate::codec::{dec, enc, get, sled_err};
use crate::commit::{IdemRow, idem_key, tx_error};
use crate::keys::Key;

/// How a ticket row read from sled enters the row cache.
#[derive(Clone, Copy)]
enum Keep {
    /// As any read: the row may push out the least recently used ones.
    Always,
    /// Only into room the cache has spare (see [`SledStore::ticket_for_scan`]).
    IfRoom,
}

impl SledStore {
    fn ticket_by_uuid(&self, id: &[u8]) -> StoreResult<Option<Ticket>> {
        let Ok(bytes) = <[u8; 16]>::try_from(id) else {
            return Ok(None);
        };
        self.ticket_cached(uuid::Uuid::from_bytes(bytes), Keep::Always)
    }

    /// A ticket for a scan over many (a report): from the row cache when it holds the row,
    /// else from sled, kept only in room the cache has spare, so a report warms a cold cache
    /// (after a restart) but a report over a year of tickets does not push out the rows the
    /// desk is working on.
    pub(crate) fn ticket_for_scan(&self, uuid: uuid::Uuid) -> StoreResult<Option<Ticket>> {
        self.ticket_cached(uuid, Keep::IfRoom)
    }

    fn ticket_cached(&self, uuid: uuid::Uuid, keep: Keep) -> StoreResult<Option<Ticket>> {
        let key = uuid.as_u128();
        let epoch = match self.rows.get(key, crate::codec::dec_ticket) {
            Ok(ticket) => return ticket.map(Some),
            Err(epoch) => epoch,
        };
        let Some(v) = self.t.tickets.get(uuid.as_bytes()).map_err(sled_err)? else {
            return Ok(None);
        };
        let ticket = crate::codec::dec_ticket(&v)?;
        match keep {
            Keep::Always => self.rows.fill(key, &v, epoch),
            Keep::IfRoom => self.rows.fill_spare(key, &v, epoch),
        }
        Ok(Some(ticket))
    }
}

#[async_trait]
impl TicketStore for SledStore {
    async fn ticket(&self, id: TicketId) -> StoreResult<Option<Ticket>> {
        self.ticket_by_uuid(id.as_uuid().as_bytes())
    }

    async fn ticket_by_number(&self, number: &TicketNumber) -> StoreResult<Option<Ticket>> {
        let seq = number.seq();
        // The lists' index knows every ticket's number; the number's entry in sled answers for
        // a ticket whose commit has not reached the index yet.
        let id = match self.list.id_of(seq) {
            Some(id) => id.to_be_bytes(),
            None => match self.t.ticket_numbers.get(seq.to_be_bytes()).map_err(sled_err)? {
                Some(v) => {
                    <[u8; 16]>::try_from(v.as_ref()).map_err(|_| crate::codec::corrupt("a ticket number's entry"))?
                }
                None => return Ok(None),
            },
        };
        Ok(self.ticket_by_uuid(&id)?.filter(|t| &t.number == number))
    }

    async fn list_tickets(&self, q: &TicketQuery) -> StoreResult<Page<Ticket>> {
        // The index hands out positions in order, a batch at a time (each batch eight times
        // the last, so a filter the index cannot check, such as text, still costs a few passes);
        // each ticket is read and checked against every filter again, so a ticket that changed
        // since the index was read is never listed under a filter it no longer passes.
        let want = q.limit.get() + 1;
        let mut items = Vec::with_capacity(want);
        let mut after = q.cursor.map(|c| (c.key, c.id.as_u128()));
        let mut batch = want;
        'pages: loop {
            let keys = self.list.next_keys(q, after, batch);
            let last_batch = keys.len() < batch;
            for (key, id) in keys {
                after = Some((key, id));
                if let Some(t) = self.ticket_by_uuid(uuid::Uuid::from_u128(id).as_bytes())?
                    && q.selects(&t)
                {
                    items.push(t);
                    if items.len() >= want {
                        break 'pages;
                    }
                }
            }
            if last_batch {
                break;
            }
            batch = batch.saturating_mul(8);
        }
        Ok(Page::from_overfetch(items, q.limit, |t| q.sort.cursor(t)))
    }

    async fn ticket_counts(&self, q: &TicketQuery) -> StoreResult<Vec<(TicketStatus, u64)>> {
        let q = q.for_counting();
        if q.text_needle().is_none() {
            return Ok(self.list.tally(&q));
        }
        // A text filter reads the tickets the other filters leave.
        let mut tickets = Vec::new();
        for id in self.list.ids(&q) {
            if let Some(t) = self.ticket_by_uuid(id.as_bytes())?
                && q.matches(&t)
            {
                tickets.push(t);
            }
        }
        Ok(TicketQuery::tally(&tickets))
    }

    async fn resolved_before(&self, cutoff: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Ticket>> {
        let end = Key::new().time(cutoff).build();
        let mut out = Vec::new();
        for kv in self.t.resolved_idx.range(..end) {
            let (k, _) = kv.map_err(sled_err)?;
            if let Some(t) = self.ticket_by_uuid(&k[8..])?
                && t.status == TicketStatus::Resolved
            {
                out.push(t);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    async fn sla_alerts_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<(DateTime<Utc>, TicketId)>> {
        // Alert entries sort by moment, then id: the range starts after every entry at
        // `after` and ends after every entry at `until`.
        let tag = crate::keys::SLA_ALERT;
        let start = Key::new().u8(tag).i64(after.timestamp_micros().saturating_add(1)).build();
        let end = Key::new().u8(tag).i64(until.timestamp_micros().saturating_add(1)).build();
        let mut out = Vec::new();
        for kv in self.t.ticket_idx.range(start..end).take(limit) {
            let (k, _) = kv.map_err(sled_err)?;
            let at = DateTime::from_timestamp_micros(crate::keys::key_i64(&k[1..9]))
                .ok_or_else(|| crate::codec::corrupt("an alert moment out of range"))?;
            let id = uuid::Uuid::from_slice(&k[9..]).map_err(|_| crate::codec::corrupt("an alert key"))?;
            out.push((at, TicketId::from_uuid(id)));
        }
        Ok(out)
    }

    async fn history(&self, ticket: TicketId) -> StoreResult<Vec<HistoryEvent>> {
        self.t.events.scan_prefix(ticket.as_uuid().as_bytes()).map(|kv| dec(&kv.map_err(sled_err)?.1)).collect()
    }

    async fn comments(&self, ticket: TicketId) -> StoreResult<Vec<Comment>> {
        self.t.comments.scan_prefix(ticket.as_uuid().as_bytes()).map(|kv| dec(&kv.map_err(sled_err)?.1)).collect()
    }

    async fn attachments(&self, ticket: TicketId) -> StoreResult<Vec<Attachment>> {
        let mut out = Vec::new();
        for kv in self.t.ticket_attachments.scan_prefix(ticket.as_uuid().as_bytes()) {
            let (k, _) = kv.map_err(sled_err)?;
            if let Some(a) = get(&self.t.attachments, &k[24..])? {
                out.push(a);
            }
        }
        Ok(out)
    }

    async fn attachment(&self, id: AttachmentId) -> StoreResult<Option<Attachment>> {
        get(&self.t.attachments, id.as_uuid().as_bytes())
    }

    async fn allocate_ticket_number(&self) -> StoreResult<u64> {
        let _writing = self.writing();
        let next = self
            .t
            .meta
            .update_and_fetch(crate::archive::TICKET_SEQ, |old| {
                let n = old.and_then(|b| <[u8; 8]>::try_from(b).ok()).map_or(0, u64::from_be_bytes);
                Some((n + 1).to_be_bytes().to_vec())
            })
            .map_err(sled_err)?;
        Ok(next.and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok()).map_or(1, u64::from_be_bytes))
    }
}

#[async_trait]
impl UserStore for SledStore {
    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        crate::codec::get_user(&self.t.users, id.as_uuid().as_bytes())
    }
    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        match self.t.user_email.get(email.as_str().as_bytes()).map_err(sled_err)? {
            Some(id) => crate::codec::get_user(&self.t.users, &id),
            None => Ok(None),
        }
    }
    async fn user_by_company_id(&self, id: &CompanyId) -> StoreResult<Option<User>> {
        match self.t.user_company.get(id.as_str().as_bytes()).map_err(sled_err)? {
            Some(id) => crate::codec::get_user(&self.t.users, &id),
            None => Ok(None),
        }
    }
    async fn list_users(&self, q: &UserQuery) -> StoreResult<Page<User>> {
        let upper = match q.cursor {
            Some(c) => Bound::Excluded(Key::new().i64(c.key).uuid(c.id).build()),
            None => Bound::Unbounded,
        };
        let mut items = Vec::new();
        for kv in self.t.user_created.range((Bound::Unbounded, upper)).rev() {
            let (k, _) = kv.map_err(sled_err)?;
            if let Some(u) = crate::codec::get_user(&self.t.users, &k[8..])?
                && q.selects(&u)
            {
                items.push(u);
                if items.len() > q.limit.get() {
                    break;
                }
            }
        }
        Ok(Page::from_overfetch(items, q.limit, UserQuery::key))
    }
    async fn user_count(&self) -> StoreResult<u64> {
        Ok(self.t.users.len() as u64)
    }
    async fn rejections(&self, cursor: Option<Cursor>, limit: PageSize) -> StoreResult<Page<RejectionRecord>> {
        newest_first(
            &self.t.rejections,
            cursor,
            limit,
            |_: &RejectionRecord| true,
            |r| Cursor { key: r.rejected_at.timestamp_micros(), id: r.id.as_uuid() },
        )
    }
    async fn rejection_count(&self) -> StoreResult<u64> {
        Ok(crate::codec::counter_value(self.t.counters.get("rejections").map_err(sled_err)?.as_deref()).max(0) as u64)
    }
}

/// A newest-first page of a tree keyed by (time, id).
fn newest_first<T: serde::de::DeserializeOwned + crate::codec::JsonRow>(
    tree: &sled::Tree,
    cursor: Option<Cursor>,
    limit: PageSize,
    keep: impl Fn(&T) -> bool,
    key: impl Fn(&T) -> Cursor,
) -> StoreResult<Page<T>> {
    let upper = match cursor {
        Some(c) => Bound::Excluded(Key::new().i64(c.key).uuid(c.id).build()),
        None => Bound::Unbounded,
    };
    let mut items = Vec::new();
    for kv in tree.range((Bound::Unbounded, upper)).rev() {
        let v: T = dec(&kv.map_err(sled_err)?.1)?;
        if keep(&v) {
            items.push(v);
            if items.len() > limit.get() {
                break;
            }
        }
    }
    Ok(Page::from_overfetch(items, limit, key))
}

fn refresh_value(session: SessionId, used: bool) -> Vec<u8> {
    let mut v = session.as_uuid().as_bytes().to_vec();
    v.push(u8::from(used));
    v
}

/// sled reads are in-process: combining them gains nothing, so the defaults serve.
impl CombinedReads for SledStore {}

#[async_trait]
impl SessionStore for SledStore {
    async fn create_session(&self, s: &Session) -> StoreResult<()> {
        let writing = self.writing();
        let t = &self.t;
        let key = s.id.as_uuid();
        let value = crate::account_rows::encode_session(s)?;
        (&t.sessions, &t.refresh, &t.user_sessions)
            .transaction(|(sessions, refresh, by_user)| {
                if sessions.get(key.as_bytes())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(StoreError::AlreadyExists { what: "id" }));
                }
                sessions.insert(key.as_bytes(), value.clone())?;
                refresh.insert(&s.refresh_hash.0, refresh_value(s.id, false))?;
                by_user.insert(Key::new().uuid(s.user.as_uuid()).uuid(key).build(), &[])?;
                Ok(())
            })
            .map_err(tx_error)?;
        drop(writing);
        self.durable().await
    }

    async fn session(&self, id: SessionId) -> StoreResult<Option<(Session, User)>> {
        let Some(s) = crate::codec::get_session(&self.t.sessions, id.as_uuid().as_bytes())? else { return Ok(None) };
        Ok(crate::codec::get_user(&self.t.users, s.user.as_uuid().as_bytes())?.map(|u| (s, u)))
    }

    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: DateTime<Utc>,
        idle: DateTime<Utc>,
    ) -> StoreResult<RefreshOutcome> {
        let writing = self.writing();
        let t = &self.t;
        let out = (&t.sessions, &t.refresh)
            .transaction(|(sessions, refresh)| {
                let abort = ConflictableTransactionError::Abort;
                let Some(v) = refresh.get(presented.0)? else { return Ok(RefreshOutcome::Unknown) };
                if v.len() != 17 {
                    return Ok(RefreshOutcome::Unknown);
                }
                let sid = SessionId::from_uuid(uuid::Uuid::from_slice(&v[..16]).map_err(|e| abort(crate::backend(e)))?);
                let used = v[16] == 1;
                let Some(raw) = sessions.get(sid.as_uuid().as_bytes())? else { return Ok(RefreshOutcome::Unknown) };
                let decision =
                    decide_refresh(crate::account_rows::decode_session(&raw).map_err(abort)?, used, *next, now, idle);
                match &decision {
                    RefreshDecision::Rotate(s) => {
                        sessions
                            .insert(sid.as_uuid().as_bytes(), crate::account_rows::encode_session(s).map_err(abort)?)?;
                        refresh.insert(&presented.0, refresh_value(sid, true))?;
                        refresh.insert(&next.0, refresh_value(sid, false))?;
                    }
                    RefreshDecision::Revoke { revoked: Some(s), .. } => {
                        sessions
                            .insert(sid.as_uuid().as_bytes(), crate::account_rows::encode_session(s).map_err(abort)?)?;
                    }
                    RefreshDecision::Revoke { revoked: None, .. } | RefreshDecision::Ended => {}
                }
                Ok(decision.outcome())
            })
            .map_err(tx_error)?;
        drop(writing);
        if !matches!(out, RefreshOutcome::Unknown | RefreshOutcome::Ended) {
            self.durable().await?;
        }
        Ok(out)
    }

    async fn user_sessions(&self, user: UserId) -> StoreResult<Vec<Session>> {
        let mut out = Vec::new();
        for id in self.sessions_of(user)? {
            if let Some(s) = crate::codec::get_session(&self.t.sessions, id.as_uuid().as_bytes())?
                && s.revoked_at.is_none()
            {
                out.push(s);
            }
        }
        out.sort_by_key(|s| (s.created_at, s.id));
        Ok(out)
    }

    async fn revoke_session(&self, id: SessionId, now: DateTime<Utc>) -> StoreResult<()> {
        self.revoke_ids(&[id], now)?;
        self.durable().await
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        except: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let ids: Vec<SessionId> = self.sessions_of(user)?.into_iter().filter(|s| Some(*s) != except).collect();
        let n = self.revoke_ids(&ids, now)?;
        self.durable().await?;
        Ok(n)
    }
}

impl SledStore {
    fn revoke_ids(&self, ids: &[SessionId], now: DateTime<Utc>) -> StoreResult<u64> {
        let _writing = self.writing();
        let mut n = 0;
        for id in ids {
            let key = id.as_uuid();
            let changed = self
                .t
                .sessions
                .transaction(|sessions| {
                    let abort = ConflictableTransactionError::Abort;
                    let Some(raw) = sessions.get(key.as_bytes())? else { return Ok(false) };
                    let mut s: Session = crate::account_rows::decode_session(&raw).map_err(abort)?;
                    if s.revoked_at.is_some() {
                        return Ok(false);
                    }
                    s.revoked_at = Some(now);
                    sessions.insert(key.as_bytes(), crate::account_rows::encode_session(&s).map_err(abort)?)?;
                    Ok(true)
                })
                .map_err(tx_error)?;
            n += u64::from(changed);
        }
        Ok(n)
    }
}

#[async_trait]
impl TokenStore for SledStore {
    async fn one_time_token(&self, hash: &TokenHash) -> StoreResult<Option<OneTimeToken>> {
        get(&self.t.tokens, &hash.0)
    }
}

#[async_trait]
impl ApiKeyStore for SledStore {
    async fn create_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        let writing = self.writing();
        let v = enc(key)?;
        let res = self
            .t
            .api_keys
            .compare_and_swap(key.id.as_uuid().as_bytes(), None as Option<&[u8]>, Some(v))
            .map_err(sled_err)?;
        if res.is_err() {
            return Err(StoreError::AlreadyExists { what: "id" });
        }
        drop(writing);
        self.durable().await
    }
    async fn api_key(&self, id: ApiKeyId) -> StoreResult<Option<ApiKey>> {
        get(&self.t.api_keys, id.as_uuid().as_bytes())
    }
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        let mut v: Vec<ApiKey> =
            self.t.api_keys.iter().map(|kv| dec(&kv.map_err(sled_err)?.1)).collect::<StoreResult<_>>()?;
        v.sort_by_key(|k| (k.created_at, k.id));
        Ok(v)
    }
    async fn revoke_api_key(&self, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<()> {
        let writing = self.writing();
        let key = id.as_uuid();
        self.t
            .api_keys
            .transaction(|keys| {
                let abort = ConflictableTransactionError::Abort;
                let Some(raw) = keys.get(key.as_bytes())? else {
                    return Err(abort(StoreError::NotFound { what: "api key" }));
                };
                let mut k: ApiKey = dec(&raw).map_err(abort)?;
                k.revoked_at.get_or_insert(now);
                keys.insert(key.as_bytes(), enc(&k).map_err(abort)?)?;
                Ok(())
            })
            .map_err(tx_error)?;
        drop(writing);
        self.durable().await
    }
}

#[async_trait]
impl AuditStore for SledStore {
    async fn list_audit(&self, q: &AuditQuery) -> StoreResult<Page<AuditEntry>> {
        newest_first(
            &self.t.audit,
            q.cursor,
            q.limit,
            |e: &AuditEntry| {
                q.kind.is_none_or(|k| e.kind == k) && q.target.as_ref().is_none_or(|t| e.target.as_ref() == Some(t))
            },
            |e| Cursor { key: e.at.timestamp_micros(), id: e.id.as_uuid() },
        )
    }
}

#[async_trait]
impl IdempotencyStore for SledStore {
    async fn begin_idempotent(
        &self,
        key: &IdempotencyKey,
        hash: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> StoreResult<IdempotencyBegin> {
        let writing = self.writing();
        let k = idem_key(key);
        let out = self
            .t
            .idem
            .transaction(|idem| {
                let abort = ConflictableTransactionError::Abort;
                if let Some(raw) = idem.get(&k)? {
                    let i: IdemRow = dec(&raw).map_err(abort)?;
                    if let Some(answer) = i.answer(key, hash, now, stale_before) {
                        return Ok(answer);
                    }
                }
                let row = IdemRow { request_hash: hash.to_owned(), response: None, started_at: now, expires_at: None };
                idem.insert(k.as_slice(), enc(&row).map_err(abort)?)?;
                Ok(IdempotencyBegin::Started)
            })
            .map_err(tx_error)?;
        drop(writing);
        if out == IdempotencyBegin::Started {
            self.durable().await?;
        }
        Ok(out)
    }

    async fn release_idempotent(&self, key: &IdempotencyKey) -> StoreResult<()> {
        let _writing = self.writing();
        let k = idem_key(key);
        self.t
            .idem
            .transaction(|idem| {
                if let Some(raw) = idem.get(&k)? {
                    let i: IdemRow = dec(&raw).map_err(ConflictableTransactionError::Abort)?;
                    if i.response.is_none() {
                        idem.remove(k.as_slice())?;
                    }
                }
                Ok(())
            })
            .map_err(tx_error)?;
        Ok(())
    }
}

#[async_trait]
impl ThrottleStore for SledStore {
    async fn login_failures(&self, key: &str) -> StoreResult<FailureState> {
        Ok(get(&self.t.failures, key.as_bytes())?.unwrap_or_default())
    }
    async fn record_login_failure(&self, key: &str, now: DateTime<Utc>) -> StoreResult<FailureState> {
        let writing = self.writing();
        let out = self
            .t
            .failures
            .transaction(|f| {
                let abort = ConflictableTransactionError::Abort;
                let mut s: FailureState = match f.get(key.as_bytes())? {
                    Some(raw) => dec(&raw).map_err(abort)?,
                    None => FailureState::default(),
                };
                s.count += 1;
                s.last_at = Some(now);
                f.insert(key.as_bytes(), enc(&s).map_err(abort)?)?;
                Ok(s)
            })
            .map_err(tx_error)?;
        drop(writing);
        self.durable().await?;
        Ok(out)
    }
    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        let writing = self.writing();
        drop(writing);
        if self.t.failures.remove(key.as_bytes()).map_err(sled_err)?.is_some() {
            self.durable().await?;
        }
        Ok(())
    }
    async fn hit_window(&self, key: &str, window_start: DateTime<Utc>) -> StoreResult<u64> {
        let _writing = self.writing();
        let mut k = key.as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(&crate::keys::time_key(window_start));
        let v = self
            .t
            .windows
            .update_and_fetch(&k, |old| {
                let n = old.and_then(|b| <[u8; 8]>::try_from(b).ok()).map_or(0, u64::from_be_bytes);
                Some((n + 1).to_be_bytes().to_vec())
            })
            .map_err(sled_err)?;
        Ok(v.and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok()).map_or(1, u64::from_be_bytes))
    }
}
