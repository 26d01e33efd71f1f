"""Distribution families for priors, posteriors and pixel likelihoods.

Written out by hand (rather than through ``torch.distributions``) because the objectives need
only four operations, log-density, reparameterised sampling, the closed-form KL and a detached
copy, and the hand-written forms skip argument validation and broadcasting checks on the hot
path. Tests compare every operation with ``torch.distributions``.

All densities factorise over the last (latent) dimension; ``DiagDist.log_prob`` sums over it.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .registry import Registry

ETA = 1e-6  # added to every scale, as in the original code

_LOG_2PI = math.log(2 * math.pi)
_LOG_2 = math.log(2.0)


@dataclass(frozen=True)
class Family:
    """Elementwise operations of a location-scale family."""

    name: str
    log_prob: Callable[[Tensor, Tensor, Tensor], Tensor]
    noise: Callable[[tuple[int, ...], torch.device, torch.dtype], Tensor]
    kl: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]
    pixel_log_prob_sum: Callable[[Tensor, Tensor, float], Tensor]
    default_scale_param: str


FAMILIES: Registry[Family] = Registry("distribution family")


def _normal_log_prob(x: Tensor, loc: Tensor, scale: Tensor) -> Tensor:
    return -0.5 * ((x - loc) / scale) ** 2 - scale.log() - 0.5 * _LOG_2PI


def _normal_noise(shape, device, dtype) -> Tensor:
    return torch.randn(shape, device=device, dtype=dtype)


def _normal_kl(lq: Tensor, sq: Tensor, lp: Tensor, sp: Tensor) -> Tensor:
    var_ratio = (sq / sp) ** 2
    t1 = ((lq - lp) / sp) ** 2
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


class _PixelDistance(torch.autograd.Function):
    """Σ over the last three dimensions of |mean − x|^p (p = 1 or 2), in one reduction forward and
    one pass backward: the likelihood sums run over every decoded image of a training step, and
    the composed form (subtract, power, sum and their backward ops) made four more passes over
    them. x (the data) broadcasts against mean and gets no gradient."""

    @staticmethod
    def forward(ctx, x: Tensor, mean: Tensor, p: int) -> Tensor:
        d = mean - x
        flat = d.reshape(*d.shape[:-3], -1)
        out = torch.linalg.vector_norm(flat, ord=p, dim=-1)
        ctx.p = p
        ctx.save_for_backward(d if p == 2 else d.sign())
        return out.square() if p == 2 else out

    @staticmethod
    def backward(ctx, grad: Tensor):
        (saved,) = ctx.saved_tensors
        g = grad[..., None, None, None]
        return None, saved * (2 * g if ctx.p == 2 else g), None


def pixel_distance(x: Tensor, mean: Tensor, p: int) -> Tensor:
    """Σ_pixels |mean − x|^p for images [..., C, H, W]."""
    if x.requires_grad:  # the fused form differentiates the mean only
        d = mean - x
        return (d.square() if p == 2 else d.abs()).flatten(-3).sum(-1)
    return _PixelDistance.apply(x, mean, p)


def _normal_pixels(x: Tensor, mean: Tensor, scale: float) -> Tensor:
    """Σ over pixels of log N(x; mean, scale); x broadcasts against mean [..., C, H, W]."""
    n = x.shape[-3] * x.shape[-2] * x.shape[-1]
    return pixel_distance(x, mean, 2) * (-0.5 / scale**2) - n * (math.log(scale) + 0.5 * _LOG_2PI)


def _laplace_log_prob(x: Tensor, loc: Tensor, scale: Tensor) -> Tensor:
    return -(x - loc).abs() / scale - scale.log() - _LOG_2


def _laplace_noise(shape, device, dtype) -> Tensor:
    # inverse CDF of the standard Laplace, as torch.distributions.Laplace.rsample does
    finfo = torch.finfo(dtype)
    u = torch.rand(shape, device=device, dtype=dtype) * 2 - 1
    u = u.clamp(min=finfo.eps - 1)
    return -u.sign() * torch.log1p(-u.abs())


def _laplace_kl(lq: Tensor, sq: Tensor, lp: Tensor, sp: Tensor) -> Tensor:
    ratio = sq / sp
    diff = (lq - lp).abs()
    return -ratio.log() + diff / sp + ratio * torch.exp(-diff / sq) - 1


def _laplace_pixels(x: Tensor, mean: Tensor, scale: float) -> Tensor:
    n = x.shape[-3] * x.shape[-2] * x.shape[-1]
    return pixel_distance(x, mean, 1) * (-1.0 / scale) - n * (math.log(scale) + _LOG_2)


FAMILIES.register("Normal")(
    Family("Normal", _normal_log_prob, _normal_noise, _normal_kl, _normal_pixels, "exp")
)
FAMILIES.register("Laplace")(
    Family("Laplace", _laplace_log_prob, _laplace_noise, _laplace_kl, _laplace_pixels, "softmax")
)

SCALE_PARAMS = ("exp", "softmax")


def scale_from_raw(raw: Tensor, param: str, eta: float = ETA) -> Tensor:
    """Turns an unconstrained network output into a positive scale.

    ``exp``: exp(raw / 2) + η, reading raw as a log-variance (the seed's Normal posterior).
    ``softmax``: softmax(raw) · D + η over the latent dimensions (the original's Laplace
    posterior and prior): the D scales sum to D.
    """
    if param == "exp":
        return torch.exp(0.5 * raw) + eta
    if param == "softmax":
        return F.softmax(raw, dim=-1) * raw.shape[-1] + eta
    raise ValueError(f"unknown scale parameterisation {param!r}")


class DiagDist:
    """A factorised location-scale distribution over the last dimension."""

    __slots__ = ("family", "loc", "scale")

    def __init__(self, family: Family, loc: Tensor, scale: Tensor):
        self.family = family
        self.loc = loc
        self.scale = scale

    def rsample(self, k: int = 1) -> Tensor:
        """Reparameterised samples of shape [k, *batch, D]."""
        shape = (k,) + torch.broadcast_shapes(self.loc.shape, self.scale.shape)
        eps = self.family.noise(shape, self.loc.device, self.loc.dtype)
        return self.loc + self.scale * eps

    def log_prob(self, z: Tensor) -> Tensor:
        """log-density summed over the latent dimension."""
        return self.family.log_prob(z, self.loc, self.scale).sum(-1)

    def log_prob_dims(self, z: Tensor) -> Tensor:
        """log-density per latent dimension."""
        return self.family.log_prob(z, self.loc, self.scale)

    def kl(self, other: DiagDist) -> Tensor:
        """Closed-form KL(self ‖ other) summed over the latent dimension."""
        return self.kl_dims(other).sum(-1)

    def kl_dims(self, other: DiagDist) -> Tensor:
        return self.family.kl(self.loc, self.scale, other.loc, other.scale)

    def detach(self) -> DiagDist:
        return DiagDist(self.family, self.loc.detach(), self.scale.detach())

    def sample_batch(self, lead: torch.Size) -> Tensor:
        """Samples [*lead, D] of a distribution with batch shape [1, D] (a prior): one per position."""
        n = 1
        for size in lead:
            n *= size
        return self.rsample(n)[:, 0].view(*lead, -1)

    def importance_samples(self, k: int) -> Tensor:
        """k proposal samples [k, *batch, D] for importance-weighted estimates."""
        return self.rsample(k)

    @property
    def mean(self) -> Tensor:
        return self.loc


class UniformMixture:
    """(1/S) Σ_s q_s(z): the mixture-of-experts posterior over S component distributions.

    ``rsample`` picks a component uniformly per sample and item; ``importance_samples`` draws k
    from every component (stratified sampling, S·k samples), which is what an unbiased
    importance-weighted estimate with the mixture as proposal uses.
    """

    def __init__(self, components: list):
        if not components:
            raise ValueError("a mixture needs at least one component")
        self.components = list(components)

    @property
    def S(self) -> int:
        return len(self.components)

    def rsample(self, k: int = 1) -> Tensor:
        zs = torch.stack([c.rsample(k) for c in self.components])  # [S, k, B, D]
        pick = torch.randint(self.S, zs.shape[1:3], device=zs.device)  # [k, B]
        return zs.gather(0, pick[None, ..., None].expand(1, *zs.shape[1:]))[0]

    def sample_batch(self, lead: torch.Size) -> Tensor:
        """Samples [*lead, D] of a distribution with batch shape [1, D] (a prior): one per position."""
        n = 1
        for size in lead:
            n *= size
        return self.rsample(n)[:, 0].view(*lead, -1)

    def importance_samples(self, k: int) -> Tensor:
        return torch.cat([c.rsample(k) for c in self.components], 0)

    def log_prob(self, z: Tensor) -> Tensor:
        lq = torch.stack([c.log_prob(z) for c in self.components])
        return torch.logsumexp(lq, 0) - math.log(self.S)

    def detach(self) -> UniformMixture:
        return UniformMixture([c.detach() for c in self.components])

    @property
    def mean(self) -> Tensor:
        return torch.stack([c.mean for c in self.components]).mean(0)


@dataclass
class PixelLikelihood:
    """p(x | z) = Fam(x; decoder mean, fixed scale) per pixel, times a likelihood scaling λ."""

    family: Family
    scale: float
    llik_scaling: float = 1.0

    def log_prob(self, x: Tensor, mean: Tensor) -> Tensor:
        """Unscaled Σ_pixels log p(x | mean); mean is [..., C, H, W], result [...]."""
        return self.family.pixel_log_prob_sum(x, mean, self.scale)

