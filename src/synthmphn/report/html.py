"""`synthmphn report RUN [RUN ...]`: one self-contained HTML file comparing runs, and a markdown twin.

The HTML has inline CSS, no scripts and no external requests: every plot is embedded as a base64 PNG
(the report draws the comparison plots itself and embeds each run's t-SNE plot from RUN/eval/).
Tables put runs side by side as columns and mark the best value of each row (see `report.tables` for
which direction is best). The markdown file (`<out>.md`, by default RUN/report.md) holds the same tables.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

from synthmphn.io import atomic_write_text
from synthmphn.report.gate import gate_plots, gate_summaries, gate_table
from synthmphn.report.load import RunMetrics, load_runs
from synthmphn.report.markdown import report_markdown
from synthmphn.report.plots import compositional_bars, generator_scatter
from synthmphn.report.tables import (
    Table,
    format_value,
    generator_table,
    headline_table,
    per_class_table,
    setup_table,
    task_table,
)

TITLE = "synthmphn report"
NOTES = [
    "Runs are columns; the best value of each row is bold on green (ties all marked).",
    "Higher is better except alignment and uniformity (lower); modality gap, diversity, counts and the "
    "probe's chosen C are not ranked.",
    "digits = scikit-learn's real handwritten digits, mnist = 5,000 real MNIST digits, fashion_mnist = "
    "Fashion-MNIST's 10,000 test images (all real, never seen in training); heldout = unseen captions "
    "drawn by the fixed reference pool (splits.reference_pool, the same images whatever a run trains on: "
    "shared; with reference_pool null, by the run's own pool: in-domain); heldout_style = unseen captions "
    "drawn in a procedural style never used for training (shared).",
    "Chance: zero-shot acc1 = 1 / classes, compositional accuracy = 0.5.",
]

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1f2328;
       margin: 0 auto; max-width: 1150px; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #d0d7de; }
h3 { font-size: 15px; margin: 18px 0 6px; color: #424a53; }
p.sub { color: #59636e; margin: 0 0 12px; }
ul.notes { color: #59636e; font-size: 13px; margin: 8px 0 0; padding-left: 20px; }
table { border-collapse: collapse; margin: 6px 0 14px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 12px; border-bottom: 1px solid #e6e9ed; text-align: right; white-space: nowrap; }
th { background: #f3f5f7; font-weight: 600; border-bottom: 2px solid #d0d7de; }
th:first-child, td:first-child { text-align: left; font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
       font-size: 12.5px; }
tbody tr:nth-child(even) { background: #fafbfc; }
tbody tr:hover { background: #eef4ff; }
td.best { font-weight: 700; background: #dafbe1; color: #0b5d1e; }
tr.muted td { color: #8c959f; font-size: 12px; }
tr.differs td { background: #fff8c5; }
.errors { background: #fff1f0; border: 1px solid #ffccc7; border-radius: 6px; padding: 8px 14px; margin: 10px 0; }
.errors li { font-family: ui-monospace, monospace; font-size: 12.5px; }
.figs { display: flex; flex-wrap: wrap; gap: 14px; }
figure { margin: 6px 0; }
.figs.many figure { flex: 0 1 calc(50% - 7px); }
figure img { max-width: 100%; border: 1px solid #e6e9ed; border-radius: 4px; }
figcaption { color: #59636e; font-size: 12.5px; }
.runs td:first-child { font-weight: 600; }
.runs td, .runs th, table.text td, table.text th { text-align: left; }
table.text td { white-space: normal; max-width: 340px; }
"""


@dataclass
class Section:
    """A titled part of the report: tables, then figures (PNG bytes with captions)."""

    title: str
    tables: list[Table] = field(default_factory=list)
    figures: list[tuple[bytes, str]] = field(default_factory=list)
    intro: str = ""


def data_uri(png: bytes) -> str:
    """A `data:` URI embedding PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def table_html(table: Table, heading: bool = True) -> str:
    """An HTML table; best cells get class `best`, counts `muted`, differing setup rows `differs`."""
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in [table.corner, *table.columns])
    body = []
    for row in table.rows:
        cls = " ".join(c for c, on in (("muted", row.muted), ("differs", row.differs)) if on)
        cells = "".join(
            f'<td class="best">{esc(format_value(v))}</td>'
            if i in row.best
            else f"<td>{esc(format_value(v))}</td>"
            for i, v in enumerate(row.values)
        )
        body.append(
            f'<tr class="{cls}"><td>{esc(row.name)}</td>{cells}</tr>'
            if cls
            else f"<tr><td>{esc(row.name)}</td>{cells}</tr>"
        )
    title = f"<h3>{esc(table.title)}</h3>" if heading else ""
    opening = '<table class="text">' if table.text else "<table>"
    return f"{title}{opening}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def figure_html(png: bytes, caption: str) -> str:
    return f'<figure><img src="{data_uri(png)}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>'


def run_list_html(runs: list[RunMetrics]) -> str:
    """Which folder, checkpoint and dataset each run label stands for."""
    rows = "".join(
        f"<tr><td>{html.escape(r.label)}</td><td>{html.escape(str(r.run_dir))}</td>"
        f"<td>{html.escape(str(r.metrics.get('checkpoint') or '–'))}</td></tr>"
        for r in runs
    )
    return f'<table class="runs"><thead><tr><th>run</th><th>folder</th><th>checkpoint</th></tr></thead><tbody>{rows}</tbody></table>'


def errors_html(runs: list[RunMetrics]) -> str:
    """A red box listing every task (or task part) that failed in any run."""
    items = [
        f"<li>{html.escape(run.label)} · {html.escape(task)}: {html.escape(message)}</li>"
        for run in runs
        for task, messages in run.metrics.get("errors", {}).items()
        for message in messages
    ]
    return f'<div class="errors"><b>Problems during eval</b><ul>{"".join(items)}</ul></div>' if items else ""


def read_png(path: Path | None) -> bytes | None:
    return path.read_bytes() if path is not None and path.is_file() else None


def present(*tables: Table | None) -> list[Table]:
    """The tables that exist (a task no run evaluated gives None)."""
    return [t for t in tables if t is not None]


RETRIEVAL_INTRO = (
    "Held-out captions, several images per caption; recall@k = share of queries with a positive in the top k."
)
GENERATORS_INTRO = (
    "Recognizability: share of a generator's held-out images whose subject this run's model classifies "
    "correctly (zero-shot). Diversity: mean pairwise cosine distance among its images of one class."
)


GATE_INTRO = (
    "The run trained on a gated dataset (synthmphn gate): what the gate dropped or re-rendered, and its "
    "precision / recall against the failures the testbed recorded for every image."
)


def gate_section(runs: list[RunMetrics]) -> Section:
    """The consistency gate of the runs whose training data was gated (`report.gate`); empty otherwise."""
    labels = {r.run_dir: r.label for r in runs}
    found = gate_summaries([r.run_dir for r in runs])
    tables = [gate_table([labels[d] for d, _ in found], [s for _, s in found], "Gate")] if found else []
    figures = [
        (png, f"gate vs recorded failures: {labels[d]}") for d, png in gate_plots([r.run_dir for r in runs])
    ]
    return Section("Consistency gate (training data)", tables, figures, intro=GATE_INTRO)


def build_sections(runs: list[RunMetrics]) -> list[Section]:
    """Every section of the report, in reading order (empty parts are left out)."""
    tsne = []
    for run in runs:
        png = read_png(run.plot_path("diagnostics", "tsne_digits"))
        if png is not None:
            tsne.append((png, f"t-SNE of real-digit image features: {run.label}"))
    bars, scatter = compositional_bars(runs), generator_scatter(runs)
    sections = [
        Section(
            "Zero-shot classification",
            present(task_table(runs, "zeroshot", "Metrics"), per_class_table(runs)),
        ),
        Section(
            "Retrieval", present(task_table(runs, "retrieval", "Image↔text recall@k")), intro=RETRIEVAL_INTRO
        ),
        Section(
            "Compositional hard negatives",
            present(task_table(runs, "compositional", "Accuracy per kind")),
            [(bars, "Accuracy per negative kind (dashed: chance)")] if bars else [],
        ),
        Section(
            "Linear probe",
            present(task_table(runs, "linear_probe", "Logistic regression on frozen features")),
        ),
        Section(
            "Diagnostics",
            present(task_table(runs, "diagnostics", "Alignment, uniformity, modality gap")),
            tsne,
        ),
        Section(
            "Generators: recognizability vs diversity",
            present(*(generator_table(run) for run in runs)),
            [(scatter, "One point per generator (star: the held-out style)")] if scatter else [],
            intro=GENERATORS_INTRO,
        ),
        gate_section(runs),
    ]
    return [s for s in sections if s.tables or s.figures]


def section_html(section: Section) -> str:
    intro = f'<p class="sub">{html.escape(section.intro)}</p>' if section.intro else ""
    figures = "".join(figure_html(png, caption) for png, caption in section.figures)
    tables = "".join(table_html(t) for t in section.tables)
    grid = "figs many" if len(section.figures) > 1 else "figs"
    return f'<section><h2>{html.escape(section.title)}</h2>{intro}{tables}<div class="{grid}">{figures}</div></section>'


def report_html(runs: list[RunMetrics]) -> str:
    """The whole self-contained HTML page."""
    setup = setup_table(runs)
    head = [
        f"<h1>{TITLE}</h1>",
        f'<p class="sub">{len(runs)} run(s) compared side by side.</p>',
        run_list_html(runs),
        '<ul class="notes">' + "".join(f"<li>{html.escape(n)}</li>" for n in NOTES) + "</ul>",
        errors_html(runs),
        f"<h2>Headline</h2>{table_html(headline_table(runs), heading=False)}",
        f"<h2>Setup</h2>{table_html(setup, heading=False)}" if setup else "",
    ]
    body = "".join(head) + "".join(section_html(s) for s in build_sections(runs))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{TITLE}</title><style>{CSS}</style></head><body>{body}</body></html>\n"
    )


def markdown_tables(runs: list[RunMetrics]) -> list[Table]:
    """The tables of the markdown twin: headline, setup, every task table, per-class and generator tables."""
    tables = [headline_table(runs), setup_table(runs)]
    for section in build_sections(runs):
        tables += [Table(f"{section.title}: {t.title}", t.corner, t.columns, t.rows) for t in section.tables]
    return [t for t in tables if t is not None]


def write_report(run_dirs: list[Path], out: Path | None = None) -> Path:
    """Writes the HTML report (default: first run's report.html) and `<out>.md`; returns the HTML path."""
    runs = load_runs([Path(p) for p in run_dirs])
    out = Path(out) if out is not None else runs[0].run_dir / "report.html"
    atomic_write_text(out, report_html(runs))
    atomic_write_text(out.with_suffix(".md"), report_markdown(TITLE, markdown_tables(runs), NOTES))
    return out
