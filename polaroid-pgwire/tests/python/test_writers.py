"""What polars' and pandas' database writers send, and PostgreSQL's bulk
load: `write_database` through ADBC (CREATE TABLE in PostgreSQL's types,
then binary COPY ... FROM STDIN) and through SQLAlchemy (INSERTs with
casts), pandas' `to_sql`, psycopg's `copy()` in each format, psql's
`\\copy ... FROM`. Every load is read back and compared with the frame
written (python-polars is the oracle) or with hand-worked rows."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import tempfile
import zoneinfo
from pathlib import Path

import asyncpg
import pandas as pd
import polars as pl
import psycopg
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal
from psycopg import errors

from conftest import Postgres, Server, psql


def uri(server: Server) -> str:
    return f"postgresql://admin:quest@127.0.0.1:{server.pg_port}/qdb"


def frame(rows: int = 1_000) -> pl.DataFrame:
    start = dt.datetime(2026, 11, 23, 14, 30)
    return pl.DataFrame({
        "ts": pl.datetime_range(start, start + dt.timedelta(seconds=rows - 1), "1s", time_unit="us", eager=True),
        "sym": [None if i % 97 == 0 else ["AAPL", "MSFT", "it's \"q\",\n"][i % 3] for i in range(rows)],
        "px": [None if i % 89 == 0 else 100 + i / 8 for i in range(rows)],
        "px32": pl.Series([i / 4 for i in range(rows)], dtype=pl.Float32),
        "qty": [None if i % 83 == 0 else i * 1_000_003 for i in range(rows)],
        "n32": pl.Series([i - 500 for i in range(rows)], dtype=pl.Int32),
        "n16": pl.Series([i % 300 for i in range(rows)], dtype=pl.Int16),
        "ok": [None if i % 79 == 0 else i % 2 == 0 for i in range(rows)],
        "raw": [None if i % 7 == 0 else bytes([i % 256, 0, 255]) for i in range(rows)],
    })


def read_back(server: Server, table: str) -> pl.DataFrame:
    return pl.read_database_uri(f"SELECT * FROM {table}", uri(server), engine="adbc")


def test_write_database_with_adbc_creates_appends_and_replaces(server):
    df = frame()
    assert df.write_database("adbc_w", uri(server), engine="adbc") == len(df)
    assert_frame_equal(read_back(server, "adbc_w"), df)
    more = frame(10).with_columns(pl.col("ts") + dt.timedelta(days=1))
    assert more.write_database("adbc_w", uri(server), engine="adbc", if_table_exists="append") == 10
    assert_frame_equal(read_back(server, "adbc_w"), pl.concat([df, more]))
    assert more.write_database("adbc_w", uri(server), engine="adbc", if_table_exists="replace") == 10
    assert_frame_equal(read_back(server, "adbc_w"), more)
    # An instant in a zone is stored as its UTC time, as every table's are.
    zoned = pl.DataFrame({"at": [dt.datetime(2024, 3, 8, 14, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))], "v": [1]})
    zoned.write_database("adbc_zoned", uri(server), engine="adbc")
    assert read_back(server, "adbc_zoned")["at"].to_list() == [dt.datetime(2024, 3, 8, 19, 30)]


def test_write_database_with_sqlalchemy_and_pandas_to_sql(server):
    engine = sa.create_engine(f"postgresql+psycopg://admin:quest@127.0.0.1:{server.pg_port}/qdb")
    df = frame(200).drop("raw")
    try:
        df.write_database("sa_w", engine, engine="sqlalchemy")
        df.to_pandas().to_sql("pandas_w", engine, index=False)
    finally:
        engine.dispose()
    # polars writes through pandas' to_sql from Arrow-backed columns, which
    # it makes BIGINT and FLOAT(53) whatever their width (so it does on
    # PostgreSQL); BOOLEAN, TEXT and TIMESTAMP.
    widened = df.with_columns(pl.col("px32").cast(pl.Float64), pl.col("n32", "n16").cast(pl.Int64))
    assert_frame_equal(read_back(server, "sa_w"), widened)
    # pandas' own columns keep their widths (REAL, INTEGER, SMALLINT); it
    # holds a nullable integer column as float64, and writes it so.
    assert_frame_equal(read_back(server, "pandas_w"), pl.from_pandas(df.to_pandas()))


def copy_in(conn: psycopg.Connection, statement: str, data: bytes) -> int:
    with conn.cursor() as cur:
        with cur.copy(statement) as copy:
            copy.write(data)
        return cur.rowcount


def test_copy_from_stdin_in_each_format(server):
    rows = [("a\tb\\c", 1, True), ("", None, False), (None, 3, None), ('say "hi", ok\nnext', 4, True)]
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE copy_in_t (s STRING, n LONG, b BOOLEAN, ts TIMESTAMP) timestamp(ts)")
        with conn.cursor() as cur:
            # psycopg writes text format; then binary with the types named.
            with cur.copy("COPY copy_in_t (s, n, b, ts) FROM STDIN") as copy:
                for i, row in enumerate(rows):
                    copy.write_row((*row, dt.datetime(2024, 1, 1, 0, 0, i)))
            assert cur.rowcount == 4
            with cur.copy("COPY copy_in_t (s, n, b, ts) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "int8", "bool", "timestamp"])
                for i, row in enumerate(rows):
                    copy.write_row((*row, dt.datetime(2024, 1, 1, 0, 1, i)))
        # CSV as PostgreSQL writes it (worked by hand): "" is the empty
        # text, an unquoted empty field null; a header line; CRLF.
        csv = (b's,n,b,ts\r\n"a\tb\\c",1,t,2024-01-01 00:02:00\r\n"",,f,2024-01-01 00:02:01\r\n'
               b',3,,2024-01-01 00:02:02\r\n"say ""hi"", ok\nnext",4,true,2024-01-01 00:02:03\r\n')
        assert copy_in(conn, "COPY copy_in_t (s, n, b, ts) FROM STDIN WITH (FORMAT csv, HEADER)", csv) == 4
        got = conn.execute("SELECT s, n, b FROM copy_in_t ORDER BY ts").fetchall()
    assert got == rows * 3


def test_copied_instants_in_a_zone_are_stored_as_their_utc_time(server):
    ny = zoneinfo.ZoneInfo("America/New_York")
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE copy_tz_t (ts TIMESTAMP, v LONG) timestamp(ts)")
        with conn.cursor() as cur:
            # Text: psycopg writes the offset (-05:00); binary: microseconds of the instant.
            with cur.copy("COPY copy_tz_t FROM STDIN") as copy:
                copy.write_row((dt.datetime(2024, 3, 8, 14, 30, tzinfo=ny), 1))
            with cur.copy("COPY copy_tz_t FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["timestamptz", "int8"])
                copy.write_row((dt.datetime(2024, 3, 8, 14, 31, tzinfo=ny), 2))
        got = conn.execute("SELECT ts, v FROM copy_tz_t ORDER BY v").fetchall()
    # New York is 5 hours behind UTC on 8 March 2024.
    assert got == [(dt.datetime(2024, 3, 8, 19, 30), 1), (dt.datetime(2024, 3, 8, 19, 31), 2)]


def test_asyncpg_copies_records_in_and_a_query_out(server):
    rows = [(dt.datetime(2024, 1, 1), "A", 1.5, 1), (dt.datetime(2024, 1, 2), None, None, 2)]

    async def run() -> tuple[str, bytes, list]:
        conn = await asyncpg.connect(host="127.0.0.1", port=server.pg_port, user="admin", database="qdb")
        try:
            await conn.execute("CREATE TABLE apg_t (ts TIMESTAMP, sym SYMBOL, px DOUBLE, qty LONG) timestamp(ts)")
            # asyncpg reads the table's columns, then sends binary COPY.
            status = await conn.copy_records_to_table("apg_t", records=rows)
            out = io.BytesIO()
            await conn.copy_from_query("SELECT * FROM apg_t", output=out, format="csv", header=True)
            return status, out.getvalue(), [tuple(r) for r in await conn.fetch("SELECT * FROM apg_t")]
        finally:
            await conn.close()

    status, csv, back = asyncio.run(run())
    assert status == "COPY 2"
    assert back == rows
    # Worked by hand: nulls are empty fields in CSV.
    assert csv == b"ts,sym,px,qty\n2024-01-01 00:00:00,A,1.5,1\n2024-01-02 00:00:00,,,2\n"


def test_psql_copies_a_local_file_in(server, tmp_path: Path):
    path = tmp_path / "ticks.csv"
    want = pl.DataFrame({"ts": [dt.datetime(2024, 1, 1, 0, 0, s) for s in range(3)], "sym": ["A", None, "C"],
                         "px": [1.5, 2.0, None]}).with_columns(pl.col("ts").dt.cast_time_unit("us"))
    want.write_csv(path)
    psql(server, "CREATE TABLE psql_in (ts TIMESTAMP, sym SYMBOL, px DOUBLE) timestamp(ts)",
         f"\\copy psql_in FROM '{path}' WITH (FORMAT csv, HEADER)")
    got = read_back(server, "psql_in")
    assert_frame_equal(got, want)


def test_a_failed_copy_appends_nothing_and_says_why(server):
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE copy_fail_t (n LONG, ts TIMESTAMP) timestamp(ts)")
        assert copy_in(conn, "COPY copy_fail_t FROM STDIN", b"1\t2024-01-01 00:00:00\n") == 1
        for statement, data, error in [
            # The third row's value is no number: the two before it stay out too.
            ("COPY copy_fail_t FROM STDIN", b"2\t2024-01-01 00:00:01\n3\t2024-01-01 00:00:02\nx\t2024-01-01 00:00:03\n",
             errors.SyntaxErrorOrAccessRuleViolation),
            ("COPY copy_fail_t FROM STDIN (FORMAT csv)", b"2,2024-01-01 00:00:01,extra\n",
             errors.SyntaxErrorOrAccessRuleViolation),
            ("COPY copy_fail_t FROM STDIN (FORMAT binary)", b"PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00",
             errors.SyntaxErrorOrAccessRuleViolation),
            ("COPY no_such_t FROM STDIN", b"", errors.UndefinedTable),
            ("COPY copy_fail_t (nope) FROM STDIN", b"", errors.SyntaxErrorOrAccessRuleViolation),
        ]:
            with pytest.raises(error):
                copy_in(conn, statement, data)
            assert conn.execute("SELECT count(*) FROM copy_fail_t").fetchone() == (1,)
        # A client that gives up mid-way (an exception inside the block) sends CopyFail.
        with pytest.raises(ZeroDivisionError):
            with conn.cursor().copy("COPY copy_fail_t FROM STDIN") as copy:
                copy.write(b"5\t2024-01-01 00:00:05\n")
                1 / 0
        assert conn.execute("SELECT count(*) FROM copy_fail_t").fetchone() == (1,)


def test_inserts_into_a_dedup_table_end_as_postgresql_s_upserts_do():
    """The same INSERTs, in the same order, into a table with QuestDB's
    DEDUP UPSERT KEYS(ts, sym) on the door and, on a real PostgreSQL 15,
    into a table keyed (ts, sym) with `INSERT ... ON CONFLICT (ts, sym) DO
    UPDATE`: the tables end the same. Repeats, corrections and new keys at
    earlier instants come in several executemany batches; a null symbol is
    a key value on the door, where PostgreSQL's key may not be null (the
    rows with one are left out of the comparison and checked by hand)."""
    start = dt.datetime(2026, 11, 23, 14, 30)
    rows = [(start + dt.timedelta(seconds=i % 40), ["AAPL", "MSFT", "NVDA"][i * 7 % 3], 100 + i / 4, i) for i in range(300)]
    batches = [rows[:120], rows[60:200], rows[150:], rows[:30]]
    postgres = Postgres()
    with tempfile.TemporaryDirectory(prefix="polaroid-dedup-") as tmp:
        server = Server(Path(tmp))
        try:
            with psycopg.connect(server.dsn(), autocommit=True) as door, psycopg.connect(postgres.dsn(), autocommit=True) as oracle:
                door.execute("CREATE TABLE upserted (ts TIMESTAMP, sym SYMBOL, px DOUBLE, qty LONG) "
                             "timestamp(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, sym)")
                oracle.execute("CREATE TABLE upserted (ts TIMESTAMP, sym TEXT, px DOUBLE PRECISION, qty BIGINT, "
                               "PRIMARY KEY (ts, sym))")
                for batch in batches:
                    with door.cursor() as cur:
                        cur.executemany("INSERT INTO upserted VALUES (%s, %s, %s, %s)", batch)
                    with oracle.cursor() as cur:
                        cur.executemany("INSERT INTO upserted VALUES (%s, %s, %s, %s) ON CONFLICT (ts, sym) "
                                        "DO UPDATE SET px = EXCLUDED.px, qty = EXCLUDED.qty", batch)
                door.execute("INSERT INTO upserted VALUES ('2026-11-23T14:30:00', NULL, 1.0, 1)")
                door.execute("INSERT INTO upserted VALUES ('2026-11-23T14:30:00', NULL, 2.0, 2)")
                query = "SELECT ts, sym, px, qty FROM upserted WHERE sym IS NOT NULL ORDER BY ts, sym"
                got = door.execute(query).fetchall()
                want = oracle.execute(query).fetchall()
                assert len(want) == 120 and got == want
                nulls = door.execute("SELECT px, qty FROM upserted WHERE sym IS NULL").fetchall()
                assert nulls == [(2.0, 2)]
        finally:
            server.stop()
            postgres.stop()
