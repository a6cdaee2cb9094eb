//! `tasktick watch`: prints each clock tick the server pushes.

use anyhow::{Context, bail};
use clap::Args;
use futures_util::StreamExt;
use shared::ServerMsg;
use tokio_tungstenite::tungstenite::Message;

/// Arguments of `tasktick watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// WebSocket URL of the server.
    #[arg(default_value = "ws://127.0.0.1:3000/ws")]
    pub url: String,
}

/// Connects and prints `Received: <text>` per tick until Ctrl-C or the server closes.
pub async fn run(args: WatchArgs) -> anyhow::Result<()> {
    let (socket, _) = tokio_tungstenite::connect_async(args.url.as_str())
        .await
        .with_context(|| format!("cannot connect to {}", args.url))?;
    eprintln!("Connected to {}. Press Ctrl-C to stop.", args.url);
    let (_sink, mut stream) = socket.split();
    loop {
        let message = tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            message = stream.next() => message,
        };
        match message {
            Some(Ok(Message::Text(text))) => match serde_json::from_str::<ServerMsg>(&text) {
                Ok(ServerMsg::Tick { text, .. }) => println!("Received: {text}"),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, %text, "unrecognised message"),
            },
            Some(Ok(Message::Close(frame))) => {
                let reason = frame
                    .map(|f| format!("{} ({})", f.reason, u16::from(f.code)))
                    .unwrap_or_else(|| "no reason given".into());
                bail!("the server closed the connection: {reason}");
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => bail!("the connection failed: {error}"),
            None => bail!("the connection ended"),
        }
    }
}
