"""The book's notebooks: every chapter is a paired .ipynb/.py with the same code, run and saved."""
from pathlib import Path

import jupytext
import pytest

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"
NOTEBOOKS = sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))


def code_cells(path):
    return [c.source.strip() for c in jupytext.read(path).cells if c.cell_type == "code"]


def test_there_are_chapters():
    assert NOTEBOOKS


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_pair_in_sync_and_executed(nb):
    twin = nb.with_suffix(".py")
    assert twin.exists(), f"{nb.name} has no paired .py"
    assert code_cells(nb) == code_cells(twin), f"run `jupytext --sync {twin}`"
    cells = [c for c in jupytext.read(nb).cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in cells), "commit the notebook with its outputs"


def test_render_book(tmp_path):
    from codec_lib.book import chapters, render_book
    index = render_book(tmp_path)
    text = index.read_text()
    for nb, title, _ in chapters():
        assert f'href="{nb.stem}.html"' in text and (tmp_path / f"{nb.stem}.html").stat().st_size > 10_000
