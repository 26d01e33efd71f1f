"""Encoder/decoder networks, selected by name from :data:`NETWORKS`.

Every encoder maps x [N, C, H, W] to (loc, raw_scale), each [N, D]; every decoder maps
z [N, D] to the likelihood mean [N, C, H, W] in (0, 1). The networks are plain PyTorch;
:func:`accelerate` switches a built model to faster CPU routes with the same parameters.
"""
from . import conv, fc  # noqa: F401  (fills the registry)
from .accelerate import AnyOrderDecoder, accelerate, plain
from .registry import NETWORKS, NetSpec, auto_spec, build_networks

__all__ = ["NETWORKS", "AnyOrderDecoder", "NetSpec", "accelerate", "auto_spec", "build_networks", "plain"]
