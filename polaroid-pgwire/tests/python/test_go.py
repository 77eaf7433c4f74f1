"""Go's PostgreSQL driver, pgx (Debian's v4 with its pool; Grafana's
backend uses v5, whose protocol is the same), on the door: the ping pgxpool
sends before it reuses a rested connection, Grafana's way to run a panel's
SQL (`PgConn().Exec`, the simple protocol, values decoded by type oid),
typed queries with parameters (prepared and cached statements, binary
values), a batch sent at once, binary COPY and a transaction.
`tests/go/pgx_client.go` runs the same steps against the door and against
a real PostgreSQL 15 holding the same rows: their answers must agree."""

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

CLIENT = Path(__file__).resolve().parents[1] / "go" / "pgx_client.go"
# Debian's Go libraries (golang-github-jackc-pgx-v4-dev), built in GOPATH mode.
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
def pgx_client() -> Iterator[Path]:
    go = shutil.which("go")
    if go is None or not (GOPATH / "src/github.com/jackc/pgx/v4").is_dir():
        pytest.fail("Go and pgx are not installed (ci/install-deps.sh installs Debian's golang-go and "
                    "golang-github-jackc-pgx-v4-dev)")
    with tempfile.TemporaryDirectory(prefix="polaroid-pgx-") as tmp:
        binary = Path(tmp) / "pgx_client"
        env = {**os.environ, "GO111MODULE": "off", "GOPATH": str(GOPATH), "GOCACHE": str(Path(tmp) / "cache")}
        subprocess.run([go, "build", "-o", str(binary), str(CLIENT)], env=env, check=True, capture_output=True,
                       timeout=600)
        yield binary


def run(client: Path, dsn: str) -> list[dict]:
    done = subprocess.run([str(client), dsn], input=STEPS, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_pgx_answers_as_postgresql(both, pgx_client):
    got = run(pgx_client, both.server.dsn())
    want = run(pgx_client, both.postgres.dsn())
    same_client_answers(got, want)
    by_step = [(a["step"], a.get("tag"), len(a.get("rows") or [])) for a in got]
    # pgx's ping is an empty query (no result); the other steps did their work.
    assert by_step[0] == ("ping", 'results []', 0) and by_step[1] == ("pool ping", None, 0)
    assert ("copy", "2500 rows", 0) in by_step
    assert got[-1]["rows"] == [[3002]] and got[-2]["code"] == "42703"
