"""Server CPU per 1M ILP rows over HTTP, for two or more server binaries,
called alternately (A/B of a change to ingest).

    .venv/bin/python polaroid-http/benches/ilp_server_cpu.py ROUNDS BIN_A BIN_B [BIN ...]

e.g. a release build of main copied aside, then the change built:

    cp target/release/polaroid-server /tmp/before
    # ...the change, then the Makefile's release build:
    cargo build --release --locked -p polaroid-server -p polaroid-cli --bins
    .venv/bin/python polaroid-http/benches/ilp_server_cpu.py 8 /tmp/before target/release/polaroid-server

Each round starts every binary in turn on a fresh data directory and sends
1M rows (http_bench's frame) with QuestDB's official client (Sender.dataframe,
50k-row flushes, each fsync'd before its 204) three times, to a new table
each time; the first is a warm-up. A server's CPU time (user + system,
from /proc) is counted per ingest: on a busy two-core VM it moves far less
than wall time, but still by ±10 % between ingests, so compare medians of
several rounds, never one run.

POLAROID_BENCH_ILP_DAYS=N spreads the rows' timestamps evenly over N days
(a backfill: each checkpoint of 250k rows then spans N/4 day partitions);
by default they are 1 ms apart, all in one day.

POLAROID_BENCH_ILP_TAGS=unique gives every row a tag value of its own (the
symbol column holds 3M distinct values over the three ingests, 50 by
default). Each binary's resident memory after its ingests is printed too.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_bench import frame  # noqa: E402  (it puts tests/python on the path)
import conftest  # noqa: E402
from questdb import Sender  # noqa: E402

ROWS, FLUSH = 1_000_000, 50_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    # utime and stime: fields 14 and 15 of /proc/PID/stat, counted after
    # the command name (which may hold spaces) closes with ')'.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def resident_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024


def ingests(binary: str, rows) -> tuple[list[tuple[float, float]], float]:
    """(server CPU s, wall s) of each measured ingest; the server's RSS after them (MiB)."""
    conftest.SERVER = binary  # the binary the tests' Server starts
    with tempfile.TemporaryDirectory() as data:
        server = conftest.Server(Path(data))
        try:
            measured = []
            for i in range(3):
                cpu, wall = cpu_seconds(server.proc.pid), time.perf_counter()
                batch = rows
                if os.environ.get("POLAROID_BENCH_ILP_TAGS") == "unique":
                    batch = rows.assign(sym=[f"T{i}-{n}" for n in range(ROWS)])
                with Sender.from_conf(f"http::addr=127.0.0.1:{server.http_port};auto_flush=off;") as sender:
                    for start in range(0, ROWS, FLUSH):
                        sender.dataframe(batch.iloc[start:start + FLUSH], table_name=f"t{i}", symbols=["sym"], at="ts")
                        sender.flush()
                if i:  # the first is a warm-up
                    measured.append((cpu_seconds(server.proc.pid) - cpu, time.perf_counter() - wall))
            return measured, resident_mib(server.proc.pid)
        finally:
            server.stop()


def main() -> None:
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    rounds, binaries = int(sys.argv[1]), sys.argv[2:]
    rows = frame(ROWS)
    if days := float(os.environ.get("POLAROID_BENCH_ILP_DAYS", "0")):
        step = int(days * 86_400_000_000 / ROWS)
        first = rows["ts"].dt.epoch("us")[0]
        rows = rows.with_columns((pl.int_range(ROWS, eager=True) * step + first).cast(pl.Datetime("us")).alias("ts"))
    rows = rows.to_pandas()
    cpu: dict[str, list[float]] = {b: [] for b in binaries}
    rss: dict[str, list[float]] = {b: [] for b in binaries}
    for r in range(rounds):
        for b in binaries:
            measured, resident = ingests(b, rows)
            cpu[b].extend(c for c, _ in measured)
            rss[b].append(resident)
            print(f"round {r + 1} {b}: " + ", ".join(f"cpu {c:.2f} s wall {w:.2f} s" for c, w in measured)
                  + f", RSS after {resident:.0f} MiB", flush=True)
    base = sorted(cpu[binaries[0]])[len(cpu[binaries[0]]) // 2]
    for b in binaries:
        got = sorted(cpu[b])
        median = got[len(got) // 2]
        resident = sorted(rss[b])[len(rss[b]) // 2]
        print(f"{b}: server CPU per 1M rows, median {median:.3f} s (range {got[0]:.2f}-{got[-1]:.2f}), "
              f"{median / base:.2f}x the first binary's; RSS after the ingests, median {resident:.0f} MiB")


if __name__ == "__main__":
    main()
