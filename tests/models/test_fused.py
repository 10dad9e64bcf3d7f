"""The fused oneDNN convolutions (`videoinr.models.fused`) against the plain PyTorch ops they replace."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from videoinr.models import fused
from videoinr.models.encoder import ResidualBlock

PLAIN = {"none": lambda y: y, "relu": F.relu, "lrelu": lambda y: F.leaky_relu(y, 0.1)}


def _layer(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    torch.manual_seed(0)
    layer = nn.Conv2d(cin, cout, 3, stride, 1)
    layer.bias.data.normal_()  # a non-zero bias, so a dropped bias shows
    return layer


@pytest.mark.parametrize("act", ["none", "relu", "lrelu"])
@pytest.mark.parametrize("stride", [1, 2])
def test_conv_float32_matches_plain(act, stride):
    layer = _layer(6, 8, stride)
    x = torch.randn(2, 6, 11, 14)
    with torch.no_grad():
        got = fused.conv(layer, x, act)
        want = PLAIN[act](layer(x))
    assert got.shape == want.shape and got.dtype == torch.float32
    assert torch.allclose(got, want, atol=1e-5, rtol=1e-5)


def test_conv_add_matches_plain_and_leaves_residual():
    layer = _layer(8, 8)
    x, res = torch.randn(1, 8, 9, 10), torch.randn(1, 8, 9, 10)
    before = res.clone()
    with torch.no_grad():
        got = fused.conv_add(layer, x, res)
    assert torch.allclose(got, res + layer(x).detach(), atol=1e-5, rtol=1e-5)
    assert torch.equal(res, before)  # the add writes a new tensor, not into the residual


def test_bf16_autocast_runs_in_bf16_within_rounding():
    block = ResidualBlock(16)
    torch.manual_seed(1)
    x = torch.randn(1, 16, 12, 20).bfloat16()  # as in the encoder: activations are bf16 under autocast
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        got = block(x)
        y = F.relu(block.conv1(x))
        want = x + block.conv2(y)  # the unfused autocast path
    assert got.dtype == want.dtype == torch.bfloat16
    err = (got.float() - want.float()).abs()
    assert err.max() <= 2 ** -7 * want.float().abs().max()  # bf16 rounding of the output, not a wrong result
    assert err.mean() < 1e-2 * want.float().abs().mean()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):  # a float32 residual adds in float32
        assert fused.conv_add(block.conv2, y, x.float()).dtype == torch.float32


def test_training_takes_the_plain_ops_and_gets_gradients(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.ops.mkldnn, "_convolution_pointwise",
                        lambda *a: calls.append(a), raising=False)
    layer = _layer(4, 4)
    x = torch.randn(1, 4, 6, 6, requires_grad=True)
    fused.conv_add(layer, fused.conv(layer, x, "lrelu"), x).sum().backward()
    assert not calls  # grad mode: never the fused (forward-only) op
    assert x.grad is not None and layer.weight.grad is not None


def test_fused_path_is_the_one_taken_in_inference(monkeypatch):
    seen = []
    real = torch.ops.mkldnn._convolution_pointwise

    def spy(*args):
        seen.append(args[7])
        return real(*args)

    monkeypatch.setattr(torch.ops.mkldnn, "_convolution_pointwise", spy, raising=False)
    with torch.inference_mode():
        fused.conv(_layer(3, 4), torch.rand(1, 3, 5, 5), "lrelu")
    assert seen == ["leaky_relu"]


def test_rejects_an_unknown_activation():
    with pytest.raises(ValueError, match="act must be one of"):
        fused.conv(_layer(3, 3), torch.rand(1, 3, 4, 4), "gelu")


def test_flop_counter_counts_the_fused_calls_as_convolutions():
    from torch.utils.flop_counter import FlopCounterMode

    layer = _layer(8, 8)
    x = torch.rand(1, 8, 10, 12)

    def count(grad: bool) -> int:
        with torch.set_grad_enabled(grad), FlopCounterMode(display=False) as fc:
            fused.conv_add(layer, fused.conv(layer, x, "relu"), x)
        return fc.get_total_flops()

    assert count(False) == count(True) == 2 * 2 * 8 * 8 * 9 * 10 * 12  # fused (no grad) == plain (grad)
