//! `GET /api/lab/runs/{run}`: what the server's sockets carried for each transport of a lab run
//! (see `crate::wire` for how it is counted).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use shared::{LabReport, LabRun, Problem};

use crate::AppState;
use crate::extract::AppPath;

/// The lab route, relative to `/api`.
pub fn router() -> Router<AppState> {
    Router::new().route("/lab/runs/{run}", get(lab_report))
}

#[utoipa::path(
    get,
    path = "/api/lab/runs/{run}",
    tag = "lab",
    params(("run" = String, Path, pattern = "^[A-Za-z0-9_-]{1,40}$", description = "The run's name: 1 to 40 of A-Z a-z 0-9 - _")),
    responses(
        (status = 200, description = "Bytes and requests per transport so far (zeros before a lane connects)",
         body = LabReport),
        (status = 400, description = "A malformed run name", body = Problem,
         content_type = "application/problem+json"),
    )
)]
pub(crate) async fn lab_report(
    State(state): State<AppState>,
    AppPath(run): AppPath<LabRun>,
) -> Json<LabReport> {
    Json(state.lab.report(&run))
}
