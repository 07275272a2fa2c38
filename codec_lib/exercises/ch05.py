"""Checkers for the exercises of chapter 5."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import exercise


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
    from ..entropy_coding import pmf_to_quantized_cdf
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
    from ..entropy_coding import CdfTables, ReferenceCoder, pmf_to_quantized_cdf
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
    from .. import bitstream
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
