"""Every registered model keeps the contract's promises with every objective of its kind: one
training step gives every trainable parameter a gradient unless the model declares
``optional_parameters`` (DDP must then look for unused ones), and generation, conditional
generation and the probes work through the contract alone."""
import pytest
import torch

from mmvae.config import ModelConfig
from mmvae.models import MODELS, ModalitySpec, build_model
from mmvae.nets import NetSpec
from mmvae.objectives import OBJECTIVES

MODS = [ModalitySpec(f"m{i}", (1, 4, 4)) for i in range(3)]
FC = NetSpec("fc", hidden_dims=[8])
OPTIONS = {"fummvae": [{"decoder": "separate"}, {"decoder": "joint"}],
           "mmvaeplus": [{"variant": "mmvaeplus"}, {"variant": "factorized"}]}


def _cases():
    for name in MODELS.names():
        info = MODELS.get(name)
        for options in OPTIONS.get(name, [{}]):
            for obj in OBJECTIVES.names():
                if OBJECTIVES.get(obj).kind == info.kind:
                    yield pytest.param(name, options, obj, id=f"{name}-{'-'.join(options.values()) or 'default'}-{obj}")


@pytest.mark.parametrize("name,options,obj", list(_cases()))
def test_unused_parameters_are_declared(name, options, obj):
    torch.manual_seed(0)
    cfg = ModelConfig(model=name, latent_dim=3, private_latent_dim=3, options=dict(options),
                      modality="m0", nets={m.name: FC for m in MODS})
    model = build_model(cfg, MODS)
    info = OBJECTIVES.get(obj)
    xs = [torch.rand(6, 1, 4, 4) for _ in model.modalities]
    result = info.fn(model(xs, K=2, decodes=info.decodes), xs)
    result.training_loss.backward()
    unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not unused or model.optional_parameters, f"{name} {options} {obj}: no gradient for {unused[:4]}"
    assert [g.shape[1:] for g in model.generate(2)] == [(1, 4, 4)] * model.M
    assert set(model.probe_encoders())
