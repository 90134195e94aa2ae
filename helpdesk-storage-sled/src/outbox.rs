//! The outbox: a due-time index of pending messages (a claimed message is due again when its
//! lease expires) and a state index for admins' lists. Claims re-check each candidate inside a
//! transaction, so two dispatchers never hold the same message.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use helpdesk_core::domain::MessageId;
use helpdesk_core::model::{OutboxPayload, OutboxRecord, OutboxState};
use helpdesk_core::ports::{Cursor, DeliveryFailure, Lease, OutboxStore, Page, PageSize, StoreError, StoreResult};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use crate::SledStore;
use crate::codec::{dec, enc, get, sled_err};
use crate::commit::tx_error;
use crate::keys::{Key, key_i64};

pub(crate) fn due_key(at: DateTime<Utc>, id: MessageId) -> Vec<u8> {
    Key::new().time(at).uuid(id.as_uuid()).build()
}

pub(crate) fn state_tag(s: OutboxState) -> u8 {
    match s {
        OutboxState::Pending => 0,
        OutboxState::Delivered => 1,
        OutboxState::Dead => 2,
    }
}

pub(crate) fn state_key(r: &OutboxRecord) -> Vec<u8> {
    Key::new().u8(state_tag(r.state)).time(r.message.created_at).uuid(r.message.id.as_uuid()).build()
}

/// When a pending record is next due (its lease expiry when leased).
pub(crate) fn due_at(r: &OutboxRecord) -> DateTime<Utc> {
    r.lease_until.map_or(r.next_attempt_at, |l| l.max(r.next_attempt_at))
}

enum Change {
    Claim(Lease, DateTime<Utc>),
    Ack(uuid::Uuid, DateTime<Utc>),
    Fail(uuid::Uuid, DeliveryFailure),
    Retry(DateTime<Utc>),
}

impl SledStore {
    /// Changes one record and its index keys atomically; `Ok(None)` when a claim no longer
    /// applies.
    fn change_outbox(&self, id: MessageId, change: &Change) -> StoreResult<Option<OutboxRecord>> {
        let _writing = self.writing();
        let key = id.as_uuid();
        let t = &self.t;
        (&t.outbox, &t.outbox_due, &t.outbox_state)
            .transaction(|(outbox, due, state)| {
                let abort = ConflictableTransactionError::Abort;
                let Some(raw) = outbox.get(key.as_bytes())? else {
                    return Err(abort(StoreError::NotFound { what: "outbox message" }));
                };
                let mut r: OutboxRecord = dec(&raw).map_err(abort)?;
                let old_due = (r.state == OutboxState::Pending).then(|| due_key(due_at(&r), id));
                let old_state = state_key(&r);
                match change {
                    Change::Claim(lease, now) => {
                        let free = r.lease_until.is_none_or(|u| u <= *now);
                        if r.state != OutboxState::Pending || r.next_attempt_at > *now || !free {
                            return Ok(None);
                        }
                        r.lease_token = Some(lease.token);
                        r.lease_until = Some(lease.until);
                        r.attempts += 1;
                    }
                    Change::Ack(token, now) => {
                        if r.lease_token != Some(*token) || r.state != OutboxState::Pending {
                            return Err(abort(StoreError::Conflict { what: "lease" }));
                        }
                        if r.message.is_sensitive() {
                            r.message.payload = OutboxPayload::Redacted;
                        }
                        r.state = OutboxState::Delivered;
                        r.delivered_at = Some(*now);
                        r.lease_token = None;
                        r.lease_until = None;
                        r.last_error = None;
                    }
                    Change::Fail(token, f) => {
                        if r.lease_token != Some(*token) || r.state != OutboxState::Pending {
                            return Err(abort(StoreError::Conflict { what: "lease" }));
                        }
                        r.last_error = Some(f.error.clone());
                        r.lease_token = None;
                        r.lease_until = None;
                        match f.retry_at {
                            Some(at) => r.next_attempt_at = at,
                            None => r.state = OutboxState::Dead,
                        }
                    }
                    Change::Retry(now) => {
                        if r.state != OutboxState::Dead {
                            return Err(abort(StoreError::Conflict { what: "state" }));
                        }
                        r.state = OutboxState::Pending;
                        r.attempts = 0;
                        r.next_attempt_at = *now;
                    }
                }
                if let Some(k) = old_due {
                    due.remove(k)?;
                }
                if r.state == OutboxState::Pending {
                    due.insert(due_key(due_at(&r), id), &[])?;
                }
                state.remove(old_state)?;
                state.insert(state_key(&r), &[])?;
                outbox.insert(key.as_bytes(), enc(&r).map_err(abort)?)?;
                Ok(Some(r))
            })
            .map_err(tx_error)
    }
}

#[async_trait]
impl OutboxStore for SledStore {
    async fn claim_outbox(&self, now: DateTime<Utc>, limit: usize, lease: Lease) -> StoreResult<Vec<OutboxRecord>> {
        let end = Key::new().time(now).bytes(&[0xff; 16]).build();
        let mut out = Vec::new();
        for kv in self.t.outbox_due.range(..=end) {
            if out.len() >= limit {
                break;
            }
            let (k, _) = kv.map_err(sled_err)?;
            let Ok(id) = uuid::Uuid::from_slice(&k[8..]) else { continue };
            match self.change_outbox(MessageId::from_uuid(id), &Change::Claim(lease, now)) {
                Ok(Some(r)) => out.push(r),
                Ok(None) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if !out.is_empty() {
            self.durable().await?;
        }
        Ok(out)
    }

    async fn ack_outbox(&self, id: MessageId, token: uuid::Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        self.change_outbox(id, &Change::Ack(token, now))?;
        self.durable().await
    }

    async fn fail_outbox(&self, id: MessageId, token: uuid::Uuid, failure: DeliveryFailure) -> StoreResult<()> {
        self.change_outbox(id, &Change::Fail(token, failure))?;
        self.durable().await
    }

    async fn list_outbox(
        &self,
        state: OutboxState,
        cursor: Option<Cursor>,
        limit: PageSize,
    ) -> StoreResult<Page<OutboxRecord>> {
        let prefix = [state_tag(state)];
        let start = match cursor {
            Some(c) => {
                let mut k = Key::new().u8(state_tag(state)).i64(c.key).uuid(c.id).build();
                k.push(0);
                k
            }
            None => prefix.to_vec(),
        };
        let mut items = Vec::new();
        for kv in self.t.outbox_state.range(start..) {
            let (k, _) = kv.map_err(sled_err)?;
            if k.first() != Some(&prefix[0]) || items.len() > limit.get() {
                break;
            }
            let Ok(id) = uuid::Uuid::from_slice(&k[9..]) else { continue };
            if let Some(r) = get::<OutboxRecord>(&self.t.outbox, id.as_bytes())? {
                items.push(r);
            }
        }
        Ok(Page::from_overfetch(items, limit, |r| Cursor {
            key: r.message.created_at.timestamp_micros(),
            id: r.message.id.as_uuid(),
        }))
    }

    async fn outbox_message(&self, id: MessageId) -> StoreResult<Option<OutboxRecord>> {
        get(&self.t.outbox, id.as_uuid().as_bytes())
    }

    async fn retry_outbox(&self, id: MessageId, now: DateTime<Utc>) -> StoreResult<()> {
        self.change_outbox(id, &Change::Retry(now))?;
        self.durable().await
    }

    async fn next_outbox_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        match self.t.outbox_due.first().map_err(sled_err)? {
            Some((k, _)) => Ok(DateTime::from_timestamp_micros(key_i64(&k))),
            None => Ok(None),
        }
    }
}
