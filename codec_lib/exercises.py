"""Exercise checkers shared by every chapter of the book.

A chapter registers a checker with the `exercise` decorator; the reader calls
``check("01.2", answer)``. A checker receives the reader's answer and returns
``(ok, message)``; it computes the expected result itself from `codec_lib`, so
no solution is written in the notebooks, and its hints never reveal one.

    @exercise("07.1", "Rate of a factorized prior")
    def _(answer):
        ...
        return ok, "hint if not ok"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

Checker = Callable[[Any], "tuple[bool, str]"]


@dataclass(frozen=True)
class Exercise:
    exercise_id: str
    title: str
    checker: Checker


_REGISTRY: dict[str, Exercise] = {}


def exercise(exercise_id: str, title: str) -> Callable[[Checker], Checker]:
    """Decorator registering ``checker(answer) -> (ok, message)`` under ``exercise_id`` ("CC.N")."""
    def register(checker: Checker) -> Checker:
        if exercise_id in _REGISTRY:
            raise ValueError(f"exercise {exercise_id!r} is registered twice")
        _REGISTRY[exercise_id] = Exercise(exercise_id, title, checker)
        return checker
    return register


def list_exercises(chapter: str | None = None) -> list[str]:
    """Registered exercise ids, optionally only those of one chapter ("01")."""
    return sorted(i for i in _REGISTRY if chapter is None or i.split(".")[0] == chapter)


def check(exercise_id: str, answer: Any) -> bool:
    """Check an answer, print a one-line verdict and return whether it is correct.

    An unfinished answer (``None``) is not an error: it prints a reminder and returns False.
    """
    if exercise_id not in _REGISTRY:
        raise ValueError(f"unknown exercise {exercise_id!r}; known: {', '.join(list_exercises())}")
    ex = _REGISTRY[exercise_id]
    if answer is None:
        print(f"[{exercise_id} {ex.title}] waiting for your answer: replace `None` and run the cell again.")
        return False
    try:
        ok, msg = ex.checker(answer)
    except Exception as err:                          # the reader's function may raise anything
        ok, msg = False, f"your answer raised {type(err).__name__}: {err}".splitlines()[0]
    print(f"[{exercise_id} {ex.title}] " + ("correct!" if ok else f"not quite: {msg}"))
    return ok


# ======================================================================= chapter 1
def _photo_gray(name: str) -> np.ndarray:
    """An embedded scikit-image photo as uint8 luma (JFIF Y), the same on every machine."""
    import skimage.data
    from . import classic
    x = getattr(skimage.data, name)()
    if x.ndim == 2:
        return x
    return np.clip(np.rint(classic.rgb_to_ycbcr(x)[..., 0]), 0, 255).astype(np.uint8)


@exercise("01.1", "Zig-zag order of a 4x4 block")
def _zigzag4(answer: Any) -> tuple[bool, str]:
    from . import classic
    got, want = np.asarray(answer).ravel(), classic.zigzag_order(4)
    if got.size != 16:
        return False, f"expected 16 flat indices (row-major, 0..15), got {got.size} values."
    if sorted(got.tolist()) != list(range(16)):
        return False, "every index 0..15 must appear exactly once (flat index = 4 * row + col)."
    bad = int(np.argmax(got != want)) if (got != want).any() else -1
    if bad >= 0:
        return False, f"the first {bad} positions are right; position {bad} is off (check the direction of that diagonal)."
    return True, ""


@exercise("01.2", "Coding gain of an orthonormal transform")
def _coding_gain(answer: Any) -> tuple[bool, str]:
    from . import classic
    if not callable(answer):
        return False, "answer should be a function coding_gain(blocks, T) -> float."
    blocks = classic.image_blocks(_photo_gray("camera"))           # (N, 64) real 8x8 blocks
    rng = np.random.default_rng(0)
    random_t = np.linalg.qr(rng.standard_normal((64, 64)))[0]
    for name, t in [("DCT", classic.dct_basis()), ("identity", np.eye(64)), ("a random rotation", random_t)]:
        got, want = float(answer(blocks, t)), classic.coding_gain(blocks, t)
        if abs(got - 10 * np.log10(want)) < 1e-6 * max(1.0, abs(want)) and abs(want - 1) > 1e-3:
            return False, f"for the {name} you returned decibels; return the plain ratio."
        if not np.isclose(got, want, rtol=1e-6):
            return False, (f"for the {name} the gain is off (arithmetic over geometric mean of the "
                           "variances of y = T x, one variance per coefficient across blocks).")
    return True, ""


@exercise("01.3", "Quality for a 1 bpp budget")
def _quality_for_rate(answer: Any) -> tuple[bool, str]:
    """Largest quality whose stream fits 1.0 bpp on chelsea (4:2:0), checked at q and q + 1."""
    import skimage.data
    from . import classic
    if isinstance(answer, bool) or not isinstance(answer, (int, np.integer)) or not 1 <= answer <= 100:
        return False, "answer should be an integer quality in 1..100."
    x = skimage.data.chelsea()
    rate = lambda q: classic.bits_per_pixel(classic.encode(x, int(q)), x)
    if rate(answer) > 1.0:
        return False, f"at quality {answer} the stream takes {rate(answer):.3f} bpp, above the 1.0 bpp budget."
    if answer < 100 and rate(answer + 1) <= 1.0:
        return False, f"quality {answer} fits, but a higher quality still fits the budget."
    return True, ""


@exercise("01.4", "Inverse colour transform")
def _ycbcr_to_rgb(answer: Any) -> tuple[bool, str]:
    from . import classic
    if not callable(answer):
        return False, "answer should be a function ycbcr_to_rgb(ycc) -> (H, W, 3) float array."
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    got = np.asarray(answer(classic.rgb_to_ycbcr(x)), np.float64)
    if got.shape != x.shape:
        return False, f"expected shape {x.shape}, got {got.shape}."
    err = np.abs(got - x).max()
    if err > 1e-3:
        return False, f"max error after RGB -> YCbCr -> your inverse is {err:.3g}; check the matrix and the 128 offsets of Cb, Cr."
    return True, ""


# ======================================================================= chapter 5
def _pmf_cases(seed: int, sizes=(2, 5, 17, 40)) -> list[np.ndarray]:
    """A few probability vectors, from flat to very peaked (the last one has a tiny tail)."""
    rng = np.random.default_rng(seed)
    cases = [rng.dirichlet(np.full(n, a)) for n, a in zip(sizes, (1.0, 0.5, 0.2, 0.1))]
    tail = 0.5 ** np.arange(24.0)
    cases.append(tail / tail.sum())
    return cases


@exercise("05.1", "Ideal code length")
def _code_length(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "answer should be a function code_length(symbols, pmf) -> bits (a float)."
    rng = np.random.default_rng(51)
    for pmf in _pmf_cases(51):
        q = rng.dirichlet(np.ones(len(pmf)))                  # the data need not follow the model
        for src in (pmf, q):
            symbols = rng.choice(len(pmf), size=int(rng.integers(1, 400)), p=src)
            want = float(-np.log2(pmf[symbols]).sum())
            got = float(answer(symbols.copy(), pmf.copy()))
            if np.isclose(got, want, rtol=1e-9, atol=1e-9):
                continue
            if np.isclose(got / np.log(2), want, rtol=1e-9, atol=1e-9):
                return False, "that looks like nats (natural log); measure in bits (log base 2)."
            if np.isclose(got * len(symbols), want, rtol=1e-9, atol=1e-9):
                return False, "that is the mean per symbol; return the total for the whole sequence."
            entropy = float(-(pmf[pmf > 0] * np.log2(pmf[pmf > 0])).sum())
            if np.isclose(got, len(symbols) * entropy, rtol=1e-9):
                return False, ("that is the expected length under the model (count times entropy); "
                               "add up the information content of the symbols actually given.")
            return False, f"for a sequence of {len(symbols)} symbols over {len(pmf)} values the length is off."
    return True, ""


def _overhead_bits(pmf: np.ndarray, freq: np.ndarray, precision: int) -> float:
    """Expected extra bits per symbol when a source ``pmf`` is coded with ``freq / 2^precision``."""
    p = pmf / pmf.sum()
    nz = p > 0
    return float((p[nz] * np.log2(p[nz] * (1 << precision) / freq[nz])).sum())


@exercise("05.2", "Integer frequencies from a pmf")
def _quantize_pmf(answer: Any) -> tuple[bool, str]:
    from .entropy_coding import pmf_to_quantized_cdf
    if not callable(answer):
        return False, "answer should be a function quantize_pmf(pmf, precision) -> integer frequencies."
    zero = np.array([0.5, 0.0, 0.3, 0.0, 0.2])                 # impossible symbols must stay codable
    cases = [(zero, 4)] + [(p, prec) for p, prec in zip(_pmf_cases(52), (8, 8, 10, 12, 16))]
    cases += [(_pmf_cases(53)[3], 16)]
    for pmf, prec in cases:
        got = np.asarray(answer(pmf.copy(), prec))
        n, total = len(pmf), 1 << prec
        if got.shape != (n,):
            return False, f"for {n} symbols expected {n} frequencies, got shape {got.shape}."
        if not np.all(np.isclose(got, np.round(got))):
            return False, "frequencies must be whole numbers."
        got = np.round(got).astype(np.int64)
        if got.min() < 1:
            return False, "every symbol needs a frequency of at least 1, even improbable ones."
        if got.sum() != total:
            return False, f"at precision {prec} the frequencies must add up to exactly {total}, not {got.sum()}."
        lib = np.diff(pmf_to_quantized_cdf(pmf[None], np.array([n]), prec)[0]).astype(np.int64)
        mine, ref = _overhead_bits(pmf, got, prec), _overhead_bits(pmf, lib, prec)
        if mine > 1.25 * ref + 2e-3:
            return False, (f"valid, but for {n} symbols at precision {prec} it costs {mine:.4f} extra "
                           f"bits per symbol where {ref:.4f} is possible: follow the pmf more closely.")
    return True, ""


@exercise("05.3", "Decode an rANS stream")
def _rans_decode(answer: Any) -> tuple[bool, str]:
    from .entropy_coding import CdfTables, ReferenceCoder, pmf_to_quantized_cdf
    if not callable(answer):
        return False, "answer should be a function rans_decode(data, cdf, count) -> list of symbols."
    rng = np.random.default_rng(53)
    for pmf, count in zip(_pmf_cases(54), (1, 7, 300, 2000, 500)):
        n = len(pmf)
        cdf = pmf_to_quantized_cdf(np.append(pmf, 0.0)[None], np.array([n + 1]))[0]   # + escape
        tables = CdfTables(cdf[None], np.array([n + 2], np.int32), np.zeros(1, np.int32))
        symbols = rng.choice(n, size=count, p=pmf)
        data = ReferenceCoder().encode(symbols, np.zeros(count, np.int32), tables)
        got = [int(s) for s in np.asarray(answer(data, cdf.tolist(), count)).ravel()]
        if got == symbols.tolist():
            continue
        if got == symbols[::-1].tolist() and count > 1:
            return False, "right symbols, reversed: the decoder reads them in the order they were given."
        if len(got) != count:
            return False, f"asked for {count} symbols, got {len(got)}."
        first = next(i for i, (a, b) in enumerate(zip(got, symbols.tolist())) if a != b)
        return False, (f"with {n} symbols, the first {first} of {count} decoded symbols are right; "
                       "check the state update and the renormalization there.")
    return True, ""


@exercise("05.4", "Header bytes of a codec_lib file")
def _header_bytes(answer: Any) -> tuple[bool, str]:
    from . import bitstream
    if not callable(answer):
        return False, "answer should be a function header_bytes(model_name) -> int."
    for name in ("mean-scale", "hyperprior", "x", "modèle-µ"):
        header = bitstream.Header(name, 4, bytes(8), 64, 48)
        data = bitstream.pack(header, [[bytes(20)], [bytes(8)]])      # y and z strings
        want = bitstream.describe(data)["header_bytes"]
        got = answer(name)
        if isinstance(got, bool) or not isinstance(got, (int, np.integer)):
            return False, "return an integer number of bytes."
        if got == want:
            continue
        if got - want == len(name) - len(name.encode()):
            return False, f"for {name!r}: the name is stored as UTF-8 bytes, not characters."
        if want - got == 4:
            return False, "everything except the payload counts, the checksum at the end too."
        return False, (f"off for model name {name!r}: count every field that is not entropy-coded "
                       "payload, for a file with two strings (y and z).")
    return True, ""


# ======================================================================= chapter 3
@exercise("03.1", "Variance of uniform quantization noise")
def _noise_variance(answer: Any) -> tuple[bool, str]:
    import torch
    from .quantization import quantize
    if not callable(answer):
        return False, "answer should be a function noise_variance(delta) -> float."
    gen = torch.Generator().manual_seed(31)
    y = torch.randn(1_000_000, generator=gen, dtype=torch.float64) * 50     # spread over many steps
    for delta in (1.0, 0.25, 2.0, 7.5):
        want = float((delta * quantize(y / delta, "round") - y).var())       # measured, ~ delta^2/12
        got = answer(delta)
        try:
            got = float(got)
        except (TypeError, ValueError):
            return False, f"noise_variance({delta}) should return a number, got {type(got).__name__}."
        if abs(got - want) <= 0.01 * want:
            continue
        if abs(got ** 2 - want) <= 0.01 * want:
            return False, "that looks like a standard deviation; return the variance."
        if abs(got - want / delta) <= 0.01 * want / delta or abs(got - want / delta ** 2) <= 0.01 * want / delta ** 2:
            return False, f"right for step 1, but off for step {delta}: how does the error scale with the step?"
        return False, (f"for step {delta} the rounding error's variance is off; the error is uniform "
                       "on an interval of width delta.")
    return True, ""


@exercise("03.2", "Straight-through rounding")
def _ste(answer: Any) -> tuple[bool, str]:
    import torch
    from .quantization import quantize
    if not callable(answer):
        return False, "answer should be a function ste(y) -> tensor."
    gen = torch.Generator().manual_seed(32)
    y = (torch.randn(500, generator=gen) * 4).requires_grad_()
    w = torch.randn(500, generator=gen)                    # an arbitrary upstream gradient
    got = answer(y)
    if not torch.is_tensor(got) or got.shape != y.shape:
        return False, "return a tensor of the same shape as y."
    want = quantize(y.detach(), "ste")
    if not torch.equal(got.detach().to(want.dtype), want):
        return False, "the forward value must be exactly torch.round(y)."
    if not got.requires_grad:
        return False, "the output carries no gradient: the rounding must not cut the graph."
    (grad,) = torch.autograd.grad((w * got).sum(), y, allow_unused=True)
    if grad is None or not torch.any(grad != 0):
        return False, "the gradient is zero everywhere, as plain rounding's is: let it pass through."
    if not torch.allclose(grad, w, atol=1e-6):
        return False, "the value is right but the gradient is not one per element."
    return True, ""


@exercise("03.3", "Soft rounding")
def _soft_round(answer: Any) -> tuple[bool, str]:
    import math
    import torch
    from .quantization import soft_round
    if not callable(answer):
        return False, "answer should be a function soft_round_fn(x, alpha) -> tensor."
    x = torch.linspace(-3.2, 3.2, 257, dtype=torch.float64)
    for alpha in (0.7, 2.0, 5.0, 13.0):
        got = torch.as_tensor(answer(x.clone(), alpha), dtype=torch.float64)
        want = soft_round(x, alpha)
        if got.shape != x.shape:
            return False, f"expected shape {tuple(x.shape)}, got {tuple(got.shape)}."
        if torch.allclose(got, want, atol=1e-6):
            continue
        m = torch.floor(x) + 0.5
        if torch.allclose(got, m + torch.tanh(alpha * (x - m)) / 2, atol=1e-6):
            return False, ("the shape is right but the ends do not meet at the half-integers: "
                           "normalize tanh so that r = +-1/2 maps to +-1/2.")
        if torch.allclose(got, torch.round(x) + torch.tanh(alpha * (x - torch.round(x))) / (2 * math.tanh(alpha / 2)), atol=1e-6):
            return False, "measure r from the midpoint between two integers, floor(x) + 1/2."
        return False, f"for alpha = {alpha} the values are off; compare with the formula of section 3.4."
    return True, ""


@exercise("03.4", "Probability of a rounded Gaussian")
def _p_round(answer: Any) -> tuple[bool, str]:
    import torch
    from .entropy_models import GaussianConditional
    if not callable(answer):
        return False, "answer should be a function p_round(k, sigma) -> float."
    gc = GaussianConditional()
    for k, sigma in ((0, 1.0), (1, 1.0), (-2, 0.8), (3, 2.5), (0, 0.3), (-5, 4.0)):
        want = float(gc.likelihood(torch.tensor(float(k), dtype=torch.float64),
                                   torch.tensor(sigma, dtype=torch.float64)))
        got = answer(k, sigma)
        try:
            got = float(got)
        except (TypeError, ValueError):
            return False, f"p_round({k}, {sigma}) should return a number."
        if abs(got - want) <= 1e-6 + 1e-4 * want:
            continue
        dens = float(torch.exp(torch.tensor(-0.5 * (k / sigma) ** 2)) / (sigma * (2 * torch.pi) ** 0.5))
        if abs(got - dens) <= 1e-6 + 1e-4 * dens:
            return False, "that is the density of y at k; integrate it over the bin of k instead."
        return False, (f"for k = {k}, sigma = {sigma} the probability is off: which interval of y "
                       "rounds to k?")
    return True, ""


# ======================================================================= chapter 4
@exercise("04.1", "Entropy of a pmf")
def _entropy_pmf(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "answer should be a function entropy_bits(pmf) -> float."
    rng = np.random.default_rng(41)
    cases = _pmf_cases(41) + [np.array([1.0]), np.array([0.5, 0.5]), np.array([0.7, 0.0, 0.3])]
    for pmf in cases + [rng.dirichlet(np.ones(9))]:
        nz = pmf[pmf > 0]
        want = float(-(nz * np.log2(nz)).sum())
        try:
            got = float(answer(pmf.copy()))
        except (TypeError, ValueError):
            return False, "entropy_bits(pmf) should return a number."
        if np.isfinite(got) and np.isclose(got, want, rtol=1e-9, atol=1e-9):
            continue
        if not np.isfinite(got):
            return False, "you got nan or inf: a symbol of probability 0 contributes 0 bits (0 log 0 = 0)."
        if np.isclose(got * np.log(2), want, rtol=1e-9, atol=1e-9) or np.isclose(got / np.log(2), want, rtol=1e-9, atol=1e-9):
            return False, "that looks like nats (natural log); measure in bits (log base 2)."
        if np.isclose(-got, want, rtol=1e-9, atol=1e-9) and want > 0:
            return False, "the sign is off: entropy is never negative."
        return False, f"for a pmf over {len(pmf)} values the entropy is off."
    return True, ""


@exercise("04.2", "Likelihood of a quantized Gaussian latent")
def _gauss_bin(answer: Any) -> tuple[bool, str]:
    import torch
    from .entropy_models import GaussianConditional
    if not callable(answer):
        return False, "answer should be a function p_bin(k, mu, sigma) -> float."
    gc = GaussianConditional()
    for k, mu, sigma in ((0, 0.0, 1.0), (2, 0.3, 1.5), (-1, 0.4, 0.6), (3, -1.2, 2.5), (0, 0.45, 0.25),
                         (-4, -3.7, 5.0)):
        t = lambda v: torch.tensor(float(v), dtype=torch.float64)
        want = float(gc.likelihood(t(k), t(sigma), t(mu)))
        try:
            got = float(answer(k, mu, sigma))
        except (TypeError, ValueError):
            return False, f"p_bin({k}, {mu}, {sigma}) should return a number."
        if abs(got - want) <= 1e-7 + 1e-5 * want:
            continue
        dens = float(np.exp(-0.5 * ((k - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi)))
        if abs(got - dens) <= 1e-6 + 1e-4 * dens:
            return False, "that is the density at k; integrate it over the interval of width 1 around k."
        no_mu = float(gc.likelihood(t(k), t(sigma)))
        if abs(got - no_mu) <= 1e-7 + 1e-5 * no_mu and mu != 0:
            return False, "the mean is missing: the Gaussian is centred at mu."
        return False, f"for k = {k}, mu = {mu}, sigma = {sigma} the probability is off."
    return True, ""


@exercise("04.3", "Bits of y_hat under a mean-scale model")
def _bits_y(answer: Any) -> tuple[bool, str]:
    import torch
    from .entropy_models import GaussianConditional
    if not callable(answer):
        return False, "answer should be a function bits_of(y_hat, scales, means) -> float."
    gc = GaussianConditional()
    gen = torch.Generator().manual_seed(43)
    for shape in ((1, 4, 3, 5), (2, 8, 6, 6)):
        scales = 0.2 + 4 * torch.rand(shape, generator=gen, dtype=torch.float64)
        means = 3 * torch.randn(shape, generator=gen, dtype=torch.float64)
        y_hat = torch.round(means + scales * torch.randn(shape, generator=gen, dtype=torch.float64))
        want = float(-torch.log2(gc.likelihood(y_hat, scales, means)).sum())
        try:
            got = float(answer(y_hat.clone(), scales.clone(), means.clone()))
        except (TypeError, ValueError):
            return False, "bits_of(...) should return a number (the total over all elements)."
        if abs(got - want) <= 1e-6 * max(1.0, want):
            continue
        if abs(got * y_hat.numel() - want) <= 1e-6 * max(1.0, want):
            return False, "that is the mean per element; return the total number of bits."
        if abs(got / np.log(2) - want) <= 1e-6 * max(1.0, want):
            return False, "that looks like nats; measure in bits (log base 2)."
        return False, f"for y_hat of shape {shape} the total is off: sum -log2 of each element's bin mass."
    return True, ""
