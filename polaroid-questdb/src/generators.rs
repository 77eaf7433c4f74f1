//! QuestDB's row generators over `long_sequence(n)`: the random values
//! (`rnd_double()`, `rnd_symbol('a', 'b')`, `rnd_int(1, 100, 0)`, ...) and
//! `timestamp_sequence(start, step)` its tutorials make test data with.
//!
//! polars-sql has no random function, so each call becomes a column of the
//! `long_sequence` frame, made here with one value a row (QuestDB draws a
//! value each time an expression is evaluated; one value a row is what a
//! query that reads the column twice expects).

use polaroid_core::CoreError;
use polars::prelude::*;

/// One generated column: what [`spec`] reads from a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Generated {
    Boolean,
    /// `rnd_byte`, `rnd_short`, `rnd_int`, `rnd_long`: `lo..=hi`, null once
    /// in `null_rate` rows (never when 0).
    Integer { dtype: IntegerType, lo: i64, hi: i64, null_rate: u64 },
    /// `rnd_double`, `rnd_float`: `[0, 1)`.
    Real { single: bool, null_rate: u64 },
    /// `rnd_symbol('a', 'b')` and `rnd_str('a', 'b')`: one of the values.
    OneOf { values: Vec<String>, symbol: bool },
    /// `rnd_symbol(count, min, max, null_rate)`: one of `count` random
    /// names of `min..=max` capital letters, drawn once for the column.
    Names { count: u64, min: u64, max: u64, null_rate: u64 },
    /// `rnd_str(min, max, null_rate)`, `rnd_varchar`: a random text a row.
    Text { min: u64, max: u64, null_rate: u64 },
    /// `rnd_timestamp(lo, hi, null_rate)`: microseconds since the epoch.
    Timestamp { lo: i64, hi: i64, null_rate: u64 },
    /// `timestamp_sequence(start, step)`: `start`, then `step`
    /// microseconds apart.
    Sequence { start: i64, step: i64 },
}

impl Generated {
    /// The QuestDB function that makes it (for messages).
    pub fn function(&self) -> &'static str {
        match self {
            Generated::Boolean => "rnd_boolean",
            Generated::Integer { dtype: IntegerType::Byte, .. } => "rnd_byte",
            Generated::Integer { dtype: IntegerType::Short, .. } => "rnd_short",
            Generated::Integer { dtype: IntegerType::Int, .. } => "rnd_int",
            Generated::Integer { dtype: IntegerType::Long, .. } => "rnd_long",
            Generated::Real { single: true, .. } => "rnd_float",
            Generated::Real { single: false, .. } => "rnd_double",
            Generated::OneOf { symbol: true, .. } | Generated::Names { .. } => "rnd_symbol",
            Generated::OneOf { symbol: false, .. } | Generated::Text { .. } => "rnd_str",
            Generated::Timestamp { .. } => "rnd_timestamp",
            Generated::Sequence { .. } => "timestamp_sequence",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegerType {
    Byte,
    Short,
    Int,
    Long,
}

/// The most names `rnd_symbol(count, ...)` makes (of 10 letters; more of
/// fewer) and the longest text `rnd_str` makes: these are test data, and
/// a typo must not fill the memory.
const MOST: u64 = 1_000_000;
const LONGEST: u64 = 10_000;
/// The most bytes of text `rnd_str` makes for one column.
const MOST_TEXT: u64 = 1 << 30;

/// Whether `name` is one of QuestDB's generators' (made here or not).
pub fn is_generator(name: &str) -> bool {
    name.starts_with("rnd_") || name.starts_with("timestamp_sequence")
}

/// The column a call of one of QuestDB's generators stands for, or `None`
/// when `name` is none of them. `args` are the call's arguments as
/// literals: numbers (`-5`, `100000L` read as 100000), text, and for
/// timestamps, text QuestDB reads as one (`'2024-01-01T09:30'`).
pub fn spec(name: &str, args: &[Literal]) -> Result<Option<Generated>, CoreError> {
    let refused = |how: &str| invalid(format!("{name} takes {how}; got ({})", list(args)));
    let int = |i: usize| args.get(i).and_then(Literal::integer);
    let count = |i: usize| int(i).filter(|&n| n >= 0).map(|n| n as u64);
    let spec = match (name, args.len()) {
        ("rnd_boolean", 0) => Generated::Boolean,
        ("rnd_byte" | "rnd_short" | "rnd_int" | "rnd_long", n @ (0 | 2 | 3)) => {
            // The type's range, and what no arguments give (a byte: 0..=127).
            let (dtype, (min, max), default) = match name {
                "rnd_byte" => (IntegerType::Byte, (i8::MIN as i64, i8::MAX as i64), (0, i8::MAX as i64)),
                "rnd_short" => (IntegerType::Short, (i16::MIN as i64, i16::MAX as i64), (i16::MIN as i64, i16::MAX as i64)),
                "rnd_int" => (IntegerType::Int, (i32::MIN as i64, i32::MAX as i64), (i32::MIN as i64, i32::MAX as i64)),
                _ => (IntegerType::Long, (i64::MIN, i64::MAX), (i64::MIN, i64::MAX)),
            };
            let how = "no arguments, or (min, max[, null rate]) as whole numbers of its type with min <= max";
            let (lo, hi) = match n {
                0 => default,
                _ => match (int(0), int(1)) {
                    (Some(a), Some(b)) if a <= b && a >= min && b <= max => (a, b),
                    _ => return Err(refused(how)),
                },
            };
            let null_rate = if n == 3 { count(2).ok_or_else(|| refused(how))? } else { 0 };
            Generated::Integer { dtype, lo, hi, null_rate }
        },
        ("rnd_double" | "rnd_float", n @ (0 | 1)) => {
            let null_rate = if n == 1 { count(0).ok_or_else(|| refused("no arguments, or a null rate"))? } else { 0 };
            Generated::Real { single: name == "rnd_float", null_rate }
        },
        ("rnd_symbol" | "rnd_str" | "rnd_varchar", n) if n > 0 && args.iter().all(|a| matches!(a, Literal::Text(_))) => {
            let values = args.iter().map(|a| a.text().unwrap_or_default().to_string()).collect();
            Generated::OneOf { values, symbol: name == "rnd_symbol" }
        },
        ("rnd_symbol", 4) => {
            let how = "a list of values, or (count, min length, max length, null rate)";
            match (count(0), count(1), count(2), count(3)) {
                (Some(count), Some(min), Some(max), Some(null_rate))
                    if count > 0 && 0 < min && min <= max && max <= LONGEST && count.checked_mul(max).is_some_and(|n| n <= MOST * 10) =>
                {
                    Generated::Names { count, min, max, null_rate }
                },
                _ => return Err(refused(how)),
            }
        },
        ("rnd_str" | "rnd_varchar", 3) => {
            let how = "a list of values, or (min length, max length, null rate)";
            match (count(0), count(1), count(2)) {
                (Some(min), Some(max), Some(null_rate)) if min <= max && max <= LONGEST => Generated::Text { min, max, null_rate },
                _ => return Err(refused(how)),
            }
        },
        ("rnd_timestamp", 3) => {
            let how = "(min, max, null rate): two timestamps and a whole number";
            match (args[0].micros(), args[1].micros(), count(2)) {
                (Some(lo), Some(hi), Some(null_rate)) if lo <= hi => Generated::Timestamp { lo, hi, null_rate },
                _ => return Err(refused(how)),
            }
        },
        ("timestamp_sequence", 2) => match (args[0].micros(), int(1)) {
            (Some(start), Some(step)) => Generated::Sequence { start, step },
            _ => return Err(refused("(start, step): a timestamp and whole microseconds, as literals")),
        },
        ("rnd_boolean" | "rnd_byte" | "rnd_short" | "rnd_int" | "rnd_long" | "rnd_double" | "rnd_float", _)
        | ("rnd_symbol" | "rnd_str" | "rnd_varchar" | "rnd_timestamp" | "timestamp_sequence", _) => {
            return Err(refused("other arguments (see QuestDB's reference)"));
        },
        (other, _) if is_generator(other) => {
            return Err(CoreError::Unimplemented(format!("{other} is not supported")));
        },
        _ => return Ok(None),
    };
    Ok(Some(spec))
}

/// `generate_series(start, end[, step])`: QuestDB's pseudo-table of one
/// column, `generate_series`, from `start` to `end` (either may be the
/// larger; both included), ascending by a positive step, descending by a
/// negative one.
#[derive(Debug, Clone, PartialEq)]
pub enum Series {
    Long { start: i64, end: i64, step: i64 },
    Double { start: f64, end: f64, step: f64 },
    /// Microseconds since the epoch; the step a count of microseconds or a
    /// period (`'5d'`, `'-1h'`; n U T s m h d w, months and years refused).
    Timestamp { start: i64, end: i64, step: i64 },
}

impl Series {
    pub fn read(args: &[Literal]) -> Result<Series, CoreError> {
        let refused = || {
            invalid(format!(
                "generate_series takes (start, end[, step]): whole numbers, numbers, or timestamps with a step in microseconds \
                 or a period like '5d'; got ({})",
                list(args)
            ))
        };
        let (bounds, step) = match args {
            [a, b] => ([a, b], None),
            [a, b, step] => ([a, b], Some(step)),
            _ => return Err(refused()),
        };
        let series = if bounds.iter().all(|b| b.integer().is_some()) && step.is_none_or(|s| s.integer().is_some()) {
            let (start, end) = (bounds[0].integer().unwrap_or_default(), bounds[1].integer().unwrap_or_default());
            Series::Long { start, end, step: step.and_then(Literal::integer).unwrap_or(1) }
        } else if bounds.iter().all(|b| b.real().is_some()) && step.is_none_or(|s| s.real().is_some()) {
            let (start, end) = (bounds[0].real().unwrap_or_default(), bounds[1].real().unwrap_or_default());
            Series::Double { start, end, step: step.and_then(Literal::real).unwrap_or(1.0) }
        } else {
            let (Some(start), Some(end)) = (bounds[0].instant(), bounds[1].instant()) else { return Err(refused()) };
            let step = match step {
                Some(Literal::Text(period)) => period_micros(period).ok_or_else(refused)?,
                Some(other) => other.integer().ok_or_else(refused)?,
                None => return Err(refused()),
            };
            Series::Timestamp { start, end, step }
        };
        let rows = match &series {
            Series::Long { start, end, step } | Series::Timestamp { start, end, step } if *step != 0 => {
                Some((*start as i128 - *end as i128).unsigned_abs() / step.unsigned_abs() as u128 + 1)
            },
            Series::Double { start, end, step } if step.is_finite() && *step != 0.0 && start.is_finite() && end.is_finite() => {
                Some(((start - end).abs() / step.abs()).floor() as u128 + 1)
            },
            _ => None,
        };
        match rows {
            Some(rows) if rows <= MOST_ROWS as u128 => Ok(series),
            Some(rows) => Err(invalid(format!("generate_series would make {rows} rows, more than {MOST_ROWS}"))),
            None => Err(invalid(format!("generate_series needs a step other than 0; got ({})", list(args)))),
        }
    }

    /// Its frame.
    pub fn frame(&self) -> Result<DataFrame, CoreError> {
        // From the lower bound up by a positive step, from the upper one
        // down by a negative step.
        fn whole(start: i64, end: i64, step: i64) -> Vec<i64> {
            let (lo, hi) = (start.min(end), start.max(end));
            let first = if step > 0 { lo } else { hi };
            let n = (hi as i128 - lo as i128) as u128 / step.unsigned_abs() as u128 + 1;
            (0..n as i64).map(|i| first + i * step).collect()
        }
        let column = match self {
            Series::Long { start, end, step } => Column::new("generate_series".into(), whole(*start, *end, *step)),
            Series::Timestamp { start, end, step } => Column::new("generate_series".into(), whole(*start, *end, *step))
                .cast(&DataType::Datetime(TimeUnit::Microseconds, None))?,
            Series::Double { start, end, step } => {
                let (lo, hi) = (start.min(*end), start.max(*end));
                let first = if *step > 0.0 { lo } else { hi };
                let n = ((hi - lo) / step.abs()).floor() as usize + 1;
                Column::new("generate_series".into(), (0..n).map(|i| first + i as f64 * step).collect::<Vec<_>>())
            },
        };
        Ok(DataFrame::new_infer_height(vec![column])?)
    }
}

/// The most rows `generate_series` makes (as `long_sequence`).
const MOST_ROWS: u64 = 1_000_000_000;

/// QuestDB's period (`'5d'`, `'-1h'`, `'250T'`) in microseconds, read as
/// SAMPLE BY reads one; months and years have no one length.
fn period_micros(text: &str) -> Option<i64> {
    let text = text.trim();
    let (sign, period) = text.strip_prefix('-').map_or((1, text), |p| (-1, p));
    let duration = crate::dialect::polars_duration(period, "generate_series").ok()?;
    if duration.ends_with("mo") || duration.ends_with('y') {
        return None;
    }
    Some(sign * Duration::parse(&duration).duration_us())
}

/// A call's argument, as [`spec`] reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Number(String),
    Text(String),
    /// Anything else (a column, an expression).
    Other(String),
}

impl Literal {
    fn integer(&self) -> Option<i64> {
        match self {
            Literal::Number(n) => n.strip_suffix(['L', 'l']).unwrap_or(n).parse().ok(),
            _ => None,
        }
    }

    fn real(&self) -> Option<f64> {
        match self {
            Literal::Number(n) => n.strip_suffix(['L', 'l']).unwrap_or(n).parse().ok(),
            _ => None,
        }
    }

    /// Text QuestDB reads as an instant, in microseconds.
    fn instant(&self) -> Option<i64> {
        match self {
            Literal::Text(_) => self.micros(),
            _ => None,
        }
    }

    fn text(&self) -> Option<&str> {
        match self {
            Literal::Text(t) => Some(t),
            _ => None,
        }
    }

    /// A timestamp: microseconds, or text QuestDB reads as an instant (the
    /// first of those a date or time prefix covers, as `ts IN '...'` reads it).
    fn micros(&self) -> Option<i64> {
        match self {
            Literal::Text(t) => crate::questdb_sql::interval(t).ok().flatten().map(|(at, _)| at.and_utc().timestamp_micros()),
            _ => self.integer(),
        }
    }
}

fn list(args: &[Literal]) -> String {
    args.iter()
        .map(|a| match a {
            Literal::Number(s) | Literal::Other(s) => s.clone(),
            Literal::Text(s) => format!("'{s}'"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn invalid(message: String) -> CoreError {
    CoreError::InvalidArgument(message)
}

/// `n` rows of `spec`'s column, named `name`.
pub fn column(name: &str, spec: &Generated, n: usize, rng: &mut fastrand::Rng) -> Result<Column, CoreError> {
    let name = PlSmallStr::from(name);
    // Null once in `rate` rows; never when 0.
    let null = |rng: &mut fastrand::Rng, rate: u64| rate > 0 && rng.u64(0..rate) == 0;
    let letters = |rng: &mut fastrand::Rng, min: u64, max: u64| -> String {
        (0..rng.u64(min..=max)).map(|_| rng.uppercase()).collect()
    };
    Ok(match spec {
        Generated::Boolean => Column::new(name, (0..n).map(|_| rng.bool()).collect::<Vec<_>>()),
        Generated::Integer { dtype, lo, hi, null_rate } => {
            let values: Vec<Option<i64>> = (0..n).map(|_| (!null(rng, *null_rate)).then(|| rng.i64(*lo..=*hi))).collect();
            let dtype = match dtype {
                IntegerType::Byte => DataType::Int8,
                IntegerType::Short => DataType::Int16,
                IntegerType::Int => DataType::Int32,
                IntegerType::Long => DataType::Int64,
            };
            Column::new(name, values).cast(&dtype)?
        },
        Generated::Real { single, null_rate } => {
            let values: Vec<Option<f64>> = (0..n).map(|_| (!null(rng, *null_rate)).then(|| rng.f64())).collect();
            let column = Column::new(name, values);
            if *single { column.cast(&DataType::Float32)? } else { column }
        },
        Generated::OneOf { values, symbol } => {
            let picked: Vec<&str> = (0..n).map(|_| values[rng.usize(0..values.len())].as_str()).collect();
            let column = Column::new(name, picked);
            if *symbol { column.cast(&DataType::from_categories(Categories::global()))? } else { column }
        },
        Generated::Names { count, min, max, null_rate } => {
            let names: Vec<String> = (0..*count).map(|_| letters(rng, *min, *max)).collect();
            let picked: Vec<Option<&str>> =
                (0..n).map(|_| (!null(rng, *null_rate)).then(|| names[rng.usize(0..names.len())].as_str())).collect();
            Column::new(name, picked).cast(&DataType::from_categories(Categories::global()))?
        },
        Generated::Text { min, max, null_rate } => {
            if (n as u64).saturating_mul(*max) > MOST_TEXT {
                return Err(invalid(format!(
                    "rnd_str of up to {max} letters over {n} rows could make more than {MOST_TEXT} bytes; ask for fewer or shorter"
                )));
            }
            let texts: Vec<Option<String>> = (0..n).map(|_| (!null(rng, *null_rate)).then(|| letters(rng, *min, *max))).collect();
            Column::new(name, texts)
        },
        Generated::Timestamp { lo, hi, null_rate } => {
            let values: Vec<Option<i64>> = (0..n).map(|_| (!null(rng, *null_rate)).then(|| rng.i64(*lo..=*hi))).collect();
            Column::new(name, values).cast(&DataType::Datetime(TimeUnit::Microseconds, None))?
        },
        Generated::Sequence { start, step } => {
            let values: Vec<i64> = (0..n as i64).map(|i| start.saturating_add(i.saturating_mul(*step))).collect();
            Column::new(name, values).cast(&DataType::Datetime(TimeUnit::Microseconds, None))?
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(n: &str) -> Literal {
        Literal::Number(n.into())
    }

    fn text(t: &str) -> Literal {
        Literal::Text(t.into())
    }

    #[test]
    fn calls_are_read_as_questdb_documents_them() {
        assert_eq!(spec("rnd_boolean", &[]).unwrap(), Some(Generated::Boolean));
        assert_eq!(
            spec("rnd_int", &[num("1"), num("10000"), num("0")]).unwrap(),
            Some(Generated::Integer { dtype: IntegerType::Int, lo: 1, hi: 10_000, null_rate: 0 })
        );
        assert_eq!(
            spec("timestamp_sequence", &[text("2024-01-01"), num("100000L")]).unwrap(),
            Some(Generated::Sequence { start: 1_704_067_200_000_000, step: 100_000 })
        );
        assert_eq!(
            spec("rnd_symbol", &[text("AAPL"), text("MSFT")]).unwrap(),
            Some(Generated::OneOf { values: vec!["AAPL".into(), "MSFT".into()], symbol: true })
        );
        assert_eq!(spec("upper", &[text("a")]).unwrap(), None);
        // A bad call says what the function takes.
        let err = spec("rnd_int", &[num("10"), num("1"), num("0")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "rnd_int takes no arguments, or (min, max[, null rate]) as whole numbers of its type with min <= max; got (10, 1, 0)"
        );
        assert!(spec("rnd_byte", &[num("0"), num("300")]).is_err());
        // QuestDB's own example: a byte of -1, 0 or 1.
        assert_eq!(
            spec("rnd_byte", &[num("-1"), num("1")]).unwrap(),
            Some(Generated::Integer { dtype: IntegerType::Byte, lo: -1, hi: 1, null_rate: 0 })
        );
        assert!(spec("rnd_symbol", &[num("1000000"), num("1"), num("10000"), num("0")]).is_err());
        assert!(spec("rnd_uuid4", &[]).unwrap_err().to_string().contains("rnd_uuid4 is not supported"));
    }

    #[test]
    fn series_are_read_and_made_as_questdb_documents_them() {
        let values = |args: &[Literal]| {
            let frame = Series::read(args).unwrap().frame().unwrap();
            frame.column("generate_series").unwrap().as_materialized_series().to_physical_repr().cast(&DataType::Float64).unwrap()
                .f64().unwrap().into_no_null_iter().collect::<Vec<_>>()
        };
        // Both ends included; start and end interchangeable; a negative step descends.
        assert_eq!(values(&[num("1"), num("5")]), vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(values(&[num("5"), num("-5"), num("3")]), vec![-5.0, -2.0, 1.0, 4.0]);
        assert_eq!(values(&[num("1"), num("7"), num("-3")]), vec![7.0, 4.0, 1.0]);
        assert_eq!(values(&[num("0.5"), num("2"), num("0.5")]), vec![0.5, 1.0, 1.5, 2.0]);
        let day = 86_400_000_000.0;
        let start = 1_735_689_600_000_000.0; // 2025-01-01
        assert_eq!(values(&[text("2025-01-01"), text("2025-01-11"), text("5d")]), vec![start, start + 5.0 * day, start + 10.0 * day]);
        assert_eq!(values(&[text("2025-01-01"), text("2025-01-02"), text("-12h")]), vec![start + day, start + day / 2.0, start]);
        assert!(Series::read(&[num("1"), num("5"), num("0")]).unwrap_err().to_string().contains("a step other than 0"));
        assert!(Series::read(&[text("2025-01-01"), text("2025-02-01"), text("1M")]).is_err());
        assert!(Series::read(&[num("0"), num("2000000000")]).unwrap_err().to_string().contains("more than"));
    }

    #[test]
    fn columns_hold_values_of_their_kind_and_range() {
        let mut rng = fastrand::Rng::with_seed(7);
        let n = 2_000;
        let ints = column("q", &Generated::Integer { dtype: IntegerType::Int, lo: -3, hi: 3, null_rate: 4 }, n, &mut rng).unwrap();
        assert_eq!(ints.dtype(), &DataType::Int32);
        let ints = ints.i32().unwrap();
        assert!(ints.iter().flatten().all(|v| (-3..=3).contains(&v)));
        // Every value of the range comes, and about one row in 4 is null.
        assert_eq!(ints.unique().unwrap().len(), 8);
        assert!((350..650).contains(&ints.null_count()), "{}", ints.null_count());
        let reals = column("p", &Generated::Real { single: false, null_rate: 0 }, n, &mut rng).unwrap();
        assert_eq!(reals.null_count(), 0);
        assert!(reals.f64().unwrap().iter().flatten().all(|v| (0.0..1.0).contains(&v)));
        let names = column("s", &Generated::Names { count: 5, min: 2, max: 3, null_rate: 0 }, n, &mut rng).unwrap();
        let names = names.cast(&DataType::String).unwrap();
        let names = names.str().unwrap();
        assert!(names.unique().unwrap().len() <= 5);
        assert!(names.iter().flatten().all(|s| (2..=3).contains(&s.len()) && s.chars().all(|c| c.is_ascii_uppercase())));
        assert!(column("t", &Generated::Text { min: 1, max: 10_000, null_rate: 0 }, 1_000_000, &mut rng).is_err());
        let sequence = column("ts", &Generated::Sequence { start: 1_000, step: 250 }, 4, &mut rng).unwrap();
        let physical = sequence.to_physical_repr();
        assert_eq!(physical.i64().unwrap().into_no_null_iter().collect::<Vec<_>>(), vec![1_000, 1_250, 1_500, 1_750]);
    }
}
