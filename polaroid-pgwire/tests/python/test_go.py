"""Go's PostgreSQL drivers on the door: pgx (Debian's v4 with its pool;
Grafana's backend uses v5, whose protocol is the same) and lib/pq through
database/sql (the driver of QuestDB's own Grafana plugin). The steps: the
ping pgxpool sends before it reuses a rested connection, Grafana's way to
run a panel's SQL (`PgConn().Exec`, the simple protocol, values decoded by
type oid), typed queries with parameters (pgx's prepared and cached
statements with binary values; lib/pq's unnamed ones with text values), a
batch, COPY FROM STDIN (pgx's binary CopyFrom, lib/pq's text CopyIn) and a
transaction. `tests/go/pgx_client.go` and `pq_client.go` run the same
steps against the door and against a real PostgreSQL 15 holding the same
rows: their answers must agree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import same_client_answers

CLIENTS = Path(__file__).resolve().parents[1] / "go"
# Debian's Go libraries (golang-github-jackc-pgx-v4-dev, golang-github-lib-pq-dev), built in GOPATH mode.
GOPATH = Path("/usr/share/gocode")

# Each step is a block: its first line names it (pgx_client.go's main), the
# rest is its SQL. qty_over runs twice: the second time pgx runs the
# statement it prepared and cached the first time.
STEPS = """
ping
;;
grafana
SELECT floor(extract(epoch from ts)/300)*300 AS "time", sym AS metric, avg(px) AS px FROM grafana_trades
WHERE ts BETWEEN '2026-11-23T15:00:00Z' AND '2026-11-23T16:00:00Z' GROUP BY 1, 2 ORDER BY 1, 2
;;
grafana
SELECT current_setting('server_version_num')::int/100 as version
;;
query sym_since
SELECT ts, sym, px, qty FROM grafana_trades WHERE sym = $1 AND ts >= $2 ORDER BY ts LIMIT 5
;;
query qty_over
SELECT sym, count(*) AS n, sum(px) AS px FROM grafana_trades WHERE qty > $1 GROUP BY sym ORDER BY sym
;;
query qty_over
SELECT sym, count(*) AS n, sum(px) AS px FROM grafana_trades WHERE qty > $1 GROUP BY sym ORDER BY sym
;;
exec new_trade
INSERT INTO grafana_trades (ts, sym, px, qty) VALUES ($1, $2, $3, $4)
;;
exec null_trade
INSERT INTO grafana_trades (ts, sym, px, qty) VALUES ($1, $2, $3, $4)
;;
query none
SELECT ts, sym, px, qty FROM grafana_trades WHERE sym = 'AMZN' ORDER BY ts
;;
batch
SELECT count(*) AS n FROM grafana_trades
SELECT max(px) AS high FROM grafana_trades WHERE sym = 'NVDA'
SELECT sym, ts FROM grafana_trades WHERE px > 199 ORDER BY ts LIMIT 2
;;
copy go_copy
;;
query none
SELECT sym, count(*) AS n, count(qty) AS q, sum(px) AS px, min(ts) AS first, max(ts) AS last FROM go_copy
GROUP BY sym ORDER BY sym
;;
tx
INSERT INTO go_copy (ts, sym, px, qty) VALUES ('2026-11-26T00:00:00Z', 'D', 1.5, 2)
INSERT INTO go_copy (ts, sym, px, qty) VALUES ('2026-11-26T00:00:01Z', 'D', 2.5, 3)
;;
query none
SELECT sym, sum(px) AS px, sum(qty) AS qty FROM go_copy WHERE sym = 'D' GROUP BY sym
;;
query none
SELECT nothing FROM grafana_trades
;;
query none
SELECT count(*) AS n FROM grafana_trades
"""


@pytest.fixture(scope="module")
def go_clients() -> Iterator[dict[str, Path]]:
    go = shutil.which("go")
    libraries = [GOPATH / "src/github.com/jackc/pgx/v4", GOPATH / "src/github.com/lib/pq"]
    if go is None or not all(library.is_dir() for library in libraries):
        pytest.fail("Go, pgx or lib/pq is not installed (ci/install-deps.sh installs Debian's golang-go, "
                    "golang-github-jackc-pgx-v4-dev and golang-github-lib-pq-dev)")
    with tempfile.TemporaryDirectory(prefix="polaroid-go-") as tmp:
        env = {**os.environ, "GO111MODULE": "off", "GOPATH": str(GOPATH), "GOCACHE": str(Path(tmp) / "cache")}
        built = {}
        for name in ["pgx_client", "pq_client"]:
            built[name] = Path(tmp) / name
            sources = [str(CLIENTS / "steps.go"), str(CLIENTS / f"{name}.go")]
            subprocess.run([go, "build", "-o", str(built[name]), *sources], env=env, check=True, capture_output=True,
                           timeout=600)
        yield built


def run(client: Path, dsn: str) -> list[dict]:
    done = subprocess.run([str(client), dsn], input=STEPS, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_pgx_answers_as_postgresql(both, go_clients):
    got = run(go_clients["pgx_client"], both.server.dsn())
    want = run(go_clients["pgx_client"], both.postgres.dsn())
    same_client_answers(got, want)
    by_step = [(a["step"], a.get("tag"), len(a.get("rows") or [])) for a in got]
    # pgx's ping is an empty query (no result); the other steps did their work.
    assert by_step[0] == ("ping", 'results []', 0) and by_step[1] == ("pool ping", None, 0)
    assert ("copy", "2500 rows", 0) in by_step
    assert got[-1]["rows"] == [[3002]] and got[-2]["code"] == "42703"


def test_lib_pq_answers_as_postgresql(both, go_clients):
    # The same steps after pgx's: its rows are in both servers' tables.
    got = run(go_clients["pq_client"], f"postgres://admin:quest@127.0.0.1:{both.server.pg_port}/qdb?sslmode=disable")
    want = run(go_clients["pq_client"], f"postgres://postgres@127.0.0.1:{both.postgres.port}/postgres?sslmode=disable")
    same_client_answers(got, want)
    steps = [(a["step"], a.get("tag")) for a in got]
    assert steps[0] == ("ping", None) and ("copy", "2500 rows") in steps and ("exec", "1 rows") in steps
    assert got[-2]["code"] == "42703" and got[-1]["rows"] == [[3004]]
