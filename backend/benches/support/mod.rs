//! What the benchmarks share: the real `tasktick` binary started as a child process (on core 0
//! when `taskset` is there), this process moved to core 1, and readings from `/proc` (Linux).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor};

/// The server binary, pinned to core 0, on a free port; killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `tasktick serve` on `database` with `extra` flags, and waits until it listens. The
    /// binary is this build's, or `TASKTICK_BENCH_BINARY` (to compare with an older build).
    pub fn start(database: &str, extra: &[&str]) -> anyhow::Result<Self> {
        let binary = std::env::var("TASKTICK_BENCH_BINARY")
            .ok()
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_tasktick").to_owned());
        let binary = binary.as_str();
        let mut command = if has_taskset() {
            let mut taskset = Command::new("taskset");
            taskset.args(["-c", "0", binary]);
            taskset
        } else {
            Command::new(binary)
        };
        let mut child = command
            .args(["serve", "--addr", "127.0.0.1:0", "--database", database])
            .args(["--static-dir", env!("CARGO_MANIFEST_DIR")])
            // The load comes from a few loopback addresses and one account on purpose: lift the
            // per-address cap and the per-account write rate.
            .args(["--max-connections-per-address", "1000000"])
            .args(["--write-rate", "1000000"])
            .args(extra)
            .env("RUST_LOG", "warn,backend::startup=info")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()?;
        let stderr = BufReader::new(child.stderr.take().expect("piped"));
        let (found, address) = std::sync::mpsc::channel();
        // Keeps draining the log, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Some((_, rest)) = line.split_once("listening on http://") {
                    let _ = found.send(rest.trim().to_owned());
                } else if (line.contains("WARN") || line.contains("ERROR"))
                    && !line.contains("no index.html")
                {
                    eprintln!("server: {line}");
                }
            }
        });
        let addr = address.recv_timeout(Duration::from_secs(30))?.parse()?;
        Ok(Self { child, addr })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Resident memory, in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        rss_kib(self.child.id())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn has_taskset() -> bool {
    Command::new("taskset").arg("-V").output().is_ok()
}

/// Moves this process (every thread, and the children it starts later) to `core`.
pub fn pin_this_process_to_core(core: usize) {
    if has_taskset() {
        let _ = Command::new("taskset")
            .args([
                "-a",
                "-cp",
                &core.to_string(),
                &std::process::id().to_string(),
            ])
            .stdout(Stdio::null())
            .status();
    }
}

/// Resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/{pid}/status"))
}

/// CPU time used so far by process `pid` (all its threads).
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// A new database named `name` on the PostgreSQL server at `server` (its `postgres` database
/// URL); returns its URL.
pub async fn fresh_postgres_database(server: &str, name: &str) -> anyhow::Result<String> {
    let mut admin = sqlx::PgConnection::connect(server).await?;
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await?;
    let mut url = url::Url::parse(server)?;
    url.set_path(name);
    Ok(url.to_string())
}

/// The account every benchmark writes and listens as: signed up on the server at `base` (the
/// address of the server, `http://host:port`), with a board. Its session cookie's value and the
/// board.
pub async fn bench_account(base: &str) -> anyhow::Result<(String, shared::BoardId)> {
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{base}{}", shared::ACCOUNTS_PATH))
        .json(&serde_json::json!({ "username": "bench", "password": "benchmark password" }))
        .send()
        .await?
        .error_for_status()?;
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{}=", shared::SESSION_COOKIE)))
        .and_then(|v| v.split(';').next())
        .ok_or_else(|| anyhow::anyhow!("no session cookie"))?
        .to_owned();
    let board: shared::Board = signed_in(&cookie)?
        .post(format!("{base}{}", shared::BOARDS_PATH))
        .json(&serde_json::json!({ "name": "bench" }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok((cookie, board.id))
}

/// An HTTP client that sends the session `cookie` (as a script would: no `Origin`).
pub fn signed_in(cookie: &str) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "cookie",
        format!("{}={cookie}", shared::SESSION_COOKIE).parse()?,
    );
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .build()?)
}

/// The WebSocket handshake for `url` with the session `cookie`.
pub fn ws_request(
    url: &str,
    cookie: &str,
) -> anyhow::Result<tokio_tungstenite::tungstenite::handshake::client::Request> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        "cookie",
        format!("{}={cookie}", shared::SESSION_COOKIE).parse()?,
    );
    Ok(request)
}

/// The message that follows `board`.
pub fn subscribe(board: shared::BoardId) -> tokio_tungstenite::tungstenite::Message {
    let text = serde_json::to_string(&shared::ClientMsg::Subscribe { board, since: None })
        .expect("a client message serialises");
    tokio_tungstenite::tungstenite::Message::text(text)
}

/// What one REST load run measured.
pub struct Load {
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Percent of one core used during the run, to tell which side was the bottleneck.
    pub server_cpu: f64,
    pub client_cpu: f64,
}

/// `connections` clients, each holding one keep-alive connection (made by `client`), send
/// `request(http, connection, i)` back to back for `run`; every answer must be `expected`.
/// Latencies are measured after the first `warm`.
pub async fn load<C, R>(
    server_pid: u32,
    connections: usize,
    run: Duration,
    warm: Duration,
    client: C,
    request: R,
    expected: u16,
) -> anyhow::Result<Load>
where
    C: Fn() -> anyhow::Result<reqwest::Client>,
    R: Fn(&reqwest::Client, usize, usize) -> reqwest::RequestBuilder + Clone + Send + 'static,
{
    let started = Instant::now();
    let cpu_before = (cpu_time(server_pid), cpu_time(std::process::id()));
    let deadline = started + run;
    let warm_until = started + warm;
    let clients = (0..connections).map(|c| {
        let (http, request) = (client(), request.clone());
        tokio::spawn(async move {
            let http = http?;
            let mut latencies = Vec::new();
            let mut i = 0;
            while Instant::now() < deadline {
                let sent = Instant::now();
                let response = request(&http, c, i).send().await?;
                anyhow::ensure!(
                    response.status() == expected,
                    "answered {}",
                    response.status()
                );
                response.bytes().await?;
                if sent >= warm_until {
                    latencies.push(sent.elapsed());
                }
                i += 1;
            }
            anyhow::Ok(latencies)
        })
    });
    let mut latencies = Vec::new();
    for client in futures_util::future::join_all(clients).await {
        latencies.extend(client??);
    }
    let wall = started.elapsed().as_secs_f64();
    let percent = |after: Duration, before: Duration| (after - before).as_secs_f64() / wall * 100.0;
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    Ok(Load {
        rate: latencies.len() as f64 / (run - warm).as_secs_f64(),
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        server_cpu: percent(cpu_time(server_pid), cpu_before.0),
        client_cpu: percent(cpu_time(std::process::id()), cpu_before.1),
    })
}
