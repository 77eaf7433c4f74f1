"""The PostgreSQL door (QuestDB's port 8812) with the drivers users bring:
psql, psycopg 3 (text and binary results, server-side binding) and asyncpg
(binary, parameters typed by Describe). Results against python-polars."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import urllib.parse
import urllib.request
from decimal import Decimal

import asyncpg
import polars as pl
import psycopg
import pytest
from polars.testing import assert_frame_equal
from psycopg import errors

from conftest import EVERY_TYPE_OIDS, Server, every_type, every_type_rows, psql, trades

TRADES = "read_parquet('trades.parquet')"
UTC = dt.timezone.utc


def test_psql_runs_questdb_sql(server):
    out = psql(server, f"SELECT sym, count(*) n, sum(qty) q FROM {TRADES} GROUP BY sym ORDER BY sym").stdout
    want = trades().group_by("sym").agg(pl.len(), pl.col("qty").sum()).sort("sym")
    assert out.splitlines() == [f"{s}|{n}|{q}" for s, n, q in want.rows()]
    # Several statements in one simple query run in turn.
    out = psql(server, "CREATE TABLE psql_t (sym SYMBOL, qty LONG, ts TIMESTAMP) timestamp(ts) PARTITION BY DAY; "
                       "INSERT INTO psql_t VALUES ('A', 1, '2024-01-01T00:00:00Z'), ('A', 2, '2024-01-01T00:00:30Z'), "
                       "('B', 5, '2024-01-01T00:01:10Z'); "
                       "SELECT ts, sym, sum(qty) FROM psql_t SAMPLE BY 1m ORDER BY ts, sym").stdout
    # Hand-worked: A's two rows fall in the first minute, B's in the second.
    assert out.splitlines() == ["2024-01-01 00:00:00|A|3", "2024-01-01 00:01:00|B|5"]
    failed = psql(server, "SELECT nope FROM psql_t", check=False)
    assert failed.returncode != 0 and 'unable to find column "nope"' in failed.stderr


@pytest.mark.parametrize("binary", [False, True])
def test_every_type_arrives_as_the_value_polars_holds(server, binary):
    want = every_type()
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        cur = conn.cursor(binary=binary)
        cur.execute("SELECT * FROM read_parquet('types.parquet')")
        got = cur.fetchall()
        oids = [d.type_code for d in cur.description]
    assert [d for d in want.columns] == [d.name for d in cur.description]
    assert oids == EVERY_TYPE_OIDS
    assert [list(row) for row in got] == every_type_rows()
    # Zoned timestamps arrive as aware datetimes of the same instants, in UTC.
    assert got[0][18] == dt.datetime(2024, 3, 8, 19, 30, 1, 250000, tzinfo=UTC)
    assert got[0][18].utcoffset() == dt.timedelta(0)
    assert isinstance(got[0][8], Decimal) and got[0][8] == 2**64 - 1


def test_polars_read_database_over_psycopg(server):
    query = f"SELECT sym, count(*) AS n, avg(px) AS px FROM {TRADES} WHERE qty > 100 GROUP BY sym ORDER BY sym"
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        got = pl.read_database(query, conn)
    want = (trades().filter(pl.col("qty") > 100).group_by("sym").agg(n=pl.len().cast(pl.Int64), px=pl.col("px").mean())
            .sort("sym"))
    # Means summed in another order may differ in the last bit.
    assert_frame_equal(got, want, check_exact=False)


def test_column_names_are_read_in_any_case_as_questdb_reads_them(server):
    """QuestDB's names are case-insensitive at its PostgreSQL port too: `SELECT SYM ... WHERE Px > 150` of `sym`
    and `px` was refused ("unable to find column"). A bare column is described as written."""
    query = f"SELECT SYM, count(*), sum(QTY) FROM {TRADES} WHERE Px > 150 GROUP BY Sym ORDER BY sym"
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        cur = conn.execute(query)
        names, got = [d.name for d in cur.description], cur.fetchall()
    want = trades().filter(pl.col("px") > 150).group_by("sym").agg(pl.len(), pl.col("qty").sum()).sort("sym")
    assert names == ["SYM", "count", "sum"]
    assert [list(r) for r in got] == [list(r) for r in want.rows()]


def test_questdb_s_declare_runs_as_a_query(server):
    """`DECLARE @x := ...` is QuestDB's variables, not a cursor: it was refused ("not supported: bind a
    parameter"). psycopg sends it through the extended protocol; psql through the simple one."""
    query = f"DECLARE @lo := 150, @hi := @lo + 50 SELECT count(*) FROM {TRADES} WHERE px >= @lo AND px < @hi"
    want = trades().filter((pl.col("px") >= 150) & (pl.col("px") < 200)).height
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        assert conn.execute(query).fetchone() == (want,)
    assert psql(server, query).stdout.strip() == str(want)


def test_questdb_s_pivot_groups_by_its_group_by_only(server):
    """QuestDB's PIVOT at its PostgreSQL port: a column per symbol and aggregate, a row per GROUP BY key
    (polars-sql's DuckDB PIVOT grouped by every other column). Against python polars."""
    query = (f"SELECT * FROM {TRADES} PIVOT (sum(qty), max(px) FOR sym IN ('AAPL', 'NVDA') "
             "GROUP BY hour(ts) ORDER BY 1)")
    t = trades().filter(pl.col("sym").is_in(["AAPL", "NVDA"]))
    want = t.group_by(pl.col("ts").dt.hour().alias("hour")).agg(
        *[agg(pl.col(c).filter(pl.col("sym") == s)).alias(f"{s}_{n}")
          for s in ("AAPL", "NVDA") for c, agg, n in (("qty", pl.Expr.sum, "sum"), ("px", pl.Expr.max, "max"))]
    ).sort("hour")
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        cur = conn.execute(query)
        got = cur.fetchall()
        assert [d.name for d in cur.description][1:] == ["AAPL_sum", "AAPL_max", "NVDA_sum", "NVDA_max"]
    assert len(got) == want.height > 1
    assert [list(r) for r in got] == [list(r) for r in want.rows()]


def test_results_stream_in_full(server):
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        rows = sum(1 for _ in conn.cursor().stream(f"SELECT * FROM {TRADES}"))
        total = conn.execute("SELECT sum(x), count(*) FROM long_sequence(300000)").fetchone()
    assert rows == 5_000
    assert total == (300_000 * 300_001 // 2, 300_000)


def test_bound_parameters_filter_as_polars_does(server):
    t = trades()
    cases = [
        ("qty > %s", (250,), pl.col("qty") > 250),
        ("sym = %s AND px < %s", ("MSFT", 130.5), (pl.col("sym") == "MSFT") & (pl.col("px") < 130.5)),
        ("ts >= %s", (dt.datetime(2026, 11, 23, 20, 0),), pl.col("ts") >= dt.datetime(2026, 11, 23, 20, 0)),
        # An aware datetime is its instant: 21:00 in UTC+1 is 20:00 in the table's UTC.
        ("ts >= %s", (dt.datetime(2026, 11, 23, 21, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))),),
         pl.col("ts") >= dt.datetime(2026, 11, 23, 20, 0)),
        ("px > %s", (Decimal("150.25"),), pl.col("px") > 150.25),
        ("qty BETWEEN %(lo)s AND %(hi)s", {"lo": 10, "hi": 20}, pl.col("qty").is_between(10, 20)),
    ]
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        for where, params, predicate in cases:
            got = conn.execute(f"SELECT count(*), sum(qty) FROM {TRADES} WHERE {where}", params).fetchone()
            want = t.filter(predicate)
            assert got == (want.height, want["qty"].sum()), where
        # A value is a value: quotes in it do not end the literal.
        sneaky = "x'; DROP TABLE psql_t; --"
        assert conn.execute("SELECT %s AS s, %s AS n, 10 - %s AS d", (sneaky, None, -5)).fetchone() == (sneaky, None, 15)
        assert conn.execute("SELECT %s AS t, %s AS d, %s AS i", (dt.time(9, 30, 1), dt.date(2024, 2, 29),
                                                                   dt.timedelta(minutes=90))).fetchone() == \
            (dt.time(9, 30, 1), dt.date(2024, 2, 29), dt.timedelta(minutes=90))


def test_timestamps_sent_as_text_are_the_instants_they_name(server):
    # psycopg sends a str untyped, as text: the query reads it as QuestDB
    # reads a timestamp literal, its offset or Z kept.
    t, zoned = trades(), every_type()
    texts = {
        "2026-11-23T20:30:00Z": dt.datetime(2026, 11, 23, 20, 30),
        "2026-11-23 20:30:00": dt.datetime(2026, 11, 23, 20, 30),
        "2026-11-23": dt.datetime(2026, 11, 23),
        "2026-11-23T21:30:00+01:00": dt.datetime(2026, 11, 23, 20, 30),
        "2026-11-23 15:00-05": dt.datetime(2026, 11, 23, 20, 0),
        "2024-03-08T14:30:00-05:00": dt.datetime(2024, 3, 8, 19, 30),
    }
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        for text, instant in texts.items():
            got = conn.execute(f"SELECT count(*) FROM {TRADES} WHERE ts >= %s", (text,)).fetchone()[0]
            assert got == t.filter(pl.col("ts") >= instant).height, text
            got = conn.execute("SELECT count(*) FROM read_parquet('types.parquet') WHERE ts_utc >= %s", (text,)).fetchone()[0]
            assert got == zoned.filter(pl.col("ts_utc") >= instant.replace(tzinfo=UTC)).height, text


def test_tables_written_here_are_read_by_every_door(server):
    rows = [("AAPL", 10.5, 100, dt.datetime(2024, 1, 1, 9, 30, s)) for s in range(0, 50, 10)]
    rows += [("MSFT", 20.25, None, dt.datetime(2024, 1, 1, 9, 31, 5, tzinfo=UTC))]
    with psycopg.connect(server.dsn()) as conn:  # a transaction, as psycopg opens by default
        conn.execute("CREATE TABLE pg_fills (sym SYMBOL, px DOUBLE, qty LONG, ts TIMESTAMP) timestamp(ts) PARTITION BY DAY")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO pg_fills VALUES (%s, %s, %s, %s)", rows)
        conn.commit()
        got = conn.execute("SELECT * FROM pg_fills ORDER BY ts").fetchall()
        latest = conn.execute("SELECT sym, px, ts FROM pg_fills LATEST ON ts PARTITION BY sym ORDER BY sym").fetchall()
    want = [(s, p, q, t.replace(tzinfo=None)) for s, p, q, t in rows]
    assert got == want
    assert latest == [("AAPL", 10.5, dt.datetime(2024, 1, 1, 9, 30, 40)), ("MSFT", 20.25, dt.datetime(2024, 1, 1, 9, 31, 5))]
    url = f"http://127.0.0.1:{server.http_port}/exec?" + urllib.parse.urlencode({"query": "SELECT count(), sum(qty) FROM pg_fills"})
    with urllib.request.urlopen(url) as reply:
        assert json.load(reply)["dataset"] == [[6, 500]]


def test_a_prepared_statement_reads_the_table_as_it_is_when_executed(server):
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE pg_growing (n LONG, ts TIMESTAMP) timestamp(ts)")
        counts = []
        for i in range(3):
            counts.append(conn.execute("SELECT count(*) FROM pg_growing WHERE n >= %s", (0,), prepare=True).fetchone()[0])
            conn.execute("INSERT INTO pg_growing VALUES (%s, %s)", (i, dt.datetime(2024, 1, 1, 0, 0, i)))
    assert counts == [0, 1, 2]


def test_session_statements_drivers_send(server):
    with psycopg.connect(server.dsn()) as conn:
        conn.execute("SET application_name = 'probe'")
        assert conn.execute("SHOW TimeZone").fetchone() == ("UTC",)
        assert conn.execute("SELECT version()").fetchone()[0].startswith("PostgreSQL 15.0 (Polaroid")
        assert conn.info.server_version == 150000
        conn.execute("CREATE TABLE pg_tx (n LONG)")
        conn.execute("INSERT INTO pg_tx VALUES (1)")
        # No transactions: a change is durable when its statement answers,
        # so ROLLBACK undoes nothing (as on QuestDB's own port).
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM pg_tx").fetchone() == (1,)


# A query that would run for hours: a cross join of 10^10 rows.
ENDLESS = "SELECT sum(a.x * b.x) FROM long_sequence(100000) a CROSS JOIN long_sequence(100000) b"


def test_a_cancel_request_stops_the_running_statement(server):
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        # A safety net: were the cancel lost, the statement would time out
        # with another message rather than hang the suite.
        conn.execute("SET statement_timeout = '120s'")
        threading.Timer(0.5, conn.cancel).start()
        with pytest.raises(errors.QueryCanceled, match="user request"):
            conn.execute(ENDLESS)
        assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize("reader", ["rows", "copy"])
def test_a_cancel_request_stops_rows_already_streaming(server, reader):
    # 20M rows take the debug server tens of seconds to send. psycopg's
    # stream() reads rows one by one (the extended protocol, which streams);
    # copy() reads COPY data. The cancel comes after 5,000, and is
    # PostgreSQL's error in place of the rest.
    query = "SELECT x FROM long_sequence(20000000)"

    def rows(conn: psycopg.Connection):
        if reader == "rows":
            yield from conn.cursor().stream(query)
        else:
            with conn.cursor().copy(f"COPY ({query}) TO STDOUT") as copy:
                yield from copy

    read = 0
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("SET statement_timeout = '120s'")
        with pytest.raises(errors.QueryCanceled, match="user request"):
            for _ in rows(conn):
                read += 1
                if read == 5_000:
                    conn.cancel()
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert 5_000 <= read < 20_000_000


def test_statement_timeout_is_honoured(server):
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)
        conn.execute("SET statement_timeout TO 300")
        assert conn.execute("SHOW statement_timeout").fetchone() == ("300ms",)
        with pytest.raises(errors.QueryCanceled, match="statement timeout"):
            conn.execute(ENDLESS)
        conn.execute("RESET statement_timeout")  # lifts it
        assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)
        with pytest.raises(errors.InvalidParameterValue, match="statement_timeout"):
            conn.execute("SET statement_timeout = 'soon'")


def test_errors_are_precise_and_the_connection_lives_on(server):
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        cases = [
            ("SELECT nope FROM read_parquet('trades.parquet')", errors.UndefinedColumn, 'unable to find column "nope"'),
            ("SELECT * FROM read_parquet('/etc/passwd')", errors.InsufficientPrivilege, "data directory"),
            ("SELECT * FROM read_parquet('../x.parquet')", errors.InsufficientPrivilege, "data directory"),
            ("UPDATE pg_fills SET px = 1", errors.FeatureNotSupported, "UPDATE is not supported"),
            ("SHOW work_mem", errors.UndefinedObject, "work_mem"),
            ("SELECT [[1, 2], [3]] AS l", errors.SyntaxErrorOrAccessRuleViolation, "does not send"),
            ("SELECT $1", errors.SyntaxErrorOrAccessRuleViolation, "none was bound"),
        ]
        for sql, kind, message in cases:
            with pytest.raises(kind, match=message.replace("[", r"\[")):
                conn.execute(sql)
            assert conn.execute("SELECT 1").fetchone() == (1,)
        with pytest.raises(errors.FeatureNotSupported, match="bytea"):
            conn.execute("SELECT %s", (b"bytes",))
        with pytest.raises(psycopg.ProgrammingError):
            conn.execute("SELECT %s, %s", (1,))
    assert server.proc.poll() is None
    # Each statement is counted by what it was and its SQLSTATE.
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/metrics") as reply:
        metrics = reply.read().decode()
    assert 'door="pgwire",route="query",code="42703"' in metrics, metrics
    assert 'door="pgwire",route="change",code="0A000"' in metrics


def test_asyncpg_binary_and_typed_parameters(server):
    t = trades()

    async def run():
        conn = await asyncpg.connect(host="127.0.0.1", port=server.pg_port, user="admin", database="qdb")
        try:
            by_sym = await conn.fetch(f"SELECT sym, count(*) n, max(ts) last FROM {TRADES} GROUP BY sym ORDER BY sym")
            # A cast types the parameter, so asyncpg sends an integer and a timestamp.
            counted = await conn.fetchval(f"SELECT count(*) FROM {TRADES} WHERE qty > $1::bigint AND ts < $2::timestamp",
                                          250, dt.datetime(2026, 11, 23, 20, 0))
            untyped = await conn.fetchval(f"SELECT count(*) FROM {TRADES} WHERE sym = $1", "NVDA")
            # Untyped, a parameter takes the type of the column it meets.
            inferred = await conn.fetchval(f"SELECT count(*) FROM {TRADES} t WHERE t.qty BETWEEN $1 AND $2 AND $3 > px",
                                           10, 200, 150.5)
            await conn.execute("CREATE TABLE apg (sym SYMBOL, px DOUBLE, qty LONG, ts TIMESTAMP) timestamp(ts)")
            rows = [("A", 1.5, 10, dt.datetime(2024, 1, 1)), ("B", 2.25, None, dt.datetime(2024, 1, 1, 0, 0, 1))]
            await conn.executemany("INSERT INTO apg VALUES ($1, $2, $3, $4)", rows)
            stored = [tuple(r) for r in await conn.fetch("SELECT * FROM apg ORDER BY ts")]
            # An aware datetime typed as PostgreSQL's drivers type it (patch 0105).
            zoned = await conn.fetchval(f"SELECT count(*) FROM {TRADES} WHERE ts >= $1::timestamptz",
                                        dt.datetime(2026, 11, 23, 21, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))))
            statement = await conn.prepare(f"SELECT count(*) FROM {TRADES} WHERE qty < $1::int")
            prepared = [await statement.fetchval(n) for n in (10, 100)]
            return [tuple(r) for r in by_sym], counted, untyped, zoned, prepared, inferred, rows, stored
        finally:
            await conn.close()

    by_sym, counted, untyped, zoned, prepared, inferred, rows, stored = asyncio.run(run())
    want = t.group_by("sym").agg(pl.len(), pl.col("ts").max()).sort("sym")
    assert by_sym == want.rows()
    assert counted == t.filter((pl.col("qty") > 250) & (pl.col("ts") < dt.datetime(2026, 11, 23, 20, 0))).height
    assert untyped == t.filter(pl.col("sym") == "NVDA").height
    assert inferred == t.filter(pl.col("qty").is_between(10, 200) & (pl.col("px") < 150.5)).height
    assert stored == rows
    assert zoned == t.filter(pl.col("ts") >= dt.datetime(2026, 11, 23, 20, 0)).height
    assert prepared == [t.filter(pl.col("qty") < n).height for n in (10, 100)]


def test_the_token_is_the_password_and_tenants_stay_apart(data_dir):
    server = Server(data_dir, "--auth-token", "alpha", "--auth-token", "beta")
    try:
        with pytest.raises(psycopg.OperationalError, match="(?i)password authentication failed"):
            psycopg.connect(server.dsn("wrong"))
        with psycopg.connect(server.dsn("alpha"), autocommit=True) as a, psycopg.connect(server.dsn("beta"), autocommit=True) as b:
            a.execute("CREATE TABLE mine (n LONG)")
            a.execute("INSERT INTO mine VALUES (7)")
            assert a.execute("SELECT n FROM mine").fetchall() == [(7,)]
            with pytest.raises(psycopg.Error, match="mine"):
                b.execute("SELECT n FROM mine")
            assert b.execute(f"SELECT count(*) FROM {TRADES}").fetchone() == (5_000,)
    finally:
        server.stop()


def test_a_where_on_any_column_reads_back_with_bound_parameters(server):
    """The newest, the last, the oldest and the latest rows that pass a
    WHERE with a bound parameter (read back from the table's end), through
    psycopg's server-side binding (text and binary, prepared) and asyncpg's
    typed Describe: python polars' answers over the rows inserted."""
    rows = pl.DataFrame({
        "ts": [dt.datetime(2024, 1, 1 + i % 5, 0, 0, i) for i in range(20)],
        "sym": [["A", "B"][i % 2] for i in range(20)],
        "px": [float(i) for i in range(20)],
    })
    queries = [
        ("SELECT * FROM read_back WHERE px > $1 ORDER BY ts DESC LIMIT 2",
         rows.filter(pl.col("px") > 10).sort("ts", descending=True).head(2)),
        # In the table's order: the log keeps the order rows came in.
        ("SELECT * FROM read_back WHERE px > $1 LIMIT -2", rows.filter(pl.col("px") > 10).tail(2)),
        ("SELECT * FROM read_back WHERE px > $1 ORDER BY ts LIMIT 3", rows.filter(pl.col("px") > 10).sort("ts").head(3)),
        ("SELECT * FROM read_back WHERE px > $1 LATEST ON ts PARTITION BY sym",
         rows.filter(pl.col("px") > 10).group_by("sym").agg(pl.all().sort_by("ts").last()).sort("ts").select("ts", "sym", "px")),
        ("SELECT min(ts) AS first, max(ts) AS last FROM read_back WHERE px > $1",
         rows.filter(pl.col("px") > 10).select(first=pl.col("ts").min(), last=pl.col("ts").max())),
    ]
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE read_back (ts TIMESTAMP, sym SYMBOL, px DOUBLE) timestamp(ts) PARTITION BY DAY WAL")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO read_back VALUES (%s, %s, %s)", rows.rows())
        for query, want in queries:
            for binary in (False, True):
                cur = conn.cursor(binary=binary)
                got = cur.execute(query.replace("$1", "%s"), (10.0,), prepare=True).fetchall()
                assert got == want.rows(), (query, binary, got)

    async def with_asyncpg():
        conn = await asyncpg.connect(host="127.0.0.1", port=server.pg_port, user="admin", database="qdb")
        try:
            return [[tuple(r) for r in await conn.fetch(query, 10.0)] for query, _ in queries]
        finally:
            await conn.close()

    for (query, want), got in zip(queries, asyncio.run(with_asyncpg())):
        assert got == want.rows(), (query, got)
