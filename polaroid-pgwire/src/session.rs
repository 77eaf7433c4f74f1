//! Statements about the session rather than the data, which drivers and
//! tools send on their own: transactions (psycopg opens one before the
//! first statement unless in autocommit), `SET`, `SHOW`, `version()`.
//!
//! There are no transactions: every change is durable when its statement
//! answers, as on QuestDB's own PostgreSQL port, so `BEGIN`/`COMMIT` only
//! mark the session's state and `ROLLBACK` undoes nothing (README).

use pgwire::api::portal::Format;
use pgwire::api::results::{FieldInfo, Tag};
use pgwire::error::PgWireResult;

use crate::error::user;

/// What the server version reads as: PostgreSQL 15's protocol and types.
pub const SERVER_VERSION: &str = "15.0";

pub enum Session {
    Begin,
    Commit,
    Rollback,
    /// `SET [SESSION | LOCAL] name { = | TO } value`; `RESET name` and
    /// `RESET ALL` set the default (`None`).
    Set { name: String, value: Option<String> },
    /// A statement answered with its tag and nothing else (`SET`, `RESET`, ...).
    Done(&'static str),
    /// One row of one text column: `SHOW x`, `SELECT version()`.
    Value { column: String, value: String },
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
            "ROLLBACK" | "ABORT" => Session::Rollback,
            "SET" => set(words.collect::<Vec<_>>().join(" ").as_str()),
            "RESET" => Session::Set { name: words.collect::<Vec<_>>().join(" ").to_ascii_lowercase(), value: None },
            "DISCARD" => Session::Done("DISCARD ALL"),
            "DEALLOCATE" => Session::Done("DEALLOCATE"),
            "SHOW" => {
                let name = words.collect::<Vec<_>>().join(" ");
                let value = setting(&name).ok_or_else(|| user("42704", format!("unrecognized configuration parameter \"{name}\"")))?;
                Session::Value { column: name.to_ascii_lowercase(), value: value.to_string() }
            },
            "SELECT" if is_version_call(trimmed) => Session::Value {
                column: "version".into(),
                value: format!("PostgreSQL {SERVER_VERSION} (Polaroid {}: QuestDB's SQL over Polars)", env!("CARGO_PKG_VERSION")),
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
            Session::Value { .. } => Tag::new("SHOW"),
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

fn is_version_call(sql: &str) -> bool {
    let compact: String = sql.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    compact == "selectversion()" || compact == "selectpg_catalog.version()"
}

/// The settings `SHOW` answers, as this server has them.
fn setting(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "server_version" => SERVER_VERSION,
        "server_encoding" | "client_encoding" => "UTF8",
        "datestyle" => "ISO, MDY",
        "timezone" | "time zone" => "UTC",
        "intervalstyle" => "postgres",
        "standard_conforming_strings" | "integer_datetimes" => "on",
        "transaction_isolation" | "default_transaction_isolation" | "transaction isolation level" => "read committed",
        "transaction_read_only" | "default_transaction_read_only" => "off",
        "search_path" => "public",
        "max_identifier_length" => "63",
        // The session's own value replaces it (`Door::run`).
        "statement_timeout" => "0",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_statements_are_told_from_queries() {
        assert!(matches!(Session::of("begin").unwrap(), Some(Session::Begin)));
        assert!(matches!(Session::of("START TRANSACTION ISOLATION LEVEL READ COMMITTED").unwrap(), Some(Session::Begin)));
        assert!(matches!(Session::of("ROLLBACK;").unwrap(), Some(Session::Rollback)));
        let Some(Session::Set { name, value }) = Session::of("SET datestyle TO 'ISO'").unwrap() else { panic!() };
        assert_eq!((name.as_str(), value.as_deref()), ("datestyle", Some("ISO")));
        let Some(Session::Set { name, value }) = Session::of("set session statement_timeout = '5s'").unwrap() else { panic!() };
        assert_eq!((name.as_str(), value.as_deref()), ("statement_timeout", Some("5s")));
        assert!(matches!(Session::of("RESET ALL").unwrap(), Some(Session::Set { value: None, .. })));
        assert!(matches!(Session::of("SET statement_timeout TO DEFAULT").unwrap(), Some(Session::Set { value: None, .. })));
        assert!(matches!(Session::of(" select  version ( ) ").unwrap(), Some(Session::Value { .. })));
        let Some(Session::Value { column, value }) = Session::of("SHOW TimeZone").unwrap() else { panic!() };
        assert_eq!((column.as_str(), value.as_str()), ("timezone", "UTC"));
        assert!(Session::of("SHOW work_mem").is_err());
        assert!(Session::of("SELECT version FROM t").unwrap().is_none());
        assert!(Session::of("SELECT * FROM trades").unwrap().is_none());
    }

    #[test]
    fn statement_timeouts_read_as_postgres_reads_them() {
        let ms = |v: &str| statement_timeout(v).unwrap().map(|d| d.as_millis());
        assert_eq!((ms("1500"), ms("2s"), ms("1.5min"), ms("0"), ms("250ms")), (Some(1500), Some(2000), Some(90_000), None, Some(250)));
        assert!(statement_timeout("soon").is_err() && statement_timeout("5 weeks").is_err());
    }
}
