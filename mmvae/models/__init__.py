"""Models: every one implements :class:`MultimodalVAE` (the contract in ``contract.py``) and
registers itself in :data:`MODELS`; adding a model is adding a file here (and its objectives)."""
from . import factorised, mmvae, mmvaeplus, mopoe, mvae  # noqa: F401  (fill the registry)
from .build import build_model, model_kind
from .contract import Encoding, MultimodalVAE, evaluating
from .factorised import FactorisedMMVAE
from .mmvae import MMVAE
from .modality import ModalitySpec
from .output import ForwardOutput
from .registry import MODELS, ModelInfo, model_names, register_model, resolve_model

__all__ = ["MMVAE", "MODELS", "Encoding", "FactorisedMMVAE", "ForwardOutput", "ModalitySpec", "ModelInfo",
           "MultimodalVAE", "build_model", "evaluating", "model_kind", "model_names", "register_model",
           "resolve_model"]
