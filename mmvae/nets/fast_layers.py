"""Faster routes for the layer shapes of the FC and conv nets, with unchanged parameters.

:func:`mmvae.nets.accelerate` puts them into built networks. Each function takes the ``nn.Linear``/``nn.Conv2d``/``nn.ConvTranspose2d`` that owns the
weights (or its tensors), so state dicts and checkpoints are the same as with the plain modules,
and computes the same function (to float rounding, see ``tests/test_fast_layers.py``) by a
route that is faster on CPU:

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
* ``linear``: on AMD CPUs, float32 matrix products of wide layers go to oneDNN instead of MKL's
  sgemm, which runs at ~200 GFLOP/s on the AMD EPYC of ``docs/performance.md`` against
  oneDNN's ~440 (20–35% less time for the FC-400 MNIST layers, forward + backward). On an Intel
  Xeon MKL was the faster one (1.8 vs 2.7 ms), so elsewhere products stay with MKL;
  ``MMVAE_ONEDNN_LINEAR=1``/``0`` forces the choice.

Measured on the 2-core CPUs of ``docs/performance.md``; the sub-pixel and oneDNN routes are used
on CPU only (cuDNN has its own kernels for these shapes) and outside autocast.
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# For a 4×4, stride-2, padding-1 transposed convolution, output row 2m + a receives input
# rows m + offset through kernel row k, for these (offset, k) pairs.
_PHASE_TAPS = {0: ((0, 1), (-1, 3)), 1: ((1, 0), (0, 2))}
_INDEX_CACHE: dict[tuple[int, int, str], Tensor] = {}


def _cpu_vendor() -> str:
    """The CPU's vendor string ("AuthenticAMD", "GenuineIntel") on Linux, else ""."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _prefer_onednn_linear() -> bool:
    forced = os.environ.get("MMVAE_ONEDNN_LINEAR", "")
    return forced == "1" if forced in ("0", "1") else _cpu_vendor() == "AuthenticAMD"


# whether wide float32 products take the oneDNN route (MKL's sgemm is slow on AMD CPUs only)
ONEDNN_LINEAR = _prefer_onednn_linear()


def _onednn_applies(x: Tensor, weight: Tensor) -> bool:
    # narrow products (a 20-wide latent, 40 head outputs) are faster in MKL: measured fwd+bwd
    # 0.16 vs 0.29 ms at 256×20→400, 2.6 vs 2.1 ms at 256×400→784
    return (
        ONEDNN_LINEAR and min(weight.shape) >= 128 and x.device.type == "cpu" and x.dtype == weight.dtype == torch.float32
        and not torch.is_autocast_enabled("cpu") and torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.mkldnn, "_linear_pointwise")
        and not torch.compiler.is_compiling()  # inductor lowers this op for frozen weights only
    )


def _onednn_matmul(a: Tensor, b_t: Tensor, bias: Tensor | None = None) -> Tensor:
    """a @ b_t.T (+ bias) through oneDNN; a [N, K], b_t [M, K]."""
    return torch.ops.mkldnn._linear_pointwise(a.contiguous(), b_t.contiguous(), bias, "none", [], "")


class _OneDNNLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _onednn_matmul(x, weight, bias)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, weight = ctx.saved_tensors
        gx = _onednn_matmul(grad, weight.t()) if ctx.needs_input_grad[0] else None
        gw = _onednn_matmul(grad.t(), x.t()) if ctx.needs_input_grad[1] else None
        gb = grad.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return gx, gw, gb


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.linear(x, weight, bias)`` for x [..., K], through oneDNN where that is faster."""
    if not _onednn_applies(x, weight):
        return F.linear(x, weight, bias)
    lead = x.shape[:-1]
    out = _OneDNNLinear.apply(x.reshape(-1, x.shape[-1]), weight, bias)
    return out.view(*lead, weight.shape[0])


class FastLinear(nn.Linear):
    """``nn.Linear`` (same parameters) computed by :func:`linear`."""

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)


def linear_heads(h: Tensor, heads: list[nn.Linear]) -> list[Tensor]:
    """Outputs of several linear layers reading the same input, from one matrix product."""
    weight = torch.cat([layer.weight for layer in heads])
    bias = torch.cat([layer.bias for layer in heads])
    return list(linear(h, weight, bias).split([layer.out_features for layer in heads], dim=-1))


def dense_heads(h: Tensor, heads: list[nn.Conv2d]) -> list[Tensor]:
    """Outputs [N, D_i] of convolutions whose kernels cover all of ``h`` (no padding)."""
    n = h.shape[0]
    flat = h.permute(0, 2, 3, 1).reshape(n, -1)  # a view when h is channels_last
    weight = torch.cat([c.weight.permute(0, 2, 3, 1).reshape(c.out_channels, -1) for c in heads])
    bias = torch.cat([c.bias for c in heads])
    return list(linear(flat, weight, bias).split([c.out_channels for c in heads], dim=1))


def grid_from_latent(z: Tensor, layer: nn.ConvTranspose2d) -> Tensor:
    """``layer`` applied to z [N, D] viewed as [N, D, 1, 1]; the result is channels_last."""
    d, c, kh, kw = layer.weight.shape
    weight = layer.weight.permute(2, 3, 1, 0).reshape(kh * kw * c, d)  # rows in (kh, kw, c) order
    out = linear(z, weight, layer.bias.repeat(kh * kw))
    return out.view(-1, kh, kw, c).permute(0, 3, 1, 2)


def conv_bias_apart(x: Tensor, layer: nn.Module) -> Tensor:
    """``layer(x)`` for an ``nn.Conv2d``/``nn.ConvTranspose2d``, adding the bias separately on CPU."""
    if (x.device.type != "cpu" or layer.bias is None or torch.is_autocast_enabled("cpu")
            or torch.compiler.is_compiling() or layer.padding_mode != "zeros"):
        return layer(x)
    if isinstance(layer, nn.ConvTranspose2d):
        out = F.conv_transpose2d(x, layer.weight, None, layer.stride, layer.padding,
                                 layer.output_padding, layer.groups, layer.dilation)
    else:
        out = F.conv2d(x, layer.weight, None, layer.stride, layer.padding, layer.dilation, layer.groups)
    return out.add_(layer.bias.view(1, -1, 1, 1))


def subpixel_applies(x: Tensor, layer: nn.ConvTranspose2d) -> bool:
    """Whether ``upsample_subpixel`` is the faster route for this layer and input."""
    return (
        x.device.type == "cpu"
        and not torch.is_autocast_enabled("cpu")
        and layer.kernel_size == (4, 4) and layer.stride == (2, 2) and layer.padding == (1, 1)
        and layer.output_padding == (0, 0) and layer.dilation == (1, 1) and layer.groups == 1
        and layer.out_channels <= 4 and layer.bias is not None
        and x.dtype == layer.weight.dtype
        and not torch.compiler.is_compiling()  # under torch.compile, inductor picks the kernels
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
