"""Set operations and grouping sets over the server's SQL, against DuckDB's answers: ORDER BY over a
UNION/INTERSECT/EXCEPT by the result's names (patch 0042), INTERSECT ALL and EXCEPT ALL and set operations
inside set operations (0043), GROUP BY ROLLUP, CUBE and GROUPING SETS with GROUPING() (0044), ORDER BY an
aggregate of the groups (0046), SELECT * after USING (0047), row values with IN (0048), DISTINCT ON over the
input's columns (0080)."""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest

import polaroid as pr
from sql_oracle import both_answers, same_rows, unordered

T = pl.DataFrame({"a": [1, 1, 1, 2, 2, None, None, 3], "b": ["x", "x", "x", "y", "y", None, None, "z"]})
U = pl.DataFrame({"a": [1, 1, 2, None, 4, 4], "b": ["x", "x", "y", None, "w", "w"]})


@pytest.mark.parametrize("query", [
    "SELECT a FROM t UNION ALL SELECT a AS other FROM u ORDER BY a DESC NULLS LAST",
    "SELECT a AS k FROM t UNION SELECT a FROM u ORDER BY k NULLS FIRST LIMIT 3",
    "SELECT a, b FROM t UNION ALL SELECT a, b FROM u ORDER BY b NULLS LAST, a NULLS LAST LIMIT 5 OFFSET 2",
    "SELECT a FROM t EXCEPT SELECT a FROM u ORDER BY a",
    "SELECT b FROM u INTERSECT SELECT b FROM t ORDER BY b NULLS LAST",
])
def test_order_by_sorts_the_result_of_a_set_operation(client: pr.Client, query: str) -> None:
    """ORDER BY names the result's columns: it failed when an operand had no column of that name."""
    got, want = both_answers(client, query, t=T, u=U)
    assert got.rows() == want.rows(), query


@pytest.mark.parametrize("query", [
    "SELECT a, b FROM t INTERSECT ALL SELECT a, b FROM u",
    "SELECT a, b FROM t EXCEPT ALL SELECT a, b FROM u",
    "SELECT a FROM u EXCEPT ALL SELECT a FROM t",
    "SELECT b FROM t INTERSECT ALL SELECT b FROM u",
    "SELECT a FROM t EXCEPT SELECT a FROM u UNION ALL SELECT 100",
    "SELECT a FROM t INTERSECT SELECT a FROM u UNION ALL SELECT a FROM u EXCEPT SELECT 4",
    "SELECT a FROM t UNION ALL SELECT a FROM u EXCEPT ALL SELECT a FROM u",
    # An integer column beside a float one: their common type.
    "SELECT a FROM t INTERSECT SELECT a * 1.0 FROM u",
    "SELECT a, b FROM t EXCEPT ALL SELECT a / 2.0, b FROM u",
])
def test_intersect_all_except_all_and_nested_set_operations_match_duckdb(client: pr.Client, query: str) -> None:
    """INTERSECT ALL keeps min(m, n) copies of a row, EXCEPT ALL m - n (both were refused); an EXCEPT in
    front of a UNION was answered as an INTERSECT."""
    got, want = both_answers(client, query, t=T, u=U)
    assert unordered(got.rows()) == unordered(want.rows()), query


G = pl.DataFrame({
    "sym": ["a", "a", "b", "b", "b", None, "c", "a"],
    "venue": ["x", "y", "x", "x", "y", "x", None, "x"],
    "size": [1, 2, 2, 3, None, 5, 6, 7],
    "px": [1.5, 2.5, None, 4.0, 5.0, 6.5, -1.0, 2.0],
    "ts": [dt.datetime(2024, 1, 1, 9, 30 + m // 3) for m in range(8)],
})


@pytest.mark.parametrize("query", [
    "SELECT sym, venue, SUM(size) AS s, COUNT(*) AS n FROM g GROUP BY ROLLUP (sym, venue)",
    "SELECT sym, venue, SUM(size) AS s, AVG(px) AS p FROM g GROUP BY CUBE (sym, venue)",
    "SELECT sym, venue, SUM(size) AS s FROM g GROUP BY GROUPING SETS ((sym), (venue), ())",
    "SELECT sym, venue, SUM(size) AS s FROM g GROUP BY GROUPING SETS ((sym, venue), (sym))",
    "SELECT sym, venue, SUM(size) AS s, GROUPING(sym) AS gs, GROUPING(sym, venue) AS gsv FROM g "
    "GROUP BY ROLLUP (sym, venue)",
    "SELECT COALESCE(sym, 'all') AS k, SUM(size) AS s FROM g GROUP BY ROLLUP (sym)",
    "SELECT sym, venue, MAX(px) AS m FROM g GROUP BY sym, ROLLUP (venue)",
    "SELECT sym AS k, SUM(size) AS s FROM g GROUP BY ROLLUP (k)",
    "SELECT sym, SUM(size) AS s FROM g GROUP BY ROLLUP (1)",
    "SELECT sym, venue, SUM(size) AS s FROM g GROUP BY ROLLUP (sym, venue) HAVING SUM(size) > 3",
    "SELECT sym, COUNT(DISTINCT venue) AS n, MEDIAN(px) AS m, MAX(venue) AS v FROM g GROUP BY ROLLUP (sym)",
    "SELECT DATE_TRUNC('minute', ts) AS minute, sym, SUM(size) AS s FROM g GROUP BY CUBE (DATE_TRUNC('minute', ts), sym)",
    "SELECT sym, venue, SUM(size) AS s FROM g GROUP BY ROLLUP ((sym, venue))",
    "SELECT sym FROM g GROUP BY ROLLUP (sym)",
    "SELECT sym, SUM(size) AS s FROM g WHERE px > 0 GROUP BY CUBE (sym)",
])
def test_rollup_cube_and_grouping_sets_match_duckdb(client: pr.Client, query: str) -> None:
    """Subtotals and totals in one query (all three were refused)."""
    got, want = both_answers(client, query, g=G)
    assert same_rows(unordered(got.rows()), unordered(want.rows())), (query, got, want)


def test_a_rollup_ordered_by_its_grouping_by_hand(client: pr.Client) -> None:
    df = pl.DataFrame({"sym": ["a", "a", "b"], "venue": ["x", "y", "x"], "size": [1, 2, 4]})
    got = client.sql("SELECT sym, venue, SUM(size) AS size, GROUPING(sym, venue) AS level FROM df "
                     "GROUP BY ROLLUP (sym, venue) ORDER BY level, sym, venue LIMIT 5",
                     df=client.from_polars(df)).collect()
    assert got.rows() == [("a", "x", 1, 0), ("a", "y", 2, 0), ("b", "x", 4, 0), ("a", None, 3, 1), ("b", None, 4, 1)]


@pytest.mark.parametrize(("query", "says"), [
    ("SELECT sym, SUM(size) AS s, RANK() OVER (ORDER BY SUM(size)) AS r FROM g GROUP BY ROLLUP (sym)",
     "with window functions"),
    ("SELECT * FROM g GROUP BY ROLLUP (sym)", "with a wildcard"),
])
def test_grouping_sets_it_cannot_answer_are_refused_by_name(client: pr.Client, query: str, says: str) -> None:
    with pytest.raises(pr.InvalidArgumentError, match=says):
        client.sql(query, g=client.from_polars(G)).collect()


@pytest.mark.parametrize("query", [
    "SELECT sym, COUNT(*) AS n FROM g GROUP BY sym ORDER BY COUNT(*) DESC, sym NULLS LAST",
    "SELECT sym FROM g GROUP BY sym ORDER BY COUNT(*) DESC, sym NULLS LAST",
    "SELECT sym, SUM(size) FROM g GROUP BY sym ORDER BY SUM(size) DESC NULLS LAST, sym NULLS LAST",
    "SELECT sym, SUM(size) AS s FROM g GROUP BY sym ORDER BY MAX(px) NULLS LAST, sym NULLS LAST",
    "SELECT sym, venue, SUM(size) AS s FROM g GROUP BY sym, venue ORDER BY SUM(size) * 1.0 / COUNT(*) NULLS LAST, "
    "sym NULLS LAST, venue NULLS LAST",
    "SELECT sym, SUM(size) AS s FROM g GROUP BY sym HAVING COUNT(*) > 1 ORDER BY COUNT(*) DESC, sym LIMIT 2",
])
def test_groups_ordered_by_an_aggregate_match_duckdb(client: pr.Client, query: str) -> None:
    """`ORDER BY COUNT(*) DESC` came back in no order: the aggregate was taken over the grouped rows."""
    got, want = both_answers(client, query, g=G)
    assert same_rows(got.rows(), want.rows()), (query, got, want)


def test_select_star_after_using_shows_the_key_once(client: pr.Client) -> None:
    """SQL's `*` after `JOIN ... USING (k)` has one k (patch 0047; the right table's copy came as `k:u`)."""
    for join in ("JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"):
        got, want = both_answers(client, f"SELECT * FROM t {join} u USING (a, b)", t=T, u=U)
        assert got.columns == want.columns == ["a", "b"], join
        assert unordered(got.rows()) == unordered(want.rows()), join
    # A self join: the keys once, the other columns of both (DuckDB names the second `size_1`, polars `size:h`).
    got, want = both_answers(client, "SELECT * FROM g JOIN g AS h USING (sym, venue)", g=G)
    assert got.columns[:2] == want.columns[:2] == ["sym", "venue"]
    assert len(got.columns) == len(want.columns) == 2 + 2 * (len(G.columns) - 2)
    assert unordered(got.rows()) == unordered(want.rows())


# Worked with PostgreSQL's rules (DuckDB compares rows as structs, a null equal to a null): a row is
# in the set when each value equals the member's; a null compares unknown.
R = pl.DataFrame({"g": ["a", "a", "b", "b", "c", None], "h": ["x", "y", "x", None, "z", "x"], "x": [1, 2, 3, 4, 5, 6]})
S = pl.DataFrame({"g": ["a", "b", None], "h": ["x", "x", "x"], "z": [10, 20, 30]})


@pytest.mark.parametrize(("query", "xs"), [
    ("SELECT x FROM r WHERE (g, h) IN (SELECT g, h FROM s) ORDER BY x", [1, 3]),
    ("SELECT x FROM r WHERE (g, h) IN (SELECT g, h FROM s WHERE z > 15) ORDER BY x", [3]),
    ("SELECT x FROM r WHERE (g, x) IN (SELECT g, z / 10 FROM s) ORDER BY x", [1]),
    ("SELECT x FROM r WHERE (g, h) IN (('a', 'x'), ('b', 'x')) ORDER BY x", [1, 3]),
    ("SELECT x FROM r WHERE (g, h) NOT IN (('a', 'x'), ('b', 'x')) ORDER BY x", [2, 5]),
])
def test_row_values_with_in_by_hand(client: pr.Client, query: str, xs: list[int]) -> None:
    """`(a, b) IN (...)` (patch 0048): it was refused ("expression `(g, h)` is not currently supported")."""
    got = client.sql(query, r=client.from_polars(R), s=client.from_polars(S)).collect()
    assert got["x"].to_list() == xs


def test_row_values_in_a_list_are_three_valued(client: pr.Client) -> None:
    """PostgreSQL 15 answers t, f, f, f, null, null (`(g, h) IN (('a', 'x'), ('c', NULL))`)."""
    got = client.sql("SELECT (g, h) IN (('a', 'x'), ('c', NULL)) AS m FROM r ORDER BY x",
                     r=client.from_polars(R)).collect()
    assert got["m"].to_list() == [True, False, False, False, None, None]


def test_row_values_not_in_a_subquery_are_refused_by_name(client: pr.Client) -> None:
    with pytest.raises(pr.InvalidArgumentError, match="write NOT EXISTS"):
        client.sql("SELECT x FROM r WHERE (g, h) NOT IN (SELECT g, h FROM s)",
                   r=client.from_polars(R), s=client.from_polars(S)).collect()


def _trades(seed: int) -> pl.DataFrame:
    rng = random.Random(seed)
    n = 200
    start = dt.datetime(2024, 3, 8, 9, 30)
    return pl.DataFrame({
        "sym": [rng.choice(["AAPL", "MSFT", "IBM", None]) for _ in range(n)],
        # Distinct times: the first row in their order is one row.
        "ts": [start + dt.timedelta(minutes=m) for m in rng.sample(range(4 * 24 * 60), n)],
        "px": [round(rng.uniform(90, 110), 2) for _ in range(n)],
        "sz": [rng.randint(1, 500) for _ in range(n)],
    })


@pytest.mark.parametrize("query", [
    # The latest price per symbol, PostgreSQL's idiom (it failed: `ts` not found).
    "SELECT DISTINCT ON (sym) sym, px FROM t ORDER BY sym NULLS FIRST, ts DESC",
    "SELECT DISTINCT ON (sym) px, sz FROM t ORDER BY sym NULLS FIRST, ts",
    # The first trade of each symbol and day: a key of an expression (it was refused).
    "SELECT DISTINCT ON (sym, CAST(ts AS DATE)) sym, CAST(ts AS DATE) AS d, ts, px FROM t "
    "ORDER BY sym NULLS FIRST, CAST(ts AS DATE), ts",
    "SELECT DISTINCT ON (sym) sym, px FROM t WHERE sz > 250 ORDER BY sym NULLS FIRST, px DESC, ts LIMIT 2",
    # A bare name of ORDER BY is the output's column (the alias); an ordinal its item.
    "SELECT DISTINCT ON (sym) sym, -px AS px FROM t ORDER BY sym NULLS FIRST, px DESC, ts",
    "SELECT DISTINCT ON (s) sym AS s, px, ts FROM t ORDER BY 1 NULLS FIRST, 3 DESC",
    "SELECT DISTINCT ON (sym) * FROM t ORDER BY sym NULLS FIRST, sz DESC, ts",
])
def test_distinct_on_matches_duckdb(client: pr.Client, query: str) -> None:
    got, want = both_answers(client, query, t=_trades(5))
    assert want.height > 1
    assert got.columns == want.columns
    assert same_rows(got.rows(), want.rows()), query


@pytest.mark.parametrize("query", [
    # Refused before (patch 0081): one column per value, the aggregate over its rows.
    "SELECT * FROM (SELECT CAST(ts AS DATE) AS d, sym, sz FROM t) PIVOT (SUM(sz) FOR sym IN ('AAPL', 'MSFT', 'XYZ'))",
    "SELECT * FROM (SELECT CAST(ts AS DATE) AS d, sym, sz FROM t) PIVOT (COUNT(sz) FOR sym IN ('AAPL', 'IBM'))",
    "SELECT * FROM (SELECT CAST(ts AS DATE) AS d, sym, sz, px FROM t) "
    "PIVOT (SUM(sz) AS vol, MAX(px) AS hi FOR sym IN ('AAPL' AS a, 'IBM' AS i))",
    "SELECT p.d, p.AAPL - p.MSFT AS spread FROM (SELECT CAST(ts AS DATE) AS d, sym, px FROM t) "
    "PIVOT (AVG(px) FOR sym IN ('AAPL', 'MSFT')) AS p WHERE p.d > DATE '2024-03-09'",
    "SELECT * FROM (SELECT sym, sz FROM t) PIVOT (SUM(sz) FOR sym IN ('AAPL', 'MSFT'))",
    "SELECT * FROM (SELECT CAST(ts AS DATE) AS d, sym, sz FROM t WHERE sz > 100) "
    "PIVOT (SUM(sz) FILTER (WHERE sz < 400) FOR sym IN ('AAPL', 'MSFT'))",
    # UNPIVOT: a row per input row and listed column; nulls dropped unless INCLUDE NULLS.
    "SELECT * FROM (SELECT ts, sz, CASE WHEN sz > 250 THEN sz END AS big FROM t) UNPIVOT (v FOR k IN (sz, big))",
    "SELECT * FROM (SELECT ts, sz, CASE WHEN sz > 250 THEN sz END AS big FROM t) "
    "UNPIVOT INCLUDE NULLS (v FOR k IN (sz AS size, big))",
])
def test_pivot_and_unpivot_match_duckdb(client: pr.Client, query: str) -> None:
    got, want = both_answers(client, query, t=_trades(9))
    assert want.height > 0
    assert got.columns == want.columns
    assert same_rows(unordered(got.rows()), unordered(want.rows())), query


def test_a_pivot_over_a_subquery_s_values_is_refused_by_name(client: pr.Client) -> None:
    # A dynamic pivot (its columns known only from the data); DuckDB does not parse it either.
    query = "SELECT * FROM (SELECT sym, sz FROM t) PIVOT (SUM(sz) FOR sym IN (SELECT DISTINCT sym FROM t))"
    with pytest.raises(pr.InvalidArgumentError, match="PIVOT takes a list of values"):
        client.sql(query, t=client.from_polars(_trades(9))).collect()


@pytest.mark.parametrize("query", [
    # Row values IN a subquery that groups (patch 0082; refused before): the latest trade per symbol.
    "SELECT sym, ts, px FROM t WHERE (sym, ts) IN (SELECT sym, MAX(ts) FROM t GROUP BY sym)",
    "SELECT sym, ts, px FROM t WHERE sz > 100 AND (sym, CAST(ts AS DATE)) IN "
    "(SELECT sym, MIN(CAST(ts AS DATE)) FROM t GROUP BY sym HAVING COUNT(*) > 10)",
    "SELECT sym, ts FROM t WHERE (sym, sz) IN (SELECT sym, MAX(sz) FROM t GROUP BY sym UNION SELECT 'IBM', 7)",
    # Unaliased constants beside a grouping (patch 0083; they failed, `literal` not found).
    "SELECT sym, MAX(ts), 1, 'k', NULL FROM t GROUP BY sym",
    "SELECT sym, 2 * 3, COUNT(*) FROM t GROUP BY sym HAVING COUNT(*) > 10",
])
def test_row_values_in_groupings_and_constants_beside_groups_match_duckdb(client: pr.Client, query: str) -> None:
    got, want = both_answers(client, query, t=_trades(13))
    assert want.height > 0
    assert same_rows(unordered(got.rows()), unordered(want.rows())), query
