//! `spawn_app()` and friends: start a real server and talk to it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use backend::config::Config;
use backend::startup::Application;
use backend::store::DatabaseUrl;
use futures_util::StreamExt;
use serde_json::Value;
use shared::{Problem, ServerMsg, Task};
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The password every test account has.
pub const PASSWORD: &str = "correct horse battery";

/// A signed-up account and its session cookie's value.
#[derive(Debug, Clone)]
pub struct User {
    pub account: shared::Account,
    pub cookie: String,
}

/// The value of the session cookie a response sets, if it sets one (empty when it removes it).
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    set_cookie(response).map(|header| {
        header
            .split(';')
            .next()
            .and_then(|pair| pair.split_once('='))
            .map(|(_, value)| value.to_owned())
            .unwrap_or_default()
    })
}

/// The whole `Set-Cookie` header of the session cookie, attributes included.
pub fn set_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{}=", shared::SESSION_COOKIE)))
        .map(str::to_owned)
}

/// A WebSocket client connection as the tests use it.
pub type WsClient = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for something the server should do promptly.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// A server running inside the test process.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// The database and front end folder; kept alive with the server.
    _dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Starts a server on port 0 with a fresh database and a small fake front end.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with settings changed by `configure`.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_in(tempfile::tempdir().unwrap(), configure).await
}

/// Starts a server on the database and front end in `dir` (kept from an earlier server, say).
pub async fn spawn_app_in(dir: TempDir, configure: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config::new(
        "127.0.0.1:0".parse().unwrap(),
        test_database(dir.path()).await,
        write_fake_front_end(dir.path()),
    );
    configure(&mut config);
    let app = Application::build(config)
        .await
        .expect("server builds")
        .map_router(|router| router.layer(axum::middleware::from_fn(crate::contract::enforce)));
    let addr = app.local_addr();
    let (stop, stopped) = oneshot::channel();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    TestApp {
        addr,
        client: reqwest::Client::new(),
        _dir: dir,
        stop: Some(stop),
        server,
    }
}

/// The store the suite runs against: a SQLite file in `dir`, or with `TASKTICK_TEST_STORE=postgres`
/// a fresh PostgreSQL database, remembered in `dir` so that a server restarted on `dir` finds the
/// same data.
pub async fn test_database(dir: &Path) -> DatabaseUrl {
    if !on_postgres() {
        return DatabaseUrl::Sqlite(dir.join("db/tasks.db"));
    }
    let remembered = dir.join("postgres-url");
    if let Ok(url) = std::fs::read_to_string(&remembered) {
        return DatabaseUrl::Postgres(url);
    }
    let url = crate::postgres::fresh_database_on(&crate::postgres::server_url()).await;
    std::fs::write(&remembered, &url).unwrap();
    DatabaseUrl::Postgres(url)
}

/// Whether this run of the suite is the PostgreSQL one (`TASKTICK_TEST_STORE=postgres`).
pub fn on_postgres() -> bool {
    std::env::var("TASKTICK_TEST_STORE").is_ok_and(|store| store == "postgres")
}

/// A front end folder shaped like trunk's output.
pub fn write_fake_front_end(root: &Path) -> PathBuf {
    let dist = root.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>tasktick</title>",
    )
    .unwrap();
    std::fs::write(
        dist.join("frontend-0123456789abcdef_bg.wasm"),
        b"\0asm\x01\0\0\0",
    )
    .unwrap();
    std::fs::write(dist.join("frontend-0123456789abcdef.js"), "export {}").unwrap();
    dist
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// `POST /api/tasks` with a raw body and content type.
    pub async fn post_tasks_raw(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(self.url("/api/tasks"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// `POST /api/tasks` with a JSON body.
    pub async fn post_tasks(&self, body: &Value) -> reqwest::Response {
        self.post_tasks_raw("application/json", body.to_string())
            .await
    }

    /// Creates a task that must succeed.
    pub async fn create_task(&self, title: &str) -> Task {
        let response = self
            .post_tasks(&serde_json::json!({ "title": title }))
            .await;
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }

    /// `GET /api/tasks`.
    pub async fn list_tasks(&self) -> Vec<Task> {
        let response = self
            .client
            .get(self.url("/api/tasks"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Opens a WebSocket to `/ws`.
    pub async fn connect_ws(&self) -> WsClient {
        let (socket, _) = tokio_tungstenite::connect_async(self.ws_url())
            .await
            .unwrap();
        socket
    }

    /// Opens a WebSocket to `/ws?since=SEQ`.
    pub async fn connect_ws_since(&self, since: i64) -> WsClient {
        let url = format!("{}?since={since}", self.ws_url());
        let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        socket
    }

    /// `PATCH /api/tasks/{id}`.
    pub async fn patch_task(&self, id: shared::TaskId, body: &Value) -> reqwest::Response {
        self.client
            .patch(self.url(&format!("/api/tasks/{id}")))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `DELETE /api/tasks/{id}`.
    pub async fn delete_task(&self, id: shared::TaskId) -> reqwest::Response {
        self.client
            .delete(self.url(&format!("/api/tasks/{id}")))
            .send()
            .await
            .unwrap()
    }

    /// Signs up `username` (password [`PASSWORD`]) and keeps the session cookie.
    pub async fn sign_up(&self, username: &str) -> User {
        let response = self
            .client
            .post(self.url(shared::ACCOUNTS_PATH))
            .json(&serde_json::json!({ "username": username, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "sign-up of {username}");
        let cookie = session_cookie(&response).expect("sign-up sets the session cookie");
        User {
            account: response.json().await.unwrap(),
            cookie,
        }
    }

    /// A request as `user` would send it from this server's page: the session cookie, and the
    /// page's own `Origin` on changes.
    pub fn as_user(
        &self,
        user: &User,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        let request = self.client.request(method.clone(), self.url(path)).header(
            "cookie",
            format!("{}={}", shared::SESSION_COOKIE, user.cookie),
        );
        if method == reqwest::Method::GET {
            request
        } else {
            request.header("origin", format!("http://{}", self.addr))
        }
    }

    /// Stops the server as SIGTERM would, waits for it to finish, and hands back its folder.
    pub async fn shut_down(self) -> TempDir {
        self.begin_shutdown().await
    }

    /// Signals shutdown at once (before the first poll), and returns the wait for its end.
    pub fn begin_shutdown(mut self) -> impl Future<Output = TempDir> {
        self.stop.take().unwrap().send(()).unwrap();
        async move {
            tokio::time::timeout(PATIENCE, self.server)
                .await
                .expect("server stops in time")
                .unwrap()
                .unwrap();
            self._dir
        }
    }
}

/// Asserts a problem+json response with `status`, and returns the problem.
pub async fn assert_problem(response: reqwest::Response, status: u16) -> Problem {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let problem: Problem = response.json().await.unwrap();
    assert_eq!(problem.status, status);
    assert!(!problem.title.is_empty());
    assert!(!problem.detail.is_empty());
    problem
}

/// The next message from the server, within [`PATIENCE`].
pub async fn next_message(socket: &mut WsClient) -> Message {
    tokio::time::timeout(PATIENCE, socket.next())
        .await
        .expect("a message in time")
        .expect("the socket is open")
        .expect("the message is readable")
}

/// The next text message, parsed.
pub async fn next_server_msg(socket: &mut WsClient) -> ServerMsg {
    match next_message(socket).await {
        Message::Text(text) => serde_json::from_str(&text).unwrap(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// The next message that is not a clock tick (nor a WebSocket ping).
pub async fn next_non_tick(socket: &mut WsClient) -> ServerMsg {
    loop {
        match next_message(socket).await {
            Message::Text(text) => match serde_json::from_str(&text).unwrap() {
                ServerMsg::Tick { .. } => continue,
                other => return other,
            },
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Skips messages until a close frame arrives, and returns its code and reason.
pub async fn next_close(socket: &mut WsClient) -> (u16, String) {
    loop {
        if let Message::Close(frame) = next_message(socket).await {
            let frame = frame.expect("the close frame has a code");
            return (frame.code.into(), frame.reason.to_string());
        }
    }
}
