"""The pure-PyTorch modulated deformable convolution against a slow, explicit DCNv2 reference."""
import torch

from videoinr.models.dcn import DeformConvPack, modulated_deform_conv2d


def _bilinear_zero(img: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """DCNv2's bilinear sample of img (C, H, W) at scalar (y, x): corners outside the image count as 0."""
    c, h, w = img.shape
    if y <= -1 or y >= h or x <= -1 or x >= w:
        return img.new_zeros(c)
    y0, x0 = int(torch.floor(y)), int(torch.floor(x))
    ly, lx = y - y0, x - x0
    out = img.new_zeros(c)
    for yy, wy in ((y0, 1 - ly), (y0 + 1, ly)):
        for xx, wx in ((x0, 1 - lx), (x0 + 1, lx)):
            if 0 <= yy < h and 0 <= xx < w:
                out = out + wy * wx * img[:, yy, xx]
    return out


def reference(x, offset, mask, weight, bias, groups):
    b, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    cg = c // groups
    out = []
    for bi in range(b):
        rows = []
        for yi in range(h):
            cols = []
            for xi in range(w):
                acc = bias.clone()
                for g in range(groups):
                    for ky in range(kh):
                        for kx in range(kw):
                            k = ky * kw + kx
                            dy = offset[bi, 2 * (g * kh * kw + k), yi, xi]
                            dx = offset[bi, 2 * (g * kh * kw + k) + 1, yi, xi]
                            m = mask[bi, g * kh * kw + k, yi, xi]
                            v = _bilinear_zero(x[bi, g * cg:(g + 1) * cg], yi - 1 + ky + dy, xi - 1 + kx + dx)
                            acc = acc + weight[:, g * cg:(g + 1) * cg, ky, kx] @ (m * v)
                cols.append(acc)
            rows.append(torch.stack(cols, -1))
        out.append(torch.stack(rows, -2))
    return torch.stack(out)


def test_matches_reference_forward_and_gradients():
    torch.manual_seed(0)
    b, c, o, g, h, w = 1, 4, 3, 2, 4, 5
    x = torch.rand(b, c, h, w, dtype=torch.float64, requires_grad=True)
    offset = (torch.randn(b, 2 * g * 9, h, w, dtype=torch.float64) * 1.5).requires_grad_()
    mask = torch.rand(b, g * 9, h, w, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(o, c, 3, 3, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(o, dtype=torch.float64, requires_grad=True)
    inputs = (x, offset, mask, weight, bias)

    fast = modulated_deform_conv2d(x, offset, mask, weight, bias, g)
    ref = reference(x, offset, mask, weight, bias, g)
    assert fast.shape == (b, o, h, w)
    torch.testing.assert_close(fast, ref, rtol=1e-9, atol=1e-9)

    upstream = torch.randn_like(ref)
    g_fast = torch.autograd.grad((fast * upstream).sum(), inputs)
    g_ref = torch.autograd.grad((ref * upstream).sum(), inputs)
    for name, a, r in zip(("x", "offset", "mask", "weight", "bias"), g_fast, g_ref):
        torch.testing.assert_close(a, r, rtol=1e-7, atol=1e-7, msg=f"gradient of {name}")


def test_zero_offsets_and_unit_mask_is_a_plain_convolution():
    torch.manual_seed(1)
    x = torch.rand(2, 8, 6, 7)
    weight, bias = torch.randn(5, 8, 3, 3), torch.randn(5)
    out = modulated_deform_conv2d(x, torch.zeros(2, 2 * 4 * 9, 6, 7), torch.ones(2, 4 * 9, 6, 7), weight, bias, 4)
    torch.testing.assert_close(out, torch.nn.functional.conv2d(x, weight, bias, padding=1), rtol=1e-5, atol=1e-5)


def test_integer_offset_shifts_the_sampling():
    # A +1 pixel x-offset on every tap equals convolving the image shifted left by one (zero fill); the
    # first column differs only because padding is applied before the shift there.
    torch.manual_seed(2)
    x = torch.rand(1, 2, 5, 6)
    weight = torch.randn(3, 2, 3, 3)
    offset = torch.zeros(1, 2 * 9, 5, 6)
    offset[:, 1::2] = 1.0
    out = modulated_deform_conv2d(x, offset, torch.ones(1, 9, 5, 6), weight, None, 1)
    shifted = torch.nn.functional.pad(x[..., 1:], (0, 1))
    expected = torch.nn.functional.conv2d(shifted, weight, padding=1)
    torch.testing.assert_close(out[..., 1:], expected[..., 1:], rtol=1e-5, atol=1e-5)


def test_pack_predicts_offsets_from_condition_and_learns():
    torch.manual_seed(3)
    layer = DeformConvPack(8, groups=4)
    x, cond = torch.rand(1, 8, 6, 6), torch.rand(1, 8, 6, 6)
    layer(x, cond).square().mean().backward()
    assert layer.conv_offset_mask.weight.grad.abs().sum() > 0
    assert layer.weight.grad.abs().sum() > 0


def _grid_sample_formulation(x, offset, mask, weight, bias, groups):
    """The previous implementation (one grid_sample over all taps, mask multiply, one matmul), kept as a
    second reference for shapes too large for the explicit loop above."""
    b, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    k, g = kh * kw, groups
    ky, kx = torch.meshgrid(torch.arange(kh, dtype=x.dtype) - (kh - 1) / 2, torch.arange(kw, dtype=x.dtype) - (kw - 1) / 2,
                            indexing="ij")
    ys = torch.arange(h, dtype=x.dtype).view(1, h, 1) + ky.reshape(k, 1, 1)
    xs = torch.arange(w, dtype=x.dtype).view(1, 1, w) + kx.reshape(k, 1, 1)
    off = offset.reshape(b, g, k, 2, h, w)
    py, px = ys + off[:, :, :, 0], xs + off[:, :, :, 1]
    grid = torch.stack(((2 * px + 1) / w - 1, (2 * py + 1) / h - 1), dim=-1).view(b * g, k * h, w, 2)
    sampled = torch.nn.functional.grid_sample(x.reshape(b * g, c // g, h, w), grid, mode="bilinear",
                                              padding_mode="zeros", align_corners=False)
    sampled = sampled.view(b, g, c // g, k, h, w) * mask.reshape(b, g, 1, k, h, w)
    out = torch.matmul(weight.reshape(o, c * k), sampled.reshape(b, c * k, h * w)) + bias.view(1, o, 1)
    return out.view(b, o, h, w)


import pytest  # noqa: E402


@pytest.mark.parametrize("band", [1 << 22, 300])  # one band, and bands of a few rows (300 // (w*c*k) = 1 row)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_banded_gather_equals_the_grid_sample_formulation(monkeypatch, band, layout):
    import videoinr.models.dcn as dcn

    monkeypatch.setattr(dcn, "BAND_ELEMENTS", band)
    torch.manual_seed(4)
    b, c, o, g, h, w = 2, 6, 5, 3, 7, 9
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    x = torch.rand(b, c, h, w).contiguous(memory_format=fmt)
    offset = (torch.randn(b, 2 * g * 9, h, w) * 4).contiguous(memory_format=fmt)  # many taps fall outside
    offset[0, :4, 0, 0] = 1e4  # far outside, and exactly on the last row / column
    offset[1, 0, 2, 3], offset[1, 1, 2, 3] = h - 2 + 1.0, w - 3 + 1.0
    mask = torch.rand(b, g * 9, h, w).contiguous(memory_format=fmt)
    weight, bias = torch.randn(o, c, 3, 3), torch.randn(o)
    got = dcn.modulated_deform_conv2d(x, offset, mask, weight, bias, g)
    want = _grid_sample_formulation(x, offset, mask, weight, bias, g)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_bf16_autocast_keeps_positions_in_float32():
    """Under bf16 autocast only the GEMM is bf16: at 300 pixels wide a bf16 position would be off by up to
    a pixel; here the result stays within bf16 GEMM rounding of float32."""
    torch.manual_seed(5)
    x = torch.rand(1, 4, 3, 300)
    offset, mask = torch.randn(1, 2 * 2 * 9, 3, 300) * 0.3, torch.rand(1, 2 * 9, 3, 300)
    weight, bias = torch.randn(4, 4, 3, 3) * 0.1, torch.zeros(4)
    ref = modulated_deform_conv2d(x, offset, mask, weight, bias, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = modulated_deform_conv2d(x.bfloat16(), offset.bfloat16().float(), mask, weight, bias, 2)
    assert (out.float() - ref).abs().max() < 0.02
