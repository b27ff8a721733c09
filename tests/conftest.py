"""Shared test settings: quiet progress bars, few threads (CI has 2 cores)."""

import os

os.environ.setdefault("SYNTHMPHN_QUIET", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
