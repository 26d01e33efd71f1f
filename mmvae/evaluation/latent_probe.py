"""Latent accuracy: a linear probe (multinomial logistic regression) on encoded latents.

The probe is fitted once, full batch with L-BFGS, on latents of training pairs and scored on
test pairs. Protocol options: posterior means (default) or one sample per input, and how many
training items are used; both are returned with the accuracy so reports can state them.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data.paired import PairedData
from ..models import evaluating


@torch.no_grad()
def encode_latents(encode_fn, data: PairedData, use_mean: bool = True, batch_size: int = 2000):
    """(latents [N, D], labels [N]) of ``encode_fn(xs) -> DiagDist`` over ``data``."""
    zs, ys = [], []
    for start in range(0, len(data), batch_size):
        idx = torch.arange(start, min(start + batch_size, len(data)), device=data.device)
        xs, labels = data.gather(idx)
        q = encode_fn(xs)
        zs.append((q.loc if use_mean else q.rsample(1)[0]).float().cpu())
        ys.append(labels.cpu())
    return torch.cat(zs), torch.cat(ys)


def fit_linear_probe(z: torch.Tensor, y: torch.Tensor, num_classes: int, l2: float = 1e-4, max_iter: int = 200):
    """(weight, bias, mean, std) of a logistic regression on standardised latents; it fits with
    gradients on, wherever it is called from (an inference-mode test pass included)."""
    with torch.inference_mode(False), torch.enable_grad():
        z, y = z.clone(), y.clone()  # ordinary tensors, even if made in inference mode
        mean, std = z.mean(0), z.std(0).clamp(min=1e-6)
        x = (z - mean) / std
        W = torch.zeros(z.shape[1], num_classes, requires_grad=True)
        b = torch.zeros(num_classes, requires_grad=True)
        opt = torch.optim.LBFGS([W, b], lr=1, max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(x @ W + b, y) + l2 * W.pow(2).sum()
            loss.backward()
            return loss

        opt.step(closure)
    return W.detach(), b.detach(), mean, std


def probe_accuracy(train, test, num_classes: int, l2: float = 1e-4) -> float:
    """Accuracy on ``test`` (latents, labels) of a probe fitted on ``train`` alone."""
    W, b, mean, std = fit_linear_probe(*train, num_classes=num_classes, l2=l2)
    z, y = test
    return float((((z - mean) / std) @ W + b).argmax(1).eq(y).float().mean())


def latent_accuracy(model, train: PairedData, test: PairedData, use_mean: bool = True,
                    n_train: int = 20_000, seed: int = 0) -> dict:
    """Probe test accuracy for each latent the model names (``model.probe_encoders()``)."""
    g = torch.Generator().manual_seed(seed)
    if len(train) > n_train:
        train = train.subset(torch.randperm(len(train), generator=g)[:n_train])
    out = {}
    with evaluating(model):
        for name, fn in model.probe_encoders().items():
            tr = encode_latents(fn, train, use_mean)
            te = encode_latents(fn, test, use_mean)
            out[name] = probe_accuracy(tr, te, max(train.num_classes, test.num_classes))
    return out
