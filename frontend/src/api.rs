//! The typed REST client: one function per endpoint, refusals decoded into [`ApiError`].

use std::fmt;

use gloo_net::http::{Request, Response};
use serde::de::DeserializeOwned;
use shared::{CreateTask, Problem, SEQ_HEADER, TASKS_PATH, Task, TaskTitle, UpdateTask};

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

/// `GET /api/tasks`, following the `next` links: every task, oldest first, and the event `seq` the
/// list reflects. The first page's `seq` is the safe one: a change made while later pages load shows
/// in them and is applied again, idempotently, from the live stream.
pub async fn list_tasks() -> Result<(Vec<Task>, i64), ApiError> {
    let mut url = format!("{TASKS_PATH}?limit=1000");
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

/// `POST /api/tasks`: creates a task from a title that already passed the shared rule.
pub async fn create_task(title: &TaskTitle) -> Result<Task, ApiError> {
    let body = CreateTask {
        title: title.as_str().to_owned(),
    };
    let response = Request::post(TASKS_PATH).json(&body)?.send().await?;
    decode(response, 201).await
}

/// `PATCH /api/tasks/{id}` based on `task`'s version (`If-Match`), so a change made elsewhere in the
/// meantime is refused with 412 rather than overwritten.
pub async fn update_task(task: &Task, update: &UpdateTask) -> Result<Task, ApiError> {
    let response = Request::patch(&format!("{TASKS_PATH}/{}", task.id))
        .header("if-match", &task.version.to_string())
        .json(update)?
        .send()
        .await?;
    decode(response, 200).await
}

/// `DELETE /api/tasks/{id}` based on `task`'s version.
pub async fn delete_task(task: &Task) -> Result<(), ApiError> {
    let response = Request::delete(&format!("{TASKS_PATH}/{}", task.id))
        .header("if-match", &task.version.to_string())
        .send()
        .await?;
    expect_empty(response, 204).await
}

/// `DELETE /api/tasks?done=true`.
pub async fn clear_done() -> Result<(), ApiError> {
    let response = Request::delete(&format!("{TASKS_PATH}?done=true"))
        .send()
        .await?;
    expect_empty(response, 200).await
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
