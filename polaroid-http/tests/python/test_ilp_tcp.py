"""ILP over TCP (`--ilp-listen`) with QuestDB's own client (`tcp::addr=`),
read back through /exec and checked value by value."""

from __future__ import annotations

import datetime as dt
import socket
import time
import urllib.parse
import urllib.error
import urllib.request
import json

from questdb import Sender, TimestampNanos

START_NS = 1_795_444_200_000_000_000  # 2026-11-23T14:30:00Z


def exec_json(server, sql: str) -> dict:
    query = urllib.parse.urlencode({"query": sql})
    with urllib.request.urlopen(f"{server.url}/exec?{query}") as reply:
        return json.load(reply)


def count(server, table: str) -> int:
    reply = exec_json(server, f"SELECT count(*) AS n FROM {table}")
    return reply["dataset"][0][0]


def wait_for_rows(server, table: str, rows: int, timeout: float = 10.0) -> None:
    """TCP has no reply to wait on: poll until the table has `rows` rows."""
    deadline = time.time() + timeout
    seen = None
    while time.time() < deadline:
        try:
            seen = count(server, table)
        except urllib.error.HTTPError:
            seen = None  # not created yet
        if seen == rows:
            return
        time.sleep(0.02)
    raise AssertionError(f"{table} has {seen} rows after {timeout}s, expected {rows}")


def iso(ns: int) -> str:
    at = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=ns // 1000)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_rows_from_the_questdb_client_over_tcp_read_back_exactly(server):
    rows = [
        (["AAPL", "MSFT", "NVDA"][i % 3], 100.0 + i / 8, i * 7 % 500, START_NS + i * 250_000_000)
        for i in range(2_500)
    ]
    with Sender.from_conf(f"tcp::addr=127.0.0.1:{server.ilp_port};") as sender:
        for sym, px, qty, at in rows:
            sender.row("tcp_ticks", symbols={"sym": sym}, columns={"px": px, "qty": qty, "venue": "XNAS"},
                       at=TimestampNanos(at))
        sender.flush()
    wait_for_rows(server, "tcp_ticks", len(rows))
    reply = exec_json(server, "SELECT * FROM tcp_ticks ORDER BY timestamp")
    assert [(c["name"], c["type"]) for c in reply["columns"]] == [
        ("sym", "SYMBOL"), ("px", "DOUBLE"), ("qty", "LONG"), ("venue", "VARCHAR"), ("timestamp", "TIMESTAMP")]
    assert reply["dataset"] == [[sym, px, qty, "XNAS", iso(at)] for sym, px, qty, at in rows]
    with urllib.request.urlopen(f"{server.url}/metrics") as reply:
        text = reply.read().decode()
    assert 'polaroid_requests_total{door="ilp-tcp",route="batch",code="ok"}' in text
    assert 'polaroid_ingested_rows_total{table="tcp_ticks"} 2500' in text


def test_lines_are_visible_while_the_connection_stays_open(server):
    with Sender.from_conf(f"tcp::addr=127.0.0.1:{server.ilp_port};") as sender:
        for i in range(3):
            sender.row("tcp_open", columns={"px": float(i)}, at=TimestampNanos(START_NS + i))
        sender.flush()
        # Appended by the batch timer (100 ms), not by the connection closing.
        wait_for_rows(server, "tcp_open", 3, timeout=5.0)
        sender.row("tcp_open", columns={"px": 3.0}, at=TimestampNanos(START_NS + 3))
        sender.flush()
        wait_for_rows(server, "tcp_open", 4, timeout=5.0)
    reply = exec_json(server, "SELECT px FROM tcp_open ORDER BY timestamp")
    assert [r[0] for r in reply["dataset"]] == [0.0, 1.0, 2.0, 3.0]


def closed_by_server(sock: socket.socket, timeout: float = 10.0) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_a_bad_line_closes_the_connection_after_the_lines_before_it(server):
    with socket.create_connection(("127.0.0.1", server.ilp_port)) as sock:
        sock.sendall(b"tcp_bad px=1.5 1000\ntcp_bad px=2.5 2000\ntcp_bad\ntcp_bad px=9.5 3000\n")
        assert closed_by_server(sock)
    wait_for_rows(server, "tcp_bad", 2)
    assert [r[0] for r in exec_json(server, "SELECT px FROM tcp_bad")["dataset"]] == [1.5, 2.5]
    # A line that parses but does not fit the table (px is DOUBLE): its batch
    # is refused whole and the connection closed.
    with socket.create_connection(("127.0.0.1", server.ilp_port)) as sock:
        sock.sendall(b'tcp_bad px=3.5 4000\ntcp_bad px="text" 5000\n')
        assert closed_by_server(sock)
    # The server is still up and the door still takes good lines.
    with Sender.from_conf(f"tcp::addr=127.0.0.1:{server.ilp_port};") as sender:
        sender.row("tcp_bad", columns={"px": 6.5}, at=TimestampNanos(6000))
    wait_for_rows(server, "tcp_bad", 3)
    assert [r[0] for r in exec_json(server, "SELECT px FROM tcp_bad ORDER BY timestamp")["dataset"]] == [1.5, 2.5, 6.5]


def test_an_endless_line_is_cut_off(server):
    with socket.create_connection(("127.0.0.1", server.ilp_port)) as sock:
        sock.sendall(b"tcp_long px=1.0 1000\n")
        chunk = b"x" * (64 << 10)
        try:
            for _ in range(40):  # 2.5 MiB without a newline
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert closed_by_server(sock)
    wait_for_rows(server, "tcp_long", 1)


def test_sigterm_appends_the_pending_lines_first(data_dir, tmp_path):
    from conftest import Server
    own = Server(tmp_path)
    try:
        with socket.create_connection(("127.0.0.1", own.ilp_port)) as sock:
            sock.sendall(b"tcp_stop px=1.5 1000\ntcp_stop px=2.5 2000\n")
            time.sleep(0.01)  # on the server, well inside the 100 ms batch wait
            own.stop()  # SIGTERM: the connection's pending lines are appended, then it closes
            assert closed_by_server(sock)
        own.start()
        assert [r[0] for r in exec_json(own, "SELECT px FROM tcp_stop ORDER BY timestamp")["dataset"]] == [1.5, 2.5]
    finally:
        own.stop()
