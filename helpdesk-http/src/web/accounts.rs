//! Account pages anyone may open: registration (pending until an admin approves; the same use
//! case and per-address limit as the API), "forgot password" (the same answer for every
//! address), and setting a password from a mailed reset or invitation link. The mailed token
//! travels in the link's fragment, which never reaches a server: `static/app.js` moves it
//! into the form; without script the page says how to paste it.

use askama::Template;
use axum::Form;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use helpdesk_core::Registration;
use helpdesk_core::password::Password;
use helpdesk_core::policy::Principal;
use serde::Deserialize;

use super::{Layout, error_page, page, session};
use crate::auth::ClientAddress;
use crate::error::ApiError;
use crate::state::AppState;
use crate::throttle::Limited;

/// One field of the registration form.
#[derive(Debug)]
struct Field {
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    required: bool,
    hint: Option<&'static str>,
    value: String,
    error: Option<String>,
    /// The ids of the hint and the error, for `aria-describedby`.
    described_by: String,
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterView {
    layout: Layout,
    fields: Vec<Field>,
    suffixes: Vec<String>,
    departments: Vec<(String, String)>,
    errors: Vec<String>,
    /// The terms of use to accept, when the deployment asks.
    terms: Option<crate::state::Terms>,
    terms_checked: bool,
    terms_error: Option<String>,
    avatars: bool,
    avatar_error: Option<String>,
}

/// What a registrant typed.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RegisterForm {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    middle_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    suffix: String,
    #[serde(default)]
    company_id: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm_password: String,
    #[serde(default)]
    accept_terms: String,
}

fn register_page(s: &AppState, f: &RegisterForm, errors: &[(String, String)], status: StatusCode) -> Response {
    let error_of = |name: &str| errors.iter().find(|(field, _)| field == name).map(|(_, m)| m.clone());
    let field = |name: &'static str, label, kind, autocomplete, required, hint: Option<&'static str>, value: &str| {
        let error = error_of(name);
        let described_by = [hint.map(|_| format!("{name}-hint")), error.as_ref().map(|_| format!("{name}-error"))]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        Field { name, label, kind, autocomplete, required, hint, value: value.to_owned(), error, described_by }
    };
    let fields = vec![
        field("first_name", "First name", "text", "given-name", true, None, &f.first_name),
        field("middle_name", "Middle name (optional)", "text", "additional-name", false, None, &f.middle_name),
        field("last_name", "Last name", "text", "family-name", true, None, &f.last_name),
        field("suffix", "Suffix (optional)", "text", "honorific-suffix", false, None, &f.suffix),
        field(
            "company_id",
            "Company id",
            "text",
            "off",
            true,
            Some("As on your badge: MA and digits, e.g. MA0042."),
            &f.company_id,
        ),
        field("department", "Department", "text", "organization-title", false, None, &f.department),
        field("email", "Work email", "email", "email", true, None, &f.email),
        field(
            "password",
            "Password",
            "password",
            "new-password",
            true,
            Some("At least 12 characters; not a common password and not built from your name, email or company id."),
            "",
        ),
        field("confirm_password", "Password again", "password", "new-password", true, None, ""),
    ];
    let departments =
        s.desk().options().catalog.departments.iter().map(|d| (d.key.to_string(), d.name.clone())).collect();
    let view = RegisterView {
        layout: Layout::anonymous().trail(&[("Sign in", Some("/sign-in")), ("Register", None)]),
        fields,
        suffixes: super::pages::suffix_choices(),
        departments,
        errors: errors.iter().map(|(_, m)| m.clone()).collect(),
        terms: s.options().web.terms.clone(),
        terms_checked: !f.accept_terms.is_empty(),
        terms_error: error_of("accepted_terms"),
        avatars: cfg!(feature = "avatars"),
        avatar_error: error_of("avatar"),
    };
    page(status, &view)
}

pub(crate) async fn register_form(State(s): State<AppState>) -> Response {
    register_page(&s, &RegisterForm::default(), &[], StatusCode::OK)
}

/// The registration form's fields and its optional picture, from a `multipart/form-data` body.
async fn read_registration(form: &mut axum::extract::Multipart) -> Result<(RegisterForm, Option<Bytes>), String> {
    let mut f = RegisterForm::default();
    let mut avatar = None;
    while let Some(field) = form.next_field().await.map_err(|e| e.body_text())? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "avatar" {
            let bytes = field.bytes().await.map_err(|e| e.body_text())?;
            avatar = (!bytes.is_empty()).then_some(bytes);
            continue;
        }
        let value = field.text().await.map_err(|e| e.body_text())?;
        let slot = match name.as_str() {
            "first_name" => &mut f.first_name,
            "middle_name" => &mut f.middle_name,
            "last_name" => &mut f.last_name,
            "suffix" => &mut f.suffix,
            "company_id" => &mut f.company_id,
            "department" => &mut f.department,
            "email" => &mut f.email,
            "password" => &mut f.password,
            "confirm_password" => &mut f.confirm_password,
            "accept_terms" => &mut f.accept_terms,
            _ => continue,
        };
        *slot = value;
    }
    Ok((f, avatar))
}

fn optional(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

pub(crate) async fn register(
    State(s): State<AppState>,
    method: Method,
    headers: HeaderMap,
    addr: ClientAddress,
    mut form: axum::extract::Multipart,
) -> Response {
    if !session::same_origin(&s, &method, &headers) {
        return error_page(StatusCode::FORBIDDEN, Layout::anonymous(), "This form was sent from another site.");
    }
    let (f, avatar) = match read_registration(&mut form).await {
        Ok(x) => x,
        Err(why) => {
            let errors = [("avatar".to_owned(), format!("The form did not arrive whole: {why}"))];
            return register_page(&s, &RegisterForm::default(), &errors, StatusCode::BAD_REQUEST);
        }
    };
    if f.password != f.confirm_password {
        let errors = [("confirm_password".to_owned(), "The two passwords differ.".to_owned())];
        return register_page(&s, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY);
    }
    if let Err(e) = s.limiter().check(Limited::Registration, addr.0.as_deref()) {
        return error_page(e.status, Layout::anonymous(), "Too many registrations from your address. Try again later.");
    }
    let mut r = Registration::new(
        f.email.trim(),
        f.password.clone(),
        f.first_name.trim(),
        f.last_name.trim(),
        f.company_id.trim(),
    );
    r.middle_name = optional(&f.middle_name);
    r.suffix = optional(&f.suffix);
    r.department = optional(&f.department);
    if let Some(terms) = &s.options().web.terms
        && !f.accept_terms.is_empty()
    {
        r.accepted_terms = Some(terms.version.clone());
    }
    if let Some(bytes) = avatar {
        match super::profile::avatar_thumbnail(bytes).await {
            Ok(png) => r.avatar = Some(png),
            Err(e) => {
                let why = e.first_message();
                let errors = [("avatar".to_owned(), format!("{why} Choose the picture again, or leave it out."))];
                return register_page(&s, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY);
            }
        }
    }
    match s.desk().register(&Principal::Anonymous, r).await {
        Ok(_) => notice(
            "Registration received",
            "An administrator will review it; you will get a mail when your account is ready.",
        ),
        Err(e) => {
            let e = ApiError::from(e);
            if e.errors.is_empty() {
                return error_page(e.status, Layout::anonymous(), &e.detail);
            }
            let errors: Vec<(String, String)> = e.errors.iter().map(|f| (f.field.clone(), f.message.clone())).collect();
            register_page(&s, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticeView {
    layout: Layout,
    heading: &'static str,
    message: &'static str,
}

fn notice(heading: &'static str, message: &'static str) -> Response {
    page(StatusCode::OK, &NoticeView { layout: Layout::anonymous(), heading, message })
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotView {
    layout: Layout,
}

pub(crate) async fn forgot_form() -> Response {
    page(StatusCode::OK, &ForgotView { layout: Layout::anonymous() })
}

#[derive(Debug, Deserialize)]
pub(crate) struct ForgotForm {
    #[serde(default)]
    email: String,
}

pub(crate) async fn forgot(
    State(s): State<AppState>,
    method: Method,
    headers: HeaderMap,
    addr: ClientAddress,
    Form(f): Form<ForgotForm>,
) -> Response {
    if !session::same_origin(&s, &method, &headers) {
        return error_page(StatusCode::FORBIDDEN, Layout::anonymous(), "This form was sent from another site.");
    }
    if let Err(e) = s.limiter().check(Limited::Reset, addr.0.as_deref()) {
        return error_page(e.status, Layout::anonymous(), "Too many requests from your address. Try again later.");
    }
    if let Err(e) = s.desk().forgot_password(f.email.trim(), addr.get()).await {
        let e = ApiError::from(e);
        return error_page(e.status, Layout::anonymous(), &e.detail);
    }
    notice(
        "Check your mail",
        "If an approved account uses this address, a link to choose a new password is on its way. It works once, for 30 minutes.",
    )
}

#[derive(Template)]
#[template(path = "set_password.html")]
struct SetPasswordView {
    layout: Layout,
    heading: &'static str,
    action: &'static str,
    token: String,
    error: Option<String>,
}

fn set_password_page(heading: &'static str, action: &'static str, token: String, error: Option<String>) -> Response {
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    page(
        status,
        &SetPasswordView { layout: Layout::anonymous().trail(&[(heading, None)]), heading, action, token, error },
    )
}

pub(crate) async fn reset_form() -> Response {
    set_password_page("Choose a new password", "/reset-password", String::new(), None)
}

pub(crate) async fn invitation_form() -> Response {
    set_password_page("Choose your password", "/accept-invitation", String::new(), None)
}

#[derive(Debug, Deserialize)]
pub(crate) struct SetPasswordForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

async fn set_password(
    s: &AppState,
    invitation: bool,
    method: &Method,
    headers: &HeaderMap,
    f: SetPasswordForm,
) -> Response {
    let (heading, action) = if invitation {
        ("Choose your password", "/accept-invitation")
    } else {
        ("Choose a new password", "/reset-password")
    };
    if !session::same_origin(s, method, headers) {
        return error_page(StatusCode::FORBIDDEN, Layout::anonymous(), "This form was sent from another site.");
    }
    let token = f.token.trim().to_owned();
    if f.new_password != f.confirm_password {
        return set_password_page(heading, action, token, Some("The two passwords differ.".into()));
    }
    let password = Password::new(f.new_password);
    let done = if invitation {
        s.desk().accept_invitation(&token, password).await
    } else {
        s.desk().reset_password(&token, password).await
    };
    match done {
        Ok(()) => notice("Password set", "You can sign in with your new password now."),
        Err(e) => {
            let e = ApiError::from(e);
            let message = e.first_message();
            set_password_page(heading, action, token, Some(message))
        }
    }
}

pub(crate) async fn reset(
    State(s): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<SetPasswordForm>,
) -> Response {
    set_password(&s, false, &method, &headers, f).await
}

pub(crate) async fn accept_invitation(
    State(s): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Form(f): Form<SetPasswordForm>,
) -> Response {
    set_password(&s, true, &method, &headers, f).await
}
