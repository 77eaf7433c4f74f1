"""Subqueries (patches 0028, 0029, 0032, with their own WITH clause 0072) and HAVING without GROUP BY
(0033) over the server's SQL, against DuckDB.

A comparison with an aggregate over the outer row's own rows (`x > (SELECT AVG(x) FROM t2 WHERE t2.k =
t.k)`) was answered as if uncorrelated: the subquery's `t.k` read the subquery's own `k`. It is now
decorrelated into a join by the correlation keys, and shapes that are not decorrelated are refused.
"""

from __future__ import annotations

import random

import polars as pl
import pytest

import polaroid as pr
from sql_oracle import both_answers, same_rows, unordered

T = pl.DataFrame({"g": ["a", "a", "b", "b", "c", None, "a"], "x": [1, None, 3, 3, 5, 6, 4],
                  "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]})
U = pl.DataFrame({"g": ["a", "b", "d", None, "a", "b"], "z": [10, 20, 30, 40, 50, None]})

BY_INEQUALITIES = [
    # Correlated by an inequality, and IN, ANY/ALL over correlated subqueries (patch 0052): refused before.
    "SELECT g, x FROM t WHERE x > (SELECT AVG(z) / 10 FROM u WHERE u.z > t.x)",
    "SELECT g, x FROM t WHERE g IN (SELECT g FROM u WHERE u.z > t.x * 5)",
    "SELECT g, x FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.g <> t.g)",
    "SELECT g, x, y, (SELECT SUM(x) FROM t t2 WHERE t2.g = t.g AND t2.y <= t.y) AS running FROM t",
    "SELECT g, y, (SELECT COUNT(*) FROM t t2 WHERE t2.g = t.g AND t2.y < t.y) AS earlier FROM t",
    "SELECT g, y, (SELECT z FROM u WHERE u.g = t.g AND u.z >= t.y * 5 ORDER BY u.z LIMIT 1) AS next_z FROM t",
    "SELECT g, y, (SELECT z FROM u WHERE u.z <= t.y * 8 ORDER BY z DESC NULLS LAST LIMIT 1) AS prev_z FROM t",
    "SELECT g, y, (SELECT g FROM u WHERE u.z < t.y * 10 ORDER BY z DESC, g LIMIT 1) AS g_below FROM t",
    "SELECT g, x FROM t WHERE x * 10 >= ALL (SELECT z FROM u WHERE u.g = t.g)",
    "SELECT g, x FROM t WHERE x * 10 < ANY (SELECT z FROM u WHERE u.z <> t.y * 10)",
    "SELECT g, x FROM t WHERE x * 10 NOT IN (SELECT z FROM u WHERE u.z > t.y)",
    "SELECT g, y FROM t WHERE y * 10 IN (SELECT z FROM u WHERE u.g IS NOT DISTINCT FROM t.g)",
    "SELECT g, x, x * 10 IN (SELECT z FROM u WHERE u.g = t.g) AS listed, y * 10 > ALL (SELECT z FROM u WHERE u.z < t.y * 9) AS top FROM t",
    "SELECT g, x FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.g = t.g AND u.z BETWEEN t.y * 5 AND t.y * 10)",
    "SELECT g, x FROM t WHERE y > 6 OR EXISTS (SELECT 1 FROM u WHERE u.z > t.y * 7 LIMIT 1)",
    # A subquery inside the correlated one, reading the correlated one's relation.
    "SELECT g, x FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.g = t.g AND u.z > t.y "
    "AND EXISTS (SELECT 1 FROM t AS t3 WHERE t3.g = u.g AND t3.x > 4))",
    # Seven subqueries, five correlated: its plan's depth overflowed a server thread's stack and aborted
    # the debug server (polars' planner now grows its stack with 1 MiB to spare).
    "SELECT COALESCE((SELECT MAX(y) FROM t t2 WHERE t2.g = t.g AND t2.y < t.y), -99) AS pm, "
    "(SELECT COUNT(*) FROM u WHERE u.z < t.x * 10) AS c1, x * 10 IN (SELECT z FROM u WHERE u.g = t.g) AS inn FROM t "
    "WHERE (EXISTS (SELECT 1 FROM u WHERE u.g = t.g) OR (x NOT IN (SELECT z / 10 FROM u WHERE u.g <> t.g) "
    "AND EXISTS (SELECT 1 FROM u WHERE u.g = t.g AND u.z > t.y)))",
    # The outer query's columns from both sides of its join.
    "SELECT t.g, t.y, u.z FROM t JOIN u ON t.g = u.g WHERE EXISTS (SELECT 1 FROM u AS w WHERE w.g = t.g AND w.z > u.z)",
]

IN_GROUPING_QUERIES = [
    # Outside an aggregate, reading a GROUP BY key: one value per group (patch 0055; refused before).
    "SELECT g, COUNT(*) AS n, (SELECT MAX(z) FROM u WHERE u.g = t.g) AS m FROM t GROUP BY g",
    "SELECT t.g AS grp, COUNT(*) AS n, (SELECT SUM(z) FROM u WHERE u.g = t.g) AS zs FROM t GROUP BY t.g",
    "SELECT g, COUNT(*) AS n, EXISTS (SELECT 1 FROM u WHERE u.g = t.g AND u.z > 30) AS big FROM t GROUP BY g",
    "SELECT g, MAX(y) - (SELECT MIN(z) FROM u WHERE u.g = t.g) / 10 AS d FROM t GROUP BY g",
    # Inside an aggregate: a value per row, any column read.
    "SELECT g, SUM(x * (SELECT MIN(z) FROM u WHERE u.g = t.g)) AS s FROM t GROUP BY g",
    "SELECT g, SUM((SELECT COUNT(*) FROM u WHERE u.z < t.y * 10)) AS n FROM t GROUP BY g",
    "SELECT COUNT(*) AS n, MAX((SELECT MAX(z) FROM u WHERE u.g = t.g)) AS m FROM t",
    # With ROLLUP: a subquery's own column named like a key was NULL in the grand total (u.g = 'a' became
    # NULL = 'a': its value null, a HAVING row lost, silently).
    "SELECT g, SUM(y) AS s, (SELECT MAX(z) FROM u WHERE u.g = 'a') AS m FROM t GROUP BY ROLLUP (g)",
    "SELECT g, SUM(y) AS s FROM t GROUP BY ROLLUP (g) HAVING SUM(y) > (SELECT MAX(z) FROM u WHERE u.g = 'b') / 4",
    # ... and in it the ungrouped key a correlated subquery reads is NULL.
    "SELECT g, SUM(y) AS s, (SELECT MAX(z) FROM u WHERE u.g = t.g) AS m FROM t GROUP BY ROLLUP (g)",
    "SELECT g, x, SUM(y) AS s, x IN (SELECT z / 10 FROM u WHERE u.g = t.g) AS listed FROM t GROUP BY ROLLUP (g, x)",
    "SELECT g, SUM(y * (SELECT MAX(z) FROM u WHERE u.g = t.g)) AS c FROM t GROUP BY ROLLUP (g)",
    # In HAVING.
    "SELECT g, AVG(y) AS a FROM t GROUP BY g HAVING AVG(y) > (SELECT COUNT(*) FROM u WHERE u.g = t.g)",
    "SELECT g FROM t GROUP BY g HAVING NOT EXISTS (SELECT 1 FROM u WHERE u.g = t.g AND u.z < 15)",
]

READING_THE_OUTER_ROW = [
    # The subquery's own SELECT reads the enclosing row (patch 0058; refused before): outside its aggregate
    # one value per row, inside it per pair, and over no rows each aggregate's own (COUNT 0) beside it.
    "SELECT g, x, (SELECT MAX(z) - t.x FROM u WHERE u.g = t.g) AS d FROM t",
    "SELECT g, x, (SELECT COUNT(*) * t.x FROM u WHERE u.g = t.g) AS d FROM t",
    "SELECT g, x, (SELECT SUM(z + t.y) FROM u WHERE u.g = t.g) AS d FROM t",
    "SELECT g, x, (SELECT COALESCE(SUM(z), t.x * 100) FROM u WHERE u.g = t.g) AS d FROM t",
    "SELECT g, x, (SELECT MAX(z * t.y) FROM u WHERE u.z > t.x * 5) AS d FROM t",
    "SELECT g, x, (SELECT z + t.x FROM u WHERE u.g = t.g AND u.z < 15) AS d FROM t",
    "SELECT g, x FROM t WHERE y * 10 > (SELECT MIN(z) + t.x FROM u WHERE u.g = t.g)",
    "SELECT g, SUM((SELECT MAX(z) - t.x FROM u WHERE u.g = t.g)) AS s FROM t GROUP BY g",
    # LIMIT 1 OFFSET n: the row after the first n in the order, none past the last.
    "SELECT g, x, (SELECT z FROM u WHERE u.g = t.g ORDER BY z DESC NULLS LAST LIMIT 1 OFFSET 1) AS second FROM t",
    "SELECT g, x, (SELECT z FROM u WHERE u.g = t.g ORDER BY z NULLS FIRST LIMIT 1 OFFSET 1) AS second FROM t",
    "SELECT g, x, (SELECT z - t.x FROM u WHERE u.z > t.x * 5 ORDER BY z LIMIT 1 OFFSET 2) AS third FROM t",
    "SELECT g, x FROM t WHERE x * 10 < (SELECT z FROM u WHERE u.g = t.g ORDER BY z LIMIT 1 OFFSET 1)",
]

# A window ordered by two keys of one column (`ORDER BY x % 2, x`) was an error ("multiple fields with
# name 'x' found"), with or without a subquery.
TWO_KEYS_OF_ONE_COLUMN = [
    "SELECT x, y, ROW_NUMBER() OVER (ORDER BY x % 2, x DESC, y) AS r FROM t",
    "SELECT x, y, RANK() OVER (ORDER BY ABS(x - 3), x DESC) AS r FROM t",
    "SELECT g, x, SUM(y) OVER (PARTITION BY g ORDER BY x + 1, x DESC, y) AS r FROM t",
    "SELECT x, y, LAG(y) OVER (ORDER BY x % 2, x, y) AS r FROM t",
]

UNCORRELATED_ANYWHERE = [
    # Inside an aggregate: SQL's SUM holds its argument twice, and the subquery's value was added twice
    # ("duplicate: Column with name '_POLARS_TMP_1'").
    "SELECT SUM(y * (SELECT MAX(z) FROM u)) AS s FROM t",
    "SELECT g, SUM(y * (SELECT MAX(z) FROM u)) AS s, AVG(x - (SELECT MIN(z) FROM u)) AS a FROM t GROUP BY g",
    "SELECT g, SUM(CASE WHEN x > (SELECT AVG(z) FROM u) / 10 THEN y END) AS s FROM t GROUP BY g",
    "SELECT g, SUM(y * (SELECT MIN(z) FROM u)) FILTER (WHERE x > 1) AS s FROM t GROUP BY ROLLUP (g)",
    # In a GROUP BY key, alone or as a SELECT item ("'Expr: .subplan(no_eq)' not allowed in this context").
    "SELECT x > (SELECT AVG(z) FROM u) / 10 AS big, COUNT(*) AS n FROM t GROUP BY x > (SELECT AVG(z) FROM u) / 10",
    "SELECT g, COUNT(*) AS n, SUM(y) AS s FROM t GROUP BY g, x > (SELECT AVG(z) FROM u) / 10",
    "SELECT CASE WHEN y > (SELECT MIN(z) FROM u) / 4 THEN 'hi' ELSE 'lo' END AS b, SUM(y) AS s FROM t "
    "GROUP BY CASE WHEN y > (SELECT MIN(z) FROM u) / 4 THEN 'hi' ELSE 'lo' END",
    # In a window's ORDER BY (the rewrite of polars' expressions skipped a window's order: patch 0056).
    "SELECT g, y, RANK() OVER (ORDER BY ABS(y - (SELECT AVG(z) FROM u) / 10)) AS r FROM t",
    "SELECT g, y, SUM(y) OVER (PARTITION BY g ORDER BY y * (SELECT MAX(z) FROM u)) AS r FROM t",
    "SELECT g, y, LAG(y) OVER (ORDER BY y * (SELECT MAX(z) FROM u)) AS r FROM t",
    # In QUALIFY: the subquery's value was left as an extra column of the answer.
    "SELECT g, y FROM t QUALIFY ROW_NUMBER() OVER (PARTITION BY g ORDER BY y) <= (SELECT COUNT(*) FROM u WHERE z > 40)",
    "SELECT g, y, ROW_NUMBER() OVER (PARTITION BY g ORDER BY y) AS rn FROM t QUALIFY rn < (SELECT MIN(z) FROM u) / 5",
    "SELECT * FROM t WHERE y > (SELECT MIN(z) FROM u) / 3",
]

# Sorted by a subquery's value: compared in order (each ORDER BY is total).
IN_ORDER_BY = [
    "SELECT g, y FROM t ORDER BY ABS(y - (SELECT AVG(z) FROM u) / 10), y",
    "SELECT g, y * (SELECT MIN(z) FROM u) AS w FROM t ORDER BY y * (SELECT MIN(z) FROM u) DESC LIMIT 3",
    "SELECT g, SUM(y) AS s FROM t GROUP BY g ORDER BY ABS(SUM(y) - (SELECT AVG(z) FROM u) / 4), g NULLS FIRST",
    "SELECT y FROM t UNION SELECT z FROM u WHERE z IS NOT NULL ORDER BY y * (SELECT MAX(z) FROM u) DESC",
    # Correlated (patch 0060; refused before): per row, or per group reading a GROUP BY key.
    "SELECT g, y FROM t ORDER BY (SELECT MAX(z) FROM u WHERE u.g = t.g) NULLS FIRST, y",
    "SELECT g, y FROM t ORDER BY (SELECT COUNT(*) FROM u WHERE u.z > t.y * 5), y DESC",
    "SELECT g, x, y FROM t ORDER BY (SELECT MAX(z) FROM u WHERE u.g = t.g) - x DESC NULLS LAST, y LIMIT 4",
    "SELECT g, y FROM t ORDER BY EXISTS (SELECT 1 FROM u WHERE u.g = t.g AND u.z > 40), y",
    "SELECT g, COUNT(*) AS n FROM t GROUP BY g ORDER BY (SELECT MIN(z) FROM u WHERE u.g = t.g) NULLS FIRST, g",
    "SELECT g, SUM(y) AS s FROM t GROUP BY g ORDER BY SUM(y) / (SELECT COUNT(*) FROM u WHERE u.g = t.g) NULLS FIRST, g",
]


@pytest.mark.parametrize("query", [
    "SELECT g, x FROM t WHERE x >= (SELECT AVG(z) / 10 FROM u WHERE u.g = t.g)",
    "SELECT g, x FROM t WHERE (SELECT AVG(z) / 10 FROM u WHERE u.g = t.g) <= x",
    "SELECT g, x FROM t WHERE x > (SELECT AVG(x) FROM t t2 WHERE t2.g = t.g)",
    "SELECT g, x FROM t WHERE x >= (SELECT AVG(x) FROM t t2 WHERE t2.g = t.g)",
    "SELECT g, y FROM t WHERE y = (SELECT MAX(y) FROM t AS t2 WHERE t2.g = t.g)",
    # COUNT over no rows is 0, not null.
    "SELECT g, x FROM t WHERE x < (SELECT COUNT(*) FROM u WHERE u.g = t.g)",
    "SELECT g, x FROM t WHERE 1 > (SELECT COUNT(z) FROM u WHERE u.g = t.g)",
    "SELECT g, x FROM t WHERE x * 10 < (SELECT MAX(z) FROM u WHERE u.g = t.g AND z > 15)",
    "SELECT g, x FROM t WHERE x * 10 <> (SELECT MIN(z) FROM u WHERE g = t.g)",
    "SELECT t.g, x, z FROM t JOIN u ON t.g = u.g WHERE z = (SELECT MAX(z) FROM u AS u2 WHERE u2.g = t.g)",
    "SELECT g, x FROM t WHERE x > (SELECT AVG(z) / 10 FROM u WHERE u.g = t.g) AND y > 2",
    "SELECT g, x FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.g = t.g AND u.z > 15)",
    "SELECT g, x FROM t WHERE x > (SELECT AVG(x) FROM t AS t2)",
    # Uncorrelated EXISTS (patch 0029): every row or none.
    "SELECT g, x FROM t WHERE EXISTS (SELECT * FROM u WHERE z > 35)",
    "SELECT g, x FROM t WHERE EXISTS (SELECT * FROM u WHERE z > 100)",
    "SELECT g, x FROM t WHERE NOT EXISTS (SELECT * FROM u WHERE z > 100) AND x > 2",
    # Scalar subqueries in the SELECT list (patch 0032): one value beside every row.
    "SELECT g, (SELECT MAX(z) FROM u) AS m FROM t",
    "SELECT g, x, x * 100.0 / (SELECT SUM(x) FROM t) AS share FROM t",
    "SELECT g, SUM(x) * 1.0 / (SELECT SUM(x) FROM t) AS share FROM t GROUP BY g",
    "SELECT (SELECT COUNT(*) FROM u) AS n",
    "SELECT g, (SELECT MAX(z) FROM u WHERE z > 100) AS m FROM t",
    "SELECT g, x - (SELECT AVG(x) FROM t) AS d FROM t ORDER BY d DESC NULLS LAST, g",
    # HAVING without GROUP BY (patch 0033): the whole table is the one group, kept or dropped.
    "SELECT COUNT(*) AS n FROM t HAVING COUNT(*) > 100",
    "SELECT COUNT(*) AS n, SUM(x) AS s FROM t HAVING COUNT(*) > 1",
    "SELECT SUM(x) AS s FROM t HAVING MAX(x) > 5 AND MIN(x) = 1",
    "SELECT SUM(x) AS s FROM t HAVING SUM(x) > (SELECT COUNT(*) FROM u)",
    "SELECT COUNT(*) AS n FROM t WHERE x > 2 HAVING COUNT(*) >= 4",
    # Correlated under OR, NOT, CASE or inside an expression (patch 0051): refused before.
    "SELECT g, x FROM t WHERE NOT (x > (SELECT AVG(z) / 10 FROM u WHERE u.g = t.g))",
    "SELECT g, x FROM t WHERE x > 4 OR EXISTS (SELECT 1 FROM u WHERE u.g = t.g AND z > 20)",
    "SELECT g, x FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.g = t.g) OR x = 1",
    "SELECT g, x FROM t WHERE y > 2 AND (x > 3 OR EXISTS (SELECT * FROM u WHERE u.g = t.g))",
    "SELECT g, x FROM t WHERE x * 10 > (SELECT MIN(z) FROM u WHERE u.g = t.g) OR y < 2",
    "SELECT g, x FROM t WHERE COALESCE((SELECT MAX(z) FROM u WHERE u.g = t.g), 0) > 15",
    "SELECT g, x FROM t WHERE CASE WHEN EXISTS (SELECT 1 FROM u WHERE u.g = t.g) THEN x > 1 ELSE y > 5 END",
    "SELECT g, COUNT(*) AS n FROM t WHERE x > 4 OR EXISTS (SELECT 1 FROM u WHERE u.g = t.g AND z > 20) GROUP BY g",
    "SELECT g, x FROM t AS o WHERE x > 5 OR x > (SELECT AVG(x) FROM t AS i WHERE i.g = o.g)",
    "SELECT g, x FROM t WHERE x IN (SELECT z / 10 FROM u) OR EXISTS (SELECT 1 FROM u WHERE u.g = t.g AND z > 20)",
    # ... and in the SELECT list of a query without grouping.
    "SELECT g, x, (SELECT MAX(z) FROM u WHERE u.g = t.g) AS m, (SELECT COUNT(*) FROM u WHERE u.g = t.g) AS n FROM t",
    "SELECT g, x * 100 / (SELECT SUM(z) FROM u WHERE u.g = t.g) AS share FROM t",
    "SELECT g, EXISTS (SELECT 1 FROM u WHERE u.g = t.g) AS e FROM t",
    "SELECT DISTINCT g, (SELECT COUNT(*) FROM u WHERE u.g = t.g) AS n FROM t",
    *BY_INEQUALITIES,
    *IN_GROUPING_QUERIES,
    *UNCORRELATED_ANYWHERE,
    *READING_THE_OUTER_ROW,
    *TWO_KEYS_OF_ONE_COLUMN,
])
def test_subqueries_match_duckdb(client: pr.Client, query: str) -> None:
    got, want = both_answers(client, query, t=T, u=U)
    assert unordered(got.rows()) == unordered(want.rows()), query


@pytest.mark.parametrize("query", IN_ORDER_BY)
def test_rows_sorted_by_a_subquery_match_duckdb(client: pr.Client, query: str) -> None:
    got, want = both_answers(client, query, t=T, u=U)
    assert got.rows() == want.rows(), query


# The sets a quantified comparison meets: with a null, without, empty, only nulls.
SETS = {"some_null": "SELECT z FROM u", "no_null": "SELECT z FROM u WHERE z IS NOT NULL",
        "empty": "SELECT z FROM u WHERE z > 100", "only_null": "SELECT z FROM u WHERE z IS NULL"}


@pytest.mark.parametrize("op", [">", "<", ">=", "<=", "=", "<>"])
@pytest.mark.parametrize("quantifier", ["ANY", "ALL", "SOME"])
def test_any_and_all_over_subqueries_match_duckdb(client: pr.Client, op: str, quantifier: str) -> None:
    """`x op ANY|ALL (SELECT ...)`, three-valued (patch 0037): it was an error ("aggregation 'item'
    expected no or a single value"), and over a list `<> ANY` answered `NOT IN`, ALL over none false."""
    items = ", ".join(f"x * 10 {op} {quantifier} ({sql}) AS {name}" for name, sql in SETS.items())
    got, want = both_answers(client, f"SELECT g, x, {items} FROM t", t=T, u=U)
    assert unordered(got.rows()) == unordered(want.rows())
    got, want = both_answers(client, f"SELECT g, x FROM t WHERE x * 10 {op} {quantifier} ({SETS['no_null']})", t=T, u=U)
    assert unordered(got.rows()) == unordered(want.rows())


# Shared column names (x, g) and keys of different types: an integer beside a float.
S = pl.DataFrame({"g": ["a", "a", "b", "b", "c", None], "x": [1, 2, 3, None, 5, 6], "k": [1, 2, 3, 4, 5, 6]},
                 schema={"g": pl.String, "x": pl.Int64, "k": pl.Int32})
V = pl.DataFrame({"g": ["a", "b", None, "d", "a"], "x": [2.0, 3.0, 5.0, 7.0, None], "z": [10.0, 30.0, None, 50.0, 5.0]})


@pytest.mark.parametrize("query", [
    "SELECT g, x FROM s WHERE x IN (SELECT z / 10 FROM v)",
    "SELECT g, x FROM s WHERE x NOT IN (SELECT z / 10 FROM v)",
    "SELECT g, x FROM s WHERE x NOT IN (SELECT z / 10 FROM v WHERE z IS NOT NULL)",
    "SELECT g, x FROM s WHERE k IN (SELECT x FROM v)",
    "SELECT g, x FROM s WHERE x IN (SELECT x FROM v WHERE g = s.g)",
    "SELECT g, x FROM s WHERE x NOT IN (SELECT x FROM v WHERE g = s.g)",
    "SELECT g, x FROM s WHERE x IN (SELECT v.x FROM v WHERE v.g = s.g AND z > 6)",
    "SELECT g, x FROM s WHERE EXISTS (SELECT 1 FROM v WHERE v.x = s.k)",
    "SELECT g, x FROM s WHERE NOT EXISTS (SELECT 1 FROM v WHERE x = s.k)",
    "SELECT g, x FROM s WHERE k * 10 < (SELECT MAX(z) FROM v WHERE g = s.g)",
    "SELECT g, x FROM s WHERE x > (SELECT AVG(x) FROM v WHERE v.g = s.g)",
])
def test_subqueries_scope_shared_names_and_compare_keys_of_any_type(client: pr.Client, query: str) -> None:
    """Inside the subquery an unqualified name is its own relation's (patch 0045: a name both tables
    have was refused as correlated), and an integer meets a float ("datatypes of join keys don't match")."""
    got, want = both_answers(client, query, s=S, v=V)
    assert unordered(got.rows()) == unordered(want.rows()), query


def test_any_and_all_over_lists_match_duckdb(client: pr.Client) -> None:
    query = ("SELECT x, x > ANY ([1, 5]) AS a, x <> ALL ([3, 6]) AS b, x = ANY ([4, NULL]) AS c, "
             "x <> ANY ([3, 3]) AS d, x <= ALL ([4, 5]) AS e FROM t")
    got, want = both_answers(client, query, t=T)
    assert unordered(got.rows()) == unordered(want.rows())


def test_each_row_is_compared_with_its_own_group_worked_by_hand(client: pr.Client) -> None:
    """Above their symbol's average: 12 > 11 (a), 30 > 25 (b); uncorrelated, the average is 17.5."""
    trades = client.from_polars(pl.DataFrame({"sym": ["a", "a", "b", "b"], "px": [10.0, 12.0, 20.0, 30.0]}))
    got = client.sql("SELECT sym, px FROM trades t WHERE px > (SELECT AVG(px) FROM trades i WHERE i.sym = t.sym) "
                     "ORDER BY sym", trades=trades).collect()
    assert got.rows() == [("a", 12.0), ("b", 30.0)]


def test_the_prevailing_quote_worked_by_hand(client: pr.Client) -> None:
    """Each trade beside the last quote at or before it (none for b's first trade), and the trades
    at or before it summed, as an analyst without ASOF JOIN writes them."""
    trades = client.from_polars(pl.DataFrame({"sym": ["a", "a", "b", "b"], "ts": [1, 3, 1, 5], "sz": [1, 2, 3, 4]}))
    quotes = client.from_polars(pl.DataFrame({"sym": ["a", "a", "b"], "ts": [0, 2, 2], "bid": [9.5, 10.0, 20.0]}))
    got = client.sql("SELECT sym, ts, (SELECT bid FROM quotes q WHERE q.sym = t.sym AND q.ts <= t.ts "
                     "ORDER BY q.ts DESC LIMIT 1) AS bid, (SELECT SUM(sz) FROM trades i WHERE i.sym = t.sym "
                     "AND i.ts <= t.ts) AS volume FROM trades t ORDER BY sym, ts", trades=trades, quotes=quotes).collect()
    assert got.rows() == [("a", 1, 9.5, 1), ("a", 3, 10.0, 3), ("b", 1, None, 3), ("b", 5, 20.0, 7)]


def _ticks(seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Trades and quotes with nulls in keys and times; one quote per symbol and time, so that the
    nearest quote is one row (ties would leave SQL free to pick either)."""
    rng = random.Random(seed)
    symbols = ["a", "b", "c", None]
    quotes = {(rng.choice(symbols), rng.choice([None, *range(30)])): round(rng.uniform(1, 100), 2) for _ in range(40)}
    q = pl.DataFrame({"sym": [k[0] for k in quotes], "ts": [k[1] for k in quotes], "bid": list(quotes.values())},
                     schema={"sym": pl.String, "ts": pl.Int64, "bid": pl.Float64})
    t = pl.DataFrame({"sym": [rng.choice(symbols) for _ in range(30)],
                      "ts": [rng.choice([None, *range(-2, 33)]) for _ in range(30)],
                      "px": [round(rng.uniform(1, 100), 2) for _ in range(30)]},
                     schema={"sym": pl.String, "ts": pl.Int64, "px": pl.Float64})
    return t.with_columns(fts=pl.col("ts").cast(pl.Float64)), q


@pytest.mark.parametrize("nearest", [
    # Read by an as-of search (patch 0054): below or above, strict or not, either way round.
    "(SELECT bid FROM q WHERE q.sym = t.sym AND q.ts <= t.ts ORDER BY q.ts DESC LIMIT 1)",
    "(SELECT bid FROM q WHERE q.sym = t.sym AND q.ts < t.ts ORDER BY q.ts DESC LIMIT 1)",
    "(SELECT bid FROM q WHERE q.sym = t.sym AND q.ts >= t.ts ORDER BY q.ts LIMIT 1)",
    "(SELECT bid FROM q WHERE q.sym = t.sym AND q.ts > t.ts ORDER BY q.ts ASC LIMIT 1)",
    "(SELECT bid * 2 FROM q WHERE t.ts >= q.ts AND t.sym = q.sym ORDER BY q.ts DESC LIMIT 1)",
    "(SELECT MAX(q.ts) FROM q WHERE q.sym = t.sym AND q.ts < t.ts)",
    "(SELECT MIN(ts) FROM q WHERE q.sym = t.sym AND q.ts > t.ts)",
    "(SELECT MAX(q.ts) FROM q WHERE q.ts <= t.ts)",
    "(SELECT bid FROM q WHERE q.sym = t.sym AND q.ts <= t.ts AND q.bid > 30 ORDER BY q.ts DESC LIMIT 1)",
    # Every pair: an integer time beside a float one, ORDER BY away from the outer value, two keys.
    "(SELECT bid FROM q WHERE q.sym = t.sym AND q.ts <= t.fts ORDER BY q.ts DESC LIMIT 1)",
    "(SELECT bid FROM q WHERE q.sym = t.sym AND q.ts <= t.ts ORDER BY q.ts LIMIT 1)",
    "(SELECT MIN(q.ts) FROM q WHERE q.sym = t.sym AND q.ts <= t.ts)",
    "(SELECT bid FROM q WHERE q.ts <= t.ts ORDER BY q.ts DESC, q.bid LIMIT 1)",
    "(SELECT bid FROM q WHERE q.sym IS NOT DISTINCT FROM t.sym AND q.ts <= t.ts ORDER BY q.ts DESC LIMIT 1)",
])
@pytest.mark.parametrize("seed", [5, 6])
def test_the_nearest_row_below_or_above_matches_duckdb(client: pr.Client, nearest: str, seed: int) -> None:
    t, q = _ticks(seed)
    got, want = both_answers(client, f"SELECT sym, ts, px, {nearest} AS v FROM t", t=t, q=q)
    assert unordered(got.rows()) == unordered(want.rows()), nearest
    got, want = both_answers(client, f"SELECT sym, ts FROM t WHERE px > {nearest}", t=t, q=q)
    assert unordered(got.rows()) == unordered(want.rows()), nearest


RUNNING = [
    # Aggregates of every row below or above the outer value (patch 0117): the running aggregate at the
    # nearest row, as an as-of search. Strict or not, either way round, with and without keys.
    "(SELECT SUM(n) FROM q WHERE q.sym = t.sym AND q.ts <= t.ts)",
    "(SELECT SUM(n) FROM q WHERE q.sym = t.sym AND q.ts < t.ts)",
    "(SELECT SUM(n) FROM q WHERE q.sym = t.sym AND q.ts >= t.ts)",
    "(SELECT SUM(n) FROM q WHERE t.ts > q.ts AND t.sym = q.sym)",
    "(SELECT COUNT(*) FROM q WHERE q.sym = t.sym AND q.ts <= t.ts)",
    "(SELECT COUNT(*) FROM q WHERE q.ts > t.ts)",
    "(SELECT COUNT(n) FROM q WHERE q.sym = t.sym AND q.ts <= t.ts)",
    "(SELECT MIN(bid) FROM q WHERE q.sym = t.sym AND q.ts <= t.ts)",
    "(SELECT MAX(bid) FROM q WHERE q.sym = t.sym AND q.ts > t.ts)",
    "(SELECT MIN(n) FROM q WHERE q.ts < t.ts)",
    "(SELECT ROUND(AVG(bid), 6) FROM q WHERE q.sym = t.sym AND q.ts <= t.ts)",
    "(SELECT ROUND(AVG(n), 6) FROM q WHERE q.sym = t.sym AND q.ts >= t.ts)",
    # Several aggregates in one expression: a running volume-weighted price, a range.
    "(SELECT ROUND(SUM(bid * n) / SUM(n), 6) FROM q WHERE q.sym = t.sym AND q.ts <= t.ts)",
    "(SELECT MAX(bid) - MIN(bid) FROM q WHERE q.sym = t.sym AND q.ts < t.ts)",
    "(SELECT COUNT(*) + 1 FROM q WHERE q.sym = t.sym AND q.ts < t.ts)",
    "(SELECT COALESCE(SUM(n), 0) FROM q WHERE q.sym = t.sym AND q.ts <= t.ts)",
    # An inner filter; a small integer summed (widened as SUM widens it).
    "(SELECT SUM(n) FROM q WHERE q.sym = t.sym AND q.ts <= t.ts AND q.bid > 30)",
    "(SELECT SUM(small) FROM q WHERE q.sym = t.sym AND q.ts <= t.ts)",
    # Between two bounds computed from the outer value: the difference of two running counts and sums
    # (a trailing window's volume), open or closed at either end, BETWEEN, an empty window.
    "(SELECT SUM(n) FROM q WHERE q.sym = t.sym AND q.ts > t.ts - 5 AND q.ts <= t.ts)",
    "(SELECT COUNT(*) FROM q WHERE q.sym = t.sym AND q.ts BETWEEN t.ts - 5 AND t.ts + 2)",
    "(SELECT COUNT(n) FROM q WHERE t.ts - 3 <= q.ts AND q.ts < t.ts + 3)",
    "(SELECT ROUND(AVG(n), 6) FROM q WHERE q.sym = t.sym AND q.ts >= t.ts - 10 AND q.ts < t.ts)",
    "(SELECT SUM(small) + COUNT(*) FROM q WHERE q.ts > t.ts - 4 AND t.ts + 1 >= q.ts)",
    "(SELECT COUNT(*) FROM q WHERE q.sym = t.sym AND q.ts >= t.ts + 3 AND q.ts <= t.ts)",
    "(SELECT SUM(n) FROM q WHERE q.sym = t.sym AND q.ts > t.ts - 5 AND q.ts <= t.ts AND q.bid > 30)",
    # COUNT of a value no row makes null is COUNT(*); COUNT(NULL) is left to the pairs (0).
    "(SELECT COUNT(1) FROM q WHERE q.sym = t.sym AND q.ts <= t.ts)",
    "(SELECT COUNT('x') + COUNT(n) FROM q WHERE q.ts > t.ts - 5 AND q.ts <= t.ts)",
    "(SELECT COUNT(NULL) FROM q WHERE q.sym = t.sym AND q.ts <= t.ts)",
    # Left to the pairs: DISTINCT, another aggregate, an integer time beside a float one (as a value, and as
    # a bound: t.px).
    "(SELECT COUNT(DISTINCT n) FROM q WHERE q.sym = t.sym AND q.ts <= t.ts)",
    "(SELECT ROUND(STDDEV(bid), 6) FROM q WHERE q.sym = t.sym AND q.ts <= t.ts)",
    "(SELECT SUM(n) FROM q WHERE q.sym = t.sym AND q.ts <= t.fts)",
    "(SELECT SUM(n) FROM q WHERE q.sym = t.sym AND q.ts > t.ts - 5 AND q.ts <= t.px)",
    *[
        # Between two bounds, what running sums cannot give (a difference of float sums is not exact;
        # MIN, MAX, DISTINCT, STDDEV have no difference): each trade's range of quotes, paired with
        # those alone.
        "(SELECT ROUND(SUM(bid), 6) FROM q WHERE q.sym = t.sym AND q.ts > t.ts - 5 AND q.ts <= t.ts)",
        "(SELECT MIN(n) FROM q WHERE q.sym = t.sym AND q.ts > t.ts - 5 AND q.ts <= t.ts)",
        "(SELECT MAX(bid) - MIN(bid) FROM q WHERE q.sym = t.sym AND q.ts BETWEEN t.ts - 6 AND t.ts + 1)",
        "(SELECT ROUND(SUM(bid * n) / SUM(n), 6) FROM q WHERE q.sym = t.sym AND q.ts >= t.ts - 8 AND q.ts < t.ts)",
        "(SELECT ROUND(AVG(bid), 6) FROM q WHERE t.ts - 3 <= q.ts AND q.ts <= t.ts + 3)",
        "(SELECT COUNT(DISTINCT n) FROM q WHERE q.sym = t.sym AND q.ts > t.ts - 10 AND q.ts < t.ts)",
        "(SELECT ROUND(STDDEV(bid), 6) FROM q WHERE q.sym = t.sym AND q.ts BETWEEN t.ts - 10 AND t.ts)",
        "(SELECT MAX(bid) FROM q WHERE q.sym = t.sym AND q.ts >= t.ts + 3 AND q.ts <= t.ts)",
        "(SELECT COALESCE(MIN(bid), -1) FROM q WHERE q.sym = t.sym AND q.ts > t.ts AND q.ts < t.ts + 4 AND q.bid > 30)",
    ],
]


def _running_ticks(seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`_ticks` with quotes that share times within a symbol, and nulls among the aggregated values."""
    t, q = _ticks(seed)
    rng = random.Random(seed)
    q = pl.concat([q, q.head(10).with_columns(bid=pl.col("bid") + 1)])
    q = q.with_columns(n=pl.Series([rng.choice([None, *range(1, 50)]) for _ in range(q.height)], dtype=pl.Int64))
    q = q.with_columns(small=pl.col("n").cast(pl.Int8), bid=pl.when(pl.col("n") == 7).then(None).otherwise("bid"))
    return t, q


@pytest.mark.parametrize("running", RUNNING)
@pytest.mark.parametrize("seed", [5, 6])
def test_running_aggregates_below_or_above_match_duckdb(client: pr.Client, running: str, seed: int) -> None:
    t, q = _running_ticks(seed)
    got, want = both_answers(client, f"SELECT sym, ts, px, {running} AS v FROM t", t=t, q=q)
    assert same_rows(unordered(got.rows()), unordered(want.rows())), running
    got, want = both_answers(client, f"SELECT sym, ts FROM t WHERE px > {running}", t=t, q=q)
    assert unordered(got.rows()) == unordered(want.rows()), running


@pytest.mark.parametrize("window", [
    "t2.ts > t.ts - INTERVAL '1 minute' AND t2.ts <= t.ts",
    "t2.ts BETWEEN t.ts - INTERVAL '30 seconds' AND t.ts + INTERVAL '30 seconds'",
    "t2.ts <= t.ts",
])
def test_a_trailing_minute_of_timestamps_matches_duckdb(client: pr.Client, window: str) -> None:
    """Instants and intervals, as a trailing minute's volume and count are written: the bounds are the
    outer instant shifted, of the column's own type."""
    rng = random.Random(7)
    start = 1_700_000_000
    t = pl.DataFrame({"sym": [rng.choice(["a", "b"]) for _ in range(200)],
                      "ts": sorted(start + rng.randrange(0, 600) for _ in range(200)),
                      "sz": [rng.randrange(1, 100) for _ in range(200)]})
    t = t.with_columns(pl.from_epoch("ts", time_unit="s").dt.cast_time_unit("us"))
    query = (f"SELECT sym, ts, sz, (SELECT SUM(sz) FROM t t2 WHERE t2.sym = t.sym AND {window}) AS volume, "
             f"(SELECT COUNT(*) FROM t t2 WHERE t2.sym = t.sym AND {window}) AS trades FROM t")
    got, want = both_answers(client, query, t=t)
    assert unordered(got.rows()) == unordered(want.rows()), window
    plan = client.sql(query, t=client.from_polars(t)).explain()
    assert "ASOF" in plan.upper() and "INNER JOIN" not in plan.upper(), plan


def test_a_running_total_worked_by_hand(client: pr.Client) -> None:
    """Each trade's volume so far, since it, and the mean and the lowest price before it, within its
    symbol, and over its last two time units; b's first trade has none before it (null, COUNT 0). Trades
    at one time count together."""
    trades = client.from_polars(pl.DataFrame({"sym": ["a", "a", "a", "b", "b"], "ts": [1, 2, 2, 1, 5],
                                              "px": [10.0, 12.0, 8.0, 20.0, 30.0], "sz": [1, 2, 3, 4, None]}))
    got = client.sql("SELECT sym, ts, px, (SELECT SUM(sz) FROM trades i WHERE i.sym = t.sym AND i.ts <= t.ts) AS so_far, "
                     "(SELECT SUM(sz) FROM trades i WHERE i.sym = t.sym AND i.ts >= t.ts) AS since, "
                     "(SELECT AVG(px) FROM trades i WHERE i.sym = t.sym AND i.ts < t.ts) AS mean_before, "
                     "(SELECT MIN(px) FROM trades i WHERE i.sym = t.sym AND i.ts < t.ts) AS low_before, "
                     "(SELECT COUNT(*) FROM trades i WHERE i.sym = t.sym AND i.ts < t.ts) AS before, "
                     "(SELECT SUM(sz) FROM trades i WHERE i.sym = t.sym AND i.ts > t.ts - 2 AND i.ts <= t.ts) AS last_two "
                     "FROM trades t ORDER BY sym, ts, px", trades=trades).collect()
    # The last two time units (ts - 2, ts]: b's trade at 5 has only itself, whose size is null.
    assert got.rows() == [
        ("a", 1, 10.0, 1, 6, None, None, 0, 1),
        ("a", 2, 8.0, 6, 5, 10.0, 10.0, 1, 6),
        ("a", 2, 12.0, 6, 5, 10.0, 10.0, 1, 6),
        ("b", 1, 20.0, 4, 4, None, None, 0, 4),
        ("b", 5, 30.0, 4, None, 20.0, 20.0, 1, None),
    ]


def test_a_trailing_window_of_floats_worked_by_hand(client: pr.Client) -> None:
    """Each trade's notional, price range and mean price over its symbol's last two time units (ts - 2,
    ts] and the next two [ts, ts + 2); rows tied on time count together, a null price is left out, a
    trade with no row in a window reads null (COUNT 0)."""
    trades = client.from_polars(pl.DataFrame({"sym": ["a", "a", "a", "a", "b"], "ts": [1, 2, 2, 4, 1],
                                              "px": [10.0, 12.0, 8.0, None, 20.0], "sz": [1.5, 2.0, 3.0, 1.0, 4.0]}))
    window = "i.sym = t.sym AND i.ts > t.ts - 2 AND i.ts <= t.ts"
    ahead = "i.sym = t.sym AND i.ts BETWEEN t.ts + 1 AND t.ts + 2"
    got = client.sql(f"SELECT sym, ts, sz, (SELECT SUM(px * sz) FROM trades i WHERE {window}) AS notional, "
                     f"(SELECT MAX(px) - MIN(px) FROM trades i WHERE {window}) AS spread, "
                     f"(SELECT AVG(px) FROM trades i WHERE {ahead}) AS mean_ahead, "
                     f"(SELECT COUNT(px) FROM trades i WHERE {ahead}) AS priced_ahead "
                     "FROM trades t ORDER BY sym, ts, sz", trades=trades).collect()
    assert got.rows() == [
        ("a", 1, 1.5, 15.0, 0.0, 10.0, 2),        # ahead: the two trades at 2 (12 and 8)
        ("a", 2, 2.0, 63.0, 4.0, None, 0),        # last two: 1, 2, 2 (15 + 24 + 24); ahead: ts 4, no price
        ("a", 2, 3.0, 63.0, 4.0, None, 0),
        ("a", 4, 1.0, None, None, None, 0),       # last two: ts 3 and 4, one trade, no price
        ("b", 1, 4.0, 80.0, 0.0, None, 0),
    ]
    plan = client.sql(f"SELECT (SELECT SUM(px * sz) FROM trades i WHERE {window}) FROM trades t", trades=trades).explain()
    assert "EXPLODE" in plan.upper() and plan.upper().count("ASOF JOIN:") == 2, plan


@pytest.mark.parametrize("seed", [5, 6])
def test_exists_between_bounds_matches_duckdb(client: pr.Client, seed: int) -> None:
    """EXISTS over a window of the outer value, read from each trade's range of quotes."""
    t, q = _running_ticks(seed)
    within = "EXISTS (SELECT 1 FROM q WHERE q.sym = t.sym AND q.ts BETWEEN t.ts - 2 AND t.ts AND q.bid > 30)"
    for query in [f"SELECT sym, ts, px, {within} AS e FROM t", f"SELECT sym, ts, px FROM t WHERE NOT {within}"]:
        got, want = both_answers(client, query, t=t, q=q)
        assert unordered(got.rows()) == unordered(want.rows()), query
    plan = client.sql(f"SELECT {within} AS e FROM t", t=client.from_polars(t), q=client.from_polars(q)).explain()
    assert "EXPLODE" in plan.upper(), plan


def _intervals(seed: int) -> pl.DataFrame:
    """Intervals of time per symbol (orders, sessions): nulls among keys and ends, some ends before their
    starts."""
    rng = random.Random(seed)
    starts = [rng.choice([None, *range(-3, 30)]) for _ in range(25)]
    return pl.DataFrame({"sym": [rng.choice(["a", "b", "c", None]) for _ in starts], "t0": starts,
                         "t1": [None if s is None or rng.random() < 0.1 else s + rng.randrange(-2, 9) for s in starts]},
                        schema={"sym": pl.String, "t0": pl.Int64, "t1": pl.Int64})


@pytest.mark.parametrize("within", [
    # Running sums and counts read at both ends.
    "(SELECT SUM(n) FROM q WHERE q.sym = o.sym AND q.ts >= o.t0 AND q.ts < o.t1)",
    "(SELECT COUNT(*) FROM q WHERE q.sym = o.sym AND q.ts BETWEEN o.t0 AND o.t1)",
    "(SELECT ROUND(AVG(n), 6) FROM q WHERE o.t0 <= q.ts AND o.t1 > q.ts)",
    "(SELECT COUNT(n) FROM q WHERE q.ts > o.t0 - 2 AND q.ts <= o.t1 + 1 AND q.bid > 30)",
    # Each interval's range of quotes, paired with it alone.
    "(SELECT ROUND(SUM(bid), 6) FROM q WHERE q.sym = o.sym AND q.ts > o.t0 AND q.ts <= o.t1)",
    "(SELECT MIN(bid) FROM q WHERE q.sym = o.sym AND q.ts BETWEEN o.t0 - 2 AND o.t1 + 2)",
    "(SELECT ROUND(MAX(bid) - MIN(bid), 6) FROM q WHERE q.ts >= o.t0 AND q.ts <= o.t1)",
    "EXISTS (SELECT 1 FROM q WHERE q.sym = o.sym AND q.ts BETWEEN o.t0 AND o.t1 AND q.bid > 60)",
])
@pytest.mark.parametrize("seed", [5, 6])
def test_aggregates_over_intervals_of_two_outer_columns_match_duckdb(client: pr.Client, within: str, seed: int) -> None:
    """The rows between two columns of the outer row (an order's start and end) are searched at both ends
    as a window of one outer value is: no pairing of each interval with every row of its key."""
    _, q = _running_ticks(seed)
    o = _intervals(seed)
    got, want = both_answers(client, f"SELECT sym, t0, t1, {within} AS v FROM o", o=o, q=q)
    assert same_rows(unordered(got.rows()), unordered(want.rows())), within
    plan = client.sql(f"SELECT {within} AS v FROM o", o=client.from_polars(o), q=client.from_polars(q)).explain()
    assert plan.upper().count("ASOF JOIN:") == 2, plan
    assert ("EXPLODE" in plan.upper()) == ("ROUND(SUM(bid)" in within or "MIN(bid)" in within or "EXISTS" in within), plan


@pytest.mark.parametrize("side", [
    "q.sym = t.sym AND q.ts <= t.ts",
    "q.sym = t.sym AND q.ts > t.ts AND q.bid > 30",
    "t.ts >= q.ts",
    "q.sym = t.sym AND t.ts > q.ts",
])
@pytest.mark.parametrize("seed", [5, 6])
def test_exists_on_one_side_is_searched_and_matches_duckdb(client: pr.Client, side: str, seed: int) -> None:
    """EXISTS of a row below (or above) the outer value is whether the search for the nearest one finds
    one; before, each trade met every quote of its symbol on that side (seconds on 200k x 200k)."""
    t, q = _running_ticks(seed)
    exists = f"EXISTS (SELECT 1 FROM q WHERE {side})"
    for query in [f"SELECT sym, ts, px, {exists} AS e FROM t", f"SELECT sym, ts, px FROM t WHERE NOT {exists}"]:
        got, want = both_answers(client, query, t=t, q=q)
        assert unordered(got.rows()) == unordered(want.rows()), query
    plan = client.sql(f"SELECT sym, ts FROM t WHERE {exists}", t=client.from_polars(t), q=client.from_polars(q)).explain()
    assert "ASOF JOIN:" in plan.upper() and "INNER JOIN" not in plan.upper() and "SEMI" not in plan.upper(), plan


def test_a_plain_value_between_bounds_is_one_row_or_an_error(client: pr.Client) -> None:
    """A scalar subquery with no aggregate reads its one row in the window; more than one is an error, as
    SQL's scalar subquery (DuckDB: "More than one row returned by a subquery"): 2 rows for ts 2, 3 for ts 3."""
    q = client.from_polars(pl.DataFrame({"ts": [1, 5, 6], "bid": [1.0, 5.0, 6.0]}))
    t = client.from_polars(pl.DataFrame({"ts": [2, 3]}))
    got = client.sql("SELECT ts, (SELECT bid FROM q WHERE q.ts > t.ts - 2 AND q.ts <= t.ts) AS bid FROM t ORDER BY ts",
                     t=t, q=q).collect()
    assert got.rows() == [(2, 1.0), (3, None)]
    with pytest.raises(pl.exceptions.ComputeError, match="single value, got [23]"):
        client.sql("SELECT ts, (SELECT bid FROM q WHERE q.ts BETWEEN t.ts - 2 AND t.ts + 3) AS bid FROM t",
                   t=t, q=q).collect()


def test_a_running_total_is_searched_not_paired(client: pr.Client) -> None:
    """The plan of a running total is an as-of join of running sums, a trailing window's two; before, every
    trade was paired with each earlier one of its symbol (an inner join, then a filter), quadratic in a
    symbol's rows."""
    t, _ = _ticks(5)
    query = "SELECT sym, ts, (SELECT SUM(px) FROM t t2 WHERE t2.sym = t.sym AND t2.ts <= t.ts) AS v FROM t"
    plan = client.sql(query, t=client.from_polars(t)).explain()
    assert "ASOF" in plan.upper() and "cum_sum" in plan, plan
    assert "INNER JOIN" not in plan.upper(), plan
    # A trailing window: two searches, the running counts and sums subtracted.
    window = "SELECT sym, ts, (SELECT SUM(ts) FROM t t2 WHERE t2.sym = t.sym AND t2.ts BETWEEN t.ts - 5 AND t.ts) AS v FROM t"
    plan = client.sql(window, t=client.from_polars(t)).explain()
    assert plan.upper().count("ASOF JOIN:") == 2 and "INNER JOIN" not in plan.upper(), plan
    # COUNT(1), as analysts write COUNT(*), is searched too.
    plan = client.sql(query.replace("SUM(px)", "COUNT(1)"), t=client.from_polars(t)).explain()
    assert "ASOF" in plan.upper() and "INNER JOIN" not in plan.upper(), plan


# Searched subqueries, several in one SELECT: the nearest quote, a running sum, a window's count.
SEARCHED_BESIDE = ("(SELECT bid FROM q WHERE q.sym = t.sym AND q.ts <= t.ts ORDER BY q.ts DESC LIMIT 1) AS bid, "
                   "(SELECT SUM(n) FROM q WHERE q.sym = t.sym AND q.ts < t.ts) AS before, "
                   "(SELECT COUNT(*) FROM q WHERE q.sym = t.sym AND q.ts BETWEEN t.ts - 5 AND t.ts + 2) AS near")


def _shuffled_trades(seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`_running_ticks`' trades three times over in a shuffled order (every (sym, ts) repeated, nulls among
    them), numbered by their place; its quotes one a symbol and time, so the nearest is one row."""
    t, q = _running_ticks(seed)
    q = q.unique(["sym", "ts"], keep="first", maintain_order=True)
    t = pl.concat([t, t, t]).sample(fraction=1.0, shuffle=True, seed=seed).with_row_index("id")
    return t.with_columns(pl.col("id").cast(pl.Int64)), q


@pytest.mark.parametrize("seed", [5, 6])
def test_searched_subqueries_answer_each_row_in_its_place(client: pr.Client, seed: int) -> None:
    """A searched subquery answers each outer row and puts the answers back beside the rows in their order
    (patch 0117): the server's rows, with no ORDER BY, are DuckDB's in the order of the outer rows."""
    t, q = _shuffled_trades(seed)
    query = f"SELECT id, sym, ts, {SEARCHED_BESIDE} FROM t"
    got, want = both_answers(client, query + " WHERE px > 20", t=t, q=q)
    _, want = both_answers(client, query + " WHERE px > 20 ORDER BY id", t=t, q=q)
    assert got["id"].to_list() == t.filter(pl.col("px") > 20)["id"].to_list()
    assert same_rows(got.rows(), want.rows())
    # Filtered by a searched value, and the rows of a join: the answers stay with their rows.
    got, want = both_answers(client, "SELECT id, sym, ts FROM t WHERE px > (SELECT MAX(bid) FROM q WHERE q.sym = t.sym "
                             "AND q.ts <= t.ts) ORDER BY id", t=t, q=q)
    assert got.rows() == want.rows() and got.height > 0
    joined = (f"SELECT t.id, t.sym, t.ts, s.w, {SEARCHED_BESIDE} FROM t JOIN (SELECT DISTINCT sym, LENGTH(sym) AS w "
              "FROM q) s ON s.sym = t.sym")
    got, want = both_answers(client, joined, t=t, q=q)
    assert same_rows(unordered(got.rows()), unordered(want.rows()))


def test_rows_of_an_unordered_frame_keep_their_answers(client: pr.Client) -> None:
    """The outer rows are read twice (searched, then beside their answers), so they must be the same rows in
    the same order both times, also when they come from a GROUP BY, whose order polars leaves free."""
    t, q = _shuffled_trades(5)
    query = (f"SELECT sym, ts, n, {SEARCHED_BESIDE} FROM (SELECT sym, ts, COUNT(*) AS n FROM t GROUP BY sym, ts) t")
    got, want = both_answers(client, query, t=t, q=q)
    assert got.height == t.select("sym", "ts").unique().height
    assert same_rows(unordered(got.rows()), unordered(want.rows()))


def test_searched_answers_are_put_beside_the_rows_not_joined_back(client: pr.Client) -> None:
    """Each outer row is searched where it stands and its answer put beside it: no distinct combinations of
    the outer values, no hash join of the answers back to the rows (before, both)."""
    t, q = _shuffled_trades(5)
    plan = client.sql(f"SELECT id, {SEARCHED_BESIDE} FROM t", t=client.from_polars(t), q=client.from_polars(q)).explain()
    assert plan.upper().count("END HCONCAT") == 3 and plan.upper().count("ASOF JOIN:") == 4, plan
    assert "LEFT JOIN" not in plan.upper() and "UNIQUE" not in plan.upper(), plan


@pytest.mark.parametrize("query, why", [
    ("SELECT g, (SELECT MAX(z) FROM u WHERE u.z > t.x) AS m FROM t GROUP BY g", "reads `t.x`, which is not a GROUP BY key"),
    ("SELECT g, y > ALL (SELECT z / 10 FROM u WHERE u.g = t.g) AS l FROM t GROUP BY g", "reads `y`, which is not a GROUP BY key"),
    ("SELECT g, MAX(x) > ALL (SELECT z / 10 FROM u WHERE u.g = t.g) AS l FROM t GROUP BY g", "compares an aggregate"),
])
def test_a_correlated_subquery_with_no_one_value_per_group_is_refused(client: pr.Client, query: str, why: str) -> None:
    """DuckDB refuses the first two too ("must appear in the GROUP BY clause")."""
    with pytest.raises(pr.InvalidArgumentError, match=why):
        client.sql(query, t=client.from_polars(T), u=client.from_polars(U)).collect()


@pytest.mark.parametrize("query", [
    # An offset for EXISTS; a grouping inside the subquery.
    "SELECT g, x FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.g = t.g LIMIT 1 OFFSET 1)",
    "SELECT g, (SELECT MAX(n) FROM (SELECT z, COUNT(*) AS n FROM u WHERE u.g = t.g GROUP BY z) s) AS m FROM t",
])
def test_correlated_subqueries_it_cannot_decorrelate_are_refused(client: pr.Client, query: str) -> None:
    with pytest.raises(pr.InvalidArgumentError, match="correlated subquery .* reads `t` of the enclosing query"):
        client.sql(query, t=client.from_polars(T), u=client.from_polars(U)).collect()


def test_a_scalar_subquery_of_more_than_one_row_is_an_error(client: pr.Client) -> None:
    with pytest.raises(pl.exceptions.ComputeError, match="expected no or a single value, got 6 values"):
        client.sql("SELECT g, (SELECT z FROM u) AS m FROM t", t=client.from_polars(T), u=client.from_polars(U)).collect()
    # Correlated: a and b have two rows of u each.
    with pytest.raises(pl.exceptions.ComputeError, match="expected no or a single value, got 2 values"):
        client.sql("SELECT g, (SELECT z FROM u WHERE u.g = t.g) AS m FROM t",
                   t=client.from_polars(T), u=client.from_polars(U)).collect()


@pytest.mark.parametrize("query", [
    # A subquery or derived table with a WITH clause of its own (patch 0072): refused or failed before.
    "SELECT g, x FROM t WHERE x = (WITH m AS (SELECT MAX(x) AS mx FROM t) SELECT mx FROM m)",
    "SELECT g, (WITH s AS (SELECT SUM(z) AS total FROM u) SELECT total FROM s) AS total FROM t",
    "SELECT g, x FROM t WHERE g IN (WITH big AS (SELECT g FROM u WHERE z > 15) SELECT g FROM big)",
    "SELECT g, x FROM t WHERE EXISTS (WITH one AS (SELECT 1 AS k) SELECT * FROM one)",
    "SELECT * FROM (WITH s AS (SELECT g, SUM(x) AS sx FROM t GROUP BY g) SELECT * FROM s WHERE sx > 3) q",
    "WITH c AS (SELECT 10 AS m) SELECT g, (WITH c AS (SELECT 1 AS m) SELECT m FROM c) AS inner_m, "
    "(SELECT m FROM c) AS outer_m FROM t",
    # A WITH query named as a table shadows it, its own definition reading the table (patch 0115): the
    # table was read instead, silently (every row of t; u's z where the CTE has x).
    "WITH t AS (SELECT g, x FROM t WHERE x > 2) SELECT g, x FROM t",
    "WITH u AS (SELECT g, x FROM t WHERE x > 2) SELECT t.g, t.y, u.x FROM t JOIN u ON t.g = u.g",
    "SELECT g, (WITH t AS (SELECT 1 AS x) SELECT MAX(x) FROM t) AS one, x FROM t",
    "WITH t AS (SELECT g, x FROM t WHERE x > 2), s AS (SELECT g, COUNT(*) AS n FROM t GROUP BY g) SELECT * FROM s",
])
def test_subqueries_with_their_own_ctes_match_duckdb(client: pr.Client, query: str) -> None:
    got, want = both_answers(client, query, t=T, u=U)
    assert unordered(got.rows()) == unordered(want.rows()), query


@pytest.mark.parametrize("query", [
    # A SELECT of only scalar subqueries keeps every row (patch 0075): it was one row.
    "SELECT (SELECT MAX(z) FROM u) AS m FROM t",
    "SELECT (SELECT MAX(z) FROM u) + 1 AS m, CASE WHEN (SELECT MIN(z) FROM u) > 5 THEN 'y' ELSE 'n' END AS c FROM t",
    "SELECT (SELECT COUNT(*) FROM u) AS n FROM t WHERE x > 2",
    "SELECT COUNT(*) AS n, (SELECT MAX(z) FROM u) AS m FROM t",
    "SELECT g, COUNT(*) AS n, (SELECT MAX(z) FROM u) AS m FROM t GROUP BY g",
])
def test_selects_of_scalar_subqueries_keep_every_row_as_duckdb(client: pr.Client, query: str) -> None:
    got, want = both_answers(client, query, t=T, u=U)
    assert unordered(got.rows()) == unordered(want.rows()), query


@pytest.mark.parametrize("query", [
    "SELECT id FROM t WHERE k IN (SELECT k FROM u)",
    "SELECT id FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.k = t.k)",
    "SELECT id, (SELECT MAX(y) FROM u WHERE u.k = t.k) AS m FROM t",
    "SELECT id FROM t WHERE x > (SELECT AVG(y) FROM u WHERE u.k = t.k) - 1300",
])
def test_subqueries_keep_the_order_of_the_rows(client: pr.Client, query: str) -> None:
    # A filter or projection of t keeps t's order (patch 0090): the joins they are lowered to
    # came back reordered on a table this large.
    rng = random.Random(3)
    n = 200_000
    t = pl.DataFrame({"id": range(n), "k": [rng.randrange(5000) for _ in range(n)],
                      "x": [rng.uniform(-2000, 2000) for _ in range(n)]})
    u = pl.DataFrame({"k": range(0, 5000, 2), "y": range(2500)})
    got = client.sql(query, t=client.from_polars(t), u=client.from_polars(u)).collect()
    assert got.height > 1000
    assert got["id"].is_sorted()
