//! `GET /api/openapi.json`: the OpenAPI 3.1 contract, generated from the handlers' annotations and
//! the `shared` types, so it cannot drift from the code that serves it.

use std::sync::LazyLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use shared::{
    Account, Board, BoardFields, ClientMsg, ClockReading, CreateTask, Credentials, EndReason,
    FieldError, IssuedToken, LabReport, LaneReport, Member, MemberRole, NewMember, Problem, Role,
    ServerMsg, Task, TokenFields, TokenInfo, UpdateTask,
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
        NewMember, MemberRole, Role, TokenInfo, TokenFields, IssuedToken, EndReason
    )),
    modifiers(&SlowBodies),
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

/// Every operation that reads a body may answer 408 when the body stalls (the read timeout is a
/// layer over all of them, so it is documented once here rather than on each handler).
struct SlowBodies;

impl utoipa::Modify for SlowBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let timeout = ResponseBuilder::new()
            .description("The body did not arrive in time")
            .content(
                shared::problem::PROBLEM_CONTENT_TYPE,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.post,
                &mut item.patch,
                &mut item.put,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            .filter(|operation| operation.request_body.is_some())
            {
                operation
                    .responses
                    .responses
                    .insert("408".into(), timeout.clone().into());
            }
        }
    }
}

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
