"""A WebSocket server on a thread of its own (the `websockets` package), for
the Python suites' live feeds: each connection is served by the handler the
test gives, while the test talks to the server under test."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any


class FeedServer:
    """Serves `handler(connection)` on a free loopback port until closed."""

    def __init__(self, handler: Callable[[Any], Awaitable[None]]) -> None:
        from websockets.asyncio.server import serve

        self.port = 0
        ready = threading.Event()
        self.loop = asyncio.new_event_loop()

        async def main() -> None:
            async with serve(handler, "127.0.0.1", 0) as server:
                self.port = server.sockets[0].getsockname()[1]
                self.stop = asyncio.Event()
                ready.set()
                await self.stop.wait()

        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(main(),), daemon=True)
        self.thread.start()
        if not ready.wait(10):
            raise RuntimeError("the WebSocket feed did not start")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)
