//! The one atomic write: a [`UnitOfWork`] as a single sled transaction over every tree it
//! touches, followed by a group-committed flush before returning.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use helpdesk_core::domain::{SessionId, UserId};
use helpdesk_core::model::{OutboxRecord, Session, Ticket, User};
use helpdesk_core::ports::{StoreError, StoreResult, UnitOfWork, UnitOfWorkStore};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use crate::SledStore;
use crate::codec::{counter_value, dec, enc, sled_err};
use crate::keys::{Key, index_keys};
use crate::outbox::{due_key, state_key};
use helpdesk_core::ports::{ticket_counter_keys, user_counter_keys};

// Positions of the trees in the transaction.
const TICKETS: usize = 0;
const NUMBERS: usize = 1;
const IDX: usize = 2;
const RESOLVED: usize = 3;
const COUNTERS: usize = 4;
const USERS: usize = 5;
const EMAIL: usize = 6;
const COMPANY: usize = 7;
const CREATED: usize = 8;
const EVENTS: usize = 9;
const COMMENTS: usize = 10;
const ATTACHMENTS: usize = 11;
const TICKET_ATT: usize = 12;
const OUTBOX: usize = 13;
const DUE: usize = 14;
const STATE: usize = 15;
const AUDIT: usize = 16;
const REJECTIONS: usize = 17;
const TOKENS: usize = 18;
const SESSIONS: usize = 19;
const IDEM: usize = 20;
const NOTICES: usize = 21;
const UNREAD: usize = 22;
const NOTICES_TIME: usize = 23;
const EVENT_SEQ: usize = 24;
const INBOUND: usize = 25;
const INBOUND_KEYS: usize = 26;
const INBOUND_TIME: usize = 27;

type Tx = [TransactionalTree];
type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

fn abort<T>(e: StoreError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e))
}

fn tx_dec<T: serde::de::DeserializeOwned + crate::codec::JsonRow>(b: &[u8]) -> TxResult<T> {
    dec(b).map_err(ConflictableTransactionError::Abort)
}

pub(crate) fn resolved_key(t: &Ticket) -> Option<Vec<u8>> {
    t.resolved_at.map(|r| Key::new().time(r).uuid(t.id.as_uuid()).build())
}

/// A history event's key: the ticket, then its place in the ticket's history. The place is a
/// per-ticket sequence kept in the `event_seq` tree, not the event's version: internal events
/// share the version they were made at (they do not move it), and must still read back in
/// commit order. Histories written before the sequence existed were keyed by version, which
/// never exceeds the ticket's version: a ticket without a sequence starts it there.
pub(crate) fn event_key(ticket: uuid::Uuid, seq: u64, id: uuid::Uuid) -> Vec<u8> {
    Key::new().uuid(ticket).u64(seq).bytes(&0u16.to_be_bytes()).uuid(id).build()
}

pub(crate) fn comment_key(c: &helpdesk_core::model::Comment, idx: u16) -> Vec<u8> {
    Key::new().uuid(c.ticket.as_uuid()).time(c.created_at).bytes(&idx.to_be_bytes()).uuid(c.id.as_uuid()).build()
}

pub(crate) fn user_created_key(u: &User) -> Vec<u8> {
    Key::new().time(u.created_at).uuid(u.id.as_uuid()).build()
}

pub(crate) fn idem_key(k: &helpdesk_core::ports::IdempotencyKey) -> Vec<u8> {
    let mut v = k.principal.as_bytes().to_vec();
    v.push(0);
    v.extend_from_slice(k.key.as_bytes());
    v
}

/// Idempotency rows on disk are the core's [`IdempotencyState`](helpdesk_core::ports::IdempotencyState).
pub(crate) type IdemRow = helpdesk_core::ports::IdempotencyState;

fn bump(deltas: &mut BTreeMap<String, i64>, keys: impl IntoIterator<Item = String>, by: i64) {
    for k in keys {
        *deltas.entry(k).or_default() += by;
    }
}

fn revoke_in_tx(tx: &Tx, ids: &[SessionId], at: chrono::DateTime<chrono::Utc>) -> TxResult<()> {
    for id in ids {
        let key = id.as_uuid();
        if let Some(raw) = tx[SESSIONS].get(key.as_bytes())? {
            let mut s: Session =
                crate::account_rows::decode_session(&raw).map_err(ConflictableTransactionError::Abort)?;
            if s.revoked_at.is_none() {
                s.revoked_at = Some(at);
                tx[SESSIONS].insert(
                    key.as_bytes(),
                    crate::account_rows::encode_session(&s).map_err(ConflictableTransactionError::Abort)?,
                )?;
            }
        }
    }
    Ok(())
}

/// `ticket_rows` are `uow.tickets` encoded, in order (encoded once, before the commit lock, for
/// the transaction and the row cache alike).
fn apply(
    tx: &Tx,
    uow: &UnitOfWork,
    ticket_rows: &[Vec<u8>],
    sessions_of: &BTreeMap<UserId, Vec<SessionId>>,
) -> TxResult<()> {
    let e = |r: Result<Vec<u8>, StoreError>| r.map_err(ConflictableTransactionError::Abort);
    let mut deltas: BTreeMap<String, i64> = BTreeMap::new();

    let deleted: HashSet<UserId> = uow.deleted_users.iter().map(|d| d.0).collect();
    for (id, expected) in &uow.deleted_users {
        let Some(raw) = tx[USERS].get(id.as_uuid().as_bytes())? else {
            return abort(StoreError::NotFound { what: "user" });
        };
        let u: User = crate::account_rows::decode_user(&raw).map_err(ConflictableTransactionError::Abort)?;
        if u.version != *expected {
            return abort(StoreError::VersionMismatch { expected: *expected, found: u.version });
        }
        tx[USERS].remove(id.as_uuid().as_bytes())?;
        tx[EMAIL].remove(u.email.as_str().as_bytes())?;
        tx[COMPANY].remove(u.company_id.as_str().as_bytes())?;
        tx[CREATED].remove(user_created_key(&u))?;
        bump(&mut deltas, user_counter_keys(&u), -1);
        if let Some(ids) = sessions_of.get(id) {
            revoke_in_tx(tx, ids, u.updated_at)?;
        }
    }

    let mut new_emails = HashSet::new();
    let mut new_companies = HashSet::new();
    for w in &uow.users {
        let u = &w.value;
        let key = u.id.as_uuid();
        let old: Option<User> = match tx[USERS].get(key.as_bytes())? {
            Some(raw) => Some(crate::account_rows::decode_user(&raw).map_err(ConflictableTransactionError::Abort)?),
            None => None,
        };
        match (w.expected, &old) {
            (None, Some(_)) => return abort(StoreError::AlreadyExists { what: "id" }),
            (Some(_), None) => return abort(StoreError::NotFound { what: "user" }),
            (Some(v), Some(o)) if o.version != v => {
                return abort(StoreError::VersionMismatch { expected: v, found: o.version });
            }
            _ => {}
        }
        let owner = |t: usize, k: &str| -> TxResult<Option<UserId>> {
            Ok(tx[t].get(k.as_bytes())?.and_then(|raw| uuid::Uuid::from_slice(&raw).ok()).map(UserId::from_uuid))
        };
        if owner(EMAIL, u.email.as_str())?.is_some_and(|o| o != u.id && !deleted.contains(&o))
            || !new_emails.insert(u.email.as_str().to_owned())
        {
            return abort(StoreError::AlreadyExists { what: "email" });
        }
        if owner(COMPANY, u.company_id.as_str())?.is_some_and(|o| o != u.id && !deleted.contains(&o))
            || !new_companies.insert(u.company_id.as_str().to_owned())
        {
            return abort(StoreError::AlreadyExists { what: "company_id" });
        }
        if let Some(o) = &old {
            tx[EMAIL].remove(o.email.as_str().as_bytes())?;
            tx[COMPANY].remove(o.company_id.as_str().as_bytes())?;
            tx[CREATED].remove(user_created_key(o))?;
            bump(&mut deltas, user_counter_keys(o), -1);
        }
        tx[EMAIL].insert(u.email.as_str().as_bytes(), key.as_bytes())?;
        tx[COMPANY].insert(u.company_id.as_str().as_bytes(), key.as_bytes())?;
        tx[CREATED].insert(user_created_key(u), &[])?;
        tx[USERS].insert(key.as_bytes(), e(crate::account_rows::encode_user(u))?)?;
        bump(&mut deltas, user_counter_keys(u), 1);
    }

    let mut stored_version: HashMap<uuid::Uuid, u64> = HashMap::new();
    for (w, row) in uow.tickets.iter().zip(ticket_rows) {
        let t = &w.value;
        let key = t.id.as_uuid();
        let old: Option<Ticket> = match tx[TICKETS].get(key.as_bytes())? {
            Some(raw) => Some(crate::codec::dec_ticket(&raw).map_err(ConflictableTransactionError::Abort)?),
            None => None,
        };
        stored_version.insert(key, old.as_ref().map_or(0, |o| o.version));
        match (w.expected, &old) {
            (None, Some(_)) => return abort(StoreError::AlreadyExists { what: "id" }),
            (None, None) => {
                if tx[NUMBERS].get(t.number.seq().to_be_bytes())?.is_some() {
                    return abort(StoreError::AlreadyExists { what: "ticket_number" });
                }
                tx[NUMBERS].insert(&t.number.seq().to_be_bytes(), key.as_bytes())?;
            }
            (Some(_), None) => return abort(StoreError::NotFound { what: "ticket" }),
            (Some(v), Some(o)) if o.version != v => {
                return abort(StoreError::VersionMismatch { expected: v, found: o.version });
            }
            (Some(_), Some(o)) if o.number != t.number => {
                return abort(StoreError::Conflict { what: "ticket number is immutable" });
            }
            _ => {}
        }
        let new_keys: HashSet<Vec<u8>> = index_keys(t).into_iter().collect();
        if let Some(o) = &old {
            for k in index_keys(o) {
                if !new_keys.contains(&k) {
                    tx[IDX].remove(k)?;
                }
            }
            if let Some(k) = resolved_key(o) {
                tx[RESOLVED].remove(k)?;
            }
            bump(&mut deltas, ticket_counter_keys(o), -1);
        }
        for k in new_keys {
            tx[IDX].insert(k, &[])?;
        }
        if let Some(k) = resolved_key(t) {
            tx[RESOLVED].insert(k, &[])?;
        }
        bump(&mut deltas, ticket_counter_keys(t), 1);
        tx[TICKETS].insert(key.as_bytes(), row.as_slice())?;
    }

    let mut seqs: HashMap<uuid::Uuid, u64> = HashMap::new();
    for ev in &uow.events {
        let ticket = ev.ticket.as_uuid();
        let last = match seqs.get(&ticket) {
            Some(s) => *s,
            None => match tx[EVENT_SEQ].get(ticket.as_bytes())? {
                Some(raw) => <[u8; 8]>::try_from(raw.as_ref()).map_or(0, u64::from_be_bytes),
                None => match stored_version.get(&ticket) {
                    Some(v) => *v,
                    None => match tx[TICKETS].get(ticket.as_bytes())? {
                        Some(raw) => {
                            crate::codec::dec_ticket(&raw).map_err(ConflictableTransactionError::Abort)?.version
                        }
                        None => 0,
                    },
                },
            },
        };
        seqs.insert(ticket, last + 1);
        tx[EVENTS].insert(event_key(ticket, last + 1, ev.id.as_uuid()), e(enc(ev))?)?;
    }
    for (ticket, seq) in &seqs {
        tx[EVENT_SEQ].insert(ticket.as_bytes(), &seq.to_be_bytes())?;
    }
    for (i, c) in uow.comments.iter().enumerate() {
        tx[COMMENTS].insert(comment_key(c, i as u16), e(enc(c))?)?;
    }
    for a in &uow.attachments {
        tx[ATTACHMENTS].insert(a.id.as_uuid().as_bytes(), e(enc(a))?)?;
        tx[TICKET_ATT]
            .insert(Key::new().uuid(a.ticket.as_uuid()).time(a.created_at).uuid(a.id.as_uuid()).build(), &[])?;
    }
    for m in &uow.outbox {
        let rec = OutboxRecord::new(m.clone());
        // An id is enqueued once: a message already there (delivered, say) is never replaced,
        // so a caller may derive ids to make an enqueue happen exactly once.
        if tx[OUTBOX].insert(m.id.as_uuid().as_bytes(), e(enc(&rec))?)?.is_some() {
            return abort(StoreError::AlreadyExists { what: "id" });
        }
        tx[DUE].insert(due_key(rec.next_attempt_at, m.id), &[])?;
        tx[STATE].insert(state_key(&rec), &[])?;
    }
    for a in &uow.audit {
        tx[AUDIT].insert(Key::new().time(a.at).uuid(a.id.as_uuid()).build(), e(enc(a))?)?;
    }
    for r in &uow.rejections {
        tx[REJECTIONS].insert(Key::new().time(r.rejected_at).uuid(r.id.as_uuid()).build(), e(enc(r))?)?;
        *deltas.entry("rejections".into()).or_default() += 1;
    }
    for t in &uow.new_tokens {
        tx[TOKENS].insert(&t.hash.0, e(enc(t))?)?;
    }
    if let Some((hash, at)) = &uow.consume_token {
        let Some(raw) = tx[TOKENS].get(hash.0)? else { return abort(StoreError::Conflict { what: "token" }) };
        let mut t: helpdesk_core::model::OneTimeToken = tx_dec(&raw)?;
        if t.used_at.is_some() {
            return abort(StoreError::Conflict { what: "token" });
        }
        t.used_at = Some(*at);
        tx[TOKENS].insert(&hash.0, e(enc(&t))?)?;
    }
    for (r, at) in &uow.revoke_sessions {
        if let Some(ids) = sessions_of.get(&r.user) {
            let ids: Vec<SessionId> = ids.iter().copied().filter(|id| Some(*id) != r.except).collect();
            revoke_in_tx(tx, &ids, *at)?;
        }
    }
    if let Some(rec) = &uow.idempotency {
        let key = idem_key(&rec.key);
        let started_at = match tx[IDEM].get(&key)? {
            Some(raw) => tx_dec::<IdemRow>(&raw)?.started_at,
            None => rec.expires_at,
        };
        let row = IdemRow {
            request_hash: rec.request_hash.clone(),
            response: Some(rec.response.clone()),
            started_at,
            expires_at: Some(rec.expires_at),
        };
        tx[IDEM].insert(key, e(enc(&row))?)?;
    }
    for n in &uow.notices {
        let key = crate::notices::notice_key(n);
        if n.read_at.is_none() {
            tx[UNREAD].insert(key.as_slice(), &[])?;
        }
        tx[NOTICES_TIME].insert(crate::notices::notice_time_key(n), key.as_slice())?;
        tx[NOTICES].insert(key, e(enc(n))?)?;
    }
    for w in &uow.inbound {
        let m = &w.value;
        let id = m.id.as_uuid();
        let stored = tx[INBOUND].get(id.as_bytes())?;
        let version = match (w.expected, stored) {
            (None, Some(_)) => return abort(StoreError::AlreadyExists { what: "id" }),
            (None, None) => {
                if tx[INBOUND_KEYS].get(m.key.as_bytes())?.is_some() {
                    return abort(StoreError::AlreadyExists { what: "inbound message" });
                }
                tx[INBOUND_KEYS].insert(m.key.as_bytes(), id.as_bytes())?;
                tx[INBOUND_TIME].insert(crate::inbound::time_key(m), &[])?;
                1
            }
            (Some(_), None) => return abort(StoreError::NotFound { what: "inbound message" }),
            (Some(v), Some(raw)) => {
                let old: helpdesk_core::model::InboundMessage = tx_dec(&raw)?;
                if old.version != v {
                    return abort(StoreError::VersionMismatch { expected: v, found: old.version });
                }
                if old.key != m.key || old.received_at != m.received_at {
                    return abort(StoreError::Conflict { what: "an inbound message's key is immutable" });
                }
                v + 1
            }
        };
        let mut row = m.clone();
        row.version = version;
        tx[INBOUND].insert(id.as_bytes(), e(enc(&row))?)?;
    }
    for (k, d) in deltas {
        if d == 0 {
            continue;
        }
        let cur = counter_value(tx[COUNTERS].get(k.as_bytes())?.as_deref());
        tx[COUNTERS].insert(k.as_bytes(), &(cur + d).to_be_bytes())?;
    }
    Ok(())
}

impl SledStore {
    pub(crate) fn sessions_of(&self, user: UserId) -> StoreResult<Vec<SessionId>> {
        let mut out = Vec::new();
        for kv in self.t.user_sessions.scan_prefix(user.as_uuid().as_bytes()) {
            let (k, _) = kv.map_err(sled_err)?;
            if let Ok(u) = uuid::Uuid::from_slice(&k[16..]) {
                out.push(SessionId::from_uuid(u));
            }
        }
        Ok(out)
    }

    fn commit_trees(&self) -> Vec<sled::Tree> {
        let t = &self.t;
        vec![
            t.tickets.clone(),
            t.ticket_numbers.clone(),
            t.ticket_idx.clone(),
            t.resolved_idx.clone(),
            t.counters.clone(),
            t.users.clone(),
            t.user_email.clone(),
            t.user_company.clone(),
            t.user_created.clone(),
            t.events.clone(),
            t.comments.clone(),
            t.attachments.clone(),
            t.ticket_attachments.clone(),
            t.outbox.clone(),
            t.outbox_due.clone(),
            t.outbox_state.clone(),
            t.audit.clone(),
            t.rejections.clone(),
            t.tokens.clone(),
            t.sessions.clone(),
            t.idem.clone(),
            t.notices.clone(),
            t.notices_unread.clone(),
            t.notices_time.clone(),
            t.event_seq.clone(),
            t.inbound.clone(),
            t.inbound_keys.clone(),
            t.inbound_time.clone(),
        ]
    }
}

pub(crate) fn tx_error(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => sled_err(e),
    }
}

#[async_trait]
impl UnitOfWorkStore for SledStore {
    async fn commit(&self, uow: UnitOfWork) -> StoreResult<()> {
        if uow.is_empty() {
            return Ok(());
        }
        // Sessions to revoke are found before the transaction (sled transactions cannot scan).
        let mut sessions_of = BTreeMap::new();
        for u in uow.revoke_sessions.iter().map(|r| r.0.user).chain(uow.deleted_users.iter().map(|d| d.0)) {
            sessions_of.insert(u, self.sessions_of(u)?);
        }
        let trees = self.commit_trees();
        // Ticket rows are encoded once, outside the lock, for sled and the row cache.
        let rows = uow.tickets.iter().map(|w| crate::codec::enc_ticket(&w.value)).collect::<StoreResult<Vec<_>>>()?;
        {
            // One writer at a time: units of work touch the same counter keys, and sled's
            // optimistic transactions would otherwise retry each other. The flush below is
            // outside the lock, so writers still share flushes.
            let _writing = self.writing();
            let _serial = self.commit_lock.lock().unwrap_or_else(|e| e.into_inner());
            trees.as_slice().transaction(|tx| apply(tx, &uow, &rows, &sessions_of)).map_err(tx_error)?;
            // Still under the lock, so the lists' index and the row cache take changes in
            // commit order.
            for (w, row) in uow.tickets.iter().zip(&rows) {
                self.list.upsert(&w.value);
                self.rows.put(w.value.id.as_uuid().as_u128(), row);
            }
        }
        self.durable().await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.t.meta.get("schema_version").map_err(sled_err)?;
        Ok(())
    }
}
