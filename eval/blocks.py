"""The pieces a report is made of, and their Markdown.

A report (or a comparison) is a list of blocks: paragraphs, tables and plots. report.md
is rendered here; the HTML pages in eval/workbench.py render the same blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    best: frozenset[tuple[int, int]] = frozenset()  # (row, column) of each column's best value


@dataclass(frozen=True)
class Plot:
    name: str
    title: str
    png: bytes


Block = str | Table | Plot  # a str is a paragraph; one starting with "## " a heading


def to_markdown(title: str, blocks: Sequence[Block]) -> str:
    out = [f"# {title}"]
    for block in blocks:
        if isinstance(block, Table):
            body = [
                [f"**{c}**" if (r, i) in block.best else c for i, c in enumerate(row)]
                for r, row in enumerate(block.rows)
            ]
            cells = [block.header, ["---"] * len(block.header), *body]
            out.append("\n".join("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells))
        elif isinstance(block, Plot):
            out.append(f"![{block.title}](plots/{block.name}.png)")
        else:
            out.append(block)
    return "\n\n".join(out) + "\n"
