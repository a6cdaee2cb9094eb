//! `cargo xtask cluster [N] [--port PORT]`: tasktick as a team would run it, on one machine: a local
//! PostgreSQL, N instances of the release build on it (default 3) and nginx in front of them on one
//! port (default 8080), configured with `deploy/nginx/tasktick-locations.conf`. Ctrl-C stops all.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::command::{run as run_command, tool, workspace_root};
use crate::postgres::Postgres;
use crate::run::build_front_end;
use crate::tools::{ensure_front_end_tools, ensure_nginx, nginx_path};

const USAGE: &str = "usage: cargo xtask cluster [INSTANCES] [--port PORT]";

pub fn run(args: Vec<String>) -> anyhow::Result<()> {
    let (instances, port) = parse(&args)?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // The terminal sends Ctrl-C to the whole process group: the instances and nginx stop
        // by themselves; this process waits for them and removes the database.
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .context("cannot handle Ctrl-C")?;
    }
    ensure_front_end_tools()?;
    ensure_nginx()?;
    build_front_end()?;
    run_command(
        crate::run::build_release_server()
            // Built in from the build just made, instead of a second trunk run.
            .env("TASKTICK_FRONTEND_DIR", workspace_root().join("dist")),
    )?;

    let postgres = Postgres::start()?;
    let mut children = Vec::new();
    let mut upstreams = Vec::new();
    for i in 1..=instances {
        let (child, addr) = start_instance(i, &postgres.url())?;
        children.push(child);
        upstreams.push(addr);
    }
    let dir = std::env::temp_dir().join(format!("tasktick-nginx-{port}"));
    let config = write_nginx_config(&dir, port, &upstreams)?;
    children.push(
        tool(&nginx_path().to_string_lossy())
            .args(["-e", "stderr", "-p"])
            .arg(&dir)
            .arg("-c")
            .arg(&config)
            .spawn()
            .context("cannot start nginx")?,
    );
    println!(
        "\ntasktick cluster: {instances} instances on PostgreSQL at {}, nginx in front:\n\n    open http://127.0.0.1:{port}/\n\nCtrl-C stops everything.",
        postgres.url()
    );
    while !stop.load(Ordering::SeqCst) {
        if let Some(exited) = children
            .iter_mut()
            .find_map(|c| c.try_wait().ok().flatten())
        {
            eprintln!("xtask: a process of the cluster exited ({exited}); stopping the rest");
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for child in &mut children {
        let _ = tool("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
    }
    for child in &mut children {
        let _ = child.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
    drop(postgres);
    println!("tasktick cluster stopped");
    Ok(())
}

fn parse(args: &[String]) -> anyhow::Result<(usize, u16)> {
    let (mut instances, mut port) = (3, 8080);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                port = args.next().and_then(|p| p.parse().ok()).context(USAGE)?;
            }
            number => match number.parse() {
                Ok(n) if n > 0 => instances = n,
                _ => bail!("{USAGE}"),
            },
        }
    }
    Ok((instances, port))
}

/// Starts instance `i` of the release build on a free port; returns it and its address once it
/// logged it. Its log lines go on to the terminal, marked with its number.
fn start_instance(i: usize, database: &str) -> anyhow::Result<(Child, String)> {
    let binary = workspace_root().join("target/release/tasktick");
    let mut child = tool(&binary.to_string_lossy())
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--database",
            database,
            "--static-dir",
        ])
        .arg(workspace_root().join("dist"))
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let stderr = BufReader::new(child.stderr.take().context("no stderr")?);
    let (found, address) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if let Some((_, rest)) = line.split_once("listening on http://") {
                let _ = found.send(rest.trim().to_owned());
            }
            eprintln!("[instance {i}] {line}");
        }
    });
    let addr = address
        .recv_timeout(Duration::from_secs(30))
        .with_context(|| format!("instance {i} did not start"))?;
    Ok((child, addr))
}

/// `deploy/nginx/local-cluster.conf.in` filled in: nginx proxies `port` to `upstreams` with the
/// rules in `deploy/`, and keeps its files in `dir`.
fn write_nginx_config(dir: &Path, port: u16, upstreams: &[String]) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let deploy = workspace_root().join("deploy/nginx");
    let template = std::fs::read_to_string(deploy.join("local-cluster.conf.in"))
        .context("cannot read the nginx template in deploy/")?;
    let servers: Vec<String> = upstreams
        .iter()
        // Never marked down: a dead instance on loopback refuses at once, and nginx moves on.
        .map(|addr| format!("        server {addr} max_fails=0;"))
        .collect();
    let config = template
        .replace("@DIR@", &dir.display().to_string())
        .replace("@PORT@", &port.to_string())
        .replace("@SERVERS@", &servers.join("\n"))
        .replace(
            "@LOCATIONS@",
            &deploy.join("tasktick-locations.conf").display().to_string(),
        );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, config).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}
