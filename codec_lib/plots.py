"""Rate-distortion plots and tables for ``codec-lib eval`` documents.

:func:`rd_plot` draws quality against bits per pixel, one curve per codec: the learned models
with solid lines, the classic baselines (:mod:`codec_lib.baselines`) dashed. MS-SSIM is drawn
in dB, ``-10 log10(1 - MS-SSIM)``, which spreads out the values close to 1 where codecs differ.
:func:`results_table` summarizes the same documents as a Markdown table with Bjontegaard
delta rates (:mod:`codec_lib.bdrate`) against the classic codecs.
"""
from __future__ import annotations

from .baselines import CODECS
from .bdrate import bd_rate, quality_db

__all__ = ["rd_plot", "results_table"]

_LABEL = {"psnr": "PSNR (dB)", "ms_ssim": "MS-SSIM (dB)"}


def rd_plot(results: list[dict], metric: str = "psnr", ax=None, title: str | None = None):
    """Draw the R-D curves of ``results`` (``codec-lib eval`` documents) on ``ax``; returns it."""
    if metric not in _LABEL:
        raise ValueError(f"unknown metric {metric!r}; use 'psnr' or 'ms_ssim'")
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=(6.4, 4.8))
    for res in results:
        pts = sorted(res["points"], key=lambda p: p["bpp"])
        classic = res["model"] in CODECS
        ax.plot([p["bpp"] for p in pts], [quality_db(p, metric) for p in pts],
                marker="s" if classic else "o", markersize=4, linestyle="--" if classic else "-",
                linewidth=1.2 if classic else 1.8, label=res["model"])
    ax.set_xlabel("bits per pixel")
    ax.set_ylabel(_LABEL[metric])
    if title is None:
        n = {r["images"] for r in results}
        title = f"rate-distortion, {'/'.join(map(str, sorted(n)))} images"
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax


def _bd(anchor: dict, test: dict, metric: str) -> str:
    try:
        return f"{bd_rate(anchor, test, metric):+.1f} %"
    except ValueError:                                 # no overlap, or a curve too short
        return "n/a"


def results_table(results: list[dict], anchor: str = "jpeg", metric: str = "psnr") -> str:
    """A Markdown table: per codec its points, bpp and PSNR ranges, and its BD-rate (on
    ``metric``) against ``anchor`` and each other classic codec present (negative: fewer bits)."""
    by_name = {r["model"]: r for r in results}
    refs = [c for c in dict.fromkeys([anchor, *CODECS]) if c in by_name]
    what = "BD-rate" if metric == "psnr" else "BD-rate (MS-SSIM)"
    head = ["codec", "points", "bpp", "PSNR (dB)"] + [
        f"{what} vs {c}" if i == 0 else f"vs {c}" for i, c in enumerate(refs)]
    rows = [head, ["---"] * len(head)]
    for r in results:
        bpp, db = [p["bpp"] for p in r["points"]], [p["psnr"] for p in r["points"]]
        span = lambda v, f: f"{min(v):{f}}..{max(v):{f}}" if v else "-"
        rows.append([r["model"], str(len(bpp)), span(bpp, ".3f"), span(db, ".2f")]
                    + ["-" if c == r["model"] else _bd(by_name[c], r, metric) for c in refs])
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)
