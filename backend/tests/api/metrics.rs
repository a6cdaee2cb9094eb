//! `GET /metrics`: a real server process (its own recorder, so every figure is this test's) is
//! used, and the Prometheus text it serves names what happened to it.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use shared::ServerMsg;

use crate::helpers::{
    PATIENCE, connect_ws_as, next_non_tick, next_server_msg, owner_and_board, send_subscribe,
    signed_in_client, subscribe, write_fake_front_end,
};
use crate::server_process::ServerProcess;

/// The sum of the samples of `name` whose labels include every one of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, series_labels) = match series.split_once('{') {
                Some((n, l)) => (n, l.trim_end_matches('}')),
                None => (series, ""),
            };
            let matches = series_name == name
                && labels
                    .iter()
                    .all(|(k, v)| series_labels.contains(&format!("{k}=\"{v}\"")));
            matches.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

async fn scrape(url: &str) -> String {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    response.text().await.unwrap()
}

/// Scrapes until `holds` or [`PATIENCE`] runs out (metrics are recorded as things finish).
async fn scrape_until(url: &str, holds: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = scrape(url).await;
        if holds(&text) || Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn metrics_name_connections_messages_fan_out_refusals_resyncs_store_calls_and_requests() {
    let dir = tempfile::tempdir().unwrap();
    let dist = write_fake_front_end(dir.path());
    let server = ServerProcess::start(dir.path().join("tasks.db"), &dist);
    let base = server.url("");
    let metrics = server.url("/metrics");

    for _ in 0..2 {
        assert_eq!(
            reqwest::get(server.url("/healthz")).await.unwrap().status(),
            200
        );
    }
    let (owner, board) = owner_and_board(&reqwest::Client::new(), &base).await;

    let mut socket = connect_ws_as(&server.ws_url(), Some(&owner)).await;
    assert!(matches!(
        next_server_msg(&mut socket).await,
        ServerMsg::Hello { .. }
    ));
    subscribe(&mut socket, board, None).await;
    let created = signed_in_client(&owner, &base)
        .post(format!("{base}/api/boards/{}/tasks", board.0))
        .json(&json!({ "title": "counted" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert!(matches!(
        next_non_tick(&mut socket).await,
        ServerMsg::TaskCreated { .. }
    ));
    // A `since` ahead of the board's head cannot be replayed: the client is told to reload.
    send_subscribe(&mut socket, board, Some(1_000)).await;
    assert!(matches!(
        next_non_tick(&mut socket).await,
        ServerMsg::Subscribed { .. }
    ));
    assert!(matches!(
        next_non_tick(&mut socket).await,
        ServerMsg::Resync { .. }
    ));

    let refused = reqwest::Client::new()
        .get(server.url("/ws"))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("origin", "https://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    // The follower's first look at the store's heads comes within its poll interval.
    let text = scrape_until(&metrics, |text| {
        sample(text, "tasktick_fanout_seconds_count", &[("kind", "event")]) >= 1.0
            && text.contains("tasktick_follower_lag_events ")
    })
    .await;
    let ws = [("transport", "websocket")];
    assert_eq!(
        sample(&text, "tasktick_live_connections", &ws),
        1.0,
        "{text}"
    );
    // The process's first session is in the fan-out sample (every 64th is).
    assert_eq!(
        sample(&text, "tasktick_fanout_seconds_count", &[("kind", "event")]),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "tasktick_live_resyncs_total",
            &[("reason", "replay")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "tasktick_live_refused_total",
            &[("transport", "websocket"), ("reason", "origin")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "tasktick_http_requests_total",
            &[("method", "GET"), ("route", "/healthz"), ("status", "200")]
        ),
        2.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "tasktick_http_requests_total",
            &[
                ("method", "POST"),
                ("route", "/api/boards/{board}/tasks"),
                ("status", "201")
            ]
        ),
        1.0,
        "{text}"
    );
    assert!(
        sample(
            &text,
            "tasktick_store_call_seconds_count",
            &[("outcome", "ok")]
        ) >= 3.0,
        "{text}"
    );
    assert!(text.contains("tasktick_follower_lag_events 0"), "{text}");

    drop(socket);
    let text = scrape_until(&metrics, |text| {
        sample(text, "tasktick_live_connections", &ws) == 0.0
    })
    .await;
    assert_eq!(
        sample(&text, "tasktick_live_connections", &ws),
        0.0,
        "a closed socket is not counted"
    );
    // Counted when the session ended, if not before: hello, subscribed, task_created, subscribed,
    // resync (and any ticks).
    assert!(
        sample(&text, "tasktick_live_messages_sent_total", &ws) >= 5.0,
        "{text}"
    );
    assert!(
        sample(&text, "tasktick_live_message_bytes_sent_total", &ws) > 100.0,
        "{text}"
    );
    server.kill_hard();
}

#[tokio::test]
async fn with_metrics_addr_the_metrics_are_served_there_and_not_beside_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let dist = write_fake_front_end(dir.path());
    let mut command = Command::new(env!("CARGO_BIN_EXE_tasktick"));
    command
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .arg("--database")
        .arg(dir.path().join("tasks.db"))
        .arg("--static-dir")
        .arg(&dist);
    let server = ServerProcess::spawn_command(command);
    let line = server.log_line_containing("metrics on http://", PATIENCE);
    let metrics = line[line.find("http://").unwrap()..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches(['"', '\u{1b}'])
        .to_owned();
    assert_eq!(
        reqwest::get(server.url("/healthz")).await.unwrap().status(),
        200
    );

    let text = scrape_until(&metrics, |text| text.contains("/healthz")).await;
    assert!(text.contains("tasktick_http_requests_total"), "{text}");
    let beside_the_api = reqwest::get(server.url("/metrics")).await.unwrap();
    assert!(
        !beside_the_api.text().await.unwrap().contains("tasktick_"),
        "the main address does not serve the metrics"
    );
    server.kill_hard();
}
