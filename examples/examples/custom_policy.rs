//! Swaps in a custom policy and a custom workflow sink.
//!
//! The policy adds an "auditor" rule on top of the default matrix: coordinators of the
//! `budget` department may read every ticket but never change one (deny wins). The workflow
//! sink prints what the external system would receive; the outbox dispatcher delivers it.
//! `cargo run -p helpdesk-examples --example custom_policy`

use std::sync::Arc;

use async_trait::async_trait;
use helpdesk_core::domain::{MessageId, Priority, Role};
use helpdesk_core::lifecycle::Action;
use helpdesk_core::model::WorkflowEvent;
use helpdesk_core::password::Password;
use helpdesk_core::policy::{Decision, ListScope, Permission, Policy, Principal, Resource, RulePolicy};
use helpdesk_core::ports::{DeliveryError, Mailer, SystemClock, WorkflowSink};
use helpdesk_core::{ActionRequest, BootstrapAdmin, HelpDesk, LoginRequest, NewTicket, NewUser, OutboxDispatcher};
use helpdesk_storage_sled::{SledOptions, SledStore};

/// The default matrix, plus: budget coordinators are read-only auditors.
#[derive(Debug, Default)]
struct AuditorPolicy {
    inner: RulePolicy,
}

impl Policy for AuditorPolicy {
    fn decide(&self, p: &Principal, permission: Permission, r: &Resource) -> Decision {
        let auditor = p.user().is_some_and(|u| {
            u.role == Role::Coordinator && u.department.as_ref().is_some_and(|d| d.as_str() == "budget")
        });
        let writes = matches!(
            permission,
            Permission::TransitionTicket
                | Permission::EditTicket
                | Permission::CommentPublic
                | Permission::CommentInternal
                | Permission::UploadAttachment
        );
        if auditor && writes {
            return Decision::Deny;
        }
        self.inner.decide(p, permission, r)
    }
    fn list_scope(&self, p: &Principal) -> ListScope {
        self.inner.list_scope(p)
    }
}

/// Prints workflow events instead of posting them.
#[derive(Debug)]
struct PrintingSink;

#[async_trait]
impl WorkflowSink for PrintingSink {
    async fn deliver(&self, id: MessageId, e: &WorkflowEvent) -> Result<(), DeliveryError> {
        println!("workflow <- {id}: {:?} {} is {}", e.kind, e.ticket.number, e.ticket.status);
        Ok(())
    }
}

/// Drops mail (this example is about the workflow).
#[derive(Debug)]
struct NoMail;

#[async_trait]
impl Mailer for NoMail {
    async fn send(&self, _: MessageId, _: &helpdesk_core::model::Notification) -> Result<(), DeliveryError> {
        Ok(())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let store = Arc::new(SledStore::open(&SledOptions::temporary())?);
    let desk = HelpDesk::builder(store.clone(), Arc::new(object_store::memory::InMemory::new()))
        .policy(Arc::new(AuditorPolicy::default()))
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
    let auditor = desk
        .create_user(
            &admin,
            NewUser {
                email: "audit@example.com".into(),
                first_name: "Aud".into(),
                middle_name: None,
                last_name: "Itor".into(),
                suffix: None,
                company_id: None,
                department: Some("budget".into()),
                role: Role::Coordinator,
            },
        )
        .await?;
    let t = desk
        .create_ticket(
            &admin,
            NewTicket {
                subject: "New monitor".into(),
                category: "asset".into(),
                sub_category: "new_equipment".into(),
                description: "27 inch".into(),
                scheduled_date: None,
                fields: Default::default(),
            },
            None,
        )
        .await?;
    let triage =
        ActionRequest { priority: Some(Priority::Low), department: Some("asset".into()), ..ActionRequest::default() };
    desk.act(&admin, &t.number, Action::Approve, triage, None).await?;

    // The auditor reads but cannot act.
    let auditor_p = Principal::User(helpdesk_core::policy::UserPrincipal {
        id: auditor.id,
        role: Role::Coordinator,
        department: auditor.department.clone(),
        session: None,
    });
    println!("auditor sees {}", desk.ticket(&auditor_p, &t.number).await?.ticket.number);
    match desk.act(&auditor_p, &t.number, Action::Claim, ActionRequest::default(), None).await {
        Err(e) => println!("auditor may not claim: {} ({})", e, e.code()),
        Ok(_) => anyhow::bail!("the auditor changed a ticket"),
    }

    let dispatcher = OutboxDispatcher::new(
        store,
        Arc::new(NoMail),
        Arc::new(PrintingSink),
        Arc::new(SystemClock),
        desk.options().outbox.clone(),
    );
    let report = dispatcher.run_once().await?;
    println!("dispatched {} messages", report.delivered);
    Ok(())
}
