"""Child processes for the Python test suites: a free loopback port, and
waiting until a process listens on one (or has died trying)."""

from __future__ import annotations

import random
import socket
import subprocess
import time

# Below this, the kernel hands out no port of its own (Linux's default
# ephemeral range starts at 32768).
_LOWEST_PORT = 10_000


def _ephemeral_start() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A loopback port nothing listens on, for a server about to start.

    Taken below the kernel's ephemeral range: a port the kernel hands out
    (to a bind of port 0, or to the next outgoing connection's own end) can
    be handed out again before the server binds it, and the server then
    fails to start ("did not come up on port ...", now and then in CI)."""
    top = _ephemeral_start()
    if top > _LOWEST_PORT + 1000:
        for _ in range(200):
            port = random.randint(_LOWEST_PORT, top - 1)
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    """Return once 127.0.0.1:`port` accepts; raise if `proc` exits first or
    `timeout` seconds pass."""
    deadline = time.time() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{what} did not come up on port {port}")
            time.sleep(0.05)
