"""Adversarial training: the discriminator learns, runs resume exactly, exports are perceptual."""
import pytest
import torch

from codec_lib import manifest, zoo
from codec_lib.bitstream import unpack
from codec_lib.cli import main
from codec_lib.codec import decode_image, encode_image
from codec_lib.gan import Adversary, Discriminator
from codec_lib.train import TrainConfig, fit

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def small(out, steps, **kw):
    return TrainConfig(arch="mean-scale", N=8, M=12, steps=steps, batch_size=2, crop=64,
                       out=str(out), checkpoint_every=2, beta=0.5, **kw)


def test_discriminator_shapes_and_learning():
    D = Discriminator(M=12)
    x, y_hat = torch.rand(2, 3, 64, 96), torch.randn(2, 12, 4, 6)
    assert D(x, y_hat).shape == (2, 1, 4, 6)                     # one logit per 16x16 patch
    torch.manual_seed(0)
    adv = Adversary(M=12, lr=1e-3, C=16)
    real, fake = torch.rand(4, 3, 32, 32), torch.full((4, 3, 32, 32), 0.5)   # flat "fakes"
    y = torch.randn(4, 12, 2, 2)
    first = adv.step(real, fake, y)
    for _ in range(30):
        last = adv.step(real, fake, y)
    assert last["d_loss"] < first["d_loss"] and last["d_real"] > last["d_fake"]
    with torch.no_grad():
        assert float(adv.generator_loss(fake, y)) > float(adv.generator_loss(real, y))


def test_gan_training_resumes_exactly_and_exports_perceptual(tmp_path, photos, capsys, monkeypatch):
    a = fit(small(tmp_path / "a", 4), progress=False)
    fit(small(tmp_path / "b", 2), progress=False)                 # "interrupted" after 2 steps
    b = fit(small(tmp_path / "b", 4), progress=False)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    ck_a = torch.load(tmp_path / "a" / "last.pt", weights_only=False)
    ck_b = torch.load(tmp_path / "b" / "last.pt", weights_only=False)
    assert all(torch.equal(v, ck_b["adversary"]["D"][k]) for k, v in ck_a["adversary"]["D"].items())
    assert {"g", "d_loss"} <= set(ck_a["history"][-1])
    monkeypatch.setenv(zoo.CHECKPOINT_ENV, str(tmp_path))
    assert main(["export", str(tmp_path / "a"), str(tmp_path / "gan.pt"), "--name", "gan",
                 "--quality", "1", "--register"]) == 0
    entry = zoo.list_models()[0]
    assert entry["objective"] == "perceptual"
    zoo._CACHE.clear()
    model = zoo.load_model("gan", 1)
    img = photos[1][1].crop((0, 0, 80, 64))
    enc = encode_image(img, model)
    assert decode_image(enc.data).tobytes() == enc.x_hat.tobytes()
    zoo._CACHE.clear()


def test_discriminator_sees_the_high_pass_band():
    """A flat image has no high-pass band: the extra channels are zero, so only x and y_hat count."""
    D = Discriminator(M=12, C=16)
    flat = torch.full((1, 3, 32, 32), 0.25)
    high = flat - torch.nn.functional.conv2d(torch.nn.functional.pad(flat, (2,) * 4, mode="reflect"),
                                             D.blur, groups=3)
    assert high.abs().max() < 1e-6
    assert D.net[0].in_channels == 6 + 12


def test_decoder_only_fine_tuning_keeps_the_bitstream(tmp_path, tiny_zoo, photos, capsys):
    """--trainable g_s with --init: every other tensor (and the coding tables) stays as it was,
    so the generative codec writes the very same entropy-coded bytes as its MSE parent."""
    parent_path = tiny_zoo / "tiny-ms.pt"
    parent = zoo.load_checkpoint(parent_path)
    cfg = TrainConfig(arch="mean-scale", N=16, M=24, steps=3, batch_size=2, crop=64, lmbda=0.01,
                      out=str(tmp_path / "ft"), checkpoint_every=3, beta=0.5, disc_channels=16,
                      trainable=["g_s"], init=str(parent_path))
    child = fit(cfg, progress=False)
    sp, sc = parent.state_dict(), child.state_dict()
    changed = {k for k in sp if not torch.equal(sp[k].float(), sc[k].float())}
    assert changed and all(k.startswith("g_s.") for k in changed)
    assert all(not p.requires_grad for n, p in child.named_parameters() if not n.startswith("g_s"))
    out = tiny_zoo / "tiny-gan.pt"
    assert main(["export", cfg.out, str(out), "--name", "tiny-gan", "--quality", "1", "--register"]) == 0
    entry = next(m for m in zoo.list_models() if m["name"] == "tiny-gan")
    assert entry["objective"] == "perceptual"
    img = photos[1][1].crop((0, 0, 96, 64))
    a, b = encode_image(img, parent).data, encode_image(img, zoo.load_model("tiny-gan", 1)).data
    assert unpack(a)[1] == unpack(b)[1]                           # same strings, other header
    man = zoo.read_manifest(tiny_zoo)
    e = next(e for e in man["models"] if e["name"] == "tiny-gan")
    assert e["training"]["init"]["sha256"] == zoo.sha256_file(parent_path)
    # stored as changes to the installed parent: g_s only, and the same weights once loaded
    obj = torch.load(out, weights_only=True)
    assert obj["parent"]["name"] == "tiny-ms" and out.stat().st_size < parent_path.stat().st_size
    assert obj["state_dict"] and all(k.startswith("g_s.") for k in obj["state_dict"])
    loaded = zoo.load_model("tiny-gan", 1).state_dict()
    assert all(torch.equal(loaded[k], v.half().float()) for k, v in child.state_dict().items()
               if v.is_floating_point() and not k.endswith(zoo._FLOAT32_KEYS))
    obj["parent"]["weights_hash"] = "00" * 8                    # made from other parent weights
    torch.save(obj, tiny_zoo / "other.pt")
    with pytest.raises(zoo.ModelError, match="other weights of its parent model 'tiny-ms'"):
        zoo.load_checkpoint(tiny_zoo / "other.pt")
    (tiny_zoo / "other.pt").unlink()
    out.unlink()
    man["models"] = [e for e in man["models"] if e["name"] != "tiny-gan"]
    manifest._write_manifest(tiny_zoo, man)


def test_trainable_must_match_something():
    from codec_lib.models import build_model
    from codec_lib.train import configure_optimizers
    with pytest.raises(ValueError, match="no parameter"):
        configure_optimizers(build_model("mean-scale", 8, 12), 1e-4, 1e-3, ["nothing"])
