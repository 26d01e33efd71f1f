"""Coherence of generated images, judged by per-modality classifiers (the judges).

* cross coherence r→d: decode z ~ q(z | x_r) with decoder d (its mean image), classify, compare
  with the pair's label (the original uses one posterior sample; ``K`` averages over more);
* joint coherence: z ~ p(z) decoded into every modality; the judges' labels all agree;
* synergy (Shi et al. 2021, criterion (d) of the seed's figure): z ~ q(z | x_1..x_M), the
  joint posterior, decoded into every modality; every generated image carries the pair's label.

All of it goes through the model contract (encode, joint_posterior, decode, prior).
"""
from __future__ import annotations

import torch

from ..data.paired import PairedData
from ..models import evaluating
from ..models.products import nonempty_subsets


def _batches(data: PairedData, batch_size: int):
    for start in range(0, len(data), batch_size):
        idx = torch.arange(start, min(start + batch_size, len(data)), device=data.device)
        yield data.gather(idx)


def per_class(correct: torch.Tensor, labels: torch.Tensor, num_classes: int) -> list[float]:
    return [float(correct[labels == c].float().mean()) if (labels == c).any() else float("nan")
            for c in range(num_classes)]


@torch.no_grad()
def cross_coherence(model, data: PairedData, classifiers: list, K: int = 1, batch_size: int = 1000) -> dict:
    """{"r_to_d": {"accuracy", "per_digit"}} for every ordered pair r ≠ d of modalities."""
    names = model.names
    hits = {(r, d): [] for r in range(len(names)) for d in range(len(names)) if r != d}
    with evaluating(model):
        for xs, labels in _batches(data, batch_size):
            labels = labels.cpu()
            for r in range(model.M):
                z = model.joint_posterior({r: model.encode(xs[r], r)}).rsample(K)  # [K, B, D]
                for d in range(model.M):
                    if d == r:
                        continue
                    imgs = model.decode(z, d).flatten(0, 1)
                    pred = classifiers[d].predict(imgs).view(K, -1).cpu()
                    hits[(r, d)].append((pred == labels).float().mean(0))
    labels = data.labels.cpu()
    out = {}
    for (r, d), parts in hits.items():
        correct = torch.cat(parts)
        out[f"{names[r]}_to_{names[d]}"] = {"accuracy": float(correct.mean()),
                                            "per_digit": per_class(correct, labels, data.num_classes)}
    return out


@torch.no_grad()
def conditional_coherence(model, data: PairedData, classifiers: list, batch_size: int = 500) -> dict:
    """Coherence given every subset S of k = 1 … M−1 observed modalities: z ~ q(z | X_S) (one
    sample), decoded into each modality d ∉ S and judged against the tuple's label.

    Returns ``given_k`` (mean over the subsets of size k and their targets), ``per_target_given_k``
    (the same per target modality) and ``per_subset`` (each subset's accuracy per target).
    """
    names, M = model.names, model.M
    subsets = nonempty_subsets(M, M - 1)
    hits: dict[tuple[tuple[int, ...], int], list] = {(S, d): [] for S in subsets for d in range(M) if d not in S}
    with evaluating(model):
        for xs, labels in _batches(data, batch_size):
            labels = labels.cpu()
            encs = model.encode_all(xs)
            for S in subsets:
                z = model.joint_posterior({m: encs[m] for m in S}).rsample(1)[0]
                for d in range(M):
                    if d not in S:
                        hits[(S, d)].append(classifiers[d].predict(model.decode(z, d)).cpu() == labels)
    acc = {key: float(torch.cat(parts).float().mean()) for key, parts in hits.items()}
    given_k, per_target = {}, {}
    for k in range(1, M):
        keys = [key for key in acc if len(key[0]) == k]
        given_k[str(k)] = sum(acc[key] for key in keys) / len(keys)
        per_target[str(k)] = {names[d]: sum(acc[key] for key in keys if key[1] == d) /
                              max(1, sum(1 for key in keys if key[1] == d)) for d in range(M)}
    per_subset = {}
    for (S, d), a in acc.items():
        per_subset.setdefault("+".join(names[m] for m in S), {})[names[d]] = a
    return {"given_k": given_k, "per_target_given_k": per_target, "per_subset": per_subset}


@torch.no_grad()
def joint_coherence(model, classifiers: list, num_classes: int, n: int = 10_000, batch_size: int = 2000) -> dict:
    """Fraction of prior samples whose decodings get the same label in every modality."""
    agree, counts = [], torch.zeros(num_classes)
    with evaluating(model):
        for start in range(0, n, batch_size):
            z = model.prior().rsample(min(batch_size, n - start))[:, 0]
            preds = torch.stack([clf.predict(model.decode(z, d)).cpu() for d, clf in enumerate(classifiers)])
            same = (preds == preds[0]).all(0)
            agree.append(same)
            counts += torch.bincount(preds[0][same], minlength=num_classes).float()
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
            z = model.joint_posterior(dict(enumerate(model.encode_all(xs)))).rsample(1)[0]
            for d, clf in enumerate(classifiers):
                per_mod[d].append(clf.predict(model.decode(z, d)).cpu() == labels)
    correct = torch.stack([torch.cat(p) for p in per_mod])
    labels = data.labels.cpu()
    both = correct.all(0)
    return {"accuracy": float(both.float().mean()), "per_digit": per_class(both, labels, data.num_classes),
            **{f"to_{n}": float(c.float().mean()) for n, c in zip(names, correct)}}


@torch.no_grad()
def unimodal_quality(model, data: PairedData, classifier, n_gen: int = 10_000, batch_size: int = 1000) -> dict:
    """For a one-modality VAE: label accuracy of reconstructions (z ~ q(z|x)), and for prior
    samples the judge's mean confidence and the entropy of the predicted labels (ln C when
    every one of C classes is generated equally often)."""
    hits = []
    with evaluating(model):
        for xs, labels in _batches(data, batch_size):
            z = model.encode(xs[0], 0).shared.rsample(1)[0]
            hits.append(classifier.predict(model.decode(z, 0)).cpu() == labels.cpu())
        probs = []
        for start in range(0, n_gen, batch_size):
            z = model.prior().rsample(min(batch_size, n_gen - start))[:, 0]
            probs.append(classifier.probabilities(model.decode(z, 0)).cpu())
    correct = torch.cat(hits)
    probs = torch.cat(probs)
    share = torch.bincount(probs.argmax(1), minlength=data.num_classes).float() / len(probs)
    entropy = float(-(share[share > 0] * share[share > 0].log()).sum())
    return {"reconstruction_accuracy": float(correct.float().mean()),
            "per_digit": per_class(correct, data.labels.cpu(), data.num_classes),
            "generation_confidence": float(probs.max(1).values.mean()),
            "generation_digit_entropy": entropy}
