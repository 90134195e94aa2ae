//! One process of the multi-process test (`tests/multi_process.rs`): its own pool on the shared
//! database, creating tickets and racing the other process on lifecycle transitions (hold /
//! resume) of shared tickets through the `HelpDesk` service. Prints a JSON summary. Not meant for anything else.
//!
//! `helpdesk-pg-worker <database url> <tickets to create> <shared numbers, comma-separated>`

use std::collections::BTreeMap;
use std::sync::Arc;

use helpdesk_core::domain::{TicketNumber, TicketStatus};
use helpdesk_core::lifecycle::Action;
use helpdesk_core::password::{Argon2Hasher, Argon2Options, Password};
use helpdesk_core::{ActionRequest, BootstrapAdmin, Error, HelpDesk, LoginRequest, NewTicket};
use helpdesk_storage_postgres::{PgOptions, PgStore};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, count, shared] = args.as_slice() else {
        return Err("usage: helpdesk-pg-worker <url> <count> <shared>".into());
    };
    let count: usize = count.parse()?;
    let shared: Vec<TicketNumber> =
        shared.split(',').filter(|s| !s.is_empty()).map(TicketNumber::parse).collect::<Result<_, _>>()?;
    let store = Arc::new(PgStore::connect(url, &PgOptions { max_connections: 8, ..PgOptions::default() }).await?);
    let desk = HelpDesk::builder(store, Arc::new(object_store::memory::InMemory::new()))
        .hasher(Arc::new(Argon2Hasher::new(Argon2Options::insecure_fast_for_tests())?))
        .build()?;
    let pw = "harbor-lantern-quartz-71";
    desk.ensure_admin(BootstrapAdmin {
        email: "admin@example.com".into(),
        password: Some(Password::new(pw)),
        first_name: "Ada".into(),
        last_name: "Admin".into(),
    })
    .await?;
    let s = desk
        .login(LoginRequest { email: "admin@example.com".into(), password: Password::new(pw), address: None })
        .await?;
    let (admin, _) = desk.authenticate_session(s.session.id).await?;

    let mut tasks = Vec::new();
    for w in 0..4usize {
        let (desk, admin, shared) = (desk.clone(), admin.clone(), shared.clone());
        tasks.push(tokio::spawn(async move {
            let mut created = Vec::new();
            let mut edits: BTreeMap<String, u64> = BTreeMap::new();
            let mut conflicts = 0u64;
            for i in 0..count / 4 + usize::from(w < count % 4) {
                let new = NewTicket {
                    subject: format!("worker task {w} #{i}"),
                    category: "network".into(),
                    sub_category: "vpn".into(),
                    description: "multi-process test".into(),
                    scheduled_date: None,
                    fields: Default::default(),
                };
                let t = desk.create_ticket(&admin, new, None).await.map_err(|e| e.to_string())?;
                created.push(t.number.to_string());
                // Race the other process on a shared ticket: read it, then hold or resume it
                // (whichever applies) at the version read.
                let n = &shared[(i + w) % shared.len()];
                let seen = desk.ticket(&admin, n).await.map_err(|e| e.to_string())?.ticket;
                let (action, req) = match seen.status {
                    TicketStatus::InProgress => (
                        Action::Hold,
                        ActionRequest { text: Some(format!("hold by {w}/{i}")), ..ActionRequest::default() },
                    ),
                    _ => (Action::Resume, ActionRequest::default()),
                };
                match desk.act(&admin, n, action, req, Some(seen.version)).await {
                    Ok(_) => *edits.entry(n.to_string()).or_default() += 1,
                    Err(Error::VersionConflict { .. } | Error::InvalidTransition { .. }) => conflicts += 1,
                    Err(e) => return Err(e.to_string()),
                }
            }
            Ok::<_, String>((created, edits, conflicts))
        }));
    }
    let mut created = Vec::new();
    let mut edits: BTreeMap<String, u64> = BTreeMap::new();
    let mut conflicts = 0;
    for t in tasks {
        let (c, e, k) = t.await??;
        created.extend(c);
        for (n, v) in e {
            *edits.entry(n).or_default() += v;
        }
        conflicts += k;
    }
    println!("{}", serde_json::json!({ "created": created, "edits": edits, "conflicts": conflicts }));
    Ok(())
}
