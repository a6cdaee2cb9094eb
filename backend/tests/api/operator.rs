//! The operator's and the console user's side of accounts, with the real binary: `tasktick user
//! add` on a closed server, `tasktick login` keeping a token, and no secret in the server's log.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use shared::{ACCOUNTS_PATH, Account, SESSION_PATH};

use crate::helpers::{PASSWORD, session_cookie, write_fake_front_end};
use crate::server_process::ServerProcess;

/// Runs `tasktick ARGS` with `stdin` as its input and `env` set (and no store settings from the
/// test's own environment), off the async threads.
pub async fn run(
    args: &[&str],
    stdin: &str,
    env: &[(&str, &std::path::Path)],
) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let stdin = stdin.to_owned();
    let env: Vec<(String, std::path::PathBuf)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_path_buf()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tasktick"))
            .args(args)
            .env_remove("TASKTICK_DATABASE")
            .env_remove("TASKTICK_CONFIG")
            .envs(env)
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_operator_adds_an_account_on_a_closed_server_login_keeps_a_token_and_no_secret_is_logged()
 {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("tasks.db");
    let config_home = dir.path().join("config");
    let database_arg = database.to_str().unwrap();

    let added = run(
        &[
            "user",
            "add",
            "Ada",
            "--database",
            database_arg,
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
        &[],
    )
    .await;
    assert!(added.status.success(), "{added:?}");
    let said = String::from_utf8_lossy(&added.stdout);
    assert!(said.contains("created account ada"), "{said}");
    // Board 1 holds the tasks of before accounts; the first account takes it over.
    assert!(said.contains("ada now owns board 1"), "{said}");
    let again = run(
        &[
            "user",
            "add",
            "ada",
            "--database",
            database_arg,
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
        &[],
    )
    .await;
    assert!(!again.status.success(), "a taken name is refused");

    let static_dir = write_fake_front_end(dir.path());
    let server = ServerProcess::start_with_env(&[
        ("TASKTICK_ADDR", "127.0.0.1:0".as_ref()),
        ("TASKTICK_DATABASE", database.as_os_str()),
        ("TASKTICK_STATIC_DIR", static_dir.as_os_str()),
        ("TASKTICK_SIGNUP", "closed".as_ref()),
        ("RUST_LOG", "debug".as_ref()),
    ]);
    let client = reqwest::Client::new();
    let signup = client
        .post(server.url(ACCOUNTS_PATH))
        .json(&json!({ "username": "eve", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 403);

    let login = run(
        &[
            "login",
            "--server",
            &server.url(""),
            "--username",
            "ada",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
        &[("XDG_CONFIG_HOME", &config_home)],
    )
    .await;
    assert!(login.status.success(), "{login:?}");
    let tokens_file = config_home.join("tasktick/tokens.json");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&tokens_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o077, 0, "only the user may read the tokens");
    let tokens: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(&tokens_file).unwrap()).unwrap();
    let token = tokens[&server.url("")].clone();
    let me: Account = client
        .get(server.url(SESSION_PATH))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me.username, "ada");
    let boards: Vec<shared::Board> = client
        .get(server.url(shared::BOARDS_PATH))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let owned: Vec<_> = boards.iter().map(|b| (b.name.as_str(), b.role)).collect();
    assert_eq!(owned, [("Tasks", shared::Role::Owner)]);

    let signed_in = client
        .post(server.url(SESSION_PATH))
        .json(&json!({ "username": "ada", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let cookie = session_cookie(&signed_in).unwrap();

    let log = server.log_lines_until("signed in", Duration::from_secs(10));
    assert!(log.len() > 3, "the debug log was captured: {log:#?}");
    for line in &log {
        for secret in [PASSWORD, token.as_str(), cookie.as_str()] {
            assert!(!line.contains(secret), "a secret in the log: {line}");
        }
    }
}
