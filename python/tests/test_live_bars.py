"""subscribe_bars through a real polaroid-server: ticks written over ILP/TCP
(QuestDB's line protocol) while the client listens; the bars must equal
python-polars' group_by over the table's rows as fetched at the end."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

import polaroid as pr
from conftest import SERVER, free_port, wait_port

T0 = dt.datetime(2024, 3, 8, 14, 30, tzinfo=dt.timezone.utc)
T0_NS = int(T0.timestamp()) * 1_000_000_000
STEP_NS = 700_000_000
SYMBOLS = ["AAPL", "MSFT", "NVDA"]


class IlpServer:
    """polaroid-server with gRPC and ILP/TCP on free ports."""

    def __init__(self, data_dir: Path) -> None:
        self.port, self.ilp_port = free_port(), free_port()
        self.target = f"127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([SERVER, "--listen", self.target, "--http-listen", "off",
                                      "--ilp-listen", f"127.0.0.1:{self.ilp_port}", "--pg-listen", "off", "--data-dir", str(data_dir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc, SERVER)
        wait_port(self.ilp_port, self.proc, SERVER)

    def send(self, ticks: range, sock: socket.socket | None = None) -> None:
        """ILP lines of `ticks`, on `sock` or a connection of their own. One
        connection's lines are appended in order; lines of different ones may
        land in either order (and a tick after its bar closed is late)."""
        lines = []
        for i in ticks:
            price = 100 + (i * 37 % 101) / 10
            lines.append(f"trades,symbol={SYMBOLS[i % 3]} price={price},size={1 + i % 7}.0 {T0_NS + i * STEP_NS}\n")
        if sock is not None:
            sock.sendall("".join(lines).encode())
            return
        with socket.create_connection(("127.0.0.1", self.ilp_port)) as own:
            own.sendall("".join(lines).encode())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


@pytest.fixture()
def live() -> Iterator[tuple[IlpServer, pr.Client]]:
    with tempfile.TemporaryDirectory() as data:
        server = IlpServer(Path(data))
        client = pr.connect(server.target)
        try:
            yield server, client
        finally:
            client.close()
            server.stop()


def oracle(rows: pl.DataFrame, since: dt.datetime, until: dt.datetime) -> pl.DataFrame:
    return (
        rows.sort("timestamp")
        .group_by(pl.col("symbol").cast(pl.String), pl.col("timestamp").dt.truncate("1m").alias("ts"))
        .agg(open=pl.col("price").first(), high=pl.col("price").max(), low=pl.col("price").min(),
             close=pl.col("price").last(), volume=pl.col("size").sum(),
             vwap=(pl.col("price") * pl.col("size")).sum() / pl.col("size").sum(), trades=pl.len())
        .filter(pl.col("ts") >= since, pl.col("ts") + pl.duration(minutes=1) <= until)
        .sort("symbol", "ts")
    )


def read(bars: Iterator[pl.DataFrame], rows: int, out: list[pl.DataFrame]) -> None:
    got = 0
    for frame in bars:
        out.append(frame)
        got += frame.height
        if got >= rows:
            return


def wait_rows(client: pr.Client, rows: int) -> pl.DataFrame:
    deadline = time.time() + 30
    while True:
        try:
            table = client.table("trades").collect()
            if table.height >= rows:
                return table
        except pr.NotFoundError:
            pass
        assert time.time() < deadline, "the ILP rows did not land"
        time.sleep(0.05)


def test_bars_stream_while_ilp_writes_and_equal_polars(live: tuple[IlpServer, pr.Client]) -> None:
    server, client = live
    server.send(range(0, 500))
    wait_rows(client, 500)
    newest = T0 + dt.timedelta(milliseconds=700 * 499)
    open_from = newest.replace(second=0, microsecond=0)
    live_bars = client.subscribe_bars("trades", "1m")
    replay = client.subscribe_bars("trades", "1m", start=T0)
    # Both are subscribed once subscribe_bars returns: read on threads while
    # the rest of the feed is written.
    streamed: list[pl.DataFrame] = []
    replayed: list[pl.DataFrame] = []
    final_newest = T0 + dt.timedelta(milliseconds=700 * 1399)
    closed_until = final_newest.replace(second=0, microsecond=0)
    # Bars each subscription must see: 3 symbols per closed minute.
    expect_live = 3 * int((closed_until - open_from) / dt.timedelta(minutes=1))
    expect_all = 3 * int((closed_until - T0) / dt.timedelta(minutes=1))
    readers = [threading.Thread(target=read, args=(live_bars, expect_live, streamed)),
               threading.Thread(target=read, args=(replay, expect_all, replayed))]
    for r in readers:
        r.start()
    with socket.create_connection(("127.0.0.1", server.ilp_port)) as feed:
        for start in range(500, 1400, 60):
            server.send(range(start, min(start + 60, 1400)), feed)
            time.sleep(0.02)  # several appends, not one
    for r in readers:
        r.join(timeout=60)
        assert not r.is_alive(), "bars did not arrive within 60 s"
    rows = wait_rows(client, 1400)
    for got, since in [(streamed, open_from), (replayed, T0)]:
        frame = pl.concat(got).sort("symbol", "ts")
        expected = oracle(rows, since.replace(tzinfo=None), closed_until.replace(tzinfo=None))
        assert frame.height == expected.height, (frame, expected)
        assert frame.select("symbol", "ts").equals(expected.select("symbol", "ts"))
        assert frame["trades"].cast(pl.Int64).to_list() == expected["trades"].cast(pl.Int64).to_list()
        for column in ["open", "high", "low", "close", "volume", "vwap"]:
            assert (frame[column] - expected[column]).abs().max() < 1e-9, column


def test_unknown_table_and_bad_options_raise(live: tuple[IlpServer, pr.Client]) -> None:
    _, client = live
    with pytest.raises(pr.NotFoundError, match="table does not exist: nope"):
        client.subscribe_bars("nope")
    with pytest.raises(ValueError):
        client.subscribe_bars("nope", kind="weekly")


def test_shutdown_ends_a_subscription_instead_of_waiting_for_it(live: tuple[IlpServer, pr.Client]) -> None:
    server, client = live
    server.send(range(0, 10))
    wait_rows(client, 10)
    bars = client.subscribe_bars("trades", "1m")
    server.proc.terminate()
    with pytest.raises(pr.PolaroidError):
        next(bars)
    assert server.proc.wait(timeout=30) == 0
