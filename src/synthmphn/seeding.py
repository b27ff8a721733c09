"""Deterministic seeds: every random choice takes a seed derived from (run seed, item id, purpose)."""

from __future__ import annotations

import hashlib


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any parts (run seed, group id, purpose...), stable across processes and runs.

    Python's hash() is salted per process, so we hash the parts' text with blake2b instead.
    """
    text = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1
