//! `/api/tokens`: personal access tokens for the console client and scripts. A token's secret is
//! shown once, when it is made; the store keeps its SHA-256. Tokens are listed and revoked here.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use axum::{Json, Router};
use shared::{IssuedToken, Name, Problem, TokenFields, TokenId, TokenInfo};

use crate::auth::{Caller, SignedIn, TOKEN_PREFIX, digest, new_secret, now_ms};
use crate::extract::{AppJson, AppPath};
use crate::{AppError, AppState};

/// Routes of access tokens, relative to `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(tokens_list).post(tokens_create))
        .route("/tokens/{token}", delete(tokens_delete))
}

/// `GET /api/tokens`: the signed-in account's tokens, oldest first (without their secrets).
#[utoipa::path(
    get,
    path = "/api/tokens",
    tag = "accounts",
    responses(
        (status = 200, description = "The account's tokens", body = [TokenInfo]),
    )
)]
pub(crate) async fn tokens_list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TokenInfo>>, AppError> {
    Ok(Json(state.store.tokens(caller.account.id).await?))
}

/// `POST /api/tokens`: makes a token for the signed-in account, or for the account whose username
/// and password come as HTTP Basic credentials (`tasktick login`). The secret is in this
/// response only.
#[utoipa::path(
    post,
    path = "/api/tokens",
    tag = "accounts",
    request_body = TokenFields,
    responses(
        (status = 201, description = "The token and, this once, its secret", body = IssuedToken),
        (status = 400, description = "The name breaks its rule",
         body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in, or the Basic credentials are not right",
         body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-in attempts; see Retry-After",
         body = Problem, content_type = "application/problem+json",
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn tokens_create(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    AppJson(fields): AppJson<TokenFields>,
) -> Result<impl IntoResponse, AppError> {
    let name = Name::parse(&fields.name).map_err(|rule| AppError::field("name", rule))?;
    let secret = format!("{TOKEN_PREFIX}{}", new_secret());
    let token = state
        .store
        .create_token(account.id, &name, &digest(&secret), now_ms())
        .await?;
    tracing::info!(user = %account.id, token = %token.id, "access token created");
    Ok((StatusCode::CREATED, Json(IssuedToken { token, secret })))
}

/// `DELETE /api/tokens/{token}`: revokes one of the account's tokens, at once and on every
/// instance (each request checks the store).
#[utoipa::path(
    delete,
    path = "/api/tokens/{token}",
    tag = "accounts",
    params(("token" = i64, Path, description = "The token's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "The id is not a number",
         body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The account has no such token",
         body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn tokens_delete(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(token): AppPath<i64>,
) -> Result<StatusCode, AppError> {
    if state
        .store
        .delete_token(caller.account.id, TokenId(token))
        .await?
    {
        // Every cached token of the account: the cache is keyed by secret, not id.
        state.access_cache.forget(Some(caller.account.id), None);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound(format!("You have no token {token}.")))
    }
}
