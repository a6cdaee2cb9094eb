//! The OpenAPI contract, enforced: every response any integration test receives from a documented
//! operation is checked against `GET /api/openapi.json`'s document (status, content type, body
//! schema). A violation is printed and turned into a 500 with the reason, so the test that caused
//! it fails.

use std::sync::LazyLock;

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use backend::routes::openapi::ApiDoc;
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::helpers::spawn_app;

pub(crate) static DOCUMENT: LazyLock<Value> =
    LazyLock::new(|| serde_json::to_value(ApiDoc::openapi()).unwrap());

/// Middleware for test servers: checks each response against the document.
pub async fn enforce(request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_ascii_lowercase();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let streaming = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"text/event-stream"));
    if response.status() == StatusCode::SWITCHING_PROTOCOLS || streaming {
        // Upgrades and event streams never end; their status and headers were checked upstream
        // of the body by the tests themselves.
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match check(
        &method,
        &path,
        parts.status.as_u16(),
        content_type.as_deref(),
        &bytes,
    ) {
        Ok(()) => Response::from_parts(parts, Body::from(bytes)),
        Err(violation) => {
            let message = format!(
                "CONTRACT VIOLATION: {method} {path} -> {}: {violation}",
                parts.status
            );
            eprintln!("{message}");
            (StatusCode::INTERNAL_SERVER_ERROR, message).into_response()
        }
    }
}

/// The documented path template that `path` instantiates, if any.
fn template_for(path: &str) -> Option<&'static str> {
    let paths = DOCUMENT["paths"].as_object()?;
    let segments: Vec<&str> = path.split('/').collect();
    paths.keys().map(String::as_str).find(|template| {
        let parts: Vec<&str> = template.split('/').collect();
        parts.len() == segments.len()
            && parts.iter().zip(&segments).all(|(part, segment)| {
                part == segment || (part.starts_with('{') && !segment.is_empty())
            })
    })
}

/// Checks one response; `Ok` for anything the document does not describe (static files, unknown
/// paths, methods a path does not have).
pub fn check(
    method: &str,
    path: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), String> {
    let Some(template) = template_for(path) else {
        return Ok(());
    };
    let Some(operation) = DOCUMENT["paths"][template].get(method) else {
        return Ok(());
    };
    let Some(documented) = operation["responses"].get(status.to_string()) else {
        return Err(format!(
            "status {status} is not documented for {method} {template}"
        ));
    };
    let Some(content) = documented.get("content").and_then(Value::as_object) else {
        return if body.is_empty() {
            Ok(())
        } else {
            Err("the document promises no body".into())
        };
    };
    let media_type = content_type
        .and_then(|ct| ct.split(';').next())
        .ok_or("no Content-Type")?;
    let Some(media) = content.get(media_type) else {
        return Err(format!(
            "Content-Type {media_type} is not documented (have {:?})",
            content.keys()
        ));
    };
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let mut schema = media["schema"].clone();
    schema["components"] = DOCUMENT["components"].clone();
    let validator = jsonschema::validator_for(&schema).map_err(|e| format!("bad schema: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the body does not match the schema: {errors:?}; body: {value}"
        ))
    }
}

#[tokio::test]
async fn the_document_is_served_as_openapi_3_1_and_describes_every_route() {
    let app = spawn_app().await;

    let response = app.get("/api/openapi.json").await;

    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let operations = [
        (
            "/api/boards/{board}/tasks",
            ["get", "post", "delete"].as_slice(),
        ),
        (
            "/api/boards/{board}/tasks/{id}",
            &["get", "patch", "delete"],
        ),
        ("/healthz", &["get"]),
        ("/ws", &["get"]),
    ];
    for (path, methods) in operations {
        for method in methods {
            assert!(
                document["paths"][path][method].is_object(),
                "{method} {path}"
            );
        }
    }
    for schema in [
        "Task",
        "CreateTask",
        "UpdateTask",
        "Problem",
        "ServerMsg",
        "ClientMsg",
    ] {
        assert!(
            document["components"]["schemas"][schema].is_object(),
            "{schema}"
        );
    }
}

#[test]
fn the_checker_rejects_what_the_document_does_not_allow() {
    let task = json!({"id": 1, "title": "t", "done": false,
                      "created_at": "2026-01-01T00:00:00Z", "version": 1});
    let body = |v: &Value| serde_json::to_vec(v).unwrap();

    assert!(
        check(
            "get",
            "/api/boards/1/tasks/1",
            200,
            Some("application/json"),
            &body(&task)
        )
        .is_ok()
    );
    let missing_title = json!({"id": 1, "done": false, "created_at": "x", "version": 1});
    assert!(
        check(
            "get",
            "/api/boards/1/tasks/1",
            200,
            Some("application/json"),
            &body(&missing_title)
        )
        .is_err()
    );
    assert!(
        check(
            "get",
            "/api/boards/1/tasks/1",
            418,
            Some("application/json"),
            &body(&task)
        )
        .is_err()
    );
    assert!(
        check(
            "get",
            "/api/boards/1/tasks/1",
            404,
            Some("application/json"),
            &body(&task)
        )
        .is_err()
    );
    assert!(check("delete", "/api/boards/1/tasks/1", 204, None, b"").is_ok());
    assert!(check("get", "/index.html", 200, Some("text/html"), b"<html>").is_ok());
}
