"""Entropy coding: turn integer symbols and their model probabilities into bytes, and back.

We use range asymmetric numeral systems (rANS, Duda 2013; the interleaving-free 64-bit variant
of Giesen's ryg_rans). The state ``x`` is an integer; coding symbol ``s`` with frequency ``f_s``
and cumulative frequency ``c_s`` out of ``2^16`` maps

    x  ->  (x // f_s) * 2^16 + c_s + (x mod f_s)

which grows ``x`` by a factor ``2^16 / f_s``, i.e. by ``-log2 p(s)`` bits; whenever ``x`` would
leave ``[2^31, 2^63)`` the low 32 bits are written out. rANS is last-in first-out, so the encoder
walks the symbols backwards and the decoder reads them forwards.

Each symbol comes with an *index* choosing one of ``K`` integer CDF tables (one per latent
channel for the factorized prior, one per quantized scale for the Gaussian conditional) and an
*offset* (the table's smallest symbol). Values outside a table are escaped: the table's last
entry codes "overflow" and the value follows as Elias-gamma-like groups of 4 raw bits. The byte
format is the one of CompressAI's C++ ``RansEncoder`` (little-endian 32-bit words), so:

- :class:`ReferenceCoder` (pure Python, about 80 lines, what the book teaches) and
- :class:`FastCoder` (CompressAI's compiled extension, the default)

produce identical bytes and decode each other's output; ``tests/test_entropy_coding.py`` checks it.
"""
from __future__ import annotations

import os
from bisect import bisect_right
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CdfTables", "pmf_to_quantized_cdf", "ReferenceCoder", "FastCoder", "get_coder",
           "PRECISION"]

PRECISION = 16                 # CDFs sum to 2^16
_BYPASS_BITS = 4               # escaped values are sent 4 raw bits at a time
_MAX_BYPASS = (1 << _BYPASS_BITS) - 1
_RANS_L = 1 << 31              # lower bound of the normalized state interval
_MASK32 = 0xFFFFFFFF


@dataclass
class CdfTables:
    """``K`` integer CDF tables: ``cdfs[k, :lengths[k]]`` rises from 0 to ``2^16``.

    ``lengths[k]`` counts the table's entries (its number of symbols + 1, the last symbol being
    the escape); ``offsets[k]`` is the value coded by symbol 0.
    """
    cdfs: np.ndarray      # (K, L) int32
    lengths: np.ndarray   # (K,) int32
    offsets: np.ndarray   # (K,) int32
    _lists: tuple | None = field(default=None, repr=False, compare=False)

    def as_lists(self) -> tuple[list, list, list]:
        """Rows cut to their lengths (what the coders read), lengths, offsets; cached."""
        if self._lists is None:
            self._lists = ([row[:n].tolist() for row, n in zip(self.cdfs, self.lengths)],
                           self.lengths.tolist(), self.offsets.tolist())
        return self._lists


def pmf_to_quantized_cdf(pmf: np.ndarray, lengths: np.ndarray,
                         precision: int = PRECISION) -> np.ndarray:
    """Quantize probability rows ``(K, L)`` to integer CDFs ``(K, L + 1)`` summing to ``2^precision``.

    Row ``k`` uses its first ``lengths[k]`` entries. Each frequency starts as ``round(p * 2^precision)``,
    raised to at least 1 (a zero frequency could not be coded); then single units are moved until
    the total is exact, taking from the symbols that got the most above their share and giving to
    those that got the most below it (which keeps the coding cost close to ``-log2 p``).
    """
    pmf = np.clip(np.asarray(pmf, dtype=np.float64), 0.0, None)
    K, L = pmf.shape
    T = 1 << precision
    n = np.asarray(lengths, dtype=np.int64)
    if np.any(n < 1) or np.any(n > T):
        raise ValueError("every table needs between 1 and 2^precision symbols")
    cdf = np.zeros((K, L + 1), dtype=np.int64)
    for k in range(K):
        p = pmf[k, : n[k]]
        p = p / p.sum() if p.sum() > 0 else np.full(n[k], 1.0 / n[k])
        share = p * T
        freq = np.maximum(np.round(share), 1).astype(np.int64)
        while (diff := T - int(freq.sum())) != 0:
            if diff > 0:                                   # give to the most under-served
                order = np.argsort(freq - share, kind="stable")[:diff]
                freq[order] += 1
            else:                                          # take from the most over-served
                can = np.flatnonzero(freq > 1)
                order = can[np.argsort(share[can] - freq[can], kind="stable")][:-diff]
                freq[order] -= 1
        cdf[k, 1: n[k] + 1] = np.cumsum(freq)
    return cdf.astype(np.int32)


def _escape(value: int, max_value: int) -> tuple[int, list[int]]:
    """Map a value to its table symbol and the raw 4-bit groups of an escape (if any)."""
    if 0 <= value < max_value:
        return value, []
    raw = -2 * value - 1 if value < 0 else 2 * (value - max_value)   # zig-zag to non-negative
    n = 0
    while raw >> (n * _BYPASS_BITS):
        n += 1
    groups, count = [], n
    while count >= _MAX_BYPASS:                                       # unary-ish length prefix
        groups.append(_MAX_BYPASS)
        count -= _MAX_BYPASS
    groups.append(count)
    groups += [(raw >> (j * _BYPASS_BITS)) & _MAX_BYPASS for j in range(n)]
    return max_value, groups


class ReferenceCoder:
    """rANS in plain Python: slow (about a microsecond per operation) but easy to read."""

    name = "reference"

    def encode(self, symbols, indexes, tables: CdfTables) -> bytes:
        cdfs, lengths, offsets = tables.as_lists()
        ops = []                                    # (start, freq) or (bits, None) in coding order
        for s, k in zip(np.asarray(symbols).ravel().tolist(), np.asarray(indexes).ravel().tolist()):
            cdf = cdfs[k]
            value, groups = _escape(s - offsets[k], lengths[k] - 2)
            ops.append((cdf[value], cdf[value + 1] - cdf[value]))
            ops += [(g, None) for g in groups]
        x, words = _RANS_L, []
        for start, freq in reversed(ops):          # rANS is LIFO: encode backwards
            f = freq if freq is not None else 1 << (PRECISION - _BYPASS_BITS)
            if x >= ((_RANS_L >> PRECISION) << 32) * f:
                words.append(x & _MASK32)
                x >>= 32
            if freq is None:
                x = (x << _BYPASS_BITS) | start
            else:
                x = ((x // freq) << PRECISION) + (x % freq) + start
        words += [x >> 32, x & _MASK32]
        return np.array(words[::-1], dtype="<u4").tobytes()

    def decode(self, data: bytes, indexes, tables: CdfTables) -> np.ndarray:
        return self.stream(data).decode(indexes, tables)

    def stream(self, data: bytes, count: int | None = None) -> "_ReferenceStream":
        """A decoder that reads ``data`` in parts: each ``decode(indexes, tables)`` call takes
        the next ``len(indexes)`` symbols, so the tables of later symbols may depend on earlier
        ones (channel-conditional models). ``count`` (the total) is not needed here."""
        return _ReferenceStream(data)


class _ReferenceStream:
    def __init__(self, data: bytes):
        if len(data) % 4 or len(data) < 8:
            raise ValueError("rANS stream length must be a multiple of 4 and at least 8 bytes")
        self.words = np.frombuffer(data, dtype="<u4").tolist()
        self.x, self.pos = self.words[0] | (self.words[1] << 32), 2

    def decode(self, indexes, tables: CdfTables) -> np.ndarray:
        words, x = self.words, self.x
        mask = (1 << PRECISION) - 1

        def renorm(x):
            if x < _RANS_L:
                if self.pos >= len(words):
                    raise ValueError("rANS stream ended early")
                x, self.pos = (x << 32) | words[self.pos], self.pos + 1
            return x

        def raw_bits(x):
            return renorm(x >> _BYPASS_BITS), x & _MAX_BYPASS

        cdfs, lengths, offsets = tables.as_lists()
        out = []
        for k in np.asarray(indexes).ravel().tolist():
            cdf, max_value = cdfs[k], lengths[k] - 2
            s = bisect_right(cdf, x & mask, 0, lengths[k]) - 1
            x = renorm((cdf[s + 1] - cdf[s]) * (x >> PRECISION) + (x & mask) - cdf[s])
            value = s
            if s == max_value:                     # escape: read the length, then the raw groups
                x, g = raw_bits(x)
                n = g
                while g == _MAX_BYPASS:
                    x, g = raw_bits(x)
                    n += g
                if n > 8:                           # a 32-bit value has at most 8 groups
                    raise ValueError("rANS stream is corrupted (escape too long)")
                raw = 0
                for j in range(n):
                    x, g = raw_bits(x)
                    raw |= g << (j * _BYPASS_BITS)
                value = -(raw >> 1) - 1 if raw & 1 else (raw >> 1) + max_value
            out.append(value + offsets[k])
        self.x = x
        return np.array(out, dtype=np.int32)


def _load_compressai_ans():
    """Import CompressAI's compiled ``ans`` extension without importing the ``compressai``
    package itself (whose import pulls in torchvision and data sets and takes seconds)."""
    import importlib.machinery
    import importlib.util
    import sys
    if "compressai.ans" in sys.modules:
        return sys.modules["compressai.ans"]
    spec = importlib.util.find_spec("compressai")            # locates it; does not run it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("compressai is not installed: use the 'reference' coder")
    for folder in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "ans" + suffix)
            if os.path.exists(path):
                loader = importlib.machinery.ExtensionFileLoader("compressai.ans", path)
                module = importlib.util.module_from_spec(
                    importlib.util.spec_from_file_location("compressai.ans", path, loader=loader))
                loader.exec_module(module)
                return module
    raise ImportError("compressai's rANS extension was not found: use the 'reference' coder")


class FastCoder:
    """CompressAI's compiled rANS (same byte format as :class:`ReferenceCoder`)."""

    name = "rans"

    def __init__(self):
        ans = _load_compressai_ans()
        self._ans, self._enc = ans, ans.RansEncoder()

    def encode(self, symbols, indexes, tables: CdfTables) -> bytes:
        cdfs, lengths, offsets = tables.as_lists()
        return self._enc.encode_with_indexes(
            np.asarray(symbols, dtype=np.int32).ravel().tolist(),
            np.asarray(indexes, dtype=np.int32).ravel().tolist(), cdfs, lengths, offsets)

    def decode(self, data: bytes, indexes, tables: CdfTables) -> np.ndarray:
        return self.stream(data, np.size(indexes)).decode(indexes, tables)

    def stream(self, data: bytes, count: int) -> "_FastStream":
        """A decoder that reads ``data`` in parts (see :meth:`ReferenceCoder.stream`); ``count``
        is the total number of symbols it will be asked for (it sizes the guard words)."""
        if len(data) % 4 or len(data) < 8:
            raise ValueError("rANS stream length must be a multiple of 4 and at least 8 bytes")
        # The compiled decoder does not check the end of its buffer: zero words after the data
        # keep a damaged stream from reading past it (a valid stream never reaches them).
        return _FastStream(self._ans.RansDecoder(), data + bytes(4 * count + 64))


class _FastStream:
    def __init__(self, dec, padded: bytes):
        self._dec = dec
        dec.set_stream(padded)

    def decode(self, indexes, tables: CdfTables) -> np.ndarray:
        cdfs, lengths, offsets = tables.as_lists()
        indexes = np.asarray(indexes, dtype=np.int32).ravel().tolist()
        return np.asarray(self._dec.decode_stream(indexes, cdfs, lengths, offsets), dtype=np.int32)


CODERS = {"rans": FastCoder, "reference": ReferenceCoder}


def get_coder(name: str | None = None):
    """Return a coder by name: ``"rans"`` (fast, default) or ``"reference"``.

    ``CODEC_LIB_CODER`` in the environment overrides the default.
    """
    name = name or os.environ.get("CODEC_LIB_CODER", "rans")
    if name not in CODERS:
        raise ValueError(f"unknown entropy coder {name!r}; choose one of {sorted(CODERS)}")
    return CODERS[name]()
