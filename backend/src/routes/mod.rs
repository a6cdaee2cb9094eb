//! HTTP routes. Each resource module owns its `router()`; [`api_router`] merges them under `/api`.

pub mod accounts;
pub mod boards;
pub mod clock;
pub mod events;
pub mod health;
pub mod lab;
pub mod openapi;
pub mod static_files;
pub mod tasks;
pub mod tokens;

use axum::Router;
use axum::extract::{DefaultBodyLimit, OriginalUri, Request};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::{AppError, AppState};

/// Everything under `/api`, with the body limit from `shared` and problem details for unknown paths
/// (which must not fall through to the front end's `index.html`) and unsupported methods, and
/// forged cross-site changes refused before any handler runs. A body that takes longer than
/// `read_timeout` to arrive is answered 408.
pub fn api_router(state: AppState, read_timeout: std::time::Duration) -> Router<AppState> {
    Router::new()
        .merge(tasks::router())
        .merge(accounts::router())
        .merge(tokens::router())
        .merge(boards::router())
        .merge(openapi::router())
        .merge(events::router())
        .merge(clock::router())
        .merge(lab::router())
        .fallback(api_not_found)
        .layer(DefaultBodyLimit::max(shared::MAX_BODY_BYTES))
        .layer(RequestBodyTimeoutLayer::new(read_timeout))
        .layer(middleware::from_fn(method_not_allowed_as_problem))
        .layer(middleware::from_fn_with_state(
            state,
            crate::origin::refuse_forged,
        ))
}

/// axum answers an unsupported method with an empty 405; give it the same problem body as every
/// other error. (axum's outermost route adds `Allow` afterwards, nested routers included.)
async fn method_not_allowed_as_problem(request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let response = next.run(request).await;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let mut problem = AppError::MethodNotAllowed(method).into_response();
    if let Some(allow) = response.headers().get(header::ALLOW) {
        problem.headers_mut().insert(header::ALLOW, allow.clone());
    }
    problem
}

/// `OriginalUri`, because inside the nested router the `/api` prefix is already stripped.
async fn api_not_found(OriginalUri(uri): OriginalUri) -> AppError {
    AppError::NotFound(format!("There is no API endpoint at {}.", uri.path()))
}
