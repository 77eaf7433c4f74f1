//! Bound parameters of a SQL query (`?`, `?2`, `$1`, `$name`), as Flight
//! SQL's prepared statements and DB-API clients send them: the values of a
//! row of an Arrow batch, written into the query as SQL literals.
//!
//! polars-sql has no placeholders, so a bound query is the query with
//! each placeholder replaced by its value's literal, exactly as if the
//! user had typed it: `px > ?` with 2.5 plans as `px > 2.5`, so polars
//! sees a literal (typed as its column, pushed into scans) rather than an
//! opaque value. Only the placeholder tokens change; the rest of the text
//! is kept byte for byte.

use polars::prelude::*;
use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::{Location, Token, Tokenizer};

use crate::error::CoreError;

/// How a query names its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Reference {
    /// `?`: the next column, in order of appearance.
    Next,
    /// `?N` or `$N`: column N, from 1.
    Numbered(usize),
    /// `$name`: the column of that name.
    Named(String),
}

/// A placeholder and where it sits in the query (byte offsets).
#[derive(Debug)]
struct Placeholder {
    start: usize,
    end: usize,
    reference: Reference,
}

/// The parameters a query takes: how many columns a bound batch needs (or
/// which names), and where each value goes.
#[derive(Debug)]
pub struct Parameters {
    query: String,
    placeholders: Vec<Placeholder>,
}

impl Parameters {
    /// The placeholders of `query`, read with the tokenizer polars-sql
    /// uses (so one inside a string or a comment is text, not a parameter).
    /// Text that does not tokenize has none: polars-sql explains it.
    pub fn of(query: &str) -> Result<Self, CoreError> {
        let Ok(tokens) = Tokenizer::new(&GenericDialect, query).tokenize_with_location() else {
            return Ok(Self { query: query.to_string(), placeholders: Vec::new() });
        };
        let offsets = LineOffsets::new(query);
        let mut placeholders = Vec::new();
        for token in tokens {
            let Token::Placeholder(text) = &token.token else { continue };
            let reference = reference(text)?;
            let start = offsets.byte(query, token.span.start);
            placeholders.push(Placeholder { start, end: start + text.len(), reference });
        }
        let kinds = |p: &Placeholder| match p.reference {
            Reference::Next => 0,
            Reference::Numbered(_) => 1,
            Reference::Named(_) => 2,
        };
        if placeholders.windows(2).any(|w| kinds(&w[0]) != kinds(&w[1])) {
            return Err(CoreError::InvalidArgument(
                "the query mixes kinds of parameters: use only `?`, only numbered ones (`$1`, `?1`) or only named ones (`$name`)".into(),
            ));
        }
        Ok(Self { query: query.to_string(), placeholders })
    }

    /// Whether the query has any placeholder.
    pub fn is_empty(&self) -> bool {
        self.placeholders.is_empty()
    }

    /// How many values one execution takes.
    pub fn count(&self) -> usize {
        match self.placeholders.first().map(|p| &p.reference) {
            None => 0,
            Some(Reference::Next) => self.placeholders.len(),
            Some(Reference::Numbered(_)) => {
                self.placeholders.iter().filter_map(|p| if let Reference::Numbered(n) = p.reference { Some(n) } else { None }).max().unwrap_or(0)
            },
            Some(Reference::Named(_)) => self.names().len(),
        }
    }

    /// The query once per row of `values`, each placeholder replaced by
    /// that row's value as a SQL literal.
    pub fn bind(&self, values: &DataFrame) -> Result<Vec<String>, CoreError> {
        if self.placeholders.is_empty() {
            return Err(CoreError::InvalidArgument(format!(
                "parameters were bound ({} column(s)) but the query has no placeholder (`?`, `$1`)",
                values.width()
            )));
        }
        if values.height() == 0 {
            return Err(CoreError::InvalidArgument("the bound parameters have no rows: bind one row per execution".into()));
        }
        let columns = self.columns_of(values)?;
        let mut rendered: Vec<Vec<String>> = Vec::with_capacity(columns.len());
        for column in &columns {
            rendered.push(literals(column)?);
        }
        let mut queries = Vec::with_capacity(values.height());
        for row in 0..values.height() {
            let mut query = String::with_capacity(self.query.len() + 16 * columns.len());
            let mut at = 0;
            for (placeholder, column) in self.placeholders.iter().zip(self.slots()) {
                query.push_str(&self.query[at..placeholder.start]);
                query.push_str(&rendered[column][row]);
                at = placeholder.end;
            }
            query.push_str(&self.query[at..]);
            queries.push(query);
        }
        Ok(queries)
    }

    /// The bound column each placeholder reads, in the order the
    /// placeholders appear (what `VALUES (?, ?)` stores, row for row).
    pub fn columns(&self, values: &DataFrame) -> Result<Vec<Column>, CoreError> {
        if self.placeholders.is_empty() {
            return Err(CoreError::InvalidArgument("the statement has no placeholder (`?`, `$1`) to bind".into()));
        }
        let columns = self.columns_of(values)?;
        Ok(self.slots().into_iter().map(|slot| columns[slot].clone()).collect())
    }

    /// The query's placeholders' text, in order (`?`, `$2`, ...).
    pub fn placeholder_texts(&self) -> Vec<&str> {
        self.placeholders.iter().map(|p| &self.query[p.start..p.end]).collect()
    }

    /// The query with no parameters bound: refused if it needs some.
    pub fn unbound(&self) -> Result<&str, CoreError> {
        match self.placeholders.first() {
            None => Ok(&self.query),
            Some(_) => Err(CoreError::InvalidArgument(format!(
                "the query takes {} parameter(s) ({}) and none was bound (bind them with the query: the clients' \
                 params, or DB-API's cursor.execute(query, parameters) over Flight SQL)",
                self.count(),
                self.placeholder_texts().join(", ")
            ))),
        }
    }

    /// The columns of `values` the placeholders read, in the order
    /// [`Self::slots`] indexes them.
    fn columns_of<'a>(&self, values: &'a DataFrame) -> Result<Vec<&'a Column>, CoreError> {
        let wanted = self.count();
        match &self.placeholders[0].reference {
            Reference::Named(_) => self
                .names()
                .into_iter()
                .map(|name| {
                    values.column(name).map_err(|_| {
                        CoreError::InvalidArgument(format!(
                            "the query's parameter ${name} is not among the bound ones ({})",
                            values.get_column_names().iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
                        ))
                    })
                })
                .collect(),
            _ if values.width() != wanted => Err(CoreError::InvalidArgument(format!(
                "the query takes {wanted} parameter(s) and {} were bound",
                values.width()
            ))),
            _ => Ok(values.columns().iter().collect()),
        }
    }

    /// The distinct names of named placeholders, in order of appearance.
    fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for p in &self.placeholders {
            if let Reference::Named(name) = &p.reference {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
        }
        names
    }

    /// For each placeholder, the index of the column it reads.
    fn slots(&self) -> Vec<usize> {
        let names = self.names();
        self.placeholders
            .iter()
            .enumerate()
            .map(|(i, p)| match &p.reference {
                Reference::Next => i,
                Reference::Numbered(n) => n - 1,
                Reference::Named(name) => names.iter().position(|n| n == name).expect("every name is listed"),
            })
            .collect()
    }
}

/// `query` with one row of `values` bound (what runs once: a query on the
/// distributed engine, a CREATE TABLE ... AS SELECT); without values,
/// `query` itself, refused if it takes parameters.
pub fn bind_one(query: &str, values: Option<&DataFrame>) -> Result<String, CoreError> {
    let parameters = Parameters::of(query)?;
    let Some(values) = values.filter(|v| v.width() > 0) else { return Ok(parameters.unbound()?.to_string()) };
    match parameters.bind(values)?.as_slice() {
        [one] => Ok(one.clone()),
        many => Err(CoreError::InvalidArgument(format!(
            "{} rows of parameters were bound; this statement (a distributed query, a CREATE, DROP or TRUNCATE) runs once, \
             with one",
            many.len()
        ))),
    }
}

fn reference(text: &str) -> Result<Reference, CoreError> {
    if text == "?" {
        return Ok(Reference::Next);
    }
    let rest = &text[1..];
    if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
        return match rest.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Reference::Numbered(n)),
            _ => Err(CoreError::InvalidArgument(format!("parameter {text}: numbered parameters start at 1"))),
        };
    }
    if text.starts_with('$') && rest.chars().all(|c| c.is_alphanumeric() || c == '_') && !rest.is_empty() {
        return Ok(Reference::Named(rest.to_string()));
    }
    Err(CoreError::InvalidArgument(format!("{text} is not a parameter this SQL reads: use ?, ?1, $1 or $name")))
}

/// Byte offsets of the tokenizer's (line, column) locations.
struct LineOffsets(Vec<usize>);

impl LineOffsets {
    fn new(text: &str) -> Self {
        Self(std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect())
    }

    /// Lines and columns count from 1; columns count characters.
    fn byte(&self, text: &str, at: Location) -> usize {
        let line_start = self.0[(at.line as usize).saturating_sub(1)];
        let line = &text[line_start..];
        line_start + line.char_indices().nth((at.column as usize).saturating_sub(1)).map_or(line.len(), |(i, _)| i)
    }
}

/// Each value of `column` as a SQL literal polars-sql reads back as the
/// same value (of the same type where SQL can say it).
fn literals(column: &Column) -> Result<Vec<String>, CoreError> {
    let name = column.name().to_string();
    let refuse = |what: &str| {
        CoreError::InvalidArgument(format!(
            "parameter {name} is {what}: bind scalars (numbers, text, booleans, dates, times, timestamps, durations, decimals)"
        ))
    };
    let dtype = column.dtype().clone();
    let quoted = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let texts = |c: &Column| -> Result<Vec<Option<String>>, CoreError> {
        let c = c.cast(&DataType::String).map_err(|e| CoreError::InvalidArgument(format!("parameter {name}: {e}")))?;
        Ok(c.str()?.iter().map(|v| v.map(str::to_string)).collect())
    };
    let values: Vec<Option<String>> = match &dtype {
        DataType::Null => vec![None; column.len()],
        DataType::Boolean => column.bool()?.iter().map(|v| v.map(|b| if b { "TRUE" } else { "FALSE" }.to_string())).collect(),
        dt if dt.is_integer() => {
            // Written as the user would type them; a number SQL cannot
            // type as one (past Int64) is cast from text to its own type.
            let sql_type = integer_sql_type(dt);
            texts(column)?
                .into_iter()
                .map(|v| {
                    v.map(|t| match t.parse::<i64>() {
                        Ok(n) if n == i64::MIN => format!("CAST('{t}' AS {sql_type})"),
                        Ok(n) if n < 0 => format!("({t})"),
                        Ok(_) => t,
                        Err(_) => format!("CAST('{t}' AS {sql_type})"),
                    })
                })
                .collect()
        },
        DataType::Float32 => column.f32()?.iter().map(|v| v.map(|v| float_literal(v as f64, format!("{v:?}")))).collect(),
        DataType::Float64 => column.f64()?.iter().map(|v| v.map(|v| float_literal(v, format!("{v:?}")))).collect(),
        DataType::String => column.str()?.iter().map(|v| v.map(quoted)).collect(),
        DataType::Categorical(..) | DataType::Enum(..) => texts(column)?.into_iter().map(|v| v.map(|s| quoted(&s))).collect(),
        // polars-sql reads X'..' only with polars' binary_encoding feature,
        // which this build leaves off.
        DataType::Binary | DataType::BinaryOffset => return Err(refuse("binary (this SQL has no literal of bytes)")),
        DataType::Date => physical(column)?
            .into_iter()
            .map(|v| v.map(|days| format!("DATE '{}'", chrono::NaiveDate::default() + chrono::Duration::days(days))))
            .collect(),
        DataType::Datetime(unit, _) => {
            // An instant in a zone is bound as its UTC time, as tables
            // store time (naive, UTC): the physical value is that.
            let (precision, per_second) = match unit {
                TimeUnit::Milliseconds => (3, 1_000),
                TimeUnit::Microseconds => (6, 1_000_000),
                TimeUnit::Nanoseconds => (9, 1_000_000_000),
            };
            physical(column)?
                .into_iter()
                .map(|v| {
                    v.map(|v| {
                        let (secs, frac) = (v.div_euclid(per_second), v.rem_euclid(per_second));
                        let nanos = (frac * (1_000_000_000 / per_second)) as u32;
                        match chrono::DateTime::from_timestamp(secs, nanos) {
                            Some(t) => format!("CAST('{}' AS TIMESTAMP({precision}))", t.naive_utc().format("%Y-%m-%d %H:%M:%S%.f")),
                            None => "NULL".into(),
                        }
                    })
                })
                .collect()
        },
        DataType::Time => physical(column)?
            .into_iter()
            .map(|v| {
                v.map(|ns| {
                    let time = chrono::NaiveTime::from_num_seconds_from_midnight_opt(
                        (ns / 1_000_000_000) as u32,
                        (ns % 1_000_000_000) as u32,
                    );
                    time.map_or_else(|| "NULL".into(), |t| format!("TIME '{}'", t.format("%H:%M:%S%.f")))
                })
            })
            .collect(),
        DataType::Duration(unit) => {
            // An interval literal is in nanoseconds; the cast keeps the unit.
            let (name, precision) = match unit {
                TimeUnit::Milliseconds => ("milliseconds", 3),
                TimeUnit::Microseconds => ("microseconds", 6),
                TimeUnit::Nanoseconds => ("nanoseconds", 9),
            };
            physical(column)?
                .into_iter()
                .map(|v| v.map(|n| format!("CAST(INTERVAL '{n} {name}' AS INTERVAL({precision}))")))
                .collect()
        },
        DataType::Decimal(precision, scale) => {
            texts(column)?.into_iter().map(|v| v.map(|s| format!("CAST('{s}' AS DECIMAL({precision}, {scale}))"))).collect()
        },
        other => return Err(refuse(&format!("a {other}"))),
    };
    Ok(values.into_iter().map(|v| v.unwrap_or_else(|| "NULL".to_string())).collect())
}

/// The SQL name polars-sql reads as `dtype` (an integer type).
fn integer_sql_type(dtype: &DataType) -> &'static str {
    match dtype {
        DataType::Int8 => "TINYINT",
        DataType::Int16 => "SMALLINT",
        DataType::Int32 => "INTEGER",
        DataType::Int128 => "HUGEINT",
        DataType::UInt8 => "UTINYINT",
        DataType::UInt16 => "USMALLINT",
        DataType::UInt32 => "UINTEGER",
        DataType::UInt64 => "UBIGINT",
        DataType::UInt128 => "UHUGEINT",
        _ => "BIGINT",
    }
}

/// A float as a literal polars-sql reads as that float: with a decimal
/// point (without one it is an integer), its shortest exact digits, and
/// the values SQL has no numeral for cast from text.
fn float_literal(v: f64, shortest: String) -> String {
    if v.is_nan() {
        return "CAST('NaN' AS DOUBLE)".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "CAST('inf' AS DOUBLE)".into() } else { "CAST('-inf' AS DOUBLE)".into() };
    }
    // `shortest` is the value's Debug: the shortest text that reads back
    // exactly as its own type ("2.0", "1e300", a Float32's "0.1").
    let mut text = shortest;
    if !text.contains('.') {
        let at = text.find('e').unwrap_or(text.len());
        text.insert_str(at, ".0");
    }
    if v.is_sign_negative() { format!("({text})") } else { text }
}

/// A temporal column's physical values (days, time units, nanoseconds).
fn physical(column: &Column) -> Result<Vec<Option<i64>>, CoreError> {
    Ok(column.to_physical_repr().cast(&DataType::Int64)?.i64()?.iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(query: &str, values: DataFrame) -> Vec<String> {
        Parameters::of(query).unwrap().bind(&values).unwrap()
    }

    #[test]
    fn each_placeholder_becomes_its_rows_literal_and_nothing_else_changes() {
        let values = df!("a" => [2.5, -1.0], "b" => ["it's", "x"]).unwrap();
        assert_eq!(
            bound("SELECT * FROM t -- is it ?\nWHERE px > ? AND s = ? AND note <> '?'", values),
            [
                "SELECT * FROM t -- is it ?\nWHERE px > 2.5 AND s = 'it''s' AND note <> '?'",
                "SELECT * FROM t -- is it ?\nWHERE px > (-1.0) AND s = 'x' AND note <> '?'",
            ]
        );
        // Numbered ones may repeat and come in any order; names match columns.
        let values = df!("x" => [1i64], "y" => [2i64]).unwrap();
        assert_eq!(bound("SELECT $2, $1, ?1 + $2", values.clone()), ["SELECT 2, 1, 1 + 2"]);
        assert_eq!(bound("SELECT $y - $x, $y", values), ["SELECT 2 - 1, 2"]);
        // Characters before a placeholder are counted as characters.
        let values = df!("a" => ["é"]).unwrap();
        assert_eq!(bound("SELECT 'ééé', ?", values), ["SELECT 'ééé', 'é'"]);
    }

    #[test]
    fn wrong_counts_and_mixed_kinds_are_refused() {
        let one = df!("a" => [1i64]).unwrap();
        let two = df!("a" => [1i64], "b" => [2i64]).unwrap();
        let message = |r: Result<Vec<String>, CoreError>| r.unwrap_err().to_string();
        assert!(message(Parameters::of("SELECT ?, ?").unwrap().bind(&one)).contains("takes 2 parameter(s) and 1 were bound"));
        assert!(message(Parameters::of("SELECT $3").unwrap().bind(&two)).contains("takes 3 parameter(s) and 2 were bound"));
        assert!(message(Parameters::of("SELECT 1").unwrap().bind(&one)).contains("has no placeholder"));
        assert!(message(Parameters::of("SELECT $c").unwrap().bind(&one)).contains("$c is not among the bound ones (a)"));
        assert!(Parameters::of("SELECT ?, $1").unwrap_err().to_string().contains("mixes kinds"));
        assert!(Parameters::of("SELECT ?").unwrap().unbound().unwrap_err().to_string().contains("takes 1 parameter(s) (?)"));
        assert_eq!(Parameters::of("SELECT '?'").unwrap().unbound().unwrap(), "SELECT '?'");
        // Text that does not tokenize has no placeholders: polars-sql explains it.
        assert_eq!(Parameters::of("SELECT '? FROM t").unwrap().unbound().unwrap(), "SELECT '? FROM t");
    }

    /// The oracle: polars-sql reads each literal back as the bound value.
    #[test]
    fn polars_sql_reads_every_literal_back_as_the_bound_value() {
        use polars::sql::SQLContext;
        // 2024-01-02 03:04:05.123456 and 1969-12-31 23:59:59.999999.
        let micros = Column::new("ts_us".into(), [Some(1_704_164_645_123_456i64), Some(-1), None, None]);
        let ts_us = micros.cast(&DataType::Datetime(TimeUnit::Microseconds, None)).unwrap();
        let mut values = df!(
            "i64" => [Some(i64::MIN), Some(-7), Some(i64::MAX), None],
            "u64" => [Some(u64::MAX), Some(0), Some(1), Some(2)],
            "f64" => [Some(1e300), Some(-0.1), Some(f64::NAN), Some(f64::NEG_INFINITY)],
            "f32" => [Some(0.1f32), Some(3.0), None, Some(-2.5)],
            "s" => [Some("it's"), Some("a\\b"), Some(""), None],
            "b" => [Some(true), Some(false), None, Some(true)],
            "d" => [Some(chrono::NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()), None, None, None],
            "t" => [Some(chrono::NaiveTime::from_hms_micro_opt(9, 30, 0, 250_000).unwrap()), None, None, None],
        )
        .unwrap();
        let extra = [
            ts_us.cast(&DataType::Datetime(TimeUnit::Nanoseconds, None)).unwrap().with_name("ts_ns".into()),
            ts_us.clone(),
            Column::new("dur".into(), [Some(90_000_000i64), Some(-1), None, Some(0)])
                .cast(&DataType::Duration(TimeUnit::Microseconds))
                .unwrap(),
            Column::new("dec".into(), ["12.34", "-0.01", "0.00", "99999.99"]).cast(&DataType::Decimal(7, 2)).unwrap(),
            Column::new("i8".into(), [Some(-128i8), Some(127), None, Some(0)]),
        ];
        for column in extra {
            values.with_column(column).unwrap();
        }
        // An instant in a zone binds as its UTC time.
        let zoned = micros.cast(&DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))).unwrap();
        let zoned = Parameters::of("SELECT ?").unwrap().bind(&DataFrame::new(4, vec![zoned]).unwrap()).unwrap();
        assert_eq!(zoned[0], "SELECT CAST('2024-01-02 03:04:05.123456' AS TIMESTAMP(6))");
        let bytes = Column::new("bin".into(), [b"ab".as_slice()]);
        let refused = Parameters::of("SELECT ?").unwrap().bind(&DataFrame::new(1, vec![bytes]).unwrap()).unwrap_err();
        assert!(refused.to_string().contains("parameter bin is binary"), "{refused}");
        let names: Vec<String> = values.get_column_names().iter().map(|n| n.to_string()).collect();
        let query = format!("SELECT {}", names.iter().map(|n| format!("? AS {n}")).collect::<Vec<_>>().join(", "));
        let mut read = Vec::new();
        for bound in Parameters::of(&query).unwrap().bind(&values).unwrap() {
            read.push(SQLContext::new().execute(&bound).and_then(|lf| lf.collect()).unwrap_or_else(|e| panic!("{bound}: {e}")));
        }
        for name in &names {
            let want = values.column(name).unwrap();
            for (row, frame) in read.iter().enumerate() {
                let got = frame.column(name).unwrap();
                let want_value = want.get(row).unwrap();
                let got_value = got.cast(want.dtype()).unwrap().get(0).unwrap().into_static();
                let same = match (&want_value, &got_value) {
                    (AnyValue::Float64(a), AnyValue::Float64(b)) => a == b || (a.is_nan() && b.is_nan()),
                    _ => want_value == got_value,
                };
                assert!(same, "{name} row {row}: bound {want_value:?}, read back {got_value:?} ({})", got.dtype());
                // Where SQL can say the type, it is the type (nulls are untyped).
                if !want_value.is_null() && !matches!(want.dtype(), DataType::Float32 | DataType::Decimal(..)) && !want.dtype().is_integer() {
                    assert_eq!(got.dtype(), want.dtype(), "{name} row {row}");
                }
            }
        }
    }
}
