"""polaroid-server child processes with the HTTP door on, for QuestDB's own
PyPI clients: questdb-rest (/exec, /exp, /imp, /chk) and questdb (ILP over
HTTP). Every result is checked against python-polars on the same data.

HOME points at a temporary directory: questdb-rest reads ~/.questdb-rest.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository, for ci.processes
from ci.processes import free_port, wait_port  # noqa: E402

SERVER = os.environ.get("POLAROID_SERVER", "target/debug/polaroid-server")


class Server:
    """One server: gRPC on `grpc_port`, HTTP on `http_port` (and the PostgreSQL
    door on `pg_port` if asked for one)."""

    def __init__(self, data_dir: Path, *args: str, http_port: int | None = None, log: Path | None = None,
                 pg_port: int | None = None) -> None:
        self.data_dir = data_dir
        self.pg_port = pg_port
        self.args = args
        self.log = log  # where its output (its log) goes, if kept
        self.grpc_port = free_port()
        self.http_port = http_port or free_port()
        self.ilp_port = free_port()
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [SERVER, "--listen", f"127.0.0.1:{self.grpc_port}", "--http-listen", f"127.0.0.1:{self.http_port}",
             "--ilp-listen", f"127.0.0.1:{self.ilp_port}",
             "--pg-listen", f"127.0.0.1:{self.pg_port}" if self.pg_port else "off",
             "--data-dir", str(self.data_dir), *self.args],
            stdout=open(self.log, "ab") if self.log else subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.http_port, self.proc, SERVER)
        wait_port(self.grpc_port, self.proc, SERVER)
        # The ILP/TCP door is bound after the other two (and not at all with
        # tokens): a test that dials it at once could otherwise be refused.
        if "--auth-token" not in self.args:
            wait_port(self.ilp_port, self.proc, SERVER)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=60)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


def frame(reply: dict) -> pl.DataFrame:
    """An /exec reply's dataset as a frame, its TIMESTAMP columns as datetimes."""
    names = [c["name"] for c in reply["columns"]]
    df = pl.DataFrame(reply["dataset"], schema=names, orient="row")
    for c in reply["columns"]:
        if c["type"] == "TIMESTAMP":
            df = df.with_columns(pl.col(c["name"]).str.to_datetime("%Y-%m-%dT%H:%M:%S%.6fZ", time_unit="us"))
    return df


def send_frame(server: Server, table: str, df: pl.DataFrame) -> None:
    """`df` sent to `table` with QuestDB's ILP client over HTTP
    (`Sender.dataframe`), `sym` a tag and `ts` the row's time."""
    from questdb import Sender

    with Sender.from_conf(f"http::addr=127.0.0.1:{server.http_port};") as sender:
        sender.dataframe(df.to_pandas(), table_name=table, symbols=["sym"], at="ts")
        sender.flush()


def trades(rows: int = 5_000) -> pl.DataFrame:
    start = dt.datetime(2026, 11, 23, 14, 30)
    return pl.DataFrame({
        "ts": pl.datetime_range(start, start + dt.timedelta(seconds=7 * (rows - 1)), "7s", time_unit="us", eager=True),
        "sym": [["AAPL", "MSFT", "NVDA"][i % 3] for i in range(rows)],
        "px": [100 + (i * 37 % 1000) / 10 for i in range(rows)],
        "qty": [None if i % 41 == 0 else (i * 7919) % 500 + 1 for i in range(rows)],
    })


def quotes(rows: int = 9_000) -> pl.DataFrame:
    start = dt.datetime(2026, 11, 23, 14, 29, 58)
    return pl.DataFrame({
        "ts": pl.datetime_range(start, start + dt.timedelta(seconds=3 * (rows - 1)), "3s", time_unit="us", eager=True),
        "sym": [["AAPL", "MSFT", "NVDA", "TSLA"][i % 4] for i in range(rows)],
        "bid": [99 + (i * 13 % 700) / 10 for i in range(rows)],
    })


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="polaroid-http-") as tmp:
        root = Path(tmp)
        trades().write_parquet(root / "trades.parquet")
        quotes().write_parquet(root / "quotes.parquet")
        yield root


@pytest.fixture(scope="session", autouse=True)
def isolated_home() -> Iterator[None]:
    with tempfile.TemporaryDirectory(prefix="polaroid-home-") as home:
        old = os.environ.get("HOME")
        os.environ["HOME"] = home
        yield
        if old is not None:
            os.environ["HOME"] = old


@pytest.fixture(scope="session")
def server(data_dir: Path) -> Iterator[Server]:
    s = Server(data_dir)
    yield s
    s.stop()


@pytest.fixture()
def rest(server: Server):
    from questdb_rest import QuestDBClient
    return QuestDBClient(host="127.0.0.1", port=server.http_port)
