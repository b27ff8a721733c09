"""Experiment grids: runs that differ in one factor, several seeds, one table that says what won.

An experiment YAML names a base run config, overrides shared by every run, named variants (each a list of
overrides, optionally `recaption: true`), and seeds:

    name: msm
    base: ../quickstart.yaml          # relative to this file
    output: runs/experiments/msm
    overrides: [train.steps=300]
    seeds: [0, 1, 2]
    data_seed: 0                      # datasets are shared across seeds (null: data seed = run seed)
    metrics: [zeroshot/digits/acc1, compositional/text/colour]  # optional rows (default: the headline); any
                                      # `<task>/<metric>` of eval/metrics.json
    variants:
      single-flat: [images.strategy=single, "images.pool=[procedural:flat]"]
      msm-all: []

Each distinct dataset (the config's build identity) is built once under `<output>/datasets/<hash>/` and
shared by every run that uses it. Run `<variant>/seed<k>/` trains, then evaluates; a run whose
`eval/metrics.json` records a complete eval is finished and skipped (every cell is validated first), so a killed grid resumes where it stopped. A run equal to
a finished run of another grid in the same parent folder is copied, not retrained.

Rooms: `spec` (the YAML and the plan of cells), `runner` (build, train, eval, results), `twins` (equal runs
across grids are trained once).
"""

from synthmphn.experiment.runner import run_experiment
from synthmphn.experiment.spec import load_experiment, plan_grid, run_config

__all__ = ["load_experiment", "plan_grid", "run_config", "run_experiment"]
