"""glibc malloc keeps freed memory for the next training step, unless the user chose otherwise."""

from __future__ import annotations

import platform
import resource

import pytest
import torch

from synthmphn.train import allocator


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_thresholds_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in allocator.os.environ if k.startswith("MALLOC_")]:
        monkeypatch.delenv(name)
    calls: list[tuple[int, int]] = []

    class Libc:
        def mallopt(self, param: int, value: int) -> int:
            calls.append((param, value))
            return 1

    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: Libc())
    assert allocator.keep_freed_memory()
    assert calls == [(-3, 32 << 20), (-1, 2**31 - 1)]  # M_MMAP_THRESHOLD first: it fixes the dynamic one


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_freed_blocks_are_reused_without_fresh_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """A step's pattern: a 25 MB gradient and a few MB of casts freed and allocated again, step after step.

    (glibc's dynamic threshold alone also settles in this toy, not in a real step; a trim threshold set
    without the mmap one — a tempting half-measure — faults 9,255 pages every step here.)"""
    for name in [k for k in allocator.os.environ if k.startswith("MALLOC_")]:
        monkeypatch.delenv(name)
    assert allocator.keep_freed_memory()

    def step() -> None:
        grad = torch.zeros(49_408, 128)
        casts = [torch.ones(1024, 1024, dtype=torch.bfloat16) for _ in range(6)]
        del grad, casts

    step()
    step()  # glibc settles where a block of each size lives
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        step()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before < 500  # 6,100 pages per fresh 25 MB


def test_a_users_malloc_variable_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: pytest.fail("mallopt called"))
    assert not allocator.keep_freed_memory()
