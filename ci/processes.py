"""Child processes for the Python test suites: a free loopback port, and
waiting until a process listens on one (or has died trying)."""

from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
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
