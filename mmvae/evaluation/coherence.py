"""Coherence of generated images, judged by per-modality digit classifiers.

* cross coherence r→d: decode z ~ q(z | x_r) with decoder d (its mean image), classify, compare
  with the pair's digit (the original uses one posterior sample; ``K`` averages over more);
* joint coherence: z ~ p(z) decoded into every modality; the classifiers' labels all agree;
* synergy (Shi et al. 2021, criterion (d) of the seed's figure): z ~ q_Φ(z | x_1..x_M), the
  joint posterior, decoded into every modality; every generated image carries the pair's digit.
"""
from __future__ import annotations

import torch

from ..data.paired import PairedData
from ..models.mmvae import evaluating


def _batches(data: PairedData, batch_size: int):
    for start in range(0, len(data), batch_size):
        idx = torch.arange(start, min(start + batch_size, len(data)), device=data.device)
        yield data.gather(idx)


def _per_digit(correct: torch.Tensor, labels: torch.Tensor) -> list[float]:
    return [float(correct[labels == d].float().mean()) if (labels == d).any() else float("nan") for d in range(10)]


@torch.no_grad()
def cross_coherence(model, data: PairedData, classifiers: list, K: int = 1, batch_size: int = 1000) -> dict:
    """{"r_to_d": {"accuracy", "per_digit"}} for every ordered pair r ≠ d of modalities."""
    names = model.names
    hits = {(r, d): [] for r in range(len(names)) for d in range(len(names)) if r != d}
    with evaluating(model):
        for xs, labels in _batches(data, batch_size):
            labels = labels.cpu()
            qs = model.encode(xs)
            for r, q in enumerate(qs):
                z = q.rsample(K)  # [K, B, D]
                for d in range(len(names)):
                    if d == r:
                        continue
                    imgs = model.experts[d].decode(z).flatten(0, 1)
                    pred = classifiers[d].predict(imgs).view(K, -1).cpu()
                    hits[(r, d)].append((pred == labels).float().mean(0))
    labels = data.labels.cpu()
    out = {}
    for (r, d), parts in hits.items():
        correct = torch.cat(parts)
        out[f"{names[r]}_to_{names[d]}"] = {"accuracy": float(correct.mean()),
                                            "per_digit": _per_digit(correct, labels)}
    return out


@torch.no_grad()
def joint_coherence(model, classifiers: list, n: int = 10_000, batch_size: int = 2000) -> dict:
    """Fraction of prior samples whose decodings get the same label in every modality."""
    agree, counts = [], torch.zeros(10)
    with evaluating(model):
        for start in range(0, n, batch_size):
            z = model.prior().rsample(min(batch_size, n - start))[:, 0]
            preds = torch.stack([clf.predict(e.decode(z)).cpu() for e, clf in zip(model.experts, classifiers)])
            same = (preds == preds[0]).all(0)
            agree.append(same)
            counts += torch.bincount(preds[0][same], minlength=10).float()
    agree = torch.cat(agree)
    return {"accuracy": float(agree.float().mean()), "n_samples": n,
            "digit_share_of_agreeing": (counts / counts.sum().clamp(min=1)).tolist()}


@torch.no_grad()
def synergy(model, data: PairedData, classifiers: list, batch_size: int = 1000) -> dict:
    """Generation from the joint posterior: all modalities correct, and each one alone."""
    names = model.names
    per_mod = [[] for _ in names]
    with evaluating(model):
        for xs, labels in _batches(data, batch_size):
            labels = labels.cpu()
            z = model.joint_posterior_sample(xs)
            for d, (e, clf) in enumerate(zip(model.experts, classifiers)):
                per_mod[d].append(clf.predict(e.decode(z)).cpu() == labels)
    correct = torch.stack([torch.cat(p) for p in per_mod])
    labels = data.labels.cpu()
    both = correct.all(0)
    return {"accuracy": float(both.float().mean()), "per_digit": _per_digit(both, labels),
            **{f"to_{n}": float(c.float().mean()) for n, c in zip(names, correct)}}


@torch.no_grad()
def unimodal_quality(model, data: PairedData, classifier, n_gen: int = 10_000, batch_size: int = 1000) -> dict:
    """For a one-modality VAE: digit accuracy of reconstructions (z ~ q(z|x)), and for prior
    samples the classifier's mean confidence and the entropy of the predicted digits (ln 10 when
    every digit is generated equally often)."""
    hits = []
    expert = model.experts[0]
    with evaluating(model):
        for xs, labels in _batches(data, batch_size):
            z = model.encode(xs)[0].rsample(1)[0]
            hits.append(classifier.predict(expert.decode(z)).cpu() == labels.cpu())
        probs = []
        for start in range(0, n_gen, batch_size):
            z = model.prior().rsample(min(batch_size, n_gen - start))[:, 0]
            imgs = expert.decode(z)
            logits = torch.cat([classifier.net(c.to(next(classifier.net.parameters()).device)) for c in imgs.split(2000)])
            probs.append(logits.softmax(-1).cpu())
    correct = torch.cat(hits)
    probs = torch.cat(probs)
    share = torch.bincount(probs.argmax(1), minlength=10).float() / len(probs)
    entropy = float(-(share[share > 0] * share[share > 0].log()).sum())
    return {"reconstruction_accuracy": float(correct.float().mean()),
            "per_digit": _per_digit(correct, data.labels.cpu()),
            "generation_confidence": float(probs.max(1).values.mean()),
            "generation_digit_entropy": entropy}
