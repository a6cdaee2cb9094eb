//! `cargo xtask bench [-- BENCH ARGS]`: tasktick beside its peers on this machine, in one run.
//! Installs the Node.js peer's packages (npm), builds the axum peer and tasktick for release, runs
//! `cargo bench -p backend --bench peers` (servers on core 0, the load client on core 1), then
//! writes `BENCHMARKS.md`: the machine, the date, the exact command and the table.

use std::fmt::Write as _;
use std::process::Stdio;

use anyhow::{Context, bail};

use crate::command::{cargo, first_line_of, run, tool, workspace_root};

pub fn run_all(bench_args: Vec<String>) -> anyhow::Result<()> {
    if first_line_of(tool("node").arg("--version")).is_none() {
        crate::tools::apt_install(&["nodejs", "npm"])?;
    }
    if first_line_of(tool("taskset").arg("-V")).is_none() {
        bail!("the benchmark pins servers and load to separate cores with `taskset` (util-linux)");
    }
    // A release build of the server builds the front end into itself.
    crate::tools::ensure_front_end_tools()?;
    run(tool("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(workspace_root().join("bench/peers/node-ws")))?;
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "peer-axum-broadcast",
        "-p",
        "backend",
    ]))?;

    let command = format!(
        "cargo bench -p backend --bench peers -- {}",
        bench_args.join(" ")
    );
    println!("\n==> {command}");
    let output = cargo()
        .args(["bench", "-p", "backend", "--bench", "peers", "--"])
        .args(&bench_args)
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run the benchmark")?;
    let printed = String::from_utf8_lossy(&output.stdout);
    print!("{printed}");
    if !output.status.success() {
        bail!("the benchmark failed ({})", output.status);
    }
    let report = report(command.trim_end(), &printed);
    std::fs::write(workspace_root().join("BENCHMARKS.md"), report)?;
    println!("\nwrote BENCHMARKS.md");
    Ok(())
}

/// The machine in one paragraph: CPU model and cores, memory, kernel, and the runtimes compared.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| format!("{:.0} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let kernel = first_line_of(tool("uname").arg("-sr")).unwrap_or_default();
    let os = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|l| l.trim_matches('"').to_owned())
        .unwrap_or_default();
    let rustc = first_line_of(tool("rustc").arg("--version")).unwrap_or_default();
    let node = first_line_of(tool("node").arg("--version")).unwrap_or_default();
    let open_files = first_line_of(tool("sh").args(["-c", "ulimit -Hn"])).unwrap_or_default();
    format!(
        "{model}, {cores} cores, {memory}; {os}, {kernel}; {rustc}; Node.js {node}; \
         open files per process (hard limit) {open_files}"
    )
}

fn report(command: &str, printed: &str) -> String {
    let table: String = printed
        .lines()
        .skip_while(|l| !l.starts_with("| medians"))
        .collect::<Vec<_>>()
        .join("\n");
    let runs: String = printed
        .lines()
        .take_while(|l| !l.starts_with("| medians"))
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::new();
    let date = first_line_of(tool("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])).unwrap_or_default();
    let _ = write!(
        out,
        "# Benchmarks\n\n\
         tasktick beside what people would otherwise pick, measured together on one machine by \
         `cargo xtask bench` (this file is its output; run it again to check). The peers live in \
         `bench/peers/`: Node.js with `ws` 8 as its README teaches, and axum's WebSocket example \
         pattern (default settings, a broadcast channel, a task per direction per connection). \
         All three serve the same feed: a `tick` on every wall-clock second and a `task_created` \
         per `POST`, the same JSON and paths.\n\n\
         - Date: {date}\n\
         - Machine: {}\n\
         - Command: `cargo xtask bench` (runs `{command}`)\n\
         - Method: every server on core 0 (`taskset -c 0`), the Rust load client on core 1. \
         Memory is the server's resident memory after the clients connected minus before, per \
         client. Tick delivery: the tick's server time (the whole second) to the client's \
         receipt. Event fan-out: `POST` sent to each client's receipt (p50, p99 over all \
         deliveries of five events) and to the last client (median of the five). Clients connect \
         from 127.0.0.2 and up. Each figure is the median of the runs. The load client reads \
         every message on its one core too: at 15,000 clients its own time to take them all in \
         is part of every server's figures alike, so differences between servers show smaller \
         than they are.\n\
         - Not like for like: tasktick's `POST` is durable (SQLite, `synchronous=FULL`, group \
         commit) and checks a session, a membership, the title and a rate limit; the peers keep \
         tasks in a JavaScript array or a `Vec` and check nothing. tasktick's WebSocket clients \
         also sign in and subscribe to a board.\n\n\
         {table}\n\n\
         ## Every run\n\n```text\n{runs}\n```\n",
        machine()
    );
    out
}
