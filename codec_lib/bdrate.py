"""Bjontegaard delta rate and delta PSNR: one number for the gap between two R-D curves.

Bjontegaard (VCEG-M33, 2001) compares a *test* codec with an *anchor* by their average
horizontal and vertical distance in the ``(log rate, quality)`` plane:

- **BD-rate**: write ``log R`` as a function of quality ``D`` for both curves, integrate the
  difference over the quality range both curves cover, divide by its width: the mean log-rate
  ratio ``Δ``. ``BD-rate = 100 (exp(Δ) - 1)`` percent; negative means the test codec needs that
  many percent fewer bits for the same quality.
- **BD-PSNR**: the same with the axes swapped (``D`` as a function of ``log R``, over the common
  rate range): the mean quality gain in dB at equal rate.

The original fits one cubic polynomial through four points, which can oscillate. VCEG-AL22
("Reliability metric for BD measurements") found piecewise cubic interpolation more stable;
the JCT-VC/JVET common test conditions (JCTVC-L1100) and most codec papers interpolate by
*monotone* piecewise cubic Hermite segments (PCHIP), and so does this module. The slopes are
the weighted harmonic mean of the neighbouring secants (Fritsch & Butland 1984), zero at a
local extremum, so that the interpolant is monotone wherever the data are (the conditions of
Fritsch & Carlson, SIAM J. Numer. Anal. 17(2), 1980), with shape-preserving three-point slopes
at the ends: the slopes of MATLAB's ``pchip`` and ``scipy.interpolate.PchipInterpolator`` (the
tests check equality). The integrals are exact (each segment is a cubic). No scipy needed.

A BD-rate is a mean over the quality range; :func:`rate_savings` says where along the curve it
comes from: each test point's rate against the anchor's interpolated rate at the same quality.

Points are dicts with ``"bpp"`` and ``"psnr"`` (or ``"ms_ssim"``, used in dB:
``-10 log10(1 - MS-SSIM)``): the ``points`` of a ``codec-lib eval`` document; the document
itself is accepted too.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["bd_rate", "bd_psnr", "bd_rate_matrix", "rate_savings", "quality_db", "pchip_slopes",
           "pchip_integral", "pchip_eval"]


def quality_db(point: dict, metric: str = "psnr") -> float:
    """The point's quality in dB: PSNR as it is, MS-SSIM as ``-10 log10(1 - MS-SSIM)``."""
    if metric == "psnr":
        return float(point["psnr"])
    if metric == "ms_ssim":
        v = float(point["ms_ssim"])
        return -10 * math.log10(1 - v) if v < 1 else math.inf
    raise ValueError(f"unknown metric {metric!r}; use 'psnr' or 'ms_ssim'")


def pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Slopes at the knots of the monotone piecewise cubic through ``(x, y)``, ``x`` increasing."""
    h, d = np.diff(x), np.diff(y) / np.diff(x)
    if len(x) == 2:
        return np.array([d[0], d[0]])
    m = np.zeros_like(y)
    w1, w2 = 2 * h[1:] + h[:-1], h[1:] + 2 * h[:-1]
    same = d[:-1] * d[1:] > 0                         # no local extremum at the inner knot
    m[1:-1][same] = (w1 + w2)[same] / (w1[same] / d[:-1][same] + w2[same] / d[1:][same])
    for i, (h0, h1, d0, d1) in ((0, (h[0], h[1], d[0], d[1])), (-1, (h[-1], h[-2], d[-1], d[-2]))):
        e = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)
        if np.sign(e) != np.sign(d0):
            e = 0.0
        elif np.sign(d0) != np.sign(d1) and abs(e) > 3 * abs(d0):
            e = 3 * d0
        m[i] = e
    return m


def pchip_integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    """Exact integral over ``[lo, hi]`` (inside ``[x[0], x[-1]]``) of the monotone cubic."""
    m, total = pchip_slopes(x, y), 0.0
    for k in range(len(x) - 1):
        a, b = max(lo, x[k]), min(hi, x[k + 1])
        if b <= a:
            continue
        h = x[k + 1] - x[k]
        def F(s):   # antiderivative in t = (x - x_k) / h of the Hermite basis combination
            return (y[k] * (s - s**3 + s**4 / 2) + h * m[k] * (s**2 / 2 - 2 * s**3 / 3 + s**4 / 4)
                    + y[k + 1] * (s**3 - s**4 / 2) + h * m[k + 1] * (s**4 / 4 - s**3 / 3))
        total += h * (F((b - x[k]) / h) - F((a - x[k]) / h))
    return total


def pchip_eval(x: np.ndarray, y: np.ndarray, xq: float) -> float:
    """The monotone cubic through ``(x, y)`` at ``xq`` (inside ``[x[0], x[-1]]``)."""
    m = pchip_slopes(x, y)
    k = int(np.clip(np.searchsorted(x, xq, side="right") - 1, 0, len(x) - 2))
    h = x[k + 1] - x[k]
    s = (xq - x[k]) / h
    return float(y[k] * (1 - 3 * s**2 + 2 * s**3) + h * m[k] * (s - 2 * s**2 + s**3)
                 + y[k + 1] * (3 * s**2 - 2 * s**3) + h * m[k + 1] * (s**3 - s**2))


def _curve(points, metric: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(log rate, quality dB)`` arrays of one curve, checked."""
    if isinstance(points, dict):
        points = points.get("points", [])
    if len(points) < 2:
        raise ValueError(f"the {name} curve needs at least 2 points, it has {len(points)}")
    rate = np.array([float(p["bpp"]) for p in points])
    q = np.array([quality_db(p, metric) for p in points])
    if not (np.all(np.isfinite(rate)) and np.all(rate > 0) and np.all(np.isfinite(q))):
        raise ValueError(f"the {name} curve has a rate <= 0 or a non-finite rate or quality")
    return np.log(rate), q


def _by_x(x: np.ndarray, y: np.ndarray, name: str, axis: str) -> tuple[np.ndarray, np.ndarray]:
    """The curve sorted by ``x``, checked for two points at the same ``x``."""
    order = np.argsort(x)
    x, y = x[order], y[order]
    if np.any(np.diff(x) == 0):
        raise ValueError(f"the {name} curve has two points with the same {axis}")
    return x, y


def _mean_gap(xa, ya, xt, yt, axis: str, show=lambda v: f"{v:.4g}") -> float:
    """Mean of ``y_test - y_anchor`` over the common range of ``x`` (each curve sorted by x)."""
    curves = [_by_x(xa, ya, "anchor", axis), _by_x(xt, yt, "test", axis)]
    lo = max(curves[0][0][0], curves[1][0][0])
    hi = min(curves[0][0][-1], curves[1][0][-1])
    if not hi > lo:
        ranges = ", ".join(f"{n} {show(c[0][0])}..{show(c[0][-1])}"
                           for n, c in zip(("anchor", "test"), curves))
        raise ValueError(f"the curves do not overlap in {axis} ({ranges})")
    ia, it = (pchip_integral(x, y, lo, hi) for x, y in curves)
    return (it - ia) / (hi - lo)


def bd_rate(anchor_points, test_points, metric: str = "psnr") -> float:
    """Bjontegaard delta rate of ``test`` against ``anchor`` in percent (negative: fewer bits)."""
    ra, qa = _curve(anchor_points, metric, "anchor")
    rt, qt = _curve(test_points, metric, "test")
    return 100.0 * math.expm1(_mean_gap(qa, ra, qt, rt, f"{metric} (dB)"))


def bd_psnr(anchor_points, test_points, metric: str = "psnr") -> float:
    """Bjontegaard delta quality in dB of ``test`` against ``anchor`` (positive: test is better)."""
    ra, qa = _curve(anchor_points, metric, "anchor")
    rt, qt = _curve(test_points, metric, "test")
    return _mean_gap(ra, qa, rt, qt, "rate", show=lambda v: f"{math.exp(v):.4g} bpp")


def rate_savings(anchor_points, test_points, metric: str = "psnr") -> list[float | None]:
    """Where along the curve a BD-rate comes from: for each test point, in its order, its rate
    against the anchor's at the same quality in percent (negative: fewer bits), the anchor's
    log-rate interpolated as in :func:`bd_rate`; ``None`` outside the anchor's quality range."""
    ra, qa = _curve(anchor_points, metric, "anchor")
    rt, qt = _curve(test_points, metric, "test")
    qa, ra = _by_x(qa, ra, "anchor", f"{metric} (dB)")
    return [100.0 * math.expm1(r - pchip_eval(qa, ra, q)) if qa[0] <= q <= qa[-1] else None
            for r, q in zip(rt, qt)]


def bd_rate_matrix(results: list[dict], metric: str = "psnr") -> dict[str, dict[str, float | None]]:
    """``m[test][anchor]``: BD-rate in percent between every two ``codec-lib eval`` documents
    (by their ``"model"`` names); ``None`` where the curves do not overlap or are too short."""
    m: dict[str, dict[str, float | None]] = {}
    for t in results:
        row = m.setdefault(t["model"], {})
        for a in results:
            if a["model"] != t["model"]:
                try:
                    row[a["model"]] = bd_rate(a, t, metric)
                except ValueError:
                    row[a["model"]] = None
    return m
