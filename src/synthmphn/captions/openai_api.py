"""The `openai` caption backend: any OpenAI-compatible `/v1/chat/completions` endpoint (stdlib only).

`captions.base_url` is the API root including `/v1` (e.g. `http://127.0.0.1:8000/v1` for vLLM or llama.cpp,
`https://api.openai.com/v1`), `captions.model` the model name, and the key (optional; local servers rarely
need one) is read from the environment variable named by `captions.api_key_env`. Requests run
`captions.concurrency` at a time; each sends its own `seed`. 429, 5xx, timeouts and connection errors are
retried `captions.max_retries` times with exponential backoff (honouring a numeric Retry-After), each
try bounded by `captions.timeout_s`; other HTTP errors fail at once with the status and body. With `captions.cache_dir` set, every reply is stored under
sha256(model, messages, temperature, seed), written atomically, so a rerun sends no request at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from synthmphn.captions.base import CAPTION_BACKENDS
from synthmphn.captions.llm import LLMBackend, LLMRequest
from synthmphn.config import CaptionsConfig
from synthmphn.io import atomic_write_json

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 60.0


def cache_key(model: str, messages: list[dict[str, str]], temperature: float, seed: int) -> str:
    """sha256 of the request content that decides the reply (model, messages, temperature, seed)."""
    payload = json.dumps(
        {"model": model, "messages": messages, "temperature": temperature, "seed": seed},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ResponseCache:
    """Replies on disk, one JSON file per key (`<dir>/<key[:2]>/<key>.json`); None disables caching."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        """The cached reply, or None (no cache, a miss, or an unreadable entry)."""
        if self.folder is None:
            return None
        try:
            content = json.loads(self._path(key).read_text(encoding="utf-8"))["content"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return content if isinstance(content, str) else None

    def put(self, key: str, content: str) -> None:
        """Stores a reply atomically (a crash never leaves a torn entry)."""
        if self.folder is not None:
            atomic_write_json(self._path(key), {"content": content})


@CAPTION_BACKENDS.register("openai")
class OpenAIBackend(LLMBackend):
    """Captions from an OpenAI-compatible chat-completions server (see the module doc)."""

    backoff_s = 1.0  # first retry delay; doubles each retry (tests lower it)

    def __init__(self, config: CaptionsConfig) -> None:
        super().__init__(config)
        if not config.base_url:
            raise ValueError(
                "captions.base_url must be set for the openai caption backend, e.g. http://127.0.0.1:8000/v1"
            )
        if not config.model:
            raise ValueError("captions.model must name the served model for the openai caption backend")
        self.url = config.base_url.rstrip("/") + "/chat/completions"
        self.cache = ResponseCache(config.cache_dir)

    @property
    def chunk_size(self) -> int:
        """Requests handed to the thread pool at once."""
        return max(self.config.batch_size, self.config.concurrency)

    def complete(self, requests: list[LLMRequest]) -> list[str]:
        """Replies for `requests`, `captions.concurrency` at a time, from the cache when present."""
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            return list(pool.map(self.complete_one, requests))

    def complete_one(self, request: LLMRequest) -> str:
        """One reply: cached, or fetched and cached."""
        model = str(self.config.model)
        key = cache_key(model, request.messages, self.config.temperature, request.seed)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        body = {
            "model": model,
            "messages": request.messages,
            "temperature": self.config.temperature,
            "seed": request.seed,
            "max_tokens": self.config.max_new_tokens,
        }
        content = reply_content(self.post(body), self.url)
        self.cache.put(key, content)
        return content

    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """POSTs JSON with retries on 429/5xx/timeouts/connection errors; returns the decoded response."""
        data = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.config.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        retries = self.config.max_retries
        for attempt in range(retries + 1):
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as err:
                detail = err.read().decode("utf-8", "replace")[:300]
                if err.code not in RETRY_STATUS or attempt == retries:
                    raise RuntimeError(
                        f"{self.url}: HTTP {err.code} after {attempt + 1} tries: {detail}"
                    ) from None
                delay = _retry_after(err.headers.get("Retry-After")) or self.backoff_s * 2**attempt
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                if attempt == retries:
                    raise RuntimeError(
                        f"{self.url}: request failed after {attempt + 1} tries: {err}"
                    ) from None
                delay = self.backoff_s * 2**attempt
            except json.JSONDecodeError as err:
                raise RuntimeError(f"{self.url}: response is not JSON ({err})") from None
            time.sleep(delay)
        raise AssertionError("unreachable")


def _retry_after(value: str | None) -> float | None:
    """Seconds from a numeric Retry-After header (capped), else None."""
    try:
        return min(float(value), MAX_RETRY_AFTER_S) if value is not None else None
    except ValueError:
        return None


def reply_content(response: dict[str, Any], url: str) -> str:
    """The message text of a chat-completions response; a RuntimeError naming the server when malformed."""
    try:
        content = response["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise RuntimeError(
            f"{url}: response has no choices[0].message.content: {str(response)[:300]}"
        ) from None
    return content if isinstance(content, str) else ""
