//! `GET /api/clock`: the server clock as a plain REST resource, for clients that poll (the lab's
//! polling lane, and the app's last fallback). Cacheable like every read here: a strong ETag that
//! changes with each tick or task change, and 304 for a client that already has it.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{SubsecRound, Utc};
use serde::Deserialize;
use shared::{ClockReading, LabRun, Problem};
use utoipa::IntoParams;

use crate::conditional::{cache_headers_with, none_match_hits};
use crate::extract::AppQuery;
use crate::ws::clock::Tick;
use crate::{AppError, AppState};

/// The clock route, relative to `/api`.
pub fn router() -> Router<AppState> {
    Router::new().route("/clock", get(clock_read))
}

/// Query of `GET /api/clock`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClockQuery {
    /// Count this request in the polling lane of this lab run.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z0-9_-]{1,40}$")]
    #[allow(
        dead_code,
        reason = "read by `lab::meter`; here it is checked and documented"
    )]
    lab: Option<LabRun>,
}

#[utoipa::path(
    get,
    path = "/api/clock",
    tag = "live",
    params(ClockQuery, ("If-None-Match" = Option<String>, Header, description = "A tag from an earlier answer")),
    responses(
        (status = 200, description = "The latest tick", body = ClockReading,
         headers(("ETag" = String, description = "Changes with every tick and every task change"),
                 ("Cache-Control" = String, description = "no-cache"))),
        (status = 304, description = "Unchanged since the tag in If-None-Match"),
        (status = 400, description = "A bad query", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn clock_read(
    State(state): State<AppState>,
    AppQuery(_): AppQuery<ClockQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let latest = state.ticks.borrow().clone();
    // Before the first whole second since start-up: the second just begun.
    let Tick {
        server_time_ms,
        text,
        ..
    } = latest.unwrap_or_else(|| Tick::at(Utc::now().trunc_subsecs(0)));
    // From memory: the clock keeps going while the database is away.
    let etag = format!("\"t{server_time_ms}\"");
    // Proxies must not transform it either: the lab compares exact sizes.
    let cache = cache_headers_with(&etag, "no-cache, no-transform");
    if none_match_hits(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    let reading = ClockReading {
        server_time_ms,
        text,
        store: state.store.identity().to_owned(),
    };
    Ok((cache, Json(reading)).into_response())
}
