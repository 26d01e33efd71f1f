"""The decoder's first ReLU in place on a view (before) or out of place (now), in one process,
rounds alternating the two so that the machine's drift moves them alike.

    python benchmarks/first_relu_layout.py [--batch 640] [--rounds 15]    # five decoders alone
    python benchmarks/first_relu_layout.py --step mopoe [--rounds 15]     # whole training steps

Rounds run the routes in the order A B, then B A.

The decoder's first layer is a matrix product viewed as channels_last images. ``nn.ReLU`` in
place on that view made autograd hand the ReLU's backward its gradient in the standard layout
while its saved output is channels_last, a strided kernel; out of place, both are channels_last.
Decoders alone: five PolyMNIST conv decoders (fBase 32, latent 32), forward + backward of a sum.
``--step MODEL``: complete training steps of mmvae (m_iwae_looser) or mopoe (mopoe_elbo) at M = 5,
batch 128.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from mmvae.allocator import tune_allocator
from mmvae.models import ModalitySpec
from mmvae.nets import NetSpec, accelerate, build_networks
from mmvae.nets.accelerate import FastConvDecoder, _conv_trunk
from mmvae.nets.fast_layers import grid_from_latent
from mmvae.objectives import OBJECTIVES


def _hidden_before(self, z):
    """The decoder's hidden layers as before: the first ReLU in place on the view."""
    first, *middle, _ = self.net
    return _conv_trunk(grid_from_latent(z.reshape(-1, self.latent_dim), first), middle)


def alternate(step, rounds: int) -> dict:
    now = FastConvDecoder._hidden
    routes = {"in place (before)": _hidden_before, "out of place (now)": now}
    times = {name: [] for name in routes}
    try:
        for r in range(rounds):
            order = list(routes.items())
            for name, hidden in order if r % 2 == 0 else order[::-1]:  # ABBA: neither always goes first
                FastConvDecoder._hidden = hidden
                step()
                start = time.perf_counter()
                for _ in range(5):
                    step()
                times[name].append((time.perf_counter() - start) / 5 * 1e3)
    finally:
        FastConvDecoder._hidden = now
    return times


def decoders_alone(args):
    torch.manual_seed(0)
    shape = ModalitySpec("m", (3, 28, 28)).shape
    decoders = [accelerate(build_networks(shape, 32, NetSpec("conv", fbase=32))[1]).to(
        memory_format=torch.channels_last) for _ in range(5)]
    zs = [torch.randn(args.batch, 32, requires_grad=True) for _ in decoders]
    return lambda: sum(d(z).sum() for d, z in zip(decoders, zs)).backward()


def training_step(args):
    from polymnist_throughput import fake_tuples, our_model

    model = accelerate(our_model(args.step, 32, 32).to(memory_format=torch.channels_last))
    info = OBJECTIVES.get({"mmvae": "m_iwae_looser", "mopoe": "mopoe_elbo"}[args.step])
    xs = [(im[:128].float() / 255).contiguous(memory_format=torch.channels_last) for im in fake_tuples(256).images]
    opt = torch.optim.Adam(model.parameters(), amsgrad=True, fused=True)

    def step():
        loss = info.fn(model(xs, K=1, decodes=info.decodes), xs).training_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=640, help="latents per decoder (640: the mixture at M = 5)")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--step", choices=["mmvae", "mopoe"], help="time whole training steps of this model")
    args = ap.parse_args()
    tune_allocator()
    times = alternate(training_step(args) if args.step else decoders_alone(args), args.rounds)
    what = f"{args.step} training steps, batch 128" if args.step else f"5 decoders, batch {args.batch}"
    print(f"# {what}, {args.rounds} rounds, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}")
    for name, t in times.items():
        print(f"{name:20s} median {statistics.median(t):6.1f} ms  (min {min(t):.1f}, max {max(t):.1f})")


if __name__ == "__main__":
    main()
