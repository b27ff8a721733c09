"""Deterministic seeds: every random choice takes a seed derived from (run seed, item id, purpose)."""

from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any parts (run seed, group id, purpose...), stable across processes and runs.

    Python's hash() is salted per process, so we hash the parts' text with blake2b instead.
    """
    text = "\x1f".join(map(str, parts)).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1


GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
"""splitmix64's increment (2⁶⁴/φ, odd): consecutive counters land far apart before mixing."""


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 values: a bijection of 64-bit words whose every output bit depends on
    every input bit, so counters 1, 2, 3... give independent-looking words (Steele et al., OOPSLA 2014)."""
    values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def row_keys(base: int, columns: np.ndarray) -> np.ndarray:
    """uint64 [n]: one key per row of the integer matrix `columns` [n, k], h ← mix64(h + (c + 1)·γ) column by
    column from h = `base` — the vectorised counterpart of `derive_seed(base, *row)` (negative ids wrap)."""
    keys = np.full(len(columns), np.uint64(base & (2**64 - 1)))
    for column in columns.astype(np.int64).T:
        keys = fold_keys(keys, column)
    return keys


def fold_keys(keys: np.ndarray, column: np.ndarray) -> np.ndarray:
    """uint64 [n]: keys[r] extended by the integer column[r], mix64(keys + (column + 1)·γ) — one step of
    `row_keys`, for keys that differ row by row (negative ids wrap)."""
    return mix64(keys + (column.astype(np.int64).astype(np.uint64) + np.uint64(1)) * GOLDEN_GAMMA)


def counter_uniforms(keys: np.ndarray, count: int) -> np.ndarray:
    """float64 [len(keys), count] in [0, 1): draw i of row r is the top 53 bits of mix64(keys[r] + (i + 1)·γ),
    so every row's draws depend only on its key (a counter-based generator: no state, no per-row seeding)."""
    counters = keys[:, None] + np.arange(1, count + 1, dtype=np.uint64) * GOLDEN_GAMMA
    return (mix64(counters) >> np.uint64(11)).astype(np.float64) * 2.0**-53
