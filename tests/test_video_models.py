"""The P-frame codecs (residual and conditional), their rates, training and checkpoints."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from codec_lib import zoo
from codec_lib.cli import main
from codec_lib.data import sample_images
from codec_lib.errors import ModelError
from codec_lib.video_codec import decode_video, encode_video
from codec_lib.video_format import unpack_video
from codec_lib.video_io import write_y4m

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def own_zoo(tiny_zoo, tmp_path, monkeypatch):
    """A copy of the tiny zoo (its intra model and manifest) as the installed checkpoint folder,
    for tests that export and register video models into it."""
    folder = tmp_path / "zoo"
    folder.mkdir()
    for f in ("tiny-ms.pt", "manifest.json"):
        (folder / f).write_bytes((tiny_zoo / f).read_bytes())
    monkeypatch.setenv(zoo.CHECKPOINT_ENV, str(folder))
    zoo._CACHE.clear()
    yield folder
    zoo._CACHE.clear()


@pytest.fixture
def clip(photos):
    """Three 64x48 frames of a camera panning over a real photo."""
    a = np.asarray(photos[0][1].convert("RGB"))
    return np.stack([a[100:148, 100 + 4 * t: 164 + 4 * t] for t in range(3)])


def test_residual_codec_streams_decode_bit_exactly(clip):
    """An (untrained) DVC-style codec: frame 0 intra, the rest P frames predicted from the
    previous decoded frame; the decoder reproduces the encoder's frames exactly."""
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
    assert model.g_a[0][0].weight.grad is not None and model.temporal_prior[0].weight.grad is not None
    model.eval()
    enc = encode_video(clip, model)
    assert [c.kind for c in unpack_video(enc.data)[1]] == ["I", "P", "P"]
    assert np.array_equal(decode_video(enc.data, model), enc.frames)


@pytest.mark.parametrize("coding", ["residual", "conditional"])
def test_a_higher_rate_index_spends_more_bits(clip, coding):
    """The gains around the quantizers: one model, several rates (more bits as k grows), each
    still decoding bit-exactly."""
    from codec_lib.video_train import build_video_model
    torch.manual_seed(0)
    model = build_video_model(coding, 16, 24, 8, lmbdas=[1e-4, 1.0, 1e4]).eval()   # gains 0.01, 1, 100
    sizes = []
    for k in range(3):
        model.set_rate(k)
        enc = encode_video(clip, model)
        assert np.array_equal(decode_video(enc.data, model), enc.frames)
        sizes.append(sum(len(s) for c in unpack_video(enc.data)[1][1:] for g in c.groups for s in g))
    assert sizes[0] <= sizes[1] < sizes[2], sizes          # (untrained latents are near zero)
    with pytest.raises(ValueError, match="out of range"):
        model.set_rate(3)


def test_clip_batches_are_reproducible_clips(photos):
    from codec_lib.video_train import VideoTrainConfig, clip_batch
    imgs = [im for _, im in photos[:2]]
    cfg = VideoTrainConfig(batch_size=3, crop=48, chain=4, synthetic=1.0)
    x, k = clip_batch(imgs, [], cfg, 7)
    assert x.shape == (3, 4, 3, 48, 48) and 0 <= k < len(cfg.lmbdas)
    x2, k2 = clip_batch(imgs, [], cfg, 7)
    assert torch.equal(x, x2) and k == k2
    assert (x[:, 1:] - x[:, :-1]).abs().mean() > 0.005          # the camera moves


@pytest.mark.parametrize("coding", ["residual", "conditional"])
def test_video_training_runs_resumes_and_codes(tiny_zoo, clip, photos, tmp_path, coding):
    from codec_lib.video_train import VideoTrainConfig, evaluate_video_loss, fit_video, val_clips
    src = tmp_path / "clip.y4m"
    write_y4m(src, np.concatenate([clip, clip[::-1]]))
    (tmp_path / "val").mkdir()
    for name, im in photos[:2]:
        im.save(tmp_path / "val" / f"{name}.png")
    kw = dict(coding=coding, N=16, M=24, C=8, lmbdas=[0.005, 0.02], steps=3, batch_size=2, crop=48,
              chain=3, warmup=1, clips=[str(src)], intra=[str(tiny_zoo / "tiny-ms.pt")],
              checkpoint_every=1, threads=1, val=[str(tmp_path / "val")])
    a = fit_video(VideoTrainConfig(out=str(tmp_path / "a"), **kw), progress=False)
    fit_video(VideoTrainConfig(out=str(tmp_path / "b"), **{**kw, "steps": 1}), progress=False)
    b = fit_video(VideoTrainConfig(out=str(tmp_path / "b"), **kw), progress=False)   # mid-chain
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)                 # resumed exactly
    intra = zoo.load_checkpoint(tiny_zoo / "tiny-ms.pt").state_dict()
    assert all(torch.equal(sa[f"intra.{k}"], v) for k, v in intra.items())   # intra frozen
    h = torch.load(tmp_path / "a" / "last.pt", weights_only=False)["history"]
    assert [r["step"] for r in h] == [1, 2, 3] and all(np.isfinite(r["loss"]) for r in h)
    cfg = VideoTrainConfig(**kw)                        # each checkpoint: the validation loss
    assert all(len(r["val_loss_per_rate"]) == 2 for r in h)  # of the model at that step
    val = val_clips(cfg.val, cfg)
    assert val.shape == (2, 3, 3, 48, 48) and torch.equal(val, val_clips(cfg.val, cfg))
    assert h[-1]["val_loss"] == pytest.approx(evaluate_video_loss(a, [a.intra], val, kw["lmbdas"])["loss"])
    enc = encode_video(clip, a)
    assert np.array_equal(decode_video(enc.data, a), enc.frames)


@pytest.mark.parametrize("coding", ["residual", "conditional"])
def test_video_training_in_bf16_tracks_fp32(tiny_zoo, clip, tmp_path, coding):
    from codec_lib.cli import build_parser
    from codec_lib.video_train import VideoTrainConfig, fit_video
    src = tmp_path / "clip.y4m"
    write_y4m(src, clip)
    kw = dict(coding=coding, N=16, M=24, C=8, lmbdas=[0.005, 0.02], steps=2, batch_size=2, crop=48,
              chain=3, warmup=1, clips=[str(src)], intra=[str(tiny_zoo / "tiny-ms.pt")], threads=1)
    h = {}
    for precision in ("fp32", "bf16"):                  # same seed: the same clips and noise
        fit_video(VideoTrainConfig(out=str(tmp_path / precision), precision=precision, **kw), progress=False)
        ck = torch.load(tmp_path / precision / "last.pt", weights_only=False)
        assert ck["config"]["precision"] == precision and ck["step"] == 2
        assert all(torch.isfinite(v).all() for v in ck["model"].values() if v.is_floating_point())
        assert ck["ref"].dtype == torch.float32         # the chain's reference stays float32
        h[precision] = ck["history"][0]
    for k in ("bpp", "mse"):            # bfloat16 P-frame transforms, float32 rates and loss
        assert h["bf16"][k] == pytest.approx(h["fp32"][k], rel=0.05), k
    assert h["bf16"]["mse"] != h["fp32"]["mse"]         # bf16 did take effect
    args = build_parser().parse_args(["train-video", "--precision", "bf16", "--out", str(tmp_path)])
    assert args.precision == "bf16"


def test_video_time_budget_stops_with_a_checkpoint(tiny_zoo, clip, tmp_path, capsys):
    from codec_lib.video_train import VideoTrainConfig, fit_video
    src = tmp_path / "clip.y4m"
    write_y4m(src, clip)
    cfg = VideoTrainConfig(N=16, M=24, C=8, lmbdas=[0.005, 0.02], steps=50, minutes=1e-9,
                           batch_size=1, crop=48, chain=3, clips=[str(src)], threads=1,
                           intra=[str(tiny_zoo / "tiny-ms.pt")], out=str(tmp_path / "v"))
    fit_video(cfg, progress=False)                       # the budget is gone after one step
    ck = torch.load(tmp_path / "v" / "last.pt", weights_only=False)
    assert ck["step"] == 1 and ck["history"][-1]["device"] == "cpu"
    assert "stopped at step 1 of 50" in capsys.readouterr().out
    fit_video(cfg, progress=False)                       # resuming a spent run trains no further
    assert torch.load(tmp_path / "v" / "last.pt", weights_only=False)["step"] == 1
    for flags, message in [(["--minutes", "0"], "--minutes must be positive"),
                           (["--steps", "-1"], "--steps must be positive"),
                           (["--batch-size", "0"], "--batch-size must be positive"),
                           (["--crop", "50"], "--crop must be a positive multiple of 16")]:
        assert main(["train-video", *flags, "--out", str(tmp_path / "w")]) == 1
        assert message in capsys.readouterr().err and not (tmp_path / "w").exists()


def test_video_checkpoints_are_listed_and_used_by_the_cli(own_zoo, clip, tmp_path, capsys):
    """A trained run exported into a zoo: one file for both rates, without the intra model;
    `models --json` says kind video and its coding; compress-video / decompress-video code I
    and P frames with it; an intra model with other weights is refused."""
    from codec_lib.video_zoo import video_model_from
    folder = own_zoo
    run = tmp_path / "run"
    assert main(["--threads", "1", "train-video", "--coding", "conditional", "--N", "16", "--M", "24",
                 "--C", "8", "--lmbdas", "0.005", "0.02", "--steps", "1", "--batch-size", "1",
                 "--crop", "48", "--intra", str(folder / "tiny-ms.pt"), "--out", str(run)]) == 0
    assert main(["export-video", str(run), str(folder / "tiny-dcvc.pt"), "--name", "tiny-dcvc",
                 "--command", "tests", "--register"]) == 0
    assert all(e["training"]["device"] == "cpu" for e in zoo.read_manifest(folder)["models"]
               if e["name"] == "tiny-dcvc")
    assert main(["train-video", "--intra", str(tmp_path / "none.pt"), "--out", str(run)]) == 1
    assert "no such file" in capsys.readouterr().err
    obj = torch.load(folder / "tiny-dcvc.pt", weights_only=True)
    assert obj["qualities"] == [1, 2] and not any(k.startswith("intra.") for k in obj["state_dict"])
    assert main(["models", "--json"]) == 0
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert listed["tiny-dcvc"]["kind"] == "video" and listed["tiny-dcvc"]["coding"] == "conditional"
    assert listed["tiny-dcvc"]["qualities"] == [1, 2]
    src, clv, out = tmp_path / "c.y4m", tmp_path / "c.clv", tmp_path / "frames"
    write_y4m(src, clip)
    assert main(["compress-video", str(src), str(clv), "--model", "tiny-dcvc", "--quality", "2"]) == 0
    assert [c.kind for c in unpack_video(clv.read_bytes())[1]] == ["I", "P", "P"]
    assert main(["decompress-video", str(clv), str(out)]) == 0
    default = tmp_path / "d.clv"                      # the video model is the default now
    assert main(["compress-video", str(src), str(default)]) == 0
    assert unpack_video(default.read_bytes())[0].model == "tiny-dcvc"
    Image.fromarray(clip[0]).save(tmp_path / "f.png")
    capsys.readouterr()
    assert main(["compress", str(tmp_path / "f.png"), str(tmp_path / "f.clb"), "--model", "tiny-dcvc"]) == 1
    assert "use compress-video" in capsys.readouterr().err and not (tmp_path / "f.clb").exists()
    model = zoo.load_model("tiny-dcvc", 2)
    assert model.rate == 1 and model.intra is zoo.load_model("tiny-ms", 1)
    assert np.array_equal(np.asarray(Image.open(out / "frame_00002.png")),
                          decode_video(clv.read_bytes(), model)[2])
    with pytest.raises(ModelError, match="do not match"):        # the other rate: refused
        decode_video(clv.read_bytes(), zoo.load_model("tiny-dcvc", 1))
    other = dict(obj, intra=[dict(r, weights_hash="00" * 8) for r in obj["intra"]])
    with pytest.raises(ModelError, match="other weights of its intra"):
        video_model_from(other, zoo._unpack_state(obj["state_dict"]), 1)
    # the intra model retrained (here: perturbed) and installed: refused until re-pointed
    from codec_lib.video_zoo import repoint_intra
    intra = zoo.load_model("tiny-ms", 1)
    with torch.no_grad():
        next(intra.g_s.parameters()).mul_(1.01)
    zoo.save_checkpoint(intra, folder / "tiny-ms.pt", "tiny-ms", 1, intra.lmbda)
    zoo.register(folder / "tiny-ms.pt", training={"command": "tests", "steps": 1, "device": "cpu"})
    zoo._CACHE.clear()
    with pytest.raises(ModelError, match="other weights of its intra"):
        zoo.load_model("tiny-dcvc", 2)
    sha = repoint_intra(folder / "tiny-dcvc.pt")
    assert sha == zoo.sha256_file(folder / "tiny-dcvc.pt") and zoo.register(folder / "tiny-dcvc.pt")
    zoo._CACHE.clear()
    moved = torch.load(folder / "tiny-dcvc.pt", weights_only=True)
    assert moved["state_dict"].keys() == obj["state_dict"].keys()     # P-frame parts unchanged
    assert all(torch.equal(moved["state_dict"][k], v) for k, v in obj["state_dict"].items()
               if torch.is_tensor(v))
    assert zoo.load_model("tiny-dcvc", 2).intra is zoo.load_model("tiny-ms", 1)
    with pytest.raises(ModelError, match="not a video checkpoint"):
        repoint_intra(folder / "tiny-ms.pt")
    zoo._CACHE.clear()
    # the P-frame Gaussians' scale bounds tuned on pans of photos: same frames, fewer bits
    from codec_lib.video_zoo import tune_bounds
    val = tmp_path / "val"
    val.mkdir()
    for name, img in sample_images()[:2]:
        img.save(val / f"{name}.png")
    coded = {}
    for when in ("before", "after"):
        if when == "after":
            sha, record = tune_bounds(folder / "tiny-dcvc.pt", [str(val)], n=2, crop=64)
            assert sha == zoo.sha256_file(folder / "tiny-dcvc.pt")
            assert zoo.register(folder / "tiny-dcvc.pt")
            zoo._CACHE.clear()
        clv2, out2 = tmp_path / f"{when}.clv", tmp_path / when
        assert main(["compress-video", str(src), str(clv2), "--model", "tiny-dcvc", "--quality", "2"]) == 0
        assert main(["decompress-video", str(clv2), str(out2)]) == 0
        coded[when] = [np.asarray(Image.open(f)) for f in sorted(out2.glob("*.png"))]
    assert all(np.array_equal(a, b) for a, b in zip(coded["before"], coded["after"]))
    assert len(coded["after"]) == 3
    model = zoo.load_model("tiny-dcvc", 2)
    assert record["y"]["rate"] <= 1 and record["motion_y"]["rate"] <= 1
    assert model.gaussian_conditional.scale_bound.tolist() == pytest.approx(record["y"]["value"])
    assert len(record["y"]["value"]) == 24 and record["tuned_on"].endswith("(2 pans of 64 px, 4 frames)")
    with pytest.raises(ModelError, match="not a video checkpoint"):
        tune_bounds(folder / "tiny-ms.pt", [str(val)])
    zoo._CACHE.clear()


def test_residual_coding_is_the_conditional_codecs_special_case():
    """A conditional codec started from a residual codec's weights codes exactly as it does
    (same decoded frame, same likelihoods) while the residual codec's refinement is untrained."""
    from codec_lib.video_train import build_video_model
    torch.manual_seed(0)
    res = build_video_model("residual", 16, 24, 8, lmbdas=[0.01, 0.02])
    for p in res.residual_coder.parameters():               # not the untrained starting point
        p.data.add_(0.05 * torch.randn_like(p))
    cond = build_video_model("conditional", 16, 24, 8, intra=res.intra, lmbdas=[0.01, 0.02])
    cond.init_from_residual({k: v for k, v in res.state_dict().items() if not k.startswith("intra.")})
    res.eval(), cond.eval()
    x, ref = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    for k in (0, 1):
        res.set_rate(k), cond.set_rate(k)
        with torch.no_grad():
            a, b = res(x, ref), cond(x, ref)
        assert torch.allclose(a["x_hat"], b["x_hat"], atol=1e-5)
        bits = [sum(float(-torch.log2(l).sum()) for l in o["likelihoods"].values()) for o in (a, b)]
        assert bits[0] == pytest.approx(bits[1], rel=1e-5)


def test_a_shipped_video_checkpoint_can_be_continued(own_zoo, tmp_path, capsys):
    """``train-video --init`` takes a shipped video file (e.g. to retrain the P-frame parts
    against retrained intra models): training starts from its weights, and the export records
    both stages; a codec of another coding or rate count is refused in one line."""
    folder = own_zoo
    common = ["--threads", "1", "train-video", "--N", "16", "--M", "24", "--C", "8", "--lmbdas",
              "0.005", "0.02", "--steps", "1", "--batch-size", "1", "--crop", "48", "--intra",
              str(folder / "tiny-ms.pt")]
    assert main(common + ["--coding", "residual", "--out", str(tmp_path / "a")]) == 0
    assert main(["export-video", str(tmp_path / "a"), str(folder / "tiny-dvc.pt"), "--name",
                 "tiny-dvc", "--command", "first", "--register"]) == 0
    shipped = zoo._unpack_state(torch.load(folder / "tiny-dvc.pt", weights_only=True)["state_dict"])
    assert main(common + ["--coding", "residual", "--lr", "0", "--init", str(folder / "tiny-dvc.pt"),
                          "--out", str(tmp_path / "b")]) == 0
    state = torch.load(tmp_path / "b" / "last.pt", weights_only=False)["model"]
    frozen = [k for k in shipped if not k.endswith("quantiles")]      # lr 0: only aux moved
    assert frozen and all(torch.equal(state[k], shipped[k]) for k in frozen)
    assert main(["export-video", str(tmp_path / "b"), str(folder / "tiny-dvc2.pt"), "--name",
                 "tiny-dvc2", "--command", "second", "--register"]) == 0
    t = zoo.resolve("tiny-dvc2", 2)["training"]
    assert t["init"] == {"file": "tiny-dvc.pt", "sha256": zoo.sha256_file(folder / "tiny-dvc.pt")}
    assert [s["command"] for s in t["stages"]] == ["first", "second"] and t["total_steps"] == 2
    # a conditional codec may start from it (the residual codec is its special case) ...
    assert main(common + ["--coding", "conditional", "--init", str(folder / "tiny-dvc.pt"),
                          "--out", str(tmp_path / "c")]) == 0
    capsys.readouterr()
    # ... but not the other way round, nor with another number of rates
    assert main(["export-video", str(tmp_path / "c"), str(folder / "tiny-dcvc.pt"), "--name",
                 "tiny-dcvc", "--command", "c", "--register"]) == 0
    assert main(common + ["--coding", "residual", "--init", str(folder / "tiny-dcvc.pt"),
                          "--out", str(tmp_path / "d")]) == 1
    assert "cannot start a residual codec from a conditional" in capsys.readouterr().err
    three = common[:common.index("0.02") + 1] + ["0.05"] + common[common.index("0.02") + 1:]
    assert main(three + ["--coding", "residual", "--intra", str(folder / "tiny-ms.pt"), "--init",
                         str(folder / "tiny-dvc.pt"), "--out", str(tmp_path / "e")]) == 1
    assert "has 2 rates, this codec 3" in capsys.readouterr().err


def test_export_video_tunes_the_p_frame_bounds_before_writing(own_zoo, tmp_path, capsys):
    folder = own_zoo
    run = tmp_path / "run"
    assert main(["--threads", "1", "train-video", "--N", "16", "--M", "24", "--C", "8",
                 "--lmbdas", "0.005", "0.02", "--steps", "1", "--batch-size", "1", "--crop", "48",
                 "--intra", str(folder / "tiny-ms.pt"), "--out", str(run)]) == 0
    val = tmp_path / "val"
    val.mkdir()
    for name, img in sample_images()[:2]:
        img.resize((80, 72)).save(val / f"{name}.png")              # pans of 64 pixels
    out = folder / "tiny-dvc.pt"
    assert main(["export-video", str(run), str(out), "--name", "tiny-dvc", "--register",
                 "--tune-bound", str(tmp_path / "nope")]) == 1
    assert "no such folder" in capsys.readouterr().err and not out.exists()
    assert main(["export-video", str(run), str(out), "--name", "tiny-dvc", "--register",
                 "--tune-bound", str(val)]) == 0
    assert "P-frame scale bounds tuned" in capsys.readouterr().out
    assert list(folder.glob(".*.tmp")) == []
    e = next(e for e in zoo.read_manifest(folder)["models"] if e["name"] == "tiny-dvc")
    assert e["sha256"] == zoo.sha256_file(out) and "scale_bound" not in e   # video: not listed
    record = e["training"]["scale_bound"]
    assert set(record) == {"tuned_on", "motion_y", "residual_y"}
    assert record["tuned_on"].endswith("(2 pans of 64 px, 4 frames)")
    model = zoo.load_model("tiny-dvc", 2)
    assert model.residual_coder.gaussian_conditional.scale_bound.tolist() == pytest.approx(
        record["residual_y"]["value"])
