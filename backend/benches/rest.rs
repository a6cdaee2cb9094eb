//! Benchmark: how many REST requests one instance answers, on SQLite or PostgreSQL: task
//! creations (`POST /api/boards/{board}/tasks`, group commit) or reads of a page of a board's list
//! (`GET ...?limit=50`, plain or conditional).
//!
//! `cargo bench -p backend --bench rest -- [--mode post|get|get-304] [--postgres URL]
//! [--connections 64] [--seconds 10] [--runs 3]`. Each run starts the real `tasktick` binary on a
//! fresh database (a SQLite file, or a new database on the PostgreSQL server at URL), pinned to
//! core 0 when `taskset` is there, while this process holds the connections from core 1. A POST is
//! a new task, acknowledged only once durable; the reads are of a board of 200 tasks, `get-304`
//! with the page's `If-None-Match`. Prints requests per second and latency per run, then the
//! medians. Numbers, not assertions: machines are noisy.

// Shared by the benchmarks; each uses part of it.
#[allow(dead_code)]
mod support;

use std::time::Duration;

use support::{
    Load, Server, bench_account, fresh_postgres_database, load, pin_this_process_to_core, signed_in,
};

/// What each request does.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Post,
    Get,
    GetNotModified,
}

/// Tasks on the board the reads read.
const READ_BOARD_TASKS: usize = 200;

struct Options {
    mode: Mode,
    postgres: Option<String>,
    connections: usize,
    seconds: u64,
    runs: usize,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        mode: Mode::Post,
        postgres: None,
        connections: 64,
        seconds: 10,
        runs: 3,
    };
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--mode" => {
                options.mode = match value()?.as_str() {
                    "post" => Mode::Post,
                    "get" => Mode::Get,
                    "get-304" => Mode::GetNotModified,
                    other => anyhow::bail!("unknown mode {other} (post, get or get-304)"),
                }
            }
            "--postgres" => options.postgres = Some(value()?),
            "--connections" => options.connections = value()?.parse()?,
            "--seconds" => options.seconds = value()?.parse()?,
            "--runs" => options.runs = value()?.parse()?,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    Ok(options)
}

fn main() -> anyhow::Result<()> {
    let options = options()?;
    pin_this_process_to_core(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let store = if options.postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let what = match options.mode {
        Mode::Post => "POST of a task".to_owned(),
        Mode::Get => format!("GET of 50 of {READ_BOARD_TASKS} tasks"),
        Mode::GetNotModified => format!("GET of 50 of {READ_BOARD_TASKS} tasks, If-None-Match"),
    };
    println!(
        "{what} on {store}, {} connections, {} s per run",
        options.connections, options.seconds
    );
    let mut results = Vec::new();
    for run in 1..=options.runs {
        let result = runtime.block_on(one_run(&options, run))?;
        println!(
            "run {run}: {:.0} requests/s, p50 {:.1} ms, p99 {:.1} ms (CPU: server {:.0}%, load client {:.0}%)",
            result.rate, result.p50_ms, result.p99_ms, result.server_cpu, result.client_cpu
        );
        results.push(result);
    }
    let median = |f: fn(&Load) -> f64| {
        let mut values: Vec<f64> = results.iter().map(f).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    println!(
        "median: {:.0} requests/s, p50 {:.1} ms, p99 {:.1} ms",
        median(|r| r.rate),
        median(|r| r.p50_ms),
        median(|r| r.p99_ms)
    );
    Ok(())
}

async fn one_run(options: &Options, run: usize) -> anyhow::Result<Load> {
    let dir = tempfile::tempdir()?;
    let database = match &options.postgres {
        Some(server) => {
            let name = format!("tasktick_bench_{}_{run}", std::process::id());
            fresh_postgres_database(server, &name).await?
        }
        None => dir.path().join("tasks.db").display().to_string(),
    };
    let server = Server::start(&database, &[])?;
    let (cookie, board) = bench_account(&server.url("")).await?;
    let url = server.url(&shared::tasks_path(board));
    let mode = options.mode;
    let mut etag = String::new();
    if mode != Mode::Post {
        let http = signed_in(&cookie)?;
        for i in 0..READ_BOARD_TASKS {
            let body = format!(r#"{{"title":"task {i}"}}"#);
            let response = http.post(&url).header("content-type", "application/json");
            anyhow::ensure!(response.body(body).send().await?.status() == 201);
        }
        let page = http.get(format!("{url}?limit=50")).send().await?;
        etag = page.headers()["etag"].to_str()?.to_owned();
    }
    let request = move |http: &reqwest::Client, c: usize, i: usize| match mode {
        Mode::Post => http
            .post(&url)
            .header("content-type", "application/json")
            .body(format!(r#"{{"title":"connection {c} task {i}"}}"#)),
        Mode::Get => http.get(format!("{url}?limit=50")),
        Mode::GetNotModified => http
            .get(format!("{url}?limit=50"))
            .header("if-none-match", &etag),
    };
    let expected = match mode {
        Mode::Post => 201,
        Mode::Get => 200,
        Mode::GetNotModified => 304,
    };
    // One client per connection: each holds exactly one keep-alive connection.
    load(
        server.child.id(),
        options.connections,
        Duration::from_secs(options.seconds),
        Duration::from_secs(1),
        || signed_in(&cookie),
        request,
        expected,
    )
    .await
}
