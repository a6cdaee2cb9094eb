//! `GET /api/openapi.json`: the OpenAPI 3.1 contract, generated from the handlers' annotations and
//! the `shared` types, so it cannot drift from the code that serves it.

use std::sync::LazyLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use shared::{
    ClientMsg, ClockReading, CreateTask, FieldError, LabReport, LaneReport, Problem, ServerMsg,
    Task, UpdateTask,
};
use utoipa::OpenApi;

use super::{clock, events, health, lab, tasks};
use crate::{AppState, ws};

/// The contract of the whole HTTP surface.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "tasktick",
        description = "A shared task board: tasks over REST, a live clock and every task change \
            over a WebSocket. Every error is an RFC 9457 problem (`application/problem+json`).",
    ),
    paths(
        tasks::tasks_list,
        tasks::tasks_create,
        tasks::tasks_clear,
        tasks::tasks_get,
        tasks::tasks_update,
        tasks::tasks_delete,
        events::events_stream,
        clock::clock_read,
        lab::lab_report,
        health::health_check,
        ws::ws_upgrade,
    ),
    components(schemas(
        Task, CreateTask, UpdateTask, Problem, FieldError, ServerMsg, ClientMsg, tasks::Cleared,
        ClockReading, LabReport, LaneReport
    )),
    tags(
        (name = "tasks", description = "The task collection"),
        (name = "live", description = "Clock ticks and task events: WebSocket, Server-Sent Events, or polled"),
        (name = "lab", description = "The transport lab: bytes on the wire per transport"),
        (name = "operations", description = "Probes"),
    )
)]
pub struct ApiDoc;

/// The document, serialised once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises")
});

/// The contract route, relative to `/api`.
pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi_json))
}

async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}
