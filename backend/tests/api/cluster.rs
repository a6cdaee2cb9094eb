//! Several `tasktick` processes on one PostgreSQL database, as a team would run them: every client
//! of every instance gets every event once, in `seq` order, whichever instance wrote it, also when
//! an instance dies or the database restarts.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::future::join_all;
use shared::{BoardId, ServerMsg, tasks_path};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{
    PATIENCE, User, WsClient, assert_problem, connect_ws_as, cookie_client, owner_and_board,
    send_subscribe, write_fake_front_end,
};
use crate::postgres::{Cluster, fresh_database_on, server_url};
use crate::server_process::ServerProcess;

/// Starts `count` instances on the database at `url`.
fn instances(url: &str, count: usize) -> (Vec<ServerProcess>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let dist = write_fake_front_end(dir.path());
    let servers = (0..count)
        .map(|_| ServerProcess::start(url, &dist))
        .collect();
    (servers, dir)
}

/// The account and board the tests work with, made through `server`, and a client signed in as
/// the owner.
struct Team {
    owner: User,
    board: BoardId,
    http: reqwest::Client,
}

async fn team(server: &ServerProcess) -> Team {
    let base = server.url("");
    let (owner, board) = owner_and_board(&reqwest::Client::new(), &base).await;
    Team {
        http: cookie_client(&owner),
        owner,
        board,
    }
}

/// A WebSocket on `server` following the team's board, resuming after `since` if given, past
/// its `hello` and `subscribed`.
async fn follow(server: &ServerProcess, team: &Team, since: Option<i64>) -> WsClient {
    let mut socket = connect_ws_as(&server.ws_url(), Some(&team.owner)).await;
    let hello = next_msg(&mut socket).await;
    assert!(matches!(hello, Some(ServerMsg::Hello { .. })), "{hello:?}");
    send_subscribe(&mut socket, team.board, since).await;
    let subscribed = next_msg(&mut socket).await;
    assert!(
        matches!(subscribed, Some(ServerMsg::Subscribed { .. })),
        "{subscribed:?}"
    );
    socket
}

/// The next server message, `None` once the connection is gone (closed, reset, killed).
async fn next_msg(socket: &mut WsClient) -> Option<ServerMsg> {
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("a message in time");
        match message {
            Some(Ok(Message::Text(text))) => return Some(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            _ => return None,
        }
    }
}

/// Reads until the task event with seq `last` arrived (or the connection ends); returns the seqs of
/// every task event received, in the order received.
async fn task_seqs_until(socket: &mut WsClient, last: i64) -> Vec<i64> {
    let mut seqs = Vec::new();
    while seqs.last() != Some(&last) {
        match next_msg(socket).await {
            Some(message) => {
                assert!(!matches!(message, ServerMsg::Resync { .. }), "{message:?}");
                seqs.extend(message.seq().map(|(_, seq)| seq));
            }
            None => break,
        }
    }
    seqs
}

/// Creates a task on the team's board through `server`, which must answer 201.
async fn create(team: &Team, server: &str, title: &str) {
    let response = team
        .http
        .post(format!("{server}{}", tasks_path(team.board)))
        .json(&serde_json::json!({ "title": title }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{title}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_of_every_instance_receives_every_event_once_in_order() {
    let database = fresh_database_on(&server_url()).await;
    let (servers, _dir) = instances(&database, 3);
    let team = team(&servers[0]).await;
    let mut clients = Vec::new();
    for server in &servers {
        for _ in 0..2 {
            clients.push(follow(server, &team, None).await);
        }
    }

    // Four writers on each instance at once, five tasks each.
    let team = &team;
    let writers = servers.iter().enumerate().flat_map(|(s, server)| {
        let base = server.url("");
        (0..4).map(move |w| {
            let base = base.clone();
            async move {
                for i in 0..5 {
                    create(team, &base, &format!("instance {s} writer {w} task {i}")).await;
                }
            }
        })
    });
    join_all(writers).await;

    let expected: Vec<i64> = (1..=60).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(task_seqs_until(client, 60).await, expected, "client {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_read_on_one_instance_shows_a_change_made_on_another_with_its_seq() {
    let database = fresh_database_on(&server_url()).await;
    let (servers, _dir) = instances(&database, 2);
    let team = team(&servers[0]).await;
    let list = |server: &ServerProcess| team.http.get(server.url(&tasks_path(team.board))).send();
    let seq_and_titles = |response: reqwest::Response| async move {
        let seq: i64 = response.headers()[shared::SEQ_HEADER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let tasks: Vec<shared::Task> = response.json().await.unwrap();
        (seq, tasks.into_iter().map(|t| t.title).collect::<Vec<_>>())
    };
    // Instance 1 reads (and keeps) the empty page; then instance 0 adds a task.
    let (seq, titles) = seq_and_titles(list(&servers[1]).await.unwrap()).await;
    assert_eq!((seq, titles.len()), (0, 0));
    let mut live = follow(&servers[1], &team, Some(0)).await;
    create(&team, &servers[0].url(""), "made on instance 0").await;

    // Once instance 1's live clients have the change, so do its list reads.
    assert_eq!(task_seqs_until(&mut live, 1).await, [1]);
    let (seq, titles) = seq_and_titles(list(&servers[1]).await.unwrap()).await;
    assert_eq!((seq, titles), (1, vec!["made on instance 0".to_owned()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_a_killed_instance_resumes_on_another_without_missing_an_event() {
    const TOTAL: i64 = 30;
    let database = fresh_database_on(&server_url()).await;
    let (mut servers, _dir) = instances(&database, 2);
    let survivor = servers.pop().unwrap();
    let doomed = servers.pop().unwrap();
    let team = std::sync::Arc::new(team(&survivor).await);
    let mut socket = follow(&doomed, &team, None).await;
    let writer = {
        let base = survivor.url("");
        let team = team.clone();
        tokio::spawn(async move {
            for i in 0..TOTAL {
                create(&team, &base, &format!("task {i}")).await;
            }
        })
    };

    let mut received = task_seqs_until(&mut socket, 5).await;
    tokio::task::spawn_blocking(move || doomed.kill_hard());
    // Read on until the killed instance's connection ends, as a browser would.
    received.extend(task_seqs_until(&mut socket, TOTAL).await);
    let last = received.last().copied().unwrap_or(0);
    let mut resumed = follow(&survivor, &team, Some(last)).await;
    if last < TOTAL {
        received.extend(task_seqs_until(&mut resumed, TOTAL).await);
    }
    writer.await.unwrap();

    assert_eq!(received, (1..=TOTAL).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_is_answered_with_503_and_every_client_catches_up() {
    let cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    let database = fresh_database_on(&cluster.url()).await;
    let (servers, _dir) = instances(&database, 2);
    let team = team(&servers[0]).await;
    let mut clients = vec![
        follow(&servers[0], &team, None).await,
        follow(&servers[1], &team, None).await,
    ];
    let http = &team.http;
    let tasks = tasks_path(team.board);
    for i in 0..3 {
        create(&team, &servers[0].url(""), &format!("before {i}")).await;
    }
    for client in &mut clients {
        assert_eq!(task_seqs_until(client, 3).await, [1, 2, 3]);
    }

    cluster.stop();
    let asked = Instant::now();
    let refused = http
        .post(servers[0].url(&tasks))
        .json(&serde_json::json!({ "title": "during the outage" }))
        .send()
        .await
        .unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(8),
        "{:?}",
        asked.elapsed()
    );
    assert_eq!(refused.headers()["retry-after"], "2");
    let problem = assert_problem(refused, 503).await;
    assert_eq!(problem.kind, "/problems/store-unavailable");
    let read = http.get(servers[1].url(&tasks)).send().await.unwrap();
    assert_problem(read, 503).await;
    let health = http.get(servers[1].url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 503);
    // Live connections stay open and keep ticking meanwhile.
    for client in &mut clients {
        loop {
            match next_msg(client).await {
                Some(ServerMsg::Tick { .. }) => break,
                Some(_) => continue,
                None => panic!("the connection closed during the outage"),
            }
        }
    }

    let _cluster = tokio::task::spawn_blocking(move || {
        cluster.resume();
        cluster
    })
    .await
    .unwrap();
    // The first writes after the restart may still meet a connection the restart broke.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = http
            .post(servers[1].url(&tasks))
            .json(&serde_json::json!({ "title": "after 0" }))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            201 => break,
            503 if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => panic!("after the restart: {other}"),
        }
    }
    for i in 1..3 {
        create(&team, &servers[1].url(""), &format!("after {i}")).await;
    }

    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(task_seqs_until(client, 6).await, [4, 5, 6], "client {i}");
    }
    let tasks: Vec<shared::Task> = http
        .get(servers[0].url(&tasks))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let titles: Vec<&str> = tasks.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "before 0", "before 1", "before 2", "after 0", "after 1", "after 2"
        ]
    );
}
