//! Catalog relations that have no rows here: tables have no policies,
//! parents, triggers, constraints, rules, publications, extended
//! statistics, indexes, comments or defaults. A catalog query that must
//! read a row of one of them to answer any row answers no rows, with its
//! columns named as PostgreSQL names them, and is not planned.
//!
//! Such queries are where tools use PostgreSQL's own machinery (psql's
//! `\d` reads policies through `array(select ...)` and `= any(array)`,
//! publications through `pg_get_publication_tables`), which polars-sql
//! cannot read and which would compute nothing here.
//!
//! A query qualifies only when its answer is empty whatever the rest of it
//! says: each branch of a UNION, and in a SELECT without grouping or
//! aggregates, a FROM item whose base relation is empty (joins from it
//! inner or left) or that inner-joins an empty relation.

use sqlparser::ast::{
    Expr, GroupByExpr, JoinOperator, Query, Select, SelectItem, SetExpr, SetOperator, Statement, TableFactor, Visit, Visitor,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use std::ops::ControlFlow;

/// The catalog relations that are empty here.
const EMPTY: [&str; 18] = [
    "pg_policy",
    "pg_inherits",
    "pg_trigger",
    "pg_constraint",
    "pg_rewrite",
    "pg_publication",
    "pg_publication_rel",
    "pg_publication_namespace",
    "pg_statistic_ext",
    "pg_statistic_ext_data",
    "pg_partitioned_table",
    "pg_foreign_table",
    "pg_sequence",
    "pg_event_trigger",
    "pg_index",
    "pg_description",
    "pg_attrdef",
    "pg_collation",
];

/// Aggregates, which answer a row even over no rows.
const AGGREGATES: [&str; 14] = [
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "jsonb_object_agg",
];

/// The columns of `sql`'s answer, when it is a query whose answer has no
/// rows because it must read a row of an empty relation; `None` otherwise
/// (also when its columns cannot be named without planning it: `*`).
pub fn columns(sql: &str) -> Option<Vec<String>> {
    let lower = sql.to_ascii_lowercase();
    if !EMPTY.iter().any(|relation| lower.contains(relation)) {
        return None;
    }
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
    let [Statement::Query(query)] = statements.as_slice() else { return None };
    if !empty_query(query) {
        return None;
    }
    names(&query.body)
}

fn empty_query(query: &Query) -> bool {
    query.with.is_none() && empty_set(&query.body)
}

fn empty_set(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(select) => empty_select(select),
        SetExpr::Query(query) => empty_query(query),
        SetExpr::SetOperation { op, left, right, .. } => match op {
            SetOperator::Union => empty_set(left) && empty_set(right),
            SetOperator::Intersect => empty_set(left) || empty_set(right),
            SetOperator::Except | SetOperator::Minus => empty_set(left),
        },
        _ => false,
    }
}

fn empty_select(select: &Select) -> bool {
    let grouped = !matches!(&select.group_by, GroupByExpr::Expressions(keys, _) if keys.is_empty()) || select.having.is_some();
    if grouped || aggregates(&select.projection) {
        return false;
    }
    // Items of the FROM list are cross joined: one empty item empties all.
    select.from.iter().any(|item| {
        item.joins.iter().fold(is_empty(&item.relation), |empty, join| match &join.join_operator {
            JoinOperator::Join(_)
            | JoinOperator::Inner(_)
            | JoinOperator::CrossJoin(_)
            | JoinOperator::Semi(_)
            | JoinOperator::LeftSemi(_) => empty || is_empty(&join.relation),
            JoinOperator::Left(_) | JoinOperator::LeftOuter(_) | JoinOperator::Anti(_) | JoinOperator::LeftAnti(_) => empty,
            // A right or full join has rows of its right side.
            _ => false,
        })
    })
}

/// Whether a FROM relation is one of the empty catalog relations.
fn is_empty(relation: &TableFactor) -> bool {
    match relation {
        TableFactor::Table { name, args: None, .. } => name
            .0
            .last()
            .and_then(|part| part.as_ident())
            .is_some_and(|ident| EMPTY.contains(&ident.value.to_ascii_lowercase().as_str())),
        _ => false,
    }
}

/// Whether the SELECT list calls an aggregate (not as a window function,
/// nor inside a subquery, which aggregates its own rows).
fn aggregates(projection: &[SelectItem]) -> bool {
    struct Finder {
        found: bool,
        depth: usize,
    }
    impl Visitor for Finder {
        type Break = ();
        fn pre_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
            self.depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            if self.depth > 0 {
                return ControlFlow::Continue(());
            }
            if let Expr::Function(function) = expr {
                let name = function.name.0.last().and_then(|p| p.as_ident()).map(|i| i.value.to_ascii_lowercase());
                if function.over.is_none() && name.is_some_and(|n| AGGREGATES.contains(&n.as_str())) {
                    self.found = true;
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut finder = Finder { found: false, depth: 0 };
    for item in projection {
        if item.visit(&mut finder).is_break() {
            break;
        }
    }
    finder.found
}

/// The answer's column names, as PostgreSQL names them: an alias, a
/// column's name, a function's name, else `?column?`.
fn names(body: &SetExpr) -> Option<Vec<String>> {
    match body {
        SetExpr::Select(select) => select.projection.iter().map(name_of).collect(),
        SetExpr::Query(query) => names(&query.body),
        SetExpr::SetOperation { left, .. } => names(left),
        _ => None,
    }
}

fn name_of(item: &SelectItem) -> Option<String> {
    let folded = |ident: &sqlparser::ast::Ident| match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_ascii_lowercase(),
    };
    Some(match item {
        SelectItem::ExprWithAlias { alias, .. } => folded(alias),
        SelectItem::UnnamedExpr(expr) => expr_name(expr, &folded),
        _ => return None,
    })
}

fn expr_name(expr: &Expr, folded: &dyn Fn(&sqlparser::ast::Ident) -> String) -> String {
    match expr {
        Expr::Identifier(ident) => folded(ident),
        Expr::CompoundIdentifier(parts) => parts.last().map_or("?column?".into(), folded),
        Expr::Function(function) => function.name.0.last().and_then(|p| p.as_ident()).map_or("?column?".into(), folded),
        Expr::Cast { expr, .. } | Expr::Nested(expr) => expr_name(expr, folded),
        Expr::Case { .. } => "case".into(),
        _ => "?column?".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::columns;

    #[test]
    fn a_query_that_must_read_an_empty_relation_answers_no_rows() {
        // psql's `\d t`: policies, statistics, publications, parents.
        let policies = "SELECT pol.polname, pol.polpermissive, CASE WHEN pol.polroles = '{0}' THEN NULL ELSE \
            pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = any (pol.polroles) order by 1),',') END, \
            pg_catalog.pg_get_expr(pol.polqual, pol.polrelid), CASE pol.polcmd WHEN 'r' THEN 'SELECT' END AS cmd \
            FROM pg_catalog.pg_policy pol WHERE pol.polrelid = '16385' ORDER BY 1";
        assert_eq!(columns(policies).unwrap(), ["polname", "polpermissive", "case", "pg_get_expr", "cmd"]);
        let publications = "SELECT pubname, NULL, NULL FROM pg_catalog.pg_publication p JOIN pg_catalog.pg_namespace n ON \
            p.pubnamespace = n.oid WHERE p.oid = 1 UNION SELECT pubname, pg_get_expr(pr.prqual, c.oid), NULL FROM \
            pg_catalog.pg_publication p JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid ORDER BY 1";
        assert_eq!(columns(publications).unwrap(), ["pubname", "?column?", "?column?"]);
        // An aggregate of a subquery's own rows is not the query's.
        let aggregated = "SELECT pubname, (SELECT string_agg(attname, ', ') FROM pg_attribute WHERE attrelid = pr.prrelid) \
            FROM pg_publication_rel pr";
        assert_eq!(columns(aggregated).unwrap(), ["pubname", "?column?"]);
        let parents = "SELECT c.oid::pg_catalog.regclass FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i \
            WHERE c.oid = i.inhparent AND i.inhrelid = '16385' ORDER BY inhseqno";
        assert_eq!(columns(parents).unwrap(), ["oid"]);
        assert_eq!(columns("SELECT x AS \"Key\" FROM pg_class c JOIN pg_index i ON true").unwrap(), ["Key"]);
    }

    #[test]
    fn a_query_that_may_answer_rows_is_planned() {
        for sql in [
            // Its base relation has rows, and the empty one is left joined.
            "SELECT c.relname FROM pg_class c LEFT JOIN pg_description d ON d.objoid = c.oid",
            // An aggregate answers a row over no rows.
            "SELECT count(*) FROM pg_policy",
            "SELECT polname FROM pg_policy GROUP BY polname",
            // One branch of the union may have rows.
            "SELECT polname FROM pg_policy UNION SELECT relname FROM pg_class",
            // A right join keeps its right side.
            "SELECT c.relname FROM pg_index i RIGHT JOIN pg_class c ON c.oid = i.indrelid",
            // Its columns cannot be named without planning.
            "SELECT * FROM pg_policy",
            "SELECT relname FROM pg_class",
        ] {
            assert_eq!(columns(sql), None, "{sql}");
        }
    }
}
