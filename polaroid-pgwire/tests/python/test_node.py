"""Node.js's PostgreSQL drivers on the door: node-postgres (`pg`), which
sends every bound value as text of no declared type and lets the server
type it by the query, and postgres.js, which prepares its statements and
has its own cursor and transaction helpers. `tests/node/pg_clients.mjs`
runs the same steps against the door and against a real PostgreSQL 15
holding the same rows: their answers must agree."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import same_client_answers

CLIENTS = Path(__file__).resolve().parents[1] / "node" / "pg_clients.mjs"


def run(port: int, user: str, database: str) -> list[dict]:
    node = shutil.which("node")
    if node is None or not (CLIENTS.parent / "node_modules" / "postgres").is_dir():
        pytest.fail("Node.js or its drivers are missing (ci/install-deps.sh runs npm ci in polaroid-pgwire/tests/node)")
    done = subprocess.run([node, str(CLIENTS), str(port), user, database], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_node_drivers_answer_as_postgresql(both):
    got = run(both.server.pg_port, "admin", "qdb")
    want = run(both.postgres.port, "postgres", "postgres")
    same_client_answers(got, want)
    steps = {a["step"]: a for a in got}
    # `qty > $2` with 400 sent as text: compared as a number (it failed).
    assert [row[2] for row in steps["pg untyped values"]["rows"]] == ["420", "434", "448", "490"]
    assert steps["postgres.js cursor"]["rows"] == [[10, "2026-11-23T14:30:00.000Z"], [10, "2026-11-23T14:31:10.000Z"],
                                                   [5, "2026-11-23T14:32:20.000Z"]]
    bad = steps["pg bad number"]
    assert bad["code"] == "22P02" and 'bigint: "lots" (parameter $1)' in bad["error"]
