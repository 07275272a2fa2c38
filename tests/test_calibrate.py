"""The Gaussian scale bound: a coding choice stored with the weights, tuned on validation images."""
import copy
import json

import numpy as np
import pytest
import torch

from codec_lib import zoo
from codec_lib.calibrate import bits_by_bound, rate_by_bound, tune_scale_bound
from codec_lib.cli import main
from codec_lib.codec import decode_image, encode_image
from codec_lib.entropy_models import GaussianConditional
from codec_lib.evaluate import likelihoods
from codec_lib.layers import lower_bound


def test_lower_bound_lets_the_gradient_lift_a_value_off_the_bound():
    x = torch.tensor([0.05, 0.05, 0.5], requires_grad=True)
    lower_bound(x, 0.11).backward(torch.tensor([-1.0, 1.0, 1.0]))   # -1: wants it larger
    assert x.grad.tolist() == [-1.0, 0.0, 1.0]
    assert lower_bound(x, 0.11).tolist() == pytest.approx([0.11, 0.11, 0.5])


def test_a_scale_on_the_bound_still_learns_to_widen():
    """A non-zero latent predicted as certain: its rate pulls sigma up through the bound (with
    clamp_min it got no gradient at all, and cost 18 bits and more for good)."""
    gc = GaussianConditional()
    scales = torch.full((1, 1, 1, 2), 0.05, requires_grad=True)
    y_hat = torch.tensor([[[[0.0, 1.0]]]])
    (-torch.log2(gc.likelihood(y_hat, scales))).sum().backward()
    assert scales.grad[0, 0, 0, 1] < 0 and scales.grad[0, 0, 0, 0] == 0


def test_tuning_the_bound_saves_bytes_and_leaves_the_image_alone(shipped_model, photos):
    plain = copy.deepcopy(shipped_model)                 # (the shipped one has its own, tuned)
    plain.gaussian_conditional.set_scale_bound(0.11)
    model = copy.deepcopy(plain)
    images = [img for _, img in photos]
    bits = rate_by_bound(model, images[:2], (0.11, 0.2, 0.3))
    bound, rel = tune_scale_bound(model, images[:2], (0.11, 0.2, 0.3), per_channel=False)
    assert bound == min(bits, key=bits.get) and rel[0.11] == 1.0
    assert float(model.gaussian_conditional.scale_bound) == pytest.approx(bound)
    img = images[3].crop((0, 0, 256, 192))
    before = encode_image(img, plain)
    after = encode_image(img, model)
    assert np.array_equal(np.asarray(before.x_hat), np.asarray(after.x_hat))   # y_hat is the same
    assert bound == 0.11 or len(after.data) != len(before.data)
    assert np.array_equal(np.asarray(decode_image(after.data, model=model)), np.asarray(after.x_hat))
    with pytest.raises(ValueError, match="64x64"):
        rate_by_bound(model, [img.crop((0, 0, 40, 40))])


@pytest.mark.parametrize("name", ["mean-scale", "channel-context"])
def test_bits_by_bound_equal_a_full_pass_at_each_bound(name, photos):
    """The networks run once; each bound only redoes the Gaussian's likelihoods (slice by slice
    for the channel-conditional model): the bits must be those of a full pass at that bound."""
    try:
        model = copy.deepcopy(zoo.load_model(name, 2))
    except zoo.ModelError as e:
        pytest.skip(f"no shipped model: {e}")
    img = photos[1][1].crop((0, 0, 192, 128))
    per_channel = tuple(0.11 + 0.01 * (c % 7) for c in range(model.M))
    bounds = (0.11, 0.25, per_channel if model.per_channel_bound else 0.4)
    got = bits_by_bound(model, [img], bounds)
    for b in bounds:
        y, rest = got[b]
        model.gaussian_conditional.set_scale_bound(b)
        lik = likelihoods(model, img)
        want = (-torch.log2(lik["y"].double())).sum((0, 2, 3))
        assert torch.allclose(y, want, rtol=1e-9) and rest == pytest.approx(
            float(-torch.log2(lik["z"].double()).sum()), rel=1e-9)


def test_a_bound_per_channel_beats_the_best_single_one_and_codes_the_same_image(shipped_model,
                                                                             photos):
    """The rate is a sum over channels and y_hat depends on no bound: each channel's own best
    candidate is at least as good as the best single bound, on the tuning images."""
    model = copy.deepcopy(shipped_model)
    model.gaussian_conditional.set_scale_bound(0.11)
    images = [img for _, img in photos][:2]
    single = rate_by_bound(model, images, (0.11, 0.2, 0.3))
    bound, rel = tune_scale_bound(model, images, (0.11, 0.2, 0.3), per_channel=True)
    gc = model.gaussian_conditional
    assert len(bound) == model.M and set(bound) <= {0.11, 0.2, 0.3}
    assert gc.scale_bound.shape == (model.M,)
    assert rel["per channel"] <= min(v for k, v in rel.items() if k != "per channel")
    assert rate_by_bound(model, images, (gc.scale_bound.clone(),)).popitem()[1] <= min(single.values())
    x = photos[-1][1].crop((0, 0, 192, 128))
    plain = copy.deepcopy(model)
    plain.gaussian_conditional.set_scale_bound(0.11)
    enc = encode_image(x, model)
    assert np.array_equal(np.asarray(enc.x_hat), np.asarray(encode_image(x, plain).x_hat))
    assert np.array_equal(np.asarray(decode_image(enc.data, model=model)), np.asarray(enc.x_hat))
    with pytest.raises(ValueError, match="per channel"):       # scales of another width
        gc.likelihood(torch.zeros(1, 4, 2, 2), torch.ones(1, 4, 2, 2))


def test_a_bound_per_channel_is_saved_listed_and_understood_by_compressai(shipped_model, photos,
                                                                        tmp_path):
    model = copy.deepcopy(shipped_model)
    bounds = torch.linspace(0.11, 0.3, model.M)
    model.gaussian_conditional.set_scale_bound(bounds)
    zoo.save_checkpoint(model, tmp_path / "m.pt", "m", 4, 0.025)
    loaded = zoo.load_checkpoint(tmp_path / "m.pt")                 # a (1,) buffer resized to (M,)
    assert torch.equal(loaded.gaussian_conditional.scale_bound, bounds)
    assert zoo.weights_hash(loaded) == zoo.weights_hash(model)
    from codec_lib.manifest import bound_record
    assert bound_record(bounds) == [round(v, 6) for v in bounds.tolist()]
    assert bound_record(torch.tensor([0.2])) == 0.2
    from codec_lib.channel_context import ChannelContextHyperprior
    cc = ChannelContextHyperprior.from_parent(model)               # slices: one bound for all
    assert cc.gaussian_conditional.scale_bound.numel() == 1
    pytest.importorskip("compressai")
    from codec_lib.data import to_tensor
    from codec_lib.interop import from_compressai, same_likelihoods, to_compressai
    theirs = to_compressai(model)
    assert same_likelihoods(model, theirs, to_tensor(photos[0][1].crop((0, 0, 128, 128))))
    assert torch.equal(from_compressai(theirs).gaussian_conditional.scale_bound, bounds)


def test_the_bound_travels_with_the_weights(shipped_model, tmp_path):
    """Stored exactly (not in half precision) and part of the weights hash, except at the
    default 0.11: files and bitstreams from before it was stored keep their hashes."""
    model = copy.deepcopy(shipped_model)
    model.gaussian_conditional.set_scale_bound(0.11)
    h = zoo.weights_hash(model)
    model.gaussian_conditional.set_scale_bound(0.29)
    assert zoo.weights_hash(model) != h
    zoo.save_checkpoint(model, tmp_path / "m.pt", "m", 4, 0.025)
    loaded = zoo.load_checkpoint(tmp_path / "m.pt")
    assert float(loaded.gaussian_conditional.scale_bound) == float(torch.tensor(0.29))
    old = {k: v for k, v in shipped_model.state_dict().items() if not k.endswith("scale_bound")}
    fresh = copy.deepcopy(model)
    fresh.load_state_dict(old)                                      # a file from before the bound
    assert float(fresh.gaussian_conditional.scale_bound) == float(torch.tensor(0.11))
    assert zoo.weights_hash(fresh) == h


def test_compressai_codes_with_our_bound(shipped_model, photos):
    pytest.importorskip("compressai")
    from codec_lib.data import to_tensor
    from codec_lib.interop import from_compressai, same_likelihoods, to_compressai
    model = copy.deepcopy(shipped_model)
    model.gaussian_conditional.set_scale_bound(0.25)
    theirs = to_compressai(model)
    x = to_tensor(photos[0][1].crop((0, 0, 128, 128)))
    assert same_likelihoods(model, theirs, x)
    assert float(from_compressai(theirs).gaussian_conditional.scale_bound) == 0.25


def test_export_tune_bound_records_the_choice(tiny_zoo, tmp_path, capsys):
    folder = tmp_path / "val"
    folder.mkdir()
    from codec_lib.data import sample_images
    for name, img in sample_images()[:2]:
        img.crop((0, 0, 128, 128)).save(folder / f"{name}.png")
    run = tiny_zoo / "run-tiny-ms"
    out = tmp_path / "t.pt"
    assert main(["export", str(run), str(out), "--name", "t", "--quality", "1",
                 "--tune-bound", str(folder)]) == 0
    assert "scale bound" in capsys.readouterr().out
    e = torch.load(out, map_location="cpu", weights_only=False)["meta"]["training"]["scale_bound"]
    assert e["tuned_on"].endswith("val (2 images)") and len(e["value"]) == 24    # one per channel
    assert set(e["value"]) <= {float(k) for k in e["rate"] if k != "per channel"}
    assert e["rate"]["per channel"] <= min(e["rate"].values())
    assert main(["export", str(run), str(tmp_path / "u.pt"), "--name", "t", "--quality", "1",
                 "--tune-bound", str(tmp_path / "nope")]) == 1
    assert "no such folder" in capsys.readouterr().err and not (tmp_path / "u.pt").exists()
    assert main(["export", str(tiny_zoo / "run-tiny-fp"), str(tmp_path / "f.pt"), "--name", "f",
                 "--quality", "1", "--tune-bound", str(folder)]) == 1
    assert "no Gaussian conditional" in capsys.readouterr().err


def test_bound_report_measures_real_bytes_at_both_bounds(tiny_zoo, script, tmp_path, capsys):
    report = script("bound_report")
    model = zoo.load_model("tiny-ms", 1)
    model.gaussian_conditional.set_scale_bound(0.3)                 # as if tuned
    zoo.save_checkpoint(model, tiny_zoo / "tuned.pt", "tuned-ms", 1, 0.01)
    zoo.register(tiny_zoo / "tuned.pt", training={"command": "test", "steps": 20, "device": "cpu"})
    try:
        from codec_lib.cli import models_markdown
        assert zoo.resolve("tuned-ms", 1)["scale_bound"] == 0.3        # the manifest records it
        assert "mean-scale, σ ≥ 0.3, 16, 24" in models_markdown()
        assert "σ" not in next(r for r in models_markdown().splitlines() if "`tiny-ms`" in r)
        man = json.loads((tiny_zoo / "manifest.json").read_text())
        e = next(e for e in man["models"] if e["name"] == "tuned-ms")
        e["scale_bound"] = [0.13, 0.3, 0.17]                            # one per channel
        (tiny_zoo / "manifest.json").write_text(json.dumps(man))
        assert "mean-scale, σ ≥ 0.13 to 0.3 per channel, 16, 24" in models_markdown()
        e["scale_bound"] = 0.3
        (tiny_zoo / "manifest.json").write_text(json.dumps(man))
        out = tmp_path / "b.json"
        assert report.main(["--models", "tuned-ms", "--limit", "1", "--json", str(out)]) == 0
        r = json.loads(out.read_text())["results"][0]["rates"][0]
        assert r["bound"] == 0.3 and r["bpp"] > 0 and r["bpp_0.11"] > 0
        assert abs(r["bytes_ratio"] - r["bpp"] / r["bpp_0.11"]) < 1e-9
        assert "tuned-ms q1: bound 0.30" in capsys.readouterr().out
        with pytest.raises(SystemExit, match="no installed image model"):
            report.main(["--models", "nope", "--limit", "1"])
    finally:
        man = json.loads((tiny_zoo / "manifest.json").read_text())      # the zoo is shared
        man["models"] = [e for e in man["models"] if e["name"] != "tuned-ms"]
        (tiny_zoo / "manifest.json").write_text(json.dumps(man))
        (tiny_zoo / "tuned.pt").unlink()


def test_bound_report_compares_bounds_per_channel_with_the_best_single_one(tiny_zoo, script,
                                                                           tmp_path, capsys):
    report = script("bound_report")
    model = zoo.load_model("tiny-ms", 1)
    model.gaussian_conditional.set_scale_bound([0.2, 0.3] * (model.M // 2))   # as if tuned
    zoo.save_checkpoint(model, tiny_zoo / "pc.pt", "pc-ms", 1, 0.01)
    rate = {"0.11": 1.0, "0.2": 0.98, "0.3": 0.99, "per channel": 0.97}     # the tuning's record
    zoo.register(tiny_zoo / "pc.pt", training={"command": "test", "steps": 20, "device": "cpu",
                                               "scale_bound": {"value": 0, "rate": rate}})
    try:
        out = tmp_path / "b.json"
        assert report.main(["--models", "pc-ms", "--limit", "1", "--json", str(out)]) == 0
        r = json.loads(out.read_text())["results"][0]["rates"][0]
        assert r["bound"] == [0.2, 0.3] * (model.M // 2) and r["single_bound"] == 0.2
        assert r["bpp_single"] > 0 and r["bpp"] > 0
        assert "bound 0.20 to 0.30 per channel" in capsys.readouterr().out
    finally:
        man = json.loads((tiny_zoo / "manifest.json").read_text())
        man["models"] = [e for e in man["models"] if e["name"] != "pc-ms"]
        (tiny_zoo / "manifest.json").write_text(json.dumps(man))
        (tiny_zoo / "pc.pt").unlink()
