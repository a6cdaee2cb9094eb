//! `GET /api/events[?board=B]`: the WebSocket's feed as Server-Sent Events, for clients and
//! networks where a WebSocket cannot get through: the clock for anyone, and with `board` that
//! board's task events for its members (a subscription that cannot be changed, so it is made by
//! the query and refused with an HTTP status; a revocation ends the stream).
//!
//! The same connection loop drives it (see `ws::connection`): a sink turns each frame into an
//! SSE event (`id:` = the frame's `seq` for task events, so the browser's automatic reconnect
//! sends `Last-Event-ID` and resumes without loss), the server's pings become keep-alive comments,
//! and a close becomes a final `close` event.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use futures_util::SinkExt;
use serde::Deserialize;
use shared::{BoardId, EndReason, LabRun, Problem, ServerMsg};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::PollSender;
use utoipa::IntoParams;

use crate::extract::AppQuery;
use crate::live::Live;
use crate::monitoring::{self, LiveMeters, Transport};
use crate::ws::connection::{self, Frame, Session, Timing};
use crate::ws::{SEND_TIMEOUT, acquire_permit, hello};
use crate::{AppError, AppState};

/// Events queued for one stream before its sends wait (and, after the send timeout, give up).
const QUEUE: usize = 64;
/// No client-to-server traffic exists on an event stream, so silence never ends it.
const NO_IDLE_TIMEOUT: Duration = Duration::from_secs(60 * 60 * 24 * 365);

/// The event stream route, relative to `/api`.
pub fn router() -> Router<AppState> {
    Router::new().route("/events", get(events_stream))
}

/// Query of `GET /api/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Follow this board's task events (members only).
    #[param(value_type = Option<i64>)]
    board: Option<BoardId>,
    /// Resume the board's stream after this `seq` (the `Last-Event-ID` header, which browsers send on reconnect,
    /// takes precedence).
    since: Option<i64>,
    /// Count this stream's bytes in the Server-Sent Events lane of this lab run.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z0-9_-]{1,40}$")]
    #[allow(
        dead_code,
        reason = "read by `lab::meter`; here it is checked and documented"
    )]
    lab: Option<LabRun>,
}

#[utoipa::path(
    get,
    path = "/api/events",
    tag = "live",
    params(EventsQuery, ("Last-Event-ID" = Option<i64>, Header, description = "The last `seq` applied")),
    description = "The WebSocket's messages as Server-Sent Events: each `data:` is a `ServerMsg` as \
        JSON (`hello`, a `tick` every second, and with `board` its `subscribed`, the events missed \
        after `since`, then its task events, which carry `id:` = `seq`). An `unsubscribed` message \
        (access revoked) ends the board's events. Keep-alive comments every --ws-ping-interval \
        seconds; a final `close` event on shutdown.",
    responses(
        (status = 200, description = "The event stream: each event's `data` is one `ServerMsg`",
         content_type = "text/event-stream", body = ServerMsg),
        (status = 400, description = "A bad `board`, `since` or `Last-Event-ID`",
         body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A board was asked for without a session or a valid token",
         body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such board, or the caller is not a member",
         body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "At the connection limit, or the database is unavailable; see Retry-After",
         body = Problem, content_type = "application/problem+json",
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
pub(crate) async fn events_stream(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<EventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<ReceiverStream<Result<Event, Infallible>>>, AppError> {
    open_stream(state, query, headers)
        .await
        .inspect_err(|error| monitoring::refused(Transport::EventStream, error))
}

async fn open_stream(
    state: AppState,
    query: EventsQuery,
    headers: HeaderMap,
) -> Result<Sse<ReceiverStream<Result<Event, Infallible>>>, AppError> {
    let since = match headers.get("last-event-id") {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| {
                    AppError::BadRequest("Last-Event-ID must be a task event seq.".into())
                })?,
        ),
        None => query.since,
    };
    let caller = crate::auth::optional_caller(&headers, &state).await?;
    let permit = acquire_permit(&state)?;
    // Hear every event before the subscription reads the store, so none falls in between.
    let events = state.events.subscribe();
    let access = state.access.subscribe();
    let mut live = Live::new(caller, state.board_access.clone());
    let mut prelude = vec![hello(&state, &live)];
    if let Some(board) = query.board {
        prelude.extend(
            live.try_subscribe(board, since)
                .await
                .map_err(|reason| refusal(board, reason))?,
        );
    }
    let session = Session {
        prelude,
        live,
        events,
        access,
        ticks: state.ticks.clone(),
        shutdown: state.shutdown.clone(),
        timing: Timing {
            ping_interval: state.ws.ping_interval,
            idle_timeout: NO_IDLE_TIMEOUT,
            send_timeout: SEND_TIMEOUT,
            close_spread: state.ws.close_spread,
        },
        meters: LiveMeters::open(Transport::EventStream),
    };
    let (sender, receiver) = tokio::sync::mpsc::channel(QUEUE);
    let sink = PollSender::new(sender).with(|frame: Frame| async move {
        Ok::<_, tokio_util::sync::PollSendError<Result<Event, Infallible>>>(Ok(to_event(frame)))
    });
    let client = futures_util::stream::pending::<Result<axum::extract::ws::Message, Infallible>>();
    state.connections.spawn(async move {
        let socket = connection::Duplex {
            sink: Box::pin(sink),
            stream: client,
        };
        connection::serve(socket, session).await;
        drop(permit);
    });
    Ok(Sse::new(ReceiverStream::new(receiver)))
}

/// A refused subscription as the HTTP answer of the stream.
fn refusal(board: BoardId, reason: EndReason) -> AppError {
    match reason {
        EndReason::SignInRequired => {
            AppError::Unauthorized("Sign in, or send an access token, to follow a board.".into())
        }
        EndReason::Unavailable => {
            AppError::StoreUnavailable("cannot check the subscription".into())
        }
        _ => AppError::NotFound(format!("There is no board {board}.")),
    }
}

/// The event stream adapter: one connection-loop frame as an SSE event.
fn to_event(frame: Frame) -> Event {
    match frame {
        Frame::Message(message) => {
            let event = Event::default().data(message.text.as_str());
            match message.seq {
                Some(seq) => event.id(seq.to_string()),
                None => event,
            }
        }
        Frame::Close(frame) => Event::default().event("close").data(frame.reason.as_str()),
        // The loop's pings keep intermediaries from timing the stream out.
        Frame::Ping => Event::default().comment(""),
    }
}
