//! `cargo xtask test`: every check CI runs, in order of cost, stopping at the first failure.

use crate::command::{cargo, run};
use crate::run::build_front_end;
use crate::tools::{ensure_browser, ensure_front_end_tools};

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Installs what is missing, then runs fmt, clippy, the host tests, the browser component tests,
/// and the end-to-end tests against a fresh release build.
pub fn run_all() -> anyhow::Result<()> {
    ensure_front_end_tools()?;
    ensure_browser()?;

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

    run(cargo().args(["test", "--workspace", "--exclude", "frontend"]))?;
    run(cargo()
        .args(["test", "--package", "frontend", "--target", WASM_TARGET])
        .env("CHROMEDRIVER", chromedriver())
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120"))?;

    build_front_end()?;
    // One browser at a time: two cores do not run several Chromiums and a server well.
    run(cargo()
        .args([
            "test",
            "--package",
            "backend",
            "--test",
            "e2e",
            "--",
            "--ignored",
            "--test-threads=1",
        ])
        .env("CHROMEDRIVER", chromedriver()))?;
    println!("\nxtask: every check passed");
    Ok(())
}

fn chromedriver() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}
