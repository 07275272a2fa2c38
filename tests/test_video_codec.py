"""Video files: all-intra coding with an image model, bit-exact decoding, the CLI contract."""
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


def test_residual_codec_streams_decode_bit_exactly(clip):
    """An (untrained) DVC-style codec: frame 0 intra, the rest P frames predicted from the
    previous decoded frame; the decoder reproduces the encoder's frames exactly."""
    import torch
    from codec_lib.video_models import ResidualVideoCodec
    torch.manual_seed(0)
    model = ResidualVideoCodec(N=16, M=24, C=8).eval()
    out = model(torch.rand(1, 3, 48, 64), torch.rand(1, 3, 48, 64))
    assert set(out["likelihoods"]) == {"motion_y", "motion_z", "residual_y", "residual_z"}
    assert out["flow"].abs().max() == 0                     # untrained: no motion, copy the reference
    enc = encode_video(clip, model)
    assert [c.kind for c in unpack_video(enc.data)[1]] == ["I", "P", "P"]
    assert np.array_equal(decode_video(enc.data, model), enc.frames)
    intra_only = encode_video(clip[:1], model.intra)
    assert np.array_equal(intra_only.frames[0], enc.frames[0])   # frame 0 is the intra model's


def test_conditional_codec_streams_decode_bit_exactly(clip):
    """An (untrained) DCVC-style codec through the same pipeline: I, P, P, bit-exact."""
    import torch
    from codec_lib.video_conditional import ConditionalVideoCodec
    torch.manual_seed(0)
    model = ConditionalVideoCodec(N=16, M=24, C=8).eval()
    out = model(torch.rand(1, 3, 48, 64), torch.rand(1, 3, 48, 64))
    assert out["x_hat"].shape == (1, 3, 48, 64)
    assert set(out["likelihoods"]) == {"motion_y", "motion_z", "y", "z"}
    model.train()
    loss = sum(-torch.log2(l).sum() for l in model(torch.rand(2, 3, 48, 64),
                                                    torch.rand(2, 3, 48, 64))["likelihoods"].values())
    loss.backward()                                        # every part gets a gradient
    assert model.g_a[0].weight.grad is not None and model.temporal_prior[0].weight.grad is not None
    model.eval()
    enc = encode_video(clip, model)
    assert [c.kind for c in unpack_video(enc.data)[1]] == ["I", "P", "P"]
    assert np.array_equal(decode_video(enc.data, model), enc.frames)


@pytest.mark.parametrize("coding", ["residual", "conditional"])
def test_video_training_runs_resumes_and_codes(tiny_zoo, clip, tmp_path, coding):
    import torch
    from codec_lib.video_train import VideoTrainConfig, fit_video, pair_batch
    src = tmp_path / "clip.y4m"
    write_y4m(src, np.concatenate([clip, clip[::-1]]))
    kw = dict(coding=coding, N=16, M=24, C=8, steps=2, batch_size=2, crop=48, warmup=1,
              clips=[str(src)], intra=str(tiny_zoo / "tiny-ms.pt"), checkpoint_every=1, threads=1)
    a = fit_video(VideoTrainConfig(out=str(tmp_path / "a"), **kw), progress=False)
    fit_video(VideoTrainConfig(out=str(tmp_path / "b"), **{**kw, "steps": 1}), progress=False)
    b = fit_video(VideoTrainConfig(out=str(tmp_path / "b"), **kw), progress=False)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)                 # resumed exactly
    intra = zoo.load_checkpoint(tiny_zoo / "tiny-ms.pt").state_dict()
    assert all(torch.equal(sa[f"intra.{k}"], v) for k, v in intra.items())   # intra frozen
    h = torch.load(tmp_path / "a" / "last.pt", weights_only=False)["history"]
    assert [r["step"] for r in h] == [1, 2] and all(np.isfinite(r["loss"]) for r in h)
    cfg = VideoTrainConfig(**{**kw, "synthetic": 1.0, "photos": []})
    x_ref, x = pair_batch([im for _, im in [("a", clip_photo(clip))]], [], cfg, 0)
    assert x_ref.shape == x.shape == (2, 3, 48, 48)
    enc = encode_video(clip, a)
    assert np.array_equal(decode_video(enc.data, a), enc.frames)


def clip_photo(clip):
    """A still big enough for synthetic pairs of 48x48 crops."""
    return Image.fromarray(np.tile(clip[0], (3, 3, 1)))


def test_video_checkpoints_are_listed_and_used_by_the_cli(tiny_zoo, clip, tmp_path, capsys, monkeypatch):
    """A trained run exported into a zoo: `models --json` says kind video and its coding, and
    compress-video / decompress-video code I and P frames with it."""
    from codec_lib.video_train import VideoTrainConfig, export_video_run, fit_video
    folder = tmp_path / "zoo"
    folder.mkdir()
    for f in ("tiny-ms.pt", "manifest.json"):
        (folder / f).write_bytes((tiny_zoo / f).read_bytes())
    monkeypatch.setenv(zoo.CHECKPOINT_ENV, str(folder))
    zoo._CACHE.clear()
    cfg = VideoTrainConfig(coding="conditional", N=16, M=24, C=8, steps=1, batch_size=1, crop=48,
                           intra=str(folder / "tiny-ms.pt"), out=str(tmp_path / "run"), threads=1)
    fit_video(cfg, progress=False)
    export_video_run(cfg.out, str(folder / "tiny-dcvc.pt"), "tiny-dcvc", 1, "tests")
    assert main(["models", "--json"]) == 0
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert listed["tiny-dcvc"]["kind"] == "video" and listed["tiny-dcvc"]["coding"] == "conditional"
    src, clv, out = tmp_path / "c.y4m", tmp_path / "c.clv", tmp_path / "frames"
    write_y4m(src, clip)
    assert main(["compress-video", str(src), str(clv), "--model", "tiny-dcvc"]) == 0
    assert [c.kind for c in unpack_video(clv.read_bytes())[1]] == ["I", "P", "P"]
    assert main(["decompress-video", str(clv), str(out)]) == 0
    model = zoo.load_model("tiny-dcvc", 1)
    assert np.array_equal(np.asarray(Image.open(out / "frame_00002.png")),
                          decode_video(clv.read_bytes(), model)[2])
    zoo._CACHE.clear()
