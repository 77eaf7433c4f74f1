"""A filter on the designated timestamp reads only the partitions it can
match (QuestDB's partition pruning), checked from QuestDB's own clients.

The proof is on disk: once the table's parts are known to the server, the
partitions a query does not need are deleted. Queries that filter them out
answer exactly as python polars does over the rows sent; a query that
needs them fails, and the server goes on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import shutil
import tempfile
from pathlib import Path

import polars as pl
import pytest
import requests
from polars.testing import assert_frame_equal
from questdb_rest import QuestDBAPIError, QuestDBClient

from conftest import Server, frame, send_frame

ROWS_PER_DAY = 10_000
DAYS = 30


def month_of_rows(start: dt.datetime) -> pl.DataFrame:
    n = DAYS * ROWS_PER_DAY
    step = dt.timedelta(days=1) / ROWS_PER_DAY
    return pl.DataFrame({
        "ts": pl.datetime_range(start, start + step * (n - 1), step, time_unit="us", eager=True),
        "sym": [["AAPL", "MSFT", "NVDA"][i % 3] for i in range(n)],
        "px": [100 + (i * 37 % 1000) / 10 for i in range(n)],
    })


def day(start: dt.datetime, n: int) -> str:
    return (start + dt.timedelta(days=n)).strftime("%Y-%m-%d")


def month_start() -> dt.datetime:
    """The start of a month ending yesterday, so that now()-relative filters select some of it."""
    today = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=DAYS)


@contextlib.contextmanager
def month_table(rows: pl.DataFrame, start: dt.datetime):
    """A server whose table t holds `rows`, a month from `start`, sent by ILP:
    250,000 rows (25 days) fill the log, which is then written out as a part
    per day; the last 5 days stay in the log. Yields the server, a QuestDB
    REST client and the table's directory."""
    with tempfile.TemporaryDirectory(prefix="polaroid-month-") as tmp:
        server = Server(Path(tmp))
        try:
            rest = QuestDBClient(host="127.0.0.1", port=server.http_port)
            rest.exec("CREATE TABLE t (ts TIMESTAMP, sym SYMBOL, px DOUBLE) timestamp(ts) PARTITION BY DAY WAL")
            for first in range(0, DAYS, 5):
                send_frame(server, "t", rows[first * ROWS_PER_DAY:(first + 5) * ROWS_PER_DAY])
            table = Path(tmp) / "tables" / "default" / "t"
            assert sorted(p.name for p in table.iterdir() if p.is_dir()) == [day(start, n) for n in range(25)]
            yield server, rest, table
        finally:
            server.stop()


def answers(rest: QuestDBClient, query: str, want: pl.DataFrame) -> None:
    """The server's answer to `query` is `want`."""
    assert_frame_equal(frame(rest.exec(query)), want, check_dtypes=False)


def test_a_time_filter_reads_only_the_partitions_it_can_match():
    start = month_start()
    today = start + dt.timedelta(days=DAYS)
    rows = month_of_rows(start)
    with month_table(rows, start) as (server, rest, table):
        def read(query: str) -> pl.DataFrame:
            return frame(rest.exec(query))

        everything = read("SELECT * FROM t")
        assert_frame_equal(everything.sort("ts"), rows.with_columns(pl.col("sym").cast(pl.String)), check_dtypes=False)

        # The last rows (QuestDB's LIMIT -n), from the log and the parts.
        assert_frame_equal(read(f"SELECT * FROM t LIMIT -{5 * ROWS_PER_DAY + 3}"),
                           rows.tail(5 * ROWS_PER_DAY + 3).with_columns(pl.col("sym").cast(pl.String)), check_dtypes=False)

        # Day 0's part stays (the first part of a scan is where polars
        # reads the columns from), and so do days 10, 11 and 24 (the
        # newest written); the other written days go.
        for n in range(1, 24):
            if n not in (10, 11):
                shutil.rmtree(table / day(start, n))

        expect = functools.partial(answers, rest)

        sent = rows.with_columns(pl.col("sym").cast(pl.String))
        d10, d11 = start + dt.timedelta(days=10), start + dt.timedelta(days=11)
        iso = lambda at: at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731

        # QuestDB's interval literal: one day.
        expect(f"SELECT count() AS n, sum(px) AS px FROM t WHERE ts IN '{day(start, 10)}'",
               sent.filter(pl.col("ts").dt.date() == d10.date()).select(n=pl.len(), px=pl.col("px").sum()))
        # /exec's explain shows the one part the scan kept.
        plan = requests.get(f"{server.url}/exec", params={
            "query": f"SELECT count() FROM t WHERE ts IN '{day(start, 10)}'", "explain": "true"}).json()["explain"]["plan"]
        assert f"/{day(start, 10)}/part-" in plan and f"/{day(start, 0)}/" not in plan, plan
        # Comparisons, across two partitions, with another condition.
        lo, hi = d10 + dt.timedelta(hours=12), d11 + dt.timedelta(hours=6)
        expect(f"SELECT * FROM t WHERE ts >= '{iso(lo)}' AND ts < '{iso(hi)}' AND sym = 'NVDA' ORDER BY ts",
               sent.filter((pl.col("ts") >= lo) & (pl.col("ts") < hi) & (pl.col("sym") == "NVDA")))
        expect(f"SELECT * FROM t WHERE ts BETWEEN '{iso(lo)}' AND '{iso(hi)}' ORDER BY ts",
               sent.filter(pl.col("ts").is_between(lo, hi)))
        # SAMPLE BY over a filtered range.
        expect(f"SELECT ts, sym, last(px) AS px FROM t WHERE ts IN '{day(start, 11)}' SAMPLE BY 6h ORDER BY ts, sym",
               sent.filter(pl.col("ts").dt.date() == d11.date())
               .group_by(pl.col("ts").dt.truncate("6h"), "sym").agg(pl.col("px").last()).sort("ts", "sym"))
        # SAMPLE BY ... FROM ... TO: the range is a filter too.
        expect(f"SELECT ts, count() AS n FROM t SAMPLE BY 1d FROM '{day(start, 10)}' TO '{day(start, 12)}'",
               pl.DataFrame({"ts": [d10, d11], "n": [ROWS_PER_DAY, ROWS_PER_DAY]}))
        # LATEST ON within a day (QuestDB's advice for a fast one).
        expect(f"SELECT * FROM t WHERE ts IN '{day(start, 11)}' LATEST ON ts PARTITION BY sym ORDER BY sym",
               sent.filter(pl.col("ts").dt.date() == d11.date()).group_by("sym").agg(pl.all().sort_by("ts").last())
               .select("ts", "sym", "px").sort("sym"))
        # The days still in the log, and the newest written day, by a
        # filter relative to now().
        recent = today - dt.timedelta(days=6)
        expect("SELECT count() AS n, max(ts) AS last FROM t WHERE ts >= dateadd('d', -6, timestamp_floor('d', now()))",
               sent.filter(pl.col("ts") >= recent).select(n=pl.len(), last=pl.col("ts").max()))

        # QuestDB's last rows (LIMIT -n) come from the log (and each
        # part scan's own last n rows): the deleted days are not read.
        expect("SELECT * FROM t LIMIT -10", sent.tail(10))
        # The newest rows by time come from the log, then the newest
        # written day (the footers count their rows).
        newest = sent.sort("ts", descending=True)
        expect("SELECT * FROM t ORDER BY ts DESC LIMIT 10", newest.head(10))
        expect(f"SELECT ts, px FROM t ORDER BY ts DESC LIMIT {6 * ROWS_PER_DAY}",
               newest.head(6 * ROWS_PER_DAY).select("ts", "px"))
        plan = requests.get(f"{server.url}/exec", params={
            "query": f"SELECT * FROM t ORDER BY ts DESC LIMIT {6 * ROWS_PER_DAY}", "explain": "true"}).json()["explain"]["plan"]
        assert f"/{day(start, 24)}/part-" in plan and f"/{day(start, 0)}/" not in plan, plan
        # One row more needs day 23, which is gone.
        with pytest.raises(QuestDBAPIError):
            read(f"SELECT * FROM t ORDER BY ts DESC LIMIT {6 * ROWS_PER_DAY + 1}")

        # A query that needs a deleted day fails, clearly, and the server goes on.
        with pytest.raises(QuestDBAPIError) as failed:
            read(f"SELECT count() FROM t WHERE ts IN '{day(start, 3)}'")
        assert "No such file" in str(failed.value), failed.value
        assert read(f"SELECT count() AS n FROM t WHERE ts IN '{day(start, 11)}'")["n"].to_list() == [ROWS_PER_DAY]


def test_latest_on_and_the_newest_trades_read_back_only_as_far_as_needed():
    start = month_start()
    rows = month_of_rows(start)
    # ORCL trades once, on day 5; IBM and "BRK,B" once each, on day 24 (the
    # newest day written out). The other symbols trade every day, and in the log.
    sym = rows["sym"].to_list()
    sym[5 * ROWS_PER_DAY + 123], sym[24 * ROWS_PER_DAY + 4567], sym[24 * ROWS_PER_DAY + 7000] = "ORCL", "IBM", "BRK,B"
    rows = rows.with_columns(pl.Series("sym", sym))
    with month_table(rows, start) as (server, rest, table):
        expect = functools.partial(answers, rest)

        def latest(of: pl.DataFrame) -> pl.DataFrame:
            return of.group_by("sym").agg(pl.all().sort_by("ts").last()).select("ts", "sym", "px").sort("sym")

        sent = rows.with_columns(pl.col("sym").cast(pl.String))
        expect("SELECT * FROM t LATEST ON ts PARTITION BY sym ORDER BY sym", latest(sent))
        assert latest(sent)["sym"].to_list() == ["AAPL", "BRK,B", "IBM", "MSFT", "NVDA", "ORCL"]

        # Every written day but day 0 and day 24 goes.
        for n in range(1, 24):
            shutil.rmtree(table / day(start, n))
        # AAPL's latest row is in the log, IBM's on day 24: nothing
        # older is read.
        two = "SELECT * FROM t WHERE sym IN ('AAPL', 'IBM') LATEST ON ts PARTITION BY sym ORDER BY sym"
        expect(two, latest(sent.filter(pl.col("sym").is_in(["AAPL", "IBM"]))))
        plan = requests.get(f"{server.url}/exec", params={"query": two, "explain": "true"}).json()["explain"]["plan"]
        assert f"/{day(start, 24)}/part-" in plan and f"/{day(start, 0)}/part-" not in plan, plan
        expect("SELECT ts, px FROM t WHERE sym = 'NVDA' LATEST ON ts PARTITION BY sym",
               latest(sent.filter(pl.col("sym") == "NVDA")).select("ts", "px"))
        # Every symbol's latest row needs ORCL's, on day 5, which is gone:
        # the query reads back that far, fails clearly, and the server goes on.
        with pytest.raises(QuestDBAPIError) as failed:
            rest.exec("SELECT * FROM t LATEST ON ts PARTITION BY sym")
        assert "No such file" in str(failed.value), failed.value
        # The same in plain SQL: when each symbol last traded.
        expect("SELECT sym, max(ts) AS last FROM t WHERE sym IN ('AAPL', 'IBM') GROUP BY sym ORDER BY sym",
               latest(sent.filter(pl.col("sym").is_in(["AAPL", "IBM"]))).select("sym", last="ts"))
        with pytest.raises(QuestDBAPIError):
            rest.exec("SELECT sym, max(ts) FROM t GROUP BY sym")
        expect("SELECT sym, ts FROM t WHERE sym = 'IBM' LATEST ON ts PARTITION BY sym",
               latest(sent.filter(pl.col("sym") == "IBM")).select("sym", "ts"))
        # The newest trades of some symbols: IBM's one is on day 24, the
        # newest 20 of AAPL and NVDA in the log; ORCL's, on day 5, is gone.
        newest = sent.sort("ts", descending=True)
        expect("SELECT * FROM t WHERE sym = 'IBM' ORDER BY ts DESC LIMIT 1", newest.filter(pl.col("sym") == "IBM"))
        expect("SELECT ts, px FROM t WHERE sym IN ('AAPL', 'NVDA') ORDER BY ts DESC LIMIT 20",
               newest.filter(pl.col("sym").is_in(["AAPL", "NVDA"])).head(20).select("ts", "px"))
        with pytest.raises(QuestDBAPIError):
            rest.exec("SELECT * FROM t WHERE sym = 'ORCL' ORDER BY ts DESC LIMIT 1")
        # When the table, or a symbol, last traded: from the newest part that holds it.
        assert frame(rest.exec("SELECT max(ts) FROM t")).item() == sent["ts"].max()
        expect("SELECT max(ts) AS last FROM t WHERE sym IN ('IBM', 'BRK,B')",
               sent.filter(pl.col("sym").is_in(["IBM", "BRK,B"])).select(last=pl.col("ts").max()))
        with pytest.raises(QuestDBAPIError):
            rest.exec("SELECT max(ts) FROM t WHERE sym = 'ORCL'")
        # A symbol with a comma in it is one symbol.
        expect("SELECT * FROM t WHERE sym IN ('NVDA', 'BRK,B') LATEST ON ts PARTITION BY sym ORDER BY sym",
               latest(sent.filter(pl.col("sym").is_in(["NVDA", "BRK,B"]))))
        # A symbol never traded: no row, and nothing read (day 24 is not
        # needed either: it goes too).
        shutil.rmtree(table / day(start, 24))
        none = rest.exec("SELECT * FROM t WHERE sym = 'GOOG' LATEST ON ts PARTITION BY sym")
        assert none["dataset"] == [] and [c["name"] for c in none["columns"]] == ["ts", "sym", "px"], none
        assert rest.exec("SELECT max(ts) FROM t WHERE sym = 'GOOG'")["dataset"] == [[None]]
        assert rest.exec("SELECT ts, sym FROM t WHERE sym = 'GOOG' ORDER BY ts DESC LIMIT 5")["dataset"] == []


def month_of_big_trades(start: dt.datetime) -> pl.DataFrame:
    """A month of rows with three trades over 300: AAPL's on day 24 (the
    newest day written out), NVDA's on day 21, MSFT's on day 3. Every other
    price is under 200."""
    rows = month_of_rows(start)
    px = rows["px"].to_list()
    sym = rows["sym"].to_list()
    for n, at, price in [(24, 4566, 400.0), (21, 1235, 350.0), (3, 43, 320.0)]:
        i = n * ROWS_PER_DAY + at
        px[i] = price
        assert (sym[i], n) in {("AAPL", 24), ("NVDA", 21), ("MSFT", 3)}, (sym[i], n)
    return rows.with_columns(pl.Series("px", px))


def test_a_filter_on_another_column_reads_back_only_as_far_as_its_answer():
    start = month_start()
    rows = month_of_big_trades(start)
    with month_table(rows, start) as (server, rest, table):
        expect = functools.partial(answers, rest)

        sent = rows.with_columns(pl.col("sym").cast(pl.String))
        big = sent.filter(pl.col("px") > 300).sort("ts", descending=True)
        assert big["sym"].to_list() == ["AAPL", "NVDA", "MSFT"]

        def latest(of: pl.DataFrame) -> pl.DataFrame:
            return of.group_by("sym").agg(pl.all().sort_by("ts").last()).select("ts", "sym", "px").sort("sym")

        # Read whole, every answer is polars'.
        expect("SELECT * FROM t WHERE px > 300 ORDER BY ts DESC LIMIT 3", big)
        expect("SELECT * FROM t WHERE px > 300 LIMIT -3", big.reverse())
        expect("SELECT * FROM t WHERE px > 300 LATEST ON ts PARTITION BY sym ORDER BY sym", latest(big))
        expect("SELECT sym, max(ts) AS last FROM t WHERE px > 300 GROUP BY sym ORDER BY sym",
               latest(big).select("sym", last="ts"))
        # A window over every row beside the newest: every row is read.
        expect("SELECT ts, avg(px) OVER () AS mean FROM t ORDER BY ts DESC LIMIT 1",
               sent.sort("ts", descending=True).head(1).select("ts", mean=pl.lit(sent["px"].mean())))
        # A filter most rows pass: the newest rows and each symbol's latest
        # are in the log.
        expect("SELECT ts, sym FROM t WHERE px > 150 ORDER BY ts DESC LIMIT 7",
               sent.filter(pl.col("px") > 150).sort("ts", descending=True).head(7).select("ts", "sym"))
        expect("SELECT * FROM t WHERE px < 150 LATEST ON ts PARTITION BY sym ORDER BY sym",
               latest(sent.filter(pl.col("px") < 150)))

        # Days 1 to 17 go. The read back goes through the log, day 24, days
        # 22-23, then days 18-21, where NVDA's trade is.
        for n in range(1, 18):
            shutil.rmtree(table / day(start, n))
        expect("SELECT * FROM t WHERE px > 300 ORDER BY ts DESC LIMIT 2", big.head(2))
        # QuestDB's last rows, in the table's order: the log and day 24,
        # then day 23, then days 21 and 22.
        expect("SELECT * FROM t WHERE px > 300 LIMIT -2", big.head(2).reverse())
        expect("SELECT ts, px FROM t WHERE sym = 'NVDA' AND px < 150 LIMIT -4",
               sent.filter((pl.col("sym") == "NVDA") & (pl.col("px") < 150)).tail(4).select("ts", "px"))
        expect("SELECT ts, px FROM t WHERE px > 300 AND sym = 'NVDA' ORDER BY ts DESC LIMIT 1",
               big.filter(pl.col("sym") == "NVDA").select("ts", "px"))
        expect("SELECT max(ts) AS last FROM t WHERE px > 300", big.select(last=pl.col("ts").max()))
        expect("SELECT * FROM t WHERE px > 300 AND sym IN ('AAPL', 'NVDA') LATEST ON ts PARTITION BY sym ORDER BY sym",
               latest(big.filter(pl.col("sym").is_in(["AAPL", "NVDA"]))))
        expect("SELECT sym, max(ts) AS last FROM t WHERE sym IN ('AAPL', 'NVDA') AND px > 300 GROUP BY sym ORDER BY sym",
               latest(big.filter(pl.col("sym") != "MSFT")).select("sym", last="ts"))
        expect("SELECT * FROM t WHERE px < 150 LATEST ON ts PARTITION BY sym ORDER BY sym",
               latest(sent.filter(pl.col("px") < 150)))
        # Answers that need MSFT's trade on day 3, which is gone: the read
        # back goes that far, fails clearly, and the server goes on.
        for query in ["SELECT * FROM t WHERE px > 300 ORDER BY ts DESC LIMIT 3",
                      "SELECT * FROM t WHERE px > 300 LIMIT -3",
                      "SELECT * FROM t WHERE px > 300 LATEST ON ts PARTITION BY sym",
                      "SELECT sym, max(ts) FROM t WHERE px > 300 GROUP BY sym",
                      "SELECT max(ts) FROM t WHERE px > 300 AND sym = 'MSFT'"]:
            with pytest.raises(QuestDBAPIError) as failed:
                rest.exec(query)
            assert "No such file" in str(failed.value), (query, failed.value)
        # What is computed over every row that passes is not read back: an
        # average beside the newest rows needs them all.
        with pytest.raises(QuestDBAPIError):
            rest.exec("SELECT ts, avg(px) OVER () AS mean FROM t WHERE px > 300 ORDER BY ts DESC LIMIT 1")
        expect("SELECT * FROM t WHERE px > 300 ORDER BY ts DESC LIMIT 1", big.head(1))


def test_the_oldest_rows_and_the_span_read_only_the_oldest_parts():
    start = month_start()
    rows = month_of_big_trades(start)
    with month_table(rows, start) as (server, rest, table):
        expect = functools.partial(answers, rest)

        sent = rows.with_columns(pl.col("sym").cast(pl.String))
        oldest = sent.sort("ts")
        big = oldest.filter(pl.col("px") > 300)
        span = sent.select(first=pl.col("ts").min(), last=pl.col("ts").max())
        queries = [
            ("SELECT * FROM t ORDER BY ts LIMIT 10", oldest.head(10)),
            ("SELECT ts, px FROM t WHERE sym = 'NVDA' ORDER BY ts ASC LIMIT 5",
             oldest.filter(pl.col("sym") == "NVDA").head(5).select("ts", "px")),
            ("SELECT min(ts) AS first FROM t", span.select("first")),
            ("SELECT min(ts) AS first, max(ts) AS last FROM t", span),
            ("SELECT max(ts) AS last, min(ts) AS first FROM t WHERE sym IN ('MSFT', 'NVDA')",
             sent.filter(pl.col("sym") != "AAPL").select(last=pl.col("ts").max(), first=pl.col("ts").min())),
            ("SELECT * FROM t WHERE px > 300 ORDER BY ts LIMIT 1", big.head(1)),
            ("SELECT min(ts) AS first FROM t WHERE px > 300 AND sym = 'MSFT'", big.head(1).select(first="ts")),
        ]
        for query, want in queries:
            expect(query, want)
        expect("SELECT * FROM t WHERE px > 300 ORDER BY ts LIMIT 2", big.head(2))

        # Every written day from day 4 goes; the log (days 25 to 29) stays.
        # The oldest rows are on day 0, MSFT's big trade on day 3 (the read
        # goes through day 0, day 1, then days 2 and 3), the newest row in
        # the log.
        for n in range(4, 25):
            shutil.rmtree(table / day(start, n))
        for query, want in queries:
            expect(query, want)
        # Answers beyond day 3 fail clearly, and the server goes on.
        for query in [f"SELECT ts FROM t ORDER BY ts LIMIT {4 * ROWS_PER_DAY + 1}",
                      "SELECT * FROM t WHERE px > 300 ORDER BY ts LIMIT 2",
                      "SELECT min(ts) FROM t WHERE px > 340"]:
            with pytest.raises(QuestDBAPIError) as failed:
                rest.exec(query)
            assert "No such file" in str(failed.value), (query, failed.value)
        expect("SELECT min(ts) AS first FROM t", span.select("first"))


def test_a_polars_user_s_newest_rows_read_back_through_every_door():
    """The newest (oldest) rows as a polars user asks for them, through the
    Python client's operations (gRPC), its SQL (polars SQL) and Arrow Flight
    SQL: python polars over the rows sent is the oracle. With days 1 to 17
    deleted the answers in the newest days and day 0 still come: the table
    is read back from its end, not read whole."""
    import polaroid as pr
    from pyarrow import flight
    start = month_start()
    rows = month_of_big_trades(start)
    with month_table(rows, start) as (server, _, table), pr.connect(f"127.0.0.1:{server.grpc_port}") as client:
        sent = rows.with_columns(pl.col("sym").cast(pl.String))
        big = sent.filter(pl.col("px") > 300).sort("ts", descending=True)
        by_flight = flight.connect(f"grpc://127.0.0.1:{server.grpc_port}")

        def flight_sql(query: str) -> pl.DataFrame:
            info = by_flight.get_flight_info(flight.FlightDescriptor.for_command(query))
            return pl.from_arrow(by_flight.do_get(info.endpoints[0].ticket).read_all())

        def text(df: pl.DataFrame) -> pl.DataFrame:
            return df.with_columns(pl.col("sym").cast(pl.String)) if "sym" in df.columns else df

        def t() -> pr.RemoteFrame:
            return client.table("t")

        answered = [
            ("the first 2 fetched of the newest over 300",
             lambda: t().filter(pr.col("px") > 300).sort("ts", descending=True).collect(limit=2), big.head(2)),
            ("the newest 2 over 300, head", lambda: t().filter(pr.col("px") > 300).sort("ts", descending=True).head(2).collect(),
             big.head(2)),
            ("NVDA's newest over 300", lambda: t().filter((pr.col("sym") == "NVDA") & (pr.col("px") > 300))
             .sort("ts", descending=True).head(1).select("ts", "px").collect(), big.filter(pl.col("sym") == "NVDA").select("ts", "px")),
            ("sorted, the last 3", lambda: t().sort("ts").tail(3).collect(), sent.sort("ts").tail(3)),
            ("the oldest 4", lambda: t().sort("ts").head(4).collect(), sent.sort("ts").head(4)),
            ("the latest instant over 300", lambda: t().filter(pr.col("px") > 300).select(pr.col("ts").max()).collect(),
             big.select(pl.col("ts").max())),
            ("the first instant", lambda: t().select(pr.col("ts").min().alias("first")).collect(),
             sent.select(first=pl.col("ts").min())),
            ("the first 5 fetched of the newest first", lambda: t().sort("ts", descending=True).collect(limit=5),
             sent.sort("ts", descending=True).head(5)),
            ("SQL", lambda: client.sql("SELECT ts, px FROM t WHERE px > 300 ORDER BY ts DESC LIMIT 2", t=t()).collect(),
             big.head(2).select("ts", "px")),
            ("SQL naming the table", lambda: client.sql("SELECT ts, px FROM t WHERE px > 300 ORDER BY ts DESC LIMIT 2").collect(),
             big.head(2).select("ts", "px")),
            ("Flight SQL", lambda: flight_sql("SELECT * FROM t WHERE px > 300 ORDER BY ts DESC LIMIT 2"), big.head(2)),
            ("Flight SQL, max(ts)", lambda: flight_sql("SELECT max(ts) AS last FROM t WHERE px > 300"),
             big.select(last=pl.col("ts").max())),
        ]
        # MSFT's trade is on day 3.
        whole_needed = [
            (lambda: t().filter(pr.col("px") > 300).sort("ts", descending=True).head(3).collect(), big),
            (lambda: client.sql("SELECT * FROM t WHERE px > 300 ORDER BY ts DESC LIMIT 3", t=t()).collect(), big),
            (lambda: flight_sql("SELECT * FROM t WHERE px > 300 ORDER BY ts DESC LIMIT 3"), big),
            (lambda: t().filter(pr.col("px") > 300).sort("ts").head(1).collect(), big.tail(1)),
        ]
        for deleted in [False, True]:
            if deleted:
                for n in range(1, 18):
                    shutil.rmtree(table / day(start, n))
            for name, ask, want in answered:
                try:
                    assert_frame_equal(text(ask()), want, check_dtypes=False)
                except Exception as failed:
                    raise AssertionError(f"{name}, days deleted: {deleted}") from failed
            for ask, want in whole_needed:
                if deleted:
                    with pytest.raises(Exception, match="No such file"):
                        ask()
                else:
                    assert_frame_equal(text(ask()), want, check_dtypes=False)
