"""SIREN MLP (Sitzmann et al., 2020): sine activations with omega0, linear output layer.

The first layer is exposed separately so that its product with inputs that live on the LR grid can be
computed once per frame pair (a linear map commutes with nearest and bilinear sampling); the caller then
adds the per-point terms and continues with `from_first`. omega0 is folded into the (small) weights at
call time rather than multiplied into every activation.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _linear(x: Tensor, weight: Tensor, bias: Tensor, gemm_dtype: torch.dtype | None = None) -> Tensor:
    """F.linear, float32 out. gemm_dtype (bf16) runs the GEMM in that dtype (float32 accumulation inside,
    output rounded to it). When compiling, a bias-free GEMM plus an add that inductor fuses into the next
    elementwise loop (the CPU addmm first copies the bias into its output: a whole extra pass)."""
    if gemm_dtype is not None:
        return torch.matmul(x.to(gemm_dtype), weight.t().to(gemm_dtype)).float() + bias
    if torch.compiler.is_compiling():
        return torch.matmul(x, weight.t()) + bias
    return F.linear(x, weight, bias)


class Siren(nn.Module):
    def __init__(self, in_dim: int, hidden: tuple[int, ...], out_dim: int, omega0: float = 30.0) -> None:
        super().__init__()
        self.omega0 = omega0
        dims = (in_dim, *hidden)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.out = nn.Linear(dims[-1], out_dim)
        with torch.no_grad():
            first = self.layers[0]
            first.weight.uniform_(-1 / in_dim, 1 / in_dim)
            for layer in [*self.layers[1:], self.out]:
                bound = math.sqrt(6 / layer.in_features) / omega0
                layer.weight.uniform_(-bound, bound)

    @property
    def first(self) -> nn.Linear:
        return self.layers[0]

    def from_first(self, z: Tensor, gemm_dtype: torch.dtype | None = None) -> Tensor:
        """Continue from z = omega0 * (first layer output), (..., hidden[0]), to the output (..., out_dim).

        gemm_dtype: run the hidden and output GEMMs in this dtype (bf16); sines and adds stay float32."""
        x = torch.sin(z)
        for layer in self.layers[1:]:
            x = torch.sin(_linear(x, layer.weight * self.omega0, layer.bias * self.omega0, gemm_dtype))
        return _linear(x, self.out.weight, self.out.bias, gemm_dtype)

    def forward(self, x: Tensor) -> Tensor:
        w0 = self.omega0
        return self.from_first(F.linear(x, self.first.weight * w0, self.first.bias * w0))
