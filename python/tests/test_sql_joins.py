"""JOIN ... ON conditions over the server's SQL (patch 0023), against DuckDB's answers.

Every join type keeps SQL's meaning whatever the ON condition holds beside its keys: an outer join
null-extends the rows no pair satisfies (polars' `join_where` answered these as inner joins), and
a semi or anti join keeps (or drops) whole rows of its left table.
"""

from __future__ import annotations

import datetime as dt
import random
import re

import duckdb
import polars as pl
import pytest

import polaroid as pr
from conftest import Server
from sql_oracle import both_answers, same_rows, unordered


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


def _ticks(seed: int) -> dict[str, pl.DataFrame]:
    """Trades and quotes of a few symbols (nulls among symbols and times), a quote's (sym, ts) unique:
    DuckDB picks any one of several quotes at one time."""
    rng = random.Random(seed)
    base = dt.datetime(2024, 1, 2, 9, 30)
    at = lambda: None if rng.random() < 0.05 else base + dt.timedelta(seconds=rng.randrange(0, 120))  # noqa: E731
    t = pl.DataFrame({"sym": [rng.choice(["a", "b", "c", None]) for _ in range(60)], "ts": [at() for _ in range(60)],
                      "px": [round(rng.uniform(10, 20), 2) for _ in range(60)]}).with_row_index("id")
    q = pl.DataFrame({"sym": [rng.choice(["a", "b", "d", None]) for _ in range(50)], "ts": [at() for _ in range(50)],
                      "bid": [round(rng.uniform(10, 20), 2) for _ in range(50)]})
    return {"t": t, "q": q.unique(["sym", "ts"], keep="first", maintain_order=True)}


# DuckDB's ASOF JOIN (patch 0064): a parse error before ("Expected: MATCH_CONDITION").
ASOF_JOINS = [
    "SELECT t.id, t.sym, t.ts, t.px, q.bid, q.ts AS qts FROM t ASOF JOIN q ON t.sym = q.sym AND t.ts >= q.ts",
    "SELECT t.id, q.bid, q.ts AS qts FROM t ASOF LEFT JOIN q ON t.sym = q.sym AND t.ts >= q.ts",
    "SELECT t.id, q.bid FROM t ASOF JOIN q ON t.sym = q.sym AND t.ts > q.ts",
    "SELECT t.id, q.bid FROM t ASOF LEFT JOIN q ON t.sym = q.sym AND q.ts <= t.ts",
    "SELECT t.id, q.bid FROM t ASOF JOIN q ON t.sym = q.sym AND t.ts <= q.ts",
    "SELECT t.id, q.bid FROM t ASOF LEFT OUTER JOIN q ON q.sym = t.sym AND t.ts < q.ts",
    "SELECT t.id, q.bid FROM t ASOF JOIN q ON t.sym = q.sym AND t.ts + INTERVAL '1 second' >= q.ts",
    "SELECT id, sym, ts, bid FROM t ASOF JOIN q USING (sym, ts)",
    "SELECT * FROM t ASOF LEFT JOIN q USING (sym, ts)",
    "SELECT t.id, w.bid FROM t ASOF JOIN (SELECT sym, ts, bid FROM q WHERE bid > 12) AS w ON t.sym = w.sym AND t.ts >= w.ts",
    # A condition on one table filters the quotes searched, or the trades that search.
    "SELECT t.id, q.bid FROM t ASOF JOIN q ON t.sym = q.sym AND t.ts >= q.ts AND q.bid > 12",
    "SELECT t.id, q.bid FROM t ASOF LEFT JOIN q ON t.sym = q.sym AND t.ts >= q.ts AND t.px > 15",
    "SELECT t.sym, COUNT(*) AS n, AVG(t.px - q.bid) AS edge FROM t ASOF JOIN q ON t.sym = q.sym AND t.ts >= q.ts GROUP BY t.sym",
    "SELECT t.id, q.bid, u.bid AS later FROM t ASOF JOIN q ON t.sym = q.sym AND t.ts >= q.ts "
    "ASOF LEFT JOIN q AS u ON t.sym = u.sym AND t.ts < u.ts",
]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("query", ASOF_JOINS)
def test_asof_joins_match_duckdb(client: pr.Client, query: str, seed: int) -> None:
    got, want = both_answers(client, query, **_ticks(seed))
    assert same_rows(unordered(got.rows()), unordered(want.rows())), query


def test_asof_join_without_keys_and_snowflake_s_form_match_duckdb(client: pr.Client) -> None:
    frames = _ticks(3)
    frames["q"] = frames["q"].unique(["ts"], keep="first", maintain_order=True)  # one quote a time
    got, want = both_answers(client, "SELECT t.id, q.bid FROM t ASOF JOIN q ON t.ts >= q.ts", **frames)
    assert unordered(got.rows()) == unordered(want.rows())
    # Snowflake's MATCH_CONDITION keeps every left row, as DuckDB's ASOF LEFT JOIN.
    frames = _ticks(3)
    got = client.sql("SELECT t.id, q.bid FROM t ASOF JOIN q MATCH_CONDITION (t.ts >= q.ts) ON t.sym = q.sym",
                     **{name: client.from_polars(df) for name, df in frames.items()}).collect()
    _, want = both_answers(client, "SELECT t.id, q.bid FROM t ASOF LEFT JOIN q ON t.sym = q.sym AND t.ts >= q.ts", **_ticks(3))
    assert unordered(got.rows()) == unordered(want.rows())


def test_the_prevailing_quote_by_asof_join_worked_by_hand(client: pr.Client) -> None:
    at = lambda s: dt.datetime(2024, 1, 2, 9, 30, s)  # noqa: E731
    t = pl.DataFrame({"sym": ["a", "a", "b", "b"], "ts": [at(5), at(9), at(3), at(8)], "px": [1.0, 2.0, 3.0, 4.0]})
    q = pl.DataFrame({"sym": ["a", "a", "b"], "ts": [at(4), at(8), at(9)], "bid": [10.0, 11.0, 12.0]})
    got = client.sql("SELECT t.sym, t.ts, q.bid FROM t ASOF LEFT JOIN q ON t.sym = q.sym AND t.ts >= q.ts ORDER BY t.sym, t.ts",
                     t=client.from_polars(t), q=client.from_polars(q)).collect()
    # a's trades at :05 and :09 see the quotes of :04 and :08; b's quote comes at :09, after both its trades.
    assert got.rows() == [("a", at(5), 10.0), ("a", at(9), 11.0), ("b", at(3), None), ("b", at(8), None)]


def test_an_asof_join_of_uploads_named_in_the_query_through_the_client_and_flight_sql(client: pr.Client,
                                                                                       server: Server) -> None:
    """The hand-worked trades and quotes uploaded by name and named only in the query: the client's SQL and
    Arrow Flight SQL resolve names among the caller's uploads and tables, which needs the query's tables
    listed. sqlparser could not list an ASOF JOIN's ("Expected: MATCH_CONDITION, found: ON"): Flight SQL
    refused the query and the client's SQL said "relation 'asof_trades' was not found"."""
    import pyarrow.flight as flight
    at = lambda s: dt.datetime(2024, 1, 2, 9, 30, s)  # noqa: E731
    # The uploads live as long as these frames do.
    trades = client.from_polars(pl.DataFrame({"sym": ["a", "a", "b", "b"], "ts": [at(5), at(9), at(3), at(8)],
                                              "px": [1.0, 2.0, 3.0, 4.0]}), name="asof_trades")
    quotes = client.from_polars(pl.DataFrame({"sym": ["a", "a", "b"], "ts": [at(4), at(8), at(9)],
                                              "bid": [10.0, 11.0, 12.0]}), name="asof_quotes")
    query = ("SELECT t.sym, t.ts, q.bid FROM asof_trades AS t ASOF LEFT JOIN asof_quotes AS q "
             "ON t.sym = q.sym AND t.ts >= q.ts ORDER BY t.sym, t.ts")
    want = [("a", at(5), 10.0), ("a", at(9), 11.0), ("b", at(3), None), ("b", at(8), None)]
    assert client.sql(query).collect().rows() == want
    by_flight = flight.connect(f"grpc://{server.target}")
    info = by_flight.get_flight_info(flight.FlightDescriptor.for_command(query))
    assert pl.from_arrow(by_flight.do_get(info.endpoints[0].ticket).read_all()).rows() == want
    # DuckDB's ASOF JOIN (no LEFT) drops b's trades, which meet no quote; one frame given, one named.
    inner = query.replace("ASOF LEFT JOIN", "ASOF JOIN")
    assert client.sql(inner, asof_quotes=quotes).collect().rows() == want[:2]


@pytest.mark.parametrize("query, why", [
    ("SELECT t.id FROM t ASOF JOIN q ON t.sym = q.sym", "one inequality"),
    ("SELECT t.id FROM t ASOF JOIN q ON t.sym = q.sym AND t.ts >= q.ts AND t.px >= q.bid", "one inequality"),
    ("SELECT t.id FROM t ASOF JOIN q ON t.sym = q.sym OR t.ts >= q.ts", "must compare a column of each table"),
])
def test_asof_joins_refuse_what_they_cannot_answer(client: pr.Client, query: str, why: str) -> None:
    frames = _ticks(0)
    with pytest.raises(pr.InvalidArgumentError, match=why):
        client.sql(query, **{name: client.from_polars(df) for name, df in frames.items()}).collect()


SCOPE_FRAMES = {"t": pl.DataFrame({"k": [1, 2, 3], "x": [10, 20, 30]}), "u": pl.DataFrame({"k": [2, 3, 3]}),
                "v": pl.DataFrame({"k": [3]})}


@pytest.mark.parametrize(("query", "says"), [
    # A qualifier naming a table out of its scope found the registered table, then read its
    # column name on the rows at hand, silently (patch 0077): a join condition true on every pair
    # (a cross join), `WHERE u.k > 2` filtering on t's own k, a CTE comparing u's k with itself.
    ("SELECT t.k FROM t JOIN u ON t.k = v.k", "the join condition `t.k = v.k` reads table 'v', which is not in the join "
                                              "(its tables: t, u)"),
    ("SELECT a.k FROM t a JOIN u b ON a.k = t.k", "reads table 't', which is not in the join (its tables: a, b); "
                                                  "it is named 'a' there"),
    ("SELECT t.k FROM t JOIN (u JOIN v ON u.k = v.k) AS r ON t.k = u.k", "reads table 'u', which is not in the join "
                                                                          "(its tables: t, r)"),
    ("SELECT t.k FROM t WHERE u.k > 2", "`u.k` reads table 'u', which is not in the FROM of its query (its tables: t)"),
    ("SELECT x FROM t ORDER BY u.k", "`u.k` reads table 'u'"),
    ("SELECT COUNT(*) AS n FROM t GROUP BY u.k", "`u.k` reads table 'u'"),
    ("SELECT u.* FROM t", "`u.*` reads table 'u'"),
    ("SELECT t.x FROM t AS a", "`t.x` reads table 't', which is not in the FROM of its query (its tables: a); "
                               "it is named 'a' there"),
    ("WITH w AS (SELECT * FROM u WHERE u.k = t.k) SELECT t.k FROM t, w", "`t.k` reads table 't', which is not in the "
                                                                          "FROM of its query (its tables: u)"),
    ("SELECT t.k FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.k = v.k)", "`v.k` reads table 'v', which is not in the "
                                                                          "FROM of its query (its tables: u)"),
])
def test_a_qualifier_naming_a_table_out_of_its_scope_is_refused(client: pr.Client, query: str, says: str) -> None:
    with pytest.raises(pr.InvalidArgumentError, match=re.escape(says)):
        client.sql(query, **{n: client.from_polars(df) for n, df in SCOPE_FRAMES.items()}).collect()
    # DuckDB refuses each too.
    con = duckdb.connect()
    for n, df in SCOPE_FRAMES.items():
        con.register(n, df.to_arrow())
    with pytest.raises(duckdb.BinderException):
        con.sql(query).fetchall()


def test_a_derived_table_reading_a_table_beside_it_is_refused(client: pr.Client) -> None:
    # It compared u's k with itself: every row of t beside every row of u, silently. PostgreSQL
    # refuses it without LATERAL (which we do not support); DuckDB reads it as a lateral join.
    query = "SELECT t.k FROM t, (SELECT * FROM u WHERE u.k = t.k) d"
    says = ("`t.k` reads table 't', which is not in the FROM of its query (its tables: u); a derived table does not "
            "see the other relations of the FROM it is in")
    with pytest.raises(pr.InvalidArgumentError, match=re.escape(says)):
        client.sql(query, **{n: client.from_polars(df) for n, df in SCOPE_FRAMES.items()}).collect()


@pytest.mark.parametrize("query", [
    "SELECT a.x FROM t a JOIN t b ON a.k = b.k + 1",
    "SELECT t.x FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.k = t.k)",
    "SELECT t.x, (SELECT COUNT(*) FROM u AS w WHERE w.k = t.k) AS n FROM t",
    "WITH c AS (SELECT k AS j FROM u) SELECT c.j, t.x FROM t JOIN c ON c.j = t.k",
    "SELECT d.k FROM t JOIN (SELECT k FROM u) d ON d.k = t.k ORDER BY t.x",
    "SELECT t.k FROM t JOIN u ON t.k = u.k JOIN v ON v.k <= t.k",
    "SELECT q.k FROM (SELECT t.k FROM t) q WHERE q.k > 1",
])
def test_qualifiers_within_their_scope_answer_as_duckdb(client: pr.Client, query: str) -> None:
    got, want = both_answers(client, query, **SCOPE_FRAMES)
    assert want.height > 0
    assert same_rows(unordered(got.rows()), unordered(want.rows())), query


def _baskets(seed: int) -> pl.DataFrame:
    rng = random.Random(seed)
    lists = [None if rng.random() < 0.1 else [None if rng.random() < 0.1 else rng.randint(-9, 9)
                                               for _ in range(rng.choice([0, 0, 1, 2, 3, 5]))] for _ in range(60)]
    return pl.DataFrame({"id": range(60), "arr": lists}, schema={"id": pl.Int64, "arr": pl.List(pl.Int64)})


@pytest.mark.parametrize("query", [
    # A row whose list is empty or null has no element: it had one, a null (patch 0079).
    "SELECT t.id, e FROM t CROSS JOIN UNNEST(t.arr) AS w(e)",
    "SELECT id, UNNEST(arr) AS e FROM t",
    "SELECT COUNT(*) AS n, COUNT(e) AS m, SUM(e) AS s FROM t CROSS JOIN UNNEST(arr) AS w(e)",
    # The implicit lateral of a FROM list (it failed), the alias qualifying the elements.
    "SELECT t.id, w.e FROM t, UNNEST(t.arr) AS w(e) WHERE w.e > 0",
    # A LEFT JOIN keeps a row without elements, with a null (it was refused).
    "SELECT id, e FROM t LEFT JOIN UNNEST(arr) AS w(e) ON TRUE",
    "SELECT id, COUNT(e) AS n FROM t LEFT JOIN UNNEST(arr) AS w(e) ON TRUE GROUP BY id",
])
def test_unnest_of_list_columns_matches_duckdb(client: pr.Client, query: str) -> None:
    got, want = both_answers(client, query, t=_baskets(11))
    assert want.height > 0
    assert same_rows(unordered(got.rows()), unordered(want.rows())), query


def test_join_keys_of_two_numeric_types_match_duckdb(client: pr.Client) -> None:
    from decimal import Decimal
    rng = random.Random(6)
    levels = pl.DataFrame({"k": [Decimal(rng.randint(9000, 9100)) / 100 for _ in range(30)], "lvl": range(30)},
                          schema={"k": pl.Decimal(8, 2), "lvl": pl.Int64})
    prices = pl.DataFrame({"k": [Decimal(rng.randint(900000, 910000)) / 10000 for _ in range(300)], "id": range(300)},
                          schema={"k": pl.Decimal(12, 4), "id": pl.Int64})
    floats = pl.DataFrame({"k": [rng.randint(9000, 9100) / 100 for _ in range(40)], "f": range(40)})
    ints = pl.DataFrame({"k": [rng.randint(85, 95) for _ in range(40)], "n": range(40)})
    frames = {"levels": levels, "prices": prices, "floats": floats, "ints": ints}
    # Each failed (patch 0089): "datatypes of join keys don't match".
    for query in ["SELECT p.id, l.lvl FROM prices p JOIN levels l ON p.k = l.k",
                  "SELECT id, lvl FROM prices JOIN levels USING (k)",
                  "SELECT f.f, i.n FROM floats f JOIN ints i ON f.k = i.k",
                  "SELECT f, n FROM floats NATURAL JOIN ints",
                  "SELECT f.f, i.n FROM floats f LEFT JOIN ints i ON i.k = f.k AND i.n > 3"]:
        got, want = both_answers(client, query, **frames)
        assert want.height > 0, query
        assert same_rows(unordered(got.rows()), unordered(want.rows())), query


@pytest.mark.parametrize("query", [
    # A LIKE pattern read from a column (patch 0091; refused before): symbols matched to prefixes.
    "SELECT t.sym, r.prefix FROM t JOIN r ON t.sym LIKE r.prefix || '%'",
    "SELECT t.sym, r.pat FROM t, r WHERE t.sym LIKE r.pat",
    "SELECT t.sym, r.pat FROM t, r WHERE t.sym NOT LIKE r.pat AND t.sym ILIKE LOWER(r.pat) || '%'",
])
def test_like_of_a_column_pattern_matches_duckdb(client: pr.Client, query: str) -> None:
    rng = random.Random(12)
    symbols = ["".join(rng.choice("AB.X_") for _ in range(rng.randint(1, 5))) for _ in range(200)] + [None]
    frames = {"t": pl.DataFrame({"sym": symbols}),
              "r": pl.DataFrame({"prefix": ["A", "B.", "X_", "AB", None], "pat": ["A%", "_.%", "%X", "A_B", "%"]})}
    got, want = both_answers(client, query, **frames)
    assert want.height > 10
    assert same_rows(unordered(got.rows()), unordered(want.rows())), query


def _linked_through_the_last(seed: int) -> dict[str, pl.DataFrame]:
    """`a` and `b` share no key: each is linked to `c` alone. Every table has an `id`; `w` is b's and c's,
    `k` a's and c's, `j` b's and c's, so the names a join suffixes depend on the order tables join in."""
    rng = random.Random(seed)
    def keys(n: int, top: int) -> list[int | None]:
        return [None if rng.random() < 0.1 else rng.randint(0, top) for _ in range(n)]
    return {
        "a": pl.DataFrame({"id": range(30), "x": [rng.randint(-50, 50) for _ in range(30)], "k": keys(30, 9)}),
        "b": pl.DataFrame({"id": range(100, 125), "w": [rng.random() for _ in range(25)], "j": keys(25, 7)}),
        "c": pl.DataFrame({"id": range(200, 250), "w": [rng.random() for _ in range(50)], "k": keys(50, 9),
                           "j": keys(50, 7)}),
    }


LINKED_THROUGH_THE_LAST = [
    "SELECT a.id, a.x, b.id AS bid, b.w, c.id AS cid, c.w AS cw FROM a, b, c WHERE a.k = c.k AND b.j = c.j",
    "SELECT a.id, b.id AS bid, c.id AS cid FROM a, b, c WHERE c.k = a.k AND c.j = b.j AND a.x > 0 AND b.w < c.w",
    # Unqualified names that only one table has link the tables too.
    "SELECT x, b.w, c.w AS cw FROM a, b, c WHERE a.k = c.k AND b.j = c.j AND x < 10",
    # A derived table and an explicit join inside the list.
    "SELECT a.id, d.id AS did, c.id AS cid FROM a, (SELECT id, j FROM b WHERE w > 0.2) d, c WHERE a.k = c.k "
    "AND d.j = c.j",
    "SELECT a.id, b.id AS bid, c.id AS cid, e.id AS eid FROM a, b JOIN a e ON e.k = b.j, c WHERE a.k = c.k "
    "AND b.j = c.j",
    "SELECT c.k, COUNT(*) AS n, SUM(b.w) AS w FROM a, b, c WHERE a.k = c.k AND b.j = c.j GROUP BY c.k",
]


@pytest.mark.parametrize("query", LINKED_THROUGH_THE_LAST)
@pytest.mark.parametrize("seed", [1, 2])
def test_a_from_list_linked_through_a_later_table_matches_duckdb(client: pr.Client, query: str, seed: int) -> None:
    got, want = both_answers(client, query, **_linked_through_the_last(seed))
    assert want.height > 0
    assert got.columns == want.columns
    assert same_rows(unordered(got.rows()), unordered(want.rows())), query


def test_a_from_list_joins_through_its_links_not_a_cross_product(client: pr.Client) -> None:
    """`FROM a, b, c WHERE a.k = c.k AND b.j = c.j` joined a with b first, with no condition between them:
    every pair of their rows (TPC-H Q2, Q8 and Q9 crossed every part with every supplier). c, linked to a,
    now joins first."""
    frames = {name: client.from_polars(df) for name, df in _linked_through_the_last(1).items()}
    plan = client.sql("SELECT a.id, b.id AS bid, c.id AS cid FROM a, b, c WHERE a.k = c.k AND b.j = c.j",
                      **frames).explain()
    assert "CROSS JOIN" not in plan, plan
    assert plan.count("INNER JOIN:") == 2, plan
    # With nothing to link b, it is still crossed.
    plan = client.sql("SELECT a.id, b.id AS bid, c.id AS cid FROM a, b, c WHERE a.k = c.k", **frames).explain()
    assert "CROSS JOIN" in plan, plan


def test_select_star_over_a_reordered_from_list_keeps_its_columns_and_names(client: pr.Client) -> None:
    """The columns of `SELECT *` are the FROM list's, in its order, named as that order names them: a
    column whose name an earlier table has is `name:<table>`, whichever table joined first."""
    frames = _linked_through_the_last(3)
    uploaded = {name: client.from_polars(df) for name, df in frames.items()}
    got = client.sql("SELECT * FROM a, b, c WHERE a.k = c.k AND b.j = c.j", **uploaded).collect()
    assert got.columns == ["id", "x", "k", "id:b", "w", "j", "id:c", "w:c", "k:c", "j:c"]
    # The same rows as the tables joined in the order they are listed, by hand.
    want = (frames["a"].join(frames["b"], how="cross", suffix=":b")
            .join(frames["c"].rename(lambda n: f"{n}:c"), left_on=["k", "j"], right_on=["k:c", "j:c"],
                  coalesce=False))
    assert want.height > 0
    assert unordered(got.rows()) == unordered(want.rows())
    # Each qualified name reads its own table's column.
    named = client.sql("SELECT b.w AS bw, c.w AS cw, c.k AS ck, a.k AS ak FROM a, b, c WHERE a.k = c.k "
                       "AND b.j = c.j", **uploaded).collect()
    assert unordered(named.rows()) == unordered(want.select("w", "w:c", "k:c", "k").rows())
