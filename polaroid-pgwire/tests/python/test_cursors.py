"""Cursors on the PostgreSQL door, as the clients that read a large result
in parts use them: psycopg's named cursors (DECLARE, then FETCH FORWARD n),
SQLAlchemy's stream_results behind polars' read_database(iter_batches=True)
and pandas' chunksize, psql's FETCH_COUNT, and asyncpg's cursors (the
protocol's row-limited Execute). Rows against python-polars on the same
file; errors by their SQLSTATE classes."""

from __future__ import annotations

import asyncio
import urllib.request

import asyncpg
import pandas as pd
import polars as pl
import psycopg
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal
from psycopg import errors

from conftest import Server, every_type_rows, psql, trades

QUERY = "SELECT ts, sym, px, qty FROM read_parquet('trades.parquet') WHERE px > {} ORDER BY ts"


def want(px: float = 150) -> pl.DataFrame:
    return trades().filter(pl.col("px") > px).sort("ts")


def test_psycopg_named_cursor_reads_in_parts_across_the_query_s_batches(server):
    rows = want().rows()
    with psycopg.connect(server.dsn()) as conn:
        with conn.cursor(name="parts") as cur:
            cur.itersize = 333  # each iteration step is FETCH FORWARD 333
            cur.execute(QUERY.format("%s"), (150,))
            assert [d.name for d in cur.description] == ["ts", "sym", "px", "qty"]
            got = cur.fetchmany(100)
            got.append(cur.fetchone())
            cur.scroll(7)  # MOVE 7: passed over, not sent
            got += [None] * 7
            got += cur.fetchmany(1_000)
            got += list(cur)
        assert len(got) == len(rows)
        assert [g for g, w in zip(got, rows) if g is not None] == [w for g, w in zip(got, rows) if g is not None]
        assert got[101:108] == [None] * 7
        conn.commit()


def test_a_binary_named_cursor_holds_every_value(server):
    with psycopg.connect(server.dsn()) as conn:
        with conn.cursor(name="every", binary=True) as cur:
            cur.execute("SELECT * FROM read_parquet('types.parquet')")
            got = [list(row) for row in cur.fetchall()]
        conn.commit()
    assert got == every_type_rows()


def test_cursors_live_as_postgresql_s_do(server):
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        # Outside a transaction block, only a cursor WITH HOLD may live.
        with pytest.raises(errors.NoActiveSqlTransaction, match="transaction blocks"):
            conn.execute("DECLARE c CURSOR FOR SELECT 1")
        with conn.cursor(name="held", withhold=True) as cur:
            cur.execute(QUERY.format(150))
            first = cur.fetchmany(10)
            # Other statements run between FETCHes on the same connection.
            assert conn.execute("SELECT count(*) FROM read_parquet('trades.parquet')").fetchone() == (5_000,)
            listed = conn.execute("SELECT name, is_holdable, is_binary, is_scrollable, statement FROM pg_cursors").fetchall()
            assert listed == [("held", True, False, False, 'DECLARE "held" CURSOR WITH HOLD FOR ' + QUERY.format(150))]
            rest = cur.fetchall()
        assert first + rest == want().rows()
        assert conn.execute("SELECT count(*) FROM pg_cursors").fetchone() == (0,)

        # BEGIN ... COMMIT closes the block's cursors without HOLD; a
        # ROLLBACK closes one WITH HOLD declared in it too; DISCARD ALL
        # closes every one.
        conn.execute("BEGIN")
        conn.execute("DECLARE a CURSOR FOR SELECT x FROM long_sequence(10)")
        conn.execute("DECLARE b CURSOR WITH HOLD FOR SELECT x FROM long_sequence(10)")
        assert conn.execute("FETCH 2 FROM b").fetchall() == [(1,), (2,)]
        conn.execute("COMMIT")
        assert conn.execute("SELECT name FROM pg_cursors").fetchall() == [("b",)]
        conn.execute("BEGIN")
        conn.execute("DECLARE d CURSOR WITH HOLD FOR SELECT x FROM long_sequence(10)")
        conn.execute("ROLLBACK")
        assert conn.execute("FETCH 2 FROM b").fetchall() == [(3,), (4,)]
        with pytest.raises(errors.InvalidCursorName, match='cursor "d" does not exist'):
            conn.execute("FETCH 1 FROM d")
        conn.execute("DISCARD ALL")
        with pytest.raises(errors.InvalidCursorName, match='cursor "b" does not exist'):
            conn.execute("FETCH 1 FROM b")


def test_fetch_and_move_directions_and_their_tags(server):
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("DECLARE c CURSOR WITH HOLD FOR SELECT x FROM long_sequence(20)")
        cur.execute("FETCH c")
        assert (cur.fetchall(), cur.statusmessage) == ([(1,)], "FETCH 1")
        cur.execute("FETCH NEXT FROM c")
        assert cur.fetchall() == [(2,)]
        cur.execute("MOVE FORWARD 3 IN c")
        assert cur.statusmessage == "MOVE 3"
        cur.execute("FETCH ABSOLUTE 8 FROM c")  # rows 6 and 7 passed over
        assert cur.fetchall() == [(8,)]
        cur.execute("FETCH RELATIVE 2 FROM c")
        assert cur.fetchall() == [(10,)]
        cur.execute("FETCH FORWARD 4 FROM c")
        assert (cur.fetchall(), cur.statusmessage) == ([(11,), (12,), (13,), (14,)], "FETCH 4")
        # A move back is refused, and the cursor stays where it was.
        for back in ["FETCH PRIOR FROM c", "FETCH BACKWARD 2 FROM c", "FETCH LAST FROM c", "FETCH ABSOLUTE 1 FROM c",
                     "MOVE -1 IN c"]:
            with pytest.raises(errors.ObjectNotInPrerequisiteState, match="can only scan forward"):
                cur.execute(back)
        cur.execute("FETCH ALL FROM c")
        assert (cur.fetchall(), cur.statusmessage) == ([(x,) for x in range(15, 21)], "FETCH 6")
        cur.execute("FETCH 5 FROM c")
        assert (cur.fetchall(), cur.statusmessage) == ([], "FETCH 0")
        cur.execute("MOVE ALL IN c")
        assert cur.statusmessage == "MOVE 0"
        cur.execute("CLOSE c")
        assert cur.statusmessage == "CLOSE CURSOR"
        cur.execute("DECLARE e CURSOR WITH HOLD FOR SELECT 1 AS one")
        cur.execute("DECLARE f CURSOR WITH HOLD FOR SELECT 2 AS two")
        cur.execute("CLOSE ALL")
        assert cur.statusmessage == "CLOSE CURSOR ALL"
        assert conn.execute("SELECT count(*) FROM pg_cursors").fetchone() == (0,)


def test_cursor_errors_are_precise_and_the_connection_lives_on(server):
    cases = [
        ("FETCH 1 FROM nowhere", errors.InvalidCursorName, 'cursor "nowhere" does not exist'),
        ("CLOSE nowhere", errors.InvalidCursorName, 'cursor "nowhere" does not exist'),
        ("DECLARE s SCROLL CURSOR FOR SELECT 1", errors.FeatureNotSupported, "SCROLL cursors are not supported"),
        ("DECLARE i CURSOR FOR INSERT INTO t VALUES (1)", errors.SyntaxError, "declared FOR a query"),
        ("DECLARE n CURSOR FOR SELECT nope FROM read_parquet('trades.parquet')", errors.UndefinedColumn, "nope"),
        ("DECLARE p CURSOR FOR SELECT * FROM read_parquet('/etc/passwd')", errors.InsufficientPrivilege, "data directory"),
        ("FETCH FORWARD many FROM c", errors.SyntaxError, "not a row count"),
        ("DECLARE c CURSOR FOR", errors.SyntaxError, "needs a query"),
    ]
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        for sql, kind, message in cases:
            conn.execute("BEGIN")
            with pytest.raises(kind, match=message):
                conn.execute(sql)
            conn.execute("ROLLBACK")
        conn.execute("DECLARE dup CURSOR WITH HOLD FOR SELECT 1")
        with pytest.raises(errors.DuplicateCursor, match='cursor "dup" already exists'):
            conn.execute("DECLARE dup CURSOR WITH HOLD FOR SELECT 2")
        conn.execute("CLOSE dup")
        # A FETCH that fails closes its cursor: here the query outruns the
        # statement timeout before its first row.
        conn.execute("SET statement_timeout = '300ms'")
        conn.execute("DECLARE slow CURSOR WITH HOLD FOR SELECT sum(a.x * b.x) FROM long_sequence(100000) a "
                     "CROSS JOIN long_sequence(100000) b")
        with pytest.raises(errors.QueryCanceled, match="statement timeout"):
            conn.execute("FETCH 1 FROM slow")
        conn.execute("RESET statement_timeout")
        with pytest.raises(errors.InvalidCursorName):
            conn.execute("FETCH 1 FROM slow")
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert server.proc.poll() is None
    # Cursor statements are counted as such, by their SQLSTATE.
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/metrics") as reply:
        metrics = reply.read().decode()
    assert 'door="pgwire",route="cursor",code="34000"' in metrics, metrics
    assert 'door="pgwire",route="cursor",code="00000"' in metrics


def test_polars_iter_batches_and_pandas_chunks_through_sqlalchemy_stream_results(server):
    engine = sa.create_engine(f"postgresql+psycopg://admin:quest@127.0.0.1:{server.pg_port}/qdb")
    query = sa.text(QUERY.format(":p"))
    try:
        with engine.connect() as conn:
            streaming = conn.execution_options(stream_results=True)
            batches = list(pl.read_database(query, streaming, iter_batches=True, batch_size=700,
                                            execute_options={"parameters": {"p": 150}}))
            chunks = list(pd.read_sql(query, streaming, params={"p": 150}, chunksize=900))
    finally:
        engine.dispose()
    expected = want()
    assert [len(b) for b in batches] == [700] * (len(expected) // 700) + [len(expected) % 700]
    assert_frame_equal(pl.concat(batches), expected)
    assert [len(c) for c in chunks[:-1]] == [900] * (len(chunks) - 1)
    # pandas holds an integer column with nulls as floats.
    from_pandas = pl.from_pandas(pd.concat(chunks, ignore_index=True)).with_columns(pl.col("qty").cast(pl.Int64))
    assert_frame_equal(from_pandas, expected)


def test_psql_fetch_count_reads_through_a_cursor(server: Server):
    query = "SELECT sym, px FROM read_parquet('trades.parquet') WHERE qty > 250 ORDER BY ts;"
    whole = psql(server, query).stdout
    # With FETCH_COUNT psql declares _psql_cursor and fetches 100 rows at a
    # time (psql's -c does not read variables set by \set, so stdin).
    parts = psql(server, stdin=f"\\set FETCH_COUNT 100\n{query}\n").stdout
    rows = trades().filter(pl.col("qty") > 250).sort("ts")
    # PostgreSQL writes a whole float without a fraction: 174, not 174.0.
    assert whole.splitlines() == [f"{s}|{p:.15g}" for s, p in rows.select("sym", "px").rows()]
    assert parts == whole
    # Several statements in one query are one block: a cursor declared in
    # it lives until the query ends.
    both = psql(server, "DECLARE c CURSOR FOR SELECT x FROM long_sequence(5); FETCH 2 FROM c").stdout
    assert both.splitlines() == ["1", "2"]
    gone = psql(server, "FETCH 1 FROM c", check=False)
    assert gone.returncode != 0 and 'cursor "c" does not exist' in gone.stderr


def test_asyncpg_cursors_read_a_portal_in_parts(server):
    async def run() -> tuple[list, list]:
        conn = await asyncpg.connect(host="127.0.0.1", port=server.pg_port, user="admin", database="qdb")
        try:
            async with conn.transaction():
                # Iteration: Execute with a row limit (prefetch), again and
                # again on one portal, each answered PortalSuspended.
                iterated = [tuple(r) async for r in conn.cursor(QUERY.format("$1"), 150.0, prefetch=64)]
                cur = await conn.cursor(QUERY.format("$1"), 150.0)
                parts = [tuple(r) for r in await cur.fetch(10)]
                await cur.forward(5)
                parts += [None] * 5
                parts.append(tuple(await cur.fetchrow()))
                parts += [tuple(r) for r in await cur.fetch(100_000)]
            return iterated, parts
        finally:
            await conn.close()

    iterated, parts = asyncio.run(run())
    rows = want().rows()
    assert iterated == rows
    assert len(parts) == len(rows)
    assert parts[:10] == rows[:10] and parts[10:15] == [None] * 5 and parts[15:] == rows[15:]
