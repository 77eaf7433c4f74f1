//! Values as QuestDB's HTTP API writes them: JSON for `/exec`, CSV for
//! `/exp`, with QuestDB's type names and ISO timestamps (`...Z`).

use std::cell::Cell;

use chrono::Datelike;
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
    Timestamp(&'a Int64Chunked, TimeUnit, IsoWriter),
    Date(&'a Int32Chunked, IsoWriter),
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
    fn long(&self, v: impl itoa::Integer, out: &mut Vec<u8>) {
        let quoted = self.format == (Format::Json { quote_large: true });
        if quoted {
            out.push(b'"');
        }
        write_integer(v, out);
        if quoted {
            out.push(b'"');
        }
    }

    /// An instant, quoted in both formats (its text needs no escaping).
    fn instant(&self, iso: &IsoWriter, value: i64, unit: TimeUnit, out: &mut Vec<u8>) {
        out.push(b'"');
        iso.write(value, unit, out);
        out.push(b'"');
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
                Some(v) => write_integer(v, out),
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
            Column::Timestamp(ca, unit, iso) => match ca.get(row) {
                Some(v) => self.instant(iso, v, *unit, out),
                None => self.null(out),
            },
            Column::Date(ca, iso) => match ca.get(row) {
                Some(days) => self.instant(iso, days as i64 * 86_400_000, TimeUnit::Milliseconds, out),
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
        DataType::Datetime(unit, _) => Column::Timestamp(s.datetime()?.physical(), *unit, IsoWriter::default()),
        DataType::Date => Column::Date(s.date()?.physical(), IsoWriter::default()),
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

/// Writes instants as [`iso_timestamp`] does, without its cost: chrono's
/// `format` parses its pattern again for every value, which was most of
/// `/exp`'s time. The date's text is kept for the last day written, as a
/// column's neighbouring rows are mostly on the same day.
#[derive(Default)]
pub struct IsoWriter {
    last_day: Cell<Option<(i64, [u8; 11])>>,
}

/// 0001-01-01 is day 1 of the common era; 1970-01-01 is this one.
const UNIX_EPOCH_CE_DAY: i64 = 719_163;

impl IsoWriter {
    pub fn write(&self, value: i64, unit: TimeUnit, out: &mut Vec<u8>) {
        let (per_second, digits) = match unit {
            TimeUnit::Nanoseconds => (1_000_000_000, 9),
            TimeUnit::Microseconds => (1_000_000, 6),
            TimeUnit::Milliseconds => (1_000, 3),
        };
        let seconds = value.div_euclid(per_second);
        let Some(date) = self.date_text(seconds.div_euclid(86_400)) else {
            out.extend_from_slice(iso_timestamp(value, unit).as_bytes());
            return;
        };
        let second_of_day = seconds.rem_euclid(86_400);
        out.extend_from_slice(&date);
        push_two_digits(second_of_day / 3600, out);
        out.push(b':');
        push_two_digits(second_of_day / 60 % 60, out);
        out.push(b':');
        push_two_digits(second_of_day % 60, out);
        out.push(b'.');
        let mut fraction = value.rem_euclid(per_second);
        let mut text = [b'0'; 9];
        for digit in text[..digits].iter_mut().rev() {
            *digit = b'0' + (fraction % 10) as u8;
            fraction /= 10;
        }
        out.extend_from_slice(&text[..digits]);
        out.push(b'Z');
    }

    /// "YYYY-MM-DDT" of a day counted from 1970-01-01; None outside years
    /// 0–9999, which chrono writes with a sign (and more digits).
    fn date_text(&self, day: i64) -> Option<[u8; 11]> {
        if let Some((last, text)) = self.last_day.get() {
            if last == day {
                return Some(text);
            }
        }
        let ce_day = i32::try_from(day.checked_add(UNIX_EPOCH_CE_DAY)?).ok()?;
        let date = chrono::NaiveDate::from_num_days_from_ce_opt(ce_day)?;
        let year = date.year();
        if !(0..=9999).contains(&year) {
            return None;
        }
        let mut text = *b"0000-00-00T";
        let mut y = year as u32;
        for digit in text[..4].iter_mut().rev() {
            *digit = b'0' + (y % 10) as u8;
            y /= 10;
        }
        text[5..7].copy_from_slice(&two_digits(date.month() as i64));
        text[8..10].copy_from_slice(&two_digits(date.day() as i64));
        self.last_day.set(Some((day, text)));
        Some(text)
    }
}

fn two_digits(n: i64) -> [u8; 2] {
    [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]
}

fn push_two_digits(n: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(&two_digits(n));
}

fn write_integer(v: impl itoa::Integer, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// A CSV field in double quotes, inner quotes doubled (RFC 4180).
pub fn csv_quoted(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let mut rest = s;
    while let Some(at) = rest.find('"') {
        out.extend_from_slice(&rest.as_bytes()[..=at]);
        out.push(b'"');
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest.as_bytes());
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prop_assert_eq;

    #[test]
    fn timestamps_are_utc_iso_with_the_unit_s_digits() {
        // 2026-11-23T14:30:00.123456Z
        let us = 1_795_444_200_123_456i64;
        assert_eq!(iso_timestamp(us, TimeUnit::Microseconds), "2026-11-23T14:30:00.123456Z");
        assert_eq!(iso_timestamp(us * 1000 + 7, TimeUnit::Nanoseconds), "2026-11-23T14:30:00.123456007Z");
        assert_eq!(iso_timestamp(us / 1000, TimeUnit::Milliseconds), "2026-11-23T14:30:00.123Z");
        assert_eq!(iso_timestamp(-1, TimeUnit::Microseconds), "1969-12-31T23:59:59.999999Z");
    }

    /// The writer against chrono's own formatting (`iso_timestamp`), over
    /// every unit, inside and outside years 0–9999.
    fn same_as_chrono(values: &[i64], unit: TimeUnit) {
        let iso = IsoWriter::default();
        for &v in values {
            let mut out = Vec::new();
            iso.write(v, unit, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), iso_timestamp(v, unit), "{v} {unit:?}");
        }
    }

    // 0000-01-01 and 9999-12-31T23:59:59.999999 in microseconds.
    const YEAR_0_US: i64 = -62_167_219_200_000_000;
    const YEAR_9999_END_US: i64 = 253_402_300_799_999_999;

    proptest::proptest! {
        #[test]
        fn instants_are_written_as_chrono_writes_them(
            us in YEAR_0_US - 86_400_000_000..YEAR_9999_END_US + 86_400_000_000,
            step in 0i64..100_000_000_000,
            any in proptest::prelude::any::<i64>(),
        ) {
            // Neighbouring values (the cached day, and across midnight) and
            // one from anywhere, in each unit.
            let run = [us, us + step, us + 2 * step, us - step, any];
            same_as_chrono(&run, TimeUnit::Microseconds);
            same_as_chrono(&run.map(|v| v.saturating_mul(1000).saturating_add(any.rem_euclid(1000))), TimeUnit::Nanoseconds);
            same_as_chrono(&run.map(|v| v.div_euclid(1000)), TimeUnit::Milliseconds);
        }

        #[test]
        fn csv_fields_double_their_quotes(s in "[a\"b,\n é]{0,12}") {
            let mut out = Vec::new();
            csv_quoted(&s, &mut out);
            prop_assert_eq!(String::from_utf8(out).unwrap(), format!("\"{}\"", s.replace('"', "\"\"")));
        }
    }

    #[test]
    fn instants_at_the_edges_are_written_as_chrono_writes_them() {
        let edges = [
            0,
            -1,
            YEAR_0_US,
            YEAR_0_US - 1,
            YEAR_9999_END_US,
            YEAR_9999_END_US + 1,
            i64::MIN,
            i64::MAX,
            // 2024-02-29 and the midnight after it.
            1_709_164_800_000_000,
            1_709_251_199_999_999,
            1_709_251_200_000_000,
        ];
        for unit in [TimeUnit::Nanoseconds, TimeUnit::Microseconds, TimeUnit::Milliseconds] {
            same_as_chrono(&edges, unit);
        }
        // Written by hand, so the oracle is checked too.
        let mut out = Vec::new();
        IsoWriter::default().write(1_709_251_199_999_999, TimeUnit::Microseconds, &mut out);
        assert_eq!(out, b"2024-02-29T23:59:59.999999Z");
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

        let t = Series::new("t".into(), [Some(1_709_251_199_999_999i64), None]);
        let d = Series::new("d".into(), [Some(19_782i32), Some(-1)]);
        let df = DataFrame::new_infer_height(vec![
            t.cast(&DataType::Datetime(TimeUnit::Microseconds, None)).unwrap().into(),
            d.cast(&DataType::Date).unwrap().into(),
        ])
        .unwrap();
        let render = |format, row| {
            let mut out = Vec::new();
            RowWriter::new(&df, format).unwrap().write_row(row, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(render(json, 0), r#"["2024-02-29T23:59:59.999999Z","2024-02-29T00:00:00.000Z"]"#);
        assert_eq!(render(json, 1), r#"[null,"1969-12-31T00:00:00.000Z"]"#);
        assert_eq!(render(Format::Csv, 1), r#","1969-12-31T00:00:00.000Z""#);
    }
}
