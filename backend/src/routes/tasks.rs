//! `/api/boards/{board}/tasks`: create, read, update and delete a board's tasks, with HTTP
//! caching, optimistic concurrency and idempotent creation. Members read (viewers and up) and
//! editors change; every change is published as a task event on the board's stream and records
//! who made it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use shared::{
    BoardId, CreateTask, NewTask, Problem, Role, SEQ_HEADER, STORE_HEADER, Task, TaskId, TaskPatch,
    UpdateTask, tasks_path,
};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::conditional::{cache_headers, if_match_versions, none_match_hits, task_etag};
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::pages::ReadyPage;
use crate::routes::boards::access;
use crate::store::{Created, Guarded, IdempotencyKey, ListQuery};
use crate::{AppError, AppState};

/// Page size when `limit` is not given, and the largest allowed.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;
/// Header naming a retry-safe POST.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Routes of the task collection, relative to `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/boards/{board}/tasks",
            get(tasks_list).post(tasks_create).delete(tasks_clear),
        )
        .route(
            "/boards/{board}/tasks/{id}",
            get(tasks_get).patch(tasks_update).delete(tasks_delete),
        )
}

/// Query of `GET /api/boards/{board}/tasks`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only done (`true`) or only open (`false`) tasks.
    done: Option<bool>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Opaque position from a previous page's `next` link (empty: the first page).
    #[param(pattern = "^(c1\\.[0-9a-f]{1,15})?$")]
    cursor: Option<String>,
}

fn decode_cursor(cursor: &str) -> Result<Option<TaskId>, AppError> {
    if cursor.is_empty() {
        return Ok(None);
    }
    cursor
        .strip_prefix("c1.")
        .filter(|hex| (1..=15).contains(&hex.len()))
        .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|hex| i64::from_str_radix(hex, 16).ok())
        .map(|id| Some(TaskId(id)))
        .ok_or_else(|| {
            AppError::BadRequest(format!(
                "The cursor {cursor:?} is not one this server issued: use the `next` link as given."
            ))
        })
}

/// `GET /api/boards/{board}/tasks[?done=][&limit=][&cursor=]`: a page of tasks, oldest first. The next page is in
/// the `Link: <...>; rel="next"` header; `tasktick-seq` names the newest event the page reflects;
/// `ETag` and `If-None-Match` make an unchanged page cost a 304.
#[utoipa::path(
    get,
    path = "/api/boards/{board}/tasks",
    tag = "tasks",
    params(("board" = i64, Path, description = "The board's id"), ListParams, IfNoneMatch),
    responses(
        (status = 404, description = "No such board, or the caller is not a member", body = Problem, content_type = "application/problem+json"),
        (status = 200, description = "A page of tasks, oldest first", body = [Task],
         headers(
            ("ETag" = String, description = "Strong tag of this page"),
            ("Cache-Control" = String, description = "`no-cache`: revalidate with If-None-Match"),
            ("tasktick-seq" = i64, description = "The newest task event this page reflects"),
            ("tasktick-store" = String, description = "The store the page and its seq come from"),
            ("Link" = String, description = "`<...>; rel=\"next\"` when more tasks follow"),
         )),
        (status = 304, description = "The page is unchanged (If-None-Match named its tag)",
         headers(("ETag" = String), ("Cache-Control" = String), ("tasktick-seq" = i64),
                 ("tasktick-store" = String))),
        (status = 400, description = "An unknown parameter or a value out of range",
         body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn tasks_list(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(board): AppPath<i64>,
    AppQuery(params): AppQuery<ListParams>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT} (got {limit})."
        )));
    }
    let board = access(&state, &caller, BoardId(board), Role::Viewer)
        .await?
        .id;
    let after = params
        .cursor
        .as_deref()
        .map(decode_cursor)
        .transpose()?
        .flatten();
    let query = ListQuery {
        done: params.done,
        after,
        limit,
    };
    let page = match state
        .pages
        .fresh(board, query, state.events.published(board))
    {
        Some(page) => page,
        None => {
            let page = state.store.list(board, query).await?;
            let page = Arc::new(ReadyPage::render(board, query, page)?);
            state.pages.keep(board, query, page.clone());
            page
        }
    };
    let etag = page.etag.to_str().expect("an ETag is visible ASCII");
    let mut response = if none_match_hits(&headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "application/json")],
            page.body.clone(),
        )
            .into_response()
    };
    let response_headers = response.headers_mut();
    response_headers.insert(header::ETAG, page.etag.clone());
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response_headers.insert(SEQ_HEADER, page.seq.into());
    if let Ok(store) = HeaderValue::from_str(state.store.identity()) {
        response_headers.insert(STORE_HEADER, store);
    }
    if let Some(next) = &page.next {
        response_headers.insert(header::LINK, next.clone());
    }
    Ok(response)
}

#[utoipa::path(
    post,
    path = "/api/boards/{board}/tasks",
    tag = "tasks",
    params(("board" = i64, Path, description = "The board's id"), ("Idempotency-Key" = Option<String>, Header, pattern = "^[\\x21-\\x7E]([\\x20-\\x7E]{0,253}[\\x21-\\x7E])?$",
        description = "1 to 255 characters; a retry with the same key and body returns the first answer (for 24 h)")),
    request_body(content = CreateTask, description = "`{\"title\": \"...\"}` or a bare JSON string"),
    responses(
        (status = 404, description = "No such board, or the caller is not a member", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers cannot change tasks; or another site sent the request",
         body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many changes by this account; see Retry-After",
         body = Problem, content_type = "application/problem+json",
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 201, description = "Created (or the first answer to this Idempotency-Key)", body = Task,
         headers(("Location" = String, description = "The new task's URL"))),
        (status = 400, description = "Malformed JSON, a wrong shape, or a title that breaks the rules",
         body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not declared as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The Idempotency-Key was used for a different request",
         body = Problem, content_type = "application/problem+json"),
    )
)]
/// `POST /api/boards/{board}/tasks`: validates the title, stores the task, answers 201 with a `Location`. With an
/// `Idempotency-Key`, a retry of the same request gets the first answer and creates nothing.
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn tasks_create(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(board): AppPath<i64>,
    headers: HeaderMap,
    AppJson(body): AppJson<CreateTask>,
) -> Result<impl IntoResponse, AppError> {
    let board = editable(&state, &caller, board).await?;
    let key = idempotency_key(&headers, &body, board, &caller)?;
    let new = NewTask::try_from(body)?;
    let by = Some(caller.account.username);
    let task = match state.writes.create(board, new, key, by).await? {
        Created::New(changed) => {
            tracing::debug!(id = %changed.value.id, "task created");
            changed.value
        }
        Created::Replayed(task) => task,
        Created::KeyReused => return Err(AppError::IdempotencyKeyReused),
    };
    let location = format!("{}/{}", tasks_path(board), task.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(task),
    ))
}

/// The `Idempotency-Key` header, if any, with what this request asks for.
/// Keys are the client's: one account's key never meets another's, nor another board's.
fn idempotency_key(
    headers: &HeaderMap,
    body: &CreateTask,
    board: BoardId,
    caller: &Caller,
) -> Result<Option<IdempotencyKey>, AppError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=MAX_IDEMPOTENCY_KEY_LEN).contains(&k.len()))
        .ok_or_else(|| {
            AppError::BadRequest(format!(
                "The Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters."
            ))
        })?;
    Ok(Some(IdempotencyKey {
        key: format!("{board}/{}/{key}", caller.account.id),
        fingerprint: body.title.clone(),
    }))
}

/// Query of `DELETE /api/boards/{board}/tasks`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClearParams {
    /// Must be `true`: only done tasks can be cleared in bulk.
    #[param(schema_with = only_true)]
    done: bool,
}

/// The schema of a parameter that must be `true`.
fn only_true() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Boolean)
        .enum_values(Some([true]))
        .build()
}

/// The answer to clearing done tasks.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cleared {
    /// How many tasks were deleted.
    deleted: u64,
}

#[utoipa::path(
    delete,
    path = "/api/boards/{board}/tasks",
    tag = "tasks",
    params(("board" = i64, Path, description = "The board's id"), ClearParams),
    responses(
        (status = 404, description = "No such board, or the caller is not a member", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers cannot change tasks; or another site sent the request",
         body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many changes by this account; see Retry-After",
         body = Problem, content_type = "application/problem+json",
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 200, description = "Done tasks deleted", body = Cleared),
        (status = 400, description = "`done` missing, not `true`, or unknown parameters",
         body = Problem, content_type = "application/problem+json"),
    )
)]
/// `DELETE /api/boards/{board}/tasks?done=true`: deletes every done task and says how many.
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn tasks_clear(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(board): AppPath<i64>,
    AppQuery(params): AppQuery<ClearParams>,
) -> Result<Json<Cleared>, AppError> {
    let board = editable(&state, &caller, board).await?;
    if !params.done {
        return Err(AppError::BadRequest(
            "Only done tasks can be cleared in bulk: use ?done=true.".into(),
        ));
    }
    let cleared = state.writes.clear_done(board).await?;
    Ok(Json(Cleared {
        deleted: cleared.value,
    }))
}

#[utoipa::path(
    get,
    path = "/api/boards/{board}/tasks/{id}",
    tag = "tasks",
    params(("board" = i64, Path, description = "The board's id"), ("id" = i64, Path, description = "Task id"), IfNoneMatch),
    responses(
        (status = 200, description = "The task", body = Task,
         headers(("ETag" = String, description = "`\"v<version>\"`"), ("Cache-Control" = String))),
        (status = 304, description = "Unchanged (If-None-Match named its tag)",
         headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 400, description = "The id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No task has this id on the board, no such board, or the caller is not a member", body = Problem, content_type = "application/problem+json"),
    )
)]
/// `GET /api/boards/{board}/tasks/{id}`: one task, with its `ETag`.
pub(crate) async fn tasks_get(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((board, id)): AppPath<(i64, i64)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let board = access(&state, &caller, BoardId(board), Role::Viewer)
        .await?
        .id;
    let id = TaskId(id);
    let task = state
        .store
        .get(board, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let etag = task_etag(&task);
    if none_match_hits(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, cache_headers(&etag)).into_response());
    }
    Ok((cache_headers(&etag), Json(task)).into_response())
}

#[utoipa::path(
    patch,
    path = "/api/boards/{board}/tasks/{id}",
    tag = "tasks",
    params(("board" = i64, Path, description = "The board's id"), ("id" = i64, Path, description = "Task id"), IfMatch),
    request_body(content = UpdateTask, description = "The fields to change (at least one)"),
    responses(
        (status = 403, description = "Viewers cannot change tasks; or another site sent the request",
         body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many changes by this account; see Retry-After",
         body = Problem, content_type = "application/problem+json",
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 200, description = "The updated task, its version bumped", body = Task,
         headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 400, description = "Malformed JSON, nothing to change, or a bad title",
         body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No task has this id on the board, no such board, or the caller is not a member", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names an old version; `current` holds the task as it is",
         body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not declared as JSON", body = Problem, content_type = "application/problem+json"),
    )
)]
/// `PATCH /api/boards/{board}/tasks/{id}`: changes `title` and/or `done`, if `If-Match` (when sent) still names
/// the task's version; answers with the updated task and its new `ETag`.
#[tracing::instrument(level = "debug", skip_all, fields(id))]
pub(crate) async fn tasks_update(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((board, id)): AppPath<(i64, i64)>,
    headers: HeaderMap,
    AppJson(body): AppJson<UpdateTask>,
) -> Result<Response, AppError> {
    let board = editable(&state, &caller, board).await?;
    let id = TaskId(id);
    let patch = TaskPatch::try_from(body)?;
    let expected = if_match_versions(&headers)?;
    match state
        .writes
        .update(board, id, patch, expected, Some(caller.account.username))
        .await?
    {
        Guarded::Changed(changed) => {
            let etag = task_etag(&changed.value);
            Ok((cache_headers(&etag), Json(changed.value)).into_response())
        }
        Guarded::NotFound => Err(not_found(id)),
        Guarded::Stale(current) => Err(AppError::PreconditionFailed(Box::new(current))),
    }
}

#[utoipa::path(
    delete,
    path = "/api/boards/{board}/tasks/{id}",
    tag = "tasks",
    params(("board" = i64, Path, description = "The board's id"), ("id" = i64, Path, description = "Task id"), IfMatch),
    responses(
        (status = 403, description = "Viewers cannot change tasks; or another site sent the request",
         body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many changes by this account; see Retry-After",
         body = Problem, content_type = "application/problem+json",
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No task has this id on the board, no such board, or the caller is not a member", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names an old version; `current` holds the task as it is",
         body = Problem, content_type = "application/problem+json"),
    )
)]
/// `DELETE /api/boards/{board}/tasks/{id}`: answers 204, if `If-Match` (when sent) still names the version.
#[tracing::instrument(level = "debug", skip_all, fields(id))]
pub(crate) async fn tasks_delete(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((board, id)): AppPath<(i64, i64)>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    let board = editable(&state, &caller, board).await?;
    let id = TaskId(id);
    let expected = if_match_versions(&headers)?;
    match state.writes.delete(board, id, expected).await? {
        Guarded::Changed(_) => Ok(StatusCode::NO_CONTENT),
        Guarded::NotFound => Err(not_found(id)),
        Guarded::Stale(current) => Err(AppError::PreconditionFailed(Box::new(current))),
    }
}

/// The `If-None-Match` request header.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Documents the header; handlers read it from the `HeaderMap`.
struct IfNoneMatch {
    /// ETags the client holds; a match answers 304.
    #[param(rename = "If-None-Match")]
    if_none_match: Option<String>,
}

/// The `If-Match` request header.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Documents the header; handlers read it from the `HeaderMap`.
struct IfMatch {
    /// The task's ETag (`"v3"`) or version (`3`) the change is based on; `*` for any. Not empty.
    #[param(rename = "If-Match", pattern = "^[\\s,]*[^\\s,].*$")]
    if_match: Option<String>,
}

/// The board, if the caller may change its tasks (editors and owners), within the caller's
/// write rate.
async fn editable(state: &AppState, caller: &Caller, board: i64) -> Result<BoardId, AppError> {
    let board = access(state, caller, BoardId(board), Role::Editor)
        .await?
        .id;
    state.write_limit.check(caller.account.id)?;
    Ok(board)
}

fn not_found(id: TaskId) -> AppError {
    AppError::NotFound(format!("There is no task with id {id}."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::encode_cursor;

    #[test]
    fn a_cursor_round_trips_an_empty_one_starts_over_and_a_forged_one_is_refused() {
        assert_eq!(
            decode_cursor(&encode_cursor(TaskId(300))).unwrap(),
            Some(TaskId(300))
        );
        assert_eq!(decode_cursor("").unwrap(), None);
        for forged in [
            "300",
            "c1.",
            "c1.zz",
            "c1.-5",
            "c2.12c",
            "c1.fffffffffffffffff",
        ] {
            assert!(decode_cursor(forged).is_err(), "{forged:?}");
        }
    }
}
