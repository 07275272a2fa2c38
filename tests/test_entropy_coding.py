"""The reference rANS coder and the fast one write the same bytes and decode each other."""
import numpy as np
import pytest

from codec_lib.entropy_coding import (CdfTables, FastCoder, ReferenceCoder, get_coder,
                                      pmf_to_quantized_cdf)
from conftest import random_tables

# A fixed test vector: two 4-symbol tables (the last symbol of each is the escape), values inside
# and far outside the tables. Pinned bytes guard the file format against accidental change.
VECTOR_CDF = [[0, 32767, 49151, 57344, 65536], [0, 6554, 19661, 39322, 65536]]
VECTOR_SYMBOLS = [-1, 0, 1, 2, 0, 1, 2, 2, 40, -7]
VECTOR_INDEXES = [0, 1, 0, 0, 1, 1, 1, 0, 0, 1]
VECTOR_BYTES = bytes.fromhex("3d1f0586df45100020ecfaba")


def vector_tables():
    return CdfTables(np.array(VECTOR_CDF, dtype=np.int32), np.array([5, 5], dtype=np.int32),
                     np.array([-1, 0], dtype=np.int32))


def test_quantized_cdf_is_valid():
    rng = np.random.default_rng(0)
    pmf = rng.random((50, 300)) ** 8                       # very skewed rows, many tiny entries
    lengths = rng.integers(1, 301, 50)
    cdf = pmf_to_quantized_cdf(pmf, lengths)
    for row, n in zip(cdf, lengths):
        freq = np.diff(row[: n + 1])
        assert row[0] == 0 and row[n] == 1 << 16
        assert freq.min() >= 1                            # every symbol stays codable
    # proportional where probabilities are large
    cdf = pmf_to_quantized_cdf(np.array([[0.5, 0.25, 0.25]]), np.array([3]))
    assert np.allclose(np.diff(cdf[0]) / 65536, [0.5, 0.25, 0.25], atol=1e-4)


def test_pinned_vector_both_coders():
    t = vector_tables()
    for coder in (ReferenceCoder(), FastCoder()):
        assert coder.encode(VECTOR_SYMBOLS, VECTOR_INDEXES, t) == VECTOR_BYTES
        assert coder.decode(VECTOR_BYTES, VECTOR_INDEXES, t).tolist() == VECTOR_SYMBOLS


@pytest.mark.parametrize("seed", range(5))
def test_reference_and_fast_agree(seed):
    rng = np.random.default_rng(seed)
    t = random_tables(rng)
    n = 2000
    idx = rng.integers(0, len(t.lengths), n)
    # mostly in-range values, some far outside (escape coding), some hugely outside
    sym = (t.offsets[idx] + rng.integers(0, t.lengths[idx] - 1)).astype(np.int64)
    wild = rng.random(n) < 0.05
    sym[wild] = rng.integers(-5000, 5000, wild.sum())
    sym[:2] = [2**20, -(2**20)]
    ref, fast = ReferenceCoder(), FastCoder()
    a, b = ref.encode(sym, idx, t), fast.encode(sym, idx, t)
    assert a == b
    assert np.array_equal(ref.decode(b, idx, t), sym)     # each decodes the other's bytes
    assert np.array_equal(fast.decode(a, idx, t), sym)


@pytest.mark.parametrize("coder", [ReferenceCoder(), FastCoder()], ids=["reference", "fast"])
def test_a_stream_decodes_in_parts(coder):
    """One string read in parts (a channel-conditional model's slices) gives what one decode
    of it gives, escapes included."""
    rng = np.random.default_rng(7)
    t = random_tables(rng)
    idx = rng.integers(0, len(t.lengths), 900)
    sym = (t.offsets[idx] + rng.integers(0, t.lengths[idx] - 1)).astype(np.int64)
    sym[::50] = rng.integers(-3000, 3000, len(sym[::50]))
    data = coder.encode(sym, idx, t)
    stream = coder.stream(data, len(idx))
    parts = [stream.decode(idx[a:b], t) for a, b in ((0, 1), (1, 300), (300, 300), (300, 900))]
    assert np.array_equal(np.concatenate(parts), sym)


def test_rate_close_to_ideal():
    rng = np.random.default_rng(1)
    p = np.array([0.6, 0.2, 0.1, 0.05, 0.05])
    t = CdfTables(pmf_to_quantized_cdf(np.r_[p, 1e-9][None], np.array([6])),
                  np.array([7], dtype=np.int32), np.array([0], dtype=np.int32))
    sym = rng.choice(5, 20000, p=p)
    data = FastCoder().encode(sym, np.zeros_like(sym), t)
    ideal = -np.log2(p[sym]).sum() / 8
    assert ideal <= len(data) <= ideal * 1.005 + 8


def test_truncated_stream_raises_in_reference():
    t = vector_tables()
    with pytest.raises(ValueError):
        ReferenceCoder().decode(VECTOR_BYTES[:6], VECTOR_INDEXES, t)


def test_get_coder():
    assert get_coder().name == "rans"
    assert get_coder("reference").name == "reference"
    with pytest.raises(ValueError):
        get_coder("huffman")
