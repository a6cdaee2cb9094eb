//! The HTTP/1.1 server loop: hyper, with deadlines and size caps that a slow or hostile client
//! cannot hold the server past.
//!
//! A client that sends half a request header and then nothing is disconnected after
//! the read timeout (`--read-timeout`); a header larger than [`MAX_HEAD_BYTES`] is answered 431. (Bodies have
//! their own deadline, on the API routes.) Connections come from an [`AdmittingListener`], which
//! admits them within the caps of `limits`. On shutdown, idle keep-alive connections are closed
//! and requests in flight may finish.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::wire::{AdmittingListener, Peer};

/// The largest request head read (hyper's read buffer; its minimum is 8 KiB).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// How long shutdown waits for requests in flight.
const REQUEST_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `stop` completes.
pub async fn run(
    mut listener: AdmittingListener,
    router: Router,
    read_timeout: Duration,
    stop: impl Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(read_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    let closing = CancellationToken::new();
    let connections = TaskTracker::new();
    tokio::pin!(stop);
    loop {
        let (io, addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let peer = Peer {
            addr,
            socket: io.socket(),
        };
        let service =
            router
                .clone()
                .map_request(move |mut request: axum::http::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request
                });
        let connection = http
            .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
            .with_upgrades();
        let closing = closing.clone();
        connections.spawn(async move {
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = closing.cancelled() => {
                    // Finish the request in flight, close if idle.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = ended {
                tracing::debug!(%addr, %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    closing.cancel();
    connections.close();
    if tokio::time::timeout(REQUEST_DRAIN_TIMEOUT, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("some requests did not finish in time");
    }
}
