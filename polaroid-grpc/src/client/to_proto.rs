//! polars `Expr` -> `polaroid.v1.Expr`. Unsupported nodes are refused here,
//! before anything is sent, with their path in the expression.

use std::collections::HashMap;

use polars::prelude::*;
use polars_plan::plans::DynLiteralValue;

use super::ClientError;
use crate::proto::{self, expr::Kind, literal::Value, BinaryOp};

type Result<T> = std::result::Result<T, ClientError>;

fn unsupported(path: &str, what: impl std::fmt::Display) -> ClientError {
    ClientError::UnsupportedExpr { path: path.to_string(), what: what.to_string() }
}

fn node(kind: Kind) -> proto::Expr {
    proto::Expr { kind: Some(kind) }
}

fn boxed(e: proto::Expr) -> Option<Box<proto::Expr>> {
    Some(Box::new(e))
}

fn function(name: &str, args: Vec<proto::Expr>, options: &[(&str, Value)]) -> proto::Expr {
    let options: HashMap<String, proto::Literal> = options
        .iter()
        .map(|(k, v)| (k.to_string(), proto::Literal { value: Some(v.clone()), dtype: None }))
        .collect();
    node(Kind::Function(proto::Function { name: name.into(), args, options }))
}

pub(crate) fn exprs(list: &[Expr], field: &str) -> Result<Vec<proto::Expr>> {
    list.iter().enumerate().map(|(i, e)| expr(e, &format!("{field}[{i}]"))).collect()
}

pub(crate) fn expr(e: &Expr, path: &str) -> Result<proto::Expr> {
    Ok(match e {
        Expr::Column(name) => node(Kind::Column(name.to_string())),
        Expr::Alias(inner, name) => node(Kind::Alias(Box::new(proto::Alias {
            expr: boxed(expr(inner, &format!("{path}.alias"))?),
            name: name.to_string(),
        }))),
        Expr::Literal(value) => node(Kind::Literal(literal(value, path)?)),
        Expr::Len => node(Kind::Len(proto::Empty {})),
        Expr::BinaryExpr { left, op, right } => {
            let op = binary_op(*op).ok_or_else(|| unsupported(path, format!("operator {op:?}")))?;
            node(Kind::Binary(Box::new(proto::BinaryExpr {
                left: boxed(expr(left, &format!("{path}.left"))?),
                op: op as i32,
                right: boxed(expr(right, &format!("{path}.right"))?),
            })))
        },
        Expr::Cast { expr: inner, dtype, options } => {
            let dtype = match dtype {
                DataTypeExpr::Literal(dt) => dt.to_string(),
                other => return Err(unsupported(path, format!("cast to a computed dtype {other:?}"))),
            };
            node(Kind::Cast(Box::new(proto::Cast {
                expr: boxed(expr(inner, &format!("{path}.cast"))?),
                dtype,
                non_strict: !options.is_strict(),
            })))
        },
        Expr::Ternary { predicate, truthy, falsy } => node(Kind::When(Box::new(proto::When {
            branches: vec![proto::WhenThen {
                when: Some(expr(predicate, &format!("{path}.when"))?),
                then: Some(expr(truthy, &format!("{path}.then"))?),
            }],
            otherwise: boxed(expr(falsy, &format!("{path}.otherwise"))?),
        }))),
        Expr::Over { function: inner, partition_by, order_by, mapping } => {
            let (order_by, sort) = match order_by {
                Some((by, sort)) => (vec![expr(by, &format!("{path}.order_by"))?], *sort),
                None => (vec![], SortOptions::default()),
            };
            node(Kind::Over(Box::new(proto::Over {
                expr: boxed(expr(inner, &format!("{path}.over"))?),
                partition_by: exprs(partition_by, &format!("{path}.partition_by"))?,
                order_by,
                order_descending: sort.descending,
                order_nulls_last: sort.nulls_last,
                mapping_strategy: match mapping {
                    WindowMapping::GroupsToRows => "groups_to_rows",
                    WindowMapping::Explode => "explode",
                    WindowMapping::Join => "join",
                }
                .into(),
            })))
        },
        Expr::SortBy { expr: inner, by, sort_options } => node(Kind::SortBy(Box::new(proto::SortBy {
            expr: boxed(expr(inner, &format!("{path}.sort_by"))?),
            by: exprs(by, &format!("{path}.by"))?,
            descending: sort_options.descending.clone(),
            nulls_last: sort_options.nulls_last.clone(),
            maintain_order: sort_options.maintain_order,
        }))),
        Expr::Sort { expr: inner, options } => function(
            "sort",
            vec![expr(inner, &format!("{path}.sort"))?],
            &[("descending", Value::Boolean(options.descending)), ("nulls_last", Value::Boolean(options.nulls_last))],
        ),
        Expr::Agg(agg) => aggregation(agg, path)?,
        Expr::Filter { input, by } => {
            function("filter", vec![expr(input, &format!("{path}.filter"))?, expr(by, &format!("{path}.by"))?], &[])
        },
        Expr::Slice { input, offset, length } => function(
            "slice",
            vec![
                expr(input, &format!("{path}.slice"))?,
                expr(offset, &format!("{path}.offset"))?,
                expr(length, &format!("{path}.length"))?,
            ],
            &[],
        ),
        Expr::Function { input, function: f } => function_call(input, f, path)?,
        Expr::Gather { expr: inner, idx, returns_scalar, null_on_oob } => function(
            // get(): one value (a scalar in a group); gather(): a column of them.
            if *returns_scalar { "get" } else { "gather" },
            vec![expr(inner, &format!("{path}.gather"))?, expr(idx, &format!("{path}.idx"))?],
            &[("null_on_oob", Value::Boolean(*null_on_oob))],
        ),
        Expr::Rolling { function: inner, index_column, period, offset, closed_window } => function(
            "rolling",
            vec![expr(inner, &format!("{path}.rolling"))?, expr(index_column, &format!("{path}.index_column"))?],
            &[
                ("period", Value::String(duration_text(period))),
                ("offset", Value::String(duration_text(offset))),
                ("closed", Value::String(closed_text(*closed_window))),
            ],
        ),
        Expr::Explode { input, options } => function(
            "explode",
            vec![expr(input, &format!("{path}.explode"))?],
            &[("empty_as_null", Value::Boolean(options.empty_as_null)), ("keep_nulls", Value::Boolean(options.keep_nulls))],
        ),
        other => return Err(unsupported(path, expr_kind(other))),
    })
}

fn expr_kind(e: &Expr) -> String {
    let text = format!("{e:?}");
    let short: String = text.chars().take(60).collect();
    format!("expression `{short}`")
}

fn binary_op(op: Operator) -> Option<BinaryOp> {
    Some(match op {
        Operator::Plus => BinaryOp::Add,
        Operator::Minus => BinaryOp::Sub,
        Operator::Multiply => BinaryOp::Mul,
        Operator::TrueDivide | Operator::RustDivide => BinaryOp::TrueDiv,
        Operator::FloorDivide => BinaryOp::FloorDiv,
        Operator::Modulus => BinaryOp::Mod,
        Operator::Eq => BinaryOp::Eq,
        Operator::NotEq => BinaryOp::Neq,
        Operator::Lt => BinaryOp::Lt,
        Operator::LtEq => BinaryOp::LtEq,
        Operator::Gt => BinaryOp::Gt,
        Operator::GtEq => BinaryOp::GtEq,
        Operator::And | Operator::LogicalAnd => BinaryOp::And,
        Operator::Or | Operator::LogicalOr => BinaryOp::Or,
        Operator::Xor => BinaryOp::Xor,
        Operator::EqValidity => BinaryOp::EqMissing,
        Operator::NotEqValidity => BinaryOp::NeqMissing,
    })
}

fn unit(tu: TimeUnit) -> i32 {
    (match tu {
        TimeUnit::Nanoseconds => proto::TimeUnit::Nanoseconds,
        TimeUnit::Microseconds => proto::TimeUnit::Microseconds,
        TimeUnit::Milliseconds => proto::TimeUnit::Milliseconds,
    }) as i32
}

fn literal(value: &LiteralValue, path: &str) -> Result<proto::Literal> {
    let plain = |v: Value| proto::Literal { value: Some(v), dtype: None };
    Ok(match value {
        LiteralValue::Dyn(DynLiteralValue::Int(v)) => {
            plain(Value::Int64(i64::try_from(*v).map_err(|_| unsupported(path, "an integer literal beyond i64"))?))
        },
        LiteralValue::Dyn(DynLiteralValue::Float(v)) => plain(Value::Float64(*v)),
        LiteralValue::Dyn(DynLiteralValue::Str(v)) => plain(Value::String(v.to_string())),
        LiteralValue::Scalar(scalar) => {
            let dtype = scalar.dtype().clone();
            let typed = |v: Value| proto::Literal { value: Some(v), dtype: Some(dtype.to_string()) };
            match scalar.value() {
                AnyValue::Null => proto::Literal { value: Some(Value::Null(proto::Empty {})), dtype: Some(dtype.to_string()) },
                AnyValue::Boolean(v) => plain(Value::Boolean(*v)),
                AnyValue::String(v) => plain(Value::String(v.to_string())),
                AnyValue::StringOwned(v) => plain(Value::String(v.to_string())),
                AnyValue::Binary(v) => plain(Value::Binary(v.to_vec())),
                AnyValue::BinaryOwned(v) => plain(Value::Binary(v.clone())),
                AnyValue::Int64(v) => plain(Value::Int64(*v)),
                AnyValue::Int8(v) => typed(Value::Int64(*v as i64)),
                AnyValue::Int16(v) => typed(Value::Int64(*v as i64)),
                AnyValue::Int32(v) => typed(Value::Int64(*v as i64)),
                AnyValue::UInt64(v) => plain(Value::Uint64(*v)),
                AnyValue::UInt8(v) => typed(Value::Uint64(*v as u64)),
                AnyValue::UInt16(v) => typed(Value::Uint64(*v as u64)),
                AnyValue::UInt32(v) => typed(Value::Uint64(*v as u64)),
                AnyValue::Float64(v) => plain(Value::Float64(*v)),
                AnyValue::Float32(v) => typed(Value::Float64(*v as f64)),
                AnyValue::Date(days) => plain(Value::Date(*days)),
                AnyValue::Time(ns) => plain(Value::Time(*ns)),
                AnyValue::Datetime(v, tu, tz) => plain(Value::Datetime(proto::DatetimeValue {
                    value: *v,
                    unit: unit(*tu),
                    time_zone: tz.map(|t| t.to_string()).unwrap_or_default(),
                })),
                AnyValue::DatetimeOwned(v, tu, tz) => plain(Value::Datetime(proto::DatetimeValue {
                    value: *v,
                    unit: unit(*tu),
                    time_zone: tz.as_ref().map(|t| t.to_string()).unwrap_or_default(),
                })),
                AnyValue::Duration(v, tu) => plain(Value::Duration(proto::DurationValue { value: *v, unit: unit(*tu) })),
                other => return Err(unsupported(path, format!("a literal of dtype {}", other.dtype()))),
            }
        },
        LiteralValue::Series(_) => {
            return Err(unsupported(path, "a Series literal (use a handle and a join, or scalar literals)"))
        },
        other => return Err(unsupported(path, format!("literal {other:?}"))),
    })
}

/// is_in's set: a Series literal (imploded or not) travels as a list literal,
/// which the server turns back into the same imploded Series.
fn is_in_set(other: &Expr, path: &str) -> Result<proto::Expr> {
    let series = match other {
        Expr::Literal(LiteralValue::Series(s)) => s,
        Expr::Agg(AggExpr::Implode { input, .. }) => match input.as_ref() {
            Expr::Literal(LiteralValue::Series(s)) => s,
            _ => return expr(other, path),
        },
        _ => return expr(other, path),
    };
    let values = series
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let element = literal(&LiteralValue::Scalar(Scalar::new(series.dtype().clone(), v.into_static())), &format!("{path}[{i}]"))?;
            Ok(proto::Literal { dtype: None, ..element })
        })
        .collect::<Result<Vec<_>>>()?;
    let list = proto::Literal {
        value: Some(Value::List(proto::LiteralList { values })),
        dtype: Some(series.dtype().to_string()),
    };
    Ok(node(Kind::Literal(list)))
}

fn aggregation(agg: &AggExpr, path: &str) -> Result<proto::Expr> {
    let one = |name: &str, input: &Expr| -> Result<proto::Expr> {
        Ok(function(name, vec![expr(input, &format!("{path}.{name}"))?], &[]))
    };
    Ok(match agg {
        AggExpr::Min { input, .. } => one("min", input)?,
        AggExpr::Max { input, .. } => one("max", input)?,
        AggExpr::Median(input) => one("median", input)?,
        AggExpr::NUnique(input) => one("n_unique", input)?,
        AggExpr::First(input) => one("first", input)?,
        AggExpr::Last(input) => one("last", input)?,
        AggExpr::Item { input, allow_empty } => {
            function("item", vec![expr(input, &format!("{path}.item"))?], &[("allow_empty", Value::Boolean(*allow_empty))])
        },
        AggExpr::Mean(input) => one("mean", input)?,
        AggExpr::Sum(input) => one("sum", input)?,
        AggExpr::Implode { input, maintain_order: true } => one("implode", input)?,
        AggExpr::Count { input, include_nulls: false } => one("count", input)?,
        AggExpr::Count { input, include_nulls: true } => one("len", input)?,
        AggExpr::Std(input, ddof) => function("std", vec![expr(input, &format!("{path}.std"))?], &[("ddof", Value::Int64(*ddof as i64))]),
        AggExpr::Var(input, ddof) => function("var", vec![expr(input, &format!("{path}.var"))?], &[("ddof", Value::Int64(*ddof as i64))]),
        other => return Err(unsupported(path, format!("aggregation {}", expr_kind(&Expr::Agg(other.clone()))))),
    })
}

/// A literal argument of a function (`shift(n)`, `str.contains(pattern)`).
fn literal_arg(input: &[Expr], i: usize, path: &str) -> Result<Value> {
    match input.get(i) {
        Some(Expr::Literal(v)) => literal(v, path)?.value.ok_or_else(|| unsupported(path, "an empty literal")),
        Some(other) => Err(unsupported(path, format!("a computed argument {}; only literals are supported here", expr_kind(other)))),
        None => Err(unsupported(path, "a missing argument")),
    }
}

/// A list-valued option.
fn list_of(values: impl Iterator<Item = Value>) -> Value {
    Value::List(proto::LiteralList { values: values.map(|v| proto::Literal { value: Some(v), dtype: None }).collect() })
}

fn ewm_options(o: &EWMOptions) -> [(&'static str, Value); 5] {
    [
        ("alpha", Value::Float64(o.alpha)),
        ("adjust", Value::Boolean(o.adjust)),
        ("bias", Value::Boolean(o.bias)),
        ("min_periods", Value::Int64(o.min_periods as i64)),
        ("ignore_nulls", Value::Boolean(o.ignore_nulls)),
    ]
}

/// A rolling std/var's ddof as the protocol's option; other parameters
/// (quantiles, ranks) are not in the protocol.
fn rolling_ddof(params: Option<&RollingFnParams>, path: &str) -> Result<Option<(&'static str, Value)>> {
    match params {
        None => Ok(None),
        Some(RollingFnParams::Var(v)) => Ok(Some(("ddof", Value::Int64(v.ddof as i64)))),
        Some(other) => Err(unsupported(path, format!("rolling parameters {other:?}"))),
    }
}

fn function_call(input: &[Expr], f: &FunctionExpr, path: &str) -> Result<proto::Expr> {
    let fpath = format!("{path}.{f}");
    let first = || -> Result<proto::Expr> {
        input.first().map(|e| expr(e, &format!("{fpath}.input"))).transpose()?.ok_or_else(|| unsupported(path, "a function without input"))
    };
    let simple = |name: &str| -> Result<proto::Expr> { Ok(function(name, vec![first()?], &[])) };
    let with = |name: &str, options: &[(&str, Value)]| -> Result<proto::Expr> { Ok(function(name, vec![first()?], options)) };
    // Every input as an argument (row-wise functions, and those whose
    // later inputs are expressions: pow's exponent, clip's bounds).
    let all_inputs = |name: &str, options: &[(&str, Value)]| -> Result<proto::Expr> {
        let args = input.iter().enumerate().map(|(i, e)| expr(e, &format!("{fpath}.input[{i}]"))).collect::<Result<Vec<_>>>()?;
        Ok(function(name, args, options))
    };
    use polars::prelude::{BooleanFunction as B, StringFunction as S, TemporalFunction as T};
    Ok(match f {
        FunctionExpr::Boolean(B::IsNull) => simple("is_null")?,
        FunctionExpr::Boolean(B::IsNotNull) => simple("is_not_null")?,
        FunctionExpr::Boolean(B::IsNan) => simple("is_nan")?,
        FunctionExpr::Boolean(B::IsNotNan) => simple("is_not_nan")?,
        FunctionExpr::Boolean(B::IsInfinite) => simple("is_infinite")?,
        FunctionExpr::Boolean(B::IsFinite) => simple("is_finite")?,
        FunctionExpr::Pow(PowFunction::Cbrt) => simple("cbrt")?,
        FunctionExpr::ArgUnique => simple("arg_unique")?,
        FunctionExpr::Skew(bias) => with("skew", &[("bias", Value::Boolean(*bias))])?,
        FunctionExpr::Kurtosis(fisher, bias) => {
            with("kurtosis", &[("fisher", Value::Boolean(*fisher)), ("bias", Value::Boolean(*bias))])?
        },
        FunctionExpr::Boolean(B::IsDuplicated) => simple("is_duplicated")?,
        FunctionExpr::Boolean(B::IsUnique) => simple("is_unique")?,
        FunctionExpr::Boolean(B::IsFirstDistinct) => simple("is_first_distinct")?,
        FunctionExpr::Boolean(B::IsLastDistinct) => simple("is_last_distinct")?,
        FunctionExpr::Boolean(B::Any { ignore_nulls }) => with("any", &[("ignore_nulls", Value::Boolean(*ignore_nulls))])?,
        FunctionExpr::Boolean(B::All { ignore_nulls }) => with("all", &[("ignore_nulls", Value::Boolean(*ignore_nulls))])?,
        FunctionExpr::Boolean(B::IsBetween { closed }) => {
            let closed = match closed {
                ClosedInterval::Both => "both",
                ClosedInterval::Left => "left",
                ClosedInterval::Right => "right",
                ClosedInterval::None => "none",
            };
            all_inputs("is_between", &[("closed", Value::String(closed.into()))])?
        },
        FunctionExpr::Boolean(B::Not) => node(Kind::Not(Box::new(proto::Not { expr: boxed(first()?) }))),
        FunctionExpr::Boolean(B::IsIn { nulls_equal }) => function(
            "is_in",
            vec![first()?, is_in_set(&input[1], &format!("{fpath}.other"))?],
            &[("nulls_equal", Value::Boolean(*nulls_equal))],
        ),
        FunctionExpr::Abs => simple("abs")?,
        FunctionExpr::Negate => simple("neg")?,
        FunctionExpr::Log1p => simple("log1p")?,
        FunctionExpr::Sign => simple("sign")?,
        FunctionExpr::Product => simple("product")?,
        FunctionExpr::Interpolate(method) => with(
            "interpolate",
            &[("method", Value::String(if matches!(method, InterpolationMethod::Linear) { "linear" } else { "nearest" }.into()))],
        )?,
        FunctionExpr::EwmMean { options } => with("ewm_mean", &ewm_options(options))?,
        FunctionExpr::EwmStd { options } => with("ewm_std", &ewm_options(options))?,
        FunctionExpr::EwmVar { options } => with("ewm_var", &ewm_options(options))?,
        FunctionExpr::Floor => simple("floor")?,
        FunctionExpr::Ceil => simple("ceil")?,
        FunctionExpr::NullCount => simple("null_count")?,
        FunctionExpr::Boolean(B::HasNulls) => simple("has_nulls")?,
        FunctionExpr::Range(r) => {
            use polars::prelude::RangeFunction as R;
            let dtype = |d: &DataTypeExpr| match d {
                DataTypeExpr::Literal(dt) => Ok(Value::String(dt.to_string())),
                other => Err(unsupported(path, format!("a range of a computed dtype {other:?}"))),
            };
            match r {
                R::IntRange { step, dtype: d } => {
                    all_inputs("int_range", &[("step", Value::Int64(*step)), ("dtype", dtype(d)?)])?
                },
                R::IntRanges { dtype: d } => all_inputs("int_ranges", &[("dtype", dtype(d)?)])?,
                other => return Err(unsupported(path, format!("range function {other}"))),
            }
        },
        FunctionExpr::ArgMin => simple("arg_min")?,
        FunctionExpr::ArgMax => simple("arg_max")?,
        FunctionExpr::ArgSort { descending, nulls_last } => with(
            "arg_sort",
            &[("descending", Value::Boolean(*descending)), ("nulls_last", Value::Boolean(*nulls_last))],
        )?,
        FunctionExpr::GatherEvery { n, offset } => {
            with("gather_every", &[("n", Value::Int64(*n as i64)), ("offset", Value::Int64(*offset as i64))])?
        },
        FunctionExpr::DropNulls => simple("drop_nulls")?,
        FunctionExpr::TopK { descending } => {
            with(if *descending { "bottom_k" } else { "top_k" }, &[("k", literal_arg(input, 1, &fpath)?)])?
        },
        FunctionExpr::Mode { maintain_order } => with("mode", &[("maintain_order", Value::Boolean(*maintain_order))])?,
        FunctionExpr::ApproxNUnique => simple("approx_n_unique")?,
        FunctionExpr::UniqueCounts => simple("unique_counts")?,
        FunctionExpr::DropNans => simple("drop_nans")?,
        FunctionExpr::Coalesce => all_inputs("coalesce", &[])?,
        FunctionExpr::Pow(PowFunction::Generic) => all_inputs("pow", &[])?,
        FunctionExpr::Clip { has_min, has_max } => match (has_min, has_max) {
            (true, true) => all_inputs("clip", &[])?,
            (true, false) => all_inputs("clip_min", &[])?,
            (false, true) => all_inputs("clip_max", &[])?,
            (false, false) => first()?,
        },
        FunctionExpr::ShiftAndFill => {
            function("shift", vec![first()?, expr(&input[2], &format!("{fpath}.fill_value"))?], &[("n", literal_arg(input, 1, &fpath)?)])
        },
        FunctionExpr::FillNullWithStrategy(strategy) => {
            let (name, limit) = match strategy {
                FillNullStrategy::Forward(limit) => ("forward_fill", limit),
                FillNullStrategy::Backward(limit) => ("backward_fill", limit),
                other => {
                    let strategy = match other {
                        FillNullStrategy::Zero => "zero",
                        FillNullStrategy::One => "one",
                        FillNullStrategy::Mean => "mean",
                        FillNullStrategy::Min => "min",
                        FillNullStrategy::Max => "max",
                        _ => return Err(unsupported(path, format!("fill_null strategy {other:?}"))),
                    };
                    return Ok(function("fill_null_strategy", vec![first()?], &[("strategy", Value::String(strategy.into()))]));
                },
            };
            match limit {
                Some(n) => with(name, &[("limit", Value::Int64(*n as i64))])?,
                None => simple(name)?,
            }
        },
        FunctionExpr::Rank { options, seed: None } => {
            let method = match options.method {
                RankMethod::Average => "average",
                RankMethod::Min => "min",
                RankMethod::Max => "max",
                RankMethod::Dense => "dense",
                RankMethod::Ordinal => "ordinal",
                #[allow(unreachable_patterns)]
                other => return Err(unsupported(path, format!("rank method {other:?}"))),
            };
            with("rank", &[("method", Value::String(method.into())), ("descending", Value::Boolean(options.descending))])?
        },
        FunctionExpr::SumHorizontal { ignore_nulls } => all_inputs("sum_horizontal", &[("ignore_nulls", Value::Boolean(*ignore_nulls))])?,
        FunctionExpr::MeanHorizontal { ignore_nulls } => all_inputs("mean_horizontal", &[("ignore_nulls", Value::Boolean(*ignore_nulls))])?,
        FunctionExpr::MinHorizontal => all_inputs("min_horizontal", &[])?,
        FunctionExpr::MaxHorizontal => all_inputs("max_horizontal", &[])?,
        FunctionExpr::Exp => simple("exp")?,
        // Its names (sin, arccos, degrees, ...) are the protocol's.
        FunctionExpr::Trigonometry(t) => simple(&t.to_string())?,
        FunctionExpr::AsStruct => all_inputs("as_struct", &[])?,
        FunctionExpr::ExtendConstant => all_inputs("extend_constant", &[])?,
        FunctionExpr::RepeatBy => all_inputs("repeat_by", &[])?,
        FunctionExpr::Repeat => all_inputs("repeat", &[])?,
        FunctionExpr::ConcatExpr(upcast) => all_inputs("append", &[("upcast", Value::Boolean(*upcast))])?,
        FunctionExpr::StructExpr(polars::prelude::StructFunction::RenameFields(names)) => {
            with("struct.rename_fields", &[("names", list_of(names.iter().map(|n| Value::String(n.to_string()))))])?
        },
        FunctionExpr::MinBy => all_inputs("min_by", &[])?,
        FunctionExpr::IndexOf => all_inputs("index_of", &[])?,
        FunctionExpr::Boolean(B::IsClose { abs_tol, rel_tol, nans_equal }) => all_inputs(
            "is_close",
            &[("abs_tol", Value::Float64(abs_tol.0)), ("rel_tol", Value::Float64(rel_tol.0)), ("nans_equal", Value::Boolean(*nans_equal))],
        )?,
        FunctionExpr::Hist { bin_count, include_category, include_breakpoint } => {
            let mut options = vec![
                ("include_category", Value::Boolean(*include_category)),
                ("include_breakpoint", Value::Boolean(*include_breakpoint)),
            ];
            if let Some(n) = bin_count {
                options.push(("bin_count", Value::Int64(*n as i64)));
            }
            if input.len() > 1 {
                return Err(unsupported(path, "hist with its bin edges (give bin_count)"));
            }
            with("hist", &options)?
        },
        FunctionExpr::MaxBy => all_inputs("max_by", &[])?,
        FunctionExpr::StructExpr(polars::prelude::StructFunction::FieldByName(name)) => {
            with("struct.field", &[("name", Value::String(name.to_string()))])?
        },
        FunctionExpr::Atan2 => all_inputs("arctan2", &[])?,
        FunctionExpr::RLE => simple("rle")?,
        FunctionExpr::RLEID => simple("rle_id")?,
        FunctionExpr::ToPhysical => simple("to_physical")?,
        FunctionExpr::PeakMax => simple("peak_max")?,
        FunctionExpr::PeakMin => simple("peak_min")?,
        FunctionExpr::ArgWhere => simple("arg_where")?,
        FunctionExpr::InterpolateBy => all_inputs("interpolate_by", &[])?,
        FunctionExpr::Entropy { base, normalize } => {
            with("entropy", &[("base", Value::Float64(*base)), ("normalize", Value::Boolean(*normalize))])?
        },
        FunctionExpr::SearchSorted { side, descending } => all_inputs(
            "search_sorted",
            &[
                (
                    "side",
                    Value::String(
                        match side {
                            SearchSortedSide::Any => "any",
                            SearchSortedSide::Left => "left",
                            SearchSortedSide::Right => "right",
                        }
                        .into(),
                    ),
                ),
                ("descending", Value::Boolean(*descending)),
            ],
        )?,
        FunctionExpr::Cut { breaks, labels, left_closed, include_breaks } => {
            let mut options = vec![
                ("breaks", list_of(breaks.iter().map(|b| Value::Float64(*b)))),
                ("left_closed", Value::Boolean(*left_closed)),
                ("include_breaks", Value::Boolean(*include_breaks)),
            ];
            if let Some(labels) = labels {
                options.push(("labels", list_of(labels.iter().map(|l| Value::String(l.to_string())))));
            }
            with("cut", &options)?
        },
        FunctionExpr::QCut { probs, labels, left_closed, allow_duplicates, include_breaks } => {
            let mut options = vec![
                ("quantiles", list_of(probs.iter().map(|q| Value::Float64(*q)))),
                ("left_closed", Value::Boolean(*left_closed)),
                ("allow_duplicates", Value::Boolean(*allow_duplicates)),
                ("include_breaks", Value::Boolean(*include_breaks)),
            ];
            if let Some(labels) = labels {
                options.push(("labels", list_of(labels.iter().map(|l| Value::String(l.to_string())))));
            }
            with("qcut", &options)?
        },
        FunctionExpr::Pow(PowFunction::Sqrt) => simple("sqrt")?,
        FunctionExpr::Log => with("log", &[("base", literal_arg(input, 1, &fpath)?)])?,
        FunctionExpr::Reverse => simple("reverse")?,
        FunctionExpr::Unique(_) => simple("unique")?,
        FunctionExpr::FillNull => function("fill_null", vec![first()?, expr(&input[1], &format!("{fpath}.value"))?], &[]),
        FunctionExpr::Shift => with("shift", &[("n", literal_arg(input, 1, &fpath)?)])?,
        FunctionExpr::Diff(_) => with("diff", &[("n", literal_arg(input, 1, &fpath)?)])?,
        FunctionExpr::PctChange => with("pct_change", &[("n", literal_arg(input, 1, &fpath)?)])?,
        FunctionExpr::CumSum { reverse } => with("cum_sum", &[("reverse", Value::Boolean(*reverse))])?,
        FunctionExpr::CumProd { reverse } => with("cum_prod", &[("reverse", Value::Boolean(*reverse))])?,
        FunctionExpr::CumMin { reverse } => with("cum_min", &[("reverse", Value::Boolean(*reverse))])?,
        FunctionExpr::CumMax { reverse } => with("cum_max", &[("reverse", Value::Boolean(*reverse))])?,
        FunctionExpr::CumCount { reverse } => with("cum_count", &[("reverse", Value::Boolean(*reverse))])?,
        FunctionExpr::RoundSF { digits } => with("round_sig_figs", &[("digits", Value::Int64(*digits as i64))])?,
        FunctionExpr::Round { decimals, mode } => {
            let mode = match mode {
                RoundMode::HalfToEven => "half_to_even",
                RoundMode::HalfAwayFromZero => "half_away_from_zero",
                RoundMode::ToZero => "to_zero",
            };
            with("round", &[("decimals", Value::Int64(*decimals as i64)), ("mode", Value::String(mode.into()))])?
        },
        FunctionExpr::Quantile { method } => {
            let interpolation = Value::String(interpolation(method, path)?.into());
            with("quantile", &[("quantile", literal_arg(input, 1, &fpath)?), ("interpolation", interpolation)])?
        },
        FunctionExpr::Correlation { method } => match method {
            polars_plan::dsl::CorrelationMethod::Pearson => all_inputs("corr", &[("method", Value::String("pearson".into()))])?,
            polars_plan::dsl::CorrelationMethod::SpearmanRank(propagate_nans) => all_inputs(
                "corr",
                &[("method", Value::String("spearman".into())), ("propagate_nans", Value::Boolean(*propagate_nans))],
            )?,
            polars_plan::dsl::CorrelationMethod::Covariance(ddof) => all_inputs("cov", &[("ddof", Value::Int64(*ddof as i64))])?,
        },
        FunctionExpr::EwmMeanBy { half_life } => all_inputs("ewm_mean_by", &[("half_life", Value::String(half_life.to_string()))])?,
        FunctionExpr::RollingExpr { function: rf, options } => {
            let name = match rf {
                RollingFunction::Sum => "rolling_sum",
                RollingFunction::Mean => "rolling_mean",
                RollingFunction::Min => "rolling_min",
                RollingFunction::Max => "rolling_max",
                RollingFunction::Std => "rolling_std",
                RollingFunction::Var => "rolling_var",
                RollingFunction::Quantile => "rolling_quantile",
                RollingFunction::Skew => "rolling_skew",
                RollingFunction::Kurtosis => "rolling_kurtosis",
                RollingFunction::CorrCov { corr_cov_options, is_corr } => {
                    let options = [
                        ("window_size", Value::Int64(corr_cov_options.window_size as i64)),
                        ("min_periods", Value::Int64(corr_cov_options.min_periods as i64)),
                        ("ddof", Value::Int64(corr_cov_options.ddof as i64)),
                    ];
                    return all_inputs(if *is_corr { "rolling_corr" } else { "rolling_cov" }, &options);
                },
                other => return Err(unsupported(path, format!("rolling function {other:?}"))),
            };
            if options.weights.is_some() {
                return Err(unsupported(path, "rolling windows with weights"));
            }
            let mut opts = vec![
                ("window_size", Value::Int64(options.window_size as i64)),
                ("min_periods", Value::Int64(options.min_periods as i64)),
            ];
            if options.center {
                opts.push(("center", Value::Boolean(true)));
            }
            match (name, options.fn_params.as_ref()) {
                ("rolling_quantile", Some(RollingFnParams::Quantile(q))) => {
                    opts.push(("quantile", Value::Float64(q.prob)));
                    opts.push(("interpolation", Value::String(interpolation(&q.method, path)?.into())));
                },
                ("rolling_quantile", _) => return Err(unsupported(path, "a rolling quantile without its parameters")),
                ("rolling_skew", Some(RollingFnParams::Skew { bias })) => opts.push(("bias", Value::Boolean(*bias))),
                ("rolling_kurtosis", Some(RollingFnParams::Kurtosis { fisher, bias })) => {
                    opts.push(("fisher", Value::Boolean(*fisher)));
                    opts.push(("bias", Value::Boolean(*bias)));
                },
                _ => opts.extend(rolling_ddof(options.fn_params.as_ref(), path)?),
            }
            with(name, &opts)?
        },
        FunctionExpr::RollingExprBy { function_by, options } => {
            use polars::prelude::RollingFunctionBy as R;
            let name = match function_by {
                R::SumBy => "rolling_sum_by",
                R::MeanBy => "rolling_mean_by",
                R::MinBy => "rolling_min_by",
                R::MaxBy => "rolling_max_by",
                R::StdBy => "rolling_std_by",
                R::VarBy => "rolling_var_by",
                other => return Err(unsupported(path, format!("rolling function {other:?}"))),
            };
            if options.window_size.parsed_int {
                return Err(unsupported(path, "a rolling window counted in rows (use rolling_* without _by)"));
            }
            let closed = match options.closed_window {
                ClosedWindow::Right => "right",
                ClosedWindow::Left => "left",
                ClosedWindow::Both => "both",
                ClosedWindow::None => "none",
            };
            let mut opts = vec![
                ("window_size", Value::String(options.window_size.to_string())),
                ("min_periods", Value::Int64(options.min_periods as i64)),
                ("closed", Value::String(closed.into())),
            ];
            opts.extend(rolling_ddof(options.fn_params.as_ref(), path)?);
            all_inputs(name, &opts)?
        },
        FunctionExpr::StringExpr(s) => match s {
            S::Contains { literal: lit_pat, .. } => {
                with("str.contains", &[("pattern", literal_arg(input, 1, &fpath)?), ("literal", Value::Boolean(*lit_pat))])?
            },
            S::StartsWith => with("str.starts_with", &[("prefix", literal_arg(input, 1, &fpath)?)])?,
            S::EndsWith => with("str.ends_with", &[("suffix", literal_arg(input, 1, &fpath)?)])?,
            S::Replace { n: n @ (1 | -1), literal } => with(
                if *n == 1 { "str.replace" } else { "str.replace_all" },
                &[
                    ("pattern", literal_arg(input, 1, &fpath)?),
                    ("value", literal_arg(input, 2, &fpath)?),
                    ("literal", Value::Boolean(*literal)),
                ],
            )?,
            S::ConcatHorizontal { delimiter, ignore_nulls } => all_inputs(
                "concat_str",
                &[("separator", Value::String(delimiter.to_string())), ("ignore_nulls", Value::Boolean(*ignore_nulls))],
            )?,
            S::Strptime(dtype, options) => {
                let mut opts = vec![("strict", Value::Boolean(options.strict)), ("exact", Value::Boolean(options.exact))];
                if let Some(format) = &options.format {
                    opts.push(("format", Value::String(format.to_string())));
                }
                match dtype {
                    DataTypeExpr::Literal(DataType::Date) => with("str.to_date", &opts)?,
                    DataTypeExpr::Literal(DataType::Time) => with("str.to_time", &opts)?,
                    DataTypeExpr::Literal(DataType::Datetime(unit, zone)) => {
                        opts.push(("time_unit", Value::String(unit.to_string())));
                        if let Some(zone) = zone {
                            opts.push(("time_zone", Value::String(zone.to_string())));
                        }
                        with("str.to_datetime", &opts)?
                    },
                    other => return Err(unsupported(path, format!("strptime to {other:?}"))),
                }
            },
            S::Split(inclusive) => {
                with("str.split", &[("by", literal_arg(input, 1, &fpath)?), ("inclusive", Value::Boolean(*inclusive))])?
            },
            S::Lowercase => simple("str.to_lowercase")?,
            S::Uppercase => simple("str.to_uppercase")?,
            S::LenChars => simple("str.len_chars")?,
            S::LenBytes => simple("str.len_bytes")?,
            S::StripChars | S::StripCharsStart | S::StripCharsEnd => {
                let name = match s {
                    S::StripChars => "str.strip_chars",
                    S::StripCharsStart => "str.strip_chars_start",
                    _ => "str.strip_chars_end",
                };
                // A null set of characters means whitespace: no option.
                match literal_arg(input, 1, &fpath)? {
                    Value::Null(_) => simple(name)?,
                    characters => with(name, &[("characters", characters)])?,
                }
            },
            S::Head => with("str.head", &[("n", literal_arg(input, 1, &fpath)?)])?,
            S::Tail => with("str.tail", &[("n", literal_arg(input, 1, &fpath)?)])?,
            S::PadStart { fill_char } => with(
                "str.pad_start",
                &[("length", literal_arg(input, 1, &fpath)?), ("fill_char", Value::String(fill_char.to_string()))],
            )?,
            S::PadEnd { fill_char } => with(
                "str.pad_end",
                &[("length", literal_arg(input, 1, &fpath)?), ("fill_char", Value::String(fill_char.to_string()))],
            )?,
            S::ZFill => with("str.zfill", &[("length", literal_arg(input, 1, &fpath)?)])?,
            S::Reverse => simple("str.reverse")?,
            S::Find { literal, strict } => with(
                "str.find",
                &[
                    ("pattern", literal_arg(input, 1, &fpath)?),
                    ("literal", Value::Boolean(*literal)),
                    ("strict", Value::Boolean(*strict)),
                ],
            )?,
            S::SplitExact { n, inclusive } => with(
                "str.split_exact",
                &[
                    ("by", literal_arg(input, 1, &fpath)?),
                    ("n", Value::Int64(*n as i64)),
                    ("inclusive", Value::Boolean(*inclusive)),
                ],
            )?,
            S::StripPrefix => all_inputs("str.strip_prefix", &[])?,
            S::ToDecimal { scale } => with("str.to_decimal", &[("scale", Value::Int64(*scale as i64))])?,
            S::HexEncode => simple("str.hex_encode")?,
            S::Normalize { form } => {
                let form = match form {
                    UnicodeForm::NFC => "NFC",
                    UnicodeForm::NFKC => "NFKC",
                    UnicodeForm::NFD => "NFD",
                    UnicodeForm::NFKD => "NFKD",
                };
                with("str.normalize", &[("form", Value::String(form.into()))])?
            },
            S::Base64Encode => simple("str.base64_encode")?,
            S::HexDecode(strict) => with("str.hex_decode", &[("strict", Value::Boolean(*strict))])?,
            S::Base64Decode(strict) => with("str.base64_decode", &[("strict", Value::Boolean(*strict))])?,
            S::StripSuffix => all_inputs("str.strip_suffix", &[])?,
            S::ConcatVertical { delimiter, ignore_nulls } => with(
                "str.join",
                &[("delimiter", Value::String(delimiter.to_string())), ("ignore_nulls", Value::Boolean(*ignore_nulls))],
            )?,
            S::SplitN(n) => with("str.splitn", &[("by", literal_arg(input, 1, &fpath)?), ("n", Value::Int64(*n as i64))])?,
            S::ToInteger { dtype: None, strict } => {
                with("str.to_integer", &[("base", literal_arg(input, 1, &fpath)?), ("strict", Value::Boolean(*strict))])?
            },
            S::Extract(group_index) => with(
                "str.extract",
                &[("pattern", literal_arg(input, 1, &fpath)?), ("group_index", Value::Int64(*group_index as i64))],
            )?,
            S::ExtractAll => with("str.extract_all", &[("pattern", literal_arg(input, 1, &fpath)?)])?,
            S::CountMatches(literal) => with(
                "str.count_matches",
                &[("pattern", literal_arg(input, 1, &fpath)?), ("literal", Value::Boolean(*literal))],
            )?,
            other => return Err(unsupported(path, format!("string function {other}"))),
        },
        FunctionExpr::ListExpr(l) => {
            use polars::prelude::ListFunction as L;
            match l {
                L::Length => simple("list.len")?,
                L::Slice => all_inputs("list.slice", &[])?,
                L::Concat => all_inputs("concat_list", &[])?,
                L::Sum => simple("list.sum")?,
                L::Mean => simple("list.mean")?,
                L::Min => simple("list.min")?,
                L::Max => simple("list.max")?,
                L::Get(null_on_oob) => all_inputs("list.get", &[("null_on_oob", Value::Boolean(*null_on_oob))])?,
                L::Contains { nulls_equal } => all_inputs("list.contains", &[("nulls_equal", Value::Boolean(*nulls_equal))])?,
                L::Join(ignore_nulls) => with(
                    "list.join",
                    &[("separator", literal_arg(input, 1, &fpath)?), ("ignore_nulls", Value::Boolean(*ignore_nulls))],
                )?,
                L::Median => simple("list.median")?,
                L::Std(ddof) => with("list.std", &[("ddof", Value::Int64(*ddof as i64))])?,
                L::Var(ddof) => with("list.var", &[("ddof", Value::Int64(*ddof as i64))])?,
                L::GatherEvery => with("list.gather_every", &[("n", literal_arg(input, 1, &fpath)?), ("offset", literal_arg(input, 2, &fpath)?)])?,
                L::ArgMin => simple("list.arg_min")?,
                L::ArgMax => simple("list.arg_max")?,
                L::DropNulls => simple("list.drop_nulls")?,
                L::Diff { n, null_behavior } => with(
                    "list.diff",
                    &[
                        ("n", Value::Int64(*n)),
                        ("null_behavior", Value::String(match null_behavior {
                            polars::series::ops::NullBehavior::Ignore => "ignore".into(),
                            polars::series::ops::NullBehavior::Drop => "drop".into(),
                        })),
                    ],
                )?,
                L::Shift => with("list.shift", &[("n", literal_arg(input, 1, &fpath)?)])?,
                L::Gather(null_on_oob) => all_inputs("list.gather", &[("null_on_oob", Value::Boolean(*null_on_oob))])?,
                L::CountMatches => all_inputs("list.count_matches", &[])?,
                L::SetOperation(op) => all_inputs(&format!("list.set_{op}"), &[])?,
                L::ToArray(width) => with("list.to_array", &[("width", Value::Int64(*width as i64))])?,
                L::ToStruct(fields) => with("list.to_struct", &[("fields", list_of(fields.iter().map(|f| Value::String(f.to_string()))))])?,
                L::Sort(options) => with(
                    "list.sort",
                    &[("descending", Value::Boolean(options.descending)), ("nulls_last", Value::Boolean(options.nulls_last))],
                )?,
                // Every list function of the features built in is above; others arrive with features.
                #[allow(unreachable_patterns)]
                other => return Err(unsupported(path, format!("list function {other:?}"))),
            }
        },
        FunctionExpr::ArrayExpr(a) => {
            use polars::prelude::ArrayFunction as A;
            match a {
                A::Length => simple("arr.len")?,
                A::Min => simple("arr.min")?,
                A::Max => simple("arr.max")?,
                A::Sum => simple("arr.sum")?,
                A::Mean => simple("arr.mean")?,
                A::Median => simple("arr.median")?,
                A::ToList => simple("arr.to_list")?,
                A::ArgMin => simple("arr.arg_min")?,
                A::ArgMax => simple("arr.arg_max")?,
                A::Std(ddof) => with("arr.std", &[("ddof", Value::Int64(*ddof as i64))])?,
                A::Var(ddof) => with("arr.var", &[("ddof", Value::Int64(*ddof as i64))])?,
                A::Sort(options) => with(
                    "arr.sort",
                    &[("descending", Value::Boolean(options.descending)), ("nulls_last", Value::Boolean(options.nulls_last))],
                )?,
                A::Get(null_on_oob) => all_inputs("arr.get", &[("null_on_oob", Value::Boolean(*null_on_oob))])?,
                A::Join(ignore_nulls) => with(
                    "arr.join",
                    &[("separator", literal_arg(input, 1, &fpath)?), ("ignore_nulls", Value::Boolean(*ignore_nulls))],
                )?,
                A::Contains { nulls_equal } => all_inputs("arr.contains", &[("nulls_equal", Value::Boolean(*nulls_equal))])?,
                A::Shift => with("arr.shift", &[("n", literal_arg(input, 1, &fpath)?)])?,
                A::Explode(options) => with(
                    "arr.explode",
                    &[("empty_as_null", Value::Boolean(options.empty_as_null)), ("keep_nulls", Value::Boolean(options.keep_nulls))],
                )?,
                #[allow(unreachable_patterns)]
                other => return Err(unsupported(path, format!("array function {other}"))),
            }
        },
        FunctionExpr::TemporalExpr(t) => match t {
            T::Year => simple("dt.year")?,
            T::Month => simple("dt.month")?,
            T::Day => simple("dt.day")?,
            T::Hour => simple("dt.hour")?,
            T::Minute => simple("dt.minute")?,
            T::Second => simple("dt.second")?,
            T::Millisecond => simple("dt.millisecond")?,
            T::WeekDay => simple("dt.weekday")?,
            T::OrdinalDay => simple("dt.ordinal_day")?,
            T::Date => simple("dt.date")?,
            T::Truncate => with("dt.truncate", &[("every", literal_arg(input, 1, &fpath)?)])?,
            T::ToString(format) => with("dt.strftime", &[("format", Value::String(format.clone()))])?,
            T::OffsetBy => all_inputs("dt.offset_by", &[])?,
            T::ReplaceTimeZone(tz, non_existent) => {
                // Inputs: the times, then `ambiguous` (a literal here).
                let non_existent = match non_existent {
                    NonExistent::Raise => "raise",
                    NonExistent::Null => "null",
                };
                with(
                    "dt.replace_time_zone",
                    &[
                        ("time_zone", Value::String(tz.as_ref().map(|tz| tz.to_string()).unwrap_or_default())),
                        ("ambiguous", literal_arg(input, 1, &fpath)?),
                        ("non_existent", Value::String(non_existent.into())),
                    ],
                )?
            },
            T::ConvertTimeZone(tz) => with("dt.convert_time_zone", &[("time_zone", Value::String(tz.to_string()))])?,
            T::Week => simple("dt.week")?,
            T::Microsecond => simple("dt.microsecond")?,
            T::Nanosecond => simple("dt.nanosecond")?,
            T::Century => simple("dt.century")?,
            T::Millennium => simple("dt.millennium")?,
            T::IsoYear => simple("dt.iso_year")?,
            T::IsLeapYear => simple("dt.is_leap_year")?,
            T::DaysInMonth => simple("dt.days_in_month")?,
            T::BaseUtcOffset => simple("dt.base_utc_offset")?,
            T::DSTOffset => simple("dt.dst_offset")?,
            T::Combine(unit) => all_inputs("dt.combine", &[("time_unit", Value::String(unit.to_string()))])?,
            T::CastTimeUnit(unit) => with("dt.cast_time_unit", &[("unit", Value::String(unit.to_string()))])?,
            T::MonthStart => simple("dt.month_start")?,
            T::MonthEnd => simple("dt.month_end")?,
            T::Quarter => simple("dt.quarter")?,
            T::Time => simple("dt.time")?,
            T::Round => with("dt.round", &[("every", literal_arg(input, 1, &fpath)?)])?,
            T::DatetimeFunction { time_unit, time_zone } => {
                // Inputs: year .. microsecond, then `ambiguous` (a literal here).
                let Some((ambiguous, parts)) = input.split_last() else {
                    return Err(unsupported(path, "pl.datetime without its parts"));
                };
                let args = parts.iter().enumerate().map(|(i, e)| expr(e, &format!("{fpath}.input[{i}]"))).collect::<Result<Vec<_>>>()?;
                let mut options = vec![
                    ("time_unit", Value::String(time_unit.to_string())),
                    ("ambiguous", literal_arg(std::slice::from_ref(ambiguous), 0, &fpath)?),
                ];
                if let Some(zone) = time_zone {
                    options.push(("time_zone", Value::String(zone.to_string())));
                }
                function("datetime", args, &options)
            },
            T::Duration(unit) => all_inputs("duration", &[("time_unit", Value::String(unit.to_string()))])?,
            T::Replace => {
                // Inputs: the values, year .. microsecond (null keeps a part), then `ambiguous` (a literal here).
                let Some((ambiguous, parts)) = input.split_last() else {
                    return Err(unsupported(path, "dt.replace without its parts"));
                };
                let args = parts.iter().enumerate().map(|(i, e)| expr(e, &format!("{fpath}.input[{i}]"))).collect::<Result<Vec<_>>>()?;
                function("dt.replace", args, &[("ambiguous", literal_arg(std::slice::from_ref(ambiguous), 0, &fpath)?)])
            },
            T::TotalDays { fractional } => with("dt.total_days", &[("fractional", Value::Boolean(*fractional))])?,
            T::TotalHours { fractional } => with("dt.total_hours", &[("fractional", Value::Boolean(*fractional))])?,
            T::TotalMinutes { fractional } => with("dt.total_minutes", &[("fractional", Value::Boolean(*fractional))])?,
            T::TotalSeconds { fractional } => with("dt.total_seconds", &[("fractional", Value::Boolean(*fractional))])?,
            T::TotalMilliseconds { fractional } => {
                with("dt.total_milliseconds", &[("fractional", Value::Boolean(*fractional))])?
            },
            T::TotalMicroseconds { fractional } => {
                with("dt.total_microseconds", &[("fractional", Value::Boolean(*fractional))])?
            },
            T::TotalNanoseconds { fractional } => {
                with("dt.total_nanoseconds", &[("fractional", Value::Boolean(*fractional))])?
            },
            other => return Err(unsupported(path, format!("temporal function {other}"))),
        },
        other => return Err(unsupported(path, format!("function {other}"))),
    })
}

fn interpolation(method: &QuantileMethod, path: &str) -> Result<&'static str> {
    Ok(match method {
        QuantileMethod::Nearest => "nearest",
        QuantileMethod::Lower => "lower",
        QuantileMethod::Higher => "higher",
        QuantileMethod::Midpoint => "midpoint",
        QuantileMethod::Linear => "linear",
        QuantileMethod::Equiprobable => "equiprobable",
        #[allow(unreachable_patterns)]
        other => return Err(unsupported(path, format!("quantile method {other:?}"))),
    })
}

/// A duration as polars parses it back: an integer index's "3i" keeps its
/// "i" (polars' own Display writes it as nanoseconds).
fn duration_text(d: &Duration) -> String {
    if d.parsed_int {
        format!("{}{}i", if d.negative() { "-" } else { "" }, d.nanoseconds())
    } else {
        d.to_string()
    }
}

fn closed_text(closed: ClosedWindow) -> String {
    match closed {
        ClosedWindow::Left => "left",
        ClosedWindow::Right => "right",
        ClosedWindow::Both => "both",
        ClosedWindow::None => "none",
    }
    .into()
}

/// A group-by's window as the protocol's message.
pub(crate) fn group_window(window: &super::GroupWindow) -> Result<proto::group_by_request::Window> {
    use proto::group_by_request::Window;
    Ok(match window {
        super::GroupWindow::Dynamic(o) => Window::Dynamic(proto::DynamicGroup {
            index_column: o.index_column.to_string(),
            every: duration_text(&o.every),
            period: duration_text(&o.period),
            offset: duration_text(&o.offset),
            closed: closed_text(o.closed_window),
            label: match o.label {
                Label::Left => "left",
                Label::Right => "right",
                Label::DataPoint => "datapoint",
            }
            .into(),
            include_boundaries: o.include_boundaries,
            start_by: match o.start_by {
                StartBy::WindowBound => "window",
                StartBy::DataPoint => "datapoint",
                StartBy::Monday => "monday",
                StartBy::Tuesday => "tuesday",
                StartBy::Wednesday => "wednesday",
                StartBy::Thursday => "thursday",
                StartBy::Friday => "friday",
                StartBy::Saturday => "saturday",
                StartBy::Sunday => "sunday",
            }
            .into(),
        }),
        super::GroupWindow::Rolling(o) => Window::Rolling(proto::RollingGroup {
            index_column: o.index_column.to_string(),
            period: duration_text(&o.period),
            offset: duration_text(&o.offset),
            closed: closed_text(o.closed_window),
        }),
    })
}
