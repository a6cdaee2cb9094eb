//! Installing the tools the build and the tests need, each skipped when the right version is there.
//!
//! Every tool comes from a package registry (crates.io, npm, Debian): nothing is downloaded from
//! anywhere else, and trunk runs offline so it never tries.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};

use crate::command::{cargo, first_line_of, run, tool, tools_dir, workspace_root};

/// trunk 0.22 needs a newer rustc than this project's; 0.21.14 is the newest that builds with it.
const TRUNK_VERSION: &str = "0.21.14";
/// binaryen release providing `wasm-opt` (Debian's is too old for current wasm-bindgen output).
/// Must match `[tools] wasm_opt` in Trunk.toml.
const BINARYEN_VERSION: &str = "132";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Folders to put in front of `PATH` so trunk finds the installed tools.
pub fn extra_path() -> Vec<PathBuf> {
    vec![binaryen_dir().join("node_modules/.bin")]
}

fn binaryen_dir() -> PathBuf {
    tools_dir().join(format!("binaryen-{BINARYEN_VERSION}"))
}

/// Everything needed to build the front end: the wasm target, trunk, wasm-bindgen, wasm-opt.
pub fn ensure_front_end_tools() -> anyhow::Result<()> {
    ensure_wasm_target()?;
    ensure_cargo_tool("trunk", "trunk", TRUNK_VERSION, true)?;
    // wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock, or the generated JS and the
    // WASM disagree. Its own lockfile names a crate version the registry lacks, so no --locked.
    let bindgen = locked_version("wasm-bindgen")?;
    ensure_cargo_tool("wasm-bindgen", "wasm-bindgen-cli", &bindgen, false)?;
    ensure_wasm_opt()
}

/// Chromium and chromedriver for the browser tests.
pub fn ensure_browser() -> anyhow::Result<()> {
    let present = |program: &str| first_line_of(tool(program).arg("--version")).is_some();
    if present("chromium") && present("chromedriver") {
        return Ok(());
    }
    apt_install(&["chromium", "chromium-driver"])
}

/// nginx, the proxy in front of several instances (`cargo xtask cluster` and a browser test).
pub fn ensure_nginx() -> anyhow::Result<()> {
    if nginx_path().is_file() {
        return Ok(());
    }
    apt_install(&["nginx"])
}

/// Where Debian puts nginx (`/usr/sbin` is not on every user's `PATH`).
pub fn nginx_path() -> PathBuf {
    PathBuf::from("/usr/sbin/nginx")
}

/// Installs Debian packages; needs root and apt, and says what to do without them.
pub fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    let has_apt = first_line_of(tool("apt-get").arg("--version")).is_some();
    if !(is_root() && has_apt) {
        bail!(
            "this needs {}. On Debian or Ubuntu run `sudo apt-get install {0}`, elsewhere install \
             it from your package manager, then run the command again",
            packages.join(" ")
        );
    }
    static UPDATED: AtomicBool = AtomicBool::new(false);
    if !UPDATED.swap(true, Ordering::Relaxed) {
        run(tool("apt-get").arg("update"))?;
    }
    run(tool("apt-get")
        .args(["install", "-y", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Whether xtask runs as root.
pub fn is_root() -> bool {
    first_line_of(tool("id").arg("-u")).as_deref() == Some("0")
}

fn ensure_wasm_target() -> anyhow::Result<()> {
    let installed = tool("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("cannot run rustup (the project expects a rustup toolchain)")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|line| line.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    run(tool("rustup").args(["target", "add", WASM_TARGET]))
}

/// Installs `krate` at `version` unless `binary --version` already reports it.
fn ensure_cargo_tool(binary: &str, krate: &str, version: &str, locked: bool) -> anyhow::Result<()> {
    let reported = first_line_of(tool(binary).arg("--version")).unwrap_or_default();
    if reported.split_whitespace().nth(1) == Some(version) {
        return Ok(());
    }
    let mut install = cargo();
    install.args(["install", krate, "--version", version]);
    if locked {
        install.arg("--locked");
    }
    run(&mut install)
}

fn ensure_wasm_opt() -> anyhow::Result<()> {
    let dir = binaryen_dir();
    let wasm_opt = dir.join("node_modules/.bin/wasm-opt");
    let reported = first_line_of(tool(&wasm_opt.to_string_lossy()).arg("--version"));
    if reported.is_some_and(|line| line.contains(&format!("version {BINARYEN_VERSION}"))) {
        return Ok(());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    run(tool("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .arg(format!("binaryen@{BINARYEN_VERSION}")))
    .context("installing wasm-opt needs Node.js and npm")
}

/// The version of `package` recorded in Cargo.lock.
fn locked_version(package: &str) -> anyhow::Result<String> {
    let path = workspace_root().join("Cargo.lock");
    let lock = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let needle = format!("name = \"{package}\"\n");
    let after = lock
        .split("[[package]]\n")
        .find_map(|entry| entry.strip_prefix(&needle))
        .with_context(|| format!("{package} is not in Cargo.lock"))?;
    after
        .lines()
        .find_map(|line| line.strip_prefix("version = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .map(str::to_owned)
        .with_context(|| format!("Cargo.lock has no version for {package}"))
}
