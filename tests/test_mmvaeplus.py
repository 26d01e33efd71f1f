"""MMVAE+: the objectives against a slow direct computation, the DReG gradient against the explicit
estimator, cross-reconstruction from the auxiliary prior (not from q), the MMVAE_f ablation, the
split figures, bad input, and training on 2, 3 and 5 modalities."""
import math

import pytest
import torch

from mmvae.config import ModelConfig, RunConfig, validate
from mmvae.distributions import FAMILIES, DiagDist, PixelLikelihood
from mmvae.errors import ConfigError
from mmvae.models import ModalitySpec, build_model
from mmvae.models.mmvaeplus import MMVAEPlus, PlusOutput
from mmvae.nets import NetSpec
from mmvae.objectives import OBJECTIVES

FC = NetSpec("fc", hidden_dims=[16])
LAPLACE = FAMILIES.get("Laplace")


def _mods(M):
    return [ModalitySpec(f"m{i}", (1, 4, 4)) for i in range(M)]


def _batch(M, B=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(B, 1, 4, 4, generator=g) for _ in range(M)]


def _model(M=3, variant="mmvaeplus", z=2, w=3):
    torch.manual_seed(0)
    return MMVAEPlus(_mods(M), latent_dim=z, private_latent_dim=w, nets=[FC] * M, variant=variant)


@pytest.mark.parametrize("name,K", [("mmvaeplus_elbo", 1), ("mmvaeplus_elbo", 3), ("mmvaeplus_iwae", 4),
                                    ("mmvaeplus_dreg", 4)])
def test_objectives_match_a_slow_direct_computation(name, K):
    model, xs = _model(), _batch(3)
    out = model(xs, K=K)
    value = OBJECTIVES.get(name).fn(out, xs, weights={"beta": 1.7}).value
    M, B = 3, 5
    total = torch.zeros(B)
    for b in range(B):
        per_r = []
        for r in range(M):
            lws = []
            for k in range(K):
                z, w = out.z[r][k, b], out.w[r][k, b]
                lp = sum(model.likelihoods[d].log_prob(xs[d][b], out.decodes[(r, d)][k, b]) for d in range(M))
                q_mix = math.log(sum(math.exp(float(DiagDist(LAPLACE, out.qz[m].loc[b].detach(), out.qz[m].scale[b].detach())
                                                     .log_prob(z))) for m in range(M)) / M)
                reg = (float(out.prior_z.log_prob(z[None])) + float(out.prior_w.log_prob(w[None])) - q_mix
                       - float(DiagDist(LAPLACE, out.qw[r].loc[b], out.qw[r].scale[b]).log_prob(w)))
                lws.append(float(lp) + 1.7 * reg)
            if name == "mmvaeplus_elbo":
                per_r.append(sum(lws) / K)
            else:
                top = max(lws)
                per_r.append(top + math.log(sum(math.exp(v - top) for v in lws) / K))
        total[b] = sum(per_r) / M
    assert float(value) == pytest.approx(float(total.sum()), rel=1e-4)


def test_cross_reconstruction_draws_private_latents_from_the_auxiliary_prior():
    M = 3
    model, xs = _model(M), _batch(M, B=64)
    with torch.no_grad():  # r_d: almost all of its scale on dimension d, a different one per modality;
        for d, aux in enumerate(model.aux_priors):  # q(w|x) far from 0, p(w) unit-scale on every dimension
            aux.raw_scale.copy_(torch.full((1, 3), -10.0).index_fill_(1, torch.tensor([d]), 10.0))
        for e in model.experts:
            e.encoder_w.loc.bias.fill_(5.0)
    seen = {}
    for d, e in enumerate(model.experts):
        e.decoder.register_forward_pre_hook(lambda mod, args, d=d: seen.__setitem__(d, args[0].detach()))
    out = model(xs, K=2)
    B = 64
    for d in range(M):
        u = seen[d].view(M, 2, B, -1)  # the decoder's calls, concatenated by source r = 0..M-1
        for r in range(M):
            w_part = u[r, ..., 2:]
            if r == d:  # self-reconstruction: the modality's own posterior sample
                torch.testing.assert_close(w_part, out.w[d])
            else:  # cross: w̃ ~ r_d (the target's), on dimension d only: not q(w|x) (≈ 5), p(w) or r_r
                others = [i for i in range(3) if i != d]
                assert w_part[..., others].abs().max() < 1e-3 and w_part[..., d].abs().mean() > 0.3
                assert (w_part - out.w[d]).abs().mean() > 1.0


def test_factorized_variant_cross_decodes_with_the_targets_own_private_latent():
    M = 3
    model, xs = _model(M, variant="factorized"), _batch(M)
    seen = {}
    model.experts[1].decoder.register_forward_pre_hook(lambda mod, args: seen.__setitem__(1, args[0].detach()))
    out = model(xs, K=1)
    u = seen[1].view(M, 1, 5, -1)
    for r in range(M):
        torch.testing.assert_close(u[r, ..., 2:], out.w[1])


def _toy_output(seed=0, K=4):
    """A PlusOutput from leaf tensors: Laplace posteriors, linear decoders of [z, w], fixed w̃."""
    g = torch.Generator().manual_seed(seed)
    M, B, Dz, Dw = 2, 3, 2, 2
    leaf = lambda *s, scale=1.0: (scale * torch.randn(*s, generator=g, dtype=torch.float64)).requires_grad_()  # noqa: E731
    p = dict(zl=[leaf(B, Dz) for _ in range(M)], zs=[leaf(B, Dz, scale=0.3) for _ in range(M)],
             wl=[leaf(B, Dw) for _ in range(M)], ws=[leaf(B, Dw, scale=0.3) for _ in range(M)],
             dec=[leaf(Dz + Dw, 4, scale=0.5) for _ in range(M)])
    ez = [torch.randn(K, B, Dz, generator=g, dtype=torch.float64) for _ in range(M)]
    ew = [torch.randn(K, B, Dw, generator=g, dtype=torch.float64) for _ in range(M)]
    tilde = [torch.randn(K, B, Dw, generator=g, dtype=torch.float64) for _ in range(M)]
    xs = [torch.rand(B, 1, 2, 2, generator=g, dtype=torch.float64) for _ in range(M)]
    fam = FAMILIES.get("Normal")
    one = lambda d: DiagDist(fam, torch.zeros(1, d, dtype=torch.float64), torch.ones(1, d, dtype=torch.float64))  # noqa: E731

    def build(detached=False):
        qz = [DiagDist(fam, p["zl"][m], p["zs"][m].exp()) for m in range(M)]
        qw = [DiagDist(fam, p["wl"][m], p["ws"][m].exp()) for m in range(M)]
        z = [qz[m].loc + qz[m].scale * ez[m] for m in range(M)]
        w = [qw[m].loc + qw[m].scale * ew[m] for m in range(M)]
        dec = {(r, d): torch.sigmoid(torch.cat([z[r], w[r] if r == d else tilde[d]], -1) @ p["dec"][d])
               .view(K, B, 1, 2, 2) for r in range(M) for d in range(M)}
        return PlusOutput(qz, qw, z, w, dec, one(Dz), one(Dw), [PixelLikelihood(fam, 0.75, 1.0)] * M, ["a", "b"])

    return p, xs, build


def test_dreg_gradient_matches_the_explicit_estimator():
    p, xs, build = _toy_output()
    params = p["zl"] + p["zs"] + p["wl"] + p["ws"]
    OBJECTIVES.get("mmvaeplus_dreg").fn(build(), xs, weights={"beta": 1.0}).surrogate.backward()
    ours_enc = [t.grad.clone() for t in params]
    ours_dec = [t.grad.clone() for t in p["dec"]]
    for t in params + p["dec"]:
        t.grad = None
    # explicit: for each r, k: ∂ log w_r^k through the samples only (q densities at detached
    # parameters), weighted by w̃² for the encoders and w̃ for the decoders, averaged over r
    from mmvae.objectives.mmvaeplus import plus_log_weights

    out = build()
    lw = plus_log_weights(out, xs, 1.0, detach_q=True)  # [M, K, B]
    wt = torch.softmax(lw, 1).detach()
    enc = torch.autograd.grad((wt ** 2 * lw).sum(1).mean(0).sum(), params, retain_graph=True)
    dec = torch.autograd.grad((wt * lw).sum(1).mean(0).sum(), p["dec"])
    for a, b in zip(ours_enc, enc):
        torch.testing.assert_close(a, b)
    for a, b in zip(ours_dec, dec):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("M", [2, 3, 5])
def test_mmvaeplus_trains_on_2_3_and_5_modalities(M):
    torch.manual_seed(1)
    cfg = ModelConfig(model="mmvaeplus", latent_dim=3, private_latent_dim=2, distr="Laplace",
                      nets={f"m{i}": FC for i in range(M)})
    model = build_model(cfg, _mods(M))
    info = OBJECTIVES.get("mmvaeplus_elbo")
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xs = _batch(M, 16)
    losses = []
    for _ in range(30):
        result = info.fn(model(xs, K=1), xs)
        opt.zero_grad()
        result.training_loss.backward()
        opt.step()
        losses.append(float(result.loss.detach()))
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    assert any(a.raw_scale.grad is not None for a in model.aux_priors)  # r_d's scale is learned


def test_split_figures_are_drawn(tmp_path):
    from mmvae.training.figures import split_figures

    model = _model(2)
    xs = [torch.rand(64, 1, 4, 4), torch.rand(64, 1, 4, 4)]
    paths = split_figures(model, xs, tmp_path, 1)
    assert sorted(p.name for p in paths) == ["split_m0_fixed_private_001.png", "split_m0_fixed_shared_001.png",
                                             "split_m1_fixed_private_001.png", "split_m1_fixed_shared_001.png"]
    assert all(p.stat().st_size > 0 for p in paths)


def test_bad_input_is_refused_clearly():
    with pytest.raises(ConfigError, match="variant does not apply to model 'mmvae': it is an option of mmvaeplus"):
        validate(RunConfig.from_dict({"model": {"model": "mmvae", "options": {"variant": "factorized"}}}))
    with pytest.raises(ConfigError, match="private_latent_dim' must be > 0"):
        validate(RunConfig.from_dict({"model": {"model": "mmvaeplus", "private_latent_dim": 0}}))
    with pytest.raises(ConfigError, match="private_latent_dim must be at least 1"):
        MMVAEPlus(_mods(2), latent_dim=2, private_latent_dim=0, nets=[FC] * 2)


@pytest.mark.integration
def test_an_mmvaeplus_checkpoint_is_not_loaded_as_another_model(tmp_path):
    import yaml

    from mmvae import pipeline
    from mmvae.errors import CheckpointError

    from .conftest import tiny_config

    cfg = tiny_config(epochs=1)
    cfg.model.model, cfg.model.private_latent_dim = "mmvaeplus", 2
    cfg.run_dir = str(tmp_path / "run")
    pipeline.train(cfg)
    assert pipeline.load_run(cfg.run_dir).model.kind == "mmvaeplus"
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    saved["model"]["model"] = "mmvae"
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump(saved))
    with pytest.raises(CheckpointError, match="holds a 'mmvaeplus' model, but its config.yaml names 'mmvae'"):
        pipeline.load_run(cfg.run_dir)


def test_the_command_line_gives_mmvaeplus_the_official_defaults():
    from mmvae.cli.main import build_parser
    from mmvae.cli.train_cmd import config_from_args

    def cfg(*argv):
        return config_from_args(build_parser().parse_args(["train", "--model", "mmvaeplus", *argv]))[0]

    m = cfg().model
    assert (m.distr, m.decoder_scale, m.latent_dim, m.private_latent_dim) == ("Laplace", 0.75, 32, 32)
    assert cfg("--distr", "Normal", "--latent-dim", "8").model.distr == "Normal"  # the flags given win
    assert cfg("--latent-dim", "8").model.latent_dim == 8


def test_a_config_file_naming_mmvaeplus_gets_the_official_defaults_it_leaves_out(tmp_path):
    from mmvae.cli.main import build_parser
    from mmvae.cli.train_cmd import config_from_args
    from mmvae.pipeline.components import make_objective

    path = tmp_path / "plus.yaml"
    path.write_text("model: {model: mmvaeplus, latent_dim: 16}\ntrain: {obj: dreg}\n")
    cfg = config_from_args(build_parser().parse_args(["train", "--config", str(path)]))[0]
    m = cfg.model
    assert (m.distr, m.decoder_scale, m.latent_dim, m.private_latent_dim) == ("Laplace", 0.75, 16, 32)
    assert make_objective(cfg)[3] == 10  # DReG with the authors' K = 10
    cfg.train.K = 4
    assert make_objective(cfg)[3] == 4


@pytest.mark.integration
def test_every_mmvaeplus_report_shows_the_split_figures(tmp_path):
    from mmvae import pipeline

    from .conftest import tiny_config

    cfg = tiny_config(epochs=1)  # per-epoch figures off: the report draws the split itself
    cfg.model.model, cfg.model.private_latent_dim = "mmvaeplus", 2
    cfg.eval.final_eval, cfg.eval.iwae_K, cfg.eval.joint_samples, cfg.eval.probe_train = True, 0, 100, 200
    cfg.run_dir = str(tmp_path / "run")
    pipeline.train(cfg)
    report = (tmp_path / "run" / "report.md").read_text()
    assert report.count("### Shared/private split") == 4  # 2 modalities × (shared held, private held)
    assert "split_mnist_fixed_shared_001.png" in report and "judge v3, shipped with mmvae" in report
