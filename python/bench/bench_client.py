"""The Python client's costs, each beside its baseline in the same run.

1. Throughput: ``RemoteFrame.to_arrow()`` beside pyarrow.flight DoGet of the
   same handle (same server, same table), median of several runs.
2. Overhead: a 10-step query built and collected through the client beside
   the same query in local python-polars on the same (small) data, so the
   difference is the per-step round trips, not the work.
3. Small results: ``collect()`` of a one-row SQL result and of a held
   1,000-row frame beside pyarrow.flight DoGet of the same handles (median of
   many: what a notebook or a dashboard waits for).

    make bench-python      # or: POLAROID_SERVER=... .venv/bin/python python/bench/bench_client.py

POLAROID_BENCH_ROWS (default 20M: 640 MB of Arrow data) and
POLAROID_BENCH_RUNS (5) size it.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import polars as pl
from polars.testing import assert_frame_equal
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight

import polaroid as pr

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "polaroid-grpc", "tests", "python"))
from test_flight import Server, put  # noqa: E402

ROWS = int(os.environ.get("POLAROID_BENCH_ROWS", 20_000_000))
RUNS = int(os.environ.get("POLAROID_BENCH_RUNS", 5))


def timed(fn, runs=RUNS):
    times, out = [], None
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return times, out


def ten_steps(lf, col, len_):
    return (lf.filter(col("size") > 10)
              .with_columns((col("price") * col("size")).alias("notional"))
              .filter(col("notional") > 100)
              .with_columns((col("id") % 7).alias("bucket"))
              .select("bucket", "price", "size", "notional")
              .with_columns((col("price") * 2).alias("p2"))
              .group_by("bucket").agg(len_().alias("n"), col("notional").sum())
              .filter(col("n") > 0)
              .sort("bucket")
              .head(5))


def main() -> None:
    ids = pa.array(range(ROWS), pa.int64())
    table = pa.table({
        "id": ids,
        "price": pc.divide(pc.cast(ids, pa.float64()), 7.0),
        "size": pc.bit_wise_and(ids, 4095),
        "ts": pc.cast(pc.add(ids, 1_700_000_000_000_000), pa.timestamp("us")),
    })
    server = Server("--memory-limit", "8GiB")
    try:
        fl = flight.connect(server.location)
        handle = put(fl, "bench", table)
        do_get_times, got = timed(lambda: fl.do_get(flight.Ticket(handle)).read_all())
        assert got.equals(table), "DoGet returned a different table"
        with pr.connect(f"127.0.0.1:{server.port}") as client:
            frame = client.attach(handle)
            to_arrow_times, got = timed(frame.to_arrow)
            assert got.equals(table), "to_arrow returned a different table"

            small = pl.DataFrame({"id": range(1000), "price": [i / 7 for i in range(1000)],
                                  "size": [i % 50 for i in range(1000)]})
            remote_small = client.from_polars(small)
            remote_times, remote_out = timed(lambda: ten_steps(remote_small, pr.col, pr.len).collect(), runs=RUNS * 4)
            local_times, local_out = timed(lambda: ten_steps(small.lazy(), pl.col, pl.len).collect(), runs=RUNS * 4)
            # Float sums may add in another order: equal within polars' default tolerance.
            assert_frame_equal(remote_out, local_out)

            one_row = client.sql("SELECT 1 AS x")
            small_times = {}
            for label, frame_ in (("one-row SQL result", one_row), ("1,000-row frame", remote_small)):
                assert_frame_equal(frame_.collect(), pl.from_arrow(fl.do_get(flight.Ticket(frame_.id)).read_all()))
                small_times[label] = (timed(frame_.collect, runs=RUNS * 40)[0],
                                      timed(lambda: fl.do_get(flight.Ticket(frame_.id)).read_all(), runs=RUNS * 40)[0])
        fl.close()
    finally:
        server.stop()

    nbytes = table.nbytes
    gbs = lambda times: nbytes / statistics.median(times) / 1e9  # noqa: E731
    print(f"\n{ROWS:,} rows x 4 fixed-width columns = {nbytes / 1e6:.0f} MB of Arrow data, {RUNS} runs each")
    print(f"{'path':34} {'median GB/s':>12} {'median s':>9}")
    print(f"{'DoGet (pyarrow.flight)':34} {gbs(do_get_times):12.2f} {statistics.median(do_get_times):9.3f}")
    print(f"{'to_arrow() (polaroid client)':34} {gbs(to_arrow_times):12.2f} {statistics.median(to_arrow_times):9.3f}")
    ratio = statistics.median(to_arrow_times) / statistics.median(do_get_times)
    print(f"to_arrow() time / DoGet time: {ratio:.2f}x (target <= 1.5x)")
    r, l = statistics.median(remote_times) * 1e3, statistics.median(local_times) * 1e3
    print(f"\n10-step query on 1,000 rows: client {r:.1f} ms, local python-polars {l:.1f} ms, "
          f"overhead {r - l:.1f} ms ({(r - l) / 10:.2f} ms per step)")
    for label, (ours, doget) in small_times.items():
        c, d = statistics.median(ours) * 1e3, statistics.median(doget) * 1e3
        print(f"collect() of a {label}: {c:.2f} ms median, pyarrow.flight DoGet {d:.2f} ms ({c / d:.2f}x)")


if __name__ == "__main__":
    main()
