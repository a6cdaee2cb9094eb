//! The probes, at the root where probes expect them: `GET /healthz` (liveness: the process and its
//! store answer) and `GET /readyz` (readiness: also not shutting down; a proxy or orchestrator
//! stops sending new clients to an instance whose readiness fails, while it drains).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use shared::Problem;

use crate::{AppError, AppState};

/// The liveness route, at the root (not under `/api`), where probes expect it.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(shared::HEALTH_PATH, get(health_check))
        .route(READY_PATH, get(ready_check))
}

/// Path of the readiness probe.
pub const READY_PATH: &str = "/readyz";

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready for new clients", body = Object,
         example = json!({"status": "ready"})),
        (status = 503, description = "Shutting down (draining), or the database does not answer",
         body = Problem, content_type = "application/problem+json",
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 500, description = "The database answered with an error", body = Problem,
         content_type = "application/problem+json"),
    )
)]
pub(crate) async fn ready_check(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    if !state.ready.load(std::sync::atomic::Ordering::Acquire) {
        return Err(AppError::NotReady);
    }
    state.store.ping().await?;
    Ok(Json(json!({ "status": "ready" })))
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
