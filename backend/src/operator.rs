//! Operator commands that work on the database directly: `tasktick user add NAME` creates an
//! account (the first one, or any on a server with `--signup closed`) and makes it the owner of
//! any board without members (the tasks of a database from before accounts are on such a board).

use std::io::BufRead;
use std::num::NonZeroU32;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use shared::{Password, Username};

use crate::auth::{hash_password, now_ms};
use crate::cli::ConfigFile;
use crate::store::{self, DatabaseUrl};

/// `tasktick user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is asked for on the terminal, or read as one line from
    /// standard input with `--password-stdin`.
    Add(AddUser),
}

#[derive(Debug, Args)]
pub struct AddUser {
    /// The account's username (3 to 32 of a-z 0-9 . _ -).
    pub username: String,
    /// The database, as for `tasktick serve`.
    #[arg(long, env = "TASKTICK_DATABASE", default_value = "data/tasks.db")]
    pub database: DatabaseUrl,
    #[command(flatten)]
    pub config: ConfigFile,
    /// Read the password from the first line of standard input instead of the terminal.
    #[arg(long)]
    pub password_stdin: bool,
}

pub async fn run(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add(add) => add_user(add).await,
    }
}

async fn add_user(add: AddUser) -> anyhow::Result<()> {
    let username = Username::parse(&add.username).map_err(|rule| anyhow::anyhow!("{rule}"))?;
    let password = if add.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ")?;
        if rpassword::prompt_password("Password again: ")? != first {
            bail!("the two passwords differ; nothing was created");
        }
        first
    };
    let password = Password::parse(&password).map_err(|rule| anyhow::anyhow!("{rule}"))?;
    let store = store::open(&add.database, NonZeroU32::MIN)
        .await
        .with_context(|| format!("cannot open the database {}", add.database))?;
    let hash = hash_password(password).await?;
    match store.create_user(&username, &hash, now_ms()).await? {
        Some(account) => {
            println!("created account {} (id {})", account.username, account.id);
            for board in store.adopt_ownerless_boards(account.id).await? {
                println!(
                    "{} now owns board {board}, which had no members",
                    account.username
                );
            }
            Ok(())
        }
        None => bail!("the username {} is taken", username.as_str()),
    }
}
