"""synthmphn: synthetic multi-positive / hard-negative data for CLIP-style training.

Pipeline (one way): captions -> images -> data (shards) -> train -> eval -> report.

OpenMP keeps its default wait policy (idle threads spin briefly, then sleep). The passive policy set here
until stop 31 woke a sleeping thread for every parallel region: a 2-thread quickstart step took 0.220 s
with it and 0.172 s without (docs/performance.md, "Sixth machine").
"""

__version__ = "0.1.0"
