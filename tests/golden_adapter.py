"""Builds ForwardOutputs from ../shared/golden inputs (the original's fixed tensors)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from mmvae.distributions import FAMILIES, DiagDist, PixelLikelihood
from mmvae.models.output import ForwardOutput

GOLDEN = Path(__file__).resolve().parents[2] / "shared" / "golden"
DEC_SCALE = 0.75


def available() -> bool:
    return (GOLDEN / "golden_inputs.npz").exists()


def load():
    arrays = np.load(GOLDEN / "golden_inputs.npz")
    cases = json.loads((GOLDEN / "golden_expected.json").read_text())["cases"]
    return arrays, cases


def tensor(arrays, fam, key, requires_grad=False):
    t = torch.from_numpy(np.array(arrays[f"{fam}/{key}"]))
    return t.requires_grad_(requires_grad)


def moe_output(arrays, fam: str, K: int, lam, modalities=(0, 1)) -> tuple[ForwardOutput, list]:
    """The MMVAE forward output of the golden case (a subset of modalities for unimodal cases)."""
    family = FAMILIES.get(fam)
    ms = list(modalities)
    xs = [tensor(arrays, fam, f"x{m}") for m in ms]
    posts = [DiagDist(family, tensor(arrays, fam, f"q{m}_loc"), tensor(arrays, fam, f"q{m}_scale")) for m in ms]
    samples = [p.loc + p.scale * tensor(arrays, fam, f"eps{m}")[:K] for m, p in zip(ms, posts)]
    decodes = {
        (i, j): tensor(arrays, fam, f"dec_{r}{d}")[:K]
        for i, r in enumerate(ms) for j, d in enumerate(ms)
    }
    prior_scale = tensor(arrays, fam, "prior_scale")
    prior = DiagDist(family, torch.zeros_like(prior_scale), prior_scale)
    liks = [PixelLikelihood(family, DEC_SCALE, lam[m]) for m in ms]
    out = ForwardOutput(posts, samples, decodes, prior, liks, names=[["mnist", "svhn"][m] for m in ms])
    return out, xs


def factorised_output(arrays, fam: str, lam):
    """The seed's fummvae output of the golden case: the MMVAE at K=1 plus two private VAEs."""
    from mmvae.models.factorised import FactorisedOutput

    family = FAMILIES.get(fam)
    shared, xs = moe_output(arrays, fam, 1, lam)
    private = []
    for m, name in enumerate(["mnist", "svhn"]):
        q = DiagDist(family, tensor(arrays, fam, f"u{m}_loc"), tensor(arrays, fam, f"u{m}_scale"))
        z = q.loc + q.scale * tensor(arrays, fam, f"ueps{m}")
        ps = tensor(arrays, fam, f"uprior{m}_scale")
        prior = DiagDist(family, torch.zeros_like(ps), ps)
        private.append(ForwardOutput([q], [z], {(0, 0): tensor(arrays, fam, f"udec{m}")}, prior,
                                     [PixelLikelihood(family, DEC_SCALE, 1.0)], names=[name]))
    return FactorisedOutput(shared, private, joint_decoder=False), xs
