"""x264 / x265 low-delay baselines: real streams, I then P frames only, sensible RD points."""
import io

import numpy as np
import pytest

from codec_lib.video_baselines import decode_video, encode_video, evaluate_video_baseline
from codec_lib.video_io import VideoError


@pytest.fixture
def clip(photos):
    """Six 128x96 frames of a slow pan across a real photo."""
    a = np.asarray(photos[0][1].convert("RGB"))
    return np.stack([a[200:296, 150 + 3 * t: 278 + 3 * t] for t in range(6)])


@pytest.mark.parametrize("codec, fmt", [("x264", "h264"), ("x265", "hevc")])
def test_low_delay_stream(clip, codec, fmt):
    import av
    data = encode_video(clip, codec, 27)
    with av.open(io.BytesIO(data), format=fmt) as c:
        types = [str(f.pict_type) for f in c.decode(video=0)]
    assert types[0] in ("I", "1") and all(t in ("P", "2") for t in types[1:]), types
    dec = decode_video(data, codec)
    assert dec.shape == clip.shape
    doc = evaluate_video_baseline(clip, codec, crfs=(22, 37))
    assert doc["model"] == codec and doc["frames"] == 6 and "bframes=0" in doc["settings"]
    hi, lo = doc["points"]
    assert hi["bpp"] > lo["bpp"] > 0 and hi["psnr"] > lo["psnr"] > 20
    assert hi["bpp"] == pytest.approx(8 * len(encode_video(clip, codec, 22)) / clip[..., 0].size)


def test_bad_input(clip):
    with pytest.raises(VideoError, match="unknown video codec"):
        encode_video(clip, "vp9", 30)
    with pytest.raises(VideoError, match="even frame size"):
        evaluate_video_baseline(clip[:, :95], "x264")
