"""The .clv video container: round trips, and a clear one-line error for every kind of damage."""
import pytest

from codec_lib.bitstream import BitstreamError
from codec_lib.video_format import Chunk, VideoHeader, describe_video, pack_video, unpack_video

WHASH = bytes(range(8))


def sample():
    h = VideoHeader("residual", 3, WHASH, 416, 240, frames=3, fps=(30000, 1001))
    chunks = [Chunk("I", [[b"y" * 40], [b"z" * 7]]),
              Chunk("P", [[b"m" * 5], [b"n"], [b"r" * 30], [b""]]),
              Chunk("P", [])]
    return h, chunks


def test_round_trip_and_description():
    h, chunks = sample()
    data = pack_video(h, chunks)
    h2, chunks2 = unpack_video(data)
    assert h2 == h and chunks2 == chunks
    d = describe_video(data)
    assert d["frame_types"] == "IPP" and d["fps"] == "30000/1001" and d["bytes"] == len(data)
    assert sum(d["frame_bytes"]) < len(data) and d["bpp"] == 8 * len(data) / (416 * 240 * 3)


@pytest.mark.parametrize("damage, message", [
    (lambda d: b"", "empty"),
    (lambda d: b"\x89CLB" + d[4:], "not a codec_lib video file"),
    (lambda d: d[:4] + b"\x07" + d[5:], "unsupported video format version"),
    (lambda d: d[:8] + b"X" + d[9:], "header checksum"),
    (lambda d: d[:-3], "truncated in frame 2"),
    (lambda d: d + b"\x00", "unexpected bytes"),
    (lambda d: d[:-10] + bytes([d[-10] ^ 1]) + d[-9:], "checksum mismatch in frame"),
])
def test_damage_is_reported(damage, message):
    h, chunks = sample()
    with pytest.raises(BitstreamError, match=message):
        unpack_video(damage(pack_video(h, chunks)))


def test_invalid_streams_are_refused_at_writing():
    h, chunks = sample()
    with pytest.raises(ValueError, match="intra"):
        pack_video(h, [Chunk("P")] + chunks[1:])
    with pytest.raises(ValueError, match="3 frames"):
        pack_video(h, chunks[:2])
    with pytest.raises(ValueError, match="frame type"):
        Chunk("B")
    with pytest.raises(ValueError, match="number of frames"):
        VideoHeader("m", 1, WHASH, 16, 16, frames=0)
