//! A Dovecot IMAP server of the test's own, shared by the tests (`common`) and the mail-in
//! benchmark (`benches/mail_in.rs`, through `#[path]`).

#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::net::SocketAddr;

/// A Dovecot IMAP server of its own (configuration, mailboxes and logs in a temporary
/// directory, on a free port, one user `box` with password `secret`), stopped when dropped.
#[allow(dead_code)]
pub struct Dovecot {
    dir: tempfile::TempDir,
    bin: String,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = std::process::Command::new(&self.bin)
            .args(["-c", &self.dir.path().join("dovecot.conf").to_string_lossy(), "stop"])
            .output();
    }
}

#[allow(dead_code)]
impl Dovecot {
    /// The server's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// The help desk's configuration for this mailbox.
    pub fn config(&self, move_to: Option<&str>) -> helpdesk_http::config::ImapConfig {
        helpdesk_http::config::ImapConfig {
            host: "127.0.0.1".into(),
            port: Some(self.port),
            tls: false,
            username: "box".into(),
            password: helpdesk_http::config::Secret::new("secret"),
            mailbox: "INBOX".into(),
            move_to: move_to.map(str::to_owned),
            poll_secs: 1,
            claim_secs: 1,
        }
    }
}

/// Starts Dovecot (named by `HELPDESK_TEST_DOVECOT`, which `scripts/test.sh` sets once it is
/// installed); `None` when it is not.
#[allow(dead_code)]
pub fn start_dovecot() -> Option<Dovecot> {
    use std::os::unix::fs::PermissionsExt as _;
    let bin = std::env::var("HELPDESK_TEST_DOVECOT").ok().filter(|b| std::path::Path::new(b).exists())?;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Dovecot's own processes (its `dovecot` user) read these.
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    for sub in ["run", "state", "mail"] {
        std::fs::create_dir(d.join(sub)).unwrap();
    }
    std::fs::write(d.join("passwd"), "box:{PLAIN}secret\n").unwrap();
    std::fs::set_permissions(d.join("passwd"), std::fs::Permissions::from_mode(0o644)).unwrap();
    // Mail is stored as the invoking user, or as `dovecot` when that is root (Dovecot refuses
    // uid 0 for mail).
    let id = |flag: &str, user: Option<&str>| {
        let out = std::process::Command::new("id").arg(flag).args(user).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let (mut uid, mut gid) = (id("-u", None), id("-g", None));
    if uid == "0" {
        (uid, gid) = (id("-u", Some("dovecot")), id("-g", Some("dovecot")));
        std::process::Command::new("chown").arg(format!("{uid}:{gid}")).arg(d.join("mail")).status().unwrap();
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let p = d.display();
    let conf = format!(
        "base_dir = {p}/run\nstate_dir = {p}/state\nlog_path = {p}/dovecot.log\nprotocols = imap\nlisten = 127.0.0.1\n\
ssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain login\nmail_location = maildir:{p}/mail/%u\n\
first_valid_uid = 0\nmail_max_userip_connections = 100\n\
service imap-login {{\n  inet_listener imap {{\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {p}/passwd\n}}\n\
userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={p}/mail/%u\n}}\n"
    );
    std::fs::write(d.join("dovecot.conf"), conf).unwrap();
    let status =
        std::process::Command::new(&bin).args(["-c", &d.join("dovecot.conf").to_string_lossy()]).status().unwrap();
    assert!(
        status.success(),
        "dovecot did not start: {}",
        std::fs::read_to_string(d.join("dovecot.log")).unwrap_or_default()
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(200)).is_err() {
        assert!(std::time::Instant::now() < deadline, "dovecot did not listen");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Some(Dovecot { dir, bin, port })
}
