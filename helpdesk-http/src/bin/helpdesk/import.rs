//! `helpdesk users import`: reads the original system's Django `dumpdata` of `core.employee`
//! and imports each row through the core importer, which keeps the `pbkdf2_sha256` hash
//! (upgraded to argon2id at the next sign-in; a password the policy now refuses gets
//! `must_change_password`). Roles, statuses and departments are mapped from the original's
//! display names; rows the original "rejected" but never deleted are skipped and reported.

use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};
use helpdesk_core::domain::{DepartmentKey, Role, UserStatus};
use helpdesk_core::policy::Principal;
use helpdesk_core::{HelpDesk, ImportOutcome, ImportedUser};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Row {
    model: String,
    pk: serde_json::Value,
    fields: Fields,
}

#[derive(Debug, Deserialize)]
struct Fields {
    password: String,
    first_name: String,
    middle_name: Option<String>,
    last_name: String,
    suffix: Option<String>,
    company_id: String,
    department: Option<String>,
    email: String,
    role: String,
    status: String,
    date_created: DateTime<Utc>,
}

fn role(s: &str) -> Option<Role> {
    match s.trim() {
        "Employee" => Some(Role::Employee),
        "Ticket Coordinator" => Some(Role::Coordinator),
        "System Admin" => Some(Role::Admin),
        _ => None,
    }
}

fn status(s: &str) -> Result<Option<UserStatus>, String> {
    match s.trim() {
        "Pending" => Ok(Some(UserStatus::Pending)),
        "Approved" => Ok(Some(UserStatus::Approved)),
        "Rejected" => Ok(None),
        other => Err(format!("unknown status {other:?}")),
    }
}

fn department(s: Option<&str>) -> Option<DepartmentKey> {
    let key = match s?.trim() {
        "IT Department" => "it",
        "Asset Department" => "asset",
        "Budget Department" => "budget",
        _ => return None,
    };
    DepartmentKey::parse(key).ok()
}

pub(crate) async fn run(desk: &HelpDesk, file: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let rows: Vec<Row> = serde_json::from_str(&text).context("not a Django dumpdata JSON array")?;
    let (mut imported, mut present, mut skipped) = (0, 0, 0);
    for row in rows.into_iter().filter(|r| r.model == "core.employee") {
        let f = row.fields;
        let Some(role) = role(&f.role) else {
            println!("skipped pk {}: unknown role {:?}", row.pk, f.role);
            skipped += 1;
            continue;
        };
        let status = match status(&f.status) {
            Ok(s) => s,
            Err(e) => {
                println!("skipped pk {}: {e}", row.pk);
                skipped += 1;
                continue;
            }
        };
        let u = ImportedUser {
            email: f.email.clone(),
            password_hash: f.password,
            first_name: f.first_name,
            middle_name: f.middle_name,
            last_name: f.last_name,
            suffix: f.suffix,
            company_id: f.company_id,
            department: department(f.department.as_deref()),
            role,
            status,
            created_at: f.date_created,
        };
        match desk.import_user(&Principal::System, u).await? {
            ImportOutcome::Imported(id) => {
                imported += 1;
                println!("imported {} as {id}", f.email);
            }
            ImportOutcome::AlreadyPresent => {
                present += 1;
                println!("already present: {}", f.email);
            }
            ImportOutcome::Skipped(why) => {
                skipped += 1;
                println!("skipped {}: {why}", f.email);
            }
        }
    }
    println!("{imported} imported, {present} already present, {skipped} skipped");
    Ok(())
}
