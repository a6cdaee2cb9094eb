//! The `/ws` WebSocket: the upgrade and its checks here, the per-connection loop in [`connection`],
//! the shared clock in [`clock`].

pub mod clock;
pub mod connection;

use std::time::Duration;

use axum::Router;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use futures_util::SinkExt;
use serde::Deserialize;
use shared::ws::{MAX_CLIENT_MESSAGE_BYTES, PROTOCOL_VERSION};
use shared::{LabRun, Problem, ServerMsg};

use tokio::sync::OwnedSemaphorePermit;

use crate::live::{Live, Outgoing};
use crate::monitoring::{self, LiveMeters, Transport};
use crate::{AppError, AppState};
use connection::{Frame, Session, Timing};

/// Read buffer per connection. axum's default (128 KiB) times many thousand mostly idle connections
/// would cost gigabytes; client messages are tens of bytes (a bigger frame, up to the 4 KiB limit,
/// grows the buffer for itself). The buffer is also zeroed before every read attempt, which every
/// broadcast's wake-up makes: at 15,000 clients 512 B instead of 4 KiB took the server from
/// 8.5 KiB to 4.6 KiB per connection and its CPU per tick from about 230 ms to 200 ms.
const READ_BUFFER_BYTES: usize = 512;
/// Most bytes queued for one slow peer before sends fail (the broadcast queue bounds events too).
const MAX_WRITE_BUFFER_BYTES: usize = 256 * 1024;
/// A peer whose socket accepts nothing for this long is disconnected.
pub(crate) const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// What a refused upgrade (too many connections) suggests as `Retry-After`, in seconds.
const RETRY_AFTER_SECS: u32 = 5;

/// WebSocket settings from the configuration.
#[derive(Debug, Clone)]
pub struct WsSettings {
    pub ping_interval: Duration,
    /// Live connections close over this span at shutdown, each at a random moment.
    pub close_spread: Duration,
    pub idle_timeout: Duration,
    /// Origins allowed besides the server's own, as `scheme://host[:port]`.
    pub allowed_origins: Vec<String>,
    /// Every upgrade is refused (`--disable-websocket`).
    pub disabled: bool,
}

/// The WebSocket route.
pub fn router() -> Router<AppState> {
    Router::new().route(shared::WS_PATH, get(ws_upgrade))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WsQuery {
    /// Count this connection's bytes in the WebSocket lane of this lab run.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z0-9_-]{1,40}$")]
    #[allow(
        dead_code,
        reason = "read by `lab::meter`; here it is checked and documented"
    )]
    lab: Option<LabRun>,
}

#[utoipa::path(
    get,
    path = "/ws",
    tag = "live",
    params(WsQuery),
    description = "Upgrades to a WebSocket of JSON text messages: `ServerMsg` from the server \
        (first `hello`, then a `tick` every second and the task events of the boards followed), \
        `ClientMsg` from the client (`subscribe` to a board with the last `seq` applied, answered \
        by `subscribed` and the missed events, or by `unsubscribed` with the reason). The clock \
        needs no account; following a board needs the session cookie or an \
        `Authorization: Bearer` token at the upgrade, and ends with `unsubscribed` when access \
        does. The server pings every \
        --ws-ping-interval seconds and closes a peer silent for --ws-timeout seconds (1001). Close \
        codes: 1009 for a message over 4 KiB, 1007 for a text message that is not UTF-8, 1003 for \
        an unknown message, 1001 on shutdown.",
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade, or a bad query",
         body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The bearer token is not valid",
         body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A browser page from a foreign origin",
         body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "At the connection limit or the database is unavailable (see Retry-After), or WebSockets are disabled",
         body = Problem, content_type = "application/problem+json",
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
/// `GET /ws`: checks the origin, the credentials and the connection limit, then upgrades. A plain GET gets a 400 problem instead of axum's plain text.
#[tracing::instrument(skip_all)]
pub(crate) async fn ws_upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<WsQuery>, axum::extract::rejection::QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    upgrade_checked(state, headers, query, upgrade)
        .await
        .inspect_err(|error| monitoring::refused(Transport::WebSocket, error))
}

async fn upgrade_checked(
    state: AppState,
    headers: HeaderMap,
    query: Result<Query<WsQuery>, axum::extract::rejection::QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    let upgrade = upgrade.map_err(|rejection| AppError::NotWebSocket(rejection.body_text()))?;
    if state.ws.disabled {
        return Err(AppError::WebSocketDisabled);
    }
    let Query(_) = query.map_err(|rejection| {
        AppError::BadRequest(format!("The query is not valid: {}", rejection.body_text()))
    })?;
    crate::origin::check(&headers, &state.ws.allowed_origins).map_err(AppError::ForbiddenOrigin)?;
    let caller = crate::auth::optional_caller(&headers, &state).await?;
    let permit = acquire_permit(&state)?;

    let live = Live::new(caller, state.board_access.clone());
    let session = Session {
        prelude: vec![hello(&state, &live)],
        // The session hears every event from now on; a subscription reads what came before.
        events: state.events.subscribe(),
        access: state.access.subscribe(),
        live,
        ticks: state.ticks.clone(),
        shutdown: state.shutdown.clone(),
        timing: Timing {
            ping_interval: state.ws.ping_interval,
            idle_timeout: state.ws.idle_timeout,
            send_timeout: SEND_TIMEOUT,
            close_spread: state.ws.close_spread,
        },
        meters: LiveMeters::open(Transport::WebSocket),
    };
    let connections = state.connections.clone();
    Ok(upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        // 0: write each message out at once instead of accumulating a 128 KiB batch per connection.
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .max_message_size(MAX_CLIENT_MESSAGE_BYTES)
        .max_frame_size(MAX_CLIENT_MESSAGE_BYTES)
        .on_upgrade(move |socket| {
            // The WebSocket adapter: a frame is one WebSocket message. The socket is not split
            // (see `connection::Duplex`).
            let socket =
                socket.with(|frame: Frame| std::future::ready(Ok::<_, axum::Error>(frame.into())));
            // A task of its own, holding the socket and the loop and nothing else: awaited inside
            // the upgrade's task instead, the loop would be stored beside that task's state for
            // the connection's whole life.
            connections.spawn(async move {
                connection::serve(socket, session).await;
                drop(permit);
            });
            std::future::ready(())
        }))
}

/// One of the `--max-connections` slots (shared by WebSockets and event streams), or 503.
pub(crate) fn acquire_permit(state: &AppState) -> Result<OwnedSemaphorePermit, AppError> {
    state
        .connection_permits
        .clone()
        .try_acquire_owned()
        .map_err(|_| AppError::Overloaded {
            retry_after_secs: RETRY_AFTER_SECS,
        })
}

/// The first message of every live session.
pub(crate) fn hello(state: &AppState, live: &Live) -> Outgoing {
    Outgoing::from(&ServerMsg::Hello {
        protocol: PROTOCOL_VERSION,
        server_time_ms: chrono::Utc::now().timestamp_millis(),
        store: state.store.identity().to_owned(),
        username: live.username(),
    })
}
