//! One live connection's loop: greet, stream clock ticks and the task events of the boards the
//! session follows (see `live`), answer the client's messages (ping, subscribe, unsubscribe), act
//! on access changes, keep the connection alive with pings, and close with a code that says why.
//! The event stream (SSE) runs the same loop behind its own adapter.
//!
//! Written over any socket that is a `Sink` of [`Frame`]s and a `Stream` of messages rather than
//! axum's socket type: each transport is a thin adapter (the WebSocket turns a frame into a
//! WebSocket message, the event stream into an SSE event whose `id` is the frame's `seq`), and the
//! unit tests below drive the loop with in-memory channels and a paused clock.

use std::convert::Infallible;
use std::fmt::Display;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, close_code};
use chrono::Utc;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use shared::{ClientMsg, ServerMsg};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::sync::CancellationToken;

use super::clock::TickFeed;
use crate::events::Event;
use crate::live::{Live, Outgoing};
use crate::monitoring::LiveMeters;
use crate::store::accounts::AccessChange;

/// WebSocket close reasons are limited to 123 bytes of UTF-8.
const MAX_CLOSE_REASON_BYTES: usize = 123;

/// The connection's timers.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// How often the server pings.
    pub ping_interval: Duration,
    /// How long the peer may stay silent (no pong, no message) before it is disconnected.
    pub idle_timeout: Duration,
    /// How long one send may wait for the peer's socket to accept data.
    pub send_timeout: Duration,
    /// At shutdown the close waits a random part of this, so that thousands of connections do
    /// not all reconnect (to the other instances) in the same instant.
    pub close_spread: Duration,
}

/// What the loop sends, whatever the transport carries it as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Message(Outgoing),
    /// A keep-alive (a WebSocket ping, an SSE comment).
    Ping,
    /// The last frame: why the server ends the connection.
    Close(CloseFrame),
}

impl From<Frame> for Message {
    fn from(frame: Frame) -> Self {
        match frame {
            Frame::Message(message) => Message::Text(message.text),
            Frame::Ping => Message::Ping(Default::default()),
            Frame::Close(frame) => Message::Close(Some(frame)),
        }
    }
}

/// Everything one connection needs, prepared before the upgrade.
pub struct Session {
    /// Sent first, in order: `hello`, and for an event stream its subscription and replay.
    pub prelude: Vec<Outgoing>,
    /// Who the session is and the boards it follows.
    pub live: Live,
    pub events: broadcast::Receiver<Event>,
    pub access: broadcast::Receiver<AccessChange>,
    pub ticks: TickFeed,
    pub shutdown: CancellationToken,
    pub timing: Timing,
    /// Counts the session as open, and what it sends.
    pub meters: LiveMeters,
}

/// What a loop turn's messages deliver, for the fan-out metric.
enum Delivering {
    Nothing,
    /// A task event published at this moment.
    Event(std::time::Instant),
    /// A tick made at this Unix epoch millisecond.
    Tick(i64),
}

/// A read failure that deserves a specific close code (the peer may still read it).
pub trait ReadError: Display {
    /// The close code and reason to send, if any.
    fn close(&self) -> Option<(u16, String)>;
}

impl ReadError for axum::Error {
    fn close(&self) -> Option<(u16, String)> {
        use tokio_tungstenite::tungstenite::Error;
        use tokio_tungstenite::tungstenite::error::CapacityError;
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(error) = source {
            match error.downcast_ref::<Error>() {
                Some(Error::Capacity(CapacityError::MessageTooLong { size, max_size })) => {
                    return Some((
                        close_code::SIZE,
                        format!("message of {size} bytes is over the limit of {max_size}"),
                    ));
                }
                Some(Error::Capacity(_)) => {
                    return Some((close_code::SIZE, "message too big".into()));
                }
                Some(Error::Utf8(_)) => {
                    return Some((
                        close_code::INVALID,
                        "text message is not valid UTF-8".into(),
                    ));
                }
                _ => source = error.source(),
            }
        }
        None
    }
}

impl ReadError for Infallible {
    fn close(&self) -> Option<(u16, String)> {
        match *self {}
    }
}

/// Why the loop stopped, and so what (if anything) to tell the peer.
enum Ending {
    /// The peer closed, vanished or stopped reading; nothing more to send.
    PeerGone,
    /// We close with this code and reason.
    Close(u16, String),
    /// The server restarts: close with 1012 at a random moment within the spread.
    Restart,
}

/// A sink and a stream as one socket, for a transport whose two directions are apart (the event
/// stream, the tests). A WebSocket is one object already and is not split: the halves of a split
/// socket share a lock that every read and every write takes.
pub struct Duplex<S, R> {
    pub sink: S,
    pub stream: R,
}

impl<S: Sink<Frame> + Unpin, R: Unpin> Sink<Frame> for Duplex<S, R> {
    type Error = S::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.sink.poll_ready_unpin(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, frame: Frame) -> Result<(), S::Error> {
        self.sink.start_send_unpin(frame)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.sink.poll_flush_unpin(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.sink.poll_close_unpin(cx)
    }
}

impl<S: Unpin, R: Stream + Unpin> Stream for Duplex<S, R> {
    type Item = R::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<R::Item>> {
        self.stream.poll_next_unpin(cx)
    }
}

/// The next message of a broadcast channel, with the receiver handed back so that the wait can be
/// made again without borrowing.
async fn next_of<T: Clone>(
    mut receiver: broadcast::Receiver<T>,
) -> (Result<T, RecvError>, broadcast::Receiver<T>) {
    let received = receiver.recv().await;
    (received, receiver)
}

/// The next change of a watched value, with the receiver handed back (see [`next_of`]).
async fn change_of<T>(
    mut receiver: watch::Receiver<T>,
) -> (Result<(), watch::error::RecvError>, watch::Receiver<T>) {
    let changed = receiver.changed().await;
    (changed, receiver)
}

/// Runs one connection until the peer leaves, misbehaves, goes silent, or the server shuts down.
pub async fn serve<T, E>(mut socket: T, session: Session)
where
    T: Sink<Frame> + Stream<Item = Result<Message, E>> + Unpin,
    E: ReadError,
{
    let Session {
        prelude,
        mut live,
        events,
        access,
        mut ticks,
        shutdown,
        timing,
        mut meters,
    } = session;
    for message in prelude {
        if !send(&mut socket, message, timing, &mut meters).await {
            return;
        }
    }
    // The current tick is up to a second old: start with the next one, on the second.
    ticks.mark_unchanged();
    // Both timers live as long as the connection and are moved, not made anew on every turn of
    // the loop: a new timer per turn meant registering and removing two timer entries for every
    // tick of every connection.
    let ping = sleep_until(Instant::now() + timing.ping_interval);
    let silence = sleep_until(Instant::now() + timing.idle_timeout);
    // The waits for shutdown, events, access changes and ticks last across turns too, each made
    // anew only when it ends: every wait made registers a waiter in a list all connections share
    // (under its lock) and every wait dropped unregisters it, which each tick of each connection
    // did three times over.
    let shutdown = shutdown.cancelled_owned();
    let next_event = next_of(events);
    let next_access = next_of(access);
    let next_tick = change_of(ticks);
    tokio::pin!(ping, silence, shutdown, next_event, next_access, next_tick);

    let ending = 'connection: loop {
        let mut delivering = Delivering::Nothing;
        // Each arm yields what to send, if anything; sending happens once, below.
        let outgoing: Vec<Outgoing> = tokio::select! {
            // Shutdown first: a busy connection must still say goodbye promptly.
            biased;
            () = &mut shutdown => break Ending::Restart,
            () = &mut silence => {
                break Ending::Close(
                    close_code::AWAY,
                    format!("nothing received for {} s", timing.idle_timeout.as_secs()),
                );
            }
            incoming = socket.next() => match incoming {
                None => break Ending::PeerGone,
                Some(Err(error)) => match error.close() {
                    Some((code, reason)) => break Ending::Close(code, reason),
                    None => {
                        tracing::debug!(%error, "websocket read failed");
                        break Ending::PeerGone;
                    }
                },
                Some(Ok(message)) => {
                    silence.as_mut().reset(Instant::now() + timing.idle_timeout);
                    match read(message) {
                        Ok(Some(ClientMsg::Ping { client_time_ms })) => vec![Outgoing::from(&ServerMsg::Pong {
                            client_time_ms,
                            server_time_ms: Utc::now().timestamp_millis(),
                        })],
                        Ok(Some(ClientMsg::Subscribe { board, since })) => live.subscribe(board, since).await,
                        Ok(Some(ClientMsg::Unsubscribe { board })) => live.unsubscribe(board),
                        Ok(None) => Vec::new(),
                        Err(ending) => break ending,
                    }
                }
            },
            (received, events) = &mut next_event => {
                next_event.set(next_of(events));
                match received {
                    Ok(event) => {
                        delivering = Delivering::Event(event.published);
                        live.event(&event).into_iter().collect()
                    }
                    // Never drop events silently: tell the client to reload instead.
                    Err(RecvError::Lagged(missed)) => live.lagged(missed),
                    Err(RecvError::Closed) => {
                        break Ending::Close(close_code::AWAY, "server is shutting down".into());
                    }
                }
            },
            (changed, access) = &mut next_access => {
                next_access.set(next_of(access));
                match changed {
                    Ok(change) => live.access_changed(Some(&change)).await,
                    Err(RecvError::Lagged(_)) => live.access_changed(None).await,
                    Err(RecvError::Closed) => {
                        break Ending::Close(close_code::AWAY, "server is shutting down".into());
                    }
                }
            },
            (changed, mut ticks) = &mut next_tick => {
                if changed.is_err() {
                    break Ending::Close(close_code::AWAY, "server is shutting down".into());
                }
                // Only the shared JSON is cloned (a reference count), never the tick's text.
                let tick = ticks.borrow_and_update().as_ref().map(|tick| {
                    delivering = Delivering::Tick(tick.server_time_ms);
                    Outgoing::notice(tick.json.clone())
                });
                next_tick.set(change_of(ticks));
                tick.into_iter().collect()
            },
            () = &mut ping => {
                ping.as_mut().reset(Instant::now() + timing.ping_interval);
                if !matches!(timeout(timing.send_timeout, socket.send(Frame::Ping)).await, Ok(Ok(()))) {
                    break Ending::PeerGone;
                }
                Vec::new()
            }
        };
        let delivered = !outgoing.is_empty();
        for message in outgoing {
            if !send(&mut socket, message, timing, &mut meters).await {
                // The peer's socket accepted nothing for the whole timeout, or is gone.
                break 'connection Ending::PeerGone;
            }
        }
        match delivering {
            Delivering::Event(published) if delivered => meters.event_delivered(published),
            Delivering::Tick(made_ms) if delivered => meters.tick_delivered(made_ms),
            _ => {}
        }
    };

    let ending = match ending {
        Ending::Restart => {
            let wait = timing.close_spread.mul_f64(rand::random::<f64>());
            tokio::time::sleep(wait).await;
            Ending::Close(
                close_code::RESTART,
                "server is restarting: reconnect and resume".into(),
            )
        }
        other => other,
    };
    if let Ending::Close(code, reason) = ending {
        if code != close_code::AWAY && code != close_code::RESTART {
            tracing::info!(code, %reason, "closing websocket");
        }
        let frame = CloseFrame {
            code,
            reason: truncate(reason, MAX_CLOSE_REASON_BYTES),
        };
        let _ = timeout(timing.send_timeout, socket.send(Frame::Close(frame))).await;
    }
    // Flushes anything queued, including the automatic reply to a peer's close frame.
    let _ = timeout(timing.send_timeout, socket.close()).await;
}

/// Sends one message within the send timeout, counted if it went out; whether it did.
async fn send<S: Sink<Frame> + Unpin>(
    sink: &mut S,
    message: Outgoing,
    timing: Timing,
    meters: &mut LiveMeters,
) -> bool {
    let bytes = message.text.len();
    let sent = matches!(
        timeout(timing.send_timeout, sink.send(Frame::Message(message))).await,
        Ok(Ok(()))
    );
    if sent {
        meters.sent(bytes);
    }
    sent
}

/// What one client message asks for: a client message, nothing (a pong), or the end of the
/// connection.
fn read(message: Message) -> Result<Option<ClientMsg>, Ending> {
    match message {
        Message::Text(text) => match serde_json::from_str::<ClientMsg>(&text) {
            Ok(message) => Ok(Some(message)),
            Err(error) => Err(Ending::Close(
                close_code::UNSUPPORTED,
                format!("unsupported message: {error}"),
            )),
        },
        Message::Binary(_) => Err(Ending::Close(
            close_code::UNSUPPORTED,
            "binary messages are not supported; send JSON text".into(),
        )),
        // The WebSocket layer answers pings itself; a pong only proves the peer is alive.
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
    use futures_channel::mpsc;

    use shared::BoardId;

    use super::*;
    use crate::live::{BoardAccess, Opened, Recheck};
    use crate::monitoring::Transport;
    use crate::ws::clock::Tick;

    const TIMING: Timing = Timing {
        ping_interval: Duration::from_secs(20),
        idle_timeout: Duration::from_secs(60),
        send_timeout: Duration::from_secs(30),
        close_spread: Duration::from_secs(3),
    };

    /// A tick whose message is `json`: the loop forwards the JSON as it is.
    fn tick(json: &'static str) -> Tick {
        Tick {
            server_time_ms: 0,
            text: String::new(),
            json: Utf8Bytes::from_static(json),
        }
    }

    /// A connection driven through channels: `to_server` plays the client, `from_server` is what
    /// the client would receive.
    struct Harness {
        to_server: mpsc::UnboundedSender<Result<Message, Infallible>>,
        from_server: mpsc::UnboundedReceiver<Frame>,
        ticks: watch::Sender<Option<Tick>>,
        events: broadcast::Sender<Event>,
        /// Kept open: a closed access channel means shutdown to the loop.
        _access: broadcast::Sender<AccessChange>,
        shutdown: CancellationToken,
        task: tokio::task::JoinHandle<()>,
    }

    const BOARD: BoardId = BoardId(1);

    /// Lets the session follow [`BOARD`] from `seq`.
    struct Following(i64);

    #[async_trait::async_trait]
    impl BoardAccess for Following {
        async fn open(
            &self,
            _: Option<&crate::auth::Caller>,
            _: BoardId,
            _: Option<i64>,
        ) -> Result<Opened, shared::EndReason> {
            Ok(Opened {
                messages: Vec::new(),
                seq: self.0,
            })
        }

        async fn recheck(&self, _: &crate::auth::Caller, _: Vec<BoardId>) -> Recheck {
            Recheck::Ended(Vec::new())
        }
    }

    fn event(seq: i64) -> Event {
        Event {
            board: BOARD,
            seq,
            text: format!("event {seq}").into(),
            is_task_event: true,
            published: std::time::Instant::now(),
        }
    }

    /// Starts a connection whose prelude covers events up to `last_seq`; `before_start` events are
    /// published before the loop first reads the channel (capacity `capacity`).
    async fn start_with(last_seq: i64, capacity: usize, before_start: &[i64]) -> Harness {
        let (to_server, server_in) = mpsc::unbounded();
        let (server_out, from_server) = mpsc::unbounded();
        let (ticks, feed) = watch::channel(Some(tick("stale tick")));
        let (events, receiver) = broadcast::channel(capacity);
        for &seq in before_start {
            events.send(event(seq)).unwrap();
        }
        let shutdown = CancellationToken::new();
        let mut live = Live::new(None, std::sync::Arc::new(Following(last_seq)));
        live.subscribe(BOARD, None).await;
        let (access, access_changes) = broadcast::channel(1);
        let session = Session {
            prelude: vec![
                Outgoing::notice("hello".into()),
                Outgoing::notice("replayed".into()),
            ],
            live,
            events: receiver,
            access: access_changes,
            ticks: feed,
            shutdown: shutdown.clone(),
            timing: TIMING,
            meters: LiveMeters::open(Transport::WebSocket),
        };
        let socket = Duplex {
            sink: server_out,
            stream: server_in,
        };
        let task = tokio::spawn(serve(socket, session));
        Harness {
            to_server,
            from_server,
            ticks,
            events,
            _access: access,
            shutdown,
            task,
        }
    }

    async fn start() -> Harness {
        start_with(0, 16, &[]).await
    }

    impl Harness {
        async fn next(&mut self) -> Frame {
            tokio::time::timeout(Duration::from_secs(600), self.from_server.next())
                .await
                .expect("a message in time")
                .expect("the connection is still open")
        }

        /// The next frame that is not a keep-alive.
        async fn next_data(&mut self) -> Frame {
            loop {
                match self.next().await {
                    Frame::Ping => continue,
                    other => return other,
                }
            }
        }

        /// The next message (past keep-alives).
        async fn next_message(&mut self) -> Outgoing {
            match self.next_data().await {
                Frame::Message(message) => message,
                other => panic!("expected a message, got {other:?}"),
            }
        }

        async fn next_text(&mut self) -> String {
            self.next_message().await.text.to_string()
        }

        async fn next_server_msg(&mut self) -> ServerMsg {
            serde_json::from_str(&self.next_text().await).unwrap()
        }

        async fn skip_prelude(&mut self) {
            assert_eq!(self.next_text().await, "hello");
            assert_eq!(self.next_text().await, "replayed");
        }

        async fn next_close(&mut self) -> CloseFrame {
            match self.next_data().await {
                Frame::Close(frame) => frame,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }

        fn say(&self, message: Message) {
            self.to_server.unbounded_send(Ok(message)).unwrap();
        }

        async fn finished(self) {
            tokio::time::timeout(Duration::from_secs(600), self.task)
                .await
                .expect("the loop ends")
                .unwrap();
        }
    }

    #[tokio::test]
    async fn the_prelude_comes_first_in_order() {
        let mut conn = start().await;
        conn.skip_prelude().await;
    }

    #[tokio::test]
    async fn live_events_already_covered_by_the_replay_are_skipped() {
        let mut conn = start_with(5, 16, &[]).await;
        conn.skip_prelude().await;

        for seq in [4, 5, 6, 7] {
            conn.events.send(event(seq)).unwrap();
        }

        assert_eq!(conn.next_text().await, "event 6");
        assert_eq!(conn.next_text().await, "event 7");
    }

    #[tokio::test]
    async fn a_task_event_goes_out_with_its_seq() {
        let mut conn = start().await;
        conn.skip_prelude().await;
        conn.events.send(event(1)).unwrap();
        assert_eq!(
            conn.next_message().await,
            Outgoing {
                text: "event 1".into(),
                seq: Some(1)
            }
        );
    }

    #[tokio::test]
    async fn a_connection_that_falls_behind_gets_resync_then_the_newest_events() {
        let mut conn = start_with(0, 2, &[1, 2, 3, 4, 5]).await;
        conn.skip_prelude().await;

        let ServerMsg::Resync { reason, .. } = conn.next_server_msg().await else {
            panic!("expected resync");
        };
        assert!(reason.contains("3 events behind"), "{reason}");
        assert_eq!(conn.next_text().await, "event 4");
        assert_eq!(conn.next_text().await, "event 5");
    }

    #[tokio::test]
    async fn new_ticks_are_forwarded_but_the_stale_one_is_not() {
        let mut conn = start().await;
        conn.skip_prelude().await;
        conn.ticks.send_replace(Some(tick("fresh tick")));
        assert_eq!(
            conn.next_message().await,
            Outgoing::notice("fresh tick".into()),
            "a tick carries no seq"
        );
    }

    #[tokio::test]
    async fn a_ping_is_answered_with_a_pong_echoing_the_client_time() {
        let mut conn = start().await;
        conn.skip_prelude().await;
        conn.say(Message::Text(
            r#"{"type":"ping","client_time_ms":42}"#.into(),
        ));
        let ServerMsg::Pong { client_time_ms, .. } = conn.next_server_msg().await else {
            panic!("expected pong");
        };
        assert_eq!(client_time_ms, 42);
    }

    #[tokio::test]
    async fn an_unknown_message_closes_with_1003_and_a_reason() {
        let mut conn = start().await;
        conn.skip_prelude().await;
        conn.say(Message::Text(r#"{"type":"launch"}"#.into()));
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

    #[tokio::test(start_paused = true)]
    async fn the_server_pings_on_the_interval() {
        let mut conn = start().await;
        conn.skip_prelude().await;
        let started = Instant::now();

        assert_eq!(conn.next().await, Frame::Ping);
        assert_eq!(started.elapsed(), TIMING.ping_interval);
        assert_eq!(conn.next().await, Frame::Ping);
        assert_eq!(started.elapsed(), TIMING.ping_interval * 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_is_closed_after_the_timeout() {
        let mut conn = start().await;
        conn.skip_prelude().await;
        let started = Instant::now();

        let frame = conn.next_close().await;

        assert_eq!(frame.code, close_code::AWAY);
        assert!(
            frame.reason.contains("nothing received"),
            "{}",
            frame.reason
        );
        assert_eq!(started.elapsed(), TIMING.idle_timeout);
        conn.finished().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_answers_pings_stays_connected() {
        let mut conn = start().await;
        conn.skip_prelude().await;
        let started = Instant::now();

        while started.elapsed() < TIMING.idle_timeout * 3 {
            match conn.next().await {
                Frame::Ping => conn.say(Message::Pong(Default::default())),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(!conn.task.is_finished());
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_closes_with_1012_within_the_spread() {
        let mut conn = start().await;
        conn.skip_prelude().await;
        let began = Instant::now();
        conn.shutdown.cancel();
        let frame = conn.next_close().await;
        assert_eq!(frame.code, close_code::RESTART);
        assert!(frame.reason.contains("reconnect"), "{}", frame.reason);
        assert!(
            began.elapsed() <= TIMING.close_spread,
            "{:?}",
            began.elapsed()
        );
        conn.finished().await;
    }

    #[tokio::test]
    async fn the_loop_ends_when_the_client_goes_away() {
        let mut conn = start().await;
        conn.skip_prelude().await;
        conn.to_server.close_channel();
        conn.finished().await;
    }

    /// A peer whose socket takes the greeting, then never accepts another byte.
    struct StuckSink {
        accepted: usize,
    }

    impl Sink<Frame> for StuckSink {
        type Error = Infallible;

        fn poll_ready(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Infallible>> {
            if self.accepted < 2 {
                std::task::Poll::Ready(Ok(()))
            } else {
                std::task::Poll::Pending
            }
        }

        fn start_send(mut self: std::pin::Pin<&mut Self>, _: Frame) -> Result<(), Infallible> {
            self.accepted += 1;
            Ok(())
        }

        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Infallible>> {
            self.poll_ready(cx)
        }

        fn poll_close(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Infallible>> {
            self.poll_ready(cx)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_whose_socket_accepts_nothing_is_dropped_after_the_send_timeout() {
        let (_client, server_in) = mpsc::unbounded::<Result<Message, Infallible>>();
        let (events, receiver) = broadcast::channel(16);
        let (_ticks, feed) = watch::channel(None);
        let mut live = Live::new(None, std::sync::Arc::new(Following(0)));
        live.subscribe(BOARD, None).await;
        let (_access, access_changes) = broadcast::channel(1);
        let session = Session {
            prelude: vec![Outgoing::notice("hello".into())],
            live,
            events: receiver,
            access: access_changes,
            ticks: feed,
            shutdown: CancellationToken::new(),
            timing: Timing {
                ping_interval: Duration::from_secs(3600),
                idle_timeout: Duration::from_secs(3600),
                send_timeout: TIMING.send_timeout,
                close_spread: Duration::ZERO,
            },
            meters: LiveMeters::open(Transport::WebSocket),
        };
        let started = Instant::now();
        let socket = Duplex {
            sink: StuckSink { accepted: 0 },
            stream: server_in,
        };
        let task = tokio::spawn(serve(socket, session));

        events.send(event(1)).unwrap();
        events.send(event(2)).unwrap();

        task.await.unwrap();
        // Blocked on event 2 for the send timeout; then the close frame and the flush get one more
        // timeout each, so a stuck peer costs at most three of them.
        let held = started.elapsed();
        assert!(
            held >= TIMING.send_timeout && held <= TIMING.send_timeout * 3,
            "{held:?}"
        );
    }

    #[test]
    fn a_long_reason_is_cut_at_a_character_boundary() {
        let cut = truncate("é".repeat(100), MAX_CLOSE_REASON_BYTES);
        assert!(cut.len() <= MAX_CLOSE_REASON_BYTES);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
