//! The command line: `serve` (the default), the console clients (`watch`, the task commands,
//! `login`), the operator's `user add`, and `config`, which prints the settings `serve` would use.
//!
//! Every setting of `serve` is a flag, an environment variable and a key of the `--config` file
//! (TOML, keys named as the flags): a flag wins over the variable, the variable over the file, the
//! file over the built-in default. The file's values become the defaults of the parser, so clap
//! itself applies that order.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::client;
use crate::config::Config;
use crate::startup::Application;
use crate::{maintenance, operator, shutdown, telemetry};

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
    /// Copy a SQLite database consistently while servers use it (for PostgreSQL: pg_dump).
    Backup(maintenance::BackupArgs),
    /// Write everything in a store (accounts, boards, members, tasks, event heads) to a JSON file.
    Export(maintenance::ExportArgs),
    /// Fill a new, empty store from an export: move from SQLite to PostgreSQL, or back.
    Import(maintenance::ImportArgs),
    /// Print the settings `serve` would run with (from the config file, the environment and the
    /// flags), as a config file, with secrets hidden.
    Config(Config),
}

/// The subcommands that take the settings of `serve` (and the top level, where they mean `serve`).
const TAKING_SETTINGS: &[&str] = &["serve", "config"];
/// The operator's commands on the store: of the settings they take the database only.
const TAKING_DATABASE: &[&[&str]] = &[&["backup"], &["export"], &["import"], &["user", "add"]];

/// `--config FILE` on the operator's store commands: the file's `database` is theirs too, so that
/// `tasktick backup` with the server's config file backs up the server's database.
#[derive(Debug, Clone, Args)]
pub struct ConfigFile {
    /// A TOML file of `tasktick serve`'s settings; this command takes its `database`.
    #[arg(long, env = "TASKTICK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl Cli {
    /// Parses the process's arguments, with the `--config` file's values as defaults; exits with
    /// clap's message on a bad command line, and with the reason on a bad config file.
    pub fn parse_with_config() -> Self {
        let args: Vec<OsString> = std::env::args_os().collect();
        match Self::try_parse_with_config(args) {
            Ok(cli) => cli,
            Err(error) => match error.downcast::<clap::Error>() {
                Ok(clap_error) => clap_error.exit(),
                Err(error) => {
                    eprintln!("error: {error:#}");
                    std::process::exit(2);
                }
            },
        }
    }

    /// [`Self::parse_with_config`] on the given arguments (the program name first).
    pub fn try_parse_with_config(args: Vec<OsString>) -> anyhow::Result<Self> {
        let mut command = Self::command();
        if let Some(path) = config_path(&args) {
            let file = read_config_file(&path)?;
            let settings = command
                .find_subcommand("serve")
                .expect("serve is a subcommand")
                .clone();
            let defaults = file_defaults(&settings, &file)
                .with_context(|| format!("in the config file {}", path.display()))?;
            command = with_defaults(command, &defaults);
            for name in TAKING_SETTINGS {
                command = command.mut_subcommand(*name, |sub| with_defaults(sub, &defaults));
            }
            let database: Vec<_> = defaults
                .iter()
                .filter(|(id, _)| id.as_str() == "database")
                .cloned()
                .collect();
            for path in TAKING_DATABASE {
                command = mut_subcommand_at(command, path, |sub| with_defaults(sub, &database));
            }
        }
        let matches = command.try_get_matches_from(args)?;
        Ok(Self::from_arg_matches(&matches)?)
    }
}

/// The config file named by `--config PATH` (or `--config=PATH`) anywhere on the command line, or
/// else by `TASKTICK_CONFIG`.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut args = args.iter().skip(1);
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy();
        if arg == "--" {
            break;
        }
        if arg == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os("TASKTICK_CONFIG").map(PathBuf::from)
}

fn read_config_file(path: &Path) -> anyhow::Result<toml::Table> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    text.parse::<toml::Table>()
        .with_context(|| format!("the config file {} is not valid TOML", path.display()))
}

/// Each key of the file as the argument it sets and that argument's values as text. A key that
/// names no setting, or a value of the wrong shape, is refused with the key's name.
fn file_defaults(
    settings: &clap::Command,
    file: &toml::Table,
) -> anyhow::Result<Vec<(clap::Id, Vec<String>)>> {
    let mut defaults = Vec::new();
    for (key, value) in file {
        let Some(arg) = settings
            .get_arguments()
            .find(|arg| arg.get_long() == Some(key.as_str()) && key != "config")
        else {
            bail!("{key:?} is not a setting (keys are the flags of `tasktick serve`, without --)");
        };
        let values = match value {
            toml::Value::Array(items) => items
                .iter()
                .map(|item| scalar(key, item))
                .collect::<anyhow::Result<_>>()?,
            other => vec![scalar(key, other)?],
        };
        defaults.push((arg.get_id().clone(), values));
    }
    Ok(defaults)
}

fn scalar(key: &str, value: &toml::Value) -> anyhow::Result<String> {
    match value {
        toml::Value::String(text) => Ok(text.clone()),
        toml::Value::Integer(number) => Ok(number.to_string()),
        toml::Value::Boolean(flag) => Ok(flag.to_string()),
        other => bail!(
            "{key:?} must be a string, a whole number or true/false, not a {}",
            other.type_str()
        ),
    }
}

/// `command` with the subcommand at `path` (`["user", "add"]`) changed by `change`.
fn mut_subcommand_at(
    command: clap::Command,
    path: &[&str],
    change: impl FnOnce(clap::Command) -> clap::Command,
) -> clap::Command {
    match path {
        [] => change(command),
        [name, rest @ ..] => {
            command.mut_subcommand(*name, |sub| mut_subcommand_at(sub, rest, change))
        }
    }
}

fn with_defaults(
    mut command: clap::Command,
    defaults: &[(clap::Id, Vec<String>)],
) -> clap::Command {
    for (id, values) in defaults {
        let values: Vec<clap::builder::OsStr> = values
            .iter()
            .map(|v| clap::builder::Str::from(v.clone()).into())
            .collect();
        command = command.mut_arg(id.clone(), |arg| arg.default_values(values));
    }
    command
}

impl Cli {
    /// Runs the chosen command to completion.
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command.unwrap_or(Command::Serve(self.serve)) {
            Command::Serve(config) => {
                // memory-serve lists every embedded file at `info`.
                telemetry::init("info,memory_serve=warn", config.log_format);
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
            Command::Backup(args) => {
                telemetry::init("warn", telemetry::LogFormat::Text);
                maintenance::backup(args).await
            }
            Command::Export(args) => {
                telemetry::init("warn", telemetry::LogFormat::Text);
                maintenance::export(args).await
            }
            Command::Import(args) => {
                telemetry::init("warn", telemetry::LogFormat::Text);
                maintenance::import(args).await
            }
            Command::Config(config) => {
                print!("{}", config.to_toml()?);
                Ok(())
            }
            Command::Task(command) => {
                telemetry::init("warn", telemetry::LogFormat::Text);
                client::tasks::run(command).await
            }
        }
    }
}
