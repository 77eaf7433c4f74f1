//! Results in PostgreSQL's types: each polars column gets the type a
//! PostgreSQL driver turns into the value a user expects (a zoned
//! timestamp is a `timestamptz`, so psycopg answers an aware datetime),
//! and rows are encoded on the blocking pool as the query streams: as
//! data rows here, as COPY data in `copy.rs`.

use std::sync::Arc;

use bytes::BytesMut;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use pg_interval::Interval;
use pgwire::api::portal::Format;
use pgwire::api::results::{CopyEncoder, DataRowEncoder, FieldInfo};
use pgwire::api::Type;
use pgwire::error::PgWireResult;
use pgwire::messages::data::DataRow;
use pgwire::types::format::FormatOptions;
use pgwire::types::ToSqlText;
use postgres_types::{to_sql_checked, IsNull, ToSql};
use polaroid_core::results::ResultSink;
use polaroid_core::CoreError;
use polars::prelude::*;
use rust_decimal::Decimal;

/// Rows are handed to the connection this many at a time.
const ROWS_PER_MESSAGE: usize = 1024;

/// The PostgreSQL type a column of `dtype` is sent as.
pub fn pg_type(name: &str, dtype: &DataType) -> Result<Type, CoreError> {
    Ok(match dtype {
        DataType::Boolean => Type::BOOL,
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => Type::INT2,
        DataType::Int32 | DataType::UInt16 => Type::INT4,
        DataType::Int64 | DataType::UInt32 => Type::INT8,
        // PostgreSQL has no unsigned 64-bit or 128-bit integer: NUMERIC holds them exactly.
        DataType::UInt64 | DataType::Int128 | DataType::UInt128 | DataType::Decimal(_, _) => Type::NUMERIC,
        DataType::Float16 | DataType::Float32 => Type::FLOAT4,
        DataType::Float64 => Type::FLOAT8,
        DataType::String | DataType::Categorical(_, _) | DataType::Enum(_, _) => Type::VARCHAR,
        DataType::Binary | DataType::BinaryOffset => Type::BYTEA,
        DataType::Date => Type::DATE,
        DataType::Datetime(_, None) => Type::TIMESTAMP,
        DataType::Datetime(_, Some(_)) => Type::TIMESTAMPTZ,
        DataType::Time => Type::TIME,
        DataType::Duration(_) => Type::INTERVAL,
        DataType::Null => Type::TEXT,
        // A list of scalars is a one-dimensional array of their type.
        DataType::List(inner) | DataType::Array(inner, _) if !inner.is_nested() => {
            let member = pg_type(name, inner)?;
            match crate::catalog::array_type(&member) {
                Some(array) => array,
                None => return Err(CoreError::InvalidArgument(format!("column {name:?} is {dtype}, which the PostgreSQL door does not send"))),
            }
        },
        other => {
            return Err(CoreError::InvalidArgument(format!(
                "column {name:?} is {other}, which the PostgreSQL door does not send: select scalar columns or lists \
                 of them (UNNEST a nested list, or cast it to text)"
            )))
        },
    })
}

/// The row description of `schema`, each column in `format`'s text or
/// binary encoding.
pub fn fields(schema: &Schema, format: &Format) -> Result<Vec<FieldInfo>, CoreError> {
    schema
        .iter()
        .enumerate()
        .map(|(i, (name, dtype))| {
            let format = format_for(format, i);
            Ok(FieldInfo::new(name.to_string(), None, None, pg_type(name, dtype)?, format))
        })
        .collect()
}

/// A client may name one format for all columns, or one per column; a
/// list of the wrong length is read as text rather than indexed past its end.
fn format_for(format: &Format, column: usize) -> pgwire::api::results::FieldFormat {
    match format {
        Format::Individual(codes) if column >= codes.len() => pgwire::api::results::FieldFormat::Text,
        format => format.format_for(column),
    }
}

/// Streams a result as PostgreSQL data rows.
pub struct RowSink {
    fields: Arc<Vec<FieldInfo>>,
}

impl RowSink {
    pub fn new(fields: Arc<Vec<FieldInfo>>) -> Self {
        Self { fields }
    }
}

impl ResultSink for RowSink {
    type Message = Vec<DataRow>;

    fn head(&mut self) -> Vec<Self::Message> {
        Vec::new()
    }

    fn batch(&mut self, df: &DataFrame, send: &mut dyn FnMut(Self::Message) -> bool) -> Result<bool, CoreError> {
        let mut encoder = DataRowEncoder::new(self.fields.clone());
        each_row(df, &mut encoder, DataRowEncoder::take_row, send)
    }

    fn tail(&mut self) -> Vec<Self::Message> {
        Vec::new()
    }
}

/// Each row of `df` written field by field into `writer`, made a message
/// by `take`, and handed to `send` [`ROWS_PER_MESSAGE`] at a time. Returns
/// false as soon as `send` does (the receiver went away).
pub(crate) fn each_row<W: FieldWriter, M>(
    df: &DataFrame,
    writer: &mut W,
    mut take: impl FnMut(&mut W) -> M,
    send: &mut dyn FnMut(Vec<M>) -> bool,
) -> Result<bool, CoreError> {
    let mut df = df.clone();
    df.rechunk_mut_par();
    let columns = Prepared::columns(&df)?;
    let mut messages = Vec::with_capacity(ROWS_PER_MESSAGE.min(df.height()));
    for row in 0..df.height() {
        for column in &columns {
            column.encode(row, writer).map_err(|e| CoreError::InvalidArgument(format!("encoding a value: {e}")))?;
        }
        messages.push(take(writer));
        if messages.len() == ROWS_PER_MESSAGE && !send(std::mem::replace(&mut messages, Vec::with_capacity(ROWS_PER_MESSAGE))) {
            return Ok(false);
        }
    }
    Ok(messages.is_empty() || send(messages))
}

/// Where a row's values are written: a data row, or a line of COPY data.
pub(crate) trait FieldWriter {
    fn field<T: ToSql + ToSqlText + Sized>(&mut self, value: &T) -> PgWireResult<()>;
}

impl FieldWriter for DataRowEncoder {
    fn field<T: ToSql + ToSqlText + Sized>(&mut self, value: &T) -> PgWireResult<()> {
        self.encode_field(value)
    }
}

impl FieldWriter for CopyEncoder {
    fn field<T: ToSql + ToSqlText + Sized>(&mut self, value: &T) -> PgWireResult<()> {
        self.encode_field(value)
    }
}

/// A column cast to what its PostgreSQL type is encoded from.
pub(crate) enum Prepared {
    Bool(BooleanChunked),
    I16(Int16Chunked),
    I32(Int32Chunked),
    I64(Int64Chunked),
    U64(UInt64Chunked),
    I128(Int128Chunked),
    F32(Float32Chunked),
    F64(Float64Chunked),
    Text(StringChunked),
    Bytes(BinaryChunked),
    Date(Int32Chunked),
    /// Microseconds since the epoch (PostgreSQL's precision), naive or UTC.
    Timestamp(Int64Chunked, bool),
    /// Nanoseconds since midnight.
    Time(Int64Chunked),
    /// Microseconds.
    Interval(Int64Chunked),
    Decimal(Int128Chunked, u32),
    Null,
    /// A list of scalars of `inner`, sent as an array of `member`.
    List(ListChunked, DataType, Type),
}

fn micros(s: &Series, unit: TimeUnit) -> Result<Int64Chunked, CoreError> {
    let physical = s.to_physical_repr();
    let values = physical.i64()?;
    // Nanoseconds are floored to PostgreSQL's microseconds, as it rounds a
    // value it cannot hold to its precision.
    Ok(match unit {
        TimeUnit::Nanoseconds => values.apply_values(|v| v.div_euclid(1000)),
        TimeUnit::Microseconds => values.clone(),
        TimeUnit::Milliseconds => values.apply_values(|v| v * 1000),
    })
}

impl Prepared {
    /// Each column of `df` (rechunked), prepared.
    pub(crate) fn columns(df: &DataFrame) -> Result<Vec<Self>, CoreError> {
        df.columns().iter().map(|c| Self::of(c.as_materialized_series())).collect()
    }

    fn of(s: &Series) -> Result<Self, CoreError> {
        let cast = |to: &DataType| s.cast(to);
        Ok(match s.dtype() {
            DataType::Boolean => Self::Bool(s.bool()?.clone()),
            DataType::Int8 | DataType::Int16 | DataType::UInt8 => Self::I16(cast(&DataType::Int16)?.i16()?.clone()),
            DataType::Int32 | DataType::UInt16 => Self::I32(cast(&DataType::Int32)?.i32()?.clone()),
            DataType::Int64 | DataType::UInt32 => Self::I64(cast(&DataType::Int64)?.i64()?.clone()),
            DataType::UInt64 => Self::U64(s.u64()?.clone()),
            DataType::Int128 | DataType::UInt128 => Self::I128(cast(&DataType::Int128)?.i128()?.clone()),
            DataType::Float16 | DataType::Float32 => Self::F32(cast(&DataType::Float32)?.f32()?.clone()),
            DataType::Float64 => Self::F64(s.f64()?.clone()),
            DataType::String | DataType::Categorical(_, _) | DataType::Enum(_, _) => {
                Self::Text(cast(&DataType::String)?.str()?.clone())
            },
            DataType::Binary | DataType::BinaryOffset => Self::Bytes(cast(&DataType::Binary)?.binary()?.clone()),
            DataType::Date => Self::Date(s.to_physical_repr().i32()?.clone()),
            DataType::Datetime(unit, zone) => Self::Timestamp(micros(s, *unit)?, zone.is_some()),
            DataType::Time => Self::Time(s.to_physical_repr().i64()?.clone()),
            DataType::Duration(unit) => Self::Interval(micros(s, *unit)?),
            DataType::Decimal(_, scale) => Self::Decimal(s.to_physical_repr().i128()?.clone(), *scale as u32),
            DataType::Null => Self::Null,
            DataType::List(inner) | DataType::Array(inner, _) if !inner.is_nested() => {
                let member = pg_type(s.name(), inner)?;
                Self::List(cast(&DataType::List(inner.clone()))?.list()?.clone(), inner.as_ref().clone(), member)
            },
            other => return Err(CoreError::InvalidArgument(format!("column {:?} is {other}, which the PostgreSQL door does not send", s.name()))),
        })
    }

    pub(crate) fn encode(&self, row: usize, out: &mut impl FieldWriter) -> PgWireResult<()> {
        match self {
            Self::Bool(c) => out.field(&c.get(row)),
            Self::I16(c) => out.field(&c.get(row)),
            Self::I32(c) => out.field(&c.get(row)),
            Self::I64(c) => out.field(&c.get(row)),
            Self::U64(c) => out.field(&c.get(row).map(Decimal::from)),
            Self::I128(c) => out.field(&c.get(row).map(|v| decimal(v, 0)).transpose()?),
            Self::F32(c) => out.field(&c.get(row).map(Float::Single)),
            Self::F64(c) => out.field(&c.get(row).map(Float::Double)),
            Self::Text(c) => out.field(&c.get(row)),
            Self::Bytes(c) => out.field(&c.get(row)),
            Self::Date(c) => out.field(&c.get(row).and_then(date)),
            Self::Timestamp(c, false) => {
                out.field(&c.get(row).and_then(DateTime::from_timestamp_micros).map(|t| Clock::Timestamp(t.naive_utc())))
            },
            Self::Timestamp(c, true) => out.field(&c.get(row).and_then(DateTime::<Utc>::from_timestamp_micros).map(Clock::TimestampTz)),
            Self::Time(c) => out.field(&c.get(row).and_then(time).map(Clock::Time)),
            Self::Interval(c) => out.field(&c.get(row).map(|us| Interval::new(0, 0, us))),
            Self::Decimal(c, scale) => out.field(&c.get(row).map(|v| decimal(v, *scale)).transpose()?),
            Self::Null => out.field(&None::<&str>),
            Self::List(c, inner, member) => {
                let array = c.get_as_series(row).map(|list| EncodedArray::of(&list, inner, member)).transpose()?;
                out.field(&array)
            },
        }
    }
}

/// A float as PostgreSQL writes it. In binary, its IEEE bytes. In text,
/// with the server's default `extra_float_digits` (1, what psql, psycopg
/// and node-postgres read), the shortest digits that read back as the same
/// value, plain between 1e-4 and 1e15 (1e6 for a `real`) and in exponent
/// form (`1e+20`, `1.5e-07`) beyond; infinities are `Infinity`, as
/// Java's and JavaScript's parsers read them (pgwire wrote `100.0` and
/// `inf`). Fewer digits asked for (`extra_float_digits` below 1) are
/// pgwire's rounding.
#[derive(Debug, Clone, Copy)]
enum Float {
    Single(f32),
    Double(f64),
}

impl Float {
    /// PostgreSQL's shortest text of a finite, non-zero value.
    fn shortest(&self) -> String {
        // Rust's `{:e}` is the shortest round-trip digits: `1.5e-7`.
        let (scientific, plain_below) = match self {
            Float::Single(v) => (format!("{v:e}"), 6),
            Float::Double(v) => (format!("{v:e}"), 15),
        };
        let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let (sign, mantissa) = mantissa.strip_prefix('-').map_or(("", mantissa), |m| ("-", m));
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        if !(-4..plain_below).contains(&exponent) {
            let fraction = if digits.len() > 1 { format!(".{}", &digits[1..]) } else { String::new() };
            let exponent_sign = if exponent < 0 { '-' } else { '+' };
            return format!("{sign}{}{fraction}e{exponent_sign}{:02}", &digits[..1], exponent.abs());
        }
        // Plain: the digits with the point placed by the exponent.
        let point = exponent + 1;
        if point <= 0 {
            format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!("{sign}{digits}{}", "0".repeat(point as usize - digits.len()))
        } else {
            format!("{sign}{}.{}", &digits[..point as usize], &digits[point as usize..])
        }
    }
}

impl ToSql for Float {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Float::Single(v) => v.to_sql(ty, out),
            Float::Double(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::FLOAT4 | Type::FLOAT8)
    }

    to_sql_checked!();
}

impl ToSqlText for Float {
    fn to_sql_text(&self, ty: &Type, out: &mut BytesMut, format: &FormatOptions) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let value = match self {
            Float::Single(v) => f64::from(*v),
            Float::Double(v) => *v,
        };
        let text = if value.is_nan() {
            "NaN".to_string()
        } else if value.is_infinite() {
            if value > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
        } else if value == 0.0 {
            if value.is_sign_negative() { "-0" } else { "0" }.to_string()
        } else if format.extra_float_digits >= 1 {
            self.shortest()
        } else {
            return match self {
                Float::Single(v) => v.to_sql_text(ty, out, format),
                Float::Double(v) => v.to_sql_text(ty, out, format),
            };
        };
        out.extend_from_slice(text.as_bytes());
        Ok(IsNull::No)
    }
}

/// One row's list as a PostgreSQL array: each element encoded both ways
/// by the scalars' own encoders, for the array in either format.
#[derive(Debug)]
struct EncodedArray {
    member: Type,
    /// Each element's (binary, text) form; `None` is NULL.
    elements: Vec<Option<(bytes::Bytes, bytes::Bytes)>>,
}

impl EncodedArray {
    fn of(list: &Series, inner: &DataType, member: &Type) -> PgWireResult<Self> {
        let failed = |e: PolarsError| pgwire::error::PgWireError::ApiError(e.to_string().into());
        // A row of a list comes out as its physical values (a timestamp's
        // integers): read as the list's own type again.
        let list = list.cast(inner).map_err(failed)?;
        let prepared = Prepared::of(&list).map_err(|e| pgwire::error::PgWireError::ApiError(e.to_string().into()))?;
        let mut array = EncodedArray { member: member.clone(), elements: Vec::with_capacity(list.len()) };
        for i in 0..list.len() {
            prepared.encode(i, &mut array)?;
        }
        Ok(array)
    }
}

/// Each element of an array, as `Prepared::encode` writes it.
impl FieldWriter for EncodedArray {
    fn field<T: ToSql + ToSqlText + Sized>(&mut self, value: &T) -> PgWireResult<()> {
        let failed = |e: Box<dyn std::error::Error + Sync + Send>| pgwire::error::PgWireError::ApiError(e);
        let mut binary = BytesMut::new();
        if let IsNull::Yes = value.to_sql(&self.member, &mut binary).map_err(failed)? {
            self.elements.push(None);
            return Ok(());
        }
        let mut text = BytesMut::new();
        value.to_sql_text(&self.member, &mut text, &FormatOptions::default()).map_err(failed)?;
        self.elements.push(Some((binary.freeze(), text.freeze())));
        Ok(())
    }
}

/// PostgreSQL's binary array: dimensions (one, or none when empty), a
/// flag for NULLs, the member's oid, the length and lower bound (1), then
/// each element's length (-1 for NULL) and bytes.
impl ToSql for EncodedArray {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use bytes::BufMut;
        out.put_i32(if self.elements.is_empty() { 0 } else { 1 });
        out.put_i32(i32::from(self.elements.iter().any(Option::is_none)));
        out.put_u32(self.member.oid());
        if !self.elements.is_empty() {
            out.put_i32(i32::try_from(self.elements.len())?);
            out.put_i32(1);
        }
        for element in &self.elements {
            match element {
                None => out.put_i32(-1),
                Some((binary, _)) => {
                    out.put_i32(i32::try_from(binary.len())?);
                    out.put_slice(binary);
                },
            }
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), postgres_types::Kind::Array(_))
    }

    to_sql_checked!();
}

/// PostgreSQL's array literal, `{1.5,NULL,"a b"}`: an element is quoted
/// (its `"` and `\` escaped) when it is empty, is `NULL` as text, or holds
/// a brace, comma, quote, backslash or white space, as PostgreSQL writes it.
impl ToSqlText for EncodedArray {
    fn to_sql_text(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
        _format: &FormatOptions,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(b"{");
        for (i, element) in self.elements.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b",");
            }
            let Some((_, text)) = element else {
                out.extend_from_slice(b"NULL");
                continue;
            };
            let quoted = text.is_empty()
                || text.eq_ignore_ascii_case(b"null")
                || text.iter().any(|b| matches!(b, b'{' | b'}' | b',' | b'"' | b'\\') || b.is_ascii_whitespace());
            if !quoted {
                out.extend_from_slice(text);
                continue;
            }
            out.extend_from_slice(b"\"");
            for &b in text.iter() {
                if b == b'"' || b == b'\\' {
                    out.extend_from_slice(b"\\");
                }
                out.extend_from_slice(&[b]);
            }
            out.extend_from_slice(b"\"");
        }
        out.extend_from_slice(b"}");
        Ok(IsNull::No)
    }
}

fn date(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(719_163)?)
}

fn time(nanos: i64) -> Option<NaiveTime> {
    NaiveTime::from_num_seconds_from_midnight_opt((nanos / 1_000_000_000) as u32, (nanos % 1_000_000_000) as u32)
}

/// A NUMERIC of `mantissa` × 10^-`scale`; rust_decimal holds 28 digits,
/// and a value past them is refused by name rather than rounded.
fn decimal(mantissa: i128, scale: u32) -> PgWireResult<Decimal> {
    Decimal::try_from_i128_with_scale(mantissa, scale).map_err(|_| {
        pgwire::error::PgWireError::ApiError(
            format!("the decimal {mantissa}e-{scale} has more than the 28 digits the PostgreSQL door sends").into(),
        )
    })
}

/// Times as PostgreSQL writes them in text: the fraction of a second only
/// when there is one, without trailing zeros (`14:30:01.25`, `00:00:00`),
/// so psql shows what it shows for PostgreSQL. Binary is chrono's.
#[derive(Debug)]
enum Clock {
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<Utc>),
    Time(NaiveTime),
}

impl Clock {
    fn write(&self, out: &mut BytesMut) -> std::fmt::Result {
        use std::fmt::Write;
        let (text, micros) = match self {
            Clock::Timestamp(t) => (t.format("%Y-%m-%d %H:%M:%S").to_string(), t.and_utc().timestamp_subsec_micros()),
            Clock::TimestampTz(t) => (t.format("%Y-%m-%d %H:%M:%S").to_string(), t.timestamp_subsec_micros()),
            Clock::Time(t) => (t.format("%H:%M:%S").to_string(), t.nanosecond() / 1000),
        };
        out.write_str(&text)?;
        if micros > 0 {
            let fraction = format!("{micros:06}");
            write!(out, ".{}", fraction.trim_end_matches('0'))?;
        }
        if let Clock::TimestampTz(_) = self {
            out.write_str("+00")?;
        }
        Ok(())
    }
}

impl ToSql for Clock {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Clock::Timestamp(t) => t.to_sql(ty, out),
            Clock::TimestampTz(t) => t.to_sql(ty, out),
            Clock::Time(t) => t.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::TIMESTAMP | Type::TIMESTAMPTZ | Type::TIME)
    }

    to_sql_checked!();
}

impl ToSqlText for Clock {
    fn to_sql_text(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
        _format: &FormatOptions,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.write(out)?;
        Ok(IsNull::No)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<T: ToSqlText>(value: &T, ty: &Type) -> String {
        let mut out = BytesMut::new();
        value.to_sql_text(ty, &mut out, &FormatOptions::default()).unwrap();
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn floats_read_as_postgresql_writes_them() {
        // PostgreSQL 15's text for the same values (float8, then real).
        let doubles = [(100.0, "100"), (1e20, "1e+20"), (1.5e-7, "1.5e-07"), (1e15, "1e+15"), (1e14, "100000000000000"),
                       (0.0001, "0.0001"), (1e-5, "1e-05"), (-2.5, "-2.5"), (f64::INFINITY, "Infinity"), (-0.0, "-0")];
        for (value, want) in doubles {
            assert_eq!(text(&Float::Double(value), &Type::FLOAT8), want, "{value}");
        }
        let reals = [(1e6_f32, "1e+06"), (100000.0, "100000"), (1234567.0, "1.234567e+06"), (1.0 / 3.0, "0.33333334")];
        for (value, want) in reals {
            assert_eq!(text(&Float::Single(value), &Type::FLOAT4), want, "{value}");
        }
        assert_eq!(text(&Float::Double(f64::NAN), &Type::FLOAT8), "NaN");
    }

    #[test]
    fn lists_are_arrays_with_postgresql_s_quoting() {
        let words = Series::new("w".into(), [Some("x"), Some("a b"), Some(""), Some("NULL"), Some("q\"u\\o"), None, Some("{,}")]);
        let array = EncodedArray::of(&words, &DataType::String, &Type::VARCHAR).unwrap();
        assert_eq!(text(&array, &Type::VARCHAR_ARRAY), r#"{x,"a b","","NULL","q\"u\\o",NULL,"{,}"}"#);
        let numbers = Series::new("n".into(), [1.5, 100.0]);
        let array = EncodedArray::of(&numbers, &DataType::Float64, &Type::FLOAT8).unwrap();
        assert_eq!(text(&array, &Type::FLOAT8_ARRAY), "{1.5,100}");
        // Binary: one dimension, no NULL, float8's oid, 2 elements from 1, then each 8 bytes.
        let mut out = BytesMut::new();
        array.to_sql(&Type::FLOAT8_ARRAY, &mut out).unwrap();
        assert_eq!(&out[..20], &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 189, 0, 0, 0, 2, 0, 0, 0, 1]);
        assert_eq!(out.len(), 20 + 2 * (4 + 8));
        let empty = EncodedArray::of(&Series::new_empty("e".into(), &DataType::Int64), &DataType::Int64, &Type::INT8).unwrap();
        assert_eq!(text(&empty, &Type::INT8_ARRAY), "{}");
    }
}
