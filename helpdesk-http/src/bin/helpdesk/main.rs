//! `helpdesk`: the reference server and its admin commands.
//!
//! `helpdesk serve` with no configuration runs a complete help desk on sled and local disk in
//! `./helpdesk-data`. See the README for the configuration keys.

mod allocator;
mod archive;
mod backup;
mod import;
mod mail;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use helpdesk_core::domain::ApiKeyId;
use helpdesk_core::policy::Principal;
use helpdesk_http::config::{Config, LogFormat};
use helpdesk_http::server;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(name = "helpdesk", version, about = "The helpdesk reference server")]
struct Cli {
    /// TOML configuration file (`HELPDESK_…` variables override it).
    #[arg(long, short, env = "HELPDESK_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on (overrides `listen`).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Data directory (overrides `data_dir`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Apply database migrations (PostgreSQL) and exit.
    Migrate,
    /// Admin accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// API keys for external systems.
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Users.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Mail in.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// Back up the embedded store (one consistent cut, while the server runs) and local
    /// attachments into a new directory.
    Backup {
        /// The new (or empty) directory to write.
        #[arg(long)]
        to: PathBuf,
    },
    /// Restore a backup into the configured, empty data directory (the server stopped).
    Restore {
        /// A directory written by `helpdesk backup`.
        #[arg(long)]
        from: PathBuf,
    },
    /// Write every record of the configured store into one archive (`.tar.gz`), for a move
    /// to another store of either kind. Stop the server first.
    Export {
        /// The archive file to write (replaced only once the new one is complete).
        #[arg(long)]
        to: PathBuf,
        /// Include the attachment store's blobs (attachments and avatars).
        #[arg(long)]
        attachments: bool,
        /// Include sessions (by default everyone signs in again after the move).
        #[arg(long)]
        sessions: bool,
    },
    /// Load an archive written by `helpdesk export` into the configured, empty store: every
    /// hash and count is checked before anything is written.
    Import {
        /// The archive file.
        #[arg(long)]
        from: PathBuf,
        /// Import into a store that holds records already.
        #[arg(long)]
        allow_non_empty: bool,
        /// Only check the archive (hashes, counts); write nothing.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an admin (idempotent: nothing happens if the email exists).
    Create {
        /// Email.
        #[arg(long)]
        email: String,
        /// First name.
        #[arg(long, default_value = "Help Desk")]
        first_name: String,
        /// Last name.
        #[arg(long, default_value = "Admin")]
        last_name: String,
        /// Read the password from this environment variable instead of generating one.
        #[arg(long)]
        password_env: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Create a key; prints the credential once.
    Create {
        /// Name of the external system.
        #[arg(long)]
        name: String,
        /// Scopes: read_tickets, push_workflow, ingest_mail.
        #[arg(long, value_delimiter = ',', default_value = "read_tickets,push_workflow")]
        scopes: Vec<String>,
    },
    /// List keys.
    List,
    /// Revoke a key by id.
    Revoke {
        /// The key's id.
        id: uuid::Uuid,
    },
}

#[derive(Debug, Subcommand)]
enum MailCommand {
    /// Process one message read on standard input (an MTA's pipe). Exit codes: 0 accepted,
    /// 75 try again later, 67 refused.
    Ingest {
        /// Post the message to this running server (`https://desk.example.com`) with the API
        /// key in `$HELPDESK_INGEST_API_KEY`, instead of opening the store.
        #[arg(long)]
        url: Option<String>,
        /// Read the API key for `--url` from this file instead (an MTA's pipe passes no
        /// environment).
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Import employees from the original system's Django `dumpdata` JSON, keeping their
    /// PBKDF2 hashes (upgraded to argon2id at each user's next sign-in).
    Import {
        /// The JSON file.
        file: PathBuf,
    },
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HELPDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> std::process::ExitCode {
    allocator::apply();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:?}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        // An MTA retries a temporary failure: a configuration being fixed loses no mail.
        Err(e) if matches!(cli.command, Command::Mail { .. }) => {
            eprintln!("helpdesk mail ingest: {e}");
            return Ok(std::process::ExitCode::from(75));
        }
        Err(e) => return Err(e.into()),
    };
    if let Command::Serve { listen, data_dir } = &cli.command {
        if let Some(l) = listen {
            config.listen = *l;
        }
        if let Some(d) = data_dir {
            config.data_dir.clone_from(d);
        }
        config.validate()?;
    }
    init_logs(config.log_format);
    if let Command::Mail { command: MailCommand::Ingest { url, key_file } } = cli.command {
        return Ok(mail::ingest(&config, url, key_file).await);
    }
    run_command(cli.command, config).await.map(|()| std::process::ExitCode::SUCCESS)
}

async fn run_command(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { .. } => server::serve(&config, CancellationToken::new()).await,
        Command::Migrate => {
            server::open_store(&config, true).await?;
            println!("migrations applied (or nothing to do)");
            Ok(())
        }
        Command::Admin { command: AdminCommand::Create { email, first_name, last_name, password_env } } => {
            let desk = desk(&config).await?;
            let password = match password_env {
                Some(var) => Some(helpdesk_core::password::Password::new(
                    std::env::var(&var).with_context(|| format!("reading ${var}"))?,
                )),
                None => None,
            };
            let generated = desk
                .ensure_admin(helpdesk_core::BootstrapAdmin { email: email.clone(), password, first_name, last_name })
                .await?;
            match generated {
                Some(p) => println!(
                    "created admin {email}\ntemporary password (shown once; must be changed at first sign-in): {}",
                    p.expose()
                ),
                None => println!("admin {email} created (or a user with this email exists already)"),
            }
            Ok(())
        }
        Command::ApiKey { command } => api_keys(&config, command).await,
        Command::Users { command: UsersCommand::Import { file } } => {
            let desk = desk(&config).await?;
            import::run(&desk, &file).await
        }
        Command::Backup { to } => backup::backup(&config, &to).await,
        Command::Restore { from } => backup::restore(&config, &from).await,
        Command::Export { to, attachments, sessions } => {
            archive::export(&config, &to, helpdesk_core::archive::ExportOptions { sessions, attachments }).await
        }
        Command::Import { from, allow_non_empty, check } => {
            archive::import(&config, &from, helpdesk_core::archive::ImportOptions { allow_non_empty }, check).await
        }
        // Answered with its own exit codes in `run`.
        Command::Mail { .. } => Ok(()),
    }
}

async fn desk(config: &Config) -> anyhow::Result<helpdesk_core::HelpDesk> {
    let store = server::open_store(config, config.migrate_on_start).await?;
    let blobs = server::open_blobs(config)?;
    server::build_desk(config, store, blobs, None)
}

async fn api_keys(config: &Config, command: ApiKeyCommand) -> anyhow::Result<()> {
    let desk = desk(config).await?;
    match command {
        ApiKeyCommand::Create { name, scopes } => {
            let scopes = scopes
                .iter()
                .map(|s| {
                    helpdesk_core::model::ApiScope::ALL
                        .iter()
                        .copied()
                        .find(|x| x.as_str() == s.trim())
                        .with_context(|| format!("unknown scope {s:?} (read_tickets, push_workflow, ingest_mail)"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let (key, credential) = desk.create_api_key(&Principal::System, &name, scopes).await?;
            println!("created API key {} ({})", key.id, key.name);
            println!("send it as:  Authorization: ApiKey {credential}");
            println!("(shown once; only its hash is stored)");
        }
        ApiKeyCommand::List => {
            for k in desk.store().list_api_keys().await? {
                let scopes: Vec<&str> = k.scopes.iter().map(|s| s.as_str()).collect();
                let state = if k.revoked_at.is_some() { "revoked" } else { "active" };
                println!("{}  {:<24} {:<28} {state}", k.id, k.name, scopes.join(","));
            }
        }
        ApiKeyCommand::Revoke { id } => {
            desk.revoke_api_key(&Principal::System, ApiKeyId::from_uuid(id)).await?;
            println!("revoked {id}");
        }
    }
    Ok(())
}
