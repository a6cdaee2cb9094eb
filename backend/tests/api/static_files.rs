//! The front end at `/`, its cache headers, and `/healthz`.

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_page_is_served_at_the_root_and_revalidated_on_every_load() {
    let app = spawn_app().await;

    let response = app.client.get(app.url("/")).send().await.unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-cache");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("<title>tasktick</title>")
    );
}

#[tokio::test]
async fn a_client_route_falls_back_to_the_page() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/some/client/route"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("<title>tasktick</title>")
    );
}

#[tokio::test]
async fn wasm_is_served_as_application_wasm_and_hashed_assets_are_immutable() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/frontend-0123456789abcdef_bg.wasm"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/wasm");
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
}

#[tokio::test]
async fn a_missing_asset_is_a_404_not_the_page() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/missing-0123456789abcdef.js"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn the_health_check_answers_ok() {
    let app = spawn_app().await;

    let response = app.client.get(app.url("/healthz")).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}
