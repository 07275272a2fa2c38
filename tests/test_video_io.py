"""Video input: folders, Y4M, raw YUV, PyAV containers; conversions; clean errors."""
import numpy as np
import pytest
from PIL import Image

from codec_lib import video_io
from codec_lib.video_io import VideoError, read_video, write_y4m


@pytest.fixture
def clip(photos):
    """Four 64x48 RGB frames of a pan across a real photo."""
    a = np.asarray(photos[0][1].convert("RGB"))
    return np.stack([a[100:148, 100 + 4 * t: 164 + 4 * t] for t in range(4)])


def test_y4m_round_trip_and_agreement_with_pyav(clip, tmp_path):
    import av
    write_y4m(tmp_path / "c.y4m", clip)
    back = read_video(tmp_path / "c.y4m")
    assert back.shape == clip.shape and back.dtype == np.uint8
    mse = np.mean((back.astype(float) - clip) ** 2)
    assert 10 * np.log10(255**2 / mse) > 35                       # only 4:2:0 chroma is lost
    assert read_video(tmp_path / "c.y4m", frames=2).shape[0] == 2
    with av.open(str(tmp_path / "c.y4m")) as c:
        ref = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    assert np.abs(ref.astype(int) - back).mean() < 2               # FFmpeg interpolates chroma
    flat = np.zeros((1, 16, 16, 3), np.uint8) + np.array([200, 30, 90], np.uint8)
    write_y4m(tmp_path / "f.y4m", flat)                            # no chroma up-sampling at play:
    with av.open(str(tmp_path / "f.y4m")) as c:                    # same matrix and range
        ref = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert np.abs(ref.astype(int) - read_video(tmp_path / "f.y4m")[0]).max() <= 1


def test_raw_yuv_folder_and_container(clip, tmp_path):
    with open(tmp_path / "c.yuv", "wb") as f:
        for rgb in clip:
            for plane in video_io.rgb_to_yuv420(rgb):
                f.write(plane.tobytes())
    raw = read_video(tmp_path / "c.yuv", size=(64, 48))
    write_y4m(tmp_path / "c.y4m", clip)
    assert np.array_equal(raw, read_video(tmp_path / "c.y4m"))
    (tmp_path / "frames").mkdir()
    for t, rgb in enumerate(clip):
        Image.fromarray(rgb).save(tmp_path / "frames" / f"{t:03d}.png")
    assert np.array_equal(read_video(tmp_path / "frames"), clip)
    import av
    with av.open(str(tmp_path / "c.mkv"), "w") as c:              # a lossless container
        s = c.add_stream("ffv1", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "bgr0"
        for rgb in clip:
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="bgr0")
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    assert np.array_equal(read_video(tmp_path / "c.mkv"), clip)


def test_bad_input_gets_one_line_errors(clip, tmp_path):
    write_y4m(tmp_path / "c.y4m", clip)
    data = (tmp_path / "c.y4m").read_bytes()
    cases = {
        "missing.y4m": (None, "no such file"),
        "trunc.y4m": (data[:-100], "truncated"),
        "nohdr.y4m": (b"hello\n" + data, "not a Y4M"),
        "c444.y4m": (data.replace(b"C420jpeg", b"C444", 1), "not supported"),
        "nomark.y4m": (data.replace(b"FRAME", b"FRAMX", 2), "FRAME marker"),
        "odd.yuv": (b"\0" * 1001, "whole number"),
        "fake.mp4": (b"not a video at all", "cannot decode"),
    }
    for name, (content, message) in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(VideoError, match=message) as e:
            read_video(tmp_path / name, size=(64, 48))
        assert "\n" not in str(e.value)
    with pytest.raises(VideoError, match="frame size"):
        read_video(tmp_path / "odd.yuv")
    with pytest.raises(VideoError, match="at least 1"):
        read_video(tmp_path / "c.y4m", frames=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoError, match="no frames"):
        read_video(tmp_path / "empty")
    (tmp_path / "mixed").mkdir()
    Image.fromarray(clip[0]).save(tmp_path / "mixed" / "0.png")
    Image.fromarray(clip[0][:32]).save(tmp_path / "mixed" / "1.png")
    with pytest.raises(VideoError, match="differs"):
        read_video(tmp_path / "mixed")
    with pytest.raises(VideoError, match="even frame size"):
        write_y4m(tmp_path / "x.y4m", clip[:, :47])
    assert not (tmp_path / "x.y4m").exists() and not (tmp_path / "x.y4m.tmp").exists()
