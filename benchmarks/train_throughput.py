"""Training throughput (pairs/s) of every multimodal objective, ours and MultiVae's side by side.

    python benchmarks/train_throughput.py [--arch paper|seed] [--repeats 5] [--steps 30] [--peers]

Each measurement is a full training step at batch 128 including data handling (gather of uint8
pairs by index, conversion to float), forward, objective, backward and an AMSGrad step. The
median of the repeats and the min–max are printed, and a Markdown table is appended to
--out (default benchmarks/results.md is not touched unless --out is given).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch

from mmvae.allocator import tune_allocator
from mmvae.config import ModelConfig
from mmvae.data.paired import PairedData
from mmvae.models import build_model
from mmvae.models.modality import ModalitySpec
from mmvae.nets import NetSpec, accelerate
from mmvae.objectives import OBJECTIVES
from mmvae.training.trainer import make_optimizer

MODS = [ModalitySpec("mnist", (1, 28, 28)), ModalitySpec("svhn", (3, 32, 32))]
CASES = [("m_elbo_naive", 1), ("m_elbo", 1), ("m_iwae", 1), ("m_iwae_looser", 1), ("m_dreg", 1),
         ("m_dreg_looser", 1), ("m_iwae_looser", 30), ("m_dreg_looser", 30)]


def model_config(arch: str, distr: str) -> ModelConfig:
    cfg = ModelConfig(model="mmvae", latent_dim=20, distr=distr)
    if arch == "paper":  # the original MMVAE networks: FC-400 MNIST, conv-32 SVHN
        cfg.nets = {"mnist": NetSpec("fc", [400]), "svhn": NetSpec("conv", fbase=32)}
    else:  # the seed: conv-32 for both
        cfg.nets = {"mnist": NetSpec("conv", fbase=32), "svhn": NetSpec("conv", fbase=32)}
    return cfg


def fake_pairs(n: int = 4096) -> PairedData:
    g = torch.Generator().manual_seed(0)
    imgs = [torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8),
            torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)]
    labels = torch.randint(0, 10, (n,), generator=g)
    return PairedData(names=["mnist", "svhn"], sources=["bench", "bench"], images=imgs,
                      index=torch.arange(n).view(-1, 1).repeat(1, 2), labels=labels,
                      rep=torch.zeros(n, dtype=torch.long))


def time_steps(step, params, data: PairedData, batch: int, steps: int, repeats: int, warmup: int = 3,
               fused: bool = True):
    opt = make_optimizer(params, 1e-4, True) if fused else torch.optim.Adam(params, lr=1e-4, amsgrad=True)
    rates = []
    batches = data.batches(batch, seed=0, epoch=0)
    for r in range(repeats + 1):
        n = warmup if r == 0 else steps
        start = time.perf_counter()
        for _ in range(n):
            try:
                _, xs, _ = next(batches)
            except StopIteration:
                batches = data.batches(batch, seed=r, epoch=r)
                _, xs, _ = next(batches)
            opt.zero_grad(set_to_none=True)
            loss = step(xs)
            loss.backward()
            opt.step()
        if r > 0:
            rates.append(n * batch / (time.perf_counter() - start))
    return statistics.median(rates), min(rates), max(rates)


def ours_step(model, name: str, K: int, bf16: bool = False):
    info = OBJECTIVES.get(name)
    device = next(model.parameters()).device.type

    def step(xs):
        if bf16:
            with torch.autocast(device, dtype=torch.bfloat16):
                out = model(xs, K=K, decodes=info.decodes)
        else:
            out = model(xs, K=K, decodes=info.decodes)
        return info.fn(out, xs).training_loss

    return step


def time_peer(model, name: str, K: int, data: PairedData, args, steps: int, as_shipped: bool):
    """(median, min, max) pairs/s of MultiVae's MMVAE on the objective ``name``."""
    from peers import check_plain, multivae_mmvae, multivae_step_fn

    mv = multivae_mmvae(model, name[2:], K, plain=as_shipped)
    if as_shipped:
        mv = mv.to(memory_format=torch.contiguous_format)
        xs = [x[:8].float() / 255 for x in data.images]
        for e, x in zip(model.experts, xs):
            check_plain(e.encoder, x)
            check_plain(e.decoder, torch.randn(8, model.latent_dim))
    step = multivae_step_fn(mv, model.names)
    return time_steps(step, list(mv.parameters()), data, args.batch, steps, args.repeats, fused=not as_shipped)


def peer_in_child(name: str, K: int, args):
    """Runs :func:`time_peer` as shipped in a fresh process whose C allocator is left alone."""
    argv = ["--arch", args.arch, "--distr", args.distr, "--batch", str(args.batch), "--steps", str(args.steps),
            "--steps-k30", str(args.steps_k30), "--repeats", str(args.repeats), "--threads", str(args.threads),
            "--peer-child", name, str(K)]
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([sys.executable, os.path.abspath(__file__), *argv], check=True, capture_output=True,
                         text=True, cwd=here, env={**os.environ, "MMVAE_MALLOC_TUNING": "0"}).stdout
    return tuple(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    tune_allocator()  # as the mmvae command does; MMVAE_MALLOC_TUNING=0 to compare without
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=("paper", "seed"), default="paper")
    ap.add_argument("--distr", choices=("Normal", "Laplace"), default="Laplace")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--steps-k30", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--peers", action="store_true", help="also time MultiVae's MMVAE (pip install '.[bench]')")
    ap.add_argument("--only", nargs="+", help="objective names to run")
    ap.add_argument("--peer-as-shipped", action="store_true",
                    help="time MultiVae as its users run it: stock-PyTorch layers of the same shapes and "
                         "weights, default memory layout, plain AMSGrad, in a child process with the C "
                         "allocator untouched; without this flag it gets copies of mmvae's own network "
                         "modules, channels_last, fused AMSGrad, in this process (framework cost only)")
    ap.add_argument("--peer-child", nargs=2, metavar=("OBJECTIVE", "K"), help=argparse.SUPPRESS)
    ap.add_argument("--json", help="write the results as JSON here")
    ap.add_argument("--no-channels-last", dest="channels_last", action="store_false",
                    help="keep conv weights in the default layout (mmvae trains channels_last by default)")
    ap.add_argument("--no-fast-routes", dest="fast_routes", action="store_false",
                    help="plain PyTorch layers (mmvae applies its CPU fast routes by default)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model's networks")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast (networks only)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model(model_config(args.arch, args.distr), MODS)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if args.fast_routes:
        accelerate(model)
    if args.compile:
        for e in model.experts:
            e.encoder.compile()
            e.decoder.compile()
    data = fake_pairs()
    if args.peer_child:
        name, K = args.peer_child[0], int(args.peer_child[1])
        steps = args.steps if K == 1 else args.steps_k30
        print(json.dumps(time_peer(model, name, K, data, args, steps, as_shipped=True)))
        return
    print(f"# training throughput, {args.arch} networks, {args.distr}, batch {args.batch}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"parameters: {sum(p.numel() for p in model.parameters())}")
    rows = []
    for name, K in CASES:
        if args.only and name not in args.only:
            continue
        steps = args.steps if K == 1 else args.steps_k30
        med, lo, hi = time_steps(ours_step(model, name, K, args.bf16), list(model.parameters()), data, args.batch,
                                 steps, args.repeats)
        row = {"objective": name, "K": K, "mmvae": med, "mmvae_min": lo, "mmvae_max": hi}
        if args.peers and name in ("m_iwae_looser", "m_dreg_looser"):
            if args.peer_as_shipped:
                mmed, mlo, mhi = peer_in_child(name, K, args)
            else:
                mmed, mlo, mhi = time_peer(model, name, K, data, args, steps, as_shipped=False)
            row.update(multivae=mmed, multivae_min=mlo, multivae_max=mhi, ratio=med / mmed)
        rows.append(row)
        peer = (f" | MultiVae {row['multivae']:8.1f} ({row['multivae_min']:.1f}–{row['multivae_max']:.1f})"
                f" | ×{row['ratio']:.2f}") if "multivae" in row else ""
        print(f"{name:15s} K={K:<3d} mmvae {med:8.1f} ({lo:.1f}–{hi:.1f}) pairs/s{peer}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"arch": args.arch, "distr": args.distr, "batch": args.batch, "threads": torch.get_num_threads(),
                       "torch": torch.__version__, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
