//! Project automation, run as `cargo xtask <command>`:
//!
//! - `cargo xtask run`: install the front-end toolchain if missing, build the front end for release,
//!   and start the release server with it built in.
//! - `cargo xtask tools`: install the front-end toolchain (trunk, wasm-bindgen, wasm-opt), which a
//!   release build of the server needs (it builds the front end into itself).
//! - `cargo xtask test`: install everything the tests need if missing (PostgreSQL and nginx too),
//!   then run every check: fmt, clippy, backend unit and integration tests on SQLite and on a
//!   throwaway PostgreSQL, browser component tests, end-to-end tests.
//! - `cargo xtask cluster [N]`: PostgreSQL, N instances and nginx in front of them, until Ctrl-C.
//! - `cargo xtask bench [-- ARGS]`: tasktick beside Node.js `ws` and axum's example pattern on this
//!   machine; writes `BENCHMARKS.md`.

mod bench;
mod cluster;
mod command;
mod compress;
mod postgres;
mod run;
mod test;
mod tools;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <run|test|tools|cluster|bench> [-- SERVER FLAGS for run | BENCH ARGS for bench] [INSTANCES] [--port PORT]";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let result = match args.next().as_deref() {
        Some("run") => run::run(args.skip_while(|a| a == "--").collect()),
        Some("test") => test::run_all(),
        Some("tools") => tools::ensure_front_end_tools(),
        Some("cluster") => cluster::run(args.collect()),
        Some("bench") => bench::run_all(args.skip_while(|a| a == "--").collect()),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
