"""Time of the evaluation suite on 10,000 test pairs, of the per-epoch test pass (K=1, and K=20
as iwae/dreg runs evaluate), and of the IWAE likelihood estimates (K=1000 on 1,000 pairs),
excluding classifier training.

    python benchmarks/eval_speed.py [--arch seed|paper] [--iwae-pairs 1000] [--iwae-K 1000]
"""
from __future__ import annotations

import argparse
import time

import torch
from train_throughput import MODS, fake_pairs, model_config

from mmvae.allocator import tune_allocator
from mmvae.evaluation.classifiers import Classifier, DigitClassifier
from mmvae.evaluation.coherence import cross_coherence, joint_coherence, synergy
from mmvae.evaluation.latent_probe import latent_accuracy
from mmvae.evaluation.likelihood import iwae_estimates
from mmvae.models import build_model
from mmvae.nets import accelerate
from mmvae.objectives import OBJECTIVES


def timed(label, fn):
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    print(f"{label:65s} {dt:7.1f} s", flush=True)
    return dt, out


def main() -> None:
    tune_allocator()  # as the mmvae command does; MMVAE_MALLOC_TUNING=0 to compare without
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=("paper", "seed"), default="seed")
    ap.add_argument("--iwae-K", type=int, default=1000)
    ap.add_argument("--iwae-pairs", type=int, default=1000)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = build_model(model_config(args.arch, "Normal"), MODS).to(memory_format=torch.channels_last).eval()
    accelerate(model)
    test, train = fake_pairs(10_000), fake_pairs(20_000)
    clfs = [Classifier(s.name, DigitClassifier(s.shape).eval(), 0.0, None) for s in MODS]
    info = OBJECTIVES.get("m_elbo_naive")

    def test_pass(info, K):  # what the trainer does each epoch: the test objective on all test
        # pairs with the run's K, and unscaled IWAE log-likelihoods with K=10 on 1,000 of them
        with torch.inference_mode():
            for _, xs, _ in test.batches(512, shuffle=False):
                info.fn(model(xs, K=K, decodes=info.decodes), xs)
        iwae_estimates(model, test.stratified(1000, 0), K=10, progress=False)

    total = 0.0
    timed("per-epoch test pass, K=1 ELBO runs (10k pairs + IWAE K=10 on 1k)", lambda: test_pass(info, 1))
    looser = OBJECTIVES.get("m_iwae_looser")  # what dreg --looser runs report, at their default K=20
    timed("per-epoch test pass, iwae/dreg runs at K=20", lambda: test_pass(looser, 20))
    for label, fn in [
        ("cross coherence, both directions (10k pairs)", lambda: cross_coherence(model, test, clfs)),
        ("joint coherence (10k prior samples)", lambda: joint_coherence(model, clfs, 10, n=10_000)),
        ("synergy (10k pairs)", lambda: synergy(model, test, clfs)),
        ("latent accuracy, both modalities (20k/10k)", lambda: latent_accuracy(model, train, test)),
    ]:
        dt, _ = timed(label, fn)
        total += dt
    print(f"{'suite total (excluding classifier training)':65s} {total:7.1f} s")
    subset = test.head(args.iwae_pairs)
    timed(f"IWAE K={args.iwae_K} on {args.iwae_pairs} pairs (all estimates)",
          lambda: iwae_estimates(model, subset, K=args.iwae_K, progress=False))


if __name__ == "__main__":
    main()
