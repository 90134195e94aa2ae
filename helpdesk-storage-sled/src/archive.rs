//! The archive port ([`ArchiveStore`]): tokens listed from their tree, the ticket-number
//! counter in `meta`, and outbox records written with their own due and state index keys.

use async_trait::async_trait;
use helpdesk_core::model::{OneTimeToken, OutboxRecord, OutboxState};
use helpdesk_core::ports::{ArchiveStore, StoreError, StoreResult};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use crate::SledStore;
use crate::codec::{dec, enc, sled_err};
use crate::commit::tx_error;
use crate::outbox::{due_at, due_key, state_key};

/// The `meta` key of the ticket-number counter (see `allocate_ticket_number`).
pub(crate) const TICKET_SEQ: &str = "ticket_seq";

fn counter(raw: Option<&[u8]>) -> u64 {
    raw.and_then(|b| <[u8; 8]>::try_from(b).ok()).map_or(0, u64::from_be_bytes)
}

#[async_trait]
impl ArchiveStore for SledStore {
    async fn one_time_tokens(&self) -> StoreResult<Vec<OneTimeToken>> {
        self.t.tokens.iter().values().map(|raw| dec(&raw.map_err(sled_err)?)).collect()
    }

    async fn ticket_number_high_water(&self) -> StoreResult<u64> {
        Ok(counter(self.t.meta.get(TICKET_SEQ).map_err(sled_err)?.as_deref()))
    }

    async fn raise_ticket_number(&self, at_least: u64) -> StoreResult<()> {
        {
            let _writing = self.writing();
            self.t
                .meta
                .update_and_fetch(TICKET_SEQ, |old| Some(counter(old).max(at_least).to_be_bytes().to_vec()))
                .map_err(sled_err)?;
        }
        self.durable().await
    }

    async fn import_outbox(&self, records: Vec<OutboxRecord>) -> StoreResult<()> {
        let records: Vec<OutboxRecord> = records
            .into_iter()
            .map(|mut r| {
                r.lease_token = None;
                r.lease_until = None;
                r
            })
            .collect();
        let rows = records.iter().map(|r| Ok((r, enc(r)?))).collect::<StoreResult<Vec<_>>>()?;
        {
            let _writing = self.writing();
            let t = &self.t;
            (&t.outbox, &t.outbox_due, &t.outbox_state)
                .transaction(|(outbox, due, state)| {
                    for (r, row) in &rows {
                        let id = r.message.id;
                        if outbox.insert(id.as_uuid().as_bytes(), row.as_slice())?.is_some() {
                            return Err(ConflictableTransactionError::Abort(StoreError::AlreadyExists { what: "id" }));
                        }
                        if r.state == OutboxState::Pending {
                            due.insert(due_key(due_at(r), id), &[])?;
                        }
                        state.insert(state_key(r), &[])?;
                    }
                    Ok(())
                })
                .map_err(tx_error)?;
        }
        self.durable().await
    }
}
