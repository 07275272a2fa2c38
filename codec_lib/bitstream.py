"""The codec_lib file format: a small header, the entropy-coded strings, a checksum.

Layout (all integers big-endian)::

    offset  size  field
    0       4     magic  b"\\x89CLB"   (the 0x89 byte flags a binary file, as PNG's does)
    4       1     format version (1)
    5       1     model name length n, then n bytes of UTF-8 model name
    6+n     1     quality (0..255)
    7+n     8     weights hash: first 8 bytes of the sha256 of the model's weights
    15+n    4     image width  (original, before padding)
    19+n    4     image height
    23+n    1     colour mode of the original: 0 RGB, 1 L (gray), 2 RGBA, 3 LA
    24+n    1     bit depth of the original (8 or 16; the decoded image is 8-bit)
    25+n    1     number of string groups G (e.g. y and z for a hyperprior model, + alpha)
            ...   each group: 1 byte string count, then per string 4 bytes length + the bytes
    end-4   4     CRC-32 of everything before it

A file is read with :func:`unpack`, which checks the magic, the version, the lengths and the
checksum and raises :class:`BitstreamError` with a one-line reason on any mismatch, so a
truncated, corrupted or foreign file never reaches the entropy decoder.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from .errors import CodecError

__all__ = ["MAGIC", "VERSION", "MODES", "Header", "BitstreamError", "pack", "unpack", "describe"]

MAGIC = b"\x89CLB"
VERSION = 1
MODES = ("RGB", "L", "RGBA", "LA")
MAX_SIDE = 1 << 16          # refuse absurd sizes read from a file


class BitstreamError(CodecError, ValueError):
    """The bytes are not a valid codec_lib file (the message says why)."""


@dataclass(frozen=True)
class Header:
    model: str
    quality: int
    weights_hash: bytes     # 8 bytes
    width: int
    height: int
    mode: str = "RGB"
    bit_depth: int = 8

    def __post_init__(self):
        check_identity(self.model, self.quality, self.weights_hash, self.width, self.height)
        if self.mode not in MODES or self.bit_depth not in (8, 16):
            raise ValueError("unsupported mode or bit depth")


def check_identity(model: str, quality: int, weights_hash: bytes, width: int, height: int) -> None:
    """The fields every codec_lib header shares (image and video): ``ValueError`` if invalid."""
    if not 0 < len(model.encode()) < 256:
        raise ValueError("model name must be 1..255 bytes of UTF-8")
    if not 0 <= quality < 256:
        raise ValueError("quality must be in 0..255")
    if len(weights_hash) != 8:
        raise ValueError("weights_hash must be 8 bytes")
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(f"sides must be in 1..{MAX_SIDE}")


def pack_groups(groups: list[list[bytes]]) -> bytes:
    """Each group: 1 byte string count, then per string 4 bytes length + the bytes."""
    out = []
    for strings in groups:
        out.append(struct.pack(">B", len(strings)))
        for s in strings:
            out += [struct.pack(">I", len(s)), s]
    return b"".join(out)


def pack(header: Header, groups: list[list[bytes]]) -> bytes:
    """Serialize a header and groups of strings into a complete file."""
    name = header.model.encode()
    body = b"".join([MAGIC, struct.pack(">BB", VERSION, len(name)), name,
                     struct.pack(">B8sIIBBB", header.quality, header.weights_hash, header.width,
                                 header.height, MODES.index(header.mode), header.bit_depth, len(groups)),
                     pack_groups(groups)])
    return body + struct.pack(">I", zlib.crc32(body))


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise BitstreamError("file is truncated")
        chunk = self.data[self.pos: self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def groups(self, n: int) -> list[list[bytes]]:
        """``n`` groups written by :func:`pack_groups`."""
        out = []
        for _ in range(n):
            (count,) = self.unpack(">B")
            out.append([self.take(self.unpack(">I")[0]) for _ in range(count)])
        return out


def unpack(data: bytes) -> tuple[Header, list[list[bytes]]]:
    """Parse and verify a file; returns ``(header, groups)`` or raises :class:`BitstreamError`."""
    if len(data) == 0:
        raise BitstreamError("file is empty")
    if not data.startswith(MAGIC):
        raise BitstreamError("not a codec_lib file (bad magic bytes)")
    r = _Reader(data)
    r.take(len(MAGIC))
    version, n = r.unpack(">BB")
    if version != VERSION:
        raise BitstreamError(f"unsupported format version {version} (this codec_lib reads {VERSION})")
    if len(data) < 4 or zlib.crc32(data[:-4]) != struct.unpack(">I", data[-4:])[0]:
        raise BitstreamError("checksum mismatch: the file is truncated or corrupted")
    try:
        name = r.take(n).decode()
        quality, whash, width, height, mode, depth, n_groups = r.unpack(">B8sIIBBB")
        groups = r.groups(n_groups)
        if r.pos != len(data) - 4:
            raise BitstreamError("unexpected bytes after the last string")
        header = Header(name, quality, whash, width, height, MODES[mode] if mode < len(MODES)
                        else "?", depth)
    except (UnicodeDecodeError, ValueError) as e:
        raise BitstreamError(f"malformed header: {e}") from None
    return header, groups


def describe(data: bytes) -> dict:
    """The header and string sizes of a file, as a JSON-ready dict (``codec-lib info``)."""
    header, groups = unpack(data)
    return {"format_version": VERSION, "model": header.model, "quality": header.quality,
            "weights_hash": header.weights_hash.hex(), "width": header.width,
            "height": header.height, "mode": header.mode, "bit_depth": header.bit_depth,
            "bytes": len(data), "header_bytes": len(data) - sum(len(s) for g in groups for s in g),
            "strings": [[len(s) for s in g] for g in groups],
            "bpp": 8 * len(data) / (header.width * header.height)}
