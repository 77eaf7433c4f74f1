//! Values as QuestDB's HTTP API writes them: JSON for `/exec`, CSV for
//! `/exp`, with QuestDB's type names and ISO timestamps (`...Z`).

use polars::prelude::*;

/// QuestDB's name for a polars type, as `/exec` reports it in `columns`.
pub fn questdb_type(dtype: &DataType) -> String {
    match dtype {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "BYTE".into(),
        DataType::Int16 | DataType::UInt8 => "SHORT".into(),
        DataType::Int32 | DataType::UInt16 => "INT".into(),
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => "LONG".into(),
        DataType::Int128 | DataType::UInt128 => "LONG128".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::String => "VARCHAR".into(),
        DataType::Categorical(..) | DataType::Enum(..) => "SYMBOL".into(),
        DataType::Datetime(TimeUnit::Nanoseconds, _) => "TIMESTAMP_NS".into(),
        DataType::Datetime(..) => "TIMESTAMP".into(),
        DataType::Date => "DATE".into(),
        DataType::Binary | DataType::BinaryOffset => "BINARY".into(),
        DataType::Decimal(..) => "DECIMAL".into(),
        DataType::List(inner) | DataType::Array(inner, _) => format!("{}[]", questdb_type(inner)),
        DataType::Null => "NULL".into(),
        // Durations, times, structs, objects: sent as text.
        _ => "VARCHAR".into(),
    }
}

/// Which text format a [`RowWriter`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON arrays (`[1,"a",null]`); `quote_large` writes LONG as strings.
    Json { quote_large: bool },
    /// CSV rows; nulls are empty fields, text is quoted.
    Csv,
}

/// Writes the rows of one frame, one value at a time, column by column.
pub struct RowWriter<'a> {
    columns: Vec<Column<'a>>,
    format: Format,
}

/// One column, downcast once per batch so each value is a direct read.
enum Column<'a> {
    Bool(&'a BooleanChunked),
    /// BYTE, SHORT, INT: never quoted.
    Int(Int64Chunked),
    /// LONG: quoted under `quoteLargeNum`.
    I64(Int64Chunked),
    U64(&'a UInt64Chunked),
    F64(Float64Chunked),
    Str(&'a StringChunked),
    Text(StringChunked),
    Timestamp(&'a Int64Chunked, TimeUnit),
    Date(&'a Int32Chunked),
    Other(&'a Series),
}

impl<'a> RowWriter<'a> {
    /// `df` should be in one chunk per column (the writer reads by index).
    pub fn new(df: &'a DataFrame, format: Format) -> PolarsResult<Self> {
        let columns = df.columns().iter().map(|c| column(c.as_materialized_series())).collect::<PolarsResult<_>>()?;
        Ok(Self { columns, format })
    }

    /// Append row `row` to `out`: a JSON array or a CSV line (no newline).
    pub fn write_row(&self, row: usize, out: &mut Vec<u8>) {
        let json = matches!(self.format, Format::Json { .. });
        if json {
            out.push(b'[');
        }
        for (i, column) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            self.write_value(column, row, out);
        }
        if json {
            out.push(b']');
        }
    }

    fn null(&self, out: &mut Vec<u8>) {
        if matches!(self.format, Format::Json { .. }) {
            out.extend_from_slice(b"null");
        }
    }

    /// A LONG: quoted under `quoteLargeNum` (JavaScript loses digits past 2^53).
    fn long(&self, v: impl std::fmt::Display, out: &mut Vec<u8>) {
        let quoted = self.format == (Format::Json { quote_large: true });
        if quoted {
            out.push(b'"');
        }
        write_display(v, out);
        if quoted {
            out.push(b'"');
        }
    }

    fn text(&self, s: &str, out: &mut Vec<u8>) {
        match self.format {
            Format::Json { .. } => serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail"),
            Format::Csv => csv_quoted(s, out),
        }
    }

    fn write_value(&self, column: &Column<'_>, row: usize, out: &mut Vec<u8>) {
        match column {
            Column::Bool(ca) => match ca.get(row) {
                Some(v) => out.extend_from_slice(if v { b"true" } else { b"false" }),
                None => self.null(out),
            },
            Column::I64(ca) => match ca.get(row) {
                Some(v) => self.long(v, out),
                None => self.null(out),
            },
            Column::Int(ca) => match ca.get(row) {
                Some(v) => write_display(v, out),
                None => self.null(out),
            },
            Column::U64(ca) => match ca.get(row) {
                Some(v) => self.long(v, out),
                None => self.null(out),
            },
            // NaN and infinities have no JSON form; QuestDB writes null.
            Column::F64(ca) => match ca.get(row) {
                Some(v) if v.is_finite() => serde_json::to_writer(&mut *out, &v).expect("writing to a Vec cannot fail"),
                _ => self.null(out),
            },
            Column::Str(ca) => match ca.get(row) {
                Some(s) => self.text(s, out),
                None => self.null(out),
            },
            Column::Text(ca) => match ca.get(row) {
                Some(s) => self.text(s, out),
                None => self.null(out),
            },
            Column::Timestamp(ca, unit) => match ca.get(row) {
                Some(v) => self.text(&iso_timestamp(v, *unit), out),
                None => self.null(out),
            },
            Column::Date(ca) => match ca.get(row) {
                Some(days) => self.text(&iso_timestamp(days as i64 * 86_400_000, TimeUnit::Milliseconds), out),
                None => self.null(out),
            },
            Column::Other(s) => match s.get(row) {
                Ok(AnyValue::Null) | Err(_) => self.null(out),
                Ok(v) => self.text(&v.to_string(), out),
            },
        }
    }
}

fn column(s: &Series) -> PolarsResult<Column<'_>> {
    Ok(match s.dtype() {
        DataType::Boolean => Column::Bool(s.bool()?),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => {
            Column::Int(s.cast(&DataType::Int64)?.i64()?.clone())
        },
        DataType::UInt32 => Column::I64(s.cast(&DataType::Int64)?.i64()?.clone()),
        DataType::Int64 => Column::I64(s.i64()?.clone()),
        DataType::UInt64 => Column::U64(s.u64()?),
        DataType::Float32 => Column::F64(s.cast(&DataType::Float64)?.f64()?.clone()),
        DataType::Float64 => Column::F64(s.f64()?.clone()),
        DataType::String => Column::Str(s.str()?),
        DataType::Categorical(..) | DataType::Enum(..) => Column::Text(s.cast(&DataType::String)?.str()?.clone()),
        DataType::Datetime(unit, _) => Column::Timestamp(s.datetime()?.physical(), *unit),
        DataType::Date => Column::Date(s.date()?.physical()),
        _ => Column::Other(s),
    })
}

/// An instant as QuestDB writes it: UTC, `Z`, microseconds (nanoseconds
/// for a nanosecond column, milliseconds for DATE).
pub fn iso_timestamp(value: i64, unit: TimeUnit) -> String {
    let (secs, nanos, format) = match unit {
        TimeUnit::Nanoseconds => (value.div_euclid(1_000_000_000), value.rem_euclid(1_000_000_000), "%Y-%m-%dT%H:%M:%S%.9fZ"),
        TimeUnit::Microseconds => (value.div_euclid(1_000_000), value.rem_euclid(1_000_000) * 1000, "%Y-%m-%dT%H:%M:%S%.6fZ"),
        TimeUnit::Milliseconds => (value.div_euclid(1000), value.rem_euclid(1000) * 1_000_000, "%Y-%m-%dT%H:%M:%S%.3fZ"),
    };
    match chrono::DateTime::from_timestamp(secs, nanos as u32) {
        Some(t) => t.format(format).to_string(),
        // Outside chrono's range (about ±262,000 years): the raw number.
        None => value.to_string(),
    }
}

fn write_display(v: impl std::fmt::Display, out: &mut Vec<u8>) {
    use std::io::Write;
    write!(out, "{v}").expect("writing to a Vec cannot fail");
}

/// A CSV field in double quotes, inner quotes doubled (RFC 4180).
pub fn csv_quoted(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for b in s.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_iso_with_the_unit_s_digits() {
        // 2026-11-23T14:30:00.123456Z
        let us = 1_795_444_200_123_456i64;
        assert_eq!(iso_timestamp(us, TimeUnit::Microseconds), "2026-11-23T14:30:00.123456Z");
        assert_eq!(iso_timestamp(us * 1000 + 7, TimeUnit::Nanoseconds), "2026-11-23T14:30:00.123456007Z");
        assert_eq!(iso_timestamp(us / 1000, TimeUnit::Milliseconds), "2026-11-23T14:30:00.123Z");
        assert_eq!(iso_timestamp(-1, TimeUnit::Microseconds), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn rows_render_as_json_and_csv() {
        let df = df!(
            "b" => [Some(true), None],
            "i" => [Some(1i32), None],
            "l" => [Some(9_007_199_254_740_993i64), Some(-2)],
            "f" => [Some(1.5f64), Some(f64::NAN)],
            "s" => [Some("a\"b"), None],
        )
        .unwrap();
        let render = |format, row| {
            let mut out = Vec::new();
            RowWriter::new(&df, format).unwrap().write_row(row, &mut out);
            String::from_utf8(out).unwrap()
        };
        let json = Format::Json { quote_large: false };
        assert_eq!(render(json, 0), r#"[true,1,9007199254740993,1.5,"a\"b"]"#);
        assert_eq!(render(json, 1), "[null,null,-2,null,null]");
        assert_eq!(render(Format::Json { quote_large: true }, 0), r#"[true,1,"9007199254740993",1.5,"a\"b"]"#);
        assert_eq!(render(Format::Csv, 0), r#"true,1,9007199254740993,1.5,"a""b""#);
        assert_eq!(render(Format::Csv, 1), ",,-2,,");
    }
}
