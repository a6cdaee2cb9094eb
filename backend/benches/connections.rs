//! Benchmark: what many idle WebSocket connections cost the server, and how fast one task event
//! reaches all of them.
//!
//! `cargo bench -p backend --bench connections -- [CONNECTIONS]` (default 5000). It starts the real
//! `tasktick` binary with a fresh database, opens the connections from this process, and reads the
//! server's resident memory from `/proc` (Linux). Numbers, not assertions: machines are noisy.

// Shared by the benchmarks; each uses part of it.
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt, stream};
use shared::ServerMsg;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use support::{Server, bench_account, signed_in, subscribe, ws_request};

/// Connections opened at once while connecting.
const CONNECT_CONCURRENCY: usize = 64;
/// Events fanned out, to take the median of.
const ROUNDS: usize = 7;

fn main() -> anyhow::Result<()> {
    let connections: usize = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .map(|arg| arg.parse())
        .transpose()?
        .unwrap_or(5_000);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(connections))
}

async fn run(connections: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(&dir.path().join("bench.db").display().to_string(), &[])?;
    let url = |path: &str| format!("http://{}{path}", server.addr);
    let (cookie, board) = bench_account(&url("")).await?;
    let http = signed_in(&cookie)?;
    // Warm the server up (database pool, clock) before the baseline.
    http.get(url("/healthz")).send().await?.error_for_status()?;
    let idle_kib = server.rss_kib()?;

    let started = Instant::now();
    let ws_url = format!("ws://{}/ws", server.addr);
    let (arrivals, mut arrived) = mpsc::unbounded_channel::<i64>();
    let sockets: Vec<_> = stream::iter(0..connections)
        .map(|_| {
            let request = ws_request(&ws_url, &cookie);
            async move {
                let (mut socket, response) = tokio_tungstenite::connect_async(request?).await?;
                socket.send(subscribe(board)).await?;
                anyhow::Ok((socket, response))
            }
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    for socket in sockets {
        let (socket, _) = socket?;
        let arrivals = arrivals.clone();
        tokio::spawn(async move {
            let (_, mut read) = socket.split();
            while let Some(Ok(message)) = read.next().await {
                if let Message::Text(text) = message
                    && let Ok(ServerMsg::TaskCreated { seq, .. }) = serde_json::from_str(&text)
                {
                    let _ = arrivals.send(seq);
                }
            }
        });
    }
    let connect_time = started.elapsed();
    // Let every connection settle (hello sent, buffers at rest) before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let busy_kib = server.rss_kib()?;

    let mut fan_out = Vec::new();
    for round in 0..ROUNDS {
        let sent = Instant::now();
        http.post(url(&shared::tasks_path(board)))
            .json(&serde_json::json!({ "title": format!("bench {round}") }))
            .send()
            .await?
            .error_for_status()?;
        let mut received = 0;
        while received < connections {
            let seq = tokio::time::timeout(Duration::from_secs(60), arrived.recv())
                .await?
                .ok_or_else(|| anyhow::anyhow!("the clients stopped"))?;
            if seq == round as i64 + 1 {
                received += 1;
            }
        }
        fan_out.push(sent.elapsed());
    }
    fan_out.sort();

    let per_connection = (busy_kib.saturating_sub(idle_kib)) as f64 / connections as f64;
    println!("tasktick WebSocket benchmark, {connections} connections");
    println!("  connect all:               {connect_time:.2?}");
    println!("  server memory idle:        {idle_kib} KiB");
    println!("  server memory connected:   {busy_kib} KiB");
    println!("  per connection:            {per_connection:.1} KiB");
    println!(
        "  one event to every client: median {:.2?}, best {:.2?}, worst {:.2?} ({ROUNDS} rounds, \
         POST sent to last client received)",
        fan_out[ROUNDS / 2],
        fan_out[0],
        fan_out[ROUNDS - 1]
    );
    Ok(())
}
