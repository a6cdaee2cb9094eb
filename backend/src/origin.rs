//! Which requests come from our own pages: the `Origin` check that stops cross-site WebSocket
//! hijacking at the upgrade, and cross-site request forgery on cookie-authenticated changes.
//!
//! Browsers attach cookies to requests another site makes them send, so a request carrying our
//! session cookie proves nothing about who wrote it. Browsers do say where a request comes from
//! (`Origin`, and `Sec-Fetch-Site` in current ones), and a page cannot forge either: a change that
//! arrives from a foreign origin is refused. Requests with an `Authorization` header are not
//! cookie-bound (another site cannot make a browser add one), and clients that send neither header
//! are not browsers.

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, HOST, ORIGIN};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{AppError, AppState};

/// Allows no `Origin` (not a browser), the server's own origin, and the configured ones; the
/// refused origin otherwise.
pub fn check(headers: &HeaderMap, allowed: &[String]) -> Result<(), String> {
    let Some(origin) = headers.get(ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or_default();
    let own_host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let same_site = ["http://", "https://"]
        .iter()
        .any(|scheme| origin.strip_prefix(scheme) == Some(own_host) && !own_host.is_empty());
    let listed = allowed
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin));
    if same_site || listed {
        Ok(())
    } else {
        Err(origin.to_owned())
    }
}

/// Why an unsafe request is refused as forged, if it is: it could carry our cookie (no
/// `Authorization` header) and the browser says it comes from elsewhere.
pub fn forged(method: &Method, headers: &HeaderMap, allowed: &[String]) -> Option<String> {
    if method.is_safe() || headers.contains_key(AUTHORIZATION) {
        return None;
    }
    if headers.contains_key(ORIGIN) {
        return check(headers, allowed)
            .err()
            .map(|origin| format!("the origin {origin}"));
    }
    let site = headers.get("sec-fetch-site")?.to_str().unwrap_or_default();
    (!matches!(site, "same-origin" | "none")).then(|| format!("a {site} page"))
}

/// Middleware over `/api`: answers a forged change with 403 before any handler runs.
pub async fn refuse_forged(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match forged(
        request.method(),
        request.headers(),
        &state.ws.allowed_origins,
    ) {
        Some(source) => AppError::CrossSiteRequest(source).into_response(),
        None => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("a.test:3000"));
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn a_client_without_an_origin_or_from_the_same_origin_is_allowed() {
        assert!(check(&headers(&[]), &[]).is_ok());
        assert!(check(&headers(&[("origin", "http://a.test:3000")]), &[]).is_ok());
        assert!(check(&headers(&[("origin", "https://a.test:3000")]), &[]).is_ok());
    }

    #[test]
    fn a_foreign_origin_is_refused_unless_listed() {
        let foreign = headers(&[("origin", "http://evil.test")]);
        assert_eq!(check(&foreign, &[]), Err("http://evil.test".into()));
        assert!(check(&foreign, &["http://evil.test/".into()]).is_ok());
        assert!(check(&headers(&[("origin", "http://a.test:4000")]), &[]).is_err());
        assert!(check(&headers(&[("origin", "null")]), &[]).is_err());
    }

    #[test]
    fn a_change_from_a_foreign_page_is_forged_and_a_read_is_not() {
        let foreign = headers(&[("origin", "http://evil.test")]);
        assert!(forged(&Method::POST, &foreign, &[]).is_some());
        assert!(forged(&Method::DELETE, &foreign, &[]).is_some());
        assert!(forged(&Method::GET, &foreign, &[]).is_none());
        let cross = headers(&[("sec-fetch-site", "cross-site")]);
        assert!(forged(&Method::PATCH, &cross, &[]).is_some());
        let sibling = headers(&[("sec-fetch-site", "same-site")]);
        assert!(forged(&Method::PATCH, &sibling, &[]).is_some());
    }

    #[test]
    fn own_pages_bearer_clients_and_non_browsers_are_not_forged() {
        let own = headers(&[
            ("origin", "http://a.test:3000"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(forged(&Method::POST, &own, &[]).is_none());
        let typed = headers(&[("sec-fetch-site", "none")]);
        assert!(forged(&Method::POST, &typed, &[]).is_none());
        let bearer = headers(&[
            ("origin", "http://evil.test"),
            ("authorization", "Bearer x"),
        ]);
        assert!(forged(&Method::POST, &bearer, &[]).is_none());
        assert!(forged(&Method::POST, &headers(&[]), &[]).is_none());
    }
}
