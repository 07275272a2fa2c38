"""CompressAI state dicts load into our models and back: same likelihoods, decodable strings."""
import pytest
import torch

compressai_models = pytest.importorskip("compressai.models")
from codec_lib.interop import from_compressai, same_likelihoods, to_compressai

CLASSES = ["FactorizedPrior", "ScaleHyperprior", "MeanScaleHyperprior"]


def decoded_latents(model, enc) -> torch.Tensor:
    """The ``y_hat`` a model's decoder recovers from ``enc`` (the input of its ``g_s``)."""
    box = {}
    hook = model.g_s.register_forward_pre_hook(lambda m, inp: box.update(y_hat=inp[0].detach()))
    model.decompress(enc["strings"], enc["shape"])
    hook.remove()
    return box["y_hat"].float()


@pytest.mark.parametrize("cls", CLASSES)
def test_compressai_to_ours_and_back(cls):
    torch.manual_seed(0)
    theirs = getattr(compressai_models, cls)(16, 24).eval()
    theirs.update(force=True)                                # their tables
    x = torch.rand(1, 3, 128, 192)
    ours = from_compressai(theirs)
    assert same_likelihoods(ours, theirs, x)
    # their strings decode with our model (same tables) to the same latents, and ours with theirs
    ct = theirs.compress(x)
    yo, yt = decoded_latents(ours, ct), decoded_latents(theirs, ct)
    assert torch.allclose(yo, yt, atol=1e-4)                 # means: float64 (ours) vs float32
    co = ours.compress(x)
    assert torch.allclose(decoded_latents(theirs, co), decoded_latents(ours, co), atol=1e-4)
    back = to_compressai(ours)
    assert same_likelihoods(ours, back, x)
    assert torch.allclose(back.decompress(co["strings"], co["shape"])["x_hat"],
                          ours.decompress(co["strings"], co["shape"])["x_hat"], atol=1e-5)
    if cls == "FactorizedPrior":                             # no float entropy parameters at all
        assert ct["strings"] == co["strings"]


def test_untrained_compressai_model_without_tables():
    torch.manual_seed(0)
    theirs = compressai_models.MeanScaleHyperprior(16, 24).eval()   # update() never called
    ours = from_compressai(theirs)
    x = torch.rand(1, 3, 64, 64)
    enc = ours.compress(x, return_x_hat=True)                # tables built on demand
    assert torch.equal(ours.decompress(enc["strings"], enc["shape"])["x_hat"], enc["x_hat"])
