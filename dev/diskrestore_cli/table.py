"""Tables that fit the terminal: every table the CLI prints goes through `fit`.

The rules (docs/cli.md, "Tables"):
- a column is as wide as its widest cell (or header); only the one flexible column is ever
  narrower than its content, and it ends in an ellipsis;
- when the columns do not fit, whole columns go, the least important first (the highest
  `priority` number); priority 0 columns are never dropped; the flexible column is squeezed
  for more important columns only, never to make room for less important ones;
- a row is never wrapped: every line is at most `width` cells, whatever the data (a last-resort
  crop guards against columns that cannot fit even alone);
- tables show names, never ARM ids (`--json` has the ids).

`fit` is pure (columns, rows, width in, lines out), so its tests need no console.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

GAP = 2  # spaces between columns
ELLIPSIS = "…"
Cell = str | Text | None


@dataclass(frozen=True)
class Column:
    """`priority`: 0 is never dropped; larger numbers are dropped first when the table does not
    fit. `flex`: the one column that may be cut short (with an ellipsis): down to `min_width`
    to make room for more important columns, but to no less than `ideal_width` for less
    important ones; with room to spare it grows to its content."""
    header: str
    priority: int = 0
    flex: bool = False
    min_width: int = 8
    ideal_width: int = 24
    justify: Literal["left", "right"] = "left"


@dataclass(frozen=True)
class Fitted:
    lines: list[Text]
    shown: list[Column]
    dropped: list[Column]


def fit(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int) -> Fitted:
    """Lay `rows` out in at most `width` cells per line (header first)."""
    if sum(1 for c in columns if c.flex) > 1:
        raise ValueError("a table has at most one flexible column")
    width = max(width, 1)
    cells = [[_text(cell) for cell in row] for row in rows]
    for row in cells:
        if len(row) != len(columns):
            raise ValueError(f"a row has {len(row)} cells for {len(columns)} columns")
    natural = [max([cell_len(c.header)] + [r[i].cell_len for r in cells])
               for i, c in enumerate(columns)]
    widths = _layout(columns, natural, width)
    lines = [_line(columns, widths, [Text(c.header) for c in columns], width, bold=True)]
    lines += [_line(columns, widths, row, width) for row in cells]
    return Fitted(lines, [columns[i] for i in widths],
                  [c for i, c in enumerate(columns) if i not in widths])


def _layout(columns: Sequence[Column], natural: list[int], width: int) -> dict[int, int]:
    """The columns shown (by index, in order) and their widths."""
    flex = next((i for i, c in enumerate(columns) if c.flex), None)

    def needed(shown: list[int]) -> int:
        """The narrowest line with these columns: each at its content's width, but the
        flexible one at its minimum, or at its ideal once a less important column is shown."""
        total = GAP * max(len(shown) - 1, 0)
        for i in shown:
            if i != flex:
                total += natural[i]
                continue
            column = columns[i]
            squeezed = any(columns[j].priority > column.priority for j in shown)
            total += min(natural[i], max(column.ideal_width if squeezed else column.min_width, 1))
        return total

    # the most important first (then left to right); a column that does not fit is left out,
    # but a narrower, less important one after it may still fit in what is left
    shown: list[int] = [i for i, c in enumerate(columns) if c.priority == 0]
    for i in sorted((i for i, c in enumerate(columns) if c.priority > 0),
                    key=lambda i: (columns[i].priority, i)):
        if needed(sorted([*shown, i])) <= width:
            shown = sorted([*shown, i])
    widths = {i: natural[i] for i in sorted(shown)}
    if flex in widths:
        others = [i for i in widths if i != flex]
        widths[flex] = min(natural[flex], max(width - needed(others) - (GAP if others else 0), 1))
    return widths


def _line(columns: Sequence[Column], widths: dict[int, int], row: list[Text], width: int,
          bold: bool = False) -> Text:
    out = Text()
    for n, (i, size) in enumerate(widths.items()):
        cell = row[i].copy()
        if cell.cell_len > size:
            cell.truncate(size, overflow="ellipsis")
        pad = " " * (size - cell.cell_len)
        if n:
            out.append(" " * GAP)
        if columns[i].justify == "right":
            out.append(pad)
        out.append_text(cell)
        if columns[i].justify == "left" and n < len(widths) - 1:
            out.append(pad)
    if bold:
        out.stylize("bold")
    out.rstrip()
    return crop(out, width)


def crop(text: Text, width: int) -> Text:
    """At most `width` cells, ending in an ellipsis when cut."""
    if text.cell_len <= width:
        return text
    cut = text.copy()
    cut.truncate(width, overflow="ellipsis")
    return cut


def show(console: Console, columns: Sequence[Column], rows: Sequence[Sequence[Cell]],
         width: int | None = None) -> Fitted:
    """Print the fitted table (and, when columns had to go, one dim line naming them)."""
    width = width or console.width
    fitted = fit(columns, rows, width)
    for text in fitted.lines:
        console.print(text, soft_wrap=True)
    if fitted.dropped:
        note = Text(f"(hidden at {width} columns: "
                    f"{', '.join(c.header for c in fitted.dropped)}; --width N or --json shows "
                    "them)", style="dim")
        console.print(crop(note, width), soft_wrap=True)
    return fitted


def _text(cell: Cell) -> Text:
    """One line, whatever the data holds (a newline would wrap the row)."""
    if cell is None:
        return Text("")
    text = cell.copy() if isinstance(cell, Text) else Text(str(cell))
    if "\n" in text.plain or "\t" in text.plain or "\r" in text.plain:
        text = Text(" ".join(text.plain.split()), style=text.style)
    return text


# ---- what cells say ------------------------------------------------------------------------------
def name(resource_id: object) -> str:
    """The last segment of an ARM id (a disk's, VM's, vault's name); '' for nothing."""
    return str(resource_id).rstrip("/").rsplit("/", 1)[-1] if resource_id else ""


def resource_group(resource_id: object) -> str:
    """The resource group named in an ARM id ('' when it names none)."""
    parts = str(resource_id or "").strip("/").split("/")
    for n, part in enumerate(parts[:-1]):
        if part.lower() == "resourcegroups":
            return parts[n + 1]
    return ""


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def age(value: object, now: datetime | None = None) -> str:
    """How long ago, in one unit: "now", "45s ago", "12m ago", "3h ago", "5d ago" ('' for no
    time; "in 5m" for a time ahead of this machine's clock)."""
    when = parse_time(value)
    if when is None:
        return ""
    seconds = ((now or datetime.now(UTC)) - when).total_seconds()
    ahead, seconds = seconds < 0, abs(seconds)
    if seconds < 5:
        return "now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            amount = f"{int(seconds // size)}{unit}"
            return f"in {amount}" if ahead else f"{amount} ago"
    return "now"  # pragma: no cover - every span >= 5 s matched above


def clock(value: object) -> str:
    """A time as "2026-11-25 02:00" (UTC), for tables."""
    when = parse_time(value)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if when else str(value or "")
