//! Statements about the session rather than the data, which drivers and
//! tools send on their own: transactions (psycopg opens one before the
//! first statement unless in autocommit), `SET`, `SHOW`, and the session's
//! information functions alone in a SELECT (`version()`, `current_schema()`,
//! `current_setting('x')`, ...: SQLAlchemy's first statements).
//!
//! There are no transactions: every change is durable when its statement
//! answers, as on QuestDB's own PostgreSQL port, so `BEGIN`/`COMMIT` only
//! mark the session's state and `ROLLBACK` undoes nothing (README).

use pgwire::api::portal::Format;
use pgwire::api::results::{FieldInfo, Tag};
use pgwire::error::PgWireResult;

use crate::error::user;

/// What the server version reads as: PostgreSQL 15's protocol and types.
pub const SERVER_VERSION: &str = polaroid_questdb::POSTGRESQL_VERSION;

/// What `version()` answers.
fn version() -> String {
    format!("PostgreSQL {SERVER_VERSION} (Polaroid {}: QuestDB's SQL over Polars)", env!("CARGO_PKG_VERSION"))
}

pub enum Session {
    Begin,
    Commit,
    Rollback,
    /// `SET [SESSION | LOCAL] name { = | TO } value`; `RESET name` and
    /// `RESET ALL` set the default (`None`).
    Set { name: String, value: Option<String> },
    /// A statement answered with its tag and nothing else (`SET`, `RESET`, ...).
    Done(&'static str),
    /// One row of one text column: `SHOW x` (`shown`), `SELECT version()`.
    Value { column: String, value: Answer, shown: bool },
}

/// A session value: the server's, or one the connection holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Text(String),
    /// The user the connection started as.
    User,
    /// The database the connection started in.
    Database,
    /// The connection's `statement_timeout`.
    StatementTimeout,
}

impl Session {
    /// The session statement `sql` is, if it is one.
    pub fn of(sql: &str) -> PgWireResult<Option<Self>> {
        let trimmed = sql.trim().trim_end_matches(';').trim();
        let mut words = trimmed.split_whitespace();
        let first = words.next().unwrap_or("").to_ascii_uppercase();
        Ok(Some(match first.as_str() {
            "BEGIN" | "START" => Session::Begin,
            "COMMIT" | "END" => Session::Commit,
            // Savepoints: nothing to keep or undo, and the transaction
            // stays open after ROLLBACK TO one.
            "ROLLBACK" if trimmed.to_ascii_uppercase().split_whitespace().nth(1) == Some("TO") => Session::Done("ROLLBACK"),
            "ROLLBACK" | "ABORT" => Session::Rollback,
            "SAVEPOINT" => Session::Done("SAVEPOINT"),
            "RELEASE" => Session::Done("RELEASE"),
            "SET" => set(words.collect::<Vec<_>>().join(" ").as_str()),
            "RESET" => Session::Set { name: words.collect::<Vec<_>>().join(" ").to_ascii_lowercase(), value: None },
            "DISCARD" => Session::Done("DISCARD ALL"),
            "DEALLOCATE" => Session::Done("DEALLOCATE"),
            "SHOW" => {
                let name = words.collect::<Vec<_>>().join(" ");
                // QuestDB's SHOW TABLES and SHOW COLUMNS FROM t are queries
                // of its own, as on QuestDB's port.
                let upper = name.to_ascii_uppercase();
                if upper.trim_end_matches(';').trim() == "TABLES" || upper.starts_with("COLUMNS ") {
                    return Ok(None);
                }
                let value = setting(&name).ok_or_else(|| user("42704", format!("unrecognized configuration parameter \"{name}\"")))?;
                let column = name.to_ascii_lowercase();
                let value = if column == "statement_timeout" { Answer::StatementTimeout } else { Answer::Text(value.to_string()) };
                Session::Value { column, value, shown: true }
            },
            "SELECT" => match information(trimmed)? {
                Some((column, value)) => Session::Value { column, value, shown: false },
                None => return Ok(None),
            },
            _ => return Ok(None),
        }))
    }

    /// What a Describe of this statement answers: its columns, if any.
    pub fn fields(&self, format: &Format) -> Vec<FieldInfo> {
        match self {
            Session::Value { column, .. } => {
                vec![FieldInfo::new(column.clone(), None, None, pgwire::api::Type::TEXT, format.format_for(0))]
            },
            _ => Vec::new(),
        }
    }

    pub fn tag(&self) -> Tag {
        match self {
            Session::Begin => Tag::new("BEGIN"),
            Session::Commit => Tag::new("COMMIT"),
            Session::Rollback => Tag::new("ROLLBACK"),
            Session::Set { value: Some(_), .. } => Tag::new("SET"),
            Session::Set { value: None, .. } => Tag::new("RESET"),
            Session::Done(tag) => Tag::new(tag),
            Session::Value { shown: true, .. } => Tag::new("SHOW"),
            Session::Value { shown: false, .. } => Tag::new("SELECT").with_rows(1),
        }
    }
}

/// `name = value` or `name TO value` after SET (and SESSION or LOCAL):
/// the name in lower case, the value unquoted. `SET TIME ZONE 'UTC'` and
/// other forms without `=`/`TO` keep their whole text as the value.
fn set(rest: &str) -> Session {
    let rest = rest.trim();
    let upper = rest.to_ascii_uppercase();
    let rest = ["SESSION ", "LOCAL "].iter().find(|w| upper.starts_with(*w)).map_or(rest, |w| rest[w.len()..].trim());
    let (name, value) = match rest.split_once('=') {
        Some((name, value)) => (name.trim(), value.trim()),
        None => match rest.to_ascii_uppercase().find(" TO ") {
            Some(at) => (rest[..at].trim(), rest[at + 4..].trim()),
            None => (rest, ""),
        },
    };
    let value = value.trim_matches('\'').to_string();
    let value = (!value.eq_ignore_ascii_case("default")).then_some(value);
    Session::Set { name: name.to_ascii_lowercase(), value }
}

/// PostgreSQL's `statement_timeout`: milliseconds, or a number with a unit
/// (`ms`, `s`, `min`, `h`, `d`); 0 is none.
pub fn statement_timeout(value: &str) -> PgWireResult<Option<std::time::Duration>> {
    let value = value.trim();
    let digits = value.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(value.len());
    let (number, unit) = value.split_at(digits);
    let number: f64 = number
        .parse()
        .map_err(|_| user("22023", format!("invalid value for parameter \"statement_timeout\": \"{value}\"")))?;
    let ms = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "ms" => number,
        "s" => number * 1e3,
        "min" => number * 60e3,
        "h" => number * 3600e3,
        "d" => number * 86_400e3,
        _ => return Err(user("22023", format!("invalid value for parameter \"statement_timeout\": \"{value}\""))),
    };
    Ok((ms > 0.0).then(|| std::time::Duration::from_micros((ms * 1e3) as u64)))
}

/// `SELECT f()` for one of PostgreSQL's session information functions:
/// the column it is named by, and its value. An alias is taken as the
/// column's name.
fn information(sql: &str) -> PgWireResult<Option<(String, Answer)>> {
    static CALL: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let call = CALL.get_or_init(|| {
        regex::Regex::new(
            r#"(?is)^select\s+(?:pg_catalog\s*\.\s*)?([a-z_]+)\s*(?:\(\s*(?:'([^']*)'(?:\s*,\s*(?:true|false))?)?\s*\))?(?:\s+(?:as\s+)?"?([a-z_][a-z0-9_]*)"?)?$"#,
        )
        .expect("a valid regex")
    });
    let Some(caps) = call.captures(sql) else { return Ok(None) };
    let function = caps[1].to_ascii_lowercase();
    let called = sql.contains('(');
    let value = match (function.as_str(), called) {
        ("version", true) => Answer::Text(version()),
        ("current_schema", _) => Answer::Text("public".into()),
        ("current_database", true) | ("current_catalog", false) => Answer::Database,
        ("current_user" | "session_user" | "user", false) => Answer::User,
        ("current_setting", true) => {
            let name = caps.get(2).map_or("", |m| m.as_str());
            match setting(name) {
                Some(_) if name.eq_ignore_ascii_case("statement_timeout") => Answer::StatementTimeout,
                Some(value) => Answer::Text(value.to_string()),
                None => return Err(user("42704", format!("unrecognized configuration parameter \"{name}\""))),
            }
        },
        _ => return Ok(None),
    };
    let column = caps.get(3).map_or(function, |alias| alias.as_str().to_ascii_lowercase());
    Ok(Some((column, value)))
}

/// PostgreSQL's session information functions inside any query, as the
/// values they have for this connection, so that they can be read with
/// the rest of it (Grafana asks `current_setting('server_version_num')::int
/// / 100` for the version it shows):
/// - `current_setting('name')` (with `missing_ok` or not) is the setting's
///   value, as SHOW has it; an unknown setting is left, for the planner to
///   refuse;
/// - `current_user`, `session_user` and `current_role` are who connected;
///   so is a bare `user` in a query of the catalog (PostgreSQL reserves the
///   word; elsewhere it may name a QuestDB column);
/// - `current_database()` and `current_catalog` are the database;
///   `current_schema` is `public`; `version()` is SELECT version()'s.
pub fn inline<'a>(sql: &'a str, connected: &str, database: &str, catalog: bool) -> std::borrow::Cow<'a, str> {
    static FUNCTIONS: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let functions = FUNCTIONS.get_or_init(|| {
        regex::Regex::new(
            r#"(?i)\b(?:pg_catalog\s*\.\s*)?(?:current_setting\s*\(\s*'([\w.]+)'\s*(?:::\s*\w+\s*)?(?:,\s*(?:true|false)\s*)?\)|(current_database|current_schema|version)\s*\(\s*\)|(current_user|session_user|current_role|current_catalog|current_schema|user)\b(\s*\()?)"#,
        )
        .expect("a valid regex")
    });
    let quoted = |text: &str| format!("'{}'", text.replace('\'', "''"));
    // Where a quoted text or name starts and ends: a word inside one is
    // the text's own (`"user"` is a column).
    let mut in_quotes = vec![false; sql.len()];
    let mut quote = None;
    for (at, c) in sql.char_indices() {
        in_quotes[at] = quote.is_some() || c == '\'' || c == '"';
        quote = match quote {
            Some(q) if q == c => None,
            None if c == '\'' || c == '"' => Some(c),
            same => same,
        };
    }
    functions.replace_all(sql, |caps: &regex::Captures| {
        let whole = caps[0].to_string();
        if caps.get(0).is_some_and(|m| in_quotes[m.start()]) {
            return whole;
        }
        if let Some(name) = caps.get(1) {
            return setting(name.as_str()).map_or(whole, quoted);
        }
        if let Some(function) = caps.get(2) {
            return match function.as_str().to_ascii_lowercase().as_str() {
                "current_database" => quoted(database),
                "current_schema" => quoted("public"),
                _ => quoted(&version()),
            };
        }
        let word = caps.get(3).map_or("", |m| m.as_str());
        // A call of a function of that name is not the keyword, and a
        // qualified column (`t.user`) is a column.
        let qualified = sql[..caps.get(0).map_or(0, |m| m.start())].trim_end().ends_with('.');
        if caps.get(4).is_some() || qualified {
            return whole;
        }
        match word.to_ascii_lowercase().as_str() {
            "current_catalog" => quoted(database),
            "current_schema" => quoted("public"),
            "user" if !catalog => whole,
            _ => quoted(connected),
        }
    })
}

/// The settings `SHOW` answers and `pg_settings` lists, as this server
/// has them (`time zone` and `transaction isolation level` are SHOW's
/// spellings of `timezone` and `transaction_isolation`).
pub(crate) const SETTINGS: [(&str, &str); 18] = [
    ("server_version", SERVER_VERSION),
    ("server_version_num", "150000"),
    ("server_encoding", "UTF8"),
    ("client_encoding", "UTF8"),
    ("datestyle", "ISO, MDY"),
    ("timezone", "UTC"),
    ("intervalstyle", "postgres"),
    ("standard_conforming_strings", "on"),
    ("integer_datetimes", "on"),
    ("transaction_isolation", "read committed"),
    ("default_transaction_isolation", "read committed"),
    ("transaction_read_only", "off"),
    ("default_transaction_read_only", "off"),
    ("search_path", "public"),
    ("max_identifier_length", "63"),
    ("max_index_keys", "32"),
    ("default_table_access_method", "heap"),
    // The session's own value replaces it (`Door::run`).
    ("statement_timeout", "0"),
];

/// A setting's value, by any of its names.
pub(crate) fn setting(name: &str) -> Option<&'static str> {
    let name = match name.to_ascii_lowercase().as_str() {
        "time zone" => "timezone".to_string(),
        "transaction isolation level" => "transaction_isolation".to_string(),
        other => other.to_string(),
    };
    SETTINGS.iter().find(|(known, _)| *known == name).map(|(_, value)| *value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_statements_are_told_from_queries() {
        assert!(matches!(Session::of("begin").unwrap(), Some(Session::Begin)));
        assert!(matches!(Session::of("START TRANSACTION ISOLATION LEVEL READ COMMITTED").unwrap(), Some(Session::Begin)));
        assert!(matches!(Session::of("ROLLBACK;").unwrap(), Some(Session::Rollback)));
        assert!(matches!(Session::of("rollback to savepoint \"_pg3_1\"").unwrap(), Some(Session::Done("ROLLBACK"))));
        assert!(matches!(Session::of("RELEASE \"_pg3_1\"").unwrap(), Some(Session::Done("RELEASE"))));
        let Some(Session::Set { name, value }) = Session::of("SET datestyle TO 'ISO'").unwrap() else { panic!() };
        assert_eq!((name.as_str(), value.as_deref()), ("datestyle", Some("ISO")));
        let Some(Session::Set { name, value }) = Session::of("set session statement_timeout = '5s'").unwrap() else { panic!() };
        assert_eq!((name.as_str(), value.as_deref()), ("statement_timeout", Some("5s")));
        assert!(matches!(Session::of("RESET ALL").unwrap(), Some(Session::Set { value: None, .. })));
        assert!(matches!(Session::of("SET statement_timeout TO DEFAULT").unwrap(), Some(Session::Set { value: None, .. })));
        assert!(matches!(Session::of(" select  version ( ) ").unwrap(), Some(Session::Value { .. })));
        let Some(Session::Value { column, value, shown: true }) = Session::of("SHOW TimeZone").unwrap() else { panic!() };
        assert_eq!((column.as_str(), value), ("timezone", Answer::Text("UTC".into())));
        assert!(Session::of("SHOW work_mem").is_err());
        assert!(Session::of("show tables").unwrap().is_none() && Session::of("SHOW COLUMNS FROM t").unwrap().is_none());
        assert!(Session::of("SELECT version FROM t").unwrap().is_none());
        let value = |sql: &str| match Session::of(sql).unwrap() {
            Some(Session::Value { column, value, shown: false }) => (column, value),
            _ => panic!("{sql}"),
        };
        assert_eq!(value("select current_schema()"), ("current_schema".into(), Answer::Text("public".into())));
        assert_eq!(value("SELECT pg_catalog.current_setting('server_version_num') AS v"), ("v".into(), Answer::Text("150000".into())));
        assert_eq!(value("SELECT current_user"), ("current_user".into(), Answer::User));
        assert_eq!(value("SELECT current_database() db"), ("db".into(), Answer::Database));
        assert!(Session::of("SELECT current_setting('no_such')").is_err());
        assert!(Session::of("SELECT current_user FROM t").unwrap().is_none());
        assert!(Session::of("SELECT now()").unwrap().is_none());
        assert!(Session::of("SELECT * FROM trades").unwrap().is_none());
    }

    #[test]
    fn session_functions_inside_a_query_are_their_values() {
        let inline = |sql: &str, catalog: bool| inline(sql, "ann", "qdb", catalog).into_owned();
        assert_eq!(
            inline("SELECT current_setting('server_version_num')::int/100 as version", false),
            "SELECT '150000'::int/100 as version"
        );
        assert_eq!(
            inline("SELECT pg_catalog.current_setting('search_path', true), current_setting('no_such') FROM t", false),
            "SELECT 'public', current_setting('no_such') FROM t"
        );
        assert_eq!(
            inline("SELECT current_user, session_user, current_database(), current_schema ( ), current_catalog, current_schema", false),
            "SELECT 'ann', 'ann', 'qdb', 'public', 'qdb', 'public'"
        );
        // `user` is the keyword only in a catalog query, and never quoted,
        // qualified or called.
        assert_eq!(inline("SELECT user, \"user\", t.user, 'user' FROM t", false), "SELECT user, \"user\", t.user, 'user' FROM t");
        assert_eq!(inline("SELECT user, \"user\", t.user, 'it''s user' FROM t", true), "SELECT 'ann', \"user\", t.user, 'it''s user' FROM t");
        assert_eq!(inline("SELECT 'current_user', user(x)", true), "SELECT 'current_user', user(x)");
        assert!(inline("SELECT version()", false).starts_with("SELECT 'PostgreSQL 15.0 (Polaroid"));
    }

    #[test]
    fn statement_timeouts_read_as_postgres_reads_them() {
        let ms = |v: &str| statement_timeout(v).unwrap().map(|d| d.as_millis());
        assert_eq!((ms("1500"), ms("2s"), ms("1.5min"), ms("0"), ms("250ms")), (Some(1500), Some(2000), Some(90_000), None, Some(250)));
        assert!(statement_timeout("soon").is_err() && statement_timeout("5 weeks").is_err());
    }
}
