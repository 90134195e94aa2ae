//! What every rendered mail needs from the deployment: who it is from, what the product is
//! called, its logo, and the public URL that links are built from (never a request's Host
//! header).

/// Deployment-wide mail settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// The `From:` address, e.g. `Help Desk <helpdesk@example.com>`.
    pub from: String,
    /// The product name shown in subjects and signatures.
    pub product_name: String,
    /// The public base URL (no trailing slash), the only source of links.
    pub public_url: String,
    /// A logo shown at the top of HTML mails.
    pub logo_url: Option<String>,
}

impl MailSettings {
    /// A link to `path` (which starts with `/`) under the public URL.
    pub fn link(&self, path: &str) -> String {
        format!("{}{}", self.public_url.trim_end_matches('/'), path)
    }

    /// The domain of the `From:` address, for our Message-IDs.
    pub fn domain(&self) -> &str {
        self.from.rsplit('@').next().unwrap_or("localhost").trim_end_matches('>').trim()
    }
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            from: "Help Desk <helpdesk@localhost>".into(),
            product_name: "Help Desk".into(),
            public_url: "http://localhost:8080".into(),
            logo_url: None,
        }
    }
}

/// `ana@example.com` as `a***@example.com`, for logs.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first = local.chars().next().map_or(String::new(), |c| c.to_string());
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}
