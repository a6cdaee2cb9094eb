//! Project automation, run as `cargo xtask <command>`:
//!
//! - `cargo xtask run`: install the front-end toolchain if missing, build the front end for release,
//!   and start the server on it.
//! - `cargo xtask test`: install everything the tests need if missing, then run every check: fmt,
//!   clippy, backend unit and integration tests, browser component tests, end-to-end tests.

mod command;
mod run;
mod test;
mod tools;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <run|test> [-- SERVER FLAGS for run]";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let result = match args.next().as_deref() {
        Some("run") => run::run(args.skip_while(|a| a == "--").collect()),
        Some("test") => test::run_all(),
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
