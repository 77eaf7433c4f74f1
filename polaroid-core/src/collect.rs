//! Running a plan to a materialized frame, in bounded memory and stoppable:
//! the result is checked against the memory budget as it is built, and work
//! whose client went away stops between batches.

use std::borrow::Cow;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use polars::prelude::*;
use polars::error::abort::{QueryStopSignal, is_query_stopped, with_query_stop_signal};

use crate::error::CoreError;
use crate::memory_guard;
use crate::slots::CancelToken;

/// Run polars work that stops once `cancel` fires.
///
/// The work runs under a polars query stop signal (patch 0004): every task
/// of a streaming query started inside checks the token each time it is
/// polled, so a query stops within a morsel of the client leaving, even one
/// that outputs nothing for minutes (an aggregation, a filtered cross join).
/// The abort unwinds out of polars and becomes CANCELLED here.
///
/// It also stops when the server's memory passes its limit while it runs
/// (see [`crate::memory_guard`]): RESOURCE_EXHAUSTED then.
pub(crate) fn stoppable<T>(cancel: &CancelToken, work: impl FnOnce() -> Result<T, CoreError>) -> Result<T, CoreError> {
    let token = cancel.clone();
    let mark = memory_guard::mark();
    let signal: QueryStopSignal = Arc::new(move || token.is_cancelled() || memory_guard::tripped_since(mark));
    match std::panic::catch_unwind(AssertUnwindSafe(|| with_query_stop_signal(signal, work))) {
        Ok(done) => done,
        Err(panic) if is_query_stopped(&*panic) && memory_guard::tripped_since(mark) => Err(memory_guard::over_limit()),
        Err(panic) if is_query_stopped(&*panic) => Err(gone()),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn gone() -> CoreError {
    CoreError::Cancelled("the client went away; the query was stopped".into())
}

/// Keep the stderr of a busy server clean: a query stopped by its client
/// unwinds its tasks with a polars abort, which is no bug to report.
pub(crate) fn quiet_query_stops() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !is_query_stopped(info.payload()) {
                report(info)
            }
        }));
    });
}

/// Run `lf` on `engine` into one frame of at most `budget` bytes.
///
/// The streaming engine (and `Auto`) delivers batches: each is counted as it
/// arrives, and the query stops as soon as the total passes the budget or
/// the token fires. The in-memory engine runs to the end and its result is
/// weighed once it exists.
pub(crate) fn collect_plan(lf: LazyFrame, engine: Engine, budget: u64, cancel: &CancelToken) -> Result<DataFrame, CoreError> {
    let lf = crate::read_back::nearest_rows(lf);
    match engine {
        Engine::InMemory => collect_in_memory(lf, budget, cancel),
        _ => collect_batches(lf, budget, cancel),
    }
}

fn over_budget(bytes: u64, budget: u64) -> CoreError {
    CoreError::ResourceExhausted(format!(
        "the result passed {bytes} bytes, more than the {budget} bytes of your share of the server's memory budget; \
         Fetch it instead (it streams), or aggregate it further"
    ))
}

#[derive(Default)]
struct Gathered {
    batches: Vec<DataFrame>,
    bytes: u64,
    stopped: Option<CoreError>,
}

fn collect_batches(lf: LazyFrame, budget: u64, cancel: &CancelToken) -> Result<DataFrame, CoreError> {
    let schema = lf.clone().collect_schema()?;
    let gathered = Arc::new(Mutex::new(Gathered::default()));
    let (sink, token) = (gathered.clone(), cancel.clone());
    let callback = PlanCallback::new(move |df: DataFrame| {
        let mut g = sink.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = token.check() {
            g.stopped = Some(e);
            return Ok(true);
        }
        g.bytes += df.estimated_size() as u64;
        if g.bytes > budget {
            g.stopped = Some(over_budget(g.bytes, budget));
            return Ok(true);
        }
        g.batches.push(df);
        Ok(false)
    });
    stoppable(cancel, || Ok(lf.sink_batches(callback, true, None)?.collect_with_engine(Engine::Streaming)?))?;
    let mut g = gathered.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(stopped) = g.stopped.take() {
        return Err(stopped);
    }
    let mut out = DataFrame::empty_with_schema(&schema);
    for batch in g.batches.drain(..) {
        // Same schema in every batch: appending moves the chunks.
        let batch = conformed(&batch, &schema)?.into_owned();
        out.vstack_mut_owned_unchecked(batch);
    }
    Ok(out)
}

/// `df` in `schema`, the one its plan declared: a column of another type
/// is cast to it, strictly. polars' optimizer can fold an expression to
/// another type than the plan's schema says (`pl.lit(2147483647) +
/// pl.lit(1)`: Int32 in the schema, an Int64 once folded), and a reader
/// must never take one type's buffers for another's: an Arrow stream's
/// schema goes out before its first batch, and batches are stacked
/// unchecked. A value that does not fit is an error naming the column.
pub(crate) fn conformed<'a>(df: &'a DataFrame, schema: &Schema) -> Result<Cow<'a, DataFrame>, CoreError> {
    if df.width() != schema.len() {
        return Err(CoreError::Internal(format!(
            "a batch of {} columns in a result of {} ({:?})",
            df.width(),
            schema.len(),
            schema.iter_names().collect::<Vec<_>>()
        )));
    }
    let same = |(c, dtype): (&Column, &DataType)| c.dtype() == dtype;
    if df.columns().iter().zip(schema.iter_values()).all(same) {
        return Ok(Cow::Borrowed(df));
    }
    let mut columns = Vec::with_capacity(df.width());
    for (column, (name, dtype)) in df.columns().iter().zip(schema.iter()) {
        let column = if column.dtype() == dtype {
            column.clone()
        } else if dtype.is_null() && column.null_count() == column.len() {
            // Planned as Null (`lit(NULL) / x`), answered as nulls of x's type.
            Column::full_null(name.clone(), column.len(), dtype)
        } else {
            // Categoricals sent as text are expected; any other difference
            // is polars' plan and answer disagreeing, worth an operator's eye.
            if crate::ipc::categoricals_as_text(column.dtype()).as_ref() != Some(dtype) {
                tracing::warn!(column = %name, planned = %dtype, answered = %column.dtype(),
                    "a result column's type differs from its plan's schema; sent in the schema's");
            }
            column.strict_cast(dtype).map_err(|e| {
                CoreError::Internal(format!(
                    "column '{name}' came out as {} where the plan's schema says {dtype}, and does not fit it: {e}",
                    column.dtype()
                ))
            })?
        };
        columns.push(column.with_name(name.clone()));
    }
    Ok(Cow::Owned(DataFrame::new(df.height(), columns)?))
}

/// polars' in-memory engine has no cancellation we can use safely
/// (`collect_concurrently` runs the query as a rayon job, where a panic
/// aborts the process), so it runs here to the end and is weighed after.
fn collect_in_memory(lf: LazyFrame, budget: u64, cancel: &CancelToken) -> Result<DataFrame, CoreError> {
    cancel.check()?;
    let df = lf.collect_with_engine(Engine::InMemory)?.unwrap_single();
    let bytes = df.estimated_size() as u64;
    if bytes > budget {
        return Err(over_budget(bytes, budget));
    }
    Ok(df)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Patch 0019: polars' order simplifier left a ternary's mask out of the
    /// order of its output, so a select of `when(mask).then(lit).otherwise(lit)`
    /// alone told the batch sink its rows had no order, and they came back in
    /// the order the morsels finished (a third of runs, two cores). The oracle
    /// is the in-memory engine over a DataFrame, which neither sinks batches
    /// nor scans.
    #[test]
    fn a_when_then_of_literals_keeps_its_rows_in_order() {
        // Sizes from a xorshift: no order in them for a wrong answer to hide in.
        let mut x = 88172645463325252u64;
        let sizes: Vec<i64> = (0..112_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 1000) as i64
            })
            .collect();
        let df = df!("size" => sizes).unwrap();
        let shapes = [
            when(col("size").lt(lit(100))).then(lit("s")).when(col("size").lt(lit(300))).then(lit("m")).otherwise(lit("l")),
            when(col("size").lt(lit(100))).then(lit("s")).otherwise(lit("l")),
            when(col("size").lt(lit(100))).then(lit(1)).when(col("size").lt(lit(300))).then(lit(2)).otherwise(lit(3)),
            when(col("size").gt(col("size").mean().over([col("size") % lit(3)]).unwrap())).then(lit("hi")).otherwise(lit("lo")),
            when(col("size").lt(lit(100))).then(lit(NULL).cast(DataType::String)).otherwise(lit("x")),
            when(col("size").is_null()).then(lit(NULL).cast(DataType::String)).otherwise(lit("x")),
        ];
        // The same rows from a parquet file of several row groups too: there
        // polars' own collect was wrong as well (unpatched, the scan's row
        // groups came back in any order), so the oracle is the eager frame.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sizes.parquet");
        let mut with_nulls = df
            .clone()
            .lazy()
            .with_column(when(col("size").eq(lit(7))).then(lit(NULL)).otherwise(col("size")).alias("size"))
            .collect()
            .unwrap();
        let mut file = std::fs::File::create(&path).unwrap();
        ParquetWriter::new(&mut file).with_row_group_size(Some(20_000)).finish(&mut with_nulls).unwrap();
        let scan = LazyFrame::scan_parquet(PlRefPath::new(path.to_string_lossy().as_ref()), Default::default()).unwrap();
        let sources = [(df.clone(), df.clone().lazy()), (with_nulls, scan)];
        for ((eager, source), shape) in sources.iter().flat_map(|s| shapes.iter().map(move |e| (s, e))) {
            let lf = source.clone().select([shape.clone().alias("b")]);
            let want = eager.clone().lazy().select([shape.clone().alias("b")]);
            let want = want.collect_with_engine(Engine::InMemory).unwrap().unwrap_single();
            for run in 0..20 {
                let got = collect_batches(lf.clone(), u64::MAX, &CancelToken::default()).unwrap();
                assert!(got.equals_missing(&want), "run {run} of {:?}: rows out of order", lf.describe_optimized_plan());
            }
        }
    }

    /// A batch whose column came out of another type than the plan's schema
    /// (polars' optimizer folding a literal wider than the schema said) is
    /// sent in the schema's type where its values fit, and refused by name
    /// where they do not: never one type's buffer as another's.
    #[test]
    fn batches_are_conformed_to_the_declared_schema() {
        let declared = Schema::from_iter([Field::new("id".into(), DataType::Int64), Field::new("c".into(), DataType::Int32)]);
        let fits = df!("id" => [1i64, 2], "c" => [7i64, -3]).unwrap();
        let sent = conformed(&fits, &declared).unwrap();
        assert_eq!(sent.schema().as_ref(), &declared);
        assert_eq!(sent.column("c").unwrap().i32().unwrap().to_vec(), vec![Some(7), Some(-3)]);
        let same = df!("id" => [1i64], "c" => [7i32]).unwrap();
        assert!(matches!(conformed(&same, &declared).unwrap(), Cow::Borrowed(_)), "nothing to cast: no copy");
        let too_wide = df!("id" => [1i64], "c" => [10_000_000_000i64]).unwrap();
        let err = conformed(&too_wide, &declared).unwrap_err().to_string();
        assert!(err.contains("column 'c' came out as i64 where the plan's schema says i32"), "{err}");
        let narrower = df!("id" => [1i64]).unwrap();
        assert!(conformed(&narrower, &declared).is_err());
    }

    /// Property: a plan's schema is its answer's, over arithmetic of every
    /// numeric type with columns and literals (patches 0093–0098 fixed the
    /// disagreements it and the server scan found; `conformed` would cast
    /// or refuse them).
    /// Literal nulls are left out: polars still types `lit(NULL) / x` as
    /// Null and answers a column of nulls of x's type.
    #[test]
    fn plans_schemas_agree_with_their_answers() {
        let df = df!(
            "i8" => [1i8, -2, 100], "i32" => [1i32, -2, 2_147_483_647], "u8" => [1u8, 2, 255],
            "u32" => [1u32, 2, 7], "i64" => [1i64, -2, 9], "f32" => [1.5f32, -2.5, 3.0], "f64" => [1.5f64, -2.5, 3.0],
            "b" => [true, false, true],
        )
        .unwrap()
        .lazy()
        .with_column(col("f64").cast(DataType::Decimal(10, 2)).alias("dec"));
        let columns = ["i8", "i32", "u8", "u32", "i64", "f32", "f64", "b", "dec"];
        let literals = || [lit(1i64), lit(3_000_000_000i64), lit(-1i64), lit(2.5f64), lit(true)];
        let ops: [fn(Expr, Expr) -> Expr; 7] = [
            |a, b| a + b, |a, b| a - b, |a, b| a * b, |a, b| a / b, |a, b| a.floor_div(b), |a, b| a % b, |a, b| a.and(b),
        ];
        let mut exprs = Vec::new();
        for c in columns {
            for op in ops {
                for l in literals() {
                    exprs.push(op(col(c), l.clone()));
                    exprs.push(op(l, col(c)));
                }
                exprs.extend(columns.iter().map(|c2| op(col(c), col(*c2))));
            }
            exprs.push(col(c).shift_and_fill(lit(1i64), lit(3_000_000_000i64)));
            exprs.push(col(c).cum_sum(false));
            exprs.push(when(col(c).is_null()).then(lit(3_000_000_000i64)).otherwise(col(c)));
        }
        exprs.push(lit(24i64) * lit(60i64) * lit(60i64) * lit(1000i64) * lit(1000i64));
        exprs.push(when(col("b")).then(lit(1i64)).otherwise(lit(3_000_000_000i64)));
        let mut disagree = Vec::new();
        for e in exprs {
            let lf = df.clone().select([e.clone().alias("x")]);
            let Ok(planned) = lf.clone().collect_schema() else { continue };
            // The streaming engine's own answer, as the server runs it (not conformed).
            // (A few panic in polars' kernels, `2.5 // col(bool)`; the server turns those into errors.)
            let run = std::panic::catch_unwind(AssertUnwindSafe(|| lf.collect_with_engine(Engine::Streaming)));
            let Ok(Ok(answer)) = run.map(|r| r.map(|a| a.unwrap_single())) else { continue };
            let answered = answer.column("x").unwrap().dtype().clone();
            if planned.get("x") != Some(&answered) {
                disagree.push(format!("{e:?}: planned {:?}, answered {answered:?}", planned.get("x")));
            }
        }
        assert!(disagree.is_empty(), "{} plans disagree with their answers:\n{}", disagree.len(), disagree.join("\n"));
    }
}
