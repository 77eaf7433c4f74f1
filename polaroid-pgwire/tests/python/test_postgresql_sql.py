"""SQL that users of PostgreSQL's clients write, answered by the door as a
real PostgreSQL 15 answers it over the same rows. The door speaks QuestDB's
SQL; where QuestDB and PostgreSQL agree (they do on all of these), so must
the door. Columns are aliased: unnamed columns are named by each dialect's
own rule (PostgreSQL's `?column?`, QuestDB's `column`)."""

from __future__ import annotations

import math
import subprocess
from decimal import Decimal

import pytest

QUERIES = [
    # Integer division truncates toward zero, as both divide (it was true division).
    "SELECT 7 / 2 AS a, -7 / 2 AS b, 7.0 / 2 AS c, 7 % 3 AS d",
    "SELECT qty, qty / 7 AS q, qty / 2.0 AS h FROM grafana_trades WHERE qty IS NOT NULL ORDER BY ts LIMIT 20",
    # (PostgreSQL's sum of bigints is numeric, QuestDB's a long: cast, both are integers.)
    "SELECT sym, sum(qty)::bigint / count(qty) AS mean_lot FROM grafana_trades GROUP BY sym ORDER BY sym",
    "SELECT current_setting('server_version_num')::int / 100 AS version",
    # Time.
    "SELECT date_trunc('hour', ts) AS h, count(*) AS n FROM grafana_trades GROUP BY 1 ORDER BY 1",
    "SELECT extract(hour from ts) AS h, count(*) AS n FROM grafana_trades GROUP BY 1 ORDER BY 1",
    "SELECT ts::date AS d, count(*) AS n FROM grafana_trades GROUP BY 1 ORDER BY 1",
    "SELECT count(*) AS n FROM grafana_trades WHERE ts > TIMESTAMP '2026-11-23 20:00:00' - INTERVAL '1 hour'",
    "SELECT count(*) AS n FROM grafana_trades WHERE ts >= '2026-11-23' AND ts < '2026-11-24'",
    "SELECT sym, max(ts) - min(ts) AS span FROM grafana_trades GROUP BY sym ORDER BY sym",
    "SELECT extract(epoch from max(ts) - min(ts)) AS seconds FROM grafana_trades",
    "SELECT date_part('dow', ts) AS dow, count(*) AS n FROM grafana_trades GROUP BY 1",
    # PostgreSQL's date_bin (patch 0108; "unsupported function" before): bins from an origin, before or after the rows.
    "SELECT date_bin('15 minutes', ts, TIMESTAMP '2000-01-01') AS b, count(*) AS n FROM grafana_trades GROUP BY 1 ORDER BY 1",
    "SELECT date_bin(INTERVAL '7 minutes', ts, TIMESTAMP '2026-11-23 16:31:30') AS b, max(px) AS hi FROM grafana_trades "
    "GROUP BY 1 ORDER BY 1",
    "SELECT ts, date_bin('90 seconds', ts, '2026-11-23 00:00:20') AS b FROM grafana_trades ORDER BY ts LIMIT 30",
    # PostgreSQL's TO_CHAR of timestamps and dates (patch 0109; "unsupported function" before).
    "SELECT to_char(ts, 'YYYY-MM-DD HH24:MI:SS') AS a, to_char(ts, 'DD Mon YYYY') AS b, to_char(ts, 'HH12:MI AM') AS c "
    "FROM grafana_trades ORDER BY ts LIMIT 3",
    "SELECT to_char(ts, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS') AS a, to_char(ts, 'FMMM/FMDD/YYYY FMHH12 pm') AS b, "
    "to_char(ts, 'Dy DDD IW yy') AS c FROM grafana_trades ORDER BY ts DESC LIMIT 3",
    "SELECT to_char(ts::date, 'YYYY-MM-DD') AS a, to_char(ts, 'FMDay, FMMonth FMDD') AS b, to_char(ts, 'US \"%\" SS') AS c "
    "FROM grafana_trades ORDER BY ts LIMIT 2",
    # Windows.
    "SELECT sym, row_number() OVER (PARTITION BY sym ORDER BY ts) AS rn, px FROM grafana_trades ORDER BY ts LIMIT 9",
    "SELECT sym, lag(px) OVER (PARTITION BY sym ORDER BY ts) AS prev FROM grafana_trades ORDER BY ts LIMIT 6",
    "SELECT sym, first_value(px) OVER w AS first, last_value(px) OVER w AS last FROM grafana_trades "
    "WINDOW w AS (PARTITION BY sym ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) ORDER BY ts LIMIT 6",
    "SELECT sym, px, rank() OVER (PARTITION BY sym ORDER BY px DESC) AS r, dense_rank() OVER (PARTITION BY sym ORDER BY px "
    "DESC) AS dr FROM grafana_trades ORDER BY sym, r, ts LIMIT 12",
    "SELECT sym, ntile(4) OVER (PARTITION BY sym ORDER BY ts) AS q, ts FROM grafana_trades ORDER BY ts LIMIT 12",
    "SELECT px, percent_rank() OVER (ORDER BY px) AS pr, cume_dist() OVER (ORDER BY px) AS cd FROM grafana_trades "
    "WHERE ts < '2026-11-23 14:33' ORDER BY px, ts",
    "SELECT sym, avg(px) OVER (PARTITION BY sym ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS ma "
    "FROM grafana_trades ORDER BY ts LIMIT 6",
    "SELECT sym, sum(qty) OVER (PARTITION BY sym ORDER BY ts) AS run FROM grafana_trades ORDER BY ts LIMIT 6",
    # Aggregates.
    "SELECT count(DISTINCT sym) AS n FROM grafana_trades",
    "SELECT sym, sum(px * qty) / sum(qty) AS vwap FROM grafana_trades GROUP BY sym ORDER BY sym",
    "SELECT CASE WHEN px > 150 THEN 'hi' WHEN px > 120 THEN 'mid' ELSE 'lo' END AS band, count(*) AS n "
    "FROM grafana_trades GROUP BY 1 ORDER BY 1",
    "SELECT sym, percentile_cont(0.5) WITHIN GROUP (ORDER BY px) AS med FROM grafana_trades GROUP BY sym ORDER BY sym",
    "SELECT sym, count(*) FILTER (WHERE qty > 250) AS big FROM grafana_trades GROUP BY sym ORDER BY sym",
    "SELECT round(avg(px)::numeric, 2) AS a FROM grafana_trades",
    "SELECT sym, stddev(px) AS sd, variance(px) AS var FROM grafana_trades GROUP BY sym ORDER BY sym",
    "SELECT sym, bool_and(px > 100) AS all_over, bool_or(px > 199) AS any_over FROM grafana_trades GROUP BY sym ORDER BY sym",
    "SELECT sym, sum(qty) AS qty FROM grafana_trades GROUP BY ROLLUP (sym) ORDER BY sym NULLS LAST",
    "SELECT sym, count(*) AS n FROM grafana_trades GROUP BY sym HAVING count(*) > 10 ORDER BY 2 DESC, 1",
    # Text, nulls, sets.
    "SELECT upper(sym) AS u, lower(sym) AS l, length(sym) AS n, substring(sym from 2 for 2) AS s, sym || '-x' AS x "
    "FROM grafana_trades ORDER BY ts LIMIT 3",
    "SELECT count(*) AS n FROM grafana_trades WHERE sym ILIKE 'm%'",
    "SELECT split_part('a,b,c', ',', 2) AS a, replace('abc', 'b', 'x') AS b, lpad('5', 3, '0') AS c, left('abc', 2) AS d",
    "SELECT coalesce(qty, -1) AS q, count(*) AS n FROM grafana_trades WHERE qty IS NULL OR qty < 3 GROUP BY 1 ORDER BY 1",
    "SELECT greatest(px, 150) AS g, least(px, 150) AS l, nullif(sym, 'AAPL') AS s FROM grafana_trades ORDER BY ts LIMIT 3",
    "SELECT count(*) AS n FROM grafana_trades WHERE sym IN ('AAPL', 'MSFT') AND qty BETWEEN 100 AND 200",
    "SELECT DISTINCT ON (sym) sym, ts, px FROM grafana_trades ORDER BY sym, ts DESC",
    "WITH h AS (SELECT date_trunc('hour', ts) AS h, avg(px) AS a FROM grafana_trades GROUP BY 1) SELECT h, a FROM h ORDER BY h",
    "SELECT a.sym, count(*) AS n FROM grafana_trades a JOIN grafana_trades b ON a.ts = b.ts GROUP BY a.sym ORDER BY 1",
    "SELECT sym FROM grafana_trades UNION SELECT 'ZZZ' ORDER BY 1",
    "SELECT EXISTS (SELECT 1 FROM grafana_trades WHERE px > 199) AS e",
    "SELECT ts FROM grafana_trades ORDER BY ts DESC LIMIT 2 OFFSET 1",
    "SELECT ts FROM grafana_trades ORDER BY ts FETCH FIRST 3 ROWS ONLY",
    "SELECT ts + INTERVAL '1 day' AS a, ts - INTERVAL '30 seconds' AS b, ts::time AS t FROM grafana_trades ORDER BY ts LIMIT 2",
    "SELECT t.sym, t.px FROM grafana_trades t WHERE t.px = (SELECT max(px) FROM grafana_trades u WHERE u.sym = t.sym) "
    "ORDER BY t.sym, t.ts LIMIT 5",
    "SELECT a.sym, b.sym AS other FROM (SELECT DISTINCT sym FROM grafana_trades) a "
    "CROSS JOIN (SELECT DISTINCT sym FROM grafana_trades) b WHERE a.sym < b.sym ORDER BY 1, 2",
    "SELECT count(*) AS n FROM grafana_trades WHERE qty IS DISTINCT FROM 420",
    "SELECT 10 / 4 * 2 AS a, 10 % 4 AS b, -10 / 4 AS c, 10 / 4.0 AS d, 2 + 3 * 4 AS e",
    "SELECT x FROM generate_series(1, 3) AS g(x)",
    # Arrays: lists are sent as PostgreSQL's arrays of their type (they were refused).
    "SELECT sym, array_agg(px ORDER BY ts) AS pxs, array_agg(qty ORDER BY ts) AS qtys, array_agg(ts ORDER BY ts) AS tss "
    "FROM grafana_trades WHERE ts < '2026-11-23 14:32' GROUP BY sym ORDER BY sym",
    "SELECT array_agg(sym ORDER BY ts) AS syms FROM grafana_trades WHERE ts < '2026-11-23 14:31'",
    "SELECT ARRAY[1, 2, 3] AS a, ARRAY['x', 'a b', '', 'NULL', 'q\"uote', 'back\\slash', '{}', 'c,d'] AS b",
]


def plain(value):
    return float(value) if isinstance(value, Decimal) else value


def answer(conn, sql: str) -> tuple[list[str], list[tuple]]:
    cur = conn.execute(sql)
    return [c.name for c in cur.description], [tuple(plain(v) for v in row) for row in cur.fetchall()]


@pytest.mark.parametrize("sql", QUERIES)
def test_the_door_answers_as_postgresql(both, sql):
    got, want = answer(both.door, sql), answer(both.oracle, sql)
    assert got[0] == want[0]
    assert len(got[1]) == len(want[1]), (got, want)
    for g, w in zip(got[1], want[1]):
        for a, b in zip(g, w, strict=True):
            if isinstance(b, float):
                assert a == pytest.approx(b, rel=1e-9), (g, w)
            else:
                # An integer stays an integer (7 / 2 is 3, not 3.5).
                assert a == b and type(a) is type(b), (g, w)


@pytest.mark.parametrize("sql", [q for q in QUERIES if "array_agg" in q])
def test_arrays_in_binary_are_postgresql_s(both, sql):
    # psycopg's binary results (what its binary cursors and asyncpg read).
    # (A literal's type is each dialect's own: ARRAY[1] is bigint[] here.)
    import psycopg

    got = psycopg.Cursor(both.door).execute(sql, binary=True)
    want = psycopg.Cursor(both.oracle).execute(sql, binary=True)
    assert [c.type_code for c in got.description] == [c.type_code for c in want.description]
    assert got.fetchall() == want.fetchall()


FLOATS = [100.0, 0.1, 1e20, 1.5e-7, 123456789012345680.0, 1e15, 1e14, 999999999999999.9, 0.0001, 0.00001, -2.5,
          math.inf, -math.inf, math.nan, 0.0, -0.0, 1 / 3, 1234567.0, 1e6, 100000.0, 0.000123, 5e-324,
          1.7976931348623157e308]


def test_floats_in_text_are_written_as_postgresql_writes_them(both):
    # psql shows the text the server sends: shortest digits, exponents past
    # 1e15 (a real's past 1e6), Infinity and NaN. It was `100.0` and `inf`
    # (which Java's and JavaScript's parsers refuse).
    def shown(conn, port: int, user: str, database: str) -> list[str]:
        conn.execute("CREATE TABLE text_floats (id INT, d DOUBLE PRECISION, r REAL)")
        with conn.cursor() as cur, cur.copy("COPY text_floats (id, d, r) FROM STDIN") as copy:
            for i, v in enumerate(FLOATS):
                copy.write_row((i, v, v if not 0 < abs(v) < 1e-30 and abs(v) < 1e30 or math.isinf(v) else None))
        out = subprocess.run(["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", database,
                              "-c", "SELECT id, d, r FROM text_floats ORDER BY id"], capture_output=True, text=True, check=True)
        return out.stdout.splitlines()

    got = shown(both.door, both.server.pg_port, "admin", "qdb")
    want = shown(both.oracle, both.postgres.port, "postgres", "postgres")
    assert got == want
    assert "2|1e+20|1e+20" in got and "11|Infinity|Infinity" in got and "0|100|100" in got
