"""psycopg2, the driver behind SQLAlchemy's default `postgresql://` URL
(so behind most `pandas.read_sql` and `to_sql` calls): client-side
parameters in the simple protocol, `executemany`, `execute_values`, a
named cursor, `copy_expert` and `copy_from`, errors and rollback, and
SQLAlchemy over it. Each step runs against the door and against a real
PostgreSQL 15 holding the same rows; the answers must agree."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import psycopg2
import psycopg2.errors
import psycopg2.extras
import pytest
import sqlalchemy as sa


def steps(port: int, user: str, database: str) -> dict:
    out = {}
    conn = psycopg2.connect(host="127.0.0.1", port=port, user=user, dbname=database, password="quest")
    cur = conn.cursor()

    def fetch(sql: str, params=None) -> list[tuple]:
        cur.execute(sql, params)
        return cur.fetchall()

    # (PostgreSQL sums bigints as numeric, QuestDB as a long: cast, both are bigints.)
    out["simple"] = fetch("SELECT sym, count(*), avg(px), sum(qty)::bigint FROM grafana_trades GROUP BY sym ORDER BY sym")
    out["params"] = fetch("SELECT ts, px, qty FROM grafana_trades WHERE sym = %s AND qty > %s AND ts >= %s ORDER BY ts LIMIT 5",
                          ("MSFT", 400, dt.datetime(2026, 11, 23, 14, 30)))
    cur.execute("INSERT INTO go_copy (ts, sym, px, qty) VALUES (%s, %s, %s, %s)", (dt.datetime(2026, 11, 28), "Q", 1.5, None))
    out["insert"] = cur.rowcount
    conn.commit()
    cur.executemany("INSERT INTO go_copy (ts, sym, px, qty) VALUES (%s, %s, %s, %s)",
                    [(dt.datetime(2026, 11, 28, 0, 0, i), "Q", i * 1.25, i) for i in range(5)])
    psycopg2.extras.execute_values(cur, "INSERT INTO go_copy (ts, sym, px, qty) VALUES %s",
                                   [(dt.datetime(2026, 11, 29, 0, 0, i), "R", i * 2.5, i) for i in range(5)])
    cur.copy_from(io.StringIO("2026-11-30 00:00:00\tS\t3.5\t4\n2026-11-30 00:00:01\tS\t4.5\t\\N\n"), "go_copy",
                  columns=("ts", "sym", "px", "qty"))
    conn.commit()
    out["written"] = fetch("SELECT sym, count(*), count(qty), sum(px), min(ts) FROM go_copy GROUP BY sym ORDER BY sym")
    named = conn.cursor(name="parts")
    named.itersize = 100
    named.execute("SELECT ts, px FROM grafana_trades ORDER BY ts")
    out["named cursor"] = [named.fetchmany(7), named.fetchone(), sum(1 for _ in named)]
    named.close()
    csv = io.StringIO()
    cur.copy_expert("COPY (SELECT sym, px, ts FROM grafana_trades ORDER BY ts LIMIT 50) TO STDOUT WITH CSV HEADER", csv)
    out["copy_expert"] = csv.getvalue()
    with pytest.raises(psycopg2.errors.UndefinedColumn):
        cur.execute("SELECT nothing FROM grafana_trades")
    conn.rollback()
    out["after an error"] = fetch("SELECT count(*) FROM grafana_trades")
    out["server_version"] = conn.server_version // 10000
    conn.close()

    engine = sa.create_engine(f"postgresql://{user}:quest@127.0.0.1:{port}/{database}")
    out["read_sql"] = pd.read_sql("SELECT sym, max(px) AS hi, min(ts) AS first FROM grafana_trades GROUP BY sym ORDER BY sym",
                                  engine).to_dict("records")
    pd.DataFrame({"a": [1, 2, None], "b": ["x", "y", "z"]}).to_sql("pandas_t", engine, index=False, if_exists="replace")
    out["to_sql"] = pd.read_sql("SELECT * FROM pandas_t ORDER BY b", engine).to_dict("records")
    out["tables"] = sorted(sa.inspect(engine).get_table_names())
    engine.dispose()
    return out


def same(got, want) -> bool:
    """Equal, floats to 1e-12 (sums may add in another order)."""
    if isinstance(want, float):
        return got == pytest.approx(want, rel=1e-12, nan_ok=True)
    if isinstance(want, (list, tuple)):
        return type(got) is type(want) and len(got) == len(want) and all(same(g, w) for g, w in zip(got, want))
    if isinstance(want, dict):
        return got.keys() == want.keys() and all(same(got[k], want[k]) for k in want)
    return got == want and type(got) is type(want)


def test_psycopg2_answers_as_postgresql(both):
    got = steps(both.server.pg_port, "admin", "qdb")
    want = steps(both.postgres.port, "postgres", "postgres")
    for step in want:
        assert same(got[step], want[step]), (step, got[step], want[step])
    assert got["written"][0][:3] == ("Q", 6, 5) and got["named cursor"][2] == 2992
