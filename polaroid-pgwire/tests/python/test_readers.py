"""What polars' and pandas' database readers send: COPY ... TO STDOUT, the
catalog drivers read before a query, the session's information functions.
The readers: polars' `read_database_uri` (connectorx and ADBC), SQLAlchemy
(`pl.read_database` and `pandas.read_sql` over an engine), psycopg's
`copy()`, psql's `\\copy`. The oracles are python-polars on the same data,
and PostgreSQL's formats worked out by hand."""

from __future__ import annotations


import pandas as pd
import polars as pl
import psycopg
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal
from psycopg import errors

from conftest import EVERY_TYPE_OIDS, Server, every_type, every_type_rows, psql, trades

TRADES = "read_parquet('trades.parquet')"
TYPES = "read_parquet('types.parquet')"


def uri(server: Server) -> str:
    return f"postgresql://admin:quest@127.0.0.1:{server.pg_port}/qdb"


def as_postgresql_holds(df: pl.DataFrame) -> pl.DataFrame:
    """every_type() after a trip through PostgreSQL's types: integers widened
    to the next signed type, SYMBOLs as text, microseconds (floored), zoned
    timestamps in UTC."""
    return df.with_columns(
        pl.col("i8", "u8").cast(pl.Int16), pl.col("u16").cast(pl.Int32), pl.col("u32").cast(pl.Int64),
        pl.col("cat").cast(pl.String),
        ts_ns=(pl.col("ts_ns").cast(pl.Int64) // 1000).cast(pl.Datetime("us")),
        ts_ny=pl.col("ts_ny").dt.convert_time_zone("UTC").dt.cast_time_unit("us"),
    )


def test_read_database_uri_with_adbc_reads_every_type(server):
    # Intervals are left out: ADBC reads them as Arrow's month_day_nano,
    # which polars does not import (the same from PostgreSQL itself).
    got = pl.read_database_uri(f"SELECT * EXCLUDE (dur) FROM {TYPES}", uri(server), engine="adbc")
    want = as_postgresql_holds(every_type().drop("dur"))
    # ADBC hands NUMERIC over as its text (an opaque extension type).
    for exact in ("u64", "dec"):
        assert [None if v is None else str(v) for v in got[exact].to_list()] == ["18446744073709551615", "3", None] \
            if exact == "u64" else ["1234.56", "-0.01", None]
    assert_frame_equal(got.drop("u64", "dec"), want.drop("u64", "dec"))


def test_read_database_uri_with_connectorx_reads_every_type(server):
    # connectorx refuses PostgreSQL's interval, and reads NUMERIC with 10
    # decimals in rust_decimal's 28 digits, too few for 2**64 - 1 (so it is
    # with PostgreSQL too).
    got = pl.read_database_uri(f"SELECT * EXCLUDE (dur, u64) FROM {TYPES}", uri(server), engine="connectorx")
    want = as_postgresql_holds(every_type().drop("dur", "u64"))
    assert_frame_equal(got.with_columns(pl.col("dec").cast(pl.Decimal(10, 2))), want)


@pytest.mark.parametrize("protocol", ["binary", "csv", "cursor"])
def test_connectorx_reads_a_questdb_query_by_each_protocol(server, protocol):
    import connectorx as cx
    # binary and csv read through COPY (query) TO STDOUT; cursor through a portal.
    query = f"SELECT sym, ts, first(px) AS open, last(px) AS close, sum(qty) AS qty FROM {TRADES} SAMPLE BY 1h"
    got = cx.read_sql(uri(server), query, return_type="polars", protocol=protocol)
    want = (trades().sort("ts").group_by_dynamic("ts", every="1h", group_by="sym")
            .agg(open=pl.col("px").first(), close=pl.col("px").last(), qty=pl.col("qty").sum()))
    assert_frame_equal(got.sort("sym", "ts"), want.sort("sym", "ts"), check_column_order=False)


def test_connectorx_partitions_a_read_into_several_queries(server):
    import connectorx as cx
    # connectorx asks for the column's bounds, then reads 4 ranges at once.
    got = cx.read_sql(uri(server), f"SELECT * FROM {TRADES} WHERE qty IS NOT NULL", return_type="polars",
                      partition_on="qty", partition_num=4)
    assert_frame_equal(got.sort("ts"), trades().drop_nulls("qty"))


def test_copy_binary_through_psycopg_holds_every_value(server):
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        cur = conn.cursor()
        with cur.copy(f"COPY (SELECT * FROM {TYPES}) TO STDOUT (FORMAT BINARY)") as copy:
            copy.set_types(EVERY_TYPE_OIDS)
            got = [list(row) for row in copy.rows()]
        assert cur.rowcount == 3
        # No rows: the stream still opens with PGCOPY's header.
        with cur.copy(f"COPY (SELECT * FROM {TYPES} WHERE i32 > 2000000000) TO STDOUT WITH BINARY") as copy:
            copy.set_types(EVERY_TYPE_OIDS)
            assert list(copy.rows()) == []
        assert cur.rowcount == 0
    assert got == every_type_rows()


def copy_out(conn: psycopg.Connection, statement: str) -> bytes:
    with conn.cursor().copy(statement) as copy:
        return b"".join(bytes(chunk) for chunk in copy)


def test_copy_text_and_csv_are_postgresql_formats(server):
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE copy_t (s STRING, n LONG, ts TIMESTAMP) timestamp(ts)")
        rows = [("a\tb\\c", 1), ("", None), (None, 3), ('say "hi", ok\nnext', 4)]
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO copy_t VALUES (%s, %s, %s)",
                            [(s, n, f"2024-01-01T00:00:0{i}Z") for i, (s, n) in enumerate(rows)])
        text = copy_out(conn, "COPY copy_t TO STDOUT")
        csv = copy_out(conn, "COPY copy_t (s, n) TO STDOUT WITH (FORMAT csv, HEADER)")
        legacy = copy_out(conn, "COPY (SELECT n, s FROM copy_t WHERE n > 2) TO STDOUT WITH CSV DELIMITER '|' NULL 'NULL'")
    # Worked by PostgreSQL's rules. Text: tab-separated, \N for null, a
    # backslash before a tab, newline or backslash in a value.
    assert text == (b"a\\tb\\\\c\t1\t2024-01-01 00:00:00\n"
                    b"\t\\N\t2024-01-01 00:00:01\n"
                    b"\\N\t3\t2024-01-01 00:00:02\n"
                    b"say \"hi\", ok\\nnext\t4\t2024-01-01 00:00:03\n")
    # CSV: a null is empty, an empty text is "", a value holding the
    # delimiter, a quote or a line break is quoted, quotes doubled inside.
    assert csv == (b's,n\n'
                   b'a\tb\\c,1\n'
                   b'"",\n'
                   b',3\n'
                   b'"say ""hi"", ok\nnext",4\n')
    # The comma is no delimiter here, but the quote and the line break still quote.
    assert legacy == b'3|NULL\n4|"say ""hi"", ok\nnext"\n'


def test_psql_copies_out_with_backslash_copy(server):
    copy = f"\\copy (SELECT sym, count(*) AS n FROM {TRADES} GROUP BY sym ORDER BY sym) TO STDOUT WITH CSV HEADER"
    out = psql(server, copy, options=("-q",)).stdout
    want = trades().group_by("sym").agg(n=pl.len()).sort("sym")
    assert out.splitlines() == ["sym,n"] + [f"{s},{n}" for s, n in want.rows()]


def test_copy_errors_are_precise_and_the_connection_lives_on(server):
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        for statement, error in [
            ("COPY copy_t FROM '/tmp/in.csv'", errors.FeatureNotSupported),
            (f"COPY (SELECT * FROM {TRADES}) TO '/tmp/out.csv'", errors.FeatureNotSupported),
            (f"COPY (SELECT * FROM {TRADES}) TO STDOUT (FORMAT parquet)", errors.InvalidParameterValue),
            (f"COPY (SELECT * FROM {TRADES}) TO STDOUT (FORMAT binary, HEADER)", errors.InvalidParameterValue),
            (f"COPY (SELECT nope FROM {TRADES}) TO STDOUT", errors.UndefinedColumn),
            ("COPY (SELECT * FROM read_parquet('/etc/passwd')) TO STDOUT", errors.InsufficientPrivilege),
            (f"COPY (SELECT * FROM {TRADES} TO STDOUT", errors.SyntaxError),
        ]:
            with pytest.raises(error):
                copy_out(conn, statement)
            assert conn.execute("SELECT 1").fetchone() == (1,)


def test_the_catalog_answers_adbc_type_resolver_and_lists_tables(server):
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS catalog_t (sym SYMBOL, px DOUBLE, ts TIMESTAMP) timestamp(ts)")
        # ADBC's PostgreSQL driver sends this query when it connects.
        types = conn.execute(
            "SELECT oid, typname, typreceive, typbasetype, typrelid, typarray FROM pg_catalog.pg_type "
            "WHERE (typreceive != 0 OR typsend != 0) AND typtype != 'r' AND typreceive::TEXT != 'array_recv'").fetchall()
        by_name = {name: (oid, receive, array) for oid, name, receive, _, _, array in types}
        # PostgreSQL 15's own rows for these types; arrays are filtered out.
        assert by_name["int4"] == (23, "int4recv", 1007)
        assert by_name["timestamptz"] == (1184, "timestamptz_recv", 1185)
        assert by_name["varchar"] == (1043, "varcharrecv", 1015)
        assert not any(name.startswith("_") for name in by_name)
        columns = conn.execute(
            "SELECT a.attname, a.atttypid FROM pg_catalog.pg_attribute a JOIN pg_class c ON a.attrelid = c.oid "
            "JOIN pg_namespace n ON c.relnamespace = n.oid WHERE c.relname = 'catalog_t' AND n.nspname = 'public' "
            "ORDER BY a.attnum").fetchall()
        assert columns == [("sym", 1043), ("px", 701), ("ts", 1114)]
        # information_schema, as BI tools and Grafana list tables and columns.
        assert ("public", "catalog_t", "BASE TABLE") in conn.execute(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables").fetchall()
        assert conn.execute(
            "SELECT column_name, data_type, ordinal_position FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position", ("catalog_t",)).fetchall() == [
            ("sym", "character varying", 1), ("px", "double precision", 2), ("ts", "timestamp without time zone", 3)]
    # psql's \\dt reads pg_class, pg_namespace and pg_am.
    listed = psql(server, "\\dt").stdout.splitlines()
    assert "public|catalog_t|table|polaroid" in listed


def test_psql_describes_a_table_as_postgresql_would(server):
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS described (ts TIMESTAMP, sym SYMBOL, px DOUBLE, qty LONG, n INT, "
                     "ok BOOLEAN, raw BINARY, d DATE) timestamp(ts)")

    # psql's \d reads pg_class (its flags), pg_attribute with format_type(),
    # defaults, collations, then policies, statistics, publications and
    # parents: those relations are empty here, and so are their answers.
    # The lines are PostgreSQL 15's for the same table, worked by hand.
    assert psql(server, "\\d described", options=()).stdout.splitlines() == [
        '                       Table "public.described"',
        " Column |            Type             | Collation | Nullable | Default ",
        "--------+-----------------------------+-----------+----------+---------",
        " ts     | timestamp without time zone |           |          | ",
        " sym    | character varying           |           |          | ",
        " px     | double precision            |           |          | ",
        " qty    | bigint                      |           |          | ",
        " n      | integer                     |           |          | ",
        " ok     | boolean                     |           |          | ",
        " raw    | bytea                       |           |          | ",
        # QuestDB's DATE is a millisecond timestamp.
        " d      | timestamp without time zone |           |          | ",
        "",
    ]
    # \\d+ adds each column's storage (by its type), compression and
    # statistics target, and the access method. The lines are PostgreSQL
    # 15's for the same table.
    assert psql(server, "\\d+ described", options=()).stdout.splitlines() == [
        '                                                  Table "public.described"',
        ' Column |            Type             | Collation | Nullable | Default | Storage  | Compression | Stats target | Description ',
        '--------+-----------------------------+-----------+----------+---------+----------+-------------+--------------+-------------',
        ' ts     | timestamp without time zone |           |          |         | plain    |             |              | ',
        ' sym    | character varying           |           |          |         | extended |             |              | ',
        ' px     | double precision            |           |          |         | plain    |             |              | ',
        ' qty    | bigint                      |           |          |         | plain    |             |              | ',
        ' n      | integer                     |           |          |         | plain    |             |              | ',
        ' ok     | boolean                     |           |          |         | plain    |             |              | ',
        ' raw    | bytea                       |           |          |         | extended |             |              | ',
        ' d      | timestamp without time zone |           |          |         | plain    |             |              | ',
        'Access method: heap',
        '',
    ]
    # QuestDB's own SHOW TABLES and SHOW COLUMNS FROM (they were taken for
    # SHOW of a setting: "unrecognized configuration parameter").
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        assert ("described",) in conn.execute("SHOW TABLES").fetchall()
        columns = conn.execute("SHOW COLUMNS FROM described").fetchall()
        assert [(c[0], c[1], c[6]) for c in columns] == [
            ("ts", "TIMESTAMP", True), ("sym", "SYMBOL", False), ("px", "DOUBLE", False), ("qty", "LONG", False),
            ("n", "INT", False), ("ok", "BOOLEAN", False), ("raw", "BINARY", False), ("d", "DATE", False)]
    # Other tests' tables are listed too: unaligned, one per line.
    assert "public|described|table|polaroid" in psql(server, "\\d").stdout.splitlines()
    assert psql(server, "\\dn").stdout.splitlines() == ["public|polaroid"]
    # \l: the one database, UTF8, no access privileges granted.
    assert psql(server, "\\l").stdout.splitlines() == ["qdb|polaroid|UTF8|C.UTF-8|C.UTF-8||libc|"]
    # \dt+ adds each table's size on disk (its files), as pg_size_pretty
    # writes it; the one row is too small for kB.
    files = [f for f in server.data_dir.glob("tables/*/described/**/*") if f.is_file()]
    size = sum(f.stat().st_size for f in files)
    assert files and size < 10 * 1024
    assert f"public|described|table|polaroid|permanent|heap|{size} bytes|" in psql(server, "\\dt+").stdout.splitlines()
    # The one role, a member of none (`ARRAY(subquery)` of pg_auth_members: {}).
    assert psql(server, "\\du").stdout.splitlines() == ["polaroid|Superuser, Create role, Create DB|{}"]
    gone = psql(server, "\\d nowhere", options=(), check=False)
    assert 'Did not find any relation named "nowhere"' in gone.stderr


def test_sqlalchemy_reflects_a_table_for_pandas_read_sql_table_and_autoload(server):
    engine = sa.create_engine(f"postgresql+psycopg://admin:quest@127.0.0.1:{server.pg_port}/qdb")
    rows = trades(50)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("CREATE TABLE IF NOT EXISTS reflected (ts TIMESTAMP, sym SYMBOL, px DOUBLE, qty LONG, "
                                 "n INT, ok BOOLEAN) timestamp(ts)"))
            conn.execute(sa.text("TRUNCATE TABLE reflected"))
            conn.execute(sa.text("INSERT INTO reflected (ts, sym, px, qty) VALUES (:ts, :sym, :px, :qty)"), rows.to_dicts())
            conn.commit()
        inspector = sa.inspect(engine)
        # The columns' types as PostgreSQL's dialect reads format_type().
        columns = [(c["name"], type(c["type"]).__name__, c["nullable"], c["default"])
                   for c in inspector.get_columns("reflected")]
        assert columns == [("ts", "TIMESTAMP", True, None), ("sym", "VARCHAR", True, None),
                           ("px", "DOUBLE_PRECISION", True, None), ("qty", "BIGINT", True, None),
                           ("n", "INTEGER", True, None), ("ok", "BOOLEAN", True, None)]
        # No keys, indexes, constraints or comments: none exist here.
        assert inspector.get_pk_constraint("reflected")["constrained_columns"] == []
        assert inspector.get_foreign_keys("reflected") == []
        assert inspector.get_indexes("reflected") == []
        assert inspector.get_unique_constraints("reflected") == []
        assert inspector.get_check_constraints("reflected") == []
        assert inspector.get_table_comment("reflected") == {"text": None}
        assert inspector.get_schema_names() == ["public"]
        assert inspector.get_sequence_names() == inspector.get_enums() == inspector.get_domains() == []
        everything = sa.MetaData()
        everything.reflect(engine)
        assert [c.name for c in everything.tables["reflected"].columns] == ["ts", "sym", "px", "qty", "n", "ok"]
        table = sa.Table("reflected", sa.MetaData(), autoload_with=engine)
        assert [c.name for c in table.columns] == ["ts", "sym", "px", "qty", "n", "ok"]
        with engine.connect() as conn:
            selected = conn.execute(sa.select(table.c.sym, table.c.qty).where(table.c.px > 150).order_by(table.c.ts)).all()
        want = rows.filter(pl.col("px") > 150).sort("ts")
        assert selected == list(want.select("sym", "qty").rows())
        read = pl.from_pandas(pd.read_sql_table("reflected", engine))
    finally:
        engine.dispose()
    # pandas holds the integer columns with nulls as floats.
    read = read.with_columns(pl.col("qty", "n").cast(pl.Int64), pl.col("ok").cast(pl.Boolean))
    assert_frame_equal(read.select("ts", "sym", "px", "qty"), rows)
    assert read["n"].null_count() == read["ok"].null_count() == rows.height


def test_sqlalchemy_connects_lists_tables_and_reads_into_polars_and_pandas(server):
    # SQLAlchemy's dialect asks, on connecting: current_schema(), the
    # isolation level, hstore's oid through to_regtype(), in savepoints.
    engine = sa.create_engine(f"postgresql+psycopg://admin:quest@127.0.0.1:{server.pg_port}/qdb")
    rows = trades(300)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("CREATE TABLE IF NOT EXISTS sa_trades (ts TIMESTAMP, sym SYMBOL, px DOUBLE, qty LONG) "
                                 "timestamp(ts)"))
            conn.execute(sa.text("INSERT INTO sa_trades VALUES (:ts, :sym, :px, :qty)"), rows.to_dicts())
            conn.commit()
            assert "sa_trades" in sa.inspect(conn).get_table_names()
            assert conn.execute(sa.text("SELECT current_user")).scalar() == "admin"
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == "qdb"
            query = "SELECT sym, sum(qty) AS qty, count(*) AS n FROM sa_trades WHERE px > :p GROUP BY sym ORDER BY sym"
            got = pl.read_database(sa.text(query), conn, execute_options={"parameters": {"p": 150}})
            from_pandas = pl.from_pandas(pd.read_sql(sa.text(query), conn, params={"p": 150}))
        want = (rows.filter(pl.col("px") > 150).group_by("sym").agg(qty=pl.col("qty").sum(), n=pl.len().cast(pl.Int64))
                .sort("sym"))
        assert_frame_equal(got, want)
        assert_frame_equal(from_pandas, want)
        # An engine, as polars takes it, too.
        assert pl.read_database("SELECT count(*) AS n FROM sa_trades", engine)["n"].to_list() == [300]
    finally:
        engine.dispose()
