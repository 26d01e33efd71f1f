"""Faster formulations of three convolution shapes in the conv nets, with unchanged parameters.

Each function takes the ``nn.Conv2d``/``nn.ConvTranspose2d`` that owns the weights, so state
dicts and checkpoints are the same as with the plain modules, and computes the same function
(to float rounding, see ``tests/test_fast_layers.py``) by a route that is faster on CPU:

* ``dense_heads``: a convolution whose kernel covers its whole input (the encoder's loc and
  scale heads) is a matrix product; both heads share one.
* ``grid_from_latent``: a transposed convolution of a 1×1 input (the decoder's first layer)
  is a matrix product whose output is already in channels_last order.
* ``upsample_subpixel``: the decoder's last layer (4×4 kernel, stride 2, padding 1, 1–3 output
  channels) runs at 15–45 GFLOP/s in oneDNN here. Each of its four output phases is a 2×2
  convolution of the input, so the layer is one 3×3 convolution with 4·C outputs followed by
  a pixel shuffle (2.1× faster forward at batch 256); the result is in the standard layout.
  Its backward uses the adjoint convolutions directly, with the incoming gradient put in the
  input's memory layout.

Measured on the 2-core CPU of ``docs/performance.md``; the sub-pixel route is used on CPU only
(cuDNN has its own kernels for this shape) and outside autocast.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# For a 4×4, stride-2, padding-1 transposed convolution, output row 2m + a receives input
# rows m + offset through kernel row k, for these (offset, k) pairs.
_PHASE_TAPS = {0: ((0, 1), (-1, 3)), 1: ((1, 0), (0, 2))}
_INDEX_CACHE: dict[tuple[int, int, str], Tensor] = {}


def dense_heads(h: Tensor, heads: list[nn.Conv2d]) -> list[Tensor]:
    """Outputs [N, D_i] of convolutions whose kernels cover all of ``h`` (no padding)."""
    n = h.shape[0]
    flat = h.permute(0, 2, 3, 1).reshape(n, -1)  # a view when h is channels_last
    weight = torch.cat([c.weight.permute(0, 2, 3, 1).reshape(c.out_channels, -1) for c in heads])
    bias = torch.cat([c.bias for c in heads])
    return list(F.linear(flat, weight, bias).split([c.out_channels for c in heads], dim=1))


def grid_from_latent(z: Tensor, layer: nn.ConvTranspose2d) -> Tensor:
    """``layer`` applied to z [N, D] viewed as [N, D, 1, 1]; the result is channels_last."""
    d, c, kh, kw = layer.weight.shape
    weight = layer.weight.permute(0, 2, 3, 1).reshape(d, kh * kw * c)
    out = torch.addmm(layer.bias.repeat(kh * kw), z, weight)
    return out.view(-1, kh, kw, c).permute(0, 3, 1, 2)


def subpixel_applies(x: Tensor, layer: nn.ConvTranspose2d) -> bool:
    """Whether ``upsample_subpixel`` is the faster route for this layer and input."""
    return (
        x.device.type == "cpu"
        and not torch.is_autocast_enabled("cpu")
        and layer.kernel_size == (4, 4) and layer.stride == (2, 2) and layer.padding == (1, 1)
        and layer.output_padding == (0, 0) and layer.dilation == (1, 1) and layer.groups == 1
        and layer.out_channels <= 4 and layer.bias is not None
        and x.dtype == layer.weight.dtype
    )


def _subpixel_index(c_in: int, c_out: int, device: torch.device) -> Tensor:
    """Index into [weight.flatten(), 0] giving the [4·C_out, C_in, 3, 3] sub-pixel kernel."""
    key = (c_in, c_out, str(device))
    if key not in _INDEX_CACHE:
        idx = torch.full((c_out, 2, 2, c_in, 3, 3), c_in * c_out * 16, dtype=torch.long)
        ci = torch.arange(c_in).view(-1, 1)
        co = torch.arange(c_out).view(1, -1)
        for a in (0, 1):
            for b in (0, 1):
                for di, ki in _PHASE_TAPS[a]:
                    for dj, kj in _PHASE_TAPS[b]:
                        idx[:, a, b, :, di + 1, dj + 1] = (((ci * c_out + co) * 4 + ki) * 4 + kj).t()
        _INDEX_CACHE[key] = idx.reshape(c_out * 4, c_in, 3, 3).to(device)
    return _INDEX_CACHE[key]


def _layout(x: Tensor) -> torch.memory_format:
    channels_last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
    return torch.channels_last if channels_last else torch.contiguous_format


class _SubPixelUpsample(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        c_in, c_out = weight.shape[:2]
        flat = torch.cat([weight.reshape(-1), weight.new_zeros(1)])
        kernel = flat[_subpixel_index(c_in, c_out, weight.device)].contiguous(memory_format=_layout(x))
        ctx.save_for_backward(x, weight)
        out = F.conv2d(x, kernel, bias.repeat_interleave(4), padding=1)
        # the shuffle is twice as fast from the standard layout, which the likelihood reads anyway
        return F.pixel_shuffle(out.contiguous(), 2)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, weight = ctx.saved_tensors
        grad = grad.contiguous(memory_format=_layout(x))
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:  # the adjoint of a transposed convolution is a convolution
            gx = F.conv2d(grad, weight, None, 2, 1)
        if ctx.needs_input_grad[1]:
            gw = torch.ops.aten.convolution_backward(
                x, grad, weight, None, [2, 2], [1, 1], [1, 1], False, [0, 0], 1, [False, True, False]
            )[1]
        if ctx.needs_input_grad[2]:
            gb = grad.sum((0, 2, 3))
        return gx, gw, gb


def subpixel_phases(x: Tensor, layer: nn.ConvTranspose2d) -> Tensor:
    """``layer(x)`` [N, C, 2H, 2W] with its pixels reordered as ``phase_order`` does, no shuffle.

    For sums over pixels (the likelihood) the order does not matter and the shuffle, 5–7% of
    an IWAE evaluation, is saved. Forward only.
    """
    c_in, c_out = layer.weight.shape[:2]
    flat = torch.cat([layer.weight.reshape(-1), layer.weight.new_zeros(1)])
    kernel = flat[_subpixel_index(c_in, c_out, layer.weight.device)].contiguous(memory_format=_layout(x))
    out = F.conv2d(x, kernel, layer.bias.repeat_interleave(4), padding=1)  # [N, 4C, H, W]
    n, _, h, w = out.shape
    return out.permute(0, 2, 3, 1).reshape(n, c_out, 2 * h, 2 * w)  # a view when channels_last


def phase_order(images: Tensor) -> Tensor:
    """Images [..., C, 2H, 2W] with pixels in the order ``subpixel_phases`` produces them."""
    *lead, c, hh, ww = images.shape
    x = images.reshape(-1, c, hh // 2, 2, ww // 2, 2).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(*lead, c, hh, ww)


def upsample_subpixel(x: Tensor, layer: nn.ConvTranspose2d) -> Tensor:
    """``layer(x)`` for a 4×4, stride-2, padding-1 transposed convolution, by sub-pixel conv."""
    return _SubPixelUpsample.apply(x, layer.weight, layer.bias)
