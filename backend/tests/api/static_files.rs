//! The front end at `/`, its cache headers, and `/healthz`.

use crate::helpers::{spawn_app, spawn_app_in};

async fn assert_is_the_page(response: reqwest::Response) {
    let body = response.text().await.unwrap();
    assert!(body.contains("<title>tasktick</title>"), "{body}");
}

#[tokio::test]
async fn the_page_is_served_at_the_root_and_revalidated_on_every_load() {
    let app = spawn_app().await;

    let response = app.get("/").await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-cache");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_is_the_page(response).await;
}

#[tokio::test]
async fn a_client_route_falls_back_to_the_page() {
    let app = spawn_app().await;

    let response = app.get("/some/client/route").await;

    assert_eq!(response.status(), 200);
    assert_is_the_page(response).await;
}

#[tokio::test]
async fn wasm_is_served_as_application_wasm_and_hashed_assets_are_immutable() {
    let app = spawn_app().await;

    let response = app.get("/frontend-0123456789abcdef_bg.wasm").await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/wasm");
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
}

#[tokio::test]
async fn an_asset_is_sent_in_the_precompressed_encoding_the_browser_prefers() {
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    let wasm = "frontend-0123456789abcdef_bg.wasm";
    std::fs::write(dist.join(format!("{wasm}.br")), "the brotli copy").unwrap();
    std::fs::write(dist.join(format!("{wasm}.gz")), "the gzip copy").unwrap();
    let app = spawn_app_in(dir, |_| {}).await;
    let fetch = |encodings: Option<&'static str>| {
        let mut request = app.client.get(app.url(&format!("/{wasm}")));
        if let Some(encodings) = encodings {
            request = request.header("accept-encoding", encodings);
        }
        async move { request.send().await.unwrap() }
    };

    for (accepts, encoding, body) in [
        (Some("gzip, deflate, br"), Some("br"), "the brotli copy"),
        (Some("gzip"), Some("gzip"), "the gzip copy"),
        (None, None, "\0asm\x01\0\0\0"),
    ] {
        let response = fetch(accepts).await;

        assert_eq!(response.status(), 200, "{accepts:?}");
        let headers = response.headers().clone();
        assert_eq!(
            headers.get("content-encoding").map(|v| v.to_str().unwrap()),
            encoding,
            "{accepts:?}"
        );
        assert_eq!(headers["content-type"], "application/wasm");
        assert_eq!(headers["vary"], "accept-encoding");
        assert_eq!(
            headers["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(
            response.bytes().await.unwrap(),
            body.as_bytes(),
            "{accepts:?}"
        );
    }
}

#[tokio::test]
async fn a_missing_asset_is_a_404_not_the_page() {
    let app = spawn_app().await;

    let response = app.get("/missing-0123456789abcdef.js").await;

    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn the_health_check_answers_ok() {
    let app = spawn_app().await;

    let response = app.get("/healthz").await;

    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_the_page_its_script_policy() {
    let app = spawn_app().await;

    let page = app.get("/").await;
    let api = app.get("/api/openapi.json").await;

    let page_policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        page_policy.contains("script-src 'self' 'wasm-unsafe-eval'"),
        "{page_policy}"
    );
    assert!(
        page_policy.contains("frame-ancestors 'none'"),
        "{page_policy}"
    );
    let api_policy = api.headers()["content-security-policy"].to_str().unwrap();
    assert_eq!(api_policy, "default-src 'none'; frame-ancestors 'none'");
    for response in [&page, &api] {
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert_eq!(response.headers()["referrer-policy"], "same-origin");
        assert_eq!(response.headers()["x-frame-options"], "DENY");
    }
}

#[tokio::test]
async fn a_revalidated_page_keeps_its_script_policy() {
    let app = spawn_app().await;
    let page = app.get("/boards/1").await;
    let modified = page.headers()["last-modified"].to_str().unwrap().to_owned();
    let policy = page.headers()["content-security-policy"].clone();

    let again = app
        .client
        .get(app.url("/boards/1"))
        .header("if-modified-since", &modified)
        .send()
        .await
        .unwrap();

    assert_eq!(again.status(), 304);
    // A 304's headers replace the cached ones: another policy here would block the page.
    assert_eq!(again.headers()["content-security-policy"], policy);
}
