//! HTTP routes. Each resource module owns its `router()`; [`api_router`] merges them under `/api`.

pub mod health;
pub mod static_files;
pub mod tasks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::OriginalUri;

use crate::{AppError, AppState};

/// Everything under `/api`, with the body limit from `shared` and problem-details 404s (an unknown
/// API path must not fall through to the front end's `index.html`).
pub fn api_router() -> Router<AppState> {
    Router::new()
        .merge(tasks::router())
        .fallback(api_not_found)
        .layer(DefaultBodyLimit::max(shared::MAX_BODY_BYTES))
}

/// `OriginalUri`, because inside the nested router the `/api` prefix is already stripped.
async fn api_not_found(OriginalUri(uri): OriginalUri) -> AppError {
    AppError::NotFound(format!("There is no API endpoint at {}.", uri.path()))
}
