"""Live sources through the server binary: started at boot from
`--sources sources.toml`, and at run time over HTTP /sources, fed by a
local WebSocket server (the `websockets` package) playing Binance-format
trades. Rows are read back through /exec and checked value by value."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from ci.ws_feed import FeedServer
from conftest import Server

T0_MS = 1_764_576_000_000  # 2025-12-01T08:00:00Z


def trade(i: int) -> dict:
    return {"e": "trade", "E": T0_MS + i * 10 + 1, "s": ["BTCUSDT", "ETHUSDT"][i % 2], "t": 7_000 + i,
            "p": f"{100 + i / 4:.2f}", "q": f"{1 + i % 5}.5", "T": T0_MS + i * 10, "m": i % 3 == 0, "M": True}


class Feed(FeedServer):
    """A WebSocket server: after a client's first message (its
    subscription) it sends `count` trades, then `messages`, and stays open."""

    def __init__(self, count: int, pad: int = 0, messages: list[str] | None = None) -> None:
        self.count = count
        self.next = 0
        self.subscriptions: list[str] = []
        self.sent = False

        async def handler(ws) -> None:
            self.subscriptions.append(await ws.recv())
            filler = {"pad": "x" * pad} if pad else {}
            # A trade is sent once, whichever connection it goes to.
            while self.next < self.count:
                self.next += 1
                await ws.send(json.dumps({**trade(self.next - 1), **filler}))
            for message in messages or []:
                await ws.send(message)
            self.sent = True
            await ws.wait_closed()

        super().__init__(handler)


def http(server: Server, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    request = urllib.request.Request(f"{server.url}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def exec_rows(server: Server, sql: str) -> list:
    query = urllib.parse.urlencode({"query": sql})
    with urllib.request.urlopen(f"{server.url}/exec?{query}") as reply:
        return json.load(reply)["dataset"]


def wait_for_rows(server: Server, source: str, rows: int, timeout: float = 20.0, token: str | None = None) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        _, listed = http(server, "GET", "/sources", token=token)
        status = next((s for s in listed["sources"] if s["name"] == source), None)
        if status and status["rows"] == rows:
            return status
        time.sleep(0.02)
    raise AssertionError(f"{source}: {status}")


def expected(count: int) -> list:
    return [[t["s"], f"2025-12-01T08:00:{(t['T'] - T0_MS) / 1000:06.3f}000Z", float(t["p"]), float(t["q"]), t["t"], t["m"]]
            for t in map(trade, range(count))]


def test_a_source_from_the_sources_file_feeds_a_table_at_boot(tmp_path):
    feed = Feed(120)
    toml = tmp_path / "sources.toml"
    toml.write_text(f"""
[[source]]
name = "binance"
table = "live_trades"
format = "binance-trade"
batch_ms = 20
[source.websocket]
url = "{feed.url}"
subscribe = ['{{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}}']
""")
    server = Server(tmp_path, "--sources", str(toml))
    try:
        status = wait_for_rows(server, "binance", 120)
        assert status["state"] == "connected" and status["dropped_rows"] == 0 and status["messages"] == 120
        assert feed.subscriptions == ['{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}']
        got = exec_rows(server, "SELECT symbol, ts, price, size, trade_id, buyer_is_maker FROM live_trades ORDER BY trade_id")
        assert got == expected(120)
        # The live table is a table like any other: QuestDB's SAMPLE BY over it.
        bars = exec_rows(server, "SELECT ts, symbol, count(*) AS n FROM live_trades SAMPLE BY 1s ORDER BY ts, symbol")
        assert [b[2] for b in bars] == [50, 50, 10, 10]
    finally:
        server.stop()
        feed.close()


def test_sources_are_started_listed_and_stopped_over_http(server):
    feed = Feed(40)
    spec = {"name": "http-feed", "table": "http_trades", "format": "binance-trade", "batch_ms": 20,
            "websocket": {"url": feed.url, "subscribe": ["{}"]}}
    try:
        code, status = http(server, "POST", "/sources", spec)
        assert code == 201 and status["name"] == "http-feed" and status["table"] == "http_trades"
        wait_for_rows(server, "http-feed", 40)
        code, reply = http(server, "POST", "/sources", spec)
        assert code == 409 and "already running" in reply["error"]
        code, reply = http(server, "POST", "/sources", {**spec, "name": "x", "websocket": {"url": "http://nope"}})
        assert code == 400 and "ws://" in reply["error"]
        code, reply = http(server, "POST", "/sources", {**spec, "name": "y", "colour": "red"})
        assert code == 400 and "colour" in reply["error"]
        code, final = http(server, "DELETE", "/sources/http-feed")
        assert code == 200 and final["state"] == "stopped" and final["rows"] == 40
        code, reply = http(server, "DELETE", "/sources/http-feed")
        assert code == 404 and "no source" in reply["error"]
        assert all(s["name"] != "http-feed" for s in http(server, "GET", "/sources")[1]["sources"])
        assert exec_rows(server, "SELECT count(*) FROM http_trades") == [[40]]
    finally:
        feed.close()


def alpaca_trade(i: int) -> dict:
    """Trade `i` as Alpaca's market-data stream sends it (docs.alpaca.markets):
    an RFC 3339 time in nanoseconds, the id and size as integers."""
    ns = i * 7_654_321_987
    at = f"2025-12-01T08:{ns // 60_000_000_000:02d}:{ns // 1_000_000_000 % 60:02d}.{ns % 1_000_000_000:09d}Z"
    return {"T": "t", "S": ["AAPL", "MSFT"][i % 2], "i": 52_983_525_029_461 + i, "x": "V",
            "p": round(190 + i / 8, 3), "s": 1 + i % 300, "t": at, "c": ["@", "I"], "z": "C"}


def test_a_feed_sending_arrays_of_events_lands_one_row_per_trade(server):
    """Alpaca's and Polygon's streams send each message as an array of events
    of any kind: `rows` reads its elements, `row_when` keeps the trades."""
    sizes = [1, 4, 2, 7, 3, 5, 1, 6]  # trades per message
    messages = ['[{"T":"success","msg":"connected"}]', '[{"T":"success","msg":"authenticated"}]',
                '[{"T":"subscription","trades":["AAPL","MSFT"],"quotes":["AAPL"]}]']
    first = 0
    for k, n in enumerate(sizes):
        events = [alpaca_trade(i) for i in range(first, first + n)]
        # A quote among the trades, as a subscription to both sends.
        events.insert(k % (n + 1), {"T": "q", "S": "AAPL", "bp": 189.9, "bs": 1, "ap": 190.1, "as": 3,
                                    "t": "2025-12-01T08:00:00.5Z", "c": ["R"], "z": "C"})
        messages.append(json.dumps(events))
        first += n
    messages.append('[{"T":"t","S":"AAPL","i":1,"p":"not a price","s":1,"t":"2025-12-01T08:00:00Z"}]')
    feed = Feed(0, messages=messages)
    spec = {"name": "alpaca", "table": "alpaca_trades", "format": "json", "batch_ms": 20,
            "websocket": {"url": feed.url, "subscribe": ['{"action":"auth","key":"k","secret":"s"}',
                                                         '{"action":"subscribe","trades":["AAPL","MSFT"]}']},
            "rows": "", "row_when": "/T", "row_when_equals": "t",
            "columns": {"symbol": {"path": "/S", "type": "string"}, "price": {"path": "/p", "type": "float"},
                        "size": {"path": "/s", "type": "int"}, "trade_id": {"path": "/i", "type": "int"},
                        "ts": {"path": "/t", "type": "timestamp_iso"}}}
    try:
        code, status = http(server, "POST", "/sources", spec)
        assert code == 201, status
        status = wait_for_rows(server, "alpaca", first)
        assert (status["messages"], status["decode_errors"], status["dropped_rows"]) == (len(messages), 1, 0), status
        assert "not a price" in status["last_error"]
        got = exec_rows(server, "SELECT symbol, ts, price, size, trade_id FROM alpaca_trades ORDER BY trade_id")
        want = [[t["S"], t["t"][:26] + "Z", t["p"], t["s"], t["i"]] for t in map(alpaca_trade, range(first))]
        assert got == want
        code, final = http(server, "DELETE", "/sources/alpaca")
        assert code == 200 and final["rows"] == first
        # A row filter without the array it filters is refused by name.
        code, reply = http(server, "POST", "/sources", {**spec, "rows": None})
        assert code == 400 and "row_when needs rows" in reply["error"], reply
    finally:
        feed.close()


def test_a_source_started_over_http_starts_again_with_the_server_until_stopped(tmp_path):
    """A deploy restarts the server: the sources its tenants started are
    kept in the data directory and start again, each in its tenant."""
    feed = Feed(40)
    server = Server(tmp_path, "--auth-token", "alice,bob")
    spec = {"name": "kept", "table": "kept_trades", "format": "binance-trade", "batch_ms": 20,
            "websocket": {"url": feed.url, "subscribe": ["{}"]}}
    try:
        code, status = http(server, "POST", "/sources", spec, token="alice")
        assert code == 201, status
        wait_for_rows(server, "kept", 40, token="alice")
        server.stop()
        feed.count = 90  # the feed went on while the server was down
        server.start()
        status = wait_for_rows(server, "kept", 50, token="alice")
        assert status["state"] == "connected" and len(feed.subscriptions) == 2
        assert http(server, "GET", "/sources", token="bob")[1]["sources"] == []
        query = urllib.parse.urlencode({"query": "SELECT trade_id FROM kept_trades ORDER BY trade_id"})
        request = urllib.request.Request(f"{server.url}/exec?{query}", headers={"Authorization": "Bearer alice"})
        with urllib.request.urlopen(request) as reply:
            assert json.load(reply)["dataset"] == [[7_000 + i] for i in range(90)]
        # A restart without Alice's token leaves her source on disk, and says so.
        server.stop()
        server.args, server.log = ("--auth-token", "bob"), tmp_path / "server.log"
        server.start()
        assert http(server, "GET", "/sources", token="bob")[1]["sources"] == []
        assert "kept sources of a token the server no longer takes" in server.log.read_text()
        server.stop()
        server.args, server.log = ("--auth-token", "alice,bob"), None
        feed.count = 100
        server.start()
        wait_for_rows(server, "kept", 10, token="alice")
        # Bob cannot stop it; Alice can, and then it stays stopped.
        assert http(server, "DELETE", "/sources/kept", token="bob")[0] == 404
        code, final = http(server, "DELETE", "/sources/kept", token="alice")
        assert code == 200 and final["rows"] == 10
        server.stop()
        server.start()
        assert http(server, "GET", "/sources", token="alice")[1]["sources"] == []
    finally:
        server.stop()
        feed.close()


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_a_feed_faster_than_the_writer_keeps_memory_bounded_and_counts_every_drop(server):
    """400k Binance trades of ~1 KB each (440 MB on the wire), as fast as the
    feed can send them, into a source whose writer is behind for the whole
    feed (it appends only every 10 minutes, or when stopped) and lets 1,000
    rows wait. Memory stays within 100 MB of the idle server, whatever
    arrives; every message is a row in the table or a counted, metered drop."""
    count, waiting, bound = 400_000, 1_000, 100 << 20
    baseline = rss_bytes(server.proc.pid)
    feed = Feed(count, pad=1_000)
    spec = {"name": "flood", "table": "flood", "format": "binance-trade", "batch_rows": 100_000,
            "batch_ms": 600_000, "max_pending_rows": waiting, "websocket": {"url": feed.url, "subscribe": ["{}"]}}
    try:
        code, _ = http(server, "POST", "/sources", spec)
        assert code == 201
        peak, status = baseline, {}
        deadline = time.time() + 240
        while time.time() < deadline:
            peak = max(peak, rss_bytes(server.proc.pid))
            _, listed = http(server, "GET", "/sources")
            status = next(s for s in listed["sources"] if s["name"] == "flood")
            if feed.sent and status["messages"] == count:
                break
            time.sleep(0.02)
        assert status["messages"] == count, status
        assert peak - baseline < bound, f"RSS grew by {(peak - baseline) >> 20} MiB (bound {bound >> 20} MiB)"
        assert status["dropped_rows"] == count - waiting, status
        # Stopping appends what waited: nothing is unaccounted for.
        code, final = http(server, "DELETE", "/sources/flood")
        assert code == 200 and final["rows"] == waiting and final["rows"] + final["dropped_rows"] == count, final
        assert exec_rows(server, "SELECT count(*) AS n, min(trade_id) AS first, max(trade_id) AS last FROM flood") == [[waiting, 7_000, 7_000 + waiting - 1]]
        with urllib.request.urlopen(f"{server.url}/metrics") as reply:
            metrics = reply.read().decode()
        dropped = [line for line in metrics.splitlines()
                   if line.startswith("polaroid_source_dropped_rows_total") and 'source="flood"' in line]
        assert dropped and float(dropped[0].split()[-1]) == count - waiting, dropped
        print(f"flood: {count} messages, RSS +{(peak - baseline) >> 20} MiB (bound {bound >> 20} MiB)")
    finally:
        feed.close()
