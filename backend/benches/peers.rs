//! Benchmark: tasktick beside what people would otherwise pick, on this machine, under the same
//! load, in one run: Node.js with `ws` 8 (`bench/peers/node-ws`) and axum's example pattern
//! (`bench/peers/axum-broadcast`). Each serves the same feed (a `tick` on every wall-clock second,
//! a `task_created` per POST, the same JSON and paths).
//!
//! `cargo xtask bench` installs and builds the peers and runs this; directly:
//! `cargo bench -p backend --bench peers -- [--runs 3] [--sizes 5000,15000] [--only NAME]`.
//! Every server runs on core 0, this load client on core 1. Per server and run: a fresh process
//! takes `POST` then `GET ?limit=50` from 64 connections for 5 s each; then for each size a fresh
//! process takes that many idle WebSocket clients (spread over 127.0.0.2 and up) and is measured:
//! memory per connection, tick delivery (server time of the tick to client receive) and the
//! server's CPU time per tick over five
//! ticks, and fan-out of five task events (POST sent to each client's receive, and to the last).
//! Prints every run, then a Markdown table of medians with ratios. Numbers, not assertions.

// Shared by the benchmarks; each uses part of it.
#[allow(dead_code)]
mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt, stream};
use tokio::net::TcpSocket;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use support::{
    Load, Server, bench_account, cpu_time, load, pin_this_process_to_core, subscribe, ws_request,
};

/// Clients opening at once while connecting.
const CONNECT_CONCURRENCY: usize = 64;
/// Connections per source address (a loopback address has about 28,000 ports).
const PER_SOURCE_ADDRESS: usize = 10_000;
/// Ticks measured per size.
const TICKS: usize = 5;
/// Task events fanned out per size.
const EVENTS: usize = 5;
/// REST connections and seconds per phase.
const REST_CONNECTIONS: usize = 64;
const REST_SECONDS: u64 = 5;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Tasktick,
    NodeWs,
    AxumExample,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Tasktick, Kind::NodeWs, Kind::AxumExample];

    fn name(self) -> &'static str {
        match self {
            Kind::Tasktick => "tasktick",
            Kind::NodeWs => "Node.js ws 8",
            Kind::AxumExample => "axum example pattern",
        }
    }

    fn id(self) -> &'static str {
        match self {
            Kind::Tasktick => "tasktick",
            Kind::NodeWs => "node",
            Kind::AxumExample => "axum",
        }
    }
}

struct Options {
    runs: usize,
    sizes: Vec<usize>,
    only: Option<String>,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        runs: 3,
        sizes: vec![5_000, 15_000],
        only: None,
    };
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--runs" => options.runs = value()?.parse()?,
            "--sizes" => {
                options.sizes = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--only" => options.only = Some(value()?),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    Ok(options)
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("backend sits in the workspace")
        .to_owned()
}

/// A fresh server of `kind`, listening, pinned to core 0.
fn start(kind: Kind, dir: &tempfile::TempDir) -> anyhow::Result<Server> {
    let program: PathBuf;
    let mut args: Vec<String> = Vec::new();
    match kind {
        Kind::Tasktick => {
            let database = dir.path().join(format!("bench-{}.db", now_ms()));
            return Server::start(&database.display().to_string(), &[]);
        }
        Kind::NodeWs => {
            program = "node".into();
            let script = workspace().join("bench/peers/node-ws/server.js");
            args.push(script.display().to_string());
        }
        Kind::AxumExample => {
            program = std::env::var_os("TASKTICK_PEER_AXUM")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace().join("target/release/peer-axum-broadcast"));
        }
    }
    args.push("0".into());
    let mut child = Command::new("taskset")
        .args(["-c", "0"])
        .arg(&program)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", program.display()))?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let line = lines
        .next()
        .ok_or_else(|| anyhow::anyhow!("{} said nothing", program.display()))??;
    let addr: SocketAddr = line
        .split_once("listening on http://")
        .ok_or_else(|| anyhow::anyhow!("unexpected first line {line:?}"))?
        .1
        .trim()
        .parse()?;
    // Keep reading, so that the peer never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    Ok(Server { child, addr })
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

/// How a client reaches the feed: tasktick needs an account and a subscription, the peers not.
#[derive(Clone)]
struct Access {
    cookie: Option<String>,
    board: shared::BoardId,
}

async fn access(kind: Kind, server: &Server) -> anyhow::Result<Access> {
    Ok(match kind {
        Kind::Tasktick => {
            let (cookie, board) = bench_account(&server.url("")).await?;
            Access {
                cookie: Some(cookie),
                board,
            }
        }
        _ => Access {
            cookie: None,
            board: shared::BoardId(1),
        },
    })
}

fn http_client(access: &Access) -> anyhow::Result<reqwest::Client> {
    match &access.cookie {
        Some(cookie) => support::signed_in(cookie),
        None => Ok(reqwest::Client::new()),
    }
}

/// `POST`s (or `GET ?limit=50`s) from [`REST_CONNECTIONS`] connections for [`REST_SECONDS`].
async fn rest_phase(server: &Server, access: &Access, post: bool) -> anyhow::Result<Load> {
    let url = server.url(&shared::tasks_path(access.board));
    let request = move |http: &reqwest::Client, c: usize, i: usize| {
        if post {
            http.post(&url)
                .header("content-type", "application/json")
                .body(format!(r#"{{"title":"connection {c} task {i}"}}"#))
        } else {
            http.get(format!("{url}?limit=50"))
        }
    };
    load(
        server.child.id(),
        REST_CONNECTIONS,
        Duration::from_secs(REST_SECONDS),
        Duration::from_millis(500),
        || http_client(access),
        request,
        if post { 201 } else { 200 },
    )
    .await
}

/// The number after `key` in `text` (a JSON field found by its name; the feed's messages name
/// each field once).
fn number_after(text: &str, key: &str) -> Option<i64> {
    let rest = &text[text.find(key)? + key.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// What a feed message says, read without parsing the whole JSON: at 15,000 clients the load
/// client's own time per message is in every delivery figure, so it does as little as it can.
fn seen(text: &str, at: f64) -> Option<Seen> {
    if text.contains(r#""type":"tick""#) {
        Some(Seen::Tick(number_after(text, r#""server_time_ms":"#)?, at))
    } else if text.contains(r#""type":"task_created""#) {
        Some(Seen::Event(number_after(text, r#""seq":"#)?, at))
    } else {
        None
    }
}

/// What a client saw: a tick (its server time) or a task event (its seq), when (wall-clock ms).
enum Seen {
    Tick(i64, f64),
    Event(i64, f64),
}

/// One size's figures.
#[derive(Clone, Copy, Default)]
struct Feed {
    kib_per_connection: f64,
    tick_p50: f64,
    tick_p99: f64,
    ticks_missed: usize,
    /// Server CPU time per tick sent to every client, in ms: what a broadcast costs the server,
    /// whatever the load client takes to read it.
    tick_cpu_ms: f64,
    event_p50: f64,
    event_p99: f64,
    /// Median over the events of the time to the last client.
    event_last: f64,
}

async fn connect(
    server: SocketAddr,
    access: &Access,
    i: usize,
    seen_tx: mpsc::UnboundedSender<Seen>,
    recording: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let url = format!("ws://{server}/ws");
    let request = match &access.cookie {
        Some(cookie) => ws_request(&url, cookie)?,
        None => url.as_str().into_client_request()?,
    };
    let source = Ipv4Addr::new(127, 0, 0, 2 + (i / PER_SOURCE_ADDRESS) as u8);
    let socket = TcpSocket::new_v4()?;
    socket.bind((source, 0).into())?;
    let stream = socket.connect(server).await?;
    let (mut socket, _) = tokio_tungstenite::client_async(request, stream).await?;
    if access.cookie.is_some() {
        socket.send(subscribe(access.board)).await?;
    }
    tokio::spawn(async move {
        let (_write, mut read) = socket.split();
        while let Some(Ok(message)) = read.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let at = now_ms();
            if !recording.load(Ordering::Relaxed) {
                continue;
            }
            if let Some(seen_now) = seen(&text, at)
                && seen_tx.send(seen_now).is_err()
            {
                break;
            }
        }
    });
    Ok(())
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q) as usize]
}

async fn feed_phase(kind: Kind, size: usize, dir: &tempfile::TempDir) -> anyhow::Result<Feed> {
    let server = start(kind, dir)?;
    let access = access(kind, &server).await?;
    let http = http_client(&access)?;
    let tasks_url = server.url(&shared::tasks_path(access.board));
    // Warm up (and, on tasktick, create the board's first event) before the baseline.
    http.post(&tasks_url)
        .header("content-type", "application/json")
        .body(r#"{"title":"warm up"}"#)
        .send()
        .await?
        .error_for_status()?;
    let idle_kib = support::rss_kib(server.child.id())?;

    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let recording = Arc::new(AtomicBool::new(false));
    let connected: Vec<anyhow::Result<()>> = stream::iter(0..size)
        .map(|i| connect(server.addr, &access, i, seen_tx.clone(), recording.clone()))
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    let failed = connected.iter().filter(|c| c.is_err()).count();
    if let Some(Err(error)) = connected.into_iter().find(Result::is_err) {
        anyhow::bail!("{failed} of {size} connections failed, e.g. {error}");
    }
    drop(seen_tx);
    // Every connection settled (greeting sent, buffers at rest).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let busy_kib = support::rss_kib(server.child.id())?;

    // Ticks: those of the next TICKS whole seconds.
    let from = (now_ms() / 1000.0).ceil() as i64 * 1000 + 1000;
    let until = from + (TICKS as i64 - 1) * 1000;
    recording.store(true, Ordering::Relaxed);
    // The server's CPU over whole seconds that hold exactly the measured ticks (and its pings).
    tokio::time::sleep(Duration::from_millis(
        ((from - 500) as f64 - now_ms()).max(0.0) as u64,
    ))
    .await;
    let cpu_before = cpu_time(server.child.id());
    let cpu_from = now_ms();
    let mut ticks = Vec::with_capacity(size * TICKS);
    let mut events: HashMap<i64, Vec<f64>> = HashMap::new();
    let wait_ticks = tokio::time::Instant::now()
        + Duration::from_millis((until as f64 - now_ms()).max(0.0) as u64 + 3000);
    while ticks.len() < size * TICKS {
        match tokio::time::timeout_at(wait_ticks, seen.recv()).await {
            Ok(Some(Seen::Tick(time, at))) if (from..=until).contains(&time) => {
                ticks.push(at - time as f64)
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    let ticks_missed = size * TICKS - ticks.len();
    tokio::time::sleep(Duration::from_millis(
        ((until + 500) as f64 - now_ms()).max(0.0) as u64,
    ))
    .await;
    let cpu_seconds = (now_ms() - cpu_from) / 1000.0;
    let tick_cpu_ms =
        (cpu_time(server.child.id()) - cpu_before).as_secs_f64() * 1000.0 / cpu_seconds.round();

    // Task events: one POST at a time, each awaited by every client.
    let mut sent_at = HashMap::new();
    let mut deliveries = Vec::with_capacity(size * EVENTS);
    let mut to_last = Vec::new();
    for round in 0..EVENTS {
        let sent = now_ms();
        let response = http
            .post(&tasks_url)
            .header("content-type", "application/json")
            .body(format!(r#"{{"title":"fan-out {round}"}}"#))
            .send()
            .await?
            .error_for_status()?;
        response.bytes().await?;
        let seq = round as i64 + 2; // after the warm-up task
        sent_at.insert(seq, sent);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while events.get(&seq).map_or(0, Vec::len) < size {
            match tokio::time::timeout_at(deadline, seen.recv()).await {
                Ok(Some(Seen::Event(seq, at))) => events.entry(seq).or_default().push(at),
                Ok(Some(Seen::Tick(..))) => {}
                Ok(None) | Err(_) => break,
            }
        }
        let arrivals = events.get(&seq).cloned().unwrap_or_default();
        anyhow::ensure!(
            arrivals.len() == size,
            "{}: event {seq} reached {} of {size} clients",
            kind.name(),
            arrivals.len()
        );
        deliveries.extend(arrivals.iter().map(|at| at - sent));
        to_last.push(arrivals.iter().copied().fold(f64::MIN, f64::max) - sent);
    }
    ticks.sort_by(f64::total_cmp);
    deliveries.sort_by(f64::total_cmp);
    to_last.sort_by(f64::total_cmp);
    Ok(Feed {
        kib_per_connection: busy_kib.saturating_sub(idle_kib) as f64 / size as f64,
        tick_p50: percentile(&ticks, 0.5),
        tick_p99: percentile(&ticks, 0.99),
        ticks_missed,
        tick_cpu_ms,
        event_p50: percentile(&deliveries, 0.5),
        event_p99: percentile(&deliveries, 0.99),
        event_last: percentile(&to_last, 0.5),
    })
}

/// One run of one server: its REST figures and its feed figures per size.
struct RunResult {
    post: Load,
    get: Load,
    feeds: Vec<Feed>,
}

async fn one_run(kind: Kind, sizes: &[usize]) -> anyhow::Result<RunResult> {
    let dir = tempfile::tempdir()?;
    let (post, get) = {
        let server = start(kind, &dir)?;
        let access = access(kind, &server).await?;
        let post = rest_phase(&server, &access, true).await?;
        println!(
            "  POST: {:.0} requests/s, p50 {:.1} ms, p99 {:.1} ms (CPU: server {:.0}%, client {:.0}%)",
            post.rate, post.p50_ms, post.p99_ms, post.server_cpu, post.client_cpu
        );
        let get = rest_phase(&server, &access, false).await?;
        println!(
            "  GET ?limit=50: {:.0} requests/s, p50 {:.1} ms, p99 {:.1} ms (CPU: server {:.0}%, client {:.0}%)",
            get.rate, get.p50_ms, get.p99_ms, get.server_cpu, get.client_cpu
        );
        (post, get)
    };
    let mut feeds = Vec::new();
    for &size in sizes {
        let feed = feed_phase(kind, size, &dir).await?;
        println!(
            "  {size} clients: {:.1} KiB per connection; tick p50 {:.0} ms, p99 {:.0} ms ({} missed, \
             server CPU {:.0} ms per tick); event p50 {:.0} ms, p99 {:.0} ms, last client {:.0} ms",
            feed.kib_per_connection,
            feed.tick_p50,
            feed.tick_p99,
            feed.ticks_missed,
            feed.tick_cpu_ms,
            feed.event_p50,
            feed.event_p99,
            feed.event_last
        );
        feeds.push(feed);
    }
    Ok(RunResult { post, get, feeds })
}

fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.into_iter().collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> anyhow::Result<()> {
    let options = options()?;
    pin_this_process_to_core(1);
    // One thread: the load client's core does nothing but this.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| options.only.as_deref().is_none_or(|only| only == k.id()))
        .collect();
    let mut results: Vec<(Kind, Vec<RunResult>)> = kinds.iter().map(|&k| (k, Vec::new())).collect();
    // Runs interleave the servers, so that a slow minute of the machine hits all of them.
    for run in 1..=options.runs {
        for (kind, runs) in &mut results {
            println!("run {run}, {}:", kind.name());
            runs.push(runtime.block_on(one_run(*kind, &options.sizes))?);
        }
    }
    print_table(&results, &options.sizes);
    Ok(())
}

/// The medians as a Markdown table, with each peer's figure over tasktick's.
fn print_table(results: &[(Kind, Vec<RunResult>)], sizes: &[usize]) {
    let mut rows: Vec<(String, Vec<f64>, bool)> = Vec::new();
    let metric = |f: &dyn Fn(&RunResult) -> f64| -> Vec<f64> {
        results
            .iter()
            .map(|(_, runs)| median(runs.iter().map(f)))
            .collect()
    };
    for (i, size) in sizes.iter().enumerate() {
        let at = |f: fn(&Feed) -> f64| move |r: &RunResult| f(&r.feeds[i]);
        rows.push((
            format!("{size} clients: server memory per idle connection (KiB)"),
            metric(&at(|f| f.kib_per_connection)),
            true,
        ));
        rows.push((
            format!("{size} clients: tick delivery p50 (ms)"),
            metric(&at(|f| f.tick_p50)),
            true,
        ));
        rows.push((
            format!("{size} clients: tick delivery p99 (ms)"),
            metric(&at(|f| f.tick_p99)),
            true,
        ));
        rows.push((
            format!("{size} clients: server CPU per tick to all (ms)"),
            metric(&at(|f| f.tick_cpu_ms)),
            true,
        ));
        rows.push((
            format!("{size} clients: ticks missed"),
            metric(&at(|f| f.ticks_missed as f64)),
            true,
        ));
        rows.push((
            format!("{size} clients: event fan-out p50 (ms)"),
            metric(&at(|f| f.event_p50)),
            true,
        ));
        rows.push((
            format!("{size} clients: event fan-out p99 (ms)"),
            metric(&at(|f| f.event_p99)),
            true,
        ));
        rows.push((
            format!("{size} clients: POST to the last client (ms)"),
            metric(&at(|f| f.event_last)),
            true,
        ));
    }
    rows.push((
        "POST a task: requests/s".into(),
        metric(&|r| r.post.rate),
        false,
    ));
    rows.push((
        "POST a task: p99 (ms)".into(),
        metric(&|r| r.post.p99_ms),
        true,
    ));
    rows.push((
        "GET ?limit=50: requests/s".into(),
        metric(&|r| r.get.rate),
        false,
    ));
    rows.push((
        "GET ?limit=50: p99 (ms)".into(),
        metric(&|r| r.get.p99_ms),
        true,
    ));

    let names: Vec<&str> = results.iter().map(|(k, _)| k.name()).collect();
    println!();
    println!(
        "| medians of {} runs | {} |",
        results.first().map_or(0, |(_, r)| r.len()),
        names.join(" | ")
    );
    println!("|---|{}", "---|".repeat(names.len()));
    for (label, values, lower_is_better) in rows {
        let tasktick = values.first().copied().unwrap_or(f64::NAN);
        let cells: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, &value)| {
                let shown = if value.abs() >= 100.0 || value == value.trunc() {
                    format!("{value:.0}")
                } else {
                    format!("{value:.1}")
                };
                if i == 0 || tasktick == 0.0 || value == 0.0 || !value.is_finite() {
                    return shown;
                }
                // How tasktick compares: above 1 means tasktick is better.
                let ratio = if lower_is_better {
                    value / tasktick
                } else {
                    tasktick / value
                };
                format!("{shown} ({ratio:.2}x)")
            })
            .collect();
        println!("| {label} | {} |", cells.join(" | "));
    }
    println!();
    println!(
        "In brackets: how many times better tasktick is on that row (below 1: the peer is better)."
    );
}
