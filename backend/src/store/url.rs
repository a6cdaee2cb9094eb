//! `--database`: which store to open, as a URL (`sqlite://PATH`, `postgres://...`) or a bare path.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Where the tasks live.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file, created with its folder if missing.
    Sqlite(PathBuf),
    /// A PostgreSQL database, as a libpq-style URL.
    Postgres(String),
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Self::Postgres(text.to_owned()));
        }
        let path = text
            .strip_prefix("sqlite://")
            .or_else(|| text.strip_prefix("sqlite:"))
            .unwrap_or(text);
        if path.is_empty() {
            return Err(
                "the database needs a path: sqlite://PATH, a bare PATH, or postgres://...".into(),
            );
        }
        if let Some((scheme, _)) = path.split_once("://") {
            return Err(format!(
                "unsupported database scheme {scheme:?}: use sqlite://PATH or postgres://..."
            ));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }
}

/// Shown in logs and errors: a PostgreSQL password is replaced by `***`.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `scheme://user:secret@host/db` becomes `scheme://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> DatabaseUrl {
        text.parse().unwrap()
    }

    #[test]
    fn a_bare_path_and_a_sqlite_url_name_the_same_file() {
        let expected = DatabaseUrl::Sqlite("data/tasks.db".into());
        assert_eq!(parse("data/tasks.db"), expected);
        assert_eq!(parse("sqlite://data/tasks.db"), expected);
        assert_eq!(parse("sqlite:data/tasks.db"), expected);
        assert_eq!(
            parse("sqlite:///var/lib/tasktick.db"),
            DatabaseUrl::Sqlite("/var/lib/tasktick.db".into())
        );
    }

    #[test]
    fn postgres_urls_are_kept_whole() {
        for url in ["postgres://u:p@h:5/db", "postgresql://h/db?sslmode=disable"] {
            assert_eq!(parse(url), DatabaseUrl::Postgres(url.into()));
        }
    }

    #[test]
    fn an_unknown_scheme_or_an_empty_path_is_refused_with_a_reason() {
        let mysql = "mysql://h/db".parse::<DatabaseUrl>().unwrap_err();
        assert!(mysql.contains("mysql"), "{mysql}");
        assert!("sqlite://".parse::<DatabaseUrl>().is_err());
        assert!("".parse::<DatabaseUrl>().is_err());
    }

    #[test]
    fn a_password_never_shows_when_the_url_is_printed() {
        let url = parse("postgres://tasktick:s3cret@db.internal:5432/tasks");
        let shown = format!("{url} {url:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("postgres://tasktick:***@db.internal:5432/tasks"),
            "{shown}"
        );
        assert_eq!(parse("postgres://h/db").to_string(), "postgres://h/db");
    }
}
