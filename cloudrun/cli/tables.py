"""Tables that fit the terminal without cutting a cell: secondary columns are dropped, never names truncated.

Each column has a priority (0: always shown; higher: dropped first when the terminal is too narrow). The widths
are measured from the cells themselves, so a deployment name or an instance type is never shortened with "…"
(it is what `down`/`invoke` need). At a terminal the table has a light frame; piped, it is plain aligned text
that `grep` and `awk` read. The full data is always in `--json`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

PADDING = 2  # one space either side of a cell
DIVIDER = 1  # the frame's column divider (a space in SIMPLE_HEAD), at a terminal only


@dataclass(frozen=True)
class Column:
    header: str
    priority: int = 0  # 0: always; higher numbers are dropped first
    right: bool = False  # numbers are right-aligned


def fitted(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    styles: Sequence[str | None] | None = None,
    caption: str | None = None,
) -> tuple[Table, list[str]]:
    """Return the table of `rows` with the columns that fit `console.width`, and the headers of those dropped.

    Cells are plain text (never markup); a cell wider than the whole terminal is folded, not cut.
    """
    widths = [max([cell_len(c.header)] + [cell_len(row[i]) for row in rows]) for i, c in enumerate(columns)]
    framed = console.is_terminal
    shown = list(range(len(columns)))

    def width_of(chosen: list[int]) -> int:  # cells, their padding but the outer edges', and the dividers
        return sum(widths[i] + PADDING for i in chosen) - PADDING + (DIVIDER * (len(chosen) - 1) if framed else 0)

    while width_of(shown) > console.width:
        optional = [i for i in shown if columns[i].priority > 0]
        if not optional:
            break
        shown.remove(max(optional, key=lambda i: (columns[i].priority, i)))
    table = Table(box=box.SIMPLE_HEAD if framed else None, show_edge=False, pad_edge=False, caption=caption,
                  header_style="bold" if framed else "", caption_justify="left")  # fmt: skip
    for i in shown:
        table.add_column(columns[i].header, justify="right" if columns[i].right else "left", overflow="fold")
    for n, row in enumerate(rows):
        table.add_row(*(Text(row[i]) for i in shown), style=(styles[n] if styles else None))
    dropped = [columns[i].header for i in range(len(columns)) if i not in shown]
    return table, dropped
