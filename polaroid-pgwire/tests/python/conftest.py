"""polaroid-server child processes with the PostgreSQL door on, for the
PostgreSQL drivers users connect with: psql, psycopg (text and binary) and
asyncpg. Every result is checked against python-polars on the same data
(or worked by hand); the HTTP door is on too, to see one door's writes
from the other."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository, for ci.processes
from ci.processes import free_port, wait_port  # noqa: E402

SERVER = os.environ.get("POLAROID_SERVER", "target/debug/polaroid-server")


class Server:
    """One server: the PostgreSQL door on `pg_port`, HTTP on `http_port`."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.data_dir = data_dir
        self.grpc_port, self.http_port, self.pg_port = free_port(), free_port(), free_port()
        self.proc = subprocess.Popen(
            [SERVER, "--listen", f"127.0.0.1:{self.grpc_port}", "--http-listen", f"127.0.0.1:{self.http_port}",
             "--ilp-listen", "off", "--pg-listen", f"127.0.0.1:{self.pg_port}", "--data-dir", str(data_dir), *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for port in (self.grpc_port, self.http_port, self.pg_port):
            wait_port(port, self.proc, SERVER)

    def dsn(self, password: str | None = None) -> str:
        dsn = f"host=127.0.0.1 port={self.pg_port} user=admin dbname=qdb"
        return dsn + (f" password={password}" if password is not None else "")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


class Postgres:
    """A real PostgreSQL server (Debian's, the machine's newest major
    version) in a directory of its own, on a free loopback port: the oracle
    for what a tool asks of the catalog and for PostgreSQL's own SQL. As
    root it runs as the `postgres` user, since PostgreSQL refuses root."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
        if not found:
            pytest.fail("PostgreSQL's server is not installed (ci/install-deps.sh installs Debian's postgresql)")
        self.bin = found[-1].parent
        self.dir = Path(tempfile.mkdtemp(prefix="polaroid-postgres-"))
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres")
        self.port = free_port()
        self._run("initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres", "--no-sync")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-o", options, "-w", "start")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / tool), *args], check=True, capture_output=True, timeout=120)

    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


# psql's flags for rows read back: unaligned, no headers, "|" between fields.
PSQL_ROWS = ("-q", "-A", "-t", "-F", "|")


def psql(server: Server, *commands: str, options: tuple[str, ...] = PSQL_ROWS, check: bool = True,
         stdin: str | None = None) -> subprocess.CompletedProcess:
    """psql against the server's PostgreSQL door, each command a -c (or
    `stdin` as a script), stopping at the first error."""
    args = ["psql", "-X", *options, "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(server.pg_port), "-U", "admin",
            "-d", "qdb"]
    for command in commands:
        args += ["-c", command]
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=60, check=check)


def trades(rows: int = 5_000) -> pl.DataFrame:
    start = dt.datetime(2026, 11, 23, 14, 30)
    return pl.DataFrame({
        "ts": pl.datetime_range(start, start + dt.timedelta(seconds=7 * (rows - 1)), "7s", time_unit="us", eager=True),
        "sym": [["AAPL", "MSFT", "NVDA"][i % 3] for i in range(rows)],
        "px": [100 + (i * 37 % 1000) / 10 for i in range(rows)],
        "qty": [None if i % 41 == 0 else (i * 7919) % 500 + 1 for i in range(rows)],
    })


def every_type() -> pl.DataFrame:
    """One column of each type the door sends, with a null in each."""
    naive = [dt.datetime(2024, 3, 8, 14, 30, 1, 250000), dt.datetime(1969, 12, 31, 23, 59, 59, 500000), None]
    return pl.DataFrame({
        "b": [True, False, None],
        "i8": pl.Series([-8, 7, None], dtype=pl.Int8),
        "i16": pl.Series([-16_000, 16_000, None], dtype=pl.Int16),
        "i32": pl.Series([-2_000_000_000, 7, None], dtype=pl.Int32),
        "i64": pl.Series([-(2**62), 2**62, None], dtype=pl.Int64),
        "u8": pl.Series([255, 0, None], dtype=pl.UInt8),
        "u16": pl.Series([65_535, 1, None], dtype=pl.UInt16),
        "u32": pl.Series([4_294_967_295, 2, None], dtype=pl.UInt32),
        "u64": pl.Series([2**64 - 1, 3, None], dtype=pl.UInt64),
        "f32": pl.Series([1.5, -0.25, None], dtype=pl.Float32),
        "f64": [0.1, -1e300, None],
        "s": ["text", "it's \"quoted\"; with ünïcode", None],
        "cat": pl.Series(["AAPL", "MSFT", None], dtype=pl.Categorical),
        "bin": [b"\x00\x01\xff", b"", None],
        "d": [dt.date(2024, 3, 8), dt.date(1960, 1, 1), None],
        "ts_us": pl.Series(naive, dtype=pl.Datetime("us")),
        "ts_ns": pl.Series([1_709_908_201_123_456_789, -1, None], dtype=pl.Int64).cast(pl.Datetime("ns")),
        "ts_utc": pl.Series(naive, dtype=pl.Datetime("us")).dt.replace_time_zone("UTC"),
        "ts_ny": pl.Series(naive, dtype=pl.Datetime("ms")).dt.replace_time_zone("America/New_York"),
        "t": [dt.time(9, 30, 0, 123456), dt.time(0, 0), None],
        "dur": [dt.timedelta(days=2, hours=3, microseconds=5), dt.timedelta(seconds=-90), None],
        "dec": pl.Series([Decimal("1234.56"), Decimal("-0.01"), None], dtype=pl.Decimal(10, 2)),
    })


# The PostgreSQL types every_type()'s columns are sent as, by oid.
EVERY_TYPE_OIDS = [16, 21, 21, 23, 20, 21, 23, 20, 1700, 700, 701, 1043, 1043, 17, 1082, 1114, 1114, 1184, 1184, 1083,
                   1186, 1700]


def every_type_rows() -> list[list]:
    """every_type()'s rows as a PostgreSQL driver reads them: as polars holds
    them, but nanoseconds floored to PostgreSQL's microseconds."""
    want = every_type()
    rows = [list(row) for row in want.rows()]
    column = want.columns.index("ts_ns")
    epoch = dt.datetime(1970, 1, 1)
    for row, value in zip(rows, want["ts_ns"].cast(pl.Int64).to_list()):
        row[column] = None if value is None else epoch + dt.timedelta(microseconds=value // 1000)
    return rows


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="polaroid-pg-") as tmp:
        root = Path(tmp)
        trades().write_parquet(root / "trades.parquet")
        every_type().write_parquet(root / "types.parquet")
        yield root


@pytest.fixture(scope="session")
def server(data_dir: Path) -> Iterator[Server]:
    s = Server(data_dir)
    yield s
    s.stop()


# The tables `both` holds, on each server.
PAIRED_TABLES = [
    "CREATE TABLE grafana_trades (ts TIMESTAMP, sym VARCHAR, px DOUBLE PRECISION, qty BIGINT)",
    # Names PostgreSQL must quote: keywords.
    'CREATE TABLE keyword_names ("time" TIMESTAMP, "user" VARCHAR, value DOUBLE PRECISION)',
    # Empty, for clients that write.
    "CREATE TABLE go_copy (ts TIMESTAMP, sym VARCHAR, px DOUBLE PRECISION, qty BIGINT)",
]


def load_paired_tables(conn) -> None:
    for ddl in PAIRED_TABLES:
        conn.execute(ddl)
    with conn.cursor() as cur, cur.copy("COPY grafana_trades (ts, sym, px, qty) FROM STDIN") as copy:
        for row in trades(3_000).iter_rows():
            copy.write_row(row)
    with conn.cursor() as cur, cur.copy('COPY keyword_names ("time", "user", value) FROM STDIN') as copy:
        copy.write_row((dt.datetime(2026, 11, 23, 15, 0), "ann", 1.5))


class Paired:
    """The door of a server of its own (so that it lists only these tables)
    and a real PostgreSQL, each holding PAIRED_TABLES with the same rows;
    `door` and `oracle` are connections that send simple queries, as
    Grafana does."""

    def __init__(self, server: Server, postgres: Postgres) -> None:
        import psycopg

        self.server, self.postgres = server, postgres
        self.door = psycopg.connect(server.dsn(), autocommit=True, cursor_factory=psycopg.ClientCursor)
        self.oracle = psycopg.connect(postgres.dsn(), autocommit=True, cursor_factory=psycopg.ClientCursor)
        load_paired_tables(self.door)
        load_paired_tables(self.oracle)

    def close(self) -> None:
        self.door.close()
        self.oracle.close()


@pytest.fixture(scope="module")
def both() -> Iterator[Paired]:
    postgres = Postgres()
    with tempfile.TemporaryDirectory(prefix="polaroid-paired-") as tmp:
        server = Server(Path(tmp))
        try:
            paired = Paired(server, postgres)
            yield paired
            paired.close()
        finally:
            server.stop()
            postgres.stop()


def same_client_answers(got: list[dict], want: list[dict]) -> None:
    """A client program's answers (JSON lines of step, columns, rows, tag,
    error and code) from the door agree with PostgreSQL's: the same steps;
    errors by SQLSTATE (the messages are each server's own); the same
    columns, tags and rows, floats to 1e-12 (sums may add in another
    order)."""
    def same_value(a, b) -> bool:
        # JSON writes a whole float as an integer (2947 for 2947.0).
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
        if numbers and (isinstance(a, float) or isinstance(b, float)):
            return a == pytest.approx(b, rel=1e-12)
        return a == b

    assert [a["step"] for a in got] == [a["step"] for a in want]
    for g, w in zip(got, want):
        assert ("error" in g, g.get("code")) == ("error" in w, w.get("code")), (g, w)
        assert (g.get("columns"), g.get("tag")) == (w.get("columns"), w.get("tag")), (g, w)
        rows_g, rows_w = g.get("rows") or [], w.get("rows") or []
        assert len(rows_g) == len(rows_w), (g, w)
        for rg, rw in zip(rows_g, rows_w):
            assert len(rg) == len(rw) and all(same_value(a, b) for a, b in zip(rg, rw)), (rg, rw)
