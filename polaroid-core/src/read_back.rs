//! Reading a table back from one end of its designated timestamp, only as
//! far as an answer lies, as QuestDB reads back from its newest partition.
//!
//! [`read_back`] runs a plan's windows (disjoint slices of a table's rows,
//! nearest the end first) in turn until the rows read hold the answer.
//! [`nearest_rows`] is the plan rule that brings it to every door: a plan
//! whose answer is the n rows nearest one end of a table's timestamp
//! (polars' `sort("ts", descending=True).head(n)`, `top_k`, `sort("ts").tail(n)`,
//! SQL's `ORDER BY ts DESC LIMIT n`), and its latest (earliest) instant
//! (`select(col("ts").max())`, SQL's `SELECT max(ts)`), over rows computed each from one
//! stored row (filters, projections), reads the table back in windows of
//! 1, 2, 4, ... parts from that end instead of every part. The QuestDB
//! dialect (`polaroid-questdb`) plans its own read backs with the same
//! windows.

use std::sync::Arc;

use polars::prelude::*;
use polars_plan::dsl::DslPlan;
use polars_plan::plans::expr_ir::ExprIR;
use polars_plan::plans::{is_elementwise_rec, AExpr, IRPlan, IR};
use polars_plan::prelude::Node;

use crate::error::CoreError;
use crate::plan_walk::walk;
use crate::tables::End;

/// The rows `keep` keeps of each of `windows` (plans of disjoint parts of
/// a table's rows, from one end), read in turn, each window's rows put
/// before those read already, until `enough` says the rows kept so far
/// hold the answer. Windows read back from a table's end keep its order
/// (what `LIMIT -n` needs; the other queries sort). A plan: nothing is
/// read until it runs. A window's scan runs under the stop signal of the
/// query that runs this node (patch 0004): a query whose client has gone
/// stops at its next window.
pub fn read_back<K, E>(windows: Vec<LazyFrame>, keep: K, enough: E) -> Result<LazyFrame, CoreError>
where
    K: Fn(LazyFrame) -> PolarsResult<LazyFrame> + Send + Sync + 'static,
    E: Fn(&DataFrame) -> PolarsResult<bool> + Send + Sync + 'static,
{
    let Some(first) = windows.first() else { return Err(CoreError::Internal("a read back of no windows".into())) };
    let schema = keep(first.clone())?.collect_schema()?;
    let empty = DataFrame::empty_with_schema(&schema);
    let read = move |_: DataFrame| {
        let mut read = DataFrame::empty_with_schema(&schema);
        for window in &windows {
            let mut kept = keep(window.clone())?.collect()?;
            kept.vstack_mut_owned(read)?;
            read = kept;
            if enough(&read)? {
                break;
            }
        }
        Ok(read)
    };
    let output = empty.schema().clone();
    // Nothing passes through it: a filter or projection above stays above.
    Ok(empty.lazy().map(read, AllowedOptimizations::empty(), Some(Arc::new(move |_: &Schema| Ok(output.clone()))), Some("READ BACK")))
}

/// The time windows of a read back from `end` on column `ts` (of type
/// `dtype`, values physical): the rows between `first` and the end, then
/// between the `edges` (where blocks begin, beyond `first`, nearest the end
/// first) taken 1, 2, 4, ... at a time, the last window everything beyond.
/// Together they hold every row once; ends are explicit comparisons, which
/// a scan's statistics skip parts with.
pub(crate) fn time_windows(ts: &str, dtype: &DataType, end: End, first: i64, edges: &[i64]) -> Vec<Expr> {
    let at = |p: i64| lit(p).cast(dtype.clone());
    // Rows between `edge` and the end; and those beyond `edge`.
    let within = |edge: i64| match end {
        End::Newest => col(ts).gt_eq(at(edge)),
        End::Oldest => col(ts).lt_eq(at(edge)),
    };
    let beyond = |edge: i64| match end {
        End::Newest => col(ts).lt(at(edge)),
        End::Oldest => col(ts).gt(at(edge)),
    };
    let mut windows = vec![within(first)];
    let (mut last, mut taken, mut step) = (first, 0, 1);
    while taken < edges.len() {
        taken = (taken + step).min(edges.len());
        step *= 2;
        if taken == edges.len() {
            break;
        }
        let next = edges[taken - 1];
        windows.push(within(next).and(beyond(last)));
        last = next;
    }
    windows.push(beyond(last));
    windows
}

/// Where blocks whose ranges are `ranges` (physical, earliest and latest)
/// begin seen from `end`, beyond `first`, nearest the end first, each once:
/// the edges of [`time_windows`].
pub(crate) fn edges_beyond(ranges: impl IntoIterator<Item = (i64, i64)>, end: End, first: i64) -> Vec<i64> {
    let mut edges: Vec<i64> =
        ranges.into_iter().map(|(min, max)| end.pick(min, max)).filter(|&edge| end.nearer_first(edge, first).is_gt()).collect();
    edges.sort_unstable_by(|a, b| end.nearer_first(*a, *b));
    edges.dedup();
    edges
}

/// Of blocks given as (where each begins seen from `end`, its rows), the
/// farthest instant of those nearest the end that together hold `n` rows;
/// `None` if all of them hold fewer.
pub(crate) fn nearest_holding(mut counted: Vec<(i64, u64)>, end: End, n: usize) -> Option<i64> {
    counted.sort_unstable_by(|a, b| end.nearer_first(a.0, b.0));
    let mut total = 0u64;
    counted.into_iter().find_map(|(at, rows)| {
        total += rows;
        (total >= n as u64).then_some(at)
    })
}

/// `lf` with every n rows nearest one end of a table's timestamp read back
/// from that end (see the module). Any other plan, or one this rule cannot
/// prove the same, is returned as it is.
pub(crate) fn nearest_rows(lf: LazyFrame) -> LazyFrame {
    // Most plans have no sort on one column and no max or min alone:
    // nothing to walk.
    let candidate = |node: &DslPlan| match node {
        DslPlan::Sort { by_column, .. } => by_column.len() == 1,
        DslPlan::Select { expr, .. } => end_instant(expr).is_some(),
        _ => false,
    };
    if !(&lf.logical_plan).into_iter().any(candidate) {
        return lf;
    }
    let mut plan = lf.logical_plan.clone();
    let mut rewrite = |node: &mut DslPlan| -> Result<(), CoreError> {
        if let Some(read) = read_back_of(node)? {
            *node = read;
        }
        Ok(())
    };
    match walk(&mut plan, &mut rewrite) {
        Ok(()) => LazyFrame::from(plan).with_optimizations(lf.get_current_optimizations()),
        Err(e) => {
            tracing::debug!(error = %e, "the nearest rows are read as planned");
            lf
        },
    }
}

/// `node` with its rows read back, if it is the n rows nearest one end of
/// a sort on one column (`Slice` over `Sort`, or a `Sort` with its slice),
/// or the latest (earliest) instant of one column (`select(col(ts).max())`),
/// and its rows are a table's, row by row (see [`table_blocks`]).
fn read_back_of(node: &DslPlan) -> Result<Option<DslPlan>, CoreError> {
    match node {
        DslPlan::Select { expr, input, options } => {
            let Some((ts, end)) = end_instant(expr) else { return Ok(None) };
            let (by, descending) = (ts.clone(), end == End::Newest);
            let keep = move |rows: LazyFrame| {
                Ok(rows.sort([by.clone()], SortMultipleOptions::default().with_order_descending(descending)).slice(0, 1))
            };
            let Some(read) = read_back_rows(input, ts, end, 1, keep)? else { return Ok(None) };
            Ok(Some(DslPlan::Select { expr: expr.clone(), input: Arc::new(read), options: *options }))
        },
        _ => nearest_sorted(node),
    }
}

/// The column and the end of `max(ts)` (`Newest`) or `min(ts)` (`Oldest`),
/// alone in a select list.
fn end_instant(exprs: &[Expr]) -> Option<(PlSmallStr, End)> {
    let [expr] = exprs else { return None };
    let expr = match expr {
        Expr::Alias(inner, _) => inner.as_ref(),
        other => other,
    };
    let (input, end) = match expr {
        Expr::Agg(AggExpr::Max { input, .. }) => (input, End::Newest),
        Expr::Agg(AggExpr::Min { input, .. }) => (input, End::Oldest),
        _ => return None,
    };
    match input.as_ref() {
        Expr::Column(ts) => Some((ts.clone(), end)),
        _ => None,
    }
}

/// The n rows nearest one end of a sort on one column, read back.
fn nearest_sorted(node: &DslPlan) -> Result<Option<DslPlan>, CoreError> {
    let (sort, offset, len, above) = match node {
        DslPlan::Slice { input, offset, len } => match picked_columns_over_sort(input) {
            Some(sort) => (sort, *offset, *len as usize, Some(input.as_ref())),
            None => return Ok(None),
        },
        DslPlan::Sort { slice: Some((offset, len)), .. } => (node, *offset, *len, None),
        _ => return Ok(None),
    };
    let DslPlan::Sort { input: rows, by_column, slice, sort_options } = sort else { return Ok(None) };
    let [Expr::Column(ts)] = by_column.as_slice() else { return Ok(None) };
    let descending = sort_options.descending.first().copied().unwrap_or(false);
    // `head(n)` of a descending sort is the n newest; `tail(n)` of an
    // ascending one, too.
    let (end, n) = match offset {
        0.. => (if descending { End::Newest } else { End::Oldest }, (offset as usize).saturating_add(len)),
        _ => (if descending { End::Oldest } else { End::Newest }, offset.unsigned_abs() as usize),
    };
    if len == 0 {
        return Ok(None);
    }
    // Each window keeps what the query would keep of it, so ties keep the
    // query's order.
    let (by, options) = (ts.clone(), sort_options.clone());
    let keep = move |rows: LazyFrame| {
        let sorted = rows.sort([by.clone()], options.clone());
        Ok(if offset >= 0 { sorted.slice(0, n as IdxSize) } else { sorted.tail(n as IdxSize) })
    };
    let Some(read) = read_back_rows(rows, ts.clone(), end, n, keep)? else { return Ok(None) };
    let sorted = DslPlan::Sort {
        input: Arc::new(read),
        by_column: by_column.clone(),
        slice: *slice,
        sort_options: sort_options.clone(),
    };
    Ok(Some(match above {
        Some(sliced) => DslPlan::Slice { input: Arc::new(with_sort(sliced, sorted)), offset, len: len as IdxSize },
        None => sorted,
    }))
}

/// `rows` read back from `end` of `ts` until `n` rows have passed, each
/// window kept by `keep`, if they are a table's rows computed row by row
/// and the table holds more than n rows beyond a first window.
fn read_back_rows<K>(rows: &DslPlan, ts: PlSmallStr, end: End, n: usize, keep: K) -> Result<Option<DslPlan>, CoreError>
where
    K: Fn(LazyFrame) -> PolarsResult<LazyFrame> + Send + Sync + 'static,
{
    if n == 0 {
        return Ok(None);
    }
    if !may_be_table_rows(rows) {
        return Ok(None);
    }
    let rows = LazyFrame::from(rows.clone());
    let Some((blocks, dtype)) = table_blocks(&rows, &ts) else { return Ok(None) };
    let counted: Vec<(i64, u64)> =
        blocks.iter().filter_map(|b| Some((end.pick(b.range?.0, b.range?.1), b.rows?))).collect();
    let total: u64 = counted.iter().map(|(_, rows)| rows).sum();
    if total <= n as u64 {
        return Ok(None);
    }
    let Some(first) = nearest_holding(counted, end, n) else { return Ok(None) };
    let edges = edges_beyond(blocks.iter().filter_map(|b| b.range), end, first);
    if edges.is_empty() {
        // The first window would read every part.
        return Ok(None);
    }
    let windows = time_windows(&ts, &dtype, end, first, &edges);
    let windows: Vec<LazyFrame> = windows.into_iter().map(|w| rows.clone().filter(w)).collect();
    let read = read_back(windows, keep, move |read: &DataFrame| Ok(read.height() >= n))?;
    Ok(Some(read.logical_plan))
}

/// The sort under `plan`, a sort with no slice of its own under columns
/// picked (polars SQL's `SELECT a, b ... ORDER BY ts LIMIT n` picks its
/// columns after sorting): a slice above takes the same rows of either.
fn picked_columns_over_sort(plan: &DslPlan) -> Option<&DslPlan> {
    match plan {
        DslPlan::Sort { slice: None, .. } => Some(plan),
        DslPlan::Select { expr, input, .. } | DslPlan::HStack { exprs: expr, input, .. } if expr.iter().all(picks_a_column) => {
            picked_columns_over_sort(input)
        },
        _ => None,
    }
}

fn picks_a_column(expr: &Expr) -> bool {
    match expr {
        Expr::Column(_) => true,
        Expr::Alias(inner, _) => matches!(inner.as_ref(), Expr::Column(_)),
        _ => false,
    }
}

/// `plan` (a sort under columns picked) with its sort replaced by `sorted`.
fn with_sort(plan: &DslPlan, sorted: DslPlan) -> DslPlan {
    let mut plan = plan.clone();
    match &mut plan {
        DslPlan::Select { input, .. } | DslPlan::HStack { input, .. } => {
            let below = with_sort(input.as_ref(), sorted);
            *input = Arc::new(below);
        },
        _ => return sorted,
    }
    plan
}

/// Whether `plan` is made only of the nodes [`table_blocks`] accepts, with
/// a scan that carries statistics: a cheap look before polars converts the
/// plan (most sorted plans, a join's or a group-by's, stop here).
fn may_be_table_rows(plan: &DslPlan) -> bool {
    let mut stored = false;
    let accepted = plan.into_iter().all(|node| match node {
        DslPlan::Scan { unified_scan_args, .. } => {
            stored |= unified_scan_args.table_statistics.is_some();
            true
        },
        DslPlan::Filter { .. } | DslPlan::Select { .. } | DslPlan::HStack { .. } | DslPlan::Union { .. } => true,
        DslPlan::DataFrameScan { .. } | DslPlan::IR { .. } => true,
        _ => false,
    });
    accepted && stored
}

/// What a read back knows of a block (a part, or the log) without reading
/// it: its time range (physical) and its rows.
#[derive(Debug)]
struct Block {
    range: Option<(i64, i64)>,
    rows: Option<u64>,
    /// A stored part (not rows held in memory).
    stored: bool,
}

/// If `rows` computes each row from one row of a stored table (filters,
/// projections and new columns of expressions on a row alone) and passes
/// the table's timestamp `ts` through as it is: the table's blocks, from
/// the statistics its scans carry (a part's rows and time range, see
/// `tables::parts`) and its log's rows, and the type of `ts`.
fn table_blocks(rows: &LazyFrame, ts: &str) -> Option<(Vec<Block>, DataType)> {
    let plan = rows.clone().to_alp().ok()?;
    let dtype = plan.lp_arena.get(plan.lp_top).schema(&plan.lp_arena).get(ts).cloned()?;
    if !matches!(dtype, DataType::Datetime(..)) {
        return None;
    }
    let mut blocks = Vec::new();
    // Rows held in memory only are sorted faster than read back.
    let read = row_by_row(&plan, plan.lp_top, ts, &dtype, &mut blocks) && blocks.iter().any(|b| b.stored);
    read.then_some((blocks, dtype))
}

#[recursive::recursive]
fn row_by_row(plan: &IRPlan, node: Node, ts: &str, dtype: &DataType, blocks: &mut Vec<Block>) -> bool {
    let exprs = &plan.expr_arena;
    let passes_ts = |e: &ExprIR| e.output_name() == ts && matches!(exprs.get(e.node()), AExpr::Column(c) if c == ts);
    let mut below = |input: Node| row_by_row(plan, input, ts, dtype, blocks);
    match plan.lp_arena.get(node) {
        IR::Filter { input, predicate } => is_elementwise_rec(predicate.node(), exprs) && below(*input),
        IR::Select { input, expr, .. } => {
            expr.iter().any(passes_ts) && expr.iter().all(|e| is_elementwise_rec(e.node(), exprs)) && below(*input)
        },
        IR::HStack { input, exprs: columns, .. } => {
            columns.iter().all(|e| is_elementwise_rec(e.node(), exprs) && (e.output_name() != ts || passes_ts(e))) && below(*input)
        },
        IR::SimpleProjection { input, columns } => columns.contains(ts) && below(*input),
        IR::Union { inputs, .. } => inputs.iter().all(|&input| below(input)),
        IR::Scan { unified_scan_args, predicate: None, .. } => match &unified_scan_args.table_statistics {
            Some(stats) => part_blocks(&stats.0, ts, dtype, blocks).is_some(),
            None => false,
        },
        IR::DataFrameScan { df, .. } => log_block(df, ts, dtype, blocks).is_some(),
        _ => false,
    }
}

/// A table's parts, from the statistics of their scan: one row per part,
/// its rows (`len`) and the range of `ts` (`<ts>_min`, `<ts>_max`).
fn part_blocks(stats: &DataFrame, ts: &str, dtype: &DataType, blocks: &mut Vec<Block>) -> Option<()> {
    let (min, max) = (stats.column(&format!("{ts}_min")).ok()?, stats.column(&format!("{ts}_max")).ok()?);
    if min.dtype() != dtype || max.dtype() != dtype {
        return None;
    }
    let physical = |c: &Column| c.cast(&DataType::Int64).ok();
    let (min, max, len) = (physical(min)?, physical(max)?, stats.column("len").ok()?.cast(&DataType::UInt64).ok()?);
    let (min, max, len) = (min.i64().ok()?, max.i64().ok()?, len.u64().ok()?);
    for ((min, max), rows) in min.iter().zip(max.iter()).zip(len.iter()) {
        blocks.push(Block { range: min.zip(max), rows, stored: true });
    }
    Some(())
}

/// The rows in a table's log (held in memory): its range, read from it.
fn log_block(df: &DataFrame, ts: &str, dtype: &DataType, blocks: &mut Vec<Block>) -> Option<()> {
    let column = df.column(ts).ok()?;
    // A null timestamp is in no window; a table's never is null.
    if column.dtype() != dtype || column.null_count() > 0 {
        return None;
    }
    if df.height() == 0 {
        return Some(());
    }
    let physical = column.cast(&DataType::Int64).ok()?;
    let values = physical.i64().ok()?;
    blocks.push(Block { range: values.min().zip(values.max()), rows: Some(df.height() as u64), stored: false });
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(ts: &[Option<i64>]) -> LazyFrame {
        let ts = Series::new("ts".into(), ts).cast(&DataType::Datetime(TimeUnit::Microseconds, None)).unwrap();
        DataFrame::new(ts.len(), vec![ts.clone().into_column(), Series::new("i".into(), (0..ts.len() as i32).collect::<Vec<_>>()).into_column()])
            .unwrap()
            .lazy()
    }

    /// Frames held in memory are sorted, not read back: no part to skip,
    /// and a null timestamp (which a table never holds) is in no window.
    #[test]
    fn rows_in_memory_are_sorted_as_planned() {
        let rows = concat([frame(&[Some(1), Some(5)]), frame(&[None, Some(9), Some(3)])], UnionArgs::default()).unwrap();
        let newest = rows.sort(["ts"], SortMultipleOptions::default().with_order_descending(true)).slice(0, 2);
        let planned = nearest_rows(newest.clone());
        assert!(!planned.describe_plan().unwrap().contains("READ BACK"));
        let got = planned.collect().unwrap();
        assert!(got.equals_missing(&newest.collect().unwrap()));
        assert_eq!(got.column("ts").unwrap().null_count(), 1, "nulls first, as polars sorts descending: {got}");
    }

    /// The windows of a read back, hand-worked: the first, then 1, 2, 4
    /// edges at a time, the last everything beyond; from either end.
    #[test]
    fn windows_take_twice_as_many_edges_each_time() {
        let rows = df!("ts" => (0..=90i64).collect::<Vec<_>>()).unwrap();
        let counts = |windows: Vec<Expr>| -> Vec<usize> {
            windows.into_iter().map(|w| rows.clone().lazy().filter(w).collect().unwrap().height()).collect()
        };
        let edges: Vec<i64> = (1..=7).rev().map(|e| e * 10).collect();
        // [80, 90], [70, 80), [50, 70), then [0, 50).
        assert_eq!(counts(time_windows("ts", &DataType::Int64, End::Newest, 80, &edges)), [11, 10, 20, 50]);
        // Eight edges: [0, 5], (5, 15], (15, 35], (35, 75], then (75, 90].
        let edges = [15, 25, 35, 45, 55, 65, 75, 85];
        assert_eq!(counts(time_windows("ts", &DataType::Int64, End::Oldest, 5, &edges)), [6, 10, 20, 40, 15]);
        assert_eq!(edges_beyond([(0, 5), (3, 9), (10, 20), (3, 4)], End::Newest, 10), [3, 0]);
        assert_eq!(edges_beyond([(0, 5), (3, 9), (10, 20), (3, 4)], End::Oldest, 4), [5, 9, 20]);
        assert_eq!(nearest_holding(vec![(10, 5), (30, 5), (20, 5)], End::Newest, 6), Some(20));
        assert_eq!(nearest_holding(vec![(10, 5), (30, 5), (20, 5)], End::Oldest, 11), Some(30));
        assert_eq!(nearest_holding(vec![(10, 5)], End::Newest, 6), None);
    }
}
