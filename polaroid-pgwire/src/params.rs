//! The values of a bound portal as one row of typed columns, the form
//! `polaroid_core::sql_parameters` writes into a query as literals — the
//! same binding Flight SQL's prepared statements and the native door use.
//!
//! Each value is read as the type the client declared (psycopg declares
//! `int8`, `float8`, `timestamptz`, ... and leaves text `unknown`), in
//! text or binary as it was sent. A value of unknown type is text, which
//! QuestDB's SQL compares with timestamps as it compares a literal.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use pgwire::api::portal::Portal;
use pgwire::api::Type;
use pgwire::error::PgWireResult;
use polars::prelude::*;
use rust_decimal::Decimal;

use crate::error::user;

/// A statement as the door keeps it: its text, the parameter types the
/// client declared, and the types Describe answers (the client's, else
/// what the query's casts or context say, else text). Each execution plans
/// the text anew, so a prepared statement reads a table as it is when
/// executed.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sql: String,
    /// As the Parse message gave them; `unknown` where it left one out.
    pub declared: Vec<Type>,
    pub parameter_types: Vec<Type>,
}

impl Statement {
    pub fn new(sql: &str, declared: &[Option<Type>]) -> Result<Self, polaroid_core::CoreError> {
        let count = polaroid_core::sql_parameters::Parameters::of(sql)?.count().max(declared.len());
        let declared: Vec<Type> =
            (0..count).map(|i| declared.get(i).cloned().flatten().unwrap_or(Type::UNKNOWN)).collect();
        let mut parameter_types = declared.clone();
        for (index, ty) in typed_by_casts(sql) {
            if index < count && parameter_types[index] == Type::UNKNOWN {
                parameter_types[index] = ty;
            }
        }
        Ok(Self { sql: sql.to_string(), declared, parameter_types })
    }

    /// What Describe answers for the parameters: text where nothing typed one.
    pub fn described_types(&self) -> Vec<Type> {
        self.parameter_types.iter().map(|t| if *t == Type::UNKNOWN { Type::TEXT } else { t.clone() }).collect()
    }
}

/// The type parameter `index` (0-based) is read as. A value the client
/// sent as text without declaring its type (psycopg's `str`, and every
/// value node-postgres and postgres.js send) is an untyped literal, which
/// PostgreSQL types by its context: where the query gives the parameter a
/// number or a boolean (`qty > $1`, `$1::int`), the value is read as one;
/// otherwise as text, which the query reads as it reads a literal
/// (`ts >= '2024-01-01'`, an offset kept). One sent in binary is read by
/// the described type.
pub fn read_as(portal: &Portal<Statement>, index: usize) -> Type {
    let statement = &portal.statement.statement;
    let undeclared = statement.declared.get(index).is_none_or(|t| *t == Type::UNKNOWN);
    let described = statement.parameter_types.get(index).cloned().unwrap_or(Type::UNKNOWN);
    if undeclared && !portal.parameter_format.is_binary(index) {
        let number = matches!(described, Type::INT2 | Type::INT4 | Type::INT8 | Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC | Type::BOOL);
        return if number { described } else { Type::UNKNOWN };
    }
    described
}

/// The polars type a parameter of `ty` is bound as (a decimal's scale is
/// its value's; text for the types read as text).
fn bound_dtype(ty: &Type) -> DataType {
    match *ty {
        Type::BOOL => DataType::Boolean,
        Type::INT2 | Type::INT4 | Type::INT8 => DataType::Int64,
        Type::FLOAT4 => DataType::Float32,
        Type::FLOAT8 => DataType::Float64,
        Type::NUMERIC => DataType::Decimal(38, 0),
        Type::DATE => DataType::Date,
        Type::TIMESTAMP => DataType::Datetime(TimeUnit::Microseconds, None),
        Type::TIMESTAMPTZ => DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
        Type::TIME => DataType::Time,
        Type::INTERVAL => DataType::Duration(TimeUnit::Microseconds),
        _ => DataType::String,
    }
}

/// A null of the type a parameter of `ty` is bound as (what Describe plans
/// a statement with before any value is bound).
pub fn null_of(index: usize, ty: &Type) -> Column {
    Column::full_null(PlSmallStr::from(format!("{}", index + 1)), 1, &bound_dtype(ty))
}

/// The portal's values as one row, a column per parameter (`$1` is the
/// first column).
pub fn values(portal: &Portal<Statement>) -> PgWireResult<DataFrame> {
    let columns = (0..portal.parameter_len()).map(|i| column(portal, i)).collect::<PgWireResult<Vec<_>>>()?;
    DataFrame::new(1, columns).map_err(|e| user("22023", format!("binding the parameters: {e}")))
}

/// Parameter `index` as a column; a text value its type cannot read is
/// PostgreSQL's error for it, naming the value and the parameter.
fn column(portal: &Portal<Statement>, index: usize) -> PgWireResult<Column> {
    read_column(portal, index).map_err(|e| match e {
        pgwire::error::PgWireError::FailedToParseParameter(why) => {
            let ty = read_as(portal, index);
            match portal.parameters.get(index).cloned().flatten() {
                Some(bytes) if !portal.parameter_format.is_binary(index) => user(
                    "22P02",
                    format!("invalid input syntax for type {}: \"{}\" (parameter ${})", sql_name(&ty), String::from_utf8_lossy(&bytes), index + 1),
                ),
                _ => user("22P02", format!("parameter ${} is no {} value: {why}", index + 1, sql_name(&ty))),
            }
        },
        other => other,
    })
}

/// A type as PostgreSQL's messages name it (`bigint`, not `int8`).
fn sql_name(ty: &Type) -> &str {
    match *ty {
        Type::INT2 => "smallint",
        Type::INT4 => "integer",
        Type::INT8 => "bigint",
        Type::FLOAT4 => "real",
        Type::FLOAT8 => "double precision",
        Type::BOOL => "boolean",
        Type::TIMESTAMP => "timestamp",
        Type::TIMESTAMPTZ => "timestamp with time zone",
        _ => ty.name(),
    }
}

fn read_column(portal: &Portal<Statement>, index: usize) -> PgWireResult<Column> {
    let ty = read_as(portal, index);
    let name = PlSmallStr::from(format!("{}", index + 1));
    let typed = |values: Column| values.cast(&bound_dtype(&ty)).map_err(|e| user("22023", e.to_string()));
    Ok(match ty {
        Type::BOOL => Column::new(name, [portal.parameter::<bool>(index, &ty)?]),
        Type::INT2 => Column::new(name, [portal.parameter::<i16>(index, &ty)?.map(i64::from)]),
        Type::INT4 => Column::new(name, [portal.parameter::<i32>(index, &ty)?.map(i64::from)]),
        Type::INT8 => Column::new(name, [portal.parameter::<i64>(index, &ty)?]),
        Type::FLOAT4 => Column::new(name, [portal.parameter::<f32>(index, &ty)?]),
        Type::FLOAT8 => Column::new(name, [portal.parameter::<f64>(index, &ty)?]),
        Type::NUMERIC => {
            let value = portal.parameter::<Decimal>(index, &ty)?;
            let scale = value.map_or(0, |d| d.scale() as usize);
            let mantissa = Int128Chunked::from_slice_options(name, &[value.map(|d| d.mantissa())]);
            mantissa.into_decimal(38, scale).map_err(|e| user("22003", e.to_string()))?.into_series().into_column()
        },
        Type::DATE => {
            let days = portal.parameter::<NaiveDate>(index, &ty)?.map(|d| (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32);
            typed(Column::new(name, [days]))?
        },
        Type::TIMESTAMP => {
            let micros = portal.parameter::<NaiveDateTime>(index, &ty)?.map(|t| t.and_utc().timestamp_micros());
            typed(Column::new(name, [micros]))?
        },
        Type::TIMESTAMPTZ => {
            let micros = portal.parameter::<DateTime<FixedOffset>>(index, &ty)?.map(|t| t.with_timezone(&Utc).timestamp_micros());
            typed(Column::new(name, [micros]))?
        },
        Type::TIME => {
            let nanos = portal.parameter::<NaiveTime>(index, &ty)?.map(|t| {
                use chrono::Timelike;
                t.num_seconds_from_midnight() as i64 * 1_000_000_000 + t.nanosecond() as i64
            });
            typed(Column::new(name, [nanos]))?
        },
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::JSON => {
            Column::new(name, [text(portal, index)?])
        },
        // A UUID is its text (in text format; its 16 bytes are refused below).
        Type::UUID if !portal.parameter_format.is_binary(index) => Column::new(name, [text(portal, index)?]),
        Type::INTERVAL => {
            let interval = portal.parameter::<pg_interval::Interval>(index, &ty)?;
            let micros = interval
                .map(|i| {
                    // A month is no fixed length of time: refused rather than guessed.
                    if i.months != 0 {
                        return Err(user("22015", format!("parameter ${}: an interval of months has no fixed length", index + 1)));
                    }
                    Ok(i.days as i64 * 86_400_000_000 + i.microseconds)
                })
                .transpose()?;
            typed(Column::new(name, [micros]))?
        },
        other => {
            return Err(user(
                "0A000",
                format!("parameter ${} is of type {}, which this server does not bind: send it as text", index + 1, other.name()),
            ))
        },
    })
}

/// A value's bytes as text (text is what an `unknown` value is, in either
/// format).
fn text(portal: &Portal<Statement>, index: usize) -> PgWireResult<Option<String>> {
    match portal.parameters.get(index).cloned().flatten() {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| user("22021", format!("parameter ${} is not UTF-8 text", index + 1))),
    }
}

/// The types the query itself gives its placeholders: `$1::bigint`,
/// `CAST($2 AS TIMESTAMP)`. A driver that asks the server for the
/// parameters' types before binding (asyncpg, JDBC) sends values of these
/// types; PostgreSQL would infer the rest from their context, this server
/// calls them text. A query that does not parse has none.
pub fn typed_by_casts(sql: &str) -> Vec<(usize, Type)> {
    use sqlparser::ast::{visit_expressions, Expr, Value};
    use std::ops::ControlFlow;
    let Ok(statements) = sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::GenericDialect {}, sql) else {
        return Vec::new();
    };
    let mut typed = Vec::new();
    let _ = visit_expressions(&statements, |expr| {
        if let Expr::Cast { expr, data_type, .. } = expr {
            if let Expr::Value(value) = expr.as_ref() {
                if let Value::Placeholder(text) = &value.value {
                    let number = text.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()).filter(|n| *n >= 1);
                    if let (Some(n), Some(ty)) = (number, type_named(&data_type.to_string())) {
                        typed.push((n - 1, ty));
                    }
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
    typed
}

/// PostgreSQL's type for a SQL type name (PostgreSQL's, DuckDB's or QuestDB's).
fn type_named(name: &str) -> Option<Type> {
    let name = name.to_ascii_uppercase();
    let base = name.split('(').next().unwrap_or("").trim();
    Some(match base {
        "SMALLINT" | "INT2" | "SHORT" => Type::INT2,
        "INT" | "INTEGER" | "INT4" => Type::INT4,
        "BIGINT" | "INT8" | "LONG" | "INT64" => Type::INT8,
        "REAL" | "FLOAT4" => Type::FLOAT4,
        "FLOAT" | "DOUBLE" | "DOUBLE PRECISION" | "FLOAT8" | "FLOAT64" => Type::FLOAT8,
        "BOOL" | "BOOLEAN" => Type::BOOL,
        "TEXT" | "VARCHAR" | "STRING" | "CHAR" | "CHARACTER VARYING" | "SYMBOL" => Type::TEXT,
        "DATE" => Type::DATE,
        "TIME" => Type::TIME,
        "NUMERIC" | "DECIMAL" => Type::NUMERIC,
        "TIMESTAMPTZ" => Type::TIMESTAMPTZ,
        "INTERVAL" => Type::INTERVAL,
        _ if base.starts_with("TIMESTAMP") && name.contains("WITH TIME ZONE") => Type::TIMESTAMPTZ,
        _ if base.starts_with("TIMESTAMP") => Type::TIMESTAMP,
        _ => return None,
    })
}
