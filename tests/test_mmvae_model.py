"""The MoE MMVAE: decodes computed per objective, scalings, any number of modalities, generation,
bad batches and the NaN policy."""
import json
import math

import pytest
import torch

from mmvae import pipeline
from mmvae.config import ModelConfig
from mmvae.errors import DataError, NonFiniteLossError
from mmvae.models import MMVAE
from mmvae.models.build import build_model
from mmvae.models.modality import ModalitySpec
from mmvae.nets import NetSpec
from mmvae.objectives import OBJECTIVES

from .conftest import tiny_config

MODS = [ModalitySpec("mnist", (1, 28, 28)), ModalitySpec("svhn", (3, 32, 32))]
FC = [NetSpec("fc", hidden_dims=[16]), NetSpec("fc", hidden_dims=[16])]


def _batch(B=4):
    return [torch.rand(B, 1, 28, 28), torch.rand(B, 3, 32, 32)]


def test_forward_decodes_only_what_the_objective_reads():
    model = MMVAE(MODS, latent_dim=3, nets=FC)
    assert OBJECTIVES.get("m_elbo").decodes == "diag"
    out = model(_batch(), K=2, decodes=OBJECTIVES.get("m_elbo").decodes)
    assert set(out.decodes) == {(0, 0), (1, 1)}
    out = model(_batch(), K=2, decodes=OBJECTIVES.get("m_elbo_naive").decodes)
    assert set(out.decodes) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert out.decodes[(0, 1)].shape == (2, 4, 3, 32, 32)


def test_likelihood_scaling_defaults_and_override():
    model = build_model(ModelConfig(latent_dim=3), MODS)
    assert [lk.llik_scaling for lk in model.likelihoods] == pytest.approx([3072 / 784, 1.0])
    model = build_model(ModelConfig(latent_dim=3, llik_scaling=2.0), MODS)
    assert [lk.llik_scaling for lk in model.likelihoods] == pytest.approx([2.0, 1.0])


def test_learnable_prior_only_when_asked():
    fixed = MMVAE(MODS, latent_dim=3, nets=FC)
    learn = MMVAE(MODS, latent_dim=3, nets=FC, learn_prior=True)
    assert not any(p.requires_grad for p in fixed.prior_module.parameters())
    assert any(p.requires_grad for p in learn.prior_module.parameters())


@pytest.mark.parametrize("name", ["m_elbo_naive", "m_elbo", "m_iwae", "m_iwae_looser", "m_dreg", "m_dreg_looser"])
def test_three_modalities(name):
    mods = MODS + [ModalitySpec("mnist2", (1, 28, 28))]
    model = MMVAE(mods, latent_dim=3, nets=FC + [NetSpec("fc", hidden_dims=[16])])
    xs = _batch() + [torch.rand(4, 1, 28, 28)]
    info = OBJECTIVES.get(name)
    out = model(xs, K=3, decodes=info.decodes)
    result = info.fn(out, xs)
    assert torch.isfinite(result.value)
    result.training_loss.backward()
    assert all(p.grad is not None for p in model.experts[2].encoder.parameters())


def test_generation_api_shapes():
    model = MMVAE(MODS, latent_dim=3, nets=FC)
    gens = model.generate(5)
    assert [g.shape for g in gens] == [(5, 1, 28, 28), (5, 3, 32, 32)]
    recon = model.reconstruct(_batch())
    assert set(recon) == {(0, 0), (0, 1), (1, 0), (1, 1)} and recon[(1, 0)].shape == (4, 1, 28, 28)
    trans = model.translate(_batch()[0], source=0)
    assert trans[1].shape == (4, 3, 32, 32)


def test_mismatched_batches_are_refused():
    model = MMVAE(MODS, latent_dim=3, nets=FC)
    with pytest.raises(DataError, match="different sizes"):
        model([torch.rand(4, 1, 28, 28), torch.rand(5, 3, 32, 32)])
    with pytest.raises(DataError, match="expects images"):
        model([torch.rand(4, 1, 32, 32), torch.rand(4, 3, 32, 32)])
    with pytest.raises(DataError, match="2 modalities"):
        model([torch.rand(4, 1, 28, 28)])


def test_iwae_with_one_sample_is_warned():
    cfg = tiny_config(obj="iwae", K=1)
    with pytest.warns(UserWarning, match="K=1 is an ELBO"):
        pipeline.make_objective(cfg)


def _poison(monkeypatch, at_call):
    """Makes the objective return NaN on its ``at_call``-th training call."""
    from mmvae.pipeline import components as build

    make = build.make_objective

    def patched(cfg):
        fn, info, options, K = make(cfg)
        calls = {"n": 0}

        def wrapped(out, xs):
            result = fn(out, xs)
            if torch.is_grad_enabled():
                calls["n"] += 1
                if calls["n"] == at_call:
                    result.value = result.value * math.nan
                    result.terms["kl_svhn"] = torch.tensor(math.nan)
            return result

        return wrapped, info, options, K

    monkeypatch.setattr(build, "make_objective", patched)


@pytest.mark.integration
def test_nan_stop_saves_and_names_the_step(tmp_path, monkeypatch):
    _poison(monkeypatch, at_call=5)
    cfg = tiny_config()
    cfg.run_dir = str(tmp_path / "run")
    with pytest.raises(NonFiniteLossError, match=r"step 5 .*kl_svhn.*--nan-policy skip"):
        pipeline.train(cfg)
    meta = json.loads((tmp_path / "run" / "checkpoints" / "last.json").read_text())
    assert meta["global_step"] == 4  # the last good state is kept


@pytest.mark.integration
def test_nan_skip_counts_the_batch(tmp_path, monkeypatch):
    _poison(monkeypatch, at_call=5)
    cfg = tiny_config(nan_policy="skip", epochs=1)
    cfg.run_dir = str(tmp_path / "run")
    pipeline.train(cfg)
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert row["train_skipped_batches"] == 1 and math.isfinite(row["train_loss"])


@pytest.mark.parametrize("obj", ["m_iwae", "m_iwae_looser", "m_dreg", "m_dreg_looser"])
def test_iwae_family_logs_the_same_per_term_values_as_the_naive_elbo(obj):
    """The IWAE and DReG objectives log λ_d log p(x_d | z_r) per (r, d) and each KL from the
    likelihoods their bound computed; on one forward output these are m_elbo_naive's terms."""
    torch.manual_seed(2)
    mods = MODS + [ModalitySpec("third", (1, 28, 28))]
    model = MMVAE(mods, latent_dim=3, nets=FC + [NetSpec("fc", hidden_dims=[16])])
    xs = _batch(5) + [torch.rand(5, 1, 28, 28)]
    with torch.no_grad():
        out = model(xs, K=3, decodes="all")
        reference = OBJECTIVES.get("m_elbo_naive").fn(out, xs).terms
        terms = OBJECTIVES.get(obj).fn(out, xs).terms
    names = [k for k in reference if k.startswith(("lp_", "kl_"))]
    assert len(names) == 9 + 3 and "lp_svhn_from_third" in names
    for k in names:
        torch.testing.assert_close(terms[k], reference[k], rtol=0, atol=0)
