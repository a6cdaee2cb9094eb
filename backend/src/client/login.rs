//! `tasktick login --server URL`: trades a username and password for a personal access token and
//! keeps it in the user's config folder, so that the console commands act as that account.
//!
//! The tokens live in `$XDG_CONFIG_HOME/tasktick/tokens.json` (or `~/.config/...`), one per
//! server, readable by the user only.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use reqwest::StatusCode;
use shared::{IssuedToken, Problem, TOKENS_PATH, TokenFields};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub server: String,
    /// The username; asked for when not given.
    #[arg(long)]
    pub username: Option<String>,
    /// Read the password from the first line of standard input instead of the terminal.
    #[arg(long)]
    pub password_stdin: bool,
}

pub async fn run(args: LoginArgs) -> anyhow::Result<()> {
    let server = args.server.trim_end_matches('/').to_owned();
    let username = match args.username {
        Some(username) => username,
        None => {
            print!("Username: ");
            std::io::stdout().flush()?;
            read_line()?
        }
    };
    let password = if args.password_stdin {
        read_line()?
    } else {
        rpassword::prompt_password("Password: ")?
    };
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "this computer".into());
    let response = reqwest::Client::new()
        .post(format!("{server}{TOKENS_PATH}"))
        .basic_auth(&username, Some(&password))
        .json(&TokenFields {
            name: format!("tasktick login on {host}"),
        })
        .send()
        .await
        .with_context(|| format!("cannot reach {server}"))?;
    if response.status() != StatusCode::CREATED {
        let status = response.status();
        let detail = response
            .json::<Problem>()
            .await
            .map(|problem| problem.detail)
            .unwrap_or_default();
        bail!("the server refused ({status}): {detail}");
    }
    let issued: IssuedToken = response.json().await?;
    let mut tokens = saved_tokens();
    tokens.insert(server.clone(), issued.secret);
    save_tokens(&tokens)?;
    println!(
        "signed in to {server} as {username}; the token is kept in {}",
        tokens_file().display()
    );
    Ok(())
}

fn read_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Where the tokens are kept.
pub fn tokens_file() -> PathBuf {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    config.join("tasktick").join("tokens.json")
}

fn saved_tokens() -> BTreeMap<String, String> {
    std::fs::read(tokens_file())
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// The token kept for `server`, if `tasktick login` was run for it.
pub fn token_for(server: &str) -> Option<String> {
    saved_tokens().remove(server.trim_end_matches('/'))
}

fn save_tokens(tokens: &BTreeMap<String, String>) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = tokens_file();
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(&serde_json::to_vec_pretty(tokens)?)?;
    Ok(())
}
