"""The openai backend against a loopback OpenAI-compatible server started by the test."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from synthmphn.captions.openai_api import OpenAIBackend, ResponseCache, cache_key
from synthmphn.config import CaptionsConfig

from .helpers import assert_valid_draft


def answer(messages: list[dict[str, str]]) -> str:
    """A canned model: reads our prompt format and answers with a valid caption as JSON."""
    user = messages[-1]["content"]
    edit = re.search(r'Caption: "(.*)"\n.*from "(.*)" to "(.*)"', user)
    if edit:
        caption, old, new = edit.groups()
        text = re.sub(rf"\b{re.escape(old)}\b", new, caption, count=1)
    else:
        values = [line.split(": ", 1)[1] for line in user.splitlines() if line.startswith("- ")]
        text = "a picture showing " + ", ".join(values)
    return json.dumps({"caption": text})


class FakeServer(ThreadingHTTPServer):
    """Counts requests, records headers/bodies, and can fail the first requests with a given status."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict] = []
        self.headers_seen: list[dict] = []
        self.fail_next: list[int] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.requests.append(body)
            self.server.headers_seen.append(dict(self.headers))
            status = self.server.fail_next.pop(0) if self.server.fail_next else 200
        if self.path != "/v1/chat/completions":
            status = 404
        payload = (
            {"error": "try again"}
            if status != 200
            else {"choices": [{"message": {"role": "assistant", "content": answer(body["messages"])}}]}
        )
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[FakeServer]:
    srv = FakeServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def make_backend(server: FakeServer, **overrides) -> OpenAIBackend:
    settings = {
        "base_url": server.url,
        "model": "canned",
        "concurrency": 3,
        "negatives_per_caption": 2,
    }
    config = CaptionsConfig(backend="openai", **{**settings, **overrides})
    backend = OpenAIBackend(config)
    backend.backoff_s = 0.01
    backend.negative_source = "llm"  # every negative over HTTP (the request counts below)
    return backend


def test_generates_valid_drafts_with_a_retry_after_500(server):
    server.fail_next = [500]
    backend = make_backend(server)
    result = backend.generate(6, seed=0)
    assert len(result.drafts) == 6 and not result.rejections
    for draft in result.drafts:
        assert len(draft.negatives) == 2
        assert_valid_draft(draft, backend.bank)
    assert len(server.requests) == 6 * 3 + 1  # 6 captions + 12 negatives + the failed try
    body = server.requests[-1]
    assert body["model"] == "canned" and isinstance(body["seed"], int) and body["temperature"] == 0.7


def test_cache_makes_a_rerun_free(server, tmp_path):
    first = make_backend(server, cache_dir=tmp_path / "cache").generate(4, seed=1)
    issued = len(server.requests)
    assert issued == 4 * 3
    again = make_backend(server, cache_dir=tmp_path / "cache").generate(4, seed=1)
    assert len(server.requests) == issued  # zero new requests
    assert again.drafts == first.drafts
    make_backend(server).generate(4, seed=1)  # no cache: asks again
    assert len(server.requests) == 2 * issued


def test_api_key_comes_from_the_named_env_var(server, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sekret")
    make_backend(server, api_key_env="MY_KEY", negatives_per_caption=0).generate(1, seed=0)
    assert server.headers_seen[-1]["Authorization"] == "Bearer sekret"
    monkeypatch.delenv("MY_KEY")
    make_backend(server, api_key_env="MY_KEY", negatives_per_caption=0).generate(1, seed=0)
    assert "Authorization" not in server.headers_seen[-1]


def test_client_errors_fail_at_once_and_persistent_5xx_after_retries(server, monkeypatch):
    server.fail_next = [401]
    with pytest.raises(RuntimeError, match="HTTP 401"):
        make_backend(server, negatives_per_caption=0).generate(1, seed=0)
    assert len(server.requests) == 1
    server.fail_next = [503] * 3
    with pytest.raises(RuntimeError, match="HTTP 503 after 3 tries"):
        make_backend(server, negatives_per_caption=0, max_retries=2).generate(1, seed=0)


def test_unreachable_server_is_retried_then_named():
    config = CaptionsConfig(
        backend="openai", base_url="http://127.0.0.1:9/v1", model="m", timeout_s=2, max_retries=1
    )
    backend = OpenAIBackend(config)
    backend.backoff_s = 0.01
    backend.negative_source = "llm"  # every negative over HTTP (the request counts below)
    with pytest.raises(RuntimeError, match=r"127\.0\.0\.1:9/v1/chat/completions"):
        backend.generate(1, seed=0)


def test_config_errors():
    with pytest.raises(ValueError, match="captions.base_url"):
        OpenAIBackend(CaptionsConfig(backend="openai", model="m"))
    with pytest.raises(ValueError, match="captions.model"):
        OpenAIBackend(CaptionsConfig(backend="openai", base_url="http://x/v1"))


def test_cache_key_and_store(tmp_path):
    messages = [{"role": "user", "content": "hi"}]
    key = cache_key("m", messages, 0.7, 1)
    assert key == cache_key("m", [dict(messages[0])], 0.7, 1)
    assert (
        len(
            {
                key,
                cache_key("n", messages, 0.7, 1),
                cache_key("m", messages, 0.5, 1),
                cache_key("m", messages, 0.7, 2),
            }
        )
        == 4
    )
    cache = ResponseCache(tmp_path)
    assert cache.get(key) is None
    cache.put(key, "reply")
    assert cache.get(key) == "reply" and (tmp_path / key[:2] / f"{key}.json").is_file()
    assert ResponseCache(None).get(key) is None
