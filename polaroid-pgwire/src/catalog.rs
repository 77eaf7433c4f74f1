//! The part of PostgreSQL's `pg_catalog` that drivers read before they
//! query: `pg_type` (ADBC's PostgreSQL driver maps each result column's
//! type oid through it, by its receive function's name), `pg_namespace`,
//! `pg_class` and `pg_attribute` (the caller's tables and their columns).
//!
//! They are frames built for the query that names them, planned beside the
//! caller's tables, so any SQL over them works. `pg_catalog.` is dropped
//! from the query: it is PostgreSQL's schema for them, and on its search
//! path, so both spellings name the same relation.

use std::sync::OnceLock;

use pgwire::api::Type;
use polaroid_core::tables::TableDef;
use polaroid_core::{Core, CoreError, Namespace};
use polars::prelude::*;
use regex::Regex;

use crate::encode::pg_type;

/// PostgreSQL's oids of its two schemas, and the first oid it gives a
/// user's relation.
const PG_CATALOG: i64 = 11;
const PUBLIC: i64 = 2200;
const FIRST_USER_OID: i64 = 16384;

/// The catalog's relations by name.
const RELATIONS: [&str; 4] = ["pg_type", "pg_namespace", "pg_class", "pg_attribute"];

/// Plan `sql` in QuestDB's SQL, with the catalog's relations it names.
pub fn plan(core: &Core, ns: &Namespace, sql: &str) -> Result<(LazyFrame, Vec<TableDef>), CoreError> {
    let named = names(sql);
    if named.is_empty() {
        return polaroid_questdb::plan(core, ns, sql);
    }
    let sql = rewrite(sql);
    let tables = user_tables(core, ns)?;
    let frames = named.into_iter().map(|name| Ok((name.to_string(), relation(name, &tables)?.lazy()))).collect::<Result<_, CoreError>>()?;
    polaroid_questdb::plan_over(core, ns, &sql, frames)
}

/// The catalog's relations `sql` names, outside quotes.
fn names(sql: &str) -> Vec<&'static str> {
    let unquoted = unquoted(sql);
    let words: Vec<String> = unquoted.split(|c: char| !(c.is_alphanumeric() || c == '_')).map(str::to_ascii_lowercase).collect();
    RELATIONS.into_iter().filter(|r| words.iter().any(|w| w == r)).collect()
}

/// `sql` with its quoted text blanked out, for looking at its words.
fn unquoted(sql: &str) -> String {
    let mut quote = None;
    sql.chars()
        .map(|c| match quote {
            Some(q) if c == q => {
                quote = None;
                ' '
            },
            Some(_) => ' ',
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                ' '
            },
            None => c,
        })
        .collect()
}

/// `pg_catalog.x` as `x`, and a regproc column (`typreceive`, ...)
/// compared with the oid 0 as compared with `'-'`: PostgreSQL shows the
/// regproc 0 as `-`, and a name is what the frame holds.
fn rewrite(sql: &str) -> String {
    static SCHEMA: OnceLock<Regex> = OnceLock::new();
    static REGPROC_ZERO: OnceLock<Regex> = OnceLock::new();
    let schema = SCHEMA.get_or_init(|| Regex::new(r#"(?i)\b"?pg_catalog"?\s*\.\s*"#).expect("a valid regex"));
    let zero = REGPROC_ZERO.get_or_init(|| {
        Regex::new(r"(?i)\b(typreceive|typsend|typinput|typoutput)\s*(=|!=|<>)\s*0\b").expect("a valid regex")
    });
    let sql = schema.replace_all(sql, "");
    zero.replace_all(&sql, "$1 $2 '-'").into_owned()
}

/// The caller's tables, in name order, with the oid each has in `pg_class`.
fn user_tables(core: &Core, ns: &Namespace) -> Result<Vec<(i64, TableDef)>, CoreError> {
    let mut names = core.tables().names(ns)?;
    names.sort();
    let mut tables = Vec::new();
    for (i, name) in names.into_iter().enumerate() {
        if let Some(table) = core.tables().get(ns, &name)? {
            tables.push((FIRST_USER_OID + i as i64, table.def()));
        }
    }
    Ok(tables)
}

fn relation(name: &str, tables: &[(i64, TableDef)]) -> Result<DataFrame, CoreError> {
    match name {
        "pg_type" => pg_types(),
        "pg_namespace" => Ok(df!(
            "oid" => [PG_CATALOG, PUBLIC],
            "nspname" => ["pg_catalog", "public"],
        )?),
        "pg_class" => Ok(df!(
            "oid" => tables.iter().map(|(oid, _)| *oid).collect::<Vec<_>>(),
            "relname" => tables.iter().map(|(_, t)| t.name.clone()).collect::<Vec<_>>(),
            "relnamespace" => vec![PUBLIC; tables.len()],
            "relkind" => vec!["r"; tables.len()],
        )?),
        _ => pg_attributes(tables),
    }
}

/// One row per column of each table, numbered from 1 as PostgreSQL numbers them.
fn pg_attributes(tables: &[(i64, TableDef)]) -> Result<DataFrame, CoreError> {
    let (mut relid, mut names, mut types, mut numbers) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (oid, table) in tables {
        for (i, (name, dtype)) in table.schema()?.iter().enumerate() {
            relid.push(*oid);
            names.push(name.to_string());
            types.push(pg_type(name, dtype).map_or(Type::TEXT.oid(), |t| t.oid()) as i64);
            numbers.push(i as i16 + 1);
        }
    }
    let count = relid.len();
    Ok(df!(
        "attrelid" => relid,
        "attname" => names,
        "atttypid" => types,
        "attnum" => numbers,
        "atttypmod" => vec![-1i32; count],
        "attnotnull" => vec![false; count],
        "attisdropped" => vec![false; count],
    )?)
}

/// The types the door sends and binds, with their arrays, as PostgreSQL's
/// catalog has them: the oid, the name, the I/O functions' names (drivers
/// read a type by its receive function), the array type.
fn pg_types() -> Result<DataFrame, CoreError> {
    // (type, its array type, its I/O functions' stem, whether PostgreSQL
    // names them with an underscore: `date_recv` but `int4recv`).
    let types = [
        (Type::BOOL, Type::BOOL_ARRAY, "bool", false),
        (Type::BYTEA, Type::BYTEA_ARRAY, "bytea", false),
        (Type::CHAR, Type::CHAR_ARRAY, "char", false),
        (Type::NAME, Type::NAME_ARRAY, "name", false),
        (Type::INT8, Type::INT8_ARRAY, "int8", false),
        (Type::INT2, Type::INT2_ARRAY, "int2", false),
        (Type::INT4, Type::INT4_ARRAY, "int4", false),
        (Type::TEXT, Type::TEXT_ARRAY, "text", false),
        (Type::OID, Type::OID_ARRAY, "oid", false),
        (Type::JSON, Type::JSON_ARRAY, "json", true),
        (Type::FLOAT4, Type::FLOAT4_ARRAY, "float4", false),
        (Type::FLOAT8, Type::FLOAT8_ARRAY, "float8", false),
        (Type::BPCHAR, Type::BPCHAR_ARRAY, "bpchar", false),
        (Type::VARCHAR, Type::VARCHAR_ARRAY, "varchar", false),
        (Type::DATE, Type::DATE_ARRAY, "date", true),
        (Type::TIME, Type::TIME_ARRAY, "time", true),
        (Type::TIMESTAMP, Type::TIMESTAMP_ARRAY, "timestamp", true),
        (Type::TIMESTAMPTZ, Type::TIMESTAMPTZ_ARRAY, "timestamptz", true),
        (Type::INTERVAL, Type::INTERVAL_ARRAY, "interval", true),
        (Type::NUMERIC, Type::NUMERIC_ARRAY, "numeric", true),
        (Type::UUID, Type::UUID_ARRAY, "uuid", true),
        (Type::JSONB, Type::JSONB_ARRAY, "jsonb", true),
    ];
    let function = |stem: &str, underscore: bool, what: &str| if underscore { format!("{stem}_{what}") } else { format!("{stem}{what}") };
    let mut rows: Vec<(i64, String, String, String, String, String, &str, i64, i64)> = Vec::new();
    for (ty, array, stem, underscore) in types {
        let io = |what| function(stem, underscore, what);
        rows.push((ty.oid() as i64, ty.name().to_string(), io("in"), io("out"), io("recv"), io("send"), "b", 0, array.oid() as i64));
        rows.push((
            array.oid() as i64,
            array.name().to_string(),
            "array_in".into(),
            "array_out".into(),
            "array_recv".into(),
            "array_send".into(),
            "b",
            ty.oid() as i64,
            0,
        ));
    }
    let count = rows.len();
    Ok(df!(
        "oid" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        "typname" => rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
        "typnamespace" => vec![PG_CATALOG; count],
        "typtype" => rows.iter().map(|r| r.6).collect::<Vec<_>>(),
        "typinput" => rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>(),
        "typoutput" => rows.iter().map(|r| r.3.clone()).collect::<Vec<_>>(),
        "typreceive" => rows.iter().map(|r| r.4.clone()).collect::<Vec<_>>(),
        "typsend" => rows.iter().map(|r| r.5.clone()).collect::<Vec<_>>(),
        "typelem" => rows.iter().map(|r| r.7).collect::<Vec<_>>(),
        "typarray" => rows.iter().map(|r| r.8).collect::<Vec<_>>(),
        "typbasetype" => vec![0i64; count],
        "typrelid" => vec![0i64; count],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_is_named_with_or_without_its_schema_and_never_inside_text() {
        assert_eq!(names("SELECT * FROM pg_catalog.pg_type t JOIN pg_namespace n ON true"), vec!["pg_type", "pg_namespace"]);
        assert_eq!(names("SELECT 'pg_type' FROM \"pg_class\""), Vec::<&str>::new());
        assert_eq!(names("SELECT * FROM trades"), Vec::<&str>::new());
    }

    #[test]
    fn the_schema_is_dropped_and_regproc_zero_is_its_dash() {
        assert_eq!(
            rewrite("SELECT oid FROM pg_catalog.pg_type WHERE (typreceive != 0 OR typsend <> 0) AND typtype != 'r'"),
            "SELECT oid FROM pg_type WHERE (typreceive != '-' OR typsend <> '-') AND typtype != 'r'"
        );
        // Another number, or another column, is left as written.
        assert_eq!(rewrite("SELECT * FROM pg_type WHERE typreceive = 10 AND oid = 0"), "SELECT * FROM pg_type WHERE typreceive = 10 AND oid = 0");
    }

    #[test]
    fn every_type_has_postgresql_receive_function_and_its_array() {
        let types = pg_types().unwrap();
        let lookup = |name: &str| {
            let row = types.clone().lazy().filter(col("typname").eq(lit(name))).collect().unwrap();
            assert_eq!(row.height(), 1, "{name}");
            row
        };
        // Names as in PostgreSQL 15's pg_type.
        for (name, oid, receive) in [("int4", 23i64, "int4recv"), ("timestamptz", 1184, "timestamptz_recv"), ("numeric", 1700, "numeric_recv"), ("varchar", 1043, "varcharrecv")] {
            let row = lookup(name);
            assert_eq!(row.column("oid").unwrap().i64().unwrap().get(0), Some(oid));
            assert_eq!(row.column("typreceive").unwrap().str().unwrap().get(0), Some(receive));
        }
        let array = lookup("_int4");
        assert_eq!(array.column("oid").unwrap().i64().unwrap().get(0), Some(1007));
        assert_eq!(array.column("typelem").unwrap().i64().unwrap().get(0), Some(23));
        assert_eq!(lookup("int4").column("typarray").unwrap().i64().unwrap().get(0), Some(1007));
    }
}
