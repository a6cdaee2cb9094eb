//! `GET /healthz`: answers 200 when the server and its store respond, 503 when the store does not.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use shared::Problem;

use crate::{AppError, AppState};

/// The liveness route, at the root (not under `/api`), where probes expect it.
pub fn router() -> Router<AppState> {
    Router::new().route(shared::HEALTH_PATH, get(health_check))
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, description = "The server and its database answer", body = Object,
         example = json!({"status": "ok"})),
        (status = 503, description = "The database does not answer", body = Problem,
         content_type = "application/problem+json",
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 500, description = "The database answered with an error", body = Problem,
         content_type = "application/problem+json"),
    )
)]
pub(crate) async fn health_check(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    state.store.ping().await?;
    Ok(Json(json!({ "status": "ok" })))
}
