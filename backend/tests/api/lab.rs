//! The clock as a REST resource, and the transport lab's byte counts: checked against the exact
//! bytes a raw client sent and received.

use futures_util::SinkExt;
use shared::{ClockReading, LabReport, ServerMsg};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{PATIENCE, TestApp, assert_problem, next_server_msg, spawn_app};

/// Sends `request` as is on `stream` and reads one whole response (head and `Content-Length` body).
async fn exchange(stream: &mut TcpStream, request: &str) -> Vec<u8> {
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        if let Some(head_end) = find(&response, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&response[..head_end]).to_lowercase();
            let body_len: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map_or(0, |len| len.trim().parse().unwrap());
            if response.len() >= head_end + 4 + body_len {
                return response;
            }
        }
        let read = tokio::time::timeout(PATIENCE, stream.read(&mut buffer))
            .await
            .expect("the response in time")
            .unwrap();
        assert!(read > 0, "the server closed the connection mid-response");
        response.extend_from_slice(&buffer[..read]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn get_request(app: &TestApp, path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: lab-test\r\nAccept: */*\r\n\r\n",
        app.addr
    )
}

async fn report(app: &TestApp, run: &str) -> LabReport {
    let response = app.get(&format!("/api/lab/runs/{run}")).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_clock_is_a_cacheable_resource_that_answers_304_until_the_next_tick() {
    let app = spawn_app().await;

    let response = app.get("/api/clock").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["cache-control"],
        "no-cache, no-transform"
    );
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let reading: ClockReading = response.json().await.unwrap();
    assert!(reading.text.starts_with("The time is: "), "{reading:?}");

    let again = app
        .client
        .get(app.url("/api/clock"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    // The tick may have moved on in between: then the answer is the new reading, with a new tag.
    if again.status() == 304 {
        assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
        assert!(again.bytes().await.unwrap().is_empty());
    } else {
        assert_eq!(again.status(), 200);
        assert_ne!(again.headers()["etag"].to_str().unwrap(), etag);
    }
}

#[tokio::test]
async fn a_polling_lane_counts_exactly_the_bytes_of_its_requests_and_responses() {
    let app = spawn_app().await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let lab_request = get_request(&app, "/api/clock?lab=poll-run");
    let other_request = get_request(&app, "/healthz");

    // Two lab polls with an ordinary request between them on the same keep-alive connection.
    let first = exchange(&mut stream, &lab_request).await;
    let other = exchange(&mut stream, &other_request).await;
    let second = exchange(&mut stream, &lab_request).await;

    assert!(first.starts_with(b"HTTP/1.1 200"));
    assert!(!other.is_empty());
    let polling = report(&app, "poll-run").await.polling;
    assert_eq!(polling.requests, 2);
    assert_eq!(polling.bytes_in, 2 * lab_request.len() as u64);
    assert_eq!(polling.bytes_out, (first.len() + second.len()) as u64);
}

#[tokio::test]
async fn a_websocket_lane_counts_the_handshake_and_every_frame_header() {
    let app = spawn_app().await;
    let url = format!("{}?lab=ws-run", app.ws_url());
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let hello = next_server_msg(&mut socket).await;
    assert!(matches!(hello, ServerMsg::Hello { .. }));
    let hello_len = serde_json::to_string(&hello).unwrap().len() as u64;
    let ping = r#"{"type":"ping","client_time_ms":1}"#;
    socket.send(Message::text(ping)).await.unwrap();
    loop {
        if let ServerMsg::Pong { .. } = next_server_msg(&mut socket).await {
            break;
        }
    }

    let websocket = report(&app, "ws-run").await.websocket;
    assert_eq!(websocket.requests, 1);
    // In: the handshake request, then the ping in a masked frame (2 header + 4 mask bytes).
    assert!(
        websocket.bytes_in > ping.len() as u64 + 6 + 100,
        "{websocket:?}"
    );
    // Out: at least the 101 answer and `hello` with its 2-byte frame header.
    assert!(
        websocket.bytes_out > "HTTP/1.1 101 Switching Protocols\r\n".len() as u64 + hello_len + 2,
        "{websocket:?}"
    );
}

#[tokio::test]
async fn a_websocket_lane_keeps_the_bytes_of_its_connection_once_the_server_has_closed_it() {
    let app = spawn_app().await;
    let url = format!("{}?lab=closed-run", app.ws_url());
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert!(matches!(
        next_server_msg(&mut socket).await,
        ServerMsg::Hello { .. }
    ));
    let open = report(&app, "closed-run").await.websocket;

    // The close handshake, then the end of the TCP stream: the server has dropped its socket, so
    // what the lane shows now was settled as the socket closed, not read from a live one.
    socket.close(None).await.unwrap();
    let mut tcp = match socket.into_inner() {
        tokio_tungstenite::MaybeTlsStream::Plain(tcp) => tcp,
        _ => unreachable!("the test server speaks plain TCP"),
    };
    let mut rest = Vec::new();
    tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut rest))
        .await
        .expect("the server closes the connection after the close handshake")
        .unwrap();

    let closed = report(&app, "closed-run").await.websocket;
    // In: the client's close frame (2 header + 4 mask bytes); out: the server's (2), and any tick
    // sent in between.
    assert!(
        closed.bytes_in >= open.bytes_in + 6,
        "{open:?} then {closed:?}"
    );
    assert!(
        closed.bytes_out >= open.bytes_out + 2,
        "{open:?} then {closed:?}"
    );
    assert_eq!(closed.requests, 1);
}

#[tokio::test]
async fn an_event_stream_lane_counts_its_response_as_it_flows() {
    let app = spawn_app().await;
    let mut response = app
        .client
        .get(app.url("/api/events?lab=sse-run"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let first = tokio::time::timeout(PATIENCE, response.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    let sse = report(&app, "sse-run").await.sse;
    assert_eq!(sse.requests, 1);
    assert!(sse.bytes_in > 0);
    assert!(sse.bytes_out > first.len() as u64, "{sse:?}");
    assert_eq!(report(&app, "sse-run").await.websocket, Default::default());
}

#[tokio::test]
async fn a_malformed_lab_run_name_is_a_bad_request() {
    let app = spawn_app().await;

    assert_problem(app.get("/api/lab/runs/not%20ok").await, 400).await;
    assert_problem(app.get("/api/clock?lab=a/b").await, 400).await;
}
