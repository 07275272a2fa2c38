"""Bjontegaard deltas: known answers on synthetic curves, errors, and PCHIP against scipy."""
import math

import numpy as np
import pytest

from codec_lib.bdrate import (bd_psnr, bd_rate, bd_rate_matrix, pchip_eval, pchip_integral,
                              pchip_slopes, quality_db, rate_savings)


def log_rate(d):
    """A smooth, convex log-rate curve of PSNR, like a real codec's (0.1 .. 2.5 bpp)."""
    return math.log(0.1) + 0.2 * (d - 25) + 0.004 * (d - 25) ** 2


def curve(psnrs, scale=1.0, shift_db=0.0):
    return [{"bpp": scale * math.exp(log_rate(d)), "psnr": d + shift_db} for d in psnrs]


ANCHOR = curve([25, 28, 31, 34, 37, 40])


def test_ten_percent_fewer_bits():
    assert bd_rate(ANCHOR, curve([25, 28, 31, 34, 37, 40], 0.9)) == pytest.approx(-10, abs=1e-9)
    # sampled at other PSNRs: only the interpolation differs from the exact curve
    other = curve([24, 26.5, 30, 33.3, 36, 38.5, 41], 0.9)
    assert bd_rate(ANCHOR, other) == pytest.approx(-10, abs=0.1)
    assert bd_rate(curve([25, 28, 31, 34, 37, 40], 0.9), ANCHOR) == pytest.approx(100 / 9, abs=1e-9)


def test_identical_curves_and_order():
    assert bd_rate(ANCHOR, ANCHOR) == 0 and bd_psnr(ANCHOR, ANCHOR) == 0
    shuffled = [ANCHOR[i] for i in (3, 0, 5, 1, 4, 2)]
    assert bd_rate(ANCHOR, shuffled) == pytest.approx(0, abs=1e-12)
    assert bd_rate({"model": "x", "points": ANCHOR}, {"points": ANCHOR}) == 0   # eval documents


def test_one_db_better():
    better = curve([25, 28, 31, 34, 37, 40], shift_db=1.0)
    assert bd_psnr(ANCHOR, better) == pytest.approx(1.0, abs=1e-9)
    assert bd_psnr(better, ANCHOR) == pytest.approx(-1.0, abs=1e-9)
    assert bd_rate(ANCHOR, better) < -10                  # 1 dB is worth ~20 % of the bits here


def test_errors():
    with pytest.raises(ValueError, match="do not overlap"):
        bd_rate(ANCHOR, curve([45, 48, 50]))
    with pytest.raises(ValueError, match="do not overlap"):
        bd_psnr(ANCHOR, [{"bpp": 5.0, "psnr": 40}, {"bpp": 6.0, "psnr": 41}])
    with pytest.raises(ValueError, match="at least 2 points"):
        bd_rate(ANCHOR, ANCHOR[:1])
    with pytest.raises(ValueError, match="same"):
        bd_rate(ANCHOR, ANCHOR[:3] + [dict(ANCHOR[2], bpp=0.5)])
    with pytest.raises(ValueError, match="rate <= 0"):
        bd_rate(ANCHOR, [{"bpp": 0.0, "psnr": 30}, {"bpp": 1.0, "psnr": 35}])
    with pytest.raises(ValueError, match="unknown metric"):
        bd_rate(ANCHOR, ANCHOR, metric="ssim")


def test_ms_ssim_metric():
    assert quality_db({"ms_ssim": 0.99}, "ms_ssim") == pytest.approx(20)
    to_ssim = lambda pts, s: [{"bpp": p["bpp"] * s, "ms_ssim": 1 - 10 ** (-(p["psnr"] - 20) / 10)}
                              for p in pts]
    anchor, test = to_ssim(ANCHOR, 1.0), to_ssim(ANCHOR, 0.8)
    assert bd_rate(anchor, test, metric="ms_ssim") == pytest.approx(-20, abs=1e-9)
    assert bd_psnr(anchor, anchor, metric="ms_ssim") == 0


def test_matrix():
    docs = [{"model": "a", "points": ANCHOR}, {"model": "b", "points": curve([26, 30, 34], 0.9)},
            {"model": "c", "points": curve([50, 52])}]
    m = bd_rate_matrix(docs)
    assert m["b"]["a"] == pytest.approx(-10, abs=0.1)
    assert m["a"]["b"] == pytest.approx(100 / 9, abs=0.1)
    assert m["c"]["a"] is None and set(m["a"]) == {"b", "c"}


def test_pchip_monotone_and_matches_scipy():
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.5, 6.0])
    y = np.array([0.0, 0.1, 0.1, 2.0, 2.1, 5.0])         # flat step then a jump: no overshoot
    m = pchip_slopes(x, y)
    assert np.all(m >= 0) and m[2] == 0
    assert pchip_integral(x, np.full(6, 2.0), 0.5, 5.0) == pytest.approx(9.0)     # constants
    assert pchip_integral(x, 3 * x + 1, 1.2, 5.5) == pytest.approx(1.5 * (5.5**2 - 1.2**2) + 4.3)
    interp = pytest.importorskip("scipy.interpolate")
    rng = np.random.default_rng(0)
    for n in (2, 3, 4, 6, 9):
        for _ in range(50):
            x = np.cumsum(rng.uniform(0.1, 2.0, n))
            y = rng.normal(size=n)
            lo, hi = np.sort(rng.uniform(x[0], x[-1], 2))
            p = interp.PchipInterpolator(x, y)
            np.testing.assert_allclose(pchip_slopes(x, y), p.derivative()(x), atol=1e-12)
            assert pchip_integral(x, y, lo, hi) == pytest.approx(p.integrate(lo, hi), abs=1e-10)
            xq = rng.uniform(x[0], x[-1])
            assert pchip_eval(x, y, xq) == pytest.approx(float(p(xq)), abs=1e-10)
            assert pchip_eval(x, y, x[-1]) == pytest.approx(y[-1], abs=1e-12)


def test_rate_savings_per_point():
    # 10 % fewer bits everywhere: -10 % at every point inside the anchor's range (25..40 dB)
    test = curve([24, 25, 28, 31, 34, 40, 41], 0.9)
    s = rate_savings(ANCHOR, test)
    assert s[0] is None and s[-1] is None
    np.testing.assert_allclose(s[1:-1], -10, atol=1e-9)
    # between the anchor's knots only its interpolation differs from the exact curve
    assert rate_savings(ANCHOR, curve([26.5, 35.2], 0.9)) == pytest.approx([-10, -10], abs=0.2)
    # a saving that shrinks with quality: the mean is the BD-rate, the ends are not
    shrinking = [{"bpp": p["bpp"] * (0.6 + 0.02 * (p["psnr"] - 25)), "psnr": p["psnr"]} for p in ANCHOR]
    s = rate_savings(ANCHOR, shrinking)
    assert s[0] == pytest.approx(-40) and s[-1] == pytest.approx(-10)
    assert s[0] < bd_rate(ANCHOR, shrinking) < s[-1]
    with pytest.raises(ValueError, match="at least 2 points"):
        rate_savings(ANCHOR[:1], test)
