//! `/api/tasks`: create and read tasks.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use shared::{CreateTask, NewTask, TASKS_PATH, Task, TaskId};

use crate::extract::{AppJson, AppPath};
use crate::{AppError, AppState};

/// Routes of the task collection, relative to `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tasks", get(tasks_list).post(tasks_create))
        .route("/tasks/{id}", get(tasks_get))
}

/// `GET /api/tasks`: every task, oldest first.
async fn tasks_list(State(state): State<AppState>) -> Result<Json<Vec<Task>>, AppError> {
    Ok(Json(state.store.list().await?))
}

/// `POST /api/tasks`: validates the title, stores the task, answers 201 with a `Location`.
#[tracing::instrument(skip_all)]
async fn tasks_create(
    State(state): State<AppState>,
    AppJson(body): AppJson<CreateTask>,
) -> Result<impl IntoResponse, AppError> {
    let new = NewTask::try_from(body)?;
    let task = state.store.create(new).await?;
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
