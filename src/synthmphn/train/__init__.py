"""Training stage: `loop.run_training(cfg, resume)` trains an open_clip model on a built dataset.

    loop.py          the training loop, one file read top to bottom
    optim.py         AdamW param groups (open_clip's decay rule), warm-up + cosine LR, logit-scale clamp
    checkpoints.py   checkpoint paths, atomic last.pt, which config fields a resume may change
    distributed.py   torchrun process-group setup (gloo on CPU, nccl on CUDA)
    logging.py       metrics.jsonl + TensorBoard, truncated on resume

Batches come from `data/` (sampler.py: which captions; batches.py: decode + collate; schedules.py: p(t)).
"""

import os

# Idle OpenMP threads sleep instead of spinning. On a shared 2-core machine spinning threads fight other
# processes (and our own DataLoader worker): measured 8-9 s/step with spinning vs 1.8-2.0 s/step passive
# for the quickstart config. Takes effect only if torch is not imported yet; users may override it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
