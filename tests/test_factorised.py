"""The factorised model: both decoder layouts, every objective, shared/private probes, generation."""
import pytest
import torch

from mmvae import pipeline
from mmvae.config import ModelConfig
from mmvae.models import build_model
from mmvae.objectives import OBJECTIVES
from mmvae.objectives.factorised import club_terms, cross_modal_infonce

from .conftest import tiny_config
from .test_mmvae_model import MODS, _batch


def _model(decoder, private=3):
    cfg = ModelConfig(model="fummvae", latent_dim=4, private_latent_dim=private, options={"decoder": decoder})
    for spec in cfg.nets.values():
        spec.arch, spec.hidden_dims = "fc", [16]
    return build_model(cfg, MODS)


@pytest.mark.parametrize("decoder", ["separate", "joint"])
@pytest.mark.parametrize("name", ["elbo_all", "infoNCE_naive", "seed_logistic", "fission"])
def test_every_objective_trains_every_part(decoder, name):
    torch.manual_seed(0)
    model = _model(decoder, private=3 if name in ("elbo_all", "fission") else 4)
    xs = _batch(8)
    out = model(xs, K=1, decodes="all")
    result = OBJECTIVES.get(name).fn(out, xs)
    assert torch.isfinite(result.value)
    result.training_loss.backward()
    for part in (model.shared.experts[1].encoder, model.private[0].experts[0].encoder, model.shared.experts[0].decoder):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
    if name == "fission":
        assert any(p.grad is not None for p in model.critics[0].parameters())


def test_joint_decoders_read_shared_and_private():
    model = _model("joint")
    assert model.shared.experts[0].decoder is not None and model.private[0].experts[0].decoder is None
    out = model(_batch(5), K=2)
    assert out.shared.decodes[(0, 1)].shape == (2, 5, 3, 32, 32)
    assert out.private[0].decodes == {}


def test_probe_encoders_are_shared_and_private():
    model = _model("separate")
    enc = model.probe_encoders()
    assert set(enc) == {"mnist_shared", "mnist_private", "svhn_shared", "svhn_private"}
    xs = _batch(3)
    q_sh, q_pr = enc["mnist_shared"](xs), enc["mnist_private"](xs)
    assert q_sh.loc.shape == (3, 4) and q_pr.loc.shape == (3, 3)
    assert not torch.allclose(q_pr.loc[:, :3], q_sh.loc[:, :3])  # different encoders (the seed's bug)


@pytest.mark.parametrize("decoder", ["separate", "joint"])
def test_generation_through_the_contract(decoder):
    model = _model(decoder)
    gens = model.generate(6)
    assert [g.shape for g in gens] == [(6, 1, 28, 28), (6, 3, 32, 32)]
    assert model.translate(_batch(2)[1], source=1)[0].shape == (2, 1, 28, 28)
    assert model.likelihood_defined == (decoder == "separate")


def test_infonce_prefers_aligned_pairs():
    z = torch.randn(32, 5)
    aligned = cross_modal_infonce(z, z + 0.01 * torch.randn(32, 5), tau=0.1)
    shuffled = cross_modal_infonce(z, z[torch.randperm(32)], tau=0.1)
    assert aligned < 0.5 and shuffled > 5 * aligned


def test_club_detects_dependence_after_fitting_the_critic():
    from mmvae.models.factorised import ClubCritic

    torch.manual_seed(0)
    critic = ClubCritic(3, 3)
    opt = torch.optim.Adam(critic.parameters(), lr=1e-2)
    z_pr = torch.randn(256, 3)
    dependent = z_pr + 0.1 * torch.randn(256, 3)
    for _ in range(300):
        _, nll = club_terms(critic, z_pr, dependent)
        opt.zero_grad()
        nll.backward()
        opt.step()
    mi_dep, _ = club_terms(critic, z_pr, dependent)
    mi_ind, _ = club_terms(critic, z_pr, torch.randn(256, 3))
    assert mi_dep > 1.0 and mi_ind < mi_dep / 5


@pytest.mark.integration
def test_factorised_run_end_to_end(tmp_path):
    cfg = tiny_config(obj="fission", epochs=1)
    cfg.model.model = "fummvae"
    cfg.model.options = {"decoder": "joint"}
    cfg.train.objective_weights = {"nce": 0.5, "tau": 0.2}
    cfg.eval.final_eval = True
    cfg.eval.classifier_epochs, cfg.eval.iwae_K, cfg.eval.joint_samples, cfg.eval.probe_train = 1, 4, 100, 200
    cfg.eval.classifier_dir = str(tmp_path / "clf")
    cfg.run_dir = str(tmp_path / "run")
    pipeline.train(cfg)
    import json

    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(m["latent_accuracy"]) == {"mnist_shared", "mnist_private", "svhn_shared", "svhn_private"}
    assert "mnist_to_svhn" in m["cross_coherence"] and "likelihood" not in m  # joint decoders: no IWAE
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert "train_nce" in row and "train_club_mnist" in row


def test_unknown_weight_is_refused():
    from mmvae.errors import ConfigError

    model = _model("separate", private=4)
    xs = _batch(4)
    with pytest.raises(ConfigError, match="private_latent_dim equal"):
        OBJECTIVES.get("seed_logistic").fn(_model("separate")(xs), xs)
    with pytest.raises(ConfigError, match="'nce' is not used"):
        OBJECTIVES.get("infoNCE_naive").fn(model(xs), xs, weights={"nce": 1.0})


def test_private_kl_weight_is_explicit():
    """value(private_kl=w) − value(1) = (1 − w) Σ_items Σ_m KL(q_private_m ‖ p)."""
    model = _model("joint", private=3)
    xs = _batch(5)
    torch.manual_seed(3)
    out = model(xs)
    one = OBJECTIVES.get("elbo_all").fn(out, xs).value
    half = OBJECTIVES.get("elbo_all").fn(out, xs, weights={"private_kl": 0.5}).value
    kl = sum(p.kl(0).sum() for p in out.private)
    torch.testing.assert_close(half - one, 0.5 * kl, rtol=0, atol=2e-3)  # a difference of two ~4,000-nat sums
