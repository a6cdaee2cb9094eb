//! `tasktick add | list | done | edit | rm`: the task commands, printing what changed.

use clap::{Args, Subcommand};
use shared::{Task, TaskId, UpdateTask};

use super::rest::RestClient;

/// Where the server is, shared by every task command.
#[derive(Debug, Args)]
pub struct ServerArg {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub server: String,
    /// The board's id (the page shows it in its address: `/boards/ID`).
    #[arg(long, env = "TASKTICK_BOARD", default_value_t = 1)]
    pub board: i64,
    /// An access token to send instead of the one `tasktick login` kept (for scripts).
    #[arg(long, env = "TASKTICK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// A task command.
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Create a task and print it.
    Add {
        title: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Print every task, oldest first.
    List {
        #[command(flatten)]
        server: ServerArg,
    },
    /// Mark a task done.
    Done {
        id: i64,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Change a task's title.
    Edit {
        id: i64,
        title: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Delete a task.
    Rm {
        id: i64,
        #[command(flatten)]
        server: ServerArg,
    },
}

impl TaskCommand {
    fn server(&self) -> &ServerArg {
        match self {
            Self::Add { server, .. }
            | Self::List { server }
            | Self::Done { server, .. }
            | Self::Edit { server, .. }
            | Self::Rm { server, .. } => server,
        }
    }
}

/// Runs `command` against the server and prints the outcome.
pub async fn run(command: TaskCommand) -> anyhow::Result<()> {
    let server = command.server();
    let client = RestClient::new(
        &server.server,
        shared::BoardId(server.board),
        server.token.clone(),
    );
    match command {
        TaskCommand::Add { title, .. } => {
            let task = client.create(title).await?;
            println!("Created task #{}: {}", task.id, task.title);
        }
        TaskCommand::List { .. } => {
            let tasks = client.list().await?;
            if tasks.is_empty() {
                println!("No tasks yet.");
            }
            for task in &tasks {
                println!("{}", line(task));
            }
        }
        TaskCommand::Done { id, .. } => {
            let update = UpdateTask {
                title: None,
                done: Some(true),
            };
            let task = client.update(TaskId(id), &update).await?;
            println!("Done: {}", line(&task));
        }
        TaskCommand::Edit { id, title, .. } => {
            let update = UpdateTask {
                title: Some(title),
                done: None,
            };
            let task = client.update(TaskId(id), &update).await?;
            println!("Renamed: {}", line(&task));
        }
        TaskCommand::Rm { id, .. } => {
            client.delete(TaskId(id)).await?;
            println!("Deleted task #{id}.");
        }
    }
    Ok(())
}

/// `#3 [x] Buy milk`
fn line(task: &Task) -> String {
    let mark = if task.done { "x" } else { " " };
    format!("#{} [{mark}] {}", task.id, task.title)
}
