//! One walk over a polars plan (`DslPlan`), for everything that must see
//! every node: the sandbox (sources and sinks) and the cancellation checks
//! put above each source.
//!
//! [`walk`] visits every node after its inputs (post-order), including the
//! plans hidden in expressions (SQL `IN (SELECT ...)` and scalar subqueries
//! are `Expr::SubPlan`), and replaces already-converted IR nodes by the plan
//! they came from, so what runs afterwards is what was visited. A
//! [`PlanVisitor`] may also look at every expression node of every plan node
//! (the shipped-plan check refuses opaque functions that way).

use std::sync::Arc;

use polars::prelude::PolarsError;
use polars_plan::dsl::{DslPlan, Expr, SpecialEq};
use polars_plan::plans::{DslFunction, StatsFunction};

use crate::error::CoreError;

/// What a walk does at each plan node (which it may rewrite) and at each
/// expression node (read only). A closure over `&mut DslPlan` visits nodes.
pub(crate) trait PlanVisitor {
    fn node(&mut self, plan: &mut DslPlan) -> Result<(), CoreError>;

    fn expr(&mut self, _expr: &Expr) -> Result<(), CoreError> {
        Ok(())
    }
}

impl<F: FnMut(&mut DslPlan) -> Result<(), CoreError>> PlanVisitor for F {
    fn node(&mut self, plan: &mut DslPlan) -> Result<(), CoreError> {
        self(plan)
    }
}

type Visit<'a> = dyn PlanVisitor + 'a;

/// Call `visit` on every node of `plan`, inputs first; the first error
/// stops the walk. `visit` may rewrite the node it is given.
pub(crate) fn walk(plan: &mut DslPlan, visit: &mut Visit<'_>) -> Result<(), CoreError> {
    walk_node(plan, visit)
}

fn walk_arc(plan: &mut Arc<DslPlan>, visit: &mut Visit<'_>) -> Result<(), CoreError> {
    walk_node(Arc::make_mut(plan), visit)
}

fn walk_all(plans: &mut [DslPlan], visit: &mut Visit<'_>) -> Result<(), CoreError> {
    plans.iter_mut().try_for_each(|p| walk_node(p, visit))
}

fn walk_exprs(exprs: &mut [Expr], visit: &mut Visit<'_>) -> Result<(), CoreError> {
    exprs.iter_mut().try_for_each(|e| walk_expr(e, visit))
}

// The match is exhaustive on purpose: a plan node that a new polars release
// adds does not compile until someone decides how to walk it.
#[recursive::recursive]
fn walk_node(plan: &mut DslPlan, visit: &mut Visit<'_>) -> Result<(), CoreError> {
    match plan {
        DslPlan::Scan { .. } | DslPlan::DataFrameScan { .. } => {},
        DslPlan::Filter { input, predicate } => {
            walk_arc(input, visit)?;
            walk_expr(predicate, visit)?;
        },
        DslPlan::Cache { input, .. }
        | DslPlan::MatchToSchema { input, .. }
        | DslPlan::Distinct { input, .. }
        | DslPlan::Slice { input, .. }
        | DslPlan::Sink { input, .. } => walk_arc(input, visit)?,
        DslPlan::Select { expr, input, .. } => {
            walk_arc(input, visit)?;
            walk_exprs(expr, visit)?;
        },
        DslPlan::Pivot { input, agg, .. } => {
            walk_arc(input, visit)?;
            walk_expr(agg, visit)?;
        },
        DslPlan::GroupBy { input, keys, predicates, aggs, .. } => {
            walk_arc(input, visit)?;
            walk_exprs(keys, visit)?;
            walk_exprs(predicates, visit)?;
            walk_exprs(aggs, visit)?;
        },
        DslPlan::Join { input_left, input_right, left_on, right_on, predicates, .. } => {
            walk_arc(input_left, visit)?;
            walk_arc(input_right, visit)?;
            walk_exprs(left_on, visit)?;
            walk_exprs(right_on, visit)?;
            walk_exprs(predicates, visit)?;
        },
        DslPlan::Gather { input, idxs, .. } => {
            walk_arc(input, visit)?;
            walk_arc(idxs, visit)?;
        },
        DslPlan::HStack { input, exprs, .. } => {
            walk_arc(input, visit)?;
            walk_exprs(exprs, visit)?;
        },
        DslPlan::PipeWithSchema { input, .. } => walk_all(Arc::make_mut(input), visit)?,
        DslPlan::Sort { input, by_column, .. } => {
            walk_arc(input, visit)?;
            walk_exprs(by_column, visit)?;
        },
        DslPlan::MapFunction { input, function } => {
            walk_arc(input, visit)?;
            match function {
                DslFunction::FillNan(e) => walk_expr(e, visit)?,
                DslFunction::Stats(StatsFunction::Quantile { quantile, .. }) => walk_expr(quantile, visit)?,
                DslFunction::RowIndex { .. }
                | DslFunction::Explode { .. }
                | DslFunction::Rename { .. }
                | DslFunction::Unnest { .. }
                | DslFunction::Unpivot { .. }
                | DslFunction::Stats(_)
                | DslFunction::FunctionIR(_)
                | DslFunction::Hint(_) => {},
            }
        },
        DslPlan::Union { inputs, .. } | DslPlan::HConcat { inputs, .. } | DslPlan::SinkMultiple { inputs } => {
            walk_all(inputs, visit)?
        },
        DslPlan::MergeSorted { input_left, input_right, .. } => {
            walk_arc(input_left, visit)?;
            walk_arc(input_right, visit)?;
        },
        DslPlan::ExtContext { input, contexts } => {
            walk_arc(input, visit)?;
            walk_all(contexts, visit)?;
        },
        DslPlan::IR { dsl, .. } => {
            // Converted IR lives in an arena this walk cannot see; go back to
            // the plan it came from, and walk that instead.
            let mut original = dsl.as_ref().clone();
            walk_node(&mut original, visit)?;
            *plan = original;
            return Ok(()); // `original` was visited already
        },
    }
    visit.node(plan)
}

/// Show the visitor every node of `expr`, then walk (and rewrite in place)
/// the subplans hidden inside it.
fn walk_expr(expr: &mut Expr, visit: &mut Visit<'_>) -> Result<(), CoreError> {
    (&*expr).into_iter().try_for_each(|e| visit.expr(e))?;
    if !(&*expr).into_iter().any(|e| matches!(e, Expr::SubPlan(..))) {
        return Ok(());
    }
    let mut failure = None;
    let rewritten = expr.clone().try_map_expr(|e| match e {
        Expr::SubPlan(plan, names) => {
            let mut plan: Arc<DslPlan> = Arc::clone(&plan);
            match walk_arc(&mut plan, visit) {
                Ok(()) => Ok(Expr::SubPlan(SpecialEq::new(plan), names)),
                Err(e) => {
                    let message = e.to_string();
                    failure = Some(e);
                    Err(PolarsError::ComputeError(message.into()))
                },
            }
        },
        other => Ok(other),
    });
    match (rewritten, failure) {
        (_, Some(failure)) => Err(failure),
        (Ok(e), None) => {
            *expr = e;
            Ok(())
        },
        (Err(e), None) => Err(e.into()),
    }
}
