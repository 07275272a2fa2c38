"""Render the book to static HTML: one page per chapter and an index with a table of contents.

The chapters are committed with their outputs, so rendering does not execute them::

    python -m codec_lib.book --out _book      # or: make book
"""
from __future__ import annotations

import argparse
import html
import json
import sys
from pathlib import Path

__all__ = ["chapters", "render_book"]

ROOT = Path(__file__).resolve().parents[1]


def chapters(folder: Path = ROOT / "chapters") -> list[tuple[Path, str, str]]:
    """``(notebook, title, summary)`` for every ``NN_topic.ipynb``, in order."""
    out = []
    for nb in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        md = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
        paragraphs = [p.strip() for p in (md[0] if md else nb.stem).split("\n\n") if p.strip()]
        title = paragraphs[0].splitlines()[0].lstrip("# ").strip()
        body = [p for p in paragraphs[1:] if not (p.startswith("**") and p.endswith("**"))]
        summary = " ".join(l.strip().lstrip("*- ") for l in body[0].splitlines()) if body else ""
        out.append((nb, title, summary))
    return out


def render_book(out: Path, folder: Path = ROOT / "chapters") -> Path:
    """Write ``out/index.html`` and one HTML page per chapter; returns the index path."""
    from nbconvert import HTMLExporter
    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    items = []
    for nb, title, summary in chapters(folder):
        body, _ = exporter.from_filename(str(nb))
        (out / f"{nb.stem}.html").write_text(body, encoding="utf-8")
        items.append(f'<li><a href="{nb.stem}.html">{html.escape(title)}</a>'
                     f"<br><small>{html.escape(summary)}</small></li>")
    index = out / "index.html"
    index.write_text(
        "<!doctype html><meta charset='utf-8'><title>Neural image and video compression</title>"
        "<style>body{font-family:sans-serif;max-width:48em;margin:3em auto;line-height:1.5}"
        "li{margin:1em 0}</style><h1>Neural image and video compression</h1>"
        "<p>An open textbook with its library, <code>codec_lib</code>.</p>"
        f"<h2>Contents</h2><ol>{''.join(items)}</ol>", encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m codec_lib.book", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="_book", help="output folder (default: _book)")
    a = p.parse_args(argv)
    index = render_book(Path(a.out))
    print(f"{index} ({len(chapters())} chapters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
