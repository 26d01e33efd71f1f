"""The structured output of a model's forward pass, consumed by the objectives."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..distributions import DiagDist, PixelLikelihood


@dataclass
class ForwardOutput:
    """Posteriors, samples and the decoder means that were asked for.

    posteriors[m]: q_m(z | x_m), batch shape [B, D].
    samples[m]: z_m ~ q_m, shape [K, B, D], reparameterised.
    decodes[(r, d)]: mean of decoder d at samples of encoder r, shape [K, B, C_d, H_d, W_d].
    prior: p(z), batch shape [1, D].
    likelihoods[d]: the pixel likelihood of decoder d (family, fixed scale, scaling λ_d).
    """

    posteriors: list[DiagDist]
    samples: list[Tensor]
    decodes: dict[tuple[int, int], Tensor]
    prior: DiagDist
    likelihoods: list[PixelLikelihood]
    names: list[str] = field(default_factory=list)

    @property
    def M(self) -> int:
        return len(self.posteriors)

    @property
    def K(self) -> int:
        return self.samples[0].shape[0]

    def llik(self, r: int, d: int, x: Tensor, scaled: bool = True) -> Tensor:
        """λ_d Σ_pixels log p_d(x_d | z_r), shape [K, B] (unscaled if ``scaled`` is False)."""
        if (r, d) not in self.decodes:
            raise KeyError(
                f"decode {r}->{d} was not computed; the objective must request it from forward()"
            )
        lik = self.likelihoods[d]
        lp = lik.log_prob(x, self.decodes[(r, d)])
        return lp * lik.llik_scaling if scaled else lp

    def kl(self, m: int) -> Tensor:
        """KL(q_m(z|x_m) ‖ p(z)) in closed form, shape [B]."""
        return self.posteriors[m].kl(self.prior)

    def log_mixture(self, z: Tensor, detach: bool = False) -> Tensor:
        """log of the uniform mixture (1/M) Σ_m q_m(z | x_m), shape z.shape[:-1]."""
        qs = [q.detach() if detach else q for q in self.posteriors]
        lq = torch.stack([q.log_prob(z) for q in qs])
        return torch.logsumexp(lq, 0) - torch.log(torch.tensor(float(len(qs)), dtype=lq.dtype))

    def name(self, m: int) -> str:
        return self.names[m] if self.names else str(m)
