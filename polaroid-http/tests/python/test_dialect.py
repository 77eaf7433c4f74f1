"""QuestDB's SAMPLE BY and LATEST ON, checked against python-polars."""

from __future__ import annotations

import datetime as dt

import polars as pl
from polars.testing import assert_frame_equal

TRADES = "read_parquet('trades.parquet')"


def frame(reply: dict) -> pl.DataFrame:
    names = [c["name"] for c in reply["columns"]]
    df = pl.DataFrame(reply["dataset"], schema=names, orient="row")
    for c in reply["columns"]:
        if c["type"] == "TIMESTAMP":
            df = df.with_columns(pl.col(c["name"]).str.to_datetime("%Y-%m-%dT%H:%M:%S%.6fZ", time_unit="us"))
    return df


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


def test_sample_by_fill_prev_and_value_fill_empty_buckets(rest):
    rest.exec("CREATE TABLE sparse (ts TIMESTAMP, sym SYMBOL, px DOUBLE) timestamp(ts) PARTITION BY DAY")
    rest.exec("INSERT INTO sparse VALUES ('2026-01-01T00:00:10Z', 'A', 1.0), ('2026-01-01T00:01:20Z', 'A', 2.0), "
              "('2026-01-01T00:04:00Z', 'A', 5.0), ('2026-01-01T00:02:00Z', 'B', 7.0), ('2026-01-01T00:03:30Z', 'B', 8.0)")
    prev = rest.exec("SELECT ts, sym, last(px) AS px FROM sparse SAMPLE BY 1m FILL(PREV)")
    # Worked by hand: A has 00:00..00:04 with 00:02 and 00:03 carried from 00:01; B has 00:02..00:03.
    assert prev["dataset"] == [
        ["2026-01-01T00:00:00.000000Z", "A", 1.0],
        ["2026-01-01T00:01:00.000000Z", "A", 2.0],
        ["2026-01-01T00:02:00.000000Z", "A", 2.0],
        ["2026-01-01T00:03:00.000000Z", "A", 2.0],
        ["2026-01-01T00:04:00.000000Z", "A", 5.0],
        ["2026-01-01T00:02:00.000000Z", "B", 7.0],
        ["2026-01-01T00:03:00.000000Z", "B", 8.0],
    ]
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


def test_asof_join_with_an_on_condition_and_no_keys(rest, data_dir):
    on = frame(rest.exec("SELECT a.ts, a.px, b.bid FROM read_parquet('trades.parquet') a ASOF JOIN "
                         "read_parquet('quotes.parquet') b ON a.sym = b.sym ORDER BY a.ts LIMIT 50"))
    keyed = frame(rest.exec("SELECT ts, px, bid FROM read_parquet('trades.parquet') ASOF JOIN "
                            "read_parquet('quotes.parquet') ON (sym) ORDER BY ts LIMIT 50"))
    assert_frame_equal(on, keyed)
    plain = frame(rest.exec("SELECT ts, bid FROM read_parquet('trades.parquet') ASOF JOIN read_parquet('quotes.parquet') LIMIT 3"))
    quotes = pl.read_parquet(data_dir / "quotes.parquet").sort("ts")
    trades = pl.read_parquet(data_dir / "trades.parquet").sort("ts").head(3)
    want = trades.join_asof(quotes.select("ts", "bid"), on="ts").select("ts", "bid")
    assert_frame_equal(plain, want, check_dtypes=False)
