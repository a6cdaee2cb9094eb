//! A throwaway PostgreSQL cluster for the tests and for `cargo xtask cluster`: a fresh data folder
//! in the temp directory, a free port on 127.0.0.1, stopped and removed when dropped.
//!
//! `initdb` refuses to run as root, so as root every PostgreSQL program runs as the `postgres`
//! user (which Debian's package creates).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::command::{run, tool};
use crate::tools::{apt_install, is_root};

/// A running cluster; dropping it stops the server and deletes its files.
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
}

impl Postgres {
    /// Installs PostgreSQL if missing, then creates and starts a cluster.
    pub fn start() -> anyhow::Result<Self> {
        let bin = match find_bin() {
            Some(bin) => bin,
            None => {
                apt_install(&["postgresql"])?;
                find_bin().context("postgresql is installed but no initdb was found")?
            }
        };
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("tasktick-postgres-{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let cluster = Self { bin, dir, port };
        if is_root() {
            run(tool("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&cluster.dir))?;
        }
        run(cluster
            .command("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(cluster.data()))?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300",
            cluster.dir.display()
        );
        run(cluster
            .command("pg_ctl")
            .arg("-D")
            .arg(cluster.data())
            .args(["-o", &options, "-l"])
            .arg(cluster.dir.join("log"))
            .args(["-w", "start"]))?;
        Ok(cluster)
    }

    /// The `postgres` database of the cluster.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Where the PostgreSQL programs are (the tests start clusters of their own with them).
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A PostgreSQL program, as the `postgres` user when we are root.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if is_root() {
            let mut command = tool("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            tool(&program.to_string_lossy())
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let stopped = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "stop"])
            .output();
        if !stopped.is_ok_and(|out| out.status.success()) {
            eprintln!("xtask: could not stop PostgreSQL in {}", self.dir.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest `/usr/lib/postgresql/N/bin` with an `initdb`, or `TASKTICK_PG_BIN`.
pub fn find_bin() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("TASKTICK_PG_BIN") {
        return Some(PathBuf::from(bin));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}
