//! `--config FILE`: the settings of `tasktick serve` from a TOML file, overridden by the
//! environment and then by flags; `tasktick config` prints what would apply, secrets hidden.

use std::path::Path;
use std::process::Command;

use crate::helpers::{PASSWORD, write_fake_front_end};
use crate::server_process::ServerProcess;

/// `tasktick ARGS` with `env`, its standard output as TOML (it must succeed).
fn effective(args: &[&str], env: &[(&str, &str)]) -> toml::Table {
    let output = Command::new(env!("CARGO_BIN_EXE_tasktick"))
        .args(args)
        .env_remove("TASKTICK_WS_TIMEOUT")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().parse().unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn the_file_sets_what_neither_the_environment_nor_a_flag_sets() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "tasktick.toml",
        r#"
addr = "127.0.0.1:4000"
ws-timeout = 99
read-timeout = 42
secure-cookies = true
allowed-origin = ["https://a.example", "https://b.example"]
"#,
    );

    let shown = effective(
        &["config", "--config", &file, "--addr", "127.0.0.1:5000"],
        &[("TASKTICK_WS_TIMEOUT", "7")],
    );

    assert_eq!(
        shown["addr"].as_str(),
        Some("127.0.0.1:5000"),
        "a flag wins"
    );
    assert_eq!(
        shown["ws-timeout"].as_integer(),
        Some(7),
        "then the environment"
    );
    assert_eq!(
        shown["read-timeout"].as_integer(),
        Some(42),
        "then the file"
    );
    assert_eq!(shown["secure-cookies"].as_bool(), Some(true));
    assert_eq!(
        shown["allowed-origin"].as_array().unwrap().len(),
        2,
        "{shown:?}"
    );
    assert_eq!(
        shown["drain-seconds"].as_integer(),
        Some(5),
        "then the default"
    );
}

#[test]
fn what_config_prints_is_a_config_file_that_means_the_same_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "first.toml",
        "signup = \"closed\"\nmax-connections = 1234\ntrusted-proxy = [\"10.0.0.1\"]\n",
    );
    let first = effective(&["config", "--config", &file], &[]);
    let again = write(dir.path(), "again.toml", &toml::to_string(&first).unwrap());
    assert_eq!(effective(&["config", "--config", &again], &[]), first);
    assert_eq!(first["signup"].as_str(), Some("closed"));

    let secret = effective(
        &[
            "config",
            "--database",
            "postgres://tasktick:s3cret@db.internal/tasks",
        ],
        &[],
    );
    let printed = toml::to_string(&secret).unwrap();
    assert!(!printed.contains("s3cret"), "{printed}");
    assert_eq!(
        secret["database"].as_str(),
        Some("postgres://tasktick:***@db.internal/tasks")
    );
}

#[test]
fn a_key_that_is_no_setting_or_a_value_of_the_wrong_kind_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for (text, named) in [
        ("adr = \"127.0.0.1:1\"\n", "adr"),
        ("ws-timeout = 1.5\n", "ws-timeout"),
        ("ws-timeout = \"soon\"\n", "ws-timeout"),
    ] {
        let file = write(dir.path(), "bad.toml", text);
        let output = Command::new(env!("CARGO_BIN_EXE_tasktick"))
            .args(["serve", "--config", &file])
            .output()
            .unwrap();
        let error = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{text}: {error}");
        assert!(error.contains(named), "{text}: {error}");
    }
}

#[tokio::test]
async fn serve_runs_on_the_settings_of_its_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let dist = write_fake_front_end(dir.path());
    let database = dir.path().join("from-file/tasks.db");
    let file = write(
        dir.path(),
        "tasktick.toml",
        &format!(
            "addr = \"127.0.0.1:0\"\ndatabase = {:?}\nstatic-dir = {:?}\n",
            database.to_str().unwrap(),
            dist.to_str().unwrap()
        ),
    );
    let server = ServerProcess::start_with_env(&[("TASKTICK_CONFIG", file.as_ref())]);

    let page = reqwest::get(server.url("/")).await.unwrap();
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<title>tasktick</title>")
    );
    assert!(database.is_file(), "the database is where the file says");
    server.kill_hard();
}

#[test]
fn the_example_config_in_deploy_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/tasktick.toml");
    let shown = effective(&["config", "--config", example], &[]);
    assert_eq!(shown["metrics-addr"].as_str(), Some("127.0.0.1:9300"));
    assert_eq!(shown["signup"].as_str(), Some("closed"));
}

/// `tasktick ARGS` with `stdin` and `env`: what it printed (it must succeed).
async fn operator(args: &[&str], stdin: &str, env: &[(&str, &Path)]) -> String {
    let output = crate::operator::run(args, stdin, env).await;
    assert!(
        output.status.success(),
        "tasktick {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn the_operator_s_store_commands_take_the_database_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("from-the-file.db");
    let file = write(
        dir.path(),
        "tasktick.toml",
        &format!(
            "addr = \"127.0.0.1:4000\"\ndatabase = {:?}\n",
            database.to_str().unwrap()
        ),
    );

    let added = operator(
        &["user", "add", "ada", "--config", &file, "--password-stdin"],
        &format!("{PASSWORD}\n"),
        &[],
    )
    .await;
    assert!(added.contains("created account ada"), "{added}");
    assert!(database.exists(), "the account is in the file's database");

    // The file named by the environment, as a service's unit sets it.
    let export = dir.path().join("export.json");
    operator(
        &["export", export.to_str().unwrap()],
        "",
        &[("TASKTICK_CONFIG", Path::new(&file))],
    )
    .await;
    let exported = std::fs::read_to_string(&export).unwrap();
    assert!(exported.contains("\"ada\""), "{exported}");

    let backup = dir.path().join("backup.db");
    let said = operator(
        &["backup", "--config", &file, backup.to_str().unwrap()],
        "",
        &[],
    )
    .await;
    assert!(said.contains("from-the-file.db"), "{said}");
    assert!(backup.exists());

    // A flag still wins over the file.
    let elsewhere = dir.path().join("elsewhere.db");
    let said = operator(
        &[
            "user",
            "add",
            "bob",
            "--config",
            &file,
            "--database",
            elsewhere.to_str().unwrap(),
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
        &[],
    )
    .await;
    assert!(said.contains("created account bob"), "{said}");
    assert!(elsewhere.exists());
}
