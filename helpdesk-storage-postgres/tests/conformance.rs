//! `PgStore` passes the whole conformance suite, each test in its own database.

mod common;

use std::sync::Arc;

use helpdesk_core::ports::Store;

helpdesk_core::store_conformance!(skip_unless: common::missing(), async { Arc::new(common::fresh_store().await) as Arc<dyn Store> });
