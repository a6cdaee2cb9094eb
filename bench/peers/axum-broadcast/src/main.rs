//! The tasktick feed written the way axum's chat example teaches: `WebSocketUpgrade` with its
//! default settings, one `tokio::sync::broadcast` channel, and per connection a task that forwards
//! the channel to the socket and one that reads the socket. Same JSON and paths as tasktick (a
//! `tick` on every wall-clock second, a `task_created` per POST), no accounts, no database: the
//! benchmark's peer.
//!
//! `peer-axum-broadcast PORT` (prints "listening on http://127.0.0.1:PORT" once ready).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Local, SubsecRound, Utc};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::broadcast;

const BOARD: i64 = 1;

#[derive(Clone, Serialize)]
struct Task {
    id: i64,
    title: String,
    done: bool,
    created_at: String,
    version: i64,
}

#[derive(Default)]
struct Board {
    tasks: Vec<Task>,
    seq: i64,
}

#[derive(Clone)]
struct AppState {
    tx: broadcast::Sender<String>,
    board: Arc<Mutex<Board>>,
}

#[tokio::main]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .map(|p| p.parse().expect("a port"))
        .unwrap_or(0);
    let (tx, _rx) = broadcast::channel(100);
    let state = AppState {
        tx,
        board: Arc::default(),
    };
    tokio::spawn(ticks(state.tx.clone()));
    let app = Router::new()
        .route("/ws", get(websocket_handler))
        .route(
            &format!("/api/boards/{BOARD}/tasks"),
            get(list).post(create),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the port is free");
    println!("listening on http://{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}

/// A tick on every wall-clock second.
async fn ticks(tx: broadcast::Sender<String>) {
    loop {
        let now = Utc::now();
        let next = now.trunc_subsecs(0) + chrono::Duration::seconds(1);
        tokio::time::sleep((next - now).to_std().unwrap_or(Duration::ZERO)).await;
        let text = format!(
            "The time is: {}",
            next.with_timezone(&Local).format("%H:%M:%S")
        );
        let message =
            json!({ "type": "tick", "server_time_ms": next.timestamp_millis(), "text": text });
        let _ = tx.send(message.to_string());
    }
}

async fn websocket_handler(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    ws.on_upgrade(|socket| websocket(socket, state))
}

async fn websocket(stream: WebSocket, state: AppState) {
    let (mut sender, mut receiver) = stream.split();
    let mut rx = state.tx.subscribe();
    let mut send_task = tokio::spawn(async move {
        while let Ok(msg) = rx.recv().await {
            if sender.send(Message::text(msg)).await.is_err() {
                break;
            }
        }
    });
    let mut recv_task =
        tokio::spawn(async move { while let Some(Ok(_)) = receiver.next().await {} });
    tokio::select! {
        _ = &mut send_task => recv_task.abort(),
        _ = &mut recv_task => send_task.abort(),
    };
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>) -> Response {
    let board = state.board.lock().unwrap();
    let limit = query.limit.unwrap_or(100).min(1000);
    let page: Vec<Task> = board.tasks.iter().take(limit).cloned().collect();
    ([("tasktick-seq", board.seq.to_string())], Json(page)).into_response()
}

#[derive(Deserialize)]
struct NewTask {
    title: String,
}

async fn create(State(state): State<AppState>, Json(new): Json<NewTask>) -> Response {
    if new.title.trim().is_empty() {
        return StatusCode::UNPROCESSABLE_ENTITY.into_response();
    }
    let (task, seq) = {
        let mut board = state.board.lock().unwrap();
        board.seq += 1;
        let task = Task {
            id: board.tasks.len() as i64 + 1,
            title: new.title,
            done: false,
            created_at: Utc::now().to_rfc3339(),
            version: 1,
        };
        board.tasks.push(task.clone());
        (task, board.seq)
    };
    let event = json!({ "type": "task_created", "board": BOARD, "seq": seq, "task": task });
    let _ = state.tx.send(event.to_string());
    (StatusCode::CREATED, Json(task)).into_response()
}
