//! What every operation can answer besides what its handler declares, so that the document is
//! the contract a generated client and a fuzzer can trust: errors are
//! `application/problem+json` ([`Problem`](crate::error::Problem)), and each operation lists
//! the statuses the layers around its handler produce —
//!
//! - `401` and `403` when it needs credentials (missing or bad ones; a role that may not, or a
//!   password that must be changed first);
//! - `400`, `413`, `415` and `422` when it takes a body (malformed, too large, another media
//!   type, fields that do not validate);
//! - `400` and `422` when it takes parameters, `404` when its path names a resource;
//! - `429` (throttled, with `Retry-After`) and `503` (a dependency is down, with
//!   `Retry-After`) everywhere.
//!
//! Applied once to the generated document, so no handler can forget one.

use serde_json::{Map, Value, json};

const PROBLEM: &str = "application/problem+json";

fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": { PROBLEM: { "schema": { "$ref": "#/components/schemas/Problem" } } }
    })
}

fn retry_after() -> Value {
    json!({ "Retry-After": { "description": "Seconds to wait before retrying", "schema": { "type": "integer", "minimum": 1 } } })
}

/// Completes `doc` (the document as JSON) as the module docs say, and links the operations
/// that create resources to those that use them (so clients and fuzzers can follow a ticket
/// from its creation through its routes).
pub(crate) fn complete(doc: &mut Value) {
    // Schema details `utoipa` cannot say for a field of strings.
    if let Some(items) = doc.pointer_mut("/components/schemas/NewKeyBody/properties/scopes/items") {
        let scopes: Vec<&str> = helpdesk_core::model::ApiScope::ALL.iter().map(|s| s.as_str()).collect();
        items["enum"] = json!(scopes);
    }
    if let Some(scopes) = doc.pointer_mut("/components/schemas/NewKeyBody/properties/scopes") {
        scopes["minItems"] = json!(1);
    }
    link(doc, ("/tickets", "post", "201"), "/tickets/{number}", "number", "$response.body#/number");
    link(doc, ("/api-keys", "post", "201"), "/api-keys/{id}", "id", "$response.body#/key/id");
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, op) in item.iter_mut() {
            if !matches!(method.as_str(), "get" | "put" | "post" | "delete" | "patch") {
                continue;
            }
            if let Some(op) = op.as_object_mut() {
                complete_operation(path, op);
            }
        }
    }
}

fn complete_operation(path: &str, op: &mut Map<String, Value>) {
    let secured = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|reqs| !reqs.is_empty() && reqs.iter().all(|r| r.as_object().is_some_and(|o| !o.is_empty())));
    let has_body = op.contains_key("requestBody");
    if let Some(body) = op.get_mut("requestBody") {
        optional_body_without_null(body);
    }
    let has_params = op.get("parameters").and_then(Value::as_array).is_some_and(|p| !p.is_empty());
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in params {
            constrain_parameter(p);
        }
    }
    let responses = op.entry("responses").or_insert_with(|| json!({}));
    let Some(responses) = responses.as_object_mut() else { return };
    // Errors the handler declared: problem details, not plain JSON.
    for (status, response) in responses.iter_mut() {
        if status.as_str() >= "400"
            && let Some(content) = response.get_mut("content").and_then(Value::as_object_mut)
            && let Some(json) = content.remove("application/json")
        {
            content.insert(PROBLEM.to_owned(), json);
        }
    }
    let mut add = |status: &str, description: &str| {
        responses.entry(status.to_owned()).or_insert_with(|| problem(description));
    };
    if secured {
        add("401", "No credentials, or credentials that are not valid");
        add("403", "The caller may not do this (or must change their password first)");
    }
    if has_body {
        add("400", "The body is not well-formed");
        add("413", "The body is larger than the limit");
        add("415", "The body is not of a media type this operation takes");
        add("422", "Fields that do not validate, each named");
    }
    if has_params {
        add("400", "A parameter is not well-formed");
        add("422", "Parameters that do not validate, each named");
    }
    if path.contains('{') {
        add("404", "No such resource, or one the caller may not see");
    }
    add("429", "Too many attempts; retry after the time given");
    add("503", "A dependency is unavailable; retry after the time given");
    for status in ["429", "503"] {
        if let Some(r) = responses.get_mut(status).and_then(Value::as_object_mut) {
            r.entry("headers").or_insert_with(retry_after);
        }
    }
}

/// Adds to the `from` response a link to every operation under `prefix` that takes
/// `parameter`, filled from `expression`.
fn link(doc: &mut Value, from: (&str, &str, &str), prefix: &str, parameter: &str, expression: &str) {
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else { return };
    let mut links = Map::new();
    for (path, item) in paths {
        if !(path == prefix || path.starts_with(&format!("{prefix}/"))) {
            continue;
        }
        for (method, op) in item.as_object().into_iter().flatten() {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                links.insert(
                    format!("{method}_{id}"),
                    json!({ "operationId": id, "parameters": { parameter: expression } }),
                );
            }
        }
    }
    let (path, method, status) = from;
    if let Some(response) = doc.pointer_mut(&format!("/paths/{}/{method}/responses/{status}", path.replace('/', "~1")))
        && let Some(response) = response.as_object_mut()
    {
        response.insert("links".to_owned(), Value::Object(links));
    }
}

/// The constraints the extractors enforce on parameters every route shares: the opaque list
/// cursor (base64url of 24 bytes: any such string is a cursor), `If-Match` (`*` or a version
/// in quotes) and `Idempotency-Key` (1–255 characters, no control characters).
fn constrain_parameter(p: &mut Value) {
    let name = p.get("name").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
    let schema = match name.as_str() {
        // Empty means none.
        "cursor" => json!({ "type": "string", "pattern": "^([A-Za-z0-9_-]{32})?$" }),
        "if-match" => json!({ "type": "string", "pattern": "^(\\*|(W/)?\"[0-9]{1,19}\")$" }),
        "idempotency-key" => {
            json!({ "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^\\u0000-\\u001f\\u007f]+$" })
        }
        _ => return,
    };
    if let Some(p) = p.as_object_mut() {
        p.insert("schema".into(), schema);
    }
}

/// An optional body (`request_body = Option<T>`) is described by `utoipa` as `T` or `null`;
/// leaving the body out says the same more plainly, and client generators then offer a call
/// without one (openapi-python-client otherwise sends its "unset" marker as JSON). The server
/// still reads a `null` body as none.
fn optional_body_without_null(body: &mut Value) {
    if body.get("required").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let Some(content) = body.get_mut("content").and_then(Value::as_object_mut) else { return };
    for media in content.values_mut() {
        let Some(schema) = media.get_mut("schema") else { continue };
        let Some(choices) = schema.get("oneOf").and_then(Value::as_array) else { continue };
        let not_null: Vec<&Value> = choices.iter().filter(|c| c.get("type") != Some(&json!("null"))).collect();
        if not_null.len() == 1 && choices.len() == 2 {
            *schema = not_null[0].clone();
        }
    }
}
