//! The real `tasktick` binary: durability across a hard kill, and signals.

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;
use shared::{Task, tasks_path};

use crate::helpers::{
    next_close, next_server_msg, owner_and_board, signed_in_client, write_fake_front_end,
};
use crate::server_process::ServerProcess;

#[tokio::test]
async fn a_task_answered_with_201_survives_kill_9_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("fresh/folder/tasks.db");
    let dist = write_fake_front_end(dir.path());
    let server = ServerProcess::start(&database, &dist);
    let (owner, board) = owner_and_board(&reqwest::Client::new(), &server.url("")).await;
    let client = signed_in_client(&owner, &server.url(""));
    let response = client
        .post(server.url(&tasks_path(board)))
        .json(&json!({ "title": "durable" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Task = response.json().await.unwrap();

    server.kill_hard();
    let restarted = ServerProcess::start(&database, &dist);

    let tasks: Vec<Task> = client
        .get(restarted.url(&tasks_path(board)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tasks, vec![created]);
    restarted.kill_hard();
}

#[tokio::test]
async fn sigterm_and_sigint_drain_then_close_websockets_with_1012_and_exit_zero() {
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let dir = tempfile::tempdir().unwrap();
        let dist = write_fake_front_end(dir.path());
        let database = dir.path().join("tasks.db");
        let mut server = ServerProcess::start_with_env(&[
            ("TASKTICK_ADDR", "127.0.0.1:0".as_ref()),
            ("TASKTICK_DATABASE", database.as_os_str()),
            ("TASKTICK_STATIC_DIR", dist.as_os_str()),
            ("TASKTICK_DRAIN_SECONDS", "1".as_ref()),
            ("TASKTICK_CLOSE_SPREAD_SECONDS", "1".as_ref()),
        ]);
        let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", server.addr))
            .await
            .unwrap();
        next_server_msg(&mut socket).await;

        kill(Pid::from_raw(server.child.id() as i32), signal).unwrap();

        // Draining: not ready any more, still alive and still serving. One client, so the loop
        // asks over one kept-alive connection instead of opening a new one per question (which
        // could run into the per-address connection cap).
        let client = reqwest::Client::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let ready = client
                .get(server.url("/readyz"))
                .send()
                .await
                .unwrap()
                .status();
            if ready == 503 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{signal}: still ready"
            );
        }
        let alive = client
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(alive, 200, "{signal}: /healthz is about liveness");
        let (code, reason) = next_close(&mut socket).await;
        assert_eq!(code, 1012, "{signal}");
        assert!(reason.contains("restarting"), "{reason}");
        let status = wait_for_exit(&mut server.child, Duration::from_secs(10));
        assert!(status.success(), "{signal}: exited with {status}");
    }
}

fn wait_for_exit(child: &mut std::process::Child, patience: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + patience;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn with_no_subcommand_it_serves_with_settings_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let dist = write_fake_front_end(dir.path());
    let database = dir.path().join("from-env/tasks.db");

    let server = ServerProcess::start_with_env(&[
        ("TASKTICK_ADDR", "127.0.0.1:0".as_ref()),
        ("TASKTICK_DATABASE", database.as_os_str()),
        ("TASKTICK_STATIC_DIR", dist.as_os_str()),
    ]);

    let page = reqwest::get(server.url("/")).await.unwrap();
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<title>tasktick</title>")
    );
    let health = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        database.is_file(),
        "the database was created where TASKTICK_DATABASE says"
    );
    server.kill_hard();
}

#[tokio::test]
async fn json_logs_name_the_request_id_that_the_response_carries() {
    let dir = tempfile::tempdir().unwrap();
    let dist = write_fake_front_end(dir.path());
    let database = dir.path().join("tasks.db");
    let server = ServerProcess::start_with_env(&[
        ("TASKTICK_ADDR", "127.0.0.1:0".as_ref()),
        ("TASKTICK_DATABASE", database.as_os_str()),
        ("TASKTICK_STATIC_DIR", dist.as_os_str()),
        ("TASKTICK_LOG_FORMAT", "json".as_ref()),
        ("RUST_LOG", "info,tower_http=debug".as_ref()),
    ]);
    let client = reqwest::Client::new();

    let made_here = client.get(server.url("/api/clock")).send().await.unwrap();
    let from_proxy = client
        .get(server.url("/api/clock"))
        .header("x-request-id", "from-the-proxy")
        .send()
        .await
        .unwrap();

    let id = made_here.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!id.is_empty());
    assert_eq!(from_proxy.headers()["x-request-id"], "from-the-proxy");
    for id in [id.as_str(), "from-the-proxy"] {
        let line = server.log_line_containing(id, Duration::from_secs(5));
        let entry: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
        assert_eq!(entry["span"]["request_id"], id, "{line}");
        assert_eq!(entry["span"]["path"], "/api/clock", "{line}");
    }
}
