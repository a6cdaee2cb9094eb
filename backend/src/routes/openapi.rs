//! `GET /api/openapi.json`: the OpenAPI 3.1 contract, generated from the handlers' annotations and
//! the `shared` types, so it cannot drift from the code that serves it.

use std::sync::LazyLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use shared::{
    Account, Board, BoardFields, ClientMsg, ClockReading, CreateTask, Credentials, FieldError,
    IssuedToken, LabReport, LaneReport, Member, MemberRole, NewMember, Problem, Role, ServerMsg,
    Task, TokenFields, TokenInfo, UpdateTask,
};
use utoipa::OpenApi;

use super::{accounts, boards, clock, events, health, lab, tasks, tokens};
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
        accounts::accounts_create,
        accounts::session_create,
        accounts::session_read,
        accounts::session_delete,
        tokens::tokens_list,
        tokens::tokens_create,
        tokens::tokens_delete,
        boards::boards_list,
        boards::boards_create,
        boards::boards_get,
        boards::boards_update,
        boards::boards_delete,
        boards::members_list,
        boards::members_add,
        boards::members_update,
        boards::members_remove,
        events::events_stream,
        clock::clock_read,
        lab::lab_report,
        health::health_check,
        ws::ws_upgrade,
    ),
    components(schemas(
        Task, CreateTask, UpdateTask, Problem, FieldError, ServerMsg, ClientMsg, tasks::Cleared,
        ClockReading, LabReport, LaneReport, Credentials, Account, Board, BoardFields, Member,
        NewMember, MemberRole, Role, TokenInfo, TokenFields, IssuedToken
    )),
    tags(
        (name = "tasks", description = "The task collection"),
        (name = "accounts", description = "Sign-up, sign-in, sessions and personal access tokens"),
        (name = "boards", description = "Boards and their members"),
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
