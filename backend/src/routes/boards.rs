//! `/api/boards`: boards and their members. Every board route checks the caller's membership: a
//! non-member gets 404 (a board's existence is not revealed to outsiders), a member whose role is
//! too low gets 403. Owners manage the board and its members; a board always keeps an owner.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, patch};
use axum::{Json, Router};
use shared::{
    Board, BoardFields, BoardId, Member, MemberRole, Name, NewMember, Problem, Role, UserId,
    Username,
};

use crate::auth::{Caller, now_ms};
use crate::extract::{AppJson, AppPath};
use crate::store::accounts::{Added, Membership};
use crate::{AppError, AppState};

/// Routes of boards and members, relative to `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/boards", get(boards_list).post(boards_create))
        .route(
            "/boards/{board}",
            get(boards_get).patch(boards_update).delete(boards_delete),
        )
        .route(
            "/boards/{board}/members",
            get(members_list).post(members_add),
        )
        .route(
            "/boards/{board}/members/{user}",
            patch(members_update).delete(members_remove),
        )
}

/// The board as `caller` sees it, if their role allows `needed`: 404 when they are not a member
/// (or it does not exist: the two read the same), 403 when their role is too low.
pub(crate) async fn access(
    state: &AppState,
    caller: &Caller,
    board: BoardId,
    needed: Role,
) -> Result<Board, AppError> {
    let seen = state
        .access_cache
        .board_or_read(&*state.store, caller.account.id, board)
        .await?;
    let found = seen.ok_or_else(|| AppError::NotFound(format!("There is no board {board}.")))?;
    if !found.role.allows(needed) {
        return Err(AppError::Forbidden(format!(
            "This needs the {} role on the board; you are {}.",
            needed.as_str(),
            found.role.as_str()
        )));
    }
    Ok(found)
}

fn board_name(fields: &BoardFields) -> Result<Name, AppError> {
    Name::parse(&fields.name).map_err(|rule| AppError::field("name", rule))
}

/// `GET /api/boards`: the boards the caller is a member of, with their role, oldest first.
#[utoipa::path(
    get,
    path = "/api/boards",
    tag = "boards",
    responses(
        (status = 200, description = "The caller's boards", body = [Board]),
    )
)]
pub(crate) async fn boards_list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Board>>, AppError> {
    Ok(Json(state.store.boards(caller.account.id).await?))
}

/// `POST /api/boards`: creates a board; the caller is its owner.
#[utoipa::path(
    post,
    path = "/api/boards",
    tag = "boards",
    request_body = BoardFields,
    responses(
        (status = 201, description = "The new board", body = Board,
         headers(("Location" = String, description = "The board's URL"))),
        (status = 400, description = "The name breaks its rule",
         body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(user = %caller.account.id))]
pub(crate) async fn boards_create(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(fields): AppJson<BoardFields>,
) -> Result<impl IntoResponse, AppError> {
    let name = board_name(&fields)?;
    let board = state
        .store
        .create_board(caller.account.id, &name, now_ms())
        .await?;
    forget(&state, Some(caller.account.id), Some(board.id));
    let location = format!("{}/{}", shared::BOARDS_PATH, board.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(board),
    ))
}

/// `GET /api/boards/{board}`: one board, for its members.
#[utoipa::path(
    get,
    path = "/api/boards/{board}",
    tag = "boards",
    params(("board" = i64, Path, description = "The board's id")),
    responses(
        (status = 200, description = "The board, with the caller's role", body = Board),
        (status = 400, description = "The id is not a number",
         body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such board, or the caller is not a member",
         body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn boards_get(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(board): AppPath<i64>,
) -> Result<Json<Board>, AppError> {
    Ok(Json(
        access(&state, &caller, BoardId(board), Role::Viewer).await?,
    ))
}

/// `PATCH /api/boards/{board}`: renames a board (owners).
#[utoipa::path(
    patch,
    path = "/api/boards/{board}",
    tag = "boards",
    params(("board" = i64, Path, description = "The board's id")),
    request_body = BoardFields,
    responses(
        (status = 200, description = "The renamed board", body = Board),
        (status = 400, description = "The name breaks its rule, or the id is not a number",
         body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners rename a board; or another site sent it",
         body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such board, or the caller is not a member",
         body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn boards_update(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(board): AppPath<i64>,
    AppJson(fields): AppJson<BoardFields>,
) -> Result<Json<Board>, AppError> {
    let mut found = access(&state, &caller, BoardId(board), Role::Owner).await?;
    let name = board_name(&fields)?;
    if !state.store.rename_board(found.id, &name).await? {
        return Err(AppError::NotFound(format!("There is no board {board}.")));
    }
    forget(&state, None, Some(found.id));
    found.name = name.as_str().to_owned();
    Ok(Json(found))
}

/// `DELETE /api/boards/{board}`: deletes a board with its members (owners).
#[utoipa::path(
    delete,
    path = "/api/boards/{board}",
    tag = "boards",
    params(("board" = i64, Path, description = "The board's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a number",
         body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners delete a board; or another site sent it",
         body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such board, or the caller is not a member",
         body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(user = %caller.account.id, board))]
pub(crate) async fn boards_delete(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(board): AppPath<i64>,
) -> Result<StatusCode, AppError> {
    let found = access(&state, &caller, BoardId(board), Role::Owner).await?;
    state.store.delete_board(found.id).await?;
    forget(&state, None, Some(found.id));
    tracing::info!("board deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/boards/{board}/members`: the members, owners first (any member may look).
#[utoipa::path(
    get,
    path = "/api/boards/{board}/members",
    tag = "boards",
    params(("board" = i64, Path, description = "The board's id")),
    responses(
        (status = 200, description = "The board's members", body = [Member]),
        (status = 400, description = "The id is not a number",
         body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such board, or the caller is not a member",
         body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn members_list(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(board): AppPath<i64>,
) -> Result<Json<Vec<Member>>, AppError> {
    let found = access(&state, &caller, BoardId(board), Role::Viewer).await?;
    Ok(Json(state.store.members(found.id).await?))
}

/// `POST /api/boards/{board}/members`: adds an account by username with a role (owners).
#[utoipa::path(
    post,
    path = "/api/boards/{board}/members",
    tag = "boards",
    params(("board" = i64, Path, description = "The board's id")),
    request_body = NewMember,
    responses(
        (status = 201, description = "The new member", body = Member),
        (status = 400, description = "No account has that username, or the body is not valid",
         body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners add members; or another site sent it",
         body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such board, or the caller is not a member",
         body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account is already a member",
         body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(user = %caller.account.id, board))]
pub(crate) async fn members_add(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(board): AppPath<i64>,
    AppJson(new): AppJson<NewMember>,
) -> Result<impl IntoResponse, AppError> {
    let found = access(&state, &caller, BoardId(board), Role::Owner).await?;
    let username =
        Username::parse(&new.username).map_err(|rule| AppError::field("username", rule))?;
    match state
        .store
        .add_member(found.id, &username, new.role)
        .await?
    {
        Added::Member(member) => {
            forget(&state, Some(member.user_id), Some(found.id));
            Ok((StatusCode::CREATED, Json(member)))
        }
        Added::NoSuchUser => Err(AppError::Validation(vec![shared::FieldError {
            field: "username".into(),
            message: format!("There is no account named {}.", username.as_str()),
        }])),
        Added::AlreadyMember => Err(AppError::Conflict(format!(
            "{} is already a member of this board; change their role instead.",
            username.as_str()
        ))),
    }
}

/// `PATCH /api/boards/{board}/members/{user}`: changes a member's role (owners). The last owner
/// cannot step down.
#[utoipa::path(
    patch,
    path = "/api/boards/{board}/members/{user}",
    tag = "boards",
    params(
        ("board" = i64, Path, description = "The board's id"),
        ("user" = i64, Path, description = "The member's account id"),
    ),
    request_body = MemberRole,
    responses(
        (status = 200, description = "The member with the new role", body = Member),
        (status = 400, description = "The body is not valid, or an id is not a number",
         body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners change roles; or another site sent it",
         body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such board or member",
         body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The board would be left without an owner",
         body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(user = %caller.account.id, board, member))]
pub(crate) async fn members_update(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((board, member)): AppPath<(i64, i64)>,
    AppJson(change): AppJson<MemberRole>,
) -> Result<Json<Member>, AppError> {
    let found = access(&state, &caller, BoardId(board), Role::Owner).await?;
    let changed = state
        .store
        .set_role(found.id, UserId(member), change.role)
        .await?;
    forget(&state, Some(UserId(member)), Some(found.id));
    membership(changed, member).map(Json)
}

/// `DELETE /api/boards/{board}/members/{user}`: removes a member (owners), or leaves the board
/// (any member, for themself). The last owner cannot leave.
#[utoipa::path(
    delete,
    path = "/api/boards/{board}/members/{user}",
    tag = "boards",
    params(
        ("board" = i64, Path, description = "The board's id"),
        ("user" = i64, Path, description = "The member's account id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "An id is not a number",
         body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners remove others; or another site sent it",
         body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such board or member",
         body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The board would be left without an owner",
         body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(user = %caller.account.id, board, member))]
pub(crate) async fn members_remove(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((board, member)): AppPath<(i64, i64)>,
) -> Result<StatusCode, AppError> {
    let leaving = caller.account.id == UserId(member);
    let needed = if leaving { Role::Viewer } else { Role::Owner };
    let found = access(&state, &caller, BoardId(board), needed).await?;
    let removed = state.store.remove_member(found.id, UserId(member)).await?;
    forget(&state, Some(UserId(member)), Some(found.id));
    membership(removed, member).map(|_| StatusCode::NO_CONTENT)
}

/// Drops what a change made here concerns from this instance's cache at once (other instances
/// drop it when they read the change from the store).
fn forget(state: &AppState, user: Option<UserId>, board: Option<BoardId>) {
    state.access_cache.forget(user, board);
}

fn membership(outcome: Membership, member: i64) -> Result<Member, AppError> {
    match outcome {
        Membership::Done(member) => Ok(member),
        Membership::NotMember => Err(AppError::NotFound(format!(
            "Account {member} is not a member of this board."
        ))),
        Membership::LastOwner => Err(AppError::Conflict(
            "A board keeps at least one owner: make someone else an owner first.".into(),
        )),
    }
}
