"""Shallow synthesis transforms, partial initialization, and operation counts."""
import pytest
import torch

from codec_lib import complexity, zoo
from codec_lib.codec import decode_image, encode_image
from codec_lib.layers import SYNTHESES, synthesis_transform
from codec_lib.models import build_model
from codec_lib.train import TrainConfig, fit, init_from

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("kind", SYNTHESES)
def test_synthesis_shapes(kind):
    g_s = synthesis_transform(16, 24, kind=kind)
    for h, w in ((1, 1), (3, 5)):
        assert g_s(torch.zeros(1, 24, h, w)).shape == (1, 3, 16 * h, 16 * w)
    with pytest.raises(ValueError, match="unknown synthesis"):
        synthesis_transform(16, 24, kind="deeper")


def test_count_macs_by_hand():
    conv = torch.nn.Conv2d(3, 8, 5, stride=2, padding=2)           # 8x12 output positions
    assert complexity.count_macs(conv, torch.zeros(1, 3, 16, 24)) == 8 * 12 * 8 * 3 * 25
    deconv = torch.nn.ConvTranspose2d(96, 3, 18, stride=16, padding=1)
    assert complexity.count_macs(deconv, torch.zeros(1, 96, 2, 3)) == 96 * 6 * 3 * 18 * 18
    m = build_model("mean-scale", 64, 96)
    c = complexity.model_complexity(m, 512, 768)
    # g_s: 4 transposed convs + 3 IGDNs at 1/8, 1/4, 1/2 resolution, per image pixel
    want = (96 * 64 * 25 / 256 + 64 * 64 * 25 / 64 + 64 * 64 * 25 / 16 + 64 * 3 * 25 / 4
            + 64 * 64 * (1 / 64 + 1 / 16 + 1 / 4))
    assert c["g_s"]["macs_per_pixel"] == pytest.approx(want)
    lin = complexity.model_complexity(build_model("mean-scale", 64, 96, synthesis="linear"))
    assert lin["g_s"]["macs_per_pixel"] == pytest.approx(96 * 3 * 18 * 18 / 256)
    assert lin["g_a"] == c["g_a"]


def test_shallow_model_trains_saves_and_codes(tmp_path, photos, monkeypatch):
    """A shallow-decoder model initialized from a trained model: fit, save, load, code a file."""
    base = build_model("mean-scale", 16, 24).eval()
    zoo.save_checkpoint(base, tmp_path / "base.pt", "base", 1, 0.01)
    cfg = TrainConfig(arch="mean-scale", N=16, M=24, synthesis="linear", steps=3, batch_size=2,
                      crop=64, out=str(tmp_path / "run"), init=str(tmp_path / "base.pt"))
    model = fit(cfg, progress=False)
    assert model.synthesis == "linear" and len(model.g_s) == 1
    path = tmp_path / "lin.pt"
    zoo.save_checkpoint(model, path, "lin", 1, 0.01)
    monkeypatch.setenv(zoo.CHECKPOINT_ENV, str(tmp_path))
    zoo._CACHE.clear()
    entry = zoo.register(path)
    assert entry["synthesis"] == "linear"
    loaded = zoo.load_model("lin", 1)
    assert loaded.synthesis == "linear"
    img = photos[0][1].crop((0, 0, 96, 80))
    enc = encode_image(img, loaded)
    assert decode_image(enc.data).tobytes() == enc.x_hat.tobytes()
    zoo._CACHE.clear()


def test_init_from_copies_matching_tensors(tmp_path, capsys):
    src = build_model("mean-scale", 16, 24)
    with torch.no_grad():
        for p in src.parameters():
            p.add_(0.5)
    zoo.save_checkpoint(src.eval(), tmp_path / "src.pt", "src", 1, 0.01)
    fp = build_model("factorized", 16, 24)
    fresh = init_from(fp, str(tmp_path / "src.pt"))
    assert "fresh (entropy_bottleneck)" in capsys.readouterr().out
    assert torch.equal(fp.g_a[0].weight, src.g_a[0].weight.half().float())   # fp16 checkpoint
    assert any(k.startswith("entropy_bottleneck.matrices") for k in fresh)    # M != N channels
    assert not any(k.startswith(("g_a", "g_s")) for k in fresh)
