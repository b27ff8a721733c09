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
    images_per_step: 128              # optional: every cell must take this image budget
    variants:
      single-flat: [images.strategy=single, "images.pool=[procedural:flat]"]
      msm-all: []
    claims:                           # optional: "better beats worse on metric" (default: aggregate)
      - {name: "MSM beats a single generator", better: msm-all, worse: single-flat}
    interval: t                       # the claims' 95 % CI: t (default) or bootstrap over seeds

Paired design: every cell of seed s trains with run seed s, so all variants at seed s share the data (where
their build config agrees; `data_seed` fixes the build seed for every cell, null uses the run seed), the
initial weights (`torch.manual_seed(s)` before the model is built, where the model agrees) and the batch
order (the sampler is seeded by s, where dataset, batch size, accumulation, p(t) and steps agree). The
results header says which variants share what (`spec.paired_design_line`), and each claim is called from
the per-seed differences (`synthmphn.stats`), so seed noise common to both variants cancels.

Each distinct dataset (the config's build identity) is built once under `<output>/datasets/<hash>/` and
shared by every run that uses it. Run `<variant>/seed<k>/` trains, then evaluates; a run whose
`eval/metrics.json` records a complete eval is finished and skipped (every cell is validated first), so a killed grid resumes where it stopped. A run equal to
a finished run of another grid in the same parent folder is copied, not retrained.

Rooms: `spec` (the YAML and the plan of cells), `runner` (build, train, eval, results), `twins` (equal runs
across grids are trained once), `estimate` (the wall time a grid will take, printed before it runs and by
`synthmphn experiment SPEC --dry-run`). `--variants a,b` runs only those variants (and the claims
between them); a later full run resumes their cells.
"""

from synthmphn.experiment.estimate import estimate_grid, format_estimate
from synthmphn.experiment.runner import run_experiment
from synthmphn.experiment.spec import (
    check_cells,
    load_experiment,
    plan_grid,
    run_config,
    select_variants,
)

__all__ = [
    "check_cells",
    "estimate_grid",
    "format_estimate",
    "load_experiment",
    "plan_grid",
    "run_config",
    "run_experiment",
    "select_variants",
]
