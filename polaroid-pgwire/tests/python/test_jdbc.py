"""PostgreSQL's JDBC driver (Debian's libpostgresql-jdbc-java, which
ci/install-deps.sh installs) on the PostgreSQL door: what DBeaver,
Metabase or Spark's JDBC source do. ../java/JdbcClient.java runs against
the server and prints what it read; here it is checked against
python-polars on the same file, and the rows it inserted are read back
through psycopg."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import polars as pl
import psycopg

from conftest import trades

JAR = Path("/usr/share/java/postgresql.jar")
CLIENT = Path(__file__).resolve().parents[1] / "java" / "JdbcClient.java"


def run_client(server) -> dict[str, list[list[str]]]:
    assert JAR.exists(), f"{JAR} is missing: ci/install-deps.sh installs Debian's libpostgresql-jdbc-java"
    java = shutil.which("java")
    assert java, "java is missing: ci/install-deps.sh installs a JRE"
    done = subprocess.run([java, "-cp", str(JAR), str(CLIENT), str(server.pg_port)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    lines: dict[str, list[list[str]]] = {}
    for line in done.stdout.splitlines():
        kind, *values = line.split("\t")
        lines.setdefault(kind, []).append(values)
    return lines


def test_jdbc_reads_writes_and_browses_the_schema(server):
    got = run_client(server)
    assert got["version"] == [["15.0"]]

    want = trades().filter(pl.col("px") > 150).sort("ts")
    rows = [[dt.datetime.fromisoformat(ts), sym, float(px), None if qty == "null" else int(qty)]
            for ts, sym, px, qty in got["row"]]
    assert rows == [list(r) for r in want.rows()]

    every = trades()
    [[count, total]] = got["fetched"]
    assert int(count) == every.height
    assert abs(float(total) - every["px"].sum()) < 1e-6

    assert got["inserted"] == [["100"]]
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        back = conn.execute("SELECT ts, sym, px, qty FROM jdbc_fills ORDER BY ts").fetchall()
    start = dt.datetime(2024, 1, 2, 9, 30)
    assert back == [(start + dt.timedelta(seconds=i), "AAPL" if i % 2 == 0 else "MSFT", 100 + i * 0.25,
                     None if i % 10 == 0 else i) for i in range(100)]
    assert got["count"] == [["100"]]

    assert ["public"] in got["schema"]
    assert ["public", "jdbc_fills", "TABLE"] in got["table"]
    # Name, the type's name, java.sql.Types, position, nullable.
    assert got["column"] == [["ts", "timestamp", "93", "1", "YES"], ["sym", "varchar", "12", "2", "YES"],
                             ["px", "float8", "8", "3", "YES"], ["qty", "int8", "-5", "4", "YES"]]
    assert got["primary_keys"] == got["imported_keys"] == got["indexes"] == got["functions"] == got["udts"] == [["0"]]
    # getTypeInfo (it failed: the driver walks the search path with
    # generate_series over current_schemas), with java.sql.Types as
    # PostgreSQL's driver gives them for PostgreSQL.
    types = {name: int(code) for name, code in got["type"]}
    assert {t: types[t] for t in ["int8", "float8", "varchar", "text", "timestamp", "bool", "_float8"]} == {
        "int8": -5, "float8": 8, "varchar": 12, "text": 12, "timestamp": 93, "bool": -7, "_float8": 2003}
    # No grants: the owner holds PostgreSQL's seven table privileges (they failed: no pg_roles).
    assert sorted(got["privilege"]) == [["polaroid", p] for p in
                                        sorted(["DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"])]
    assert got["column_privileges"] == [["28"]]
    # qty of 09:30:00..02 is null, 1, 2 (every tenth is null).
    assert got["array"] == [["[null, 1, 2]", "Infinity"]]
    assert got["error"] == [["42703"]]
