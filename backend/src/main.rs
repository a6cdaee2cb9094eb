//! The `tasktick` binary: parses the command line and hands over to the library.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    backend::cli::Cli::parse().run().await
}
