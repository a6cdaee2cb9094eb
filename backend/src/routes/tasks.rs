//! `/api/tasks`: create, read, update and delete tasks. Every change is published as a task event.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use shared::{CreateTask, NewTask, SEQ_HEADER, TASKS_PATH, Task, TaskId, TaskPatch, UpdateTask};

use crate::extract::{AppJson, AppPath};
use crate::{AppError, AppState};

/// Routes of the task collection, relative to `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tasks", get(tasks_list).post(tasks_create))
        .route(
            "/tasks/{id}",
            get(tasks_get).patch(tasks_update).delete(tasks_delete),
        )
}

/// `GET /api/tasks`: every task, oldest first, with the event `seq` the list reflects in the
/// `tasktick-seq` header (a live client applies only newer events on top).
async fn tasks_list(State(state): State<AppState>) -> Result<impl IntoResponse, AppError> {
    let snapshot = state.store.list().await?;
    Ok((
        [(SEQ_HEADER, snapshot.seq.to_string())],
        Json(snapshot.tasks),
    ))
}

/// `POST /api/tasks`: validates the title, stores the task, answers 201 with a `Location`.
#[tracing::instrument(skip_all)]
async fn tasks_create(
    State(state): State<AppState>,
    AppJson(body): AppJson<CreateTask>,
) -> Result<impl IntoResponse, AppError> {
    let new = NewTask::try_from(body)?;
    let task = state
        .events
        .publish(async { state.store.create(new).await.map(Some) })
        .await?
        .expect("a create always stores a task");
    tracing::info!(id = %task.id, "task created");
    let location = format!("{TASKS_PATH}/{}", task.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(task),
    ))
}

/// `GET /api/tasks/{id}`: one task.
async fn tasks_get(
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Task>, AppError> {
    let id = TaskId(id);
    match state.store.get(id).await? {
        Some(task) => Ok(Json(task)),
        None => Err(AppError::NotFound(format!(
            "There is no task with id {id}."
        ))),
    }
}

/// `PATCH /api/tasks/{id}`: changes `title` and/or `done`; answers with the updated task.
#[tracing::instrument(skip_all, fields(id))]
async fn tasks_update(
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<UpdateTask>,
) -> Result<Json<Task>, AppError> {
    let id = TaskId(id);
    let patch = TaskPatch::try_from(body)?;
    state
        .events
        .publish(state.store.update(id, patch))
        .await?
        .map(Json)
        .ok_or_else(|| not_found(id))
}

/// `DELETE /api/tasks/{id}`: answers 204.
#[tracing::instrument(skip_all, fields(id))]
async fn tasks_delete(
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
) -> Result<StatusCode, AppError> {
    let id = TaskId(id);
    state
        .events
        .publish(state.store.delete(id))
        .await?
        .map(|()| StatusCode::NO_CONTENT)
        .ok_or_else(|| not_found(id))
}

fn not_found(id: TaskId) -> AppError {
    AppError::NotFound(format!("There is no task with id {id}."))
}
