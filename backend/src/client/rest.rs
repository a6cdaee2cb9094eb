//! A typed REST client for the console commands: one method per endpoint, refusals turned into
//! errors that carry the server's problem detail.

use anyhow::Context;
use reqwest::{Response, StatusCode};
use serde::de::DeserializeOwned;
use shared::{BoardId, CreateTask, Problem, Task, TaskId, UpdateTask, tasks_path};

/// The server's REST API at `base` (`http://host:port`), for one board's tasks.
pub struct RestClient {
    base: String,
    board: BoardId,
    http: reqwest::Client,
}

impl RestClient {
    /// A client for `base` with `token`, or else the access token `tasktick login` kept for it
    /// (if any).
    pub fn new(base: &str, board: BoardId, token: Option<String>) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = token.or_else(|| super::login::token_for(base))
            && let Ok(value) = format!("Bearer {token}").parse()
        {
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        Self {
            base: base.trim_end_matches('/').to_owned(),
            board,
            http: reqwest::Client::builder()
                .default_headers(headers)
                .build()
                .unwrap_or_default(),
        }
    }

    /// Every task, following the `next` links.
    pub async fn list(&self) -> anyhow::Result<Vec<Task>> {
        let mut tasks = Vec::new();
        let mut path = format!("{}?limit=1000", tasks_path(self.board));
        loop {
            let response = self.send(self.http.get(self.url(&path))).await?;
            let next = next_link(&response);
            tasks.extend(expect::<Vec<Task>>(response, StatusCode::OK).await?);
            match next {
                Some(next) => path = next,
                None => return Ok(tasks),
            }
        }
    }

    pub async fn create(&self, title: String) -> anyhow::Result<Task> {
        let request = self
            .http
            .post(self.url(&tasks_path(self.board)))
            .json(&CreateTask { title });
        expect(self.send(request).await?, StatusCode::CREATED).await
    }

    pub async fn update(&self, id: TaskId, update: &UpdateTask) -> anyhow::Result<Task> {
        let request = self.http.patch(self.task_url(id)).json(update);
        expect(self.send(request).await?, StatusCode::OK).await
    }

    pub async fn delete(&self, id: TaskId) -> anyhow::Result<()> {
        let response = self.send(self.http.delete(self.task_url(id))).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(());
        }
        Err(refusal(response).await)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn task_url(&self, id: TaskId) -> String {
        self.url(&format!("{}/{id}", tasks_path(self.board)))
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Response> {
        request
            .send()
            .await
            .with_context(|| format!("cannot reach the server at {}", self.base))
    }
}

/// The body as `T` if the status is `expected`, else the server's refusal.
async fn expect<T: DeserializeOwned>(
    response: Response,
    expected: StatusCode,
) -> anyhow::Result<T> {
    if response.status() != expected {
        return Err(refusal(response).await);
    }
    response
        .json()
        .await
        .context("the server sent an unreadable answer")
}

async fn refusal(response: Response) -> anyhow::Error {
    let status = response.status();
    match response.json::<Problem>().await {
        Ok(problem) => anyhow::anyhow!("the server refused ({status}): {}", problem.detail),
        Err(_) => anyhow::anyhow!("the server answered {status}"),
    }
}

/// The path of `rel="next"` in the `Link` header, if any.
fn next_link(response: &Response) -> Option<String> {
    let link = response
        .headers()
        .get(reqwest::header::LINK)?
        .to_str()
        .ok()?;
    link.split(',').find_map(|entry| {
        let (target, params) = entry.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}
