"""Adversarial training: the discriminator learns, runs resume exactly, exports are perceptual."""
import pytest
import torch

from codec_lib import zoo
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
