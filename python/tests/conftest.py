"""A real polaroid-server child process per test session, on loopback.

POLAROID_SERVER names the binary (make test-python builds the debug one).
The data directory is written here with python-polars, and the same files
are the oracle's input: every result is compared with python-polars running
the same query locally.
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

import polaroid as pr

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for ci.processes
from ci.processes import free_port, wait_port  # noqa: E402

SERVER = os.environ.get("POLAROID_SERVER", "target/debug/polaroid-server")


class Server:
    def __init__(self, data_dir: Path, *args: str) -> None:
        self.port = free_port()
        self.target = f"127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([SERVER, "--listen", self.target, "--http-listen", "off", "--ilp-listen", "off", "--pg-listen", "off", "--data-dir", str(data_dir), *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc, SERVER)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


def trades_frame(rows: int = 20_000) -> pl.DataFrame:
    symbols = ["AAPL", "MSFT", "NVDA", "TSLA", None]
    start = dt.datetime(2024, 3, 8, 14, 30, tzinfo=dt.timezone.utc)
    return pl.DataFrame({
        "symbol": [symbols[i % 5] if i % 97 else None for i in range(rows)],
        "ts": pl.datetime_range(start, start + dt.timedelta(milliseconds=250 * (rows - 1)), "250ms",
                                time_zone="UTC", eager=True),
        "price": [100 + (i * 37 % 1000) / 10 for i in range(rows)],
        "size": [None if i % 53 == 0 else (i * 7919) % 500 + 1 for i in range(rows)],
        "venue": [["XNAS", "ARCX", "  BATS "][i % 3] for i in range(rows)],
    }).with_columns(pl.col("ts").dt.convert_time_zone("America/New_York"))


def quotes_frame(rows: int = 8_000) -> pl.DataFrame:
    start = dt.datetime(2024, 3, 8, 14, 29, 59, tzinfo=dt.timezone.utc)
    return pl.DataFrame({
        "symbol": [["AAPL", "MSFT", "NVDA", "TSLA"][i % 4] for i in range(rows)],
        "ts": pl.datetime_range(start, start + dt.timedelta(milliseconds=625 * (rows - 1)), "625ms",
                                time_zone="UTC", eager=True),
        "bid": [99 + (i * 13 % 700) / 10 for i in range(rows)],
        "ask": [99.05 + (i * 13 % 700) / 10 for i in range(rows)],
        "bid_size": [(i * 31) % 900 + 100 for i in range(rows)],
        "ask_size": [(i * 17) % 800 + 100 for i in range(rows)],
    }).with_columns(pl.col("ts").dt.convert_time_zone("America/New_York"))


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="polaroid-py-") as tmp:
        root = Path(tmp)
        trades_frame().write_parquet(root / "trades.parquet")
        quotes_frame().write_parquet(root / "quotes.parquet")
        trades_frame(500).drop("ts").write_csv(root / "trades.csv")
        yield root


@pytest.fixture(scope="session")
def server(data_dir: Path) -> Iterator[Server]:
    s = Server(data_dir)
    yield s
    s.stop()


@pytest.fixture()
def client(server: Server) -> Iterator[pr.Client]:
    with pr.connect(server.target) as c:
        yield c
