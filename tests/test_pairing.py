"""Label-matched pairing (rand_match_on_idx) with the published MNIST and SVHN class counts."""
import torch

from mmvae.data.pairing import cached_pairing, expected_pairs, rand_match_on_idx

MNIST_TRAIN = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
# SVHN per digit 0..9 (label 10 read as 0)
SVHN_TRAIN = [4948, 13861, 10585, 8497, 7458, 6882, 5727, 5595, 5045, 4659]
SVHN_TEST = [1744, 5099, 4149, 2882, 2523, 2384, 1977, 2019, 1660, 1595]


def _labels(counts, seed):
    labels = torch.repeat_interleave(torch.arange(10), torch.tensor(counts))
    return labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))]


def test_published_pair_counts():
    assert expected_pairs(MNIST_TRAIN, SVHN_TRAIN, 10000, 30) == 1_682_040
    assert expected_pairs(MNIST_TEST, SVHN_TEST, 10000, 30) == 300_000
    for m, s, n in ((MNIST_TRAIN, SVHN_TRAIN, 1_682_040), (MNIST_TEST, SVHN_TEST, 300_000)):
        l1, l2 = _labels(m, 0), _labels(s, 1)
        i1, i2, rep = rand_match_on_idx(l1, l2, 10000, 30, seed=0)
        assert len(i1) == len(i2) == len(rep) == n
        assert torch.equal(l1[i1], l2[i2])


def test_each_kept_image_appears_dm_times_with_random_partners():
    l1, l2 = _labels([50] * 10, 0), _labels([70] * 10, 1)
    i1, i2, rep = rand_match_on_idx(l1, l2, max_d=40, dm=3, seed=5)
    assert len(i1) == 10 * 40 * 3
    counts1 = torch.bincount(i1, minlength=len(l1))
    assert set(counts1.tolist()) == {0, 3}  # kept images thrice, the rest never
    assert (counts1 == 3).sum() == 400
    assert torch.bincount(rep).tolist() == [400, 400, 400]
    # partners differ between rounds
    first = i2[rep == 0][torch.argsort(i1[rep == 0])]
    second = i2[rep == 1][torch.argsort(i1[rep == 1])]
    assert (first != second).float().mean() > 0.5


def test_seeded_and_cached():
    l1, l2 = _labels([30] * 10, 0), _labels([30] * 10, 1)
    a = rand_match_on_idx(l1, l2, 30, 2, seed=1)
    b = rand_match_on_idx(l1, l2, 30, 2, seed=1)
    c = rand_match_on_idx(l1, l2, 30, 2, seed=2)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[1], c[1])
    first = cached_pairing(l1, l2, 30, 2, seed=1)
    again = cached_pairing(l1, l2, 30, 2, seed=1)  # from the cache
    assert all(torch.equal(x, y) for x, y in zip(first, a))
    assert all(torch.equal(x, y) for x, y in zip(again, a))


def test_stratified_subset_is_balanced_seeded_and_distinct():
    """Per-epoch likelihoods average over a class-stratified subset: on pairs sorted by digit
    (as the pairing stores them) the first 1,000 would be almost all zeros."""
    import torch

    from mmvae.config import RunConfig
    from mmvae.data.paired import PairedData
    from mmvae.pipeline.components import epoch_likelihood_pairs

    labels = torch.arange(10).repeat_interleave(torch.tensor([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]))
    n = len(labels)
    data = PairedData(["a"], ["a"], [torch.zeros(n, 1, 2, 2, dtype=torch.uint8)], torch.arange(n).view(-1, 1),
                      labels, torch.zeros(n, dtype=torch.long))
    assert torch.bincount(data.head(1000).labels)[0] > 0.97 * 1000  # what the head gave
    cfg = RunConfig()
    sub = epoch_likelihood_pairs(cfg, data)
    counts = torch.bincount(sub.labels, minlength=10)
    assert len(sub) == 1000 and counts.tolist() == [100] * 10
    assert len(set(sub.index[:, 0].tolist())) == 1000  # no pair twice
    again = epoch_likelihood_pairs(cfg, data)
    assert torch.equal(again.index, sub.index)  # seeded by the run seed
    cfg.train.seed = 2
    assert not torch.equal(epoch_likelihood_pairs(cfg, data).index, sub.index)
    small = data.stratified(25, 0)  # a remainder goes to the first classes
    assert torch.bincount(small.labels, minlength=10).tolist() == [3] * 5 + [2] * 5
