//! Runs the embedding application: sled under `./embedder-data`, the help desk's background
//! work delivering mail through the application's own mailer, and the router on
//! 127.0.0.1:8081.

use std::sync::Arc;

use helpdesk_core::BootstrapAdmin;
use helpdesk_core::domain::MessageId;
use helpdesk_core::model::{Notification, WorkflowEvent};
use helpdesk_core::ports::{DeliveryError, Mailer, WorkflowSink};

/// The application's delivery: here it prints; a real one sends mail (or uses helpdesk-mail).
#[derive(Debug)]
struct Printer;

#[async_trait::async_trait]
impl Mailer for Printer {
    async fn send(&self, id: MessageId, n: &Notification) -> Result<(), DeliveryError> {
        println!("mail {id}: {:?}", n.kind);
        Ok(())
    }
}

#[async_trait::async_trait]
impl WorkflowSink for Printer {
    async fn deliver(&self, id: MessageId, e: &WorkflowEvent) -> Result<(), DeliveryError> {
        println!("workflow {id}: {e:?}");
        Ok(())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let desk = helpdesk_storage_sled::help_desk("embedder-data")?.build()?;
    desk.ensure_admin(BootstrapAdmin::new("admin@example.com", "harbor-lantern-quartz-71", "Ada", "Admin")).await?;
    let background = tokio::spawn(desk.background(Arc::new(Printer), Arc::new(Printer)).run(std::future::pending()));
    let router = helpdesk_embedder::app(desk, "http://127.0.0.1:8081", b"an-application-secret-of-32-bytes!!");
    helpdesk_embedder::serve(tokio::net::TcpListener::bind("127.0.0.1:8081").await?, router).await?;
    background.abort();
    Ok(())
}
