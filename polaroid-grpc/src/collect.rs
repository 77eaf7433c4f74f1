//! Running a plan to a materialized frame, in bounded memory and stoppable:
//! the result is checked against the memory budget as it is built, and work
//! whose client went away stops between batches.

use std::sync::{Arc, Mutex};

use polars::prelude::*;
use polars_plan::dsl::DslPlan;

use crate::error::ServiceError;
use crate::plan_walk::walk;
use crate::slots::CancelToken;

/// The error a cancellation check raises inside polars.
const STOPPED: &str = "polaroid: the query's client went away";

/// Put a check of `cancel` right above every source and every join of `lf`
/// (a streamable identity map that predicates and projections pass through),
/// so the query stops at the next morsel that flows once the token fires,
/// whatever it outputs. polars' streaming engine has no cancellation of its
/// own; an aggregation emits nothing until it is done, so checks between
/// output batches alone might never run, and a join (a cross join above all)
/// can produce for minutes after its inputs are read.
pub(crate) fn cancellable(lf: LazyFrame, cancel: &CancelToken) -> Result<LazyFrame, ServiceError> {
    let opt_state = lf.get_current_optimizations();
    let mut plan = lf.logical_plan;
    let through = OptFlags::STREAMING | OptFlags::PREDICATE_PUSHDOWN | OptFlags::PROJECTION_PUSHDOWN;
    walk(&mut plan, &mut |node| {
        if matches!(node, DslPlan::Scan { .. } | DslPlan::DataFrameScan { .. } | DslPlan::Join { .. }) {
            let token = cancel.clone();
            let check = move |df: DataFrame| {
                if token.is_cancelled() {
                    polars_bail!(ComputeError: "{STOPPED}");
                }
                Ok(df)
            };
            let source = LazyFrame::from(std::mem::take(node));
            *node = source.map(check, through, None, Some("cancel_check")).logical_plan;
        }
        Ok(())
    })?;
    Ok(LazyFrame::from_logical_plan(plan, opt_state))
}

/// A polars error from a stopped query becomes CANCELLED.
pub(crate) fn stopped_or(err: PolarsError, cancel: &CancelToken) -> ServiceError {
    if cancel.is_cancelled() && err.to_string().contains(STOPPED) {
        ServiceError::Cancelled("the client went away; the query was stopped".into())
    } else {
        ServiceError::Polars(err)
    }
}

/// Run `lf` on `engine` into one frame of at most `budget` bytes.
///
/// The streaming engine (and `Auto`) delivers batches: each is counted as it
/// arrives, and the query stops as soon as the total passes the budget or
/// the token fires. The in-memory engine runs to the end and its result is
/// weighed once it exists.
pub(crate) fn collect_plan(lf: LazyFrame, engine: Engine, budget: u64, cancel: &CancelToken) -> Result<DataFrame, ServiceError> {
    match engine {
        Engine::InMemory => collect_in_memory(lf, budget, cancel),
        _ => collect_batches(lf, budget, cancel),
    }
}

fn over_budget(bytes: u64, budget: u64) -> ServiceError {
    ServiceError::ResourceExhausted(format!(
        "the result passed {bytes} bytes, more than the {budget} bytes of your share of the server's memory budget; \
         Fetch it instead (it streams), or aggregate it further"
    ))
}

#[derive(Default)]
struct Gathered {
    batches: Vec<DataFrame>,
    bytes: u64,
    stopped: Option<ServiceError>,
}

fn collect_batches(lf: LazyFrame, budget: u64, cancel: &CancelToken) -> Result<DataFrame, ServiceError> {
    let schema = lf.clone().collect_schema()?;
    let lf = cancellable(lf, cancel)?;
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
    let ran = lf.sink_batches(callback, true, None)?.collect_with_engine(Engine::Streaming);
    ran.map_err(|e| stopped_or(e, cancel))?;
    let mut g = gathered.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(stopped) = g.stopped.take() {
        return Err(stopped);
    }
    let mut out = DataFrame::empty_with_schema(&schema);
    for batch in g.batches.drain(..) {
        // Same schema in every batch: appending moves the chunks.
        out.vstack_mut_owned_unchecked(batch);
    }
    Ok(out)
}

/// polars' in-memory engine has no cancellation we can use safely
/// (`collect_concurrently` runs the query as a rayon job, where a panic
/// aborts the process), so it runs here to the end and is weighed after.
fn collect_in_memory(lf: LazyFrame, budget: u64, cancel: &CancelToken) -> Result<DataFrame, ServiceError> {
    cancel.check()?;
    let df = lf.collect_with_engine(Engine::InMemory)?.unwrap_single();
    let bytes = df.estimated_size() as u64;
    if bytes > budget {
        return Err(over_budget(bytes, budget));
    }
    Ok(df)
}
