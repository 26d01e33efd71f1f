"""The full metric suite of a trained model, with the protocol that produced every number.

Everything here reads the model through its contract: ``kind`` (unimodal or not),
``likelihood_defined``, ``probe_encoders`` and the generation methods.
"""
from __future__ import annotations

import time

import torch

from ..config import RunConfig
from ..data.datasets import dataset_sources
from ..utils import derive_seed
from .coherence import (
    conditional_coherence,
    cross_coherence,
    joint_coherence,
    synergy,
    unimodal_quality,
)
from .judges import get_classifier
from .latent_probe import latent_accuracy
from .likelihood import iwae_estimates

UNLABELLED = (
    "Coherence and the latent probe need labels; this dataset has none, so they were skipped (the likelihoods, "
    "reconstructions, generations and figures above do not need them). To get them, register the data again "
    "with labels: train_labels= and test_labels= in mmvae.data.register_arrays, or a 'label' column in the "
    "pairs file of a folder dataset (integers 0 … C−1 naming each tuple's class).")


def model_classifiers(cfg: RunConfig, names: list[str], device, log=print) -> tuple[list, dict]:
    """One classifier per model modality (for the dataset's source of that slot)."""
    by_slot = {s.slot: s for s in dataset_sources(cfg.data)}
    e = cfg.eval
    clfs = [get_classifier(by_slot[n], cfg.data, e.classifier_dir, device, e.classifier_epochs, log) for n in names]
    info = {c.source: c.describe() for c in clfs}
    return clfs, info


def _coherence(cfg, model, test, device, log, result) -> None:
    e = cfg.eval
    clfs, result["classifiers"] = model_classifiers(cfg, model.names, device, log)
    if model.kind == "unimodal":
        result["generation_quality"] = unimodal_quality(model, test, clfs[0], n_gen=e.joint_samples)
        result["protocol"]["generation_quality"] = (
            "judge on reconstructions of the test images (one posterior sample each) and on "
            f"{e.joint_samples} prior samples (mean max-probability; entropy of the predicted labels, "
            f"ln {test.num_classes} at best)")
        return
    pairs = test
    if e.coherence_pairs and e.coherence_pairs < len(test):
        pairs = test.stratified(e.coherence_pairs, derive_seed(cfg.train.seed, "subset", 2))
    if model.M == 2:
        result["cross_coherence"] = cross_coherence(model, pairs, clfs, K=e.coherence_K)
        given = f"decoder means from {e.coherence_K} posterior sample(s) per test pair"
    else:
        result["conditional_coherence"] = conditional_coherence(model, pairs, clfs)
        given = (f"coherence given every subset of k = 1 … {model.M - 1} modalities: one sample of "
                 "q(z | the subset) per test tuple, decoded into each other modality, averaged per k")
    result["joint_coherence"] = joint_coherence(model, clfs, test.num_classes, n=e.joint_samples)
    result["synergy"] = synergy(model, pairs, clfs)
    result["protocol"]["coherence"] = (
        f"{given} ({len(pairs)} test tuples), classified by the per-modality judges; joint coherence over "
        f"{e.joint_samples} prior samples; synergy from one joint-posterior sample per tuple (all generated "
        "modalities must show the tuple's label)")


def evaluate(cfg: RunConfig, model, train, test, log=print, parts=("coherence", "latent", "likelihood")) -> dict:
    """Every metric that applies to ``model``; ``test``/``train`` are the distinct pairs."""
    e = cfg.eval
    device = next(model.parameters()).device
    seed = cfg.train.seed
    result: dict = {"model": cfg.model.model, "objective": cfg.train.obj, "dataset": cfg.data.dataset,
                    "n_test_pairs": len(test), "protocol": {}, "timings_s": {}}
    torch.manual_seed(derive_seed(seed, "metrics"))
    if not test.labelled and ({"coherence", "latent"} & set(parts)):
        result["coherence_skipped"] = UNLABELLED
        parts = tuple(p for p in parts if p not in ("coherence", "latent"))
    if "coherence" in parts:
        t = time.perf_counter()
        _coherence(cfg, model, test, device, log, result)
        result["timings_s"]["coherence"] = time.perf_counter() - t
    if "latent" in parts and train is not None:
        t = time.perf_counter()
        result["latent_accuracy"] = latent_accuracy(model, train, test, use_mean=e.probe_latent == "mean",
                                                    n_train=e.probe_train, seed=derive_seed(seed, "subset"))
        result["protocol"]["latent_accuracy"] = (
            f"linear probe (L-BFGS logistic regression, standardised inputs) on posterior "
            f"{'means' if e.probe_latent == 'mean' else 'samples'} of up to {e.probe_train} distinct training "
            f"pairs; accuracy on {len(test)} distinct test pairs")
        result["timings_s"]["latent_accuracy"] = time.perf_counter() - t
    if "likelihood" in parts and e.iwae_K > 0 and model.likelihood_defined:
        t = time.perf_counter()
        n = min(e.iwae_pairs, len(test))
        subset = test.stratified(n, derive_seed(seed, "subset", 1))
        result["likelihood"] = iwae_estimates(model, subset, K=e.iwae_K, progress=cfg.train.progress)
        result["protocol"]["likelihood"] = (
            f"IWAE estimates with K={e.iwae_K} on {len(subset)} class-stratified test pairs, in nats per pair, "
            "without likelihood scaling (joint: the joint posterior as proposal, stratified over a mixture's "
            "components; marginal: own encoder; conditional: q(z|x_r) as p(z|x_r))")
        result["timings_s"]["likelihood"] = time.perf_counter() - t
    return result
