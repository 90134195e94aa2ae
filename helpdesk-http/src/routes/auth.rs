//! Accounts and sessions: register, login, refresh (rotating), logout, forgot / reset /
//! change password, accept an invitation. Login, registration and forgot-password count
//! against per-address limits; forgot-password answers the same whether the email exists.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use helpdesk_core::password::Password;
use helpdesk_core::policy::Principal;
use helpdesk_core::{IssuedSession, LoginRequest, Registration};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ClientAddress, PasswordChangeCaller};
use crate::error::{ApiResult, Problem};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::throttle::Limited;
use crate::views::UserOut;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
        .routes(routes!(accept_invitation))
        .routes(routes!(change_password))
}

/// A self-registration. Role and status are not the registrant's to choose.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    /// Email.
    pub email: String,
    /// Password (policy: SPEC §2).
    pub password: String,
    /// First name.
    pub first_name: String,
    /// Middle name.
    #[serde(default)]
    pub middle_name: Option<String>,
    /// Last name.
    pub last_name: String,
    /// Suffix.
    #[serde(default)]
    pub suffix: Option<String>,
    /// Company id (default format `MA` + 4 digits).
    pub company_id: String,
    /// Department key.
    #[serde(default)]
    pub department: Option<String>,
    /// The version of the terms of use accepted (required when the deployment's configuration
    /// asks for acceptance; the field error `accepted_terms` says so).
    #[serde(default)]
    pub accepted_terms: Option<String>,
}

/// Register an account (pending until an admin approves it).
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterBody,
    responses((status = 201, body = UserOut), (status = 422, body = Problem), (status = 429, body = Problem)))]
async fn register(
    State(s): State<AppState>,
    addr: ClientAddress,
    ApiJson(b): ApiJson<RegisterBody>,
) -> ApiResult<(StatusCode, Json<UserOut>)> {
    s.limiter().check(Limited::Registration, addr.0.as_deref())?;
    let r = Registration {
        email: b.email,
        password: Password::new(b.password),
        first_name: b.first_name,
        middle_name: b.middle_name,
        last_name: b.last_name,
        suffix: b.suffix,
        company_id: b.company_id,
        department: b.department,
        accepted_terms: b.accepted_terms,
        avatar: None,
    };
    let user = s.desk().register(&Principal::Anonymous, r).await?;
    Ok((StatusCode::CREATED, Json((&user).into())))
}

/// Email and password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
}

/// A new or rotated session.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque, single-use refresh token.
    pub refresh_token: String,
    /// When the session ends at the latest.
    pub session_expires_at: DateTime<Utc>,
    /// The signed-in user.
    pub user: UserOut,
}

fn tokens(s: &AppState, issued: &IssuedSession) -> ApiResult<Json<TokenResponse>> {
    let access = s.signer().issue(issued.user.id, issued.session.id, Utc::now())?;
    Ok(Json(TokenResponse {
        access_token: access,
        token_type: "Bearer",
        expires_in: s.signer().access_ttl().num_seconds(),
        refresh_token: issued.refresh_token.clone(),
        session_expires_at: issued.session.absolute_expires_at,
        user: (&issued.user).into(),
    }))
}

/// Sign in.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 429, body = Problem)))]
async fn login(
    State(s): State<AppState>,
    addr: ClientAddress,
    ApiJson(b): ApiJson<LoginBody>,
) -> ApiResult<Json<TokenResponse>> {
    s.limiter().check(Limited::Login, addr.0.as_deref())?;
    let issued = s
        .desk()
        .login(LoginRequest { email: b.email, password: Password::new(b.password), address: addr.get() })
        .await?;
    tokens(&s, &issued)
}

/// A refresh token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    /// The refresh token from the last login or refresh.
    pub refresh_token: String,
}

/// Rotate a refresh token. Presenting a used one ends the whole session.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshBody,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem)))]
async fn refresh(
    State(s): State<AppState>,
    addr: ClientAddress,
    ApiJson(b): ApiJson<RefreshBody>,
) -> ApiResult<Json<TokenResponse>> {
    let issued = s.desk().refresh(&b.refresh_token, addr.get()).await?;
    tokens(&s, &issued)
}

/// End this session.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
async fn logout(State(s): State<AppState>, PasswordChangeCaller(c): PasswordChangeCaller) -> ApiResult<StatusCode> {
    s.desk().logout(&c.principal).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An email to send a reset link to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotBody {
    /// Email.
    pub email: String,
}

/// The same answer whatever the email.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// What happens next.
    pub message: &'static str,
}

/// Ask for a password-reset link (the answer never says whether the email is known).
#[utoipa::path(post, path = "/auth/password/forgot", tag = "auth", request_body = ForgotBody,
    responses((status = 202, body = Accepted), (status = 429, body = Problem)))]
async fn forgot_password(
    State(s): State<AppState>,
    addr: ClientAddress,
    ApiJson(b): ApiJson<ForgotBody>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    s.limiter().check(Limited::Reset, addr.0.as_deref())?;
    s.desk().forgot_password(&b.email, addr.get()).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted { message: "if an account uses this address, a reset link is on its way" }),
    ))
}

/// A single-use token from a mail, and the new password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenPasswordBody {
    /// The token from the mailed link.
    pub token: String,
    /// The new password.
    pub password: String,
}

/// Set a new password with a reset token (ends every session of the account).
#[utoipa::path(post, path = "/auth/password/reset", tag = "auth", request_body = TokenPasswordBody,
    responses((status = 204), (status = 422, body = Problem)))]
async fn reset_password(State(s): State<AppState>, ApiJson(b): ApiJson<TokenPasswordBody>) -> ApiResult<StatusCode> {
    s.desk().reset_password(&b.token, Password::new(b.password)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Choose a first password with an invitation token.
#[utoipa::path(post, path = "/auth/invitation/accept", tag = "auth", request_body = TokenPasswordBody,
    responses((status = 204), (status = 422, body = Problem)))]
async fn accept_invitation(State(s): State<AppState>, ApiJson(b): ApiJson<TokenPasswordBody>) -> ApiResult<StatusCode> {
    s.desk().accept_invitation(&b.token, Password::new(b.password)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The current and the new password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordBody {
    /// Current password.
    pub current_password: String,
    /// New password.
    pub new_password: String,
}

/// Change one's password (ends every other session).
#[utoipa::path(post, path = "/auth/password/change", tag = "auth", request_body = ChangePasswordBody,
    security(("bearer" = [])), responses((status = 204), (status = 401, body = Problem), (status = 422, body = Problem)))]
async fn change_password(
    State(s): State<AppState>,
    PasswordChangeCaller(c): PasswordChangeCaller,
    ApiJson(b): ApiJson<ChangePasswordBody>,
) -> ApiResult<StatusCode> {
    s.desk().change_password(&c.principal, Password::new(b.current_password), Password::new(b.new_password)).await?;
    Ok(StatusCode::NO_CONTENT)
}
