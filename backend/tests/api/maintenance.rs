//! The operator's store commands with the real binary: `tasktick backup` of a SQLite file while a
//! server writes to it, and `tasktick export` / `tasktick import` from SQLite to PostgreSQL and
//! back, with nothing lost or renumbered.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};
use shared::{BoardId, Task};

use crate::helpers::{User, owner_and_board, signed_in_client, write_fake_front_end};
use crate::server_process::ServerProcess;

/// `tasktick ARGS`, off the async threads.
async fn tasktick(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_tasktick"))
            .args(args)
            .env_remove("TASKTICK_DATABASE")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn args(parts: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<String> {
    parts
        .iter()
        .map(|part| part.as_ref().to_string_lossy().into_owned())
        .collect()
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn create_task(client: &reqwest::Client, base: &str, board: BoardId, title: &str) -> Task {
    let response = client
        .post(format!("{base}/api/boards/{}/tasks", board.0))
        .json(&json!({ "title": title }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn list(client: &reqwest::Client, base: &str, board: BoardId) -> (Vec<Task>, i64) {
    let response = client
        .get(format!("{base}/api/boards/{}/tasks?limit=200", board.0))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seq = response.headers()["tasktick-seq"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    (response.json().await.unwrap(), seq)
}

#[tokio::test]
async fn a_backup_taken_while_a_server_writes_is_the_database_at_one_moment() {
    let dir = tempfile::tempdir().unwrap();
    let dist = write_fake_front_end(dir.path());
    let database = dir.path().join("tasks.db");
    let mut command = Command::new(env!("CARGO_BIN_EXE_tasktick"));
    command
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--write-rate",
            "100000",
            "--database",
        ])
        .arg(&database)
        .arg("--static-dir")
        .arg(&dist);
    let server = ServerProcess::spawn_command(command);
    let base = server.url("");
    let (owner, board) = owner_and_board(&reqwest::Client::new(), &base).await;
    let client = signed_in_client(&owner, &base);
    for n in 0..20 {
        create_task(&client, &base, board, &format!("before {n}")).await;
    }

    // A writer keeps adding tasks while the backup runs.
    let writer = {
        let (client, base) = (client.clone(), base.clone());
        tokio::spawn(async move {
            for n in 0..200 {
                create_task(&client, &base, board, &format!("during {n}")).await;
            }
        })
    };
    let copy = dir.path().join("backups/copy.db");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    succeeded(&tasktick(args(&[&"backup", &"--database", &database, &copy])).await);
    writer.await.unwrap();

    // The copy serves: its tasks are exactly those its board's seq counts (one event per task),
    // all 20 written before, and fewer than all 220.
    let restored = ServerProcess::start(&copy, &dist);
    let restored_base = restored.url("");
    let (owner_again, _) = owner_and_board(&reqwest::Client::new(), &restored_base).await;
    let (tasks, seq) = list(
        &signed_in_client(&owner_again, &restored_base),
        &restored_base,
        board,
    )
    .await;
    assert_eq!(
        tasks.len() as i64,
        seq,
        "the copy's tasks and its event head agree"
    );
    assert!((20..=220).contains(&tasks.len()), "{}", tasks.len());

    let again = tasktick(args(&[&"backup", &"--database", &database, &copy])).await;
    assert!(
        !again.status.success(),
        "an existing file is not overwritten"
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    server.kill_hard();
    restored.kill_hard();
}

#[tokio::test]
async fn backing_up_postgresql_points_to_pg_dump_and_a_missing_file_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("copy");
    let postgres = tasktick(args(&[
        &"backup",
        &"--database",
        &"postgres://tasktick:s3cret@127.0.0.1:1/tasks",
        &target,
    ]))
    .await;
    let said = String::from_utf8_lossy(&postgres.stderr);
    assert!(!postgres.status.success());
    assert!(said.contains("pg_dump"), "{said}");
    assert!(!said.contains("s3cret"), "{said}");

    let missing = dir.path().join("no/such.db");
    let output = tasktick(args(&[&"backup", &"--database", &missing, &target])).await;
    assert!(!output.status.success());
    assert!(!missing.exists(), "no empty database was made in its place");
}

/// Fills a SQLite store through a server: two accounts, a shared board, tasks (one deleted, one
/// changed twice), a token.
async fn populate(database: &Path, dist: &Path) -> (User, BoardId) {
    let server = ServerProcess::start(database, dist);
    let base = server.url("");
    let (owner, board) = owner_and_board(&reqwest::Client::new(), &base).await;
    let client = signed_in_client(&owner, &base);
    let signed_up = reqwest::Client::new()
        .post(format!("{base}{}", shared::ACCOUNTS_PATH))
        .json(&json!({ "username": "ada", "password": crate::helpers::PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 201);
    let added = client
        .post(format!("{base}/api/boards/{}/members", board.0))
        .json(&json!({ "username": "ada", "role": "editor" }))
        .send()
        .await
        .unwrap();
    assert!(added.status().is_success(), "{}", added.status());
    let first = create_task(&client, &base, board, "first").await;
    for version in [1, 2] {
        let changed = client
            .patch(format!(
                "{base}/api/boards/{}/tasks/{}",
                board.0, first.id.0
            ))
            .header("if-match", format!("\"v{version}\""))
            .json(&json!({ "done": version == 1 }))
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 200);
    }
    create_task(&client, &base, board, "second").await;
    let last = create_task(&client, &base, board, "deleted").await;
    let deleted = client
        .delete(format!("{base}/api/boards/{}/tasks/{}", board.0, last.id.0))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let token = client
        .post(format!("{base}{}", shared::TOKENS_PATH))
        .json(&json!({ "name": "laptop" }))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 201);
    server.kill_hard();
    (owner, board)
}

async fn export(database: &str, file: &Path) -> Value {
    succeeded(&tasktick(args(&[&"export", &"--database", &database, &file])).await);
    serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
}

#[tokio::test]
async fn export_and_import_move_everything_from_sqlite_to_postgresql_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let dist = write_fake_front_end(dir.path());
    let sqlite = dir.path().join("first.db");
    let (owner, board) = populate(&sqlite, &dist).await;

    let from_sqlite = export(sqlite.to_str().unwrap(), &dir.path().join("1.json")).await;
    let postgres = crate::postgres::fresh_database_on(&crate::postgres::server_url()).await;
    let imported = tasktick(args(&[
        &"import",
        &"--database",
        &postgres,
        &dir.path().join("1.json"),
    ]));
    let said = succeeded(&imported.await);
    // Board 1, which every store starts with, and the owner's.
    assert!(
        said.contains("2 accounts, 2 boards, 2 members, 2 tasks"),
        "{said}"
    );
    let from_postgres = export(&postgres, &dir.path().join("2.json")).await;
    let back = dir.path().join("back.db");
    succeeded(
        &tasktick(args(&[
            &"import",
            &"--database",
            &back,
            &dir.path().join("2.json"),
        ]))
        .await,
    );
    let from_back = export(back.to_str().unwrap(), &dir.path().join("3.json")).await;

    assert_eq!(
        from_postgres, from_sqlite,
        "SQLite to PostgreSQL keeps everything"
    );
    assert_eq!(from_back, from_sqlite, "and PostgreSQL to SQLite too");
    assert_eq!(from_sqlite["tasks"].as_array().unwrap().len(), 2);
    assert_eq!(
        from_sqlite["counters"]["tasks"], 3,
        "the deleted task's id counts"
    );

    // The moved store serves the same board to the same password, and carries on numbering: a new
    // task does not reuse the deleted one's id, its event follows the head.
    let server = ServerProcess::start(&back, &dist);
    let base = server.url("");
    let (owner_again, board_again) = owner_and_board(&reqwest::Client::new(), &base).await;
    assert_eq!(
        (owner_again.account.id, board_again),
        (owner.account.id, board)
    );
    let client = signed_in_client(&owner_again, &base);
    let (before, head) = list(&client, &base, board).await;
    let first = before.iter().find(|task| task.title == "first").unwrap();
    assert_eq!(first.version, 3, "versions are kept");
    let next = create_task(&client, &base, board, "after the move").await;
    assert_eq!(next.id.0, 4);
    let (_, head_after) = list(&client, &base, board).await;
    assert_eq!(head_after, head + 1);
    server.kill_hard();
}

#[tokio::test]
async fn an_import_into_a_store_in_use_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dist = write_fake_front_end(dir.path());
    let source = dir.path().join("source.db");
    populate(&source, &dist).await;
    let file = dir.path().join("export.json");
    export(source.to_str().unwrap(), &file).await;
    let before = export(source.to_str().unwrap(), &dir.path().join("before.json")).await;

    let refused = tasktick(args(&[&"import", &"--database", &source, &file])).await;
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        said.contains("not empty") && said.contains("2 accounts"),
        "{said}"
    );
    let after = export(source.to_str().unwrap(), &dir.path().join("after.json")).await;
    assert_eq!(after, before);

    std::fs::write(
        dir.path().join("other.json"),
        r#"{"format":"something","version":9}"#,
    )
    .unwrap();
    let garbage = tasktick(args(&[
        &"import",
        &"--database",
        &dir.path().join("new.db"),
        &dir.path().join("other.json"),
    ]))
    .await;
    assert!(!garbage.status.success());
}
