"""Recaption tests run torch on one thread: their ops are tiny, and two threads on a shared 2-core box
spend most of their time waiting for each other (measured: 45 s vs 5 s CPU for the same toy fit)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
