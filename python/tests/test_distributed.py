"""distributed=true through every door of a real polaroid-server, first on its
standalone Ballista cluster, then on a real one: a `ballista-scheduler` and two
`ballista-executor` processes on loopback (BALLISTA_SCHEDULER and
BALLISTA_EXECUTOR name the binaries `make ballista` builds).

The oracle is python-polars' SQL on the same files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import polars as pl
import polars.selectors as cs
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import polaroid as pr
from conftest import SERVER, free_port, trades_frame, wait_port

GROUP_BY = ('SELECT symbol, COUNT(*) AS n, SUM(size) AS volume, MIN(price) AS low, MAX(price) AS high '
            'FROM "trades.parquet" WHERE symbol IS NOT NULL GROUP BY symbol')
JOIN = ('SELECT s.sector, COUNT(*) AS n, SUM(t.size) AS volume FROM "trades.parquet" t '
        'JOIN "sectors.csv" s ON t.symbol = s.symbol GROUP BY s.sector')
DISTRIBUTED = flight.FlightCallOptions(headers=[(b"polaroid-distributed", b"true")])


def oracle(data_dir: Path, query: str) -> pl.DataFrame:
    ctx = pl.SQLContext({
        "trades.parquet": pl.scan_parquet(data_dir / "trades.parquet"),
        "sectors.csv": pl.scan_csv(data_dir / "sectors.csv"),
    })
    return ctx.execute(query, eager=True)


def same(got: pl.DataFrame, want: pl.DataFrame) -> None:
    """Equal as sets of rows; integers compared as i64 (DataFusion counts in i64)."""
    assert got.columns == want.columns, (got, want)
    norm = lambda df: df.with_columns(cs.integer().cast(pl.Int64)).sort(df.columns)  # noqa: E731
    assert norm(got).equals(norm(want)), f"distributed:\n{got}\npolars:\n{want}"


class Server:
    """polaroid-server with gRPC and HTTP on free ports."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.port, self.http_port = free_port(), free_port()
        self.target = f"127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [SERVER, "--listen", self.target, "--http-listen", f"127.0.0.1:{self.http_port}", "--ilp-listen", "off", "--pg-listen", "off",
             "--data-dir", str(data_dir), *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.http_port, self.proc, SERVER)
        wait_port(self.port, self.proc, SERVER)

    def exec(self, query: str, **params: str) -> tuple[int, dict]:
        url = f"http://127.0.0.1:{self.http_port}/exec?" + urllib.parse.urlencode({"query": query, **params})
        try:
            with urllib.request.urlopen(url, timeout=300) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def files() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="polaroid-dist-") as tmp:
        root = Path(tmp) / "data"
        root.mkdir()
        trades = trades_frame(50_000)
        # Several files' worth of row groups: executors split the scan.
        trades.write_parquet(root / "trades.parquet", row_group_size=8_192)
        pl.DataFrame({"symbol": ["AAPL", "MSFT", "NVDA", "IBM"], "sector": ["tech", "tech", "chips", "tech"]}) \
            .write_csv(root / "sectors.csv")
        (Path(tmp) / "outside.csv").write_text("a\n1\n")
        yield root


@pytest.fixture(scope="module")
def standalone(files: Path) -> Iterator[Server]:
    s = Server(files)
    yield s
    s.stop()


def test_native_sql_on_the_standalone_cluster_matches_polars(standalone: Server, files: Path) -> None:
    with pr.connect(standalone.target) as client:
        same(client.sql_distributed(GROUP_BY).collect(), oracle(files, GROUP_BY))
        same(client.sql_distributed(JOIN).collect(), oracle(files, JOIN))
        # A handle backed by a file, bound to a name.
        scanned = client.scan_parquet("trades.parquet")
        query = "SELECT symbol, SUM(size) AS volume FROM t WHERE symbol IS NOT NULL GROUP BY symbol"
        same(client.sql_distributed(query, t=scanned).collect(),
             oracle(files, query.replace("FROM t", 'FROM "trades.parquet"')))
        # Parameters, bound as literals DataFusion reads.
        bound = GROUP_BY.replace("WHERE symbol IS NOT NULL", "WHERE symbol IS NOT NULL AND size > ?")
        same(client.sql_distributed(bound, params=[250]).collect(), oracle(files, bound.replace("?", "250")))


def test_flight_sql_action_and_command_with_the_header(standalone: Server, files: Path) -> None:
    c = flight.connect(f"grpc://{standalone.target}")
    [result] = list(c.do_action(flight.Action("sql", GROUP_BY.encode()), DISTRIBUTED))
    table = c.do_get(flight.Ticket(result.body.to_pybytes()), DISTRIBUTED).read_all()
    same(pl.from_arrow(table), oracle(files, GROUP_BY))
    info = c.get_flight_info(flight.FlightDescriptor.for_command(JOIN), DISTRIBUTED)
    table = c.do_get(info.endpoints[0].ticket).read_all()
    same(pl.from_arrow(table), oracle(files, JOIN))
    bad = flight.FlightCallOptions(headers=[(b"polaroid-distributed", b"maybe")])
    with pytest.raises(pa.ArrowInvalid, match='polaroid-distributed must be true or false, got "maybe"'):
        list(c.do_action(flight.Action("sql", GROUP_BY.encode()), bad))


def test_flight_sql_prepared_statements_with_the_header(standalone: Server, files: Path) -> None:
    """ADBC's DB-API (prepared statements, bound parameters) with the header
    on every call: planned and run by DataFusion, not here."""
    import warnings

    import adbc_driver_flightsql.dbapi as flight_sql

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # autocommit
        conn = flight_sql.connect(f"grpc://{standalone.target}",
                                  db_kwargs={"adbc.flight.sql.rpc.call_header.polaroid-distributed": "true"})
    with conn, conn.cursor() as cur:
        cur.execute(GROUP_BY)
        same(pl.from_arrow(cur.fetch_arrow_table()), oracle(files, GROUP_BY))
        bound = GROUP_BY.replace("WHERE symbol IS NOT NULL", "WHERE symbol IS NOT NULL AND size > ?")
        cur.execute(bound, (250,))
        same(pl.from_arrow(cur.fetch_arrow_table()), oracle(files, bound.replace("?", "250")))
        # A function only DataFusion has: this server's polars-sql would refuse it.
        cur.execute("SELECT arrow_typeof(1) AS t")
        assert cur.fetchall() == [("Int64",)]


def test_http_exec_with_distributed_true(standalone: Server, files: Path) -> None:
    status, body = standalone.exec(GROUP_BY, distributed="true")
    assert status == 200, body
    got = pl.DataFrame(body["dataset"], schema=[c["name"] for c in body["columns"]], orient="row")
    same(got, oracle(files, GROUP_BY))
    assert body["count"] == 4
    status, body = standalone.exec("CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'", distributed="true")
    assert status == 403 or status == 400, body
    assert "CREATE EXTERNAL TABLE is refused" in body["error"]


@pytest.mark.parametrize("query, code, words", [
    ("CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/'", grpc.StatusCode.PERMISSION_DENIED,
     "CREATE EXTERNAL TABLE is refused"),
    ("COPY (SELECT 1) TO '/tmp/x.parquet'", grpc.StatusCode.PERMISSION_DENIED, "COPY ... TO is refused"),
    ('SELECT * FROM "../outside.csv"', grpc.StatusCode.PERMISSION_DENIED, "'..'"),
    ('SELECT nope FROM "trades.parquet"', grpc.StatusCode.INVALID_ARGUMENT, "nope"),
    ("SELEC 1", grpc.StatusCode.INVALID_ARGUMENT, "SELEC"),
    ("SELECT * FROM nowhere", grpc.StatusCode.NOT_FOUND, '"nowhere"'),
])
def test_refusals_carry_their_code(standalone: Server, query: str, code: grpc.StatusCode, words: str) -> None:
    with pr.connect(standalone.target) as client:
        with pytest.raises(pr.PolaroidError) as err:
            client.sql_distributed(query)
        assert err.value.code == code, err.value
        assert words in str(err.value), err.value


def test_an_upload_is_refused_with_the_reason(standalone: Server) -> None:
    with pr.connect(standalone.target) as client:
        uploaded = client.from_polars(pl.DataFrame({"a": [1]}))
        with pytest.raises(pr.PolaroidError, match="held in this server's memory") as err:
            client.sql_distributed("SELECT * FROM t", t=uploaded)
        assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_an_unreachable_scheduler_is_unavailable_and_the_server_stays_up(files: Path) -> None:
    s = Server(files, "--ballista", f"df://127.0.0.1:{free_port()}")
    try:
        with pr.connect(s.target) as client:
            with pytest.raises(pr.PolaroidError, match="cannot be reached") as err:
                client.sql_distributed(GROUP_BY)
            assert err.value.code == grpc.StatusCode.UNAVAILABLE
            assert client.sql("SELECT COUNT(*) AS n FROM read_parquet('trades.parquet')").collect()["n"][0] == 50_000
    finally:
        s.stop()


# ---- a real cluster: one scheduler, two executors, each its own process

SCHEDULER = os.environ.get("BALLISTA_SCHEDULER", "target/debug/ballista-scheduler")
EXECUTOR = os.environ.get("BALLISTA_EXECUTOR", "target/debug/ballista-executor")


class Cluster:
    def __init__(self, work: Path) -> None:
        self.port = free_port()
        self.procs: list[subprocess.Popen] = []
        self.logs = work
        self.scheduler = self._spawn("scheduler", [
            SCHEDULER, "--bind-host", "127.0.0.1", "--external-host", "127.0.0.1", "--bind-port", str(self.port),
            # Lose a dead executor fast, and fail (not hang) when none is left.
            "--executor-timeout-seconds", "6", "--expire-dead-executor-interval-seconds", "2",
            "--no-executors-grace-period-seconds", "0"])
        wait_port(self.port, self.scheduler, "ballista-scheduler", timeout=120)
        self.executors = [self._executor(i, work) for i in range(2)]
        # Both registered with the scheduler (its REST API lists them).
        deadline = time.time() + 60
        while len(self.registered()) < 2:
            assert time.time() < deadline, f"executors registered: {self.registered()}"
            time.sleep(0.2)

    def registered(self) -> list[dict]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/executors", timeout=10) as r:
            return json.load(r)

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "wb")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def _executor(self, i: int, work: Path) -> subprocess.Popen:
        port, grpc_port, health = free_port(), free_port(), free_port()
        (work / f"executor-{i}").mkdir()
        proc = self._spawn(f"executor-{i}", [
            EXECUTOR, "--bind-host", "127.0.0.1", "--external-host", "127.0.0.1", "--bind-port", str(port),
            "--bind-grpc-port", str(grpc_port), "--bind-health-port", str(health),
            "--scheduler-host", "127.0.0.1", "--scheduler-port", str(self.port),
            "--work-dir", str(work / f"executor-{i}"), "--vcores", "2",
            "--executor-heartbeat-interval-seconds", "1"])
        wait_port(port, proc, f"ballista-executor {i}", timeout=120)
        return proc

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(files: Path) -> Iterator[Cluster]:
    for binary in (SCHEDULER, EXECUTOR):
        assert shutil.which(binary) or Path(binary).exists(), f"{binary} is missing: run `make ballista`"
    with tempfile.TemporaryDirectory(prefix="polaroid-ballista-") as work:
        c = Cluster(Path(work))
        try:
            yield c
        finally:
            c.stop()


def test_a_real_cluster_runs_the_query(cluster: Cluster, files: Path) -> None:
    s = Server(files, "--ballista", f"df://127.0.0.1:{cluster.port}")
    try:
        with pr.connect(s.target) as client:
            same(client.sql_distributed(GROUP_BY).collect(), oracle(files, GROUP_BY))
            same(client.sql_distributed(JOIN).collect(), oracle(files, JOIN))
        # Both executors took part: each finished tasks of these jobs.
        for i in range(2):
            log = (cluster.logs / f"executor-{i}.log").read_text(errors="replace")
            assert "Finished task" in log, f"executor {i} ran nothing:\n{log[-2000:]}"
    finally:
        s.stop()


def test_an_executor_killed_mid_query_is_a_clean_error_and_the_server_stays_up(cluster: Cluster, files: Path) -> None:
    # A self-join that takes a while on debug executors (~25M joined rows).
    slow = ('SELECT a.symbol, COUNT(*) AS n FROM "trades.parquet" a JOIN "trades.parquet" b '
            'ON a.symbol = b.symbol AND a.venue = b.venue GROUP BY a.symbol')
    s = Server(files, "--ballista", f"df://127.0.0.1:{cluster.port}")
    try:
        outcome: dict[str, object] = {}

        def query() -> None:
            with pr.connect(s.target) as client:
                try:
                    outcome["frame"] = client.sql_distributed(slow).collect()
                except pr.PolaroidError as err:
                    outcome["error"] = err

        worker = threading.Thread(target=query)
        worker.start()
        time.sleep(2)
        for executor in cluster.executors:
            executor.kill()
        worker.join(timeout=180)
        assert not worker.is_alive(), "the query neither finished nor failed after its executors died"
        # Two seconds into a join that takes far longer on debug executors.
        assert "error" in outcome, f"the query outlived its executors: {outcome}"
        err = outcome["error"]
        assert err.code == grpc.StatusCode.UNAVAILABLE, err
        assert "executors were lost" in str(err), err
        # The server is up and answers.
        with pr.connect(s.target) as client:
            assert client.sql("SELECT COUNT(*) AS n FROM read_parquet('trades.parquet')").collect()["n"][0] == 50_000
    finally:
        s.stop()
