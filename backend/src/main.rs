//! The `tasktick` binary: parses the command line and hands over to the library.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    backend::cli::Cli::parse_with_config().run().await
}
