"""Convolutions with their activation or residual add fused into one oneDNN call (CPU inference).

`conv(layer, x, act)` = act(layer(x)) and `conv_add(layer, x, residual)` = residual + layer(x). On the CPU,
with no gradient recorded, they run as one `torch.ops.mkldnn._convolution_pointwise` call each: the
activation or the add is applied to the convolution's output tile while it is in cache, instead of another
pass over the whole feature map (a 480x856 encode 8% faster, one residual block 28%; docs/MEASUREMENTS.md). Under a CPU bf16 autocast the fused call runs in bf16 as the autocast
convolution would (input, weight and bias cast to bf16, bf16 output); the results then differ from the
unfused path by bf16 rounding only (the activation or add is rounded once instead of twice). Anywhere else
(training, CUDA, float64, oneDNN missing) they are the plain PyTorch ops.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.flop_counter import conv_flop_count, register_flop_formula

__all__ = ["conv", "conv_add", "LRELU_SLOPE"]

LRELU_SLOPE = 0.1  # the encoder's leaky ReLU (EDVR / Zooming SlowMo)
_ATTRS = {"none": ("none", []), "relu": ("relu", []), "lrelu": ("leaky_relu", [LRELU_SLOPE])}  # oneDNN post-op
_ACTS = tuple(_ATTRS)


def _fused_dtype(x: Tensor) -> torch.dtype | None:
    """The dtype the fused call runs in for input x, or None where the plain ops must run."""
    if torch.is_grad_enabled() or x.device.type != "cpu" or not torch.backends.mkldnn.is_available():
        return None
    if torch.is_autocast_enabled("cpu"):
        return torch.bfloat16 if torch.get_autocast_dtype("cpu") == torch.bfloat16 else None
    return x.dtype if x.dtype in (torch.float32, torch.bfloat16) else None


def _operands(layer: nn.Conv2d, x: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor | None]:
    """x, weight and bias in `dtype`, channels-last (the layout oneDNN runs fastest)."""
    cl = torch.channels_last
    bias = None if layer.bias is None else layer.bias.to(dtype)
    return x.to(dtype).contiguous(memory_format=cl), layer.weight.to(dtype).contiguous(memory_format=cl), bias


def _plain_act(y: Tensor, act: str) -> Tensor:
    if act == "relu":
        return F.relu(y)
    if act == "lrelu":
        return F.leaky_relu(y, LRELU_SLOPE)
    return y


def _check(layer: nn.Conv2d, act: str) -> None:
    if act not in _ACTS:
        raise ValueError(f"act must be one of {_ACTS}, got {act!r}")
    if layer.padding_mode != "zeros" or isinstance(layer.padding, str):
        raise ValueError("fused convolutions take numeric zero padding only")


def conv(layer: nn.Conv2d, x: Tensor, act: str = "none") -> Tensor:
    """act(layer(x)) for a Conv2d `layer`; act: "none", "relu" or "lrelu" (slope LRELU_SLOPE)."""
    _check(layer, act)
    dtype = _fused_dtype(x)
    if dtype is None:
        return _plain_act(layer(x), act)
    xd, w, b = _operands(layer, x, dtype)
    attr, scalars = _ATTRS[act]
    return torch.ops.mkldnn._convolution_pointwise(xd, w, b, list(layer.padding), list(layer.stride),
                                                   list(layer.dilation), layer.groups, attr, scalars, "")


def conv_add(layer: nn.Conv2d, x: Tensor, residual: Tensor) -> Tensor:
    """residual + layer(x) for a Conv2d `layer`; residual has the convolution's output shape."""
    _check(layer, "none")
    dtype = _fused_dtype(x)
    if dtype is None or residual.dtype != dtype:  # (a float32 residual under bf16 autocast adds in float32)
        return residual + layer(x)
    xd, w, b = _operands(layer, x, dtype)
    other = residual.contiguous(memory_format=torch.channels_last)
    return torch.ops.mkldnn._convolution_pointwise.binary(
        xd, other, w, b, list(layer.padding), list(layer.stride), list(layer.dilation), layer.groups,
        "add", None, None, [], None)


# torch.utils.flop_counter counts the fused calls as the convolutions they are (benchmarks count FLOPs so)
@register_flop_formula(torch.ops.mkldnn._convolution_pointwise)
def _conv_flops(x_shape, *args, out_shape=None, **kwargs) -> int:
    w_shape = args[0] if len(args) == 9 else args[1]  # .default: (X, W, ...); .binary: (X, other, W, ...)
    return conv_flop_count(list(x_shape), list(w_shape), list(out_shape))
