//! The child process of the crash test (`tests/crash.rs`): opens a `SledStore`, then several
//! tasks create tickets and walk them through the lifecycle through the `HelpDesk` service,
//! printing `ACK <number> <version>` after every acknowledged write, until the test kills it
//! with SIGKILL. Not meant for anything else.

use std::io::Write;
use std::sync::Arc;

use helpdesk_core::domain::Priority;
use helpdesk_core::lifecycle::Action;
use helpdesk_core::password::{Argon2Hasher, Argon2Options, Password};
use helpdesk_core::{ActionRequest, BootstrapAdmin, HelpDesk, LoginRequest, NewTicket};
use helpdesk_storage_sled::{SledOptions, SledStore};

fn ack(number: &str, version: u64) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ACK {number} {version}");
    let _ = out.flush();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: helpdesk-sled-crash-child <dir>")?;
    // The previous (killed) process's lock is released by the kernel; the test's own check
    // may still hold the database for a moment.
    let mut tries = 0;
    let store = loop {
        match SledStore::open(&SledOptions::new(&path)) {
            Ok(s) => break Arc::new(s),
            Err(helpdesk_storage_sled::OpenError::Locked(_)) if tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(e.into()),
        }
    };
    let desk = HelpDesk::builder(store, Arc::new(object_store::memory::InMemory::new()))
        .hasher(Arc::new(Argon2Hasher::new(Argon2Options::insecure_fast_for_tests())?))
        .build()?;
    let pw = "harbor-lantern-quartz-71";
    desk.ensure_admin(BootstrapAdmin {
        email: "crash@example.com".into(),
        password: Some(Password::new(pw)),
        first_name: "Crash".into(),
        last_name: "Test".into(),
    })
    .await?;
    let s = desk
        .login(LoginRequest { email: "crash@example.com".into(), password: Password::new(pw), address: None })
        .await?;
    let (admin, _) = desk.authenticate_session(s.session.id).await?;
    println!("READY");
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let (desk, admin) = (desk.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            loop {
                i += 1;
                let new = NewTicket {
                    subject: format!("w{worker} #{i}"),
                    category: "hardware".into(),
                    sub_category: "laptop".into(),
                    description: "crash test".into(),
                    scheduled_date: None,
                    fields: Default::default(),
                };
                let Ok(t) = desk.create_ticket(&admin, new, Some(&format!("w{worker}-{i}"))).await else { continue };
                ack(t.number.as_str(), t.version);
                let steps = [
                    (
                        Action::Approve,
                        ActionRequest {
                            priority: Some(Priority::High),
                            department: Some("it".into()),
                            ..ActionRequest::default()
                        },
                    ),
                    (Action::Claim, ActionRequest::default()),
                    (Action::Resolve, ActionRequest { text: Some("done".into()), ..ActionRequest::default() }),
                ];
                for (action, req) in steps {
                    match desk.act(&admin, &t.number, action, req, None).await {
                        Ok(t) => ack(t.number.as_str(), t.version),
                        Err(_) => break,
                    }
                }
                if let Ok(c) = desk.add_comment(&admin, &t.number, "noted", i.is_multiple_of(2)).await {
                    let _ = c;
                    if let Ok(v) = desk.ticket(&admin, &t.number).await {
                        ack(v.ticket.number.as_str(), v.ticket.version);
                    }
                }
            }
        }));
    }
    if let Some(t) = tasks.into_iter().next() {
        t.await?;
    }
    Ok(())
}
