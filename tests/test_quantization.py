"""Rounding and its training proxies."""
import pytest
import torch

from codec_lib.quantization import PROXIES, quantize, soft_round, soft_round_inverse


def test_round_around_means():
    y = torch.tensor([0.2, 0.7, -1.4, 2.5])
    mu = torch.tensor([0.5, 0.5, 0.5, 0.5])
    assert torch.equal(quantize(y, "round", mu), torch.round(y - mu) + mu)


@pytest.mark.parametrize("mode", ["noise", "ste", "soft", "sga"])
def test_proxies_pass_gradients(mode):
    torch.manual_seed(0)
    y = (torch.randn(1000) * 3).requires_grad_()
    out = quantize(y, mode)
    out.sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0
    assert (out - y).abs().max() <= 1.0 + 1e-5               # never far from the input


def test_noise_is_uniform_half():
    torch.manual_seed(0)
    y = torch.zeros(100_000)
    e = quantize(y, "noise")
    assert e.min() >= -0.5 and e.max() <= 0.5 and abs(e.mean()) < 0.01
    assert abs(e.var() - 1 / 12) < 0.002


def test_ste_forward_rounds_backward_identity():
    y = torch.tensor([0.3, 1.6, -2.2], requires_grad=True)
    out = quantize(y, "ste")
    assert torch.equal(out.detach(), torch.round(y.detach()))
    out.sum().backward()
    assert torch.equal(y.grad, torch.ones(3))


def test_soft_round_limits_and_inverse():
    y = torch.linspace(-3, 3, 601)
    assert torch.allclose(soft_round(y, 1e-4), y)
    assert (soft_round(y, 50.0) - torch.round(y)).abs()[(y - y.round()).abs() < 0.3].max() < 1e-3
    for alpha in (0.5, 2.0, 8.0):
        assert torch.allclose(soft_round_inverse(soft_round(y, alpha), alpha), y, atol=1e-3)


def test_sga_anneals_to_rounding():
    torch.manual_seed(0)
    y = torch.rand(10_000) * 4 - 2
    y = y[(y - y.round()).abs() < 0.4]                       # away from the ties
    assert torch.allclose(quantize(y, "sga", tau=1e-4), torch.round(y), atol=1e-3)


def test_unknown_proxy():
    with pytest.raises(ValueError, match="unknown quantization proxy"):
        quantize(torch.zeros(1), "dither")
    assert set(PROXIES) == {"round", "noise", "ste", "soft", "sga"}


def test_soft_proxy_goes_from_noise_to_rounding():
    torch.manual_seed(0)
    y = torch.randn(50_000) * 3
    gaps = [(quantize(y, "soft", alpha=a) - torch.round(y)).abs().mean() for a in (0.0, 5.0, 50.0)]
    # alpha = 0: y + u, whose distance to round(y) is |uniform + uniform|, of mean 1/3
    assert abs(gaps[0] - 1 / 3) < 0.01 and gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.05
