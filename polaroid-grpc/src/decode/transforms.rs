//! Plan-building for the column-based transforms: each turns a request and
//! its input plans into a new plan and a lineage text. No gRPC in here.

use polars::prelude::*;

use polaroid_core::CoreError;
use crate::proto;

type Built = Result<(LazyFrame, String), CoreError>;

fn invalid(msg: impl Into<String>) -> CoreError {
    CoreError::InvalidArgument(msg.into())
}

fn names(cols: &[String]) -> String {
    cols.join(", ")
}

pub(crate) fn sort(lf: LazyFrame, req: &proto::SortRequest) -> Built {
    if req.by.is_empty() {
        return Err(invalid("sort needs at least one key in `by`"));
    }
    let by: Vec<PlSmallStr> = req.by.iter().map(|k| PlSmallStr::from(k.column.as_str())).collect();
    let options = SortMultipleOptions::default()
        .with_order_descending_multi(req.by.iter().map(|k| k.descending))
        .with_nulls_last_multi(req.by.iter().map(|k| k.nulls_last))
        .with_maintain_order(req.maintain_order);
    let text = req
        .by
        .iter()
        .map(|k| format!("{}{}", k.column, if k.descending { " desc" } else { "" }))
        .collect::<Vec<_>>()
        .join(", ");
    Ok((lf.sort(by, options), format!("sort({text})")))
}

pub(crate) fn slice(lf: LazyFrame, req: &proto::SliceRequest) -> Built {
    let len = req.length.map_or(IdxSize::MAX, |l| l.min(IdxSize::MAX as u64) as IdxSize);
    let text = match req.length {
        Some(l) => format!("slice({}, {l})", req.offset),
        None => format!("slice({})", req.offset),
    };
    Ok((lf.slice(req.offset, len), text))
}

pub(crate) fn unique(lf: LazyFrame, req: &proto::UniqueRequest) -> Built {
    let keep = match proto::UniqueKeep::try_from(req.keep).map_err(|_| invalid(format!("unknown keep {}", req.keep)))? {
        proto::UniqueKeep::Any => UniqueKeepStrategy::Any,
        proto::UniqueKeep::First => UniqueKeepStrategy::First,
        proto::UniqueKeep::Last => UniqueKeepStrategy::Last,
        proto::UniqueKeep::None => UniqueKeepStrategy::None,
    };
    let subset = (!req.subset.is_empty()).then(|| req.subset.iter().map(|c| col(c.as_str())).collect::<Vec<_>>());
    let lf = if req.maintain_order {
        lf.unique_stable_generic(subset, keep)
    } else {
        lf.unique_generic(subset, keep)
    };
    Ok((lf, format!("unique({})", names(&req.subset))))
}

pub(crate) fn drop_nulls(lf: LazyFrame, req: &proto::DropNullsRequest) -> Built {
    let subset = (!req.subset.is_empty()).then(|| cols(req.subset.iter().map(|c| c.as_str())));
    Ok((lf.drop_nulls(subset), format!("drop_nulls({})", names(&req.subset))))
}

pub(crate) fn drop_columns(mut lf: LazyFrame, req: &proto::DropColumnsRequest) -> Built {
    // polars 2 keeps the rows of a frame whose every column is dropped; this
    // release's plan becomes an empty frame instead, so that answer would be
    // zero rows: refused rather than wrong.
    if lf.collect_schema()?.iter_names().all(|name| req.columns.iter().any(|c| c == name.as_str())) {
        return Err(invalid(
            "drop_columns would drop every column, which this server's polars answers with no rows \
             (polars 2 keeps the height); keep a column, or count rows with select(len())",
        ));
    }
    let columns: Arc<[PlSmallStr]> = req.columns.iter().map(PlSmallStr::from).collect();
    let text = format!("drop({})", names(&req.columns));
    Ok((lf.drop(Selector::ByName { names: columns, strict: req.strict }), text))
}

pub(crate) fn rename(lf: LazyFrame, req: &proto::RenameRequest) -> Built {
    if req.mapping.is_empty() {
        return Err(invalid("rename needs at least one `old -> new` pair in `mapping`"));
    }
    let mut pairs: Vec<_> = req.mapping.iter().collect();
    pairs.sort();
    let text = pairs.iter().map(|(a, b)| format!("{a} -> {b}")).collect::<Vec<_>>().join(", ");
    let (old, new): (Vec<_>, Vec<_>) = pairs.into_iter().map(|(a, b)| (a.as_str(), b.as_str())).unzip();
    Ok((lf.rename(old, new, req.strict), format!("rename({text})")))
}

pub(crate) fn explode(lf: LazyFrame, req: &proto::ExplodeRequest) -> Built {
    if req.columns.is_empty() {
        return Err(invalid("explode needs at least one column in `columns`"));
    }
    let options = ExplodeOptions { empty_as_null: req.empty_as_null, keep_nulls: req.keep_nulls.unwrap_or(true) };
    let text = format!("explode({})", names(&req.columns));
    Ok((lf.explode(cols(req.columns.iter().map(|c| c.as_str())), options), text))
}

pub(crate) fn unpivot(lf: LazyFrame, req: &proto::UnpivotRequest) -> Built {
    let name = |n: &str| (!n.is_empty()).then(|| PlSmallStr::from(n));
    let args = UnpivotArgsDSL {
        on: (!req.on.is_empty()).then(|| cols(req.on.iter().map(|c| c.as_str()))),
        index: cols(req.index.iter().map(|c| c.as_str())),
        variable_name: name(&req.variable_name),
        value_name: name(&req.value_name),
    };
    let text = format!("unpivot(on=[{}], index=[{}])", names(&req.on), names(&req.index));
    Ok((lf.unpivot(args), text))
}

pub(crate) fn with_row_index(lf: LazyFrame, req: &proto::WithRowIndexRequest) -> Built {
    let name = if req.name.is_empty() { "index" } else { req.name.as_str() };
    let offset = IdxSize::try_from(req.offset).map_err(|_| invalid(format!("row index offset {} is too large", req.offset)))?;
    Ok((lf.with_row_index(name, Some(offset)), format!("with_row_index({name}, {offset})")))
}

pub(crate) fn merge_sorted(left: LazyFrame, right: LazyFrame, req: &proto::MergeSortedRequest) -> Built {
    if req.key.is_empty() {
        return Err(invalid("merge_sorted needs at least one key column"));
    }
    let text = format!("merge_sorted(key=[{}])", names(&req.key));
    // Equal keys keep the left frame's rows first: one answer, whatever the engine.
    Ok((left.merge_sorted(right, req.key.iter().map(String::as_str), true)?, text))
}

fn join_where(left: LazyFrame, right: LazyFrame, req: &proto::JoinRequest) -> Built {
    if !req.left_on.is_empty() || !req.right_on.is_empty() {
        return Err(invalid("a `where` join takes predicates, not key columns"));
    }
    if req.predicates.is_empty() {
        return Err(invalid("a `where` join needs at least one expression in `predicates`"));
    }
    let predicates = crate::decode::expr::exprs(&req.predicates, "predicates")?;
    let text = format!("join_where({})", expr_text(&predicates));
    let mut builder = left.join_builder().with(right);
    if let Some(suffix) = &req.suffix {
        builder = builder.suffix(suffix.as_str());
    }
    Ok((builder.join_where(predicates), text))
}

pub(crate) fn join(left: LazyFrame, right: LazyFrame, req: &proto::JoinRequest) -> Built {
    let how = proto::JoinHow::try_from(req.how).map_err(|_| invalid(format!("unknown join kind {}", req.how)))?;
    let join_type = match how {
        proto::JoinHow::Inner => JoinType::Inner,
        proto::JoinHow::Left => JoinType::Left,
        proto::JoinHow::Right => JoinType::Right,
        proto::JoinHow::Full => JoinType::Full,
        proto::JoinHow::Semi => JoinType::Semi,
        proto::JoinHow::Anti => JoinType::Anti,
        proto::JoinHow::Cross => JoinType::Cross,
        proto::JoinHow::Asof => JoinType::AsOf(Box::new(asof_options(req)?)),
        proto::JoinHow::Where => return join_where(left, right, req),
    };
    if !req.predicates.is_empty() {
        return Err(invalid("only a `where` join takes predicates"));
    }
    let by_exprs = !req.left_on_exprs.is_empty() || !req.right_on_exprs.is_empty();
    if by_exprs && (!req.left_on.is_empty() || !req.right_on.is_empty()) {
        return Err(invalid("keys are either columns (left_on/right_on) or expressions (left_on_exprs/right_on_exprs), not both"));
    }
    let (n_left, n_right) = if by_exprs {
        (req.left_on_exprs.len(), req.right_on_exprs.len())
    } else {
        (req.left_on.len(), req.right_on.len())
    };
    if how == proto::JoinHow::Cross {
        if n_left + n_right > 0 {
            return Err(invalid("a cross join takes no key columns"));
        }
    } else if n_left == 0 || n_left != n_right {
        return Err(invalid(format!(
            "left_on and right_on must name the same number (at least one) of key columns, got {n_left} and {n_right}"
        )));
    }
    if how == proto::JoinHow::Asof && (n_left != 1 || by_exprs) {
        return Err(invalid("an as-of join takes exactly one key column on each side"));
    }
    let (left_on, right_on, keys_text) = if by_exprs {
        let left_on = crate::decode::expr::exprs(&req.left_on_exprs, "left_on_exprs")?;
        let right_on = crate::decode::expr::exprs(&req.right_on_exprs, "right_on_exprs")?;
        let text = format!("[{}] = [{}]", expr_text(&left_on), expr_text(&right_on));
        (left_on, right_on, text)
    } else {
        let columns = |names: &[String]| names.iter().map(|c| col(c.as_str())).collect::<Vec<Expr>>();
        (columns(&req.left_on), columns(&req.right_on), format!("[{}] = [{}]", names(&req.left_on), names(&req.right_on)))
    };
    let mut args = JoinArgs::new(join_type).with_suffix(req.suffix.clone().map(PlSmallStr::from));
    args.coalesce = match req.coalesce {
        None => JoinCoalesce::JoinSpecific,
        Some(true) => JoinCoalesce::CoalesceColumns,
        Some(false) => JoinCoalesce::KeepColumns,
    };
    args.nulls_equal = req.nulls_equal;
    args.maintain_order = match req.maintain_order.as_str() {
        "" | "none" => MaintainOrderJoin::None,
        "left" => MaintainOrderJoin::Left,
        "right" => MaintainOrderJoin::Right,
        "left_right" => MaintainOrderJoin::LeftRight,
        "right_left" => MaintainOrderJoin::RightLeft,
        other => {
            return Err(invalid(format!("unknown maintain_order {other:?} (none, left, right, left_right, right_left)")));
        },
    };
    args.validation = match req.validate.as_str() {
        "" | "m:m" => JoinValidation::ManyToMany,
        "1:m" => JoinValidation::OneToMany,
        "m:1" => JoinValidation::ManyToOne,
        "1:1" => JoinValidation::OneToOne,
        other => return Err(invalid(format!("unknown validate {other:?} (m:m, 1:m, m:1, 1:1)"))),
    };
    let kind = how.as_str_name().trim_start_matches("JOIN_HOW_").to_lowercase();
    let mut text = format!("join({kind}, {keys_text}");
    for (flag, on) in [
        ("coalesce", req.coalesce.map(|c| c.to_string())),
        ("nulls_equal", req.nulls_equal.then(|| "true".to_string())),
        ("maintain_order", (!req.maintain_order.is_empty()).then(|| req.maintain_order.clone())),
        ("validate", (!req.validate.is_empty()).then(|| req.validate.clone())),
    ] {
        if let Some(value) = on {
            text.push_str(&format!(", {flag}={value}"));
        }
    }
    text.push(')');
    Ok((left.join(right, left_on, right_on, args), text))
}

fn asof_options(req: &proto::JoinRequest) -> Result<AsOfOptions, CoreError> {
    let asof = req.asof.clone().unwrap_or_default();
    let strategy = match proto::AsofStrategy::try_from(asof.strategy)
        .map_err(|_| invalid(format!("unknown as-of strategy {}", asof.strategy)))?
    {
        proto::AsofStrategy::Backward => AsofStrategy::Backward,
        proto::AsofStrategy::Forward => AsofStrategy::Forward,
        proto::AsofStrategy::Nearest => AsofStrategy::Nearest,
    };
    if asof.left_by.len() != asof.right_by.len() {
        return Err(invalid("asof.left_by and asof.right_by must name the same number of columns"));
    }
    let by = |v: &[String]| (!v.is_empty()).then(|| v.iter().map(|c| PlSmallStr::from(c.as_str())).collect());
    let (tolerance, tolerance_str) = match asof.tolerance {
        None => (None, None),
        Some(proto::asof_options::Tolerance::ToleranceNumber(x)) => {
            (Some(Scalar::new(DataType::Float64, AnyValue::Float64(x))), None)
        },
        Some(proto::asof_options::Tolerance::ToleranceDuration(d)) => {
            // Validate here so a typo is a clear INVALID_ARGUMENT, not a panic deep in polars.
            Duration::try_parse(&d).map_err(|e| invalid(format!("asof tolerance {d:?}: {e}")))?;
            (None, Some(PlSmallStr::from(d.as_str())))
        },
    };
    Ok(AsOfOptions {
        strategy,
        tolerance,
        tolerance_str,
        left_by: by(&asof.left_by),
        right_by: by(&asof.right_by),
        allow_eq: asof.allow_exact_matches.unwrap_or(true),
        check_sortedness: true,
    })
}

fn expr_text(exprs: &[Expr]) -> String {
    exprs.iter().map(|e| format!("{e:?}")).collect::<Vec<_>>().join(", ")
}

pub(crate) fn select(lf: LazyFrame, req: &proto::SelectRequest) -> Built {
    if req.exprs.is_empty() {
        return Err(invalid("select needs at least one expression in `exprs`"));
    }
    let exprs = crate::decode::expr::exprs(&req.exprs, "exprs")?;
    let text = format!("select({})", expr_text(&exprs));
    Ok((lf.select(exprs), text))
}

pub(crate) fn filter(lf: LazyFrame, req: &proto::FilterRequest) -> Built {
    let predicate = crate::decode::expr::required(req.predicate.as_ref(), "predicate")?;
    let text = format!("filter({predicate:?})");
    Ok((lf.filter(predicate), text))
}

pub(crate) fn with_columns(lf: LazyFrame, req: &proto::WithColumnsRequest) -> Built {
    if req.exprs.is_empty() {
        return Err(invalid("with_columns needs at least one expression in `exprs`"));
    }
    let exprs = crate::decode::expr::exprs(&req.exprs, "exprs")?;
    let text = format!("with_columns({})", expr_text(&exprs));
    Ok((lf.with_columns(exprs), text))
}

pub(crate) fn group_by(lf: LazyFrame, req: &proto::GroupByRequest) -> Built {
    use proto::group_by_request::Window;
    if req.keys.is_empty() && req.window.is_none() {
        return Err(invalid("group_by needs at least one key in `keys`"));
    }
    let keys = crate::decode::expr::exprs(&req.keys, "keys")?;
    let aggs = crate::decode::expr::exprs(&req.aggs, "aggs")?;
    let (grouped, how) = match &req.window {
        None => {
            let grouped = if req.maintain_order { lf.group_by_stable(keys.clone()) } else { lf.group_by(keys.clone()) };
            (grouped, "group_by".to_string())
        },
        Some(Window::Dynamic(window)) => {
            let options = dynamic_group(window)?;
            let how = format!("group_by_dynamic({}, every={}, period={}, offset={})", window.index_column, options.every, options.period, options.offset);
            (lf.group_by_dynamic(col(window.index_column.as_str()), keys.clone(), options), how)
        },
        Some(Window::Rolling(window)) => {
            let options = rolling_group(window)?;
            let how = format!("rolling({}, period={}, offset={})", window.index_column, options.period, options.offset);
            (lf.rolling(col(window.index_column.as_str()), keys.clone(), options), how)
        },
    };
    let text = format!("{how}({}).agg({})", expr_text(&keys), expr_text(&aggs));
    Ok((grouped.agg(aggs), text))
}

/// A window's duration option: `what` names it in errors.
fn window_duration(text: &str, what: &str) -> Result<Duration, CoreError> {
    Duration::try_parse(text).map_err(|e| invalid(format!("{what} {text:?}: {e}")))
}

/// A window's length: a duration greater than zero.
fn positive_duration(text: &str, what: &str) -> Result<Duration, CoreError> {
    let duration = window_duration(text, what)?;
    if duration.is_zero() || duration.negative() {
        return Err(invalid(format!("{what} {text:?} must be positive")));
    }
    Ok(duration)
}

fn closed_window(text: &str, default: ClosedWindow) -> Result<ClosedWindow, CoreError> {
    if text.is_empty() {
        return Ok(default);
    }
    crate::decode::expr::closed_side(text)
        .ok_or_else(|| invalid(format!("window closed {text:?}: expected left, right, both or none")))
}

fn window_column(name: &str) -> Result<(), CoreError> {
    if name.is_empty() {
        return Err(invalid("a window needs its `index_column`"));
    }
    Ok(())
}

fn dynamic_group(req: &proto::DynamicGroup) -> Result<DynamicGroupOptions, CoreError> {
    window_column(&req.index_column)?;
    if req.every.is_empty() {
        return Err(invalid("group_by_dynamic needs `every` (a duration such as \"5m\")"));
    }
    let every = positive_duration(&req.every, "every")?;
    let period = if req.period.is_empty() { every } else { positive_duration(&req.period, "period")? };
    let offset = if req.offset.is_empty() { Duration::parse("0ns") } else { window_duration(&req.offset, "offset")? };
    let label = match req.label.as_str() {
        "" | "left" => Label::Left,
        "right" => Label::Right,
        "datapoint" => Label::DataPoint,
        other => return Err(invalid(format!("label {other:?}: expected left, right or datapoint"))),
    };
    let start_by = match req.start_by.as_str() {
        "" | "window" => StartBy::WindowBound,
        "datapoint" => StartBy::DataPoint,
        "monday" => StartBy::Monday,
        "tuesday" => StartBy::Tuesday,
        "wednesday" => StartBy::Wednesday,
        "thursday" => StartBy::Thursday,
        "friday" => StartBy::Friday,
        "saturday" => StartBy::Saturday,
        "sunday" => StartBy::Sunday,
        other => return Err(invalid(format!("start_by {other:?}: expected window, datapoint or a weekday"))),
    };
    Ok(DynamicGroupOptions {
        index_column: req.index_column.as_str().into(),
        every,
        period,
        offset,
        label,
        include_boundaries: req.include_boundaries,
        closed_window: closed_window(&req.closed, ClosedWindow::Left)?,
        start_by,
    })
}

fn rolling_group(req: &proto::RollingGroup) -> Result<RollingGroupOptions, CoreError> {
    window_column(&req.index_column)?;
    if req.period.is_empty() {
        return Err(invalid("rolling needs `period` (a duration such as \"5m\")"));
    }
    let period = positive_duration(&req.period, "period")?;
    let offset = if req.offset.is_empty() { -period } else { window_duration(&req.offset, "offset")? };
    Ok(RollingGroupOptions {
        index_column: req.index_column.as_str().into(),
        period,
        offset,
        closed_window: closed_window(&req.closed, ClosedWindow::Right)?,
    })
}
