"""An experiment grid's results: mean ± std per metric and variant, and the verdict on each claim, as
markdown, CSV, JSON and an HTML page.

The one place the results tables are made: `summarise` aggregates seeds and marks each metric's best variant
with `tables.mark_best` in the metric's `direction()` (lower for alignment and uniformity, none for counts,
settings and the modality gap), and every output (results.md, results.csv's `best` column, results.json,
report.html) shows that one marking. `claim_rows` calls each claim "better beats worse on metric" from the
paired per-seed differences with `stats.compare_variants` (95 % t or bootstrap CI; "held" / "reversed" only
when the CI excludes 0, else "not separable"), shown as the claims table in the same four outputs
(claims.csv). Every run's numbers include the multi-task `aggregate` (`report.aggregate`), its terms printed
under the table. Each row names the scope of its eval set (`metric_scopes`, from every run's `eval_sets` in
eval/metrics.json): `[shared]` for sets every variant reads alike (real sets, held-out style, held-out captions
drawn by `splits.reference_pool`; checked per seed by the shards' fingerprints), `[in-domain]` for held-out
captions drawn by each variant's own pool; the `SHARED_ROWS` are in every table. The HTML page reuses the run report's building blocks (tables, CSS, embedded PNGs) so both
pages look alike.
"""

from __future__ import annotations

import csv
import html
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from synthmphn.data.manifest import IN_DOMAIN, SHARED  # noqa: E402
from synthmphn.eval.sets import metric_set  # noqa: E402
from synthmphn.io import atomic_write_bytes, atomic_write_json, atomic_write_text, read_json  # noqa: E402
from synthmphn.report.aggregate import AGGREGATE, AGGREGATE_TERMS, aggregate_note, aggregate_score  # noqa: E402
from synthmphn.report.gate import gate_plots, gate_summaries, gate_table  # noqa: E402
from synthmphn.report.html import CSS, figure_html, table_html  # noqa: E402
from synthmphn.report.load import load_runs, lookup, read_recaption_summary  # noqa: E402
from synthmphn.report.markdown import table_markdown  # noqa: E402
from synthmphn.report.plots import figure_png, generator_scatter  # noqa: E402
from synthmphn.report.tables import Row, Table, direction, generator_table, mark_best  # noqa: E402
from synthmphn.stats import compare_variants  # noqa: E402

CSV_FIELDS = ["metric", "variant", "mean", "std", "n", "best", "scope"]
SHARED_ROWS = (
    "zeroshot/digits/acc1",
    "zeroshot/heldout/acc1",
    "zeroshot/heldout_style/acc1",
    "retrieval/i2t_r1",
    "retrieval/t2i_r1",
)
"""Rows every grid table shows (appended when a grid's `metrics:` leaves them out): one number per shared set."""
NOT_IDENTICAL = "shared, not identical across variants"
"""The label of a set every run calls shared whose images differ between the variants of one seed."""
CLAIM_FIELDS = ["claim", "metric", "better", "worse", "n", "difference", "low", "high", "method", "verdict"]
# The rows of the recaptioning table: label -> dotted key of recaption_summary.json.
RECAPTION_ROWS = {
    "captioner": "captioner",
    "alpha": "alpha",
    "clean groups (S_h)": "clean_groups",
    "captioner subject accuracy (held-out)": "captioner_heldout.subject_accuracy",
    "captioner attribute accuracy (held-out)": "captioner_heldout.attribute_accuracy",
    "captioner exact match (held-out)": "captioner_heldout.exact_match",
    "misaligned: caught": "misaligned.caught",
    "misaligned: missed": "misaligned.missed",
    "aligned: wrongly replaced": "misaligned.wrongly_replaced",
    "share of misaligned caught": "misaligned.recall",
    "share of aligned replaced": "misaligned.wrongly_replaced_share",
    "share of misaligned caught with true captions (filter alone)": "filter_with_true_captions.recall",
    "alignment before (mean)": "alignment.all.before.mean",
    "alignment before (sd)": "alignment.all.before.sd",
    "alignment after (mean)": "alignment.all.after.mean",
    "alignment after (sd)": "alignment.all.after.sd",
}


@dataclass(frozen=True)
class Claim:
    """ "`better` beats `worse` on `metric`" (a grid YAML's `claims:` entry)."""

    name: str
    better: str
    worse: str
    metric: str = AGGREGATE


def run_numbers(metrics: dict[str, Any]) -> dict[str, float]:
    """The headline plus every task's own numbers (e.g. `compositional/text/colour`, `retrieval/i2t_r10`) of
    one eval/metrics.json, flat as `<task>/<metric>`, so an experiment's `metrics:` list can name any of them."""
    flat = {
        f"{task}/{name}": float(value)
        for task, entry in metrics.get("tasks", {}).items()
        for name, value in (entry.get("metrics") or {}).items()
        if _is_number(value)
    }
    flat.update({k: float(v) for k, v in metrics.get("headline", {}).items() if _is_number(v)})
    score = aggregate_score(flat)
    if score is not None:
        flat[AGGREGATE] = score
    return flat


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def with_shared_rows(metrics: list[str] | None) -> list[str] | None:
    """A grid's table rows with any of `SHARED_ROWS` it lacks appended (None = every metric: unchanged)."""
    if metrics is None:
        return None
    return [*metrics, *(m for m in SHARED_ROWS if m not in metrics)]


def summarise(
    table: dict[str, dict[int, dict[str, float]]], metrics: list[str] | None
) -> list[dict[str, Any]]:
    """Rows of (metric, variant, mean, std, n, best) over seeds (`table`: variant -> seed -> metric -> value).

    std is the sample std (ddof=1), 0 for one seed. `best` marks the best mean of each metric in its
    `direction()` (ties all marked; nothing marked when fewer than two variants differ or there is none).
    """
    names = metrics or sorted({m for seeds in table.values() for vals in seeds.values() for m in vals})
    rows = []
    for metric in names:
        found = []
        for variant, seeds in table.items():
            values = np.array([vals[metric] for vals in seeds.values() if metric in vals], dtype=float)
            if values.size == 0:
                continue
            std = float(values.std(ddof=1)) if values.size > 1 else 0.0
            found.append(
                {
                    "metric": metric,
                    "variant": variant,
                    "mean": float(values.mean()),
                    "std": std,
                    "n": int(values.size),
                }
            )
        best = mark_best(Row(metric, [r["mean"] for r in found]), direction(metric)).best
        rows += [{**r, "best": i in best} for i, r in enumerate(found)]
    return rows


def summary_table(rows: list[dict[str, Any]], variants: list[str]) -> Table:
    """Metrics × variants with 'mean ± std' cells; the cells `summarise` marked best are marked. A row whose
    eval set has a scope (`metric_scopes`) is labelled `metric [shared]` / `metric [in-domain]`."""
    cell = {(r["metric"], r["variant"]): r for r in rows}
    out = []
    for metric in dict.fromkeys(r["metric"] for r in rows):
        found = [(i, cell[(metric, v)]) for i, v in enumerate(variants) if (metric, v) in cell]
        values = ["–"] * len(variants)
        for i, r in found:
            values[i] = f"{r['mean']:.3f} ± {r['std']:.3f}"
        scope = next((r.get("scope") for _, r in found if r.get("scope")), None)
        label = f"{metric} [{scope}]" if scope else metric
        out.append(Row(label, values, best={i for i, r in found if r.get("best")}))
    return Table("Results (mean ± sample std over seeds)", "metric", variants, out)


def results_markdown(rows: list[dict[str, Any]], variants: list[str]) -> str:
    """The summary table in markdown: one row per metric, one column per variant, best cells in bold."""
    return table_markdown(summary_table(rows, variants))


def run_eval_sets(run_dirs: list[Path]) -> dict[Path, dict[str, dict[str, Any]]]:
    """Each run's `eval_sets` record (eval/metrics.json; runs evaluated before it existed are left out)."""
    found = {}
    for run_dir in run_dirs:
        try:
            sets = read_json(Path(run_dir) / "eval" / "metrics.json").get("eval_sets")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(sets, dict) and sets:
            found[Path(run_dir)] = sets
    return found


def set_scope(name: str, records: dict[Path, dict[str, dict[str, Any]]]) -> str | None:
    """The grid's label for eval set `name`: IN_DOMAIN when any run drew it from its own pool; SHARED when
    every run calls it shared and, per seed (`seed<k>` run folders), every variant read the same shards (equal
    fingerprints); NOT_IDENTICAL when they did not; None when no run records the set."""
    entries = [(run_dir, sets[name]) for run_dir, sets in records.items() if name in sets]
    if not entries:
        return None
    if any(entry.get("scope") == IN_DOMAIN for _, entry in entries):
        return IN_DOMAIN
    per_seed: dict[str, set[str]] = {}
    for run_dir, entry in entries:
        if entry.get("fingerprint"):
            per_seed.setdefault(run_dir.name, set()).add(entry["fingerprint"])
    return NOT_IDENTICAL if any(len(prints) > 1 for prints in per_seed.values()) else SHARED


def metric_scopes(metrics: list[str], run_dirs: list[Path]) -> dict[str, str]:
    """metric -> the scope of the eval set it was measured on, over the grid's runs (`set_scope`); the
    aggregate takes the least shared scope of its terms' sets. Metrics of no eval set are left out."""
    records = run_eval_sets(run_dirs)
    if not records:
        return {}
    names = {name for sets in records.values() for name in sets}
    scope_of = {name: set_scope(name, records) for name in names}
    rank = {SHARED: 0, NOT_IDENTICAL: 1, IN_DOMAIN: 2}
    scopes = {}
    for metric in metrics:
        if metric == AGGREGATE:
            terms = [scope_of.get(metric_set(t.metric, names) or "") for t in AGGREGATE_TERMS]
            known = [t for t in terms if t is not None]
            if known:
                scopes[metric] = max(known, key=rank.__getitem__)
            continue
        name = metric_set(metric, names)
        if name is not None and scope_of.get(name):
            scopes[metric] = scope_of[name]
    return scopes


def scope_note(run_dirs: list[Path]) -> str:
    """The line saying what the table's [shared] / [in-domain] labels mean, naming the reference pool."""
    records = run_eval_sets(run_dirs)
    if not records:
        return ""
    pools = {tuple(s["heldout"].get("pool") or ()) for s in records.values() if "heldout" in s}
    shared_pool = [", ".join(p) for p in pools if p] if set_scope("heldout", records) == SHARED else []
    drawn = f" (drawn by the reference pool: {shared_pool[0]})" if len(shared_pool) == 1 else ""
    return (
        "[shared] = the same eval set for every variant: the real sets, the held-out style and the held-out "
        f"captions{drawn}; [in-domain] = held-out captions drawn by each variant's own training pool "
        "(splits.reference_pool: null); [" + NOT_IDENTICAL + "] = called shared, but the variants of a seed "
        "read different shards (e.g. a caption setting differs)."
    )


def budget_line(images_per_step: dict[str, float] | None) -> str:
    """The header line stating images per step: one number when every variant has it, else per variant."""
    if not images_per_step:
        return ""
    values = set(images_per_step.values())
    if len(values) == 1:
        return f"images per step: {values.pop():g} (every variant)\n\n"
    listed = ", ".join(f"{v} {n:g}" for v, n in images_per_step.items())
    return f"images per step: {listed} (**unequal**: comparisons are confounded with the image budget)\n\n"


def claim_rows(
    per_seed: dict[str, dict[int, dict[str, float]]], claims: list[Claim], method: str = "t"
) -> list[dict[str, Any]]:
    """One row per claim: the paired mean difference over seeds in the claim's direction (better − worse;
    worse − better for a lower-is-better metric, so a positive difference always favours `better`), its
    95 % CI and the verdict (`stats.compare_variants`)."""
    rows = []
    for claim in claims:
        first, second = (
            (claim.worse, claim.better) if direction(claim.metric) == "lower" else (claim.better, claim.worse)
        )
        result = compare_variants(per_seed, claim.metric, first, second, method=method).to_dict()
        rows.append(
            {
                "claim": claim.name,
                "metric": claim.metric,
                "better": claim.better,
                "worse": claim.worse,
                "n": result["n"],
                "difference": result["mean_diff"],
                "low": result["low"],
                "high": result["high"],
                "method": method,
                "verdict": result["verdict"],
            }
        )
    return rows


def claims_table(rows: list[dict[str, Any]]) -> Table:
    """The claims as a table: metric, the pair, paired seeds, mean difference, 95 % CI and the verdict."""
    out = []
    for r in rows:
        diff = "–" if r["difference"] is None else f"{r['difference']:+.3f}"
        ci = "none (< 2 seeds)" if r["low"] is None else f"[{r['low']:+.3f}, {r['high']:+.3f}]"
        out.append(
            Row(r["claim"], [r["metric"], r["better"], r["worse"], str(r["n"]), diff, ci, r["verdict"]])
        )
    columns = ["metric", "better", "worse", "paired seeds", "difference", "95 % CI", "verdict"]
    method = rows[0]["method"] if rows else "t"
    title = f"Claims (paired difference over seeds in favour of `better`, 95 % {method} interval)"
    return Table(title, "claim", columns, out, text=True)


def results_csv(rows: list[dict[str, Any]]) -> str:
    """The summary rows as CSV (metric, variant, mean, std, n, best)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def claims_csv(rows: list[dict[str, Any]]) -> str:
    """The claim rows as CSV (`CLAIM_FIELDS`; an interval that does not exist is empty)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CLAIM_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


@dataclass(frozen=True)
class GridResults:
    """What an experiment's results pages show, besides the per-seed numbers."""

    name: str
    seeds: list[int]
    metrics: list[str] | None  # the table's rows (None: all)
    variants: list[str]
    run_dirs: list[Path]
    images_per_step: dict[str, float] | None = None  # variant -> images the loss takes per step (#12)
    claims: tuple[Claim, ...] = ()
    interval: str = "t"  # the CI method of the claims: "t" or "bootstrap"
    design: str = ""  # how the seeds pair the variants (one sentence)


def write_experiment_results(
    out: Path, grid: GridResults, per_seed: dict[str, dict[int, dict[str, float]]]
) -> Path:
    """Writes results.md/.csv/.json, claims.csv and report.html (plots + per-run tables) into `out`;
    returns results.md. `per_seed` is variant -> seed -> flat numbers (`run_numbers`)."""
    rows = summarise(per_seed, with_shared_rows(grid.metrics))
    scopes = metric_scopes(list(dict.fromkeys(r["metric"] for r in rows)), grid.run_dirs)
    rows = [{**r, "scope": scopes.get(r["metric"], "")} for r in rows]
    claims = claim_rows(per_seed, list(grid.claims), grid.interval)
    notes = notes_lines(grid, per_seed)
    body = [results_markdown(rows, grid.variants), *notes[-1:]]
    if claims:
        body.append(table_markdown(claims_table(claims)))
    for table in dataset_tables(grid.run_dirs):
        body.append(table_markdown(table))
    header = f"# Experiment `{grid.name}`\n\n" + "".join(f"{line}\n\n" for line in notes[:-1])
    atomic_write_text(out / "results.md", header + "\n".join(body))
    atomic_write_text(out / "results.csv", results_csv(rows))
    atomic_write_text(out / "claims.csv", claims_csv(claims))
    atomic_write_json(
        out / "results.json",
        {"name": grid.name, "rows": rows, "claims": claims, "aggregate": notes[-1], "per_seed": per_seed},
    )
    write_experiment_report(grid, rows, claims, notes, out / "report.html")
    return out / "results.md"


def notes_lines(grid: GridResults, per_seed: dict[str, dict[int, dict[str, float]]]) -> list[str]:
    """The lines around the table: seeds, the paired design, the image budget and (last) the aggregate."""
    lines = [f"seeds: {grid.seeds}"]
    if grid.design:
        lines.append(grid.design)
    budget = budget_line(grid.images_per_step).strip()
    if budget:
        lines.append(budget)
    scope = scope_note(grid.run_dirs)
    if scope:
        lines.append(scope)
    runs = [values for seeds in per_seed.values() for values in seeds.values()]
    return [*lines, aggregate_note(runs)]


def metric_bars(rows: list[dict[str, Any]], variants: list[str], per_figure: int = 8) -> list[bytes]:
    """Bar charts with ±std error bars, one panel per metric (several figures when there are many)."""
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    cell = {(r["metric"], r["variant"]): r for r in rows}
    pngs = []
    for start in range(0, len(metrics), per_figure):
        chunk = metrics[start : start + per_figure]
        cols = min(4, len(chunk))
        nrows = math.ceil(len(chunk) / cols)
        fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.8 * nrows), squeeze=False)
        for ax, metric in zip(axes.flat, chunk, strict=False):
            present = [v for v in variants if (metric, v) in cell]
            means = [cell[(metric, v)]["mean"] for v in present]
            stds = [cell[(metric, v)]["std"] for v in present]
            ax.bar(
                range(len(present)), means, yerr=stds, capsize=3, color=plt.cm.tab10.colors[: len(present)]
            )
            ax.set_xticks(range(len(present)), present, rotation=35, ha="right", fontsize=8)
            ax.set_title(metric, fontsize=9)
            ax.tick_params(axis="y", labelsize=8)
        for ax in list(axes.flat)[len(chunk) :]:
            ax.axis("off")
        fig.tight_layout()
        pngs.append(figure_png(fig))
        plt.close(fig)
    return pngs


def write_experiment_report(
    grid: GridResults, rows: list[dict[str, Any]], claims: list[dict[str, Any]], notes: list[str], out: Path
) -> Path:
    """Writes one self-contained HTML page for an experiment (and its bar charts as results[_k].png beside
    it, for docs and slides); returns the page's path."""
    name, variants, run_dirs = grid.name, grid.variants, grid.run_dirs
    bars = metric_bars(rows, variants)
    for k, png in enumerate(bars):
        atomic_write_bytes(out.parent / ("results.png" if k == 0 else f"results_{k + 1}.png"), png)
    parts = [
        f"<h1>Experiment {html.escape(name)}</h1>",
        f'<p class="sub">{len(variants)} variants, {len(run_dirs)} runs; best mean per row marked.</p>',
        *[f'<p class="sub">{html.escape(line)}</p>' for line in notes[:-1]],
        table_html(summary_table(rows, variants), heading=False),
        f'<p class="sub">{html.escape(notes[-1])}</p>',
    ]
    if claims:
        parts.append(table_html(claims_table(claims)))
    parts += [
        '<div class="figs">' + "".join(figure_html(p, "mean ± std over seeds") for p in bars),
        "</div>",
    ]
    parts += [table_html(t) for t in dataset_tables(run_dirs)]
    gate_pngs = gate_plots(_first_run_per_variant(run_dirs))
    if gate_pngs:
        parts.append('<div class="figs many">')
        parts += [figure_html(png, f"gate vs recorded failures: {d.parent.name}") for d, png in gate_pngs]
        parts.append("</div>")
    first_seed = _first_run_per_variant(run_dirs)
    runs = load_runs(first_seed)
    gen_tables = [t for t in (generator_table(r) for r in runs) if t is not None]
    scatter = generator_scatter(runs)
    if gen_tables or scatter:
        parts.append("<h2>Generators: recognizability vs diversity (first seed of each variant)</h2>")
        parts += [table_html(t) for t in gen_tables]
        if scatter:
            parts.append(figure_html(scatter, "One point per generator and variant"))
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Experiment {html.escape(name)}</title><style>{CSS}</style></head><body>{''.join(parts)}</body></html>\n"
    )
    atomic_write_text(out, page)
    return out


def dataset_tables(run_dirs: list[Path]) -> list[Table]:
    """The tables of what was done to the variants' training data: recaptioning, the consistency gate."""
    tables = [recaption_table(run_dirs), experiment_gate_table(run_dirs)]
    return [t for t in tables if t is not None]


def experiment_gate_table(run_dirs: list[Path]) -> Table | None:
    """The gate table (`report.gate`) of each gated variant's dataset (first seed); None when none is gated."""
    found = gate_summaries(_first_run_per_variant(run_dirs))
    if not found:
        return None
    title = "Consistency gate vs the testbed's recorded failures (first seed's dataset of each variant)"
    return gate_table([d.parent.name for d, _ in found], [s for _, s in found], title)


def recaption_table(run_dirs: list[Path]) -> Table | None:
    """Each recaptioned variant's dataset (first seed), from its recaption_summary.json: the captioner's own
    quality on held-out groups, the filter's confusion matrix against the known misaligned captions, and the
    scorer cosine of the candidate pairs before / after. None when no variant trained on recaptioned data."""
    columns, summaries = [], []
    for run_dir in _first_run_per_variant(run_dirs):
        summary = read_recaption_summary(run_dir)
        if summary is not None:
            columns.append(run_dir.parent.name)
            summaries.append(summary)
    if not summaries:
        return None
    rows = [Row(label, [lookup(s, key) for s in summaries]) for label, key in RECAPTION_ROWS.items()]
    return Table("Recaptioning (first seed's dataset of each variant)", "", columns, rows)


def _first_run_per_variant(run_dirs: list[Path]) -> list[Path]:
    """One run folder per variant (`<output>/<variant>/seed<k>`): the first listed."""
    seen: dict[Path, Path] = {}
    for run_dir in run_dirs:
        seen.setdefault(Path(run_dir).parent, Path(run_dir))
    return list(seen.values())
