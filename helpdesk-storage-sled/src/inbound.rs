//! Messages that came in by mail: `inbound` holds each record under its id, `inbound_keys` maps
//! a message's identity (its `key`, unique) to that id, and `inbound_time` holds
//! `received ‖ id` without a value, so the admins' list walks newest first without a scan of
//! the rows.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use helpdesk_core::domain::InboundId;
use helpdesk_core::model::InboundMessage;
use helpdesk_core::ports::{InboundStore, StoreError, StoreResult};

use crate::SledStore;
use crate::codec::{dec, sled_err};
use crate::keys::Key;

pub(crate) fn time_key(m: &InboundMessage) -> Vec<u8> {
    Key::new().time(m.received_at).uuid(m.id.as_uuid()).build()
}

#[async_trait]
impl InboundStore for SledStore {
    async fn inbound(&self, id: InboundId) -> StoreResult<Option<InboundMessage>> {
        self.t.inbound.get(id.as_uuid().as_bytes()).map_err(sled_err)?.map(|v| dec(&v)).transpose()
    }

    async fn inbound_by_key(&self, key: &str) -> StoreResult<Option<InboundMessage>> {
        let Some(id) = self.t.inbound_keys.get(key.as_bytes()).map_err(sled_err)? else { return Ok(None) };
        self.t.inbound.get(&id).map_err(sled_err)?.map(|v| dec(&v)).transpose()
    }

    async fn list_inbound(
        &self,
        outcome: Option<&'static str>,
        before: Option<(DateTime<Utc>, InboundId)>,
        limit: usize,
    ) -> StoreResult<Vec<InboundMessage>> {
        let end = before.map(|(at, id)| Key::new().time(at).uuid(id.as_uuid()).build());
        let range = match &end {
            Some(end) => self.t.inbound_time.range(..end.as_slice()),
            None => self.t.inbound_time.iter(),
        };
        let mut out = Vec::new();
        for kv in range.rev() {
            if out.len() >= limit {
                break;
            }
            let (k, _) = kv.map_err(sled_err)?;
            let Some(id) = k.get(k.len().saturating_sub(16)..) else { continue };
            let Some(row) = self.t.inbound.get(id).map_err(sled_err)? else {
                return Err(StoreError::Backend {
                    backend: "sled",
                    source: "an inbound message's time entry has no record".into(),
                });
            };
            let m: InboundMessage = dec(&row)?;
            if outcome.is_none_or(|o| m.outcome.name() == o) {
                out.push(m);
            }
        }
        Ok(out)
    }
}
