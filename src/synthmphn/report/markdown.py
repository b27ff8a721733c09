"""The markdown side of the report: the same comparison tables as GitHub-flavoured markdown (best in bold)."""

from __future__ import annotations

from synthmphn.report.tables import Table, format_value


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def table_markdown(table: Table) -> str:
    """A `### title` heading and a pipe table; best cells in **bold**."""
    lines = [
        f"### {table.title}",
        "",
        "| " + " | ".join(_escape(c) for c in [table.corner, *table.columns]) + " |",
        "|" + "---|" + "---:|" * len(table.columns),
    ]
    for row in table.rows:
        cells = [
            f"**{format_value(v)}**" if i in row.best else format_value(v) for i, v in enumerate(row.values)
        ]
        name = f"**{row.name}**" if row.differs else row.name
        lines.append("| " + " | ".join(_escape(c) for c in [name, *cells]) + " |")
    return "\n".join(lines) + "\n"


def report_markdown(title: str, tables: list[Table], notes: list[str]) -> str:
    """A markdown document: title, notes, then every table."""
    parts = [f"# {title}", "", *[f"- {note}" for note in notes], ""]
    parts += [table_markdown(table) for table in tables]
    return "\n".join(parts)
