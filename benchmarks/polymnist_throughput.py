"""Training throughput (tuples/s) at M = 5 on PolyMNIST shapes (3×28×28 per modality): mmvae's
mixture, product and mixture-of-products models beside MultiVae's same models with the same
networks, side by side in one run.

    python benchmarks/polymnist_throughput.py [--repeats 5] [--steps 20] [--no-peers]

The rounds alternate (mmvae, its networks alone, MultiVae), so a drift of the machine's speed
moves all three alike; medians over the rounds are reported. "Networks alone" times just the five
encoders and the decoders on the same number of latents as the model decodes (a sum as the loss,
then the optimiser step; no sampling, likelihood or KL): a reference for the network work both
libraries run, and its ratio to MultiVae shows how far a faster objective alone could go.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

import torch
from train_throughput import time_steps

from mmvae.allocator import tune_allocator
from mmvae.config import ModelConfig
from mmvae.data.paired import PairedData
from mmvae.models import ModalitySpec, build_model
from mmvae.nets import NetSpec, accelerate
from mmvae.objectives import OBJECTIVES

M = 5
MODS = [ModalitySpec(f"m{i}", (3, 28, 28)) for i in range(M)]
# (our model, our objective, MultiVae model kind)
CASES = [("mmvae", "m_iwae_looser", "moe"), ("mvae", "mvae_elbo", "poe"), ("mopoe", "mopoe_elbo", "mopoe")]


def our_model(name: str, latent: int, fbase: int):
    torch.manual_seed(0)
    cfg = ModelConfig(model=name, latent_dim=latent, nets={m.name: NetSpec("conv", fbase=fbase) for m in MODS})
    return build_model(cfg, MODS)


def fake_tuples(n: int = 2048) -> PairedData:
    g = torch.Generator().manual_seed(0)
    imgs = [torch.randint(0, 256, (n, 3, 28, 28), generator=g, dtype=torch.uint8) for _ in range(M)]
    return PairedData([m.name for m in MODS], ["bench"] * M, imgs, torch.arange(n).view(-1, 1).repeat(1, M),
                      torch.randint(0, 10, (n,), generator=g), torch.zeros(n, dtype=torch.long))


def ours(name: str, objective: str, args) -> float:
    model = accelerate(our_model(name, args.latent, args.fbase).to(memory_format=torch.channels_last))
    info = OBJECTIVES.get(objective)

    def step(xs):
        return info.fn(model(xs, K=1, decodes=info.decodes), xs).training_loss

    return time_steps(step, list(model.parameters()), fake_tuples(), args.batch, args.steps, 1)[0]


# latents each decoder reads per item: the mixture decodes every encoder's sample with every decoder
DECODES_PER_DECODER = {"mmvae": M, "mopoe": 1}


def networks_alone(name: str, args) -> float:
    """Tuples/s of the encoders and decoders alone (see the module docstring)."""
    model = accelerate(our_model(name, args.latent, args.fbase).to(memory_format=torch.channels_last))
    copies = DECODES_PER_DECODER[name]

    def step(xs):
        loss = 0.0
        for expert, x in zip(model.experts, xs):
            loc, raw = expert.encoder(x)
            loss = loss + expert.decoder((loc + raw).repeat(copies, 1)).sum()
        return loss

    return time_steps(step, list(model.parameters()), fake_tuples(), args.batch, args.steps, 1)[0]


def peer(name: str, kind: str, args) -> tuple[float, float, float]:
    """MultiVae's model as shipped, in this (child) process."""
    from peers import check_plain, multivae_mmvae, multivae_model, multivae_step_fn

    model = our_model(name, args.latent, args.fbase)
    if kind == "moe":
        mv = multivae_mmvae(model, "iwae_looser", 1, plain=True)
    else:
        mv = multivae_model(kind, model, plain=True, random_subsets=1)
    x = torch.rand(4, 3, 28, 28)
    for e in model.experts:
        check_plain(e.encoder, x)
        check_plain(e.decoder, torch.randn(4, args.latent))
    step = multivae_step_fn(mv, model.names)
    return time_steps(step, list(mv.parameters()), fake_tuples(), args.batch, args.steps, 1, fused=False)[0]


def peer_in_child(name: str, kind: str, args) -> float:
    argv = ["--batch", str(args.batch), "--steps", str(args.steps),
            "--latent", str(args.latent), "--fbase", str(args.fbase), "--peer-child", name, kind]
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([sys.executable, os.path.abspath(__file__), *argv], check=True, capture_output=True,
                         text=True, cwd=here, env={**os.environ, "MMVAE_MALLOC_TUNING": "0"}).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5, help="rounds, each timing all three side by side")
    ap.add_argument("--latent", type=int, default=32)
    ap.add_argument("--fbase", type=int, default=32)
    ap.add_argument("--no-peers", dest="peers", action="store_false", help="time mmvae only")
    ap.add_argument("--json", help="write the results as JSON here")
    ap.add_argument("--peer-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer_child:
        print(json.dumps(peer(*args.peer_child, args)))
        return
    tune_allocator()  # as the mmvae command does (the MultiVae child leaves it alone)
    print(f"# PolyMNIST (M={M}, 3×28×28) training throughput, conv fBase {args.fbase}, latent {args.latent}, "
          f"batch {args.batch}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}")
    rows = []
    for name, objective, kind in CASES:
        timed = {"mmvae": [], "networks": [], "multivae": []}
        for _ in range(args.repeats):
            timed["mmvae"].append(ours(name, objective, args))
            if name in DECODES_PER_DECODER:
                timed["networks"].append(networks_alone(name, args))
            if args.peers:
                timed["multivae"].append(peer_in_child(name, kind, args))
        row = {"model": name, "objective": objective}
        for key, rates in timed.items():
            if rates:
                row.update({key: statistics.median(rates), f"{key}_min": min(rates), f"{key}_max": max(rates)})
        text = f"{name:6s} {objective:14s} mmvae {_spread(row, 'mmvae')}"
        if args.peers:
            row["ratio"] = row["mmvae"] / row["multivae"]
            text += f" | MultiVae {_spread(row, 'multivae')} | ×{row['ratio']:.2f}"
        if "networks" in row:
            text += f" | networks alone {_spread(row, 'networks')}"
            if args.peers:
                row["networks_ratio"] = row["networks"] / row["multivae"]
                text += f" (×{row['networks_ratio']:.2f})"
        rows.append(row)
        print(text, flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"batch": args.batch, "latent": args.latent, "fbase": args.fbase, "rows": rows}, f, indent=1)


def _spread(row: dict, key: str) -> str:
    return f"{row[key]:7.1f} ({row[key + '_min']:.1f}–{row[key + '_max']:.1f})"


if __name__ == "__main__":
    main()
