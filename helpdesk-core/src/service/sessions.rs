//! Sign-in, sessions with rotating refresh tokens and reuse detection, password change and
//! reset, invitations, and external systems' API keys. JWT encoding belongs to the HTTP crate:
//! here a session is a stored record and a refresh token an opaque random secret.

use chrono::{DateTime, Duration, Utc};

use super::{HelpDesk, TicketView, audit_entry};
use crate::domain::{ApiKeyId, Email, SessionId, TicketNumber, UserStatus};
use crate::model::{
    ActorRef, ApiKey, ApiScope, AuditKind, NotificationKind, OneTimeToken, Session, TokenHash, TokenPurpose, User,
};
use crate::password::{Password, Verification};
use crate::policy::{Permission, Principal, Resource, SystemPrincipal, UserPrincipal};
use crate::ports::{RefreshOutcome, SessionRevocation, UnitOfWork, Versioned};
use crate::{AuthFailure, Error, FieldError, Result};

/// A sign-in attempt.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    /// Email as typed.
    pub email: String,
    /// Password.
    pub password: Password,
    /// The client's address, for the audit log.
    pub address: Option<String>,
}

/// A session just created or rotated: the refresh secret is shown once.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    /// The session.
    pub session: Session,
    /// The refresh token (opaque; only its hash is stored).
    pub refresh_token: String,
    /// The user, as stored now.
    pub user: User,
}

/// The throttle key of sign-ins to `email`: a digest of the address as typed (trimmed,
/// lower-cased), so whatever bytes a client sends, the store sees a short hex key.
fn login_key(email: &str) -> String {
    format!("login:{}", super::sha256_hex(email.trim().to_lowercase().as_bytes()))
}

impl HelpDesk {
    /// How long `key` must still wait, if it is throttled at `now`.
    async fn login_wait(&self, key: &str, now: DateTime<Utc>) -> Result<Option<std::time::Duration>> {
        let t = &self.inner.options.throttle;
        let state = self.inner.store.login_failures(key).await?;
        if state.count < t.free_login_failures {
            return Ok(None);
        }
        let Some(last) = state.last_at else { return Ok(None) };
        let exp = (state.count - t.free_login_failures).min(20);
        let delay = (t.base_delay * 2i32.pow(exp)).min(t.max_delay);
        let until = last + delay;
        Ok((until > now).then(|| (until - now).to_std().unwrap_or_default().max(std::time::Duration::from_secs(1))))
    }

    /// Signs in and returns the new session's principal: the short path for a program that
    /// acts as a user itself. ([`login`](Self::login) returns the session and its refresh
    /// token, for transports that hand out tokens.)
    ///
    /// # Errors
    /// As [`login`](Self::login).
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<Principal> {
        let issued = self
            .login(LoginRequest { email: email.to_owned(), password: Password::new(password), address: None })
            .await?;
        Ok(self.authenticate_session(issued.session.id).await?.0)
    }

    /// Signs in. Unknown emails cost one password hash like known ones and fail the same
    /// way; pending and deactivated accounts learn why only after the password was right.
    ///
    /// # Errors
    /// `Unauthenticated(InvalidCredentials | AccountPending | AccountDeactivated)`,
    /// `Throttled` after repeated failures (exponential delay, capped, cleared by success).
    pub async fn login(&self, req: LoginRequest) -> Result<IssuedSession> {
        let now = self.now();
        let key = login_key(&req.email);
        if let Some(wait) = self.login_wait(&key, now).await? {
            self.audit(
                None,
                AuditKind::LoginThrottled,
                Some(masked(&req.email)),
                req.address.clone(),
                "sign-in throttled".into(),
            )
            .await?;
            return Err(Error::Throttled { retry_after: wait });
        }
        let user = match Email::parse(&req.email) {
            Ok(e) => self.inner.store.user_by_email(&e).await?,
            Err(_) => None,
        };
        let verification =
            self.verify_password(req.password.clone(), user.as_ref().and_then(|u| u.password.clone())).await?;
        let Some(user) = user.filter(|_| verification != Verification::Invalid) else {
            self.inner.store.record_login_failure(&key, now).await?;
            self.audit(
                None,
                AuditKind::LoginFailed,
                Some(masked(&req.email)),
                req.address.clone(),
                "wrong email or password".into(),
            )
            .await?;
            return Err(Error::Unauthenticated(AuthFailure::InvalidCredentials));
        };
        self.inner.store.clear_login_failures(&key).await?;
        match user.status {
            UserStatus::Pending => return Err(Error::Unauthenticated(AuthFailure::AccountPending)),
            UserStatus::Deactivated => return Err(Error::Unauthenticated(AuthFailure::AccountDeactivated)),
            UserStatus::Approved => {}
        }
        let mut next = user.clone();
        if let Verification::ValidRehash(h) = verification {
            next.password = Some(h);
        }
        // An imported or old password the policy now refuses must be replaced.
        let personal = Self::personal_inputs(&user);
        let refs: Vec<&str> = personal.iter().map(String::as_str).collect();
        if self.inner.options.password_policy.check(&req.password, &refs).is_err() {
            next.must_change_password = true;
        }
        let mut uow = UnitOfWork::new();
        if next != user {
            next.updated_at = now;
            next.version += 1;
            uow.users.push(Versioned::update(next.clone(), user.version));
        }
        uow.audit.push(audit_entry(
            now,
            Some(ActorRef::User { id: user.id }),
            AuditKind::LoginSucceeded,
            Some(user.id.to_string()),
            req.address.clone(),
            "signed in".into(),
        ));
        self.commit(uow).await?;
        self.new_session(next, now, req.address).await
    }

    async fn new_session(&self, user: User, now: DateTime<Utc>, address: Option<String>) -> Result<IssuedSession> {
        let o = &self.inner.options.sessions;
        let secret = super::random_secret();
        let absolute = now + o.absolute;
        let session = Session {
            id: SessionId::random(),
            user: user.id,
            refresh_hash: TokenHash::of(&secret),
            created_at: now,
            last_used_at: now,
            idle_expires_at: (now + o.idle).min(absolute),
            absolute_expires_at: absolute,
            revoked_at: None,
            address,
        };
        self.inner.store.create_session(&session).await?;
        Ok(IssuedSession { session, refresh_token: secret, user })
    }

    /// Checks a session on every request: one storage read gives liveness and the user's
    /// current role, status and department (token claims are never trusted for those).
    ///
    /// # Errors
    /// `Unauthenticated(SessionEnded)` when revoked, expired, or the user is no longer approved.
    pub async fn authenticate_session(&self, id: SessionId) -> Result<(Principal, User)> {
        let (session, user) =
            self.inner.store.session(id).await?.ok_or(Error::Unauthenticated(AuthFailure::SessionEnded))?;
        let p = self.session_principal(&session, &user)?;
        Ok((p, user))
    }

    /// [`authenticate_session`](Self::authenticate_session) and [`ticket`](Self::ticket) in one
    /// read of the store (one round trip on PostgreSQL): the session is checked exactly as on
    /// every request, then the ticket as its principal may see it. The outer error is the
    /// session's; the inner result is the ticket's (`NotFound` when missing or not visible).
    ///
    /// # Errors
    /// `Unauthenticated(SessionEnded)` as for [`authenticate_session`](Self::authenticate_session).
    pub async fn authenticate_session_with_ticket(
        &self,
        id: SessionId,
        number: &TicketNumber,
    ) -> Result<(Principal, User, Result<TicketView>)> {
        let (session, user, ticket) = self
            .inner
            .store
            .session_and_ticket(id, number)
            .await?
            .ok_or(Error::Unauthenticated(AuthFailure::SessionEnded))?;
        let p = self.session_principal(&session, &user)?;
        let view = match ticket {
            Some(t) if self.allowed(&p, Permission::ViewTicket, &Resource::ticket(&t)) => Ok(self.view(&p, t)),
            _ => Err(Error::NotFound { what: "ticket" }),
        };
        Ok((p, user, view))
    }

    /// The principal of a live session of an approved user.
    fn session_principal(&self, session: &Session, user: &User) -> Result<Principal> {
        if !session.is_live(self.now()) || user.status != UserStatus::Approved {
            return Err(Error::Unauthenticated(AuthFailure::SessionEnded));
        }
        Ok(Principal::User(UserPrincipal {
            id: user.id,
            role: user.role,
            department: user.department.clone(),
            session: Some(session.id),
        }))
    }

    /// Rotates a refresh token. Presenting a used one revokes the whole session.
    ///
    /// # Errors
    /// `Unauthenticated(RefreshReused | SessionEnded | InvalidToken)`.
    pub async fn refresh(&self, refresh_token: &str, address: Option<String>) -> Result<IssuedSession> {
        let now = self.now();
        let presented = TokenHash::of(refresh_token);
        let secret = super::random_secret();
        let next = TokenHash::of(&secret);
        let idle = now + self.inner.options.sessions.idle;
        match self.inner.store.rotate_refresh(&presented, &next, now, idle).await? {
            RefreshOutcome::Rotated(session) => {
                let user = self
                    .inner
                    .store
                    .user(session.user)
                    .await?
                    .ok_or(Error::Unauthenticated(AuthFailure::SessionEnded))?;
                if user.status != UserStatus::Approved {
                    self.inner.store.revoke_session(session.id, now).await?;
                    return Err(Error::Unauthenticated(AuthFailure::SessionEnded));
                }
                Ok(IssuedSession { session, refresh_token: secret, user })
            }
            RefreshOutcome::Reused { session, user } => {
                self.audit(
                    Some(ActorRef::User { id: user }),
                    AuditKind::RefreshReused,
                    Some(session.to_string()),
                    address,
                    "refresh token reused; session revoked".into(),
                )
                .await?;
                Err(Error::Unauthenticated(AuthFailure::RefreshReused))
            }
            RefreshOutcome::Ended => Err(Error::Unauthenticated(AuthFailure::SessionEnded)),
            RefreshOutcome::Unknown => Err(Error::Unauthenticated(AuthFailure::InvalidToken)),
        }
    }

    /// Ends the principal's session.
    ///
    /// # Errors
    /// `Unauthenticated` without a session.
    pub async fn logout(&self, principal: &Principal) -> Result<()> {
        let session = principal.user().and_then(|u| u.session).ok_or(Error::Unauthenticated(AuthFailure::Missing))?;
        self.inner.store.revoke_session(session, self.now()).await?;
        Ok(())
    }

    /// The signed-in user's live sessions, oldest first (for "where am I signed in").
    ///
    /// # Errors
    /// `Unauthenticated` without a user.
    pub async fn my_sessions(&self, principal: &Principal) -> Result<Vec<Session>> {
        let user = principal.user().ok_or(Error::Unauthenticated(AuthFailure::Missing))?;
        let now = self.now();
        let mut sessions = self.inner.store.user_sessions(user.id).await?;
        sessions.retain(|s| s.is_live(now));
        Ok(sessions)
    }

    /// A user's live sessions, for admins (where they are signed in), oldest first.
    ///
    /// # Errors
    /// `Forbidden` for non-admins; `NotFound`.
    pub async fn user_sessions(&self, principal: &Principal, user: crate::domain::UserId) -> Result<Vec<Session>> {
        self.require(principal, Permission::ManageUsers, &Resource::none())?;
        self.inner.store.user(user).await?.ok_or(Error::NotFound { what: "user" })?;
        let now = self.now();
        let mut sessions = self.inner.store.user_sessions(user).await?;
        sessions.retain(|s| s.is_live(now));
        Ok(sessions)
    }

    /// Ends every session of a user, for admins (a lost laptop); audited. Returns how many.
    ///
    /// # Errors
    /// `Forbidden` for non-admins; `NotFound`.
    pub async fn end_user_sessions(&self, principal: &Principal, user: crate::domain::UserId) -> Result<u64> {
        self.require(principal, Permission::ManageUsers, &Resource::none())?;
        self.inner.store.user(user).await?.ok_or(Error::NotFound { what: "user" })?;
        let n = self.inner.store.revoke_user_sessions(user, None, self.now()).await?;
        self.publish(vec![crate::ports::Change::Account { user }]);
        self.audit(
            principal.actor().map(|a| a.to_ref()),
            AuditKind::UserAdministered,
            Some(user.to_string()),
            None,
            format!("ended {n} session(s)"),
        )
        .await?;
        Ok(n)
    }

    /// Ends every session of the signed-in user but the current one ("sign out everywhere
    /// else"); returns how many ended.
    ///
    /// # Errors
    /// `Unauthenticated` without a session.
    pub async fn sign_out_elsewhere(&self, principal: &Principal) -> Result<u64> {
        let user = principal.user().ok_or(Error::Unauthenticated(AuthFailure::Missing))?;
        let session = user.session.ok_or(Error::Unauthenticated(AuthFailure::Missing))?;
        let n = self.inner.store.revoke_user_sessions(user.id, Some(session), self.now()).await?;
        self.publish(vec![crate::ports::Change::Account { user: user.id }]);
        Ok(n)
    }

    /// Changes one's password (the current one is required); ends every other session.
    ///
    /// # Errors
    /// `Validation` on `current_password` (wrong) or `new_password` (policy).
    pub async fn change_password(&self, principal: &Principal, current: Password, new: Password) -> Result<()> {
        let me = principal.user().ok_or(Error::Unauthenticated(AuthFailure::Missing))?.clone();
        let user = self.profile(principal).await?;
        if self.verify_password(current, user.password.clone()).await? == Verification::Invalid {
            return Err(FieldError::new("current_password", "incorrect", "the current password is not right").into());
        }
        let hash = self.new_password_hash("new_password", &user, new).await?;
        let now = self.now();
        let mut next = user.clone();
        next.password = Some(hash);
        next.must_change_password = false;
        next.updated_at = now;
        next.version += 1;
        let mut uow = UnitOfWork::new();
        uow.revoke_sessions.push((SessionRevocation { user: user.id, except: me.session }, now));
        uow.outbox.push(self.mail_to(&next, NotificationKind::PasswordChanged, now));
        uow.audit.push(audit_entry(
            now,
            Some(ActorRef::User { id: user.id }),
            AuditKind::PasswordChanged,
            Some(user.id.to_string()),
            None,
            "password changed".into(),
        ));
        uow.users.push(Versioned::update(next, user.version));
        self.commit(uow).await?;
        Ok(())
    }

    /// "Forgot password": always answers `Ok(())`, whether the email exists or not. For an
    /// approved account (within the per-account hourly limit) mails a single-use link valid
    /// for the configured time; only the token's hash is stored.
    ///
    /// # Errors
    /// Storage failures only.
    pub async fn forgot_password(&self, email: &str, address: Option<String>) -> Result<()> {
        let Ok(email) = Email::parse(email) else { return Ok(()) };
        let Some(user) = self.inner.store.user_by_email(&email).await? else { return Ok(()) };
        if user.status != UserStatus::Approved {
            return Ok(());
        }
        let now = self.now();
        let window = hour_start(now);
        let hits = self.inner.store.hit_window(&format!("reset:{}", user.id), window).await?;
        if hits > self.inner.options.throttle.resets_per_account_per_hour {
            return Ok(());
        }
        let mut uow = UnitOfWork::new();
        self.add_token_mail(&mut uow, &user, TokenPurpose::PasswordReset, self.inner.options.reset_ttl, now);
        uow.audit.push(audit_entry(
            now,
            None,
            AuditKind::PasswordResetRequested,
            Some(user.id.to_string()),
            address,
            "reset link sent".into(),
        ));
        self.commit(uow).await?;
        Ok(())
    }

    async fn usable_token(&self, secret: &str, purpose: TokenPurpose) -> Result<(OneTimeToken, User)> {
        let invalid = || Error::from(FieldError::new("token", "invalid", "this link is invalid, used or expired"));
        let token = self.inner.store.one_time_token(&TokenHash::of(secret)).await?.ok_or_else(invalid)?;
        if token.purpose != purpose || token.used_at.is_some() || token.expires_at <= self.now() {
            return Err(invalid());
        }
        let user = self.inner.store.user(token.user).await?.ok_or_else(invalid)?;
        Ok((token, user))
    }

    async fn set_password_with_token(&self, secret: &str, purpose: TokenPurpose, password: Password) -> Result<()> {
        let (token, user) = self.usable_token(secret, purpose).await?;
        let hash = self.new_password_hash("password", &user, password).await?;
        let now = self.now();
        let mut next = user.clone();
        next.password = Some(hash);
        next.must_change_password = false;
        next.updated_at = now;
        next.version += 1;
        let mut uow = UnitOfWork::new();
        uow.consume_token = Some((token.hash, now));
        if purpose == TokenPurpose::PasswordReset {
            uow.revoke_sessions.push((SessionRevocation { user: user.id, except: None }, now));
            uow.outbox.push(self.mail_to(&next, NotificationKind::PasswordChanged, now));
        }
        uow.audit.push(audit_entry(
            now,
            Some(ActorRef::User { id: user.id }),
            AuditKind::PasswordChanged,
            Some(user.id.to_string()),
            None,
            format!("password set by {purpose:?} link"),
        ));
        uow.users.push(Versioned::update(next, user.version));
        match self.commit(uow).await {
            Err(crate::ports::StoreError::Conflict { .. }) => {
                Err(FieldError::new("token", "invalid", "this link is invalid, used or expired").into())
            }
            other => other.map(drop).map_err(Into::into),
        }
    }

    /// Sets a new password with a reset link; ends every session of the user and mails a notice.
    ///
    /// # Errors
    /// `Validation` on `token` (unknown, used, expired) or `password` (policy).
    pub async fn reset_password(&self, token: &str, password: Password) -> Result<()> {
        self.set_password_with_token(token, TokenPurpose::PasswordReset, password).await
    }

    /// Sets the first password of an admin-created user.
    ///
    /// # Errors
    /// As [`reset_password`](Self::reset_password).
    pub async fn accept_invitation(&self, token: &str, password: Password) -> Result<()> {
        self.set_password_with_token(token, TokenPurpose::Invitation, password).await
    }

    /// Creates an API key; the returned `ApiKey <id>.<secret>` credential is shown once.
    ///
    /// # Errors
    /// `Forbidden` unless admin (or the system/CLI); `Validation` for an empty name or scopes.
    pub async fn create_api_key(
        &self,
        principal: &Principal,
        name: &str,
        scopes: Vec<ApiScope>,
    ) -> Result<(ApiKey, String)> {
        if !matches!(principal, Principal::System) {
            self.require(principal, Permission::ManageApiKeys, &Resource::none())?;
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(FieldError::new("name", "invalid", "1 to 100 printable characters").into());
        }
        if scopes.is_empty() {
            return Err(FieldError::new("scopes", "required", "at least one scope").into());
        }
        let now = self.now();
        let secret = super::random_secret();
        let key = ApiKey {
            id: ApiKeyId::random(),
            name: name.to_owned(),
            scopes,
            secret_hash: TokenHash::of(&secret),
            created_at: now,
            created_by: principal.user().map(|u| u.id),
            revoked_at: None,
        };
        self.inner.store.create_api_key(&key).await?;
        self.audit(
            principal.actor().map(|a| a.to_ref()),
            AuditKind::ApiKeyChanged,
            Some(key.id.to_string()),
            None,
            format!("created key {name}"),
        )
        .await?;
        let credential = format!("{}.{}", key.id, secret);
        Ok((key, credential))
    }

    /// Every API key (secrets are never returned).
    ///
    /// # Errors
    /// `Forbidden`.
    pub async fn list_api_keys(&self, principal: &Principal) -> Result<Vec<ApiKey>> {
        if !matches!(principal, Principal::System) {
            self.require(principal, Permission::ManageApiKeys, &Resource::none())?;
        }
        Ok(self.inner.store.list_api_keys().await?)
    }

    /// Revokes an API key.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub async fn revoke_api_key(&self, principal: &Principal, id: ApiKeyId) -> Result<()> {
        if !matches!(principal, Principal::System) {
            self.require(principal, Permission::ManageApiKeys, &Resource::none())?;
        }
        self.inner.store.revoke_api_key(id, self.now()).await?;
        self.audit(
            principal.actor().map(|a| a.to_ref()),
            AuditKind::ApiKeyChanged,
            Some(id.to_string()),
            None,
            "revoked key".into(),
        )
        .await
    }

    /// Authenticates `<id>.<secret>` (from `Authorization: ApiKey …`), comparing the secret's
    /// hash in constant time.
    ///
    /// # Errors
    /// `Unauthenticated(InvalidToken)` for anything but a live key with this secret.
    pub async fn authenticate_api_key(&self, credential: &str) -> Result<Principal> {
        let invalid = Error::Unauthenticated(AuthFailure::InvalidToken);
        let Some((id, secret)) = credential.trim().split_once('.') else { return Err(invalid) };
        let Ok(id) = id.parse::<ApiKeyId>() else { return Err(invalid) };
        let presented = TokenHash::of(secret);
        let key = self.inner.store.api_key(id).await?;
        let stored = key.as_ref().map_or(TokenHash([0; 32]), |k| k.secret_hash);
        let matches = presented.ct_eq(&stored);
        match key {
            Some(k) if matches && k.revoked_at.is_none() => {
                Ok(Principal::ExternalSystem(SystemPrincipal { key: k.id, name: k.name, scopes: k.scopes }))
            }
            _ => Err(invalid),
        }
    }
}

fn masked(email: &str) -> String {
    Email::parse(email).map(|e| e.masked()).unwrap_or_else(|_| "(invalid address)".into())
}

/// The start of the UTC hour of `t`.
pub(crate) fn hour_start(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp() - t.timestamp().rem_euclid(3600);
    DateTime::from_timestamp(secs, 0).unwrap_or(t) - Duration::zero()
}
