"""`synthmphn build`: captions -> hard negatives -> images from the generator pool -> WebDataset shards.

The job, like img2dataset's, is sharded, resumable and reports throughput; one file per role:

    plan.py     what each split renders (RenderPlan; `heldout` by splits.reference_pool), one ShardTask
                per shard, BuildError
    checks.py   checks that fail in seconds (generators, strategies, engine, folders, an existing dataset's
                build identity) and the dataset folder's lock
    captions.py the caption stage: every split's drafts (train g..., heldout h..., heldout_style s...),
                cached in `dataset/captions/` so a resumed build reuses them even from an LLM
    worker.py   one shard: plan (generator, seed) per image, negatives with the base's generators and
                seeds, render batched per generator (`images.render_jobs`), encode, write atomically
    engines.py  inline / spawned processes / Ray, one signature; a shard's bytes never depend on the engine
    stats.py    counts per split, generator, negative kind; throughput; the summary
    job.py      `run_build`: assembles them, keeps manifest.jsonl current after each shard (a rerun skips
                shards whose file still has the listed sha256), writes build_summary.json, classes.json,
                provenance and the run's resolved config.yaml
"""

from synthmphn.build.job import run_build
from synthmphn.build.plan import BuildError, RenderPlan, ShardTask

__all__ = ["BuildError", "RenderPlan", "ShardTask", "run_build"]
