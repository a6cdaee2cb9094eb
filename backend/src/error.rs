//! The server's one error type and its one rendering: an RFC 9457 problem details body.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::problem::PROBLEM_CONTENT_TYPE;
use shared::{FieldError, PatchError, Problem, Task, TitleError};

use crate::store::StoreError;

/// Everything a handler can fail with. Each variant's status is set in [`AppError::status`].
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the body parsed but its fields break the rules in `shared`.
    #[error("{}", summarise(.0))]
    Validation(Vec<FieldError>),
    /// 400: the body is not JSON, or not JSON of the expected shape.
    #[error("The request body is not valid: {0}")]
    MalformedBody(String),
    /// 400: a path segment or query parameter could not be parsed.
    #[error("{0}")]
    BadRequest(String),
    /// 400: a plain request reached an endpoint that only speaks WebSocket.
    #[error("This endpoint speaks WebSocket only: {0}. Connect with a WebSocket client.")]
    NotWebSocket(String),
    /// 401: the request carries no valid session cookie or access token.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: signed in, but the role on this board does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// 403: `--signup closed`; accounts are made with `tasktick user add`.
    #[error("This server does not take new sign-ups. Ask its operator for an account.")]
    SignupClosed,
    /// 403: a cookie-authenticated change sent by a page of another site (request forgery).
    #[error("Changes are accepted only from this site's own pages; this one came from {0}.")]
    CrossSiteRequest(String),
    /// 409: the request conflicts with what exists (a taken username, the last owner).
    #[error("{0}")]
    Conflict(String),
    /// 429: too many attempts; try again after `retry_after_secs`.
    #[error("Too many attempts. Try again in {retry_after_secs} seconds.")]
    TooManyRequests { retry_after_secs: u32 },
    /// 403: a browser page from another site tried to open a WebSocket.
    #[error("WebSocket connections from the origin {0} are not allowed.")]
    ForbiddenOrigin(String),
    /// 404: nothing lives at this path or id.
    #[error("{0}")]
    NotFound(String),
    /// 405: the path exists but not with this method; axum adds the `Allow` header that lists the
    /// methods it has.
    #[error("This endpoint does not support the method {0}; the Allow header lists those it does.")]
    MethodNotAllowed(String),
    /// 412: `If-Match` named a version the task no longer has; nothing changed.
    #[error("The task changed since you read it (it is now version {}). Reload it and try again.", .0.version)]
    PreconditionFailed(Box<Task>),
    /// 408: the body did not arrive within the deadline.
    #[error("The request body did not arrive in time. Send it without pausing.")]
    RequestTimeout,
    /// 413: the body is larger than the API reads.
    #[error(
        "The request body is larger than {} bytes. Send a smaller body.",
        shared::MAX_BODY_BYTES
    )]
    PayloadTooLarge,
    /// 415: the body is not declared as JSON.
    #[error("Send the body as JSON with the header `Content-Type: application/json` ({0}).")]
    UnsupportedMediaType(String),
    /// 503: the server is at its connection limit; try again after `retry_after_secs`.
    #[error("The server is at its connection limit. Try again in {retry_after_secs} seconds.")]
    Overloaded { retry_after_secs: u32 },
    /// 422: an `Idempotency-Key` was reused for a different request.
    #[error(
        "This Idempotency-Key was already used for a different request. Use a new key for a new request."
    )]
    IdempotencyKeyReused,
    /// 503: this instance is shutting down (draining); send the request to another.
    #[error(
        "This instance is shutting down. Another instance (or this one, restarted) will answer."
    )]
    NotReady,
    /// 503: WebSockets are switched off (`--disable-websocket`); the event stream still works.
    #[error("WebSockets are disabled on this server. Use the event stream at /api/events.")]
    WebSocketDisabled,
    /// 500: a response could not be encoded (a bug). Logged; the client sees a generic message.
    #[error("The server could not complete the request. Try again later.")]
    Encoding(String),
    /// 503: the database does not answer right now; try again after a few seconds.
    #[error(
        "The database is unavailable right now. Try again in {STORE_RETRY_AFTER_SECS} seconds."
    )]
    StoreUnavailable(String),
    /// 500: the store failed. The cause is logged; the client sees a generic message.
    #[error("The server could not complete the request. Try again later.")]
    Store(StoreError),
}

/// What a 503 for an unavailable database suggests as `Retry-After`, in seconds.
const STORE_RETRY_AFTER_SECS: u32 = 2;

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(reason) => Self::StoreUnavailable(reason),
            StoreError::NoSuchBoard(board) => Self::NotFound(format!("There is no board {board}.")),
            other => Self::Store(other),
        }
    }
}

fn summarise(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| e.message.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

impl From<TitleError> for AppError {
    fn from(error: TitleError) -> Self {
        Self::Validation(vec![FieldError {
            field: "title".into(),
            message: error.to_string(),
        }])
    }
}

impl AppError {
    /// 400 for one field that breaks its rule.
    pub fn field(field: &str, rule: shared::FieldRule) -> Self {
        Self::Validation(vec![FieldError {
            field: field.into(),
            message: rule.to_string(),
        }])
    }
}

impl From<PatchError> for AppError {
    fn from(error: PatchError) -> Self {
        match error {
            PatchError::Title(title) => title.into(),
            PatchError::Empty => Self::Validation(vec![FieldError {
                field: "".into(),
                message: error.to_string(),
            }]),
        }
    }
}

impl AppError {
    /// The HTTP status each variant answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::MalformedBody(_) | Self::BadRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::NotWebSocket(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_)
            | Self::SignupClosed
            | Self::CrossSiteRequest(_)
            | Self::ForbiddenOrigin(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Overloaded { .. }
            | Self::NotReady
            | Self::WebSocketDisabled
            | Self::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Encoding(_) | Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem `type`: a stable, relative URI naming the kind of failure.
    fn kind(&self) -> &'static str {
        match self {
            Self::Validation(_) => "/problems/validation",
            Self::MalformedBody(_) => "/problems/malformed-body",
            Self::BadRequest(_) => "/problems/bad-request",
            Self::NotWebSocket(_) => "/problems/websocket-required",
            Self::Unauthorized(_) => "/problems/unauthorized",
            Self::Forbidden(_) => "/problems/forbidden",
            Self::SignupClosed => "/problems/signup-closed",
            Self::CrossSiteRequest(_) => "/problems/cross-site-request",
            Self::Conflict(_) => "/problems/conflict",
            Self::TooManyRequests { .. } => "/problems/too-many-requests",
            Self::ForbiddenOrigin(_) => "/problems/forbidden-origin",
            Self::NotFound(_) => "/problems/not-found",
            Self::MethodNotAllowed(_) => "/problems/method-not-allowed",
            Self::PreconditionFailed(_) => "/problems/precondition-failed",
            Self::PayloadTooLarge => "/problems/payload-too-large",
            Self::RequestTimeout => "/problems/request-timeout",
            Self::UnsupportedMediaType(_) => "/problems/unsupported-media-type",
            Self::IdempotencyKeyReused => "/problems/idempotency-key-reused",
            Self::Overloaded { .. } => "/problems/overloaded",
            Self::WebSocketDisabled => "/problems/websocket-disabled",
            Self::NotReady => "/problems/not-ready",
            Self::StoreUnavailable(_) => "/problems/store-unavailable",
            Self::Encoding(_) | Self::Store(_) => "/problems/internal",
        }
    }

    /// The problem details body for this error.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        Problem {
            kind: self.kind().into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: self.to_string(),
            errors: match self {
                Self::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
            current: match self {
                Self::PreconditionFailed(task) => Some((**task).clone()),
                _ => None,
            },
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self {
            Self::Store(error) => tracing::error!(%error, "store failure"),
            Self::StoreUnavailable(reason) => tracing::warn!(%reason, "database unavailable"),
            Self::Encoding(error) => tracing::error!(%error, "encoding failure"),
            _ => {}
        }
        let status = self.status();
        let mut response = (status, axum::Json(self.problem())).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        let retry_after = match self {
            Self::Overloaded { retry_after_secs } | Self::TooManyRequests { retry_after_secs } => {
                Some(retry_after_secs)
            }
            Self::StoreUnavailable(_) | Self::NotReady => Some(STORE_RETRY_AFTER_SECS),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tasktick\""),
            );
        }
        response
    }
}
