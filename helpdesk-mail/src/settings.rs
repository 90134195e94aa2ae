//! What every rendered mail needs from the deployment: who it is from, what the product is
//! called, and the public URL that links are built from (never a request's Host header).

/// Deployment-wide mail settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// The `From:` address, e.g. `Help Desk <helpdesk@example.com>`.
    pub from: String,
    /// The product name shown in subjects and signatures.
    pub product_name: String,
    /// The public base URL (no trailing slash), the only source of links.
    pub public_url: String,
}

impl MailSettings {
    /// A link to `path` (which starts with `/`) under the public URL.
    pub fn link(&self, path: &str) -> String {
        format!("{}{}", self.public_url.trim_end_matches('/'), path)
    }
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            from: "Help Desk <helpdesk@localhost>".into(),
            product_name: "Help Desk".into(),
            public_url: "http://localhost:8080".into(),
        }
    }
}
