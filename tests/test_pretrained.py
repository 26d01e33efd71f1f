"""Sharing trained models: save_pretrained/from_pretrained (safetensors + JSON, no pickle), the
Hub round trip against a stand-in of huggingface_hub, `mmvae push`, and every bad input."""
from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import torch

import mmvae
from mmvae import pipeline
from mmvae.cli.main import main
from mmvae.errors import CheckpointError, ConfigError
from mmvae.models import build_model
from mmvae.pipeline.runs import modalities_for
from mmvae.training.checkpoint import save_checkpoint
from mmvae.utils import atomic_write_text

from .conftest import tiny_config

README = Path(__file__).resolve().parents[1] / "README.md"


def _model(name: str = "mmvae"):
    cfg = tiny_config()
    cfg.model.model = name
    torch.manual_seed(0)
    return build_model(cfg.model, modalities_for(cfg)), cfg


def _fake_run(run_dir: Path, name: str = "mmvae") -> torch.nn.Module:
    """A run folder as `mmvae train` leaves it (config.yaml + a checkpoint), without training."""
    model, cfg = _model(name)
    run_dir.mkdir(parents=True)
    atomic_write_text(run_dir / "config.yaml", cfg.to_yaml())
    opt = torch.optim.Adam(model.parameters())
    save_checkpoint(run_dir / "checkpoints", model, opt, {"epoch": 3, "step": 0, "global_step": 12})
    (run_dir / "figures").mkdir()
    (run_dir / "figures" / "gen_mnist_002.png").write_bytes(b"png")
    (run_dir / "report.md").write_text("# Run report\n\n![Generation](figures/gen_mnist_002.png)\n")
    return model


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("name", ["mmvae", "mmvaeplus"])
def test_save_and_load_round_trip(tmp_path, name):
    model, cfg = _model(name)
    folder = mmvae.save_pretrained(model, tmp_path / "m", config=cfg)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    meta = json.loads((folder / "config.json").read_text())
    assert meta["format_version"] == 1 and meta["mmvae_version"] == mmvae.__version__
    assert meta["model"]["model"] == name and meta["model"]["latent_dim"] == 4 and meta["dataset"] == "synthetic"
    assert meta["modalities"] == [{"name": "mnist", "shape": [1, 28, 28]}, {"name": "svhn", "shape": [3, 32, 32]}]
    loaded = mmvae.from_pretrained(folder)
    assert not loaded.training and _same_weights(model, loaded)
    torch.manual_seed(1)
    want = model.generate(3)
    torch.manual_seed(1)
    got = loaded.generate(3)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(want, got))


def test_a_run_folder_saves_its_last_checkpoint(tmp_path):
    model = _fake_run(tmp_path / "run")
    folder = mmvae.save_pretrained(tmp_path / "run", tmp_path / "m")
    meta = json.loads((folder / "config.json").read_text())
    assert meta["epochs"] == 2 and len(meta["config_hash"]) == 16
    assert _same_weights(model, mmvae.from_pretrained(folder))


def test_a_model_without_its_config_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="needs the config the model was built from"):
        mmvae.save_pretrained(_model()[0], tmp_path / "m")


# ---------------------------------------------------------------------- bad input


@pytest.fixture
def saved(tmp_path) -> Path:
    model, cfg = _model()
    return mmvae.save_pretrained(model, tmp_path / "m", config=cfg)


def _message(excinfo) -> str:
    return " ".join(str(excinfo.value).split())


def test_a_folder_without_weights(saved):
    (saved / "model.safetensors").unlink()
    with pytest.raises(CheckpointError) as e:
        mmvae.from_pretrained(saved)
    assert "model.safetensors is missing" in _message(e) and "save_pretrained" in _message(e)


def test_weights_of_another_model_than_the_config_names(tmp_path):
    model, cfg = _model("mmvaeplus")
    folder = mmvae.save_pretrained(model, tmp_path / "m", config=cfg)
    meta = json.loads((folder / "config.json").read_text())
    meta["model"]["model"], meta["model"]["options"] = "mmvae", {}
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError) as e:
        mmvae.from_pretrained(folder)
    msg = _message(e)
    assert "do not fit the model" in msg and "model 'mmvae'" in msg and "unexpected" in msg
    assert "put back the config.json saved with these weights" in msg


def test_tampered_weights_are_not_loaded(saved):
    data = bytearray((saved / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (saved / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="does not match the SHA-256"):
        mmvae.from_pretrained(saved)


def test_an_unknown_format_version(saved):
    meta = json.loads((saved / "config.json").read_text())
    meta["format_version"] = 99
    (saved / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError) as e:
        mmvae.from_pretrained(saved)
    assert "format version 99" in _message(e) and "pip install -U mmvae" in _message(e)


def test_neither_a_folder_nor_a_repo_id(tmp_path):
    with pytest.raises(ConfigError, match="is not a folder, nor a Hugging Face Hub repo id"):
        mmvae.from_pretrained(tmp_path / "missing")


def test_hub_extra_not_installed(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails as if not installed
    with pytest.raises(ConfigError) as e:
        mmvae.from_pretrained("someone/some-model")
    assert "pip install 'mmvae[hub]'" in _message(e) and "not a local folder" in _message(e)
    _fake_run(tmp_path / "run")
    with pytest.raises(ConfigError, match=re.escape("pip install 'mmvae[hub]'")):
        pipeline.pretrained.push_run(tmp_path / "run", "someone/some-model")


def test_push_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["push", str(tmp_path), "someone/some-model"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "is not a run folder" in err and "Nothing was uploaded" in err


# ---------------------------------------------------------------------- the Hub, stood in for


@pytest.fixture
def fake_hub(tmp_path, monkeypatch) -> tuple[Path, dict]:
    """huggingface_hub's create_repo, upload_folder and snapshot_download, on a local folder."""
    hub = pytest.importorskip("huggingface_hub", reason="huggingface_hub is not installed (pip install 'mmvae[hub]')")
    store = tmp_path / "hub"
    calls = {}

    def create_repo(self, repo_id, *, private=None, exist_ok=False, **kw):
        (store / repo_id).mkdir(parents=True, exist_ok=exist_ok)
        calls["private"] = private
        return f"https://hub.example/{repo_id}"

    def upload_folder(self, *, repo_id, folder_path, commit_message=None, **kw):
        shutil.copytree(folder_path, store / repo_id, dirs_exist_ok=True)
        calls["message"] = commit_message

    def snapshot_download(repo_id, *, revision=None, **kw):
        if not (store / repo_id).is_dir():
            raise hub.errors.LocalEntryNotFoundError(f"no repo {repo_id} in the stand-in hub")
        return str(store / repo_id)

    monkeypatch.setattr(hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(hub.HfApi, "upload_folder", upload_folder)
    monkeypatch.setattr(hub, "snapshot_download", snapshot_download)
    return store, calls


def test_push_then_load_from_the_hub(tmp_path, fake_hub, capsys):
    model = _fake_run(tmp_path / "run")
    assert main(["push", str(tmp_path / "run"), "someone/tiny", "--private"]) == 0
    assert "https://hub.example/someone/tiny" in capsys.readouterr().out
    store, calls = fake_hub
    repo = store / "someone" / "tiny"
    assert {"config.json", "model.safetensors", "README.md"} <= {p.name for p in repo.iterdir()}
    assert (repo / "figures" / "gen_mnist_002.png").is_file()
    readme = (repo / "README.md").read_text()
    assert 'mmvae.from_pretrained("someone/tiny")' in readme and "# Run report" in readme
    assert calls == {"private": True, "message": "mmvae push run"}
    assert _same_weights(model, mmvae.from_pretrained("someone/tiny"))
    with pytest.raises(ConfigError, match="Could not download 'someone/absent'"):
        mmvae.from_pretrained("someone/absent")


# ---------------------------------------------------------------------- the README's example


def readme_block(heading: str) -> str:
    section = README.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.integration
def test_the_readme_example_runs(tmp_path, monkeypatch):
    """Trains a tiny run where the README's example expects runs/quickstart, then runs the example."""
    cfg = tiny_config(epochs=1, max_steps=2)
    cfg.run_dir = str(tmp_path / "runs" / "quickstart")
    pipeline.train(cfg)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(readme_block("Share a trained model"), "README.md", "exec"), scope)
    images = scope["images"]
    assert [tuple(x.shape) for x in images] == [(8, 1, 28, 28), (8, 3, 32, 32)]
    assert (tmp_path / "my-model" / "model.safetensors").is_file()
