//! Embeds helpdesk in a plain program on the sled store: register, approve, file a ticket,
//! triage it and read its history. `cargo run -p helpdesk-examples --example embed_sled`

use std::sync::Arc;

use helpdesk_core::domain::Priority;
use helpdesk_core::lifecycle::Action;
use helpdesk_core::password::Password;
use helpdesk_core::policy::Principal;
use helpdesk_core::{ActionRequest, BootstrapAdmin, HelpDesk, LoginRequest, NewTicket, Registration};
use helpdesk_storage_sled::{SledOptions, SledStore};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let store = Arc::new(SledStore::open(&SledOptions::temporary())?);
    let desk = HelpDesk::builder(store, Arc::new(object_store::memory::InMemory::new())).build()?;
    let pw = "harbor-lantern-quartz-71";
    desk.ensure_admin(BootstrapAdmin {
        email: "admin@example.com".into(),
        password: Some(Password::new(pw)),
        first_name: "Ada".into(),
        last_name: "Admin".into(),
    })
    .await?;
    let admin = sign_in(&desk, "admin@example.com", pw).await?;

    let me = desk
        .register(
            &Principal::Anonymous,
            Registration {
                email: "dominic.reyes@example.com".into(),
                password: Password::new("gravel-tundra-piano-15"),
                first_name: "Dominic".into(),
                middle_name: None,
                last_name: "Reyes".into(),
                suffix: None,
                company_id: "MA0004".into(),
                department: Some("it".into()),
            },
        )
        .await?;
    desk.approve_user(&admin, me.id, None).await?;
    let dominic = sign_in(&desk, "dominic.reyes@example.com", "gravel-tundra-piano-15").await?;

    let ticket = desk
        .create_ticket(
            &dominic,
            NewTicket {
                subject: "VPN drops every hour".into(),
                category: "network".into(),
                sub_category: "vpn".into(),
                description: "Since Monday.".into(),
                scheduled_date: None,
            },
            None,
        )
        .await?;
    println!("filed {} ({})", ticket.number, ticket.status);
    let triage =
        ActionRequest { priority: Some(Priority::High), department: Some("it".into()), ..ActionRequest::default() };
    let ticket = desk.act(&admin, &ticket.number, Action::Approve, triage, Some(ticket.version)).await?;
    let ticket =
        desk.act(&admin, &ticket.number, Action::Claim, ActionRequest::default(), Some(ticket.version)).await?;
    println!("now {} and assigned", ticket.status);
    for e in desk.history(&dominic, &ticket.number).await? {
        println!(
            "  v{} {:?} by {}: {:?}",
            e.version,
            e.kind,
            e.actor,
            e.changes
                .iter()
                .map(|c| format!("{} → {}", c.field, c.new.clone().unwrap_or_default()))
                .collect::<Vec<_>>()
        );
    }
    Ok(())
}

async fn sign_in(desk: &HelpDesk, email: &str, pw: &str) -> anyhow::Result<Principal> {
    let s = desk.login(LoginRequest { email: email.into(), password: Password::new(pw), address: None }).await?;
    Ok(desk.authenticate_session(s.session.id).await?.0)
}
