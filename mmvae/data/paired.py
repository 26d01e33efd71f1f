"""Paired multimodal data as uint8 tensors plus an index, and its batch iterator."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from ..utils import derive_seed


@dataclass
class PairedData:
    """M modalities' images (uint8, one tensor each) and P pairs indexing into them.

    index[p, m] is the image of modality m in pair p; labels[p] is the shared class (the digit);
    rep[p] is which of the dm pairing rounds made the pair (rep == 0 is one pass over every
    kept image: the distinct pairs). num_classes: the number of classes of the labels (0: one
    more than the largest label). Data without labels (``labels=None``) stores −1 for every
    item and has ``labelled`` False: training, likelihoods and figures work, while coherence
    and the latent probe, which score labels, are skipped.
    """

    names: list[str]
    sources: list[str]
    images: list[Tensor]
    index: Tensor
    labels: Tensor | None
    rep: Tensor
    num_classes: int = 0
    labelled: bool | None = None  # None: labelled when labels are given and none is negative

    def __post_init__(self):
        if self.labels is None:
            self.labels = torch.full((self.index.shape[0],), -1, dtype=torch.int64, device=self.index.device)
            self.labelled = False
        if self.labelled is None:
            self.labelled = not bool((self.labels < 0).any())
        if not self.num_classes:
            self.num_classes = int(self.labels.max()) + 1 if len(self.labels) and self.labelled else 0

    def __len__(self) -> int:
        return self.index.shape[0]

    @property
    def M(self) -> int:
        return len(self.images)

    @property
    def shapes(self) -> list[tuple[int, int, int]]:
        return [tuple(x.shape[1:]) for x in self.images]

    @property
    def device(self) -> torch.device:
        return self.index.device

    def to(self, device) -> PairedData:
        return replace(
            self, images=[x.to(device) for x in self.images], index=self.index.to(device),
            labels=self.labels.to(device), rep=self.rep.to(device),
        )

    def subset(self, which: Tensor) -> PairedData:
        """The pairs selected by a boolean mask or an index tensor (images are shared)."""
        return replace(self, index=self.index[which], labels=self.labels[which], rep=self.rep[which])

    def distinct(self) -> PairedData:
        """One pass over the kept images (pairing round 0), e.g. the 10k of 300k test pairs."""
        return self.subset(self.rep == 0)

    def head(self, n: int) -> PairedData:
        return self.subset(torch.arange(min(n, len(self)), device=self.device))

    def stratified(self, n: int, seed: int) -> PairedData:
        """A seeded subset of about n pairs with the classes as balanced as the data allows:
        each class gets n // num_classes (the remainder goes to the first classes), drawn at
        random; a class with too few pairs gives all it has. Without labels: n pairs drawn at
        random."""
        gen = torch.Generator().manual_seed(seed)
        if not self.labelled:
            picked = [torch.randperm(len(self), generator=gen)[:n]]
        else:
            labels, k = self.labels.cpu(), self.num_classes
            picked = []
            for c in range(k):
                members = torch.nonzero(labels == c).flatten()
                want = n // k + (1 if c < n % k else 0)
                picked.append(members[torch.randperm(len(members), generator=gen)[:want]])
        idx = torch.cat(picked).sort().values if picked else torch.zeros(0, dtype=torch.long)
        return self.subset(idx.to(self.device))

    def gather(self, idx: Tensor) -> tuple[list[Tensor], Tensor]:
        """Float batches in [0, 1] (one per modality) and labels for pair indices ``idx``."""
        pairs = self.index[idx]
        xs = [img[pairs[:, m]].float().div_(255.0) for m, img in enumerate(self.images)]
        return xs, self.labels[idx]

    def epoch_order(self, seed: int, epoch: int, shuffle: bool = True) -> Tensor:
        """The pair order of an epoch: a permutation drawn from (seed, epoch) alone."""
        if not shuffle:
            return torch.arange(len(self))
        gen = torch.Generator().manual_seed(derive_seed(seed, "epoch_order", epoch))
        return torch.randperm(len(self), generator=gen)

    def batches(
        self, batch_size: int, *, seed: int = 0, epoch: int = 0, shuffle: bool = True,
        start_step: int = 0, rank: int = 0, world: int = 1, drop_last: bool = False,
    ) -> Iterator[tuple[int, list[Tensor], Tensor]]:
        """Yields (step, xs, labels) for one epoch.

        With ``world`` > 1 each global batch of ``batch_size·world`` pairs is split into
        contiguous per-rank slices, so R ranks at batch b see exactly the pairs that one
        process at batch R·b would. ``start_step`` skips the steps a resumed run already did.
        """
        order = self.epoch_order(seed, epoch, shuffle).to(self.device)
        step_size = batch_size * world
        n_steps = len(order) // step_size if drop_last else -(-len(order) // step_size)
        for step in range(start_step, n_steps):
            chunk = order[step * step_size : (step + 1) * step_size]
            per_rank = -(-len(chunk) // world)
            idx = chunk[rank * per_rank : (rank + 1) * per_rank]
            if len(idx) == 0:
                idx = chunk[-1:]  # a rank with no items in the last batch repeats one
            xs, labels = self.gather(idx)
            yield step, xs, labels

    def n_batches(self, batch_size: int, world: int = 1, drop_last: bool = False) -> int:
        step = batch_size * world
        return len(self) // step if drop_last else -(-len(self) // step)
