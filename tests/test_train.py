"""The RD loss, exact resume, and the CLI's mapping onto TrainConfig."""
import copy
import math
from dataclasses import asdict

import pytest
import torch

from codec_lib.cli import UsageError, build_parser, main
from codec_lib.errors import CodecError
from codec_lib.cli_train import _train_config
from codec_lib.train import LAMBDAS, TrainConfig, fit, rd_loss


def test_rd_loss_terms():
    x = torch.full((2, 3, 8, 8), 0.5)
    out = {"x_hat": x + 0.1, "likelihoods": {"y": torch.full((2, 4, 2, 2), 0.5)}}
    r = rd_loss(out, x, lmbda=0.01)
    assert math.isclose(float(r["bpp"]), 2 * 4 * 2 * 2 / (2 * 8 * 8))   # 1 bit per latent
    assert math.isclose(float(r["mse"]), 0.01, rel_tol=1e-5)
    assert math.isclose(float(r["loss"]), float(r["bpp"]) + 0.01 * 255**2 * 0.01, rel_tol=1e-5)


def small(out, steps, **kw):
    return TrainConfig(arch="mean-scale", N=8, M=12, steps=steps, batch_size=2, crop=64, out=str(out),
                       checkpoint_every=2, **kw)


@pytest.mark.parametrize("precision", ["auto", "bf16"])
def test_exact_resume(tmp_path, precision):
    a = fit(small(tmp_path / "a", 6, precision=precision), progress=False)
    fit(small(tmp_path / "b", 4, precision=precision), progress=False)   # "interrupted" at 4
    b = fit(small(tmp_path / "b", 6, precision=precision), progress=False)   # resumed
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_training_reduces_loss(tmp_path):
    torch.manual_seed(0)
    cfg = small(tmp_path / "c", 60, lr=1e-3)
    fit(cfg, progress=False)
    hist = torch.load(tmp_path / "c" / "last.pt", weights_only=False)["history"]
    losses = [h["loss"] for h in hist if "loss" in h]
    assert losses[-1] < losses[0]


def test_cli_train_arguments_map_onto_config(tmp_path):
    args = build_parser().parse_args([
        "train", "--arch", "factorized", "--N", "64", "--M", "96", "--quality", "3",
        "--steps", "100", "--batch-size", "4", "--crop", "128", "--train", "d1", "d2",
        "--val", "v", "--out", str(tmp_path), "--lr-drop", "0.8", "--checkpoint-every", "50"])
    cfg = _train_config(args)
    assert cfg == TrainConfig(arch="factorized", N=64, M=96, lmbda=LAMBDAS[3], steps=100,
                              batch_size=4, crop=128, train=["d1", "d2"], val="v",
                              out=str(tmp_path), lr_drop=0.8, checkpoint_every=50)
    conf = tmp_path / "cfg.json"
    conf.write_text('{"arch": "hyperprior", "steps": 7, "scale": [0.5, 1.0]}')
    cfg = _train_config(build_parser().parse_args(["train", "--config", str(conf), "--steps", "9"]))
    assert (cfg.arch, cfg.steps, cfg.scale) == ("hyperprior", 9, (0.5, 1.0))
    assert asdict(cfg)["N"] == TrainConfig().N


def test_lr_warmup_ramps_the_learning_rate_up(tmp_path):
    def lr_after(steps, **kw):              # the lr of the last step taken (saved with Adam)
        fit(small(tmp_path / f"w{steps}{sorted(kw)}", steps, lr=1e-3, **kw), progress=False)
        ck = torch.load(tmp_path / f"w{steps}{sorted(kw)}" / "last.pt", weights_only=False)
        return ck["optimizer"]["param_groups"][0]["lr"]
    assert lr_after(2, lr_warmup=4) == pytest.approx(1e-3 * 2 / 4)
    assert lr_after(6, lr_warmup=4) == pytest.approx(1e-3)
    assert lr_after(2) == pytest.approx(1e-3)
    with pytest.raises(UsageError, match="--lr-warmup must be 0 or more"):
        _train_config(build_parser().parse_args(["train", "--lr-warmup", "-1"]))


def test_time_budget_stops_with_a_checkpoint(tmp_path, capsys):
    cfg = small(tmp_path / "t", 50, minutes=1e-9)
    fit(cfg, progress=False)                             # the budget is gone after one step
    ck = torch.load(tmp_path / "t" / "last.pt", weights_only=False)
    assert ck["step"] == 1 and ck["history"][-1]["wall_s"] > 60 * cfg.minutes
    assert "stopped at step 1 of 50" in capsys.readouterr().out
    fit(cfg, progress=False)                             # resuming a spent run trains no further
    assert torch.load(tmp_path / "t" / "last.pt", weights_only=False)["step"] == 1
    args = build_parser().parse_args(["train", "--minutes", "0"])
    with pytest.raises(CodecError, match="--minutes must be positive"):
        _train_config(args)


@pytest.mark.parametrize("flags, message", [
    (["--steps", "0"], "--steps must be positive, got 0"),
    (["--steps", "-3"], "--steps must be positive, got -3"),
    (["--batch-size", "0"], "--batch-size must be positive"),
    (["--checkpoint-every", "0"], "--checkpoint-every must be positive"),
    (["--lr", "-1"], "--lr must be 0 or more, got -1.0"),
    (["--crop", "30"], "--crop must be a positive multiple of 16, got 30"),
    (["--crop", "0"], "--crop must be a positive multiple of 16"),
    (["--lr-drop", "1.5"], "--lr-drop must be between 0 and 1"),
])
def test_train_rejects_bad_numbers_before_writing_anything(tmp_path, capsys, flags, message):
    """Each out-of-range setting is one line on stderr, exit status 1, and no --out folder
    (these used to crash mid-run with a traceback, or train nothing and call it finished)."""
    out = tmp_path / "run"
    assert main(["train", *flags, "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"codec-lib: error: {message}" or err.startswith(f"codec-lib: error: {message}")
    assert len(err.splitlines()) == 1 and not out.exists()
    with pytest.raises(CodecError, match="--scale"):
        TrainConfig(scale=(1.0, 0.5))


def test_anneal_schedule_reaches_its_end(tmp_path):
    cfg = small(tmp_path / "s", 5, proxy="sga", anneal={"tau": (1.0, 0.05)})
    model = fit(cfg, progress=False)
    assert abs(model.proxy_kw["tau"] - 0.05) < 1e-9


def test_settle_quantiles_converges_the_aux_loss(photos):
    from codec_lib.codec import decode_image, encode_image
    from codec_lib.models import build_model
    from codec_lib.train import settle_quantiles
    torch.manual_seed(0)
    model = build_model("factorized", 8, 12).eval()
    model.codec_name, model.codec_quality = "t", 1
    before = float(model.aux_loss().detach())
    after = settle_quantiles(model, steps=800)
    assert after < before                                        # (an untrained density is wide: slow)
    q = model.entropy_bottleneck.quantiles.detach()               # lower < median < upper
    assert torch.all(q[:, 0, 0] < q[:, 0, 1]) and torch.all(q[:, 0, 1] < q[:, 0, 2])
    img = photos[0][1].crop((0, 0, 64, 48))
    enc = encode_image(img, model)
    assert decode_image(enc.data, model).tobytes() == enc.x_hat.tobytes()


def test_training_crops_match_resizing_the_whole_image():
    """ImageFolder resamples only the crop window; that is the crop of the down-scaled image
    (up to the resampler's rounding) and a pure function of (index, seed)."""
    import numpy as np
    from PIL import Image
    from codec_lib.data import ImageFolder
    ds = ImageFolder(None, crop=96)
    same = total = 0
    for seed in range(40):
        index = seed % len(ds)
        got = ds[index, seed]                                   # (3, 96, 96)
        assert got.shape == (3, 96, 96) and torch.equal(got, ds[index, seed])
        rng = np.random.default_rng(seed)                       # the same draws, the slow way
        img = Image.fromarray(ds.images[index])
        W, H = img.size
        s = max(rng.uniform(0.6, 1.0), 96 / min(W, H))
        if s < 0.999:
            img = img.resize((max(96, round(W * s)), max(96, round(H * s))), Image.BICUBIC)
        left, top = rng.integers(0, img.size[0] - 95), rng.integers(0, img.size[1] - 95)
        a = np.asarray(img)[top: top + 96, left: left + 96]
        if rng.random() < 0.5:
            a = a[:, ::-1]
        ref = torch.from_numpy(np.array(a)).permute(2, 0, 1).float() / 255
        assert (got - ref).abs().max() <= 2.5 / 255
        same, total = same + int((got == ref).sum()), total + ref.numel()
    assert same / total > 0.999
    tiny = ImageFolder(None, crop=96)
    tiny.images = [np.zeros((40, 70, 3), np.uint8)]             # smaller than the crop: upscaled
    assert tiny[0, 1].shape == (3, 96, 96)


def test_export_chains_the_stages_of_a_continued_run(tmp_path):
    """A run started with --init from an exported checkpoint records every stage since the
    start: the manifest shows the whole training, not only the last run."""
    from codec_lib import zoo
    small = dict(arch="mean-scale", N=16, M=24, batch_size=2, crop=64, lmbda=0.01)
    fit(TrainConfig(**small, steps=3, out=str(tmp_path / "a"), checkpoint_every=3), progress=False)
    assert main(["export", str(tmp_path / "a"), str(tmp_path / "a.pt"), "--name", "t", "--quality", "1",
                 "--command", "first"]) == 0
    fit(TrainConfig(**small, steps=2, out=str(tmp_path / "b"), checkpoint_every=2,
                    init=str(tmp_path / "a.pt")), progress=False)
    assert main(["export", str(tmp_path / "b"), str(tmp_path / "b.pt"), "--name", "t", "--quality", "1",
                 "--command", "second"]) == 0
    t = torch.load(tmp_path / "b.pt", weights_only=True)["meta"]["training"]
    assert [s["command"] for s in t["stages"]] == ["first", "second"]
    assert t["total_steps"] == 5 and t["steps"] == 2
    assert t["stages"][1]["init"] == {"file": "a.pt", "sha256": zoo.sha256_file(tmp_path / "a.pt")}
    assert t["total_wall_s"] == round(sum(s["wall_s"] for s in t["stages"]), 1)


def test_bf16_precision_trains_on_the_cpu_and_matches_fp32_on_one_batch(tmp_path, photos):
    from codec_lib.data import to_tensor
    from codec_lib.train import PRECISIONS, configure_optimizers, train_step, use_bf16
    from codec_lib.zoo import load_model
    assert (use_bf16("auto", "cpu"), use_bf16("auto", "cuda:0"), use_bf16("bf16", "cpu"),
            use_bf16("fp32", "cuda")) == (False, True, True, False)
    with pytest.raises(ValueError, match="precision must be one of"):
        use_bf16("fp16", "cpu")
    x = torch.cat([to_tensor(im)[..., :128, :128] for _, im in photos[:2]])   # (2, 3, 128, 128)
    res = {}
    for bf16 in (False, True):
        torch.manual_seed(0)                            # the same noise
        model = copy.deepcopy(load_model("mean-scale", 4)).train()    # not the cached one
        opt, aux_opt = configure_optimizers(model, 1e-4, 1e-3)
        res[bf16] = {k: float(v.detach()) for k, v in
                     train_step(model, x, opt, aux_opt, 0.013, bf16=bf16)[0].items()}
    for k in ("bpp", "mse"):        # bfloat16 transforms (y to ~3 digits), float32 rate and loss
        assert math.isclose(res[True][k], res[False][k], rel_tol=0.01), k
    assert res[True]["mse"] != res[False]["mse"]                  # bf16 did take effect
    fit(small(tmp_path / "bf", 4, precision="bf16"), progress=False)
    ck = torch.load(tmp_path / "bf" / "last.pt", weights_only=False)
    assert ck["config"]["precision"] == "bf16" and ck["step"] == 4
    assert all(torch.isfinite(v).all() for v in ck["model"].values() if v.is_floating_point())
    for precision in PRECISIONS:                        # the CLI offers every one
        args = build_parser().parse_args(["train", "--precision", precision, "--out", str(tmp_path)])
        assert _train_config(args).precision == precision


def test_smoothed_terms_are_running_means_read_at_once():
    """The loops' running loss terms stay tensors between reads (no host-device sync per step)
    and equal the running mean computed with Python floats."""
    from codec_lib.progress import Smoothed
    s, ref = Smoothed(0.9), {}
    for v in (1.0, 2.0, 4.0):
        s.update(loss=torch.tensor(v, requires_grad=True) * 1, bpp=v / 2)
        for k, x in (("loss", v), ("bpp", v / 2)):
            ref[k] = 0.9 * ref.get(k, x) + 0.1 * x
    assert all(torch.is_tensor(t) and not t.requires_grad for t in s.terms.values())
    got = s.floats()
    assert got.keys() == ref.keys() and all(abs(got[k] - ref[k]) < 1e-6 for k in ref)
    assert Smoothed().floats() == {}


def test_smoothed_terms_as_the_bar_shows_them():
    from codec_lib.progress import Smoothed
    s = Smoothed()
    s.update(loss=torch.tensor(1.5), bpp=0.25, mse=torch.tensor(1e-3), aux=12.4)
    assert s.postfix() == {"loss": "1.500", "bpp": "0.250", "psnr": "30.00", "aux": "12"}
    assert s.postfix("bpp", "psnr") == {"bpp": "0.250", "psnr": "30.00"}


def test_training_loader_can_send_8bit_pixels():
    """fit's loader sends uint8 crops (a quarter of the bytes) that are exactly the float ones
    times 255."""
    from codec_lib.data import ImageFolder
    f, u = ImageFolder(None, crop=64), ImageFolder(None, crop=64, uint8=True)
    for key in ((0, 1), (1, 7), (2, 3)):
        assert u[key].dtype == torch.uint8 and torch.equal(u[key].float() / 255, f[key])


def test_default_loader_workers(monkeypatch):
    """No loader processes on a CPU; on a GPU up to 8, leaving two cores, and none when
    /dev/shm is too small to hand batches over."""
    import collections
    from codec_lib import data
    assert data.default_workers("cpu") == 0
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(data.shutil, "disk_usage", lambda p: usage(0, 0, 64 << 30))
    for cpus, want in ((16, 8), (6, 4), (2, 0), (None, 0)):
        monkeypatch.setattr(data.os, "cpu_count", lambda: cpus)
        assert data.default_workers("cuda:0") == want
    monkeypatch.setattr(data.shutil, "disk_usage", lambda p: usage(0, 0, 64 << 20))
    assert data.default_workers("cuda") == 0


def test_progress_bar_runs_over_the_time_budget(tmp_path, capsys):
    from codec_lib.progress import TrainingBar
    bar = TrainingBar(1_000_000, minutes=2.0, desc="fit")
    calls = []
    shown = lambda: calls.append(1) or {"loss": "1.000"}
    bar.update(10, 30.0, shown)
    assert bar.bar.total == 2.0 and bar.bar.n == 0.5             # half a minute of two
    bar.update(11, 31.0, shown)                                 # terms read again only later
    assert len(calls) == 1
    bar.update(12, 32.0, shown, force=True)                     # or when forced (checkpoints)
    assert len(calls) == 2
    bar.update(20, 600.0)
    assert bar.bar.n == 2.0                                     # never past the budget
    bar.close()
    err = capsys.readouterr().err
    assert "/2 min" in err and "step=" in err and "1000000" not in err
    steps = TrainingBar(8, minutes=None, step=2, desc="fit")    # no budget: over the steps
    steps.update(5, 1.0)
    assert (steps.bar.total, steps.bar.n) == (8, 5)
    steps.close()
    fit(small(tmp_path / "p", 2, minutes=5.0), progress=True)   # the loop drives it
    err = capsys.readouterr().err
    assert "fit mean-scale" in err and "/5 min" in err and "step=2" in err
