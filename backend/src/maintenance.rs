//! The operator's commands on a store's data as a whole, run beside a running server:
//! `tasktick backup` (a consistent copy of a SQLite file; PostgreSQL has `pg_dump`),
//! `tasktick export` and `tasktick import` (everything, from any store to any new one).

use std::io::{BufReader, BufWriter, Write};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

use crate::cli::ConfigFile;
use crate::store::sqlite::SqliteStore;
use crate::store::transfer::Snapshot;
use crate::store::{self, DatabaseUrl};

/// `tasktick backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The database to back up, as for `tasktick serve`.
    #[arg(long, env = "TASKTICK_DATABASE", default_value = "data/tasks.db")]
    pub database: DatabaseUrl,
    #[command(flatten)]
    pub config: ConfigFile,
    /// Where to write the copy (a new file: an existing one is never overwritten).
    pub file: PathBuf,
}

/// `tasktick export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The database to read, as for `tasktick serve`.
    #[arg(long, env = "TASKTICK_DATABASE", default_value = "data/tasks.db")]
    pub database: DatabaseUrl,
    #[command(flatten)]
    pub config: ConfigFile,
    /// Where to write the export, as JSON (a new file: an existing one is never overwritten).
    pub file: PathBuf,
}

/// `tasktick import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The database to fill, as for `tasktick serve`; it must be new (empty).
    #[arg(long, env = "TASKTICK_DATABASE", default_value = "data/tasks.db")]
    pub database: DatabaseUrl,
    #[command(flatten)]
    pub config: ConfigFile,
    /// A file written by `tasktick export`.
    pub file: PathBuf,
}

/// Copies a SQLite database, consistently, while servers keep using it (`VACUUM INTO`: one read
/// transaction, so the copy is the database at one moment, compacted).
pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let path = match &args.database {
        DatabaseUrl::Sqlite(path) => path,
        DatabaseUrl::Postgres(_) => bail!(
            "tasktick backs up SQLite files; for PostgreSQL use its own tool, which copies a \
             running database consistently: pg_dump --format=custom --file {} '{}' (restore \
             into a new database with pg_restore)",
            args.file.display(),
            args.database
        ),
    };
    must_exist(path)?;
    refuse_existing(&args.file)?;
    let store = SqliteStore::open(path, NonZeroU32::MIN)
        .await
        .with_context(|| format!("cannot open the database {}", args.database))?;
    store
        .backup(&args.file)
        .await
        .with_context(|| format!("cannot back up to {}", args.file.display()))?;
    println!(
        "backed up {} to {} ({} bytes)",
        args.database,
        args.file.display(),
        std::fs::metadata(&args.file)?.len()
    );
    Ok(())
}

/// Writes everything in a store to a JSON file, read as one consistent snapshot.
pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    if let DatabaseUrl::Sqlite(path) = &args.database {
        must_exist(path)?;
    }
    refuse_existing(&args.file)?;
    let store = store::open(&args.database, NonZeroU32::MIN)
        .await
        .with_context(|| format!("cannot open the database {}", args.database))?;
    let snapshot = store.export().await?;
    // Written beside the target and renamed into place: a failed export leaves no half file.
    let partial = args.file.with_extension("partial");
    let mut out = BufWriter::new(
        std::fs::File::create(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?,
    );
    serde_json::to_writer(&mut out, &snapshot)?;
    out.write_all(b"\n")?;
    out.into_inner()
        .map_err(|error| error.into_error())?
        .sync_all()?;
    std::fs::rename(&partial, &args.file)?;
    println!(
        "exported {} to {}: {}",
        args.database,
        args.file.display(),
        summary(&snapshot)
    );
    Ok(())
}

/// Fills a new store from an export, in one transaction (all or nothing).
pub async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let snapshot: Snapshot = serde_json::from_reader(BufReader::new(file))
        .with_context(|| format!("{} is not a tasktick export", args.file.display()))?;
    let store = store::open(&args.database, NonZeroU32::MIN)
        .await
        .with_context(|| format!("cannot open the database {}", args.database))?;
    store
        .import(&snapshot)
        .await
        .with_context(|| format!("nothing was imported into {}", args.database))?;
    println!(
        "imported {} into {}: {}",
        args.file.display(),
        args.database,
        summary(&snapshot)
    );
    Ok(())
}

fn summary(snapshot: &Snapshot) -> String {
    format!(
        "{} accounts, {} boards, {} members, {} tasks",
        snapshot.users.len(),
        snapshot.boards.len(),
        snapshot.members.len(),
        snapshot.tasks.len()
    )
}

/// Opening a missing SQLite file would create an empty database: say so instead.
fn must_exist(path: &Path) -> anyhow::Result<()> {
    if !path.is_file() {
        bail!("there is no database at {}", path.display());
    }
    Ok(())
}

fn refuse_existing(file: &Path) -> anyhow::Result<()> {
    if file.exists() {
        bail!("{} exists already; name a new file", file.display());
    }
    Ok(())
}
