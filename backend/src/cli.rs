//! The command line: `serve` (the default), the console clients (`watch`, the task commands,
//! `login`) and the operator's `user add`.

use clap::{Parser, Subcommand};

use crate::client;
use crate::config::Config;
use crate::startup::Application;
use crate::{operator, shutdown, telemetry};

/// tasktick: a shared task board over REST, with a live clock and task events over WebSocket.
#[derive(Debug, Parser)]
#[command(
    name = "tasktick",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Flags of `serve`, accepted without the subcommand because serving is the default.
    #[command(flatten)]
    serve: Config,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the REST API, the WebSocket and the front end (the default).
    Serve(Config),
    /// Print the server's clock ticks as they arrive, until Ctrl-C.
    Watch(client::watch::WatchArgs),
    #[command(flatten)]
    Task(client::tasks::TaskCommand),
    /// Sign in to a server and keep an access token for the console commands.
    Login(client::login::LoginArgs),
    /// Manage accounts on the database directly (for the first account, or closed sign-up).
    #[command(subcommand)]
    User(operator::UserCommand),
}

impl Cli {
    /// Runs the chosen command to completion.
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command.unwrap_or(Command::Serve(self.serve)) {
            Command::Serve(config) => {
                telemetry::init("info", config.log_format);
                let app = Application::build(config).await?;
                app.run_until(shutdown::signal()).await
            }
            Command::Watch(args) => {
                telemetry::init("warn", telemetry::LogFormat::Text);
                client::watch::run(args).await
            }
            Command::Login(args) => {
                telemetry::init("warn", telemetry::LogFormat::Text);
                client::login::run(args).await
            }
            Command::User(command) => {
                telemetry::init("warn", telemetry::LogFormat::Text);
                operator::run(command).await
            }
            Command::Task(command) => {
                telemetry::init("warn", telemetry::LogFormat::Text);
                client::tasks::run(command).await
            }
        }
    }
}
