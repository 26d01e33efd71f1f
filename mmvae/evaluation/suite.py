"""The full metric suite of a trained model, with the protocol that produced every number."""
from __future__ import annotations

import time

import torch

from ..config import EvalConfig, RunConfig
from ..data.datasets import dataset_sources
from ..models.build import generation_model, model_kind
from .classifiers import get_classifier
from .coherence import cross_coherence, joint_coherence, synergy, unimodal_quality
from .latent_probe import latent_accuracy
from .likelihood import iwae_estimates


def model_classifiers(cfg: RunConfig, names: list[str], device, log=print) -> tuple[list, dict]:
    """One classifier per model modality (for the dataset's source of that slot)."""
    by_slot = {s.slot: s for s in dataset_sources(cfg.data.dataset)}
    e = cfg.eval
    clfs = [get_classifier(by_slot[n], cfg.data, e.classifier_dir, device, e.classifier_epochs, log) for n in names]
    info = {c.source: {"test_accuracy": c.test_accuracy, "path": str(c.path)} for c in clfs}
    return clfs, info


def probe_encoders(model) -> dict:
    """Named encoders the linear probe reads: the model's own, or one per modality."""
    if hasattr(model, "probe_encoders"):
        return model.probe_encoders()
    return {name: (lambda xs, m=m: model.encode(xs)[m]) for m, name in enumerate(model.names)}


def evaluate(cfg: RunConfig, model, train, test, log=print, parts=("coherence", "latent", "likelihood"),
             eval_cfg: EvalConfig | None = None) -> dict:
    """Every metric that applies to ``model``; ``test``/``train`` are the distinct pairs."""
    e = eval_cfg or cfg.eval
    device = next(model.parameters()).device
    kind = model_kind(cfg.model)
    gen_model = generation_model(model)
    seed = cfg.train.seed
    result: dict = {"model": cfg.model.model, "objective": cfg.train.obj, "dataset": cfg.data.dataset,
                    "n_test_pairs": len(test), "protocol": {}, "timings_s": {}}
    torch.manual_seed(seed * 31 + 5)
    if "coherence" in parts and kind != "unimodal":
        t = time.perf_counter()
        clfs, info = model_classifiers(cfg, gen_model.names, device, log)
        result["classifiers"] = info
        result["cross_coherence"] = cross_coherence(gen_model, test, clfs, K=e.coherence_K)
        result["joint_coherence"] = joint_coherence(gen_model, clfs, n=e.joint_samples)
        result["synergy"] = synergy(gen_model, test, clfs)
        result["protocol"]["coherence"] = (
            f"decoder means from {e.coherence_K} posterior sample(s) per test pair, classified by the "
            f"per-modality digit classifiers; joint coherence over {e.joint_samples} prior samples; synergy "
            "from one joint-posterior sample per pair (all generated modalities must show the pair's digit)")
        result["timings_s"]["coherence"] = time.perf_counter() - t
    if "coherence" in parts and kind == "unimodal":
        t = time.perf_counter()
        clfs, info = model_classifiers(cfg, model.names, device, log)
        result["classifiers"] = info
        result["generation_quality"] = unimodal_quality(model, test, clfs[0], n_gen=e.joint_samples)
        result["protocol"]["generation_quality"] = (
            "digit classifier on reconstructions of the test images (one posterior sample each) and on "
            f"{e.joint_samples} prior samples (mean max-probability; entropy of the predicted digits, ln 10 = 2.30 at best)")
        result["timings_s"]["generation_quality"] = time.perf_counter() - t
    if "latent" in parts and train is not None:
        t = time.perf_counter()
        result["latent_accuracy"] = latent_accuracy(model, train, test, probe_encoders(model),
                                                    use_mean=e.probe_latent == "mean", n_train=e.probe_train)
        result["protocol"]["latent_accuracy"] = (
            f"linear probe (L-BFGS logistic regression, standardised inputs) on posterior "
            f"{'means' if e.probe_latent == 'mean' else 'samples'} of up to {e.probe_train} distinct training "
            f"pairs; accuracy on {len(test)} distinct test pairs")
        result["timings_s"]["latent_accuracy"] = time.perf_counter() - t
    iwae_model = getattr(model, "iwae_model", model)
    if "likelihood" in parts and e.iwae_K > 0 and iwae_model is not None:
        t = time.perf_counter()
        n = min(e.iwae_pairs, len(test))
        subset = test.subset(torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n])
        est = iwae_estimates(iwae_model, subset, K=e.iwae_K, progress=cfg.train.progress)
        result["likelihood"] = est
        result["protocol"]["likelihood"] = (
            f"IWAE estimates with K={e.iwae_K} on {n} test pairs, in nats per pair, without likelihood "
            "scaling (joint: stratified mixture proposal; marginal: own encoder; conditional: q(z|x_r) as p(z|x_r))")
        result["timings_s"]["likelihood"] = time.perf_counter() - t
    return result
