//! The REST rules: filters, pagination, caching, optimistic concurrency, idempotent creation,
//! bulk clearing and methods.

use std::collections::HashSet;

use serde_json::{Value, json};
use shared::{Task, TaskId};

use crate::helpers::{TestApp, assert_problem, spawn_app};

async fn ids_of(response: reqwest::Response) -> Vec<TaskId> {
    assert_eq!(response.status(), 200);
    let tasks: Vec<Task> = response.json().await.unwrap();
    tasks.iter().map(|t| t.id).collect()
}

fn next_link(response: &reqwest::Response) -> Option<String> {
    let link = response.headers().get("link")?.to_str().unwrap();
    let target = link.split(';').next()?.trim();
    assert!(link.ends_with("rel=\"next\""), "{link}");
    Some(
        target
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned(),
    )
}

async fn mark_done(app: &TestApp, id: TaskId) -> Task {
    let response = app.patch_task(id, &json!({ "done": true })).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// `GET path` with `If-None-Match: tag`.
async fn get_if_none_match(app: &TestApp, path: &str, tag: &str) -> reqwest::Response {
    app.owner_client
        .get(app.url(path))
        .header("if-none-match", tag)
        .send()
        .await
        .unwrap()
}

/// `PATCH` (with `body`) or `DELETE` (without) of a task, with `If-Match: if_match`.
async fn write_if_match(
    app: &TestApp,
    id: TaskId,
    if_match: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let url = app.url(&format!("{}/{id}", app.tasks_path()));
    let request = match body {
        Some(body) => app.owner_client.patch(url).json(&body),
        None => app.owner_client.delete(url),
    };
    request.header("if-match", if_match).send().await.unwrap()
}

fn etag(response: &reqwest::Response) -> String {
    response.headers()["etag"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_list_can_be_filtered_by_done() {
    let app = spawn_app().await;
    let open = app.create_task("open").await;
    let finished = app.create_task("finished").await;
    mark_done(&app, finished.id).await;

    assert_eq!(
        ids_of(
            app.get_as_owner(&format!("{}?done=true", app.tasks_path()))
                .await
        )
        .await,
        [finished.id]
    );
    assert_eq!(
        ids_of(
            app.get_as_owner(&format!("{}?done=false", app.tasks_path()))
                .await
        )
        .await,
        [open.id]
    );
    assert_eq!(
        ids_of(app.get_as_owner(&app.tasks_path()).await).await,
        [open.id, finished.id]
    );
}

#[tokio::test]
async fn paging_with_inserts_in_between_skips_and_repeats_nothing() {
    let app = spawn_app().await;
    let mut expected = Vec::new();
    for i in 0..5 {
        expected.push(app.create_task(&format!("early {i}")).await.id);
    }

    let mut seen = Vec::new();
    let mut next = Some(format!("{}?limit=2", app.tasks_path()));
    let mut pages = 0;
    while let Some(path) = next {
        let response = app.get_as_owner(&path).await;
        next = next_link(&response);
        seen.extend(ids_of(response).await);
        pages += 1;
        if pages == 1 {
            for i in 0..2 {
                expected.push(app.create_task(&format!("late {i}")).await.id);
            }
        }
    }

    assert_eq!(seen, expected);
    assert_eq!(pages, 4);
}

#[tokio::test]
async fn the_next_link_keeps_the_filter() {
    let app = spawn_app().await;
    for i in 0..3 {
        let task = app.create_task(&format!("t{i}")).await;
        mark_done(&app, task.id).await;
    }
    app.create_task("open").await;

    let first = app
        .get_as_owner(&format!("{}?done=true&limit=2", app.tasks_path()))
        .await;
    let next = next_link(&first).expect("a second page");
    assert!(next.contains("done=true"), "{next}");
    let second = ids_of(app.get_as_owner(&next).await).await;

    assert_eq!(second.len(), 1);
    assert!(next_link(&app.get_as_owner(&next).await).is_none());
}

#[tokio::test]
async fn bad_query_parameters_are_400_problems() {
    let app = spawn_app().await;
    let cases = [
        (
            &format!("{}?limit=0", app.tasks_path()),
            "limit must be between 1 and 1000",
        ),
        (
            &format!("{}?limit=1001", app.tasks_path()),
            "limit must be between 1 and 1000",
        ),
        (&format!("{}?limit=ten", app.tasks_path()), "invalid digit"),
        (
            &format!("{}?done=maybe", app.tasks_path()),
            "provided string was not `true` or `false`",
        ),
        (
            &format!("{}?cursor=abc", app.tasks_path()),
            "not one this server issued",
        ),
        (
            &format!("{}?sort=title", app.tasks_path()),
            "unknown field `sort`",
        ),
    ];

    for (path, expected) in cases {
        let problem = assert_problem(app.get_as_owner(path).await, 400).await;
        assert!(
            problem.detail.contains(expected),
            "{path}: {}",
            problem.detail
        );
    }
}

#[tokio::test]
async fn an_unchanged_list_costs_a_304_and_any_change_changes_its_tag() {
    let app = spawn_app().await;
    let task = app.create_task("a").await;
    let first = app.get_as_owner(&app.tasks_path()).await;
    let tag = etag(&first);
    assert_eq!(first.headers()["cache-control"], "no-cache");

    let again = get_if_none_match(&app, &app.tasks_path(), &tag).await;
    assert_eq!(again.status(), 304);
    assert_eq!(etag(&again), tag);
    assert!(again.bytes().await.unwrap().is_empty());

    mark_done(&app, task.id).await;
    let changed = get_if_none_match(&app, &app.tasks_path(), &tag).await;
    assert_eq!(changed.status(), 200);
    assert_ne!(etag(&changed), tag);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_read_during_writes_agrees_with_its_seq_and_shows_the_readers_own_writes() {
    let app = spawn_app().await;
    let path = format!("{}?limit=1000", app.tasks_path());
    // Readers keep reading while writers create tasks: with creations only, a page that agrees
    // with its seq holds exactly seq tasks (served from the store or from the kept page).
    let read = |app: &TestApp| {
        let request = app.owner_client.get(app.url(&path));
        async move {
            let response = request.send().await.unwrap();
            let seq: usize = response.headers()[shared::SEQ_HEADER]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let tasks: Vec<Task> = response.json().await.unwrap();
            assert_eq!(seq, tasks.len(), "a page and its seq disagree");
            (seq, tasks)
        }
    };
    let writers = (0..4).map(|w| {
        let (app, read) = (&app, &read);
        async move {
            for i in 0..10 {
                let created = app.create_task(&format!("writer {w} task {i}")).await;
                let (_, tasks) = read(app).await;
                assert!(
                    tasks.iter().any(|t| t.id == created.id),
                    "a writer does not see its own task"
                );
            }
        }
    });
    let readers = (0..4).map(|_| {
        let (app, read) = (&app, &read);
        async move {
            let mut last = 0;
            while last < 40 {
                let (seq, _) = read(app).await;
                assert!(seq >= last, "a later read went back from {last} to {seq}");
                last = seq;
            }
        }
    });
    tokio::join!(
        futures_util::future::join_all(writers),
        futures_util::future::join_all(readers)
    );
}

#[tokio::test]
async fn a_task_has_an_etag_that_changes_exactly_when_it_does() {
    let app = spawn_app().await;
    let task = app.create_task("a").await;
    let path = format!("{}/{}", app.tasks_path(), task.id);
    let tag = etag(&app.get_as_owner(&path).await);

    assert_eq!(get_if_none_match(&app, &path, &tag).await.status(), 304);
    let patched = app.patch_task(task.id, &json!({ "title": "b" })).await;
    let new_tag = etag(&patched);

    assert_ne!(new_tag, tag);
    assert_eq!(get_if_none_match(&app, &path, &tag).await.status(), 200);
    assert_eq!(get_if_none_match(&app, &path, &new_tag).await.status(), 304);
}

#[tokio::test]
async fn a_write_with_a_stale_if_match_is_412_with_the_current_task_and_changes_nothing() {
    let app = spawn_app().await;
    let task = app.create_task("a").await;
    let stale = etag(
        &app.get_as_owner(&format!("{}/{}", app.tasks_path(), task.id))
            .await,
    );
    let current = mark_done(&app, task.id).await;

    let patch = write_if_match(
        &app,
        task.id,
        &stale,
        Some(json!({ "title": "lost update" })),
    )
    .await;
    let delete = write_if_match(&app, task.id, "1", None).await;

    for response in [patch, delete] {
        let problem = assert_problem(response, 412).await;
        assert_eq!(problem.current.as_ref(), Some(&current));
    }
    assert_eq!(app.list_tasks().await, vec![current]);
}

#[tokio::test]
async fn a_write_with_the_current_etag_or_version_applies() {
    let app = spawn_app().await;
    let task = app.create_task("a").await;
    let tag = etag(
        &app.get_as_owner(&format!("{}/{}", app.tasks_path(), task.id))
            .await,
    );

    let patched = write_if_match(&app, task.id, &tag, Some(json!({ "done": true }))).await;
    assert_eq!(patched.status(), 200);
    let deleted = write_if_match(&app, task.id, "2", None).await;

    assert_eq!(deleted.status(), 204);
    assert!(app.list_tasks().await.is_empty());
}

#[tokio::test]
async fn concurrent_patches_of_different_fields_both_survive() {
    let app = spawn_app().await;
    let tasks: Vec<Task> = futures_util::future::join_all((0..10).map(|i| {
        let app = &app;
        async move { app.create_task(&format!("t{i}")).await }
    }))
    .await;

    let bodies: Vec<(TaskId, serde_json::Value)> = tasks
        .iter()
        .flat_map(|task| {
            [
                (task.id, json!({ "title": format!("renamed {}", task.id) })),
                (task.id, json!({ "done": true })),
            ]
        })
        .collect();
    let patches = bodies.iter().map(|(id, body)| app.patch_task(*id, body));
    for response in futures_util::future::join_all(patches).await {
        assert_eq!(response.status(), 200);
    }

    for task in app.list_tasks().await {
        assert_eq!(task.title, format!("renamed {}", task.id));
        assert!(task.done);
        assert_eq!(task.version, 3);
    }
}

async fn post_with_key(app: &TestApp, key: &str, title: &str) -> reqwest::Response {
    app.owner_client
        .post(app.url(&app.tasks_path()))
        .header("idempotency-key", key)
        .json(&json!({ "title": title }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_returns_the_original_answer() {
    let app = spawn_app().await;
    let first = post_with_key(&app, "key-1", "once").await;
    assert_eq!(first.status(), 201);
    let location = first.headers()["location"].clone();
    let created: Task = first.json().await.unwrap();
    mark_done(&app, created.id).await;

    let retry = post_with_key(&app, "key-1", "once").await;

    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["location"], location);
    assert_eq!(
        retry.json::<Task>().await.unwrap(),
        created,
        "the original answer"
    );
    assert_eq!(app.list_tasks().await.len(), 1);
}

#[tokio::test]
async fn the_same_idempotency_key_with_a_different_body_is_422() {
    let app = spawn_app().await;
    post_with_key(&app, "key-1", "first").await;

    let problem = assert_problem(post_with_key(&app, "key-1", "second").await, 422).await;

    assert!(problem.detail.contains("Idempotency-Key"));
    assert_eq!(app.list_tasks().await.len(), 1);
}

#[tokio::test]
async fn concurrent_retries_with_one_idempotency_key_create_one_task() {
    let app = spawn_app().await;

    let responses =
        futures_util::future::join_all((0..10).map(|_| post_with_key(&app, "k", "racy"))).await;

    let mut ids = HashSet::new();
    for response in responses {
        assert_eq!(response.status(), 201);
        ids.insert(response.json::<Task>().await.unwrap().id);
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(app.list_tasks().await.len(), 1);
}

#[tokio::test]
async fn clearing_done_tasks_deletes_them_and_says_how_many() {
    let app = spawn_app().await;
    let open = app.create_task("open").await;
    for title in ["x", "y"] {
        let task = app.create_task(title).await;
        mark_done(&app, task.id).await;
    }

    let response = app
        .owner_client
        .delete(app.url(&format!("{}?done=true", app.tasks_path())))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        json!({ "deleted": 2 })
    );
    assert_eq!(app.list_tasks().await, vec![open]);
    for path in [
        &app.tasks_path(),
        &format!("{}?done=false", app.tasks_path()),
    ] {
        let refused = app.owner_client.delete(app.url(path)).send().await.unwrap();
        assert_problem(refused, 400).await;
    }
}

#[tokio::test]
async fn an_unsupported_method_is_a_405_problem_with_allow() {
    let app = spawn_app().await;
    let task = app.create_task("a").await;

    for (path, allowed) in [
        (app.tasks_path(), ["GET", "POST", "DELETE"]),
        (
            format!("{}/{}", app.tasks_path(), task.id),
            ["GET", "PATCH", "DELETE"],
        ),
    ] {
        let response = app.owner_client.put(app.url(&path)).send().await.unwrap();
        let allow = response.headers()["allow"].to_str().unwrap().to_owned();
        let problem = assert_problem(response, 405).await;
        for method in allowed {
            assert!(allow.contains(method), "{path}: {allow}");
        }
        assert!(problem.detail.contains("PUT"), "{}", problem.detail);
    }
}
