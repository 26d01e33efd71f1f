"""Data layer: real MNIST/SVHN, the embedded synthetic digits, PolyMNIST, users' own data
(:func:`register_arrays`, :func:`register_folder`), pairing, batches."""
from . import polymnist  # noqa: F401  registers the polymnist dataset
from .custom import register_arrays, register_folder
from .datasets import DATASETS, dataset_sources, load_paired, load_unimodal
from .paired import PairedData
from .pairing import cached_pairing, expected_pairs, rand_match_on_idx
from .sources import SOURCES, load_synthetic

__all__ = [
    "DATASETS", "SOURCES", "PairedData", "cached_pairing", "dataset_sources", "expected_pairs",
    "load_paired", "load_synthetic", "load_unimodal", "rand_match_on_idx", "register_arrays", "register_folder",
]
