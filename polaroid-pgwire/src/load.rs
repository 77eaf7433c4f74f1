//! `COPY table [(columns)] FROM STDIN`: rows sent as COPY data, in
//! PostgreSQL's binary, text or CSV format, appended to a table. This is
//! how ADBC's PostgreSQL driver ingests (polars' `write_database(...,
//! engine="adbc")`), and how psycopg's `cursor.copy()` and psql's `\copy`
//! load.
//!
//! The data is held until the client's CopyDone and appended as one
//! durable append, so a load is whole or not at all, as PostgreSQL's COPY
//! is. Values are read by the table's column types: binary by PostgreSQL's
//! encodings (an integer by its width, a timestamp in microseconds since
//! 2000), text as QuestDB reads a literal of the type.

use std::borrow::Cow;

use bytes::BytesMut;
use polaroid_core::{CoreError, Namespace};
use polaroid_core::Core;
use polars::prelude::*;

use crate::copy::{CopyFormat, CopyIn};

/// The most COPY data one statement may send before its CopyDone: it is
/// held in memory until then.
pub const MAX_COPY_IN: usize = 1 << 30;

/// Days and microseconds from the Unix epoch to PostgreSQL's, 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;
const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS * 86_400_000_000;

/// A COPY FROM STDIN under way: what it loads, and the data so far.
pub struct Pending {
    pub ns: Namespace,
    pub copy: CopyIn,
    pub data: BytesMut,
    /// Set when the data passed [`MAX_COPY_IN`]; the rest is dropped.
    pub overflowed: bool,
}

impl Pending {
    pub fn push(&mut self, chunk: &[u8]) {
        if self.data.len() + chunk.len() > MAX_COPY_IN {
            self.overflowed = true;
        } else if !self.overflowed {
            self.data.extend_from_slice(chunk);
        }
    }
}

fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::InvalidArgument(message.into())
}

/// The table's columns the COPY names (all, in order, if none): their
/// names as stored and types. An unknown table or column is an error
/// before any data is sent.
pub fn targets(core: &Core, ns: &Namespace, copy: &CopyIn) -> Result<Vec<(String, DataType)>, CoreError> {
    let table = core
        .tables()
        .existing(ns, &copy.table)?;
    let schema = table.def().schema()?;
    if copy.columns.is_empty() {
        return Ok(schema.iter().map(|(name, dtype)| (name.to_string(), dtype.clone())).collect());
    }
    copy.columns
        .iter()
        .map(|wanted| {
            schema
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
                .map(|(name, dtype)| (name.to_string(), dtype.clone()))
                .ok_or_else(|| invalid(format!("column {wanted} does not exist in table {}", copy.table)))
        })
        .collect()
}

/// Decode the data and append it: the rows appended.
pub fn load(core: &Core, pending: Pending) -> Result<u64, CoreError> {
    if pending.overflowed {
        return Err(CoreError::ResourceExhausted(format!(
            "COPY FROM STDIN sent more than {} MiB: load it in parts, or through ILP or Flight SQL's ingest",
            MAX_COPY_IN >> 20
        )));
    }
    // Resolved again: the table may have changed since the COPY began.
    let targets = targets(core, &pending.ns, &pending.copy)?;
    let rows = decode(&pending.data, &pending.copy.format, &targets)?;
    let appended = core.tables().append(&pending.ns, &pending.copy.table, rows, None)?;
    core.metrics().ingested(&pending.copy.table, appended);
    Ok(appended)
}

/// The rows of `data` as a frame of `targets`' names and types.
pub fn decode(data: &[u8], format: &CopyFormat, targets: &[(String, DataType)]) -> Result<DataFrame, CoreError> {
    let fields = match format {
        CopyFormat::Binary => binary_rows(data, targets.len())?,
        CopyFormat::Text { delimiter, null, header } => text_rows(data, delimiter.as_bytes()[0], null, *header)?,
        CopyFormat::Csv { delimiter, quote, null, header } => csv_rows(data, delimiter.as_bytes()[0], quote.as_bytes()[0], null, *header)?,
    };
    let height = fields.len();
    if let Some((line, row)) = fields.iter().enumerate().find(|(_, row)| row.len() != targets.len()) {
        return Err(invalid(format!(
            "COPY row {}: {} values for {} columns",
            line + 1,
            row.len(),
            targets.len()
        )));
    }
    let columns = targets
        .iter()
        .enumerate()
        .map(|(i, (name, dtype))| {
            let values: Vec<Option<&[u8]>> = fields.iter().map(|row| row[i].as_deref()).collect();
            match format {
                CopyFormat::Binary => binary_column(name, dtype, &values),
                _ => text_column(name, dtype, &values),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DataFrame::new(height, columns)?)
}

/// One row's fields, each its bytes or null: borrowed from the data where
/// they stand in it as they are (binary), owned where unescaped.
type Row<'a> = Vec<Option<Cow<'a, [u8]>>>;

/// PGCOPY: the signature, flags, a header extension; then per row a field
/// count and each field's length (-1 for null) and bytes; then -1.
fn binary_rows(data: &[u8], width: usize) -> Result<Vec<Row<'_>>, CoreError> {
    const SIGNATURE: &[u8] = b"PGCOPY\n\xFF\r\n\x00";
    let bad = |what: &str| invalid(format!("COPY binary data: {what}"));
    let mut reader = Reader { data, at: 0 };
    if reader.take(SIGNATURE.len()).ok() != Some(SIGNATURE) {
        return Err(bad("no PGCOPY signature"));
    }
    let _flags = reader.take(4)?;
    let extension = reader.u32()? as usize;
    reader.take(extension)?;
    let mut rows = Vec::new();
    // The data ends at the trailer, or (as PostgreSQL also takes it) where
    // a row would begin: ADBC sends no trailer.
    while !reader.done() {
        let count = reader.i16()?;
        if count == -1 {
            break;
        }
        if count as usize != width {
            return Err(bad(&format!("row {} has {count} fields for {width} columns", rows.len() + 1)));
        }
        let mut row = Vec::with_capacity(width);
        for _ in 0..width {
            let length = reader.u32()? as i32;
            row.push(if length < 0 { None } else { Some(Cow::Borrowed(reader.take(length as usize)?)) });
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Reads PGCOPY's big-endian fields in order.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CoreError> {
        let bytes = self.data.get(self.at..self.at + n).ok_or_else(|| invalid("COPY binary data: it ends inside a row"))?;
        self.at += n;
        Ok(bytes)
    }

    fn i16(&mut self) -> Result<i16, CoreError> {
        Ok(i16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }

    fn u32(&mut self) -> Result<u32, CoreError> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn done(&self) -> bool {
        self.at >= self.data.len()
    }
}

/// A column from binary fields, read by the column's type: integers by
/// their width (a client may send an int4 for a LONG), floats as float4 or
/// float8, timestamps as microseconds since 2000 (timestamp or
/// timestamptz) or days (date), text as UTF-8.
fn binary_column(name: &str, dtype: &DataType, values: &[Option<&[u8]>]) -> Result<Column, CoreError> {
    let bad = |len: usize| invalid(format!("COPY column {name}: a {len}-byte binary value is not a {dtype}"));
    let int = |v: &[u8]| -> Result<i64, CoreError> {
        Ok(match v.len() {
            1 => v[0] as i8 as i64,
            2 => i16::from_be_bytes(v.try_into().expect("2 bytes")) as i64,
            4 => i32::from_be_bytes(v.try_into().expect("4 bytes")) as i64,
            8 => i64::from_be_bytes(v.try_into().expect("8 bytes")),
            n => return Err(bad(n)),
        })
    };
    let each = |f: &dyn Fn(&[u8]) -> Result<i64, CoreError>| values.iter().map(|v| v.map(f).transpose()).collect::<Result<Vec<_>, _>>();
    let column = match dtype {
        DataType::Boolean => {
            let values = values
                .iter()
                .map(|v| v.map(|v| if v.len() == 1 { Ok(v[0] != 0) } else { Err(bad(v.len())) }).transpose())
                .collect::<Result<Vec<_>, _>>()?;
            Column::new(name.into(), values)
        },
        dt if dt.is_integer() => Column::new(name.into(), each(&int)?).strict_cast(dtype)?,
        DataType::Float32 | DataType::Float64 => {
            let values = values
                .iter()
                .map(|v| {
                    v.map(|v| match v.len() {
                        4 => Ok(f32::from_be_bytes(v.try_into().expect("4 bytes")) as f64),
                        8 => Ok(f64::from_be_bytes(v.try_into().expect("8 bytes"))),
                        n => Err(bad(n)),
                    })
                    .transpose()
                })
                .collect::<Result<Vec<_>, _>>()?;
            Column::new(name.into(), values).cast(dtype)?
        },
        DataType::String => {
            let values = values
                .iter()
                .map(|v| v.map(|v| std::str::from_utf8(v).map_err(|_| invalid(format!("COPY column {name}: a value is not UTF-8")))).transpose())
                .collect::<Result<Vec<_>, _>>()?;
            Column::new(name.into(), values)
        },
        DataType::Binary => Column::new(name.into(), values.iter().map(|v| v.map(|v| v.to_vec())).collect::<Vec<_>>()),
        DataType::Datetime(unit, _) => {
            // PostgreSQL's timestamp is 8 bytes, its date 4 (a QuestDB DATE
            // may be loaded from either).
            let micros = each(&|v: &[u8]| match v.len() {
                8 => Ok(int(v)? + PG_EPOCH_MICROS),
                4 => Ok((int(v)? + PG_EPOCH_DAYS) * 86_400_000_000),
                n => Err(bad(n)),
            })?;
            let micros = Column::new(name.into(), micros).cast(&DataType::Datetime(TimeUnit::Microseconds, None))?;
            micros.cast(&DataType::Datetime(*unit, None))?.cast(dtype)?
        },
        other => return Err(invalid(format!("COPY column {name}: {other} columns are not loaded by COPY"))),
    };
    Ok(column)
}

/// A column from text fields, each read as QuestDB reads a literal of the
/// column's type; booleans in PostgreSQL's spellings (`t`, `true`, `1`,
/// `yes`, `on`), bytes in its hex form (`\x00ff`).
fn text_column(name: &str, dtype: &DataType, values: &[Option<&[u8]>]) -> Result<Column, CoreError> {
    let texts = values
        .iter()
        .map(|v| v.map(|v| String::from_utf8(v.to_vec()).map_err(|_| invalid(format!("COPY column {name}: a value is not UTF-8")))).transpose())
        .collect::<Result<Vec<_>, _>>()?;
    match dtype {
        DataType::Boolean => {
            let values = texts
                .iter()
                .map(|t| {
                    t.as_deref()
                        .map(|t| match t.trim().to_ascii_lowercase().as_str() {
                            "t" | "true" | "1" | "yes" | "y" | "on" => Ok(true),
                            "f" | "false" | "0" | "no" | "n" | "off" => Ok(false),
                            _ => Err(invalid(format!("COPY column {name}: {t:?} is not a boolean"))),
                        })
                        .transpose()
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Column::new(name.into(), values))
        },
        DataType::Binary => {
            let values = texts
                .iter()
                .map(|t| {
                    t.as_deref()
                        .map(|t| match t.strip_prefix("\\x") {
                            Some(hex) => hex_bytes(hex).ok_or_else(|| invalid(format!("COPY column {name}: {t:?} is not bytea hex"))),
                            None => Ok(t.as_bytes().to_vec()),
                        })
                        .transpose()
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Column::new(name.into(), values))
        },
        _ => polaroid_questdb::statement::typed_column(name, dtype, &texts),
    }
}

fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

/// The lines of `data` (`\n` or `\r\n`), the header line skipped; text
/// format's end marker `\.` ends them.
fn lines(data: &[u8], header: bool) -> impl Iterator<Item = &[u8]> {
    data.split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .skip(usize::from(header))
        .take_while(|line| *line != b"\\.")
        .filter(|line| !line.is_empty())
}

/// Text format: fields split at the delimiter, the NULL string (before
/// unescaping) for null, backslash escapes undone (`\t`, `\n`, `\\`, octal
/// `\123`, hex `\x41`, ...).
fn text_rows(data: &[u8], delimiter: u8, null: &str, header: bool) -> Result<Vec<Row<'static>>, CoreError> {
    let mut rows = Vec::new();
    for line in lines(data, header) {
        let mut row = Vec::new();
        let mut field = Vec::new();
        let mut raw_start = 0;
        let mut i = 0;
        let finish = |field: &mut Vec<u8>, raw: &[u8], row: &mut Row<'static>| {
            row.push(if raw == null.as_bytes() { None } else { Some(Cow::Owned(std::mem::take(field))) });
            field.clear();
        };
        while i < line.len() {
            let b = line[i];
            if b == delimiter {
                finish(&mut field, &line[raw_start..i], &mut row);
                raw_start = i + 1;
            } else if b == b'\\' && i + 1 < line.len() {
                i += 1;
                let (byte, used) = unescape(&line[i..]);
                field.push(byte);
                i += used - 1;
            } else {
                field.push(b);
            }
            i += 1;
        }
        finish(&mut field, &line[raw_start..], &mut row);
        rows.push(row);
    }
    Ok(rows)
}

/// The byte a backslash escape stands for, and how many bytes after the
/// backslash it used.
fn unescape(rest: &[u8]) -> (u8, usize) {
    let octal = rest.iter().take(3).take_while(|b| (b'0'..=b'7').contains(b)).count();
    if octal > 0 {
        let value = rest[..octal].iter().fold(0u32, |v, b| v * 8 + (b - b'0') as u32);
        return (value as u8, octal);
    }
    match rest[0] {
        b'b' => (8, 1),
        b'f' => (12, 1),
        b'n' => (b'\n', 1),
        b'r' => (b'\r', 1),
        b't' => (b'\t', 1),
        b'v' => (11, 1),
        b'x' => {
            let hex = rest[1..].iter().take(2).take_while(|b| b.is_ascii_hexdigit()).count();
            match std::str::from_utf8(&rest[1..1 + hex]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(value) if hex > 0 => (value, 1 + hex),
                _ => (b'x', 1),
            }
        },
        other => (other, 1),
    }
}

/// CSV: fields split at the delimiter outside quotes, `""` a quote inside
/// them, line breaks inside quotes kept. An unquoted field equal to the
/// NULL string is null and a quoted one is text, so `""` is the empty
/// text beside the empty null: the distinction a CSV reader does not
/// report, which is why this reader is the door's.
fn csv_rows(data: &[u8], delimiter: u8, quote: u8, null: &str, header: bool) -> Result<Vec<Row<'static>>, CoreError> {
    let mut rows = Vec::new();
    let mut row: Row<'static> = Vec::new();
    let mut field = Vec::new();
    let (mut quoted, mut in_quotes, mut at_start) = (false, false, true);
    let mut i = 0;
    let end_field = |field: &mut Vec<u8>, quoted: bool, row: &mut Row<'static>| {
        let value = std::mem::take(field);
        row.push(if !quoted && value == null.as_bytes() { None } else { Some(Cow::Owned(value)) });
    };
    while i < data.len() {
        let b = data[i];
        if in_quotes {
            if b == quote && data.get(i + 1) == Some(&quote) {
                field.push(quote);
                i += 1;
            } else if b == quote {
                in_quotes = false;
            } else {
                field.push(b);
            }
        } else if b == quote {
            (in_quotes, quoted) = (true, true);
        } else if b == delimiter {
            end_field(&mut field, quoted, &mut row);
            quoted = false;
        } else if b == b'\n' || b == b'\r' {
            if b == b'\r' && data.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
            // A blank line holds no row.
            if !at_start {
                end_field(&mut field, quoted, &mut row);
                rows.push(std::mem::take(&mut row));
            }
            quoted = false;
            at_start = true;
            i += 1;
            continue;
        } else {
            field.push(b);
        }
        at_start = false;
        i += 1;
    }
    if in_quotes {
        return Err(invalid("COPY CSV data: a quoted field is not closed"));
    }
    if !at_start {
        end_field(&mut field, quoted, &mut row);
        rows.push(row);
    }
    // PostgreSQL's end-of-data marker, alone on its line.
    if rows.last().is_some_and(|r| r.len() == 1 && r[0].as_deref() == Some(b"\\.")) {
        rows.pop();
    }
    Ok(rows.into_iter().skip(usize::from(header)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(rows: &[Row]) -> Vec<Vec<Option<String>>> {
        rows.iter().map(|r| r.iter().map(|f| f.as_ref().map(|v| String::from_utf8(v.to_vec()).unwrap())).collect()).collect()
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn text_format_is_read_as_postgresql_writes_it() {
        let data = b"a\\tb\\\\c\t1\n\t\\N\r\n\\N\t3\nsay \\101\\x42 \\nnext\t4\n\\.\n";
        assert_eq!(
            cells(&text_rows(data, b'\t', "\\N", false).unwrap()),
            vec![vec![s("a\tb\\c"), s("1")], vec![s(""), None], vec![None, s("3")], vec![s("say AB \nnext"), s("4")]]
        );
        assert_eq!(cells(&text_rows(b"s|n\nx|NA\n", b'|', "NA", true).unwrap()), vec![vec![s("x"), None]]);
    }

    #[test]
    fn csv_tells_the_empty_text_from_null() {
        let data = b"s,n\nplain,1\n\"\",\n,3\n\"say \"\"hi\"\", ok\nnext\",4\r\n";
        assert_eq!(
            cells(&csv_rows(data, b',', b'"', "", true).unwrap()),
            vec![vec![s("plain"), s("1")], vec![s(""), None], vec![None, s("3")], vec![s("say \"hi\", ok\nnext"), s("4")]]
        );
        assert!(csv_rows(b"\"open,1\n", b',', b'"', "", false).is_err());
    }

    #[test]
    fn binary_rows_are_read_by_the_column_types() {
        let mut data = b"PGCOPY\n\xFF\r\n\x00".to_vec();
        data.extend(0i32.to_be_bytes());
        data.extend(0i32.to_be_bytes());
        // ts timestamp (2000-01-01 00:00:01), qty int4 into a LONG, px float8, s null.
        data.extend(4i16.to_be_bytes());
        data.extend(8i32.to_be_bytes());
        data.extend(1_000_000i64.to_be_bytes());
        data.extend(4i32.to_be_bytes());
        data.extend(7i32.to_be_bytes());
        data.extend(8i32.to_be_bytes());
        data.extend(1.5f64.to_be_bytes());
        data.extend((-1i32).to_be_bytes());
        data.extend((-1i16).to_be_bytes());
        let targets = [
            ("ts".to_string(), DataType::Datetime(TimeUnit::Microseconds, None)),
            ("qty".to_string(), DataType::Int64),
            ("px".to_string(), DataType::Float64),
            ("s".to_string(), DataType::String),
        ];
        let df = decode(&data, &CopyFormat::Binary, &targets).unwrap();
        assert_eq!(df.column("ts").unwrap().to_physical_repr().i64().unwrap().get(0), Some(946_684_801_000_000));
        assert_eq!(df.column("qty").unwrap().i64().unwrap().get(0), Some(7));
        assert_eq!(df.column("px").unwrap().f64().unwrap().get(0), Some(1.5));
        assert_eq!(df.column("s").unwrap().null_count(), 1);
        // A row cut short is refused, not read as far as it goes.
        assert!(decode(&data[..data.len() - 6], &CopyFormat::Binary, &targets).is_err());
    }
}
