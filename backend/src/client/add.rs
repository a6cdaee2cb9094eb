//! `tasktick add`: creates a task over REST and prints it.

use anyhow::{Context, bail};
use clap::Args;
use reqwest::StatusCode;
use shared::{CreateTask, Problem, Task};

/// Arguments of `tasktick add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Title of the new task.
    pub title: String,
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub server: String,
}

/// Posts the task; prints it, or the server's problem detail (and fails).
pub async fn run(args: AddArgs) -> anyhow::Result<()> {
    let url = format!(
        "{}{}",
        args.server.trim_end_matches('/'),
        shared::TASKS_PATH
    );
    let response = reqwest::Client::new()
        .post(&url)
        .json(&CreateTask { title: args.title })
        .send()
        .await
        .with_context(|| format!("cannot reach the server at {}", args.server))?;
    let status = response.status();
    if status == StatusCode::CREATED {
        let task: Task = response
            .json()
            .await
            .context("the server sent an unreadable task")?;
        println!("Created task #{}: {}", task.id, task.title);
        return Ok(());
    }
    match response.json::<Problem>().await {
        Ok(problem) => bail!("the server refused the task ({status}): {}", problem.detail),
        Err(_) => bail!("the server answered {status}"),
    }
}
