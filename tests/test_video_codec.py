"""Video files: all-intra coding with an image model, bit-exact decoding, the CLI contract.

The P-frame codecs, their training and their checkpoints: tests/test_video_models.py."""
import json

import numpy as np
import pytest
from PIL import Image

from codec_lib import zoo
from codec_lib.bitstream import BitstreamError
from codec_lib.cli import main
from codec_lib.errors import ModelError
from codec_lib.video_codec import decode_video, encode_video
from codec_lib.video_format import unpack_video
from codec_lib.video_io import VideoError, write_y4m

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def clip(photos):
    """Three 64x48 frames of a camera panning over a real photo."""
    a = np.asarray(photos[0][1].convert("RGB"))
    return np.stack([a[100:148, 100 + 4 * t: 164 + 4 * t] for t in range(3)])


def test_round_trip_is_bit_exact(tiny_zoo, clip):
    model = zoo.load_model("tiny-ms", 1)
    enc = encode_video(clip, model)
    assert enc.frames.shape == clip.shape
    assert np.array_equal(decode_video(enc.data), enc.frames)
    header, chunks = unpack_video(enc.data)
    assert (header.model, header.frames, header.width, header.height) == ("tiny-ms", 3, 64, 48)
    assert [c.kind for c in chunks] == ["I", "I", "I"]
    with pytest.raises(ModelError, match="do not match"):
        decode_video(enc.data, zoo.load_model("tiny-hp", 1))
    with pytest.raises(VideoError, match="uint8 RGB"):
        encode_video(clip.astype(np.float32), model)


def test_cli_compress_decompress_eval(tiny_zoo, clip, tmp_path, capsys):
    src = tmp_path / "clip.y4m"
    write_y4m(src, clip)
    clv, frames_dir = tmp_path / "clip.clv", tmp_path / "frames"
    assert main(["compress-video", str(src), str(clv), "--model", "tiny-ms", "--frames", "2"]) == 0
    assert unpack_video(clv.read_bytes())[0].frames == 2
    assert main(["decompress-video", str(clv), str(frames_dir)]) == 0
    assert sorted(p.name for p in frames_dir.iterdir()) == ["frame_00000.png", "frame_00001.png"]
    first = np.asarray(Image.open(frames_dir / "frame_00000.png"))
    assert first.shape == (48, 64, 3)
    assert main(["decompress-video", str(clv), str(frames_dir)]) == 1          # would overwrite
    assert "already holds" in capsys.readouterr().err
    out = tmp_path / "eval.json"
    assert main(["eval-video", str(src), "--model", "tiny-ms", "--json", str(out),
                 "--baselines", "x264"]) == 0
    doc = json.loads(out.read_text())
    assert doc["model"] == "tiny-ms" and doc["frames"] == 3
    p = doc["points"][0]
    assert set(p) == {"quality", "bpp", "psnr", "enc_s", "dec_s"} and p["bpp"] > 0
    T, H, W = 3, 48, 64
    enc = encode_video(clip, zoo.load_model("tiny-ms", 1))
    assert p["bpp"] == pytest.approx(8 * len(enc.data) / (T * H * W))
    assert doc["baselines"][0]["model"] == "x264" and len(doc["baselines"][0]["points"]) == 5


@pytest.mark.parametrize("args, message", [
    (["compress-video", "{tmp}/none.mp4", "{tmp}/o.clv"], "no such file"),
    (["compress-video", "{tmp}/bad.mp4", "{tmp}/o.clv"], ""),
    (["compress-video", "{tmp}/clip.yuv", "{tmp}/o.clv", "--size", "63x48"], "even sides"),
    (["compress-video", "{tmp}/clip.yuv", "{tmp}/o.clv", "--size", "big"], "WIDTHxHEIGHT"),
    (["decompress-video", "{tmp}/bad.mp4", "{tmp}/out"], "not a codec_lib video file"),
    (["decompress-video", "{tmp}/trunc.clv", "{tmp}/out"], "truncated"),
    (["eval-video", "{tmp}/none", "--json", "{tmp}/e.json"], "no such file"),
])
def test_bad_input_gets_one_line(tiny_zoo, clip, tmp_path, capsys, args, message):
    (tmp_path / "bad.mp4").write_bytes(b"this is not a video")
    (tmp_path / "clip.yuv").write_bytes(b"\x80" * (64 * 48 * 3 // 2))
    data = encode_video(clip, zoo.load_model("tiny-ms", 1)).data
    (tmp_path / "trunc.clv").write_bytes(data[:-20])
    rc = main([a.format(tmp=tmp_path) for a in args])
    err = capsys.readouterr().err
    assert rc == 1 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "o.clv").exists() and not (tmp_path / "out").exists()


def test_corrupted_frame_is_named(tiny_zoo, clip):
    data = bytearray(encode_video(clip, zoo.load_model("tiny-ms", 1)).data)
    data[-10] ^= 0x55
    with pytest.raises(BitstreamError, match="frame 2"):
        decode_video(bytes(data))




def test_video_report_runs_every_codec_on_one_clip(tiny_zoo, clip, tmp_path, capsys):
    from codec_lib.video_report import main as report
    src, out, md = tmp_path / "clip.y4m", tmp_path / "r.json", tmp_path / "r.md"
    write_y4m(src, clip)
    assert report(["--input", str(src), "--models", "--intra", "tiny-ms", "--json", str(out),
                   "--md", str(md), "--png", str(tmp_path / "r.png")]) == 0
    assert Image.open(tmp_path / "r.png").size[0] > 100
    doc = json.loads(out.read_text())
    assert [r["model"] for r in doc["results"]] == ["tiny-ms", "x264", "x265"]
    assert doc["frames"] == 3 and doc["size"] == [64, 48] and "video_report" in doc["command"]
    assert doc["bd_rate"]["x264"]["x265"] is None or isinstance(doc["bd_rate"]["x264"]["x265"], float)
    assert "| tiny-ms | intra |" in md.read_text()
    capsys.readouterr()
    assert report(["--input", str(tmp_path / "none.y4m"), "--json", str(tmp_path / "n.json")]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1 and not (tmp_path / "n.json").exists()
