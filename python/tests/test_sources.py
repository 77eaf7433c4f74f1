"""Live sources from the Python client: start_source, sources and
stop_source against a real polaroid-server, fed by a local WebSocket server
(the `websockets` package) that sends trades as OKX's public `trades`
channel does (www.okx.com/docs-v5): an envelope naming the channel and
instrument, and `data`, an array of trades with their numbers and
millisecond times as text. The table must equal the trades as sent."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator

import polars as pl
import pytest

import polaroid as pr
from ci.ws_feed import FeedServer

T0_MS = 1_764_576_000_000  # 2025-12-01T08:00:00Z
INSTRUMENTS = ["BTC-USDT", "ETH-USDT"]


def okx_trade(i: int) -> dict:
    return {"instId": INSTRUMENTS[i % 2], "tradeId": str(130_639_474 + i), "px": f"{42_000 + i * 0.7:.1f}",
            "sz": f"{(1 + i % 9) / 1000:.3f}", "side": ["buy", "sell"][i % 3 == 0], "ts": str(T0_MS + i * 250),
            "count": "1"}


def okx_messages(sizes: list[int], first: int = 0) -> tuple[list[str], int]:
    """The subscription's answer (its `arg` names the channel too, but it
    has no `data`), then messages of `sizes` trades with a ping's answer
    after every third, then one cut short; and the number after their last
    trade. Trades are numbered from `first`."""
    messages = ['{"event":"subscribe","arg":{"channel":"trades","instId":"BTC-USDT"},"connId":"a4d3ae55"}']
    for k, n in enumerate(sizes):
        messages.append(json.dumps({"arg": {"channel": "trades", "instId": "BTC-USDT"},
                                    "data": [okx_trade(i) for i in range(first, first + n)]}))
        first += n
        if k % 3 == 2:
            messages.append("pong")  # OKX's answer to a "ping" text; not JSON
    messages.append(messages[-1][:40])  # a message cut short
    return messages, first


class Feed(FeedServer):
    """A WebSocket server: after a client's subscription it sends
    `messages`, then `later` once `go` is set (a message every 5 ms), then
    answers a "ping" text with "pong", as OKX does."""

    def __init__(self, messages: list[str], later: list[str] | None = None) -> None:
        self.go = threading.Event()
        self.subscriptions: list[str] = []
        self.received: list[str] = []  # what the client sent after subscribing

        async def handler(ws) -> None:
            self.subscriptions.append(await ws.recv())
            for message in messages:
                await ws.send(message)
            if later:
                await asyncio.get_running_loop().run_in_executor(None, self.go.wait)
                for message in later:
                    await ws.send(message)
                    await asyncio.sleep(0.005)
            async for text in ws:
                self.received.append(text)
                if text == "ping":
                    await ws.send("pong")

        super().__init__(handler)


def okx_spec(name: str, table: str, url: str) -> dict:
    return {
        "name": name, "table": table, "format": "json", "batch_ms": 20,
        "websocket": {"url": url, "subscribe": ['{"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]}'],
                      "ping": "ping", "ping_ms": 100},
        "when": "/arg/channel", "when_equals": "trades", "rows": "/data",
        "columns": {
            "ts": {"path": "/ts", "type": "timestamp_ms"},
            "symbol": {"path": "/instId", "type": "string"},
            "price": {"path": "/px", "type": "float"},
            "size": {"path": "/sz", "type": "float"},
            "side": {"path": "/side", "type": "string"},
            "trade_id": {"path": "/tradeId", "type": "int"},
            "channel": {"message_path": "/arg/channel", "type": "string"},
        },
    }


@pytest.fixture()
def feed() -> Iterator[tuple[Feed, int, int]]:
    messages, trades = okx_messages([3, 1, 5, 2, 8, 4, 1, 6, 7, 3])
    feed = Feed(messages)
    yield feed, trades, len(messages)
    feed.close()


def wait_for(client: pr.Client, name: str, rows: int, messages: int | None = None) -> pr.SourceStatus:
    deadline = time.time() + 30
    while True:
        status = next((s for s in client.sources() if s.name == name), None)
        if status is not None and status.rows == rows and messages in (None, status.messages):
            return status
        assert time.time() < deadline, f"{name}: {status}"
        time.sleep(0.02)


def test_a_batched_feed_becomes_a_table_equal_to_its_trades(client: pr.Client, feed) -> None:
    ws, trades, messages = feed
    started = client.start_source(okx_spec("okx", "okx_trades", f"ws://127.0.0.1:{ws.port}"))
    assert (started.name, started.table, started.url) == ("okx", "okx_trades", f"ws://127.0.0.1:{ws.port}")
    pongs = 3
    status = wait_for(client, "okx", trades, messages - pongs)
    # The answers to our "ping"s are skipped: neither messages nor errors. The
    # message cut short is a decode error, counted, and the rows go on.
    assert (status.state, status.messages, status.decode_errors, status.dropped_rows) == (
        "connected", messages - pongs, 1, 0), status
    assert status.last_error is not None and "not JSON" in status.last_error
    deadline = time.time() + 10
    while ws.received.count("ping") < 2:
        assert time.time() < deadline, ws.received
        time.sleep(0.02)
    assert ws.subscriptions == ['{"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]}']

    got = client.table("okx_trades").sort("trade_id").collect()
    sent = pl.DataFrame([okx_trade(i) for i in range(trades)])
    want = sent.select(
        pl.col("ts").cast(pl.Int64).cast(pl.Datetime("ms")).cast(pl.Datetime("us")),
        pl.col("instId").alias("symbol"),
        pl.col("px").cast(pl.Float64).alias("price"),
        pl.col("sz").cast(pl.Float64).alias("size"),
        pl.col("side"),
        pl.col("tradeId").cast(pl.Int64).alias("trade_id"),
        pl.lit("trades").alias("channel"),
    )
    assert got.select(want.columns).with_columns(pl.col(pl.Categorical).cast(pl.String)).equals(want)

    final = client.stop_source("okx")
    assert (final.state, final.rows) == ("stopped", trades)
    assert all(s.name != "okx" for s in client.sources())


def test_bad_specs_taken_names_and_unknown_sources_are_refused_by_name(client: pr.Client, feed) -> None:
    ws, trades, _ = feed
    spec = okx_spec("okx2", "okx_trades2", f"ws://127.0.0.1:{ws.port}")
    with pytest.raises(pr.InvalidArgumentError, match="row_when needs rows"):
        columns = {k: v for k, v in spec["columns"].items() if k != "channel"}
        client.start_source({**spec, "columns": columns, "rows": None, "row_when": "/x", "row_when_equals": "y"})
    with pytest.raises(pr.InvalidArgumentError, match="message_path is for sources with rows"):
        client.start_source({**spec, "rows": None})
    with pytest.raises(pr.InvalidArgumentError, match="colour"):
        client.start_source({**spec, "colour": "red"})
    client.start_source(spec)
    with pytest.raises(pr.AlreadyExistsError, match="okx2"):
        client.start_source(spec)
    wait_for(client, "okx2", trades)
    client.stop_source("okx2")
    with pytest.raises(pr.NotFoundError, match="okx2"):
        client.stop_source("okx2")


def test_live_bars_of_a_batched_feed_equal_polars(client: pr.Client) -> None:
    """The user's whole path: a feed batching trades, a source, and bars
    streamed as the source's appends close them, from the table's start.
    The bars must equal python-polars' over the table as fetched at the end."""
    from test_live_bars import oracle, read

    early, middle = okx_messages([7, 3, 9, 5] * 25)  # trades 0..600: 150 s of ticks
    late, end = okx_messages([4, 8, 2, 6] * 25, middle)  # 600..1,100: 125 s more
    ws = Feed(early, later=late[1:])
    try:
        client.start_source(okx_spec("okx-bars", "okx_bars", f"ws://127.0.0.1:{ws.port}"))
        wait_for(client, "okx-bars", middle)
        t0 = dt.datetime.fromtimestamp(T0_MS / 1000, dt.timezone.utc)
        bars = client.subscribe_bars("okx_bars", "1m", start=t0)
        ws.go.set()
        newest = t0 + dt.timedelta(milliseconds=250 * (end - 1))
        closed_until = newest.replace(second=0, microsecond=0)
        expect = len(INSTRUMENTS) * int((closed_until - t0) / dt.timedelta(minutes=1))
        got: list[pl.DataFrame] = []
        reader = threading.Thread(target=read, args=(bars, expect, got), daemon=True)
        reader.start()
        reader.join(timeout=60)
        assert not reader.is_alive(), f"bars did not arrive within 60 s: {got}"
        wait_for(client, "okx-bars", end)
        rows = client.table("okx_bars").collect().rename({"ts": "timestamp"})
        frame = pl.concat(got).sort("symbol", "ts")
        expected = oracle(rows, t0.replace(tzinfo=None), closed_until.replace(tzinfo=None))
        assert frame.height == expected.height == expect, (frame, expected)
        assert frame.select(pl.col("symbol").cast(pl.String), "ts").equals(expected.select("symbol", "ts"))
        assert frame["trades"].cast(pl.Int64).to_list() == expected["trades"].cast(pl.Int64).to_list()
        for column in ["open", "high", "low", "close", "volume", "vwap"]:
            assert (frame[column] - expected[column]).abs().max() < 1e-9, column
    finally:
        client.stop_source("okx-bars")
        ws.close()
