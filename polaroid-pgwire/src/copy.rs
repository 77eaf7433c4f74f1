//! `COPY (query) TO STDOUT` and `COPY table [(columns)] TO STDOUT`:
//! PostgreSQL's bulk read, and the path its Arrow readers take — polars'
//! `read_database_uri` through connectorx (binary), ADBC's PostgreSQL driver
//! (binary), psql's `\copy`, psycopg's `cursor.copy()`. `COPY table
//! [(columns)] FROM STDIN` is parsed here and loaded by `load.rs`.
//!
//! The statement's options are read by sqlparser; the query inside the
//! parentheses is QuestDB's SQL (SAMPLE BY, LATEST ON, ...), which
//! sqlparser does not know, so it is cut out first and planned as any
//! other query. Rows are written by pgwire's `CopyEncoder` (binary, text)
//! or the door's CSV writer, one CopyData message per row as PostgreSQL
//! sends them, so the `COPY n` tag counts rows.

use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use pgwire::api::results::{CopyEncoder, CopyTextOptions, FieldInfo};
use pgwire::api::Type;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::types::format::FormatOptions;
use pgwire::types::ToSqlText;
use postgres_types::{IsNull, ToSql};
use pgwire::messages::copy::CopyData;
use polaroid_core::results::ResultSink;
use polaroid_core::CoreError;
use polars::prelude::*;
use sqlparser::ast::{CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget, Statement as Ast};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::encode::{each_row, FieldWriter};
use crate::error::user;

/// How the rows are written.
#[derive(Debug, Clone, PartialEq)]
pub enum CopyFormat {
    /// PGCOPY: a header, then each row's fields in PostgreSQL's binary encoding.
    Binary,
    /// Tab-separated with backslash escapes, `\N` for null (by default).
    Text { delimiter: String, null: String, header: bool },
    Csv { delimiter: String, quote: String, null: String, header: bool },
}

impl CopyFormat {
    /// The format code of CopyOutResponse: 1 for binary, 0 for text and CSV.
    pub fn code(&self) -> i8 {
        i8::from(*self == CopyFormat::Binary)
    }
}

/// A `COPY ... TO STDOUT`: the query whose rows go out, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyOut {
    pub query: String,
    pub format: CopyFormat,
}

/// A `COPY table [(columns)] FROM STDIN`: the table (in `public`, the
/// only schema), the columns the rows hold (all, in order, if none are
/// named), and how they are written.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyIn {
    pub table: String,
    pub columns: Vec<String>,
    pub format: CopyFormat,
}

/// A COPY statement, either way.
#[derive(Debug, Clone, PartialEq)]
pub enum Copy {
    Out(CopyOut),
    In(CopyIn),
}

/// Whether `sql` is a COPY statement (of any direction).
pub fn is_copy(sql: &str) -> bool {
    let sql = sql.trim_start();
    sql.get(..4).is_some_and(|word| word.eq_ignore_ascii_case("COPY"))
        && sql[4..].starts_with(|c: char| c.is_whitespace() || c == '(')
}

impl Copy {
    /// Read `sql` as a COPY statement; `None` if it is not one. A COPY
    /// this door cannot answer (from or to a file, an unknown option) is
    /// an error naming what it cannot do.
    pub fn parse(sql: &str) -> PgWireResult<Option<Copy>> {
        if !is_copy(sql) {
            return Ok(None);
        }
        let rest = sql.trim_start()[4..].trim_start();
        // `COPY (query) ...`: the query is cut out, and the rest parsed as
        // `COPY query_table ...`.
        let (query, statement) = if rest.starts_with('(') {
            let close = polaroid_questdb::statement::matching_paren(rest, 0)
                .ok_or_else(|| user("42601", "COPY (query): the query's parenthesis is not closed"))?;
            (Some(rest[1..close].trim().to_string()), format!("COPY query_table {}", &rest[close + 1..]))
        } else {
            (None, sql.trim().to_string())
        };
        let parsed = Parser::parse_sql(&PostgreSqlDialect {}, statement.trim_end().trim_end_matches(';'))
            .map_err(|e| user("42601", format!("COPY: {e}")))?;
        let [Ast::Copy { source, to, target, options, legacy_options, .. }] = parsed.as_slice() else {
            return Err(user("42601", "COPY: expected one COPY statement"));
        };
        if !to {
            if *target != CopyTarget::Stdin {
                return Err(user(
                    "0A000",
                    format!("COPY ... FROM {target} is not supported: the server reads no client files; COPY ... FROM STDIN (psql's \\copy sends a local file so)"),
                ));
            }
            let CopySource::Table { table_name, columns } = source else {
                return Err(user("42601", "COPY ... FROM loads a table"));
            };
            let table = table_part(table_name)?;
            let unquoted = table.as_ident().map_or_else(|| table.to_string(), |i| i.value.clone());
            return Ok(Some(Copy::In(CopyIn {
                table: unquoted,
                columns: columns.iter().map(|c| c.value.clone()).collect(),
                format: format(options, legacy_options)?,
            })));
        }
        if *target != CopyTarget::Stdout {
            return Err(user("0A000", format!("COPY ... TO {target} is not supported: the server writes no files; COPY ... TO STDOUT")));
        }
        let query = match (query, source) {
            (Some(query), _) => query,
            (None, CopySource::Table { table_name, columns }) if columns.is_empty() => format!("SELECT * FROM {}", table_part(table_name)?),
            (None, CopySource::Table { table_name, columns }) => {
                let columns = columns.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                format!("SELECT {columns} FROM {}", table_part(table_name)?)
            },
            (None, CopySource::Query(query)) => query.to_string(),
        };
        Ok(Some(Copy::Out(CopyOut { query, format: format(options, legacy_options)? })))
    }
}

/// A COPY's table, as written, without PostgreSQL's schema `public` (the
/// only one) in front of it.
fn table_part(name: &sqlparser::ast::ObjectName) -> PgWireResult<&sqlparser::ast::ObjectNamePart> {
    match name.0.as_slice() {
        [table] => Ok(table),
        [schema, table] if schema.to_string().trim_matches('"').eq_ignore_ascii_case("public") => Ok(table),
        _ => Err(user("3F000", format!("COPY {name}: every table is in the schema public"))),
    }
}

/// The format named by a COPY's options, new style (`WITH (FORMAT csv,
/// HEADER)`) or old (`WITH CSV HEADER`, `BINARY`), with PostgreSQL's defaults.
fn format(options: &[CopyOption], legacy: &[CopyLegacyOption]) -> PgWireResult<CopyFormat> {
    let (mut kind, mut delimiter, mut null, mut quote, mut escape, mut header) = ("text".to_string(), None, None, None, None, false);
    let single = |c: &char| c.to_string();
    for option in options {
        match option {
            CopyOption::Format(name) => kind = name.value.to_ascii_lowercase(),
            CopyOption::Delimiter(c) => delimiter = Some(single(c)),
            CopyOption::Null(s) => null = Some(s.clone()),
            CopyOption::Header(h) => header = *h,
            CopyOption::Quote(c) => quote = Some(single(c)),
            CopyOption::Escape(c) => escape = Some(single(c)),
            CopyOption::Encoding(e) if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {},
            other => return Err(user("0A000", format!("COPY option {other} is not supported"))),
        }
    }
    for option in legacy {
        match option {
            CopyLegacyOption::Binary => kind = "binary".into(),
            CopyLegacyOption::Delimiter(c) => delimiter = Some(single(c)),
            CopyLegacyOption::Null(s) => null = Some(s.clone()),
            CopyLegacyOption::Csv(csv) => {
                kind = "csv".into();
                for option in csv {
                    match option {
                        CopyLegacyCsvOption::Header => header = true,
                        CopyLegacyCsvOption::Quote(c) => quote = Some(single(c)),
                        CopyLegacyCsvOption::Escape(c) => escape = Some(single(c)),
                        other => return Err(user("0A000", format!("COPY option {other} is not supported"))),
                    }
                }
            },
            other => return Err(user("0A000", format!("COPY option {other} is not supported"))),
        }
    }
    let csv_only = |what: &str, given: bool| {
        if given && kind != "csv" {
            Err(user("22023", format!("COPY {what} is available only in CSV mode")))
        } else {
            Ok(())
        }
    };
    for (what, given) in [("delimiter", &delimiter), ("quote", &quote)] {
        if given.as_ref().is_some_and(|c| c.len() != 1) {
            return Err(user("22023", format!("COPY {what} must be a single one-byte character")));
        }
    }
    csv_only("quote", quote.is_some())?;
    csv_only("escape", escape.is_some())?;
    match kind.as_str() {
        "binary" if delimiter.is_some() || null.is_some() || header => {
            Err(user("22023", "COPY BINARY takes no DELIMITER, NULL or HEADER"))
        },
        "binary" => Ok(CopyFormat::Binary),
        "text" => Ok(CopyFormat::Text { delimiter: delimiter.unwrap_or_else(|| "\t".into()), null: null.unwrap_or_else(|| "\\N".into()), header }),
        "csv" => {
            let quote = quote.unwrap_or_else(|| "\"".into());
            // A quote is escaped by doubling it: PostgreSQL's default
            // (ESCAPE equal to QUOTE), the one this door writes.
            if escape.as_ref().is_some_and(|e| *e != quote) {
                return Err(user("0A000", "COPY CSV: an ESCAPE other than the QUOTE character is not supported"));
            }
            Ok(CopyFormat::Csv { delimiter: delimiter.unwrap_or_else(|| ",".into()), quote, null: null.unwrap_or_default(), header })
        },
        other => Err(user("22023", format!("COPY format \"{other}\" not recognized (binary, text or csv)"))),
    }
}

/// The 19 bytes that open a PGCOPY stream: the signature, no flags, no
/// header extension (PostgreSQL's COPY documentation, "Binary Format").
fn binary_header() -> BytesMut {
    let mut header = BytesMut::with_capacity(19);
    header.put_slice(b"PGCOPY\n\xFF\r\n\x00");
    header.put_i32(0);
    header.put_i32(0);
    header
}

/// One message of COPY data, and whether it is a row (the `COPY n` tag
/// counts those; a header alone or binary's trailer is not one).
pub struct CopyLine {
    pub data: CopyData,
    pub row: bool,
}

/// Streams a result as COPY data: one message per row, the header (PGCOPY's,
/// or the column names' line) in front of the first, and binary's trailer
/// after the last (the response replaces pgwire's own trailer with it).
pub struct CopySink {
    format: CopyFormat,
    writer: Writer,
    /// The opening bytes not yet sent.
    opening: Option<BytesMut>,
    rows: usize,
}

impl CopySink {
    pub fn new(fields: Arc<Vec<FieldInfo>>, format: CopyFormat) -> Self {
        let writer = Writer::new(fields.clone(), &format);
        let opening = match &format {
            // CopyEncoder writes PGCOPY's header in front of its first row.
            CopyFormat::Binary => None,
            CopyFormat::Text { header: true, .. } | CopyFormat::Csv { header: true, .. } => Some(names_line(&fields, &format)),
            _ => None,
        };
        Self { format, writer, opening, rows: 0 }
    }
}

/// Writes one row's values as a line of COPY data.
enum Writer {
    /// pgwire's encoder: binary, and text with its backslash escapes.
    Pg(CopyEncoder),
    Csv(CsvLine),
}

impl Writer {
    fn new(fields: Arc<Vec<FieldInfo>>, format: &CopyFormat) -> Self {
        match format {
            CopyFormat::Binary => Writer::Pg(CopyEncoder::new_binary(fields)),
            CopyFormat::Text { delimiter, null, .. } => Writer::Pg(CopyEncoder::new_text(
                fields,
                CopyTextOptions { delimiter: delimiter.as_str().into(), null_string: null.as_str().into() },
            )),
            CopyFormat::Csv { delimiter, quote, null, .. } => Writer::Csv(CsvLine {
                types: fields.iter().map(|f| f.datatype().clone()).collect(),
                column: 0,
                line: BytesMut::new(),
                delimiter: delimiter.as_bytes()[0],
                quote: quote.as_bytes()[0],
                null: null.clone(),
            }),
        }
    }

    fn take(&mut self) -> CopyData {
        match self {
            Writer::Pg(encoder) => encoder.take_copy(),
            Writer::Csv(csv) => {
                csv.line.put_u8(b'\n');
                csv.column = 0;
                CopyData::new(csv.line.split().freeze())
            },
        }
    }
}

impl FieldWriter for Writer {
    fn field<T: ToSql + ToSqlText + Sized>(&mut self, value: &T) -> PgWireResult<()> {
        match self {
            Writer::Pg(encoder) => encoder.field(value),
            Writer::Csv(csv) => csv.field(value),
        }
    }
}

/// A CSV line as PostgreSQL writes one: a null is the NULL string
/// unquoted, and a value is quoted when it holds the delimiter, the quote,
/// a line break, or reads as the NULL string (so an empty text is `""`
/// beside the empty null). pgwire's CSV encoder cannot tell the empty
/// text from null, so this one is the door's.
struct CsvLine {
    types: Vec<Type>,
    column: usize,
    line: BytesMut,
    delimiter: u8,
    quote: u8,
    null: String,
}

impl CsvLine {
    fn field<T: ToSqlText>(&mut self, value: &T) -> PgWireResult<()> {
        if self.column > 0 {
            self.line.put_u8(self.delimiter);
        }
        let ty = &self.types[self.column];
        self.column += 1;
        let mut text = BytesMut::new();
        match value.to_sql_text(ty, &mut text, &FormatOptions::default()).map_err(PgWireError::ApiError)? {
            IsNull::Yes => self.line.put_slice(self.null.as_bytes()),
            IsNull::No => {
                let special = |b: &u8| *b == self.delimiter || *b == self.quote || *b == b'\n' || *b == b'\r';
                if text.as_ref() == self.null.as_bytes() || text.iter().any(special) {
                    self.line.put_u8(self.quote);
                    for &b in text.iter() {
                        if b == self.quote {
                            self.line.put_u8(b);
                        }
                        self.line.put_u8(b);
                    }
                    self.line.put_u8(self.quote);
                } else {
                    self.line.put_slice(&text);
                }
            },
        }
        Ok(())
    }
}

/// The HEADER line: the column names, escaped or quoted as text values of
/// the format are.
fn names_line(fields: &Arc<Vec<FieldInfo>>, format: &CopyFormat) -> BytesMut {
    let names = Arc::new(
        fields.iter().map(|f| FieldInfo::new(f.name().to_string(), None, None, Type::VARCHAR, f.format())).collect::<Vec<_>>(),
    );
    let mut writer = Writer::new(names, format);
    for field in fields.iter() {
        // Writing a &str as varchar cannot fail.
        let _ = writer.field(&field.name());
    }
    BytesMut::from(writer.take().data.as_ref())
}

impl ResultSink for CopySink {
    type Message = Vec<CopyLine>;

    fn head(&mut self) -> Vec<Self::Message> {
        Vec::new()
    }

    fn batch(&mut self, df: &DataFrame, send: &mut dyn FnMut(Self::Message) -> bool) -> Result<bool, CoreError> {
        let CopySink { writer, opening, rows, .. } = self;
        let take = |writer: &mut Writer| {
            let mut data = writer.take();
            if let Some(mut opening) = opening.take() {
                opening.put_slice(&data.data);
                data = CopyData::new(opening.freeze());
            }
            *rows += 1;
            CopyLine { data, row: true }
        };
        each_row(df, writer, take, send)
    }

    fn tail(&mut self) -> Vec<Self::Message> {
        // A binary stream ends with the field count -1. With no rows, the
        // header goes in the same message, as PostgreSQL sends it (psycopg
        // reads a message holding only the header as a truncated row).
        let closing = match (&self.format, self.opening.take()) {
            (CopyFormat::Binary, _) => {
                let mut closing = if self.rows == 0 { binary_header() } else { BytesMut::new() };
                closing.put_i16(-1);
                Some(closing)
            },
            // A header line with no rows goes alone.
            (_, opening) => opening,
        };
        closing.map(|c| vec![vec![CopyLine { data: CopyData::new(c.freeze()), row: false }]]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> CopyOut {
        match Copy::parse(sql).unwrap().unwrap() {
            Copy::Out(out) => out,
            other => panic!("{other:?}"),
        }
    }

    fn code(sql: &str) -> String {
        match Copy::parse(sql) {
            Err(PgWireError::UserError(info)) => info.code,
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn the_query_inside_is_questdb_sql_and_the_options_postgresql() {
        let copy = parse("copy (SELECT ts, last(px) FROM t WHERE s = ')' SAMPLE BY 1m) TO STDOUT (FORMAT binary);");
        assert_eq!(copy.query, "SELECT ts, last(px) FROM t WHERE s = ')' SAMPLE BY 1m");
        assert_eq!(copy.format, CopyFormat::Binary);
        assert_eq!(parse("COPY(SELECT 1) TO STDOUT WITH BINARY").format, CopyFormat::Binary);
        let text = CopyFormat::Text { delimiter: "\t".into(), null: "\\N".into(), header: false };
        assert_eq!(parse("COPY t TO STDOUT"), CopyOut { query: "SELECT * FROM t".into(), format: text });
        assert_eq!(parse("COPY \"My T\" (a, \"B\") TO STDOUT").query, "SELECT a, \"B\" FROM \"My T\"");
        assert_eq!(parse("COPY public.\"My T\" TO STDOUT").query, "SELECT * FROM \"My T\"");
        assert_eq!(
            parse("COPY t TO STDOUT WITH (FORMAT csv, HEADER true, DELIMITER ';', NULL 'NA', QUOTE '''')").format,
            CopyFormat::Csv { delimiter: ";".into(), quote: "'".into(), null: "NA".into(), header: true }
        );
        assert_eq!(
            parse("COPY t TO STDOUT WITH CSV HEADER DELIMITER AS '|'").format,
            CopyFormat::Csv { delimiter: "|".into(), quote: "\"".into(), null: String::new(), header: true }
        );
        assert!(Copy::parse("SELECT * FROM copy_t").unwrap().is_none());
        assert!(Copy::parse("COPYRIGHT").unwrap().is_none());
        let load = Copy::parse("COPY \"public\" . \"My T\" (\"ts\", px) FROM STDIN WITH (FORMAT binary)").unwrap().unwrap();
        assert_eq!(
            load,
            Copy::In(CopyIn { table: "My T".into(), columns: vec!["ts".into(), "px".into()], format: CopyFormat::Binary })
        );
    }

    #[test]
    fn what_the_door_cannot_copy_is_refused_by_name() {
        assert_eq!(code("COPY t FROM '/tmp/t.csv'"), "0A000");
        assert_eq!(code("COPY other.t FROM STDIN"), "3F000");
        assert_eq!(code("COPY t TO '/tmp/t.csv'"), "0A000");
        assert_eq!(code("COPY t TO PROGRAM 'gzip'"), "0A000");
        assert_eq!(code("COPY t TO STDOUT (FORMAT parquet)"), "22023");
        assert_eq!(code("COPY t TO STDOUT (FORMAT binary, HEADER)"), "22023");
        assert_eq!(code("COPY t TO STDOUT (QUOTE '\"')"), "22023");
        assert_eq!(code("COPY t TO STDOUT (FORMAT csv, ESCAPE '\\')"), "0A000");
        assert_eq!(code("COPY (SELECT 1 TO STDOUT"), "42601");
        assert_eq!(code("COPY t TO"), "42601");
    }

    #[test]
    fn csv_quotes_only_what_would_read_back_otherwise() {
        let fields = Arc::new(vec![
            FieldInfo::new("s".into(), None, None, Type::VARCHAR, pgwire::api::results::FieldFormat::Text),
            FieldInfo::new("n".into(), None, None, Type::INT8, pgwire::api::results::FieldFormat::Text),
        ]);
        let format = CopyFormat::Csv { delimiter: ",".into(), quote: "\"".into(), null: String::new(), header: true };
        assert_eq!(names_line(&fields, &format).as_ref(), b"s,n\n");
        let mut writer = Writer::new(fields, &format);
        let mut line = |s: Option<&str>, n: Option<i64>| {
            writer.field(&s).unwrap();
            writer.field(&n).unwrap();
            writer.take().data
        };
        assert_eq!(line(Some("plain"), Some(1)).as_ref(), b"plain,1\n");
        assert_eq!(line(Some(""), None).as_ref(), b"\"\",\n");
        assert_eq!(line(None, Some(-2)).as_ref(), b",-2\n");
        assert_eq!(line(Some("a,\"b\"\r\n"), Some(3)).as_ref(), b"\"a,\"\"b\"\"\r\n\",3\n");
    }
}
