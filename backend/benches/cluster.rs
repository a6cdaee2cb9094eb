//! Benchmark: many idle WebSocket clients spread over several instances on one PostgreSQL
//! database, each receiving every event: memory per connection on each instance, and the time from
//! a `POST` on one instance to the last client of all instances.
//!
//! `cargo bench -p backend --bench cluster -- --postgres URL [--instances 5] [--clients 98000]
//! [--rounds 5]`, URL being a PostgreSQL server's `postgres` database (a fresh database is
//! created). The instances run on core 0, the clients on core 1, in several processes of this
//! benchmark (`--client`), since one process may hold only so many open files here; they connect
//! from several loopback addresses (127.0.0.2 and up) so the ephemeral ports suffice.

// Shared by the benchmarks; each uses part of it.
#[allow(dead_code)]
mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt, stream};
use support::{
    Server, bench_account, fresh_postgres_database, pin_this_process_to_core, signed_in, subscribe,
    ws_request,
};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

/// Connections one client process holds (under the 20,000 open files a process may have here).
const PER_CLIENT_PROCESS: usize = 17_000;
/// Loopback source addresses the clients spread over.
const SOURCE_ADDRESSES: u8 = 8;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    if args.first().map(String::as_str) == Some("--client") {
        return runtime.block_on(client(&args[1..]));
    }
    runtime.block_on(coordinate(&args))
}

fn value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn now_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros()
}

async fn coordinate(args: &[String]) -> anyhow::Result<()> {
    let postgres = value(args, "--postgres").ok_or_else(|| {
        anyhow::anyhow!("--postgres URL is required (a server's postgres database)")
    })?;
    let instances: usize = value(args, "--instances").unwrap_or("5").parse()?;
    let clients: usize = value(args, "--clients").unwrap_or("98000").parse()?;
    let rounds: usize = value(args, "--rounds").unwrap_or("5").parse()?;
    pin_this_process_to_core(1);

    let name = format!("tasktick_bench_cluster_{}", std::process::id());
    let database = fresh_postgres_database(postgres, &name).await?;
    let servers: Vec<Server> = (0..instances)
        .map(|_| Server::start(&database, &[]))
        .collect::<Result<_, _>>()?;
    let (cookie, board) = bench_account(&servers[0].url("")).await?;
    let http = signed_in(&cookie)?;
    for server in &servers {
        http.get(server.url("/healthz"))
            .send()
            .await?
            .error_for_status()?;
    }
    let idle_kib: Vec<u64> = servers
        .iter()
        .map(Server::rss_kib)
        .collect::<Result<_, _>>()?;

    // Client processes, each connecting its share round-robin over the instances.
    let urls: Vec<String> = servers
        .iter()
        .map(|s| format!("ws://{}/ws", s.addr))
        .collect();
    let started = std::time::Instant::now();
    let mut children = Vec::new();
    let (lines, mut reports) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut first = 0;
    while first < clients {
        let count = PER_CLIENT_PROCESS.min(clients - first);
        let mut child = Command::new(std::env::current_exe()?)
            .args([
                "--client",
                "--first",
                &first.to_string(),
                "--count",
                &count.to_string(),
            ])
            .args(["--urls", &urls.join(",")])
            .args(["--cookie", &cookie, "--board", &board.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        children.push(child);
        first += count;
    }
    let mut connected = 0;
    while connected < children.len() {
        let line = tokio::time::timeout(Duration::from_secs(300), reports.recv())
            .await?
            .ok_or_else(|| anyhow::anyhow!("a client process ended"))?;
        if line.starts_with("connected") {
            connected += 1;
        } else {
            eprintln!("client: {line}");
        }
    }
    let connect_time = started.elapsed();
    eprintln!("{clients} clients connected in {connect_time:.1?}; measuring");
    // Let every connection settle (hello sent, buffers at rest) before measuring.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let busy_kib: Vec<u64> = servers
        .iter()
        .map(Server::rss_kib)
        .collect::<Result<_, _>>()?;

    let mut fan_out = Vec::new();
    for round in 0..rounds {
        let writer = &servers[round % instances];
        let sent = now_micros();
        http.post(writer.url(&shared::tasks_path(board)))
            .json(&serde_json::json!({ "title": format!("bench {round}") }))
            .send()
            .await?
            .error_for_status()?;
        // A fresh database: round N's task is event N + 1.
        let seq = round as i64 + 1;
        let mut last = 0u128;
        let mut done = 0;
        while done < children.len() {
            // Generous: near the machine's limit, every core also carries a tick a second per client.
            let line = tokio::time::timeout(Duration::from_secs(300), reports.recv())
                .await?
                .ok_or_else(|| anyhow::anyhow!("a client process ended"))?;
            let mut parts = line.split_whitespace();
            if parts.next() == Some("all") && parts.next() == Some(&seq.to_string()) {
                last = last.max(parts.next().unwrap_or("0").parse()?);
                done += 1;
            }
        }
        fan_out.push(Duration::from_micros((last.saturating_sub(sent)) as u64));
        eprintln!("round {}: {:.2?}", round + 1, fan_out[round]);
    }
    for child in &mut children {
        // Closing stdin tells a client process to leave.
        drop(child.stdin.take());
        let _ = child.wait();
    }
    fan_out.sort();

    println!(
        "tasktick cluster benchmark: {clients} idle WebSocket clients over {instances} instances on one PostgreSQL database"
    );
    println!("  connect all: {connect_time:.1?}");
    for (i, (idle, busy)) in idle_kib.iter().zip(&busy_kib).enumerate() {
        let held = clients / instances + usize::from(i < clients % instances);
        println!(
            "  instance {}: {held} clients, {idle} KiB idle, {busy} KiB connected, {:.1} KiB per connection",
            i + 1,
            busy.saturating_sub(*idle) as f64 / held as f64
        );
    }
    let total: u64 = busy_kib
        .iter()
        .zip(&idle_kib)
        .map(|(b, i)| b.saturating_sub(*i))
        .sum();
    println!(
        "  per connection, all instances: {:.1} KiB",
        total as f64 / clients as f64
    );
    println!(
        "  POST on one instance to the last client of all: median {:.2?}, best {:.2?}, worst {:.2?} ({rounds} rounds)",
        fan_out[rounds / 2],
        fan_out[0],
        fan_out[rounds - 1]
    );
    Ok(())
}

/// A client process: holds `--count` connections, spread round-robin over `--urls`, and reports
/// `connected`, then `all SEQ MICROS` once every connection received task event SEQ (MICROS being
/// the last arrival). Leaves when its standard input closes.
async fn client(args: &[String]) -> anyhow::Result<()> {
    let first: usize = value(args, "--first").unwrap_or("0").parse()?;
    let count: usize = value(args, "--count").unwrap_or("0").parse()?;
    let cookie = value(args, "--cookie").unwrap_or_default().to_owned();
    let board = shared::BoardId(value(args, "--board").unwrap_or("0").parse()?);
    let urls: Vec<String> = value(args, "--urls")
        .unwrap_or_default()
        .split(',')
        .map(str::to_owned)
        .collect();
    let (arrivals, mut arrived) = tokio::sync::mpsc::unbounded_channel::<(i64, u128)>();
    // Each connection starts reading at once: a socket left unread answers no pings, and the
    // server rightly closes a peer that stays silent for --ws-timeout.
    let connected: Vec<anyhow::Result<()>> = stream::iter(first..first + count)
        .map(|i| {
            let url = urls[i % urls.len()].clone();
            let arrivals = arrivals.clone();
            let cookie = cookie.clone();
            async move {
                let server: SocketAddr = url
                    .trim_start_matches("ws://")
                    .trim_end_matches("/ws")
                    .parse()?;
                let source = Ipv4Addr::new(127, 0, 0, 2 + (i % SOURCE_ADDRESSES as usize) as u8);
                let socket = TcpSocket::new_v4()?;
                socket.bind((source, 0).into())?;
                let stream = socket.connect(server).await?;
                let (mut socket, _) =
                    tokio_tungstenite::client_async(ws_request(&url, &cookie)?, stream).await?;
                socket.send(subscribe(board)).await?;
                tokio::spawn(async move {
                    let (_, mut read) = socket.split();
                    while let Some(Ok(message)) = read.next().await {
                        if let Message::Text(text) = message
                            && text.starts_with(r#"{"type":"task_created""#)
                            && let Ok(shared::ServerMsg::TaskCreated { seq, .. }) =
                                serde_json::from_str(&text)
                        {
                            let _ = arrivals.send((seq, now_micros()));
                        }
                    }
                });
                anyhow::Ok(())
            }
        })
        .buffer_unordered(128)
        .collect()
        .await;
    connected.into_iter().collect::<anyhow::Result<()>>()?;
    println!("connected {count}");
    std::io::stdout().flush()?;
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let _ = std::io::stdin().lines().count();
    });
    tokio::pin!(stdin_closed);
    let mut seen: HashMap<i64, (usize, u128)> = HashMap::new();
    loop {
        tokio::select! {
            _ = &mut stdin_closed => return Ok(()),
            Some((seq, at)) = arrived.recv() => {
                let entry = seen.entry(seq).or_default();
                entry.0 += 1;
                entry.1 = entry.1.max(at);
                if entry.0 == count {
                    println!("all {seq} {}", entry.1);
                    std::io::stdout().flush()?;
                }
            }
        }
    }
}
