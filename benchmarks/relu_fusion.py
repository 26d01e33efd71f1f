"""The decoders' ReLU fusion, before and after, in one process: five PolyMNIST conv decoders
(fBase 32, latent 32), forward + backward of a sum, rounds alternating the two routes.

    python benchmarks/relu_fusion.py [--batch 640] [--rounds 15]

"separate ReLU": the fast routes with each ReLU as its own op (in place, as ``nn.ReLU`` does);
"fused": ``accelerate()`` as it is, each ReLU folded into the convolution after it.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
from torch import nn

from mmvae.allocator import tune_allocator
from mmvae.models import ModalitySpec
from mmvae.nets import NetSpec, accelerate, build_networks
from mmvae.nets.accelerate import FastConvDecoder
from mmvae.nets.fast_layers import conv_bias_apart, grid_from_latent, upsample_subpixel


def separate_relu_forward(self, z):
    first, *middle, last = self.net
    h = grid_from_latent(z.reshape(-1, self.latent_dim), first)
    for layer in middle:
        h = conv_bias_apart(h, layer) if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)) else layer(h)
    return torch.sigmoid(upsample_subpixel(h, last))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=640, help="latents per decoder (640: the mixture at M = 5)")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    tune_allocator()
    torch.manual_seed(0)
    spec = ModalitySpec("m", (3, 28, 28))
    decoders = [accelerate(build_networks(spec.shape, 32, NetSpec("conv", fbase=32))[1]).to(
        memory_format=torch.channels_last) for _ in range(5)]
    zs = [torch.randn(args.batch, 32, requires_grad=True) for _ in decoders]
    fused = FastConvDecoder.forward

    def step():
        sum(d(z).sum() for d, z in zip(decoders, zs)).backward()

    times = {"separate ReLU": [], "fused": []}
    for _ in range(args.rounds):
        for name, forward in (("separate ReLU", separate_relu_forward), ("fused", fused)):
            FastConvDecoder.forward = forward
            step()
            start = time.perf_counter()
            for _ in range(5):
                step()
            times[name].append((time.perf_counter() - start) / 5 * 1e3)
    FastConvDecoder.forward = fused
    print(f"# 5 decoders, batch {args.batch}, {args.rounds} rounds, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    for name, t in times.items():
        print(f"{name:14s} median {statistics.median(t):6.1f} ms  (min {min(t):.1f}, max {max(t):.1f})")


if __name__ == "__main__":
    main()
