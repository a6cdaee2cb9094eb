//! The reconnect storm: 10,000 clients follow a board on one instance, the instance restarts, and
//! every client comes back on its own (on the browser's reconnection schedule: exponential backoff
//! with full jitter) and catches up with `since`, including the events made while it was away.
//!
//! A test binary of its own: the storm's ten thousand sockets and its load would disturb the API
//! suite's timing. It asserts what a user would notice (everyone back, nothing missed, no refused
//! connection, no close but 1012) and prints what it measured: the peak of new connections per
//! second, and how long until the last client was caught up.

#[allow(dead_code)]
#[path = "api/server_process.rs"]
mod server_process;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use server_process::ServerProcess;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_util::sync::CancellationToken;

const CLIENTS: usize = 10_000;
/// Clients connect from 127.0.0.2 onwards, this many per address (the server's per-address cap is
/// 1,000).
const PER_ADDRESS: usize = 500;
/// Tasks made while every client follows, and again right after the restart.
const TASKS_BEFORE: usize = 5;
const TASKS_AFTER: usize = 20;
const PATIENCE: Duration = Duration::from_secs(120);

/// What every client reports.
#[derive(Default)]
struct Fleet {
    /// The last `seq` each client applied.
    seqs: Vec<AtomicI64>,
    /// Clients following the board right now.
    following: AtomicUsize,
    /// When each upgrade succeeded.
    opened: Mutex<Vec<Instant>>,
    /// Close codes received, by code.
    closes: Mutex<BTreeMap<u16, usize>>,
    /// Upgrades answered with an HTTP error (a refusal: over a cap, not ready).
    refused: AtomicUsize,
    /// Connection attempts that found nobody listening (the instance was down).
    unreachable: AtomicUsize,
    /// `resync`s: a client told to reload instead of catching up.
    resyncs: AtomicUsize,
    /// Events that did not follow the one a client applied last (a gap or a repeat).
    out_of_order: AtomicUsize,
    /// Subscriptions the server could not check at that moment (`unsubscribed`, `unavailable`):
    /// the client subscribes again shortly, as the page does.
    unavailable: AtomicUsize,
}

/// A free port on 127.0.0.1, for both lives of the instance.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(addr: SocketAddr, database: &std::path::Path, dist: &std::path::Path) -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tasktick"));
    command
        .args(["serve", "--addr", &addr.to_string(), "--drain-seconds", "1"])
        .args(["--close-spread-seconds", "3", "--write-rate", "1000"])
        .arg("--database")
        .arg(database)
        .arg("--static-dir")
        .arg(dist);
    ServerProcess::spawn_command(command)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_clients_come_back_after_a_restart_and_miss_nothing() {
    rlimit::increase_nofile_limit(u64::MAX).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("index.html"), "<title>tasktick</title>").unwrap();
    let database = dir.path().join("tasks.db");
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = start(addr, &database, &dist);
    let base = format!("http://{addr}");

    let http = reqwest::Client::new();
    let signed_up = http
        .post(format!("{base}{}", shared::ACCOUNTS_PATH))
        .json(&json!({ "username": "owner", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 201);
    let cookie = signed_up
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{}=", shared::SESSION_COOKIE)))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned();
    let owner = reqwest::Client::builder()
        .default_headers(
            [
                (
                    reqwest::header::COOKIE,
                    format!("{}={cookie}", shared::SESSION_COOKIE)
                        .parse()
                        .unwrap(),
                ),
                (reqwest::header::ORIGIN, base.parse().unwrap()),
            ]
            .into_iter()
            .collect(),
        )
        .build()
        .unwrap();
    let board: shared::Board = owner
        .post(format!("{base}{}", shared::BOARDS_PATH))
        .json(&json!({ "name": "storm" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let fleet = Arc::new(Fleet {
        seqs: (0..CLIENTS).map(|_| AtomicI64::new(-1)).collect(),
        ..Fleet::default()
    });
    let started = Instant::now();
    let stop = CancellationToken::new();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let client = Client {
                n,
                source: [127, 0, 0, 2 + (n / PER_ADDRESS) as u8],
                addr,
                cookie: cookie.clone(),
                board: board.id,
                fleet: fleet.clone(),
            };
            tokio::spawn(client.run(stop.clone()))
        })
        .collect();

    let connected_in = wait_until(&fleet, "every client follows the board", |fleet| {
        fleet.following.load(Ordering::Relaxed) == CLIENTS
    })
    .await;
    println!("{CLIENTS} clients connected and following in {connected_in:.1?}");
    for n in 0..TASKS_BEFORE {
        create(&owner, &base, board.id, &format!("before {n}")).await;
    }
    let head = TASKS_BEFORE as i64;
    wait_until(&fleet, "every client has the tasks made before", |fleet| {
        fleet.seqs.iter().all(|s| s.load(Ordering::Relaxed) == head)
    })
    .await;

    // The restart: SIGTERM, the old process closes everyone with 1012 and exits, a new one starts
    // on the same address and database, and tasks are made before the clients are back.
    let restart = Instant::now();
    let first_connections = fleet.opened.lock().unwrap().len();
    kill(Pid::from_raw(server.child.id() as i32), Signal::SIGTERM).unwrap();
    let mut old = server;
    let status = tokio::task::spawn_blocking(move || old.child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "the old instance exits cleanly: {status}");
    let down_after = restart.elapsed();
    let server = start(addr, &database, &dist);
    let up_after = restart.elapsed();
    for n in 0..TASKS_AFTER {
        create(&owner, &base, board.id, &format!("after {n}")).await;
    }
    let head = (TASKS_BEFORE + TASKS_AFTER) as i64;
    wait_until(&fleet, "every client is back and caught up", |fleet| {
        fleet.following.load(Ordering::Relaxed) == CLIENTS
            && fleet.seqs.iter().all(|s| s.load(Ordering::Relaxed) == head)
    })
    .await;
    let caught_up_after = restart.elapsed();
    stop.cancel();
    for client in clients {
        client.await.unwrap();
    }

    let closes = fleet.closes.lock().unwrap().clone();
    let opened = fleet.opened.lock().unwrap().clone();
    let (first, storm) = opened.split_at(first_connections);
    let (_, first_peak) = per_second(first, started);
    let (storm_seconds, peak) = per_second(storm, restart);
    println!(
        "restart: old instance gone after {down_after:.1?}, new one listening after {up_after:.1?}; \
         all {CLIENTS} clients back and caught up after {caught_up_after:.1?}"
    );
    println!(
        "connections per second, by second since the restart began: {storm_seconds:?}: peak \
         {peak}/s (at the start, with all {CLIENTS} arriving within a second: {first_peak}/s); \
         attempts that found the instance down: {}; closes by code: {closes:?}; subscriptions \
         the server could not check at once: {}",
        fleet.unreachable.load(Ordering::Relaxed),
        fleet.unavailable.load(Ordering::Relaxed)
    );
    assert_eq!(
        (first.len(), storm.len()),
        (CLIENTS, CLIENTS),
        "every client connected once, and reconnected once after the restart"
    );
    assert_eq!(fleet.out_of_order.load(Ordering::Relaxed), 0);
    assert_eq!(
        closes,
        BTreeMap::from([(1012, CLIENTS)]),
        "every client was told: restart"
    );
    assert_eq!(
        fleet.refused.load(Ordering::Relaxed),
        0,
        "no upgrade was refused"
    );
    assert_eq!(
        fleet.resyncs.load(Ordering::Relaxed),
        0,
        "every client caught up by replay"
    );
    server.kill_hard();
}

/// Connections counted per whole second since `from`, and the busiest second's count.
fn per_second(opened: &[Instant], from: Instant) -> (BTreeMap<u64, usize>, usize) {
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    for at in opened {
        *counts
            .entry(at.saturating_duration_since(from).as_secs())
            .or_default() += 1;
    }
    let peak = counts.values().copied().max().unwrap_or_default();
    (counts, peak)
}

async fn create(owner: &reqwest::Client, base: &str, board: shared::BoardId, title: &str) {
    let response = owner
        .post(format!("{base}/api/boards/{}/tasks", board.0))
        .json(&json!({ "title": title }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

/// Polls `done` every 50 ms until it holds (or panics naming `what` after [`PATIENCE`]); how long
/// it took.
async fn wait_until(fleet: &Fleet, what: &str, done: impl Fn(&Fleet) -> bool) -> Duration {
    let started = Instant::now();
    while !done(fleet) {
        assert_eq!(
            fleet.out_of_order.load(Ordering::Relaxed),
            0,
            "an event was missed or repeated"
        );
        assert!(
            started.elapsed() < PATIENCE,
            "not in time: {what} ({} following, {} connections opened, {} refused, {} unreachable, closes {:?})",
            fleet.following.load(Ordering::Relaxed),
            fleet.opened.lock().unwrap().len(),
            fleet.refused.load(Ordering::Relaxed),
            fleet.unreachable.load(Ordering::Relaxed),
            fleet.closes.lock().unwrap(),
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

/// One simulated browser tab: connect, follow the board from the last `seq` it applied, apply
/// events; on any end, wait as the page would and connect again.
struct Client {
    n: usize,
    source: [u8; 4],
    addr: SocketAddr,
    cookie: String,
    board: shared::BoardId,
    fleet: Arc<Fleet>,
}

impl Client {
    async fn run(self, stop: CancellationToken) {
        // Spread the first connections a little, as page loads would be.
        tokio::time::sleep(Duration::from_millis((self.n % 1000) as u64)).await;
        let mut failures = 0;
        loop {
            if stop.is_cancelled() {
                return;
            }
            match self.connect().await {
                Ok(socket) => {
                    self.fleet.opened.lock().unwrap().push(Instant::now());
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = self.follow(socket) => {}
                    }
                }
                Err(Refusal::Unreachable) => {
                    self.fleet.unreachable.fetch_add(1, Ordering::Relaxed);
                }
                Err(Refusal::Refused) => {
                    self.fleet.refused.fetch_add(1, Ordering::Relaxed);
                }
            }
            let delay = shared::ws::reconnect_delay_ms(failures, rand::random::<f64>());
            failures += 1;
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_millis(delay.into())) => {}
            }
        }
    }

    async fn connect(
        &self,
    ) -> Result<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, Refusal> {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((self.source, 0))).unwrap();
        let stream = socket
            .connect(self.addr)
            .await
            .map_err(|_| Refusal::Unreachable)?;
        let mut request = format!("ws://{}/ws", self.addr)
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "cookie",
            format!("{}={}", shared::SESSION_COOKIE, self.cookie)
                .parse()
                .unwrap(),
        );
        match tokio_tungstenite::client_async(request, stream).await {
            Ok((socket, _)) => Ok(socket),
            Err(tokio_tungstenite::tungstenite::Error::Http(_)) => Err(Refusal::Refused),
            Err(_) => Err(Refusal::Unreachable),
        }
    }

    /// Follows the board until the connection ends.
    async fn follow(&self, mut socket: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) {
        let seq = &self.fleet.seqs[self.n];
        let mut since = Some(seq.load(Ordering::Relaxed)).filter(|s| *s >= 0);
        let subscribe = |since: Option<i64>| {
            let message = shared::ClientMsg::Subscribe {
                board: self.board,
                since,
            };
            Message::Text(serde_json::to_string(&message).unwrap().into())
        };
        if socket.send(subscribe(since)).await.is_err() {
            return;
        }
        let mut following = false;
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Text(text)) => {
                    let message: Value = serde_json::from_str(&text).unwrap();
                    match message["type"].as_str().unwrap_or_default() {
                        "subscribed" => {
                            if since.is_none() {
                                seq.store(message["seq"].as_i64().unwrap(), Ordering::Relaxed);
                            }
                            following = true;
                            self.fleet.following.fetch_add(1, Ordering::Relaxed);
                        }
                        "task_created" | "task_updated" | "task_deleted" => {
                            let next = message["seq"].as_i64().unwrap();
                            if next != seq.load(Ordering::Relaxed) + 1 {
                                self.fleet.out_of_order.fetch_add(1, Ordering::Relaxed);
                            }
                            seq.store(next, Ordering::Relaxed);
                        }
                        "resync" => {
                            self.fleet.resyncs.fetch_add(1, Ordering::Relaxed);
                        }
                        "unsubscribed" if message["reason"] == "unavailable" => {
                            self.fleet.unavailable.fetch_add(1, Ordering::Relaxed);
                            if following {
                                following = false;
                                self.fleet.following.fetch_sub(1, Ordering::Relaxed);
                            }
                            let wait = rand::random_range(100..1000);
                            tokio::time::sleep(Duration::from_millis(wait)).await;
                            since = Some(seq.load(Ordering::Relaxed)).filter(|s| *s >= 0);
                            if socket.send(subscribe(since)).await.is_err() {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                Ok(Message::Close(frame)) => {
                    let code = frame.map_or(1005, |f| u16::from(f.code));
                    *self.fleet.closes.lock().unwrap().entry(code).or_default() += 1;
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if following {
            self.fleet.following.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

enum Refusal {
    /// Nobody listening, or the connection broke before the upgrade.
    Unreachable,
    /// The server answered the upgrade with an HTTP error.
    Refused,
}
