//! The console clients `tasktick add` and `tasktick watch` against a real server (the task
//! commands as the board's owner, with an access token).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::helpers::{TestApp, spawn_app};

fn tasktick() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tasktick"));
    command.env_remove("RUST_LOG");
    command
}

/// Runs `tasktick ARGS` to completion without blocking the server's runtime.
async fn run_tasktick(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || tasktick().args(args).output())
        .await
        .unwrap()
        .unwrap()
}

/// Runs a task command on `app`'s board with a fresh access token of its owner.
async fn run_as_owner(app: &TestApp, args: Vec<String>) -> std::process::Output {
    let issued: shared::IssuedToken = app
        .owner_client
        .post(app.url(shared::TOKENS_PATH))
        .json(&serde_json::json!({ "name": "console test" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let board = app.board.to_string();
    tokio::task::spawn_blocking(move || {
        tasktick()
            .args(args)
            .env("TASKTICK_TOKEN", issued.secret)
            .env("TASKTICK_BOARD", board)
            .output()
    })
    .await
    .unwrap()
    .unwrap()
}

fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|part| part.to_string()).collect()
}

#[tokio::test]
async fn add_prints_the_created_task_and_the_server_lists_it() {
    let app = spawn_app().await;

    let output = run_as_owner(
        &app,
        args(&["add", "from the console", "--server", &app.url("")]),
    )
    .await;

    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let tasks = app.list_tasks().await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        stdout.trim(),
        format!("Created task #{}: from the console", tasks[0].id)
    );
}

#[tokio::test]
async fn add_prints_the_problem_detail_and_fails_when_refused() {
    let app = spawn_app().await;

    let output = run_as_owner(&app, args(&["add", "   ", "--server", &app.url("")])).await;

    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("cannot be empty"), "{stderr}");
    assert!(app.list_tasks().await.is_empty());
}

#[tokio::test]
async fn watch_prints_each_tick_as_the_article_does() {
    let app = spawn_app().await;
    let mut child = tasktick()
        .args(["watch", &app.ws_url()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();

    let lines = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .take(2)
            .collect::<Result<Vec<_>, _>>()
    });
    let lines = tokio::time::timeout(crate::helpers::PATIENCE, lines)
        .await
        .expect("two ticks in time")
        .unwrap()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();

    for line in &lines {
        assert!(line.starts_with("Received: The time is: "), "{line}");
        assert_eq!(
            line.len(),
            "Received: The time is: 12:34:56".len(),
            "{line}"
        );
    }
    assert_ne!(lines[0], lines[1]);
}

#[tokio::test]
async fn watch_fails_with_a_clear_message_when_it_cannot_connect() {
    // Bind and drop a listener to find a port where nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    let output = run_tasktick(args(&["watch", &format!("ws://127.0.0.1:{port}/ws")])).await;

    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(&format!("cannot connect to ws://127.0.0.1:{port}/ws")),
        "{stderr}"
    );
}

#[tokio::test]
async fn list_done_edit_and_rm_work_on_the_servers_tasks() {
    let app = spawn_app().await;
    let server = app.url("");
    let milk = app.create_task("buy milk").await;
    let bread = app.create_task("buy bread").await;

    let done = run_as_owner(
        &app,
        args(&["done", &milk.id.to_string(), "--server", &server]),
    )
    .await;
    let edit = run_as_owner(
        &app,
        args(&[
            "edit",
            &bread.id.to_string(),
            "bake bread",
            "--server",
            &server,
        ]),
    )
    .await;
    let list = run_as_owner(&app, args(&["list", "--server", &server])).await;

    for output in [&done, &edit, &list] {
        assert!(output.status.success(), "{output:?}");
    }
    let listed = String::from_utf8(list.stdout.clone()).unwrap();
    assert_eq!(
        listed,
        format!("#{} [x] buy milk\n#{} [ ] bake bread\n", milk.id, bread.id)
    );
    assert!(
        String::from_utf8(done.stdout)
            .unwrap()
            .contains("[x] buy milk")
    );

    let rm = run_as_owner(
        &app,
        args(&["rm", &milk.id.to_string(), "--server", &server]),
    )
    .await;
    assert!(rm.status.success());
    assert_eq!(
        String::from_utf8(rm.stdout).unwrap().trim(),
        format!("Deleted task #{}.", milk.id)
    );
    let remaining: Vec<_> = app.list_tasks().await.into_iter().map(|t| t.id).collect();
    assert_eq!(remaining, vec![bread.id]);
}

#[tokio::test]
async fn task_commands_print_the_problem_detail_and_fail_when_refused() {
    let app = spawn_app().await;
    let server = app.url("");
    let task = app.create_task("keep").await;
    let cases = [
        (
            args(&["done", "999", "--server", &server]),
            "There is no task with id 999",
        ),
        (
            args(&["rm", "999", "--server", &server]),
            "There is no task with id 999",
        ),
        (
            args(&["edit", &task.id.to_string(), " ", "--server", &server]),
            "cannot be empty",
        ),
    ];

    for (arguments, expected) in cases {
        let output = run_as_owner(&app, arguments.clone()).await;
        assert!(!output.status.success(), "{arguments:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(expected), "{arguments:?}: {stderr}");
    }
    assert_eq!(app.list_tasks().await, vec![task]);
}

#[tokio::test]
async fn list_on_an_empty_board_says_so() {
    let app = spawn_app().await;

    let output = run_as_owner(&app, args(&["list", "--server", &app.url("")])).await;

    assert!(output.status.success());
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "No tasks yet.\n");
}

#[tokio::test]
async fn without_a_token_the_task_commands_are_told_to_sign_in() {
    let app = spawn_app().await;
    let config = tempfile::tempdir().unwrap();
    let board = app.board.to_string();
    let server = app.url("");
    let output = tokio::task::spawn_blocking(move || {
        tasktick()
            .args(["list", "--server", &server, "--board", &board])
            .env("XDG_CONFIG_HOME", config.path())
            .env_remove("TASKTICK_TOKEN")
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("401"), "{stderr}");
}
