//! HTTP validators (RFC 9110 §8.8 and §13): strong ETags, `If-None-Match` for cheap re-reads and
//! `If-Match` for optimistic concurrency.

use axum::http::{HeaderMap, HeaderValue, header};
use sha2::{Digest, Sha256};
use shared::Task;

use crate::AppError;

/// The strong ETag of a task. `version` grows with every change, so the tag changes exactly when
/// the representation does.
pub fn task_etag(task: &Task) -> String {
    format!("\"v{}\"", task.version)
}

/// The strong ETag of a response body: a digest of its exact bytes.
pub fn body_etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Whether `If-None-Match` names `etag` (weak comparison, as the RFC asks for this header).
pub fn none_match_hits(headers: &HeaderMap, etag: &str) -> bool {
    tags(headers, header::IF_NONE_MATCH)
        .iter()
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// The task versions an `If-Match` header accepts: `None` without the header or with `*`.
/// Each entry may be a task ETag (`"v3"`) or a bare version (`3`); a weak or foreign tag matches
/// nothing, as strong comparison requires.
pub fn if_match_versions(headers: &HeaderMap) -> Result<Option<Vec<i64>>, AppError> {
    let tags = tags(headers, header::IF_MATCH);
    if headers.get(header::IF_MATCH).is_none() || tags.iter().any(|t| t == "*") {
        return Ok(None);
    }
    if tags.is_empty() {
        return Err(AppError::BadRequest(
            "The If-Match header is empty: send an ETag such as \"v3\" or a version.".into(),
        ));
    }
    let versions = tags
        .iter()
        .filter_map(|tag| {
            let bare = tag
                .strip_prefix("\"v")
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or(tag);
            bare.parse().ok()
        })
        .collect();
    Ok(Some(versions))
}

/// The comma-separated entries of `name`, trimmed.
fn tags(headers: &HeaderMap, name: header::HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().to_owned())
        .filter(|tag| !tag.is_empty())
        .collect()
}

/// Headers every cacheable answer carries: the tag, and "revalidate before reuse".
pub fn cache_headers(etag: &str) -> [(header::HeaderName, HeaderValue); 2] {
    cache_headers_with(etag, "no-cache")
}

/// [`cache_headers`] with another `Cache-Control`, for an answer with more to say to caches.
pub fn cache_headers_with(
    etag: &str,
    cache_control: &'static str,
) -> [(header::HeaderName, HeaderValue); 2] {
    [
        (
            header::ETAG,
            HeaderValue::from_str(etag).expect("an ETag is visible ASCII"),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: header::HeaderName, value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        let tag = "\"v2\"";
        assert!(none_match_hits(&with(header::IF_NONE_MATCH, "\"v2\""), tag));
        assert!(none_match_hits(
            &with(header::IF_NONE_MATCH, "W/\"v2\""),
            tag
        ));
        assert!(none_match_hits(
            &with(header::IF_NONE_MATCH, "\"v1\", \"v2\""),
            tag
        ));
        assert!(none_match_hits(&with(header::IF_NONE_MATCH, "*"), tag));
        assert!(!none_match_hits(
            &with(header::IF_NONE_MATCH, "\"v1\""),
            tag
        ));
        assert!(!none_match_hits(&HeaderMap::new(), tag));
    }

    #[test]
    fn if_match_takes_etags_or_bare_versions_and_star_means_any() {
        let versions = |value| if_match_versions(&with(header::IF_MATCH, value)).unwrap();
        assert_eq!(versions("\"v3\""), Some(vec![3]));
        assert_eq!(versions("3"), Some(vec![3]));
        assert_eq!(versions("\"v3\", \"v4\""), Some(vec![3, 4]));
        assert_eq!(versions("W/\"v3\""), Some(vec![]));
        assert_eq!(versions("*"), None);
        assert_eq!(if_match_versions(&HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn body_tags_differ_when_the_bytes_differ() {
        assert_eq!(body_etag(b"[]"), body_etag(b"[]"));
        assert_ne!(body_etag(b"[]"), body_etag(b"[ ]"));
    }
}
