"""Run configuration: YAML round trip, unknown keys, types and ranges."""
import pytest

from mmvae.config import RunConfig, set_path, validate
from mmvae.errors import ConfigError


def test_yaml_round_trip(tmp_path):
    cfg = RunConfig()
    cfg.train.obj, cfg.model.nets["mnist"].hidden_dims = "dreg", [1024, 512]
    path = tmp_path / "c.yaml"
    cfg.save(path)
    back = RunConfig.from_yaml(path)
    assert back == cfg and back.hash() == cfg.hash()


def test_unknown_key_suggests_the_closest():
    with pytest.raises(ConfigError, match=r"Unknown config key 'train.batchsize'.*Did you mean 'batch_size'"):
        RunConfig.from_dict({"train": {"batchsize": 3}})


def test_types_are_checked_and_coerced():
    cfg = RunConfig.from_dict({"train": {"epochs": "3", "lr": "1e-4", "amsgrad": "false"}})
    assert cfg.train.epochs == 3 and cfg.train.lr == 1e-4 and cfg.train.amsgrad is False
    with pytest.raises(ConfigError, match="'train.epochs' must be an integer"):
        RunConfig.from_dict({"train": {"epochs": "three"}})


@pytest.mark.parametrize("path,value,message", [
    ("model.decoder_scale", -0.5, "'model.decoder_scale' must be > 0"),
    ("model.latent_dim", 0, "'model.latent_dim' must be > 0"),
    ("train.batch_size", 0, "'train.batch_size' must be > 0"),
    ("model.distr", "Gauss", "must be one of Normal, Laplace"),
    ("model.model", "mnist_svhm", "Did you mean 'mnist_svhn'"),
    ("data.dataset", "synthetc", "Did you mean 'synthetic'"),
])
def test_invalid_values_name_the_key(path, value, message):
    cfg = RunConfig()
    set_path(cfg, path, value)
    with pytest.raises(ConfigError, match=message):
        validate(cfg)


def test_hash_ignores_run_length_and_location():
    a, b = RunConfig(), RunConfig()
    b.train.epochs, b.run_dir = 99, "/somewhere"
    assert a.hash() == b.hash()
    b.train.lr = 0.1
    assert a.hash() != b.hash()
