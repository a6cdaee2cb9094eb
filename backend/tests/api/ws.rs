//! `/ws`: the greeting, the clock, pings, refusals, and the goodbye on shutdown.

use futures_util::SinkExt;
use shared::ServerMsg;
use shared::ws::PROTOCOL_VERSION;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{assert_problem, connect_ws_as, next_close, next_server_msg, spawn_app};

/// Checks the article's format, `The time is: HH:MM:SS`.
fn assert_clock_text(text: &str) {
    let time = text
        .strip_prefix("The time is: ")
        .unwrap_or_else(|| panic!("{text}"));
    let parts: Vec<u32> = time.split(':').map(|p| p.parse().unwrap()).collect();
    assert_eq!(time.len(), 8, "{text}");
    assert!(
        parts.len() == 3 && parts[0] < 24 && parts[1] < 60 && parts[2] < 60,
        "{text}"
    );
}

async fn next_tick(socket: &mut crate::helpers::WsClient) -> (i64, String) {
    loop {
        if let ServerMsg::Tick {
            server_time_ms,
            text,
        } = next_server_msg(socket).await
        {
            return (server_time_ms, text);
        }
    }
}

#[tokio::test]
async fn anyone_is_greeted_then_receives_ticks_a_second_apart_without_an_account() {
    let app = spawn_app().await;
    let mut socket = connect_ws_as(&app.ws_url(), None).await;

    let ServerMsg::Hello {
        protocol,
        server_time_ms,
        username: None,
        ..
    } = next_server_msg(&mut socket).await
    else {
        panic!("the first message is not hello");
    };
    let (first_ms, first_text) = next_tick(&mut socket).await;
    let (second_ms, second_text) = next_tick(&mut socket).await;

    assert_eq!(protocol, PROTOCOL_VERSION);
    assert!(first_ms >= server_time_ms - 1000);
    assert_eq!(first_ms % 1000, 0, "ticks fall on whole seconds");
    assert_eq!(second_ms - first_ms, 1000);
    assert_clock_text(&first_text);
    assert_clock_text(&second_text);
    assert_ne!(first_text, second_text);
}

#[tokio::test]
async fn a_plain_get_of_the_websocket_endpoint_is_a_400_problem() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.ws_url().replace("ws://", "http://"))
        .send()
        .await
        .unwrap();

    let problem = assert_problem(response, 400).await;
    assert!(problem.detail.contains("WebSocket"), "{}", problem.detail);
}

#[tokio::test]
async fn a_ping_is_answered_with_a_pong_echoing_the_client_time() {
    let app = spawn_app().await;
    let mut socket = app.connect_ws_plain().await;
    next_server_msg(&mut socket).await;

    socket
        .send(Message::text(r#"{"type":"ping","client_time_ms":1234}"#))
        .await
        .unwrap();

    loop {
        if let ServerMsg::Pong { client_time_ms, .. } = next_server_msg(&mut socket).await {
            assert_eq!(client_time_ms, 1234);
            break;
        }
    }
}

#[tokio::test]
async fn a_message_at_the_size_limit_is_read_whole_though_the_read_buffer_is_smaller() {
    let app = spawn_app().await;
    let mut socket = app.connect_ws_plain().await;
    next_server_msg(&mut socket).await;

    // A valid ping padded with whitespace to exactly the limit: many reads of the server's
    // small buffer make one frame.
    let ping = r#"{"type":"ping","client_time_ms":4096}"#;
    let padded = format!(
        "{ping}{}",
        " ".repeat(shared::ws::MAX_CLIENT_MESSAGE_BYTES - ping.len())
    );
    assert_eq!(padded.len(), shared::ws::MAX_CLIENT_MESSAGE_BYTES);
    socket.send(Message::text(padded)).await.unwrap();

    loop {
        if let ServerMsg::Pong { client_time_ms, .. } = next_server_msg(&mut socket).await {
            assert_eq!(client_time_ms, 4096);
            break;
        }
    }
}

#[tokio::test]
async fn a_garbage_message_closes_only_that_connection_with_1003() {
    let app = spawn_app().await;
    let mut rude = app.connect_ws_plain().await;
    let mut polite = app.connect_ws_plain().await;
    next_server_msg(&mut rude).await;
    next_server_msg(&mut polite).await;

    rude.send(Message::text("this is not json")).await.unwrap();

    let (code, reason) = next_close(&mut rude).await;
    assert_eq!(code, 1003);
    assert!(reason.contains("unsupported message"), "{reason}");
    next_tick(&mut polite).await;
}

#[tokio::test]
async fn shutting_down_sends_every_client_close_1012_to_reconnect() {
    let app = spawn_app().await;
    let mut first = app.connect_ws_plain().await;
    let mut second = app.connect_ws_plain().await;
    next_server_msg(&mut first).await;
    next_server_msg(&mut second).await;

    app.shut_down().await;

    assert_eq!(next_close(&mut first).await.0, 1012);
    assert_eq!(next_close(&mut second).await.0, 1012);
}

#[tokio::test]
async fn a_signed_in_client_is_greeted_by_name() {
    let app = spawn_app().await;
    let mut socket = app.connect_ws_plain().await;
    let ServerMsg::Hello { username, .. } = next_server_msg(&mut socket).await else {
        panic!("the first message is not hello");
    };
    assert_eq!(username.as_deref(), Some("owner"));
}

#[tokio::test]
async fn a_draining_instance_says_not_ready_keeps_serving_then_closes_live_connections_with_1012() {
    let app = crate::helpers::spawn_app_with(|config| {
        config.drain_seconds = 1;
        config.close_spread_seconds = 1;
    })
    .await;
    let (mut socket, _) = app.connect_ws().await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    let (client, url) = (app.client.clone(), app.url(""));
    let tasks = app.owner_client.clone();
    let tasks_url = app.url(&app.tasks_path());
    let began = std::time::Instant::now();

    let stopping = app.begin_shutdown();
    let probe = async {
        // The signal reaches the server in a moment: wait for readiness to fail.
        let ready = loop {
            let ready = client.get(format!("{url}/readyz")).send().await.unwrap();
            if ready.status() == 503 || began.elapsed() > std::time::Duration::from_millis(800) {
                break ready;
            }
        };
        let alive = client.get(format!("{url}/healthz")).send().await.unwrap();
        let served = tasks.get(&tasks_url).send().await.unwrap();
        (ready.status(), alive.status(), served.status())
    };
    let ((ready, alive, served), (code, _)) = tokio::join!(probe, next_close(&mut socket));

    assert_eq!(
        (ready.as_u16(), alive.as_u16(), served.as_u16()),
        (503, 200, 200)
    );
    assert_eq!(code, 1012);
    let took = began.elapsed();
    assert!(
        took >= std::time::Duration::from_secs(1) && took <= std::time::Duration::from_secs(3),
        "closed after {took:?}: the drain, then within the spread"
    );
    stopping.await;
}
