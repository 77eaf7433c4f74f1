//! QuestDB's SQL over the core, for every door QuestDB's clients come
//! through (its HTTP API, its PostgreSQL wire port):
//!
//! - `dialect.rs`: queries — SAMPLE BY, LATEST ON and ASOF/LT JOIN compiled
//!   to polars, the rest rewritten (`questdb_sql.rs`) for polars-sql.
//! - `generators.rs`: QuestDB's test-data generators (`rnd_*`,
//!   `timestamp_sequence`) as columns of `long_sequence(n)`.
//! - `newest.rs`: queries whose answer lies in a table's newest rows (the
//!   newest n, `max(ts)`, each symbol's latest), read from its newest
//!   parts only.
//! - `pivot.rs`: QuestDB's PIVOT, rewritten as QuestDB compiles it.
//! - `statement.rs`: CREATE TABLE, INSERT, DROP TABLE, ALTER TABLE,
//!   TRUNCATE over the core's tables.
//! - `variables.rs`: `DECLARE @x := ...`, resolved as the query is read.
//! - `window_join.rs`: WINDOW JOIN, aggregates over a time window of
//!   another table around each row.
//!
//! A door parses its request, calls [`plan`] or [`change`], and renders
//! what comes back in its own protocol.

pub mod dialect;
mod generators;
mod horizon_join;
mod join_on;
mod newest;
mod pivot;
mod questdb_sql;
pub mod statement;
mod variables;
mod window_join;

use polaroid_core::sql_parameters::bind_one;
use polaroid_core::{CancelToken, Core, CoreError, Namespace};
use polars::prelude::DataFrame;

pub use dialect::{plan, plan_over};

/// The PostgreSQL version the doors speak (its protocol and types), as
/// the PostgreSQL door reports it and QuestDB's SHOW SERVER_VERSION shows it.
pub const POSTGRESQL_VERSION: &str = "15.0";
pub use statement::{kind, Kind};

/// What a statement that changes tables did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    /// CREATE, DROP, ALTER or TRUNCATE.
    Definition,
    /// INSERT: the rows appended.
    Inserted(u64),
}

/// Run `sql`, a statement of `kind` other than a query (a query here is
/// read as an INSERT, which refuses it by name), with `values` (one row,
/// a column per placeholder) bound to its placeholders (`$1`, `?`).
pub fn change(
    core: &Core,
    ns: &Namespace,
    sql: &str,
    kind: Kind,
    values: Option<&DataFrame>,
    cancel: &CancelToken,
) -> Result<Changed, CoreError> {
    if let Kind::Insert | Kind::Query = kind {
        return statement::insert(core, ns, sql, values, cancel).map(Changed::Inserted);
    }
    let sql = bind_one(sql, values)?;
    let definition = |done: Result<(), CoreError>| done.map(|()| Changed::Definition);
    match kind {
        Kind::Create => definition(statement::create(core, ns, &sql, cancel)),
        Kind::Drop => definition(statement::drop(core, ns, &sql)),
        Kind::Alter => definition(statement::alter(core, ns, &sql)),
        Kind::Truncate => definition(statement::truncate(core, ns, &sql)),
        Kind::Rename => definition(statement::rename(core, ns, &sql)),
        Kind::Unsupported(word) => Err(statement::unsupported(&word)),
        Kind::Insert | Kind::Query => unreachable!("INSERT returned above"),
    }
}
