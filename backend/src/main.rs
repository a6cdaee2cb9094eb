//! The `tasktick` binary: parses the command line and hands over to the library.

/// mimalloc instead of the system allocator: a request or a live message allocates and frees many
/// small buffers, and glibc's malloc and free were a sixth of the server's time under `GET` load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    backend::cli::Cli::parse_with_config().run().await
}
