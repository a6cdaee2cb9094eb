//! `cargo xtask test`: every check CI runs, in order of cost, stopping at the first failure.

use std::process::Command;

use crate::command::{cargo, run};
use crate::postgres::{Postgres, find_bin};
use crate::run::build_front_end;
use crate::tools::{ensure_browser, ensure_front_end_tools, ensure_nginx, nginx_path};

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Installs what is missing, then runs fmt, clippy, the host tests (on SQLite and on a throwaway
/// PostgreSQL, or the one `TASKTICK_TEST_POSTGRES_URL` names), the front end's state machine on
/// the host, the browser component tests, and the end-to-end tests against a fresh release build
/// of the front end (and of the binary, which carries it).
pub fn run_all() -> anyhow::Result<()> {
    ensure_front_end_tools()?;
    ensure_browser()?;
    ensure_nginx()?;

    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--exclude",
        "frontend",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo().args([
        "clippy",
        "--package",
        "frontend",
        "--target",
        WASM_TARGET,
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;

    let (_cluster, postgres) = match std::env::var("TASKTICK_TEST_POSTGRES_URL") {
        Ok(url) => (
            None,
            TestPostgres {
                url,
                bin: find_bin(),
            },
        ),
        Err(_) => {
            let cluster = Postgres::start()?;
            let postgres = TestPostgres {
                url: cluster.url(),
                bin: Some(cluster.bin().to_path_buf()),
            };
            (Some(cluster), postgres)
        }
    };

    run(postgres.pass_to(cargo().args(["test", "--workspace", "--exclude", "frontend"])))?;
    // The REST and WebSocket suite once more, on PostgreSQL. The store conformance and the
    // multi-instance tests ran on both stores already.
    run(postgres
        .pass_to(cargo().args([
            "test",
            "--package",
            "backend",
            "--test",
            "api",
            "--",
            "--skip",
            "store::",
            "--skip",
            "store_accounts::",
            "--skip",
            "cluster::",
            "--skip",
            "operator::",
        ]))
        .env("TASKTICK_TEST_STORE", "postgres"))?;
    // The front end's pure parts (the live connection's state machine) on the host: no browser.
    run(cargo().args(["test", "--package", "frontend", "--lib"]))?;
    run(cargo()
        .args(["test", "--package", "frontend", "--target", WASM_TARGET])
        .env("CHROMEDRIVER", chromedriver())
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120"))?;

    build_front_end()?;
    crate::run::check_bundle_budget(&crate::run::report_bundle_size()?)?;
    // The binary an operator installs: its build script builds the front end into it (as
    // `cargo install --path backend` does); one end-to-end test runs it from an empty folder.
    run(&mut crate::run::build_release_server())?;
    // One browser at a time: two cores do not run several Chromiums and a server well.
    run(postgres
        .pass_to(cargo().args([
            "test",
            "--package",
            "backend",
            "--test",
            "e2e",
            "--",
            "--ignored",
            "--test-threads=1",
            // The figures the suite measures (load to first tick, a big board's live change).
            "--show-output",
        ]))
        .env("CHROMEDRIVER", chromedriver())
        .env("TASKTICK_NGINX", nginx_path()))?;
    println!("\nxtask: every check passed");
    Ok(())
}

/// The PostgreSQL server the tests use, and where its programs are (for the tests that start and
/// stop clusters of their own).
struct TestPostgres {
    url: String,
    bin: Option<std::path::PathBuf>,
}

impl TestPostgres {
    fn pass_to<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        command.env("TASKTICK_TEST_POSTGRES_URL", &self.url);
        if let Some(bin) = &self.bin {
            command.env("TASKTICK_PG_BIN", bin);
        }
        command
    }
}

fn chromedriver() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}
