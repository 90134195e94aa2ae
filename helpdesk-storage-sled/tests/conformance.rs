//! `SledStore` passes the whole conformance suite, through the same call as the in-memory
//! store. Each test gets its own temporary database, deleted afterwards.

use std::sync::Arc;

use helpdesk_core::ports::Store;
use helpdesk_storage_sled::{SledOptions, SledStore};

helpdesk_core::store_conformance!(async {
    Arc::new(SledStore::open(&SledOptions::temporary()).expect("open sled")) as Arc<dyn Store>
});
