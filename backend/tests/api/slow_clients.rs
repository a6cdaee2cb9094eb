//! Slow and greedy clients cannot hold the server: half-sent heads are cut off, oversized heads
//! and stalled bodies are refused, one address gets only its share, and the connection caps
//! follow the process's open-file limit with room left for REST.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{PATIENCE, spawn_app_with, write_fake_front_end};
use crate::server_process::ServerProcess;

/// A TCP connection to `addr` from the loopback address `127.0.0.{source}`.
async fn connect_from(source: u8, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::from(([127, 0, 0, source], 0)))
        .unwrap();
    socket.connect(addr).await.unwrap()
}

/// Reads until the server closes the connection; what it sent.
async fn until_closed(stream: &mut TcpStream, patience: Duration) -> Vec<u8> {
    let mut received = Vec::new();
    tokio::time::timeout(patience, stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection in time")
        .unwrap_or_default();
    received
}

/// `GET /healthz` over a fresh connection from `127.0.0.{source}`: the status line.
async fn health_from(source: u8, addr: SocketAddr) -> String {
    let mut stream = connect_from(source, addr).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut stream, PATIENCE).await;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_client_that_sends_half_a_head_is_cut_off_while_others_are_served() {
    let app = spawn_app_with(|config| config.read_timeout = 1).await;
    let mut slow = connect_from(1, app.addr).await;
    slow.write_all(b"GET /api/openapi.json HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();

    assert_eq!(health_from(1, app.addr).await, "HTTP/1.1 200 OK");
    until_closed(&mut slow, Duration::from_secs(5)).await;

    let held = started.elapsed();
    assert!(held >= Duration::from_millis(900), "cut off after {held:?}");
}

#[tokio::test]
async fn an_oversized_head_is_refused_with_431() {
    let app = spawn_app_with(|_| {}).await;
    let mut stream = connect_from(1, app.addr).await;
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(40 * 1024)
    );
    // The server may stop reading before the head ends; what it answers is what counts.
    let _ = stream.write_all(head.as_bytes()).await;
    let answer = until_closed(&mut stream, PATIENCE).await;
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn a_body_that_stalls_is_answered_408_as_a_problem() {
    let app = spawn_app_with(|config| config.read_timeout = 1).await;
    let mut stream = connect_from(1, app.addr).await;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
         Cookie: {}={}\r\nContent-Length: 40\r\n\r\n{{\"title\":",
        app.tasks_path(),
        shared::SESSION_COOKIE,
        app.owner.cookie
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = until_closed(&mut stream, PATIENCE).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(app.list_tasks().await.is_empty());
}

#[tokio::test]
async fn one_address_gets_its_share_of_connections_and_another_is_still_served() {
    let app = spawn_app_with(|config| config.max_connections_per_address = 5).await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_from(2, app.addr).await);
    }

    let mut sixth = connect_from(2, app.addr).await;
    let refused = until_closed(&mut sixth, PATIENCE).await;

    assert!(refused.is_empty(), "closed without an answer");
    assert_eq!(health_from(3, app.addr).await, "HTTP/1.1 200 OK");
    drop(held.pop());
    // Once the server has seen the close, the address has room again.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut stream = connect_from(2, app.addr).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        if !until_closed(&mut stream, PATIENCE).await.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the freed place was never reused"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn the_limits_follow_the_open_file_limit_and_websockets_leave_room_for_rest() {
    let dir = tempfile::tempdir().unwrap();
    let static_dir = write_fake_front_end(dir.path());
    let mut command = Command::new(env!("CARGO_BIN_EXE_tasktick"));
    command
        .args(["serve", "--addr", "127.0.0.1:0", "--database"])
        .arg(dir.path().join("tasks.db"))
        .arg("--static-dir")
        .arg(&static_dir)
        .stdin(Stdio::null());
    // 400 open files: 112 kept for the process and its database, 256 of the rest for REST,
    // which leaves 32 for WebSockets.
    unsafe {
        command.pre_exec(|| rlimit::setrlimit(rlimit::Resource::NOFILE, 400, 400));
    }
    let server = ServerProcess::spawn_command(command);
    let planned = server
        .startup_log
        .iter()
        .find(|line| line.contains("connection limits planned"))
        .expect("the plan is logged at start");
    assert!(planned.contains("open_files=400"), "{planned}");
    assert!(planned.contains("live_connections=32"), "{planned}");

    let mut sockets = Vec::new();
    for n in 0..32 {
        let (socket, _) = tokio_tungstenite::connect_async(server.ws_url())
            .await
            .unwrap_or_else(|e| panic!("WebSocket {n}: {e}"));
        sockets.push(socket);
    }
    let refused = tokio_tungstenite::connect_async(server.ws_url()).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503)
        }
        other => panic!("the 33rd WebSocket got {other:?}"),
    }
    let client = reqwest::Client::new();
    for path in ["/healthz", "/api/openapi.json", "/"] {
        let response = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path} with every live slot taken");
    }
}
