//! Catalog relations that have no rows here: tables have no policies,
//! parents, triggers, constraints, rules, publications, extended
//! statistics, indexes (nor operator classes for them), comments,
//! defaults or extensions. A catalog query that must
//! read a row of one of them to answer any row answers no rows, with its
//! columns named as PostgreSQL names them, and is not planned.
//!
//! Such queries are where tools use PostgreSQL's own machinery (psql's
//! `\d` reads policies through `array(select ...)` and `= any(array)`,
//! publications through `pg_get_publication_tables`), which polars-sql
//! cannot read and which would compute nothing here.
//!
//! A query qualifies only when its answer is empty whatever the rest of it
//! says: each branch of a UNION, and in a SELECT that does not aggregate
//! its whole input (which answers a row over none), a FROM item whose base
//! relation is empty (joins from it inner or left) or that inner-joins an
//! empty relation; a subquery in FROM is empty by the same rules.

use sqlparser::ast::{
    visit_expressions_mut, Expr, GroupByExpr, JoinOperator, OrderBy, OrderByKind, Query, Select, SelectItem, SetExpr, SetOperator, Statement,
    TableFactor, Value, Visit, VisitMut, Visitor, VisitorMut,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use std::ops::ControlFlow;

/// The catalog relations that are empty here.
const EMPTY: [&str; 23] = [
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
    // Operator classes are an index's: there are none to name.
    "pg_opclass",
    "pg_description",
    "pg_attrdef",
    "pg_collation",
    // QuestDB's functions are not catalog entries: none is listed.
    "pg_proc",
    // No type here is an enum.
    "pg_enum",
    // No extension is installed (Grafana looks for TimescaleDB's).
    "pg_extension",
    // The one role is a member of none.
    "pg_auth_members",
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

/// `sql` with what it reads of empty relations made plain, `None` when it
/// reads nothing of them:
/// - `ARRAY(subquery)` of one is the empty array;
/// - a scalar subquery that must read a row of one is NULL, its value
///   (SQLAlchemy reads identity and collation so: `json_build_object` over
///   `pg_sequence`, `pg_collation`);
/// - a LEFT JOIN of one (or of a subquery whose answer is empty) is
///   dropped, and its qualified columns are NULL, as the join leaves them
///   (SQLAlchemy's table options join the parents grouped from
///   `pg_inherits`).
pub fn simplify(sql: &str) -> Option<String> {
    if !mentions_empty(sql) {
        return None;
    }
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
    let mut dropper = LeftJoins { dropped: Vec::new() };
    let _ = VisitMut::visit(&mut statements, &mut dropper);
    let dropped = dropper.dropped;
    let mut replaced = !dropped.is_empty();
    if replaced {
        // A dropped column keeps its name in the SELECT list.
        let _ = VisitMut::visit(&mut statements, &mut KeepNames { dropped: &dropped });
    }
    let _ = visit_expressions_mut(&mut statements, |expr| {
        // `ARRAY(subquery)` of no rows is the empty array (psql's `\du`
        // lists a role's memberships so).
        if let Expr::Function(f) = expr {
            let array = f.name.to_string().eq_ignore_ascii_case("array");
            if array && matches!(&f.args, sqlparser::ast::FunctionArguments::Subquery(query) if empty_query(query)) {
                *expr = Expr::Array(sqlparser::ast::Array { elem: Vec::new(), named: true });
                replaced = true;
                return ControlFlow::Continue(());
            }
        }
        let null = match expr {
            Expr::Subquery(query) => empty_query(query),
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let qualifier = parts[parts.len() - 2].value.to_ascii_lowercase();
                dropped.contains(&qualifier)
            },
            _ => false,
        };
        if null {
            *expr = Expr::Value(Value::Null.into());
            replaced = true;
        }
        ControlFlow::<()>::Continue(())
    });
    if replaced {
        // Ordering by a NULL orders nothing (and polars-sql refuses it).
        let _ = VisitMut::visit(&mut statements, &mut NullOrders);
    }
    let [statement] = statements.as_slice() else { return None };
    replaced.then(|| statement.to_string())
}

/// Drops the ORDER BY keys that are NULL.
struct NullOrders;

impl VisitorMut for NullOrders {
    type Break = ();

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let Some(OrderBy { kind: OrderByKind::Expressions(keys), .. }) = &mut query.order_by {
            keys.retain(|key| !matches!(&key.expr, Expr::Value(v) if v.value == Value::Null));
            if keys.is_empty() {
                query.order_by = None;
            }
        }
        ControlFlow::Continue(())
    }
}

/// Names each column of a dropped relation in a SELECT list by its own
/// name, which it keeps once it is NULL.
struct KeepNames<'a> {
    dropped: &'a [String],
}

impl VisitorMut for KeepNames<'_> {
    type Break = ();

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        for item in &mut select.projection {
            if let SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) = item {
                let qualifier = parts.len().checked_sub(2).map(|i| parts[i].value.to_ascii_lowercase());
                if let (Some(qualifier), Some(name)) = (qualifier, parts.last().cloned()) {
                    if self.dropped.contains(&qualifier) {
                        let expr = Expr::CompoundIdentifier(std::mem::take(parts));
                        *item = SelectItem::ExprWithAlias { expr, alias: name };
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// Drops each LEFT JOIN of an empty relation, keeping the name its columns
/// are qualified by (its alias, else its own name).
struct LeftJoins {
    dropped: Vec<String>,
}

impl VisitorMut for LeftJoins {
    type Break = ();

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        for item in &mut select.from {
            item.joins.retain(|join| {
                let left = matches!(join.join_operator, JoinOperator::Left(_) | JoinOperator::LeftOuter(_));
                if !(left && is_empty(&join.relation)) {
                    return true;
                }
                let name = match &join.relation {
                    TableFactor::Table { alias: Some(alias), .. } | TableFactor::Derived { alias: Some(alias), .. } => {
                        Some(alias.name.value.clone())
                    },
                    TableFactor::Table { name, .. } => name.0.last().and_then(|p| p.as_ident()).map(|i| i.value.clone()),
                    _ => None,
                };
                match name {
                    Some(name) => {
                        self.dropped.push(name.to_ascii_lowercase());
                        false
                    },
                    None => true,
                }
            });
        }
        ControlFlow::Continue(())
    }
}

fn mentions_empty(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    EMPTY.iter().any(|relation| lower.contains(relation))
}

/// The columns of `sql`'s answer, when it is a query whose answer has no
/// rows because it must read a row of an empty relation; `None` otherwise
/// (also when its columns cannot be named without planning it: `*`).
pub fn columns(sql: &str) -> Option<Vec<String>> {
    if !mentions_empty(sql) {
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
    // Aggregates without GROUP BY answer one row over no rows; groups of
    // no rows are none.
    let ungrouped = matches!(&select.group_by, GroupByExpr::Expressions(keys, _) if keys.is_empty());
    if ungrouped && (select.having.is_some() || aggregates(&select.projection)) {
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

/// Whether a FROM relation is one of the empty catalog relations, or a
/// subquery whose answer is empty.
fn is_empty(relation: &TableFactor) -> bool {
    match relation {
        TableFactor::Derived { subquery, .. } => empty_query(subquery),
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
    use super::{columns, simplify};

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
        // SQLAlchemy's primary keys: groups of the rows of a subquery that
        // inner-joins pg_constraint's.
        let keys = "SELECT attr.conrelid, array_agg(CAST(attr.attname AS TEXT) ORDER BY attr.ord) AS cols, attr.conname \
            FROM (SELECT con.conrelid AS conrelid, con.conname AS conname, con.ord AS ord, pg_attribute.attname AS attname \
            FROM pg_attribute JOIN (SELECT conrelid, conname, unnest(conkey) AS attnum, generate_subscripts(conkey, 1) AS ord \
            FROM pg_constraint WHERE contype = 'p') AS con ON pg_attribute.attnum = con.attnum) AS attr \
            GROUP BY attr.conrelid, attr.conname ORDER BY attr.conrelid";
        assert_eq!(columns(keys).unwrap(), ["conrelid", "cols", "conname"]);
    }

    #[test]
    fn what_a_query_reads_of_empty_relations_is_null() {
        // SQLAlchemy's table options: the parents grouped from pg_inherits
        // are left joined; its columns are null.
        let options = "SELECT c.relname, inherits.parent_table_names FROM pg_class AS c LEFT OUTER JOIN \
            (SELECT i.inhrelid AS inhrelid, array_agg(p.relname) AS parent_table_names FROM pg_inherits AS i \
            JOIN pg_class AS p ON i.inhparent = p.oid GROUP BY i.inhrelid) AS inherits ON c.oid = inherits.inhrelid \
            LEFT JOIN pg_constraint ON pg_constraint.conrelid = c.oid WHERE c.relkind = 'r' \
            ORDER BY c.relname, pg_constraint.conname";
        assert_eq!(
            simplify(options).unwrap(),
            "SELECT c.relname, NULL AS parent_table_names FROM pg_class AS c WHERE c.relkind = 'r' ORDER BY c.relname"
        );
        // A scalar subquery over an empty relation is null; one over a
        // relation with rows is kept.
        let identity = "SELECT a.attname, (SELECT json_build_object('start', s.seqstart) FROM pg_sequence AS s \
            WHERE s.seqrelid = a.attrelid) AS identity, (SELECT t.typname FROM pg_type AS t WHERE t.oid = a.atttypid) \
            FROM pg_attribute AS a";
        assert_eq!(
            simplify(identity).unwrap(),
            "SELECT a.attname, NULL AS identity, (SELECT t.typname FROM pg_type AS t WHERE t.oid = a.atttypid) FROM pg_attribute AS a"
        );
        // An inner join of one empties the query: nothing to simplify here
        // (`columns` answers it), and a query without them is left alone.
        assert_eq!(simplify("SELECT c.relname FROM pg_class AS c JOIN pg_attribute AS a ON a.attrelid = c.oid"), None);
    }

    #[test]
    fn a_query_that_may_answer_rows_is_planned() {
        for sql in [
            // Its base relation has rows, and the empty one is left joined.
            "SELECT c.relname FROM pg_class c LEFT JOIN pg_description d ON d.objoid = c.oid",
            // An aggregate answers a row over no rows.
            "SELECT count(*) FROM pg_policy",
            "SELECT 1 AS one FROM pg_policy HAVING true",
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
