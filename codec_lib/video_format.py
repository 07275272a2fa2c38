"""The codec_lib video file format (``.clv``): a header, then one chunk per frame.

Layout (all integers big-endian)::

    offset  size  field
    0       4     magic  b"\\x89CLV"
    4       1     format version (1)
    5       1     model name length n, then n bytes of UTF-8 model name
    6+n     1     quality (0..255)
    7+n     8     weights hash: first 8 bytes of the sha256 of the model's weights
    15+n    4     frame width
    19+n    4     frame height
    23+n    4     number of frames F
    27+n    2     frame rate numerator, then 2 bytes denominator
    31+n    4     CRC-32 of the header so far
            ...   F chunks, each:
                  1 byte frame type (0: intra "I", 1: predicted "P"),
                  1 byte number of string groups G, each group: 1 byte string count, then per
                  string 4 bytes length + the bytes,
                  4 bytes CRC-32 of the chunk

Each chunk carries its own checksum, so a decoder can stream a file frame by frame and report
*which* frame is damaged. :func:`unpack_video` checks everything and raises
:class:`~codec_lib.bitstream.BitstreamError` with a one-line reason; a file that ends inside a
chunk, or holds bytes after the last one, is refused.

Example::

    header = VideoHeader("residual", 3, whash, 416, 240, frames=2)
    data = pack_video(header, [Chunk("I", [[y], [z]]), Chunk("P", [[m_y], [m_z], [r_y], [r_z]])])
    header, chunks = unpack_video(data)
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from .bitstream import BitstreamError, _Reader, check_identity, pack_groups

__all__ = ["MAGIC", "VERSION", "VideoHeader", "Chunk", "pack_video", "unpack_video", "describe_video"]

MAGIC = b"\x89CLV"
VERSION = 1
TYPES = ("I", "P")
MAX_FRAMES = 1 << 20


@dataclass(frozen=True)
class VideoHeader:
    model: str
    quality: int
    weights_hash: bytes     # 8 bytes
    width: int
    height: int
    frames: int
    fps: tuple[int, int] = (50, 1)

    def __post_init__(self):
        check_identity(self.model, self.quality, self.weights_hash, self.width, self.height)
        if not 0 < self.frames <= MAX_FRAMES:
            raise ValueError(f"the number of frames must be in 1..{MAX_FRAMES}")
        if not all(0 < v < 65536 for v in self.fps):
            raise ValueError("the frame rate's numerator and denominator must be in 1..65535")


@dataclass(frozen=True)
class Chunk:
    """One coded frame: its type (``"I"`` or ``"P"``) and its groups of entropy-coded strings."""
    kind: str
    groups: list[list[bytes]] = field(default_factory=list)

    def __post_init__(self):
        if self.kind not in TYPES:
            raise ValueError(f"frame type must be one of {TYPES}")
        if len(self.groups) > 255 or any(len(g) > 255 for g in self.groups):
            raise ValueError("at most 255 groups of at most 255 strings")


def _pack_header(h: VideoHeader) -> bytes:
    name = h.model.encode()
    body = b"".join([MAGIC, struct.pack(">BB", VERSION, len(name)), name,
                     struct.pack(">B8sIIIHH", h.quality, h.weights_hash, h.width, h.height,
                                 h.frames, *h.fps)])
    return body + struct.pack(">I", zlib.crc32(body))


def _pack_chunk(c: Chunk) -> bytes:
    body = struct.pack(">BB", TYPES.index(c.kind), len(c.groups)) + pack_groups(c.groups)
    return body + struct.pack(">I", zlib.crc32(body))


def pack_video(header: VideoHeader, chunks: list[Chunk]) -> bytes:
    """Serialize a header and one chunk per frame into a complete file."""
    if len(chunks) != header.frames:
        raise ValueError(f"the header says {header.frames} frames, got {len(chunks)} chunks")
    if chunks[0].kind != "I":
        raise ValueError("the first frame must be intra coded")
    return _pack_header(header) + b"".join(_pack_chunk(c) for c in chunks)


def unpack_video(data: bytes) -> tuple[VideoHeader, list[Chunk]]:
    """Parse and verify a file; returns ``(header, chunks)`` or raises ``BitstreamError``."""
    if len(data) == 0:
        raise BitstreamError("file is empty")
    if not data.startswith(MAGIC):
        raise BitstreamError("not a codec_lib video file (bad magic bytes)")
    r = _Reader(data)
    r.take(len(MAGIC))
    version, n = r.unpack(">BB")
    if version != VERSION:
        raise BitstreamError(f"unsupported video format version {version} (this codec_lib reads {VERSION})")
    try:
        name = r.take(n).decode()
        quality, whash, width, height, frames, num, den = r.unpack(">B8sIIIHH")
        (crc,) = r.unpack(">I")
        if zlib.crc32(data[: r.pos - 4]) != crc:
            raise BitstreamError("header checksum mismatch: the file is corrupted")
        header = VideoHeader(name, quality, whash, width, height, frames, (num, den))
    except (UnicodeDecodeError, ValueError) as e:
        raise BitstreamError(f"malformed header: {e}") from None
    chunks = []
    for i in range(header.frames):
        start = r.pos
        try:
            kind, n_groups = r.unpack(">BB")
            groups = r.groups(n_groups)
            (crc,) = r.unpack(">I")
        except BitstreamError:
            raise BitstreamError(f"file is truncated in frame {i} of {header.frames}") from None
        if zlib.crc32(data[start: r.pos - 4]) != crc:
            raise BitstreamError(f"checksum mismatch in frame {i}: the file is corrupted")
        if kind >= len(TYPES) or (i == 0 and kind != 0):
            raise BitstreamError(f"frame {i} has an invalid frame type {kind}")
        chunks.append(Chunk(TYPES[kind], groups))
    if r.pos != len(data):
        raise BitstreamError("unexpected bytes after the last frame")
    return header, chunks


def describe_video(data: bytes) -> dict:
    """The header and per-frame sizes of a file, as a JSON-ready dict."""
    h, chunks = unpack_video(data)
    sizes = [len(_pack_chunk(c)) for c in chunks]
    return {"format_version": VERSION, "model": h.model, "quality": h.quality,
            "weights_hash": h.weights_hash.hex(), "width": h.width, "height": h.height,
            "frames": h.frames, "fps": f"{h.fps[0]}/{h.fps[1]}", "bytes": len(data),
            "frame_types": "".join(c.kind for c in chunks), "frame_bytes": sizes,
            "bpp": 8 * len(data) / (h.width * h.height * h.frames)}
