"""Item 8: the openai backend tries 1 + captions.max_retries times, each bounded by captions.timeout_s."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from synthmphn.captions.openai_api import OpenAIBackend
from synthmphn.config import CaptionsConfig


def backend(port: int, max_retries: int, timeout_s: float) -> OpenAIBackend:
    config = CaptionsConfig(
        backend="openai",
        base_url=f"http://127.0.0.1:{port}/v1",
        model="m",
        max_retries=max_retries,
        timeout_s=timeout_s,
        concurrency=1,
    )
    made = OpenAIBackend(config)
    made.backoff_s = 0.05
    return made


def refused_port() -> int:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SilentServer:
    """Accepts connections, reads nothing, never answers; counts the connections."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted.append(conn)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.mark.parametrize("max_retries", [0, 2])
def test_refused_port_tries_once_plus_max_retries(max_retries: int, monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("synthmphn.captions.openai_api.time.sleep", sleeps.append)
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=rf"request failed after {max_retries + 1} tries"):
        backend(refused_port(), max_retries, timeout_s=2).post({"model": "m"})
    assert time.perf_counter() - start < 2  # was 32 s with max_retries=0: five hidden retries
    assert sleeps == [0.05 * 2**k for k in range(max_retries)]


@pytest.mark.parametrize("max_retries", [0, 1])
def test_silent_server_is_given_up_after_the_timeout(silent: SilentServer, max_retries: int) -> None:
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=rf"after {max_retries + 1} tries"):
        backend(silent.port, max_retries, timeout_s=0.5).post({"model": "m"})
    elapsed = time.perf_counter() - start
    tries = max_retries + 1
    assert 0.5 * tries <= elapsed < 0.5 * tries + 1.5  # was 44 s with max_retries=0, timeout_s=2
    assert len(silent.accepted) == tries
