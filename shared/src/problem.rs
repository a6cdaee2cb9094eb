//! The one error body of the REST API: RFC 9457 problem details.

use serde::{Deserialize, Serialize};

use crate::task::Task;

/// Media type of a [`Problem`] body.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// An RFC 9457 problem details object.
///
/// `type` is a URI reference naming the kind of problem (relative, resolved against the API), `title`
/// a short fixed summary of that kind, `detail` what went wrong this time and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Field-level validation failures, present for `validation` problems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The task as it is now, for `precondition-failed` problems (a stale `If-Match`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Task>,
}

/// One field that failed validation, addressed by its JSON name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    pub message: String,
}
