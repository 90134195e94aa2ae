//! Custom field definitions: read by every signed-in caller (requesters see the fields they
//! may see, for the new-ticket form), replaced as a whole by admins with the version they
//! replace. Values travel on the ticket (`fields` of `TicketOut`, of the create and edit
//! bodies), and lists filter (`fields={"site":"Lisbon"}`) and sort (`sort=field:cost`) by
//! them.

use axum::Json;
use axum::extract::State;
use helpdesk_core::domain::FieldKey;
use helpdesk_core::model::{FieldBook, FieldDef, FieldKind};
use helpdesk_core::{Error, FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::extract::ApiJson;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(custom_fields, save_custom_fields))
}

/// A custom field's value on a ticket: text, a choice or a date (`YYYY-MM-DD`) as a string,
/// a number, a checkbox as a boolean, a multiple choice as a list of its options.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // the schema of the values `TicketOut.fields` carries as JSON
pub enum CustomFieldValue {
    /// A checkbox.
    Checkbox(bool),
    /// A number (up to four decimals).
    Number(f64),
    /// Text, a choice, or a date (`YYYY-MM-DD`).
    Text(String),
    /// A multiple choice.
    Options(Vec<String>),
}

/// What a custom field holds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomFieldKind {
    /// One line of text (500 characters at most).
    Text,
    /// A number with up to four decimals.
    Number,
    /// A date (`YYYY-MM-DD`).
    Date,
    /// One of `options`.
    Choice,
    /// Any of `options`.
    MultiChoice,
    /// Ticked or not.
    Checkbox,
}

impl From<FieldKind> for CustomFieldKind {
    fn from(k: FieldKind) -> Self {
        match k {
            FieldKind::Text => Self::Text,
            FieldKind::Number => Self::Number,
            FieldKind::Date => Self::Date,
            FieldKind::Choice => Self::Choice,
            FieldKind::MultiChoice => Self::MultiChoice,
            FieldKind::Checkbox => Self::Checkbox,
        }
    }
}

impl From<CustomFieldKind> for FieldKind {
    fn from(k: CustomFieldKind) -> Self {
        match k {
            CustomFieldKind::Text => Self::Text,
            CustomFieldKind::Number => Self::Number,
            CustomFieldKind::Date => Self::Date,
            CustomFieldKind::Choice => Self::Choice,
            CustomFieldKind::MultiChoice => Self::MultiChoice,
            CustomFieldKind::Checkbox => Self::Checkbox,
        }
    }
}

/// A custom field's definition.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldDef {
    /// The key values are kept under (1–32 lower-case letters, digits and `_`, starting with
    /// a letter); never changed once saved.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,31}$")]
    pub key: String,
    /// The label people read (1–80 characters).
    #[schema(min_length = 1, max_length = 80)]
    pub label: String,
    /// What it holds; never changed once saved.
    pub kind: CustomFieldKind,
    /// The options of a choice or multiple choice, in the order offered.
    #[serde(default)]
    pub options: Vec<String>,
    /// A value is needed: from the requester when filing (if they set it), otherwise from
    /// staff before the ticket is resolved.
    #[serde(default)]
    pub required: bool,
    /// The requester sets it when filing (staff edit every field any time).
    #[serde(default)]
    pub requester_sets: bool,
    /// Staff only: requesters never see it.
    #[serde(default)]
    pub internal: bool,
    /// No longer offered or accepted; values already recorded stay.
    #[serde(default)]
    pub retired: bool,
}

impl From<&FieldDef> for CustomFieldDef {
    fn from(d: &FieldDef) -> Self {
        Self {
            key: d.key.to_string(),
            label: d.label.clone(),
            kind: d.kind.into(),
            options: d.options.clone(),
            required: d.required,
            requester_sets: d.requester_sets,
            internal: d.internal,
            retired: d.retired,
        }
    }
}

/// The custom field definitions.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomFieldsOut {
    /// The saved version (pass it to the next save); 0 before any save.
    pub version: u64,
    /// The definitions in the order forms show them (requesters: the ones they see and may
    /// still use; staff: all, retired ones included).
    pub fields: Vec<CustomFieldDef>,
}

impl From<helpdesk_core::FieldSettings> for CustomFieldsOut {
    fn from(s: helpdesk_core::FieldSettings) -> Self {
        Self { version: s.version, fields: s.book.fields.iter().map(CustomFieldDef::from).collect() }
    }
}

/// New custom field definitions (every one, retired ones included).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldsBody {
    /// The version these replace (from `GET`; 0 before any save).
    pub version: u64,
    /// Every definition: none of the saved ones may be left out (retire it instead).
    pub fields: Vec<CustomFieldDef>,
}

/// The definitions of `body`, naming `fields[i].key` for a bad key.
pub(crate) fn book_of(fields: Vec<CustomFieldDef>) -> Result<FieldBook, Error> {
    let mut errs = ValidationErrors::new();
    let mut out = Vec::new();
    for (i, f) in fields.into_iter().enumerate() {
        let Some(key) = errs.check(FieldKey::parse_field(&format!("fields[{i}].key"), &f.key)) else { continue };
        out.push(FieldDef {
            key,
            label: f.label,
            kind: f.kind.into(),
            options: f.options,
            required: f.required,
            requester_sets: f.requester_sets,
            internal: f.internal,
            retired: f.retired,
        });
    }
    if errs.is_empty() { Ok(FieldBook { fields: out }) } else { Err(Error::Validation(errs)) }
}

/// The custom field definitions the caller may see.
#[utoipa::path(get, path = "/custom-fields", tag = "tickets", security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = CustomFieldsOut), (status = 401, body = Problem)))]
async fn custom_fields(State(s): State<AppState>, c: Caller) -> ApiResult<Json<CustomFieldsOut>> {
    Ok(Json(s.desk().custom_fields(&c.principal).await?.into()))
}

/// Replaces the custom field definitions (admins): checked first (errors name the
/// definition, e.g. `fields[1].options`), saved with the version they replace (409 when
/// another save came first). A definition's key and kind never change and none is removed:
/// retire it, and the values already recorded stay on the tickets.
#[utoipa::path(put, path = "/custom-fields", tag = "admin", request_body = CustomFieldsBody, security(("bearer" = [])),
    responses((status = 200, body = CustomFieldsOut), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
async fn save_custom_fields(
    State(s): State<AppState>,
    c: Caller,
    ApiJson(body): ApiJson<CustomFieldsBody>,
) -> ApiResult<Json<CustomFieldsOut>> {
    let book = book_of(body.fields)?;
    Ok(Json(s.desk().save_custom_fields(&c.principal, book, body.version).await?.into()))
}

/// A field error for a custom field list filter that is not a JSON object.
pub(crate) fn bad_filter() -> FieldError {
    FieldError::new("fields", "invalid", "a JSON object of field keys and values, e.g. {\"site\":\"Lisbon\"}")
}
