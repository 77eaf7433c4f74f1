"""DoGet throughput read by pyarrow.flight, beside the native Fetch RPC on
the same handle in the same run (read by grpcio, decoded by pyarrow.ipc),
and beside Arrow's own C++ Flight server (pyarrow.flight.FlightServerBase
serving the same table in ~2 MiB batches) as the machine's reference.

    make bench-flight          # or: POLAROID_SERVER=... .venv/bin/python polaroid-grpc/benches/flight.py

POLAROID_BENCH_SERVER_ARGS adds server flags (e.g. "--max-message-size 8MiB").
The table is 20M rows x 4 fixed-width columns (640 MB of Arrow data),
uploaded once with DoPut. Throughput = Arrow bytes of the table / wall time
from the request to a complete pyarrow Table in the client. It also prints
the CPU seconds one DoGet costs each server and the client: on two cores
the client's share decides the wall time.

Both servers run in processes of their own, and each is read by a client
process of its own. Most of a client's CPU is faulting in fresh pages for
the table, and how many depends on what its allocator kept from the call
before: with the reference serving from the client's process, or one
client reading both servers in turn, a call after the other server's call
was up to 2x slower or faster, in either direction (2026-12-02). So each
client only ever reads its own server; the servers are measured in blocks
of POLAROID_BENCH_RUNS calls after an unmeasured one, the blocks
alternating POLAROID_BENCH_ROUNDS times (drift hits both alike), and the
medians are over all blocks.

Even so, whether a client process kept its heap from one call to the next
or gave it back and faulted 640 MB in again decided the ratio: 0.64x to
1.52x in five runs of the same build (2026-12-02). The client processes
therefore run with glibc's trim and mmap thresholds raised
(CLIENT_TUNABLES), as a long-lived client's heap would be: the same
setting for both, and 0.93-1.00x in three runs. With
POLAROID_BENCH_CLIENT_MALLOC=default they run with glibc's defaults.
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "python"))
from test_flight import Server, put  # noqa: E402

ROWS = int(os.environ.get("POLAROID_BENCH_ROWS", 20_000_000))
RUNS = int(os.environ.get("POLAROID_BENCH_RUNS", 5))
ROUNDS = int(os.environ.get("POLAROID_BENCH_ROUNDS", 3))
# glibc keeps freed memory (no trim below 4 GiB) and serves blocks up to
# its 32 MiB maximum from the heap rather than fresh mmaps.
CLIENT_TUNABLES = "glibc.malloc.trim_threshold=4294967296:glibc.malloc.mmap_threshold=33554432"
PROTO_ROOT = os.path.join(HERE, "..", "proto")


def native_stubs(out_dir):
    """Generate the polaroid.v1 Python stubs with grpcio-tools."""
    from grpc_tools import protoc

    proto = os.path.join(PROTO_ROOT, "polaroid", "v1", "polaroid.proto")
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    code = protoc.main(["protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", proto])
    if code != 0:
        raise RuntimeError("protoc failed on polaroid.proto")
    sys.path.insert(0, out_dir)
    from polaroid.v1 import polaroid_pb2, polaroid_pb2_grpc

    return polaroid_pb2, polaroid_pb2_grpc


def timed(fn):
    return timed_n(fn, RUNS)


def timed_n(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        table = fn()
        times.append(time.perf_counter() - start)
    return times, table


def cpu_seconds(pid=None):
    """CPU time (user + system) of a process so far: this one by default."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_table():
    ids = pa.array(range(ROWS), pa.int64())
    return pa.table(
        {
            "id": ids,
            "price": pc.divide(pc.cast(ids, pa.float64()), 7.0),
            "size": pc.bit_wise_and(ids, 4095),
            "ts": pc.cast(pc.add(ids, 1_700_000_000_000_000), pa.timestamp("us")),
        }
    )


def serve_reference():
    """The reference server's process: Arrow's C++ Flight server (through
    pyarrow) with the bench table in ~2 MiB record batches. Prints its port,
    serves until stdin closes."""
    batches = bench_table().combine_chunks().to_batches(max_chunksize=(2 << 20) // 32)
    served = pa.Table.from_batches(batches)

    class Reference(flight.FlightServerBase):
        def do_get(self, context, ticket):
            return flight.RecordBatchStream(served)

    import threading

    server = Reference("grpc://127.0.0.1:0")
    # Served from a thread: the main thread waits on stdin, which releases
    # the GIL the server's Python handler needs.
    threading.Thread(target=server.serve, daemon=True).start()
    print(server.port, flush=True)
    sys.stdin.read()
    server.shutdown()


def read_client(location, ticket):
    """A client process: for each line N on stdin, N timed DoGets of
    `ticket`, then one line of JSON with their times and this process's
    CPU seconds per call. The last table of a block is checked against the
    bench table, outside the timing."""
    table = bench_table()
    client = flight.connect(location)
    for line in sys.stdin:
        runs = int(line)
        start_cpu = cpu_seconds()
        times, got = timed_n(lambda: client.do_get(flight.Ticket(ticket)).read_all(), runs)
        cpu = (cpu_seconds() - start_cpu) / runs
        if not got.equals(table):
            raise SystemExit(f"{location} returned a different table")
        del got
        print(json.dumps({"times": times, "cpu": cpu}), flush=True)


class Reader:
    """A client process reading one server (see the module's docstring)."""

    def __init__(self, location, ticket, server_pid):
        env = dict(os.environ)
        if os.environ.get("POLAROID_BENCH_CLIENT_MALLOC") != "default":
            env["GLIBC_TUNABLES"] = CLIENT_TUNABLES
        self.proc = subprocess.Popen([sys.executable, __file__, "--client", location, ticket], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.server_pid = server_pid
        self.times, self.client_cpu, self.server_cpu = [], [], []

    def block(self, runs):
        """`runs` DoGets; returns their times, the client's and the server's CPU per call."""
        server_start = cpu_seconds(self.server_pid)
        self.proc.stdin.write(f"{runs}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the client process ended (code {self.proc.wait()})")
        result = json.loads(line)
        return result["times"], result["cpu"], (cpu_seconds(self.server_pid) - server_start) / runs

    def measure(self):
        times, client_cpu, server_cpu = self.block(RUNS)
        self.times.extend(times)
        self.client_cpu.append(client_cpu)
        self.server_cpu.append(server_cpu)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def main():
    table = bench_table()
    nbytes = table.nbytes
    server = Server("--memory-limit", "8GiB", *os.environ.get("POLAROID_BENCH_SERVER_ARGS", "").split())
    try:
        client = flight.connect(server.location)
        handle = put(client, "bench", table)
        reference = subprocess.Popen([sys.executable, __file__, "--reference-server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        readers = []
        try:
            ours = Reader(server.location, handle, server.proc.pid)
            readers.append(ours)
            ref = Reader(f"grpc://127.0.0.1:{int(reference.stdout.readline())}", "table", reference.pid)
            readers.append(ref)
            for reader in readers:
                reader.block(1)  # unmeasured: connects, checks the table
            for _ in range(ROUNDS):
                for reader in readers:
                    reader.measure()
        finally:
            for reader in readers:
                reader.close()
            reference.stdin.close()
            reference.wait(timeout=30)

        import grpc

        with tempfile.TemporaryDirectory() as stubs:
            pb2, pb2_grpc = native_stubs(stubs)
            options = [("grpc.max_receive_message_length", 64 << 20)]
            channel = grpc.insecure_channel(f"127.0.0.1:{server.port}", options=options)
            stub = pb2_grpc.PolaroidStub(channel)

            def fetch():
                parts = [m.data for m in stub.Fetch(pb2.FetchRequest(handle=handle))]
                return pa.ipc.open_stream(pa.py_buffer(b"".join(parts))).read_all()

            fetch_times, fetched = timed(fetch)
            assert fetched.equals(table), "Fetch returned a different table"
            channel.close()
        client.close()
    finally:
        server.stop()

    def row(name, times):
        best, median = min(times), statistics.median(times)
        return name, nbytes / best / 1e9, nbytes / median / 1e9, median

    rows = [
        row("DoGet (pyarrow.flight)", ours.times),
        row("Fetch (grpcio + pyarrow.ipc)", fetch_times),
        row("Arrow C++ Flight server (ref.)", ref.times),
    ]
    print(f"\n{ROWS:,} rows x 4 fixed-width columns = {nbytes / 1e6:.0f} MB of Arrow data; DoGet: {ROUNDS} blocks of {RUNS} runs per server, Fetch {RUNS} runs")
    print(f"{'path':32} {'best GB/s':>10} {'median GB/s':>12} {'median s':>9}")
    for name, best, median, secs in rows:
        print(f"{name:32} {best:10.2f} {median:12.2f} {secs:9.3f}")
    print(f"DoGet / Fetch: {rows[0][2] / rows[1][2]:.2f}x; DoGet / Arrow C++ server: {rows[0][2] / rows[2][2]:.2f}x (median throughput)")
    print(
        f"CPU per DoGet (mean of blocks): polaroid-server {statistics.mean(ours.server_cpu):.3f} s + its pyarrow client {statistics.mean(ours.client_cpu):.3f} s; "
        f"Arrow C++ server {statistics.mean(ref.server_cpu):.3f} s + its pyarrow client {statistics.mean(ref.client_cpu):.3f} s"
    )
    print("target: DoGet >= 2 GB/s on one stream")


if __name__ == "__main__":
    if sys.argv[1:] == ["--reference-server"]:
        serve_reference()
    elif sys.argv[1:2] == ["--client"]:
        read_client(sys.argv[2], sys.argv[3])
    else:
        main()
