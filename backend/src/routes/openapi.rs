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
        health::ready_check,
        crate::monitoring::render,
        ws::ws_upgrade,
    ),
    components(schemas(
        Task, CreateTask, UpdateTask, Problem, FieldError, ServerMsg, ClientMsg, tasks::Cleared,
        ClockReading, LabReport, LaneReport, Credentials, Account, Board, BoardFields, Member,
        NewMember, MemberRole, Role, TokenInfo, TokenFields, IssuedToken, EndReason
    )),
    modifiers(&CommonProblems),
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

/// Answers that whole groups of operations share, documented once here instead of on each
/// handler: they come from layers and extractors every such operation goes through. An operation
/// that documents one of these statuses itself keeps its own words.
///
/// - Every operation that reads a body: 408 (the body stalled), 413 (over 64 KiB), 415 (not
///   declared as JSON).
/// - Every change under `/api` (POST, PATCH, PUT, DELETE): 403 (sent by another site's page).
/// - Everything under `/api/boards` and `/api/tokens`: 401 (not signed in).
/// - Everything under `/api` that reads the database: 503 (it does not answer), with Retry-After.
struct CommonProblems;

/// Operations that answer from memory, never from the database.
const FROM_MEMORY: [&str; 3] = ["/api/openapi.json", "/api/clock", "/api/lab/runs/{run}"];

impl utoipa::Modify for CommonProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        use utoipa::openapi::{ContentBuilder, Ref, Response, ResponseBuilder};
        let problem = |description: &str| {
            ResponseBuilder::new().description(description).content(
                shared::problem::PROBLEM_CONTENT_TYPE,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
        };
        let unavailable: Response =
            problem("The database is unavailable right now; see Retry-After")
                .header(
                    "Retry-After",
                    HeaderBuilder::new()
                        .schema(ObjectBuilder::new().schema_type(Type::Integer))
                        .description(Some("Seconds to wait"))
                        .build(),
                )
                .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            let api = path.starts_with("/api/");
            let signed_in = path.starts_with("/api/boards") || path.starts_with("/api/tokens");
            let reads_store = api && !FROM_MEMORY.contains(&path.as_str());
            let reads = [&mut item.get];
            let changes = [
                &mut item.post,
                &mut item.patch,
                &mut item.put,
                &mut item.delete,
            ];
            for (operation, change) in reads
                .into_iter()
                .map(|o| (o, false))
                .chain(changes.into_iter().map(|o| (o, true)))
                .filter_map(|(operation, change)| operation.as_mut().map(|o| (o, change)))
            {
                let body = operation.request_body.is_some();
                let mut add = |status: &str, response: Response| {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| response.into());
                };
                if body {
                    add("408", problem("The body did not arrive in time").build());
                    add("413", problem("The body is over 64 KiB").build());
                    add("415", problem("The body is not declared as JSON").build());
                }
                if change && api {
                    add(
                        "403",
                        problem("The request came from another site's page").build(),
                    );
                }
                if signed_in {
                    add("401", problem("Not signed in").build());
                }
                if reads_store {
                    add("503", unavailable.clone());
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_timestamp_is_documented_as_a_date_time_string() {
        let document: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        let schemas = &document["components"]["schemas"];
        for (schema, field) in [
            ("Task", "created_at"),
            ("Board", "created_at"),
            ("TokenInfo", "created_at"),
            ("TokenInfo", "last_used_at"),
        ] {
            let property = &schemas[schema]["properties"][field];
            assert_eq!(
                property["format"], "date-time",
                "{schema}.{field}: {property}"
            );
            assert!(
                property["type"] == "string" || property["type"][0] == "string",
                "{schema}.{field}: {property}"
            );
        }
    }
}
