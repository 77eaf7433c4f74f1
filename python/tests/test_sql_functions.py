"""SQL functions over the server's SQL against DuckDB's and upstream polars' answers: remainders and
`//` (patch 0024), DATE_TRUNC (0025), population spreads and boolean aggregates (0026), casts of text
to timestamps (0027), 64-bit integer sums (0030), positions in null strings (0031), REGEXP_REPLACE (0034),
aggregates of distinct values, ANY_VALUE, PERCENTILE_CONT/DISC and MODE (0038), NOW() and AT TIME ZONE
(0041), LIKE ... ESCAPE (0049), generate_series/range tables (0050), DuckDB's time functions (0061, 0068),
intervals (0062), string functions (0063), aggregates: ARG_MAX, FIRST(x ORDER BY t), REGR_*, KURTOSIS ... (0066),
aggregates of constants (SUM(1), 0071), 64-bit arithmetic of narrow integers (0073) and of integer
literals (0093, 0094), QuestDB's TWAP and VWAP (0099), string functions of categoricals (0103), timestamps without a zone
beside zoned ones (0104)."""

from __future__ import annotations

import datetime as dt
import random
import re

import duckdb
import polars as pl
import pytest

import polaroid as pr
from sql_oracle import both_answers, same_rows, unordered


def test_remainders_take_the_dividend_s_sign(client: pr.Client) -> None:
    """SQL's `%` and MOD are what truncating division leaves: -7 % 3 = -1 (polars' `%`: 2)."""
    df = pl.DataFrame({"a": [-7, 7, -7, 7, 0, None, 5, -9], "b": [3, -3, -3, 3, 5, 2, None, 3],
                       "f": [-7.5, 7.5, -0.5, 2.0, 1.0, None, 3.25, -9.0]},
                      schema={"a": pl.Int64, "b": pl.Int32, "f": pl.Float64})
    query = ("SELECT a % b AS m, MOD(a, b) AS n, f % 2 AS fm, MOD(f, -2) AS fn, -a % 4 AS neg, a // b AS q, "
             "(a // b) * b + a % b = a AS whole FROM df")
    got, want = both_answers(client, query, df=df)
    assert got["m"].to_list() == [-1, 1, -1, 1, 0, None, None, 0]
    assert got["q"].to_list() == [-2, -2, 2, 2, 0, None, None, -3]  # `//` truncates, as DuckDB's
    assert got["n"].to_list() == got["m"].to_list()
    assert got["fm"].to_list() == [-1.5, 1.5, -0.5, 0.0, 1.0, None, 1.25, -1.0]
    assert got.rows() == want.rows()
    assert got.rows() == pl.sql(query, eager=True).rows()  # upstream polars answers SQL's remainder too


PARTS = ["microseconds", "milliseconds", "second", "minute", "hour", "day", "week", "month", "quarter", "year",
         "MINUTES", "Hours"]


@pytest.mark.parametrize("part", PARTS)
def test_date_trunc_matches_duckdb_and_upstream_polars(client: pr.Client, part: str) -> None:
    df = pl.DataFrame({
        "ts": [dt.datetime(2024, 3, 10, 12, 34, 56, 789123), dt.datetime(2023, 12, 31, 23, 59, 59), None,
               dt.datetime(2024, 2, 29, 0, 0, 0, 1), dt.datetime(2024, 1, 1)],
        "d": [dt.date(2024, 3, 10), dt.date(2023, 12, 31), dt.date(2024, 1, 1), None, dt.date(2024, 1, 7)],
    })
    query = f"SELECT DATE_TRUNC('{part}', ts) AS a, DATE_TRUNC('{part}', d) AS b FROM df"
    got = client.sql(query, df=client.from_polars(df)).collect()
    assert got.equals(pl.sql(query, eager=True)), part
    # DuckDB keeps a date a date; PostgreSQL and polars make it a timestamp.
    want = duckdb.sql(f"SELECT DATE_TRUNC('{part}', ts) AS a, CAST(DATE_TRUNC('{part}', d) AS TIMESTAMP) AS b "
                      "FROM df").pl()
    assert got.rows() == want.rows(), part


def test_date_trunc_groups_ticks_by_minute_in_their_time_zone(client: pr.Client) -> None:
    df = pl.DataFrame({
        "ts": [dt.datetime(2024, 3, 10, 6, 59, 30), dt.datetime(2024, 3, 10, 7, 0, 0),
               dt.datetime(2024, 3, 10, 7, 0, 59), dt.datetime(2024, 3, 10, 7, 1, 0)],
        "size": [1, 2, 3, 4],
    }).with_columns(pl.col("ts").dt.replace_time_zone("UTC").dt.convert_time_zone("America/New_York"))
    got = client.sql("SELECT DATE_TRUNC('minute', ts) AS minute, SUM(size) AS size FROM df GROUP BY 1 ORDER BY 1",
                     df=client.from_polars(df)).collect()
    assert got["size"].to_list() == [1, 5, 4]
    assert got["minute"].dtype == pl.Datetime("us", "America/New_York")
    # The minutes, read in UTC: New York's clocks jump from 02:00 EST to 03:00 EDT within them.
    assert got["minute"].dt.convert_time_zone("UTC").dt.replace_time_zone(None).to_list() == [
        dt.datetime(2024, 3, 10, 6, 59), dt.datetime(2024, 3, 10, 7, 0), dt.datetime(2024, 3, 10, 7, 1)]
    local_days = client.sql("SELECT DATE_TRUNC('day', ts) AS day FROM df", df=client.from_polars(df)).collect()
    assert local_days["day"].dt.replace_time_zone(None).unique().to_list() == [dt.datetime(2024, 3, 10)]


@pytest.mark.parametrize("query, message", [
    ("SELECT DATE_TRUNC('decade', ts) FROM df", "does not support the part 'decade'"),
    ("SELECT DATE_TRUNC(ts, 'day') FROM df", "expects a string literal part"),
])
def test_date_trunc_refuses_what_it_cannot_answer(client: pr.Client, query: str, message: str) -> None:
    df = client.from_polars(pl.DataFrame({"ts": [dt.datetime(2024, 1, 1)]}))
    with pytest.raises(pr.InvalidArgumentError, match=message):
        client.sql(query, df=df).collect()


def test_population_spreads_and_boolean_aggregates_match_duckdb(client: pr.Client) -> None:
    """STDDEV_POP/VAR_POP (and the _SAMP spellings), BOOL_AND/BOOL_OR (null over no values), in
    GROUP BY, over a partition, and VAR_POP over window frames (patch 0026)."""
    df = pl.DataFrame({"g": ["a", "a", "b", "b", "c", None, None, "d"], "x": [1, None, 3, 3, 5, 6, 6, None],
                       "y": [1.5, 2.5, None, 4.0, -7.0, 3.0, 3.5, None], "ts": list(range(8))})
    for query in [
        "SELECT STDDEV_POP(y) AS a, VAR_POP(y) AS b, STDDEV_SAMP(y) AS c, VAR_SAMP(y) AS d FROM df",
        "SELECT g, STDDEV_POP(y) AS a, VAR_POP(x) AS b, BOOL_AND(x > 2) AS c, BOOL_OR(x > 4) AS d FROM df "
        "GROUP BY g ORDER BY g",
        "SELECT BOOL_AND(x > 0) AS a, BOOL_OR(x > 100) AS b FROM df WHERE x > 100",
        "SELECT ts, STDDEV_POP(y) OVER (ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS a, "
        "VAR_POP(y) OVER (ORDER BY ts) AS b, BOOL_OR(x > 4) OVER (PARTITION BY g) AS c FROM df ORDER BY ts",
    ]:
        got, want = both_answers(client, query, df=df)
        assert same_rows(got.rows(), want.rows()), (query, got.rows(), want.rows())
    every = client.sql("SELECT g, EVERY(y > 0) AS e FROM df GROUP BY g ORDER BY g", df=client.from_polars(df)).collect()
    assert every.rows() == [("a", True), ("b", True), ("c", False), ("d", None), (None, True)]



TEXT_TIMES = ["2024-01-05T10:00:00", "2024-01-05 10:00:00", "2024-01-05 10:00:00.123456", "2024-01-05 10:00:00.5",
              "2024-01-05", "2024-01-05T10:00:00Z", "2024-01-05 10:00", "2023-12-31T23:59:59.999", None]


def test_casts_of_text_to_timestamps_dates_and_times_match_duckdb(client: pr.Client) -> None:
    """CAST reads the text forms SQL writes ('2024-01-05 10:00:00'); polars' cast read only
    ISO 8601's 'T' form, and no TIME (patch 0027)."""
    df = pl.DataFrame({"k": list(range(len(TEXT_TIMES))), "s": TEXT_TIMES,
                       "t": ["10:00:00", "10:00:00.5", "10:00", "23:59:59.999999", None, "00:00", "12:30:01", None,
                             None]})
    query = ("SELECT k, CAST(s AS TIMESTAMP) AS ts, CAST(s AS DATE) AS d, s::TIMESTAMP AS ts2, "
             "TRY_CAST(s AS DATE) AS d2, CAST(t AS TIME) AS tm FROM df ORDER BY k")
    got, want = both_answers(client, query, df=df)
    assert got.rows() == want.rows()
    assert got["ts"][1] == dt.datetime(2024, 1, 5, 10)


def test_casts_of_unreadable_text_fail_or_are_null(client: pr.Client) -> None:
    df = client.from_polars(pl.DataFrame({"s": ["2024-01-05 10:00:00", "abc", "2024-02-30 10:00:00"]}))
    tried = client.sql("SELECT TRY_CAST(s AS TIMESTAMP) AS ts, TRY_CAST(s AS DATE) AS d FROM df", df=df).collect()
    assert tried.rows() == [(dt.datetime(2024, 1, 5, 10), dt.date(2024, 1, 5)), (None, None), (None, None)]
    for bad in ["abc", "2024-02-30 10:00:00"]:
        with pytest.raises(pl.exceptions.InvalidOperationError, match=re.escape(bad)):
            client.sql(f"SELECT CAST(s AS TIMESTAMP) AS ts FROM df WHERE s = '{bad}'", df=df).collect()


def test_sums_of_32_bit_integers_are_64_bit(client: pr.Client) -> None:
    """SQL's SUM of an INT32 column is a 64-bit integer; polars' sum kept Int32 and wrapped past
    2^31 (patch 0030), in aggregates, windows and running sums."""
    df = pl.DataFrame({"g": ["x", "x", "y", "y"], "a": [2_000_000_000, 2_000_000_000, 5, None],
                       "u": [4_000_000_000, 4_000_000_000, 1, 2], "k": [1, 2, 3, 4]},
                      schema={"g": pl.String, "a": pl.Int32, "u": pl.UInt32, "k": pl.Int64})
    for query in ["SELECT SUM(a) AS s, SUM(u) AS su FROM df",
                  "SELECT g, SUM(a) AS s FROM df GROUP BY g ORDER BY g",
                  "SELECT k, SUM(a) OVER (PARTITION BY g) AS p, SUM(a) OVER (ORDER BY k) AS r, "
                  "SUM(u) OVER (ORDER BY k ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS m FROM df ORDER BY k"]:
        got, want = both_answers(client, query, df=df)
        assert got.rows() == [tuple(int(v) if v is not None and not isinstance(v, str) else v for v in row)
                              for row in want.rows()], query
    total = client.sql("SELECT SUM(a) AS s FROM df", df=client.from_polars(df)).collect()
    assert total.item() == 4_000_000_005 and total.dtypes == [pl.Int64]


def test_positions_in_null_strings_are_null(client: pr.Client) -> None:
    """STRPOS/POSITION: 1-based, 0 where absent, null where the string or substring is null (patch 0031;
    it was 0)."""
    df = pl.DataFrame({"s": ["abab", "xyz", None, "", "b"], "p": ["b", "b", "b", "b", None]})
    query = ("SELECT STRPOS(s, 'b') AS a, POSITION('b' IN s) AS b, STRPOS(s, p) AS c, POSITION(p IN s) AS d "
             "FROM df")
    got, want = both_answers(client, query, df=df)
    assert got.rows() == want.rows()
    assert got["a"].to_list() == [2, 0, None, 0, 1]


@pytest.mark.parametrize("call", [
    r"REGEXP_REPLACE(s, 'a', 'X')", r"REGEXP_REPLACE(s, 'a', 'X', 'g')", r"REGEXP_REPLACE(s, 'a', 'X', 'gi')",
    r"REGEXP_REPLACE(s, '([0-9]+)', '<\1>', 'g')", r"REGEXP_REPLACE(s, '[0-9]', '\\', 'g')",
    r"REGEXP_REPLACE(s, '\$([0-9])', 'USD \1.00')", r"REGEXP_REPLACE(s, 'b', '$')",
    r"REGEXP_REPLACE(s, '([a-z])([0-9])', '$\2\1', 'g')",
])
def test_regexp_replace_matches_duckdb(client: pr.Client, call: str) -> None:
    """The first match, or every one with 'g'; groups as \\1 (patch 0034)."""
    df = pl.DataFrame({"s": ["aaa", "abab", None, "AbA", "x1y22z333", "cost $5"]})
    got, want = both_answers(client, f"SELECT {call} AS r FROM df", df=df)
    assert got.rows() == want.rows()


GROUPED = pl.DataFrame({"g": ["a", "a", "a", "b", "b", "b", "b", "c", None, "a"],
                        "x": [1, 1, 2, None, 4, 4, 7, None, 3, 5],
                        "y": [1.5, 1.5, 2.5, 4.0, None, 6.0, 6.0, 2.0, 3.0, -1.0]})


def test_aggregates_of_distinct_values_match_duckdb(client: pr.Client) -> None:
    """SUM(DISTINCT x) and the like (patch 0038): refused before ("unexpected use of DISTINCT")."""
    query = ("SELECT g, SUM(DISTINCT x) AS s, AVG(DISTINCT x) AS a, COUNT(DISTINCT x) AS c, MIN(DISTINCT y) AS mn, "
             "MAX(DISTINCT y) AS mx, STDDEV(DISTINCT y) AS sd, VAR_POP(DISTINCT x) AS vp, "
             "SUM(DISTINCT x) FILTER (WHERE y > 0) AS sf, BOOL_OR(DISTINCT x > 4) AS bo FROM df GROUP BY g")
    got, want = both_answers(client, query, df=GROUPED)
    assert same_rows(unordered(got.rows()), unordered(want.rows())), (got, want)
    got, want = both_answers(client, "SELECT SUM(DISTINCT x) AS s, AVG(DISTINCT y) AS a FROM df", df=GROUPED)
    assert same_rows(got.rows(), want.rows())
    assert got["s"].to_list() == [1 + 2 + 3 + 4 + 5 + 7]


def test_any_value_is_a_non_null_value_of_the_group(client: pr.Client) -> None:
    df = pl.DataFrame({"g": ["a", "a", "b", "b", "c"], "v": [None, "p", "q", "q", None]})
    got = client.sql("SELECT g, ANY_VALUE(v) AS v FROM df GROUP BY g ORDER BY g", df=client.from_polars(df)).collect()
    assert got.rows() == [("a", "p"), ("b", "q"), ("c", None)]


@pytest.mark.parametrize("fraction", ["0", "0.1", "0.25", "0.5", "0.6", "0.75", "0.99", "1"])
def test_percentiles_match_duckdb(client: pr.Client, fraction: str) -> None:
    """PERCENTILE_CONT/PERCENTILE_DISC ... WITHIN GROUP (ORDER BY ...) (patch 0038), ascending and descending."""
    items = ", ".join(f"PERCENTILE_{kind}({fraction}) WITHIN GROUP (ORDER BY {col} {order}) AS {kind}_{col}_{i}"
                      for kind in ("CONT", "DISC") for col in ("x", "y") for i, order in enumerate(("", "DESC")))
    got, want = both_answers(client, f"SELECT g, {items} FROM df GROUP BY g", df=GROUPED)
    assert same_rows(unordered(got.rows()), unordered(want.rows())), (got, want)


def test_mode_is_the_most_frequent_value_the_first_in_order_of_ties(client: pr.Client) -> None:
    df = pl.DataFrame({"g": ["a", "a", "a", "b", "b", "b", "b"], "v": ["x", "y", "y", "p", "q", None, None]})
    got = client.sql("SELECT g, MODE() WITHIN GROUP (ORDER BY v) AS m, MODE() WITHIN GROUP (ORDER BY v DESC) AS d "
                     "FROM df GROUP BY g ORDER BY g", df=client.from_polars(df)).collect()
    # b: p and q once each, nulls are not values (PostgreSQL: the first of the ties in the order).
    assert got.rows() == [("a", "y", "y"), ("b", "p", "q")]
    got, want = both_answers(client, "SELECT g, MODE() WITHIN GROUP (ORDER BY v) AS m FROM df WHERE g = 'a' GROUP BY g",
                             df=df)
    assert got.rows() == want.rows()


def test_at_time_zone_matches_duckdb(client: pr.Client) -> None:
    """`ts AT TIME ZONE 'zone'` (patch 0041): a timestamp without a zone is read as that zone's wall
    time; one with a zone becomes that zone's wall time."""
    df = pl.DataFrame({"i": [1, 2, 3, 4],
                       "ts": [dt.datetime(2024, 1, 15, 9, 30), dt.datetime(2024, 7, 1, 23, 59, 59, 123456),
                              dt.datetime(2024, 3, 10, 12), None]})
    df = df.with_columns(utc=pl.col("ts").dt.replace_time_zone("UTC"),
                         ny=pl.col("ts").dt.replace_time_zone("UTC").dt.convert_time_zone("America/New_York"))
    query = ("SELECT i, ts AT TIME ZONE 'America/New_York' AS a, utc AT TIME ZONE 'Asia/Tokyo' AS b, "
             "ny AT TIME ZONE 'Europe/London' AS c, (ts AT TIME ZONE 'UTC') AT TIME ZONE 'America/New_York' AS d "
             "FROM df ORDER BY i")
    got, want = both_answers(client, query, df=df)
    assert got.rows() == want.rows()
    assert got["d"].to_list()[:2] == [dt.datetime(2024, 1, 15, 4, 30), dt.datetime(2024, 7, 1, 19, 59, 59, 123456)]


def test_now_is_the_statement_s_instant_in_every_time_zone(client: pr.Client) -> None:
    """NOW(), CURRENT_TIMESTAMP, CURRENT_DATE (patch 0041): UTC, one instant per statement, compared
    with a timestamp column of any time zone as the same instant."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    ts = [now - dt.timedelta(minutes=m) for m in (1, 30, 59, 61, 24 * 60)]
    df = pl.DataFrame({"i": range(5), "ts": ts}).with_columns(
        utc=pl.col("ts").dt.replace_time_zone("UTC"),
        tokyo=pl.col("ts").dt.replace_time_zone("UTC").dt.convert_time_zone("Asia/Tokyo"))
    got = client.sql(
        "SELECT (SELECT ARRAY_AGG(i ORDER BY i) FROM df WHERE ts > NOW() - INTERVAL '1 hour') AS naive, "
        "(SELECT ARRAY_AGG(i ORDER BY i) FROM df WHERE utc >= CURRENT_TIMESTAMP - INTERVAL '1 hour') AS utc, "
        "(SELECT ARRAY_AGG(i ORDER BY i) FROM df WHERE tokyo BETWEEN NOW() - INTERVAL '1 hour' AND NOW()) AS tokyo, "
        "NOW() = CURRENT_TIMESTAMP AS same, CURRENT_DATE AS today, NOW() AS now",
        df=client.from_polars(df)).collect()
    row = got.row(0, named=True)
    assert row["naive"] == row["utc"] == row["tokyo"] == [0, 1, 2]
    assert row["same"] is True
    assert abs(row["now"] - dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)) < dt.timedelta(minutes=1)
    assert row["today"] == row["now"].date()


@pytest.mark.parametrize("predicate", [
    r"s LIKE 'a\_b' ESCAPE '\'", "s LIKE 'a!%b' ESCAPE '!'", "s LIKE 'a_b'", r"s NOT LIKE 'a\_%' ESCAPE '\'",
    r"s ILIKE 'A\_B' ESCAPE '\'", "s LIKE '%!_%' ESCAPE '!'",
])
def test_like_with_an_escape_character_matches_duckdb(client: pr.Client, predicate: str) -> None:
    df = pl.DataFrame({"s": ["a_b", "axb", "a%b", "abc", "a\\b", None, "x_y_z"]})
    got, want = both_answers(client, f"SELECT s FROM df WHERE {predicate}", df=df)
    assert sorted(got["s"].to_list()) == sorted(want["s"].to_list()), predicate


CATEGORICAL_AS_TEXT = [
    "SELECT sym FROM df WHERE sym LIKE 'A%'", "SELECT sym FROM df WHERE sym ILIKE 'a%'",
    "SELECT sym FROM df WHERE sym NOT LIKE '%a%'", r"SELECT sym FROM df WHERE sym LIKE 'A\_B' ESCAPE '\'",
    "SELECT UPPER(sym) AS u, LOWER(sym) AS l, LENGTH(sym) AS n FROM df", "SELECT SUBSTRING(sym FROM 2 FOR 2) AS s FROM df",
    "SELECT SUBSTRING(sym, 2, 2) AS s, TRIM(sym) AS t, LTRIM(sym) AS l, RTRIM(sym) AS r FROM df",
    "SELECT LEFT(sym, 2) AS a, RIGHT(sym, 2) AS b, REPLACE(sym, 'A', 'z') AS r, REVERSE(sym) AS v FROM df",
    "SELECT STARTS_WITH(sym, 'A') AS s, ENDS_WITH(sym, 'L') AS e, STRPOS(sym, 'P') AS p FROM df",
    "SELECT SPLIT_PART(sym, '_', 1) AS p, LPAD(sym, 6, '*') AS l, RPAD(sym, 6, '*') AS r FROM df",
    "SELECT sym FROM df WHERE sym ~ '^[a-z]'", "SELECT sym FROM df WHERE sym !~ '^[a-z]'", "SELECT sym FROM df WHERE sym ~* '^m'",
    "SELECT REGEXP_MATCHES(sym, 'P+') AS m, REGEXP_REPLACE(sym, 'P', 'p', 'g') AS r FROM df",
    "SELECT UPPER(sym) AS u, COUNT(*) AS n FROM df GROUP BY UPPER(sym)",
    "SELECT sym, COUNT(*) AS n FROM df WHERE sym = 'AAPL' OR sym IS NULL GROUP BY sym",
]


@pytest.mark.parametrize("query", CATEGORICAL_AS_TEXT)
@pytest.mark.parametrize("dtype", ["categorical", "enum"])
def test_categoricals_read_as_text_match_duckdb(client: pr.Client, query: str, dtype: str) -> None:
    """A categorical (a table's SYMBOL column) or an enum in LIKE, `~` and the string functions, as DuckDB
    reads its text (patch 0103; they failed: "expected String type, got: cat")."""
    values = ["AAPL", "msft", None, "A_B", "x%y", "  pad "]
    kind = pl.Categorical if dtype == "categorical" else pl.Enum([v for v in values if v is not None])
    df = pl.DataFrame({"sym": values, "px": [1.0, 2, 3, 4, 5, 6]}).with_columns(pl.col("sym").cast(kind))
    got, want = both_answers(client, query, df=df)
    assert same_rows(unordered(got.rows()), unordered(want.rows())), (got, want)


NAIVE_BESIDE_ZONED = [
    "SELECT ts FROM df WHERE ts >= TIMESTAMP '2024-01-01 00:00:01'",
    "SELECT ts FROM df WHERE ts < CAST('2024-01-01 00:00:02' AS TIMESTAMP)",
    "SELECT ts FROM df WHERE ts BETWEEN TIMESTAMP '2024-01-01 00:00:01' AND TIMESTAMP '2024-01-01 00:00:02'",
    "SELECT ts FROM df WHERE ts NOT BETWEEN TIMESTAMP '2024-01-01 00:00:01' AND TIMESTAMP '2024-01-01 00:00:02'",
    "SELECT ny FROM df WHERE ny > TIMESTAMP '2024-03-10 11:00:00'",
    "SELECT ny FROM df WHERE ny = TIMESTAMP '2024-03-10 12:00:00'",
    "SELECT ns FROM df WHERE ns >= TIMESTAMP '2024-01-01 00:00:03'",
    "SELECT ts FROM df WHERE ts = naive", "SELECT naive FROM df WHERE naive < ny",
    "SELECT ts FROM df WHERE ts IN (TIMESTAMP '2024-01-01 00:00:01', TIMESTAMP '2024-01-01 00:00:03')",
    "SELECT ts FROM df WHERE ts NOT IN ('2024-01-01 00:00:01', '2024-01-01 00:00:03')",
    "SELECT naive FROM df WHERE naive IN ('2024-01-01 00:00:01', '2024-01-01')",
]


@pytest.mark.parametrize("query", NAIVE_BESIDE_ZONED)
def test_timestamps_without_a_zone_beside_zoned_ones_are_utc_as_duckdb_reads_them(client: pr.Client, query: str) -> None:
    """`ts >= TIMESTAMP '...'` over a zoned column failed (patch 0104); DuckDB in a UTC session reads the
    TIMESTAMP as UTC."""
    utc = pl.Series([dt.datetime(2024, 1, 1, 0, 0, i) for i in range(4)] + [None]).dt.replace_time_zone("UTC")
    ny = [dt.datetime(2024, 3, 10, 6, 0), dt.datetime(2024, 3, 10, 7, 30), dt.datetime(2024, 3, 10, 8, 0), None,
          dt.datetime(2024, 1, 1)]
    df = pl.DataFrame({"ts": utc, "ny": pl.Series(ny).dt.replace_time_zone("America/New_York"),
                       "ns": utc.dt.cast_time_unit("ns"), "naive": [dt.datetime(2024, 1, 1, 0, 0, i) for i in range(5)]})
    got = client.sql(query, df=client.from_polars(df)).collect()
    con = duckdb.connect()
    con.sql("SET TimeZone = 'UTC'")
    con.register("df", df.to_arrow())
    want = con.sql(query).pl()
    assert unordered(got.rows()) == unordered(want.rows()), (got, want)
    assert got.height > 0 or "NOT" in query or "ny =" in query


@pytest.mark.parametrize("source", [
    "generate_series(1, 10, 3)", "range(1, 10, 3)", "generate_series(5, -5, -2)", "range(4)", "generate_series(3, 1)",
    "generate_series(TIMESTAMP '2024-03-08 09:30:00', TIMESTAMP '2024-03-08 10:30:00', INTERVAL '15 minutes')",
    "range(TIMESTAMP '2024-03-08 09:30:00', TIMESTAMP '2024-03-08 10:30:00', INTERVAL '15 minutes')",
    # From a 29th-31st, DuckDB and PostgreSQL step month by month from the last (Jan 31, Feb 29, Mar
    # 29), polars from the start (Mar 31): not compared here.
    "generate_series(TIMESTAMP '2024-01-15 00:00:00', TIMESTAMP '2024-06-30 00:00:00', INTERVAL '1 month')",
])
def test_generate_series_and_range_match_duckdb(client: pr.Client, source: str) -> None:
    """Integer and timestamp series as tables (patch 0050): they were "not a supported table function"."""
    got, want = both_answers(client, f"SELECT * FROM {source}")
    assert got.columns == want.columns
    assert got.rows() == want.rows(), source


def test_a_grid_of_minutes_counts_the_quiet_ones(client: pr.Client) -> None:
    ticks = pl.DataFrame({"ts": [dt.datetime(2024, 3, 8, 9, 30, 5), dt.datetime(2024, 3, 8, 9, 30, 40),
                                 dt.datetime(2024, 3, 8, 9, 32, 1)]})
    query = ("SELECT g.minute, COUNT(t.ts) AS trades FROM generate_series(TIMESTAMP '2024-03-08 09:30:00', "
             "TIMESTAMP '2024-03-08 09:33:00', INTERVAL '1 minute') AS g(minute) "
             "LEFT JOIN ticks AS t ON DATE_TRUNC('minute', t.ts) = g.minute GROUP BY g.minute ORDER BY g.minute")
    got, want = both_answers(client, query, ticks=ticks)
    assert got["trades"].to_list() == [2, 0, 1, 0]
    assert got.rows() == want.rows()


@pytest.mark.parametrize("predicate", [
    "f IS NOT DISTINCT FROM TRUE OR x = 3",
    "f IS DISTINCT FROM TRUE AND x > 2",
    "x < 2 AND NOT f IS DISTINCT FROM TRUE OR x = 3",
    "s IS NOT DISTINCT FROM 'a' AND x > 1",
    "x > 1 AND s IS DISTINCT FROM NULL OR f IS NOT DISTINCT FROM NULL AND x = 3",
    "f IS NOT DISTINCT FROM (x > 2 OR x = 1)",
    "s IS NOT DISTINCT FROM 'a' AND f IS NOT DISTINCT FROM TRUE",
])
def test_is_distinct_from_binds_tighter_than_and_and_or(client: pr.Client, predicate: str) -> None:
    """sqlparser read `f IS NOT DISTINCT FROM TRUE OR x = 3` as `f IS NOT DISTINCT FROM (TRUE OR
    x = 3)`: other rows, silently, or an error beside a string (patch 0053)."""
    frame = pl.DataFrame({"f": [True, False, None, True, None], "x": [1, 2, 3, 4, 5], "s": ["a", "a", None, "b", "a"]})
    got, want = both_answers(client, f"SELECT x FROM t WHERE {predicate}", t=frame)
    assert sorted(got["x"].to_list()) == sorted(want["x"].to_list()), predicate


def _instants() -> pl.DataFrame:
    """Instants either side of 2000-01-03 (DuckDB's bucket origin), a leap day and month ends, with
    microseconds, as dates, and the same instants at other time units."""
    start = dt.datetime(1999, 12, 28, 22, 59, 58, 123456)
    return pl.DataFrame({
        "ts": [start + dt.timedelta(seconds=37 * i * i * i + 11 * i, microseconds=7 * i) for i in range(40)],
        "d": [dt.date(1999, 11, 30) + dt.timedelta(days=17 * i) for i in range(40)],
        "x": list(range(40)),
    }).with_columns(pl.col("ts").dt.cast_time_unit("us"), ts_ns=pl.col("ts").dt.cast_time_unit("ns"),
                    ts_ms=pl.col("ts").dt.cast_time_unit("ms"), n=pl.col("x").cast(pl.Int32))


# DuckDB's time functions (patch 0061): "unsupported function" before, and in python polars 2.1.
TIME_FUNCTIONS = [
    "SELECT ts, TIME_BUCKET(INTERVAL '5 minutes', ts) AS a, TIME_BUCKET(INTERVAL '90 minutes', ts) AS b, "
    "TIME_BUCKET(INTERVAL '7 seconds', ts) AS c FROM t",
    "SELECT ts, TIME_BUCKET(INTERVAL '3 days', ts) AS a, TIME_BUCKET(INTERVAL '1 week', ts) AS b, "
    "TIME_BUCKET(INTERVAL '2 weeks', ts) AS c FROM t",
    "SELECT ts, TIME_BUCKET(INTERVAL '1 month', ts) AS a, TIME_BUCKET(INTERVAL '5 months', ts) AS b, "
    "TIME_BUCKET(INTERVAL '1 year', ts) AS c FROM t",
    "SELECT d, TIME_BUCKET(INTERVAL '3 days', d) AS a, TIME_BUCKET(INTERVAL '7 months', d) AS b FROM t",
    "SELECT ts, TIME_BUCKET(INTERVAL '3 days', ts, TIMESTAMP '2024-05-01 00:00:00') AS a, "
    "TIME_BUCKET(INTERVAL '1 hour', ts, INTERVAL '15 minutes') AS b FROM t",
    "SELECT ts_ns, TIME_BUCKET(INTERVAL '250 milliseconds', ts_ns) AS a, ts_ms, TIME_BUCKET(INTERVAL '1 minute', ts_ms) AS b FROM t",
    "SELECT TIME_BUCKET(INTERVAL '1 day', ts) AS day, COUNT(*) AS n, MAX(x) AS hi FROM t GROUP BY 1",
    # A quoted width is an interval, as DuckDB and TimescaleDB cast it ('300.000s' is Grafana's), patch 0106.
    "SELECT ts, TIME_BUCKET('5 minutes', ts) AS a, TIME_BUCKET('300.000s', ts) AS b, TIME_BUCKET('1.5 hours', ts) AS c, "
    "TIME_BUCKET('2 days', d) AS e FROM t",
    "SELECT ts, DATE_DIFF('minute', TIMESTAMP '2000-01-01 00:00:00', ts) AS a, DATE_DIFF('hour', ts, TIMESTAMP '2000-01-01') AS b, "
    "DATE_DIFF('second', TIMESTAMP '2000-01-01 00:00:00.5', ts) AS c, DATE_DIFF('millisecond', TIMESTAMP '2000-01-01 00:00:00.5', ts) AS e FROM t",
    "SELECT d, DATE_DIFF('day', DATE '2000-01-01', d) AS a, DATE_DIFF('week', DATE '2000-01-01', d) AS b, "
    "DATE_DIFF('week', d, DATE '2000-01-01') AS c, DATEDIFF('day', d, ts) AS e FROM t",
    "SELECT d, DATE_DIFF('month', DATE '2000-01-31', d) AS a, DATE_DIFF('quarter', DATE '2000-01-31', d) AS b, "
    "DATE_DIFF('year', DATE '2000-12-31', d) AS c FROM t",
    "SELECT ts, EPOCH(ts) AS a, EPOCH_MS(ts) AS b, EPOCH_US(ts) AS c, EPOCH_NS(ts) AS e, EPOCH(d) AS f, EPOCH_MS(d) AS g FROM t",
    "SELECT x, EPOCH_MS(x * 86400000 + 123) AS a, TO_TIMESTAMP(x * 86400.25) AS b FROM t",
    "SELECT ts, YEAR(ts) AS a, MONTH(ts) AS b, DAY(ts) AS c, HOUR(ts) AS e, MINUTE(ts) AS f, SECOND(ts) AS g FROM t",
    "SELECT ts, QUARTER(ts) AS a, WEEK(ts) AS b, DAYOFWEEK(ts) AS c, DAYOFYEAR(ts) AS e, ISODOW(ts) AS f FROM t",
    "SELECT MAKE_DATE(2000 + n % 30, 1 + n % 12, 1 + n % 28) AS a, "
    "MAKE_TIMESTAMP(2024, 1 + n % 12, 1 + n % 28, n % 24, n % 60, n * 1.25) AS b FROM t",
    "SELECT ts, LAST_DAY(ts) AS a, LAST_DAY(d) AS b, DAYNAME(ts) AS c, MONTHNAME(d) AS e FROM t",
    # A date-only TIMESTAMP literal is midnight; a date plus or minus whole days is a date.
    "SELECT ts FROM t WHERE ts BETWEEN TIMESTAMP '2000-01-03' AND TIMESTAMP '2000-01-05 12:00:00'",
    "SELECT d, d + 7 AS a, d - 2 AS b, 3 + d AS c, d + n AS e, d - n AS f FROM t",
    # DuckDB's sub-second parts, timestamps of epoch microseconds and DATE_ADD (patch 0068): unsupported before.
    "SELECT ts, MILLISECOND(ts) AS a, MICROSECOND(ts) AS b, NANOSECOND(ts_ns) AS c, MILLISECOND(ts_ms) AS e, "
    "MICROSECOND(ts_ns) AS f FROM t",
    "SELECT ts, MAKE_TIMESTAMP(EPOCH_US(ts)) AS a, MAKE_TIMESTAMP(x * 86400000123) AS b FROM t",
    "SELECT ts, DATE_ADD(ts, INTERVAL 90 SECOND) AS a, DATE_ADD(ts, INTERVAL '1 month') AS b, "
    "DATE_ADD(ts_ns, INTERVAL '250 milliseconds') AS c FROM t",
]


@pytest.mark.parametrize("query", TIME_FUNCTIONS)
def test_time_functions_match_duckdb(client: pr.Client, query: str) -> None:
    got, want = both_answers(client, query, t=_instants())
    assert unordered(got.rows()) == unordered(want.rows()), query


@pytest.mark.parametrize("query", [
    # A zoned column: buckets in UTC (DuckDB's default), or in the named zone's wall time.
    "SELECT ts, TIME_BUCKET(INTERVAL '2 hours', ts) AS a, TIME_BUCKET(INTERVAL '1 day', ts) AS b, "
    "TIME_BUCKET(INTERVAL '1 month', ts) AS c, EPOCH_MS(ts) AS e FROM t",
    "SELECT ts, TIME_BUCKET(INTERVAL '1 day', ts, 'America/New_York') AS a, TIME_BUCKET(INTERVAL '1 hour', ts, 'Asia/Kolkata') AS b, "
    "TIME_BUCKET(INTERVAL '1 week', ts, 'America/New_York') AS c, TIME_BUCKET(INTERVAL '1 month', ts, 'Europe/Paris') AS e FROM t",
])
def test_time_buckets_of_zoned_ticks_match_duckdb(client: pr.Client, query: str) -> None:
    """New York ticks across the 2024-03-10 daylight saving change."""
    start = dt.datetime(2024, 3, 8, 14, 30, tzinfo=dt.timezone.utc)
    t = pl.DataFrame({"ts": [start + dt.timedelta(minutes=97 * i * i) for i in range(30)]}).with_columns(
        pl.col("ts").dt.convert_time_zone("America/New_York").dt.cast_time_unit("us"))
    got, want = both_answers(client, query, t=t)
    assert got.rows() == want.rows(), query


def test_time_buckets_and_boundaries_worked_by_hand(client: pr.Client) -> None:
    df = pl.DataFrame({"ts": [dt.datetime(2024, 5, 17, 10, 7, 30), dt.datetime(1999, 5, 17, 10, 0)]})
    got = client.sql(
        "SELECT TIME_BUCKET(INTERVAL '5 minutes', ts) AS five, TIME_BUCKET(INTERVAL '3 days', ts) AS three_days, "
        "TIME_BUCKET(INTERVAL '1 week', ts) AS week, TIME_BUCKET(INTERVAL '90 minutes', ts) AS ninety, "
        "DATE_DIFF('day', TIMESTAMP '2024-05-16 23:59:00', ts) AS days, EPOCH_MS(ts) AS ms FROM df",
        df=client.from_polars(df)).collect()
    # 2024-05-17 is 8,901 days after 2000-01-03 (a multiple of 3), its week starts Monday 2024-05-13;
    # 1999-05-17 (a Monday) is 231 days before it (77 buckets of 3 days, 33 weeks), and 10:00 that day
    # is 332,040 minutes before it, 60 short of a multiple of 90. The day boundaries from 2024-05-16
    # 23:59 are 1 and -9,131 (days from 1999-05-17 to 2024-05-16).
    assert got.rows() == [
        (dt.datetime(2024, 5, 17, 10, 5), dt.datetime(2024, 5, 17), dt.datetime(2024, 5, 13),
         dt.datetime(2024, 5, 17, 9, 0), 1, 1715940450000),
        (dt.datetime(1999, 5, 17, 10, 0), dt.datetime(1999, 5, 17), dt.datetime(1999, 5, 17),
         dt.datetime(1999, 5, 17, 9, 0), -9131, 926935200000),
    ]


@pytest.mark.parametrize("query, why", [
    ("SELECT TIME_BUCKET(INTERVAL '1 month 2 days', ts) FROM df", "cannot mix months with days"),
    ("SELECT TIME_BUCKET('fortnight', ts) FROM df", "invalid interval 'fortnight'"),
    ("SELECT TIME_BUCKET(ts, ts) FROM df", "width must be an INTERVAL or its text"),
    # PostgreSQL's own refusals (patch 0108).
    ("SELECT DATE_BIN('1 month', ts, TIMESTAMP '2000-01-01') FROM df", "containing months or years"),
    ("SELECT DATE_BIN('5 minutes', ts) FROM df", "DATE_BIN expects 3 arguments"),
    # TO_CHAR (patch 0109): patterns PostgreSQL pads or spells otherwise, and numbers, by name.
    ("SELECT TO_CHAR(ts, 'Month') FROM df", "pattern Month is not supported"),
    ("SELECT TO_CHAR(ts, 'Q') FROM df", "pattern Q is not supported"),
    ("SELECT TO_CHAR(1.5, '9.9') FROM df", "formats dates and timestamps"),
    # polars' interval parser panicked on it.
    ("SELECT ts + INTERVAL 'soon' FROM df", "invalid interval 'soon'"),
    ("SELECT DATE_DIFF('fortnight', ts, ts) FROM df", "does not support the part 'fortnight'"),
    ("SELECT TO_TIMESTAMP('2024-01-01') FROM df", "STRPTIME"),
    ("SELECT MAKE_DATE(2023, 2, 29) FROM df", r"Invalid date components \(2023, 2, 29\)"),
])
def test_time_functions_refuse_what_they_cannot_answer(client: pr.Client, query: str, why: str) -> None:
    df = pl.DataFrame({"ts": [dt.datetime(2024, 5, 17, 10, 7, 30)]})
    with pytest.raises(pr.InvalidArgumentError, match=why):
        client.sql(query, df=client.from_polars(df)).collect()


# Intervals as DuckDB and PostgreSQL write them (patch 0062): refused before.
INTERVALS = [
    "SELECT a, a + INTERVAL '-1 day' AS c, a - INTERVAL '-90 minutes' AS e, a + INTERVAL '-1 month' AS f FROM t",
    "SELECT a, a + INTERVAL 2 HOUR AS c, a - INTERVAL '3' MINUTE AS e, a + INTERVAL 1 MONTH AS f FROM t",
    "SELECT a FROM t WHERE b - a > INTERVAL 5 MINUTE",
    "SELECT a, EXTRACT(EPOCH FROM (b - a)) AS s, DATE_PART('epoch', b - a) AS p FROM t",
]


@pytest.mark.parametrize("query", INTERVALS)
def test_intervals_match_duckdb(client: pr.Client, query: str) -> None:
    t = pl.DataFrame({"a": [dt.datetime(2024, 2, 28, 22, 59, 58, 123456), dt.datetime(2024, 2, 29, 0, 16, 36),
                            dt.datetime(2024, 1, 31, 1, 0, 0)],
                      "b": [dt.datetime(2024, 2, 28, 23, 9, 58), dt.datetime(2024, 2, 29, 0, 16, 37),
                            dt.datetime(2024, 3, 1, 1, 0, 0)]})
    got, want = both_answers(client, query, t=t)
    assert got.rows() == want.rows(), query


@pytest.mark.parametrize("query", [
    # DuckDB's names (patch 0063): "unsupported function" before, and in python polars 2.1.
    "SELECT s, REGEXP_MATCHES(s, '[a-c]+') AS a, REGEXP_MATCHES(s, '^h', 'i') AS b FROM t",
    "SELECT s, REGEXP_EXTRACT(s, '([a-z]+)', 1) AS a, REGEXP_EXTRACT(s, '[A-Z]+-[0-9]+') AS b, "
    "REGEXP_EXTRACT(s, '([A-Z]+)-([0-9]+)', 2) AS c FROM t",
    "SELECT s, STRING_SPLIT(s, ',') AS a, STR_SPLIT(s, ' ') AS b FROM t",
    "SELECT s, CONTAINS(s, 'bc') AS a, CONTAINS(s, '.') AS b FROM t",
])
def test_duckdb_string_functions_match_duckdb(client: pr.Client, query: str) -> None:
    t = pl.DataFrame({"s": ["Hello World", "  padded  ", "a,b,,c", None, "ÄÖü straße", "abcabc", "XNAS-7 BATS-12"]})
    got, want = both_answers(client, query, t=t)
    assert got.rows() == want.rows(), query


def _trades() -> pl.DataFrame:
    """Seeded trades with null symbols, prices and sizes; times and prices distinct, so that the row
    of the latest time or the highest price is one row."""
    rng = random.Random(66)
    n = 400
    start = dt.datetime(2024, 3, 1, 9, 30)
    prices = rng.sample(range(1000, 3000), n)
    return pl.DataFrame({
        "sym": [rng.choice(["AAPL", "MSFT", "NVDA", "TSLA", None]) for _ in range(n)],
        "ts": [start + dt.timedelta(seconds=s) for s in rng.sample(range(7200), n)],
        "px": [None if rng.random() < 0.1 else p / 100 for p in prices],
        "sz": [None if rng.random() < 0.05 else rng.randint(1, 500) for _ in range(n)],
        "venue": [rng.choice(["XNAS", "ARCX", "BATS", None]) for _ in range(n)],
    })


def _edges() -> pl.DataFrame:
    """Groups of no pairs, one value, equal values (x in a and c), and nulls only (d)."""
    return pl.DataFrame({"g": ["a", "a", "a", "b", "b", "c", "c", "c", "c", "d"],
                         "x": [1, 1, 1, 2, None, 5, 5, 5, 5, None], "y": [3, 4, 5, None, 7, 1, 2, 3, 9, None]})


# DuckDB's aggregates (patch 0066): "unsupported function" before, and in python polars 2.1.
DUCKDB_AGGREGATES = [
    "SELECT sym, ARG_MAX(px, ts) AS a, ARG_MIN(px, ts) AS b, MAX_BY(sz, ts) AS c, MIN_BY(venue, ts) AS d "
    "FROM t GROUP BY sym",
    "SELECT sym, ARG_MAX(ts, px) AS a, ARGMIN(ts, px) AS b, ARG_MAX(venue, px) AS c FROM t GROUP BY sym",
    "SELECT ARG_MAX(px, ts) AS a, ARG_MIN(sz, px) AS b FROM t",
    "SELECT sym, FIRST(px ORDER BY ts) AS o, LAST(px ORDER BY ts) AS c, "
    "FIRST(venue ORDER BY sz DESC NULLS LAST, ts) AS f FROM t GROUP BY sym",
    "SELECT TIME_BUCKET(INTERVAL '10 minutes', ts) AS bar, sym, FIRST(px ORDER BY ts) AS open, MAX(px) AS high, "
    "MIN(px) AS low, ARG_MAX(px, ts) AS close, SUM(sz) AS volume, SUM(px * sz) / SUM(sz) AS vwap "
    "FROM t GROUP BY bar, sym",
    "SELECT sym, MODE(venue) AS m, MODE(sz % 3) AS k FROM t GROUP BY sym",
    "SELECT sym, GEOMEAN(px) AS g, GEOMETRIC_MEAN(sz) AS h, PRODUCT(sz % 3 + 1) AS p FROM t GROUP BY sym",
    "SELECT sym, KURTOSIS(px) AS k, KURTOSIS_POP(sz) AS kp, SKEWNESS(px) AS s FROM t GROUP BY sym",
    "SELECT sym, ENTROPY(venue) AS e1, ENTROPY(sz % 4) AS e2 FROM t GROUP BY sym",
    "SELECT sym, LIST(sz ORDER BY ts) AS a FROM t GROUP BY sym",
    "SELECT sym, FSUM(px) AS a, SUMKAHAN(sz) AS b, KAHAN_SUM(px) AS c, FAVG(sz) AS d FROM t GROUP BY sym",
    "SELECT sym, REGR_SLOPE(px, sz) AS s, REGR_INTERCEPT(px, sz) AS i, REGR_R2(px, sz) AS r, "
    "REGR_COUNT(px, sz) AS n FROM t GROUP BY sym",
    "SELECT sym, REGR_AVGX(px, sz) AS ax, REGR_AVGY(px, sz) AS ay, REGR_SXX(px, sz) AS sxx, "
    "REGR_SYY(px, sz) AS syy, REGR_SXY(px, sz) AS sxy FROM t GROUP BY sym",
    "SELECT g, REGR_SLOPE(y, x) AS s, REGR_INTERCEPT(y, x) AS i, REGR_R2(y, x) AS r, REGR_COUNT(y, x) AS n, "
    "REGR_SXX(y, x) AS sxx, REGR_AVGX(y, x) AS ax FROM e GROUP BY g",
    "SELECT g, REGR_R2(x, y) AS r, REGR_SLOPE(x, y) AS s, REGR_SYY(x, y) AS syy FROM e GROUP BY g",
    "SELECT g, KURTOSIS(y) AS k, SKEWNESS(y) AS s, KURTOSIS(x) AS kx, SKEWNESS(x) AS sx, ENTROPY(x) AS ex, "
    "GEOMEAN(x) AS gx, PRODUCT(x) AS px, MODE(x) AS mx FROM e GROUP BY g",
    "SELECT sym, ts, ARG_MAX(px, ts) OVER (PARTITION BY sym) AS a, REGR_SLOPE(px, sz) OVER (PARTITION BY sym) AS b, "
    "KURTOSIS(px) OVER (PARTITION BY sym) AS k, MODE(venue) OVER (PARTITION BY sym) AS m FROM t",
    "SELECT sym, ARG_MAX(px, sz) FILTER (WHERE venue = 'XNAS') AS a, "
    "FIRST(px ORDER BY ts) FILTER (WHERE sz > 100) AS b FROM t GROUP BY sym",
]


@pytest.mark.parametrize("query", DUCKDB_AGGREGATES)
def test_duckdb_aggregates_match_duckdb(client: pr.Client, query: str) -> None:
    got, want = both_answers(client, query, t=_trades(), e=_edges())
    assert same_rows(unordered(got.rows()), unordered(want.rows())), query


def test_approx_count_distinct_is_the_exact_count(client: pr.Client) -> None:
    """DuckDB's is a HyperLogLog estimate; ours counts, as COUNT(DISTINCT x) (nulls not among them)."""
    query = "SELECT sym, APPROX_COUNT_DISTINCT(sz) AS a, APPROX_COUNT_DISTINCT(venue) AS b FROM t GROUP BY sym"
    got, _ = both_answers(client, query, t=_trades())
    _, want = both_answers(client, query.replace("APPROX_COUNT_DISTINCT(", "COUNT(DISTINCT "), t=_trades())
    assert unordered(got.rows()) == unordered(want.rows())


def test_one_minute_bars_in_duckdb_s_sql_by_hand(client: pr.Client) -> None:
    """Bars as DuckDB users write them: the open is the first trade's price, the close the last's."""
    t = pl.DataFrame({"ts": [dt.datetime(2024, 3, 1, 9, 30, s) for s in (40, 5, 59, 20)]
                      + [dt.datetime(2024, 3, 1, 9, 31, s) for s in (30, 10)],
                      "px": [10.5, 10.0, 10.25, 11.0, 9.0, 9.5], "sz": [100, 200, 300, 400, 10, 30]})
    got = client.sql("SELECT TIME_BUCKET(INTERVAL '1 minute', ts) AS bar, FIRST(px ORDER BY ts) AS open, "
                     "MAX(px) AS high, MIN(px) AS low, ARG_MAX(px, ts) AS close, SUM(sz) AS volume "
                     "FROM t GROUP BY bar ORDER BY bar", t=client.from_polars(t)).collect()
    assert got.rows() == [(dt.datetime(2024, 3, 1, 9, 30), 10.0, 11.0, 10.0, 10.25, 1000),
                          (dt.datetime(2024, 3, 1, 9, 31), 9.5, 9.5, 9.0, 9.0, 40)]


@pytest.mark.parametrize("query, why", [
    ("SELECT ARG_MAX(px, ts) OVER (ORDER BY ts) AS a FROM t", "over an ordered window or a window frame"),
    ("SELECT MODE(venue) OVER (PARTITION BY sym ORDER BY ts) AS a FROM t", "over an ordered window"),
    ("SELECT FIRST(DISTINCT px ORDER BY ts) AS a FROM t", "takes only an ORDER BY"),
    ("SELECT ARG_MAX(px, ts, 2) AS a FROM t", re.escape("no function matches the given name and arguments")),
])
def test_duckdb_aggregates_refuse_what_they_cannot_answer(client: pr.Client, query: str, why: str) -> None:
    with pytest.raises(pr.InvalidArgumentError, match=why):
        client.sql(query, t=client.from_polars(_trades())).collect()


@pytest.mark.parametrize("query", [
    # An aggregate of a constant is over every row (patch 0071): SUM(1) was 1, MIN(7) over no rows 7.
    "SELECT SUM(1) AS n, SUM(2.5) AS f, AVG(5) AS a, MIN(7) AS mn, MAX('z') AS mx, COUNT(1 + 1) AS c FROM t",
    "SELECT SUM(1) AS n, AVG(5) AS a, MIN(7) AS mn, STRING_AGG('x', '') AS s FROM t WHERE sz > 1000",
    "SELECT sym, SUM(1) AS n, SUM(1) FILTER (WHERE px > 15) AS m, STRING_AGG('x', '') AS s, ARRAY_AGG(1) AS a "
    "FROM t GROUP BY sym",
    "SELECT sym, SUM(1) AS n FROM t GROUP BY sym HAVING SUM(1) > 80",
    "SELECT sym, ts, SUM(1) OVER (PARTITION BY sym) AS n, SUM(1) OVER (PARTITION BY sym ORDER BY ts) AS r, "
    "SUM(1) OVER (ORDER BY ts ROWS 2 PRECEDING) AS w FROM t",
    "SELECT SUM(1) * 1.0 / COUNT(*) AS one, SUM(2 * 3) AS six_each, SUM(-1) AS neg FROM t",
])
def test_aggregates_of_constants_count_the_rows_as_duckdb(client: pr.Client, query: str) -> None:
    got, want = both_answers(client, query, t=_trades())
    assert same_rows(unordered(got.rows()), unordered(want.rows())), query


def test_a_count_of_rows_by_sum_of_one_by_hand(client: pr.Client) -> None:
    t = pl.DataFrame({"sym": ["a", "a", "b"], "px": [1.0, 2.0, 3.0]})
    got = client.sql("SELECT sym, SUM(1) AS n FROM t GROUP BY sym ORDER BY sym", t=client.from_polars(t)).collect()
    assert got.rows() == [("a", 2), ("b", 1)]
    assert got.schema["n"] == pl.Int64


@pytest.mark.parametrize("query", [
    # Arithmetic of narrow and unsigned integers is 64-bit (patch 0073): polars' Int8 time parts and
    # UInt32 counts and lengths wrapped, silently (HOUR(ts) * 60 + MINUTE(ts) was -79 at 15:45).
    "SELECT ts, HOUR(ts) * 60 + MINUTE(ts) AS minute_of_day, MONTH(ts) * 100 + DAY(ts) AS month_day, "
    "EXTRACT(hour FROM ts) * 3600 + EXTRACT(minute FROM ts) * 60 AS secs FROM t",
    "SELECT sym, COUNT(*) - 100 AS fewer, -COUNT(*) AS negated, COUNT(DISTINCT venue) - 5 AS d FROM t GROUP BY sym",
    "SELECT sym, ts, ROW_NUMBER() OVER (PARTITION BY sym ORDER BY ts) - 2 AS i, "
    "RANK() OVER (ORDER BY ts) - 10 AS r FROM t",
    "SELECT sym, LENGTH(sym) - 5 AS l, -LENGTH(venue) AS n, (HOUR(ts) * 60 + MINUTE(ts)) // 15 AS quarter_hour, "
    "(HOUR(ts) * 60 + MINUTE(ts)) % 7 AS m7 FROM t",
])
def test_arithmetic_of_narrow_integers_matches_duckdb(client: pr.Client, query: str) -> None:
    got, want = both_answers(client, query, t=_trades())
    assert same_rows(unordered(got.rows()), unordered(want.rows())), query


def test_the_minute_of_the_day_by_hand(client: pr.Client) -> None:
    t = pl.DataFrame({"ts": [dt.datetime(2024, 3, 1, 15, 45, 30), dt.datetime(2024, 12, 31, 23, 59)]})
    got = client.sql("SELECT HOUR(ts) * 60 + MINUTE(ts) AS m, MONTH(ts) * 100 + DAY(ts) AS md FROM t",
                     t=client.from_polars(t)).collect()
    assert got.rows() == [(945, 301), (1439, 1231)]


def test_integer_literals_and_32_bit_columns_compute_their_exact_values_by_hand(client: pr.Client) -> None:
    """`24 * 60 * 60 * 1000 * 1000` (microseconds a day) wrapped to 500654080 (patch 0093; python polars 2.1 still
    does); `100000 * 100000` came back as 1410065408, 2, 1410065408 (its schema said Int32, the plan folded it to
    an Int64, and the server sent its buffer as Int32s); 50,000 of an INT times 50,000 was negative (0073).
    DuckDB and PostgreSQL refuse these as INT32 overflows; we answer the exact values, as polars' optimizer does."""
    us_per_day = 24 * 60 * 60 * 1000 * 1000
    t = pl.DataFrame({"us": [1_710_073_815_123_456, us_per_day * 3, 5], "qty": [50_000, 7, -50_000],
                      "cents": [50_000, 3, 50_000]},
                     schema={"us": pl.Int64, "qty": pl.Int32, "cents": pl.Int32})
    query = ("SELECT us // (24 * 60 * 60 * 1000 * 1000) AS day, 24 * 60 * 60 * 1000 * 1000 AS us_per_day, "
             "100000 * 100000 AS e10, 2147483647 + 1 AS past, -2147483648 - 1 AS below, qty * cents AS notional, "
             "qty * 100000 AS scaled, qty + 2147483647 AS shifted FROM t")
    frame = client.sql(query, t=client.from_polars(t))
    got = frame.collect()
    assert got.schema == frame.schema
    assert got.rows() == [
        (1_710_073_815_123_456 // us_per_day, us_per_day, 10**10, 2**31, -2**31 - 1, 2_500_000_000, 5 * 10**9,
         50_000 + 2**31 - 1),
        (3, us_per_day, 10**10, 2**31, -2**31 - 1, 21, 700_000, 7 + 2**31 - 1),
        (0, us_per_day, 10**10, 2**31, -2**31 - 1, -2_500_000_000, -5 * 10**9, -50_000 + 2**31 - 1),
    ]


@pytest.mark.parametrize("query", [
    # The common type of two integer literals was the first one's (patch 0094): Int32 here, while the answer
    # held 3e9 as an Int64, and the server sent that buffer as Int32s.
    "SELECT id, CASE WHEN id = 1 THEN 1 WHEN id = 2 THEN 3000000000 ELSE 2 END AS big, "
    "CASE WHEN id = 1 THEN 5 ELSE -3000000000 END AS negative, COALESCE(NULL, 1, 3000000000) AS c FROM t",
    "SELECT id, CASE id WHEN 3 THEN 9000000000 ELSE id END AS v FROM t",
])
def test_case_of_integer_literals_matches_duckdb(client: pr.Client, query: str) -> None:
    t = pl.DataFrame({"id": [1, 2, 3]})
    frame = client.sql(query, t=client.from_polars(t))
    got = frame.collect()
    assert got.schema == frame.schema
    assert got.rows() == duckdb.sql(query).fetchall(), query


@pytest.mark.parametrize("query", [
    # IN lists of columns and computed values (patch 0074): refused before.
    "SELECT sym, venue, sym IN (venue, 'AAPL') AS a, sym NOT IN (venue, UPPER('msft')) AS b FROM t",
    "SELECT sz FROM t WHERE sz IN (sz % 7 + 100, 250, 2 * 200)",
    "SELECT px, px NOT IN (sz, sz / 10) AS n FROM t",
])
def test_in_lists_of_columns_match_duckdb(client: pr.Client, query: str) -> None:
    got, want = both_answers(client, query, t=_trades())
    assert same_rows(unordered(got.rows()), unordered(want.rows())), query


def test_items_of_one_name_are_told_apart_as_polars_names_them(client: pr.Client) -> None:
    """`SELECT px, ROUND(px, 1)` failed with a duplicate name (patch 0076); the later item of a name is
    `name:n`, as python polars 2.1 names them, and an explicit alias keeps its own."""
    t = pl.DataFrame({"px": [10.26, 11.04], "sz": [100, 200]})
    for query in ["SELECT px, ROUND(px, 1) FROM t", "SELECT px - sz, px, 5 AS sz FROM t",
                  "SELECT *, px * sz FROM t", "SELECT (SELECT MAX(sz) FROM t), (SELECT MIN(sz) FROM t) FROM t"]:
        got = client.sql(query, t=client.from_polars(t)).collect()
        want = pl.SQLContext(t=t).execute(query, eager=True)
        assert got.columns == want.columns, query
        assert got.rows() == want.rows(), query


def _halves() -> pl.DataFrame:
    rng = random.Random(21)
    # Ties exact in binary (k / 8) beside ordinary values, both signs, and integers.
    xs = [rng.randint(-4000, 4000) / 8 for _ in range(80)] + [rng.uniform(-500, 500) for _ in range(40)]
    return pl.DataFrame({"x": xs + [None], "n": [rng.randint(-5000, 5000) for _ in range(len(xs))] + [None]})


@pytest.mark.parametrize("query", [
    # Halves away from zero (patch 0084): polars' half to even made ROUND(1.25, 1) 1.2.
    "SELECT x, ROUND(x) AS r0, ROUND(x, 1) AS r1, ROUND(x, 2) AS r2, ROUND(x, 3) AS r3 FROM t",
    # Negative decimals (refused before).
    "SELECT x, ROUND(x, -1) AS a, ROUND(x, -2) AS b, TRUNC(x, -1) AS c FROM t",
    "SELECT n, ROUND(n, -1) AS a, ROUND(n, -2) AS b, ROUND(n, -3) AS c FROM t",
])
def test_round_matches_duckdb(client: pr.Client, query: str) -> None:
    got, want = both_answers(client, query, t=_halves())
    assert same_rows(unordered(got.rows()), unordered(want.rows())), query


def test_try_strptime_is_null_where_duckdb_s_is(client: pr.Client) -> None:
    rng = random.Random(4)
    texts = [f"2024-{rng.randint(1, 14):02d}-{rng.randint(1, 31):02d} {rng.randint(0, 25):02d}:{rng.randint(0, 59):02d}:00"
             for _ in range(100)] + ["bad", "", None]
    query = "SELECT s, TRY_STRPTIME(s, '%Y-%m-%d %H:%M:%S') AS p FROM t"
    got, want = both_answers(client, query, t=pl.DataFrame({"s": texts}))
    assert want["p"].null_count() > 3 and want["p"].drop_nulls().len() > 30
    assert same_rows(unordered(got.rows()), unordered(want.rows()))


def _decimal_trades() -> pl.DataFrame:
    from decimal import Decimal
    rng = random.Random(8)
    n = 150
    return pl.DataFrame({
        "sym": [rng.choice(["AAPL", "MSFT", "IBM"]) for _ in range(n)],
        "px": [Decimal(rng.randint(900000, 1100000)) / 10000 for _ in range(n)],
        "q": [rng.randint(1, 900) for _ in range(n)],
    }, schema={"sym": pl.Utf8, "px": pl.Decimal(12, 4), "q": pl.Int64})


@pytest.mark.parametrize("query", [
    # A division with a decimal is of doubles (patch 0086): the VWAP was cut to the prices' scale.
    "SELECT sym, SUM(px * q) / SUM(q) AS vwap FROM t GROUP BY sym",
    "SELECT sym, px / q AS a, q / px AS b, px / 7 AS c FROM t",
    "SELECT sym, SUM(px) / COUNT(*) AS m FROM t GROUP BY sym",
])
def test_divisions_of_decimals_match_duckdb(client: pr.Client, query: str) -> None:
    got, want = both_answers(client, query, t=_decimal_trades())
    assert same_rows(unordered(got.rows()), unordered(want.rows()), 1e-12), query


@pytest.mark.parametrize("query", [
    # Statistics of decimals read them as doubles (patch 0088): they failed, no decimal kernels.
    "SELECT sym, CORR(px, q) AS c, COVAR_POP(px, q) AS v, COVAR_SAMP(q, px) AS w FROM t GROUP BY sym",
    "SELECT sym, REGR_SLOPE(px, q) AS s, REGR_INTERCEPT(px, q) AS i, SKEWNESS(px) AS k FROM t GROUP BY sym",
])
def test_statistics_of_decimals_match_duckdb(client: pr.Client, query: str) -> None:
    got, want = both_answers(client, query, t=_decimal_trades())
    assert same_rows(unordered(got.rows()), unordered(want.rows()), 1e-9), query


def test_remainders_of_decimals_match_duckdb_exactly(client: pr.Client) -> None:
    # Exact, as DuckDB's decimals: of doubles, 1234.56 % 0.01 was 0.01 (patch 0088; it failed before).
    query = "SELECT px, px % 1 AS a, px % 0.01 AS b, px % 0.3 AS c, px % q AS d, MOD(px, 0.05) AS e FROM t"
    got, want = both_answers(client, query, t=_decimal_trades())
    assert same_rows(unordered(got.rows()), unordered(want.rows())), query


def _twap_by_hand(rows: list[tuple[float | None, int | None]]) -> float | None:
    """QuestDB's TWAP, one loop: each price held until the next kept row's time, over the span."""
    kept = sorted(((t, p) for p, t in rows if p is not None and t is not None), key=lambda r: r[0])
    if not kept:
        return None
    span = kept[-1][0] - kept[0][0]
    if span == 0:
        return sum(p for _, p in kept) / len(kept)
    return sum(p * (t2 - t1) for (t1, p), (t2, _) in zip(kept, kept[1:])) / span


def test_twap_and_vwap_match_a_hand_computation(client: pr.Client) -> None:
    """QuestDB's TWAP and VWAP (patch 0099) per symbol, on every SQL door (here the native Sql),
    against a loop over the rows: unsorted times, null prices and times, zero and negative sizes."""
    rng = random.Random(99)
    n = 400
    df = pl.DataFrame({
        "sym": [rng.choice("abcd") for _ in range(n)],
        "ts": [None if rng.random() < 0.05 else dt.datetime(2024, 3, 1, 9, 30) + dt.timedelta(microseconds=rng.randrange(10**9))
               for _ in range(n)],
        "px": [None if rng.random() < 0.1 else round(rng.uniform(90, 110), 2) for _ in range(n)],
        "q": [rng.choice([-1, 0]) if rng.random() < 0.1 else rng.randint(1, 500) for _ in range(n)],
    })
    got = client.sql("SELECT sym, TWAP(px, ts) AS twap, VWAP(px, q) AS vwap FROM df GROUP BY sym ORDER BY sym",
                     df=client.from_polars(df)).collect()
    assert got["sym"].to_list() == ["a", "b", "c", "d"]
    for sym, twap, vwap in got.rows():
        rows = df.filter(pl.col("sym") == sym)
        micros = [None if t is None else (t - dt.datetime(2024, 3, 1)) // dt.timedelta(microseconds=1) for t in rows["ts"]]
        want_twap = _twap_by_hand(list(zip(rows["px"], micros, strict=True)))
        counted = [(p, q) for p, q in zip(rows["px"], rows["q"], strict=True) if p is not None and q > 0]
        want_vwap = sum(p * q for p, q in counted) / sum(q for _, q in counted)
        assert abs(twap - want_twap) < 1e-9 and abs(vwap - want_vwap) < 1e-9, (sym, twap, want_twap, vwap, want_vwap)
    # Over no rows, null; one time, the mean.
    [(twap, vwap)] = client.sql("SELECT TWAP(px, ts), VWAP(px, q) FROM df WHERE q > 1000", df=client.from_polars(df)).collect().rows()
    assert (twap, vwap) == (None, None)
    one = pl.DataFrame({"px": [1.0, 2.0, 6.0], "ts": [dt.datetime(2024, 1, 1)] * 3})
    assert client.sql("SELECT TWAP(px, ts) AS t FROM one", one=client.from_polars(one)).collect()["t"].to_list() == [3.0]
