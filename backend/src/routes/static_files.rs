//! The built front end: files from the binary or from the static folder, `index.html` for
//! client-side routes, and cache headers that let browsers keep hashed assets for a year while
//! always revalidating the page.
//!
//! A release build carries the front end inside it (see `build.rs`), served from memory by
//! memory-serve: compressed with Brotli at build time, gzip at startup, each answer the encoding
//! the browser's `Accept-Encoding` prefers, with an ETag. `--static-dir` serves a folder instead
//! (and a debug build, which carries none, serves `dist`): there the build (`cargo xtask`) writes a
//! Brotli (`.br`) and a gzip (`.gz`) copy beside each asset, and a folder without them
//! (`trunk serve`) is served as it is. Either way with `Vary: Accept-Encoding`.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

/// Where the front end comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontEnd {
    /// The one built into this binary.
    Embedded,
    /// A folder trunk built.
    Folder(PathBuf),
}

impl FrontEnd {
    /// `--static-dir` when given; otherwise the front end built into the binary, or `dist` for a
    /// build that carries none.
    pub fn choose(static_dir: Option<&Path>) -> Self {
        match static_dir {
            Some(dir) => Self::Folder(dir.to_path_buf()),
            None if cfg!(tasktick_embedded) => Self::Embedded,
            None => Self::Folder(PathBuf::from("dist")),
        }
    }

    /// A folder without a built page, which the log warns about.
    pub fn missing_folder(&self) -> Option<&Path> {
        match self {
            Self::Folder(dir) if !dir.join("index.html").is_file() => Some(dir),
            _ => None,
        }
    }
}

impl std::fmt::Display for FrontEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Embedded => f.write_str("built into the binary"),
            Self::Folder(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// Serves the front end at `/`. A path that names no file gets `index.html` when it looks like a
/// client route (no file extension), and a 404 when it looks like a missing asset.
pub fn router(front_end: &FrontEnd) -> Router {
    let (files, page) = match front_end {
        FrontEnd::Folder(dir) => (folder(dir), Page::File(dir.join("index.html"))),
        FrontEnd::Embedded => embedded(),
    };
    files
        .layer(middleware::from_fn(cache_headers))
        .layer(middleware::from_fn(move |request, next| {
            page_policy(page.clone(), request, next)
        }))
}

fn folder(dir: &Path) -> Router {
    let index = dir.join("index.html");
    let spa_fallback = tower::service_fn(move |request: Request| {
        let index = index.clone();
        async move { Ok::<_, std::convert::Infallible>(spa_fallback(index, request).await) }
    });
    Router::new().fallback_service(
        ServeDir::new(dir)
            .precompressed_br()
            .precompressed_gzip()
            .fallback(spa_fallback),
    )
}

#[cfg(tasktick_embedded)]
fn embedded() -> (Router, Page) {
    const INDEX: &str = include_str!(concat!(env!("OUT_DIR"), "/embedded/index.html"));
    let files: Router = memory_serve::load!()
        .index_file(Some("/index.html"))
        .into_router();
    let pages = files.clone();
    let files = files.fallback(move |mut request: Request| {
        let pages = pages.clone();
        async move {
            if looks_like_asset(request.uri().path()) {
                return (StatusCode::NOT_FOUND, "Not found").into_response();
            }
            *request.uri_mut() = axum::http::Uri::from_static("/index.html");
            match pages.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    });
    let policy = HeaderValue::from_str(&crate::security::page_policy(INDEX))
        .expect("the embedded page's policy is a valid header value");
    (files, Page::Embedded(policy))
}

#[cfg(not(tasktick_embedded))]
fn embedded() -> (Router, Page) {
    unreachable!("FrontEnd::choose picks Embedded only in a build that carries a front end")
}

/// Where the page's policy comes from.
#[derive(Debug, Clone)]
enum Page {
    /// Read from the file as it is now (`trunk serve` rewrites it on every build).
    File(PathBuf),
    /// Worked out once from the page built into the binary.
    #[cfg_attr(
        not(tasktick_embedded),
        allow(dead_code, reason = "only a build that carries a front end serves it")
    )]
    Embedded(HeaderValue),
}

impl Page {
    async fn policy(&self) -> Option<HeaderValue> {
        match self {
            Self::File(path) => {
                let html = tokio::fs::read_to_string(path).await.unwrap_or_default();
                HeaderValue::from_str(&crate::security::page_policy(&html)).ok()
            }
            Self::Embedded(policy) => Some(policy.clone()),
        }
    }
}

/// The page's Content-Security-Policy on the page's answers: it names the hashes of the page's
/// inline scripts (trunk's loader), read from `index.html`. On HTML, and on every 304: the
/// browser takes a 304's headers over the cached page's, so a 304 with another policy would break
/// it (on an asset's 304 a page policy does nothing). Assets answered in full skip the read.
async fn page_policy(page: Page, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"text/html"));
    if !is_html && response.status() != StatusCode::NOT_MODIFIED {
        return response;
    }
    if let Some(policy) = page.policy().await {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

async fn spa_fallback(index: PathBuf, request: Request) -> Response {
    if looks_like_asset(request.uri().path()) {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    }
    let index = ServeFile::new(index)
        .precompressed_br()
        .precompressed_gzip();
    match index.oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}

fn looks_like_asset(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .is_some_and(|name| name.contains('.'))
}

async fn cache_headers(request: Request, next: Next) -> Response {
    let policy = cache_policy(request.uri().path());
    let mut response = next.run(request).await;
    if response.status().is_success() {
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// Trunk names built assets `name-<hash>.ext` (and `name-<hash>_bg.wasm`): such a file never changes,
/// so browsers may keep it. Everything else, `index.html` above all, must be revalidated so that a
/// new release is picked up on the next load.
fn cache_policy(path: &str) -> &'static str {
    if is_hashed_asset(path) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

fn is_hashed_asset(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let Some((stem, _extension)) = name.split_once('.') else {
        return false;
    };
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_hashed_assets_are_cached_for_a_year() {
        for path in [
            "/frontend-4b3e1a2c9d8f7e6a_bg.wasm",
            "/frontend-4b3e1a2c9d8f7e6a.js",
            "/style-0123456789abcdef.css",
        ] {
            assert_eq!(cache_policy(path), "public, max-age=31536000, immutable");
        }
    }

    #[test]
    fn the_page_and_unhashed_files_are_revalidated() {
        for path in ["/", "/index.html", "/lab", "/favicon.ico", "/my-file.txt"] {
            assert_eq!(cache_policy(path), "no-cache", "{path}");
        }
    }

    #[test]
    fn a_static_dir_always_wins_and_without_one_the_built_in_front_end_or_dist_is_served() {
        assert_eq!(
            FrontEnd::choose(Some(Path::new("/srv/front"))),
            FrontEnd::Folder(PathBuf::from("/srv/front"))
        );
        let default = FrontEnd::choose(None);
        if cfg!(tasktick_embedded) {
            assert_eq!(default, FrontEnd::Embedded);
        } else {
            assert_eq!(default, FrontEnd::Folder(PathBuf::from("dist")));
        }
    }

    #[test]
    fn client_routes_are_not_assets_but_files_are() {
        assert!(!looks_like_asset("/lab"));
        assert!(!looks_like_asset("/"));
        assert!(looks_like_asset("/missing.js"));
    }
}
