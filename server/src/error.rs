//! Errors as clients see them: every error is the wire's [`WireError`], over HTTP the JSON
//! `{"status": STATUS, "error": CODE, "message": TEXT, "field": FIELD-OR-NULL}` with that
//! status, over QUIC a `Failed` frame. This module also holds the JSON body and path
//! extractors that turn axum's own rejections into that shape, and the mapping from the
//! matcher's rejection reasons.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use matchwright_ecs::RejectReason;
use matchwright_storage::StoreError;
use matchwright_transport::wire::WireError;
use serde::de::DeserializeOwned;

/// An error answer: the wire's one error body, which carries its status. Handlers answer it
/// as the HTTP response (that status, the body as JSON); the QUIC bridge sends the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError(pub WireError);

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self(WireError::new(status.as_u16(), code, message))
    }

    /// The same error, naming the field at fault.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.0.field = Some(field.into());
        self
    }

    /// Its HTTP status.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Its stable code.
    pub fn code(&self) -> &str {
        &self.0.code
    }

    /// 400.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401.
    pub fn unauthorized(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// 403.
    pub fn forbidden(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 404.
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 409.
    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 422, naming the field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message).field(field)
    }

    /// 503: the server cannot take the request now; retrying later may work.
    pub fn unavailable(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// 500, logged: a fault of ours, not the client's.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        tracing::error!(%message, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to handle the request; it has been logged",
        )
    }
}

impl IntoResponse for ApiError {
    /// The status and the JSON body; a 503 that retrying can cure also says when
    /// (`Retry-After`): in a second when the server is busy, in five when it is not ready.
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match (status, self.code()) {
            (StatusCode::SERVICE_UNAVAILABLE, "busy" | "request_timeout") => Some("1"),
            (StatusCode::SERVICE_UNAVAILABLE, "not_ready" | "stopping" | "queue_full") => Some("5"),
            _ => None,
        };
        let mut response = (status, axum::Json(self.0)).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(seconds),
            );
        }
        response
    }
}

impl From<ApiError> for WireError {
    fn from(error: ApiError) -> Self {
        error.0
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::UsernameTaken(name) => {
                Self::conflict("username_taken", format!("the username {name:?} is taken"))
                    .field("username")
            }
            StoreError::Busy { detail } => Self::unavailable(
                "store_busy",
                format!("{detail}; nothing was changed, try again"),
            ),
            StoreError::Shared { doing, detail } => {
                tracing::warn!(doing, %detail, "the shared record failed");
                Self::unavailable(
                    "record_unavailable",
                    format!(
                        "the cluster's shared record (Postgres) failed {doing}; nothing was changed, try again"
                    ),
                )
            }
            StoreError::Io {
                disk_full: true, ..
            } => Self::unavailable(
                "storage_full",
                "the server's disk is full; nothing was changed",
            ),
            other => Self::internal(other),
        }
    }
}

/// A JSON body whose rejections are [`ApiError`]s: 400 for malformed JSON, 415 for a missing
/// `Content-Type: application/json`, 413 over the body limit, 422 naming the field for a
/// well-formed body of the wrong shape.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| match rejection.status() {
                _ if body_timed_out(&rejection) => ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "body_timeout",
                    "the request's body did not arrive in time",
                ),
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the request body is larger than the server accepts",
                ),
                status => ApiError::new(status, "unreadable_body", rejection.body_text()),
            })?;
        // serde would read a struct from a JSON array of its fields in order; a body is
        // always an object.
        let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
        if first.is_some_and(|byte| *byte == b'[') {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                "the body must be a JSON object ({...}), not an array",
            )
            .field("body"));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

/// Whether reading the body failed because it did not arrive in time (`request_timeout_ms`).
fn body_timed_out(rejection: &axum::extract::rejection::BytesRejection) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(error) = source {
        if error.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// Whether the request says its body is JSON (`application/json`, or `application/*+json`).
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    let status = rejection.status();
    let text = rejection.body_text();
    match rejection {
        JsonRejection::JsonDataError(_) => {
            // serde's message names the path: "...: missing field `x`" or "x: invalid type...".
            let field = field_of_serde_message(&text);
            let error = ApiError::new(status, "invalid_body", text);
            match field {
                Some(field) => error.field(field),
                None => error,
            }
        }
        JsonRejection::JsonSyntaxError(_) => ApiError::new(status, "malformed_json", text),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            status,
            "unsupported_media_type",
            "send the body as JSON with `Content-Type: application/json`",
        ),
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            "body_too_large",
            "the request body is larger than the server accepts",
        ),
        _ => ApiError::new(status, "unreadable_body", text),
    }
}

/// The field a serde error is about: `missing field `x`` or `unknown field `x``, or the
/// path prefix `a.b: ...` that `serde_path_to_error` style messages carry.
fn field_of_serde_message(text: &str) -> Option<String> {
    for marker in ["missing field `", "unknown field `"] {
        if let Some(start) = text.find(marker) {
            let rest = &text[start + marker.len()..];
            return rest.find('`').map(|end| rest[..end].to_string());
        }
    }
    // "Failed to deserialize the JSON body into the target type: pings.eu: invalid type..."
    let after = text.split_once("target type: ")?.1;
    let (path, _) = after.split_once(": ")?;
    (!path.contains(' ') && !path.is_empty()).then(|| path.to_string())
}

/// Query parameters whose rejection is a 422 naming the parameter.
#[derive(Clone, Copy, Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let error = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_query",
                    text.clone(),
                );
                Err(match field_of_serde_message(&text) {
                    Some(field) => error.field(field),
                    None => error,
                })
            }
        }
    }
}

/// A path parameter whose rejection is a 400 naming it.
#[derive(Clone, Copy, Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_rejection(&rejection)),
        }
    }
}

fn path_rejection(rejection: &PathRejection) -> ApiError {
    ApiError::bad_request(
        "invalid_path",
        format!("{}; ids are unsigned integers", rejection.body_text()),
    )
    .field("id")
}

/// The status and code for a command the matcher rejected.
pub fn rejected(reason: &RejectReason) -> ApiError {
    let message = reason.to_string();
    match reason {
        RejectReason::TooManyCommands { .. } => ApiError::unavailable("busy", message),
        RejectReason::QueueFull { .. } => ApiError::unavailable("queue_full", message),
        RejectReason::UnknownQueue { .. } => ApiError::invalid("queue", message),
        RejectReason::PingsDoNotMatchRegions { .. } | RejectReason::NoReachableRegion => {
            ApiError::invalid("pings", message)
        }
        RejectReason::InvalidRating { .. } => ApiError::internal(message),
        RejectReason::BadAttribute { attribute, .. } => {
            ApiError::invalid(&format!("attributes.{attribute}"), message)
        }
        RejectReason::BadRoles { .. } => ApiError::invalid("roles", message),
        RejectReason::AvoidListTooLong { .. } => ApiError::invalid("avoid", message),
        RejectReason::ConfigDoesNotFit { .. } => ApiError::conflict("config_does_not_fit", message),
        RejectReason::PlayerAlreadyQueued { .. } | RejectReason::DuplicateTicket { .. } => {
            ApiError::conflict("already_queued", message)
        }
        RejectReason::PlayerInMatch { .. } => ApiError::conflict("in_match", message),
        RejectReason::UnknownTicket { .. } => ApiError::not_found("not_queued", message),
        RejectReason::UnknownMatch { .. } => ApiError::not_found("unknown_match", message),
        RejectReason::NotInMatch { .. } => ApiError::forbidden("not_your_match", message),
        RejectReason::WrongMatchPhase { .. } => ApiError::conflict("wrong_match_phase", message),
        RejectReason::InvalidPlacements { .. } => ApiError::invalid("placements", message),
        RejectReason::InvalidBackfill { .. } => ApiError::invalid("open_slots", message),
        RejectReason::NoBackfillRequest { .. } => {
            ApiError::conflict("no_backfill_request", message)
        }
        RejectReason::EmptyTicket
        | RejectReason::PartyTooLarge { .. }
        | RejectReason::DuplicatePlayer { .. }
        | RejectReason::PartyRequired
        | RejectReason::PartyMembersMismatch { .. }
        | RejectReason::UnknownParty { .. }
        | RejectReason::PartyExists { .. }
        | RejectReason::TooManyParties { .. }
        | RejectReason::PlayerInParty { .. }
        | RejectReason::NotInParty { .. }
        | RejectReason::PartyFull { .. }
        | RejectReason::PartyBusy { .. } => ApiError::conflict("party", message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_name_their_field() {
        assert_eq!(
            field_of_serde_message("Failed to deserialize: missing field `queue` at line 1"),
            Some("queue".into())
        );
        assert_eq!(
            field_of_serde_message(
                "Failed to deserialize the JSON body into the target type: pings.eu-west: invalid value: integer `70000`"
            ),
            Some("pings.eu-west".into())
        );
        assert_eq!(field_of_serde_message("something else"), None);
    }

    #[test]
    fn a_shared_record_that_fails_is_a_503_that_says_nothing_changed() {
        let error = ApiError::from(StoreError::Shared {
            doing: "writing an account",
            detail: "connection refused to db.internal:5432".into(),
        });
        assert_eq!(error.0.status, 503);
        assert_eq!(error.0.code, "record_unavailable");
        assert!(
            error.0.message.contains("writing an account"),
            "{}",
            error.0.message
        );
        assert!(
            error.0.message.contains("nothing was changed"),
            "{}",
            error.0.message
        );
        assert!(
            !error.0.message.contains("db.internal"),
            "no internals: {}",
            error.0.message
        );
    }
}
