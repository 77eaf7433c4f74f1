"""SQL window frames (patches 0021, 0022), windows over grouped rows (0035), the default frame of an
ordered window (0039), ORDER BY keys in mixed directions (0040), every aggregate over its partition,
FILTER too (0065), IGNORE NULLS, NTH_VALUE and COUNT_IF (0067), RANGE frames reaching past the current
row (0069), windows written on named windows (0070), trailing RANGE frames of null keys, their first
and last values and MIN and MAX over RANGE frames holding the current row (0119), over the server's SQL,
against DuckDB's answers; QuestDB's exponential moving averages (0101) against its recurrence."""

from __future__ import annotations

import datetime as dt
import math
import random
import re

import duckdb
import polars as pl
import pytest

import polaroid as pr
from sql_oracle import both_answers, same_rows, unordered

BOUNDS = ["UNBOUNDED PRECEDING", "3 PRECEDING", "1 PRECEDING", "CURRENT ROW", "1 FOLLOWING", "2 FOLLOWING",
          "UNBOUNDED FOLLOWING"]
# Every frame SQL allows from these bounds, the short forms, and frames that exclude the current row.
FRAMES = ([""] + [f"ROWS BETWEEN {a} AND {b}" for i, a in enumerate(BOUNDS) for b in BOUNDS[i:]
                  if a != "UNBOUNDED FOLLOWING" and b != "UNBOUNDED PRECEDING"]
          + ["ROWS 2 PRECEDING", "ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING", "ROWS BETWEEN 1 FOLLOWING AND 4 FOLLOWING",
             "RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"])
FUNCTIONS = ["SUM(px)", "SUM(q)", "AVG(px)", "AVG(q)", "MIN(px)", "MAX(q)", "COUNT(px)", "COUNT(*)", "STDDEV(px)",
             "VARIANCE(q)", "FIRST_VALUE(px)", "LAST_VALUE(q)", "FIRST(q)", "LAST(px)"]
# Aggregates over a partition (no ORDER BY): each row gets its partition's value. Those of two
# arguments, the quantiles and the lists answered the whole table's before patch 0065.
PARTITION_AGGREGATES = [
    "CORR(px, q)", "COVAR_POP(px, q)", "COVAR_SAMP(q, px)", "QUANTILE_CONT(px, 0.3)", "QUANTILE_DISC(q, 0.7)",
    "MEDIAN(px)", "STRING_AGG(CAST(q AS VARCHAR), ',' ORDER BY ts)", "ARRAY_AGG(q ORDER BY ts DESC)",
    "SUM(px) FILTER (WHERE q > 5)", "COUNT(*) FILTER (WHERE px < 0)",
    "AVG(q) FILTER (WHERE px > 0)", "COUNT(DISTINCT q) FILTER (WHERE px IS NOT NULL)",
    "COVAR_POP(px, q) FILTER (WHERE ts % 2 = 0)",
]


@pytest.fixture(scope="module")
def ticks() -> pl.DataFrame:
    rng = random.Random(7)
    n = 240
    return pl.DataFrame({
        "sym": [rng.choice("abcde") for _ in range(n)],
        # Distinct times: a ROWS frame over tied rows has no one answer.
        "ts": rng.sample(range(10 * n), n),
        "px": [None if rng.random() < 0.15 else round(rng.uniform(-50, 50), 3) for _ in range(n)],
        "q": [None if rng.random() < 0.1 else rng.randint(-5, 20) for _ in range(n)],
    })


def same(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if not isinstance(a, (int, float)):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)  # type: ignore[arg-type]


def assert_windows_match_duckdb(client: pr.Client, df: pl.DataFrame, functions: list[str], window: str,
                                columns: str, order: str) -> None:
    """Each of `functions` OVER (`window`), selected beside `columns` and ordered by `order` (which
    must settle every row's place), as the server answers it and as DuckDB does, row by row."""
    items = ", ".join(f"{f} OVER ({window}) AS m{i}" for i, f in enumerate(functions))
    query = f"SELECT {columns}, {items} FROM df ORDER BY {order}"
    got = client.sql(query, df=client.from_polars(df)).collect()
    want = duckdb.sql(query).pl()
    assert got.select(columns.split(", ")).equals(want.select(columns.split(", ")))
    for i, f in enumerate(functions):
        pairs = zip(got[f"m{i}"].to_list(), want[f"m{i}"].to_list())
        mismatched = [(row, g, w) for row, (g, w) in enumerate(pairs) if not same(g, w)]
        assert not mismatched, f"{f} OVER ({window}): (row, server, duckdb) {mismatched[:5]}"


@pytest.mark.parametrize("window", ["PARTITION BY sym ORDER BY ts", "ORDER BY ts DESC",
                                    "PARTITION BY sym ORDER BY q DESC NULLS LAST, ts"])
@pytest.mark.parametrize("frame", FRAMES)
def test_aggregates_over_every_rows_frame_match_duckdb(client: pr.Client, ticks: pl.DataFrame, window: str,
                                                       frame: str) -> None:
    assert_windows_match_duckdb(client, ticks, FUNCTIONS, f"{window} {frame}", "ts", "ts")


@pytest.mark.parametrize("window", [
    "ORDER BY ts RANGE BETWEEN INTERVAL '1' MINUTE PRECEDING AND CURRENT ROW",
    "PARTITION BY sym ORDER BY ts RANGE BETWEEN INTERVAL '90 seconds' PRECEDING AND CURRENT ROW",
    "PARTITION BY sym ORDER BY ts RANGE INTERVAL '5' MINUTE PRECEDING",
    "PARTITION BY sym ORDER BY k RANGE BETWEEN 30 PRECEDING AND CURRENT ROW",
])
def test_aggregates_over_a_range_of_time_match_duckdb(client: pr.Client, window: str) -> None:
    """The rows of the last span of time, and the current row's peers: many times repeat here."""
    rng = random.Random(3)
    seconds = [rng.randint(0, 1800) for _ in range(300)]
    df = pl.DataFrame({
        "sym": [rng.choice("abc") for _ in seconds],
        "ts": [dt.datetime(2024, 1, 1) + dt.timedelta(seconds=s) for s in seconds],
        "k": seconds,
        "px": [None if rng.random() < 0.15 else round(rng.uniform(-50, 50), 3) for _ in seconds],
        "q": [None if rng.random() < 0.1 else rng.randint(-5, 20) for _ in seconds],
    })
    functions = ["SUM(px)", "SUM(q)", "AVG(px)", "MIN(px)", "MAX(q)", "COUNT(px)", "COUNT(*)", "STDDEV(px)",
                 "VARIANCE(q)"]
    # Peers share their frame's value, so ordering by the row's values settles every row's place.
    assert_windows_match_duckdb(client, df, functions, window, "ts, sym, px, q", "ts, sym, px, q")


# RANGE frames with an offset that reach past the current row (patch 0069): refused before.
RANGE_FRAMES_BOTH_WAYS = [
    "RANGE BETWEEN 30 PRECEDING AND 30 FOLLOWING", "RANGE BETWEEN CURRENT ROW AND 60 FOLLOWING",
    "RANGE BETWEEN 10 FOLLOWING AND 90 FOLLOWING", "RANGE BETWEEN 120 PRECEDING AND 15 PRECEDING",
    "RANGE BETWEEN UNBOUNDED PRECEDING AND 45 FOLLOWING", "RANGE BETWEEN 45 PRECEDING AND UNBOUNDED FOLLOWING",
    "RANGE BETWEEN 0 PRECEDING AND 0 FOLLOWING", "RANGE BETWEEN UNBOUNDED PRECEDING AND 20 PRECEDING",
]


def _seconds_of_ticks(seed: int, distinct: bool) -> pl.DataFrame:
    rng = random.Random(seed)
    seconds = rng.sample(range(3600), 300) if distinct else [rng.randint(0, 1800) for _ in range(300)]
    return pl.DataFrame({
        "sym": [rng.choice("abc") for _ in seconds],
        "ts": [dt.datetime(2024, 1, 1) + dt.timedelta(seconds=s) for s in seconds],
        "k": [None if not distinct and rng.random() < 0.05 else s for s in seconds],
        "px": [None if rng.random() < 0.15 else round(rng.uniform(-50, 50), 3) for _ in seconds],
        "q": [None if rng.random() < 0.1 else rng.randint(-5, 20) for _ in seconds],
    })


@pytest.mark.parametrize("frame", RANGE_FRAMES_BOTH_WAYS)
@pytest.mark.parametrize("partition", ["", "PARTITION BY sym "])
def test_sums_and_counts_over_range_frames_both_ways_match_duckdb(client: pr.Client, frame: str,
                                                                  partition: str) -> None:
    """Many keys repeat and some are null (a null key's frame is the null keys)."""
    functions = ["SUM(px)", "SUM(q)", "AVG(px)", "AVG(q)", "COUNT(px)", "COUNT(*)"]
    assert_windows_match_duckdb(client, _seconds_of_ticks(9, distinct=False), functions,
                                f"{partition}ORDER BY k {frame}", "ts, sym, px, q", "ts, sym, px, q")


# Those of the frames above that hold the current row.
RANGE_FRAMES_HOLDING_THE_ROW = [
    "RANGE BETWEEN 30 PRECEDING AND 30 FOLLOWING", "RANGE BETWEEN CURRENT ROW AND 60 FOLLOWING",
    "RANGE BETWEEN UNBOUNDED PRECEDING AND 45 FOLLOWING", "RANGE BETWEEN 45 PRECEDING AND UNBOUNDED FOLLOWING",
    "RANGE BETWEEN 0 PRECEDING AND 0 FOLLOWING", "RANGE BETWEEN 20 PRECEDING AND 0 FOLLOWING",
]


@pytest.mark.parametrize("frame", RANGE_FRAMES_HOLDING_THE_ROW)
@pytest.mark.parametrize("order", ["ORDER BY k", "PARTITION BY sym ORDER BY k", "PARTITION BY sym ORDER BY k NULLS FIRST"])
def test_extremes_over_range_frames_both_ways_match_duckdb(client: pr.Client, frame: str, order: str) -> None:
    """MIN and MAX over a RANGE frame reaching past the current row (refused before). Many keys repeat
    and some are null: a null key's frame is the null keys and what an unbounded side reaches."""
    functions = ["MIN(px)", "MAX(px)", "MIN(q)", "MAX(q)"]
    assert_windows_match_duckdb(client, _seconds_of_ticks(9, distinct=False), functions, f"{order} {frame}",
                                "ts, sym, px, q", "ts, sym, px, q")


@pytest.mark.parametrize("frame", [
    "RANGE BETWEEN INTERVAL 90 SECOND PRECEDING AND INTERVAL 90 SECOND FOLLOWING",
    "RANGE BETWEEN CURRENT ROW AND INTERVAL '5 minutes' FOLLOWING",
    "RANGE BETWEEN INTERVAL '1 day' PRECEDING AND INTERVAL '2 minutes' FOLLOWING",
])
def test_extremes_over_range_frames_of_time_match_duckdb(client: pr.Client, frame: str) -> None:
    assert_windows_match_duckdb(client, _seconds_of_ticks(11, distinct=False), ["MIN(px)", "MAX(q)"],
                                f"PARTITION BY sym ORDER BY ts {frame}", "ts, sym, px, q", "ts, sym, px, q")


def test_a_high_low_band_by_hand(client: pr.Client) -> None:
    """The highest and lowest price within a minute either side of each trade."""
    df = pl.DataFrame({"ts": [dt.datetime(2024, 1, 1, 10, 0, s) for s in (0, 30)]
                       + [dt.datetime(2024, 1, 1, 10, 1, s) for s in (0, 45)] + [dt.datetime(2024, 1, 1, 10, 3)],
                       "px": [100.0, 103.0, 99.0, 101.0, 104.0]})
    got = client.sql("SELECT MAX(px) OVER w AS high, MIN(px) OVER w AS low FROM df WINDOW w AS (ORDER BY ts "
                     "RANGE BETWEEN INTERVAL '1 minute' PRECEDING AND INTERVAL '1 minute' FOLLOWING) ORDER BY ts",
                     df=client.from_polars(df)).collect()
    # 10:00:00 sees to 10:01:00; 10:00:30 to 10:01:30; 10:01:00 from 10:00:00 to 10:02:00; 10:01:45 from
    # 10:00:45; 10:03:00 alone.
    assert got.rows() == [(103.0, 99.0), (103.0, 99.0), (103.0, 99.0), (101.0, 99.0), (104.0, 104.0)]


@pytest.mark.parametrize("frame", RANGE_FRAMES_BOTH_WAYS)
def test_values_at_range_frame_bounds_match_duckdb(client: pr.Client, frame: str) -> None:
    """Distinct keys, so that the first and last rows of each frame are one row each."""
    functions = ["FIRST_VALUE(px)", "LAST_VALUE(px)", "FIRST_VALUE(px IGNORE NULLS)", "LAST_VALUE(q IGNORE NULLS)",
                 "NTH_VALUE(q, 3)", "SUM(px)"]
    assert_windows_match_duckdb(client, _seconds_of_ticks(10, distinct=True), functions,
                                f"PARTITION BY sym ORDER BY k {frame}", "ts, sym", "ts")


@pytest.mark.parametrize("window", ["PARTITION BY sym ORDER BY k RANGE BETWEEN 30 PRECEDING AND CURRENT ROW",
                                    "ORDER BY k RANGE 45 PRECEDING"])
def test_a_trailing_range_frame_of_a_null_key_is_its_null_peers(client: pr.Client, window: str) -> None:
    """A row whose key is null has the null keys as its peers and its frame, as DuckDB and PostgreSQL
    read RANGE: the trailing frames answered null (COUNT 0) on those rows."""
    functions = ["SUM(px)", "SUM(q)", "AVG(px)", "MIN(px)", "MAX(q)", "COUNT(px)", "COUNT(*)", "STDDEV(px)",
                 "VARIANCE(q)"]
    df = _seconds_of_ticks(9, distinct=False)
    assert df["k"].null_count() > 1
    assert_windows_match_duckdb(client, df, functions, window, "ts, sym, px, q", "ts, sym, px, q")


@pytest.mark.parametrize("window", ["PARTITION BY sym ORDER BY k RANGE BETWEEN 30 PRECEDING AND CURRENT ROW",
                                    "ORDER BY k RANGE 45 PRECEDING",
                                    "PARTITION BY sym ORDER BY ts RANGE BETWEEN INTERVAL '90 seconds' PRECEDING "
                                    "AND CURRENT ROW"])
def test_values_at_trailing_range_frame_bounds_match_duckdb(client: pr.Client, window: str) -> None:
    """FIRST_VALUE, LAST_VALUE and NTH_VALUE over a trailing RANGE frame (refused before); distinct keys,
    so that each frame's first and last rows are one row each."""
    functions = ["FIRST_VALUE(px)", "LAST_VALUE(px)", "FIRST_VALUE(px IGNORE NULLS)", "LAST_VALUE(q IGNORE NULLS)",
                 "NTH_VALUE(q, 3)", "FIRST(px)"]
    assert_windows_match_duckdb(client, _seconds_of_ticks(10, distinct=True), functions, window, "ts, sym", "ts")


def test_the_price_a_minute_before_by_hand(client: pr.Client) -> None:
    """The first price of the minute up to each trade, and the change over that minute."""
    df = pl.DataFrame({"ts": [dt.datetime(2024, 1, 1, 10, 0, s) for s in (0, 20, 50)]
                       + [dt.datetime(2024, 1, 1, 10, 1, s) for s in (0, 10, 40)],
                       "px": [100.0, 101.0, 99.0, 102.0, 103.0, 98.0]})
    got = client.sql("SELECT px - FIRST_VALUE(px) OVER w AS change, NTH_VALUE(px, 2) OVER w AS second FROM df "
                     "WINDOW w AS (ORDER BY ts RANGE BETWEEN INTERVAL '1 minute' PRECEDING AND CURRENT ROW) "
                     "ORDER BY ts", df=client.from_polars(df)).collect()
    # 10:01:00 reaches back to 10:00:00 itself; 10:01:10 to 10:00:20; 10:01:40 to 10:00:50.
    assert got.rows() == [(0.0, None), (1.0, 101.0), (-1.0, 101.0), (2.0, 101.0), (2.0, 99.0), (-1.0, 102.0)]


@pytest.mark.parametrize("frame", [
    "RANGE BETWEEN CURRENT ROW AND INTERVAL '5 minutes' FOLLOWING",
    "RANGE BETWEEN INTERVAL 90 SECOND PRECEDING AND INTERVAL 90 SECOND FOLLOWING",
    "RANGE BETWEEN INTERVAL '1 minute' FOLLOWING AND INTERVAL '10 minutes' FOLLOWING",
])
def test_range_frames_of_time_both_ways_match_duckdb(client: pr.Client, frame: str) -> None:
    functions = ["SUM(q)", "AVG(px)", "COUNT(*)", "LAST_VALUE(px)", "LAST_VALUE(px IGNORE NULLS)", "FIRST_VALUE(q)"]
    assert_windows_match_duckdb(client, _seconds_of_ticks(11, distinct=True), functions,
                                f"PARTITION BY sym ORDER BY ts {frame}", "ts, sym", "ts")


@pytest.mark.parametrize("query", [
    "SELECT sym, ts, SUM(q) OVER (w ORDER BY ts) AS m FROM df WINDOW w AS (PARTITION BY sym)",
    "SELECT sym, ts, AVG(px) OVER w2 AS m FROM df WINDOW w1 AS (PARTITION BY sym), "
    "w2 AS (w1 ORDER BY ts ROWS BETWEEN 2 PRECEDING AND 1 FOLLOWING)",
    "SELECT sym, ts, RANK() OVER w AS m, CUME_DIST() OVER w AS c FROM df WINDOW w AS (PARTITION BY sym ORDER BY q, ts)",
    "SELECT sym, ts, LAST_VALUE(px IGNORE NULLS) OVER (w ORDER BY ts) AS m FROM df WINDOW w AS (PARTITION BY sym)",
    "SELECT sym, ts, LAG(px, 2, q) OVER (PARTITION BY sym ORDER BY ts) AS m, LEAD(q, 1, -1) OVER w AS d "
    "FROM df WINDOW w AS (PARTITION BY sym ORDER BY ts)",
])
def test_windows_on_named_windows_match_duckdb(client: pr.Client, ticks: pl.DataFrame, query: str) -> None:
    """A window written on a named one takes its PARTITION BY: a running total of the whole table
    before patch 0070, silently; LAG/LEAD's default may be a column."""
    got, want = both_answers(client, query, df=ticks)
    assert same_rows(unordered(got.rows()), unordered(want.rows())), query


@pytest.mark.parametrize(("window", "says"), [
    ("w PARTITION BY ts", "a window on the named window 'w' cannot have its own PARTITION BY"),
    ("w ORDER BY q", "a window on the named window 'w' cannot replace its ORDER BY"),
    ("v ORDER BY q", "named window 'v' was not found"),
])
def test_windows_on_named_windows_refuse_what_sql_refuses(client: pr.Client, ticks: pl.DataFrame, window: str,
                                                          says: str) -> None:
    with pytest.raises(pr.InvalidArgumentError, match=re.escape(says)):
        client.sql(f"SELECT SUM(px) OVER ({window}) AS m FROM ticks WINDOW w AS (PARTITION BY sym ORDER BY ts)",
                   ticks=client.from_polars(ticks)).collect()


def test_a_five_minute_markout_by_hand(client: pr.Client) -> None:
    """The last price within five minutes after each trade, and the trades in that span."""
    df = pl.DataFrame({"ts": [dt.datetime(2024, 1, 1, 10, m) for m in (0, 2, 4, 9, 15)],
                       "px": [100.0, 101.0, 99.5, 102.0, 98.0]})
    got = client.sql("SELECT px, LAST_VALUE(px) OVER w - px AS markout, COUNT(*) OVER w AS n FROM df "
                     "WINDOW w AS (ORDER BY ts RANGE BETWEEN CURRENT ROW AND INTERVAL '5 minutes' FOLLOWING) "
                     "ORDER BY ts", df=client.from_polars(df)).collect()
    # 10:00 sees 10:02 and 10:04; 10:02 sees 10:04; 10:04 sees 10:09; 10:09 and 10:15 only themselves.
    assert got.rows() == [(100.0, -0.5, 3), (101.0, -1.5, 2), (99.5, 2.5, 2), (102.0, 0.0, 1), (98.0, 0.0, 1)]


# DuckDB puts nulls last by default even for DESC, where polars' SQL (as PostgreSQL) puts
# them first: a DESC here says where its nulls go.
@pytest.mark.parametrize("order", ["ORDER BY k", "PARTITION BY sym ORDER BY k DESC NULLS FIRST",
                                   "ORDER BY k, k2", "ORDER BY k NULLS FIRST, k2 NULLS FIRST",
                                   "PARTITION BY sym ORDER BY k DESC NULLS LAST, k2 DESC NULLS LAST",
                                   "ORDER BY k2 DESC NULLS FIRST, k DESC NULLS FIRST", "ORDER BY sym, k",
                                   "ORDER BY k DESC NULLS LAST, k2", "PARTITION BY sym ORDER BY k NULLS FIRST, k2 DESC"])
@pytest.mark.parametrize("frame", ["", "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW", "RANGE UNBOUNDED PRECEDING",
                                   "RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING"])
def test_running_aggregates_over_peers_match_duckdb(client: pr.Client, order: str, frame: str) -> None:
    """A RANGE frame from the partition's start takes in every row that ties with the current one
    (its peers); null keys are peers of each other, placed where the ORDER BY says. It is the frame
    of an ordered window that names none (a running total over tied keys summed row by row)."""
    rng = random.Random(5)
    df = pl.DataFrame({
        "sym": [rng.choice("abc") for _ in range(200)],
        "k": [rng.choice([None, *range(8)]) for _ in range(200)],
        "k2": [rng.randint(0, 2) for _ in range(200)],
        "px": [None if rng.random() < 0.15 else round(rng.uniform(-50, 50), 3) for _ in range(200)],
    })
    functions = ["SUM(px)", "AVG(px)", "MIN(px)", "COUNT(px)", "COUNT(*)", "STDDEV(px)"]
    if "k2" in order:
        functions += ["FIRST_VALUE(k2)", "LAST_VALUE(k2)"]  # the same for every order of peers
    assert_windows_match_duckdb(client, df, functions, f"{order} {frame}", "sym, k, k2, px", "sym, k, k2, px")


@pytest.mark.parametrize("window", ["PARTITION BY sym ORDER BY ts", "ORDER BY ts DESC", "PARTITION BY sym ORDER BY k",
                                    "ORDER BY k DESC NULLS LAST", "ORDER BY k NULLS FIRST, sym NULLS FIRST",
                                    "ORDER BY k DESC NULLS LAST, sym", "PARTITION BY sym ORDER BY k NULLS FIRST, ts DESC"])
def test_ranks_ntile_percent_rank_and_cume_dist_match_duckdb(client: pr.Client, window: str) -> None:
    """Null keys rank as peers of each other, where the ORDER BY places them."""
    rng = random.Random(9)
    df = pl.DataFrame({"sym": [rng.choice("abcdefg") for _ in range(97)], "ts": rng.sample(range(1000), 97),
                       "k": [rng.choice([None, *range(6)]) for _ in range(97)]})
    functions = ["PERCENT_RANK()", "CUME_DIST()", "RANK()", "DENSE_RANK()"]
    if "ts" in window:  # NTILE over tied rows has no one answer
        functions += ["NTILE(1)", "NTILE(3)", "NTILE(4)", "NTILE(20)"]
    assert_windows_match_duckdb(client, df, functions, window, "ts", "ts")


def test_a_moving_average_by_hand(client: pr.Client) -> None:
    df = pl.DataFrame({"sym": ["a", "a", "b", "a", "b", "a"], "ts": [1, 2, 3, 4, 5, 6],
                       "px": [1.0, 2.0, 10.0, 3.0, 20.0, None]})
    got = client.sql(
        "SELECT ts, AVG(px) OVER (PARTITION BY sym ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS ma,"
        " AVG(px) OVER (PARTITION BY sym ORDER BY ts) AS running,"
        " LAG(px, 1, 0.0) OVER (PARTITION BY sym ORDER BY ts) AS prev FROM df ORDER BY ts",
        df=client.from_polars(df)).collect()
    # a: 1, 2, 3, null; b: 10, 20 (a null is skipped, as SQL's AVG skips it)
    assert got["ma"].to_list() == [1.0, 1.5, 10.0, 2.5, 15.0, 3.0]
    assert got["running"].to_list() == [1.0, 1.5, 10.0, 2.0, 15.0, 2.0]
    # The default fills only the row before each partition's first; a null value stays null.
    assert got["prev"].to_list() == [0.0, 1.0, 0.0, 2.0, 10.0, 3.0]


# The non-null values of each frame (patch 0067): the last known price is LAST_VALUE(px IGNORE NULLS).
IGNORING_NULLS = ["LAST_VALUE(px IGNORE NULLS)", "FIRST_VALUE(px IGNORE NULLS)", "LAST_VALUE(q RESPECT NULLS)",
                  "NTH_VALUE(px, 2)", "NTH_VALUE(q, 4)"]


@pytest.mark.parametrize("window", ["PARTITION BY sym ORDER BY ts", "ORDER BY ts DESC",
                                    "PARTITION BY sym ORDER BY q NULLS FIRST, ts"])
@pytest.mark.parametrize("frame", FRAMES)
def test_values_ignoring_nulls_over_every_rows_frame_match_duckdb(client: pr.Client, ticks: pl.DataFrame,
                                                                  window: str, frame: str) -> None:
    assert_windows_match_duckdb(client, ticks, IGNORING_NULLS, f"{window} {frame}", "ts, sym", "ts")


@pytest.mark.parametrize("frame", ["", "ROWS BETWEEN 3 PRECEDING AND 1 FOLLOWING", "ROWS 2 PRECEDING",
                                   "ROWS BETWEEN 2 FOLLOWING AND UNBOUNDED FOLLOWING"])
def test_count_if_over_frames_counts_as_duckdb_s_count_of_a_case(client: pr.Client, ticks: pl.DataFrame,
                                                                 frame: str) -> None:
    """DuckDB's COUNT_IF over a frame with no rows is null (it sums); a count of none is 0, as COUNT's."""
    window = f"PARTITION BY sym ORDER BY ts {frame}"
    query = f"SELECT ts, COUNT_IF(px > 10) OVER ({window}) AS n FROM df ORDER BY ts"
    got = client.sql(query, df=client.from_polars(ticks)).collect()
    df = ticks  # noqa: F841 (DuckDB reads it by name)
    want = duckdb.sql(query.replace("COUNT_IF(px > 10)", "COUNT(CASE WHEN px > 10 THEN 1 END)")).pl()
    assert got.rows() == want.rows()


@pytest.mark.parametrize("call", ["LAG(px IGNORE NULLS)", "LAG(px, 3 IGNORE NULLS)", "LAG(q, 2, -1 IGNORE NULLS)",
                                  "LEAD(px IGNORE NULLS)", "LEAD(q, 4, 0 IGNORE NULLS)"])
@pytest.mark.parametrize("window", ["PARTITION BY sym ORDER BY ts", "ORDER BY ts DESC"])
def test_lag_and_lead_of_non_null_values_match_duckdb(client: pr.Client, ticks: pl.DataFrame, call: str,
                                                      window: str) -> None:
    assert_windows_match_duckdb(client, ticks, [call], window, "ts, sym", "ts")


def test_the_last_known_quote_by_hand(client: pr.Client) -> None:
    """Quotes with gaps: each row's last known bid (either way of writing IGNORE NULLS), the previous
    known one, and the second quote of the symbol so far."""
    df = pl.DataFrame({"sym": ["a", "a", "a", "a", "b", "b"], "ts": [1, 2, 3, 4, 1, 2],
                       "bid": [10.0, None, 30.0, None, None, 60.0]})
    got = client.sql("SELECT LAST_VALUE(bid IGNORE NULLS) OVER w AS known, LAST_VALUE(bid) IGNORE NULLS OVER w AS std, "
                     "LAG(bid, 1, 0 IGNORE NULLS) OVER w AS prev, NTH_VALUE(ts, 2) OVER w AS second "
                     "FROM df WINDOW w AS (PARTITION BY sym ORDER BY ts) ORDER BY sym, ts",
                     df=client.from_polars(df)).collect()
    assert got.rows() == [(10.0, 10.0, 0.0, None), (10.0, 10.0, 10.0, 2), (30.0, 30.0, 10.0, 2), (30.0, 30.0, 30.0, 2),
                          (None, None, 0.0, None), (60.0, 60.0, 0.0, 2)]


@pytest.mark.parametrize("window", ["PARTITION BY sym", "", "PARTITION BY ts % 3, sym"])
def test_aggregates_over_a_partition_match_duckdb(client: pr.Client, ticks: pl.DataFrame, window: str) -> None:
    assert_windows_match_duckdb(client, ticks, PARTITION_AGGREGATES, window, "ts, sym", "ts")


def test_a_partitioned_covariance_and_string_agg_by_hand(client: pr.Client) -> None:
    """Two symbols: a's covariance of (1, 2), (2, 4), (4, 9) is 11/3, b's of (10, 1), (20, 3) is 5;
    the whole table's, -4.92, was on every row before patch 0065."""
    df = pl.DataFrame({"sym": ["a", "a", "a", "b", "b"], "x": [1, 2, 4, 10, 20], "y": [2, 4, 9, 1, 3],
                       "s": ["p", "q", "r", "s", "t"]})
    got = client.sql("SELECT COVAR_POP(x, y) OVER (PARTITION BY sym) AS c, STRING_AGG(s, '' ORDER BY s DESC) "
                     "OVER (PARTITION BY sym) AS word, SUM(x) FILTER (WHERE y > 2) OVER (PARTITION BY sym) AS big "
                     "FROM df ORDER BY x", df=client.from_polars(df)).collect()
    assert got["c"].to_list() == pytest.approx([11 / 3] * 3 + [5.0] * 2)
    assert got["word"].to_list() == ["rqp"] * 3 + ["ts"] * 2
    assert got["big"].to_list() == [6, 6, 6, 20, 20]


@pytest.mark.parametrize(("item", "says"), [
    ("MEDIAN(px) OVER (PARTITION BY sym ORDER BY ts)", "is not supported"),
    ("SUM(px) FILTER (WHERE q > 1) OVER (ORDER BY ts)", "'FILTER' over an ordered window or a window frame"),
    ("COUNT(*) FILTER (WHERE q > 1) OVER (PARTITION BY sym ROWS 2 PRECEDING)", "'FILTER' over an ordered window"),
    ("SUM(px IGNORE NULLS) OVER (ORDER BY ts)", "IGNORE NULLS and RESPECT NULLS are for FIRST_VALUE, LAST_VALUE"),
    ("NTH_VALUE(px, 0) OVER (ORDER BY ts)", "NTH_VALUE's position must be a positive integer"),
    ("MAD(px) OVER (ORDER BY ts)", "over an ordered window or a window frame"),
    ("COUNT(DISTINCT sym) OVER (ORDER BY ts)", "COUNT(DISTINCT ...) over an ordered window"),
    ("MIN(px) OVER (ORDER BY ts RANGE BETWEEN INTERVAL 1 MINUTE FOLLOWING AND INTERVAL 2 MINUTE FOLLOWING)",
     "MIN and MAX over a RANGE frame that does not hold the current row are not supported"),
    ("STDDEV(px) OVER (ORDER BY ts RANGE BETWEEN INTERVAL 1 MINUTE PRECEDING AND INTERVAL 1 MINUTE FOLLOWING)",
     "STDDEV and VARIANCE over a RANGE frame that reaches past the current row are not supported"),
    ("SUM(px) OVER (ORDER BY ts RANGE BETWEEN 5 FOLLOWING AND 1 FOLLOWING)", "starts after it ends"),
    ("SUM(px) OVER (ORDER BY ts DESC RANGE 5 PRECEDING)", "needs an ascending ORDER BY"),
    ("SUM(px) OVER (ORDER BY ts, sym RANGE 5 PRECEDING)", "exactly one ORDER BY column"),
    ("NTILE(0) OVER (ORDER BY ts)", "NTILE expects a positive integer"),
    ("CUME_DIST() OVER (PARTITION BY sym)", "CUME_DIST requires an OVER clause with ORDER BY"),
    ("SUM(px) OVER (ORDER BY ts ROWS BETWEEN 2 FOLLOWING AND 1 FOLLOWING)", "starts after it ends"),
    ("SUM(px) OVER (ORDER BY ts ROWS BETWEEN -1 PRECEDING AND CURRENT ROW)", "non-negative integer"),
])
def test_frames_it_cannot_answer_are_refused_by_name(client: pr.Client, ticks: pl.DataFrame, item: str,
                                                      says: str) -> None:
    with pytest.raises(pr.InvalidArgumentError, match=re.escape(says)):
        client.sql(f"SELECT ts, {item} AS m FROM ticks", ticks=client.from_polars(ticks)).collect()


@pytest.mark.parametrize("query", [
    "SELECT g, ROW_NUMBER() OVER (ORDER BY g NULLS LAST) AS rn FROM t GROUP BY g",
    "SELECT g, s, COUNT(*) AS n, ROW_NUMBER() OVER (PARTITION BY s ORDER BY g NULLS LAST) AS rn FROM t GROUP BY g, s",
    "SELECT g, SUM(x) AS sx, RANK() OVER (ORDER BY SUM(x) DESC NULLS LAST) AS r FROM t GROUP BY g",
    "SELECT g, SUM(x) AS sx, SUM(SUM(x)) OVER () AS total FROM t GROUP BY g",
    "SELECT s, g, SUM(x) * 1.0 / SUM(SUM(x)) OVER (PARTITION BY s) AS share FROM t GROUP BY s, g",
    "SELECT g, COUNT(*) AS n, LAG(COUNT(*)) OVER (ORDER BY g NULLS LAST) AS prev FROM t GROUP BY g",
    "SELECT t.s, MAX(t.x) AS m, ROW_NUMBER() OVER (ORDER BY MAX(t.x) DESC) AS rn FROM t WHERE t.x > 1 "
    "GROUP BY t.s HAVING COUNT(*) > 1",
    "SELECT g, SUM(x) AS sx, AVG(SUM(x)) OVER (ORDER BY g NULLS LAST ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS ma "
    "FROM t GROUP BY g",
    "SELECT g, SUM(x) AS sx, RANK() OVER (ORDER BY SUM(x) DESC NULLS LAST) AS r FROM t GROUP BY g QUALIFY r <= 2",
    "SELECT g AS grp, SUM(x) AS sx, RANK() OVER (ORDER BY SUM(x) DESC NULLS LAST) AS r FROM t GROUP BY 1",
    "SELECT DATE_TRUNC('minute', ts) AS m, s, COUNT(*) AS n, ROW_NUMBER() OVER (PARTITION BY DATE_TRUNC('minute', ts) "
    "ORDER BY COUNT(*) DESC, s DESC) AS rn FROM t GROUP BY DATE_TRUNC('minute', ts), s",
])
def test_windows_in_a_group_by_query_run_over_the_grouped_rows(client: pr.Client, query: str) -> None:
    """SQL runs windows after GROUP BY, over one row per group (patch 0035); they ran inside each
    group's aggregation (a ROW_NUMBER came back as a list, SUM(SUM(x)) OVER () as the group's own)."""
    df = pl.DataFrame({"g": ["a", "a", "b", "b", "c", None], "x": [1, None, 3, 3, 5, 6],
                       "s": ["p", "p", "q", "q", "p", "q"],
                       "ts": [dt.datetime(2024, 1, 1, 10, m, 0) for m in (0, 0, 0, 1, 1, 1)]})
    got, want = both_answers(client, query, t=df)
    assert unordered(got.rows()) == unordered(want.rows()), query


def test_a_running_total_over_tied_times_by_hand(client: pr.Client) -> None:
    """Two trades at 10:01: SQL's running volume counts both at each (its default frame ends at the
    last peer), where a row-by-row sum said 3 at the first."""
    df = pl.DataFrame({"ts": [dt.datetime(2024, 1, 1, 10, m) for m in (0, 1, 1, 2)], "size": [1, 2, 3, 4]})
    got = client.sql("SELECT SUM(size) OVER (ORDER BY ts) AS volume, COUNT(*) OVER (ORDER BY ts) AS trades "
                     "FROM df ORDER BY ts, size", df=client.from_polars(df)).collect()
    assert got.rows() == [(1, 1), (6, 3), (6, 3), (10, 4)]


def test_mixed_directions_by_hand(client: pr.Client) -> None:
    """Newest first within each symbol, symbols in ascending order: the keys' own directions."""
    df = pl.DataFrame({"sym": ["b", "a", "b", "a"], "ts": [1, 2, 3, 4], "px": [10.0, 20.0, 30.0, 40.0]})
    got = client.sql("SELECT sym, ts, ROW_NUMBER() OVER (ORDER BY sym, ts DESC) AS rn, "
                     "FIRST_VALUE(px) OVER (ORDER BY sym DESC, ts DESC) AS first FROM df ORDER BY ts",
                     df=client.from_polars(df)).collect()
    assert got.rows() == [("b", 1, 4, 30.0), ("a", 2, 2, 30.0), ("b", 3, 3, 30.0), ("a", 4, 1, 30.0)]


@pytest.mark.parametrize("items", [
    # A SELECT of only whole-table windows keeps every row (patch 0075): it was one row.
    "SUM(q) OVER () AS s", "COUNT(*) OVER () AS n, AVG(px) OVER () AS a", "MAX(q) OVER () - MIN(q) OVER () AS r",
])
def test_selects_of_whole_table_windows_keep_every_row_as_duckdb(client: pr.Client, ticks: pl.DataFrame,
                                                                 items: str) -> None:
    got, want = both_answers(client, f"SELECT {items} FROM df WHERE q > 3", df=ticks)
    assert got.height == want.height > 1
    assert same_rows(unordered(got.rows()), unordered(want.rows()))


@pytest.mark.parametrize("query", [
    # The last trade of each symbol, DuckDB's idiom: `ts` is not in the SELECT list (patch 0078;
    # it failed, `ts` not found).
    "SELECT sym, px FROM df QUALIFY ROW_NUMBER() OVER (PARTITION BY sym ORDER BY ts DESC) = 1",
    "SELECT sym, px AS last_px FROM df WHERE q > 0 QUALIFY ROW_NUMBER() OVER (PARTITION BY sym ORDER BY ts DESC) <= 2",
    "SELECT df.sym, df.q FROM df QUALIFY RANK() OVER (PARTITION BY df.sym ORDER BY df.ts) <= 3",
    "SELECT sym, ts, ROW_NUMBER() OVER (PARTITION BY sym ORDER BY ts) AS rn FROM df QUALIFY rn <= 2 AND q > 3",
    "SELECT DISTINCT sym FROM df QUALIFY SUM(q) OVER (PARTITION BY sym) > 100",
    "SELECT * EXCLUDE (ts) FROM df QUALIFY ROW_NUMBER() OVER (PARTITION BY sym ORDER BY ts) = 1",
    "SELECT * FROM df QUALIFY q > AVG(q) OVER (PARTITION BY sym) AND ROW_NUMBER() OVER (ORDER BY ts) <= 60",
    # A column, not the alias that shadows it, as DuckDB binds QUALIFY (the alias was read, silently).
    "SELECT sym, ts, q * 10 AS q FROM df QUALIFY q > 5 AND ROW_NUMBER() OVER (PARTITION BY sym ORDER BY ts) <= 4",
    "SELECT sym, -ts AS ts FROM df QUALIFY ROW_NUMBER() OVER (PARTITION BY sym ORDER BY ts) = 1",
    # An alias where no column has its name; QUALIFY read on the output, as before.
    "SELECT sym, ts, LAG(q) OVER (PARTITION BY sym ORDER BY ts) AS prev FROM df QUALIFY prev IS NOT NULL AND prev > q",
    # No window in QUALIFY, one in the SELECT list (patch 0092; refused before), as DuckDB allows.
    "SELECT sym, ts, q * 2 AS q, SUM(q) OVER (PARTITION BY sym) AS s FROM df QUALIFY q > 10 AND s > 100",
])
def test_qualify_reads_the_input_columns_as_duckdb(client: pr.Client, ticks: pl.DataFrame, query: str) -> None:
    got, want = both_answers(client, query, df=ticks)
    assert want.height > 0
    assert got.columns == want.columns
    assert same_rows(unordered(got.rows()), unordered(want.rows())), query


def test_qualify_keeps_rows_before_order_by_and_limit_by_hand(client: pr.Client) -> None:
    trades = pl.DataFrame({"sym": ["A", "A", "B", "B", "A"], "ts": [3, 1, 2, 5, 4], "px": [10, 11, 20, 21, 12]})
    query = ("SELECT sym, px FROM t QUALIFY ROW_NUMBER() OVER (PARTITION BY sym ORDER BY ts DESC) <= 2 "
             "ORDER BY px DESC LIMIT 3")
    got = client.sql(query, t=client.from_polars(trades)).collect()
    # A's two latest are ts 4 (px 12) and 3 (px 10); B's are 5 (21) and 2 (20).
    assert got.rows() == [("B", 21), ("B", 20), ("A", 12)]


def _decimal_ticks() -> pl.DataFrame:
    from decimal import Decimal
    rng = random.Random(17)
    n = 120
    return pl.DataFrame({
        "sym": [rng.choice("abc") for _ in range(n)],
        "ts": rng.sample(range(10 * n), n),
        "px": [None if rng.random() < 0.1 else Decimal(rng.randint(900000, 1100000)) / 10000 for _ in range(n)],
        "q": [rng.randint(1, 900) for _ in range(n)],
    }, schema={"sym": pl.Utf8, "ts": pl.Int64, "px": pl.Decimal(12, 4), "q": pl.Int64})


@pytest.mark.parametrize("item", [
    # Running and moving aggregates of decimals (patch 0087): they failed, no rolling form.
    "SUM(px * q) OVER (PARTITION BY sym ORDER BY ts)",
    "SUM(px) OVER (PARTITION BY sym ORDER BY ts ROWS BETWEEN 3 PRECEDING AND 1 FOLLOWING)",
    "MIN(px) OVER (PARTITION BY sym ORDER BY ts)",
    "MAX(px) OVER (ORDER BY ts ROWS 5 PRECEDING)",
    "AVG(px) OVER (PARTITION BY sym ORDER BY ts RANGE BETWEEN 40 PRECEDING AND CURRENT ROW)",
    "STDDEV(px) OVER (PARTITION BY sym ORDER BY ts ROWS 4 PRECEDING)",
    "SUM(px) OVER (ORDER BY ts RANGE BETWEEN CURRENT ROW AND 25 FOLLOWING)",
])
def test_running_aggregates_of_decimals_match_duckdb(client: pr.Client, item: str) -> None:
    query = f"SELECT sym, ts, {item} AS m FROM df"
    got, want = both_answers(client, query, df=_decimal_ticks())
    # The same types; decimals equal exactly, doubles to 1e-12.
    assert got.schema["m"] == want.schema["m"]
    assert same_rows(unordered(got.rows()), unordered(want.rows()), 1e-12), query


@pytest.mark.parametrize("query", [
    "SELECT sym, ARG_MAX(px, ts) AS close, RANK() OVER (ORDER BY ARG_MAX(px, ts) DESC, sym) AS r FROM df GROUP BY sym",
    "SELECT sym, REGR_SLOPE(px, q) AS s, LAG(MIN_BY(px, ts)) OVER (ORDER BY sym) AS m FROM df GROUP BY sym",
    "SELECT sym, GEOMEAN(ABS(px) + 1) AS g, SUM(COUNT_IF(q > 3)) OVER () AS n FROM df GROUP BY sym",
    "SELECT SUM(px) AS s, COUNT(*) OVER () AS n FROM df",
    "SELECT MAX(q) AS s, RANK() OVER (ORDER BY SUM(px)) AS r, SUM(MIN(px)) OVER () AS m FROM df WHERE q > 0",
    # Two unaliased items of one polars name (ts), told apart (patch 0102).
    "SELECT MIN(ts), MAX(ts), LAG(MIN(ts)) OVER (ORDER BY MIN(ts)) FROM df",
    "SELECT sym, MIN(ts), MAX(ts), RANK() OVER (ORDER BY MAX(ts)) FROM df GROUP BY sym",
    # An aggregate's alias in a window is the aggregate, as DuckDB reads it (0102).
    "SELECT sym, SUM(q) AS s, RANK() OVER (ORDER BY s DESC, sym) AS r FROM df GROUP BY sym",
    "SELECT UPPER(sym) AS u, SUM(q) AS s, ROW_NUMBER() OVER (ORDER BY u DESC) AS r FROM df GROUP BY sym",
])
def test_windows_beside_any_aggregate_match_duckdb(client: pr.Client, ticks: pl.DataFrame, query: str) -> None:
    """Windows run over the grouped rows beside DuckDB's aggregates too (they failed before patch
    0100), and beside an aggregation without GROUP BY, over its one row (a row per input row before)."""
    got, want = both_answers(client, query, df=ticks)
    assert got.height == want.height and same_rows(unordered(got.rows()), unordered(want.rows())), query


def _questdb_ema(rows: list[tuple], alpha: float | None, tau_us: float | None, weighted: bool) -> list[float | None]:
    """QuestDB's EMA/VWEMA recurrence over one partition's (ts_us, px, qty) rows in time order."""
    out, started, num, den, prev = [], False, 0.0, 0.0, None
    for ts, px, qty in rows:
        vol = (qty if qty is not None and qty > 0 else None) if weighted else 1.0
        if px is not None and vol is not None:
            if started:
                a = alpha if tau_us is None else (1 - math.exp(-(ts - prev) / tau_us) if ts > prev else 1.0)
                num, den = a * px * vol + (1 - a) * num, a * vol + (1 - a) * den
            else:
                num, den, started = px * vol, vol, True
        prev = ts
        out.append(num / den if started else None)
    return out


@pytest.mark.parametrize(("call", "alpha", "tau_us", "weighted"), [
    ("AVG(px, 'alpha', 0.3)", 0.3, None, False),
    ("AVG(px, 'period', 9)", 0.2, None, False),
    ("AVG(px, 'second', 30)", None, 30e6, False),
    ("AVG(px, 'alpha', 0.1, q)", 0.1, None, True),
    ("AVG(px, 'minute', 2, q)", None, 120e6, True),
])
def test_exponential_moving_averages_match_questdb_s_recurrence(client: pr.Client, ticks: pl.DataFrame, call: str,
                                                                alpha: float | None, tau_us: float | None,
                                                                weighted: bool) -> None:
    """QuestDB's EMA and VWEMA windows (patch 0101) against its recurrence written out in Python, over
    the module's ticks (nulls, zero and negative sizes) with times in seconds made timestamps."""
    df = ticks.with_columns((pl.col("ts") * 1_000_000).cast(pl.Datetime("us")).alias("t"))
    got = client.sql(f"SELECT sym, t, {call} OVER (PARTITION BY sym ORDER BY t) AS m FROM df ORDER BY sym, t",
                     df=client.from_polars(df)).collect()
    for (sym,), part in got.group_by(["sym"], maintain_order=True):
        rows = df.filter(pl.col("sym") == sym).sort("t").select(pl.col("ts") * 1_000_000, "px", "q").rows()
        want = _questdb_ema(rows, alpha, tau_us, weighted)
        assert all(same(g, w) for g, w in zip(part["m"].to_list(), want, strict=True)), (sym, call)


@pytest.mark.parametrize("query", ["SELECT SUM(q) OVER (), SUM(q) FROM df",
                                   "SELECT sym, q, COUNT(*) OVER () FROM df GROUP BY sym"])
def test_a_column_neither_grouped_nor_aggregated_beside_a_window_is_refused_by_name(client: pr.Client,
                                                                                 ticks: pl.DataFrame, query: str) -> None:
    """DuckDB refuses these too; the message names the column as SQL does (patch 0102)."""
    with pytest.raises(pr.InvalidArgumentError, match='column "q" must appear in the GROUP BY clause or be part of an aggregate'):
        client.sql(query, df=client.from_polars(ticks)).collect()
    df = ticks  # noqa: F841 (DuckDB reads the frame by its name)
    with pytest.raises(duckdb.BinderException):
        duckdb.sql(query)
