//! A board's tasks (`/api/boards/{board}/tasks`): creating and listing tasks, and every way a create can be refused.

use serde_json::json;
use shared::{Task, TaskTitle};

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn creating_a_task_answers_201_with_the_task_and_its_location() {
    let app = spawn_app().await;

    let response = app.post_tasks(&json!({ "title": "Buy milk" })).await;

    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let task: Task = response.json().await.unwrap();
    assert_eq!(task.title, "Buy milk");
    assert!(!task.done);
    assert_eq!(task.version, 1);
    assert_eq!(location, format!("{}/{}", app.tasks_path(), task.id));
    let fetched: Task = app.get_as_owner(&location).await.json().await.unwrap();
    assert_eq!(fetched, task);
}

#[tokio::test]
async fn a_bare_json_string_body_creates_a_task_like_the_article_client_sends() {
    let app = spawn_app().await;

    let response = app.post_tasks(&json!("walk the dog")).await;

    assert_eq!(response.status(), 201);
    let task: Task = response.json().await.unwrap();
    assert_eq!(task.title, "walk the dog");
    assert_eq!(app.list_tasks().await, vec![task]);
}

#[tokio::test]
async fn titles_are_stored_trimmed() {
    let app = spawn_app().await;

    let task = app.create_task("   spaced out \t").await;

    assert_eq!(task.title, "spaced out");
}

#[tokio::test]
async fn the_list_is_oldest_first() {
    let app = spawn_app().await;
    let created = vec![
        app.create_task("one").await,
        app.create_task("two").await,
        app.create_task("three").await,
    ];

    assert_eq!(app.list_tasks().await, created);
}

#[tokio::test]
async fn an_invalid_title_is_refused_with_a_validation_problem_and_nothing_is_stored() {
    let app = spawn_app().await;
    let too_long = "x".repeat(TaskTitle::MAX_CHARS + 1);
    let cases = [
        ("", "cannot be empty"),
        ("    ", "cannot be empty"),
        (too_long.as_str(), "at most 200 characters"),
        ("two\nlines", "control characters"),
    ];

    for (title, expected) in cases {
        let response = app.post_tasks(&json!({ "title": title })).await;

        let problem = assert_problem(response, 400).await;
        assert_eq!(problem.kind, "/problems/validation", "{title:?}");
        assert_eq!(problem.errors.len(), 1, "{title:?}");
        assert_eq!(problem.errors[0].field, "title");
        assert!(
            problem.detail.contains(expected),
            "{title:?}: {}",
            problem.detail
        );
    }
    assert!(app.list_tasks().await.is_empty());
}

#[tokio::test]
async fn malformed_or_wrongly_shaped_json_is_a_400_problem_not_a_422() {
    let app = spawn_app().await;
    let cases = [
        ("{", "EOF while parsing"),
        (r#"{"title": 5}"#, "invalid type: integer `5`"),
        ("{}", "missing field `title`"),
        (r#"{"titel": "typo"}"#, "unknown field `titel`"),
        ("42", "expected an object like"),
        ("[]", "expected an object like"),
        ("null", "expected an object like"),
        ("", "EOF while parsing"),
    ];

    for (body, expected) in cases {
        let response = app.post_tasks_raw("application/json", body).await;

        let problem = assert_problem(response, 400).await;
        assert_eq!(problem.kind, "/problems/malformed-body", "{body}");
        assert!(
            problem.detail.contains(expected),
            "{body}: {}",
            problem.detail
        );
    }
    assert!(app.list_tasks().await.is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_a_415_problem() {
    let app = spawn_app().await;

    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let response = app.post_tasks_raw(content_type, r#"{"title":"x"}"#).await;

        let problem = assert_problem(response, 415).await;
        assert!(problem.detail.contains("Content-Type: application/json"));
    }
    let no_content_type = app
        .owner_client
        .post(app.url(&app.tasks_path()))
        .body(r#"{"title":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_problem(no_content_type, 415).await;
    assert!(app.list_tasks().await.is_empty());
}

#[tokio::test]
async fn a_body_over_64_kib_is_a_413_problem() {
    let app = spawn_app().await;
    let huge = json!({ "title": "x".repeat(shared::MAX_BODY_BYTES) }).to_string();

    let response = app.post_tasks_raw("application/json", huge).await;

    let problem = assert_problem(response, 413).await;
    assert!(problem.detail.contains("65536 bytes"));
    assert!(app.list_tasks().await.is_empty());
}

#[tokio::test]
async fn an_unknown_task_id_is_a_404_problem_and_a_malformed_one_a_400() {
    let app = spawn_app().await;

    let missing = app.get_as_owner(&format!("{}/999", app.tasks_path())).await;
    assert!(assert_problem(missing, 404).await.detail.contains("999"));

    let malformed = app.get_as_owner(&format!("{}/abc", app.tasks_path())).await;
    assert_problem(malformed, 400).await;
}

#[tokio::test]
async fn an_unknown_api_path_is_a_404_problem_not_the_front_end() {
    let app = spawn_app().await;

    let response = app.get_as_owner("/api/nothing-here").await;

    assert!(
        assert_problem(response, 404)
            .await
            .detail
            .contains("/api/nothing-here")
    );
}

#[tokio::test]
async fn other_clients_are_still_served_after_bad_input() {
    let app = spawn_app().await;
    app.post_tasks_raw("application/json", "{").await;

    let task = app.create_task("still working").await;

    assert_eq!(app.list_tasks().await, vec![task]);
}

#[tokio::test]
async fn patching_a_task_changes_the_named_fields_and_bumps_the_version() {
    let app = spawn_app().await;
    let task = app.create_task("draft").await;

    let done: Task = app
        .patch_task(task.id, &json!({ "done": true }))
        .await
        .json()
        .await
        .unwrap();
    let response = app
        .patch_task(task.id, &json!({ "title": "  final " }))
        .await;

    assert_eq!(response.status(), 200);
    let renamed: Task = response.json().await.unwrap();
    assert_eq!((done.done, done.version), (true, 2));
    assert_eq!(
        (renamed.title.as_str(), renamed.done, renamed.version),
        ("final", true, 3)
    );
    assert_eq!(app.list_tasks().await, vec![renamed]);
}

#[tokio::test]
async fn an_invalid_patch_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let task = app.create_task("keep").await;
    let cases = [
        (json!({}), 400, "nothing to change"),
        (json!({ "title": " " }), 400, "cannot be empty"),
        (json!({ "done": "yes" }), 400, "invalid type"),
        (json!({ "don": true }), 400, "unknown field `don`"),
    ];

    for (body, status, expected) in cases {
        let problem = assert_problem(app.patch_task(task.id, &body).await, status).await;
        assert!(
            problem.detail.contains(expected),
            "{body}: {}",
            problem.detail
        );
    }
    assert_eq!(app.list_tasks().await, vec![task]);
}

#[tokio::test]
async fn deleting_a_task_answers_204_and_then_it_is_gone() {
    let app = spawn_app().await;
    let task = app.create_task("short-lived").await;

    let response = app.delete_task(task.id).await;

    assert_eq!(response.status(), 204);
    assert!(app.list_tasks().await.is_empty());
    assert_problem(app.delete_task(task.id).await, 404).await;
    assert_problem(app.patch_task(task.id, &json!({ "done": true })).await, 404).await;
}

#[tokio::test]
async fn a_request_in_flight_when_shutdown_begins_still_completes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = spawn_app().await;
    let body = r#"{"title":"in flight"}"#;
    let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Cookie: {}={}\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        app.tasks_path(),
        app.addr,
        shared::SESSION_COOKIE,
        app.owner.cookie,
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    // "100 Continue" arrives when the handler starts reading the body: the request is in flight.
    let mut buffer = vec![0; 1024];
    let read = socket.read(&mut buffer).await.unwrap();
    assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 100 Continue"));

    let addr = app.addr;
    let stopping = app.begin_shutdown();
    // Shutdown has begun once the server stops accepting connections.
    let deadline = tokio::time::Instant::now() + crate::helpers::PATIENCE;
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server kept accepting"
        );
        tokio::task::yield_now().await;
    }
    socket.write_all(body.as_bytes()).await.unwrap();

    let mut response = String::new();
    socket.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 201 Created"), "{response}");
    assert!(response.contains("in flight"));
    stopping.await;
}
