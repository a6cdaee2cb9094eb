//! Live task events over `/ws`: fan-out to the board's subscribers, resume with `since`, resync,
//! and the connection limits.

use std::num::NonZeroU32;
use std::time::Duration;

use futures_util::SinkExt;
use serde_json::json;
use shared::ServerMsg;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use crate::helpers::{
    TestApp, WsClient, next_close, next_non_tick, next_server_msg, spawn_app, spawn_app_in,
    spawn_app_with, test_database,
};

/// Connects as the owner and follows the board; returns the socket and the board's `seq`.
async fn connect(app: &TestApp) -> (WsClient, i64) {
    app.connect_ws().await
}

fn created_title(msg: &ServerMsg) -> &str {
    match msg {
        ServerMsg::TaskCreated { task, .. } => &task.title,
        other => panic!("expected task_created, got {other:?}"),
    }
}

#[tokio::test]
async fn every_connected_client_receives_each_rest_change_with_increasing_seq() {
    let app = spawn_app().await;
    let (mut first, head) = connect(&app).await;
    let (mut second, _) = connect(&app).await;
    assert_eq!(head, 0);

    let task = app.create_task("shared").await;
    let updated = app.patch_task(task.id, &json!({ "done": true })).await;
    assert_eq!(updated.status(), 200);
    assert_eq!(app.delete_task(task.id).await.status(), 204);

    for socket in [&mut first, &mut second] {
        let ServerMsg::TaskCreated {
            seq: 1,
            task: created,
            ..
        } = next_non_tick(socket).await
        else {
            panic!("expected task_created with seq 1");
        };
        assert_eq!(created, task);
        let ServerMsg::TaskUpdated {
            seq: 2,
            task: changed,
            ..
        } = next_non_tick(socket).await
        else {
            panic!("expected task_updated with seq 2");
        };
        assert!(changed.done);
        assert_eq!(changed.version, 2);
        assert_eq!(
            next_non_tick(socket).await,
            ServerMsg::TaskDeleted {
                board: app.board,
                seq: 3,
                id: task.id
            }
        );
    }
}

#[tokio::test]
async fn a_client_that_resumes_with_since_receives_exactly_what_it_missed_in_order() {
    let app = spawn_app().await;
    app.create_task("seen before").await;
    let (socket, head) = connect(&app).await;
    drop(socket);

    for title in ["one", "two", "three"] {
        app.create_task(title).await;
    }
    let mut resumed = app.connect_ws_since(head).await;

    let ServerMsg::Subscribed { seq, .. } = next_non_tick(&mut resumed).await else {
        panic!("the subscription was not accepted");
    };
    assert_eq!(seq, head + 3);
    for title in ["one", "two", "three"] {
        assert_eq!(created_title(&next_non_tick(&mut resumed).await), title);
    }
    // The seam: the next live event follows without a gap or a duplicate.
    app.create_task("four").await;
    let next = next_non_tick(&mut resumed).await;
    assert_eq!(
        (created_title(&next), next.seq()),
        ("four", Some((app.board, head + 4)))
    );
}

#[tokio::test]
async fn a_client_resumes_from_events_another_instance_wrote_before_this_one_published_them() {
    let dir = tempfile::tempdir().unwrap();
    let database = test_database(dir.path()).await;
    let app = spawn_app_in(dir, |_| {}).await;
    // Another instance on the same database, as far as the store can tell.
    let other = backend::store::open(&database, NonZeroU32::new(100).unwrap())
        .await
        .unwrap();
    let create = |title: &str| backend::store::Write::Create {
        new: shared::NewTask {
            title: shared::TaskTitle::parse(title).unwrap(),
        },
        key: None,
        by: None,
    };
    other
        .write(app.board, &[create("a"), create("b"), create("c")])
        .await
        .unwrap();

    // At once: this instance may not have published them yet; the store has.
    let mut resumed = app.connect_ws_since(1).await;

    let subscribed = next_non_tick(&mut resumed).await;
    assert!(
        matches!(subscribed, ServerMsg::Subscribed { seq: 3, .. }),
        "{subscribed:?}"
    );
    let replayed = [
        next_non_tick(&mut resumed).await,
        next_non_tick(&mut resumed).await,
    ];
    assert_eq!(
        replayed.map(|event| event.seq()),
        [Some((app.board, 2)), Some((app.board, 3))]
    );
}

#[tokio::test]
async fn since_older_than_the_retained_events_or_ahead_of_the_server_gets_resync() {
    let app = spawn_app_with(|c| c.event_retention = NonZeroU32::new(2).unwrap()).await;
    for title in ["a", "b", "c", "d"] {
        app.create_task(title).await;
    }

    for since in [0, 1, 99] {
        let mut socket = app.connect_ws_since(since).await;
        assert!(matches!(
            next_non_tick(&mut socket).await,
            ServerMsg::Subscribed { seq: 4, .. }
        ));
        let ServerMsg::Resync { reason, .. } = next_non_tick(&mut socket).await else {
            panic!("since={since}: expected resync");
        };
        assert!(!reason.is_empty());
    }
    let mut recent = app.connect_ws_since(2).await;
    next_non_tick(&mut recent).await;
    assert_eq!(created_title(&next_non_tick(&mut recent).await), "c");
}

#[tokio::test]
async fn the_task_list_says_which_seq_it_reflects() {
    let app = spawn_app().await;
    app.create_task("a").await;
    app.create_task("b").await;

    let response = app.get_as_owner(&app.tasks_path()).await;

    assert_eq!(response.headers()["tasktick-seq"], "2");
}

#[tokio::test]
async fn the_seq_continues_after_a_restart() {
    let app = spawn_app().await;
    app.create_task("before").await;
    let dir = app.shut_down().await;

    let restarted = spawn_app_in(dir, |_| {}).await;
    let (mut socket, head) = connect(&restarted).await;
    restarted.create_task("after").await;

    assert_eq!(head, 1);
    assert_eq!(
        next_non_tick(&mut socket).await.seq(),
        Some((restarted.board, 2))
    );
}

#[tokio::test]
async fn a_foreign_origin_is_refused_with_403_before_the_upgrade() {
    let app = spawn_app_with(|c| c.allowed_origins = vec!["http://friend.test".into()]).await;
    let with_origin = |origin: &str| {
        let mut request = app.ws_url().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        request
    };

    let refused = tokio_tungstenite::connect_async(with_origin("http://evil.test")).await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
        panic!("a foreign origin was not refused");
    };
    assert_eq!(response.status(), 403);

    let own = format!("http://{}", app.addr);
    assert!(
        tokio_tungstenite::connect_async(with_origin(&own))
            .await
            .is_ok()
    );
    assert!(
        tokio_tungstenite::connect_async(with_origin("http://friend.test"))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn beyond_the_connection_limit_the_upgrade_gets_503_with_retry_after() {
    let app = spawn_app_with(|c| c.max_connections = 1).await;
    let (first, _) = connect(&app).await;

    let refused = tokio_tungstenite::connect_async(app.ws_url()).await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
        panic!("the second connection was not refused");
    };
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));

    drop(first);
    // The slot frees once the server notices the first connection is gone.
    let deadline = tokio::time::Instant::now() + crate::helpers::PATIENCE;
    while tokio_tungstenite::connect_async(app.ws_url())
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot was never freed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_oversized_message_closes_only_that_connection_with_1009() {
    let app = spawn_app().await;
    let (mut rude, _) = connect(&app).await;
    let (mut polite, _) = connect(&app).await;

    rude.send(Message::text(
        "x".repeat(shared::ws::MAX_CLIENT_MESSAGE_BYTES + 1),
    ))
    .await
    .unwrap();

    assert_eq!(next_close(&mut rude).await.0, 1009);
    app.create_task("still served").await;
    assert_eq!(
        created_title(&next_non_tick(&mut polite).await),
        "still served"
    );
}

#[tokio::test]
async fn a_text_message_that_is_not_utf8_closes_with_1007() {
    let app = spawn_app().await;
    let (mut socket, _) = connect(&app).await;

    let frame = Frame::message(vec![0xff, 0xfe, 0xfd], OpCode::Data(Data::Text), true);
    socket.send(Message::Frame(frame)).await.unwrap();

    assert_eq!(next_close(&mut socket).await.0, 1007);
}

#[tokio::test]
async fn a_silent_peer_is_closed_after_the_timeout() {
    let app = spawn_app_with(|c| {
        c.ws_ping_interval = 1;
        c.ws_timeout = 2;
    })
    .await;
    let (mut silent, _) = connect(&app).await;

    // Not reading means not answering the server's pings, so the peer looks dead.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let (code, reason) = next_close(&mut silent).await;
    assert_eq!(code, 1001);
    assert!(reason.contains("nothing received"), "{reason}");
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_stop_the_others() {
    let app = spawn_app().await;
    let (_stalled, _) = connect(&app).await;
    let (mut reader, _) = connect(&app).await;

    for title in (0..50).map(|i| format!("task {i}")) {
        app.create_task(&title).await;
    }

    for i in 0..50 {
        assert_eq!(
            created_title(&next_non_tick(&mut reader).await),
            format!("task {i}")
        );
    }
    let tick = loop {
        if let ServerMsg::Tick { text, .. } = next_server_msg(&mut reader).await {
            break text;
        }
    };
    assert!(tick.starts_with("The time is: "));
}
