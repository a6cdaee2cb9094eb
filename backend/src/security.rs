//! Security headers: what the browser may load and run for our pages, and what it must not do
//! with our responses (sniff their type, frame them, leak their URL to other sites).

use axum::http::{HeaderName, HeaderValue, header};
use base64::Engine;
use sha2::{Digest, Sha256};
use tower_http::set_header::SetResponseHeaderLayer;

/// For everything that is not a page (API answers, assets): load nothing, be framed nowhere.
pub const RESOURCE_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// The page's policy: scripts, styles, images and connections (REST, WebSocket, event stream)
/// from this origin only; the WebAssembly may be compiled (`'wasm-unsafe-eval'`, not `eval`); the
/// inline loader trunk writes is allowed by its hash; no plugins, no framing, no foreign forms.
pub fn page_policy(index_html: &str) -> String {
    let hashes: String = inline_scripts(index_html)
        .map(|script| {
            let digest = Sha256::digest(script.as_bytes());
            format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// The bodies of the `<script>` elements without a `src`.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (attributes, after) = rest.split_once('>')?;
        let (body, _) = after.split_once("</script>")?;
        (!attributes.contains("src=")).then_some(body)
    })
}

/// The headers every response carries; the Content-Security-Policy only where the page's own
/// (set by the static files) is not already there.
pub fn layers() -> [SetResponseHeaderLayer<HeaderValue>; 4] {
    let fixed = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    [
        fixed(header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        fixed(header::REFERRER_POLICY, "same-origin"),
        fixed(header::X_FRAME_OPTIONS, "DENY"),
        SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(RESOURCE_POLICY),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_policy_allows_exactly_the_inline_loader_by_its_hash() {
        let page = "<head><script type=\"module\">import init from '/a.js';</script>\
                    <script src=\"/b.js\"></script></head>";
        let policy = page_policy(page);
        let expected = base64::engine::general_purpose::STANDARD
            .encode(Sha256::digest(b"import init from '/a.js';"));
        assert!(policy.contains(&format!("'sha256-{expected}'")), "{policy}");
        assert_eq!(policy.matches("'sha256-").count(), 1, "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(policy.contains("'wasm-unsafe-eval'"));
        assert!(!policy.contains("'unsafe-inline'"));
    }

    #[test]
    fn a_page_without_inline_scripts_gets_no_hashes() {
        assert!(!page_policy("<body></body>").contains("sha256"));
    }
}
