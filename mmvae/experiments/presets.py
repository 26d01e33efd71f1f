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
    figures: str = ""  # which study figures: decoder-scale | architecture | coherence-k | factorised | ""
    full_runtime: str = ""
    verdicts: list[tuple[str, str]] = field(default_factory=list)  # (variant, baseline) judged by the criterion


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
        cfg = _seed_table_config(dataset, data_dir, quick, model, obj, decoder)
        study.runs += _seeds(cfg, label, seeds or ([1, 2] if quick else [1, 2, 3]))
    return study


def _seed_table_config(dataset, data_dir, quick, model, obj, decoder) -> RunConfig:
    cfg = _base(dataset, data_dir, quick)
    cfg.model.model = model
    if model == "fummvae":
        cfg.model.options = {"decoder": decoder}
    cfg.train.obj, cfg.train.batch_size = obj, 128
    cfg.data.dm = 1 if quick else 30  # quick: one pairing round (58,862 pairs of real MNIST + synthetic
    cfg.train.epochs = 2 if quick else 10  # street digits), 2 epochs of 460 steps
    return cfg


@STUDIES.register("fission-club", description="fission with the CLUB bound reaching the private encoders only, or both")
def fission_club(quick: bool, dataset: str, data_dir: str | None, seeds=None) -> Study:
    study = Study("fission-club", "The fission objective (joint [shared, private] decoders, the seed-table setting) "
                  "with the CLUB term's gradient reaching only the private encoders (club_shared 0) or the shared "
                  "encoders too (club_shared 1).",
                  full_runtime="6 runs × 10 epochs on 1.68M pairs: about 40 h on a 2-core CPU (estimated from the "
                                "measured factorised-model throughput); GPU not yet measured")
    for label, shared in (("CLUB to private encoders", 0.0), ("CLUB to private and shared encoders", 1.0)):
        cfg = _seed_table_config(dataset, data_dir, quick, "fummvae", "fission", "joint")
        cfg.train.objective_weights = {"club_shared": shared}
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


POLYMNIST_MODELS = (("MMVAE (mixture of experts)", "mmvae"), ("MVAE (product of experts)", "mvae"),
                    ("MoPoE (mixture of products)", "mopoe"), ("MMVAE+ (shared + private)", "mmvaeplus"))


@STUDIES.register("polymnist", description="mmvae, mvae and mopoe on five-modality PolyMNIST at equal budget")
def polymnist(quick: bool, dataset: str, data_dir: str | None, seeds=None) -> Study:
    study = Study("polymnist", "The mixture (mmvae, --obj elbo_naive), product (mvae, sub-sampled ELBOs), mixture of "
                  "products (mopoe) and MMVAE+ on the embedded five-modality PolyMNIST (digits from real MNIST when "
                  "--data-dir has it, else the synthetic handwriting), same networks (conv fBase 32 per modality), "
                  "shared latent 32, batch 32, a Laplace pixel likelihood of scale 0.75 for all, same epochs; Normal "
                  "posteriors for the first three (the MVAE with a one-epoch KL warm-up), the authors' Laplace with "
                  "private latents of 32 and β 2.5 for MMVAE+; coherence given k = 1 … 4 modalities.",
                  figures="coherence-k",
                  full_runtime="12 runs × 30 epochs of 60,000 tuples at batch 32: about 15 h on a 2-core CPU "
                                "(training rates measured in the quick study: mmvae 362, mvae 526, mopoe 821, MMVAE+ "
                                "280 tuples/s, docs/results-polymnist.md); GPU not yet measured")
    for label, model in POLYMNIST_MODELS:
        cfg = _base("polymnist", data_dir, quick)
        cfg.model.model, cfg.model.latent_dim = model, 32
        cfg.model.likelihood = "Laplace"  # PolyMNIST's usual pixel likelihood (MoPoE, MMVAE+), scale 0.75
        if model == "mmvaeplus":
            cfg.model.distr, cfg.model.private_latent_dim = "Laplace", 32
        if model == "mvae":  # the product collapsed onto the prior within 50 steps without a KL warm-up
            cfg.train.kl_warmup_epochs = 1.0
        # the mixture with its explicit cross-reconstructions (m_elbo's importance weights vanish
        # while the five posteriors do not overlap, and it learnt nothing cross-modal in 3 epochs)
        # batch 32: at batch 128 no model learnt anything cross-modal in the quick budget (chance
        # coherence after 470 steps); at batch 32 the mixture reached 68% in the same time
        cfg.train.obj, cfg.train.batch_size = ("elbo_naive" if model == "mmvae" else "elbo"), 32
        cfg.train.epochs = 3 if quick else 30
        e = cfg.eval
        if quick:
            cfg.data.synthetic_train, cfg.data.synthetic_test = 16000, 2000
            e.coherence_pairs, e.iwae_K, e.iwae_pairs, e.test_K = 1000, 20, 100, 0
        else:
            e.coherence_pairs, e.iwae_pairs = 5000, 500
        study.runs += _seeds(cfg, label, seeds or ([1, 2] if quick else [1, 2, 3]))
    return study


# (label, model, objective, model options, family): the seed's models and MMVAE+ with its ablation
FACTORISED_VARIANTS = (
    ("elbo_naive MMVAE", "mmvae", "elbo_naive", {}, "Normal"),
    ("infoNCE_naive fummvae", "fummvae", "infoNCE_naive", {"decoder": "separate"}, "Normal"),
    ("fission fummvae", "fummvae", "fission", {"decoder": "joint"}, "Normal"),
    ("MMVAE_f", "mmvaeplus", "elbo", {"variant": "factorized"}, "Laplace"),
    ("MMVAE+", "mmvaeplus", "elbo", {"variant": "mmvaeplus"}, "Laplace"),
)


def _factorised_config(dataset: str, data_dir, quick: bool, model: str, obj: str, options: dict, family: str):
    cfg = _base(dataset, data_dir, quick)
    cfg.model.model, cfg.model.options, cfg.model.distr = model, dict(options), family
    cfg.train.obj, cfg.train.batch_size = obj, 32  # batch 128 learnt nothing cross-modal in the quick budget
    e = cfg.eval
    e.probe_every = 1  # the probes' trend over epochs
    if dataset == "polymnist":
        cfg.model.latent_dim = cfg.model.private_latent_dim = 32
        cfg.model.likelihood = "Laplace"  # the same pixel likelihood for every variant, as MMVAE+'s authors'
        cfg.model.nets = {}  # conv nets (fBase 32) for every 3×28×28 modality, chosen by shape
        cfg.data.synthetic_train, cfg.data.synthetic_test = (5000, 1000) if quick else (60000, 10000)
    else:
        cfg.model.latent_dim = cfg.model.private_latent_dim = 20
        cfg.data.dm = 1
        if quick:
            cfg.data.max_d = 1000
    cfg.train.epochs = 2 if quick else 20
    e.test_K = 0  # per-epoch likelihoods are not defined for every variant; the probes are
    if quick:
        e.coherence_pairs, e.joint_samples, e.probe_train, e.iwae_K = 1000, 1000, 2000, 0
    else:
        e.coherence_pairs, e.iwae_K, e.iwae_pairs = 5000, 100, 200
    return cfg


@STUDIES.register("factorised", description="the seed's open question: private latents that hold style, not the "
                  "shared digit (MMVAE, fummvae, fission, MMVAE_f, MMVAE+ on two datasets)")
def factorised(quick: bool, dataset: str, data_dir: str | None, seeds=None) -> Study:
    study = Study("factorised", "At equal budget per dataset (batch 32, same epochs): the elbo_naive MMVAE, the seed's "
                  "infoNCE_naive factorised model, fission (joint decoders), MMVAE_f and MMVAE+ (Laplace, β 2.5, "
                  "K = 1), on real MNIST + synthetic street digits (latents 20; each model's own likelihood) and on "
                  "PolyMNIST (latents 32; a Laplace pixel likelihood for all). "
                  "Criterion: MMVAE+'s private-latent digit probe ≤ 30% on every modality while its cross "
                  "coherence and shared probe are at least the plain MMVAE's.",
                  figures="factorised",
                  full_runtime="30 runs × 20 epochs (58,862 pairs; 60,000 PolyMNIST tuples) at batch 32: about 27 h "
                                "on a 2-core CPU (24 h of training at the rates the quick study measured, 211–1,480 "
                                "items/s, docs/results-factorised.md, plus evaluation); GPU not yet measured")
    for data_name in ("mnist_synthsvhn", "polymnist"):
        for label, model, obj, options, family in FACTORISED_VARIANTS:
            cfg = _factorised_config(data_name, data_dir, quick, model, obj, options, family)
            study.runs += _seeds(cfg, f"{label} ({data_name})", seeds or [1, 2, 3])
        study.verdicts.append((f"MMVAE+ ({data_name})", f"elbo_naive MMVAE ({data_name})"))
    return study


def build_study(name: str, quick: bool = False, dataset: str = "mnist_synthsvhn", data_dir: str | None = None,
                seeds=None) -> Study:
    return STUDIES.get(name)(quick, dataset, data_dir, seeds)
