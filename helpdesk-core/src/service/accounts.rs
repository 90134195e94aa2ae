//! Accounts: registration, admin approval and rejection, deactivation, roles and departments,
//! admin-created users with invitations, the first admin, the importer, and profiles.

use chrono::{DateTime, Utc};

use super::{HelpDesk, audit_entry};
use crate::account::{AccountAction, next_status};
use crate::domain::{
    CompanyId, DepartmentKey, Email, Note, PersonName, RejectionId, Role, StorageKey, Suffix, UserId, UserStatus,
};
use crate::model::{
    ActorRef, AuditKind, NotificationKind, PasswordHash, RejectionRecord, TermsAcceptance, TokenPurpose, User,
    UserSummary,
};
use crate::password::Password;
use crate::policy::{Permission, Principal, Resource};
use crate::ports::{Cursor, Page, PageSize, UnitOfWork, UserQuery, Versioned};
use crate::{Error, FieldError, Result, ValidationErrors};
use object_store::ObjectStoreExt as _;

/// A self-registration, as typed.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Email address to sign in with (unique, case-insensitive).
    pub email: String,
    /// Password, checked against the password policy.
    pub password: Password,
    /// First name.
    pub first_name: String,
    /// Middle name.
    pub middle_name: Option<String>,
    /// Last name.
    pub last_name: String,
    /// `Jr.`, `Sr.`, `II` … `X`.
    pub suffix: Option<String>,
    /// Company id.
    pub company_id: String,
    /// Department key.
    pub department: Option<String>,
    /// The version of the terms of use the person accepted (required when
    /// [`HelpDeskOptions::terms_version`](crate::HelpDeskOptions::terms_version) is set).
    pub accepted_terms: Option<String>,
    /// An avatar thumbnail, already decoded, checked and re-encoded by the caller (as for
    /// [`HelpDesk::set_avatar`]); stored before the account is, so both or neither exist.
    pub avatar: Option<bytes::Bytes>,
}

impl Registration {
    /// A registration with the required fields; the optional ones (middle name, suffix,
    /// department) are set with the methods below. Nothing is checked until
    /// [`HelpDesk::register`], which names every bad field.
    ///
    /// ```
    /// use helpdesk_core::Registration;
    /// let r = Registration::new("dominic.reyes@example.com", "gravel-tundra-piano-15", "Dominic", "Reyes", "MA0004")
    ///     .department("it");
    /// assert_eq!(r.department.as_deref(), Some("it"));
    /// ```
    pub fn new(
        email: impl Into<String>,
        password: impl Into<String>,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
        company_id: impl Into<String>,
    ) -> Self {
        Self {
            email: email.into(),
            password: Password::new(password),
            first_name: first_name.into(),
            middle_name: None,
            last_name: last_name.into(),
            suffix: None,
            company_id: company_id.into(),
            department: None,
            accepted_terms: None,
            avatar: None,
        }
    }

    /// Accepting the terms of use of this version.
    #[must_use]
    pub fn accept_terms(mut self, version: impl Into<String>) -> Self {
        self.accepted_terms = Some(version.into());
        self
    }

    /// With a department key (of the catalogue: `it`, `asset`, `budget` by default).
    #[must_use]
    pub fn department(mut self, key: impl Into<String>) -> Self {
        self.department = Some(key.into());
        self
    }

    /// With a middle name.
    #[must_use]
    pub fn middle_name(mut self, name: impl Into<String>) -> Self {
        self.middle_name = Some(name.into());
        self
    }

    /// With a suffix (`Jr.`, `Sr.`, `III` … `X`).
    #[must_use]
    pub fn suffix(mut self, suffix: impl Into<String>) -> Self {
        self.suffix = Some(suffix.into());
        self
    }
}

/// A user created by an admin (gets a set-password invitation).
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Email address; the invitation is mailed there.
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Middle name.
    pub middle_name: Option<String>,
    /// Last name.
    pub last_name: String,
    /// `Jr.`, `Sr.`, `II` … `X`.
    pub suffix: Option<String>,
    /// Company id; empty for the next free one.
    pub company_id: Option<String>,
    /// Department key.
    pub department: Option<String>,
    /// The role the user starts with.
    pub role: Role,
}

/// The first admin, from configuration or the CLI.
#[derive(Debug, Clone)]
pub struct BootstrapAdmin {
    /// Email address of the first admin.
    pub email: String,
    /// Password; `None` generates one (returned once).
    pub password: Option<Password>,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
}

impl BootstrapAdmin {
    /// The first admin with a chosen password (checked by the password policy).
    pub fn new(
        email: impl Into<String>,
        password: impl Into<String>,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
    ) -> Self {
        Self {
            email: email.into(),
            password: Some(Password::new(password)),
            first_name: first_name.into(),
            last_name: last_name.into(),
        }
    }
}

/// A user from the original system (Django `dumpdata`).
#[derive(Debug, Clone)]
pub struct ImportedUser {
    /// Email (any case).
    pub email: String,
    /// The Django hash (`pbkdf2_sha256$…`), kept as is.
    pub password_hash: String,
    /// First name.
    pub first_name: String,
    /// Middle name.
    pub middle_name: Option<String>,
    /// Last name.
    pub last_name: String,
    /// `Jr.`, `Sr.`, `II` … `X`.
    pub suffix: Option<String>,
    /// Company id (a legacy format is kept).
    pub company_id: String,
    /// Department key.
    pub department: Option<DepartmentKey>,
    /// The role, mapped from the original system's role names.
    pub role: Role,
    /// Status; `None` for a registration the original rejected (not imported).
    pub status: Option<UserStatus>,
    /// When the account was created in the original system.
    pub created_at: DateTime<Utc>,
}

/// What importing one user did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// A new account with this id.
    Imported(UserId),
    /// A user with this email exists already.
    AlreadyPresent,
    /// Not imported, with the reason.
    Skipped(String),
}

/// A profile update; `None` leaves a field alone, `Some("")` clears optional ones.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// First name.
    pub first_name: Option<String>,
    /// Middle name.
    pub middle_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// `Jr.`, `Sr.`, `II` … `X`, or `None` to leave as is.
    pub suffix: Option<String>,
}

fn opt_name(errs: &mut ValidationErrors, field: &str, v: Option<&str>) -> Option<PersonName> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => errs.check(PersonName::parse(field, s)),
        None => None,
    }
}

impl HelpDesk {
    fn user_actor(principal: &Principal) -> Option<ActorRef> {
        principal.actor().map(|a| a.to_ref())
    }

    fn parse_department(&self, errs: &mut ValidationErrors, input: Option<&str>) -> Option<DepartmentKey> {
        match input.map(str::trim).filter(|s| !s.is_empty()) {
            Some(d) => errs.check(self.inner.options.catalog.parse_department("department", d)),
            None => None,
        }
    }

    /// Self-registration: a pending employee; mails "registration received".
    ///
    /// # Errors
    /// [`Error::Validation`] naming each bad field (a taken email or company id included).
    pub async fn register(&self, principal: &Principal, r: Registration) -> Result<User> {
        self.require(principal, Permission::Register, &Resource::none())?;
        let opts = &self.inner.options;
        let mut errs = ValidationErrors::new();
        let email = errs.check(Email::parse(&r.email));
        let first = errs.check(PersonName::parse("first_name", &r.first_name));
        let last = errs.check(PersonName::parse("last_name", &r.last_name));
        let middle = opt_name(&mut errs, "middle_name", r.middle_name.as_deref());
        let suffix = errs.check(Suffix::parse(r.suffix.as_deref().unwrap_or(""))).flatten();
        let company = errs.check(CompanyId::parse(&r.company_id, &opts.company_id_format));
        let department = self.parse_department(&mut errs, r.department.as_deref());
        let personal = [r.email.as_str(), r.first_name.as_str(), r.last_name.as_str(), r.company_id.as_str()];
        errs.check(opts.password_policy.check(&r.password, &personal));
        let terms_accepted = match &opts.terms_version {
            Some(v) if r.accepted_terms.as_deref() == Some(v.as_str()) => {
                Some(TermsAcceptance { version: v.clone(), at: self.now() })
            }
            Some(_) => {
                errs.push(FieldError::new("accepted_terms", "required", "accept the terms of use to register"));
                None
            }
            None => None,
        };
        if let Some(e) = &email
            && self.inner.store.user_by_email(e).await?.is_some()
        {
            errs.push(FieldError::new("email", "taken", "this email is already registered"));
        }
        if let Some(c) = &company
            && self.inner.store.user_by_company_id(c).await?.is_some()
        {
            errs.push(FieldError::new("company_id", "taken", "this company id is already registered"));
        }
        errs.clone().into_result()?;
        let (Some(email), Some(first_name), Some(last_name), Some(company_id)) = (email, first, last, company) else {
            return Err(Error::Validation(errs));
        };
        let hash = self.hash_password(r.password).await?;
        let now = self.now();
        let id = UserId::random();
        let avatar = match r.avatar {
            Some(thumbnail) => {
                let key = StorageKey::for_avatar(id, 1);
                self.inner
                    .blobs
                    .put(&key.to_path(), object_store::PutPayload::from(thumbnail))
                    .await
                    .map_err(super::attachments::blob_error)?;
                Some(key)
            }
            None => None,
        };
        let user = User {
            id,
            email,
            password: Some(hash),
            first_name,
            middle_name: middle,
            last_name,
            suffix,
            company_id,
            department,
            role: Role::Employee,
            status: UserStatus::Pending,
            avatar: avatar.clone(),
            must_change_password: false,
            terms_accepted,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let mut uow = UnitOfWork::new();
        uow.outbox.push(self.mail_to(&user, NotificationKind::RegistrationReceived, now));
        uow.users.push(Versioned::insert(user.clone()));
        if let Err(e) = self.commit_user_insert(uow).await {
            if let Some(key) = avatar
                && let Err(d) = self.inner.blobs.delete(&key.to_path()).await
            {
                tracing::warn!(error = %d, "could not delete the avatar of a refused registration");
            }
            return Err(e);
        }
        Ok(user)
    }

    async fn commit_user_insert(&self, uow: UnitOfWork) -> Result<()> {
        match self.commit(uow).await {
            Err(crate::ports::StoreError::AlreadyExists { what }) => {
                let field = if what == "company_id" { "company_id" } else { "email" };
                Err(FieldError::new(field, "taken", format!("this {field} is already registered")).into())
            }
            other => other.map(drop).map_err(Into::into),
        }
    }

    async fn admin_target(&self, principal: &Principal, id: UserId) -> Result<User> {
        self.require(principal, Permission::ManageUsers, &Resource::none())?;
        self.inner.store.user(id).await?.ok_or(Error::NotFound { what: "user" })
    }

    fn check_version(user: &User, expected: Option<u64>) -> Result<()> {
        match expected {
            Some(v) if v != user.version => Err(Error::VersionConflict { expected: v, found: user.version }),
            _ => Ok(()),
        }
    }

    /// Approves a pending registration; mails "account ready".
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`, `AccountTransition` (not pending), `VersionConflict`.
    pub async fn approve_user(&self, principal: &Principal, id: UserId, expected: Option<u64>) -> Result<User> {
        self.change_status(principal, id, AccountAction::Approve, expected).await
    }

    /// Deactivates an approved user and ends their sessions at once.
    ///
    /// # Errors
    /// As [`approve_user`](Self::approve_user); an admin cannot deactivate themself.
    pub async fn deactivate_user(&self, principal: &Principal, id: UserId, expected: Option<u64>) -> Result<User> {
        if principal.user().is_some_and(|u| u.id == id) {
            return Err(Error::Conflict("you cannot deactivate your own account"));
        }
        self.change_status(principal, id, AccountAction::Deactivate, expected).await
    }

    /// Reactivates a deactivated user.
    ///
    /// # Errors
    /// As [`approve_user`](Self::approve_user).
    pub async fn reactivate_user(&self, principal: &Principal, id: UserId, expected: Option<u64>) -> Result<User> {
        self.change_status(principal, id, AccountAction::Reactivate, expected).await
    }

    async fn change_status(
        &self,
        principal: &Principal,
        id: UserId,
        action: AccountAction,
        expected: Option<u64>,
    ) -> Result<User> {
        let user = self.admin_target(principal, id).await?;
        Self::check_version(&user, expected)?;
        let Some(status) = next_status(user.status, action)? else {
            return Err(Error::AccountTransition { action: action.as_str().into(), from: user.status.as_str().into() });
        };
        let now = self.now();
        let mut next = user.clone();
        next.status = status;
        next.updated_at = now;
        next.version += 1;
        let mut uow = UnitOfWork::new();
        if action == AccountAction::Approve {
            uow.outbox.push(self.mail_to(&next, NotificationKind::AccountApproved, now));
        }
        if action == AccountAction::Deactivate {
            uow.revoke_sessions.push((crate::ports::SessionRevocation { user: id, except: None }, now));
        }
        uow.audit.push(audit_entry(
            now,
            Self::user_actor(principal),
            AuditKind::UserAdministered,
            Some(id.to_string()),
            None,
            format!("{} {}", action.as_str(), user.email.masked()),
        ));
        uow.users.push(Versioned::update(next.clone(), user.version));
        self.commit(uow).await?;
        Ok(next)
    }

    /// Rejects a pending registration: writes the rejection record, deletes the account's
    /// personal data (the email and company id may register again), mails "registration
    /// unsuccessful".
    ///
    /// # Errors
    /// As [`approve_user`](Self::approve_user); `Validation` on a too-long reason.
    pub async fn reject_user(
        &self,
        principal: &Principal,
        id: UserId,
        reason: Option<&str>,
        expected: Option<u64>,
    ) -> Result<RejectionRecord> {
        let user = self.admin_target(principal, id).await?;
        Self::check_version(&user, expected)?;
        next_status(user.status, AccountAction::Reject)?;
        let reason = match reason.map(str::trim).filter(|s| !s.is_empty()) {
            Some(r) => Some(Note::parse_field("reason", r)?),
            None => None,
        };
        let admin = principal.user().map(|u| u.id).ok_or(Error::Forbidden("only admins reject registrations"))?;
        let now = self.now();
        let record = RejectionRecord {
            id: RejectionId::random(),
            email: user.email.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            company_id: user.company_id.clone(),
            department: user.department.clone(),
            reason: reason.clone(),
            rejected_by: admin,
            rejected_at: now,
        };
        let mut uow = UnitOfWork::new();
        uow.outbox.push(self.mail_to(
            &user,
            NotificationKind::RegistrationRejected { reason: reason.map(|r| r.to_string()) },
            now,
        ));
        uow.rejections.push(record.clone());
        uow.deleted_users.push((user.id, user.version));
        uow.audit.push(audit_entry(
            now,
            Self::user_actor(principal),
            AuditKind::UserAdministered,
            Some(id.to_string()),
            None,
            format!("reject {}", user.email.masked()),
        ));
        self.commit(uow).await?;
        Ok(record)
    }

    /// Gives a user another role (admins): [`change_role`](Self::change_role) without a
    /// department change or version check.
    ///
    /// # Errors
    /// As [`change_role`](Self::change_role).
    pub async fn set_role(&self, principal: &Principal, id: UserId, role: Role) -> Result<User> {
        self.change_role(principal, id, Some(role), None, None).await
    }

    /// Changes a user's role and/or department. Takes effect on the user's next request on
    /// every instance (roles are read from storage per request).
    ///
    /// # Errors
    /// `Validation` for an unknown department; an admin cannot demote themself.
    pub async fn change_role(
        &self,
        principal: &Principal,
        id: UserId,
        role: Option<Role>,
        department: Option<Option<String>>,
        expected: Option<u64>,
    ) -> Result<User> {
        let user = self.admin_target(principal, id).await?;
        Self::check_version(&user, expected)?;
        if principal.user().is_some_and(|u| u.id == id) && role.is_some_and(|r| r != Role::Admin) {
            return Err(Error::Conflict("you cannot remove your own admin role"));
        }
        let mut errs = ValidationErrors::new();
        let department = department.map(|d| self.parse_department(&mut errs, d.as_deref()));
        errs.into_result()?;
        let now = self.now();
        let mut next = user.clone();
        if let Some(r) = role {
            next.role = r;
        }
        if let Some(d) = department {
            next.department = d;
        }
        if next == user {
            return Ok(user);
        }
        next.updated_at = now;
        next.version += 1;
        let mut uow = UnitOfWork::new();
        uow.audit.push(audit_entry(
            now,
            Self::user_actor(principal),
            AuditKind::UserAdministered,
            Some(id.to_string()),
            None,
            {
                let dept =
                    |d: &Option<crate::domain::DepartmentKey>| d.as_ref().map_or("none".to_owned(), |d| d.to_string());
                format!(
                    "role {} → {}, department {} → {}",
                    user.role,
                    next.role,
                    dept(&user.department),
                    dept(&next.department)
                )
            },
        ));
        uow.users.push(Versioned::update(next.clone(), user.version));
        self.commit(uow).await?;
        Ok(next)
    }

    async fn next_company_id(&self) -> Result<CompanyId> {
        let format = &self.inner.options.company_id_format;
        let start = self.inner.store.user_count().await? + 1;
        for n in start..start + 10_000 {
            let id = CompanyId::from_number(n, format)?;
            if self.inner.store.user_by_company_id(&id).await?.is_none() {
                return Ok(id);
            }
        }
        Err(Error::Conflict("no free company id"))
    }

    /// Creates an approved user with no password and mails a single-use set-password link.
    ///
    /// # Errors
    /// `Forbidden` unless admin; `Validation` naming each bad field.
    pub async fn create_user(&self, principal: &Principal, n: NewUser) -> Result<User> {
        self.require(principal, Permission::ManageUsers, &Resource::none())?;
        let opts = &self.inner.options;
        let mut errs = ValidationErrors::new();
        let email = errs.check(Email::parse(&n.email));
        let first = errs.check(PersonName::parse("first_name", &n.first_name));
        let last = errs.check(PersonName::parse("last_name", &n.last_name));
        let middle = opt_name(&mut errs, "middle_name", n.middle_name.as_deref());
        let suffix = errs.check(Suffix::parse(n.suffix.as_deref().unwrap_or(""))).flatten();
        let department = self.parse_department(&mut errs, n.department.as_deref());
        let company = match n.company_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(c) => errs.check(CompanyId::parse(c, &opts.company_id_format)),
            None => Some(self.next_company_id().await?),
        };
        if let Some(e) = &email
            && self.inner.store.user_by_email(e).await?.is_some()
        {
            errs.push(FieldError::new("email", "taken", "this email is already registered"));
        }
        errs.clone().into_result()?;
        let (Some(email), Some(first_name), Some(last_name), Some(company_id)) = (email, first, last, company) else {
            return Err(Error::Validation(errs));
        };
        let now = self.now();
        let user = User {
            id: UserId::random(),
            email,
            password: None,
            first_name,
            middle_name: middle,
            last_name,
            suffix,
            company_id,
            department,
            role: n.role,
            status: UserStatus::Approved,
            avatar: None,
            must_change_password: false,
            terms_accepted: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let mut uow = UnitOfWork::new();
        self.add_token_mail(&mut uow, &user, TokenPurpose::Invitation, opts.invitation_ttl, now);
        uow.audit.push(audit_entry(
            now,
            Self::user_actor(principal),
            AuditKind::UserAdministered,
            Some(user.id.to_string()),
            None,
            format!("create {} as {}", user.email.masked(), user.role),
        ));
        uow.users.push(Versioned::insert(user.clone()));
        self.commit_user_insert(uow).await?;
        Ok(user)
    }

    /// Creates the first admin if no user has this email (idempotent). Returns the generated
    /// password when none was given and the admin was created now; it must be changed at
    /// first sign-in.
    ///
    /// # Errors
    /// `Validation` for a bad email, names or a password the policy refuses.
    pub async fn ensure_admin(&self, b: BootstrapAdmin) -> Result<Option<Password>> {
        let email = Email::parse(&b.email)?;
        if self.inner.store.user_by_email(&email).await?.is_some() {
            return Ok(None);
        }
        let first_name = PersonName::parse("first_name", &b.first_name)?;
        let last_name = PersonName::parse("last_name", &b.last_name)?;
        let (password, generated) = match b.password {
            Some(p) => {
                self.inner
                    .options
                    .password_policy
                    .check(&p, &[email.as_str(), first_name.as_str(), last_name.as_str()])?;
                (p, false)
            }
            None => (Password::new(super::random_secret()), true),
        };
        let hash = self.hash_password(password.clone()).await?;
        let now = self.now();
        let user = User {
            id: UserId::random(),
            email,
            password: Some(hash),
            first_name,
            middle_name: None,
            last_name,
            suffix: None,
            company_id: self.next_company_id().await?,
            department: None,
            role: Role::Admin,
            status: UserStatus::Approved,
            avatar: None,
            must_change_password: generated,
            terms_accepted: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let mut uow = UnitOfWork::new();
        uow.audit.push(audit_entry(
            now,
            Some(ActorRef::System),
            AuditKind::UserAdministered,
            Some(user.id.to_string()),
            None,
            "bootstrap admin created".into(),
        ));
        uow.users.push(Versioned::insert(user));
        match self.commit(uow).await {
            Ok(_) => Ok(generated.then_some(password)),
            // Another instance created it at the same moment.
            Err(crate::ports::StoreError::AlreadyExists { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Imports one user of the original system, keeping their PBKDF2 hash (upgraded to
    /// argon2id at the next successful sign-in, when a password the policy now refuses also
    /// gets `must_change_password`).
    ///
    /// # Errors
    /// Storage failures only; bad rows are reported as [`ImportOutcome::Skipped`].
    pub async fn import_user(&self, principal: &Principal, u: ImportedUser) -> Result<ImportOutcome> {
        if !matches!(principal, Principal::System) {
            self.require(principal, Permission::ManageUsers, &Resource::none())?;
        }
        let Some(status) = u.status else {
            return Ok(ImportOutcome::Skipped("the original system rejected this registration".into()));
        };
        let email = match Email::parse(&u.email) {
            Ok(e) => e,
            Err(e) => return Ok(ImportOutcome::Skipped(format!("email: {}", e.message))),
        };
        if self.inner.store.user_by_email(&email).await?.is_some() {
            return Ok(ImportOutcome::AlreadyPresent);
        }
        if !u.password_hash.starts_with("pbkdf2_sha256$") && !u.password_hash.starts_with("$argon2") {
            return Ok(ImportOutcome::Skipped("unsupported password hash".into()));
        }
        let parsed = (|| -> std::result::Result<_, FieldError> {
            let company = CompanyId::parse(&u.company_id, &self.inner.options.company_id_format)
                .or_else(|_| CompanyId::legacy(&u.company_id))?;
            let middle = match u.middle_name.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                Some(m) => Some(PersonName::parse("middle_name", m)?),
                None => None,
            };
            Ok((
                PersonName::parse("first_name", &u.first_name)?,
                PersonName::parse("last_name", &u.last_name)?,
                middle,
                Suffix::parse(u.suffix.as_deref().unwrap_or(""))?,
                company,
            ))
        })();
        let (first_name, last_name, middle_name, suffix, company_id) = match parsed {
            Ok(v) => v,
            Err(e) => return Ok(ImportOutcome::Skipped(format!("{}: {}", e.field, e.message))),
        };
        if self.inner.store.user_by_company_id(&company_id).await?.is_some() {
            return Ok(ImportOutcome::Skipped(format!("company id {company_id} is taken")));
        }
        let now = self.now();
        let user = User {
            id: UserId::random(),
            email,
            password: Some(PasswordHash(u.password_hash)),
            first_name,
            middle_name,
            last_name,
            suffix,
            company_id,
            department: u.department,
            role: u.role,
            status,
            avatar: None,
            must_change_password: false,
            terms_accepted: None,
            created_at: u.created_at,
            updated_at: now,
            version: 1,
        };
        let id = user.id;
        let mut uow = UnitOfWork::new();
        uow.users.push(Versioned::insert(user));
        match self.commit(uow).await {
            Ok(_) => Ok(ImportOutcome::Imported(id)),
            Err(crate::ports::StoreError::AlreadyExists { what }) => {
                Ok(ImportOutcome::Skipped(format!("{what} already exists")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The signed-in user's own account.
    ///
    /// # Errors
    /// `Unauthenticated` when nobody is signed in.
    pub async fn profile(&self, principal: &Principal) -> Result<User> {
        let me = principal.user().ok_or(Error::Unauthenticated(crate::AuthFailure::Missing))?;
        self.inner.store.user(me.id).await?.ok_or(Error::Unauthenticated(crate::AuthFailure::SessionEnded))
    }

    /// Updates one's own names and suffix (nothing else: role, status, email and company id
    /// are not the user's to set).
    ///
    /// # Errors
    /// `Validation` naming each bad field; `VersionConflict` on a stale `expected`.
    pub async fn update_profile(
        &self,
        principal: &Principal,
        update: ProfileUpdate,
        expected: Option<u64>,
    ) -> Result<User> {
        self.require(principal, Permission::ManageOwnProfile, &Resource::none())?;
        let user = self.profile(principal).await?;
        Self::check_version(&user, expected)?;
        let mut errs = ValidationErrors::new();
        let mut next = user.clone();
        if let Some(f) = &update.first_name
            && let Some(v) = errs.check(PersonName::parse("first_name", f))
        {
            next.first_name = v;
        }
        if let Some(l) = &update.last_name
            && let Some(v) = errs.check(PersonName::parse("last_name", l))
        {
            next.last_name = v;
        }
        if let Some(m) = &update.middle_name {
            next.middle_name = opt_name(&mut errs, "middle_name", Some(m));
        }
        if let Some(s) = &update.suffix
            && let Some(v) = errs.check(Suffix::parse(s))
        {
            next.suffix = v;
        }
        errs.into_result()?;
        if next == user {
            return Ok(user);
        }
        next.updated_at = self.now();
        next.version += 1;
        let mut uow = UnitOfWork::new();
        uow.users.push(Versioned::update(next.clone(), user.version));
        self.commit(uow).await?;
        Ok(next)
    }

    /// One user (admins).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub async fn user(&self, principal: &Principal, id: UserId) -> Result<User> {
        self.require(principal, Permission::ViewUsers, &Resource::none())?;
        self.inner.store.user(id).await?.ok_or(Error::NotFound { what: "user" })
    }

    /// A page of users (admins).
    ///
    /// # Errors
    /// `Forbidden`.
    pub async fn list_users(&self, principal: &Principal, query: &UserQuery) -> Result<Page<User>> {
        self.require(principal, Permission::ViewUsers, &Resource::none())?;
        Ok(self.inner.store.list_users(query).await?)
    }

    /// Approved staff, for assignee pickers (staff only).
    ///
    /// # Errors
    /// `Forbidden`.
    pub async fn list_staff(&self, principal: &Principal) -> Result<Vec<UserSummary>> {
        self.require(principal, Permission::ListStaff, &Resource::none())?;
        let mut out = Vec::new();
        for role in [Role::Coordinator, Role::Admin] {
            let mut cursor = None;
            loop {
                let q = UserQuery {
                    role: Some(role),
                    status: Some(UserStatus::Approved),
                    cursor,
                    limit: PageSize::new(100)?,
                    ..UserQuery::default()
                };
                let page = self.inner.store.list_users(&q).await?;
                out.extend(page.items.iter().map(User::summary));
                match page.next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
        Ok(out)
    }

    /// Rejection records, newest first, with the total count (admins).
    ///
    /// # Errors
    /// `Forbidden`.
    pub async fn rejections(
        &self,
        principal: &Principal,
        cursor: Option<Cursor>,
        limit: PageSize,
    ) -> Result<(Page<RejectionRecord>, u64)> {
        self.require(principal, Permission::ViewRejections, &Resource::none())?;
        let page = self.inner.store.rejections(cursor, limit).await?;
        let count = self.inner.store.rejection_count().await?;
        Ok((page, count))
    }

    /// The security audit log (admins).
    ///
    /// # Errors
    /// `Forbidden`.
    pub async fn audit_log(
        &self,
        principal: &Principal,
        query: &crate::ports::AuditQuery,
    ) -> Result<Page<crate::model::AuditEntry>> {
        self.require(principal, Permission::ViewAuditLog, &Resource::none())?;
        Ok(self.inner.store.list_audit(query).await?)
    }

    /// Records that the policy denied a request (the HTTP layer calls this on 403s).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn record_denial(&self, principal: &Principal, what: &str, address: Option<String>) -> Result<()> {
        self.audit(
            Self::user_actor(principal),
            AuditKind::AccessDenied,
            Some(what.to_owned()),
            address,
            "denied by policy".into(),
        )
        .await
    }

    /// The password-policy inputs of a user.
    pub(crate) fn personal_inputs(user: &User) -> Vec<String> {
        let mut v = vec![
            user.email.to_string(),
            user.first_name.to_string(),
            user.last_name.to_string(),
            user.company_id.to_string(),
        ];
        if let Some(m) = &user.middle_name {
            v.push(m.to_string());
        }
        v
    }

    /// Hash helper for other modules.
    pub(crate) async fn new_password_hash(&self, field: &str, user: &User, password: Password) -> Result<PasswordHash> {
        let personal = Self::personal_inputs(user);
        let refs: Vec<&str> = personal.iter().map(String::as_str).collect();
        self.inner.options.password_policy.check_field(field, &password, &refs)?;
        self.hash_password(password).await
    }
}
