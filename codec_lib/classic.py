"""A JPEG-like transform codec, the classic baseline of chapter 1.

Pipeline (Wallace 1991; ITU-T T.81 | ISO/IEC 10918-1, 1992):
RGB -> YCbCr (JFIF) -> optional 4:2:0 chroma subsampling -> 8x8 block DCT-II
(Ahmed, Natarajan & Rao 1974) -> uniform quantization with the T.81 Annex K
tables scaled by the IJG quality formula -> zig-zag scan -> run-length symbols
with image-specific Huffman codes (`codec_lib.classic_entropy`) -> bytes.

It also measures why a transform helps: the KLT of 8x8 blocks and the coding
gain of identity, DCT and KLT (Goyal 2001, "Theoretical foundations of
transform coding", IEEE Signal Processing Magazine 18(5)).

Notation: ``x`` image, ``y`` transform coefficients, ``y_hat`` quantized ones,
``x_hat`` reconstruction.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass

import numpy as np

from . import classic_entropy as ent

# ITU-T T.81 Annex K, Table K.1 (luminance) and Table K.2 (chrominance), natural row-major order.
JPEG_LUMA_QTABLE = np.array([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56], [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]])
JPEG_CHROMA_QTABLE = np.full((8, 8), 99)
JPEG_CHROMA_QTABLE[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]

MAGIC = b"CLJ1"
_HEADER = struct.Struct(">4sHHBB")                    # magic, height, width, channels, subsampling
SUBSAMPLING = {"4:4:4": 0, "4:2:0": 1}


# ----------------------------------------------------------------- transform
def dct_matrix(n: int = 8) -> np.ndarray:
    """Orthonormal DCT-II matrix C, (n, n): ``y = C @ x`` for a length-n signal.

    ``C[k, i] = a_k cos(pi (2i + 1) k / (2n))`` with ``a_0 = sqrt(1/n)`` and
    ``a_k = sqrt(2/n)`` otherwise (Ahmed, Natarajan & Rao 1974), so ``C.T @ C = I``.
    """
    k, i = np.arange(n)[:, None], np.arange(n)[None, :]
    c = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * i + 1) * k / (2 * n))
    c[0] /= np.sqrt(2.0)
    return c


def blockify(x: np.ndarray, n: int = 8) -> np.ndarray:
    """(H, W) -> (H'/n, W'/n, n, n) blocks, padding by edge replication to multiples of n."""
    h, w = x.shape
    x = np.pad(x, ((0, -h % n), (0, -w % n)), mode="edge")
    return x.reshape(x.shape[0] // n, n, x.shape[1] // n, n).swapaxes(1, 2)


def unblockify(blocks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(Hb, Wb, n, n) blocks -> (H, W) image, cropping the padding of `blockify`."""
    hb, wb, n, _ = blocks.shape
    return blocks.swapaxes(1, 2).reshape(hb * n, wb * n)[:shape[0], :shape[1]]


def block_dct(x: np.ndarray, n: int = 8) -> np.ndarray:
    """Separable 2-D DCT of every n x n block: (H, W) -> (Hb, Wb, n, n), ``Y = C X C^T``."""
    c = dct_matrix(n)
    return c @ blockify(np.asarray(x, np.float64), n) @ c.T


def block_idct(y: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Inverse of `block_dct`: (Hb, Wb, n, n) -> (H, W), ``X = C^T Y C``."""
    c = dct_matrix(y.shape[-1])
    return unblockify(c.T @ y @ c, shape)


# ----------------------------------------------------------------- quantization tables, scan
def quality_table(table: np.ndarray, quality: int) -> np.ndarray:
    """Scale a quantization table by the IJG libjpeg quality rule (jcparam.c, Independent JPEG Group).

    ``s = 5000 / q`` for ``q < 50`` else ``200 - 2 q`` (percent); ``Q = floor((T s + 50) / 100)``
    clipped to 1..255 (baseline 8-bit tables). quality 50 returns ``table`` itself.
    """
    quality = _check_quality(quality)
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((np.asarray(table) * scale + 50) // 100, 1, 255).astype(np.int64)


def zigzag_order(n: int = 8) -> np.ndarray:
    """Flat row-major indices of an n x n block in JPEG zig-zag order (T.81 Figure A.6), (n*n,).

    Walk the anti-diagonals ``r + c = d``; odd ones top-right to bottom-left, even ones back up.
    """
    cells = [(r, c) for r in range(n) for c in range(n)]
    cells.sort(key=lambda rc: (rc[0] + rc[1], rc[0] if (rc[0] + rc[1]) % 2 else -rc[0]))
    return np.array([r * n + c for r, c in cells])


# ----------------------------------------------------------------- colour
_RGB2YCC = np.array([[0.299, 0.587, 0.114],
                     [-0.168736, -0.331264, 0.5],
                     [0.5, -0.418688, -0.081312]])


def rgb_to_ycbcr(x: np.ndarray) -> np.ndarray:
    """JFIF (BT.601 full range) RGB -> YCbCr, (H, W, 3) -> float (H, W, 3); Cb, Cr centred on 128."""
    return np.asarray(x, np.float64) @ _RGB2YCC.T + np.array([0.0, 128.0, 128.0])


def ycbcr_to_rgb(x: np.ndarray) -> np.ndarray:
    """Inverse of `rgb_to_ycbcr`, (H, W, 3) -> float (H, W, 3), not clipped."""
    return (np.asarray(x, np.float64) - np.array([0.0, 128.0, 128.0])) @ np.linalg.inv(_RGB2YCC).T


def _down2(p: np.ndarray) -> np.ndarray:
    """2x2 box average after edge padding to even size: (H, W) -> (ceil(H/2), ceil(W/2))."""
    p = np.pad(p, ((0, p.shape[0] % 2), (0, p.shape[1] % 2)), mode="edge")
    return 0.25 * (p[0::2, 0::2] + p[1::2, 0::2] + p[0::2, 1::2] + p[1::2, 1::2])


def _up2(p: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """2x upsampling with the triangle filter, like libjpeg's 'fancy' upsampling, cropped to shape.

    Along each axis, output ``2i`` is ``3/4 p[i] + 1/4 p[i-1]`` and ``2i+1`` is ``3/4 p[i] + 1/4 p[i+1]``.
    """
    for axis in (0, 1):
        q = np.moveaxis(p, axis, 0)                                   # (n, m)
        e = np.concatenate([q[:1], q, q[-1:]])                        # (n + 2, m), edges replicated
        up = np.empty((2 * len(q),) + q.shape[1:])                    # (2n, m)
        up[0::2], up[1::2] = 0.75 * q + 0.25 * e[:-2], 0.75 * q + 0.25 * e[2:]
        p = np.moveaxis(up, 0, axis)
    return p[:shape[0], :shape[1]]


# ----------------------------------------------------------------- codec
@dataclass
class Coefficients:
    """Everything the entropy coder sees: quantized zig-zag coefficients per plane and the tables."""
    height: int
    width: int
    subsampling: str
    qtables: list[np.ndarray]                           # (8, 8) ints: luma, [chroma]
    planes: list[np.ndarray]                            # (Hb, Wb, 64) ints y_hat, zig-zag order


def _plane_shapes(h: int, w: int, channels: int, subsampling: str) -> list[tuple[int, int]]:
    c = ((h + 1) // 2, (w + 1) // 2) if subsampling == "4:2:0" else (h, w)
    return [(h, w)] + [c] * (channels - 1)


def analyze(x: np.ndarray, quality: int, subsampling: str = "4:2:0") -> Coefficients:
    """Encoder up to (not including) entropy coding: x (H, W) or (H, W, 3) uint8 -> `Coefficients`."""
    x = _check_image(x)
    quality = _check_quality(quality)
    if subsampling not in SUBSAMPLING:
        raise ValueError(f"subsampling must be one of {sorted(SUBSAMPLING)}, got {subsampling!r}")
    planes = [x.astype(np.float64)] if x.ndim == 2 else list(np.moveaxis(rgb_to_ycbcr(x), -1, 0))
    if subsampling == "4:2:0":
        planes = planes[:1] + [_down2(p) for p in planes[1:]]
    qtables = [quality_table(JPEG_LUMA_QTABLE, quality), quality_table(JPEG_CHROMA_QTABLE, quality)]
    qtables = qtables[:min(len(planes), 2)]
    zz = zigzag_order()
    out = []
    for i, p in enumerate(planes):
        y = block_dct(p - 128.0)                                      # (Hb, Wb, 8, 8), level shift
        y_hat = np.rint(y / qtables[min(i, 1)]).astype(np.int32)      # uniform quantizer
        out.append(y_hat.reshape(*y_hat.shape[:2], 64)[..., zz])
    return Coefficients(x.shape[0], x.shape[1], subsampling, qtables, out)


def synthesize(c: Coefficients) -> np.ndarray:
    """Decoder from quantized coefficients: `Coefficients` -> x_hat uint8 (H, W) or (H, W, 3)."""
    inv = np.argsort(zigzag_order())
    shapes = _plane_shapes(c.height, c.width, len(c.planes), c.subsampling)
    planes = []
    for i, (y_hat, shape) in enumerate(zip(c.planes, shapes)):
        y = y_hat[..., inv].reshape(*y_hat.shape[:2], 8, 8) * c.qtables[min(i, 1)]
        p = block_idct(y.astype(np.float64), shape) + 128.0
        planes.append(_up2(p, (c.height, c.width)) if p.shape != (c.height, c.width) else p)
    x_hat = planes[0] if len(planes) == 1 else ycbcr_to_rgb(np.stack(planes, -1))
    return np.clip(np.rint(x_hat), 0, 255).astype(np.uint8)


def reconstruct(x: np.ndarray, quality: int, subsampling: str = "4:2:0") -> np.ndarray:
    """What `decode(encode(x, quality))` returns, without the entropy coder."""
    return synthesize(analyze(x, quality, subsampling))


def encode(x: np.ndarray, quality: int = 75, subsampling: str = "4:2:0") -> bytes:
    """Compress a uint8 image (H, W) or (H, W, 3) into real bytes.

    Layout: header (magic, size, channels, subsampling) | quantization tables (64 bytes each,
    zig-zag order) | Huffman tables DC/AC per table class (`classic_entropy.table_to_bytes`)
    | one bitstream with all luma blocks, then Cb, then Cr (a non-interleaved scan).
    """
    c = analyze(x, quality, subsampling)
    zz = zigzag_order()
    head = _HEADER.pack(MAGIC, c.height, c.width, len(c.planes), SUBSAMPLING[subsampling])
    head += b"".join(bytes(q.ravel()[zz].astype(np.uint8)) for q in c.qtables)
    syms = [ent.plane_symbols(p.reshape(-1, 64)) for p in c.planes]
    classes = [[0], [1, 2]][:len(c.qtables)]                          # luma; chroma planes share tables
    codes = [None, None, None]
    for cls in classes:
        dc = ent.huffman_lengths(Counter(s for i in cls for s in syms[i][0]))
        ac = ent.huffman_lengths(Counter(s for i in cls for b in syms[i][2] for s in b))
        head += ent.table_to_bytes(dc) + ent.table_to_bytes(ac)
        for i in cls:
            codes[i] = (ent.canonical_codes(dc), ent.canonical_codes(ac))
    vals, lens = [], []                                               # (value, nbits) to concatenate
    for sym, code in zip(syms, codes):
        ent.plane_bits(sym, *code, vals, lens)
    return head + ent.pack_bits(vals, lens)


def _read_header(data: bytes) -> tuple:
    """Parse everything before the bitstream: (h, w, channels, subsampling, qtables, huffman, pos)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"decode expects bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < _HEADER.size or data[:4] != MAGIC:
        raise ValueError("not a codec_lib.classic stream (bad magic or too short)")
    _, h, w, ch, sub = _HEADER.unpack_from(data)
    if h == 0 or w == 0 or ch not in (1, 3) or sub not in (0, 1):
        raise ValueError("corrupt header: bad size, channel count or subsampling")
    pos, nq = _HEADER.size, min(ch, 2)
    if len(data) < pos + 64 * nq:
        raise ValueError("truncated data: quantization tables cut short")
    inv = np.argsort(zigzag_order())
    qt = np.frombuffer(data, np.uint8, 64 * nq, pos).reshape(nq, 64)[:, inv].reshape(nq, 8, 8)
    if (qt == 0).any():
        raise ValueError("corrupt header: zero quantization step")
    pos, huffman = pos + 64 * nq, []
    for _ in range(2 * nq):                                           # DC, AC per table class
        lengths, pos = ent.table_from_bytes(data, pos)
        huffman.append(lengths)
    return h, w, ch, "4:2:0" if sub else "4:4:4", list(qt.astype(np.int64)), huffman, pos


def stream_sections(data: bytes) -> dict[str, int]:
    """Bytes spent on each part of a stream: header, quantization tables, Huffman tables, bitstream."""
    h, w, ch, sub, qt, huffman, pos = _read_header(data)
    return {"header": _HEADER.size, "quantization tables": 64 * len(qt),
            "Huffman tables": pos - _HEADER.size - 64 * len(qt), "bitstream": len(data) - pos}


def decode(data: bytes) -> np.ndarray:
    """Inverse of `encode`: bytes -> x_hat uint8. Raises ValueError on truncated or foreign data."""
    h, w, ch, subsampling, qt, huffman, pos = _read_header(data)
    tables = [(ent.decode_table(dc), ent.decode_table(ac)) for dc, ac in zip(huffman[::2], huffman[1::2])]
    shapes = [((a + 7) // 8, (b + 7) // 8) for a, b in _plane_shapes(h, w, ch, subsampling)]
    reader = ent.BitReader(data[pos:])
    if sum(a * b for a, b in shapes) > reader.nbits:                   # each block costs >= 1 bit
        raise ValueError("truncated data: too few bits for the image size")
    bit, planes = 0, []
    for i, (hb, wb) in enumerate(shapes):
        y_hat, bit = ent.decode_plane(reader, bit, hb * wb, *tables[min(i, 1)])
        planes.append(y_hat.reshape(hb, wb, 64))
    if (bit + 7) // 8 != len(data) - pos:
        raise ValueError("corrupt data: trailing bytes after the bitstream")
    return synthesize(Coefficients(h, w, subsampling, qt, planes))


def bits_per_pixel(data: bytes, x: np.ndarray) -> float:
    """bpp = 8 * bytes / (H * W), counting every byte of the stream (header and tables too)."""
    return 8.0 * len(data) / (x.shape[0] * x.shape[1])


# ----------------------------------------------------------------- why transforms help
def image_blocks(x: np.ndarray, n: int = 8) -> np.ndarray:
    """Non-overlapping n x n blocks of a grayscale image as vectors: (H, W) -> (N, n*n) float,
    dropping incomplete border blocks (no padding, so the statistics are those of real pixels)."""
    x = np.asarray(x, np.float64)
    if x.ndim != 2:
        raise ValueError(f"image_blocks expects a 2-D grayscale image, got shape {x.shape}")
    h, w = x.shape[0] // n * n, x.shape[1] // n * n
    return blockify(x[:h, :w], n).reshape(-1, n * n)


def dct_basis(n: int = 8) -> np.ndarray:
    """(n*n, n*n) orthonormal 2-D DCT as a matrix on row-major flattened blocks; row k is basis image k."""
    c = dct_matrix(n)
    return np.kron(c, c)


def klt_basis(blocks: np.ndarray) -> np.ndarray:
    """Karhunen-Loeve transform of the blocks: eigenvectors of their covariance, (d, d), one per row,
    sorted by decreasing variance; signs fixed so each row has a positive sum (for display)."""
    var, vec = np.linalg.eigh(np.cov(blocks, rowvar=False))
    t = vec[:, np.argsort(var)[::-1]].T
    return t * np.where(t.sum(1, keepdims=True) < 0, -1.0, 1.0)


def coefficient_variances(blocks: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Variance of each transform coefficient ``y = T x`` over the blocks: (N, d), (d, d) -> (d,)."""
    return np.var(blocks @ t.T, axis=0)


def coding_gain(blocks: np.ndarray, t: np.ndarray) -> float:
    """Coding gain of an orthonormal transform T on the blocks: the high-rate MSE of coding the pixels
    over that of coding ``y = T x`` with optimal bit allocation (Goyal 2001), which equals the
    arithmetic over the geometric mean of the coefficient variances. 1.0 means no gain."""
    var = np.maximum(coefficient_variances(blocks, t), 1e-12)
    return float(var.mean() / np.exp(np.log(var).mean()))


def energy_compaction(blocks: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Fraction of the total (mean-removed) energy captured by the k largest-variance coefficients,
    for k = 1..d: (d,) increasing to 1."""
    var = np.sort(coefficient_variances(blocks, t))[::-1]
    return np.cumsum(var) / var.sum()


# ----------------------------------------------------------------- input checks
def _check_quality(quality: int) -> int:
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an integer in 1..100, got {quality!r}")
    return int(quality)


def _check_image(x: np.ndarray) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        if hasattr(x, "mode") and getattr(x, "mode") in ("L", "RGB"):  # a PIL image
            x = np.asarray(x)
        else:
            raise ValueError(f"expected a uint8 numpy array or PIL L/RGB image, got {type(x).__name__}")
    if x.dtype != np.uint8:
        raise ValueError(f"expected dtype uint8, got {x.dtype}")
    if not (x.ndim == 2 or (x.ndim == 3 and x.shape[2] == 3)):
        raise ValueError(f"expected shape (H, W) or (H, W, 3), got {x.shape}")
    if not (1 <= x.shape[0] <= 65535 and 1 <= x.shape[1] <= 65535):
        raise ValueError(f"image sides must be in 1..65535, got {x.shape[:2]}")
    return x
