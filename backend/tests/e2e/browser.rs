//! The pieces an end-to-end test needs: the real server on a random port serving `dist/`, and a
//! headless Chromium driven through its own chromedriver.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backend::config::Config;
use backend::startup::Application;
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long to wait for something the page should show.
pub const PATIENCE: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(50);

/// The server, serving the release build, with a fresh database, an account `owner` and its
/// board.
pub struct TestServer {
    addr: SocketAddr,
    http: reqwest::Client,
    dir: TempDir,
    running: Option<Running>,
    pub board: shared::BoardId,
}

/// A server task and the switch that stops it gracefully.
struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Like [`TestServer::start`], with settings changed by `configure` (for this run only).
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (addr, running) = launch("127.0.0.1:0".parse().unwrap(), &dir, configure).await;
        let base = format!("http://{addr}");
        let (owner, board) = account_with_board(&base, "owner").await;
        Self {
            addr,
            http: signed_in(&base, &owner),
            dir,
            running: Some(running),
            board,
        }
    }

    /// The path of the board (with `suffix`, a filter).
    pub fn board_path(&self, suffix: &str) -> String {
        format!("/boards/{}{suffix}", self.board)
    }

    /// A browser signed in as the owner, on the board (`suffix`: a filter).
    pub async fn open_board(&self, suffix: &str) -> Browser {
        Browser::open_as(&self.url(&self.board_path(suffix)), "owner").await
    }

    /// The board's stored tasks.
    pub async fn tasks(&self) -> Vec<shared::Task> {
        self.get_json(&shared::tasks_path(self.board)).await
    }

    /// Creates a task on the board as the owner.
    pub async fn post_task(&self, body: &Value) -> reqwest::Response {
        self.post_json(&shared::tasks_path(self.board), body).await
    }

    /// Changes a task of the board as the owner.
    pub async fn patch_task(&self, id: shared::TaskId, body: &Value) -> reqwest::Response {
        let path = format!("{}/{id}", shared::tasks_path(self.board));
        self.http
            .patch(self.url(&path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Shuts the server down gracefully, as SIGTERM would.
    pub async fn stop(&mut self) {
        let running = self.running.take().expect("the server is running");
        running.stop.send(()).unwrap();
        running.task.await.unwrap().unwrap();
    }

    /// Starts the server again on the same address and database.
    pub async fn restart(&mut self) {
        let (_, running) = launch(self.addr, &self.dir, |_| {}).await;
        self.running = Some(running);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> T {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits until the stored tasks satisfy `ready` (the page's writes are optimistic: it shows
    /// a change before the server has it), and returns them.
    pub async fn wait_for_tasks(
        &self,
        ready: impl Fn(&[shared::Task]) -> bool,
    ) -> Vec<shared::Task> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let tasks = self.tasks().await;
            if ready(&tasks) {
                return tasks;
            }
            assert!(
                Instant::now() < deadline,
                "the stored tasks never got there: {tasks:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

async fn launch(
    addr: SocketAddr,
    dir: &TempDir,
    configure: impl FnOnce(&mut Config),
) -> (SocketAddr, Running) {
    let dist = dist_dir();
    assert!(
        dist.join("index.html").is_file(),
        "no front end build in {}: run `cargo xtask test`, which builds it",
        dist.display()
    );
    let mut config = Config::new(
        addr,
        backend::store::DatabaseUrl::Sqlite(dir.path().join("tasks.db")),
        dist,
    );
    config.drain_seconds = 0;
    config.close_spread_seconds = 0;
    configure(&mut config);
    let app = Application::build(config).await.unwrap();
    let addr = app.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    (addr, Running { stop, task })
}

/// Signs `username` up on the server at `base` and makes it a board: its session cookie's value
/// and the board.
/// The password of every test account.
pub const PASSWORD: &str = "correct horse battery";

pub async fn account_with_board(base: &str, username: &str) -> (String, shared::BoardId) {
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{base}{}", shared::ACCOUNTS_PATH))
        .json(&serde_json::json!({ "username": username, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "sign-up of {username}");
    let cookie = session_cookie(&response);
    let board: shared::Board = signed_in(base, &cookie)
        .post(format!("{base}{}", shared::BOARDS_PATH))
        .json(&serde_json::json!({ "name": format!("{username}'s board") }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (cookie, board.id)
}

/// Signs `username` up on the server at `base`: its session cookie's value.
pub async fn sign_up(base: &str, username: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("{base}{}", shared::ACCOUNTS_PATH))
        .json(&serde_json::json!({ "username": username, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "sign-up of {username}");
    session_cookie(&response)
}

fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{}=", shared::SESSION_COOKIE)))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

/// A client with the session `cookie`, sending `base` as its `Origin` like the page would.
pub fn signed_in(base: &str, cookie: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "cookie",
        format!("{}={cookie}", shared::SESSION_COOKIE)
            .parse()
            .unwrap(),
    );
    headers.insert("origin", base.parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// `TASKTICK_E2E_DIST`, or the workspace's `dist/` where trunk writes.
pub fn dist_dir() -> PathBuf {
    std::env::var_os("TASKTICK_E2E_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist"))
}

/// A chromedriver process and one headless Chromium session on it.
pub struct Browser {
    client: Client,
    /// Until [`Browser::end`].
    driver: Option<Child>,
}

impl Browser {
    /// Signs in as `username` on the sign-in page of `url`'s server, then opens `url`.
    pub async fn open_as(url: &str, username: &str) -> Self {
        let origin = url::Url::parse(url).unwrap();
        let browser = Self::open(origin.join("/signin").unwrap().as_str()).await;
        browser.sign_in(username).await;
        browser.client.goto(url).await.unwrap();
        browser
    }

    /// Fills in and sends the sign-in form (the page is on it), and waits for the board list.
    pub async fn sign_in(&self, username: &str) {
        self.type_into("#username", username).await;
        self.type_into("#password", PASSWORD).await;
        self.click("#account-form button[type=submit]").await;
        self.wait_for_text(".whoami", |t| t == username).await;
    }

    /// Starts chromedriver on a free port, opens Chromium, and loads `url`.
    pub async fn open(url: &str) -> Self {
        let port = free_port();
        let chromedriver =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // A group of its own, which its Chromium processes join: see `end`.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {chromedriver}: {e}"));
        let webdriver = format!("http://127.0.0.1:{port}");
        let client = connect_when_ready(&webdriver).await;
        client.goto(url).await.unwrap();
        Self {
            client,
            driver: Some(driver),
        }
    }

    async fn find(&self, selector: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("no element {selector}: {e}"))
    }

    /// Waits until the text of `selector` satisfies `ready`, and returns it.
    pub async fn wait_for_text(&self, selector: &str, ready: impl Fn(&str) -> bool) -> String {
        self.wait_for_text_within(selector, PATIENCE, ready).await
    }

    /// Like [`Browser::wait_for_text`], with a stated deadline.
    pub async fn wait_for_text_within(
        &self,
        selector: &str,
        patience: Duration,
        ready: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + patience;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(element) = self.client.find(Locator::Css(selector)).await
                && let Ok(text) = element.text().await
            {
                if ready(&text) {
                    return text;
                }
                last = text;
            }
            tokio::time::sleep(POLL).await;
        }
        panic!("{selector} did not reach the expected text within {patience:?}; last: {last:?}");
    }

    /// Waits until `script` (a function body) returns something other than `null` or `false`,
    /// and returns it.
    pub async fn wait_for_script(&self, script: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let value = self.evaluate(script).await;
            if !value.is_null() && value != Value::Bool(false) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "{script} still says {value} after {PATIENCE:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until attribute `name` of `selector` is present and satisfies `ready`; returns it.
    pub async fn wait_for_attribute(
        &self,
        selector: &str,
        name: &str,
        ready: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut last = None;
        while Instant::now() < deadline {
            if let Ok(element) = self.client.find(Locator::Css(selector)).await
                && let Ok(value) = element.attr(name).await
            {
                if let Some(value) = value.as_deref().filter(|v| ready(v)) {
                    return value.to_owned();
                }
                last = value;
            }
            tokio::time::sleep(POLL).await;
        }
        panic!(
            "{selector} [{name}] did not reach the expected value within {PATIENCE:?}; last: {last:?}"
        );
    }

    /// Waits until the clock shows a time, and then a different one.
    pub async fn wait_for_the_clock_to_tick(&self) {
        let first = self
            .wait_for_text(".clock-time", |t| !t.contains("--"))
            .await;
        self.wait_for_text(".clock-time", |t| t != first).await;
    }

    pub async fn type_into(&self, selector: &str, text: &str) {
        self.find(selector).await.send_keys(text).await.unwrap();
    }

    pub async fn press_enter(&self, selector: &str) {
        self.press(selector, Key::Enter).await;
    }

    /// Sends one special key (Enter, Escape, Tab…) to `selector`.
    pub async fn press(&self, selector: &str, key: Key) {
        let key = char::from(key).to_string();
        self.find(selector).await.send_keys(&key).await.unwrap();
    }

    pub async fn click(&self, selector: &str) {
        self.find(selector).await.click().await.unwrap();
    }

    pub async fn value_of(&self, selector: &str) -> String {
        self.find(selector)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    pub async fn count(&self, selector: &str) -> usize {
        self.client
            .find_all(Locator::Css(selector))
            .await
            .unwrap()
            .len()
    }

    /// Messages the page logged as errors or warnings (Chromium's "SEVERE" and "WARNING") since
    /// the last call.
    pub async fn console_errors(&self) -> Vec<String> {
        let log = self.client.issue_cmd(BrowserLog).await.unwrap();
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE" || entry["level"] == "WARNING")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Runs `script` in the page.
    pub async fn execute(&self, script: &str) {
        self.client.execute(script, Vec::new()).await.unwrap();
    }

    /// Evaluates `script` (a function body that `return`s) in the page.
    pub async fn evaluate(&self, script: &str) -> Value {
        self.client.execute(script, Vec::new()).await.unwrap()
    }

    /// Makes the page see `prefers-color-scheme: scheme` (`"light"` or `"dark"`), as a system
    /// setting would.
    pub async fn prefer_color_scheme(&self, scheme: &str) {
        let features = serde_json::json!([{ "name": "prefers-color-scheme", "value": scheme }]);
        self.client
            .issue_cmd(Cdp {
                method: "Emulation.setEmulatedMedia",
                params: serde_json::json!({ "features": features }),
            })
            .await
            .unwrap();
    }

    /// Sends one special key to whatever has the focus, as a keyboard user would.
    pub async fn press_on_focus(&self, key: Key) {
        let key = char::from(key).to_string();
        let focused = self.client.active_element().await.unwrap();
        focused.send_keys(&key).await.unwrap();
    }

    /// Whether the page is wider than the window (a sideways scroll) at `width` pixels.
    pub async fn overflows_at(&self, width: u32) -> bool {
        self.client.set_window_size(width, 800).await.unwrap();
        let script =
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth";
        self.client.execute(script, Vec::new()).await.unwrap() == Value::Bool(true)
    }

    pub async fn current_url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    pub async fn reload(&self) {
        self.client.refresh().await.unwrap();
    }

    /// Saves a PNG of the page, in a window `width` × `height` pixels, as a test artefact:
    /// `target/e2e-screenshots/{name}.png`. Returns its path.
    pub async fn screenshot(&self, name: &str, width: u32, height: u32) -> PathBuf {
        self.client.set_window_size(width, height).await.unwrap();
        let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-screenshots");
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join(format!("{name}.png"));
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
        std::fs::write(&path, png).unwrap();
        path
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        self.end();
    }

    /// Kills chromedriver and the Chromium it started: killed alone, chromedriver leaves its
    /// Chromium processes running (eleven of them, orphaned), which would slow every test after
    /// a failed one.
    fn end(&mut self) {
        if let Some(mut driver) = self.driver.take() {
            let group = nix::unistd::Pid::from_raw(driver.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = driver.wait();
        }
    }
}

impl Drop for Browser {
    /// A failed assertion skips `close`; never leave a browser behind.
    fn drop(&mut self) {
        self.end();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The Chromium flags from `frontend/webdriver.json` (shared with the component tests), plus
/// console log capture.
fn capabilities() -> serde_json::Map<String, Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../frontend/webdriver.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut capabilities: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
    capabilities.insert(
        "goog:loggingPrefs".into(),
        serde_json::json!({ "browser": "ALL" }),
    );
    capabilities
}

/// chromedriver's (non-standard) command that returns and clears the browser console log.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

/// A Chrome DevTools command, through chromedriver's `goog/cdp/execute`.
#[derive(Debug)]
struct Cdp {
    method: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = serde_json::json!({ "cmd": self.method, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// chromedriver takes a moment to listen; retry the session until it does.
async fn connect_when_ready(webdriver: &str) -> Client {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let attempt = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities())
            .connect(webdriver)
            .await;
        match attempt {
            Ok(client) => return client,
            Err(error) if Instant::now() >= deadline => {
                panic!("cannot start a browser session on {webdriver}: {error}")
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}
