"""forward / compress / decompress of the three architectures."""
import pytest
import torch

from codec_lib.entropy_coding import ReferenceCoder
from codec_lib.layers import GDN, analysis_transform, synthesis_transform
from codec_lib.models import ARCHITECTURES, build_model

ARCHS = sorted(ARCHITECTURES)


@pytest.mark.parametrize("act", ["gdn", "relu", "residual"])
def test_transform_shapes(act):
    g_a, g_s = analysis_transform(8, 12, act), synthesis_transform(8, 12, act)
    x = torch.rand(2, 3, 64, 96)
    y = g_a(x)
    assert y.shape == (2, 12, 4, 6)
    assert g_s(y).shape == x.shape


def test_gdn_matches_its_formula():
    torch.manual_seed(0)
    x = torch.randn(1, 4, 8, 8)
    gdn, igdn = GDN(4), GDN(4, inverse=True)
    with torch.no_grad():
        gdn.gamma.add_(0.05 * torch.rand(4, 4))
        beta, gamma = gdn.beta_reparam(gdn.beta), gdn.gamma_reparam(gdn.gamma)
        norm = beta.view(1, 4, 1, 1) + torch.einsum("ij,bjhw->bihw", gamma, x * x)
        assert torch.allclose(gdn(x), x / torch.sqrt(norm), atol=1e-6)
        assert torch.allclose(igdn(x), x * torch.sqrt(1 + 0.1 * x * x), atol=1e-4)  # at init


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("size", [(64, 64), (37, 101), (1, 1)])
def test_forward_any_size(arch, size):
    torch.manual_seed(0)
    m = build_model(arch, 8, 12)
    x = torch.rand(2, 3, *size)
    out = m(x)                                               # training mode, padded inside
    assert out["x_hat"].shape == x.shape
    names = {"y"} if arch == "factorized" else {"y", "z"}
    assert set(out["likelihoods"]) == names
    for lik in out["likelihoods"].values():
        assert (lik > 0).all() and (lik <= 1).all()
    loss = sum(torch.log2(l).sum() for l in out["likelihoods"].values())
    loss.backward()                                          # gradients reach the encoder
    assert m.g_a[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("arch", ARCHS)
def test_roundtrip_bit_exact_and_batched(arch):
    torch.manual_seed(0)
    m = build_model(arch, 8, 12).eval()
    x = torch.rand(2, 3, 70, 90)
    enc = m.compress(x, return_x_hat=True)
    assert [len(g) for g in enc["strings"]] == [2] * len(enc["strings"])   # one string per image
    dec = m.decompress(enc["strings"], enc["shape"], size=enc["size"])
    assert torch.equal(dec["x_hat"], enc["x_hat"])           # encoder knows the decoder's output
    assert torch.equal(m.decompress(enc["strings"], enc["shape"], size=enc["size"])["x_hat"],
                       dec["x_hat"])                         # decoding twice: same pixels
    assert torch.allclose(dec["x_hat"], m(x)["x_hat"].clamp(0, 1), atol=1e-4)


def test_reference_coder_same_strings():
    torch.manual_seed(0)
    m = build_model("mean-scale", 8, 12).eval()
    x = torch.rand(1, 3, 64, 64)
    a, b = m.compress(x), m.compress(x, coder=ReferenceCoder())
    assert a["strings"] == b["strings"]


def test_tables_refresh_when_weights_change():
    torch.manual_seed(0)
    m = build_model("hyperprior", 8, 12).eval()
    x = torch.rand(1, 3, 64, 64)
    m.compress(x)
    before = m.entropy_bottleneck._quantized_cdf.clone()
    with torch.no_grad():                                    # as an optimizer step would
        m.entropy_bottleneck.quantiles.add_(torch.tensor([-3.0, 0.0, 3.0]))
        m.entropy_bottleneck.biases[0].add_(0.3)
    enc = m.compress(x, return_x_hat=True)                   # no update() call needed
    assert not torch.equal(before, m.entropy_bottleneck._quantized_cdf)
    assert torch.equal(m.decompress(enc["strings"], enc["shape"])["x_hat"][..., :64, :64],
                       enc["x_hat"])


def test_loaded_tables_are_kept():
    """Tables saved with the weights are used as they are, not rebuilt."""
    torch.manual_seed(0)
    a = build_model("mean-scale", 8, 12)
    a.update_tables()
    sd = a.state_dict()
    sd["entropy_bottleneck._quantized_cdf"][0, 1] += 1      # a marker only a load can carry
    b = build_model("mean-scale", 8, 12)
    b.load_state_dict(sd)
    b.update_tables()
    assert torch.equal(b.entropy_bottleneck._quantized_cdf, sd["entropy_bottleneck._quantized_cdf"])


def test_unknown_arch():
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("transformer")


def test_likelihoods_stay_float32_under_autocast():
    """Mixed precision speeds up the transforms; the entropy models keep float32."""
    torch.manual_seed(0)
    m = build_model("mean-scale", 8, 12).train()
    x = torch.rand(2, 3, 64, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = m(x)
    assert out["x_hat"].dtype == torch.bfloat16
    assert all(l.dtype == torch.float32 for l in out["likelihoods"].values())
