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
    with pytest.raises(ConfigError, match=message):  # at set time (Literal fields) or at validation
        set_path(cfg, path, value)
        validate(cfg)


@pytest.mark.parametrize("section,values,message", [
    ("model", {"distr": "Gauss"}, "'model.distr' must be one of Normal, Laplace"),
    ("train", {"nan_policy": "ignore"}, "'train.nan_policy' must be one of stop, skip"),
    ("train", {"device": "tpu"}, "'train.device' must be auto, cpu, cuda or cuda:N"),
    ("eval", {"iwae_K": -1}, "'eval.iwae_K' must be ≥ 0"),
])
def test_constraints_live_with_their_fields(section, values, message):
    with pytest.raises(ConfigError, match=message):
        validate(RunConfig.from_dict({section: values}))


def test_hash_ignores_run_length_location_and_machine():
    a, b = RunConfig(), RunConfig()
    b.train.epochs, b.run_dir, b.train.device, b.train.threads = 99, "/somewhere", "cpu", 3
    b.data.data_dir, b.eval.iwae_K, b.train.progress = "/data", 5, False
    assert a.hash() == b.hash()
    b.train.lr = 0.1
    assert a.hash() != b.hash()


def test_one_declaration_of_the_keys_that_do_not_define_a_run():
    from mmvae.config import keys_with_role

    machine = keys_with_role("machine")
    assert {"train.device", "train.threads", "train.progress", "train.checkpoint_every"} <= set(machine)
    assert keys_with_role("length") == ["train.epochs"]
    assert "train.lr" in keys_with_role("run") and "train.seed" in keys_with_role("run")
    assert all(k.startswith("eval.") for k in keys_with_role("evaluation"))


def test_model_options_are_checked_against_the_model():
    cfg = RunConfig.from_dict({"model": {"model": "fummvae", "options": {"decoder": "joint"}}, "train": {"obj": "fission"}})
    assert validate(cfg).model.options == {"decoder": "joint"}
    with pytest.raises(ConfigError, match="'model.options.decoder' must be one of separate, joint"):
        validate(RunConfig.from_dict({"model": {"model": "fummvae", "options": {"decoder": "both"}},
                                      "train": {"obj": "fission"}}))
    with pytest.raises(ConfigError, match="Model 'mmvae' takes no options"):
        validate(RunConfig.from_dict({"model": {"model": "mmvae", "options": {"decoder": "joint"}}}))


def test_configs_of_version_0_1_still_load():
    cfg = RunConfig.from_dict({"model": {"model": "fummvae", "fission_decoder": "joint"}})
    assert cfg.model.options == {"decoder": "joint"}
    assert RunConfig.from_dict({"model": {"model": "mnist_svhn", "fission_decoder": "separate"}}).model.options == {}
