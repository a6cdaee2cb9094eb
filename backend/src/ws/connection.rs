//! One WebSocket connection: greet, stream clock ticks, answer pings, say goodbye on shutdown.
//!
//! Written over any `Sink`/`Stream` of messages rather than axum's socket type, so the unit tests
//! below drive it with in-memory channels.

use std::fmt::Display;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, close_code};
use chrono::Utc;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use shared::ws::PROTOCOL_VERSION;
use shared::{ClientMsg, ServerMsg};
use tokio_util::sync::CancellationToken;

use super::clock::{TickFeed, encode};

/// WebSocket close reasons are limited to 123 bytes of UTF-8.
const MAX_CLOSE_REASON_BYTES: usize = 123;

/// Why the loop stopped, and so what (if anything) to tell the peer.
enum Ending {
    /// The peer closed or vanished; nothing more to send.
    PeerGone,
    /// We close with this code and reason.
    Close(u16, String),
}

/// Runs one connection until the peer leaves, sends something unacceptable, or the server shuts down.
pub async fn serve<S, R, E>(
    mut sink: S,
    mut stream: R,
    mut ticks: TickFeed,
    shutdown: CancellationToken,
) where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: Display,
{
    let hello = ServerMsg::Hello {
        protocol: PROTOCOL_VERSION,
        server_time_ms: Utc::now().timestamp_millis(),
    };
    if sink.send(Message::Text(encode(&hello))).await.is_err() {
        return;
    }
    // The current tick is up to a second old: start with the next one, on the second.
    ticks.mark_unchanged();

    let ending = loop {
        tokio::select! {
            // Shutdown first: a busy connection must still say goodbye promptly.
            biased;
            () = shutdown.cancelled() => {
                break Ending::Close(close_code::AWAY, "server is shutting down".into());
            }
            changed = ticks.changed() => {
                if changed.is_err() {
                    break Ending::Close(close_code::AWAY, "server clock stopped".into());
                }
                let tick = ticks.borrow_and_update().clone();
                if let Some(tick) = tick
                    && sink.send(Message::Text(tick)).await.is_err()
                {
                    break Ending::PeerGone;
                }
            }
            incoming = stream.next() => match incoming {
                None => break Ending::PeerGone,
                Some(Err(error)) => {
                    tracing::debug!(%error, "websocket read failed");
                    break Ending::PeerGone;
                }
                Some(Ok(message)) => match reply_to(message) {
                    Ok(Some(reply)) => {
                        if sink.send(Message::Text(encode(&reply))).await.is_err() {
                            break Ending::PeerGone;
                        }
                    }
                    Ok(None) => {}
                    Err(ending) => break ending,
                },
            },
        }
    };

    if let Ending::Close(code, reason) = ending {
        if code != close_code::AWAY {
            tracing::info!(code, %reason, "closing websocket");
        }
        let frame = CloseFrame {
            code,
            reason: truncate(reason, MAX_CLOSE_REASON_BYTES),
        };
        let _ = sink.send(Message::Close(Some(frame))).await;
    }
    // Flushes anything queued, including the automatic reply to a peer's close frame.
    let _ = sink.close().await;
}

/// What to answer to one client message: a reply, nothing, or the end of the connection.
fn reply_to(message: Message) -> Result<Option<ServerMsg>, Ending> {
    match message {
        Message::Text(text) => match serde_json::from_str::<ClientMsg>(&text) {
            Ok(ClientMsg::Ping { client_time_ms }) => Ok(Some(ServerMsg::Pong {
                client_time_ms,
                server_time_ms: Utc::now().timestamp_millis(),
            })),
            Err(error) => Err(Ending::Close(
                close_code::UNSUPPORTED,
                format!("unsupported message: {error}"),
            )),
        },
        Message::Binary(_) => Err(Ending::Close(
            close_code::UNSUPPORTED,
            "binary messages are not supported; send JSON text".into(),
        )),
        // The WebSocket layer answers pings itself; pongs need no answer.
        Message::Ping(_) | Message::Pong(_) => Ok(None),
        Message::Close(_) => Err(Ending::PeerGone),
    }
}

fn truncate(mut text: String, max_bytes: usize) -> Utf8Bytes {
    if text.len() > max_bytes {
        let mut end = max_bytes;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text.into()
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::time::Duration;

    use futures_channel::mpsc;
    use tokio::sync::watch;

    use super::*;

    /// A connection driven through channels: `to_server` plays the client, `from_server` is what
    /// the client would receive.
    struct Harness {
        to_server: mpsc::UnboundedSender<Result<Message, Infallible>>,
        from_server: mpsc::UnboundedReceiver<Message>,
        ticks: watch::Sender<Option<Utf8Bytes>>,
        shutdown: CancellationToken,
        task: tokio::task::JoinHandle<()>,
    }

    fn start() -> Harness {
        let (to_server, server_in) = mpsc::unbounded();
        let (server_out, from_server) = mpsc::unbounded();
        let (ticks, feed) = watch::channel(Some(Utf8Bytes::from_static("stale tick")));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(serve(server_out, server_in, feed, shutdown.clone()));
        Harness {
            to_server,
            from_server,
            ticks,
            shutdown,
            task,
        }
    }

    impl Harness {
        async fn next(&mut self) -> Message {
            tokio::time::timeout(Duration::from_secs(2), self.from_server.next())
                .await
                .expect("a message within two seconds")
                .expect("the connection is still open")
        }

        async fn next_server_msg(&mut self) -> ServerMsg {
            match self.next().await {
                Message::Text(text) => serde_json::from_str(&text).unwrap(),
                other => panic!("expected text, got {other:?}"),
            }
        }

        async fn next_close(&mut self) -> CloseFrame {
            match self.next().await {
                Message::Close(Some(frame)) => frame,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }

        async fn finished(self) {
            tokio::time::timeout(Duration::from_secs(2), self.task)
                .await
                .expect("the loop ends")
                .unwrap();
        }
    }

    #[tokio::test]
    async fn the_first_message_is_hello_with_the_protocol_version() {
        let mut conn = start();
        let ServerMsg::Hello { protocol, .. } = conn.next_server_msg().await else {
            panic!("first message is not hello");
        };
        assert_eq!(protocol, PROTOCOL_VERSION);
    }

    #[tokio::test]
    async fn new_ticks_are_forwarded_but_the_stale_one_is_not() {
        let mut conn = start();
        conn.next_server_msg().await;
        conn.ticks
            .send_replace(Some(Utf8Bytes::from_static("fresh tick")));
        assert_eq!(conn.next().await, Message::Text("fresh tick".into()));
    }

    #[tokio::test]
    async fn a_ping_is_answered_with_a_pong_echoing_the_client_time() {
        let mut conn = start();
        conn.next_server_msg().await;
        conn.to_server
            .unbounded_send(Ok(Message::Text(
                r#"{"type":"ping","client_time_ms":42}"#.into(),
            )))
            .unwrap();
        let ServerMsg::Pong { client_time_ms, .. } = conn.next_server_msg().await else {
            panic!("expected pong");
        };
        assert_eq!(client_time_ms, 42);
    }

    #[tokio::test]
    async fn an_unknown_message_closes_with_1003_and_a_reason() {
        let mut conn = start();
        conn.next_server_msg().await;
        conn.to_server
            .unbounded_send(Ok(Message::Text(r#"{"type":"launch"}"#.into())))
            .unwrap();
        let frame = conn.next_close().await;
        assert_eq!(frame.code, close_code::UNSUPPORTED);
        assert!(
            frame.reason.contains("unsupported message"),
            "{}",
            frame.reason
        );
        assert!(frame.reason.len() <= MAX_CLOSE_REASON_BYTES);
        conn.finished().await;
    }

    #[tokio::test]
    async fn shutdown_sends_close_1001() {
        let mut conn = start();
        conn.next_server_msg().await;
        conn.shutdown.cancel();
        assert_eq!(conn.next_close().await.code, close_code::AWAY);
        conn.finished().await;
    }

    #[tokio::test]
    async fn the_loop_ends_when_the_client_goes_away() {
        let mut conn = start();
        conn.next_server_msg().await;
        conn.to_server.close_channel();
        conn.finished().await;
    }

    #[test]
    fn a_long_reason_is_cut_at_a_character_boundary() {
        let cut = truncate("é".repeat(100), MAX_CLOSE_REASON_BYTES);
        assert!(cut.len() <= MAX_CLOSE_REASON_BYTES);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
