"""The image-text consistency gate (`synthmphn gate DATASET OUT`): catch failed generations before they train.

Orchestration (like build/ and recaption's job): it reads a dataset, scores every train image with a
reference model (`scoring`: the embedded reference by default, any open_clip model by `gate.model`),
applies the rule (`rule`) shard by shard (`shards`: drop, re-render with new seeds, down-weight, or the
oracle that drops exactly the recorded failures) and writes a new dataset plus `gate_summary.json`
(`summary`: actions per generator and failure kind, precision / recall against the recorded failures).
`synthmphn.gate.run_gate` is its entry point (`pipeline`).
"""

from synthmphn.gate.pipeline import (
    PLOT_NAME,
    SUMMARY_NAME,
    check_attributes,
    check_gate_output,
    run_gate,
)

__all__ = ["PLOT_NAME", "SUMMARY_NAME", "check_attributes", "check_gate_output", "run_gate"]
