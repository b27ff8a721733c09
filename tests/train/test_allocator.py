"""glibc malloc keeps freed memory for the next training step, unless the user chose otherwise."""

from __future__ import annotations

import platform

import pytest

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


def test_a_users_malloc_variable_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: pytest.fail("mallopt called"))
    assert not allocator.keep_freed_memory()


def test_a_refused_setting_or_another_libc_reports_false(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in allocator.os.environ if k.startswith("MALLOC_")]:
        monkeypatch.delenv(name)

    class Refusing:
        def mallopt(self, param: int, value: int) -> int:
            return 0

    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("glibc", "2.36"))
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: Refusing())
    assert not allocator.keep_freed_memory()
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("", ""))  # musl, macOS
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: pytest.fail("mallopt called"))
    assert not allocator.keep_freed_memory()
