//! Who may follow a board live, and how fast that ends: a subscription per role on the WebSocket
//! and the event stream, and revocation (member removed, session signed out, token revoked, board
//! deleted) reaching open connections within a second, also when made on another instance.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use shared::{BOARDS_PATH, EndReason, ServerMsg};

use crate::helpers::{
    TestApp, User, WsClient, connect_ws_as, next_non_tick, next_server_msg, send_subscribe,
    spawn_app, spawn_app_in, test_database, write_fake_front_end,
};
use crate::server_process::ServerProcess;

/// How soon a revocation must reach an open connection.
const REVOCATION_PATIENCE: Duration = Duration::from_secs(1);

/// A viewer of the app's board (added by its owner).
async fn viewer(app: &TestApp, name: &str) -> User {
    let user = app.sign_up(name).await;
    let added = app
        .owner_client
        .post(app.url(&format!("{BOARDS_PATH}/{}/members", app.board)))
        .json(&json!({ "username": name, "role": "viewer" }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    user
}

/// A WebSocket as `user` (or anonymous) that asked to follow the app's board: what it answered.
async fn subscribe_as(app: &TestApp, user: Option<&User>) -> (WsClient, ServerMsg) {
    let mut socket = connect_ws_as(&app.ws_url(), user).await;
    assert!(matches!(
        next_server_msg(&mut socket).await,
        ServerMsg::Hello { .. }
    ));
    send_subscribe(&mut socket, app.board, None).await;
    let answer = next_non_tick(&mut socket).await;
    (socket, answer)
}

/// Waits for `unsubscribed` on `socket` (skipping ticks) within [`REVOCATION_PATIENCE`] of `since`.
async fn ended_within(socket: &mut WsClient, since: Instant) -> EndReason {
    match next_non_tick(socket).await {
        ServerMsg::Unsubscribed { reason, .. } => {
            let took = since.elapsed();
            assert!(took <= REVOCATION_PATIENCE, "revocation took {took:?}");
            reason
        }
        other => panic!("expected unsubscribed, got {other:?}"),
    }
}

/// Reads an event stream until it says `unsubscribed` (each chunk within
/// [`REVOCATION_PATIENCE`]; ticks keep coming meanwhile); what it sent.
async fn until_unsubscribed(stream: &mut reqwest::Response) -> String {
    let mut seen = String::new();
    while !seen.contains(r#""type":"unsubscribed""#) {
        let chunk = tokio::time::timeout(REVOCATION_PATIENCE, stream.chunk())
            .await
            .expect("the event stream hears of it within a second")
            .unwrap()
            .expect("the stream is open");
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    seen
}

#[tokio::test]
async fn members_may_follow_a_board_live_and_nobody_else() {
    let app = spawn_app().await;
    let member = viewer(&app, "member").await;
    let writer = app.sign_up("writer").await;
    let promoted = app
        .owner_client
        .post(app.url(&format!("{BOARDS_PATH}/{}/members", app.board)))
        .json(&json!({ "username": "writer", "role": "editor" }))
        .send()
        .await
        .unwrap();
    assert_eq!(promoted.status(), 201);
    let stranger = app.sign_up("stranger").await;

    let (_, anonymous) = subscribe_as(&app, None).await;
    let (_, outsider) = subscribe_as(&app, Some(&stranger)).await;
    let (_, viewer) = subscribe_as(&app, Some(&member)).await;
    let (_, editor) = subscribe_as(&app, Some(&writer)).await;
    let (_, owner) = subscribe_as(&app, Some(&app.owner)).await;

    let reason = |answer: ServerMsg| match answer {
        ServerMsg::Unsubscribed { reason, .. } => Some(reason),
        ServerMsg::Subscribed { .. } => None,
        other => panic!("{other:?}"),
    };
    assert_eq!(reason(anonymous), Some(EndReason::SignInRequired));
    assert_eq!(reason(outsider), Some(EndReason::NotFound));
    assert_eq!(reason(viewer), None);
    assert_eq!(reason(editor), None);
    assert_eq!(reason(owner), None);
}

#[tokio::test]
async fn a_removed_member_loses_the_board_at_once_on_the_websocket_and_the_event_stream() {
    let app = spawn_app().await;
    let member = viewer(&app, "member").await;
    let (mut socket, subscribed) = subscribe_as(&app, Some(&member)).await;
    assert!(matches!(subscribed, ServerMsg::Subscribed { .. }));
    let mut stream = app
        .as_user(
            &member,
            Method::GET,
            &format!("/api/events?board={}", app.board),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);

    let removed = Instant::now();
    let response = app
        .owner_client
        .delete(app.url(&format!(
            "{BOARDS_PATH}/{}/members/{}",
            app.board, member.account.id
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);

    assert_eq!(ended_within(&mut socket, removed).await, EndReason::Revoked);
    let seen = until_unsubscribed(&mut stream).await;
    assert!(seen.contains(r#""reason":"revoked""#), "{seen}");
    assert!(removed.elapsed() <= REVOCATION_PATIENCE * 2);
    // Nothing of the board reaches the removed member any more.
    app.create_task("after the removal").await;
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(300), next_non_tick(&mut socket)).await {
            Ok(message) => assert!(message.seq().is_none(), "{message:?}"),
            Err(_) => continue,
        }
    }
}

#[tokio::test]
async fn signing_out_ends_the_sessions_subscriptions_and_revoking_a_token_ends_its_own() {
    let app = spawn_app().await;
    let (mut by_cookie, _) = subscribe_as(&app, Some(&app.owner)).await;
    let issued: shared::IssuedToken = app
        .owner_client
        .post(app.url(shared::TOKENS_PATH))
        .json(&json!({ "name": "script" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            app.ws_url(),
        )
        .unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", issued.secret).parse().unwrap(),
    );
    let (mut by_token, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert!(matches!(
        next_server_msg(&mut by_token).await,
        ServerMsg::Hello {
            username: Some(_),
            ..
        }
    ));
    send_subscribe(&mut by_token, app.board, None).await;
    assert!(matches!(
        next_non_tick(&mut by_token).await,
        ServerMsg::Subscribed { .. }
    ));

    let revoked = Instant::now();
    let response = app
        .owner_client
        .delete(app.url(&format!("{}/{}", shared::TOKENS_PATH, issued.token.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        ended_within(&mut by_token, revoked).await,
        EndReason::SignedOut
    );

    let signed_out = Instant::now();
    let response = app
        .owner_client
        .delete(app.url(shared::SESSION_PATH))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        ended_within(&mut by_cookie, signed_out).await,
        EndReason::SignedOut
    );
}

#[tokio::test]
async fn a_revocation_made_on_another_instance_reaches_this_ones_websockets_and_event_streams() {
    let dir = tempfile::tempdir().unwrap();
    let database = test_database(dir.path()).await;
    let dist = write_fake_front_end(&dir.path().join("other"));
    let app = spawn_app_in(dir, |_| {}).await;
    let member = viewer(&app, "member").await;
    let (mut socket, _) = subscribe_as(&app, Some(&member)).await;
    let board_path = format!("{BOARDS_PATH}/{}", app.board);
    // This instance now remembers the membership.
    let seen = app
        .as_user(&member, Method::GET, &board_path)
        .send()
        .await
        .unwrap();
    assert_eq!(seen.status(), 200);
    let mut stream = app
        .as_user(
            &member,
            Method::GET,
            &format!("/api/events?board={}", app.board),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let other =
        tokio::task::spawn_blocking(move || ServerProcess::start(database.to_string(), &dist))
            .await
            .unwrap();

    let deleted = Instant::now();
    let response = reqwest::Client::new()
        .delete(other.url(&format!("{BOARDS_PATH}/{}", app.board)))
        .header(
            "cookie",
            format!("{}={}", shared::SESSION_COOKIE, app.owner.cookie),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);

    assert_eq!(ended_within(&mut socket, deleted).await, EndReason::Revoked);
    until_unsubscribed(&mut stream).await;
    assert!(deleted.elapsed() <= REVOCATION_PATIENCE * 2);
    // And forgets it: the next request is answered from the store.
    let gone = app
        .as_user(&member, Method::GET, &board_path)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
}
