"""FLOPs of one training step and this machine's matmul/conv rate → the throughput floor.

    python benchmarks/flops.py [--arch paper|seed] [--distr Laplace|Normal]

The step's FLOPs come from torch's FlopCounterMode (matmuls and convolutions, forward and
backward); the machine rate is the best of a large float32 matmul and a batch of the model's own
convolutions. floor pairs/s = rate / (FLOPs per step / batch): what a step would reach if it did
nothing but those FLOPs at that rate.
"""
from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode
from train_throughput import CASES, MODS, fake_pairs, model_config, ours_step

from mmvae.models import build_model


def step_flops(model, name, K, xs) -> int:
    step = ours_step(model, name, K)
    with FlopCounterMode(display=False) as counter:
        step(xs).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def matmul_rate(n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t)


def conv_rate(reps: int = 10) -> float:
    """A 4×4 stride-2 convolution like the SVHN encoder's second layer, channels_last, fwd+bwd."""
    conv = torch.nn.Conv2d(32, 64, 4, 2, 1).to(memory_format=torch.channels_last)
    x = torch.randn(512, 32, 16, 16).contiguous(memory_format=torch.channels_last).requires_grad_()
    with FlopCounterMode(display=False) as c:
        conv(x).sum().backward()
    flops = c.get_total_flops()
    t = time.perf_counter()
    for _ in range(reps):
        conv(x).sum().backward()
    return flops * reps / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=("paper", "seed"), default="paper")
    ap.add_argument("--distr", choices=("Normal", "Laplace"), default="Laplace")
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()
    model = build_model(model_config(args.arch, args.distr), MODS).to(memory_format=torch.channels_last)
    xs, _ = fake_pairs(args.batch).gather(torch.arange(args.batch))
    mm, cv = matmul_rate(), conv_rate()
    rate = max(mm, cv)
    print(f"machine: matmul {mm / 1e9:.0f} GFLOP/s, conv fwd+bwd {cv / 1e9:.0f} GFLOP/s, {torch.get_num_threads()} threads")
    for name, K in CASES:
        f = step_flops(model, name, K, xs)
        print(f"{name:15s} K={K:<3d} {f / 1e9:7.2f} GFLOP/step  floor {rate / (f / args.batch):8.1f} pairs/s")


if __name__ == "__main__":
    main()
