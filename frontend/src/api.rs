//! The typed REST client: one function per endpoint, refusals decoded into [`ApiError`].

use std::fmt;

use gloo_net::http::{Request, Response};
use serde::de::DeserializeOwned;
use shared::{
    ACCOUNTS_PATH, Account, BOARDS_PATH, Board, BoardFields, BoardId, CLOCK_PATH, ClockReading,
    CreateTask, Credentials, HEALTH_PATH, IssuedToken, LabReport, Member, MemberRole, NewMember,
    Problem, Role, SEQ_HEADER, SESSION_PATH, TOKENS_PATH, Task, TaskTitle, TokenFields, TokenId,
    TokenInfo, UpdateTask, UserId, tasks_path,
};
use web_sys::RequestCache;

/// Why a request did not produce what was asked for. `Display` is written for the person using the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The server refused, and said why.
    Problem(Problem),
    /// No answer: the server is down or the network is gone.
    Network(String),
    /// An answer this client cannot read.
    Unexpected { status: u16 },
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Problem(problem) => f.write_str(&problem.detail),
            Self::Network(_) => {
                f.write_str("Cannot reach the server. Check your connection and try again.")
            }
            Self::Unexpected { status } => write!(
                f,
                "The server gave an unexpected answer (status {status}). Try again later."
            ),
        }
    }
}

impl From<gloo_net::Error> for ApiError {
    fn from(error: gloo_net::Error) -> Self {
        Self::Network(error.to_string())
    }
}

/// The board's tasks, following the `next` links: every task, oldest first, and the event `seq`
/// the list reflects. The first page's `seq` is the safe one: a change made while later pages
/// load shows in them and is applied again, idempotently, from the live stream.
pub async fn list_tasks(board: BoardId) -> Result<(Vec<Task>, i64), ApiError> {
    let mut url = format!("{}?limit=1000", tasks_path(board));
    let mut tasks = Vec::new();
    let mut first_seq = None;
    loop {
        let response = Request::get(&url).send().await?;
        let seq = response
            .headers()
            .get(SEQ_HEADER)
            .and_then(|value| value.parse().ok());
        let next = response
            .headers()
            .get("link")
            .as_deref()
            .and_then(next_link);
        let page: Vec<Task> = decode(response, 200).await?;
        first_seq = first_seq.or(seq);
        tasks.extend(page);
        match next {
            Some(next) => url = next,
            None => break,
        }
    }
    let seq = first_seq.ok_or(ApiError::Unexpected { status: 200 })?;
    Ok((tasks, seq))
}

/// The target of `rel="next"` in an RFC 8288 `Link` header.
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|link| {
        let (target, params) = link.trim().split_once(';')?;
        let is_next = params
            .split(';')
            .any(|param| param.trim().replace(' ', "") == "rel=\"next\"");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_owned())
    })
}

/// Creates a task on the board from a title that already passed the shared rule.
pub async fn create_task(board: BoardId, title: &TaskTitle) -> Result<Task, ApiError> {
    let body = CreateTask {
        title: title.as_str().to_owned(),
    };
    let response = Request::post(&tasks_path(board))
        .json(&body)?
        .send()
        .await?;
    decode(response, 201).await
}

/// Changes a task based on its version (`If-Match`), so a change made elsewhere in the meantime
/// is refused with 412 rather than overwritten.
pub async fn update_task(
    board: BoardId,
    task: &Task,
    update: &UpdateTask,
) -> Result<Task, ApiError> {
    let response = Request::patch(&format!("{}/{}", tasks_path(board), task.id))
        .header("if-match", &task.version.to_string())
        .json(update)?
        .send()
        .await?;
    decode(response, 200).await
}

/// Deletes a task based on its version.
pub async fn delete_task(board: BoardId, task: &Task) -> Result<(), ApiError> {
    let response = Request::delete(&format!("{}/{}", tasks_path(board), task.id))
        .header("if-match", &task.version.to_string())
        .send()
        .await?;
    expect_empty(response, 204).await
}

/// Deletes the board's done tasks.
pub async fn clear_done(board: BoardId) -> Result<(), ApiError> {
    let response = Request::delete(&format!("{}?done=true", tasks_path(board)))
        .send()
        .await?;
    expect_empty(response, 200).await
}

/// The signed-in account, `None` when nobody is signed in.
pub async fn me() -> Result<Option<Account>, ApiError> {
    decode(Request::get(SESSION_PATH).send().await?, 200).await
}

/// Creates an account and signs it in.
pub async fn sign_up(credentials: &Credentials) -> Result<Account, ApiError> {
    let response = Request::post(ACCOUNTS_PATH)
        .json(credentials)?
        .send()
        .await?;
    decode(response, 201).await
}

/// Signs in (the server sets the session cookie).
pub async fn sign_in(credentials: &Credentials) -> Result<Account, ApiError> {
    let response = Request::post(SESSION_PATH)
        .json(credentials)?
        .send()
        .await?;
    decode(response, 200).await
}

/// Signs out, on every instance.
pub async fn sign_out() -> Result<(), ApiError> {
    let response = Request::delete(SESSION_PATH).send().await?;
    expect_empty(response, 204).await
}

/// The boards the account is a member of.
pub async fn boards() -> Result<Vec<Board>, ApiError> {
    decode(Request::get(BOARDS_PATH).send().await?, 200).await
}

/// One board, with the account's role.
pub async fn board(board: BoardId) -> Result<Board, ApiError> {
    let response = Request::get(&format!("{BOARDS_PATH}/{board}"))
        .send()
        .await?;
    decode(response, 200).await
}

pub async fn create_board(name: &str) -> Result<Board, ApiError> {
    let body = BoardFields { name: name.into() };
    let response = Request::post(BOARDS_PATH).json(&body)?.send().await?;
    decode(response, 201).await
}

/// Renames a board (owners).
pub async fn rename_board(board: BoardId, name: &str) -> Result<Board, ApiError> {
    let body = BoardFields { name: name.into() };
    let response = Request::patch(&format!("{BOARDS_PATH}/{board}"))
        .json(&body)?
        .send()
        .await?;
    decode(response, 200).await
}

/// Deletes a board with its tasks (owners).
pub async fn delete_board(board: BoardId) -> Result<(), ApiError> {
    let response = Request::delete(&format!("{BOARDS_PATH}/{board}"))
        .send()
        .await?;
    expect_empty(response, 204).await
}

fn members_path(board: BoardId) -> String {
    format!("{BOARDS_PATH}/{board}/members")
}

pub async fn members(board: BoardId) -> Result<Vec<Member>, ApiError> {
    decode(Request::get(&members_path(board)).send().await?, 200).await
}

pub async fn add_member(board: BoardId, username: &str, role: Role) -> Result<Member, ApiError> {
    let body = NewMember {
        username: username.into(),
        role,
    };
    let response = Request::post(&members_path(board))
        .json(&body)?
        .send()
        .await?;
    decode(response, 201).await
}

pub async fn set_role(board: BoardId, user: UserId, role: Role) -> Result<Member, ApiError> {
    let response = Request::patch(&format!("{}/{user}", members_path(board)))
        .json(&MemberRole { role })?
        .send()
        .await?;
    decode(response, 200).await
}

pub async fn remove_member(board: BoardId, user: UserId) -> Result<(), ApiError> {
    let response = Request::delete(&format!("{}/{user}", members_path(board)))
        .send()
        .await?;
    expect_empty(response, 204).await
}

pub async fn tokens() -> Result<Vec<TokenInfo>, ApiError> {
    decode(Request::get(TOKENS_PATH).send().await?, 200).await
}

/// Makes a token; its secret is in the answer only.
pub async fn create_token(name: &str) -> Result<IssuedToken, ApiError> {
    let body = TokenFields { name: name.into() };
    let response = Request::post(TOKENS_PATH).json(&body)?.send().await?;
    decode(response, 201).await
}

pub async fn revoke_token(token: TokenId) -> Result<(), ApiError> {
    let response = Request::delete(&format!("{TOKENS_PATH}/{token}"))
        .send()
        .await?;
    expect_empty(response, 204).await
}

/// The answer to a conditional `GET`: something new (with its tag), or `304`.
#[derive(Debug)]
pub enum Fresh<T> {
    Changed { value: T, etag: Option<String> },
    NotModified,
}

/// A conditional `GET` of `url`: `If-None-Match: etag` when given, the browser's cache left out
/// (the tag is sent, and the 304 seen, by this code). Another status is decoded as a problem
/// (`T` names the body a 200 would have had).
async fn get_fresh<T: DeserializeOwned>(
    url: &str,
    etag: Option<&str>,
) -> Result<Fresh<Response>, ApiError> {
    let mut request = Request::get(url).cache(RequestCache::NoStore);
    if let Some(tag) = etag {
        request = request.header("if-none-match", tag);
    }
    let response = request.send().await?;
    match response.status() {
        304 => Ok(Fresh::NotModified),
        200 => Ok(Fresh::Changed {
            etag: response.headers().get("etag"),
            value: response,
        }),
        _ => Err(decode::<T>(response, 200)
            .await
            .err()
            .unwrap_or(ApiError::Unexpected { status: 200 })),
    }
}

/// The server clock (`GET /api/clock`), unless it still shows `etag`; `lab` counts the request
/// in a lab run.
pub async fn clock(etag: Option<&str>, lab: Option<&str>) -> Result<Fresh<ClockReading>, ApiError> {
    let url = match lab {
        Some(run) => format!("{CLOCK_PATH}?{}={run}", shared::lab::LAB_PARAM),
        None => CLOCK_PATH.to_owned(),
    };
    match get_fresh::<ClockReading>(&url, etag).await? {
        Fresh::Changed { value, etag } => Ok(Fresh::Changed {
            value: decode(value, 200).await?,
            etag,
        }),
        Fresh::NotModified => Ok(Fresh::NotModified),
    }
}

/// Whether the board's list (the first 1000 tasks, as polling watches it) changed since `etag`;
/// the body is not read, only the new tag kept.
pub async fn list_changes(board: BoardId, etag: Option<&str>) -> Result<Fresh<()>, ApiError> {
    let url = format!("{}?limit=1000", tasks_path(board));
    Ok(match get_fresh::<Vec<Task>>(&url, etag).await? {
        Fresh::Changed { etag, .. } => Fresh::Changed { value: (), etag },
        Fresh::NotModified => Fresh::NotModified,
    })
}

/// Whether the server answers its liveness probe (`/healthz`).
pub async fn server_is_up() -> bool {
    matches!(Request::get(HEALTH_PATH).send().await, Ok(response) if response.ok())
}

/// What the lab run `run` has cost so far, as the server counted it.
pub async fn lab_report(run: &str) -> Result<LabReport, ApiError> {
    decode(
        Request::get(&format!("{}/{run}", shared::lab::LAB_RUNS_PATH))
            .send()
            .await?,
        200,
    )
    .await
}

impl ApiError {
    /// The task as the server has it, when a write was refused because it changed elsewhere.
    pub fn current_task(&self) -> Option<&Task> {
        match self {
            Self::Problem(problem) if problem.status == 412 => problem.current.as_ref(),
            _ => None,
        }
    }
}

/// Succeeds on `expected`, else decodes the problem.
async fn expect_empty(response: Response, expected: u16) -> Result<(), ApiError> {
    if response.status() == expected {
        return Ok(());
    }
    decode::<()>(response, expected).await
}

/// Reads the body as `T` when the status is `expected`, else as a problem.
async fn decode<T: DeserializeOwned>(response: Response, expected: u16) -> Result<T, ApiError> {
    let status = response.status();
    if status == expected {
        return response
            .json()
            .await
            .map_err(|_| ApiError::Unexpected { status });
    }
    match response.json::<Problem>().await {
        Ok(problem) => Err(ApiError::Problem(problem)),
        Err(_) => Err(ApiError::Unexpected { status }),
    }
}
