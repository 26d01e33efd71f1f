"""One explicit step that puts the CPU fast routes of :mod:`.fast_layers` into built networks.

``accelerate(model)`` changes the class of the modules it knows (the conv and FC encoders and
decoders, ``nn.Linear``) to subclasses that compute the same function by faster routes. The
parameters, their names and the state dict stay exactly as they were, so checkpoints, DDP and
optimisers do not notice; ``plain(model)`` reverts it. The pipeline applies it after building a
model, next to ``channels_last``; the networks themselves are plain PyTorch.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .conv import ConvDecoder, ConvEncoder
from .fast_layers import (
    FastLinear,
    conv_bias_apart,
    dense_heads,
    grid_from_latent,
    linear_heads,
    phase_order,
    subpixel_applies,
    subpixel_phases,
    upsample_subpixel,
)
from .fc import FCEncoder


class AnyOrderDecoder:
    """A decoder that can also emit its means with the pixels in a cheaper fixed order."""

    def forward_any_order(self, z: Tensor):
        """(means [N, C, H, W] with pixels in some fixed order, a function putting images in that
        order). For quantities summed over pixels, such as log-likelihoods, in inference."""
        return self(z), _same_order


def _same_order(images: Tensor) -> Tensor:
    return images


def _conv_trunk(h: Tensor, layers) -> Tensor:
    for layer in layers:
        h = conv_bias_apart(h, layer) if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)) else layer(h)
    return h


class FastConvEncoder(ConvEncoder):
    """Conv biases added apart; both heads (full-extent convolutions) as one matrix product."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        loc, raw_scale = dense_heads(_conv_trunk(x, self.trunk), [self.loc, self.raw_scale])
        return loc, raw_scale


class FastConvDecoder(AnyOrderDecoder, ConvDecoder):
    """First layer (a transposed conv of a 1×1 input) as a matrix product, biases apart, and the
    last layer as a sub-pixel convolution."""

    def _hidden(self, z: Tensor) -> Tensor:
        first, *middle, _ = self.net
        h = grid_from_latent(z.reshape(-1, self.latent_dim), first)
        if middle and isinstance(middle[0], nn.ReLU):
            # out of place: in place on this view of the product, autograd would hand the ReLU's
            # backward its gradient in the other memory layout (a strided kernel: benchmarks/first_relu_layout.py)
            h, middle = torch.relu(h), middle[1:]
        return _conv_trunk(h, middle)

    def forward(self, z: Tensor) -> Tensor:
        h, last = self._hidden(z), self.net[-1]
        return torch.sigmoid(upsample_subpixel(h, last) if subpixel_applies(h, last) else last(h))

    def forward_any_order(self, z: Tensor):
        h, last = self._hidden(z), self.net[-1]
        if subpixel_applies(h, last):
            return torch.sigmoid(subpixel_phases(h, last)), phase_order
        return torch.sigmoid(last(h)), _same_order


class FastFCEncoder(FCEncoder):
    """Both heads from one matrix product."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        loc, raw_scale = linear_heads(self.trunk(x.flatten(1)), [self.loc, self.raw_scale])
        return loc, raw_scale


# plain class → fast class; exact types only, so user subclasses are left alone
FAST = {ConvEncoder: FastConvEncoder, ConvDecoder: FastConvDecoder, FCEncoder: FastFCEncoder,
        nn.Linear: FastLinear}
PLAIN = {fast: plain for plain, fast in FAST.items()}


def _swap(model: nn.Module, table: dict) -> nn.Module:
    for module in model.modules():
        target = table.get(type(module))
        if target is not None:
            module.__class__ = target
    return model


def accelerate(model: nn.Module) -> nn.Module:
    """Switches every known network module of ``model`` to its fast route, in place; returns it."""
    return _swap(model, FAST)


def plain(model: nn.Module) -> nn.Module:
    """Undoes :func:`accelerate`, in place; returns ``model``."""
    return _swap(model, PLAIN)


def is_accelerated(model: nn.Module) -> bool:
    return any(type(m) in PLAIN for m in model.modules())
