//! `/api/events`: the live feed as Server-Sent Events (the clock for anyone, a board's events for
//! its members), with resume through `Last-Event-ID`.

use std::time::Duration;

use shared::ServerMsg;

use crate::helpers::{PATIENCE, TestApp, assert_problem, spawn_app, spawn_app_with};

/// One parsed SSE event: its `id`, `event` name and `data`, or a comment.
#[derive(Debug, Default, Clone, PartialEq)]
struct SseEvent {
    id: Option<String>,
    name: Option<String>,
    data: String,
    comment: bool,
}

/// An open event stream, read incrementally.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    /// The owner's stream of the app's board.
    async fn open(app: &TestApp, last_event_id: Option<&str>) -> Self {
        let path = format!("/api/events?board={}", app.board);
        let mut request = app.owner_client.get(app.url(&path));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (or comment), within [`PATIENCE`].
    async fn next(&mut self) -> SseEvent {
        loop {
            if let Some((frame, rest)) = self.buffer.split_once("\n\n") {
                let event = parse(frame);
                self.buffer = rest.to_owned();
                return event;
            }
            let chunk = tokio::time::timeout(PATIENCE, self.response.chunk())
                .await
                .expect("an event in time")
                .unwrap()
                .expect("the stream is open");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next data event that is not a clock tick, parsed.
    async fn next_message(&mut self) -> (Option<String>, ServerMsg) {
        loop {
            let event = self.next().await;
            if event.comment || event.name.is_some() {
                continue;
            }
            match serde_json::from_str(&event.data).unwrap() {
                ServerMsg::Tick { .. } => continue,
                message => return (event.id, message),
            }
        }
    }
}

fn parse(frame: &str) -> SseEvent {
    let mut event = SseEvent::default();
    for line in frame.lines() {
        match line.split_once(':') {
            Some(("", _)) => event.comment = true,
            Some(("id", value)) => event.id = Some(value.trim().to_owned()),
            Some(("event", value)) => event.name = Some(value.trim().to_owned()),
            Some(("data", value)) => event
                .data
                .push_str(value.strip_prefix(' ').unwrap_or(value)),
            _ => {}
        }
    }
    event
}

#[tokio::test]
async fn the_stream_greets_then_sends_task_events_with_their_seq_as_id() {
    let app = spawn_app().await;
    let mut stream = EventStream::open(&app, None).await;
    let (id, hello) = stream.next_message().await;
    assert!(matches!(hello, ServerMsg::Hello { .. }));
    assert_eq!(id, None);
    let (_, subscribed) = stream.next_message().await;
    assert!(matches!(subscribed, ServerMsg::Subscribed { seq: 0, .. }));

    let task = app.create_task("streamed").await;

    let (id, event) = stream.next_message().await;
    assert_eq!(id.as_deref(), Some("1"));
    assert_eq!(
        event,
        ServerMsg::TaskCreated {
            board: app.board,
            seq: 1,
            task
        }
    );
}

#[tokio::test]
async fn last_event_id_resumes_with_exactly_the_missed_events() {
    let app = spawn_app().await;
    for title in ["one", "two", "three"] {
        app.create_task(title).await;
    }

    let mut stream = EventStream::open(&app, Some("1")).await;

    assert!(matches!(
        stream.next_message().await.1,
        ServerMsg::Hello { .. }
    ));
    assert!(matches!(
        stream.next_message().await.1,
        ServerMsg::Subscribed { seq: 3, .. }
    ));
    for expected in ["2", "3"] {
        assert_eq!(stream.next_message().await.0.as_deref(), Some(expected));
    }
    app.create_task("four").await;
    assert_eq!(stream.next_message().await.0.as_deref(), Some("4"));
}

#[tokio::test]
async fn a_last_event_id_that_is_too_old_or_ahead_gets_resync() {
    let app = spawn_app_with(|c| c.event_retention = std::num::NonZeroU32::new(1).unwrap()).await;
    for title in ["a", "b", "c"] {
        app.create_task(title).await;
    }

    for since in ["0", "9"] {
        let mut stream = EventStream::open(&app, Some(since)).await;
        stream.next_message().await;
        stream.next_message().await;
        assert!(
            matches!(stream.next_message().await.1, ServerMsg::Resync { .. }),
            "since {since}"
        );
    }
    let refused = app
        .owner_client
        .get(app.url(&format!("/api/events?board={}", app.board)))
        .header("last-event-id", "not a number")
        .send()
        .await
        .unwrap();
    assert_problem(refused, 400).await;
}

#[tokio::test]
async fn the_stream_sends_keep_alive_comments_and_ticks() {
    let app = spawn_app_with(|c| c.ws_ping_interval = 1).await;
    let mut stream = EventStream::open(&app, None).await;

    let (mut comments, mut ticks) = (0, 0);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while (comments == 0 || ticks == 0) && tokio::time::Instant::now() < deadline {
        let event = stream.next().await;
        if event.comment {
            comments += 1;
        } else if event.data.contains(r#""type":"tick""#) {
            ticks += 1;
        }
    }
    assert!(
        comments > 0 && ticks > 0,
        "{comments} comments, {ticks} ticks"
    );
}

#[tokio::test]
async fn event_streams_count_against_the_connection_limit() {
    let app = spawn_app_with(|c| c.max_connections = 1).await;
    let _open = EventStream::open(&app, None).await;

    let refused = app.client.get(app.url("/api/events")).send().await.unwrap();

    assert!(refused.headers().contains_key("retry-after"));
    assert_problem(refused, 503).await;
}

#[tokio::test]
async fn shutdown_ends_the_stream_with_a_close_event() {
    let app = spawn_app().await;
    let mut stream = EventStream::open(&app, None).await;
    stream.next_message().await;

    let stopping = app.begin_shutdown();

    let close = loop {
        let event = stream.next().await;
        if event.name.as_deref() == Some("close") {
            break event;
        }
    };
    assert!(close.data.contains("restarting"), "{close:?}");
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .unwrap();
}

#[tokio::test]
async fn with_websockets_disabled_upgrades_get_503_and_the_event_stream_still_works() {
    let app = spawn_app_with(|c| c.disable_websocket = true).await;

    let refused = tokio_tungstenite::connect_async(app.ws_url()).await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
        panic!("the upgrade was not refused");
    };
    assert_eq!(response.status(), 503);

    let mut stream = EventStream::open(&app, None).await;
    stream.next_message().await;
    stream.next_message().await;
    app.create_task("via SSE").await;
    assert!(matches!(
        stream.next_message().await.1,
        ServerMsg::TaskCreated { .. }
    ));
}

#[tokio::test]
async fn the_clock_streams_to_anyone_but_a_board_only_to_its_members() {
    let app = spawn_app().await;
    let clock = app.client.get(app.url("/api/events")).send().await.unwrap();
    assert_eq!(clock.status(), 200);
    drop(clock);
    let board = format!("/api/events?board={}", app.board);

    let anonymous = app.client.get(app.url(&board)).send().await.unwrap();
    assert_problem(anonymous, 401).await;
    let stranger = app.sign_up("stranger").await;
    let outsider = app
        .as_user(&stranger, reqwest::Method::GET, &board)
        .send()
        .await
        .unwrap();
    assert_problem(outsider, 404).await;
}
