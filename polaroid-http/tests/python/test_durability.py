"""Durability and tenants on the HTTP door, with real processes and clients."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import pytest
from questdb import Sender, TimestampNanos
from questdb_rest import QuestDBAPIError, QuestDBClient

from conftest import Server

BATCH = 5_000


START_NS = 1_795_444_200_000_000_000


def test_every_acknowledged_ilp_row_survives_sigkill():
    """A writer sends ILP batches; each 204 is an acknowledgement. The server
    is killed with SIGKILL mid-stream, after at least one checkpoint of the
    write-ahead log. After a restart every
    acknowledged row is there, and no batch is half there."""
    # 60 batches are 300k rows: past the log's 250k-row checkpoint, so
    # recovery joins written parts and the log's records.
    kill_and_check(step_ns=1000, kill_now=lambda data, acked: len(acked) >= 60, min_acked=60)


def test_a_sigkill_in_the_middle_of_a_checkpoint_loses_no_row():
    """Rows a minute apart: the checkpoint of the first 250k rows (made in
    the 50th batch's request) writes ~174 day partitions. The server is
    killed as soon as the first of its parts is in place, before the log
    is emptied; the log must give back the partitions not yet written."""
    def first_part(data: Path, acked: list[int]) -> bool:
        return len(acked) >= 49 and any(data.glob("tables/default/crash/*/part-*.arrow"))
    kill_and_check(step_ns=60 * 10**9, kill_now=first_part, min_acked=49)


def kill_and_check(step_ns: int, kill_now, min_acked: int) -> None:
    with tempfile.TemporaryDirectory(prefix="polaroid-crash-") as tmp:
        data = Path(tmp)
        server = Server(data)
        acked: list[int] = []
        failed: list[BaseException] = []

        def write() -> None:
            try:
                with Sender.from_conf(f"http::addr=127.0.0.1:{server.http_port};retry_timeout=0;auto_flush=off;") as sender:
                    for batch in range(10_000):
                        for i in range(BATCH):
                            n = batch * BATCH + i
                            sender.row("crash", symbols={"sym": "S%d" % (n % 7)},
                                       columns={"n": n, "px": n * 0.5}, at=TimestampNanos(START_NS + n * step_ns))
                        sender.flush()
                        acked.append(batch)
            except BaseException as e:  # the server went away mid-flush
                failed.append(e)

        writer = threading.Thread(target=write)
        writer.start()
        deadline = time.time() + 120
        while not kill_now(data, acked) and writer.is_alive() and time.time() < deadline:
            time.sleep(0.001)
        server.kill()
        writer.join(timeout=60)
        assert failed, "the writer should have seen the server die"
        assert len(acked) >= min_acked, f"only {len(acked)} batches were acknowledged before the kill"
        assert list(data.glob("tables/default/crash/*/part-*.arrow")), "no checkpoint was written"
        restarted = Server(data)
        try:
            rest = QuestDBClient(host="127.0.0.1", port=restarted.http_port)
            reply = rest.exec("SELECT count(*) AS rows, count(DISTINCT n) AS distinct_n, max(n) AS top FROM crash")
            rows, distinct, top = reply["dataset"][0]
            # Every acknowledged batch is there, each row once.
            assert rows == distinct
            assert rows >= len(acked) * BATCH
            # Whole batches only: an unacknowledged one is there whole or not at all.
            assert rows % BATCH == 0 and top == rows - 1
            sums = rest.exec("SELECT sum(px) AS px FROM crash")["dataset"][0][0]
            assert sums == pytest.approx(0.5 * rows * (rows - 1) / 2)
        finally:
            restarted.stop()


def test_with_tokens_http_needs_one_and_each_sees_its_own_tables():
    with tempfile.TemporaryDirectory(prefix="polaroid-auth-") as tmp:
        server = Server(Path(tmp), "--auth-token", "alice-secret,bob-secret")
        try:
            anonymous = QuestDBClient(host="127.0.0.1", port=server.http_port)
            with pytest.raises(QuestDBAPIError) as raised:
                anonymous.exec("SELECT 1 AS one")
            assert raised.value.status_code == 401
            # QuestDB's clients send HTTP Basic; the password is the token.
            alice = QuestDBClient(host="127.0.0.1", port=server.http_port, user="alice", password="alice-secret")
            bob = QuestDBClient(host="127.0.0.1", port=server.http_port, user="bob", password="bob-secret")
            alice.exec("CREATE TABLE mine (ts TIMESTAMP, x LONG) timestamp(ts)")
            alice.exec("INSERT INTO mine VALUES ('2026-01-01T00:00:00Z', 1)")
            assert alice.exec("SELECT x FROM mine")["dataset"] == [[1]]
            assert alice.table_exists("mine") and not bob.table_exists("mine")
            with pytest.raises(QuestDBAPIError) as raised:
                bob.exec("SELECT x FROM mine")
            assert raised.value.status_code == 400 and "not found" in raised.value.response_data["error"]
            with Sender.from_conf(f"http::addr=127.0.0.1:{server.http_port};token=bob-secret;") as sender:
                sender.row("bobs", columns={"x": 2}, at=TimestampNanos(1))
                sender.flush()
            assert bob.exec("SELECT x FROM bobs")["dataset"] == [[2]]
            assert not alice.table_exists("bobs")
            import urllib.request
            with urllib.request.urlopen(f"{server.url}/metrics") as reply:
                assert reply.status == 200
        finally:
            server.stop()


def test_ttl_and_max_size_drop_old_partitions_whole():
    """QuestDB's `TTL` on CREATE TABLE and ALTER TABLE, and our size cap:
    rows written over six days by ILP; what stays is exactly the partitions
    (days) the retention keeps, counted against the rows sent."""
    with tempfile.TemporaryDirectory(prefix="polaroid-ttl-") as tmp:
        server = Server(Path(tmp))
        try:
            rest = QuestDBClient(host="127.0.0.1", port=server.http_port)
            rest.exec("CREATE TABLE ticks (sym SYMBOL, px DOUBLE, ts TIMESTAMP) timestamp(ts) PARTITION BY DAY TTL 2 DAYS WAL")
            day_ns = 86_400 * 1_000_000_000
            start = 1_795_392_000_000_000_000  # 2026-11-23 00:00 UTC
            with Sender.from_conf(f"http::addr=127.0.0.1:{server.http_port};") as sender:
                for day in range(6):
                    for i in range(100):
                        sender.row("ticks", symbols={"sym": "S%d" % (i % 3)}, columns={"px": float(i)},
                                   at=TimestampNanos(start + day * day_ns + i * 1_000_000_000))
                    sender.flush()
            count = lambda: rest.exec("SELECT count(*) AS n, min(ts) AS first FROM ticks")["dataset"][0]  # noqa: E731
            # The log's rows are not partitioned yet: the TTL applies at the next
            # write-out; ALTER writes them out and applies it at once.
            assert count()[0] == 600
            rest.exec("ALTER TABLE ticks SET TTL 2 DAYS")
            # Newest row 2026-11-28 00:01:39: days that ended by 11-26 00:01:39 go.
            n, first = count()
            assert (n, first) == (300, "2026-11-26T00:00:00.000000Z")
            rest.exec("ALTER TABLE ticks SET TTL 1 DAY")
            assert count()[0] == 200
            part = next(Path(tmp).glob("tables/default/ticks/2026-11-28/part-*.arrow"))
            rest.exec(f"ALTER TABLE ticks SET MAX SIZE {part.stat().st_size + 10} B")
            assert count() == [100, "2026-11-28T00:00:00.000000Z"]
            with pytest.raises(QuestDBAPIError, match="PARTITION BY"):
                rest.exec("CREATE TABLE flat (px DOUBLE, ts TIMESTAMP) timestamp(ts) TTL 1 DAY")
            with pytest.raises(QuestDBAPIError, match="TTL"):
                rest.exec("ALTER TABLE ticks SET TTL 2 FORTNIGHTS")
            with pytest.raises(QuestDBAPIError, match="does not exist"):
                rest.exec("ALTER TABLE nope SET TTL 1 DAY")
        finally:
            server.stop()
