"""Keep freed memory in the process for the next step (glibc malloc), instead of returning it to the kernel.

Why. A training step frees and re-allocates the same large blocks every step (the dense 49,408 × 128
token-embedding gradient, 25 MB; weight casts and activations of 0.1–4 MB). glibc's defaults give blocks
over a dynamic threshold back to the kernel (munmap, or trimming the heap top), so a later step may touch
fresh pages. How often depends on the order of allocations: in `benchmarks/train_utilisation.py`'s
interleaved steps, 1,200–13,700 minor page faults per quickstart step and 0.109–0.126 s/step, against 0
faults and 0.103–0.113 s/step with the thresholds below (alternated runs); in the real loop glibc mostly
settles by itself (median 0 faults, mean 419 per step → 58; s/step within the machine's noise). So the
setting makes the step's cost not depend on allocation history. Setting only the trim threshold is much
worse (82,000 faults, 0.21 s/step: it pins the mmap threshold at 128 KiB), so both are set together.

What. M_MMAP_THRESHOLD = 32 MiB (glibc's dynamic threshold's ceiling; bigger blocks, such as the decoded train split, are still
mapped on their own) and M_TRIM_THRESHOLD = 2 GiB − 1. Freed memory stays mapped, so the resident size stays
at its peak instead of breathing with each step. Outputs do not change. Nothing happens on other C
libraries, or when the user set any MALLOC_*_ variable (their choice wins).
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers (malloc.h)
MMAP_THRESHOLD = 32 << 20  # the ceiling of glibc's dynamic threshold on 64-bit
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes a C int


def keep_freed_memory() -> bool:
    """Sets glibc's mmap and trim thresholds (module docstring); True when both were set."""
    if platform.libc_ver()[0] != "glibc" or any(k.startswith("MALLOC_") for k in os.environ):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    log.debug("malloc keeps freed memory: %s", done)
    return done
