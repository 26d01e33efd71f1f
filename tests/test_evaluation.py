"""Metrics: classifiers (save/load/refuse), coherence and synergy logic, linear probe, IWAE
estimates against an exact case, reports and the cross-run table."""
import json
import shutil
import subprocess

import pytest
import torch
import yaml

from mmvae.data.paired import PairedData
from mmvae.distributions import FAMILIES, DiagDist, UniformMixture
from mmvae.errors import CheckpointError
from mmvae.evaluation.classifiers import fit_classifier, load_classifier, save_classifier
from mmvae.evaluation.coherence import cross_coherence, joint_coherence, synergy
from mmvae.evaluation.latent_probe import latent_accuracy, probe_accuracy
from mmvae.evaluation.likelihood import iwae_estimates
from mmvae.models import MMVAE, Encoding, ModalitySpec, MultimodalVAE
from mmvae.nets import NetSpec
from mmvae.report.compare import compare
from mmvae.report.run_report import write_report

from .test_mmvae_model import MODS

# ---------------------------------------------------------------- a model whose digits are known

SHIFT = (0, 3, 0)  # modality m writes digit y as the grey level of (y + SHIFT[m]) % 10


def _image(digits, m, shape):
    v = ((digits + SHIFT[m]) % 10).float().div(10).add(0.05)
    return v.view(*digits.shape, 1, 1, 1).expand(*digits.shape, *shape)


def _read(images, m):
    return ((images.flatten(-3)[..., 0] * 10).floor().long() - SHIFT[m]) % 10


class _Model(MultimodalVAE):
    """Implements the model contract: encodes an image's digit as a one-hot latent; decodes the
    argmax of z back into an image carrying that digit (decoder b always draws ``broken`` if set).
    The two modalities write digits differently, so each needs its own judge."""

    SHAPES = [(1, 4, 4), (3, 4, 4)]

    def __init__(self, broken=None):
        super().__init__([ModalitySpec("a", self.SHAPES[0]), ModalitySpec("b", self.SHAPES[1])], latent_dim=10)
        self.broken = broken
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    kind = "moe"

    def encode(self, x, m):
        loc = torch.nn.functional.one_hot(_read(x, m), 10).float() * 5
        return Encoding(DiagDist(FAMILIES.get("Normal"), loc, torch.full_like(loc, 0.01)))

    def decode(self, z, m, w=None):
        digit = z.argmax(-1)
        if m == 1 and self.broken is not None:
            digit = torch.full_like(digit, self.broken)
        return _image(digit, m, self.SHAPES[m])

    def prior(self):
        return DiagDist(FAMILIES.get("Normal"), torch.zeros(1, 10), torch.ones(1, 10))

    def joint_posterior(self, encodings):
        qs = [encodings[m].shared for m in sorted(encodings)]
        return qs[0] if len(qs) == 1 else UniformMixture(qs)

    def forward(self, xs, K=1, decodes="all"):
        raise NotImplementedError


class _Clf:
    def __init__(self, m):
        self.m = m

    def predict(self, x):
        return _read(x, self.m)


def _data(labels=None, shuffled_images=False):
    """PairedData of 100 pairs, 10 of each digit, written as each modality writes them."""
    y = torch.arange(100) % 10
    shown = y[torch.randperm(100, generator=torch.Generator().manual_seed(0))] if shuffled_images else y
    images = [(_image(shown, m, _Model.SHAPES[m]) * 255).round().to(torch.uint8) for m in (0, 1)]
    return PairedData(["a", "b"], ["a", "b"], images, torch.arange(100).view(-1, 1).repeat(1, 2),
                      y if labels is None else labels, torch.zeros(100, dtype=torch.long))


JUDGES = [_Clf(0), _Clf(1)]


def test_cross_and_joint_coherence_and_synergy_logic():
    good = _Model()
    cc = cross_coherence(good, _data(), JUDGES, K=3, batch_size=30)
    assert cc["a_to_b"]["accuracy"] == 1.0 and cc["b_to_a"]["accuracy"] == 1.0
    assert synergy(good, _data(), JUDGES)["accuracy"] == 1.0
    assert joint_coherence(good, JUDGES, 10, n=500)["accuracy"] == 1.0

    broken = _Model(broken=3)  # decoder b always draws a 3
    cc = cross_coherence(broken, _data(), JUDGES)
    assert cc["a_to_b"]["accuracy"] == pytest.approx(0.1)
    assert cc["a_to_b"]["per_digit"][3] == 1.0 and cc["a_to_b"]["per_digit"][4] == 0.0
    assert cc["b_to_a"]["accuracy"] == 1.0
    syn = synergy(broken, _data(), JUDGES)
    assert syn["accuracy"] == pytest.approx(0.1) and syn["to_a"] == 1.0
    joint = joint_coherence(broken, JUDGES, 10, n=2000)
    assert joint["accuracy"] == pytest.approx(0.1, abs=0.03)


def test_each_modality_is_judged_by_its_own_classifier():
    """Judging b's images with a's classifier (or the reverse) must break every score."""
    swapped = [_Clf(1), _Clf(0)]
    cc = cross_coherence(_Model(), _data(), swapped)
    assert cc["a_to_b"]["accuracy"] == 0.0 and cc["b_to_a"]["accuracy"] == 0.0
    assert synergy(_Model(), _data(), swapped)["accuracy"] == 0.0


def test_linear_probe_separates_clusters_and_not_noise():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(2000) % 10
    centres = torch.randn(10, 8, generator=g) * 3
    z = centres[y] + torch.randn(2000, 8, generator=g)
    assert probe_accuracy((z[:1000], y[:1000]), (z[1000:], y[1000:]), 10) > 0.95
    noise = torch.randn(2000, 8, generator=g)
    assert probe_accuracy((noise[:1000], y[:1000]), (noise[1000:], y[1000:]), 10) < 0.2


def test_latent_probe_is_fitted_on_training_latents_only():
    """Training images that do not match their labels teach the probe nothing, so its accuracy
    on well-labelled test pairs stays near chance; fitted on the test latents it would be 100%."""
    model = _Model()
    acc = latent_accuracy(model, _data(shuffled_images=True), _data(), n_train=100)
    assert set(acc) == {"a", "b"}
    assert acc["a"] < 0.35 and acc["b"] < 0.35
    assert latent_accuracy(model, _data(), _data(), n_train=100)["a"] == 1.0


# ---------------------------------------------------------------- IWAE against an exact answer


def test_iwae_estimates_exact_when_posterior_is_prior_and_decoder_ignores_z():
    """q = p(z) and a constant decoder: every importance weight is p(x), so each estimate is
    the analytic log-likelihood for any K."""
    torch.manual_seed(0)
    fc = [NetSpec("fc", hidden_dims=[8]), NetSpec("fc", hidden_dims=[8])]
    model = MMVAE(MODS, latent_dim=3, nets=fc)
    for e in model.experts:
        for layer in (e.encoder.loc, e.encoder.raw_scale):
            torch.nn.init.zeros_(layer.weight)
            torch.nn.init.zeros_(layer.bias)
        torch.nn.init.zeros_(e.decoder.out.weight)
    xs = [torch.rand(6, 1, 28, 28), torch.rand(6, 3, 32, 32)]

    class Data:
        device = torch.device("cpu")

        def __len__(self):
            return 6

        def gather(self, idx):
            return [x[idx] for x in xs], torch.zeros(len(idx), dtype=torch.long)

    est = iwae_estimates(model, Data(), K=7, batch_size=4, k_chunk=3, progress=False)
    with torch.no_grad():
        exact = [float(lk.log_prob(x, model.decode(torch.zeros(1, 3), m).expand_as(x)).mean())
                 for m, (lk, x) in enumerate(zip(model.likelihoods, xs))]
    assert est["marginal_mnist"] == pytest.approx(exact[0], rel=1e-4)
    assert est["marginal_svhn"] == pytest.approx(exact[1], rel=1e-4)
    assert est["conditional_svhn_given_mnist"] == pytest.approx(exact[1], rel=1e-4)
    assert est["joint"] == pytest.approx(exact[0] + exact[1], rel=1e-4)


# ---------------------------------------------------------------- classifiers


def _tiny_classifier(tmp_path):
    g = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 10
    x = (y.view(-1, 1, 1, 1).float() * 25 + torch.rand(200, 1, 28, 28, generator=g) * 20).to(torch.uint8)
    net, acc = fit_classifier((1, 28, 28), x, y, x, y, epochs=2)
    path = save_classifier(net, tmp_path / "synthmnist-x.safetensors", "synthmnist", acc, {"epochs": 2})
    return path, acc


def test_classifier_round_trip_and_refusals(tmp_path):
    path, acc = _tiny_classifier(tmp_path)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["source"] == "synthmnist" and meta["shape"] == [1, 28, 28] and len(meta["sha256"]) == 64
    clf = load_classifier(path, "synthmnist", (1, 28, 28))
    assert clf.test_accuracy == pytest.approx(acc)
    with pytest.raises(CheckpointError, match="trained for 'synthmnist', not 'synthsvhn'"):
        load_classifier(path, "synthsvhn")
    with pytest.raises(CheckpointError, match=r"shape \(1, 28, 28\)"):
        load_classifier(path, "synthmnist", (3, 32, 32))
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="does not match the SHA-256"):
        load_classifier(path)


# ---------------------------------------------------------------- reports


def _fake_run(folder, seed, obj="elbo", cross=0.5, **train):
    folder.mkdir(parents=True)
    (folder / "figures").mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(
        {"experiment": "exp", "model": {"model": "mnist_svhn"}, "train": {"obj": obj, "seed": seed, **train}}))
    import matplotlib.image
    import numpy as np

    matplotlib.image.imsave(folder / "figures" / "gen_svhn_002.png", np.zeros((8, 8, 3)))
    matplotlib.image.imsave(folder / "figures" / "gen_svhn_001.png", np.ones((8, 8, 3)))
    metrics = {"model": "mnist_svhn", "objective": obj, "dataset": "synthetic", "epochs": 2,
               "cross_coherence": {"mnist_to_svhn": {"accuracy": cross}},
               "joint_coherence": {"accuracy": 0.25}, "latent_accuracy": {"mnist": 0.9},
               "likelihood": {"joint": -1234.5},
               "classifiers": {"synthmnist": {"test_accuracy": 0.991, "path": "x"}},
               "protocol": {"coherence": "one sample"}}
    write_report(folder, metrics)
    return folder


def test_report_files(tmp_path):
    run = _fake_run(tmp_path / "run", 1)
    md = (run / "report.md").read_text()
    assert "| Cross coherence mnist → svhn | 50.00% |" in md
    assert "| log p: joint | -1234.5 |" in md and "99.10% test accuracy" in md
    assert "figures/gen_svhn_002.png" in md and "gen_svhn_001" not in md  # last epoch only
    page = (run / "report.html").read_text()
    assert "<table id=\"metrics\">" in page and page.count("data:image/png;base64,") == 1
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 2
    assert not list(run.glob("*.tmp*"))


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(tmp_path):
    run = _fake_run(tmp_path / "run", 1)
    dom = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", (run / "report.html").as_uri()],
        capture_output=True, text=True, timeout=120).stdout
    assert "Joint coherence" in dom and "25.00%" in dom
    assert dom.count("<img") == 1 and "data:image/png;base64," in dom


def test_compare_groups_seeds(tmp_path):
    # b differs from a in its seed and in keys that do not define a run (device, threads), so they
    # are one group; c has another objective
    runs = [_fake_run(tmp_path / "a", 1, cross=0.4),
            _fake_run(tmp_path / "b", 2, cross=0.6, device="cpu", threads=2, progress=False),
            _fake_run(tmp_path / "c", 1, obj="dreg", cross=0.8)]
    paths = compare(runs, tmp_path / "out" / "table")
    md = paths["md"].read_text()
    assert "exp / mnist_svhn / elbo (n=2)" in md and "exp / mnist_svhn / dreg (n=1)" in md
    assert "| Cross coherence mnist → svhn | 50.00 ± 14.14% | 80.00% |" in md
    assert paths["csv"].read_text().splitlines()[0].startswith("Metric,")
    assert "<table id='comparison'>" in paths["html"].read_text()
    ungrouped = compare(runs, tmp_path / "out" / "flat", group_by="none").get("md").read_text()
    assert "40.00%" in ungrouped and "60.00%" in ungrouped
    other_lr = _fake_run(tmp_path / "d", 3, cross=0.1, lr=0.01)
    md = compare(runs + [other_lr], tmp_path / "out" / "lr")["md"].read_text()
    assert "(n=2)" in md and md.count("exp / mnist_svhn / elbo") == 2  # lr defines the run: its own column


def test_last_test_losses_sums_every_kl(tmp_path):
    from mmvae.pipeline.evaluate import last_test_losses

    rows = [{"epoch": 1, "test_loss": 9.0, "test_kl_a": 1.0},
            {"epoch": 2, "test_loss": 5.0, "test_shared_kl_mnist": 1.0, "test_private_kl_mnist": 2.0,
             "test_kl_svhn": 4.0, "test_critic_nll_mnist": 100.0}]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert last_test_losses(tmp_path) == {"test_loss": 5.0, "test_kl": 7.0}


class _Model3(_Model):
    """The digit model with a third modality written like the first."""

    SHAPES = [(1, 4, 4), (3, 4, 4), (1, 4, 4)]

    def __init__(self, broken=None):
        MultimodalVAE.__init__(self, [ModalitySpec(n, s) for n, s in zip("abc", self.SHAPES)], latent_dim=10)
        self.broken = broken
        self.dummy = torch.nn.Parameter(torch.zeros(1))


def _data3():
    y = torch.arange(100) % 10
    shifts = (0, 3, 0)
    images = [(((((y + shifts[m]) % 10).float() / 10 + 0.05).view(-1, 1, 1, 1)
                .expand(-1, *_Model3.SHAPES[m])) * 255).round().to(torch.uint8) for m in range(3)]
    return PairedData(list("abc"), list("abc"), images, torch.arange(100).view(-1, 1).repeat(1, 3), y,
                      torch.zeros(100, dtype=torch.long))


def test_conditional_coherence_given_every_subset_of_k_modalities():
    from mmvae.evaluation.coherence import conditional_coherence

    judges = [_Clf(0), _Clf(1), _Clf(0)]  # c writes digits as a does
    good = conditional_coherence(_Model3(), _data3(), judges, batch_size=40)
    assert good["given_k"] == {"1": 1.0, "2": 1.0}
    assert set(good["per_subset"]) == {"a", "b", "c", "a+b", "a+c", "b+c"}
    assert set(good["per_subset"]["a+c"]) == {"b"}
    broken = conditional_coherence(_Model3(broken=3), _data3(), judges)  # decoder b draws a 3
    # given one modality: targets (a→b, a→c, b→a, b→c, c→a, c→b), two of six reach b at 10%
    assert broken["given_k"]["1"] == pytest.approx((4 * 1.0 + 2 * 0.1) / 6)
    assert broken["per_target_given_k"]["2"] == {"a": 1.0, "b": pytest.approx(0.1), "c": 1.0}
    assert broken["per_subset"]["a+c"]["b"] == pytest.approx(0.1)


def test_reports_warn_about_weak_judges_and_a_dominant_joint_digit(tmp_path):
    metrics = {"model": "mmvae", "classifiers": {
        "good": {"test_accuracy": 0.99, "path": "g", "version": 3, "shipped": True},
        "weak": {"test_accuracy": 0.80, "path": "w", "version": 3, "shipped": False}},
        "joint_coherence": {"accuracy": 0.6, "digit_share_of_agreeing": [0.9] + [0.1 / 9] * 9}}
    md = (tmp_path / "report.md")
    write_report(tmp_path, metrics)
    text = md.read_text()
    assert "The judge of 'weak' reaches only 80.0%" in text and "WEAK judge" in text
    assert "class 0 holds 90% of the agreeing prior samples" in text
    assert "judge v3, shipped with mmvae" in text and "judge v3, trained here" in text
    assert "The judge of 'good'" not in text
    html = (tmp_path / "report.html").read_text()
    assert "class=\"warnings\"" in html and "reaches only 80.0%" in html


def test_reports_and_tables_scale_to_m_modalities(tmp_path):
    per_target = {"1": {"m0": 0.5, "m1": 0.6, "m2": 0.7}, "2": {"m0": 0.8, "m1": 0.9, "m2": 1.0}}
    metrics = {"model": "mopoe", "conditional_coherence": {
        "given_k": {"1": 0.6, "2": 0.9}, "per_target_given_k": per_target, "per_subset": {}}}
    write_report(tmp_path, metrics)
    md = (tmp_path / "report.md").read_text()
    assert "| Coherence given 1 of 3 modalities | 60.00% |" in md
    assert "| observed k | → m0 | → m1 | → m2 |" in md and "| 2 | 80.00% | 90.00% | 100.00% |" in md
    assert "id='per-target'" in (tmp_path / "report.html").read_text()
    other = tmp_path / "b"
    other.mkdir()
    other_targets = {"1": {"m0": 0.3, "m1": 0.4, "m2": 0.5}, "2": {"m0": 0.6, "m1": 0.7, "m2": 0.8}}
    write_report(other, {**metrics, "conditional_coherence": {**metrics["conditional_coherence"],
                                                              "given_k": {"1": 0.4, "2": 0.7},
                                                              "per_target_given_k": other_targets}})
    for d in (tmp_path, other):
        (d / "config.yaml").write_text("model: {model: mopoe}\n")
    table = compare([tmp_path, other], tmp_path / "cmp", group_by="none")["md"].read_text()
    assert "| Coherence given 2 of 3 modalities | 90.00% | 70.00% |" in table
    assert "→ m1" not in table
    table = compare([tmp_path, other], tmp_path / "cmp", group_by="none", per_target=True)["md"].read_text()
    lines = table.splitlines()
    given_2 = lines.index("| Coherence given 2 of 3 modalities | 90.00% | 70.00% |")
    assert lines[given_2 + 1:given_2 + 4] == [f"| Coherence given 2 of 3 → m{d} | {a} | {b} |" for d, (a, b) in
                                              enumerate((("80.00%", "60.00%"), ("90.00%", "70.00%"), ("100.00%", "80.00%")))]
