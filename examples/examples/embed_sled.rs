//! Embeds helpdesk in a plain program on the sled store and tells the README's story: the
//! first admin, a registration approved, a coordinator, a ticket filed, triaged, claimed and
//! resolved, and its history. `cargo run -p helpdesk-examples --example embed_sled`
//!
//! Every rule still applies (password policy, lifecycle, policy, versions); this is the
//! library's short surface, not a second path.

use helpdesk_core::domain::{Priority, Role};
use helpdesk_core::lifecycle::Action;
use helpdesk_core::policy::Principal;
use helpdesk_core::{ActionRequest, BootstrapAdmin, NewTicket, Registration};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("helpdesk-example-{}", std::process::id()));
    let desk = helpdesk_storage_sled::help_desk(&dir)?.build()?;
    desk.ensure_admin(BootstrapAdmin::new("admin@example.com", "harbor-lantern-quartz-71", "Ada", "Admin")).await?;
    let admin = desk.sign_in("admin@example.com", "harbor-lantern-quartz-71").await?;
    let join = async |email: &str, company_id: &str, role: Role| -> anyhow::Result<Principal> {
        let r = Registration::new(email, "gravel-tundra-piano-15", "Dana", "Reyes", company_id).department("it");
        let user = desk.register(&Principal::Anonymous, r).await?;
        desk.approve_user(&admin, user.id, None).await?;
        desk.set_role(&admin, user.id, role).await?;
        Ok(desk.sign_in(email, "gravel-tundra-piano-15").await?)
    };
    let dominic = join("dominic@example.com", "MA0004", Role::Employee).await?;
    let cora = join("cora@example.com", "MA0005", Role::Coordinator).await?;
    let number =
        desk.create_ticket(&dominic, NewTicket::new("VPN down", "network", "vpn", "Since 9am"), None).await?.number;
    desk.act(&cora, &number, Action::Approve, ActionRequest::triage(Priority::High, "it"), None).await?;
    desk.act(&cora, &number, Action::Claim, ActionRequest::default(), None).await?;
    desk.act(&cora, &number, Action::Resolve, ActionRequest::text("New VPN profile pushed."), None).await?;
    desk.history(&dominic, &number).await?.iter().for_each(|e| println!("v{} {:?} by {}", e.version, e.kind, e.actor));
    Ok(std::fs::remove_dir_all(dir)?)
}
