//! Attachments: multipart upload (streamed into core, which enforces the limits while
//! reading, decides the type from the content and writes the blob before the metadata), the
//! list of a ticket's attachments, and downloads that pass the access rules: streamed from
//! the attachment store, with `Content-Disposition` (RFC 6266), `nosniff`, a sandboxing CSP,
//! `Cache-Control: private`, `ETag` / `If-None-Match` and single byte ranges (206, 416).

use axum::Json;
use axum::body::Body;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::TryStreamExt as _;
use helpdesk_core::Upload;
use helpdesk_core::domain::{AttachmentId, CommentId};
use helpdesk_core::model::Attachment;
use object_store::{GetOptions, GetRange};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::tickets::number;
use crate::auth::{Caller, ClientAddress};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::ApiPath;
use crate::state::AppState;
use crate::views::ActorOut;

pub(crate) fn router(upload_limit: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_attachments, upload))
        .layer(axum::extract::DefaultBodyLimit::max(upload_limit))
        .routes(routes!(download))
}

/// An attachment's metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentOut {
    /// Id (download at `/attachments/{id}`).
    pub id: Uuid,
    /// The comment it belongs to, if any.
    pub comment: Option<Uuid>,
    /// Attachments of internal comments are staff-only.
    pub internal: bool,
    /// Display name (sanitised).
    pub file_name: String,
    /// Type decided from the content.
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
    /// Who uploaded it.
    pub uploaded_by: ActorOut,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<&Attachment> for AttachmentOut {
    fn from(a: &Attachment) -> Self {
        Self {
            id: a.id.as_uuid(),
            comment: a.comment.map(|c| c.as_uuid()),
            internal: a.internal,
            file_name: a.file_name.to_string(),
            content_type: a.content_type.clone(),
            size: a.size,
            sha256: a.sha256.clone(),
            uploaded_by: (&a.uploaded_by).into(),
            created_at: a.created_at,
        }
    }
}

/// A ticket's attachments the caller may see.
#[utoipa::path(get, path = "/tickets/{number}/attachments", tag = "attachments", params(("number" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses((status = 200, body = Vec<AttachmentOut>), (status = 404, body = Problem)))]
async fn list_attachments(
    State(s): State<AppState>,
    c: Caller,
    ApiPath(n): ApiPath<String>,
) -> ApiResult<Json<Vec<AttachmentOut>>> {
    Ok(Json(s.desk().attachments(&c.principal, &number(&n)?).await?.iter().map(AttachmentOut::from).collect()))
}

fn multipart_error(e: &axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "upload.too_large", "the upload is larger than allowed")
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, "request.malformed_multipart", e.body_text())
    }
}

/// The multipart form of an upload, as the document describes it (the handler reads the
/// parts as they stream in).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct AttachmentUploadForm {
    /// A comment of this ticket to attach the files to; send it before the files.
    pub comment: Option<Uuid>,
    /// The files: one part named `file` each.
    pub file: Vec<crate::views::Binary>,
}

/// Upload files to a ticket (`multipart/form-data`: one or more `file` parts; an optional
/// `comment` part, before them, names the comment they belong to).
#[utoipa::path(post, path = "/tickets/{number}/attachments", tag = "attachments", params(("number" = String, Path)),
    request_body(content = AttachmentUploadForm, content_type = "multipart/form-data",
        description = "`file` parts, optional `comment` (a comment id) first"),
    security(("bearer" = [])),
    responses((status = 201, body = Vec<AttachmentOut>), (status = 404, body = Problem), (status = 413, body = Problem),
        (status = 415, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn upload(
    State(s): State<AppState>,
    c: Caller,
    ApiPath(n): ApiPath<String>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> ApiResult<(StatusCode, Json<Vec<AttachmentOut>>)> {
    let is_multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "request.unsupported_media_type",
            "send files as multipart/form-data",
        ));
    }
    let number = number(&n)?;
    let mut multipart = <Multipart as axum::extract::FromRequest<AppState>>::from_request(request, &s)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "request.malformed_multipart", e.body_text()))?;
    let mut comment = None;
    let mut stored = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|e| multipart_error(&e))? {
        match field.name() {
            Some("comment") => {
                let text = field.text().await.map_err(|e| multipart_error(&e))?;
                let id =
                    text.trim().parse::<Uuid>().map_err(|_| ApiError::field("comment", "invalid", "a comment id"))?;
                comment = Some(CommentId::from_uuid(id));
            }
            Some("file") => {
                let file_name = field.file_name().unwrap_or("file").to_owned();
                let body = field.map_err(|e| e.body_text());
                let a = s.desk().upload_attachment(&c.principal, &number, Upload { file_name, comment }, body).await?;
                stored.push(AttachmentOut::from(&a));
            }
            Some(other) => {
                return Err(ApiError::field(other, "unknown_field", "only `file` and `comment` parts are accepted"));
            }
            None => return Err(ApiError::field("body", "invalid", "every part needs a name")),
        }
    }
    if stored.is_empty() {
        return Err(ApiError::field("file", "required", "at least one `file` part"));
    }
    Ok((StatusCode::CREATED, Json(stored)))
}

/// `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>` (RFC 6266).
pub fn content_disposition(inline: bool, name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' && c != '%' || c == ' ' { c } else { '_' })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// A parsed `Range: bytes=…` header (a single range; anything else is ignored as RFC 9110
/// allows).
fn byte_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(v) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else { return Ok(None) };
    let Some(spec) = v.trim().strip_prefix("bytes=") else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 || size == 0 {
            return Err(());
        }
        (size.saturating_sub(n), size - 1)
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>().map_err(|_| ())?.min(size.saturating_sub(1))
        };
        if start >= size || end < start {
            return Err(());
        }
        (start, end)
    };
    Ok(Some(range))
}

fn blob_error(e: object_store::Error) -> ApiError {
    match e {
        object_store::Error::NotFound { .. } => {
            ApiError::new(StatusCode::NOT_FOUND, "resource.not_found", "attachment not found")
        }
        other => helpdesk_core::Error::Unavailable(format!("attachment store: {other}")).into(),
    }
}

/// Download an attachment the caller may see (streamed; byte ranges supported).
#[utoipa::path(get, path = "/attachments/{id}", tag = "attachments", params(("id" = Uuid, Path),
    ("Range" = Option<String>, Header, description = "bytes=start-end"), ("If-None-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "the file"), (status = 206, description = "a byte range"), (status = 304),
        (status = 404, body = Problem), (status = 416, body = Problem), (status = 503, body = Problem)))]
async fn download(
    State(s): State<AppState>,
    c: Caller,
    addr: ClientAddress,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    serve_download(&s, &c.principal, AttachmentId::from_uuid(id), addr.get(), &headers).await
}

/// An attachment's bytes for `principal`, after core's access check (the grant): `ETag`,
/// `If-None-Match`, byte ranges, `Content-Disposition` and a sandboxing CSP. Shared by the API
/// route and the web pages.
pub(crate) async fn serve_download(
    s: &AppState,
    principal: &helpdesk_core::policy::Principal,
    id: AttachmentId,
    address: Option<String>,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let grant = s.desk().download(principal, id, address).await?;
    let a = grant.attachment();
    let etag = format!("\"{}\"", a.sha256);
    let mut out = HeaderMap::new();
    let set = |h: &mut HeaderMap, name: header::HeaderName, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(name, v);
        }
    };
    set(&mut out, header::ETAG, &etag);
    set(&mut out, header::CACHE_CONTROL, "private, no-cache");
    set(&mut out, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(&mut out, header::CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'; style-src 'unsafe-inline'");
    set(&mut out, header::ACCEPT_RANGES, "bytes");
    let matches = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(',').any(|t| t.trim() == etag || t.trim() == "*" || t.trim().trim_start_matches("W/") == etag)
    });
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    let range = match byte_range(headers, a.size) {
        Ok(r) => r,
        Err(()) => {
            let mut e = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "request.range_not_satisfiable",
                "the range is outside the file",
            )
            .into_response();
            set(e.headers_mut(), header::CONTENT_RANGE, &format!("bytes */{}", a.size));
            return Ok(e);
        }
    };
    let opts =
        GetOptions { range: range.map(|(start, end)| GetRange::Bounded(start..end + 1)), ..GetOptions::default() };
    let result = s.desk().blobs().get_opts(grant.location(), opts).await.map_err(blob_error)?;
    let body = stream_body(result).await?;
    let content_type = if a.content_type.starts_with("text/") {
        format!("{}; charset=utf-8", a.content_type)
    } else {
        a.content_type.clone()
    };
    set(&mut out, header::CONTENT_TYPE, &content_type);
    set(&mut out, header::CONTENT_DISPOSITION, &content_disposition(grant.inline(), a.file_name.as_str()));
    let status = match range {
        Some((start, end)) => {
            set(&mut out, header::CONTENT_RANGE, &format!("bytes {start}-{end}/{}", a.size));
            set(&mut out, header::CONTENT_LENGTH, &(end - start + 1).to_string());
            StatusCode::PARTIAL_CONTENT
        }
        None => {
            set(&mut out, header::CONTENT_LENGTH, &a.size.to_string());
            StatusCode::OK
        }
    };
    Ok((status, out, body).into_response())
}

/// The bytes of a get, streamed. A local file is read in 256 KiB chunks (object_store's own
/// stream reads 8 KiB at a time through the blocking pool, a quarter of a plain file server's
/// throughput); other stores stream as they deliver.
async fn stream_body(result: object_store::GetResult) -> ApiResult<Body> {
    use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
    match result.payload {
        object_store::GetResultPayload::File(file, _) => {
            let range = result.range;
            let mut f = tokio::fs::File::from_std(file);
            f.seek(std::io::SeekFrom::Start(range.start))
                .await
                .map_err(|e| ApiError::from(helpdesk_core::Error::Unavailable(format!("attachment store: {e}"))))?;
            let reader = f.take(range.end - range.start);
            Ok(Body::from_stream(tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024)))
        }
        object_store::GetResultPayload::Stream(s) => Ok(Body::from_stream(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_encoded_per_rfc_6266() {
        assert_eq!(
            content_disposition(false, "report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        let d = content_disposition(true, "año \"x\".png");
        assert!(d.starts_with("inline; filename=\"a_o _x_.png\"; filename*=UTF-8''a%C3%B1o%20%22x%22.png"), "{d}");
    }

    #[test]
    fn ranges_parse_and_refuse_what_cannot_be_served() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::RANGE, HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")));
            m
        };
        assert_eq!(byte_range(&h("bytes=0-9"), 100), Ok(Some((0, 9))));
        assert_eq!(byte_range(&h("bytes=90-"), 100), Ok(Some((90, 99))));
        assert_eq!(byte_range(&h("bytes=-10"), 100), Ok(Some((90, 99))));
        assert_eq!(byte_range(&h("bytes=95-200"), 100), Ok(Some((95, 99))));
        assert_eq!(byte_range(&h("bytes=100-"), 100), Err(()));
        assert_eq!(byte_range(&h("bytes=9-3"), 100), Err(()));
        assert_eq!(byte_range(&h("bytes=-0"), 100), Err(()));
        assert_eq!(byte_range(&h("bytes=0-1,5-6"), 100), Ok(None));
        assert_eq!(byte_range(&h("items=0-1"), 100), Ok(None));
    }
}
