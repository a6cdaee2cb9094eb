//! PostgreSQL for the tests: a fresh database per test on the server `cargo xtask test` started
//! (`TASKTICK_TEST_POSTGRES_URL`), and private throwaway clusters for tests that stop the server.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use backend::store::DatabaseUrl;
use sqlx::{Connection, Executor, PgConnection};
use tempfile::TempDir;

/// Where the PostgreSQL binaries are (Debian's layout unless `TASKTICK_PG_BIN` says otherwise).
fn bin(program: &str) -> PathBuf {
    let dir =
        std::env::var("TASKTICK_PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
    PathBuf::from(dir).join(program)
}

/// The server the tests share; `cargo xtask test` starts one and sets this.
pub fn server_url() -> String {
    std::env::var("TASKTICK_TEST_POSTGRES_URL").expect(
        "the PostgreSQL tests need a server: run them through `cargo xtask test`, which starts \
         one, or set TASKTICK_TEST_POSTGRES_URL=postgres://USER@HOST:PORT/postgres",
    )
}

/// A new, empty database on the shared server.
pub async fn fresh_database() -> DatabaseUrl {
    DatabaseUrl::Postgres(fresh_database_on(&server_url()).await)
}

/// The URL of a new, empty database on the server at `url`.
pub async fn fresh_database_on(url: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "tasktick_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = PgConnection::connect(url)
        .await
        .expect("the test server answers");
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let mut database = url::Url::parse(url).unwrap();
    database.set_path(&name);
    database.to_string()
}

/// A PostgreSQL cluster of the test's own, in a temporary folder, on a free port: a test may stop
/// and restart it without disturbing any other test.
pub struct Cluster {
    dir: TempDir,
    pub port: u16,
}

impl Cluster {
    /// Creates and starts a cluster (as the `postgres` user when running as root: `initdb`
    /// refuses root).
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown the cluster folder");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Self { dir, port };
        run(postgres_command("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(cluster.data()));
        cluster.resume();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The cluster's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the (stopped) server again, waiting until it accepts connections.
    pub fn resume(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        run(postgres_command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-o", &options, "-l"])
            .arg(self.dir.path().join("log"))
            .args(["-w", "start"]));
    }

    /// Stops the server at once (`-m immediate`: like a crash, no checkpoint).
    pub fn stop(&self) {
        run(&mut self.stop_command());
    }

    fn stop_command(&self) -> Command {
        let mut command = postgres_command("pg_ctl");
        command
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"]);
        command
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.stop_command().output();
    }
}

/// A PostgreSQL program, run as the `postgres` user when we are root.
fn postgres_command(program: &str) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(bin(program));
        command
    } else {
        Command::new(bin(program))
    }
}

fn run(command: &mut Command) {
    let status = command
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(status.success(), "{command:?} failed: {status}");
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
