//! The `/ws` WebSocket: upgrade handling here, the per-connection loop in [`connection`], the shared
//! clock in [`clock`].

pub mod clock;
pub mod connection;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::response::Response;
use axum::routing::get;
use futures_util::StreamExt;

use crate::{AppError, AppState};

/// Largest client message accepted. Clients only send small control messages; a cap keeps one
/// connection from making the server buffer megabytes.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 4 * 1024;

/// Read buffer per connection. axum's default (128 KiB) times many thousand mostly idle connections
/// would cost gigabytes; client messages are tiny, so a few KiB suffice.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// The WebSocket route.
pub fn router() -> Router<AppState> {
    Router::new().route(shared::WS_PATH, get(ws_upgrade))
}

/// `GET /ws`: upgrades to a WebSocket; a plain GET gets a 400 problem instead of axum's plain text.
async fn ws_upgrade(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    let upgrade = upgrade.map_err(|rejection| AppError::NotWebSocket(rejection.body_text()))?;
    let AppState {
        ticks,
        shutdown,
        connections,
        ..
    } = state;
    Ok(upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        // 0: write each message out at once instead of accumulating a 128 KiB batch per connection.
        .write_buffer_size(0)
        .max_message_size(MAX_CLIENT_MESSAGE_BYTES)
        .max_frame_size(MAX_CLIENT_MESSAGE_BYTES)
        .on_upgrade(move |socket| {
            let (sink, stream) = socket.split();
            connections.track_future(connection::serve(sink, stream, ticks, shutdown))
        }))
}
