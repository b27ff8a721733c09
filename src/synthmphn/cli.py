"""Thin command line: parse, load config, call one function per stage.

Every stage's refusal or failure (bad input, an unwritable or full disk, a failed eval task) is one line
on stderr, `error: ...` naming the file, field or shard, and exit code 1 (config errors: 2).

synthmphn build    CONFIG [key.sub=value ...]   captions -> images -> shards
synthmphn train    CONFIG [overrides] [--resume | --overwrite]
synthmphn eval     RUN_OR_CHECKPOINT [overrides] [--out DIR]  metrics JSON + plots (RUN/eval by default)
synthmphn export   RUN_OR_DATASET --out DIR      open_clip pair shards + a local-dir: model folder
synthmphn report   RUN [RUN ...] [--out FILE]    one HTML file + markdown table
synthmphn pipeline CONFIG [overrides]           build -> train -> eval -> report
synthmphn simulate [CONFIG] [overrides]          the theory paper's simulation
synthmphn recaption IN OUT [CONFIG] [overrides]  recaption shards with a captioner + CLIP filter
synthmphn experiment SPEC [--jobs N] [--dry-run] a grid of runs differing in one factor
synthmphn list [FAMILY]                          registered parts (losses, styles, ...) with one line each
synthmphn analyse  DATASET [--reference R]       generators' recognizability vs diversity, transfer ceiling
synthmphn gate     DATASET OUT [CONFIG] [overrides] [--overwrite]  drop / re-render failed generations
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from synthmphn.config import ConfigError, RunConfig, load_config
from synthmphn.io import os_error_message

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Synthetic multi-positive / hard-negative CLIP toolkit."
)

ConfigArg = Annotated[Path | None, typer.Argument(help="YAML run config (defaults when omitted).")]
OverridesArg = Annotated[list[str] | None, typer.Argument(help="Overrides like images.size=32.")]


def _load(config: Path | None, overrides: list[str] | None) -> RunConfig:
    try:
        return load_config(config, overrides or [])
    except ConfigError as err:
        typer.secho(f"config error:\n{err}", fg="red", err=True)
        raise typer.Exit(2) from None


STAGE_ERRORS = (ValueError, KeyError, RuntimeError, OSError)
"""What a stage raises for bad input or a failed write; anything else is a bug and keeps its traceback."""


def error_line(err: BaseException) -> str:
    """The one line the CLI prints for a stage error (OS errors name the path and what failed)."""
    return os_error_message(err) if isinstance(err, OSError) else str(err)


def _fail(err: BaseException) -> None:
    typer.secho(f"error: {error_line(err)}", fg="red", err=True)
    raise typer.Exit(1)


def _check_eval_complete(metrics: Path) -> None:
    """Exits 1 naming the failed tasks when metrics.json records an incomplete eval."""
    from synthmphn.eval.runner import failed_tasks

    failed = failed_tasks(metrics)
    if failed:
        _fail(RuntimeError(f"eval incomplete: task(s) {', '.join(failed)} failed (details in {metrics})"))


@app.command()
def build(config: ConfigArg = None, overrides: OverridesArg = None) -> None:
    """Build the SynthMPHN dataset: captions, hard negatives, images from the pool, WebDataset shards."""
    from synthmphn.build import run_build

    cfg = _load(config, overrides)
    try:
        out = run_build(cfg)
    except STAGE_ERRORS as err:
        _fail(err)
    if cfg.images.gate:
        _echo_gate_table(out)
    typer.echo(f"dataset: {out}")


def _echo_gate_table(gated: Path) -> Path:
    """Writes and prints the precision / recall table of a gated dataset; returns the table's path."""
    from synthmphn.report.gate import write_gate_markdown

    table = write_gate_markdown(gated)
    typer.echo(table.read_text(encoding="utf-8"))
    return table


@app.command()
def train(
    config: ConfigArg = None,
    overrides: OverridesArg = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint.")] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite", help="Start over in a run folder that holds checkpoints (kept until replaced)."
        ),
    ] = False,
) -> None:
    """Train a CLIP model on a built dataset (single process, or under torchrun for DDP).

    A run folder that already holds checkpoints is refused unless --resume (continue) or --overwrite
    (start over; the old checkpoints stay until the new run writes its first).
    """
    from synthmphn.train.loop import run_training

    if resume and overwrite:
        _fail(ValueError("give --resume or --overwrite, not both"))
    cfg = _load(config, overrides)
    try:
        out = run_training(cfg, resume=resume, overwrite=overwrite)
    except STAGE_ERRORS as err:
        _fail(err)
    typer.echo(f"run: {out}")


@app.command("eval")
def evaluate(
    target: Annotated[
        str,
        typer.Argument(
            help="Run folder, checkpoint file (ours or open_clip_train's), local-dir:FOLDER or model name."
        ),
    ],
    overrides: OverridesArg = None,
    out: Annotated[Path | None, typer.Option(help="Folder for metrics.json (default: see docs).")] = None,
    data: Annotated[Path | None, typer.Option(help="Dataset folder to evaluate on (train.data).")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Let an evaluation with overrides replace RUN/eval.")
    ] = False,
) -> None:
    """Evaluate a model: zero-shot (real digits), retrieval, compositional, probe, diagnostics."""
    import synthmphn.analyse  # noqa: F401  (registers the embedded reference of the generators task)
    from synthmphn.eval.runner import run_eval
    from synthmphn.eval.target import eval_config

    try:
        cfg = eval_config(target, overrides, out=out, data=data, overwrite=overwrite)
    except ConfigError as err:
        typer.secho(f"config error:\n{err}", fg="red", err=True)
        raise typer.Exit(2) from None
    except STAGE_ERRORS as err:
        _fail(err)
    try:
        path = run_eval(cfg)
    except STAGE_ERRORS as err:
        _fail(err)
    typer.echo(f"metrics: {path}")
    _check_eval_complete(path)


@app.command()
def export(
    source: Annotated[
        Path, typer.Argument(help="Run folder (its dataset + last checkpoint) or dataset folder.")
    ],
    out: Annotated[Path, typer.Option(help="Folder to write pairs/ and model/ into.")],
    split: Annotated[str, typer.Option(help="Dataset split to export as pairs.")] = "train",
    negatives: Annotated[bool, typer.Option(help="Negative images too, each with its own caption.")] = True,
    checkpoint: Annotated[
        Path | None, typer.Option(help="Checkpoint to export (default RUN's last).")
    ] = None,
    model_name: Annotated[
        str | None, typer.Option(help="Architecture to export untrained, or of a checkpoint naming none.")
    ] = None,
) -> None:
    """Write open_clip pair shards (one sample per image, with sizes.json) and a `local-dir:` model folder."""
    from synthmphn.export import run_export

    try:
        written = run_export(source, out, split, negatives, checkpoint, model_name)
    except STAGE_ERRORS as err:
        _fail(err)
    for line in written:
        typer.echo(line)


@app.command()
def report(
    runs: Annotated[list[Path], typer.Argument(help="Run folders to compare side by side.")],
    out: Annotated[
        Path | None, typer.Option(help="HTML file to write (default: first run's report.html).")
    ] = None,
) -> None:
    """Write one self-contained HTML report (plots embedded) and a markdown table comparing runs."""
    from synthmphn.report.html import write_report

    try:
        path = write_report(runs, out)
    except STAGE_ERRORS as err:
        _fail(err)
    typer.echo(f"report: {path}")


@app.command()
def pipeline(config: ConfigArg = None, overrides: OverridesArg = None) -> None:
    """build (and gate, with images.gate) -> train -> eval -> report on one config; prints where the
    report is."""
    import synthmphn.analyse  # noqa: F401  (registers the embedded reference of the generators task)
    from synthmphn.build import run_build
    from synthmphn.eval.runner import run_eval
    from synthmphn.report.html import write_report
    from synthmphn.train.loop import run_training

    cfg = _load(config, overrides)
    try:
        typer.echo(f"[1/4] build -> {run_build(cfg)}")
        typer.echo(f"[2/4] train -> {run_training(cfg, resume=True)}")
        metrics = run_eval(cfg)
        typer.echo(f"[3/4] eval  -> {metrics}")
        path = write_report([cfg.output.dir], None)
    except STAGE_ERRORS as err:
        _fail(err)
    typer.echo(f"[4/4] report -> {path}")
    typer.secho(f"Report: {path.resolve()}", fg="green")
    _check_eval_complete(metrics)


@app.command()
def simulate(
    config: ConfigArg = None,
    overrides: OverridesArg = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: <output.dir>/simulate).")] = None,
) -> None:
    """The theory paper's simulation: raw vs recaptioned training over a sweep of misalignment p."""
    from synthmphn.theory.simulate import run_simulation

    cfg = _load(config, overrides)
    path = run_simulation(cfg.simulate, out or cfg.output.dir / "simulate", seed=cfg.seed)
    typer.echo(f"simulation: {path}")


@app.command()
def recaption(
    src: Annotated[Path, typer.Argument(help="Dataset folder to read (with manifest).")],
    dst: Annotated[Path, typer.Argument(help="Dataset folder to write.")],
    config: ConfigArg = None,
    overrides: OverridesArg = None,
) -> None:
    """Recaption shards with a captioner trained/loaded per config, keeping captions a CLIP filter prefers."""
    from synthmphn.recaption.pipeline import run_recaption

    cfg = _load(config, overrides)
    try:
        path = run_recaption(src, dst, cfg)
    except STAGE_ERRORS as err:
        _fail(err)
    typer.echo(f"recaptioned: {path}")


@app.command()
def experiment(
    spec: Annotated[Path, typer.Argument(help="Experiment YAML: base config, variants, seeds.")],
    jobs: Annotated[int, typer.Option(help="Runs in parallel processes.")] = 1,
    dry_run: Annotated[
        bool, typer.Option(help="Validate every cell and print the time estimate; run nothing.")
    ] = False,
    seconds_per_step: Annotated[
        float | None, typer.Option(help="s/step for the estimate (default: measured by finished runs).")
    ] = None,
    variants: Annotated[
        str | None,
        typer.Option(help="Comma-separated variants to run (default all); claims between them only."),
    ] = None,
) -> None:
    """Run a grid of (variant, seed) runs sharing datasets; write a results table, claims and report."""
    from synthmphn.experiment import (
        check_cells,
        estimate_grid,
        format_estimate,
        load_experiment,
        run_experiment,
        select_variants,
    )

    only = [v.strip() for v in variants.split(",") if v.strip()] if variants else None
    try:
        grid = select_variants(load_experiment(spec), only, spec)
        check_cells(grid, spec)
        typer.echo(format_estimate(grid, estimate_grid(grid, jobs, seconds_per_step)))
        if dry_run:
            return
        path = run_experiment(spec, jobs=jobs, variants=only)
    except STAGE_ERRORS as err:
        _fail(err)
    typer.echo(f"results: {path}")


@app.command("list")
def list_parts(
    family: Annotated[
        str | None,
        typer.Argument(
            help="caption-backends, generators, styles, schedules, models, losses, "
            "eval-tasks or captioners (all when omitted)."
        ),
    ] = None,
) -> None:
    """List the registered parts of one family (or of all) with each part's one-line docstring."""
    from synthmphn.catalog import describe, format_catalog

    try:
        typer.echo(format_catalog(describe(family)))
    except ValueError as err:
        _fail(err)


@app.command()
def analyse(
    dataset: Annotated[Path, typer.Argument(help="Built dataset folder (or a run folder with dataset/).")],
    reference: Annotated[
        str,
        typer.Option(help="'embedded' or an open_clip model '<name>:<pretrained>' (eval.reference_model)."),
    ] = "embedded",
    out: Annotated[Path | None, typer.Option(help="Output folder (default: DATASET/analyse).")] = None,
    budget: Annotated[
        int, typer.Option(help="Ceiling training images per generator and for the pool.")
    ] = 1500,
    threads: Annotated[int, typer.Option(help="torch CPU threads.")] = 1,
) -> None:
    """Before training: each generator's recognizability vs diversity (fixed reference) and the transfer
    ceiling (real-set accuracy of a classifier trained on the renders), printed and plotted."""
    import torch

    from synthmphn.analyse.dataset import AnalyseSettings, format_analysis, run_analysis
    from synthmphn.eval.reference import load_reference

    torch.set_num_threads(threads)
    try:
        result = run_analysis(dataset, lambda: load_reference(reference), out, AnalyseSettings(budget=budget))
    except (ValueError, FileNotFoundError, KeyError) as err:
        _fail(err)
    typer.echo(format_analysis(result))


@app.command()
def gate(
    dataset: Annotated[Path, typer.Argument(help="Built dataset folder (with manifest) to gate.")],
    out: Annotated[Path, typer.Argument(help="Dataset folder to write (new, empty, or one gate made).")],
    config: ConfigArg = None,
    overrides: OverridesArg = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace a non-empty OUT not written by this gate job.")
    ] = False,
    threads: Annotated[int, typer.Option(help="torch CPU threads.")] = 1,
) -> None:
    """Score every train image against its caption (and its hard-negative partner) with a reference model;
    drop, re-render or down-weight the failures (`gate.*`); write OUT, OUT/gate_summary.json and its
    precision / recall table OUT/gate_summary.md (also printed)."""
    import torch

    from synthmphn.gate import SUMMARY_NAME, run_gate

    cfg = _load(config, overrides)
    torch.set_num_threads(threads)
    try:
        path = run_gate(dataset, out, cfg, overwrite=overwrite)
    except STAGE_ERRORS as err:
        _fail(err)
    table = _echo_gate_table(path)
    typer.echo(f"gated: {path} (summary: {path / SUMMARY_NAME}, table: {table})")


def main() -> None:  # pragma: no cover - console entry
    app(sys.argv[1:])


if __name__ == "__main__":  # pragma: no cover - `python -m synthmphn.cli`
    main()
