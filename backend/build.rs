//! Build script: a release build of `tasktick` carries the built front end inside it (served by
//! `routes::static_files` from memory, compressed), so the binary runs from any folder with
//! nothing beside it.
//!
//! - Release builds (`cargo build --release`, `cargo install --path backend`) embed the front end;
//!   debug builds do not (they serve `--static-dir`, `dist` by default, where `trunk serve`
//!   writes). `TASKTICK_EMBED_FRONTEND=1` or `=0` overrides that choice.
//! - The front end embedded is `TASKTICK_FRONTEND_DIR` when set (a folder trunk built, as
//!   `cargo xtask run` passes its `dist/`); otherwise this script builds it itself with
//!   `trunk build --release`, so the order (front end first) needs nobody's attention. trunk,
//!   wasm-bindgen and wasm-opt must be installed (`cargo xtask tools` installs them).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Cargo sets these for build scripts; a nested cargo (trunk's) must not inherit them, or it would
/// build the front end with the server's flags or through clippy.
const INHERITED_BY_MISTAKE: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "TARGET",
    "PROFILE",
    "OPT_LEVEL",
    "DEBUG",
];

/// Front-end build outputs that are not served: trunk's precompressed copies (the server
/// compresses what it embeds itself).
const NOT_EMBEDDED: &[&str] = &["br", "gz"];

fn main() {
    println!("cargo::rustc-check-cfg=cfg(tasktick_embedded)");
    println!("cargo::rerun-if-env-changed=TASKTICK_FRONTEND_DIR");
    println!("cargo::rerun-if-env-changed=TASKTICK_EMBED_FRONTEND");
    let release = std::env::var("PROFILE").is_ok_and(|profile| profile == "release");
    let embed = match std::env::var("TASKTICK_EMBED_FRONTEND").as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => release,
    };
    if !embed {
        return;
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let built = match std::env::var_os("TASKTICK_FRONTEND_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            println!("cargo::rerun-if-changed={}", dir.display());
            dir
        }
        None => build_front_end(&out),
    };
    if !built.join("index.html").is_file() {
        panic!(
            "no index.html in {}: it is not a built front end",
            built.display()
        );
    }
    let embedded = out.join("embedded");
    copy_served_files(&built, &embedded);
    // SAFETY: the build script is single-threaded; memory-serve reads this to keep quiet about
    // every asset it embeds.
    unsafe { std::env::set_var("MEMORY_SERVE_QUIET", "1") };
    memory_serve::load_directory_with_embed(&embedded, true);
    println!("cargo::rustc-cfg=tasktick_embedded");
}

/// `trunk build --release` of the workspace's front end into `OUT_DIR/frontend`.
fn build_front_end(out: &Path) -> PathBuf {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest
        .parent()
        .expect("the backend lives in the workspace");
    for watched in [
        "index.html",
        "Trunk.toml",
        "Cargo.lock",
        "frontend",
        "shared",
        ".cargo/config.toml",
    ] {
        println!("cargo::rerun-if-changed={}", root.join(watched).display());
    }
    let dist = out.join("frontend");
    let mut trunk = Command::new("trunk");
    trunk
        .args(["build", "--release", "--dist"])
        .arg(&dist)
        .current_dir(root)
        .env("PATH", tool_path());
    for name in INHERITED_BY_MISTAKE {
        trunk.env_remove(name);
    }
    match trunk.status() {
        Ok(status) if status.success() => dist,
        Ok(status) => panic!("`trunk build --release` failed ({status}); see its output above"),
        Err(error) => panic!(
            "a release build of tasktick embeds the front end, and building it needs trunk \
             ({error}). Install the tools with `cargo xtask tools`, or point \
             TASKTICK_FRONTEND_DIR at a built front end, or build without it \
             (TASKTICK_EMBED_FRONTEND=0, then serve one with --static-dir)."
        ),
    }
}

/// `PATH` with the folders `cargo xtask tools` installs into in front: cargo's `bin` (trunk,
/// wasm-bindgen) and the cache folder holding binaryen's `wasm-opt`.
fn tool_path() -> std::ffi::OsString {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".cargo")))
        .map(|cargo| cargo.join("bin"));
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".cache")));
    let binaryen = cache.map(|c| c.join("tasktick/tools/binaryen-132/node_modules/.bin"));
    let mut dirs: Vec<PathBuf> = [binaryen, cargo_bin].into_iter().flatten().collect();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).expect("tool folders contain no path separator")
}

/// The files of `from` that are served, copied into a fresh `to`.
fn copy_served_files(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).expect("OUT_DIR is writable");
    for entry in std::fs::read_dir(from).expect("the front end folder is readable") {
        let path = entry.expect("the front end folder is readable").path();
        let skipped = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| NOT_EMBEDDED.contains(&e));
        if path.is_file() && !skipped {
            std::fs::copy(&path, to.join(path.file_name().expect("a file has a name")))
                .expect("OUT_DIR is writable");
        }
    }
}
