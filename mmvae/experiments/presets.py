"""The seed's experiments as run lists. ``quick`` shrinks data and epochs to fit ≤ 30 min on a
2-core CPU; the default is the full setting."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

from ..config import RunConfig
from ..nets.registry import NetSpec
from ..registry import Registry


@dataclass
class Study:
    name: str
    description: str
    runs: list[tuple[str, RunConfig]] = field(default_factory=list)  # (column label, config)
    figures: str = ""  # which study figures to draw: decoder-scale | architecture | ""
    full_runtime: str = ""


STUDIES: Registry = Registry("experiment")
SCALES = (0.05, 0.2, 0.35, 0.5, 0.75, 0.9)


def _base(dataset: str, data_dir: str | None, quick: bool) -> RunConfig:
    cfg = RunConfig()
    cfg.data.dataset, cfg.data.data_dir = dataset, data_dir
    cfg.train.progress = True
    if quick:
        e = cfg.eval
        e.iwae_K, e.iwae_pairs, e.joint_samples, e.probe_train = 100, 500, 2000, 5000
    return cfg


def _seeds(cfg: RunConfig, label: str, seeds) -> list[tuple[str, RunConfig]]:
    out = []
    for s in seeds:
        c = copy.deepcopy(cfg)
        c.train.seed = s
        out.append((label, c))
    return out


@STUDIES.register("decoder-scale", description="unimodal VAEs at decoder_scale 0.05…0.9")
def decoder_scale(quick: bool, dataset: str, data_dir: str | None, seeds=None) -> Study:
    study = Study("decoder-scale", "Unimodal VAEs (elbo, batch 256, latent 20, conv nets) with the fixed "
                  f"decoder scale in {SCALES}.", figures="decoder-scale",
                  full_runtime="36 runs (12 settings × 3 seeds) × 20 epochs: about 8 h on a 2-core CPU (estimated from "
                                "measured throughput); about 1 h on one H100 if the 60 s/epoch goal holds (not yet measured)")
    for slot in ("mnist", "svhn"):
        for s in SCALES:
            cfg = _base(dataset, data_dir, quick)
            cfg.model.model, cfg.model.decoder_scale = slot, s
            cfg.train.obj, cfg.train.batch_size = "elbo", 256
            cfg.train.epochs = 2 if quick else 20
            cfg.train.max_steps = 100 if quick else 0
            study.runs += _seeds(cfg, f"{slot} σ={s}", seeds or ([1] if quick else [1, 2, 3]))
    return study


ARCHS = {"fc-512": NetSpec("fc", [512]), "fc-1024-512": NetSpec("fc", [1024, 512]),
         "fc-1024-512-128": NetSpec("fc", [1024, 512, 128]), "conv-16": NetSpec("conv", fbase=16),
         "conv-32": NetSpec("conv", fbase=32), "conv-64": NetSpec("conv", fbase=64)}


@STUDIES.register("architecture", description="the seed's three FC and three conv variants per modality")
def architecture(quick: bool, dataset: str, data_dir: str | None, seeds=None) -> Study:
    study = Study("architecture", "Unimodal VAEs (elbo, batch 256, latent 20, decoder_scale 0.75) with the "
                  "seed's FC (512; 1024-512; 1024-512-128) and conv (fBase 16/32/64) networks.",
                  figures="architecture", full_runtime="12 runs × 10 epochs: about 1.5 h on a 2-core CPU (estimated from measured throughput); "
                                "about 10 min on one H100 at the 60 s/epoch goal (not yet measured)")
    for slot in ("mnist", "svhn"):
        for name, spec in ARCHS.items():
            cfg = _base(dataset, data_dir, quick)
            cfg.model.model = slot
            cfg.model.nets[slot] = copy.deepcopy(spec)
            cfg.train.obj, cfg.train.batch_size = "elbo", 256
            cfg.train.epochs = 2 if quick else 10
            cfg.train.max_steps = 100 if quick else 0
            study.runs += _seeds(cfg, f"{slot} {name}", seeds or [1])
    return study


@STUDIES.register("seed-table", description="the seed's results table: elbo_naive MMVAE, infoNCE_naive and fission fummvae")
def seed_table(quick: bool, dataset: str, data_dir: str | None, seeds=None) -> Study:
    study = Study("seed-table", "The seed's two commands (elbo_naive MMVAE; infoNCE_naive factorised model) "
                  "and the principled factorised model (fission: InfoNCE + CLUB, joint [shared, private] "
                  "decoders); batch 128, latent 20, conv fBase 32, Normal, decoder_scale 0.75.",
                  full_runtime="9 runs × 10 epochs on 1.68M pairs: about 50 h on a 2-core CPU (1,384 pairs/s measured for "
                                "the MMVAE, about half for the factorised model); about 2.5 h on one H100 at the 60 s/epoch "
                                "goal (not yet measured)")
    variants = [("elbo_naive MMVAE", "mnist_svhn", "elbo_naive", "separate"),
                ("infoNCE_naive fummvae", "fummvae", "infoNCE_naive", "separate"),
                ("fission fummvae (joint decoders)", "fummvae", "fission", "joint")]
    for label, model, obj, decoder in variants:
        cfg = _base(dataset, data_dir, quick)
        cfg.model.model, cfg.model.fission_decoder = model, decoder
        cfg.train.obj, cfg.train.batch_size = obj, 128
        cfg.data.dm = 1 if quick else 30  # quick: one pairing round (56k pairs), 2 epochs ≈ 880 steps
        cfg.train.epochs = 2 if quick else 10
        study.runs += _seeds(cfg, label, seeds or ([1, 2] if quick else [1, 2, 3]))
    return study


@STUDIES.register("paper", description="the original MMVAE setting (Laplace, dreg --looser, K=30, learn-prior)")
def paper(quick: bool, dataset: str, data_dir: str | None, seeds=None) -> Study:
    study = Study("paper", "The original MMVAE paper's setting: Laplace prior/posterior/likelihood (softmax "
                  "scales), dreg --looser with K=30, learnable prior, FC-400 MNIST, conv-32 SVHN, batch 128, "
                  "30 epochs.", full_runtime="30 epochs at K=30: about 200 h on a 2-core CPU (about 70 pairs/s measured); K=30 costs "
                                "~30× a K=1 epoch, so about 15 h on one H100 at the 60 s/epoch goal (not yet measured)")
    cfg = _base(dataset, data_dir, quick)
    cfg.model.distr, cfg.model.learn_prior = "Laplace", True
    cfg.model.nets = {"mnist": NetSpec("fc", [400]), "svhn": NetSpec("conv", fbase=32)}
    cfg.train.obj, cfg.train.looser, cfg.train.batch_size = "dreg", True, 128
    cfg.train.K = 10 if quick else 30
    cfg.train.epochs = 2 if quick else 30
    if quick:
        cfg.data.max_d, cfg.data.dm = 1000, 1
    study.runs += _seeds(cfg, "MMVAE dreg-looser", seeds or [1])
    return study


def build_study(name: str, quick: bool = False, dataset: str = "mnist_synthsvhn", data_dir: str | None = None,
                seeds=None) -> Study:
    return STUDIES.get(name)(quick, dataset, data_dir, seeds)
