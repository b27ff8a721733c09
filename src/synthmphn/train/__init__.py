"""Training stage: `loop.run_training(cfg, resume)` trains an open_clip model on a built dataset.

    loop.py          the training loop, one file read top to bottom
    optim.py         AdamW param groups (open_clip's decay rule), warm-up + cosine LR, logit-scale clamp
    checkpoints.py   the checkpoint written, checked for resume and restored (one place); paths, last.pt
    distributed.py   torchrun process-group setup (gloo on CPU, nccl on CUDA)
    logging.py       metrics.jsonl + TensorBoard, truncated on resume

Batches come from `data/` (sampler.py: which captions; batches.py: decode + collate; schedules.py: p(t)).
"""
