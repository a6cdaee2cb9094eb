//! `spawn_app()` and friends: start a real server and talk to it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use backend::config::Config;
use backend::startup::Application;
use backend::store::DatabaseUrl;
use futures_util::StreamExt;
use serde_json::Value;
use shared::{BoardId, ClientMsg, Problem, ServerMsg, Task};
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
    /// A client with no credentials.
    pub client: reqwest::Client,
    /// A client signed in as [`TestApp::owner`], sending this server's `Origin` like its page.
    pub owner_client: reqwest::Client,
    /// The account that owns [`TestApp::board`].
    pub owner: User,
    /// The board the task helpers work on.
    pub board: BoardId,
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
    // Shutting down at once: the tests that are about the drain set their own.
    config.drain_seconds = 0;
    config.close_spread_seconds = 0;
    configure(&mut config);
    if config.signup == backend::auth::Signup::Closed {
        // As an operator would: `tasktick user add owner`.
        let store = backend::store::open(&config.database, config.event_retention)
            .await
            .unwrap();
        let hash = backend::auth::hash_password(shared::Password::parse(PASSWORD).unwrap())
            .await
            .unwrap();
        let owner = shared::Username::parse("owner").unwrap();
        store.create_user(&owner, &hash, 0).await.unwrap();
    }
    let app = Application::build(config)
        .await
        .expect("server builds")
        .map_router(|router| router.layer(axum::middleware::from_fn(crate::contract::enforce)));
    let addr = app.local_addr();
    let (stop, stopped) = oneshot::channel();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let (owner, board) = owner_and_board(&client, &base).await;
    TestApp {
        addr,
        owner_client: signed_in_client(&owner, &base),
        owner,
        board,
        client,
        _dir: dir,
        stop: Some(stop),
        server,
    }
}

/// The account `owner` (signed up, or signed in when the database has it from an earlier server)
/// and its first board (made when it has none).
pub async fn owner_and_board(client: &reqwest::Client, base: &str) -> (User, BoardId) {
    let credentials = serde_json::json!({ "username": "owner", "password": PASSWORD });
    let mut response = client
        .post(format!("{base}{}", shared::ACCOUNTS_PATH))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    // Taken (an earlier server made it), or sign-up closed (the operator made it): sign in.
    if matches!(response.status().as_u16(), 403 | 409) {
        response = client
            .post(format!("{base}{}", shared::SESSION_PATH))
            .json(&credentials)
            .send()
            .await
            .unwrap();
    }
    assert!(response.status().is_success(), "{}", response.status());
    let cookie = session_cookie(&response).expect("a session cookie");
    let owner = User {
        account: response.json().await.unwrap(),
        cookie,
    };
    let signed_in = signed_in_client(&owner, base);
    let boards: Vec<shared::Board> = signed_in
        .get(format!("{base}{}", shared::BOARDS_PATH))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let board = match boards.first() {
        Some(board) => board.id,
        None => {
            let created: shared::Board = signed_in
                .post(format!("{base}{}", shared::BOARDS_PATH))
                .json(&serde_json::json!({ "name": "Tasks" }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            created.id
        }
    };
    (owner, board)
}

/// A client that sends `user`'s session cookie, and `base` as its `Origin` (like the page).
pub fn signed_in_client(user: &User, base: &str) -> reqwest::Client {
    client_with(user, Some(base))
}

/// A client that sends `user`'s session cookie and no `Origin`, as a script would (so any
/// instance of a cluster takes its changes).
pub fn cookie_client(user: &User) -> reqwest::Client {
    client_with(user, None)
}

fn client_with(user: &User, origin: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "cookie",
        format!("{}={}", shared::SESSION_COOKIE, user.cookie)
            .parse()
            .unwrap(),
    );
    if let Some(origin) = origin {
        headers.insert("origin", origin.parse().unwrap());
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
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

    /// `GET path`, without credentials.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// `GET path` as the owner.
    pub async fn get_as_owner(&self, path: &str) -> reqwest::Response {
        self.owner_client.get(self.url(path)).send().await.unwrap()
    }

    /// The path of the board's task collection.
    pub fn tasks_path(&self) -> String {
        shared::tasks_path(self.board)
    }

    /// The path of one of the board's tasks.
    pub fn task_path(&self, id: shared::TaskId) -> String {
        format!("{}/{id}", self.tasks_path())
    }

    /// `POST` to the board's tasks with a raw body and content type, as the owner.
    pub async fn post_tasks_raw(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.owner_client
            .post(self.url(&self.tasks_path()))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// `POST` to the board's tasks with a JSON body, as the owner.
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

    /// The board's tasks, as the owner.
    pub async fn list_tasks(&self) -> Vec<Task> {
        let response = self
            .owner_client
            .get(self.url(&self.tasks_path()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Opens a WebSocket to `/ws` as the owner (nothing read or sent yet).
    pub async fn connect_ws_plain(&self) -> WsClient {
        connect_ws_as(&self.ws_url(), Some(&self.owner)).await
    }

    /// Opens a WebSocket as the owner, reads `hello` and follows the board from now on: returns
    /// the socket after `subscribed`, and the board's `seq` it named.
    pub async fn connect_ws(&self) -> (WsClient, i64) {
        let mut socket = self.connect_ws_plain().await;
        assert!(matches!(
            next_server_msg(&mut socket).await,
            ServerMsg::Hello { .. }
        ));
        let seq = subscribe(&mut socket, self.board, None).await;
        (socket, seq)
    }

    /// Opens a WebSocket as the owner, reads `hello` and asks to follow the board after `since`
    /// (what the server answers is the caller's to read).
    pub async fn connect_ws_since(&self, since: i64) -> WsClient {
        let mut socket = self.connect_ws_plain().await;
        assert!(matches!(
            next_server_msg(&mut socket).await,
            ServerMsg::Hello { .. }
        ));
        send_subscribe(&mut socket, self.board, Some(since)).await;
        socket
    }

    /// `PATCH` one of the board's tasks, as the owner.
    pub async fn patch_task(&self, id: shared::TaskId, body: &Value) -> reqwest::Response {
        self.owner_client
            .patch(self.url(&self.task_path(id)))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `DELETE` one of the board's tasks, as the owner.
    pub async fn delete_task(&self, id: shared::TaskId) -> reqwest::Response {
        self.owner_client
            .delete(self.url(&self.task_path(id)))
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

/// Opens a WebSocket to `url`, with `user`'s session cookie (and the server's own `Origin`).
pub async fn connect_ws_as(url: &str, user: Option<&User>) -> WsClient {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().unwrap();
    if let Some(user) = user {
        let headers = request.headers_mut();
        headers.insert(
            "cookie",
            format!("{}={}", shared::SESSION_COOKIE, user.cookie)
                .parse()
                .unwrap(),
        );
        let origin = url.replacen("ws://", "http://", 1);
        let origin = origin.trim_end_matches("/ws");
        headers.insert("origin", origin.parse().unwrap());
    }
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket
}

/// Sends `subscribe` for `board`.
pub async fn send_subscribe(socket: &mut WsClient, board: BoardId, since: Option<i64>) {
    use futures_util::SinkExt;
    let message = serde_json::to_string(&ClientMsg::Subscribe { board, since }).unwrap();
    socket.send(Message::Text(message.into())).await.unwrap();
}

/// Follows `board` and waits for `subscribed`: the `seq` it names.
pub async fn subscribe(socket: &mut WsClient, board: BoardId, since: Option<i64>) -> i64 {
    send_subscribe(socket, board, since).await;
    match next_non_tick(socket).await {
        ServerMsg::Subscribed { board: b, seq } if b == board => seq,
        other => panic!("expected subscribed to {board}, got {other:?}"),
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
