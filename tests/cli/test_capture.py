"""The committed terminal captures (docs/cli-capture.txt, docs/cli-80cols.txt, made by
dev/tools/cli-capture.sh in an 80x40 tmux pane with wrapped lines joined) fit 80 columns: the
CLI printed no line wider than the terminal it ran in (issue 18: "read well in an 80-column
terminal")."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.cells import cell_len

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("name", ["cli-capture.txt", "cli-80cols.txt"])
def test_every_line_of_the_capture_fits_80_columns(name: str) -> None:
    lines = (DOCS / name).read_text(encoding="utf-8").splitlines()
    assert len(lines) > 5
    wide = [(n, cell_len(line), line) for n, line in enumerate(lines, 1) if cell_len(line) > 80]
    assert wide == [], f"{name}: lines wider than 80 columns: {wide}"


def test_the_table_capture_shows_names_not_arm_ids() -> None:
    text = (DOCS / "cli-80cols.txt").read_text(encoding="utf-8")
    assert "$ diskrestore list" in text and "/subscriptions/" not in text
    assert "exit 0" in text
