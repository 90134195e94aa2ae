//! In-app notifications: `notices` holds each notice under `user ‖ created ‖ id` (so a user's
//! notices are one prefix, newest last), `notices_unread` holds the same key, without a value,
//! for each unread one, so the bell's count walks only the unread keys, and `notices_time`
//! maps `created ‖ user ‖ id` to that key, so retention removes the oldest without a scan.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use helpdesk_core::domain::{NoticeId, UserId};
use helpdesk_core::model::Notice;
use helpdesk_core::ports::{NoticeStore, StoreError, StoreResult};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use crate::SledStore;
use crate::codec::{dec, enc, sled_err};
use crate::commit::tx_error;
use crate::keys::Key;

pub(crate) fn notice_key(n: &Notice) -> Vec<u8> {
    Key::new().uuid(n.user.as_uuid()).time(n.created_at).uuid(n.id.as_uuid()).build()
}

pub(crate) fn notice_time_key(n: &Notice) -> Vec<u8> {
    Key::new().time(n.created_at).uuid(n.user.as_uuid()).uuid(n.id.as_uuid()).build()
}

impl SledStore {
    /// Removes the notices made before `before`; answers how many.
    pub(crate) fn purge_notices(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let t = &self.t;
        let mut n = 0;
        for kv in t.notices_time.range(..crate::keys::time_key(before).to_vec()) {
            let (k, key) = kv.map_err(sled_err)?;
            t.notices.remove(&key).map_err(sled_err)?;
            t.notices_unread.remove(&key).map_err(sled_err)?;
            t.notices_time.remove(&k).map_err(sled_err)?;
            n += 1;
        }
        Ok(n)
    }
}

#[async_trait]
impl NoticeStore for SledStore {
    async fn notices(&self, user: UserId, limit: usize) -> StoreResult<Vec<Notice>> {
        let mut out = Vec::new();
        for kv in self.t.notices.scan_prefix(user.as_uuid().as_bytes()).rev().take(limit) {
            let (_, v) = kv.map_err(sled_err)?;
            out.push(dec(&v)?);
        }
        Ok(out)
    }

    async fn unread_notices(&self, user: UserId) -> StoreResult<u64> {
        let mut n = 0;
        for kv in self.t.notices_unread.scan_prefix(user.as_uuid().as_bytes()) {
            kv.map_err(sled_err)?;
            n += 1;
        }
        Ok(n)
    }

    async fn mark_notices_read(&self, user: UserId, id: Option<NoticeId>, now: DateTime<Utc>) -> StoreResult<u64> {
        let writing = self.writing();
        let mut keys = Vec::new();
        for kv in self.t.notices_unread.scan_prefix(user.as_uuid().as_bytes()) {
            let (k, _) = kv.map_err(sled_err)?;
            if id.is_none_or(|id| k.ends_with(id.as_uuid().as_bytes())) {
                keys.push(k);
            }
        }
        if keys.is_empty() {
            return Ok(0);
        }
        let changed = (&self.t.notices, &self.t.notices_unread)
            .transaction(|(notices, unread)| {
                let mut changed = 0u64;
                for k in &keys {
                    if unread.remove(k)?.is_none() {
                        continue; // read meanwhile
                    }
                    if let Some(raw) = notices.get(k)? {
                        let mut n: Notice = dec(&raw).map_err(ConflictableTransactionError::Abort)?;
                        n.read_at = Some(now);
                        notices.insert(k.as_ref(), enc(&n).map_err(ConflictableTransactionError::Abort)?)?;
                        changed += 1;
                    }
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(changed)
            })
            .map_err(tx_error)?;
        drop(writing);
        self.durable().await?;
        Ok(changed)
    }
}
