//! Sign-up (`POST /api/accounts`) and the browser session (`/api/session`): sign in, who am I,
//! sign out.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::CookieJar;
use shared::{Account, Credentials, FieldError, Password, Problem, Username};

use crate::auth::{self, ClientIp, Signup, now_ms, session_hash, start_session};
use crate::extract::AppJson;
use crate::{AppError, AppState};

/// Routes of accounts and sessions, relative to `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accounts", post(accounts_create))
        .route(
            "/session",
            get(session_read)
                .post(session_create)
                .delete(session_delete),
        )
}

/// `POST /api/accounts`: creates an account and signs it in (the response sets the session
/// cookie). Refused with 403 when the server's sign-up is closed.
#[utoipa::path(
    post,
    path = "/api/accounts",
    tag = "accounts",
    request_body = Credentials,
    responses(
        (status = 201, description = "The account, signed in", body = Account,
         headers(("Set-Cookie" = String, description = "The session cookie"))),
        (status = 400, description = "The username or password breaks its rule",
         body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Sign-up is closed, or the request came from another site",
         body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The username is taken",
         body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address; see Retry-After",
         body = Problem, content_type = "application/problem+json",
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
#[tracing::instrument(skip_all, fields(username = %credentials.username))]
pub(crate) async fn accounts_create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    AppJson(credentials): AppJson<Credentials>,
) -> Result<impl IntoResponse, AppError> {
    if state.auth.signup == Signup::Closed {
        return Err(AppError::SignupClosed);
    }
    let (username, password) = parse_credentials(&credentials)?;
    auth::limit_address(&state, ip).await?;
    let hash = state.auth.hash_password(password).await?;
    let account = state
        .store
        .create_user(&username, &hash, now_ms())
        .await?
        .ok_or_else(|| {
            AppError::Conflict(format!(
                "The username {} is taken. Choose another.",
                username.as_str()
            ))
        })?;
    tracing::info!(user = %account.id, "account created");
    let jar = end_presented_session(&state, jar).await?;
    let cookie = start_session(&state, &account).await?;
    Ok((StatusCode::CREATED, jar.add(cookie), Json(account)))
}

/// Both fields of a sign-up checked at once, so the person sees every problem in one answer.
fn parse_credentials(credentials: &Credentials) -> Result<(Username, Password), AppError> {
    let username = Username::parse(&credentials.username);
    let password = Password::parse(&credentials.password);
    match (username, password) {
        (Ok(username), Ok(password)) => Ok((username, password)),
        (username, password) => Err(AppError::Validation(
            [
                username.err().map(|rule| ("username", rule)),
                password.err().map(|rule| ("password", rule)),
            ]
            .into_iter()
            .flatten()
            .map(|(field, rule)| FieldError {
                field: field.into(),
                message: rule.to_string(),
            })
            .collect(),
        )),
    }
}

/// `POST /api/session`: signs in. The session id is always a new one (a session fixed before
/// sign-in is ended), carried by an `HttpOnly`, `SameSite=Lax` cookie.
#[utoipa::path(
    post,
    path = "/api/session",
    tag = "accounts",
    request_body = Credentials,
    responses(
        (status = 200, description = "Signed in", body = Account,
         headers(("Set-Cookie" = String, description = "The new session cookie"))),
        (status = 400, description = "The body is not a username and a password",
         body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The username or the password is not right",
         body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts for this account or from this address",
         body = Problem, content_type = "application/problem+json",
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
#[tracing::instrument(skip_all, fields(username = %credentials.username))]
pub(crate) async fn session_create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    AppJson(credentials): AppJson<Credentials>,
) -> Result<impl IntoResponse, AppError> {
    let account = auth::sign_in(&state, ip, &credentials.username, credentials.password).await?;
    let jar = end_presented_session(&state, jar).await?;
    let cookie = start_session(&state, &account).await?;
    tracing::info!(user = %account.id, "signed in");
    Ok((jar.add(cookie), Json(account)))
}

/// Ends the session the request came with, if any: signing in never continues an old session id.
async fn end_presented_session(state: &AppState, jar: CookieJar) -> Result<CookieJar, AppError> {
    if let Some(id_hash) = session_hash(&jar) {
        state.store.delete_session(&id_hash).await?;
        state.access_cache.forget_session(&id_hash);
    }
    Ok(jar)
}

/// `GET /api/session`: the signed-in account (by session cookie or access token), or `null` when
/// nobody is (an ended session included): a page asks this first, and an anonymous visitor is
/// not an error.
#[utoipa::path(
    get,
    path = "/api/session",
    tag = "accounts",
    responses(
        (status = 200, description = "The signed-in account, or null", body = Option<Account>),
        (status = 401, description = "The bearer token is not valid",
         body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn session_read(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Json<Option<Account>>, AppError> {
    let caller = auth::optional_caller(&headers, &state).await?;
    Ok(Json(caller.map(|caller| caller.account)))
}

/// `DELETE /api/session`: signs out. The session ends in the store, so on every instance; the
/// browser is told to forget the cookie. Signing out twice is not an error.
#[utoipa::path(
    delete,
    path = "/api/session",
    tag = "accounts",
    responses(
        (status = 204, description = "Signed out",
         headers(("Set-Cookie" = String, description = "Removes the session cookie"))),
    )
)]
pub(crate) async fn session_delete(
    State(state): State<AppState>,
    jar: CookieJar,
) -> Result<impl IntoResponse, AppError> {
    let jar = end_presented_session(&state, jar).await?;
    Ok((
        StatusCode::NO_CONTENT,
        jar.add(state.auth.ended_session_cookie()),
    ))
}
