//! The shortest way to an embedded help desk: records in sled and attachments on the local
//! disk, both under one directory, so that an application needs one path and one call.

use std::path::Path;
use std::sync::Arc;

use helpdesk_core::HelpDesk;
use helpdesk_core::HelpDeskBuilder;
use object_store::local::LocalFileSystem;

use crate::{OpenError, SledOptions, SledStore};

/// A help desk under `dir`: the sled database in `dir/db` and attachments in
/// `dir/attachments`, both created if missing. Returns the builder, so the clock, password
/// hasher, policy, lifecycle or options can still be set before
/// [`build`](HelpDeskBuilder::build).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = std::env::temp_dir().join(format!("helpdesk-doc-{}", std::process::id()));
/// let desk = helpdesk_storage_sled::help_desk(&dir)?.build()?;
/// assert!(desk.catalog(&helpdesk_core::policy::Principal::Anonymous).is_err(), "the catalogue needs a sign-in");
/// # drop(desk);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// [`OpenError`]: the database is locked, newer or broken, or the attachment directory
/// cannot be created.
pub fn help_desk(dir: impl AsRef<Path>) -> Result<HelpDeskBuilder, OpenError> {
    let dir = dir.as_ref();
    let store = SledStore::open(&SledOptions::new(dir.join("db")))?;
    let attachments = dir.join("attachments");
    let failed =
        |source: Box<dyn std::error::Error + Send + Sync>| OpenError::Attachments { path: attachments.clone(), source };
    std::fs::create_dir_all(&attachments).map_err(|e| failed(Box::new(e)))?;
    // Synced before a put returns: an attachment is as durable as the row that names it.
    let blobs = LocalFileSystem::new_with_prefix(&attachments).map_err(|e| failed(Box::new(e)))?.with_fsync(true);
    Ok(HelpDesk::builder(Arc::new(store), Arc::new(blobs)))
}
