"""Entropy coding for the JPEG-like codec of chapter 1 (`codec_lib.classic`).

The scheme follows the baseline sequential mode of JPEG (ITU-T T.81, Annex F;
Wallace 1991), written from scratch for readability:

* DC coefficients are coded as differences to the previous block of the same
  plane (DPCM). A difference ``d`` becomes a *size* symbol ``s`` (the number of
  bits of ``|d|``) followed by ``s`` raw "extra" bits.
* AC coefficients, in zig-zag order, become ``(run, size)`` symbols, one byte
  ``run << 4 | size``: ``run`` zeros precede a nonzero value of ``size`` bits.
  ``0xF0`` (ZRL) stands for sixteen zeros and ``0x00`` (EOB) ends a block early.
* Symbols get Huffman codes (Huffman 1952) built from the image's own symbol
  counts, limited to 16 bits and stored canonically: 16 counts (codes per
  length) then the symbols, as in T.81 Annex C. Their bytes count in the file.

Only the bitstream layer lives here; the container is in `codec_lib.classic`.
"""

from __future__ import annotations

import heapq

import numpy as np

MAX_CODE_LEN = 16
EOB, ZRL = 0x00, 0xF0


# ----------------------------------------------------------------- symbols
def size_of(v: np.ndarray) -> np.ndarray:
    """Bit length of ``|v|`` (0 for 0): JPEG's magnitude category (T.81 F.1.2)."""
    return np.frexp(np.abs(np.asarray(v, np.float64)))[1].astype(np.int64)


def extra_bits(v: np.ndarray, s: np.ndarray) -> np.ndarray:
    """The ``s`` raw bits that follow a size symbol: ``v`` if positive, ``v + 2^s - 1`` if negative."""
    v = np.asarray(v, np.int64)
    return np.where(v >= 0, v, v + (1 << s) - 1)


def unextend(bits: int, s: int) -> int:
    """Inverse of `extra_bits` for one value (T.81 Figure F.12, EXTEND)."""
    return bits if s == 0 or bits >= 1 << (s - 1) else bits - (1 << s) + 1


def plane_symbols(y_hat: np.ndarray) -> tuple[list, list, list, list]:
    """Turn one plane of quantized blocks into symbols.

    y_hat: (B, 64) ints, blocks in raster order, coefficients in zig-zag order.
    Returns ``(dc_sym, dc_extra, ac_syms, ac_extras)``: B DC size symbols; B (bits, nbits)
    pairs; per block, the list of AC symbols and the matching list of (bits, nbits) pairs.
    """
    dc = y_hat[:, 0].astype(np.int64)
    diff = np.diff(dc, prepend=0)                    # (B,) DPCM, predictor starts at 0
    dc_sym = size_of(diff)
    dc_extra = list(zip(extra_bits(diff, dc_sym).tolist(), dc_sym.tolist()))
    ac_syms, ac_extras = [], []
    for row in y_hat[:, 1:].tolist():                # 63 AC values per block
        syms, extras, run = [], [], 0
        for v in row:
            if v == 0:
                run += 1
                continue
            while run > 15:                          # sixteen zeros at a time
                syms.append(ZRL); extras.append((0, 0)); run -= 16
            s = abs(v).bit_length()
            syms.append(run << 4 | s)
            extras.append((v if v > 0 else v + (1 << s) - 1, s))
            run = 0
        if run:                                      # trailing zeros: one EOB
            syms.append(EOB); extras.append((0, 0))
        ac_syms.append(syms); ac_extras.append(extras)
    return dc_sym.tolist(), dc_extra, ac_syms, ac_extras


def plane_bits(symbols: tuple, dc_code: dict, ac_code: dict, vals: list, lens: list) -> None:
    """Append one plane's codewords and extra bits, block by block, to ``vals``/``lens``."""
    dc_sym, dc_extra, ac_syms, ac_extras = symbols
    for b, s in enumerate(dc_sym):
        code, n = dc_code[s]
        vals += [code, dc_extra[b][0]]; lens += [n, dc_extra[b][1]]
        for s, (v, nv) in zip(ac_syms[b], ac_extras[b]):
            code, n = ac_code[s]
            vals += [code, v]; lens += [n, nv]


# ----------------------------------------------------------------- Huffman
def huffman_lengths(counts: dict[int, int], max_len: int = MAX_CODE_LEN) -> dict[int, int]:
    """Code length per symbol from counts (Huffman 1952), at most ``max_len`` bits.

    If the optimal code is too deep, the counts are halved (keeping them >= 1)
    and the code is rebuilt: a simple, slightly suboptimal alternative to the
    length adjustment of T.81 Annex K.2.
    """
    if not counts:
        return {}
    if len(counts) == 1:
        return {next(iter(counts)): 1}
    while True:
        heap = [(c, i, [s]) for i, (s, c) in enumerate(sorted(counts.items()))]
        heapq.heapify(heap)
        depth = dict.fromkeys(counts, 0)
        tie = len(heap)
        while len(heap) > 1:                         # merge the two rarest subtrees
            c1, _, s1 = heapq.heappop(heap)
            c2, _, s2 = heapq.heappop(heap)
            for s in s1 + s2:
                depth[s] += 1
            heapq.heappush(heap, (c1 + c2, tie, s1 + s2)); tie += 1
        if max(depth.values()) <= max_len:
            return depth
        counts = {s: (c + 1) // 2 for s, c in counts.items()}


def canonical_codes(lengths: dict[int, int]) -> dict[int, tuple[int, int]]:
    """Canonical Huffman codes {symbol: (code, length)}: shorter codes first, then by symbol."""
    codes, code, prev_len = {}, 0, 0
    for sym, n in sorted(lengths.items(), key=lambda kv: (kv[1], kv[0])):
        code <<= n - prev_len
        if code >= 1 << n:
            raise ValueError("invalid Huffman table: code lengths oversubscribe the code space")
        codes[sym] = (code, n)
        code, prev_len = code + 1, n
    return codes


def table_to_bytes(lengths: dict[int, int]) -> bytes:
    """T.81-style table: 16 bytes of counts per code length, then the symbols."""
    order = sorted(lengths, key=lambda s: (lengths[s], s))
    bits = [sum(1 for s in order if lengths[s] == n) for n in range(1, MAX_CODE_LEN + 1)]
    return bytes(bits) + bytes(order)


def table_from_bytes(data: bytes, pos: int) -> tuple[dict[int, int], int]:
    """Parse a table written by `table_to_bytes` at ``pos``; returns (lengths, new pos)."""
    if pos + MAX_CODE_LEN > len(data):
        raise ValueError("truncated data: Huffman table header cut short")
    bits = data[pos:pos + MAX_CODE_LEN]
    pos += MAX_CODE_LEN
    n = sum(bits)
    if n > 256 or pos + n > len(data):
        raise ValueError("corrupt or truncated Huffman table")
    syms = data[pos:pos + n]
    if len(set(syms)) != n:
        raise ValueError("corrupt Huffman table: repeated symbol")
    lens = [length for length, c in enumerate(bits, start=1) for _ in range(c)]
    return dict(zip(syms, lens)), pos + n


# ----------------------------------------------------------------- bits
def pack_bits(values: list[int], nbits: list[int]) -> bytes:
    """Concatenate ``nbits[i]`` low bits of ``values[i]`` (MSB first); zero-pad the last byte."""
    v = np.asarray(values, np.int64)
    n = np.asarray(nbits, np.int64)
    total = int(n.sum())
    if total == 0:
        return b""
    item = np.repeat(np.arange(len(n)), n)           # (total,) which value each bit comes from
    start = np.cumsum(n) - n
    shift = n[item] - 1 - (np.arange(total) - start[item])
    bits = ((v[item] >> shift) & 1).astype(np.uint8)
    return np.packbits(bits).tobytes()


class BitReader:
    """Random-access bit reader: ``peek(pos, k)`` returns k <= 24 bits starting at bit ``pos``."""

    PAD = 512                                        # bytes of zeros; one block never reads more

    def __init__(self, data: bytes):
        b = np.frombuffer(bytes(data) + bytes(self.PAD), np.uint8).astype(np.int64)
        self.nbits = 8 * len(data)
        self.win = (b[:-3] << 24 | b[1:-2] << 16 | b[2:-1] << 8 | b[3:]).tolist()  # 32-bit windows

    def peek(self, pos: int, k: int) -> int:
        return (self.win[pos >> 3] >> (32 - (pos & 7) - k)) & ((1 << k) - 1)


def decode_table(lengths: dict[int, int]) -> list[tuple[int, int]]:
    """Lookup table: the next 16 bits -> (symbol, code length); length 0 marks an invalid code."""
    table = [(0, 0)] * (1 << MAX_CODE_LEN)
    for sym, (code, n) in canonical_codes(lengths).items():
        lo = code << (MAX_CODE_LEN - n)
        table[lo:lo + (1 << (MAX_CODE_LEN - n))] = [(sym, n)] * (1 << (MAX_CODE_LEN - n))
    return table


def decode_plane(reader: BitReader, pos: int, nblocks: int, dc_table: list, ac_table: list
                 ) -> tuple[np.ndarray, int]:
    """Decode ``nblocks`` blocks starting at bit ``pos``. Returns ((B, 64) ints in zig-zag order, new pos)."""
    y_hat = np.zeros((nblocks, 64), np.int32)
    peek, prev = reader.peek, 0
    for b in range(nblocks):
        s, n = dc_table[peek(pos, 16)]
        if n == 0 or s > 16:
            raise ValueError("corrupt data: invalid DC code")
        pos += n
        prev += unextend(peek(pos, s), s) if s else 0
        pos += s
        y_hat[b, 0] = prev
        k = 1
        while k < 64:                                # each step eats >= 1 bit and moves k: no hang
            sym, n = ac_table[peek(pos, 16)]
            if n == 0:
                raise ValueError("corrupt data: invalid AC code")
            pos += n
            if sym == EOB:
                break
            if sym == ZRL:                           # sixteen zeros, more to follow
                k += 16
            else:
                k += sym >> 4                        # skip `run` zeros
                s = sym & 15
                if s == 0 or k > 63:
                    raise ValueError("corrupt data: AC run past the end of a block")
                y_hat[b, k] = unextend(peek(pos, s), s)
                pos, k = pos + s, k + 1
            if k > 64:
                raise ValueError("corrupt data: AC run past the end of a block")
        if pos > reader.nbits:
            raise ValueError("truncated data: bitstream ended inside a block")
    return y_hat, pos
