"""Grafana's PostgreSQL data source on the door. Grafana's backend runs each
panel's SQL through pgx's `PgConn.Exec`, PostgreSQL's simple protocol (as
psycopg's ClientCursor sends it here), after expanding its macros
(`$__timeFilter`, `$__timeGroupAlias`, ...) itself; pgxpool pings a
connection that has rested with `-- ping`. Its editor lists schemas,
tables and columns with catalog queries of its own, and reads the server's
version. Every query is answered by a real PostgreSQL 15 over the same
tables and rows, and the door must answer as it does."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import psycopg
import pytest
from psycopg.pq import ExecStatus


# The dashboard's time range.
FROM, TO = dt.datetime(2026, 11, 23, 15, 0, 0), dt.datetime(2026, 11, 23, 19, 30, 0, 500_000)


def rfc3339(at: dt.datetime) -> str:
    """Go's RFC3339Nano in UTC, as Grafana writes its range: no trailing
    zeros in the fraction."""
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    if at.microsecond:
        text += f".{at.microsecond:06d}".rstrip("0")
    return text + "Z"


def seconds(interval: str) -> str:
    """An interval like 5m or 1h in seconds, as Go prints a float64."""
    number, unit = re.fullmatch(r"(\d+)([smhd])", interval).groups()
    value = int(number) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    return str(value)


def expand(sql: str) -> str:
    """The macros of Grafana's PostgreSQL data source, as its backend
    expands them for the range FROM..TO (its documentation's table)."""
    def macro(m: re.Match) -> str:
        name, args = m.group(1), [a.strip() for a in m.group(2).split(",")]
        group = lambda: f"floor(extract(epoch from {args[0]})/{seconds(args[1].strip(chr(39)))})*{seconds(args[1].strip(chr(39)))}"
        return {
            "__time": lambda: f'{args[0]} AS "time"',
            "__timeEpoch": lambda: f'extract(epoch from {args[0]}) as "time"',
            "__timeFilter": lambda: f"{args[0]} BETWEEN '{rfc3339(FROM)}' AND '{rfc3339(TO)}'",
            "__timeFrom": lambda: f"'{rfc3339(FROM)}'",
            "__timeTo": lambda: f"'{rfc3339(TO)}'",
            "__timeGroup": group,
            "__timeGroupAlias": lambda: group() + ' AS "time"',
        }[name]()
    return re.sub(r"\$(\w+)\(([^)]*)\)", macro, sql)


# What Grafana's editor asks of the catalog (its postgresMetaQuery).
SEARCH_PATH_SCHEMAS = """quote_ident(table_schema) IN (
      SELECT CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
      FROM generate_series(
        array_lower(string_to_array(current_setting('search_path'),','),1),
        array_upper(string_to_array(current_setting('search_path'),','),1)
      ) as i,
      string_to_array(current_setting('search_path'),',') s
    )"""

VERSION = "SELECT current_setting('server_version_num')::int/100 as version"
TIMESCALEDB = "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
HIDDEN = ("'information_schema', 'pg_catalog', '_timescaledb_cache', '_timescaledb_catalog', "
          "'_timescaledb_internal', '_timescaledb_config', 'timescaledb_information', 'timescaledb_experimental'")
SCHEMAS = f"""SELECT schema_name AS "name" FROM information_schema.schemata
    WHERE schema_name NOT IN ({HIDDEN}, 'pg_toast') ORDER BY schema_name"""
TABLES_OF_PUBLIC = """SELECT quote_ident(table_name) AS "table" FROM information_schema.tables
    WHERE quote_ident(table_schema) = 'public' ORDER BY 1"""
TABLES = f"""SELECT CASE WHEN {SEARCH_PATH_SCHEMAS} THEN quote_ident(table_name)
      ELSE quote_ident(table_schema) || '.' || quote_ident(table_name) END AS "table"
    FROM information_schema.tables
    WHERE quote_ident(table_schema) NOT IN ({HIDDEN})
    ORDER BY CASE WHEN {SEARCH_PATH_SCHEMAS} THEN 0 ELSE 1 END, 1"""


def columns_of(table: str) -> str:
    name = "'" + table.replace("'", "''") + "'"
    return f"""SELECT quote_ident(column_name) AS "column", data_type AS "type"
    FROM information_schema.columns
    WHERE CASE WHEN array_length(parse_ident({name}),1) = 2
        THEN quote_ident(table_schema) = (parse_ident({name}))[1] AND quote_ident(table_name) = (parse_ident({name}))[2]
        ELSE quote_ident(table_name) = {name} AND {SEARCH_PATH_SCHEMAS} END"""


def plain(value):
    """A value as both servers' answers can be compared: numbers as floats
    (PostgreSQL's extract is numeric, the door's a double)."""
    return float(value) if isinstance(value, Decimal) else value


def answer(conn: psycopg.Connection, sql: str) -> tuple[list[str], list[tuple]]:
    cur = conn.execute(sql)
    return [c.name for c in cur.description], [tuple(plain(v) for v in row) for row in cur.fetchall()]


def same(got: tuple[list[str], list[tuple]], want: tuple[list[str], list[tuple]], sql: str) -> None:
    """The same columns and rows in the same order; floats to 1e-12 (sums
    may add in another order)."""
    assert got[0] == want[0], sql
    assert len(got[1]) == len(want[1]), sql
    for g, w in zip(got[1], want[1]):
        assert len(g) == len(w) and all(
            a == pytest.approx(b, rel=1e-12) if isinstance(b, float) else a == b for a, b in zip(g, w)), (sql, g, w)


def test_the_health_check_and_pgxpool_s_ping_are_empty_queries(both):
    door, oracle = both.door, both.oracle
    for sql in ["-- ping", ";", "/* a */ -- b\n"]:
        for conn in (door, oracle):
            # The simple protocol (pgconn's Exec) and the extended one.
            assert conn.execute(sql).pgresult.status == ExecStatus.EMPTY_QUERY
            assert psycopg.Cursor(conn).execute(sql).pgresult.status == ExecStatus.EMPTY_QUERY
    # The connection goes on.
    assert door.execute("SELECT 1").fetchall() == [(1,)]


def test_the_editor_s_catalog_queries_answer_as_postgresql(both):
    door, oracle = both.door, both.oracle
    # Grafana keeps the version's number (parseInt), and finds no TimescaleDB.
    assert int(door.execute(VERSION).fetchone()[0]) == int(oracle.execute(VERSION).fetchone()[0]) == 1500
    for sql in [TIMESCALEDB, SCHEMAS, TABLES_OF_PUBLIC, TABLES, columns_of("grafana_trades"),
                columns_of("public.grafana_trades"), columns_of("keyword_names"), columns_of("public.keyword_names"),
                columns_of("nowhere"), columns_of("other.grafana_trades")]:
        same(answer(door, sql), answer(oracle, sql), sql)
    # quote_ident at work: the keywords come back quoted.
    assert answer(door, columns_of("keyword_names"))[1] == [
        ('"time"', "timestamp without time zone"), ('"user"', "character varying"), ("value", "double precision")]
    assert answer(door, TABLES)[1] == [("go_copy",), ("grafana_trades",), ("keyword_names",)]


PANELS = [
    # A time series per symbol: the bucket, the metric, the value.
    "SELECT $__timeGroupAlias(ts, '5m'), sym AS metric, avg(px) AS px FROM grafana_trades "
    "WHERE $__timeFilter(ts) GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT $__timeGroupAlias(ts, 1h), count(*) AS n, sum(qty) AS qty, min(px) AS low FROM grafana_trades "
    "WHERE ts >= $__timeFrom() AND ts < $__timeTo() GROUP BY 1 ORDER BY 1",
    "SELECT $__time(ts), px FROM grafana_trades WHERE $__timeFilter(ts) AND sym = 'MSFT' ORDER BY 1",
    "SELECT $__timeEpoch(ts), qty FROM grafana_trades WHERE $__timeFilter(ts) AND qty > 490 ORDER BY 1",
    # A table panel, and a variable's values.
    "SELECT sym, max(px) AS high, min(px) AS low, count(qty) AS trades FROM grafana_trades "
    "WHERE $__timeFilter(ts) GROUP BY sym ORDER BY sym",
    "SELECT DISTINCT sym FROM grafana_trades ORDER BY 1",
    'SELECT $__time("time"), "user", value FROM keyword_names WHERE $__timeFilter("time")',
]


@pytest.mark.parametrize("panel", PANELS)
def test_panels_answer_as_postgresql(both, panel):
    door, oracle = both.door, both.oracle
    sql = expand(panel)
    assert "$" not in sql
    got, want = answer(door, sql), answer(oracle, sql)
    same(got, want, sql)
    assert want[1], "the range holds rows"


@pytest.mark.parametrize("bucketed", [
    # QuestDB's way to write the first panel: SAMPLE BY, the bucket shown
    # as `time`.
    "SELECT $__time(ts), sym, avg(px) AS px FROM grafana_trades WHERE $__timeFilter(ts) SAMPLE BY 5m ORDER BY 1, 2",
    # What $__timeGroupAlias(ts, '5m') is with Grafana's TimescaleDB option on.
    "SELECT time_bucket('300.000s',ts) AS \"time\", sym, avg(px) AS px FROM grafana_trades WHERE $__timeFilter(ts) "
    "GROUP BY 1, 2 ORDER BY 1, 2",
])
def test_buckets_as_timestamps_are_postgresql_s_floored_epochs(both, bucketed):
    # PostgreSQL has neither: its answer is the floored epoch's.
    door, oracle = both.door, both.oracle
    names, got = answer(door, expand(bucketed))
    assert names == ["time", "sym", "px"]
    _, want = answer(oracle, expand("SELECT $__timeGroupAlias(ts, '5m'), sym, avg(px) AS px FROM grafana_trades "
                                    "WHERE $__timeFilter(ts) GROUP BY 1, 2 ORDER BY 1, 2"))
    epoch = dt.datetime(1970, 1, 1)
    same((names, [((t - epoch).total_seconds(), sym, px) for t, sym, px in got]), (names, want), bucketed)
    assert len(want) > 100


def test_questdb_s_own_grafana_plugin(both):
    """QuestDB's Grafana plugin (questdb-questdb-datasource, over lib/pq)
    lists tables with `tables()` (its `dedup` column failed), columns with
    `table_columns()` and `information_schema.columns`, and expands its
    macros to QuestDB's SQL: `$__timeFilter(ts)` to casts of epoch
    microseconds, `$__sampleByInterval` to `5m`."""
    door, oracle = both.door, both.oracle
    tables = door.execute("select table_name, partitionBy, designatedTimestamp, walEnabled, dedup from tables() "
                          "ORDER BY table_name").fetchall()
    assert ("grafana_trades", "NONE", None, True, False) in tables
    assert door.execute("select \"column\", type, designated from table_columns('grafana_trades')").fetchall() == [
        ("ts", "TIMESTAMP", False), ("sym", "VARCHAR", False), ("px", "DOUBLE", False), ("qty", "LONG", False)]
    _, columns = answer(door, "select table_name, ordinal_position, column_name, data_type from information_schema.columns "
                              "WHERE table_name IN ('grafana_trades') ORDER BY ordinal_position")
    _, want = answer(oracle, "select table_name, ordinal_position, column_name, data_type from information_schema.columns "
                             "WHERE table_name IN ('grafana_trades') ORDER BY ordinal_position")
    assert columns == want
    epoch = dt.datetime(1970, 1, 1)
    micros = lambda at: (at - epoch) // dt.timedelta(microseconds=1)  # noqa: E731
    names, got = answer(door, f"SELECT ts AS time, sym, avg(px) AS px FROM grafana_trades WHERE ts >= "
                              f"cast({micros(FROM)} as timestamp) AND ts <= cast({micros(TO)} as timestamp) "
                              f"SAMPLE BY 5m ORDER BY 1, 2")
    _, want = answer(oracle, expand("SELECT $__timeGroupAlias(ts, '5m'), sym, avg(px) AS px FROM grafana_trades "
                                    "WHERE $__timeFilter(ts) GROUP BY 1, 2 ORDER BY 1, 2"))
    same((names, [((t - epoch).total_seconds(), s, p) for t, s, p in got]), (names, want), "questdb plugin")
    assert len(want) > 100
