"""Two polaroid-server binaries side by side through /exec: small queries (where planning
is most of the time), a 1M-row GROUP BY, and the same on the standalone Ballista cluster
(`distributed=true`). Both servers run at once and are called in alternating blocks; each
query's median per server and their ratio are printed.

    .venv/bin/python polaroid-http/benches/exec_ab.py A-binary B-binary [rounds]

Used to weigh a build setting or a change that does not alter results (opt-level per
package, Ballista's partitions): the ratio of a binary with itself shows the noise.
"""
import json
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
import conftest  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

A, B = sys.argv[1], sys.argv[2]
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 4
rng = np.random.default_rng(3)

def ex(srv, q, dist=False):
    p = {"query": q}
    if dist: p["distributed"] = "true"
    with urllib.request.urlopen(f"{srv.url}/exec?" + urllib.parse.urlencode(p)) as r:
        d = json.load(r)
    assert "error" not in d, d
    return d

QUERIES = [
    ("sql small group", "SELECT sym, count(*) AS n, avg(px) AS a FROM read_parquet('small.parquet') GROUP BY sym ORDER BY sym", False, 50),
    ("sql small join", "SELECT a.sym, sum(b.px) AS s FROM read_parquet('small.parquet') a JOIN read_parquet('small.parquet') b ON a.sym = b.sym WHERE a.px > 0.9 GROUP BY a.sym ORDER BY a.sym", False, 30),
    ("questdb sample by", "SELECT ts, sym, avg(px) FROM small_t SAMPLE BY 1m ORDER BY ts, sym", False, 50),
    ("questdb asof", "SELECT t.sym, t.ts, q.px FROM small_t t ASOF JOIN small_t q ON (sym) LIMIT 100", False, 50),
    ("sql 1M group", "SELECT sym, count(*) AS n, avg(px) AS a, max(qty) AS m FROM read_parquet('big.parquet') GROUP BY sym ORDER BY sym", False, 10),
    ("ballista small", "SELECT sym, count(*) AS n FROM \"small.parquet\" GROUP BY sym ORDER BY sym", True, 20),
    ("ballista 1M group", "SELECT sym, count(*) AS n, avg(px) AS a, max(qty) AS m FROM \"big.parquet\" GROUP BY sym ORDER BY sym", True, 5),
    # Ballista's adaptive planner broadcasts the small side once it has read it.
    ("ballista 1M join", "SELECT d.grp, count(*) AS n, sum(b.px) AS s FROM \"big.parquet\" b JOIN \"dim.parquet\" d ON b.sym = d.sym GROUP BY d.grp ORDER BY d.grp", True, 5),
]

with tempfile.TemporaryDirectory() as tmp:
    servers = {}
    for name, binary in (("A", A), ("B", B)):
        d = Path(tmp) / name; d.mkdir()
        for fname, n in (("small.parquet", 1000), ("big.parquet", 1_000_000)):
            pl.DataFrame({"sym": [f"S{i % 20}" for i in range(n)], "px": rng.random(n), "qty": rng.integers(1, 100, n),
                          "ts": pl.datetime_range(pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 1) + pl.duration(seconds=n - 1), "1s", eager=True)}).write_parquet(d / fname)
        pl.DataFrame({"sym": [f"S{i}" for i in range(20)], "grp": [f"G{i % 3}" for i in range(20)]}).write_parquet(d / "dim.parquet")
        conftest.SERVER = binary
        servers[name] = conftest.Server(d)
        ex(servers[name], "CREATE TABLE small_t AS (SELECT sym, px, ts FROM read_parquet('small.parquet')) TIMESTAMP(ts) PARTITION BY DAY")
    try:
        res = {(q[0], s): [] for q in QUERIES for s in servers}
        for q in QUERIES:  # warm
            for s in servers.values():
                ex(s, q[1], q[2])
        for r in range(ROUNDS):
            for order in (("A", "B"), ("B", "A")):
                for name in order:
                    for label, sql, dist, n in QUERIES:
                        for _ in range(n // 2 if n > 1 else 1):
                            t = time.perf_counter(); ex(servers[name], sql, dist); res[(label, name)].append(time.perf_counter() - t)
        for label, *_ in QUERIES:
            a, b = statistics.median(res[(label, "A")]), statistics.median(res[(label, "B")])
            print(f"{label:20s} A {a*1e3:8.2f} ms  B {b*1e3:8.2f} ms  B/A {b/a:5.2f}")
    finally:
        for s in servers.values(): s.stop()
