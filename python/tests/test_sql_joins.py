"""JOIN ... ON conditions over the server's SQL (patch 0023), against DuckDB's answers.

Every join type keeps SQL's meaning whatever the ON condition holds beside its keys: an outer join
null-extends the rows no pair satisfies (polars' `join_where` answered these as inner joins), and
a semi or anti join keeps (or drops) whole rows of its left table.
"""

from __future__ import annotations

import random

import polars as pl
import pytest

import polaroid as pr
from sql_oracle import both_answers, unordered


def tables() -> dict[str, pl.DataFrame]:
    rng = random.Random(11)
    n = 60
    return {
        # Keys with nulls and duplicates; `x` and `y` are numbers of two types; `x` is in both tables.
        "t": pl.DataFrame({
            "g": [rng.choice(["a", "b", "c", "e", None]) for _ in range(n)],
            "x": [None if rng.random() < 0.2 else rng.randint(-3, 9) for _ in range(n)],
            "y": [None if rng.random() < 0.2 else round(rng.uniform(-5, 25), 2) for _ in range(n)],
            "s": [rng.choice(["ab", "Cd", None, "x y"]) for _ in range(n)],
        }),
        "u": pl.DataFrame({
            "g": [rng.choice(["a", "b", "d", None]) for _ in range(20)],
            "z": [rng.randint(0, 40) for _ in range(20)],
            "x": [None if rng.random() < 0.2 else rng.randint(-3, 9) for _ in range(20)],
        }),
        "v": pl.DataFrame({"g": ["a", "b", "c"], "w": [100, 200, 300]}),
    }


def assert_matches_duckdb(client: pr.Client, query: str) -> None:
    got, want = both_answers(client, query, **tables())
    assert got.height == want.height, f"{query}: {got.height} rows, DuckDB {want.height}"
    assert unordered(got.rows()) == unordered(want.rows()), query


CONDITIONS = [
    "t.g = u.g",
    "t.g = u.g AND u.z > 15",                    # the right side narrowed
    "u.z > 15 AND t.g = u.g",
    "t.g = u.g AND t.x > 1",                     # the left side narrowed
    "t.g = u.g AND t.x < u.x",                   # keys and a comparison across
    "t.g = u.g AND t.y > u.x",                   # across, a float against an integer
    "t.x < u.x",                                 # no keys: a range join
    "t.y BETWEEN u.x AND u.z",
    "t.x + 1 = u.x",
    "t.g = u.g AND u.z = 20",
    "t.g = u.g AND t.x IS NULL",
    "t.g = u.g AND u.x IS NOT NULL",
    "t.g = u.g AND (t.x = 1 OR u.z > 30)",
    "t.g = u.g AND u.z IN (5, 10, 15, 20, 25)",
    "t.g = u.g AND NOT (u.z BETWEEN 10 AND 30)",
    "t.g = u.g AND t.s LIKE 'a%'",
    "(t.g = u.g)",
    "t.g = u.g OR t.x = u.x",
    "t.g = u.g AND 1 = 0",
    "true",
]


@pytest.mark.parametrize("kind", ["INNER", "LEFT", "RIGHT", "FULL"])
@pytest.mark.parametrize("condition", CONDITIONS)
def test_join_on_any_condition_matches_duckdb(client: pr.Client, kind: str, condition: str) -> None:
    assert_matches_duckdb(client, f"SELECT t.g, t.x, t.y, t.s, u.g AS ug, u.z, u.x AS ux "
                                  f"FROM t {kind} JOIN u ON {condition}")


@pytest.mark.parametrize("kind", ["SEMI", "ANTI"])
@pytest.mark.parametrize("condition", [c for c in CONDITIONS if c != "true"])
def test_semi_and_anti_join_on_any_condition_match_duckdb(client: pr.Client, kind: str, condition: str) -> None:
    assert_matches_duckdb(client, f"SELECT * FROM t {kind} JOIN u ON {condition}")


@pytest.mark.parametrize("query", [
    # Chained: a condition on a table joined before, and on both earlier tables.
    "SELECT t.g, t.x, u.z, v.w FROM t LEFT JOIN u ON t.g = u.g AND u.z > 15 LEFT JOIN v ON u.g = v.g AND v.w < 250",
    "SELECT t.g, t.x, u.z, v.w FROM t LEFT JOIN u ON t.g = u.g FULL JOIN v ON t.g = v.g AND u.z > t.x",
    # Self joins under aliases.
    "SELECT a.g, a.x, b.x AS bx FROM t a LEFT JOIN t b ON a.g = b.g AND a.x < b.x",
    "SELECT a.x, b.x AS bx FROM t AS a FULL JOIN t AS b ON a.x + 8 < b.x",
    # A subquery inside the condition.
    "SELECT t.g, t.x, u.z FROM t LEFT JOIN u ON t.g = u.g AND u.z IN (SELECT w / 10 FROM v)",
    # WHERE after an outer join, and an aggregate over one.
    "SELECT t.g, u.z FROM t LEFT JOIN u ON t.g = u.g AND u.z > 15 WHERE t.x > 0",
    "SELECT t.g, COUNT(u.z) AS n, SUM(u.z) AS total FROM t LEFT JOIN u ON t.g = u.g AND u.z > 15 GROUP BY t.g",
])
def test_joins_in_larger_queries_match_duckdb(client: pr.Client, query: str) -> None:
    assert_matches_duckdb(client, query)


def test_left_join_keeps_every_left_row_worked_by_hand(client: pr.Client) -> None:
    """SQL's LEFT JOIN: every left row, matched where the whole condition holds."""
    t = client.from_polars(pl.DataFrame({"k": [1, 1, 2, 3], "x": [10, 20, 30, 40]}))
    u = client.from_polars(pl.DataFrame({"k": [1, 2, 2], "lim": [15, 100, 5]}))
    got = client.sql("SELECT t.k, t.x, u.lim FROM t LEFT JOIN u ON t.k = u.k AND t.x < u.lim ORDER BY t.x, u.lim",
                     t=t, u=u).collect()
    assert got.rows() == [(1, 10, 15), (1, 20, None), (2, 30, 100), (3, 40, None)]
    anti = client.sql("SELECT k, x FROM t ANTI JOIN u ON t.k = u.k AND t.x < u.lim ORDER BY x", t=t, u=u).collect()
    assert anti.rows() == [(1, 20), (3, 40)]


def test_join_output_columns_are_the_same_for_keys_and_conditions(client: pr.Client) -> None:
    """A right column whose name the left table has is `name:<table>`, whichever way the join ran."""
    frames = {name: client.from_polars(df) for name, df in tables().items()}
    for kind in ["INNER", "LEFT", "RIGHT", "FULL"]:
        for condition in ["t.g = u.g", "t.g = u.g AND t.x < u.x", "t.x < u.x"]:
            columns = client.sql(f"SELECT * FROM t {kind} JOIN u ON {condition}", **frames).collect().columns
            assert columns == ["g", "x", "y", "s", "g:u", "z", "x:u"], (kind, condition)


@pytest.mark.parametrize("kind", ["INNER", "LEFT", "RIGHT", "FULL"])
def test_join_using_reads_the_coalesced_key_and_each_table_s_own(client: pr.Client, kind: str) -> None:
    """`USING (g)`'s `g` is COALESCE(t.g, u.g); `t.g` and `u.g` stay each table's own (patch 0036:
    a RIGHT or FULL join answered the left's null for a row only the right table has)."""
    assert_matches_duckdb(client, f"SELECT g, t.g AS tg, u.g AS ug, t.x, z FROM t {kind} JOIN u USING (g)")
