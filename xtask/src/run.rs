//! `cargo xtask run`: build the front end for release and serve it from the release server, which
//! carries it inside.

use crate::command::{cargo, run as run_command};
use crate::tools::ensure_front_end_tools;

/// Builds `dist/` and runs the release server with it built in; `server_args` go to
/// `tasktick serve`.
pub fn run(server_args: Vec<String>) -> anyhow::Result<()> {
    ensure_front_end_tools()?;
    build_front_end()?;
    report_bundle_size()?;
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
            .args(server_args)
            // The server embeds this build instead of making its own (see backend/build.rs).
            .env(
                "TASKTICK_FRONTEND_DIR",
                crate::command::workspace_root().join("dist"),
            )
            // One developer's server: stop at once on Ctrl-C (no proxy to drain from), unless the
            // environment says otherwise; a flag still overrides both.
            .env(
                "TASKTICK_DRAIN_SECONDS",
                std::env::var("TASKTICK_DRAIN_SECONDS").unwrap_or_else(|_| "0".into()),
            )
            .env(
                "TASKTICK_CLOSE_SPREAD_SECONDS",
                std::env::var("TASKTICK_CLOSE_SPREAD_SECONDS").unwrap_or_else(|_| "0".into()),
            ),
    )
}

/// `trunk build --release` into `dist/`, then a Brotli and a gzip copy of each asset.
pub fn build_front_end() -> anyhow::Result<()> {
    run_command(crate::command::tool("trunk").args(["build", "--release"]))?;
    crate::compress::precompress(&crate::command::workspace_root().join("dist"))
}

/// Prints the size of the built WebAssembly: raw, and as sent (Brotli, or gzip).
fn report_bundle_size() -> anyhow::Result<()> {
    let dist = crate::command::workspace_root().join("dist");
    for entry in std::fs::read_dir(&dist)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let bytes = std::fs::read(&path)?;
            println!(
                "\nfront end bundle {}: {:.1} KiB raw, {:.1} KiB gzip, {:.1} KiB Brotli (sent precompressed)",
                path.file_name().unwrap_or_default().to_string_lossy(),
                bytes.len() as f64 / 1024.0,
                crate::compress::gzip(&bytes)?.len() as f64 / 1024.0,
                crate::compress::brotli(&bytes)?.len() as f64 / 1024.0
            );
        }
    }
    Ok(())
}
