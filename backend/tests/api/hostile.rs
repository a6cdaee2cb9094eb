//! Property tests: random and hostile input at every route. Whatever arrives, the server answers
//! without a 5xx, every 4xx is problem+json, a refused request changes no data, and (through the
//! contract layer) every answer matches the OpenAPI document.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use shared::Task;

use crate::helpers::{TestApp, spawn_app};

const CASES: u32 = 64;

/// Arbitrary JSON, biased towards the shapes the API expects so that validation, not just
/// parsing, gets exercised.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        "[\\p{Cc}\\p{Cf}\\p{Zs}\\p{So}a-z]{0,250}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("title".to_owned()),
                    Just("done".to_owned()),
                    any::<String>()
                ],
                inner,
                0..3,
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A request body: JSON, or raw text JSON cannot represent as a value (huge numbers, broken syntax).
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => prop_oneof![
            Just(br#"{"title": 1e999}"#.to_vec()),
            Just(br#"{"done": 123456789012345678901234567890}"#.to_vec()),
            Just(br#"{"title": "\ud800"}"#.to_vec()),
            Just(b"{\"title\": \"a\"".to_vec()),
            prop::collection::vec(any::<u8>(), 0..64),
        ],
    ]
}

/// Asserts the rules every answer obeys; returns the status.
async fn assert_sane(response: reqwest::Response) -> u16 {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    assert!(status < 500, "{status}: {text}");
    if status >= 400 {
        assert_eq!(
            content_type.as_deref(),
            Some("application/problem+json"),
            "{text}"
        );
        let problem: shared::Problem = serde_json::from_str(&text).unwrap();
        assert_eq!(problem.status, status);
    }
    status
}

/// Runs `case` on `CASES` generated inputs against one server, inside the test's runtime.
fn check<S, F, Fut>(strategy: S, case: F)
where
    S: Strategy,
    S::Value: Clone + std::fmt::Debug,
    F: Fn(TestApp, S::Value) -> Fut,
    Fut: Future<Output = TestApp>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The runner wants an `Fn`: the server moves in and out of the cell for each case.
    let app = std::cell::RefCell::new(Some(runtime.block_on(spawn_app())));
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |input| {
            let current = app.borrow_mut().take().unwrap();
            *app.borrow_mut() = Some(runtime.block_on(case(current, input)));
            Ok(())
        })
        .unwrap();
}

async fn tasks(app: &TestApp) -> Vec<Task> {
    app.list_tasks().await
}

#[test]
fn random_create_bodies_never_break_the_server_and_refusals_store_nothing() {
    check(body(), |app, body| async move {
        let before = tasks(&app).await;
        let status = assert_sane(app.post_tasks_raw("application/json", body).await).await;
        let after = tasks(&app).await;
        if status == 201 {
            assert_eq!(after.len(), before.len() + 1);
        } else {
            assert_eq!(after, before);
        }
        app
    });
}

#[test]
fn random_patch_bodies_never_break_the_server_and_refusals_change_nothing() {
    check(body(), |app, body| async move {
        let task = app.create_task("target").await;
        let before = tasks(&app).await;
        let response = app
            .owner_client
            .patch(app.url(&format!("{}/{}", app.tasks_path(), task.id)))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        if assert_sane(response).await != 200 {
            assert_eq!(tasks(&app).await, before);
        }
        app
    });
}

#[test]
fn random_ids_queries_and_headers_never_break_the_server() {
    let input = (
        "[^/?#]{1,40}",
        "[a-z=&%0-9\\-]{0,40}",
        prop_oneof![Just("GET"), Just("PATCH"), Just("DELETE")],
        "[\\x20-\\x7e]{0,40}",
    );
    check(input, |app, (id, query, method, if_match)| async move {
        app.create_task("kept").await;
        let before = tasks(&app).await;
        let id = id.replace(['%', '\\'], "");
        for url in [
            app.url(&format!("{}/{id}?{query}", app.tasks_path())),
            app.url(&format!("{}?{query}", app.tasks_path())),
            app.url(&format!("/api/clock?{query}")),
            app.url(&format!("/api/lab/runs/{id}?{query}")),
        ] {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let response = app
                .owner_client
                .request(method.clone(), &url)
                .header("if-match", &if_match)
                .header("if-none-match", &if_match)
                .json(&serde_json::json!({ "done": true }))
                .send()
                .await
                .unwrap();
            if assert_sane(response).await >= 400 && method != reqwest::Method::GET {
                assert_eq!(tasks(&app).await, before, "{method} {url}");
            }
        }
        app
    });
}
