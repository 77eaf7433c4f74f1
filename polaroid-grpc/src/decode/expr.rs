//! Translate `polaroid.v1.Expr` trees into polars expressions.
//!
//! Every error names where in the tree it sits (`exprs[1].function(sum).
//! args[0]: ...`), so a client can point at the offending node.

use std::collections::HashMap;

use polars::prelude::*;

use polaroid_core::CoreError;
use crate::proto::{self, expr::Kind, literal::Value, BinaryOp};

type Result<T> = std::result::Result<T, CoreError>;

fn bad(path: &str, problem: impl std::fmt::Display) -> CoreError {
    CoreError::InvalidArgument(format!("{path}: {problem}"))
}

/// Translate a list of expressions found at `field` (e.g. `exprs`).
pub(crate) fn exprs(list: &[proto::Expr], field: &str) -> Result<Vec<Expr>> {
    list.iter().enumerate().map(|(i, e)| expr(e, &format!("{field}[{i}]"))).collect()
}

pub(crate) fn required(e: Option<&proto::Expr>, path: &str) -> Result<Expr> {
    match e {
        Some(e) => expr(e, path),
        None => Err(bad(path, "missing expression")),
    }
}

pub(crate) fn expr(e: &proto::Expr, path: &str) -> Result<Expr> {
    let kind = e.kind.as_ref().ok_or_else(|| bad(path, "empty expression node"))?;
    Ok(match kind {
        // An empty name is a name, as in polars (one that is not a column is polars' ColumnNotFound).
        Kind::Column(name) => col(name.as_str()),
        Kind::Literal(l) => literal(l, &format!("{path}.literal"))?,
        Kind::Len(_) => len(),
        Kind::Not(n) => required(n.expr.as_deref(), &format!("{path}.not"))?.not(),
        Kind::Binary(b) => {
            let p = format!("{path}.binary");
            let left = required(b.left.as_deref(), &format!("{p}.left"))?;
            let right = required(b.right.as_deref(), &format!("{p}.right"))?;
            let op = BinaryOp::try_from(b.op).map_err(|_| bad(&p, format!("unknown operator {}", b.op)))?;
            binary(left, op, right)
        },
        Kind::Alias(a) => {
            // An empty name is a name, as in polars (a CSV header's blank column).
            let p = format!("{path}.alias");
            required(a.expr.as_deref(), &format!("{p}.expr"))?.alias(a.name.as_str())
        },
        Kind::Cast(c) => {
            let p = format!("{path}.cast");
            let inner = required(c.expr.as_deref(), &format!("{p}.expr"))?;
            let dtype = parse_dtype(&c.dtype).map_err(|e| bad(&p, e))?;
            if c.non_strict {
                inner.cast(dtype)
            } else {
                inner.strict_cast(dtype)
            }
        },
        Kind::Function(f) => function(f, &format!("{path}.function({})", f.name))?,
        Kind::When(w) => {
            let p = format!("{path}.when");
            if w.branches.is_empty() {
                return Err(bad(&p, "when needs at least one branch"));
            }
            let otherwise = match w.otherwise.as_deref() {
                Some(o) => expr(o, &format!("{p}.otherwise"))?,
                None => lit(Null {}),
            };
            let mut out = otherwise;
            // Build from the last branch outwards: the first match wins.
            for (i, b) in w.branches.iter().enumerate().rev() {
                let cond = required(b.when.as_ref(), &format!("{p}.branches[{i}].when"))?;
                let then = required(b.then.as_ref(), &format!("{p}.branches[{i}].then"))?;
                out = when(cond).then(then).otherwise(out);
            }
            out
        },
        Kind::Over(o) => {
            let p = format!("{path}.over");
            let inner = required(o.expr.as_deref(), &format!("{p}.expr"))?;
            if o.partition_by.is_empty() && o.order_by.is_empty() {
                return Err(bad(&p, "over needs a partition_by or an order_by expression"));
            }
            let mapping = match o.mapping_strategy.as_str() {
                "" | "groups_to_rows" => WindowMapping::GroupsToRows,
                "explode" => WindowMapping::Explode,
                "join" => WindowMapping::Join,
                other => return Err(bad(&p, format!("unknown mapping_strategy {other:?} (groups_to_rows, explode, join)"))),
            };
            let partition_by = exprs(&o.partition_by, &format!("{p}.partition_by"))?;
            let order_by = match exprs(&o.order_by, &format!("{p}.order_by"))?.as_slice() {
                [] => None,
                [one] => Some(one.clone()),
                several => Some(as_struct(several.to_vec())),
            };
            let sort = SortOptions { descending: o.order_descending, nulls_last: o.order_nulls_last, ..Default::default() };
            let partition_by = if partition_by.is_empty() { None } else { Some(partition_by) };
            inner.over_with_options(partition_by, order_by.map(|e| (vec![e], sort)), mapping).map_err(|e| bad(&p, e))?
        },
        Kind::SortBy(s) => {
            let p = format!("{path}.sort_by");
            let inner = required(s.expr.as_deref(), &format!("{p}.expr"))?;
            if s.by.is_empty() {
                return Err(bad(&p, "sort_by needs at least one `by` expression"));
            }
            let by = exprs(&s.by, &format!("{p}.by"))?;
            let flags = |flags: &[bool], name: &str| match flags.len() {
                0 => Ok(vec![false]),
                n if n == 1 || n == by.len() => Ok(flags.to_vec()),
                n => Err(bad(&p, format!("{n} `{name}` flags for {} `by` expressions", by.len()))),
            };
            let options = SortMultipleOptions::default()
                .with_order_descending_multi(flags(&s.descending, "descending")?)
                .with_nulls_last_multi(flags(&s.nulls_last, "nulls_last")?)
                .with_maintain_order(s.maintain_order);
            inner.sort_by(by, options)
        },
    })
}

fn binary(left: Expr, op: BinaryOp, right: Expr) -> Expr {
    let op = match op {
        BinaryOp::Add => Operator::Plus,
        BinaryOp::Sub => Operator::Minus,
        BinaryOp::Mul => Operator::Multiply,
        BinaryOp::TrueDiv => Operator::TrueDivide,
        BinaryOp::FloorDiv => Operator::FloorDivide,
        BinaryOp::Mod => Operator::Modulus,
        BinaryOp::Eq => Operator::Eq,
        BinaryOp::Neq => Operator::NotEq,
        BinaryOp::Lt => Operator::Lt,
        BinaryOp::LtEq => Operator::LtEq,
        BinaryOp::Gt => Operator::Gt,
        BinaryOp::GtEq => Operator::GtEq,
        BinaryOp::And => Operator::And,
        BinaryOp::Or => Operator::Or,
        BinaryOp::Xor => Operator::Xor,
        BinaryOp::EqMissing => Operator::EqValidity,
        BinaryOp::NeqMissing => Operator::NotEqValidity,
    };
    binary_expr(left, op, right)
}

fn time_unit(u: i32) -> TimeUnit {
    match proto::TimeUnit::try_from(u).unwrap_or(proto::TimeUnit::Nanoseconds) {
        proto::TimeUnit::Nanoseconds => TimeUnit::Nanoseconds,
        proto::TimeUnit::Microseconds => TimeUnit::Microseconds,
        proto::TimeUnit::Milliseconds => TimeUnit::Milliseconds,
    }
}

fn time_zone(tz: &str, path: &str) -> Result<Option<TimeZone>> {
    if tz.is_empty() {
        return Ok(None);
    }
    TimeZone::opt_try_new(Some(tz)).map_err(|e| bad(path, e))
}

fn literal(l: &proto::Literal, path: &str) -> Result<Expr> {
    let value = l.value.as_ref().ok_or_else(|| bad(path, "literal without a value"))?;
    let e = match value {
        Value::Boolean(v) => lit(*v),
        Value::Int64(v) => lit(*v),
        Value::Uint64(v) => lit(*v),
        Value::Float64(v) => lit(*v),
        Value::String(v) => lit(v.as_str()),
        Value::Binary(v) => lit(v.clone()),
        Value::Date(days) => lit(*days).cast(DataType::Date),
        Value::Time(ns) => lit(*ns).cast(DataType::Time),
        Value::Datetime(d) => {
            let tz = time_zone(&d.time_zone, path)?;
            lit(d.value).cast(DataType::Datetime(time_unit(d.unit), tz))
        },
        Value::Duration(d) => lit(d.value).cast(DataType::Duration(time_unit(d.unit))),
        Value::Null(_) => {
            let dtype = l.dtype.as_deref().ok_or_else(|| bad(path, "a null literal needs `dtype`"))?;
            return Ok(lit(Null {}).cast(parse_dtype(dtype).map_err(|e| bad(path, e))?));
        },
        Value::List(list) => return list_literal(list, l.dtype.as_deref(), path),
    };
    Ok(match &l.dtype {
        Some(dtype) => e.strict_cast(parse_dtype(dtype).map_err(|e| bad(path, e))?),
        None => e,
    })
}

/// A list of scalars as one list value: a Series of the elements, cast to
/// `dtype` when given, imploded (what `is_in([..])` is in polars).
fn list_literal(list: &proto::LiteralList, dtype: Option<&str>, path: &str) -> Result<Expr> {
    let values = list
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| scalar(v, &format!("{path}.list[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    // Integers past i64::MAX arrive as u64 beside i64s, whose supertype in
    // polars is f64: exact values would round. Such a list is u64 when none
    // is negative, else i128.
    let integers = values.iter().all(|v| matches!(v, AnyValue::Int64(_) | AnyValue::UInt64(_) | AnyValue::Null));
    let wide = integers && values.iter().any(|v| matches!(v, AnyValue::UInt64(_)));
    let mut series = if wide {
        let negative = values.iter().any(|v| matches!(v, AnyValue::Int64(x) if *x < 0));
        let dtype = if negative { DataType::Int128 } else { DataType::UInt64 };
        Series::from_any_values_and_dtype(PlSmallStr::EMPTY, &values, &dtype, false)
    } else {
        Series::from_any_values(PlSmallStr::EMPTY, &values, false)
    }
    .map_err(|e| bad(path, e))?;
    if let Some(dtype) = dtype {
        series = series.strict_cast(&parse_dtype(dtype).map_err(|e| bad(path, e))?).map_err(|e| bad(path, e))?;
    }
    Ok(lit(series).implode(true))
}

fn scalar(l: &proto::Literal, path: &str) -> Result<AnyValue<'static>> {
    if l.dtype.is_some() {
        return Err(bad(path, "list elements take no dtype of their own; give it to the list"));
    }
    Ok(match l.value.as_ref().ok_or_else(|| bad(path, "literal without a value"))? {
        Value::Boolean(v) => AnyValue::Boolean(*v),
        Value::Int64(v) => AnyValue::Int64(*v),
        Value::Uint64(v) => AnyValue::UInt64(*v),
        Value::Float64(v) => AnyValue::Float64(*v),
        Value::String(v) => AnyValue::StringOwned(v.as_str().into()),
        Value::Binary(v) => AnyValue::BinaryOwned(v.clone()),
        Value::Date(days) => AnyValue::Date(*days),
        Value::Time(ns) => AnyValue::Time(*ns),
        Value::Datetime(d) => {
            AnyValue::DatetimeOwned(d.value, time_unit(d.unit), time_zone(&d.time_zone, path)?.map(Arc::new))
        },
        Value::Duration(d) => AnyValue::Duration(d.value, time_unit(d.unit)),
        Value::Null(_) => AnyValue::Null,
        Value::List(_) => return Err(bad(path, "nested lists are not supported")),
    })
}

/// A time unit by name: ns, us (or μs, as polars prints it), ms.
fn parse_time_unit(text: &str) -> std::result::Result<TimeUnit, String> {
    match text.trim() {
        "ns" => Ok(TimeUnit::Nanoseconds),
        "us" | "μs" => Ok(TimeUnit::Microseconds),
        "ms" => Ok(TimeUnit::Milliseconds),
        other => Err(format!("unknown time unit {other:?} (ns, us, ms)")),
    }
}

/// Polars dtype names as polars prints them: `i64`, `str`, `datetime[ns, UTC]`.
pub(crate) fn parse_dtype(text: &str) -> std::result::Result<DataType, String> {
    let t = text.trim();
    let unit = parse_time_unit;
    Ok(match t {
        "bool" | "boolean" => DataType::Boolean,
        "i8" => DataType::Int8,
        "i16" => DataType::Int16,
        "i32" => DataType::Int32,
        "i64" => DataType::Int64,
        "i128" => DataType::Int128,
        "u8" => DataType::UInt8,
        "u16" => DataType::UInt16,
        "u32" => DataType::UInt32,
        "u64" => DataType::UInt64,
        "f32" => DataType::Float32,
        "f64" => DataType::Float64,
        "str" | "string" | "utf8" => DataType::String,
        "binary" => DataType::Binary,
        "date" => DataType::Date,
        "time" => DataType::Time,
        "null" => DataType::Null,
        "cat" | "categorical" => DataType::from_categories(Categories::global()),
        "datetime" => DataType::Datetime(TimeUnit::Microseconds, None),
        _ if t.starts_with("datetime[") && t.ends_with(']') => {
            let inner = &t["datetime[".len()..t.len() - 1];
            let (u, tz) = match inner.split_once(',') {
                Some((u, tz)) => (u, Some(tz.trim())),
                None => (inner, None),
            };
            let tz = match tz {
                Some(tz) => TimeZone::opt_try_new(Some(tz)).map_err(|e| e.to_string())?,
                None => None,
            };
            DataType::Datetime(unit(u)?, tz)
        },
        _ if t.starts_with("decimal[") && t.ends_with(']') => {
            // decimal[precision, scale], as polars prints it; precision 1 to 38.
            let inner = &t["decimal[".len()..t.len() - 1];
            let parsed = inner.split_once(',').and_then(|(p, s)| Some((p.trim().parse::<usize>().ok()?, s.trim().parse::<usize>().ok()?)));
            match parsed {
                Some((precision, scale)) if (1..=38).contains(&precision) && scale <= precision => DataType::Decimal(precision, scale),
                _ => return Err(format!("{text:?}: a decimal is decimal[precision, scale], precision 1 to 38, scale at most precision")),
            }
        },
        _ if t.starts_with("duration[") && t.ends_with(']') => {
            DataType::Duration(unit(&t["duration[".len()..t.len() - 1])?)
        },
        _ if t.starts_with("list[") && t.ends_with(']') => DataType::List(Box::new(parse_dtype(&t["list[".len()..t.len() - 1])?)),
        _ if t.starts_with("array[") && t.ends_with(']') => {
            // array[inner, width], or array[inner, (outer, .., inner width)] as polars prints nested arrays.
            let inner = &t["array[".len()..t.len() - 1];
            let bad_shape = || format!("{text:?}: an array is array[dtype, width] or array[dtype, (width, ..)]");
            let (leaf, shape) = match inner.strip_suffix(')').and_then(|s| s.rsplit_once('(')) {
                Some((leaf, dims)) => {
                    let leaf = leaf.trim_end().strip_suffix(',').ok_or_else(bad_shape)?;
                    (leaf, dims.split(',').map(str::trim).filter(|d| !d.is_empty()).collect::<Vec<_>>())
                },
                None => {
                    let (leaf, width) = inner.rsplit_once(',').ok_or_else(bad_shape)?;
                    (leaf, vec![width.trim()])
                },
            };
            let mut dtype = parse_dtype(leaf)?;
            for width in shape.iter().rev() {
                let width = width.parse::<usize>().map_err(|_| bad_shape())?;
                dtype = DataType::Array(Box::new(dtype), width);
            }
            dtype
        },
        _ => return Err(format!("unknown dtype {text:?}")),
    })
}

/// Scalar options of a function call, read with defaults and checked types.
struct Options<'a> {
    map: &'a HashMap<String, proto::Literal>,
    path: &'a str,
}

impl Options<'_> {
    fn check_known(&self, known: &[&str]) -> Result<()> {
        let mut keys: Vec<_> = self.map.keys().collect();
        keys.sort();
        for k in keys {
            if !known.contains(&k.as_str()) {
                let expected = if known.is_empty() { "none".to_string() } else { known.join(", ") };
                return Err(bad(self.path, format!("unknown option {k:?} (expected: {expected})")));
            }
        }
        Ok(())
    }

    fn int(&self, key: &str, default: i64) -> Result<i64> {
        match self.map.get(key).and_then(|l| l.value.as_ref()) {
            None => Ok(default),
            Some(Value::Int64(v)) => Ok(*v),
            Some(Value::Uint64(v)) => i64::try_from(*v).map_err(|_| bad(self.path, format!("option {key} is too large"))),
            Some(_) => Err(bad(self.path, format!("option {key} must be an integer"))),
        }
    }

    fn uint(&self, key: &str, default: u64) -> Result<u64> {
        let v = self.int(key, default as i64)?;
        u64::try_from(v).map_err(|_| bad(self.path, format!("option {key} must not be negative")))
    }

    fn float(&self, key: &str, default: f64) -> Result<f64> {
        match self.map.get(key).and_then(|l| l.value.as_ref()) {
            None => Ok(default),
            Some(Value::Float64(v)) => Ok(*v),
            Some(Value::Int64(v)) => Ok(*v as f64),
            Some(_) => Err(bad(self.path, format!("option {key} must be a number"))),
        }
    }

    fn boolean(&self, key: &str, default: bool) -> Result<bool> {
        match self.map.get(key).and_then(|l| l.value.as_ref()) {
            None => Ok(default),
            Some(Value::Boolean(v)) => Ok(*v),
            Some(_) => Err(bad(self.path, format!("option {key} must be a boolean"))),
        }
    }

    /// A list option's values, each read by `item` (`None`: not a list value);
    /// a scalar counts as a list of one. Absent: `None`.
    fn list<T>(&self, key: &str, what: &str, item: impl Fn(&Value) -> Option<T>) -> Result<Option<Vec<T>>> {
        let wrong = || bad(self.path, format!("option {key} must be {what}"));
        match self.map.get(key).and_then(|l| l.value.as_ref()) {
            None => Ok(None),
            Some(Value::List(list)) => list
                .values
                .iter()
                .map(|v| v.value.as_ref().and_then(&item).ok_or_else(wrong))
                .collect::<Result<Vec<T>>>()
                .map(Some),
            Some(one) => item(one).map(|v| Some(vec![v])).ok_or_else(wrong),
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>> {
        match self.map.get(key).and_then(|l| l.value.as_ref()) {
            None => Ok(None),
            Some(Value::String(v)) => Ok(Some(v.clone())),
            Some(_) => Err(bad(self.path, format!("option {key} must be a string"))),
        }
    }

    fn time_unit(&self, key: &str) -> Result<Option<TimeUnit>> {
        self.string(key)?.map(|u| parse_time_unit(&u).map_err(|e| bad(self.path, format!("option {key}: {e}")))).transpose()
    }

    fn required_string(&self, key: &str) -> Result<String> {
        self.string(key)?.ok_or_else(|| bad(self.path, format!("option {key} is required")))
    }
}

fn function(f: &proto::Function, path: &str) -> Result<Expr> {
    let opts = Options { map: &f.options, path };
    let args = exprs(&f.args, &format!("{path}.args"))?;
    let arity = |n: usize| -> Result<()> {
        if args.len() == n {
            Ok(())
        } else {
            Err(bad(path, format!("takes {n} argument(s) (the input first), got {}", args.len())))
        }
    };
    let input = || args[0].clone();
    let name = f.name.as_str();

    // Functions of one input and no options.
    let unary: Option<fn(Expr) -> Expr> = match name {
        "sum" => Some(|e| e.sum()),
        "mean" => Some(|e| e.mean()),
        "min" => Some(|e| e.min()),
        "max" => Some(|e| e.max()),
        "first" => Some(|e| e.first()),
        "last" => Some(|e| e.last()),
        "count" => Some(|e| e.count()),
        "len" => Some(|e| e.len()),
        "n_unique" => Some(|e| e.n_unique()),
        "median" => Some(|e| e.median()),
        // A group's values as one list, in order.
        "implode" => Some(|e| e.implode(true)),
        "is_null" => Some(|e| e.is_null()),
        "is_not_null" => Some(|e| e.is_not_null()),
        "is_nan" => Some(|e| e.is_nan()),
        "is_infinite" => Some(|e| e.is_infinite()),
        "is_finite" => Some(|e| e.is_finite()),
        "cbrt" => Some(|e| e.cbrt()),
        "arg_unique" => Some(|e| e.arg_unique()),
        "abs" => Some(|e| e.abs()),
        "neg" => Some(|e| -e),
        "log1p" => Some(|e| e.log1p()),
        "floor" => Some(|e| e.floor()),
        "ceil" => Some(|e| e.ceil()),
        "is_not_nan" => Some(|e| e.is_not_nan()),
        "null_count" => Some(|e| e.null_count()),
        "has_nulls" => Some(|e| e.has_nulls()),
        "product" => Some(|e| e.product()),
        "sign" => Some(|e| e.sign()),
        "is_duplicated" => Some(|e| e.is_duplicated()),
        "is_unique" => Some(|e| e.is_unique()),
        "is_first_distinct" => Some(|e| e.is_first_distinct()),
        "is_last_distinct" => Some(|e| e.is_last_distinct()),
        "arg_min" => Some(|e| e.arg_min()),
        "arg_max" => Some(|e| e.arg_max()),
        "drop_nulls" => Some(|e| e.drop_nulls()),
        "drop_nans" => Some(|e| e.drop_nans()),
        "dt.week" => Some(|e| e.dt().week()),
        "dt.quarter" => Some(|e| e.dt().quarter()),
        "dt.time" => Some(|e| e.dt().time()),
        "dt.month_start" => Some(|e| e.dt().month_start()),
        "dt.month_end" => Some(|e| e.dt().month_end()),
        "approx_n_unique" => Some(|e| e.approx_n_unique()),
        "str.reverse" => Some(|e| e.str().reverse()),
        "unique_counts" => Some(|e| e.unique_counts()),
        "sqrt" => Some(|e| e.sqrt()),
        "exp" => Some(|e| e.exp()),
        "reverse" => Some(|e| e.reverse()),
        "unique" => Some(|e| e.unique_stable()),
        "str.to_lowercase" => Some(|e| e.str().to_lowercase()),
        "str.to_uppercase" => Some(|e| e.str().to_uppercase()),
        "str.len_chars" => Some(|e| e.str().len_chars()),
        "str.len_bytes" => Some(|e| e.str().len_bytes()),
        "list.len" => Some(|e| e.list().len()),
        "arr.len" => Some(|e| e.arr().len()),
        "arr.max" => Some(|e| e.arr().max()),
        "arr.min" => Some(|e| e.arr().min()),
        "arr.sum" => Some(|e| e.arr().sum()),
        "arr.mean" => Some(|e| e.arr().mean()),
        "arr.median" => Some(|e| e.arr().median()),
        "arr.to_list" => Some(|e| e.arr().to_list()),
        "arr.arg_min" => Some(|e| e.arr().arg_min()),
        "arr.arg_max" => Some(|e| e.arr().arg_max()),
        "list.sum" => Some(|e| e.list().sum()),
        "list.mean" => Some(|e| e.list().mean()),
        "list.min" => Some(|e| e.list().min()),
        "list.max" => Some(|e| e.list().max()),
        "dt.year" => Some(|e| e.dt().year()),
        "dt.month" => Some(|e| e.dt().month()),
        "dt.day" => Some(|e| e.dt().day()),
        "dt.hour" => Some(|e| e.dt().hour()),
        "dt.minute" => Some(|e| e.dt().minute()),
        "dt.second" => Some(|e| e.dt().second()),
        "dt.millisecond" => Some(|e| e.dt().millisecond()),
        "dt.weekday" => Some(|e| e.dt().weekday()),
        "dt.ordinal_day" => Some(|e| e.dt().ordinal_day()),
        "dt.date" => Some(|e| e.dt().date()),
        "dt.microsecond" => Some(|e| e.dt().microsecond()),
        "dt.nanosecond" => Some(|e| e.dt().nanosecond()),
        "dt.century" => Some(|e| e.dt().century()),
        "dt.millennium" => Some(|e| e.dt().millennium()),
        "dt.iso_year" => Some(|e| e.dt().iso_year()),
        "dt.is_leap_year" => Some(|e| e.dt().is_leap_year()),
        "dt.days_in_month" => Some(|e| e.dt().days_in_month()),
        "dt.base_utc_offset" => Some(|e| e.dt().base_utc_offset()),
        "dt.dst_offset" => Some(|e| e.dt().dst_offset()),
        "str.hex_encode" => Some(|e| e.str().hex_encode()),
        "str.base64_encode" => Some(|e| e.str().base64_encode()),
        "list.arg_min" => Some(|e| e.list().arg_min()),
        "list.arg_max" => Some(|e| e.list().arg_max()),
        "list.drop_nulls" => Some(|e| e.list().drop_nulls()),
        "list.median" => Some(|e| e.list().median()),
        "to_physical" => Some(|e| e.to_physical()),
        "sin" => Some(|e| e.sin()),
        "cos" => Some(|e| e.cos()),
        "tan" => Some(|e| e.tan()),
        "cot" => Some(|e| e.cot()),
        "arcsin" => Some(|e| e.arcsin()),
        "arccos" => Some(|e| e.arccos()),
        "arctan" => Some(|e| e.arctan()),
        "sinh" => Some(|e| e.sinh()),
        "cosh" => Some(|e| e.cosh()),
        "tanh" => Some(|e| e.tanh()),
        "arcsinh" => Some(|e| e.arcsinh()),
        "arccosh" => Some(|e| e.arccosh()),
        "arctanh" => Some(|e| e.arctanh()),
        "degrees" => Some(|e| e.degrees()),
        "radians" => Some(|e| e.radians()),
        "rle" => Some(|e| e.rle()),
        "rle_id" => Some(|e| e.rle_id()),
        "peak_max" => Some(|e| e.peak_max()),
        "peak_min" => Some(|e| e.peak_min()),
        "arg_where" => Some(polars::lazy::dsl::arg_where),
        _ => None,
    };
    if let Some(build) = unary {
        arity(1)?;
        opts.check_known(&[])?;
        return Ok(build(input()));
    }

    // std and var take ddof (default 1, as polars); skew takes bias, kurtosis fisher and bias.
    let ddof = |opts: &Options| -> Result<Option<RollingFnParams>> {
        match name {
            "rolling_std" | "rolling_var" | "rolling_std_by" | "rolling_var_by" => {
                let ddof = u8::try_from(opts.uint("ddof", 1)?).map_err(|_| bad(path, "ddof is too large"))?;
                Ok(Some(RollingFnParams::Var(RollingVarParams { ddof })))
            },
            "rolling_skew" => Ok(Some(RollingFnParams::Skew { bias: opts.boolean("bias", true)? })),
            "rolling_kurtosis" => {
                Ok(Some(RollingFnParams::Kurtosis { fisher: opts.boolean("fisher", true)?, bias: opts.boolean("bias", true)? }))
            },
            _ => Ok(None),
        }
    };
    let rolling = |opts: &Options| -> Result<RollingOptionsFixedWindow> {
        opts.check_known(match name {
            "rolling_std" | "rolling_var" => &["window_size", "min_periods", "center", "ddof"],
            "rolling_skew" => &["window_size", "min_periods", "center", "bias"],
            "rolling_kurtosis" => &["window_size", "min_periods", "center", "fisher", "bias"],
            _ => &["window_size", "min_periods", "center"],
        })?;
        Ok(RollingOptionsFixedWindow { fn_params: ddof(opts)?, ..fixed_window(opts, path)? })
    };
    // A window of time by args[1] (sorted): window_size a duration ("5m").
    let rolling_by = |opts: &Options| -> Result<RollingOptionsDynamicWindow> {
        arity(2)?;
        opts.check_known(if name.starts_with("rolling_std") || name.starts_with("rolling_var") {
            &["window_size", "min_periods", "closed", "ddof"]
        } else {
            &["window_size", "min_periods", "closed"]
        })?;
        let every = opts.required_string("window_size")?;
        let window_size = Duration::try_parse(&every).map_err(|e| bad(path, format!("window_size {every:?}: {e}")))?;
        if window_size.is_zero() || window_size.negative() || window_size.parsed_int {
            return Err(bad(path, format!("window_size {every:?} must be a positive duration such as \"5m\"")));
        }
        let closed_window = closed_window(opts.string("closed")?.as_deref().unwrap_or("right"), path)?;
        let min_periods = opts.uint("min_periods", 1)? as usize;
        Ok(RollingOptionsDynamicWindow { window_size, min_periods, closed_window, fn_params: ddof(opts)? })
    };

    Ok(match name {
        "std" | "var" => {
            arity(1)?;
            opts.check_known(&["ddof"])?;
            let ddof = u8::try_from(opts.uint("ddof", 1)?).map_err(|_| bad(path, "ddof is too large"))?;
            if name == "std" { input().std(ddof) } else { input().var(ddof) }
        },
        "quantile" => {
            arity(1)?;
            opts.check_known(&["quantile", "interpolation"])?;
            let q = opts.float("quantile", f64::NAN)?;
            if !(0.0..=1.0).contains(&q) {
                return Err(bad(path, "option quantile must be in [0, 1]"));
            }
            let method = quantile_method(opts.string("interpolation")?.as_deref().unwrap_or("nearest"), path)?;
            input().quantile(lit(q), method)
        },
        "fill_null" => {
            arity(2)?;
            opts.check_known(&[])?;
            input().fill_null(args[1].clone())
        },
        "is_in" => {
            arity(2)?;
            opts.check_known(&["nulls_equal"])?;
            input().is_in(args[1].clone(), opts.boolean("nulls_equal", false)?)
        },
        "round" => {
            arity(1)?;
            opts.check_known(&["decimals", "mode"])?;
            let decimals = u32::try_from(opts.uint("decimals", 0)?).map_err(|_| bad(path, "decimals is too large"))?;
            // The protocol's default predates the option; polars' own is half_to_even.
            let mode = match opts.string("mode")?.as_deref().unwrap_or("half_away_from_zero") {
                "half_away_from_zero" => RoundMode::HalfAwayFromZero,
                "half_to_even" => RoundMode::HalfToEven,
                "to_zero" => RoundMode::ToZero,
                other => return Err(bad(path, format!("unknown mode {other:?} (half_to_even, half_away_from_zero, to_zero)"))),
            };
            input().round(decimals, mode)
        },
        "round_sig_figs" => {
            arity(1)?;
            opts.check_known(&["digits"])?;
            let digits = opts.int("digits", 0)?;
            if !(1..=i32::MAX as i64).contains(&digits) {
                return Err(bad(path, format!("digits must be at least 1, got {digits}")));
            }
            input().round_sig_figs(digits as i32)
        },
        "log" => {
            arity(1)?;
            opts.check_known(&["base"])?;
            input().log(lit(opts.float("base", std::f64::consts::E)?))
        },
        "shift" => {
            // args[1], if given, fills the places shifted in (polars' fill_value).
            if args.len() != 2 {
                arity(1)?;
            }
            opts.check_known(&["n"])?;
            let n = lit(opts.int("n", 1)?);
            match args.get(1) {
                Some(fill) => input().shift_and_fill(n, fill.clone()),
                None => input().shift(n),
            }
        },
        "pow" | "fill_nan" | "clip_min" | "clip_max" => {
            arity(2)?;
            opts.check_known(&[])?;
            let other = args[1].clone();
            match name {
                "pow" => input().pow(other),
                "fill_nan" => input().fill_nan(other),
                "clip_min" => input().clip_min(other),
                _ => input().clip_max(other),
            }
        },
        "ewm_mean" | "ewm_std" | "ewm_var" => {
            // Exponentially weighted, by `alpha` in (0, 1] (clients turn com,
            // span and half_life into it, as polars does).
            arity(1)?;
            opts.check_known(&["alpha", "adjust", "bias", "min_periods", "ignore_nulls"])?;
            let alpha = opts.float("alpha", f64::NAN)?;
            if !(alpha > 0.0 && alpha <= 1.0) {
                return Err(bad(path, "option alpha (a number in (0, 1]) is required"));
            }
            let options = EWMOptions {
                alpha,
                adjust: opts.boolean("adjust", true)?,
                bias: opts.boolean("bias", false)?,
                min_periods: opts.uint("min_periods", 1)? as usize,
                ignore_nulls: opts.boolean("ignore_nulls", false)?,
            };
            match name {
                "ewm_mean" => input().ewm_mean(options),
                "ewm_std" => input().ewm_std(options),
                _ => input().ewm_var(options),
            }
        },
        "interpolate" => {
            arity(1)?;
            opts.check_known(&["method"])?;
            let method = match opts.string("method")?.as_deref().unwrap_or("linear") {
                "linear" => InterpolationMethod::Linear,
                "nearest" => InterpolationMethod::Nearest,
                other => return Err(bad(path, format!("unknown method {other:?} (linear, nearest)"))),
            };
            input().interpolate(method)
        },
        "filter" => {
            // The input's values where args[1] holds (in a group, per group).
            arity(2)?;
            opts.check_known(&[])?;
            input().filter(args[1].clone())
        },
        "slice" => {
            // args[1] the offset (negative counts from the end), args[2] the length.
            arity(3)?;
            opts.check_known(&[])?;
            input().slice(args[1].clone(), args[2].clone())
        },
        "clip" => {
            arity(3)?;
            opts.check_known(&[])?;
            input().clip(args[1].clone(), args[2].clone())
        },
        "is_between" => {
            arity(3)?;
            opts.check_known(&["closed"])?;
            let closed = match opts.string("closed")?.as_deref().unwrap_or("both") {
                "both" => ClosedInterval::Both,
                "left" => ClosedInterval::Left,
                "right" => ClosedInterval::Right,
                "none" => ClosedInterval::None,
                other => return Err(bad(path, format!("unknown closed {other:?} (both, left, right, none)"))),
            };
            input().is_between(args[1].clone(), args[2].clone(), closed)
        },
        "any" | "all" => {
            arity(1)?;
            opts.check_known(&["ignore_nulls"])?;
            let ignore_nulls = opts.boolean("ignore_nulls", true)?;
            if name == "any" { input().any(ignore_nulls) } else { input().all(ignore_nulls) }
        },
        "forward_fill" | "backward_fill" => {
            arity(1)?;
            opts.check_known(&["limit"])?;
            let limit = match f.options.get("limit") {
                Some(_) => Some(IdxSize::try_from(opts.uint("limit", 0)?).map_err(|_| bad(path, "limit is too large"))?),
                None => None,
            };
            let strategy = if name == "forward_fill" { FillNullStrategy::Forward(limit) } else { FillNullStrategy::Backward(limit) };
            input().fill_null_with_strategy(strategy)
        },
        "rank" => {
            arity(1)?;
            opts.check_known(&["method", "descending"])?;
            let method = match opts.string("method")?.as_deref().unwrap_or("average") {
                "average" => RankMethod::Average,
                "min" => RankMethod::Min,
                "max" => RankMethod::Max,
                "dense" => RankMethod::Dense,
                "ordinal" => RankMethod::Ordinal,
                other => return Err(bad(path, format!("unknown method {other:?} (average, min, max, dense, ordinal)"))),
            };
            input().rank(RankOptions { method, descending: opts.boolean("descending", false)? }, None)
        },
        "sum_horizontal" | "mean_horizontal" | "min_horizontal" | "max_horizontal" => {
            if args.is_empty() {
                return Err(bad(path, "takes at least one argument"));
            }
            let ignore_nulls = if name.starts_with("sum") || name.starts_with("mean") {
                opts.check_known(&["ignore_nulls"])?;
                opts.boolean("ignore_nulls", true)?
            } else {
                opts.check_known(&[])?;
                true
            };
            match name {
                "sum_horizontal" => polars::lazy::dsl::sum_horizontal(&args, ignore_nulls)?,
                "mean_horizontal" => polars::lazy::dsl::mean_horizontal(&args, ignore_nulls)?,
                "min_horizontal" => polars::lazy::dsl::min_horizontal(&args)?,
                _ => polars::lazy::dsl::max_horizontal(&args)?,
            }
        },
        "concat_str" => {
            if args.is_empty() {
                return Err(bad(path, "takes at least one argument"));
            }
            opts.check_known(&["separator", "ignore_nulls"])?;
            concat_str(&args, &opts.string("separator")?.unwrap_or_default(), opts.boolean("ignore_nulls", false)?)
        },
        "diff" => {
            arity(1)?;
            opts.check_known(&["n"])?;
            // Default null behaviour: Ignore, as in polars.
            input().diff(lit(opts.int("n", 1)?), Default::default())
        },
        "pct_change" => {
            arity(1)?;
            opts.check_known(&["n"])?;
            input().pct_change(lit(opts.int("n", 1)?))
        },
        "cum_sum" | "cum_prod" | "cum_min" | "cum_max" | "cum_count" => {
            arity(1)?;
            opts.check_known(&["reverse"])?;
            let reverse = opts.boolean("reverse", false)?;
            match name {
                "cum_sum" => input().cum_sum(reverse),
                "cum_prod" => input().cum_prod(reverse),
                "cum_min" => input().cum_min(reverse),
                "cum_max" => input().cum_max(reverse),
                _ => input().cum_count(reverse),
            }
        },
        "rolling_sum" => input_checked(&args, path)?.rolling_sum(rolling(&opts)?),
        "rolling_mean" => input_checked(&args, path)?.rolling_mean(rolling(&opts)?),
        "rolling_min" => input_checked(&args, path)?.rolling_min(rolling(&opts)?),
        "rolling_max" => input_checked(&args, path)?.rolling_max(rolling(&opts)?),
        "rolling_std" => input_checked(&args, path)?.rolling_std(rolling(&opts)?),
        "rolling_var" => input_checked(&args, path)?.rolling_var(rolling(&opts)?),
        "rolling_skew" => input_checked(&args, path)?.rolling_skew(rolling(&opts)?),
        "rolling_kurtosis" => input_checked(&args, path)?.rolling_kurtosis(rolling(&opts)?),
        "rolling_corr" | "rolling_cov" => {
            // Of args[0] and args[1] over each row's last window_size rows.
            arity(2)?;
            opts.check_known(&["window_size", "min_periods", "ddof"])?;
            let window_size = opts.uint("window_size", 0)?;
            if window_size == 0 {
                return Err(bad(path, "option window_size (a positive integer) is required"));
            }
            let options = RollingCovOptions {
                window_size: IdxSize::try_from(window_size).map_err(|_| bad(path, "window_size is too large"))?,
                min_periods: IdxSize::try_from(opts.uint("min_periods", window_size)?).map_err(|_| bad(path, "min_periods is too large"))?,
                ddof: u8::try_from(opts.uint("ddof", 1)?).map_err(|_| bad(path, "ddof is too large"))?,
            };
            let (x, y) = (input(), args[1].clone());
            if name == "rolling_corr" { polars::lazy::dsl::rolling_corr(x, y, options) } else { polars::lazy::dsl::rolling_cov(x, y, options) }
        },
        "hist" => {
            // args[1], if given, the bin edges (a list); else bin_count equal bins.
            if args.len() != 2 {
                arity(1)?;
            }
            opts.check_known(&["bin_count", "include_category", "include_breakpoint"])?;
            let bin_count = match opts.uint("bin_count", 0)? {
                0 => None,
                n => Some(n as usize),
            };
            if bin_count.is_some() && args.len() == 2 {
                return Err(bad(path, "give bin edges (args[1]) or bin_count, not both"));
            }
            let bins = args.get(1).cloned().map(|b| b.explode(ExplodeOptions { empty_as_null: false, keep_nulls: true }));
            input().hist(bins, bin_count, opts.boolean("include_category", false)?, opts.boolean("include_breakpoint", false)?)
        },
        "index_of" => {
            // The first index of args[1] (one value), or null.
            arity(2)?;
            opts.check_known(&[])?;
            input().index_of(args[1].clone())
        },
        "is_close" => {
            arity(2)?;
            opts.check_known(&["abs_tol", "rel_tol", "nans_equal"])?;
            let (abs_tol, rel_tol) = (opts.float("abs_tol", 0.0)?, opts.float("rel_tol", 1e-9)?);
            if !(abs_tol >= 0.0 && rel_tol >= 0.0) {
                return Err(bad(path, "abs_tol and rel_tol must not be negative"));
            }
            input().is_close(args[1].clone(), abs_tol, rel_tol, opts.boolean("nans_equal", false)?)
        },
        "min_by" | "max_by" => {
            // args[0]'s value where args[1] is least (greatest); the first such row.
            arity(2)?;
            opts.check_known(&[])?;
            if name == "min_by" { input().min_by(args[1].clone()) } else { input().max_by(args[1].clone()) }
        },
        "rolling_sum_by" | "rolling_mean_by" | "rolling_min_by" | "rolling_max_by" | "rolling_std_by" | "rolling_var_by"
        | "rolling_median_by" => {
            // Checks the arity before args are read.
            let options = rolling_by(&opts)?;
            let (x, by) = (input(), args[1].clone());
            match name {
                "rolling_sum_by" => x.rolling_sum_by(by, options),
                "rolling_mean_by" => x.rolling_mean_by(by, options),
                "rolling_min_by" => x.rolling_min_by(by, options),
                "rolling_max_by" => x.rolling_max_by(by, options),
                "rolling_std_by" => x.rolling_std_by(by, options),
                "rolling_var_by" => x.rolling_var_by(by, options),
                _ => x.rolling_median_by(by, options),
            }
        },
        "sort" => {
            arity(1)?;
            opts.check_known(&["descending", "nulls_last"])?;
            input().sort(SortOptions {
                descending: opts.boolean("descending", false)?,
                nulls_last: opts.boolean("nulls_last", false)?,
                ..Default::default()
            })
        },
        "head" | "tail" => {
            arity(1)?;
            opts.check_known(&["n"])?;
            let n = opts.uint("n", 10)? as usize;
            if name == "head" { input().head(Some(n)) } else { input().tail(Some(n)) }
        },
        "str.contains" => {
            // The pattern: option pattern, or args[1] (an expression, per row).
            opts.check_known(&["pattern", "literal", "strict"])?;
            let literal = opts.boolean("literal", false)?;
            let pattern = match (args.len(), opts.string("pattern")?) {
                (1, Some(pattern)) => {
                    if !literal {
                        // Validate the regex here: a clear INVALID_ARGUMENT beats a failed query later.
                        regex_check(&pattern, path)?;
                    }
                    lit(pattern)
                },
                (2, None) => args[1].clone(),
                _ => return Err(bad(path, "takes option pattern, or the pattern as args[1]")),
            };
            if literal { input().str().contains_literal(pattern) } else { input().str().contains(pattern, opts.boolean("strict", true)?) }
        },
        "str.starts_with" | "str.ends_with" | "str.strip_prefix" | "str.strip_suffix" => {
            // The affix: option prefix/suffix, or args[1] (an expression).
            let key = if name.ends_with("prefix") || name == "str.starts_with" { "prefix" } else { "suffix" };
            opts.check_known(&[key])?;
            let affix = match (args.len(), opts.string(key)?) {
                (1, Some(text)) => lit(text),
                (2, None) => args[1].clone(),
                _ => return Err(bad(path, format!("takes option {key}, or the {key} as args[1]"))),
            };
            match name {
                "str.starts_with" => input().str().starts_with(affix),
                "str.ends_with" => input().str().ends_with(affix),
                "str.strip_prefix" => input().str().strip_prefix(affix),
                _ => input().str().strip_suffix(affix),
            }
        },
        "str.join" => {
            // A column's strings as one (an aggregation).
            arity(1)?;
            opts.check_known(&["delimiter", "ignore_nulls"])?;
            input().str().join(&opts.string("delimiter")?.unwrap_or_default(), opts.boolean("ignore_nulls", true)?)
        },
        "str.replace_all" | "str.replace" => {
            // str.replace changes the first match only, as polars'.
            arity(1)?;
            opts.check_known(if name == "str.replace" { &["pattern", "value", "literal", "n"] } else { &["pattern", "value", "literal"] })?;
            let pattern = opts.required_string("pattern")?;
            let literal = opts.boolean("literal", false)?;
            if !literal {
                regex_check(&pattern, path)?;
            }
            let (pattern, value) = (lit(pattern), lit(opts.required_string("value")?));
            // str.replace's n: the first n matches (-1: all).
            let n = opts.int("n", 1)?;
            if name == "str.replace" && n != 1 {
                if n < -1 {
                    return Err(bad(path, format!("n is {n}; a count of matches, or -1 for all")));
                }
                return Ok(input().str().replace_n(pattern, value, literal, n));
            }
            if name == "str.replace" {
                input().str().replace(pattern, value, literal)
            } else {
                input().str().replace_all(pattern, value, literal)
            }
        },
        "str.to_time" => {
            arity(1)?;
            opts.check_known(&["format", "strict", "exact"])?;
            let options = StrptimeOptions {
                format: opts.string("format")?.map(PlSmallStr::from),
                strict: opts.boolean("strict", true)?,
                exact: opts.boolean("exact", true)?,
                cache: true,
            };
            input().str().to_time(options)
        },
        "str.to_datetime" | "str.to_date" => {
            // polars' strptime: without a format it infers one from the values.
            arity(1)?;
            let is_datetime = name == "str.to_datetime";
            opts.check_known(if is_datetime {
                &["format", "strict", "exact", "time_unit", "time_zone"]
            } else {
                &["format", "strict", "exact"]
            })?;
            let options = StrptimeOptions {
                format: opts.string("format")?.map(PlSmallStr::from),
                strict: opts.boolean("strict", true)?,
                exact: opts.boolean("exact", true)?,
                cache: true,
            };
            if !is_datetime {
                input().str().to_date(options)
            } else {
                let time_unit = opts.time_unit("time_unit")?;
                let tz = time_zone(&opts.string("time_zone")?.unwrap_or_default(), path)?;
                input().str().to_datetime(time_unit, tz, options, lit("raise"))
            }
        },
        "str.split" => {
            arity(1)?;
            opts.check_known(&["by", "inclusive"])?;
            let by = lit(opts.required_string("by")?);
            if opts.boolean("inclusive", false)? { input().str().split_inclusive(by) } else { input().str().split(by) }
        },
        "arr.get" => {
            // args[1] the index (negative counts from the end).
            arity(2)?;
            opts.check_known(&["null_on_oob"])?;
            input().arr().get(args[1].clone(), opts.boolean("null_on_oob", false)?)
        },
        "arr.contains" => {
            arity(2)?;
            opts.check_known(&["nulls_equal"])?;
            input().arr().contains(args[1].clone(), opts.boolean("nulls_equal", true)?)
        },
        "arr.join" => {
            arity(1)?;
            opts.check_known(&["separator", "ignore_nulls"])?;
            input().arr().join(lit(opts.string("separator")?.unwrap_or_default()), opts.boolean("ignore_nulls", false)?)
        },
        "arr.sort" => {
            arity(1)?;
            opts.check_known(&["descending", "nulls_last"])?;
            input().arr().sort(SortOptions {
                descending: opts.boolean("descending", false)?,
                nulls_last: opts.boolean("nulls_last", false)?,
                ..Default::default()
            })
        },
        "arr.std" | "arr.var" => {
            arity(1)?;
            opts.check_known(&["ddof"])?;
            let ddof = u8::try_from(opts.uint("ddof", 1)?).map_err(|_| bad(path, "ddof is above 255"))?;
            if name == "arr.std" { input().arr().std(ddof) } else { input().arr().var(ddof) }
        },
        "arr.shift" => {
            arity(1)?;
            opts.check_known(&["n"])?;
            input().arr().shift(lit(opts.int("n", 1)?))
        },
        "arr.explode" => {
            arity(1)?;
            opts.check_known(&["empty_as_null", "keep_nulls"])?;
            input().arr().explode(ExplodeOptions {
                empty_as_null: opts.boolean("empty_as_null", false)?,
                keep_nulls: opts.boolean("keep_nulls", true)?,
            })
        },
        "list.get" => {
            // args[1] the index (negative counts from the end).
            arity(2)?;
            opts.check_known(&["null_on_oob"])?;
            input().list().get(args[1].clone(), opts.boolean("null_on_oob", false)?)
        },
        "list.contains" => {
            arity(2)?;
            opts.check_known(&["nulls_equal"])?;
            input().list().contains(args[1].clone(), opts.boolean("nulls_equal", true)?)
        },
        "list.join" => {
            arity(1)?;
            opts.check_known(&["separator", "ignore_nulls"])?;
            input().list().join(lit(opts.string("separator")?.unwrap_or_default()), opts.boolean("ignore_nulls", false)?)
        },
        "list.sort" => {
            arity(1)?;
            opts.check_known(&["descending", "nulls_last"])?;
            input().list().sort(SortOptions {
                descending: opts.boolean("descending", false)?,
                nulls_last: opts.boolean("nulls_last", false)?,
                ..Default::default()
            })
        },
        "str.slice" => {
            // offset and length as options, or as args[1] and args[2] (expressions; a null length: to the end).
            if args.len() == 3 {
                opts.check_known(&[])?;
                return Ok(input().str().slice(args[1].clone(), args[2].clone()));
            }
            arity(1)?;
            opts.check_known(&["offset", "length"])?;
            let length = match f.options.get("length") {
                Some(_) => lit(opts.uint("length", 0)?),
                None => lit(Null {}),
            };
            input().str().slice(lit(opts.int("offset", 0)?), length)
        },
        "dt.truncate" => {
            arity(1)?;
            opts.check_known(&["every"])?;
            let every = opts.required_string("every")?;
            Duration::try_parse(&every).map_err(|e| bad(path, format!("every {every:?}: {e}")))?;
            input().dt().truncate(lit(every))
        },
        "dt.offset_by" => {
            // args[1]: the offset, a duration string ("1d", "-2h30m") per row or literal.
            arity(2)?;
            opts.check_known(&[])?;
            input().dt().offset_by(args[1].clone())
        },
        "dt.strftime" => {
            arity(1)?;
            opts.check_known(&["format"])?;
            input().dt().strftime(&opts.required_string("format")?)
        },
        "dt.convert_time_zone" => {
            arity(1)?;
            opts.check_known(&["time_zone"])?;
            let tz = time_zone(&opts.required_string("time_zone")?, path)?
                .ok_or_else(|| bad(path, "option time_zone must not be empty"))?;
            input().dt().convert_time_zone(tz)
        },
        "dt.replace_time_zone" => {
            arity(1)?;
            opts.check_known(&["time_zone", "ambiguous", "non_existent"])?;
            let tz = time_zone(&opts.string("time_zone")?.unwrap_or_default(), path)?;
            // A wall time a DST change repeats (ambiguous) or skips (non_existent).
            let ambiguous = opts.string("ambiguous")?.unwrap_or_else(|| "raise".into());
            if !["raise", "earliest", "latest", "null"].contains(&ambiguous.as_str()) {
                return Err(bad(path, format!("unknown ambiguous {ambiguous:?} (raise, earliest, latest, null)")));
            }
            let non_existent = match opts.string("non_existent")?.as_deref().unwrap_or("raise") {
                "raise" => NonExistent::Raise,
                "null" => NonExistent::Null,
                other => return Err(bad(path, format!("unknown non_existent {other:?} (raise, null)"))),
            };
            input().dt().replace_time_zone(tz, lit(ambiguous), non_existent)
        },
        "dt.epoch" => {
            arity(1)?;
            opts.check_known(&["unit"])?;
            match opts.string("unit")?.as_deref().unwrap_or("us") {
                "s" => input().dt().timestamp(TimeUnit::Milliseconds) / lit(1000i64),
                "ms" => input().dt().timestamp(TimeUnit::Milliseconds),
                "us" => input().dt().timestamp(TimeUnit::Microseconds),
                "ns" => input().dt().timestamp(TimeUnit::Nanoseconds),
                other => return Err(bad(path, format!("unknown unit {other:?} (s, ms, us, ns)"))),
            }
        },
        "arg_sort" => {
            arity(1)?;
            opts.check_known(&["descending", "nulls_last"])?;
            input().arg_sort(opts.boolean("descending", false)?, opts.boolean("nulls_last", false)?)
        },
        "gather_every" => {
            arity(1)?;
            opts.check_known(&["n", "offset"])?;
            let n = opts.uint("n", 0)? as usize;
            if n == 0 {
                return Err(bad(path, "option n (a positive integer) is required"));
            }
            input().gather_every(n, opts.uint("offset", 0)? as usize)
        },
        "top_k" | "bottom_k" => {
            arity(1)?;
            opts.check_known(&["k"])?;
            let k = lit(opts.uint("k", 5)?);
            if name == "top_k" { input().top_k(k) } else { input().bottom_k(k) }
        },
        "mode" => {
            // Every most frequent value (there may be several).
            arity(1)?;
            opts.check_known(&["maintain_order"])?;
            input().mode(opts.boolean("maintain_order", false)?)
        },
        "int_range" => {
            // args: start, end (end excluded); a column of the integers between.
            arity(2)?;
            opts.check_known(&["step", "dtype"])?;
            let step = opts.int("step", 1)?;
            if step == 0 {
                return Err(bad(path, "step must not be 0"));
            }
            let dtype = match opts.string("dtype")? {
                None => DataType::Int64,
                Some(text) => parse_dtype(&text).map_err(|e| bad(path, e))?,
            };
            if !dtype.is_integer() {
                return Err(bad(path, format!("dtype must be an integer type, got {dtype}")));
            }
            polars::lazy::dsl::int_range(args[0].clone(), args[1].clone(), step, dtype)
        },
        "int_ranges" => {
            // args: start, end (excluded), step - per row; a list of the integers between.
            arity(3)?;
            opts.check_known(&["dtype"])?;
            let dtype = match opts.string("dtype")? {
                None => DataType::Int64,
                Some(text) => parse_dtype(&text).map_err(|e| bad(path, e))?,
            };
            if !dtype.is_integer() {
                return Err(bad(path, format!("dtype must be an integer type, got {dtype}")));
            }
            polars::lazy::dsl::int_ranges(args[0].clone(), args[1].clone(), args[2].clone(), dtype)
        },
        "str.to_integer" => {
            arity(1)?;
            opts.check_known(&["base", "strict"])?;
            let base = opts.uint("base", 10)?;
            if !(2..=36).contains(&base) {
                return Err(bad(path, format!("base must be in 2..=36, got {base}")));
            }
            input().str().to_integer(lit(base as u32), None, opts.boolean("strict", true)?)
        },
        "replace" | "replace_strict" => {
            // args[1] the old values, args[2] the new (lists, or one value each);
            // replace_strict: args[3] the default for values not in args[1]
            // (without it, such a value is an error), and return_dtype.
            let strict = name == "replace_strict";
            if !(args.len() == 3 || strict && args.len() == 4) {
                return Err(bad(path, format!("takes {} arguments (the input, old, new{}), got {}", if strict { "3 or 4" } else { "3" }, if strict { ", default" } else { "" }, args.len())));
            }
            opts.check_known(if strict { &["return_dtype"] } else { &[] })?;
            let (old, new) = (args[1].clone(), args[2].clone());
            if !strict {
                input().replace(old, new)
            } else {
                let dtype = match opts.string("return_dtype")? {
                    Some(text) => Some(parse_dtype(&text).map_err(|e| bad(path, e))?),
                    None => None,
                };
                input().replace_strict(old, new, args.get(3).cloned(), dtype)
            }
        },
        "rolling_quantile" | "rolling_median" => {
            let median = name == "rolling_median";
            opts.check_known(if median {
                &["window_size", "min_periods", "center"]
            } else {
                &["window_size", "min_periods", "center", "quantile", "interpolation"]
            })?;
            let x = input_checked(&args, path)?;
            let options = fixed_window(&opts, path)?;
            if median {
                x.rolling_median(options)
            } else {
                let q = opts.float("quantile", f64::NAN)?;
                if !(0.0..=1.0).contains(&q) {
                    return Err(bad(path, "option quantile must be in [0, 1]"));
                }
                x.rolling_quantile(quantile_method(opts.string("interpolation")?.as_deref().unwrap_or("nearest"), path)?, q, options)
            }
        },
        "corr" | "cov" => {
            arity(2)?;
            let (a, b) = (input(), args[1].clone());
            if name == "cov" {
                opts.check_known(&["ddof"])?;
                let ddof = u8::try_from(opts.uint("ddof", 1)?).map_err(|_| bad(path, "ddof is too large"))?;
                polars::lazy::dsl::cov(a, b, ddof)
            } else {
                opts.check_known(&["method", "propagate_nans"])?;
                match opts.string("method")?.as_deref().unwrap_or("pearson") {
                    "pearson" => polars::lazy::dsl::pearson_corr(a, b),
                    "spearman" => polars::lazy::dsl::spearman_rank_corr(a, b, opts.boolean("propagate_nans", false)?),
                    other => return Err(bad(path, format!("unknown method {other:?} (pearson, spearman)"))),
                }
            }
        },
        "ewm_mean_by" => {
            // args[1]: the (sorted) times; half_life a duration such as "5m".
            arity(2)?;
            opts.check_known(&["half_life"])?;
            let text = opts.required_string("half_life")?;
            let half_life = Duration::try_parse(&text).map_err(|e| bad(path, format!("half_life {text:?}: {e}")))?;
            if half_life.is_zero() || half_life.negative() || half_life.parsed_int || half_life.months() > 0 {
                return Err(bad(path, format!("half_life {text:?} must be a positive fixed duration such as \"5m\"")));
            }
            input().ewm_mean_by(args[1].clone(), half_life)
        },
        "dt.cast_time_unit" => {
            arity(1)?;
            opts.check_known(&["unit"])?;
            let unit = opts.time_unit("unit")?.ok_or_else(|| bad(path, "option unit is required"))?;
            input().dt().cast_time_unit(unit)
        },
        "list.slice" => {
            // args[1] the offset (negative counts from the end), args[2] the length.
            arity(3)?;
            opts.check_known(&[])?;
            input().list().slice(args[1].clone(), args[2].clone())
        },
        "concat_list" => {
            if args.is_empty() {
                return Err(bad(path, "takes at least one argument"));
            }
            opts.check_known(&[])?;
            concat_list(&args).map_err(|e| bad(path, e))?
        },
        "as_struct" => {
            // Every arg a field, named by its output name (alias them).
            if args.is_empty() {
                return Err(bad(path, "takes at least one argument"));
            }
            opts.check_known(&[])?;
            as_struct(args.clone())
        },
        "struct.rename_fields" => {
            arity(1)?;
            opts.check_known(&["names"])?;
            let text = |v: &Value| if let Value::String(s) = v { Some(s.clone()) } else { None };
            let names = opts.list("names", "a list of strings", text)?.ok_or_else(|| bad(path, "option names is required"))?;
            input().struct_().rename_fields(names)
        },
        "struct.field" => {
            arity(1)?;
            opts.check_known(&["name"])?;
            input().struct_().field_by_name(&opts.required_string("name")?)
        },
        "value_counts" => {
            // A struct per distinct value: the value and its count (field `name`).
            arity(1)?;
            opts.check_known(&["sort", "parallel", "name", "normalize"])?;
            let normalize = opts.boolean("normalize", false)?;
            let default_name = if normalize { "proportion" } else { "count" };
            let field = opts.string("name")?.unwrap_or_else(|| default_name.into());
            input().value_counts(opts.boolean("sort", false)?, opts.boolean("parallel", false)?, &field, normalize)
        },
        "top_k_by" | "bottom_k_by" => {
            // args[1..]: the keys; descending one per key, or one for all.
            if args.len() < 2 {
                return Err(bad(path, "takes the input and at least one key"));
            }
            opts.check_known(&["k", "descending"])?;
            let k = lit(opts.uint("k", 5)?);
            let by = args[1..].to_vec();
            let boolean = |v: &Value| if let Value::Boolean(b) = v { Some(*b) } else { None };
            let descending = opts.list("descending", "a boolean or a list of them", boolean)?.unwrap_or(vec![false]);
            let descending = if descending.len() == 1 { vec![descending[0]; by.len()] } else { descending };
            if descending.len() != by.len() {
                return Err(bad(path, format!("descending has {} values for {} keys", descending.len(), by.len())));
            }
            if name == "top_k_by" { input().top_k_by(k, by, descending) } else { input().bottom_k_by(k, by, descending) }
        },
        "gather" => {
            // The rows at args[1] (an expression), or at option indices (a
            // list of integers); negative indices count from the end.
            opts.check_known(&["indices", "null_on_oob"])?;
            let null_on_oob = opts.boolean("null_on_oob", false)?;
            let integer = |v: &Value| if let Value::Int64(i) = v { Some(*i) } else { None };
            match (args.len(), opts.list("indices", "a list of integers", integer)?) {
                (2, None) => input().gather(args[1].clone(), null_on_oob),
                (1, Some(indices)) => input().gather(lit(Series::new(PlSmallStr::EMPTY, indices)), null_on_oob),
                _ => return Err(bad(path, "takes the input and args[1] (the indices), or option indices (a list of integers)")),
            }
        },
        "coalesce" => {
            // The first non-null of args, row by row.
            if args.is_empty() {
                return Err(bad(path, "takes at least one argument"));
            }
            opts.check_known(&[])?;
            polars::lazy::dsl::coalesce(&args)
        },
        "fill_null_strategy" => {
            arity(1)?;
            opts.check_known(&["strategy"])?;
            let strategy = match opts.required_string("strategy")?.as_str() {
                "zero" => FillNullStrategy::Zero,
                "one" => FillNullStrategy::One,
                "mean" => FillNullStrategy::Mean,
                "min" => FillNullStrategy::Min,
                "max" => FillNullStrategy::Max,
                other => return Err(bad(path, format!("unknown strategy {other:?} (zero, one, mean, min, max)"))),
            };
            input().fill_null_with_strategy(strategy)
        },
        "str.head" | "str.tail" => {
            arity(1)?;
            opts.check_known(&["n"])?;
            let n = lit(opts.int("n", 10)?);
            if name == "str.head" { input().str().head(n) } else { input().str().tail(n) }
        },
        "str.pad_start" | "str.pad_end" | "str.zfill" => {
            arity(1)?;
            let zfill = name == "str.zfill";
            opts.check_known(if zfill { &["length"] } else { &["length", "fill_char"] })?;
            let length = lit(opts.uint("length", 0)?);
            let fill = opts.string("fill_char")?.unwrap_or_else(|| " ".into());
            let mut chars = fill.chars();
            let (Some(fill_char), None) = (chars.next(), chars.next()) else {
                return Err(bad(path, format!("fill_char must be one character, got {fill:?}")));
            };
            match name {
                "str.zfill" => input().str().zfill(length),
                "str.pad_start" => input().str().pad_start(length, fill_char),
                _ => input().str().pad_end(length, fill_char),
            }
        },
        "str.strip_chars" | "str.strip_chars_start" | "str.strip_chars_end" => {
            // characters: the set to strip (unset: whitespace).
            arity(1)?;
            opts.check_known(&["characters"])?;
            let characters = match opts.string("characters")? {
                Some(c) => lit(c),
                None => lit(Null {}),
            };
            match name {
                "str.strip_chars_start" => input().str().strip_chars_start(characters),
                "str.strip_chars_end" => input().str().strip_chars_end(characters),
                _ => input().str().strip_chars(characters),
            }
        },
        "str.extract" => {
            arity(1)?;
            opts.check_known(&["pattern", "group_index"])?;
            let pattern = opts.required_string("pattern")?;
            regex_check(&pattern, path)?;
            input().str().extract(lit(pattern), opts.uint("group_index", 1)? as usize)
        },
        "str.extract_all" => {
            arity(1)?;
            opts.check_known(&["pattern"])?;
            let pattern = opts.required_string("pattern")?;
            regex_check(&pattern, path)?;
            input().str().extract_all(lit(pattern))
        },
        "str.count_matches" => {
            arity(1)?;
            opts.check_known(&["pattern", "literal"])?;
            let pattern = opts.required_string("pattern")?;
            let literal = opts.boolean("literal", false)?;
            if !literal {
                regex_check(&pattern, path)?;
            }
            input().str().count_matches(lit(pattern), literal)
        },
        "dt.round" => {
            arity(1)?;
            opts.check_known(&["every"])?;
            let every = opts.required_string("every")?;
            Duration::try_parse(&every).map_err(|e| bad(path, format!("every {every:?}: {e}")))?;
            input().dt().round(lit(every))
        },
        "dt.total_days" | "dt.total_hours" | "dt.total_minutes" | "dt.total_seconds" | "dt.total_milliseconds"
        | "dt.total_microseconds" | "dt.total_nanoseconds" => {
            // Of a duration; fractional keeps the part below the unit (a float).
            arity(1)?;
            opts.check_known(&["fractional"])?;
            let (fractional, dt) = (opts.boolean("fractional", false)?, input().dt());
            match name {
                "dt.total_days" => dt.total_days(fractional),
                "dt.total_hours" => dt.total_hours(fractional),
                "dt.total_minutes" => dt.total_minutes(fractional),
                "dt.total_seconds" => dt.total_seconds(fractional),
                "dt.total_milliseconds" => dt.total_milliseconds(fractional),
                "dt.total_microseconds" => dt.total_microseconds(fractional),
                _ => dt.total_nanoseconds(fractional),
            }
        },
        "rolling" => {
            // args[0] evaluated over each row's window of args[1] (a sorted
            // time or integer column): [t + offset, t + offset + period].
            arity(2)?;
            opts.check_known(&["period", "offset", "closed"])?;
            let text = opts.required_string("period")?;
            let period = Duration::try_parse(&text).map_err(|e| bad(path, format!("period {text:?}: {e}")))?;
            if period.is_zero() || period.negative() {
                return Err(bad(path, format!("period {text:?} must be positive")));
            }
            let offset = match opts.string("offset")? {
                Some(text) => Duration::try_parse(&text).map_err(|e| bad(path, format!("offset {text:?}: {e}")))?,
                None => -period,
            };
            let closed = closed_window(opts.string("closed")?.as_deref().unwrap_or("right"), path)?;
            input().rolling(args[1].clone(), period, offset, closed)
        },
        "str.to_decimal" => {
            arity(1)?;
            opts.check_known(&["scale"])?;
            let scale = opts.uint("scale", 0)? as usize;
            if scale > 38 {
                return Err(bad(path, format!("scale {scale} is above 38")));
            }
            input().str().to_decimal(scale)
        },
        "str.normalize" => {
            // Unicode normalization, as polars' str.normalize: form NFC (default), NFKC, NFD or NFKD.
            arity(1)?;
            opts.check_known(&["form"])?;
            let form = match opts.string("form")?.as_deref().map(str::to_ascii_uppercase).as_deref() {
                None | Some("NFC") => UnicodeForm::NFC,
                Some("NFKC") => UnicodeForm::NFKC,
                Some("NFD") => UnicodeForm::NFD,
                Some("NFKD") => UnicodeForm::NFKD,
                Some(other) => return Err(bad(path, format!("form {other:?} is not one of NFC, NFKC, NFD, NFKD"))),
            };
            input().str().normalize(form)
        },
        "str.hex_decode" | "str.base64_decode" => {
            // Into binary; strict: a value that is not valid in the encoding is an error (else null).
            arity(1)?;
            opts.check_known(&["strict"])?;
            let strict = opts.boolean("strict", true)?;
            if name == "str.hex_decode" { input().str().hex_decode(strict) } else { input().str().base64_decode(strict) }
        },
        "item" => {
            // The one value (of a group); more than one is an error, none too unless allow_empty.
            arity(1)?;
            opts.check_known(&["allow_empty"])?;
            input().item(opts.boolean("allow_empty", false)?)
        },
        "get" => {
            // One value, at args[1] (negative counts from the end); in a group, a scalar.
            arity(2)?;
            opts.check_known(&["null_on_oob"])?;
            input().get(args[1].clone(), opts.boolean("null_on_oob", false)?)
        },
        "append" => {
            arity(2)?;
            opts.check_known(&["upcast"])?;
            input().append(args[1].clone(), opts.boolean("upcast", true)?)
        },
        "extend_constant" => {
            // args[1] the value, args[2] how many times.
            arity(3)?;
            opts.check_known(&[])?;
            input().extend_constant(args[1].clone(), args[2].clone())
        },
        "repeat_by" => {
            arity(2)?;
            opts.check_known(&[])?;
            input().repeat_by(args[1].clone())
        },
        "repeat" => {
            // args[0] the value, args[1] how many times.
            arity(2)?;
            opts.check_known(&[])?;
            polars::lazy::dsl::repeat(input(), args[1].clone())
        },
        "date_range" | "datetime_range" => {
            // args[0] start, args[1] end; interval a duration ("1d", "6h").
            arity(2)?;
            let dates = name == "date_range";
            opts.check_known(if dates { &["interval", "closed"] } else { &["interval", "closed", "time_unit", "time_zone"] })?;
            let interval = opts.string("interval")?.unwrap_or_else(|| "1d".into());
            let interval = Duration::try_parse(&interval).map_err(|e| bad(path, format!("interval {interval:?}: {e}")))?;
            if interval.is_zero() || interval.negative() {
                return Err(bad(path, "interval must be a positive duration"));
            }
            let closed = closed_window(opts.string("closed")?.as_deref().unwrap_or("both"), path)?;
            let (start, end) = (Some(args[0].clone()), Some(args[1].clone()));
            if dates {
                polars::lazy::dsl::date_range(start, end, Some(interval), None, closed)?
            } else {
                let tz = time_zone(&opts.string("time_zone")?.unwrap_or_default(), path)?;
                polars::lazy::dsl::datetime_range(start, end, Some(interval), None, closed, opts.time_unit("time_unit")?, tz)?
            }
        },
        "dt.combine" => {
            // A date (or datetime's date) with args[1]'s time of day.
            arity(2)?;
            opts.check_known(&["time_unit"])?;
            input().dt().combine(args[1].clone(), opts.time_unit("time_unit")?.unwrap_or(TimeUnit::Microseconds))
        },
        "list.diff" => {
            arity(1)?;
            opts.check_known(&["n", "null_behavior"])?;
            let behavior = match opts.string("null_behavior")?.as_deref().unwrap_or("ignore") {
                "ignore" => polars::series::ops::NullBehavior::Ignore,
                "drop" => polars::series::ops::NullBehavior::Drop,
                other => return Err(bad(path, format!("unknown null_behavior {other:?} (ignore, drop)"))),
            };
            input().list().diff(opts.int("n", 1)?, behavior)
        },
        "list.std" | "list.var" => {
            arity(1)?;
            opts.check_known(&["ddof"])?;
            let ddof = u8::try_from(opts.uint("ddof", 1)?).map_err(|_| bad(path, "ddof is above 255"))?;
            if name == "list.std" { input().list().std(ddof) } else { input().list().var(ddof) }
        },
        "list.gather_every" => {
            arity(1)?;
            opts.check_known(&["n", "offset"])?;
            let n = opts.uint("n", 0)?;
            if n == 0 {
                return Err(bad(path, "option n (a positive integer) is required"));
            }
            input().list().gather_every(lit(n), lit(opts.uint("offset", 0)?))
        },
        "list.shift" => {
            arity(1)?;
            opts.check_known(&["n"])?;
            input().list().shift(lit(opts.int("n", 1)?))
        },
        "list.gather" => {
            // args[1]: the indices (a list per row, or one list for all).
            arity(2)?;
            opts.check_known(&["null_on_oob"])?;
            input().list().gather(args[1].clone(), opts.boolean("null_on_oob", false)?)
        },
        "list.count_matches" => {
            arity(2)?;
            opts.check_known(&[])?;
            input().list().count_matches(args[1].clone())
        },
        "explode" => {
            // A list's values as rows (polars' defaults: an empty list is no row, a null one a null).
            arity(1)?;
            opts.check_known(&["empty_as_null", "keep_nulls"])?;
            let options =
                ExplodeOptions { empty_as_null: opts.boolean("empty_as_null", false)?, keep_nulls: opts.boolean("keep_nulls", true)? };
            input().explode(options)
        },
        "list.set_union" | "list.set_difference" | "list.set_intersection" | "list.set_symmetric_difference" => {
            arity(2)?;
            opts.check_known(&[])?;
            let other = args[1].clone();
            match name {
                "list.set_union" => input().list().union(other),
                "list.set_difference" => input().list().set_difference(other),
                "list.set_intersection" => input().list().set_intersection(other),
                _ => input().list().set_symmetric_difference(other),
            }
        },
        "list.to_array" => {
            // width: every list's length (another length is an error).
            arity(1)?;
            opts.check_known(&["width"])?;
            let width = opts.uint("width", 0)?;
            if width == 0 {
                return Err(bad(path, "option width is required and must be positive"));
            }
            input().list().to_array(width as usize)
        },
        "list.to_struct" => {
            // fields: the struct's field names, one per leading list element.
            arity(1)?;
            opts.check_known(&["fields"])?;
            let text = |v: &Value| if let Value::String(s) = v { Some(PlSmallStr::from(s.as_str())) } else { None };
            let fields = opts.list("fields", "a list of strings", text)?.ok_or_else(|| bad(path, "option fields is required"))?;
            if fields.is_empty() {
                return Err(bad(path, "fields must name at least one field"));
            }
            input().list().to_struct(fields.into())
        },
        "arctan2" => {
            // atan2(input, args[1]): the angle of the point (args[1], input).
            arity(2)?;
            opts.check_known(&[])?;
            input().arctan2(args[1].clone())
        },
        "skew" => {
            arity(1)?;
            opts.check_known(&["bias"])?;
            input().skew(opts.boolean("bias", true)?)
        },
        "kurtosis" => {
            arity(1)?;
            opts.check_known(&["fisher", "bias"])?;
            input().kurtosis(opts.boolean("fisher", true)?, opts.boolean("bias", true)?)
        },
        "entropy" => {
            arity(1)?;
            opts.check_known(&["base", "normalize"])?;
            let base = opts.float("base", std::f64::consts::E)?;
            if !(base > 0.0 && base != 1.0) {
                return Err(bad(path, format!("base must be positive and not 1, got {base}")));
            }
            input().entropy(base, opts.boolean("normalize", true)?)
        },
        "search_sorted" => {
            // Where args[1]'s values would go in the (sorted) input.
            arity(2)?;
            opts.check_known(&["side", "descending"])?;
            let side = match opts.string("side")?.as_deref().unwrap_or("any") {
                "any" => SearchSortedSide::Any,
                "left" => SearchSortedSide::Left,
                "right" => SearchSortedSide::Right,
                other => return Err(bad(path, format!("unknown side {other:?} (any, left, right)"))),
            };
            input().search_sorted(args[1].clone(), side, opts.boolean("descending", false)?)
        },
        "interpolate_by" => {
            // Linear in args[1] (e.g. a time column), which must be sorted.
            arity(2)?;
            opts.check_known(&[])?;
            input().interpolate_by(args[1].clone())
        },
        "cut" | "qcut" => {
            // cut: at the given breaks; qcut: at the given quantiles, or n equal ones.
            arity(1)?;
            let number = |v: &Value| match v {
                Value::Float64(x) => Some(*x),
                Value::Int64(x) => Some(*x as f64),
                _ => None,
            };
            let text = |v: &Value| if let Value::String(s) = v { Some(PlSmallStr::from(s.as_str())) } else { None };
            let labels = opts.list("labels", "a list of strings", text)?;
            let (left_closed, include_breaks) = (opts.boolean("left_closed", false)?, opts.boolean("include_breaks", false)?);
            if name == "cut" {
                opts.check_known(&["breaks", "labels", "left_closed", "include_breaks"])?;
                let breaks = opts.list("breaks", "a list of numbers", number)?.unwrap_or_default();
                if breaks.iter().any(|b| b.is_nan()) {
                    return Err(bad(path, "breaks must not be NaN"));
                }
                if let Some(l) = labels.as_ref().filter(|l| l.len() != breaks.len() + 1) {
                    return Err(bad(path, format!("{} labels for {} breaks (one more label than breaks)", l.len(), breaks.len())));
                }
                input().cut(breaks, labels, left_closed, include_breaks)
            } else {
                opts.check_known(&["quantiles", "n", "labels", "left_closed", "allow_duplicates", "include_breaks"])?;
                let allow_duplicates = opts.boolean("allow_duplicates", false)?;
                let probs = match (opts.list("quantiles", "a list of numbers", number)?, f.options.contains_key("n")) {
                    (Some(q), false) => q,
                    (None, true) => {
                        let n = opts.uint("n", 0)?;
                        if n == 0 {
                            return Err(bad(path, "n must be at least 1"));
                        }
                        (1..n).map(|b| b as f64 / n as f64).collect()
                    },
                    _ => return Err(bad(path, "takes option quantiles (a list) or option n (a number of bins)")),
                };
                if probs.iter().any(|p| !(0.0..=1.0).contains(p)) {
                    return Err(bad(path, "quantiles must be between 0 and 1"));
                }
                if let Some(l) = labels.as_ref().filter(|l| l.len() != probs.len() + 1) {
                    return Err(bad(path, format!("{} labels for {} quantiles (one more label than quantiles)", l.len(), probs.len())));
                }
                input().qcut(probs, labels, left_closed, allow_duplicates, include_breaks)
            }
        },
        "str.find" => {
            // The first match's character index, or null.
            arity(1)?;
            opts.check_known(&["pattern", "literal", "strict"])?;
            let pattern = opts.required_string("pattern")?;
            if opts.boolean("literal", false)? {
                input().str().find_literal(lit(pattern))
            } else {
                regex_check(&pattern, path)?;
                input().str().find(lit(pattern), opts.boolean("strict", true)?)
            }
        },
        "str.split_exact" | "str.splitn" => {
            // A struct of n + 1 (split_exact) or n (splitn) string fields.
            arity(1)?;
            let exact = name == "str.split_exact";
            opts.check_known(if exact { &["by", "n", "inclusive"] } else { &["by", "n"] })?;
            let by = lit(opts.required_string("by")?);
            let n = usize::try_from(opts.uint("n", 0)?).map_err(|_| bad(path, "n is too large"))?;
            if n > 4096 {
                return Err(bad(path, format!("n is {n}; at most 4096 fields")));
            }
            match (exact, opts.boolean("inclusive", false)?) {
                (true, true) => input().str().split_exact_inclusive(by, n),
                (true, false) => input().str().split_exact(by, n),
                _ => input().str().splitn(by, n),
            }
        },
        "str.contains_any" | "str.replace_many" | "str.extract_many" | "str.find_many" => {
            // Aho-Corasick over a list of literal patterns.
            arity(1)?;
            let text = |v: &Value| if let Value::String(s) = v { Some(s.clone()) } else { None };
            let strings = |key: &str| -> Result<Expr> {
                let values = opts.list(key, "a list of strings", text)?.ok_or_else(|| bad(path, format!("option {key} is required")))?;
                Ok(lit(Series::new(PlSmallStr::EMPTY, values)).implode(true))
            };
            let case = opts.boolean("ascii_case_insensitive", false)?;
            let leftmost = opts.boolean("leftmost", false)?;
            match name {
                "str.contains_any" => {
                    opts.check_known(&["patterns", "ascii_case_insensitive"])?;
                    input().str().contains_any(strings("patterns")?, case)
                },
                "str.replace_many" => {
                    opts.check_known(&["patterns", "replace_with", "ascii_case_insensitive", "leftmost"])?;
                    input().str().replace_many(strings("patterns")?, strings("replace_with")?, case, leftmost)
                },
                _ => {
                    opts.check_known(&["patterns", "ascii_case_insensitive", "overlapping", "leftmost"])?;
                    let overlapping = opts.boolean("overlapping", false)?;
                    if name == "str.extract_many" {
                        input().str().extract_many(strings("patterns")?, case, overlapping, leftmost)
                    } else {
                        input().str().find_many(strings("patterns")?, case, overlapping, leftmost)
                    }
                },
            }
        },
        "datetime" => {
            // pl.datetime(year, month, day, hour, minute, second, microsecond):
            // args in that order, at least the first three.
            if !(3..=7).contains(&args.len()) {
                return Err(bad(path, format!("takes 3 to 7 arguments (year, month, day, hour, minute, second, microsecond), got {}", args.len())));
            }
            opts.check_known(&["time_unit", "time_zone", "ambiguous"])?;
            let time_unit = opts.time_unit("time_unit")?.unwrap_or(TimeUnit::Microseconds);
            let ambiguous = opts.string("ambiguous")?.unwrap_or_else(|| "raise".into());
            if !["raise", "earliest", "latest", "null"].contains(&ambiguous.as_str()) {
                return Err(bad(path, format!("unknown ambiguous {ambiguous:?} (raise, earliest, latest, null)")));
            }
            let part = |i: usize| args.get(i).cloned().unwrap_or_else(|| lit(0i32));
            let mut dt = DatetimeArgs::new(part(0), part(1), part(2)).with_hms(part(3), part(4), part(5));
            dt.microsecond = part(6);
            polars::lazy::dsl::datetime(
                dt.with_time_unit(time_unit)
                    .with_time_zone(time_zone(&opts.string("time_zone")?.unwrap_or_default(), path)?)
                    .with_ambiguous(lit(ambiguous)),
            )
        },
        "dt.replace" => {
            // args[1..8]: year, month, day, hour, minute, second, microsecond;
            // a null part keeps the value's own.
            arity(8)?;
            opts.check_known(&["ambiguous"])?;
            let ambiguous = opts.string("ambiguous")?.unwrap_or_else(|| "raise".into());
            if !["raise", "earliest", "latest", "null"].contains(&ambiguous.as_str()) {
                return Err(bad(path, format!("unknown ambiguous {ambiguous:?} (raise, earliest, latest, null)")));
            }
            let part = |i: usize| args[i].clone();
            input().dt().replace(part(1), part(2), part(3), part(4), part(5), part(6), part(7), lit(ambiguous))
        },
        "duration" => {
            // pl.duration(weeks, days, hours, minutes, seconds, milliseconds,
            // microseconds, nanoseconds): args in that order, as many as given.
            if !(1..=8).contains(&args.len()) {
                return Err(bad(path, format!("takes 1 to 8 arguments (weeks, days, hours, minutes, seconds, milliseconds, microseconds, nanoseconds), got {}", args.len())));
            }
            opts.check_known(&["time_unit"])?;
            let part = |i: usize| args.get(i).cloned().unwrap_or_else(|| lit(0i64));
            polars::lazy::dsl::duration(DurationArgs {
                weeks: part(0),
                days: part(1),
                hours: part(2),
                minutes: part(3),
                seconds: part(4),
                milliseconds: part(5),
                microseconds: part(6),
                nanoseconds: part(7),
                time_unit: opts.time_unit("time_unit")?.unwrap_or(TimeUnit::Microseconds),
            })
        },
        "" => return Err(bad(path, "function without a name")),
        other => return Err(bad(path, format!("unknown function {other:?}"))),
    })
}

/// A fixed window of rows: `window_size` (required), `min_periods` (the
/// window's size unless given), `center` (the window around each row rather
/// than ending at it, as polars' center=True).
fn fixed_window(opts: &Options, path: &str) -> Result<RollingOptionsFixedWindow> {
    let window_size = opts.uint("window_size", 0)? as usize;
    if window_size == 0 {
        return Err(bad(path, "option window_size (a positive integer) is required"));
    }
    let min_periods = opts.uint("min_periods", window_size as u64)? as usize;
    let center = opts.boolean("center", false)?;
    Ok(RollingOptionsFixedWindow { window_size, min_periods, center, ..Default::default() })
}

fn quantile_method(name: &str, path: &str) -> Result<QuantileMethod> {
    Ok(match name {
        "nearest" => QuantileMethod::Nearest,
        "lower" => QuantileMethod::Lower,
        "higher" => QuantileMethod::Higher,
        "midpoint" => QuantileMethod::Midpoint,
        "linear" => QuantileMethod::Linear,
        "equiprobable" => QuantileMethod::Equiprobable,
        other => return Err(bad(path, format!("unknown interpolation {other:?}"))),
    })
}

/// A window's closed side by name: right, left, both, none.
pub(crate) fn closed_side(name: &str) -> Option<ClosedWindow> {
    match name {
        "right" => Some(ClosedWindow::Right),
        "left" => Some(ClosedWindow::Left),
        "both" => Some(ClosedWindow::Both),
        "none" => Some(ClosedWindow::None),
        _ => None,
    }
}

fn closed_window(closed: &str, path: &str) -> Result<ClosedWindow> {
    closed_side(closed).ok_or_else(|| bad(path, format!("unknown closed {closed:?} (right, left, both, none)")))
}

fn input_checked(args: &[Expr], path: &str) -> Result<Expr> {
    match args {
        [one] => Ok(one.clone()),
        _ => Err(bad(path, format!("takes 1 argument (the input), got {}", args.len()))),
    }
}

fn regex_check(pattern: &str, path: &str) -> Result<()> {
    regex::Regex::new(pattern)
        .map(|_| ())
        .map_err(|e| bad(path, format!("invalid regex {pattern:?}: {e}")))
}
