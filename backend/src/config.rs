//! Server configuration: command-line flags, each also settable through a `TASKTICK_*` variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// Everything `tasktick serve` needs to start.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (the log says which).
    #[arg(long, env = "TASKTICK_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// SQLite database file, created with its folder if missing.
    #[arg(long, env = "TASKTICK_DATABASE", default_value = "data/tasks.db")]
    pub database: PathBuf,
    /// Folder holding the built front end (`trunk build --release` writes `dist`).
    #[arg(long, env = "TASKTICK_STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,
}
