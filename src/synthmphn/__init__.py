"""synthmphn: synthetic multi-positive / hard-negative data for CLIP-style training.

Pipeline (one way): captions -> images -> data (shards) -> train -> eval -> report.
"""

__version__ = "0.1.0"
