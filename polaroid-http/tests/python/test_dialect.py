"""QuestDB's SAMPLE BY and LATEST ON, checked against python-polars."""

from __future__ import annotations

import datetime as dt
import math
import random

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from questdb_rest import QuestDBAPIError

from conftest import frame

TRADES = "read_parquet('trades.parquet')"


def test_sample_by_matches_group_by_dynamic(rest, data_dir):
    reply = rest.exec(
        "SELECT ts, sym, first(px) AS open, max(px) AS high, min(px) AS low, last(px) AS close, "
        f"sum(qty) AS qty, count(*) AS n FROM {TRADES} WHERE px > 120 SAMPLE BY 5m ALIGN TO CALENDAR")
    got = frame(reply)
    want = (
        pl.read_parquet(data_dir / "trades.parquet").filter(pl.col("px") > 120).sort("ts")
        .group_by_dynamic("ts", every="5m", group_by="sym")
        .agg(pl.col("px").first().alias("open"), pl.col("px").max().alias("high"), pl.col("px").min().alias("low"),
             pl.col("px").last().alias("close"), pl.col("qty").sum(), pl.len().alias("n"))
        .sort("ts", "sym")
        .select("ts", "sym", "open", "high", "low", "close", "qty", "n")
    )
    assert_frame_equal(got, want, check_dtypes=False)


def test_sample_by_without_keys_and_with_a_time_zone(rest, data_dir):
    got = frame(rest.exec(f"SELECT ts, avg(px) AS px FROM {TRADES} SAMPLE BY 1h ALIGN TO CALENDAR TIME ZONE 'Asia/Kolkata'"))
    # Kolkata is UTC+05:30: hour buckets start at half past the UTC hour.
    df = pl.read_parquet(data_dir / "trades.parquet")
    want = (
        df.with_columns(pl.col("ts").dt.replace_time_zone("UTC").dt.convert_time_zone("Asia/Kolkata")
                        .dt.truncate("1h").dt.convert_time_zone("UTC").dt.replace_time_zone(None).alias("bucket"))
        .group_by("bucket").agg(pl.col("px").mean()).sort("bucket").rename({"bucket": "ts"})
    )
    assert_frame_equal(got, want, check_dtypes=False)
    assert got["ts"][0].minute == 30


def test_sample_by_shows_the_bucket_under_the_timestamp_s_alias(rest, data_dir):
    # Grafana's $__time(ts) writes `ts AS "time"`; the bucket was dropped.
    got = frame(rest.exec(f'SELECT sym, ts AS "time", last(px) AS close FROM {TRADES} SAMPLE BY 30m'))
    want = (
        pl.read_parquet(data_dir / "trades.parquet").sort("ts")
        .group_by_dynamic("ts", every="30m", group_by="sym").agg(pl.col("px").last().alias("close"))
        .sort("ts", "sym").select("sym", pl.col("ts").alias("time"), "close")
    )
    assert_frame_equal(got, want, check_dtypes=False)


def test_integers_divide_as_integers(rest, data_dir):
    # QuestDB's documented example: `SELECT 5 / 2, 5.0 / 2.0` is 2 and 2.5
    # (it was 2.5 and 2.5). The quotient is truncated toward zero; by zero
    # it is null.
    reply = rest.exec("SELECT 5 / 2 a, 5.0 / 2.0 b, -7 / 2 c, 7 / -2 d, 7 / 0 e, 7 % 3 f")
    assert reply["dataset"] == [[2, 2.5, -3, -3, None, 1]]
    assert [c["type"] for c in reply["columns"]][:2] == ["INT", "DOUBLE"]
    got = frame(rest.exec(f"SELECT qty, qty / 7 AS q, qty / 2.0 AS h, px / 2 AS p FROM {TRADES}"))
    df = pl.read_parquet(data_dir / "trades.parquet")
    want = df.select("qty", q=pl.col("qty") // 7, h=pl.col("qty") / 2.0, p=pl.col("px") / 2)
    assert_frame_equal(got, want, check_dtypes=False)
    assert df["qty"].min() >= 0, "floor and truncation agree on these"


def test_a_table_of_bars_made_by_create_table_as_sample_by(rest, data_dir):
    # The SELECT of CREATE TABLE AS and INSERT ... SELECT is QuestDB's SQL
    # too: SAMPLE BY was a parse error there, and `/` divided truly.
    rest.exec(f"CREATE TABLE bars_5m AS (SELECT ts, sym, first(px) AS open, last(px) AS close, sum(qty) AS qty "
              f"FROM {TRADES} SAMPLE BY 5m) timestamp(ts) PARTITION BY DAY")
    got = frame(rest.exec("SELECT * FROM bars_5m ORDER BY ts, sym"))
    want = (
        pl.read_parquet(data_dir / "trades.parquet").sort("ts")
        .group_by_dynamic("ts", every="5m", group_by="sym")
        .agg(pl.col("px").first().alias("open"), pl.col("px").last().alias("close"), pl.col("qty").sum())
        .sort("ts", "sym").select("ts", "sym", "open", "close", "qty")
    )
    assert_frame_equal(got, want, check_dtypes=False)
    # Downsampling into a table of its own: INSERT ... SELECT ... SAMPLE BY.
    rest.exec("CREATE TABLE bars_1h (ts TIMESTAMP, sym SYMBOL, open DOUBLE, qty LONG) timestamp(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO bars_1h SELECT ts, sym, first(open) AS open, sum(qty) AS qty FROM bars_5m SAMPLE BY 1h")
    hourly = (want.group_by_dynamic("ts", every="1h", group_by="sym").agg(pl.col("open").first(), pl.col("qty").sum())
              .sort("ts", "sym").select("ts", "sym", "open", "qty"))
    assert_frame_equal(frame(rest.exec("SELECT * FROM bars_1h ORDER BY ts, sym")), hourly, check_dtypes=False)
    ts, sym, *_, qty = want.row(0)
    where = f"WHERE ts = '{ts.isoformat()}Z' AND sym = '{sym}'"
    rest.exec(f"INSERT INTO bars_5m (ts, sym, open, close, qty) SELECT ts, sym, open, close, qty / 2 FROM bars_5m {where}")
    assert rest.exec(f"SELECT qty FROM bars_5m {where} ORDER BY qty")["dataset"] == [[qty // 2], [qty]]


def test_sample_by_fill_prev_and_value_fill_empty_buckets(rest):
    rest.exec("CREATE TABLE sparse (ts TIMESTAMP, sym SYMBOL, px DOUBLE) timestamp(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO sparse VALUES ('2026-01-01T00:00:10Z', 'A', 1.0), ('2026-01-01T00:01:20Z', 'A', 2.0), "
              "('2026-01-01T00:04:00Z', 'A', 5.0), ('2026-01-01T00:02:00Z', 'B', 7.0), ('2026-01-01T00:03:30Z', 'B', 8.0)")
    prev = rest.exec("SELECT ts, sym, last(px) AS px FROM sparse SAMPLE BY 1m FILL(PREV)")
    # Worked by hand. As QuestDB fills keyed samples, every key has every
    # bucket from the first one of any key (00:00) to the last (00:04), in
    # time order: A carries 00:01 into 00:02 and 00:03; B has nothing to
    # carry before 00:02, and carries 00:03 into 00:04.
    assert prev["dataset"] == [
        ["2026-01-01T00:00:00.000000Z", "A", 1.0],
        ["2026-01-01T00:00:00.000000Z", "B", None],
        ["2026-01-01T00:01:00.000000Z", "A", 2.0],
        ["2026-01-01T00:01:00.000000Z", "B", None],
        ["2026-01-01T00:02:00.000000Z", "A", 2.0],
        ["2026-01-01T00:02:00.000000Z", "B", 7.0],
        ["2026-01-01T00:03:00.000000Z", "A", 2.0],
        ["2026-01-01T00:03:00.000000Z", "B", 8.0],
        ["2026-01-01T00:04:00.000000Z", "A", 5.0],
        ["2026-01-01T00:04:00.000000Z", "B", 8.0],
    ]
    # The timestamp stays where the SELECT list put it.
    keyed = rest.exec("SELECT sym, ts, sum(px) FROM sparse SAMPLE BY 2m FILL(0)")
    assert [c["name"] for c in keyed["columns"]] == ["sym", "ts", "sum"]
    assert keyed["dataset"][:2] == [["A", "2026-01-01T00:00:00.000000Z", 3.0], ["B", "2026-01-01T00:00:00.000000Z", 0.0]]
    zero = rest.exec("SELECT ts, sum(px) AS px FROM sparse WHERE sym = 'A' SAMPLE BY 1m FILL(0)")
    assert [r[1] for r in zero["dataset"]] == [1.0, 2.0, 0.0, 0.0, 5.0]
    null = rest.exec("SELECT ts, sum(px) AS px FROM sparse WHERE sym = 'A' SAMPLE BY 1m FILL(NULL)")
    assert [r[1] for r in null["dataset"]] == [1.0, 2.0, None, None, 5.0]
    assert rest.exec("SELECT ts, sym, last(px) AS px FROM sparse SAMPLE BY 1m")["count"] == 5
    linear = rest.exec("SELECT ts, sum(px) AS px FROM sparse WHERE sym = 'A' SAMPLE BY 1m FILL(LINEAR)")
    assert [r[1] for r in linear["dataset"]] == [1.0, 2.0, 3.0, 4.0, 5.0]
    # LIMIT applies to the filled rows.
    limited = rest.exec("SELECT ts, sym, last(px) AS px FROM sparse SAMPLE BY 1m FILL(PREV) LIMIT 3")
    assert limited["dataset"] == prev["dataset"][:3]
    # From the first row (00:00:10) in steps of 2 minutes, worked by hand:
    # 00:00:10, 00:01:20, 00:02:00 | 00:03:30, 00:04:00.
    first = rest.exec("SELECT ts, count(*) AS n FROM sparse SAMPLE BY 2m ALIGN TO FIRST OBSERVATION")
    assert first["dataset"] == [["2026-01-01T00:00:10.000000Z", 3], ["2026-01-01T00:02:10.000000Z", 2]]


def test_latest_on_gives_each_key_s_last_row(rest, data_dir):
    got = frame(rest.exec(f"SELECT sym, px, ts FROM {TRADES} WHERE qty > 10 LATEST ON ts PARTITION BY sym ORDER BY sym"))
    df = pl.read_parquet(data_dir / "trades.parquet").filter(pl.col("qty") > 10)
    want = df.filter(pl.col("ts") == pl.col("ts").max().over("sym")).select("sym", "px", "ts").sort("sym")
    assert_frame_equal(got, want, check_dtypes=False)


def test_asof_join_matches_polars_join_asof(rest, data_dir):
    reply = rest.exec("SELECT t.ts, t.sym, t.px, q.bid, q.ts AS quote_ts FROM read_parquet('trades.parquet') t "
                      "ASOF JOIN read_parquet('quotes.parquet') q ON (sym) WHERE t.qty > 100")
    got = frame(reply)
    trades = pl.read_parquet(data_dir / "trades.parquet").sort("ts")
    quotes = pl.read_parquet(data_dir / "quotes.parquet").sort("ts").with_columns(pl.col("ts").alias("quote_ts"))
    want = (
        trades.join_asof(quotes.drop("ts"), left_on="ts", right_on="quote_ts", by="sym", strategy="backward")
        .filter(pl.col("qty") > 100)
        .select("ts", "sym", "px", "bid", "quote_ts")
    )
    assert got.height == want.height > 0
    assert_frame_equal(got, want, check_dtypes=False)
    # Without aliases, the right side's clashing timestamp is `ts1`, as in QuestDB.
    first = frame(rest.exec("SELECT ts, sym, bid, ts1 FROM read_parquet('trades.parquet') ASOF JOIN "
                            "read_parquet('quotes.parquet') ON (sym) LIMIT 1"))
    full = trades.join_asof(quotes.drop("ts"), left_on="ts", right_on="quote_ts", by="sym", strategy="backward")
    assert first.columns == ["ts", "sym", "bid", "ts1"]
    assert (first["bid"][0], first["ts1"][0]) == (full["bid"][0], full["quote_ts"][0])


def test_splice_join_is_questdb_s(rest):
    """QuestDB's SPLICE JOIN, a full as-of join (refused before): its reference's buys and sells and the result it
    prints, then keyed rows by hand: every row of either side, with the other side's row that prevailed at its
    time, in time order; the key column is the row's own key."""
    rest.exec("CREATE TABLE sj_trades (timestamp TIMESTAMP, side SYMBOL, price DOUBLE) timestamp(timestamp) PARTITION BY DAY")
    rest.exec("INSERT INTO sj_trades VALUES ('2024-06-22T00:00:00.039906Z', 'buy', 0.092014), "
              "('2024-06-22T00:00:00.222534Z', 'sell', 64120.28), ('2024-06-22T00:00:00.222534Z', 'sell', 64120.28), "
              "('2024-06-22T00:00:00.343909Z', 'buy', 9.805)")
    reply = rest.exec("WITH buy AS (SELECT timestamp, price FROM sj_trades WHERE timestamp IN '2024-06-22' AND side = 'buy' LIMIT 2), "
                      "sell AS (SELECT timestamp, price FROM sj_trades WHERE timestamp IN '2024-06-22' AND side = 'sell' LIMIT 2) "
                      "SELECT buy.timestamp, sell.timestamp, buy.price, sell.price FROM buy SPLICE JOIN sell")
    assert [c["name"] for c in reply["columns"]] == ["timestamp", "timestamp1", "price", "price1"]
    assert reply["dataset"] == [["2024-06-22T00:00:00.039906Z", None, 0.092014, None],
                                ["2024-06-22T00:00:00.039906Z", "2024-06-22T00:00:00.222534Z", 0.092014, 64120.28],
                                ["2024-06-22T00:00:00.039906Z", "2024-06-22T00:00:00.222534Z", 0.092014, 64120.28],
                                ["2024-06-22T00:00:00.343909Z", "2024-06-22T00:00:00.222534Z", 9.805, 64120.28]]
    rest.exec("CREATE TABLE sj_l (sym SYMBOL, v DOUBLE, ts TIMESTAMP) timestamp(ts) PARTITION BY DAY")
    rest.exec("CREATE TABLE sj_r (sym SYMBOL, v DOUBLE, ts TIMESTAMP) timestamp(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO sj_l VALUES ('A', 1, '2024-01-01T00:00:01Z'), ('B', 2, '2024-01-01T00:00:02Z'), ('A', 3, '2024-01-01T00:00:04Z')")
    rest.exec("INSERT INTO sj_r VALUES ('A', 10, '2024-01-01T00:00:00Z'), ('A', 20, '2024-01-01T00:00:03Z'), ('B', 30, '2024-01-01T00:00:05Z')")
    day = "2024-01-01T00:00:0"
    assert rest.exec("SELECT l.ts, l.sym, l.v, r.ts, r.v FROM sj_l l SPLICE JOIN sj_r r ON (l.sym = r.sym)")["dataset"] == [
        [None, "A", None, f"{day}0.000000Z", 10.0], [f"{day}1.000000Z", "A", 1.0, f"{day}0.000000Z", 10.0],
        [f"{day}2.000000Z", "B", 2.0, None, None], [f"{day}1.000000Z", "A", 1.0, f"{day}3.000000Z", 20.0],
        [f"{day}4.000000Z", "A", 3.0, f"{day}3.000000Z", 20.0], [f"{day}2.000000Z", "B", 2.0, f"{day}5.000000Z", 30.0]]


def test_asof_join_meets_timestamp_ns_tables(rest):
    """A TIMESTAMP table ASOF JOINed to a TIMESTAMP_NS one ("datatypes of join keys don't match" before), to the
    nanosecond: a trade at 1 s meets the price 500 ns before it, not the one 500 ns after."""
    rest.exec("CREATE TABLE an_trades (ts TIMESTAMP, sym SYMBOL) TIMESTAMP(ts) PARTITION BY DAY")
    rest.exec("CREATE TABLE an_prices (ts TIMESTAMP_NS, sym SYMBOL, price DOUBLE) TIMESTAMP(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO an_trades VALUES ('2000-01-01T00:00:01.000000Z', 'A')")
    rest.exec("INSERT INTO an_prices VALUES ('2000-01-01T00:00:00.999999500Z', 'A', 1.0), ('2000-01-01T00:00:01.000000500Z', 'A', 2.0)")
    assert rest.exec("SELECT t.ts, p.price, p.ts FROM an_trades t ASOF JOIN an_prices p ON (sym)")["dataset"] == [
        ["2000-01-01T00:00:01.000000Z", 1.0, "2000-01-01T00:00:00.999999500Z"]]
    assert rest.exec("SELECT p.price, t.ts FROM an_prices p ASOF JOIN an_trades t ON (sym)")["dataset"] == [
        [1.0, None], [2.0, "2000-01-01T00:00:01.000000Z"]]


def test_asof_join_with_an_on_condition_and_no_keys(rest, data_dir):
    on = frame(rest.exec("SELECT a.ts, a.px, b.bid FROM read_parquet('trades.parquet') a ASOF JOIN "
                         "read_parquet('quotes.parquet') b ON a.sym = b.sym ORDER BY a.ts LIMIT 50"))
    keyed = frame(rest.exec("SELECT ts, px, bid FROM read_parquet('trades.parquet') ASOF JOIN "
                            "read_parquet('quotes.parquet') ON (sym) ORDER BY ts LIMIT 50"))
    assert_frame_equal(on, keyed)
    # QuestDB's parenthesized condition (read as a column named "a.sym = b.sym" before), either way round.
    in_parens = frame(rest.exec("SELECT a.ts, a.px, b.bid FROM read_parquet('trades.parquet') a ASOF JOIN "
                                "read_parquet('quotes.parquet') b ON (b.sym = a.sym) ORDER BY a.ts LIMIT 50"))
    assert_frame_equal(in_parens, keyed)
    with pytest.raises(QuestDBAPIError, match="ASOF JOIN ON: b has no column venue"):
        rest.exec("SELECT a.ts FROM read_parquet('trades.parquet') a ASOF JOIN (SELECT * FROM read_parquet('quotes.parquet')) b "
                  "ON (a.sym = b.venue)")
    with pytest.raises(QuestDBAPIError, match=r"ASOF JOIN ON a.ts >= b.ts: only equalities of key columns"):
        rest.exec("SELECT a.ts FROM read_parquet('trades.parquet') a ASOF JOIN read_parquet('quotes.parquet') b "
                  "ON a.sym = b.sym AND a.ts >= b.ts")
    plain = frame(rest.exec("SELECT ts, bid FROM read_parquet('trades.parquet') ASOF JOIN read_parquet('quotes.parquet') LIMIT 3"))
    quotes = pl.read_parquet(data_dir / "quotes.parquet").sort("ts")
    trades = pl.read_parquet(data_dir / "trades.parquet").sort("ts").head(3)
    want = trades.join_asof(quotes.select("ts", "bid"), on="ts").select("ts", "bid")
    assert_frame_equal(plain, want, check_dtypes=False)


def test_group_by_is_optional_and_columns_are_named_as_questdb_names_them(rest, data_dir):
    # QuestDB groups by the non-aggregate columns when there is no GROUP BY;
    # polars-sql alone would broadcast one total to every row.
    got = frame(rest.exec(f"SELECT sym, count(), avg(px), first(px), last(px), first(qty) FROM {TRADES} ORDER BY sym"))
    df = pl.read_parquet(data_dir / "trades.parquet")
    want = (
        df.group_by("sym").agg(pl.len().alias("count"), pl.col("px").mean().alias("avg"),
                               pl.col("px").first().alias("first"), pl.col("px").last().alias("last"),
                               pl.col("qty").first().alias("first1"))
        .sort("sym")
    )
    assert_frame_equal(got, want, check_dtypes=False)
    # In a CTE, beside a window function, and for an expression of a key.
    got = frame(rest.exec(
        f"WITH m AS (SELECT upper(sym) u, count_distinct(qty), max(px) FROM {TRADES}) SELECT * FROM m ORDER BY u"))
    want = (
        df.group_by(pl.col("sym").str.to_uppercase().alias("u"))
        # count_distinct does not count NULL, as in SQL.
        .agg(pl.col("qty").drop_nulls().n_unique().alias("count_distinct"), pl.col("px").max().alias("max")).sort("u")
    )
    assert_frame_equal(got, want, check_dtypes=False)
    # ORDER BY an aggregate's expression orders by the item it names.
    got = frame(rest.exec(f"SELECT sym, sum(qty) FROM {TRADES} ORDER BY sum(qty) DESC"))
    want = df.group_by("sym").agg(pl.col("qty").sum().alias("sum")).sort("sum", descending=True)
    assert_frame_equal(got, want, check_dtypes=False)
    # QuestDB's estimates, answered exactly.
    got = frame(rest.exec(f"SELECT sym, approx_median(px), approx_percentile(px, 0.9), geomean(px) FROM {TRADES} ORDER BY sym"))
    want = (
        df.group_by("sym").agg(pl.col("px").median().alias("approx_median"),
                               pl.col("px").quantile(0.9, "linear").alias("approx_percentile"),
                               pl.col("px").log().mean().exp().alias("geomean"))
        .sort("sym")
    )
    assert_frame_equal(got, want, check_dtypes=False)
    reply = rest.exec(f"SELECT sym, px, avg(px) OVER (PARTITION BY sym) FROM {TRADES}")
    assert [c["name"] for c in reply["columns"]] == ["sym", "px", "avg"]
    assert reply["count"] == df.height


def test_questdb_functions_intervals_and_symbols(rest):
    rest.exec("CREATE TABLE fx (ts TIMESTAMP, sym SYMBOL, px DOUBLE) timestamp(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO fx VALUES ('2024-01-31T23:59:59.999999Z', 'EURUSD', 1.0), ('2024-02-01T00:00:00Z', 'EURGBP', 2.0), "
              "('2024-02-01T10:30:00Z', 'USDJPY', 3.0), ('2024-02-29T23:00:00Z', 'EURUSD', 4.0), ('2024-03-01T00:00:00Z', 'EURUSD', 5.0)")
    px = lambda q: [r[0] for r in rest.exec(q)["dataset"]]  # noqa: E731
    # An interval literal is every instant it names, ;2h extends its end.
    assert px("SELECT px FROM fx WHERE ts IN '2024-02'") == [2.0, 3.0, 4.0]
    assert px("SELECT px FROM fx WHERE ts IN '2024-02-01'") == [2.0, 3.0]
    assert px("SELECT px FROM fx WHERE ts IN '2024-01-31T23;2h'") == [1.0, 2.0]
    assert px("SELECT px FROM fx WHERE ts NOT IN '2024-02'") == [1.0, 5.0]
    assert px("SELECT px FROM fx WHERE ts >= '2024-02-29T23:00:00Z'") == [4.0, 5.0]
    # SYMBOL columns are text to LIKE, ~ and the string functions.
    assert px("SELECT px FROM fx WHERE sym LIKE 'EUR%' AND sym ~ 'USD$'") == [1.0, 4.0, 5.0]
    assert rest.exec("SELECT lower(sym), length(sym) FROM fx LIMIT 1")["dataset"] == [["eurusd", 6]]
    # Worked by hand: hour/day/month, floors, formats, differences, additions.
    reply = rest.exec(
        "SELECT hour(ts), day(ts), month(ts), day_of_week(ts), timestamp_floor('h', ts) f, to_str(ts, 'yyyy/MM/dd HH:mm') s, "
        "datediff('m', ts, to_timestamp('2024-02-01 11:00', 'yyyy-MM-dd HH:mm')) d, dateadd('M', 1, ts) a "
        "FROM fx WHERE ts IN '2024-02-01T10'")
    assert [c["name"] for c in reply["columns"]] == ["hour", "day", "month", "day_of_week", "f", "s", "d", "a"]
    # 2024-02-01 was a Thursday (ISO day 4).
    assert reply["dataset"] == [[10, 1, 2, 4, "2024-02-01T10:00:00.000000Z", "2024/02/01 10:30", 30, "2024-03-01T10:30:00.000000Z"]]
    assert rest.exec("SELECT sum(x), count() FROM long_sequence(100)")["dataset"] == [[5050, 100]]
    # Text beside an expression (not a column) is read as a timestamp too; QuestDB's type names cast.
    assert px("SELECT px FROM fx WHERE dateadd('h', 1, ts) <= '2024-02-01T01:00:00Z'") == [1.0, 2.0]
    assert rest.exec("SELECT cast(px AS LONG), px::string FROM fx LIMIT 1")["dataset"] == [[1, "1.0"]]
    # LIMIT -n is the last n rows.
    assert px("SELECT px FROM fx LIMIT -2") == [4.0, 5.0]
    tables = rest.exec("SELECT table_name, designatedTimestamp, partitionBy FROM tables() WHERE table_name = 'fx'")
    assert tables["dataset"] == [["fx", "ts", "DAY"]]
    columns = rest.exec("SHOW COLUMNS FROM fx")
    assert [(r[0], r[1], r[6]) for r in columns["dataset"]] == [("ts", "TIMESTAMP", True), ("sym", "SYMBOL", False), ("px", "DOUBLE", False)]
    assert ["fx"] in rest.exec("SHOW TABLES")["dataset"]


def test_latest_on_keeps_the_tables_columns_and_truncate_empties_it(rest):
    rest.exec("CREATE TABLE book (ts TIMESTAMP, sym SYMBOL, bid DOUBLE) timestamp(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO book VALUES ('2024-01-01T00:00:00Z', 'A', 1.0), ('2024-01-01T00:00:01Z', 'B', 2.0), "
              "('2024-01-01T00:00:02Z', 'A', 3.0)")
    latest = rest.exec("SELECT * FROM book LATEST ON ts PARTITION BY sym")
    assert [c["name"] for c in latest["columns"]] == ["ts", "sym", "bid"]
    assert latest["dataset"] == [["2024-01-01T00:00:01.000000Z", "B", 2.0], ["2024-01-01T00:00:02.000000Z", "A", 3.0]]
    assert rest.exec("TRUNCATE TABLE book") == {"ddl": "OK"}
    assert rest.exec("SELECT count() FROM book")["dataset"] == [[0]]
    rest.exec("INSERT INTO book VALUES ('2024-01-02T00:00:00Z', 'C', 9.0)")
    assert rest.exec("SELECT sym, bid FROM book")["dataset"] == [["C", 9.0]]
    assert [c["name"] for c in rest.exec("SHOW COLUMNS FROM book")["columns"]][:2] == ["column", "type"]


def test_sample_by_from_to_offsets_and_a_fill_per_aggregate(rest):
    rest.exec("CREATE TABLE gaps (ts TIMESTAMP, sym SYMBOL, px DOUBLE) timestamp(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO gaps VALUES ('2026-01-01T00:00:10Z', 'A', 1.0), ('2026-01-01T00:01:20Z', 'A', 2.0), "
              "('2026-01-01T00:04:00Z', 'A', 5.0), ('2026-01-01T00:02:00Z', 'B', 7.0), ('2026-01-01T00:03:30Z', 'B', 8.0)")
    rows = lambda q: rest.exec(q)["dataset"]  # noqa: E731
    # Worked by hand. FROM-TO keeps the rows in [00:01, 00:06) and shows every bucket of it.
    assert rows("SELECT ts, sum(px) FROM gaps SAMPLE BY 1m FROM '2026-01-01T00:01:00Z' TO '2026-01-01T00:06:00Z' FILL(NULL)") == [
        ["2026-01-01T00:01:00.000000Z", 2.0], ["2026-01-01T00:02:00.000000Z", 7.0], ["2026-01-01T00:03:00.000000Z", 8.0],
        ["2026-01-01T00:04:00.000000Z", 5.0], ["2026-01-01T00:05:00.000000Z", None]]
    # Keyed, from before the first row: each key in every bucket.
    keyed = rows("SELECT ts, sym, count() FROM gaps SAMPLE BY 2m FROM '2025-12-31T23:58:00Z' FILL(0)")
    assert [r[2] for r in keyed] == [0, 0, 2, 0, 0, 2, 1, 0]
    assert keyed[-1] == ["2026-01-01T00:04:00.000000Z", "B", 0]
    # WITH OFFSET '00:01': two-minute buckets start at odd minutes.
    assert rows("SELECT ts, sum(px), count() FROM gaps SAMPLE BY 2m ALIGN TO CALENDAR WITH OFFSET '00:01'") == [
        ["2025-12-31T23:59:00.000000Z", 1.0, 1], ["2026-01-01T00:01:00.000000Z", 9.0, 2], ["2026-01-01T00:03:00.000000Z", 13.0, 2]]
    # With a TIME ZONE the bounds are local time: Berlin midnight is 23:00 UTC in winter.
    assert rows("SELECT ts, count() FROM gaps SAMPLE BY 1h FROM '2026-01-01T00:00:00' TO '2026-01-01T03:00:00' FILL(0) "
                "ALIGN TO CALENDAR TIME ZONE 'Europe/Berlin'") == [
        ["2025-12-31T23:00:00.000000Z", 0], ["2026-01-01T00:00:00.000000Z", 5], ["2026-01-01T01:00:00.000000Z", 0]]
    # One fill per aggregate, in SELECT order; a count filled with 0 stays a count.
    per = rest.exec("SELECT ts, sum(px) s, count() n FROM gaps WHERE sym = 'A' SAMPLE BY m FILL(NULL, 0)")
    assert [c["type"] for c in per["columns"]] == ["TIMESTAMP", "DOUBLE", "LONG"]
    assert [r[1:] for r in per["dataset"]] == [[1.0, 1], [2.0, 1], [None, 0], [None, 0], [5.0, 1]]


def test_extensions_inside_subqueries_and_ctes(rest, data_dir):
    df = pl.read_parquet(data_dir / "trades.parquet")
    daily = df.sort("ts").group_by_dynamic("ts", every="1d", group_by="sym").agg(pl.col("px").last().alias("close"))
    # SAMPLE BY in a CTE, then QuestDB's implied GROUP BY over it.
    got = frame(rest.exec(f"WITH d AS (SELECT ts, sym, last(px) close FROM {TRADES} SAMPLE BY 1d) "
                          "SELECT sym, avg(close) FROM d ORDER BY sym"))
    want = daily.group_by("sym").agg(pl.col("close").mean().alias("avg")).sort("sym")
    assert_frame_equal(got, want, check_dtypes=False)
    # LATEST ON in a FROM subquery; a SAMPLE BY over a SAMPLE BY.
    got = frame(rest.exec(f"SELECT l.sym, l.px FROM (SELECT * FROM {TRADES} LATEST ON ts PARTITION BY sym) l ORDER BY l.sym"))
    want = df.sort("ts").group_by("sym").agg(pl.col("px").last()).sort("sym")
    assert_frame_equal(got, want, check_dtypes=False)
    got = frame(rest.exec(f"SELECT ts, sum(n) FROM (SELECT ts, count() n FROM {TRADES} SAMPLE BY 1h) SAMPLE BY 1d"))
    want = df.sort("ts").group_by_dynamic("ts", every="1d").agg(pl.len().alias("sum"))
    assert_frame_equal(got, want, check_dtypes=False)


def test_a_main_query_with_an_extension_reads_its_ctes(rest, data_dir):
    """QuestDB's documentation filters in a CTE and samples, takes the
    latest row or as-of joins in the main query."""
    df = pl.read_parquet(data_dir / "trades.parquet")
    got = frame(rest.exec(f"WITH a AS (SELECT * FROM {TRADES} WHERE sym = 'AAPL'), big AS (SELECT * FROM a WHERE qty > 100) "
                          "SELECT ts, count(), avg(px) FROM big SAMPLE BY 1h"))
    want = (df.filter((pl.col("sym") == "AAPL") & (pl.col("qty") > 100)).sort("ts")
            .group_by_dynamic("ts", every="1h").agg(pl.len().alias("count"), pl.col("px").mean().alias("avg")))
    assert_frame_equal(got, want, check_dtypes=False)
    got = frame(rest.exec(f"WITH cheap AS (SELECT * FROM {TRADES} WHERE px < 150) "
                          "SELECT sym, px, ts FROM cheap LATEST ON ts PARTITION BY sym ORDER BY sym"))
    want = df.filter(pl.col("px") < 150).sort("ts").group_by("sym").agg(pl.col("px").last(), pl.col("ts").last()).sort("sym")
    assert_frame_equal(got, want, check_dtypes=False)
    got = frame(rest.exec(f"WITH t AS (SELECT * FROM {TRADES} WHERE sym = 'MSFT'), q AS (SELECT * FROM read_parquet('quotes.parquet')) "
                          "SELECT t.ts, t.px, q.bid FROM t ASOF JOIN q ON (sym) ORDER BY t.ts"))
    quotes = pl.read_parquet(data_dir / "quotes.parquet").sort("ts")
    want = (df.filter(pl.col("sym") == "MSFT").sort("ts").join_asof(quotes, on="ts", by="sym", strategy="backward")
            .select("ts", "px", "bid"))
    assert_frame_equal(got, want, check_dtypes=False)
    # A table of bars filled from such a query.
    rest.exec("CREATE TABLE aapl_hourly (ts TIMESTAMP, n LONG, vwap DOUBLE) timestamp(ts) PARTITION BY DAY")
    rest.exec(f"INSERT INTO aapl_hourly WITH a AS (SELECT * FROM {TRADES} WHERE sym = 'AAPL' AND qty IS NOT NULL) "
              "SELECT ts, count(), sum(px * qty) / sum(qty) FROM a SAMPLE BY 1h")
    got = frame(rest.exec("SELECT * FROM aapl_hourly"))
    want = (df.filter((pl.col("sym") == "AAPL") & pl.col("qty").is_not_null()).sort("ts")
            .group_by_dynamic("ts", every="1h")
            .agg(pl.len().alias("n"), ((pl.col("px") * pl.col("qty")).sum() / pl.col("qty").sum()).alias("vwap")))
    assert_frame_equal(got, want, check_dtypes=False)


def test_fill_over_calendar_months(rest):
    rest.exec("CREATE TABLE monthly (ts TIMESTAMP, px DOUBLE) timestamp(ts) PARTITION BY MONTH")
    rest.exec("INSERT INTO monthly VALUES ('2024-01-05T00:00:00Z', 1.0), ('2024-01-31T23:00:00Z', 2.0), "
              "('2024-02-29T12:00:00Z', 4.0), ('2024-04-01T00:00:00Z', 8.0)")
    # Worked by hand: January, February (a leap month), an empty March, April.
    reply = rest.exec("SELECT ts, count(), sum(px) FROM monthly SAMPLE BY 1M FILL(0)")
    assert reply["dataset"] == [["2024-01-01T00:00:00.000000Z", 2, 3.0], ["2024-02-01T00:00:00.000000Z", 1, 4.0],
                                ["2024-03-01T00:00:00.000000Z", 0, 0.0], ["2024-04-01T00:00:00.000000Z", 1, 8.0]]
    prev = rest.exec("SELECT ts, last(px) FROM monthly SAMPLE BY 1M FROM '2023-12-01' TO '2024-06-01' FILL(PREV)")
    assert [r[1] for r in prev["dataset"]] == [None, 2.0, 4.0, 4.0, 8.0, 8.0]


def test_window_frames_in_questdb_syntax(rest, data_dir):
    """Moving aggregates as QuestDB writes them: a ROWS frame, a RANGE of time
    without INTERVAL ('1' MINUTE PRECEDING) and CUMULATIVE, against polars'
    rolling functions over each symbol's rows in time order."""
    reply = rest.exec(
        "SELECT ts, sym, px, "
        "avg(px) OVER (PARTITION BY sym ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS ma4, "
        "max(px) OVER (PARTITION BY sym ORDER BY ts RANGE BETWEEN '1' MINUTE PRECEDING AND CURRENT ROW) AS high1m, "
        "sum(qty) OVER (PARTITION BY sym ORDER BY ts CUMULATIVE) AS traded "
        f"FROM {TRADES} ORDER BY sym, ts")
    got = frame(reply)
    df = pl.read_parquet(data_dir / "trades.parquet")
    assert df.select(pl.struct("sym", "ts").is_unique().all()).item(), "ties would leave ROWS frames without one answer"
    want = df.sort("sym", "ts").select(
        "ts", "sym", "px",
        pl.col("px").rolling_mean(4, min_samples=1).over("sym").alias("ma4"),
        pl.col("px").rolling_max_by("ts", "1m", closed="both").over("sym").alias("high1m"),
        # SQL's running sum carries over a null qty; polars' cum_sum leaves it null.
        pl.col("qty").cum_sum().forward_fill().over("sym").alias("traded"),
    )
    assert_frame_equal(got, want, check_dtypes=False)


def test_date_trunc_remainders_and_bool_aggregates_in_questdb_syntax(rest, data_dir):
    """QuestDB's date_trunc buckets, `%` with the dividend's sign (Java's, QuestDB's: -7 % 3 = -1),
    and bool_and/bool_or, per minute and symbol (QuestDB's implied GROUP BY)."""
    got = frame(rest.exec(
        "SELECT date_trunc('minute', ts) AS minute, sym, sum(qty) AS qty, min((qty - 250) % 7) AS r, "
        f"bool_and(qty > 20) AS all20, bool_or(qty > 480) AS any480 FROM {TRADES} ORDER BY minute, sym"))
    df = pl.read_parquet(data_dir / "trades.parquet")
    offset = pl.col("qty") - 250
    want = (df.group_by(pl.col("ts").dt.truncate("1m").alias("minute"), "sym")
            .agg(pl.col("qty").sum(), (offset.abs() % 7 * offset.sign()).min().alias("r"),
                 (pl.col("qty") > 20).all().alias("all20"), (pl.col("qty") > 480).any().alias("any480"))
            .sort("minute", "sym"))
    assert_frame_equal(got, want, check_dtypes=False)
    assert got["r"].min() < 0
    assert got["all20"].n_unique() == 2 and got["any480"].n_unique() == 2


def test_symbols_ranked_by_an_aggregate_in_order_by(rest, data_dir):
    """`ORDER BY count() DESC` ranks the groups (patch 0046: an aggregate in ORDER BY was taken over
    the grouped rows, one value for every group, and sorted nothing), with and without GROUP BY."""
    df = pl.read_parquet(data_dir / "trades.parquet")
    want = df.group_by("sym").agg(pl.len().alias("n"), pl.col("qty").sum()).sort(["n", "sym"], descending=[True, False])
    for query in (f"SELECT sym, count() n FROM {TRADES} ORDER BY count() DESC, sym",
                  f"SELECT sym, count(*) AS n FROM {TRADES} GROUP BY sym ORDER BY count(*) DESC, sym"):
        got = frame(rest.exec(query))
        assert got["sym"].to_list() == want["sym"].to_list(), query
        assert got["n"].to_list() == want["n"].to_list(), query
    got = frame(rest.exec(f"SELECT sym FROM {TRADES} GROUP BY sym ORDER BY sum(qty) DESC LIMIT 3"))
    assert got["sym"].to_list() == want.sort("qty", descending=True)["sym"].to_list()[:3]


def test_questdb_market_data_functions(rest):
    """QuestDB's finance functions, on the examples of QuestDB's documentation and tests (worked by hand)."""
    rest.exec("CREATE TABLE order_book (ts TIMESTAMP, bidSize1 DOUBLE, bid1 DOUBLE, bidSize2 DOUBLE, bid2 DOUBLE, "
              "bidSize3 DOUBLE, bid3 DOUBLE, askSize1 DOUBLE, ask1 DOUBLE, askSize2 DOUBLE, ask2 DOUBLE, "
              "askSize3 DOUBLE, ask3 DOUBLE) TIMESTAMP(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO order_book VALUES "
              "('2024-05-22T09:40:15.006000Z', 40, 14.10, 47, 14.00, 39, 13.90, 54, 14.50, 36, 14.60, 23, 14.80), "
              "('2024-05-22T09:40:15.175000Z', 42, 14.00, 45, 13.90, 35, 13.80, 16, 14.30, 57, 14.50, 30, 14.60), "
              "('2024-05-22T09:40:15.522000Z', 36, 14.10, 38, 14.00, 31, 13.90, 30, 14.40, 47, 14.50, 34, 14.60)")
    reply = rest.exec("SELECT ts, L2PRICE(100, askSize1, ask1, askSize2, ask2, askSize3, ask3) AS buy, "
                      "L2PRICE(100, bidSize1, bid1, bidSize2, bid2, bidSize3, bid3) AS sell, "
                      "L2PRICE(200, askSize1, ask1, askSize2, ask2, askSize3, ask3) AS too_big, "
                      "mid(bid1, ask1), spread(bid1, ask1), wmid(bidSize1, bid1, ask1, askSize1) FROM order_book")
    assert [c["name"] for c in reply["columns"]] == ["ts", "buy", "sell", "too_big", "mid", "spread", "wmid"]
    # Buying 100 from the first row's asks: 54 at 14.50, 36 at 14.60, 10 at 14.80 = 1456.6.
    want_buy, want_sell = [14.566, 14.495, 14.493], [14.027, 13.929, 14.01]
    for row, buy, sell in zip(reply["dataset"], want_buy, want_sell, strict=True):
        assert abs(row[1] - buy) < 1e-9 and abs(row[2] - sell) < 1e-9, row
        assert row[3] is None  # the book holds 113, 103 and 111 on the ask side: 200 cannot be filled
    first = reply["dataset"][0]
    # bid 14.10 x 40, ask 14.50 x 54: imbalance 40 / 94.
    assert abs(first[4] - 14.3) < 1e-9 and abs(first[5] - 0.4) < 1e-9
    assert abs(first[6] - (14.50 * 40 / 94 + 14.10 * 54 / 94)) < 1e-9
    [[mid, bps, wmid, l2]] = rest.exec("SELECT mid(1.5760, 1.5763), spread_bps(1.5760, 1.5763), wmid(100, 5, 6, 100), "
                                       "l2price(50, 14, 14.50, 16, 14.60, 23, 14.80, 12, 15.10)")["dataset"]
    assert abs(mid - 1.57615) < 1e-12 and abs(bps - 1.903372140976) < 1e-9 and wmid == 5.5 and abs(l2 - 14.652) < 1e-9
    assert rest.exec("SELECT l2price(10, 20, NULL)")["dataset"] == [[None]]
    with pytest.raises(QuestDBAPIError) as raised:
        rest.exec("SELECT wmid(1, 2, 3) FROM order_book")
    assert raised.value.status_code == 400 and "wmid takes four arguments" in raised.value.response_data["error"]

    # twap and vwap (QuestDB's TwapGroupByFunctionFactoryTest): per key without GROUP BY, and per SAMPLE BY bucket.
    rest.exec("CREATE TABLE ticks (ts TIMESTAMP, sym SYMBOL, price DOUBLE, amount DOUBLE) TIMESTAMP(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO ticks VALUES ('2024-01-01T00:00:00Z', 'A', 10.0, 1), ('2024-01-01T00:00:00Z', 'B', 100.0, 2), "
              "('2024-01-01T00:00:10Z', 'A', 20.0, 3), ('2024-01-01T00:00:20Z', 'B', 200.0, 0), "
              "('2024-01-01T00:00:30Z', 'A', 30.0, 4), ('2024-01-01T00:02:00Z', 'A', 100.0, 1), "
              "('2024-01-01T00:02:20Z', 'A', 200.0, 1)")
    reply = rest.exec("SELECT sym, twap(price, ts), vwap(price, amount) FROM ticks WHERE ts < '2024-01-01T00:01:00Z' ORDER BY sym")
    assert [c["name"] for c in reply["columns"]] == ["sym", "twap", "vwap"]
    # A: 10 held 10s, 20 held 20s, over 30s; (10 + 60 + 120) / 8. B: 100 held 20s; 200 traded no amount.
    assert reply["dataset"] == [["A", 500 / 30, 190 / 8], ["B", 100.0, 100.0]]
    reply = rest.exec("SELECT ts, twap(price, ts) FROM ticks WHERE sym = 'A' SAMPLE BY 1m FILL(PREV)")
    assert reply["dataset"] == [["2024-01-01T00:00:00.000000Z", 500 / 30], ["2024-01-01T00:01:00.000000Z", 500 / 30],
                                ["2024-01-01T00:02:00.000000Z", 100.0]]
    # The table of QuestDB's regr_slope example, worked by hand with the formula it gives,
    # (N Σxy - Σx Σy) / (N Σx² - (Σx)²) = (5 * 69 - 15 * 20) / (5 * 55 - 15²) = 0.9 (the page prints 0.8),
    # and the intercept 4 - 0.9 * 3 = 1.3.
    [[slope, intercept]] = rest.exec("SELECT regr_slope(y, x), regr_intercept(y, x) FROM (SELECT x, CASE x WHEN 1 THEN 2.0 "
                                     "WHEN 2 THEN 3.0 WHEN 3 THEN 5.0 WHEN 4 THEN 4.0 ELSE 6.0 END AS y FROM long_sequence(5))")["dataset"]
    assert abs(slope - 0.9) < 1e-12 and abs(intercept - 1.3) < 1e-12


def test_questdb_timestamp_floors_ceilings_and_time_zones(rest):
    """timestamp_floor with counts and offsets, timestamp_ceil, to_timezone and to_utc, on the examples of
    QuestDB's documentation (their values, which a hand check agrees with)."""
    rest.exec("CREATE TABLE clock (ts TIMESTAMP, px DOUBLE) TIMESTAMP(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO clock VALUES ('2016-02-10T16:18:22.862145Z', 1.0), ('2024-03-31T00:30:00Z', 2.0)")
    units = ["T", "s", "m", "h", "d", "M", "y"]
    floors = rest.exec("SELECT " + ", ".join(f"timestamp_floor('{u}', ts)" for u in units) + " FROM clock")["dataset"]
    assert floors[0] == ["2016-02-10T16:18:22.862000Z", "2016-02-10T16:18:22.000000Z", "2016-02-10T16:18:00.000000Z",
                         "2016-02-10T16:00:00.000000Z", "2016-02-10T00:00:00.000000Z", "2016-02-01T00:00:00.000000Z",
                         "2016-01-01T00:00:00.000000Z"]
    ceilings = rest.exec("SELECT " + ", ".join(f"timestamp_ceil('{u}', ts)" for u in units) + " FROM clock")["dataset"]
    assert ceilings[0] == ["2016-02-10T16:18:22.863000Z", "2016-02-10T16:18:23.000000Z", "2016-02-10T16:19:00.000000Z",
                           "2016-02-10T17:00:00.000000Z", "2016-02-11T00:00:00.000000Z", "2016-03-01T00:00:00.000000Z",
                           "2017-01-01T00:00:00.000000Z"]
    # A time on a boundary is its own ceiling.
    assert ceilings[1][:3] == ["2024-03-31T00:30:00.000000Z"] * 3
    # Counts are buckets from the Unix epoch (2018-01-01 is day 17532, 17530 = 5 * 3506), or from an offset.
    assert rest.exec("SELECT timestamp_floor('5d', '2018-01-01'), timestamp_floor('5d', '2018-01-01', '2018-01-01'), "
                     "timestamp_floor('15m', '2018-01-01T10:44:59Z')")["dataset"] == [
        ["2017-12-30T00:00:00.000000Z", "2018-01-01T00:00:00.000000Z", "2018-01-01T10:30:00.000000Z"]]
    # 1623167145000000 is 2021-06-08T15:45:45Z; Berlin is UTC+2 in June.
    assert rest.exec("SELECT to_timezone(1623167145000000, 'Europe/Berlin'), to_timezone(1623167145000000, '-08:00'), "
                     "to_utc(1623167145000000, 'Europe/Berlin'), to_utc(1623167145000000, '-08:00')")["dataset"] == [
        ["2021-06-08T17:45:45.000000Z", "2021-06-08T07:45:45.000000Z", "2021-06-08T13:45:45.000000Z",
         "2021-06-08T23:45:45.000000Z"]]
    # London moved to summer time at 01:00 UTC on 2024-03-31: 00:30 UTC was still 00:30 there.
    assert rest.exec("SELECT to_timezone(ts, 'Europe/London') FROM clock")["dataset"] == [
        ["2016-02-10T16:18:22.862145Z"], ["2024-03-31T00:30:00.000000Z"]]
    with pytest.raises(QuestDBAPIError) as raised:
        rest.exec("SELECT to_timezone(ts, 'PST') FROM clock")
    assert raised.value.status_code == 400 and "'PST' is not a time zone here" in raised.value.response_data["error"]
    with pytest.raises(QuestDBAPIError) as raised:
        rest.exec("SELECT timestamp_floor('3M', ts) FROM clock")
    assert "with a count or an offset of months" in raised.value.response_data["error"]
    # Text where a function takes a timestamp (QuestDB's own examples), and the aggregates that skip nulls.
    assert rest.exec("SELECT dateadd('h', -1, '2024-03-08T15:00:00Z'), datediff('d', '2020-01-23', '2020-01-27'), "
                     "week_of_year('2023-03-31T22:00:30.555998Z')")["dataset"] == [["2024-03-08T14:00:00.000000Z", 4, 13]]
    rest.exec("INSERT INTO clock VALUES ('2024-03-31T00:40:00Z', NULL), ('2024-03-31T00:50:00Z', 3.0), ('2024-03-31T00:55:00Z', NULL)")
    reply = rest.exec("SELECT ts, first(px), first_not_null(px), last(px), last_not_null(px) FROM clock "
                      "WHERE ts IN '2024-03-31' SAMPLE BY 1h")
    assert reply["dataset"] == [["2024-03-31T00:00:00.000000Z", 2.0, 2.0, None, 3.0]]


def test_asof_and_lt_joins_with_a_tolerance(rest):
    """QuestDB's TOLERANCE (the right row at most that old) and LT JOIN (strictly before), worked by hand;
    columns qualified by table name as QuestDB's examples write them, and `q.*`."""
    rest.exec("CREATE TABLE tr (ts TIMESTAMP, sym SYMBOL, px DOUBLE) TIMESTAMP(ts) PARTITION BY DAY")
    rest.exec("CREATE TABLE qt (ts TIMESTAMP, sym SYMBOL, bid DOUBLE) TIMESTAMP(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO tr VALUES ('2024-01-01T10:00:00.000Z', 'a', 1.0), ('2024-01-01T10:00:00.100Z', 'a', 2.0), "
              "('2024-01-01T10:00:01.000Z', 'a', 3.0), ('2024-01-01T10:00:01.000Z', 'b', 4.0)")
    rest.exec("INSERT INTO qt VALUES ('2024-01-01T09:59:59.990Z', 'a', 10.0), ('2024-01-01T10:00:00.100Z', 'a', 11.0), "
              "('2024-01-01T10:00:00.900Z', 'a', 12.0), ('2024-01-01T10:00:00.990Z', 'b', 13.0)")
    bids = lambda join: [r[1] for r in rest.exec(f"SELECT tr.px, qt.bid FROM tr {join} ORDER BY tr.px")["dataset"]]  # noqa: E731
    # a's quotes are 10 ms before the first trade, at the second's time, and 100 ms before the third; b's 10 ms before.
    assert bids("ASOF JOIN qt ON (sym)") == [10.0, 11.0, 12.0, 13.0]
    assert bids("ASOF JOIN qt ON (sym) TOLERANCE 50T") == [10.0, 11.0, None, 13.0]
    assert bids("LT JOIN qt ON (sym)") == [10.0, 10.0, 12.0, 13.0]
    assert bids("LT JOIN qt ON (sym) TOLERANCE 50T") == [10.0, None, None, 13.0]
    assert bids("LT JOIN qt TOLERANCE 1s") == [10.0, 10.0, 13.0, 13.0]
    reply = rest.exec("SELECT tr.ts, px, qt.* FROM tr ASOF JOIN qt ON (sym) TOLERANCE 50T WHERE tr.sym = 'b'")
    assert [c["name"] for c in reply["columns"]] == ["ts", "px", "ts1", "sym", "bid"]
    assert reply["dataset"] == [["2024-01-01T10:00:01.000000Z", 4.0, "2024-01-01T10:00:00.990000Z", "b", 13.0]]
    with pytest.raises(QuestDBAPIError) as raised:
        rest.exec("SELECT * FROM tr ASOF JOIN qt ON (sym) TOLERANCE 5M")
    assert "TOLERANCE 5M: expected a count and one of n, U, T, s, m, h, d, w" in raised.value.response_data["error"]


def test_a_table_s_symbols_meet_a_file_s_text_in_an_asof_join(rest, data_dir):
    """A table's SYMBOL column (held as categories) as-of joined by key with a file's text, either side
    first, worked by hand as above: polars' as-of join compares keys as stored, and the query failed as it
    ran ("mismatching dtypes in 'by' parameter of asof-join: `u32` and `str`"). DuckDB's ASOF JOIN text
    (polars SQL, patch 0114) too."""
    rest.exec("CREATE TABLE tr_sym (ts TIMESTAMP, sym SYMBOL, px DOUBLE) TIMESTAMP(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO tr_sym VALUES ('2024-01-01T10:00:00.000Z', 'a', 1.0), ('2024-01-01T10:00:00.100Z', 'a', 2.0), "
              "('2024-01-01T10:00:01.000Z', 'a', 3.0), ('2024-01-01T10:00:01.000Z', 'b', 4.0)")
    at = lambda ms: dt.datetime(2024, 1, 1, 10) + dt.timedelta(milliseconds=ms)  # noqa: E731
    pl.DataFrame({"ts": [at(-10), at(100), at(900), at(990)], "sym": ["a", "a", "a", "b"],
                  "bid": [10.0, 11.0, 12.0, 13.0]}).write_parquet(data_dir / "qt_text.parquet")
    reply = rest.exec("SELECT t.px, q.bid FROM tr_sym t ASOF JOIN read_parquet('qt_text.parquet') q ON (sym) ORDER BY t.px")
    assert reply["dataset"] == [[1.0, 10.0], [2.0, 11.0], [3.0, 12.0], [4.0, 13.0]]
    # Each quote's last trade at or before it: a's first quote is before every trade, b's before b's.
    reply = rest.exec("SELECT q.bid, t.px FROM read_parquet('qt_text.parquet') q ASOF JOIN tr_sym t ON (sym) ORDER BY q.bid")
    assert reply["dataset"] == [[10.0, None], [11.0, 2.0], [12.0, 2.0], [13.0, None]]
    reply = rest.exec("SELECT t.px, q.bid FROM tr_sym t ASOF LEFT JOIN read_parquet('qt_text.parquet') q "
                      "ON t.sym = q.sym AND t.ts >= q.ts ORDER BY t.px")
    assert reply["dataset"] == [[1.0, 10.0], [2.0, 11.0], [3.0, 12.0], [4.0, 13.0]]
    # The key's column keeps the table's type.
    reply = rest.exec("SELECT t.sym, q.bid FROM tr_sym t ASOF JOIN read_parquet('qt_text.parquet') q ON (sym) ORDER BY t.px")
    assert [c["type"] for c in reply["columns"]] == ["SYMBOL", "DOUBLE"]


def test_joins_on_named_columns_and_asof_joins_of_subqueries_as_questdb_writes_them(rest):
    """QuestDB's `JOIN q ON (sym)` (the columns of that name equal on both sides) and an ASOF JOIN of a
    subquery (`ASOF JOIN (SELECT ...) q ON (sym)`), worked by hand: refused before ("filter predicate must
    be of type `Boolean`, got `Categorical`"; "expected `table [alias]`")."""
    rest.exec("CREATE TABLE jt (ts TIMESTAMP, sym SYMBOL, px DOUBLE) TIMESTAMP(ts) PARTITION BY DAY")
    rest.exec("CREATE TABLE jq (ts TIMESTAMP, sym SYMBOL, bid DOUBLE) TIMESTAMP(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO jt VALUES ('2024-01-01T10:00:00.000Z', 'a', 1.0), ('2024-01-01T10:00:00.100Z', 'a', 2.0), "
              "('2024-01-01T10:00:01.000Z', 'a', 3.0), ('2024-01-01T10:00:01.000Z', 'b', 4.0), "
              "('2024-01-01T10:00:02.000Z', 'c', 5.0)")
    rest.exec("INSERT INTO jq VALUES ('2024-01-01T09:59:59.990Z', 'a', 10.0), ('2024-01-01T10:00:00.100Z', 'a', 11.0), "
              "('2024-01-01T10:00:00.900Z', 'a', 12.0), ('2024-01-01T10:00:00.990Z', 'b', 13.0)")
    # a: 3 trades × 3 quotes; b: 1 × 1; c has no quote.
    assert rest.exec("SELECT sym, count() FROM jt JOIN jq ON (sym) ORDER BY sym")["dataset"] == [["a", 9], ["b", 1]]
    assert rest.exec("SELECT jt.px, jq.bid FROM jt LEFT JOIN jq ON (sym) WHERE jt.sym <> 'a' ORDER BY jt.px")["dataset"] \
        == [[4.0, 13.0], [5.0, None]]
    # Only the quotes over 11: a's first two trades have none before them.
    reply = rest.exec("SELECT jt.px, q.bid FROM jt ASOF JOIN (SELECT * FROM jq WHERE bid > 11) q ON (sym) ORDER BY jt.px")
    assert reply["dataset"] == [[1.0, None], [2.0, None], [3.0, 12.0], [4.0, 13.0], [5.0, None]]
    reply = rest.exec("SELECT t.px, jq.bid FROM (SELECT * FROM jt WHERE px > 2) t ASOF JOIN jq ON (sym) ORDER BY t.px")
    assert reply["dataset"] == [[3.0, 12.0], [4.0, 13.0], [5.0, None]]
    # `SELECT * FROM` may be left out before a table, as QuestDB's grammar has it.
    assert rest.exec("jt")["dataset"] == rest.exec("SELECT * FROM jt")["dataset"]
    assert rest.exec("jt WHERE px > 3 ORDER BY px")["dataset"] == [["2024-01-01T10:00:01.000000Z", "b", 4.0],
                                                                   ["2024-01-01T10:00:02.000000Z", "c", 5.0]]
    assert rest.exec("jq LATEST ON ts PARTITION BY sym ORDER BY sym")["dataset"] == [
        ["2024-01-01T10:00:00.900000Z", "a", 12.0], ["2024-01-01T10:00:00.990000Z", "b", 13.0]]
    # SPLICE JOIN, read by the SQL parser as `jt` named SPLICE, is not the inner join above (test_splice_join_is_questdb_s).
    assert len(rest.exec("SELECT * FROM jt SPLICE JOIN jq ON (sym)")["dataset"]) == len(rest.exec("jt")["dataset"]) + len(rest.exec("jq")["dataset"])


def test_questdb_s_test_data_generators_make_a_table(rest):
    """QuestDB's quick start, `timestamp_sequence`, `rnd_symbol`, `rnd_double` and `rnd_int` over
    `long_sequence(n)`, in a CREATE TABLE AS and an INSERT: "unsupported function 'rnd_double'" before; and
    `generate_series`. The random values are checked by their count, range and set; the rest exactly."""
    rest.exec("CREATE TABLE gen AS (SELECT timestamp_sequence('2024-01-01', 100000L) AS ts, "
              "rnd_symbol('AAPL', 'GOOGL', 'MSFT') AS sym, rnd_double() * 1000 AS px, rnd_int(1, 10000, 0) AS qty "
              "FROM long_sequence(1000)) TIMESTAMP(ts) PARTITION BY DAY")
    reply = rest.exec("SELECT count() n, min(ts), max(ts), min(px) >= 0 a, max(px) < 1000 b, min(qty) >= 1 c, "
                      "max(qty) <= 10000 d, count_distinct(sym) syms FROM gen")
    assert reply["dataset"] == [[1000, "2024-01-01T00:00:00.000000Z", "2024-01-01T00:01:39.900000Z", True, True, True, True, 3]]
    assert sorted(r[0] for r in rest.exec("SELECT DISTINCT sym FROM gen")["dataset"]) == ["AAPL", "GOOGL", "MSFT"]
    assert [c["type"] for c in rest.exec("SELECT * FROM gen LIMIT 1")["columns"]] == ["TIMESTAMP", "SYMBOL", "DOUBLE", "INT"]
    rest.exec("INSERT INTO gen SELECT timestamp_sequence('2024-01-02', 1000000), rnd_symbol(2, 4, 4, 0), rnd_double(), "
              "rnd_int() FROM long_sequence(10)")
    assert rest.exec("SELECT count() FROM gen WHERE ts >= '2024-01-02'")["dataset"] == [[10]]
    assert all(len(r[0]) == 4 for r in rest.exec("SELECT sym FROM gen WHERE ts >= '2024-01-02'")["dataset"])
    # Grouped by as any column (implied GROUP BY); a null once in 2 rows.
    groups = rest.exec("SELECT rnd_long(1, 3, 2) v, count() c FROM long_sequence(2000) ORDER BY v")["dataset"]
    assert [g[0] for g in groups] == [1, 2, 3, None] and sum(g[1] for g in groups) == 2000
    assert 800 < groups[-1][1] < 1200
    # QuestDB's reference example, its start given by to_timestamp with a format.
    reply = rest.exec("SELECT x, timestamp_sequence(to_timestamp('2019-10-17T00:00:00', 'yyyy-MM-ddTHH:mm:ss'), 100000L) "
                      "FROM long_sequence(3)")
    assert reply["dataset"] == [[1, "2019-10-17T00:00:00.000000Z"], [2, "2019-10-17T00:00:00.100000Z"],
                                [3, "2019-10-17T00:00:00.200000Z"]]
    # generate_series: both ends included, alone or in a FROM, of numbers or of timestamps by a period.
    reply = rest.exec("generate_series(5, 1, -2)")
    assert reply["columns"] == [{"name": "generate_series", "type": "LONG"}] and reply["dataset"] == [[5], [3], [1]]
    assert rest.exec("SELECT sum(generate_series) FROM generate_series(1, 100)")["dataset"] == [[5050]]
    # QuestDB's bounds either way round (PostgreSQL's reading gave no rows), and numbers.
    assert rest.exec("SELECT * FROM generate_series(1, 7, -3)")["dataset"] == [[7], [4], [1]]
    assert rest.exec("SELECT * FROM generate_series(0.5, 2, 0.5)")["dataset"] == [[0.5], [1.0], [1.5], [2.0]]
    assert rest.exec("SELECT * FROM generate_series('2025-01-01', '2025-01-02', '12h')")["dataset"] == [
        ["2025-01-01T00:00:00.000000Z"], ["2025-01-01T12:00:00.000000Z"], ["2025-01-02T00:00:00.000000Z"]]
    # Seeded (long_sequence's two seeds): the same rows each time.
    seeded = "SELECT x, rnd_int(), rnd_symbol(4, 3, 5, 0), rnd_str(2, 6, 0) FROM long_sequence(5, 7, 11)"
    assert rest.exec(seeded)["dataset"] == rest.exec(seeded)["dataset"]
    for query, says in [("SELECT rnd_double() FROM gen", "generators are answered in a query over one long_sequence(n)"),
                        ("SELECT rnd_int(10, 1, 0) FROM long_sequence(2)", "rnd_int takes no arguments, or (min, max"),
                        ("SELECT rnd_uuid4() FROM long_sequence(2)", "rnd_uuid4 is not supported")]:
        with pytest.raises(QuestDBAPIError) as raised:
            rest.exec(query)
        assert says in raised.value.response_data["error"], query


def test_column_names_are_read_in_any_case_as_questdb_reads_them(server, rest):
    """QuestDB's column names are case-insensitive: `SELECT PX FROM t` of a column `px` was refused ("unable
    to find column "PX" ... Did you mean "px"?"), in every clause and in SAMPLE BY, LATEST ON and ASOF JOIN's own
    keys. A bare column is shown as written, as QuestDB names it. Values by hand; ILP's `PX` fills `px`."""
    from questdb import Sender, TimestampNanos
    rest.exec("CREATE TABLE anycase (ts TIMESTAMP, sym SYMBOL, px DOUBLE, Size LONG) TIMESTAMP(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO anycase (TS, SYM, PX, size) VALUES ('2024-01-01T00:00:00Z', 'A', 1.5, 10), "
              "('2024-01-01T00:00:01Z', 'B', 2.5, 20)")
    at = 1_704_067_260_000_000_000  # 2024-01-01T00:01:00Z
    with Sender.from_conf(f"http::addr=127.0.0.1:{server.http_port};") as sender:
        sender.row("anycase", symbols={"SYM": "A"}, columns={"PX": 3.5, "size": 30}, at=TimestampNanos(at))
        sender.flush()
    assert [c["name"] for c in rest.exec("SELECT * FROM anycase")["columns"]] == ["ts", "sym", "px", "Size"]

    def rows(query):
        reply = rest.exec(query)
        return [c["name"] for c in reply["columns"]], reply["dataset"]

    assert rows("SELECT PX, size, Sym FROM anycase") == (["PX", "size", "Sym"], [[1.5, 10, "A"], [2.5, 20, "B"], [3.5, 30, "A"]])
    # WHERE, the implied GROUP BY, ORDER BY; a qualified name too.
    assert rows("SELECT SYM, sum(SIZE) n, max(anycase.PX) hi FROM anycase WHERE Px > 1.5 OR SIZE = 10 ORDER BY sym") == (
        ["SYM", "n", "hi"], [["A", 40, 3.5], ["B", 20, 2.5]])
    assert rows("SELECT TS, SYM, first(PX) open FROM anycase SAMPLE BY 1m") == (["TS", "SYM", "open"], [
        ["2024-01-01T00:00:00.000000Z", "A", 1.5], ["2024-01-01T00:00:00.000000Z", "B", 2.5],
        ["2024-01-01T00:01:00.000000Z", "A", 3.5]])
    assert rows("SELECT Sym, PX FROM anycase LATEST ON TS PARTITION BY SYM") == (["Sym", "PX"], [["B", 2.5], ["A", 3.5]])
    # The newest rows (read from the newest parts) and QuestDB's last rows.
    assert rows("SELECT PX FROM anycase WHERE SYM = 'A' ORDER BY TS DESC LIMIT 1") == (["PX"], [[3.5]])
    assert rows("SELECT px FROM anycase WHERE TS > '2024-01-01T00:00:00' LIMIT -1") == (["px"], [[3.5]])
    # ASOF JOIN's keys: each row meets itself (the same instants); the right side's `px` clashes, so is `px1`.
    assert rows("SELECT a.PX, b.px FROM anycase a ASOF JOIN anycase b ON (SYM)") == (
        ["PX", "px1"], [[1.5, 1.5], [2.5, 2.5], [3.5, 3.5]])
    # A name in no case is still refused by name.
    with pytest.raises(QuestDBAPIError, match="qty"):
        rest.exec("SELECT qty FROM anycase")


def test_a_timestamp_named_in_another_case_and_a_create_as_that_fails_leaves_no_table(rest):
    """`CREATE TABLE ... timestamp(TS)` of a column `ts` made a table every INSERT failed on ("\"TS\" not
    found"); a CREATE TABLE AS whose rows were refused left its table behind, empty."""
    rest.exec("CREATE TABLE ts_case (ts TIMESTAMP, px DOUBLE) timestamp(TS) PARTITION BY DAY")
    rest.exec("INSERT INTO ts_case VALUES ('2024-01-01T00:00:00Z', 1.0), ('2024-01-02T00:00:00Z', 2.0)")
    assert rest.exec("SELECT designatedTimestamp FROM tables() WHERE table_name = 'ts_case'")["dataset"] == [["ts"]]
    rest.exec("CREATE TABLE ts_case_as AS (SELECT ts, px FROM ts_case) TIMESTAMP(Ts) PARTITION BY DAY")
    assert rest.exec("SELECT count(), sum(px) FROM ts_case_as")["dataset"] == [[2, 3.0]]
    # A designated timestamp may not be null (QuestDB's rule): refused, and no table is left.
    with pytest.raises(QuestDBAPIError, match="cannot be null"):
        rest.exec("CREATE TABLE null_ts AS (SELECT CAST(NULL AS TIMESTAMP) ts, x FROM long_sequence(2)) TIMESTAMP(ts)")
    assert rest.exec("SELECT count() FROM tables() WHERE table_name = 'null_ts'")["dataset"] == [[0]]
    with pytest.raises(QuestDBAPIError, match="null_ts"):
        rest.exec("SELECT * FROM null_ts")


def test_limit_ranges_as_questdb_s_reference_gives_them(rest):
    """QuestDB's `LIMIT m, n` is rows m+1 to n; it was read as MySQL's offset and count, so `LIMIT 2, 5`
    answered 5 rows, silently, and `LIMIT -5, -3` and `LIMIT 2, -1` were refused. The reference's own
    examples over its ten rows, then the edge cases it lists, in a subquery too."""
    rest.exec("CREATE TABLE tango (id LONG)")
    rest.exec("INSERT INTO tango VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10)")

    def ids(limit):
        return [r[0] for r in rest.exec(f"SELECT * FROM tango {limit}")["dataset"]]

    assert ids("LIMIT 5") == [1, 2, 3, 4, 5]
    assert ids("LIMIT -5") == [6, 7, 8, 9, 10]
    assert ids("LIMIT 2, 5") == [3, 4, 5]
    assert ids("LIMIT -5, -3") == [6, 7]
    assert ids("LIMIT 2, -1") == [3, 4, 5, 6, 7, 8, 9]
    assert ids("LIMIT 5, 2") == [3, 4, 5]
    for same in ["LIMIT 4, 0", "LIMIT 0, 4", "LIMIT 4,", "LIMIT , 4"]:
        assert ids(same) == [1, 2, 3, 4], same
    for same in ["LIMIT -4, 0", "LIMIT -4,"]:
        assert ids(same) == [7, 8, 9, 10], same
    assert ids("LIMIT -3, -7") == ids("LIMIT -7, -3") == [4, 5, 6, 7]
    assert ids("WHERE id > 3 ORDER BY id DESC LIMIT 1, 3") == [9, 8]
    assert rest.exec("SELECT sum(id) FROM (SELECT * FROM tango LIMIT 2, 5)")["dataset"] == [[12]]
    with pytest.raises(QuestDBAPIError, match="LIMIT -2, 5: QuestDB's LIMIT takes"):
        rest.exec("SELECT * FROM tango LIMIT -2, 5")


def test_declare_binds_variables_as_questdb_resolves_them(rest):
    """QuestDB's `DECLARE @x := ... SELECT ...` (a parse error before): each variable's expression in its
    place, as QuestDB resolves them when it parses; later ones read earlier ones. By hand over four rows."""
    rest.exec("CREATE TABLE declared (ts TIMESTAMP, sym SYMBOL, px DOUBLE) TIMESTAMP(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO declared VALUES ('2024-01-01T00:00:00Z', 'A', 1.5), ('2024-01-01T00:00:01Z', 'B', 2.5), "
              "('2024-01-01T00:01:00Z', 'A', 3.5), ('2024-01-02T10:00:00Z', 'B', 4.5)")
    assert rest.exec("DECLARE @x := 5, @y := 2 SELECT @x + @y, @x * @y")["dataset"] == [[7, 10]]
    # An expression keeps its grouping: (1 + 2) * 2.
    assert rest.exec("DECLARE @n := 1 + 2 SELECT @n * 2")["dataset"] == [[6]]
    # Grafana's range as QuestDB's cookbook passes it (epoch milliseconds times 1000), a symbol, SAMPLE BY.
    reply = rest.exec("DECLARE @from := 1704067200000 * 1000, @to := @from + 60 * 1000000, @symbol := 'A' "
                      "SELECT ts, count() n, sum(px) s FROM declared WHERE sym = @symbol AND ts >= @from AND ts <= @to "
                      "SAMPLE BY 1m")
    assert reply["dataset"] == [["2024-01-01T00:00:00.000000Z", 1, 1.5], ["2024-01-01T00:01:00.000000Z", 1, 3.5]]
    # A list, a subquery, a WITH after the variables; `@` in a string stays.
    assert rest.exec("DECLARE @syms := ('B', 'C') SELECT count() FROM declared WHERE sym IN @syms")["dataset"] == [[2]]
    assert rest.exec("DECLARE @top := (SELECT max(px) FROM declared) WITH d AS (SELECT * FROM declared WHERE px = @top) "
                     "SELECT sym, '@top' t FROM d")["dataset"] == [["B", "@top"]]
    with pytest.raises(QuestDBAPIError, match="expected variable assignment operator `:=`"):
        rest.exec("DECLARE @x = 5 SELECT @x")
    with pytest.raises(QuestDBAPIError, match="@y is not declared"):
        rest.exec("DECLARE @x := 5 SELECT @y")


def _pivot_trades(rest, name="pivoted"):
    """QuestDB's PIVOT reference's ten trades (its `trades LIMIT 10`)."""
    rest.exec(f"CREATE TABLE {name} (symbol SYMBOL, side SYMBOL, price DOUBLE, amount DOUBLE, timestamp TIMESTAMP) "
              "timestamp(timestamp) PARTITION BY DAY")
    rows = [("ETH-USD", "sell", 2615.54, 0.00044, "57.609765"), ("BTC-USD", "sell", 39269.98, 0.001, "57.710419"),
            ("ETH-USD", "buy", 2615.4, 0.002, "57.764098"), ("ETH-USD", "buy", 2615.4, 0.001, "57.764098"),
            ("ETH-USD", "buy", 2615.4, 0.00042698, "57.764098"), ("ETH-USD", "buy", 2615.36, 0.02593599, "58.194582"),
            ("ETH-USD", "buy", 2615.37, 0.03500836, "58.194582"), ("ETH-USD", "buy", 2615.46, 0.17260246, "58.194582"),
            ("ETH-USD", "buy", 2615.47, 0.14810976, "58.194582"), ("BTC-USD", "sell", 39265.31, 0.000127, "58.357448")]
    rest.exec(f"INSERT INTO {name} VALUES " + ", ".join(
        f"('{s}', '{d}', {p}, {a}, '2022-03-08T18:03:{t}Z')" for s, d, p, a, t in rows))


def test_pivot_is_questdb_s(rest):
    """QuestDB's PIVOT: one aggregate per combination of the IN lists' values, grouped by its GROUP BY
    only. polars-sql's (DuckDB's) grouped by every other column: `trades PIVOT (avg(price) FOR symbol IN
    (...))` answered a row per trade. Expected values are the results QuestDB's PIVOT reference prints
    for these ten trades."""
    _pivot_trades(rest)

    def q(query):
        reply = rest.exec(query)
        return [c["name"] for c in reply["columns"]], reply["dataset"]

    approx = pytest.approx
    names, rows = q("(pivoted LIMIT 10) PIVOT (avg(price) FOR symbol IN ('BTC-USD', 'ETH-USD'))")
    assert names == ["BTC-USD", "ETH-USD"] and rows == [approx([39267.645, 2615.425])]
    names, rows = q("(pivoted LIMIT 10) PIVOT (avg(price), avg(amount) FOR symbol IN ('BTC-USD', 'ETH-USD'))")
    assert names == ["BTC-USD_avg_price", "BTC-USD_avg_amount", "ETH-USD_avg_price", "ETH-USD_avg_amount"]
    assert rows == [approx([39267.645, 0.0005635, 2615.425, 0.04819044375])]
    names, rows = q("(pivoted LIMIT 10) PIVOT (avg(price), sum(price) FOR symbol IN ('BTC-USD', 'ETH-USD') "
                    "side IN ('buy', 'sell'))")
    assert names == ["BTC-USD_buy_avg", "BTC-USD_buy_sum", "BTC-USD_sell_avg", "BTC-USD_sell_sum",
                     "ETH-USD_buy_avg", "ETH-USD_buy_sum", "ETH-USD_sell_avg", "ETH-USD_sell_sum"]
    # No BTC-USD buys: null, as QuestDB prints (a sum of no rows too).
    assert rows[0][:2] == [None, None]
    assert rows[0][2:] == approx([39267.645, 78535.29, 2615.4085714285716, 18307.86, 2615.54, 2615.54])
    names, rows = q("SELECT * FROM pivoted PIVOT (count(price) AS total FOR symbol IN ('BTC-USD' AS 'bitcoin', "
                    "'ETH-USD' AS 'ethereum') side IN ('buy', 'sell'))")
    assert names == ["bitcoin_buy_total", "bitcoin_sell_total", "ethereum_buy_total", "ethereum_sell_total"]
    assert rows == [[0, 2, 7, 1]]
    group = "pivoted PIVOT (avg(price) FOR symbol IN ('BTC-USD', 'ETH-USD') GROUP BY side ORDER BY side"
    assert q(group + ")") == (["side", "BTC-USD", "ETH-USD"], [["buy", None, approx(2615.4085714285716)],
                                                               ["sell", approx(39267.645), 2615.54]])
    assert q(group + " LIMIT 1)")[1] == [["buy", None, approx(2615.4085714285716)]]
    assert q(group + " LIMIT -1)")[1] == [["sell", approx(39267.645), 2615.54]]
    # A dynamic IN list reads the query's CTE (QuestDB's `trades LIMIT 10` shorthand in it); ELSE the rest.
    names, rows = q("WITH limited AS (pivoted LIMIT 10) SELECT * FROM limited PIVOT (avg(price) FOR symbol IN "
                    "(SELECT DISTINCT symbol FROM limited WHERE symbol LIKE '%BTC%') ELSE 'REST' GROUP BY side "
                    "ORDER BY side)")
    assert names == ["side", "BTC-USD", "REST"]
    assert rows == [["buy", None, approx(2615.4085714285716)], ["sell", approx(39267.645), 2615.54]]
    assert rest.exec("SELECT count() FROM (pivoted WHERE side = 'buy')")["dataset"] == [[7]]
    assert rest.exec("SELECT count() FROM (pivoted EXCEPT ALL (pivoted WHERE side = 'buy'))")["dataset"] == [[3]]
    assert rest.exec("(pivoted WHERE side = 'sell') UNION ALL (pivoted WHERE price > 39000)")["count"] == 5
    # OHLC per side, and SAMPLE BY inside: the buckets lead (100 ms, by hand from the rows above).
    assert q("pivoted PIVOT (first(price) AS open, max(price) AS high, min(price) AS low, last(price) AS close "
             "FOR symbol IN ('BTC-USD') GROUP BY side)") == (
        ["side", "BTC-USD_open", "BTC-USD_high", "BTC-USD_low", "BTC-USD_close"],
        [["sell", 39269.98, 39269.98, 39265.31, 39265.31]])
    names, rows = q("(SELECT * FROM pivoted WHERE symbol IN 'ETH-USD') PIVOT (sum(price) FOR symbol IN ('ETH-USD') "
                    "side IN ('buy', 'sell') SAMPLE BY 100T)")
    assert names == ["timestamp", "ETH-USD_buy", "ETH-USD_sell"]
    assert rows == [["2022-03-08T18:03:57.600000Z", None, 2615.54],
                    ["2022-03-08T18:03:57.700000Z", approx(3 * 2615.4), None],
                    ["2022-03-08T18:03:58.100000Z", approx(2615.36 + 2615.37 + 2615.46 + 2615.47), None]]
    # A PIVOT as a subquery, filtered by the names it makes.
    assert q("SELECT side FROM (pivoted PIVOT (avg(price) FOR symbol IN ('ETH-USD') GROUP BY side)) "
             "WHERE \"ETH-USD\" > 2615.45")[1] == [["sell"]]
    with pytest.raises(QuestDBAPIError, match="cannot use positional group by inside `PIVOT`"):
        rest.exec("pivoted PIVOT (avg(price) FOR symbol IN ('BTC-USD') GROUP BY 1)")
    with pytest.raises(QuestDBAPIError, match="expected FOR column IN"):
        rest.exec("pivoted PIVOT (avg(price))")


def test_pivot_of_questdb_s_own_tests(rest):
    """QuestDB's PivotTest's cities, by hand: NL's Amsterdam; Seattle and New York City in the US."""
    rest.exec("CREATE TABLE cities (country VARCHAR, name VARCHAR, year INT, population INT)")
    rest.exec("INSERT INTO cities VALUES ('NL', 'Amsterdam', 2000, 1005), ('NL', 'Amsterdam', 2010, 1065), "
              "('NL', 'Amsterdam', 2020, 1158), ('US', 'Seattle', 2000, 564), ('US', 'Seattle', 2010, 608), "
              "('US', 'Seattle', 2020, 738), ('US', 'New York City', 2000, 8015), ('US', 'New York City', 2010, 8175), "
              "('US', 'New York City', 2020, 8772)")
    reply = rest.exec("SELECT * FROM cities PIVOT (SUM(population) FOR year IN (2000, 2010, 2020) GROUP BY country "
                      "ORDER BY country)")
    assert [c["name"] for c in reply["columns"]] == ["country", "2000", "2010", "2020"]
    assert reply["dataset"] == [["NL", 1005, 1065, 1158], ["US", 564 + 8015, 608 + 8175, 738 + 8772]]
    reply = rest.exec("SELECT * FROM cities PIVOT (SUM(population), COUNT(population) FOR year IN (2000, 2010, 2020) "
                      "country IN ('NL', 'US'))")
    assert [c["name"] for c in reply["columns"]][:4] == ["2000_NL_SUM", "2000_NL_COUNT", "2000_US_SUM", "2000_US_COUNT"]
    assert reply["dataset"] == [[1005, 1, 8579, 2, 1065, 1, 8783, 2, 1158, 1, 9510, 2]]
    # Only the even populations: no group is made of the rows filtered out.
    reply = rest.exec("(cities WHERE (population % 2) = 0) PIVOT (SUM(population) AS sum FOR year IN (2000, 2010, 2020) "
                      "GROUP BY country, name ORDER BY country, name)")
    assert reply["dataset"] == [["NL", "Amsterdam", None, None, 1158], ["US", "New York City", None, None, 8772],
                                ["US", "Seattle", 564, 608, 738]]


def test_unpivot_is_questdb_s(rest):
    """QuestDB's UNPIVOT (its UnpivotTest's monthly sales, by hand): a row per listed column of each row in
    turn, the list naming columns in any case, quoted or not; nulls left out unless INCLUDE NULLS. It was
    refused ("UNPIVOT column 'jan' was not found", "IN takes a column"), and polars-sql's gave the rows
    column by column."""
    rest.exec("CREATE TABLE monthly_sales (empid INT, dept SYMBOL, Jan INT, Feb INT, Mar INT)")
    rest.exec("INSERT INTO monthly_sales VALUES (1, 'electronics', 1, 2, 3), (2, 'clothes', 10, 20, NULL), "
              "(3, 'cars', 100, 200, 300)")
    reply = rest.exec("monthly_sales UNPIVOT (sales FOR month IN (jan, feb, mar))")
    assert [c["name"] for c in reply["columns"]] == ["empid", "dept", "month", "sales"]
    assert reply["dataset"] == [[1, "electronics", "Jan", 1], [1, "electronics", "Feb", 2], [1, "electronics", "Mar", 3],
                                [2, "clothes", "Jan", 10], [2, "clothes", "Feb", 20],
                                [3, "cars", "Jan", 100], [3, "cars", "Feb", 200], [3, "cars", "Mar", 300]]
    reply = rest.exec("SELECT * FROM monthly_sales UNPIVOT INCLUDE NULLS (sales FOR month IN ('Mar'))")
    assert [r[-2:] for r in reply["dataset"]] == [["Mar", 3], ["Mar", None], ["Mar", 300]]
    # As a subquery, and from a CTE written QuestDB's way.
    assert rest.exec("SELECT month, sum(sales) FROM (monthly_sales UNPIVOT (sales FOR month IN (jan, feb, mar))) "
                     "GROUP BY month ORDER BY month")["dataset"] == [["Feb", 222], ["Jan", 111], ["Mar", 303]]
    assert rest.exec("WITH m AS (monthly_sales WHERE empid = 2) SELECT * FROM m UNPIVOT (sales FOR month IN (jan, feb))"
                     )["dataset"] == [[2, "clothes", None, "Jan", 10], [2, "clothes", None, "Feb", 20]]
    # QuestDB's reference's round trip: a PIVOT's columns back into rows.
    _pivot_trades(rest, "unpivoted")
    reply = rest.exec("((unpivoted LIMIT 1000) PIVOT (avg(price) FOR symbol IN ('BTC-USD', 'ETH-USD'))) "
                      "UNPIVOT (avg_price FOR symbol IN ('BTC-USD', 'ETH-USD'));")
    assert reply["dataset"] == [["BTC-USD", pytest.approx(39267.645)], ["ETH-USD", pytest.approx(2615.425)]]
    with pytest.raises(QuestDBAPIError, match='no column "apr" in its source'):
        rest.exec("monthly_sales UNPIVOT (sales FOR month IN (apr))")


def test_show_server_version_as_questdb_shows_it(rest):
    """QuestDB's SHOW SERVER_VERSION (the PostgreSQL version it speaks; it was "statement type is not
    supported"), the one the PostgreSQL door reports; SHOW PARAMETERS refused by name."""
    assert rest.exec("SHOW SERVER_VERSION;")["dataset"] == [["15.0 (polaroid)"]]
    with pytest.raises(QuestDBAPIError, match="polaroid-server --help"):
        rest.exec("SHOW PARAMETERS")


def test_window_join_aggregates_each_row_s_window(rest):
    """QuestDB's WINDOW JOIN (a parse error before), by hand: prices of A at 0:00, 0:30, 1:00 and 2:30 (1 to
    4), of B at 0:10 (10); trades of B at 0:00, of A at 1:00 and 5:00."""
    rest.exec("CREATE TABLE wj_trades (sym SYMBOL, price DOUBLE, ts TIMESTAMP) timestamp(ts) PARTITION BY DAY")
    rest.exec("CREATE TABLE wj_prices (sym SYMBOL, price DOUBLE, bid DOUBLE, ts TIMESTAMP) timestamp(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO wj_trades VALUES ('B', 5, '2024-01-01T00:00:00Z'), ('A', 100, '2024-01-01T00:01:00Z'), "
              "('A', 200, '2024-01-01T00:05:00Z')")
    rest.exec("INSERT INTO wj_prices VALUES ('A', 1, 0.5, '2024-01-01T00:00:00Z'), ('B', 10, 9.5, '2024-01-01T00:00:10Z'), "
              "('A', 2, 1.5, '2024-01-01T00:00:30Z'), ('A', 3, 2.5, '2024-01-01T00:01:00Z'), "
              "('A', 4, 3.5, '2024-01-01T00:02:30Z')")

    def q(query):
        reply = rest.exec(query)
        return [c["name"] for c in reply["columns"]], reply["dataset"]

    around = "RANGE BETWEEN 1 minute PRECEDING AND 1 minute FOLLOWING"
    # The bounds are included; a trade with nothing in its window keeps its row (count 0, sum null).
    assert q(f"SELECT t.sym, t.ts, sum(p.price) AS s, count() AS n FROM wj_trades t WINDOW JOIN wj_prices p "
             f"ON (t.sym = p.sym) {around} EXCLUDE PREVAILING ORDER BY t.ts") == (
        ["sym", "ts", "s", "n"], [["B", "2024-01-01T00:00:00.000000Z", 10.0, 1], ["A", "2024-01-01T00:01:00.000000Z", 6.0, 3],
                                  ["A", "2024-01-01T00:05:00.000000Z", None, 0]])
    # INCLUDE PREVAILING (the default): A at 5:00 gets the price of 2:30, which prevailed at 4:00.
    assert q(f"SELECT t.sym, sum(p.price) s, count() n, first(p.price) f, last(p.price) l FROM wj_trades t "
             f"WINDOW JOIN wj_prices p ON (sym) {around}")[1] == [
        ["B", 10.0, 1, 10.0, 10.0], ["A", 6.0, 3, 1.0, 3.0], ["A", 4.0, 1, 4.0, 4.0]]
    # A price at the window's start is the one that prevailed then, so the one before it is not added:
    # A at 5:00 from 1:00 gets 1:00's and 2:30's, not 0:30's (QuestDB's WindowJoinTest: the row before
    # is added "when no right row matches the window start exactly").
    assert q("SELECT t.sym, sum(p.price) s, count() n, first(p.price) f FROM wj_trades t WINDOW JOIN wj_prices p "
             "ON (sym) RANGE BETWEEN 4 minutes PRECEDING AND 1 minute FOLLOWING")[1] == [
        ["B", 10.0, 1, 10.0], ["A", 6.0, 3, 1.0], ["A", 7.0, 2, 3.0]]
    # Only A's trade at 5:00: its window reads no price, the one of 2:30 prevailed (before the window; 0:10's
    # of B too, but no B trade is kept).
    assert q(f"SELECT t.sym, sum(p.price) s, count() n FROM wj_trades t WINDOW JOIN wj_prices p ON (sym) {around} "
             "WHERE t.ts >= '2024-01-01T00:05:00'")[1] == [["A", 4.0, 1]]
    assert q(f"SELECT t.sym, sum(p.price) s, count() n FROM wj_trades t WINDOW JOIN wj_prices p {around} "
             "WHERE t.ts >= '2024-01-01T00:05:00'")[1] == [["A", 4.0, 1]]
    assert q(f"SELECT t.sym, sum(p.price) s, count() n FROM wj_trades t WINDOW JOIN wj_prices p ON (sym) {around} "
             "EXCLUDE PREVAILING WHERE t.ts >= '2024-01-01T00:05:00'")[1] == [["A", None, 0]]
    assert q("SELECT t.sym, sum(p.price) AS past_sum FROM wj_trades t WINDOW JOIN wj_prices p ON (t.sym = p.sym) "
             "RANGE BETWEEN 2 minutes PRECEDING AND 1 minute PRECEDING EXCLUDE PREVAILING")[1] == [["B", None], ["A", 1.0], ["A", None]]
    # No ON: every price in the window, whatever its symbol.
    assert q(f"SELECT t.sym, count() AS total FROM wj_trades t WINDOW JOIN wj_prices p {around} EXCLUDE PREVAILING")[1] == [
        ["B", 4], ["A", 4], ["A", 0]]
    # ON's other conditions filter the prices; WHERE filters the trades.
    assert q("SELECT t.sym, avg(p.bid) avg_bid, max(p.price) FROM wj_trades t WINDOW JOIN wj_prices p ON (t.sym = p.sym) "
             "AND p.price < 3 RANGE BETWEEN 2 minutes PRECEDING AND 2 minutes FOLLOWING EXCLUDE PREVAILING "
             "WHERE t.price < 150") == (["sym", "avg_bid", "max"], [["B", None, None], ["A", 1.0, 2.0]])
    with pytest.raises(QuestDBAPIError, match="the right table's columns are read through aggregates"):
        rest.exec(f"SELECT t.sym, p.price FROM wj_trades t WINDOW JOIN wj_prices p ON (sym) {around}")
    with pytest.raises(QuestDBAPIError, match="high boundary is before its low boundary"):
        rest.exec("SELECT count() FROM wj_trades WINDOW JOIN wj_prices RANGE BETWEEN 1 minute FOLLOWING AND 1 minute PRECEDING")
    # TIMESTAMP_NS tables' windows to the nanosecond: prices 500 ns before, 500 ns and 1,500 ns after the trade.
    rest.exec("CREATE TABLE wj_ns_trades (sym SYMBOL, ts TIMESTAMP_NS) timestamp(ts) PARTITION BY DAY")
    rest.exec("CREATE TABLE wj_ns_prices (sym SYMBOL, price DOUBLE, ts TIMESTAMP_NS) timestamp(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO wj_ns_trades VALUES ('A', '2024-01-01T00:00:01.000000000Z')")
    rest.exec("INSERT INTO wj_ns_prices VALUES ('A', 1, '2024-01-01T00:00:00.999999500Z'), ('A', 2, '2024-01-01T00:00:01.000000500Z'), "
              "('A', 4, '2024-01-01T00:00:01.000001500Z')")
    assert q("SELECT sum(p.price), count() FROM wj_ns_trades t WINDOW JOIN wj_ns_prices p ON (sym) "
             "RANGE BETWEEN 1 microsecond PRECEDING AND 1 microsecond FOLLOWING EXCLUDE PREVAILING")[1] == [[3.0, 2]]
    assert q("SELECT sum(p.price), count() FROM wj_ns_trades t WINDOW JOIN wj_ns_prices p ON (sym) "
             "RANGE BETWEEN 600 nanoseconds PRECEDING AND 0 nanoseconds FOLLOWING EXCLUDE PREVAILING")[1] == [[1.0, 1]]


def test_chained_window_joins_aggregate_each_join_on_its_own(rest):
    """QuestDB's chained WINDOW JOINs (its reference's example; "one WINDOW JOIN per query" before): bids over
    ±1 minute and asks over ±30 s of each trade, by hand, and each join's columns as that join alone gives them."""
    rest.exec("CREATE TABLE cw_trades (sym SYMBOL, price DOUBLE, ts TIMESTAMP) timestamp(ts) PARTITION BY DAY")
    rest.exec("CREATE TABLE cw_bids (sym SYMBOL, bid DOUBLE, ts TIMESTAMP) timestamp(ts) PARTITION BY DAY")
    rest.exec("CREATE TABLE cw_asks (sym SYMBOL, ask DOUBLE, ts TIMESTAMP) timestamp(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO cw_trades VALUES ('A', 10, '2024-01-01T00:01:00Z'), ('B', 20, '2024-01-01T00:02:00Z'), "
              "('A', 30, '2024-01-01T00:03:00Z')")
    rest.exec("INSERT INTO cw_bids VALUES ('A', 9, '2024-01-01T00:00:00Z'), ('A', 9.5, '2024-01-01T00:00:30Z'), "
              "('B', 19, '2024-01-01T00:01:30Z'), ('A', 29, '2024-01-01T00:02:40Z')")
    rest.exec("INSERT INTO cw_asks VALUES ('A', 11, '2024-01-01T00:00:50Z'), ('B', 21, '2024-01-01T00:02:10Z'), "
              "('A', 31, '2024-01-01T00:03:00Z'), ('A', 32, '2024-01-01T00:03:20Z')")
    bids = "WINDOW JOIN cw_bids p ON (t.sym = p.sym) RANGE BETWEEN 1 minute PRECEDING AND 1 minute FOLLOWING"
    asks = "WINDOW JOIN cw_asks q ON (t.sym = q.sym) RANGE BETWEEN 30 seconds PRECEDING AND 30 seconds FOLLOWING"
    reply = rest.exec(f"SELECT t.sym, t.ts, t.price, sum(p.bid) AS sum_bids, avg(q.ask) AS avg_asks FROM cw_trades t {bids} {asks}")
    assert [c["name"] for c in reply["columns"]] == ["sym", "ts", "price", "sum_bids", "avg_asks"]
    # A at 3:00: the bids of 2:40 and of 0:30 (prevailing at 2:00); the asks of 3:00, 3:20 and 0:50 (at 2:30).
    assert reply["dataset"] == [["A", "2024-01-01T00:01:00.000000Z", 10.0, 18.5, 11.0],
                                ["B", "2024-01-01T00:02:00.000000Z", 20.0, 19.0, 21.0],
                                ["A", "2024-01-01T00:03:00.000000Z", 30.0, 38.5, (11 + 31 + 32) / 3]]
    # Each join's columns are what that join alone gives, whatever the other's window, order or filter.
    q_alone = f"{asks.replace('30 seconds FOLLOWING', '2 minutes FOLLOWING')} EXCLUDE PREVAILING"
    chained = rest.exec(f"SELECT sum(q.ask), t.sym, count(p.ts) n, sum(p.bid) FROM cw_trades t {bids} {q_alone} "
                        "WHERE t.price > 15 ORDER BY t.ts DESC")
    assert [c["name"] for c in chained["columns"]] == ["sum", "sym", "n", "sum1"]
    by_bids = rest.exec(f"SELECT t.sym, count() n, sum(p.bid) FROM cw_trades t {bids} WHERE t.price > 15 ORDER BY t.ts DESC")["dataset"]
    by_asks = rest.exec(f"SELECT sum(q.ask) FROM cw_trades t {q_alone} WHERE t.price > 15 ORDER BY t.ts DESC")["dataset"]
    assert chained["dataset"] == [a + b for a, b in zip(by_asks, by_bids, strict=True)] == [
        [63.0, "A", 2, 38.5], [21.0, "B", 1, 19.0]]
    with pytest.raises(QuestDBAPIError, match="does not say which join's rows it counts"):
        rest.exec(f"SELECT t.sym, count() FROM cw_trades t {bids} {asks}")
    with pytest.raises(QuestDBAPIError, match="reads two joined tables"):
        rest.exec(f"SELECT sum(p.bid + q.ask) FROM cw_trades t {bids} {asks}")
    with pytest.raises(QuestDBAPIError, match="give each its own alias"):
        rest.exec(f"SELECT sum(p.bid) FROM cw_trades t {bids} {bids}")


def test_horizon_join_matches_each_row_at_each_offset(rest):
    """QuestDB's HORIZON JOIN (a parse error before), on its own HorizonJoinTest's data: trades at 00:00:01
    of two days, prices at 0.5 s and 2 s of the first and 0.5 s of the second; worked by hand."""
    rest.exec("CREATE TABLE hz_trades (ts TIMESTAMP, sym SYMBOL, qty LONG) TIMESTAMP(ts) PARTITION BY DAY")
    rest.exec("CREATE TABLE hz_prices (ts TIMESTAMP, price DOUBLE) TIMESTAMP(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO hz_trades VALUES ('2000-01-01T00:00:01.000000Z', 'A', 10), ('2000-01-02T00:00:01.000000Z', 'B', 20)")
    rest.exec("INSERT INTO hz_prices VALUES ('2000-01-01T00:00:00.500000Z', 100.0), ('2000-01-01T00:00:02.000000Z', 200.0), "
              "('2000-01-02T00:00:00.500000Z', 300.0)")

    def q(query):
        reply = rest.exec(query)
        return [c["name"] for c in reply["columns"]], reply["dataset"]

    # QuestDB's expected answer: each trade's own day's price, not the first day's last.
    assert q("SELECT t.sym, avg(p.price) FROM hz_trades AS t HORIZON JOIN hz_prices AS p RANGE FROM 0s TO 0s STEP 1s AS h "
             "ORDER BY t.sym") == (["sym", "avg"], [["A", 100.0], ["B", 300.0]])
    # A second before, A has no price yet and B has the first day's last; at 1 s after, A's 2 s price (bounds included).
    assert q("SELECT h.offset, t.sym, avg(p.price), count() FROM hz_trades AS t HORIZON JOIN hz_prices AS p "
             "RANGE FROM -1s TO 2s STEP 1s AS h ORDER BY t.sym, h.offset") == (
        ["offset", "sym", "avg", "count"],
        [[-1000000, "A", None, 1], [0, "A", 100.0, 1], [1000000, "A", 200.0, 1], [2000000, "A", 200.0, 1],
         [-1000000, "B", 200.0, 1], [0, "B", 300.0, 1], [1000000, "B", 300.0, 1], [2000000, "B", 300.0, 1]])
    # LIST, grouped by the offset only (QuestDB's implicit GROUP BY), in seconds.
    assert q("SELECT h.offset / 1000000 AS sec, avg(p.price), sum(t.qty) FROM hz_trades AS t HORIZON JOIN hz_prices AS p "
             "LIST (0, 1s) AS h ORDER BY sec")[1] == [[0, 200.0, 30], [1, 250.0, 30]]
    # The matched instant and row; WHERE filters the trades.
    assert q("SELECT h.timestamp, p.price FROM hz_trades AS t HORIZON JOIN hz_prices AS p LIST (0, 1s) AS h WHERE t.sym = 'A'") == (
        ["timestamp", "price"], [["2000-01-01T00:00:01.000000Z", 100.0], ["2000-01-01T00:00:02.000000Z", 200.0]])
    # A WHERE on the horizon itself is read after the match (one on the trades, before it).
    assert q("SELECT h.offset, avg(p.price) FROM hz_trades AS t HORIZON JOIN hz_prices AS p LIST (0, 1s) AS h "
             "WHERE h.offset > 0 AND t.qty > 5")[1] == [[1000000, 250.0]]
    # In a CTE, and PIVOTed by its offsets (QuestDB's reference: `FOR offset IN (...)` takes the raw numbers).
    assert q("WITH m AS (SELECT h.offset AS o, t.sym, avg(p.price) AS a FROM hz_trades AS t HORIZON JOIN hz_prices AS p "
             "RANGE FROM 0s TO 1s STEP 1s AS h) SELECT * FROM m ORDER BY sym, o")[1] == [
        [0, "A", 100.0], [1000000, "A", 200.0], [0, "B", 300.0], [1000000, "B", 300.0]]
    assert q("(SELECT h.offset AS o, t.sym, avg(p.price) AS a FROM hz_trades AS t HORIZON JOIN hz_prices AS p "
             "RANGE FROM 0s TO 1s STEP 1s AS h) PIVOT (avg(a) FOR o IN (0, 1000000) GROUP BY sym ORDER BY sym)") == (
        ["sym", "0", "1000000"], [["A", 100.0, 200.0], ["B", 300.0, 300.0]])
    with pytest.raises(QuestDBAPIError, match="hz_prices has no column sym"):
        rest.exec("SELECT avg(p.price) FROM hz_trades AS t HORIZON JOIN hz_prices AS p ON (t.sym = p.sym) LIST (0) AS h")
    with pytest.raises(QuestDBAPIError, match="offsets must increase"):
        rest.exec("SELECT avg(p.price) FROM hz_trades AS t HORIZON JOIN hz_prices AS p LIST (1s, 0) AS h")
    # A TIMESTAMP_NS table's offsets are nanoseconds (QuestDB's rule: the left's unit), matched to the nanosecond.
    rest.exec("CREATE TABLE hz_ns (ts TIMESTAMP_NS, sym SYMBOL) TIMESTAMP(ts) PARTITION BY DAY")
    rest.exec("CREATE TABLE hz_ns_prices (ts TIMESTAMP_NS, price DOUBLE) TIMESTAMP(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO hz_ns VALUES ('2000-01-01T00:00:01.000000000Z', 'A')")
    rest.exec("INSERT INTO hz_ns_prices VALUES ('2000-01-01T00:00:01.000000000Z', 1.0), ('2000-01-01T00:00:01.000001000Z', 2.0), "
              "('2000-01-01T00:00:01.000001500Z', 3.0)")
    assert q("SELECT h.offset, h.timestamp, avg(p.price) FROM hz_ns AS t HORIZON JOIN hz_ns_prices AS p LIST (0, 1499n, 1500n) AS h "
             "ORDER BY h.offset")[1] == [[0, "2000-01-01T00:00:01.000000000Z", 1.0], [1499, "2000-01-01T00:00:01.000001499Z", 2.0],
                                        [1500, "2000-01-01T00:00:01.000001500Z", 3.0]]
    with pytest.raises(QuestDBAPIError, match="an offset of 1500n is finer than hz_trades's timestamps"):
        rest.exec("SELECT count() FROM hz_trades AS t HORIZON JOIN hz_ns_prices AS p LIST (1500n) AS h")


def test_horizon_join_markout_matches_polars(rest):
    """A markout curve over two quote tables (bids and asks, each of its symbol) against python polars: every
    trade crossed with the offsets, each table's latest quote at or before ts + offset (join_asof), then grouped."""
    rng = random.Random(11)
    start = dt.datetime(2024, 1, 1)
    trades = pl.DataFrame({"sym": [rng.choice("XY") for _ in range(120)],
                           "price": [float(rng.randrange(90, 110)) for _ in range(120)],
                           "ts": sorted(start + dt.timedelta(seconds=rng.randrange(300)) for _ in range(120))})

    def quotes(name):
        seconds = sorted(rng.sample(range(300), 200))
        return pl.DataFrame({"sym": [rng.choice("XY") for _ in seconds], name: [float(rng.randrange(90, 110)) for _ in seconds],
                             "ts": [start + dt.timedelta(seconds=s) for s in seconds]})

    bids, asks = quotes("bid"), quotes("ask")
    rest.exec("CREATE TABLE hzm_trades (sym SYMBOL, price DOUBLE, ts TIMESTAMP) timestamp(ts) PARTITION BY DAY")
    for table, frame_, column in [("hzm_bids", bids, "bid"), ("hzm_asks", asks, "ask")]:
        rest.exec(f"CREATE TABLE {table} (sym SYMBOL, {column} DOUBLE, ts TIMESTAMP) timestamp(ts) PARTITION BY DAY")
        rest.exec(f"INSERT INTO {table} VALUES " + ", ".join(f"('{s}', {v}, '{t.isoformat()}Z')" for s, v, t in frame_.rows()))
    rest.exec("INSERT INTO hzm_trades VALUES " + ", ".join(f"('{s}', {p}, '{t.isoformat()}Z')" for s, p, t in trades.rows()))
    reply = rest.exec("SELECT h.offset / 1000000 AS sec, t.sym, avg((b.bid + a.ask) / 2 - t.price) AS markout, count() AS n, "
                      "count(b.bid) AS quoted FROM hzm_trades AS t HORIZON JOIN hzm_bids AS b ON (t.sym = b.sym) "
                      "HORIZON JOIN hzm_asks AS a ON (sym) RANGE FROM -10s TO 20s STEP 10s AS h ORDER BY t.sym, sec")
    got = frame(reply)
    offsets = pl.DataFrame({"sec": [-10, 0, 10, 20]})
    crossed = (trades.join(offsets, how="cross").with_columns(at=pl.col("ts") + pl.duration(seconds=pl.col("sec"))).sort("at"))
    matched = (crossed.join_asof(bids.rename({"ts": "bts"}).sort("bts"), left_on="at", right_on="bts", by="sym",
                          check_sortedness=False)
               .join_asof(asks.rename({"ts": "ats"}).sort("ats"), left_on="at", right_on="ats", by="sym",
                          check_sortedness=False))
    want = (matched.group_by("sec", "sym")
            .agg(((pl.col("bid") + pl.col("ask")) / 2 - pl.col("price")).mean().alias("markout"), pl.len().alias("n"),
                 pl.col("bid").count().alias("quoted"))
            .sort("sym", "sec").select("sec", "sym", "markout", "n", "quoted"))
    assert want["quoted"].sum() < want["n"].sum() and want["markout"].null_count() == 0
    assert_frame_equal(got, want, check_dtypes=False)


def test_questdb_s_implicit_having_and_digit_separators(rest):
    """From QuestDB's "SQL extensions" page, both parse errors before: HAVING written as a parenthesized query
    and a WHERE (`(SELECT ...) WHERE total > 10_000_000`), and underscores between a number's digits."""
    rest.exec("CREATE TABLE ih (sym SYMBOL, qty LONG, ts TIMESTAMP) timestamp(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO ih VALUES ('A', 6_000_000, '2024-01-01T00:00:00Z'), ('A', 5_000_000, '2024-01-01T00:00:01Z'), "
              "('B', 7_000_000, '2024-01-01T00:00:02Z')")
    assert rest.exec("(SELECT sym, sum(qty) AS total FROM ih) WHERE total > 10_000_000")["dataset"] == [["A", 11000000]]
    assert rest.exec("(SELECT sym, sum(qty) AS total FROM ih) ORDER BY total LIMIT 1")["dataset"] == [["B", 7000000]]
    assert rest.exec("SELECT 1_000_000 AS n, 0.000_5 AS x, 'a_1_2' AS s")["dataset"] == [[1000000, 0.0005, "a_1_2"]]


def test_window_join_matches_polars(rest):
    """Against python polars over random ticks: each trade's prices of its symbol from 30 s before to 15 s
    after, and the one that prevailed at its start (the latest at or before it: QuestDB's own tests union the
    window's rows with it, so one at the start is not counted twice)."""
    rng = random.Random(7)
    start = dt.datetime(2024, 1, 1)
    trades = pl.DataFrame({"sym": [rng.choice("XY") for _ in range(150)],
                           "ts": sorted(start + dt.timedelta(seconds=rng.randrange(600)) for _ in range(150))})
    seconds = sorted(rng.sample(range(600), 300))
    prices = pl.DataFrame({"sym": [rng.choice("XY") for _ in seconds], "px": [float(rng.randrange(1000)) for _ in seconds],
                           "ts": [start + dt.timedelta(seconds=s) for s in seconds]})
    # A sparse symbol: its one price long before its one trade's window, the price that prevailed then.
    trades = pl.concat([trades, pl.DataFrame({"sym": ["Z"], "ts": [start + dt.timedelta(seconds=590)]})]).sort("ts", maintain_order=True)
    prices = pl.concat([prices, pl.DataFrame({"sym": ["Z"], "px": [7.0], "ts": [start + dt.timedelta(milliseconds=5500)]})]).sort("ts", maintain_order=True)
    rest.exec("CREATE TABLE wjp_trades (sym SYMBOL, ts TIMESTAMP) timestamp(ts) PARTITION BY DAY")
    rest.exec("CREATE TABLE wjp_prices (sym SYMBOL, px DOUBLE, ts TIMESTAMP) timestamp(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO wjp_trades VALUES " + ", ".join(f"('{s}', '{t.isoformat()}Z')" for s, t in trades.rows()))
    rest.exec("INSERT INTO wjp_prices VALUES " + ", ".join(f"('{s}', {p}, '{t.isoformat()}Z')" for s, p, t in prices.rows()))
    query = ("SELECT t.sym, t.ts, count() n, sum(p.px) s, min(p.px) lo, max(p.px) hi, first(p.px) f "
             "FROM wjp_trades t WINDOW JOIN wjp_prices p ON (t.sym = p.sym) "
             "RANGE BETWEEN 30 seconds PRECEDING AND 15 seconds FOLLOWING")
    got = frame(rest.exec(query))
    # The last minutes' trades: the prices are read from their first window's start on, each symbol's
    # prevailing one from before it (Z's 584.5 s earlier).
    late = frame(rest.exec(f"{query} WHERE t.ts >= '2024-01-01T00:08:00'"))
    t = trades.with_row_index("row").with_columns(lo=pl.col("ts") - dt.timedelta(seconds=30),
                                                 hi=pl.col("ts") + dt.timedelta(seconds=15))
    inside = t.join(prices.rename({"ts": "pts"}), on="sym").filter(pl.col("pts").is_between("lo", "hi"))
    before = t.sort("lo").join_asof(prices.rename({"ts": "pts"}).sort("pts"), left_on="lo", right_on="pts", by="sym",
                                    allow_exact_matches=True, check_sortedness=False).filter(pl.col("pts").is_not_null())
    pairs = pl.concat([inside.select("row", "pts", "px"), before.select("row", "pts", "px")]).unique(["row", "pts"])
    want = (t.join(pairs, on="row", how="left").sort("row", "pts", nulls_last=False)
            .group_by("row", maintain_order=True)
            .agg(pl.col("sym").first(), pl.col("ts").first(), pl.col("px").count().alias("n"), pl.col("px").sum().alias("s"),
                 pl.col("px").min().alias("lo"), pl.col("px").max().alias("hi"), pl.col("px").drop_nulls().first().alias("f"))
            .with_columns(pl.when(pl.col("n") > 0).then(pl.col("s")).alias("s"))
            .drop("row"))
    assert want["n"].sum() > 150 and (want["n"] == 0).sum() < 150
    # Some windows start at a price (the case the rule is about).
    assert t.join(prices, left_on=["sym", "lo"], right_on=["sym", "ts"]).height > 5
    assert_frame_equal(got, want, check_dtypes=False)
    want_late = want.filter(pl.col("ts") >= dt.datetime(2024, 1, 1, 0, 8))
    assert want_late.filter(pl.col("sym") == "Z")["s"].to_list() == [7.0] and want_late.height > 20
    assert_frame_equal(late, want_late, check_dtypes=False)


def test_exponential_moving_averages_in_questdb_syntax(rest):
    """QuestDB's EMA and VWEMA window functions (patch 0101), worked by hand: alpha 1/2 (period 3 is the
    same), time-weighted with tau one minute, and weighted by size."""
    rest.exec("CREATE TABLE ema (ts TIMESTAMP, sym SYMBOL, px DOUBLE, qty DOUBLE) TIMESTAMP(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO ema VALUES ('2024-01-01T00:00:00Z', 'a', 10.0, 1), ('2024-01-01T00:00:00Z', 'b', 100.0, 5), "
              "('2024-01-01T00:01:00Z', 'a', 20.0, 3), ('2024-01-01T00:02:00Z', 'a', NULL, 1), "
              "('2024-01-01T00:03:00Z', 'a', 40.0, 1)")
    reply = rest.exec("SELECT ts, sym, avg(px, 'alpha', 0.5) OVER (PARTITION BY sym ORDER BY ts), "
                      "avg(px, 'period', 3) OVER (PARTITION BY sym ORDER BY ts) p, "
                      "avg(px, 'minute', 1) OVER (PARTITION BY sym ORDER BY ts) m, "
                      "avg(px, 'alpha', 0.5, qty) OVER (PARTITION BY sym ORDER BY ts) v FROM ema WHERE sym = 'a'")
    assert [c["name"] for c in reply["columns"]] == ["ts", "sym", "avg", "p", "m", "v"]
    rows = reply["dataset"]
    assert [r[2] for r in rows] == [10.0, 15.0, 15.0, 27.5] and [r[3] for r in rows] == [10.0, 15.0, 15.0, 27.5]
    alpha = 1 - math.exp(-1)
    second = alpha * 20 + (1 - alpha) * 10
    want = [10.0, second, second, alpha * 40 + (1 - alpha) * second]
    assert all(abs(r[4] - w) < 1e-9 for r, w in zip(rows, want, strict=True)), rows
    # (0.5 * 20 * 3 + 0.5 * 10) / (0.5 * 3 + 0.5) = 17.5; then (0.5 * 40 + 0.5 * 35) / (0.5 + 0.5 * 2) = 25.
    assert [r[5] for r in rows] == [10.0, 17.5, 17.5, 25.0]
    with pytest.raises(QuestDBAPIError) as raised:
        rest.exec("SELECT avg(px, 'alpha', 0.5) OVER (PARTITION BY sym ORDER BY ts ROWS 2 PRECEDING) FROM ema")
    assert "remove the ROWS/RANGE frame" in raised.value.response_data["error"]


def test_tick_date_variables_ranges_and_lists(rest):
    """QuestDB's TICK intervals in the part read here: $today/$yesterday/$now with arithmetic (business
    days too), ranges, bracket lists and durations, over rows stamped relative to the server's clock."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    if now.hour < 2 or now.hour > 21:
        pytest.skip("near midnight the rows of 'today' depend on the second the query runs")
    rest.exec("CREATE TABLE ticked (ts TIMESTAMP, d LONG) TIMESTAMP(ts) PARTITION BY DAY")
    rows = [(now - dt.timedelta(days=d, hours=h), d) for d in range(10) for h in (0, 1)]
    rest.exec("INSERT INTO ticked VALUES " + ", ".join(f"('{t.isoformat()}Z', {d})" for t, d in rows))
    days = lambda where: sorted({r[0] for r in rest.exec(f"SELECT d FROM ticked WHERE ts IN '{where}'")["dataset"]})  # noqa: E731
    count = lambda where: rest.exec(f"SELECT count() FROM ticked WHERE ts IN '{where}'")["dataset"][0][0]  # noqa: E731
    assert days("$today") == [0] and days("[$yesterday]") == [1] and days("$today-3d..$today") == [0, 1, 2, 3]
    assert days("[$today, $today - 2d]") == [0, 2]
    assert count("$now - 90m..$now") == 2  # now and an hour ago
    assert count("$now - 2h;1h") == 1      # an hour ago only
    weekdays = [d for d in range(1, 10) if (now.date() - dt.timedelta(days=d)).weekday() < 5][:5]
    # From the fifth weekday back to the first (the weekend days between them too).
    assert days("$today-5bd..$today-1bd") == list(range(min(weekdays), max(weekdays) + 1))
    assert rest.exec("SELECT count() FROM ticked WHERE ts NOT IN '[$today, $yesterday]'")["dataset"] == [[16]]


def test_tick_brackets_time_zones_and_day_filters(rest):
    """TICK's bracket expansion, @zone (wall-clock time there) and #day filters, worked by hand."""
    # NYSE's session on the workdays of a week, written in New York time (UTC-5 in January): 14:30 to 21:00 UTC;
    # 2024-01-13 was a Saturday.
    rest.exec("CREATE TABLE session (ts TIMESTAMP, px DOUBLE) TIMESTAMP(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO session VALUES ('2024-01-12T14:29:59Z', 1), ('2024-01-12T14:30:00Z', 2), ('2024-01-12T20:59:59Z', 3), "
              "('2024-01-12T21:00:00Z', 4), ('2024-01-13T15:00:00Z', 5), ('2024-01-15T15:00:00Z', 6)")
    px = lambda where: [r[0] for r in rest.exec(f"SELECT px FROM session WHERE ts IN '{where}'")["dataset"]]  # noqa: E731
    assert px("2024-01-[12..15]T09:30@America/New_York#workday;6h29m") == [2.0, 3.0, 6.0]
    assert px("2024-01-[12..15]T09:30@America/New_York#weekend;6h29m") == [5.0]
    assert px("[2024-01-13, 2024-01-15]T10:00@-05:00;59m") == [5.0, 6.0]
    assert px("2024-01-1[2,5]T14:[29,30]") == [1.0, 2.0]
    with pytest.raises(QuestDBAPIError) as raised:
        rest.exec("SELECT * FROM session WHERE ts IN '2024-W01-1'")
    assert "ISO weeks, which are not supported here" in raised.value.response_data["error"]
