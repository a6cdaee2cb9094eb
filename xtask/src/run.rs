//! `cargo xtask run`: build the front end for release and serve it.

use crate::command::{cargo, run as run_command};
use crate::tools::ensure_front_end_tools;

/// Builds `dist/` and runs the server on it; `server_args` go to `tasktick serve`.
pub fn run(server_args: Vec<String>) -> anyhow::Result<()> {
    ensure_front_end_tools()?;
    build_front_end()?;
    let addr = std::env::var("TASKTICK_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    println!(
        "\ntasktick is starting: open http://{addr}/ (unless --addr below says otherwise). Ctrl-C stops it."
    );
    run_command(
        cargo()
            .args([
                "run",
                "--release",
                "--package",
                "backend",
                "--bin",
                "tasktick",
                "--",
                "serve",
            ])
            .args(server_args),
    )
}

/// `trunk build --release` into `dist/`.
pub fn build_front_end() -> anyhow::Result<()> {
    run_command(crate::command::tool("trunk").args(["build", "--release"]))
}
