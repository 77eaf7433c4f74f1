"""`make bench-run`: a warm `make run`, timed from the command until the
server answers a Flight ListActions on its gRPC port (target <= 3 s).

Warm: the release build is current, so `make run` syncs the fork (a no-op),
asks cargo (nothing to build) and starts polaroid-server. Each run gets a
fresh data directory, so the time includes writing the sample data, which a
first start does; free loopback ports keep it clear of a server already
running. Prints every run and the median.
"""

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.flight as flight

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from ci.processes import free_port  # noqa: E402

RUNS = int(os.environ.get("POLAROID_BENCH_RUNS", 5))
TIMEOUT_S = 120


def answers(location: str) -> bool:
    try:
        client = flight.connect(location)
        list(client.list_actions(options=flight.FlightCallOptions(timeout=1)))
        client.close()
        return True
    except flight.FlightError:
        return False


def one_run() -> float:
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        args = f"--listen 127.0.0.1:{port} --http-listen 127.0.0.1:{free_port()} --ilp-listen 127.0.0.1:{free_port()} --pg-listen 127.0.0.1:{free_port()} --data-dir {data}/data"
        start = time.perf_counter()
        # Its own process group: the interrupt reaches make and the server.
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"ARGS={args}"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            while not answers(f"grpc://127.0.0.1:{port}"):
                if proc.poll() is not None:
                    raise RuntimeError(f"make run exited ({proc.returncode}): {proc.stderr.read().decode()[-2000:]}")
                if time.perf_counter() - start > TIMEOUT_S:
                    raise RuntimeError(f"no answer on port {port} after {TIMEOUT_S} s")
                time.sleep(0.01)
            return time.perf_counter() - start
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=60)


def main() -> int:
    times = []
    for i in range(RUNS):
        times.append(one_run())
        print(f"run {i + 1}: {times[-1]:.2f} s")
    print(f"warm make run until it answers: {statistics.median(times):.2f} s median of {RUNS}  (target <= 3 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
